"""SmolLM2 loading and forward latency: interp's cached load vs the anchor (transformers reading the GGUF directly).

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/models_load.py [--repeats 3]
Prints a table, then one JSON object as the last line.
"""
import argparse, json, os, statistics, tempfile, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def timed(fn):
    t0 = time.perf_counter(); out = fn(); return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--repeats", type=int, default=3); args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM
    import interp.core.models as M
    gguf = M.smollm2_gguf_path()
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        os.environ["INTERP_CACHE_DIR"] = d
        rows["anchor: transformers from GGUF"], _ = timed(
            lambda: AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        )
        rows["interp first load (dequantise + cache)"], _ = timed(M.load_smollm2)
        cached = [timed(M.load_smollm2)[0] for _ in range(args.repeats)]
        rows["interp cached load (median)"] = statistics.median(cached)
        model, _ = M.load_smollm2()
    batch = torch.randint(0, model.config.vocab_size, (8, 64), generator=torch.Generator().manual_seed(0))
    old = torch.get_num_threads()
    for n in sorted({1, old}):
        torch.set_num_threads(n)
        with torch.no_grad():
            model(batch)
            rows[f"forward 8x64, {n} thread(s) (median)"] = statistics.median(
                timed(lambda: model(batch))[0] for _ in range(args.repeats)
            )
    torch.set_num_threads(old)
    anchor = rows["anchor: transformers from GGUF"]
    print(f"{'measurement':45s} {'seconds':>9s} {'vs anchor':>10s}")
    for k, v in rows.items():
        ratio = f"{anchor / v:9.1f}x" if "load" in k else ""
        print(f"{k:45s} {v:9.2f} {ratio:>10s}")
    print(json.dumps({"benchmark": "models_load", "seconds": {k: round(v, 3) for k, v in rows.items()},
                      "cached_speedup_vs_gguf": round(anchor / rows["interp cached load (median)"], 2),
                      "load_avg": os.getloadavg()[0], "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
