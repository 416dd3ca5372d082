"""Overhead of interp capture and single-head ablation vs a plain forward, TransformerLens and nnsight (CPU).

A GPT-2-small-shaped, randomly initialised HF model; batch 8x128 and 1x8; every variant timed in the same
process, interleaved round-robin (rotating order) so machine load affects all of them alike; medians reported.
The anchor is the plain forward; raw `register_forward_hook` capture is shown as a second reference.

    python benchmarks/capture_overhead.py            # full: more repetitions
    python benchmarks/capture_overhead.py --quick    # few repetitions

Prints a table, then as its last line one JSON object of medians and ratios to the plain forward.
"""
import argparse, copy, json, os, statistics, subprocess, sys, tempfile, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def import_seconds() -> float:
    "Cumulative `import interp` time in a fresh interpreter (python -X importtime)."
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import interp"], capture_output=True, text=True,
                         check=True)
    line = [l for l in out.stderr.splitlines() if l.rstrip().endswith("| interp")][-1]
    return int(line.split("|")[1]) / 1e6


def build_model(n_layer: int):
    "GPT-2-small shape (d_model 768, 12 heads, vocab 50257), random weights, created on meta then filled (fast)."
    import torch, transformers
    cfg = transformers.GPT2Config(n_layer=n_layer)
    with torch.device("meta"): model = transformers.GPT2LMHeadModel(cfg)
    model = model.to_empty(device="cpu")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")): p.fill_(1.0)
            elif name.endswith("bias"): p.zero_()
            else: p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    model.tie_weights()
    return model.eval()


