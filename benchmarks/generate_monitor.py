"""Tokens per second of SmolLM2 greedy generation: plain, with one monitor on one site, and with every residual site
streamed to an activation store (CPU).

Three variants, timed in one process and interleaved round-robin (rotating order) so that machine load affects all
of them alike; medians reported. `plain` is 🤗 `model.generate`; `monitor` is `interp.streams.generate.generate` with
one `Monitor` scoring every token of `blocks.6.resid_post`; `stream_all` streams every `blocks.{i}.resid_post` on an
`ActivationBus` to a `StoreWriter` (the shards are written to a temporary folder).

    python benchmarks/generate_monitor.py            # full: longer generations, more repetitions
    python benchmarks/generate_monitor.py --quick    # under a minute

Prints a table, then as its last line one JSON object: plain_tokens_per_s, monitor_ratio, stream_all_ratio (ratios
of tokens/s to plain's; 1.0 means no overhead).
"""
import argparse, json, os, statistics, tempfile, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROMPTS = ["The history of the city begins", "In the morning the scientists", "A short guide to baking bread:",
           "The committee met to discuss"]
MONITOR_SITE = "blocks.6.resid_post"


def run_plain(model, tok, ids, mask, n_new):
    return model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n_new, min_new_tokens=n_new,
                          do_sample=False, pad_token_id=tok.pad_token_id)


def run_monitor(model, tok, n_new, direction):
    from interp.streams.generate import Monitor, generate
    mon = Monitor(lambda x: x.float() @ direction, site=MONITOR_SITE, threshold=float("inf"))
    generate(model, tok, PROMPTS, monitors=[mon], max_new_tokens=n_new, min_new_tokens=n_new)
    assert len(mon.records) > 0


def run_stream_all(model, tok, n_new, sites, width, folder):
    from interp.streams.bus import ActivationBus
    from interp.streams.generate import generate
    from interp.streams.store import ActivationStore, StoreWriter
    store = ActivationStore.create(folder, {s: width for s in sites}, dtype="float32")
    with ActivationBus(maxsize=8) as bus:
        bus.subscribe(StoreWriter(store), name="store")
        generate(model, tok, PROMPTS, stream=sites, bus=bus, max_new_tokens=n_new, min_new_tokens=n_new)
    assert len(store.refresh()) > 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short generations and two repetitions")
    args = ap.parse_args()
    import torch
    from interp.core.models import load_smollm2
    from interp.streams.generate import _encode
    n_new, reps = (12, 2) if args.quick else (48, 5)
    model, tok = load_smollm2()
    model.eval()
    sites = [f"blocks.{i}.resid_post" for i in range(model.config.num_hidden_layers)]
    direction = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    ids, mask = _encode(tok, PROMPTS, tok.pad_token_id, "cpu")
    tmp = tempfile.TemporaryDirectory()
    variants = {"plain": lambda i: run_plain(model, tok, ids, mask, n_new),
                "monitor": lambda i: run_monitor(model, tok, n_new, direction),
                "stream_all": lambda i: run_stream_all(model, tok, n_new, sites, model.config.hidden_size,
                                                       os.path.join(tmp.name, f"store{i}"))}
    run_plain(model, tok, ids, mask, 2)   # warm-up
    times = {k: [] for k in variants}
    names = list(variants)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            t0 = time.perf_counter(); variants[name](rep); times[name].append(time.perf_counter() - t0)
    n_tok = len(PROMPTS) * n_new
    tps = {k: n_tok / statistics.median(v) for k, v in times.items()}
    print(f"{'variant':<12}{'tokens/s':>10}{'ratio':>8}   ({len(PROMPTS)} prompts x {n_new} new tokens, {reps} reps)")
    for k, v in tps.items(): print(f"{k:<12}{v:>10.1f}{v / tps['plain']:>8.3f}")
    tmp.cleanup()
    ratio = {k: round(v / tps["plain"], 3) for k, v in tps.items()}
    print(json.dumps(dict(plain_tokens_per_s=round(tps["plain"], 2), monitor_ratio=ratio["monitor"],
                          stream_all_ratio=ratio["stream_all"], quick=args.quick,
                          n_prompts=len(PROMPTS), new_tokens=n_new, repetitions=reps)))


if __name__ == "__main__":
    main()
