"""The kernels benchmark runs end to end on a small matrix, cross-checks every method's answer and ends
with the documented JSON line."""
import json, os, subprocess, sys
from pathlib import Path
import interp.kernels.stats as K

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_small_run_ends_with_json():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kernels.py"), "--rows", "3000", "--cols", "200",
                        "--reps", "1"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"mojo_vs_floor", "mojo_speedup_vs_torch", "mojo_speedup_vs_numpy", "backend"} <= set(out)
    assert out["shape"] == [3000, 200]
    mojo = K._load_mojo() is not None
    assert out["backend"] == ("mojo" if mojo else "torch")
    assert (out["mojo_vs_floor"] is not None) == mojo
    if mojo: assert out["mojo_vs_floor"] > 0 and out["mojo_speedup_vs_torch"] > 0