def tiny_tokenizer(vocab: int):
    "A word-level tokenizer saved to and reloaded from a folder (the bridge needs a loadable one)."
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers
    tk = Tokenizer(models.WordLevel({f"t{i}": i for i in range(vocab)},
                                    unk_token="t0")); tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="t0", pad_token="t0", eos_token="t1",
                                               bos_token="t1")
    d = tempfile.mkdtemp(); tok.save_pretrained(d)
    return transformers.AutoTokenizer.from_pretrained(d)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="few repetitions (finishes in about a minute on an idle 2-core CPU)")
    ap.add_argument("--reps", type=int, default=None, help="rounds for the 8x128 batch (default 7, quick 2)")
    ap.add_argument("--reps-small", type=int, default=None, help="rounds for the 1x8 batch (default 60, quick 20)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: torch's choice; 1 with --clock cpu)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: perf_counter; cpu: process CPU time with torch on 1 thread (robust on a shared, loaded "
                         "machine)")
    args = ap.parse_args(argv)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    if args.clock == "cpu": args.threads = 1
    reps = args.reps or (2 if args.quick else 7)
    reps_small = args.reps_small or (20 if args.quick else 60)
    t_start = time.perf_counter()
    imp = import_seconds()

    import torch
    if args.threads: torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    from interp.core.extract import ActivationsExtractor
    from interp.core.intervene import Ablate, run_with_interventions
    from interp.core.sites import resolve_site

    model = build_model(12)
    L = model.config.n_layer
    sites = [f"blocks.{i}.{s}" for i in range(L) for s in ("resid_pre", "attn.out", "resid_mid", "mlp.out",
                                                           "resid_post")]
    extractor = ActivationsExtractor(model, sites)
    ablation = [Ablate(f"blocks.{L // 2}.attn.z", heads=3)]

    # raw torch hooks on the same modules (the floor for hook-based capture)
    specs = [resolve_site(model, s) for s in sites]
    def raw_hooks(ids):
        store, hs = {}, []
        for sp in specs:
            mod = model.get_submodule(sp.module)
            if sp.phase == "out":
                hs.append(
                    mod.register_forward_hook(
                        lambda m, a, o, k=sp.name: store.__setitem__(k, o if torch.is_tensor(o) else o[0])
                    )
                )
            else:
                hs.append(mod.register_forward_pre_hook(lambda m, a, k=sp.name: store.__setitem__(k, a[0])))
        try: model(ids)
        finally:
            for h in hs: h.remove()
        return store

    tok = tiny_tokenizer(model.config.vocab_size)
    t0 = time.perf_counter()
    from transformer_lens.model_bridge import TransformerBridge
    bridge = TransformerBridge.boot_transformers("gpt2", hf_model=copy.deepcopy(model), tokenizer=tok)
    tl_boot = time.perf_counter() - t0
    from nnsight import LanguageModel
    lm = LanguageModel(copy.deepcopy(model), tokenizer=tok)

    def nnsight_trace(ids):
        saved = []
        with lm.trace(ids):
            for i in range(L):
                blk = lm.transformer.h[i]
                saved.append(blk.input.save())
                saved.append(blk.attn.output[0].save())
                saved.append(blk.ln_2.input.save())
                saved.append(blk.mlp.output.save())
                saved.append(blk.output.save())
        return saved

    variants = {
        "plain": lambda ids: model(ids),
        "raw_hooks": raw_hooks,
        "interp_capture": lambda ids: extractor.extract(ids),
        "interp_ablate": lambda ids: run_with_interventions(model, ablation, ids),
        "tl_cache": lambda ids: bridge.run_with_cache(ids),
        "nnsight": nnsight_trace,
    }

    results = {}
    for label, shape, n in (("8x128", (8, 128), reps), ("1x8", (1, 8), reps_small)):
        ids = torch.randint(0, model.config.vocab_size, shape, generator=torch.Generator().manual_seed(1))
        # sanity: the variants compute the same thing
        ref = model(ids).logits
        c = extractor.extract(ids)
        assert torch.equal(c.output.logits, ref) and len(c) == len(sites)
        assert torch.allclose(bridge(ids), ref, atol=1e-3), "bridge logits differ from the HF model"
        saved = nnsight_trace(ids)
        assert torch.equal(saved[-1], c[f"blocks.{L - 1}.resid_post"]), "nnsight saw different activations"
        assert not torch.equal(run_with_interventions(model, ablation, ids).logits, ref)
        raw_hooks(ids)   # warm-up (the sanity checks above already ran every other variant once)
        times = {k: [] for k in variants}
        names = list(variants)
        for r in range(n):
            order = names[r % len(names):] + names[:r % len(names)]
            for k in order:
                t = clock(); variants[k](ids); times[k].append(clock() - t)
        results[label] = {k: statistics.median(v) for k, v in times.items()}

    unit = "CPU ms" if args.clock == "cpu" else "ms"
    table = [f"| variant | 8x128 median {unit} | ratio | 1x8 median {unit} | ratio |", "|---|---|---|---|---|"]
    for k in variants:
        a, b = results["8x128"], results["1x8"]
        table.append(f"| {k} | {a[k] * 1e3:.1f} | {a[k] / a['plain']:.3f} | {b[k] * 1e3:.2f} | {b[k] / b['plain']:.3f} "
                     "|")
    print(f"GPT-2-small shape (random weights), CPU, {args.clock} clock, torch threads {torch.get_num_threads()}, "
          f"{reps} rounds at 8x128 and {reps_small} at 1x8, interleaved; load average {os.getloadavg()[0]:.1f}; "
          f"{len(sites)} capture sites; bridge boot {tl_boot:.1f} s")
    print("\n".join(table))
    out = {"import_seconds": round(imp, 4)}
    for label, suffix in (("8x128", ""), ("1x8", "_small")):
        r = results[label]
        out[f"plain_ms{suffix}"] = round(r["plain"] * 1e3, 3)
        for k in ("raw_hooks", "interp_capture", "interp_ablate", "tl_cache", "nnsight"):
            out[f"{k}_ms{suffix}"] = round(r[k] * 1e3, 3)
            out[f"{k}_ratio{suffix}"] = round(r[k] / r["plain"], 4)
    out.update(clock=args.clock, reps=reps, reps_small=reps_small, threads=torch.get_num_threads(),
               load_avg=round(os.getloadavg()[0], 2),
               seconds=round(time.perf_counter() - t_start, 1), quick=args.quick)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
