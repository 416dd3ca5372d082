#!/usr/bin/env python
"""Compile mojo/interp_kernels.mojo into interp/_kernels/ (a native and an x86-64-v3 build), write the
manifest the loader reads, and auto-tune the tile sizes on this machine.

Usage: .venv/bin/python tools/build_kernels.py [--if-needed] [--no-tune]
  --if-needed  do nothing when the libraries match the current source; never fail the set-up
               (without Mojo the package uses its torch fallback).
"""
import argparse, hashlib, json, os, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "mojo" / "interp_kernels.mojo"
OUT = ROOT / "interp" / "_kernels"
ISA = ["sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "movbe", "avx512f", "avx512bw",
       "avx512cd", "avx512dq", "avx512vl", "avx512vbmi", "avx512ifma", "avx512_vnni", "avx512_bf16",
       "avx512_fp16", "avx512_vbmi2", "avx512_bitalg", "avx512_vpopcntdq", "gfni", "vaes", "vpclmulqdq"]
V3 = ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "movbe"]
ABI = 1

def cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"): return set(line.split(":", 1)[1].split())
    except OSError: pass
    return set()

def find_mojo():
    here = Path(sys.executable).parent / "mojo"
    return str(here) if here.exists() else shutil.which("mojo")

def source_key():
    return hashlib.sha256(SRC.read_bytes() + f"abi{ABI}".encode()).hexdigest()[:16]

def up_to_date():
    try: meta = json.loads((OUT / "manifest.json").read_text())
    except (OSError, ValueError): return False
    return (
        meta.get("source_sha") == source_key()
        and all((OUT / e["file"]).exists() for e in meta["libs"])
        and "tuning" in meta
    )

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--if-needed", action="store_true")
    ap.add_argument("--no-tune", action="store_true")
    a = ap.parse_args()
    soft = a.if_needed
    if a.if_needed and up_to_date():
        print("[kernels] up to date:", OUT / "manifest.json"); return 0
    mojo = find_mojo()
    if mojo is None:
        print("[kernels] mojo not found (pip install mojo-compiler==1.2.0): interp.kernels.stats will use its torch "
              "fallback")
        return 0 if soft else 1
    if shutil.which("cc") is None:
        print("[kernels] no C compiler (cc) to link the kernels: interp.kernels.stats will use its torch fallback")
        return 0 if soft else 1
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MODULAR_TELEMETRY_ENABLED": "0"}
    flags = cpu_flags()
    builds = [("libinterp_kernels_native.so", [], sorted(flags & set(ISA))),
              ("libinterp_kernels_x86_64_v3.so", ["--target-cpu", "x86-64-v3"], V3)]
    libs = []
    for name, extra, requires in builds:
        t0 = time.time()
        tmp = OUT / (name + ".tmp")
        cmd = [mojo, "build", str(SRC), "--emit", "shared-lib", "-o", str(tmp), *extra]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0 or not tmp.exists():
            print(f"[kernels] FAILED to compile {name}:\n{r.stdout}{r.stderr}")
            tmp.unlink(missing_ok=True)
            return 0 if soft else 1
        os.replace(tmp, OUT / name)
        libs.append({"file": name, "target": "native" if not extra else extra[-1], "requires": requires})
        print(f"[kernels] built {OUT / name} in {time.time() - t0:.1f} s")
    meta = {"abi": ABI, "source_sha": source_key(), "source": "mojo/interp_kernels.mojo",
            "mojo_version": subprocess.run([mojo, "--version"], env=env, capture_output=True, text=True).stdout.strip(),
            "libs": libs}
    (OUT / "manifest.json").write_text(json.dumps(meta, indent=1))
    if not a.no_tune:
        t0 = time.time()
        code = ("import json, interp.kernels.scale as KS; r = KS.autotune(save=True); "
                "print(json.dumps({k: r[k] for k in ('topk', 'stats', 'threads')}))")
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"[kernels] auto-tuning failed (defaults apply):\n{r.stderr[-2000:]}")
            return 0 if soft else 1
        print(f"[kernels] tuned in {time.time() - t0:.1f} s: {r.stdout.strip()}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
