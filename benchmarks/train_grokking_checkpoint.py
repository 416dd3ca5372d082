"""Produce the shipped grokking checkpoint: the full-size run of nbs/papers/51_grokking.ipynb.

Trains a + b mod 113 (30% train, full-batch AdamW lr 1e-3, wd 1.0, seed 0, until the test loss is below 1e-3) with
`train_grokking`, recomputes the progress measures on the weight snapshots with the final key frequencies, and writes
`interp/data/grokking_p113.safetensors` (an `interp.core.toys` checkpoint: weights, config, provenance as its params)
and `interp/data/grokking_p113.json` (curves).
Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train_grokking_checkpoint.py [--threads 1]
The last line printed is one JSON object (steps, wall time, final accuracies, key frequencies).
"""
import argparse, json, os, platform
from pathlib import Path
import torch
from interp.core.toys import save_checkpoint
from interp.papers.grokking import train_grokking, FourierCircuit, FourierTask, posthoc_measures, _live_key_freqs

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--steps", type=int, default=30_000)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--stop-test-loss", type=float, default=1e-3,
                help="stop once the test loss is below this (the notebook's value)")
ap.add_argument("--every", type=int, default=100, help="steps between progress measures and weight snapshots")
ap.add_argument("--grokfast", type=float, nargs=2, default=None, metavar=("ALPHA", "LAMB"))
ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "interp" / "data" / "grokking_p113"))
args = ap.parse_args()
torch.set_num_threads(args.threads)
out = Path(args.out)
load0 = os.getloadavg()

def checkpoint(step, model, hist):  # keep a resumable picture of the run while it trains
    if step % 2000 == 0:
        save_checkpoint(str(out) + ".partial.safetensors", model, step=step,
                        params=dict(note="partial: run still in progress"))
        Path(str(out) + ".partial.json").write_text(json.dumps(hist))

run = train_grokking(n_steps=args.steps, lr=args.lr, stop_test_loss=args.stop_test_loss, grokfast=args.grokfast, seed=0,
                     measure_every=args.every, snapshot_every=args.every, progress=True, on_log=checkpoint)
try:
    keys = FourierCircuit().discover(run.model, FourierTask(run.train_mask)).data["key_freqs"]
    key_source = "neuron clusters"
except ValueError:  # not grokked (e.g. a smoke run with few steps): fall back to the embedding's 5 largest frequencies
    keys, key_source = _live_key_freqs(run.model), "embedding top-5 (no neuron clusters)"
post = posthoc_measures(run, keys)
prov = dict(run.params, steps=run.steps, wall_s=round(run.wall_s, 1), threads=args.threads, torch=torch.__version__,
            machine=f"{platform.machine()} {os.cpu_count()} cores", loadavg_start=load0, loadavg_end=os.getloadavg(),
            train_acc=run.train_acc, test_acc=run.test_acc, key_freqs=keys, key_freqs_source=key_source,
            produced_by="benchmarks/train_grokking_checkpoint.py -> interp.papers.grokking.train_grokking")
prov["cfg"] = run.model.cfg.to_dict()
save_checkpoint(str(out) + ".safetensors", run.model, step=run.steps,
                metrics=dict(train_acc=run.train_acc, test_acc=run.test_acc), params=prov)
Path(str(out) + ".json").write_text(json.dumps(dict(provenance=prov, history=run.history, live_measures=run.measures,
                                                    posthoc_measures=post), indent=None))
for suffix in (".partial.safetensors", ".partial.json"):
    Path(str(out) + suffix).unlink(missing_ok=True)
print(json.dumps(dict(steps=run.steps, wall_s=round(run.wall_s, 1), train_acc=run.train_acc, test_acc=run.test_acc,
                      key_freqs=keys)))
