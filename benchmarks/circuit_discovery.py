"""Circuit discovery cost: EAP edge scores for all 70,651 edges of SmolLM2 on 32 IOI prompts (wall time), and the
forward/backward passes ACDC needs vs EAP on the 2-layer induction toy (with their ROC AUC against the planted circuit).

Run: HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/circuit_discovery.py [--quick] [--prompts 32]
[--threads 1]
--quick: one EAP timing (the full run takes the median of 3) and one ACDC threshold. Target: EAP on SmolLM2 <= 60 s.
Prints a table, then one JSON object as the last line (keys include eap_smollm2_seconds, acdc_passes, eap_passes).
"""
import argparse, json, os, statistics, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def induction_toy_task():
    import torch, interp
    from pathlib import Path
    from interp.core.toys import load_checkpoint
    from interp.methods.induction import (repeated_tokens, attention_patterns, previous_token_scores,
                                          prefix_matching_scores)
    from interp.methods.circuits import CircuitTask
    toy = load_checkpoint(Path(interp.__file__).parent / "data" / "induction_toy.safetensors")["model"]
    half = 20
    clean = repeated_tokens(64, half, toy.cfg.d_vocab, seed=1, unique=True)
    corrupt = torch.randint(0, toy.cfg.d_vocab, clean.shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad(): pats = attention_patterns(toy, clean)
    prev = [h for h in range(toy.cfg.n_heads) if previous_token_scores(pats)[0, h] > 0.4]
    ind = [h for h in range(toy.cfg.n_heads) if prefix_matching_scores(pats, half)[1, h] > 0.4]
    ref = ([f"input->a0.{p}.v" for p in prev] + [f"a0.{p}->a1.{h}.k" for p in prev for h in ind]
           + [f"input->a1.{h}.{c}" for h in ind for c in "qv"] + [f"a1.{h}->logits" for h in ind])
    def metric(logits):
        lp = logits[:, :-1].log_softmax(-1).gather(-1, clean[:, 1:, None])[..., 0]
        return lp[:, half:].mean(1)
    pos = torch.zeros(clean.shape, dtype=torch.bool); pos[:, half:-1] = True
    return toy, CircuitTask(clean, corrupt, metric, positions=pos), ref


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true"); ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    t_start = time.perf_counter()
    import torch
    torch.set_num_threads(args.threads)
    from interp.methods.circuits import CircuitGraph, CircuitTask, EdgeAttributionPatching, ACDC, edge_roc, agreement
    from interp.core.models import load_smollm2
    from interp.methods.ioi_data import make_ioi
    rows = {}

    toy, task, ref = induction_toy_task()
    t0 = time.perf_counter(); eap_toy = EdgeAttributionPatching(top_n=len(ref)).discover(toy, task)
    rows["EAP toy s"] = time.perf_counter() - t0
    taus = [0.03] if args.quick else [0.003, 0.03, 0.3]
    acdc = {}
    for tau in taus:
        t0 = time.perf_counter(); acdc[tau] = ACDC(threshold=tau).discover(toy, task)
        rows[f"ACDC toy τ={tau} s"] = time.perf_counter() - t0
    main_acdc = acdc[0.03]

    t0 = time.perf_counter(); model, tok = load_smollm2(); rows["load SmolLM2 s"] = time.perf_counter() - t0
    ds = make_ioi(tok, n=args.prompts, seed=0)
    ioi = CircuitTask(ds.input_ids, ds.corrupt_ids, lambda lg: ds.logit_diff(lg, per_prompt=True))
    graph = CircuitGraph(model)
    times = []
    for _ in range(1 if args.quick else 3):
        t0 = time.perf_counter(); EdgeAttributionPatching().discover(model, ioi); times.append(time.perf_counter() - t0)
    eap_s = statistics.median(times)
    rows[f"EAP SmolLM2, {graph.n_edges} edges, {args.prompts} prompts s"] = eap_s
    # what one ACDC step (a patched forward) costs on SmolLM2, to put ~70k sequential steps in perspective
    from interp.methods.circuits import edge_forward
    with torch.no_grad():
        _, outs = edge_forward(graph, model, ioi.corrupted)
        t0 = time.perf_counter(); edge_forward(graph, model, ioi.clean, torch.zeros(graph.valid.shape), outs)
        step = time.perf_counter() - t0
    rows["one patched forward on SmolLM2 s (= one ACDC step)"] = step

    print(f"{'measurement':60s} {'value':>10s}")
    for k, v in rows.items(): print(f"{k:60s} {v:10.2f}")
    print(f"{'ACDC passes (toy, τ=0.03) vs EAP':60s} {main_acdc.meta['forward_passes']:>6d} fwd vs "
          f"{eap_toy.meta['forward_passes']} fwd + {eap_toy.meta['backward_passes']} bwd")
    out = {"benchmark": "circuit_discovery", "quick": args.quick, "threads": args.threads, "n_prompts": args.prompts,
           "smollm2_edges": graph.n_edges, "eap_smollm2_seconds": round(eap_s, 2),
           "eap_smollm2_runs": [round(t, 2) for t in times],
           "target_seconds": 60, "meets_target": eap_s <= 60,
           "acdc_passes": main_acdc.meta["forward_passes"],
           "eap_passes": eap_toy.meta["forward_passes"] + eap_toy.meta["backward_passes"],
           "eap_forward_passes": eap_toy.meta["forward_passes"], "eap_backward_passes": eap_toy.meta["backward_passes"],
           "toy_edges": len(main_acdc.scores),
           "acdc_passes_by_tau": {str(t): a.meta["forward_passes"] for t, a in acdc.items()},
           "toy_auc": {"eap": round(edge_roc(eap_toy, ref)[2], 4),
                       **{f"acdc_tau_{t}": round(edge_roc(a, ref)[2], 4) for t, a in acdc.items()}},
           "toy_agreement": {k: round(v, 4) for k, v in agreement(main_acdc, eap_toy).items()},
           "smollm2_patched_forward_seconds": round(step, 2),
           "smollm2_acdc_projected_seconds": round(step * graph.n_edges),
           "seconds": {k: round(v, 3) for k, v in rows.items()},
           "total_seconds": round(time.perf_counter() - t_start, 1),
           "load_avg": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
