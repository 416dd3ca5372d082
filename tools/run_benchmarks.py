"""Run the benchmarks and keep what each printed as its last line (one JSON object) in benchmarks/results/<name>.json,
with the command, the date and the machine, so that pages (the paper in nbs/guides) show measured figures, never
hand-copied ones.

Usage: .venv/bin/python tools/run_benchmarks.py [--full] [name ...]     (default: every benchmark with --quick)
"""
from __future__ import annotations
import argparse, datetime, json, os, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH, RESULTS = ROOT / "benchmarks", ROOT / "benchmarks" / "results"
# the benchmarks that compare against an anchor in the same run (the checkpoint trainers are not benchmarks)
BENCHMARKS = ("kernels", "capture_overhead", "stream_store", "generate_monitor", "probing", "atlas_render",
              "circuit_discovery", "models_load")
NO_QUICK_FLAG = {"models_load"}


def run(name: str, quick: bool) -> dict:
    "Run one benchmark; returns the record written to benchmarks/results/<name>.json."
    cmd = [sys.executable, str(BENCH / f"{name}.py")] + (["--quick"] if quick and name not in NO_QUICK_FLAG else [])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MODULAR_TELEMETRY_ENABLED": "0"}
    t0, load = time.time(), os.getloadavg()[0]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode: raise RuntimeError(f"{name} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    last = [line for line in out.stdout.strip().splitlines() if line.strip()][-1]
    record = dict(benchmark=name, command=" ".join(["python", f"benchmarks/{name}.py"] + cmd[2:]), quick=quick,
                  date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  machine=dict(platform=platform.platform(), cpus=os.cpu_count(), load_before=round(load, 2)),
                  seconds=round(time.time() - t0, 1), result=json.loads(last))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=list(BENCHMARKS)); ap.add_argument("--full", action="store_true")
    args = ap.parse_args(argv)
    for name in args.names:
        r = run(name, quick=not args.full)
        print(f"{name:18s} {r['seconds']:7.1f} s  {json.dumps(r['result'])[:150]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
