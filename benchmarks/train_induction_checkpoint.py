"""Produce the shipped induction-toy checkpoint: the full-size run of nbs/papers/52_induction.ipynb.

Trains the 2-layer attention-only toy (`make_induction_toy`, seed 0) with `train_induction(n_steps=2500, lr=3e-3)` and
writes `interp/data/induction_toy.safetensors` (an `interp.core.toys` checkpoint: weights, config, provenance) and
`interp/data/induction_toy.json` (curves).
Usage: .venv/bin/python benchmarks/train_induction_checkpoint.py [--threads 1]
The last line printed is one JSON object.
"""
import argparse, json, os, platform
from pathlib import Path
import torch
from interp.core.toys import save_checkpoint
from interp.papers.induction import train_induction, InductionScan, InductionTask

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--steps", type=int, default=2500)
ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "interp" / "data" / "induction_toy"))
args = ap.parse_args()
torch.set_num_threads(args.threads)
load0 = os.getloadavg()
run = train_induction(n_steps=args.steps, lr=3e-3, progress=True)
scan = InductionScan().discover(run.model, InductionTask(batch=16, half=20, unique=True))
top = scan.table(1).iloc[0]
prov = dict(run.params, steps=run.steps, wall_s=round(run.wall_s, 1), threads=args.threads, torch=torch.__version__,
            machine=f"{platform.machine()} {os.cpu_count()} cores", loadavg_start=load0, loadavg_end=os.getloadavg(),
            top_head=f"{int(top['layer'])}.{int(top['head'])}", top_prefix_matching=float(top.prefix_matching),
            produced_by="benchmarks/train_induction_checkpoint.py -> interp.papers.induction.train_induction")
prov["cfg"] = run.model.cfg.to_dict()
save_checkpoint(args.out + ".safetensors", run.model, step=run.steps, params=prov)
Path(args.out + ".json").write_text(json.dumps(dict(provenance=prov, history=run.history)))
print(json.dumps(dict(steps=run.steps, wall_s=round(run.wall_s, 1), icl_score=run.history["icl_score"][-1],
                      top_head=prov["top_head"], top_prefix_matching=prov["top_prefix_matching"])))
