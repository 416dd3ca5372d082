"""Packaging: a wheel built with `python -m build` carries the compiled Mojo kernels, and a fresh venv
with only NumPy (no Mojo, no torch) imports interp.kernels.stats and runs the Mojo path without compiling."""
import os, subprocess, sys, textwrap, zipfile
from pathlib import Path
import pytest
import interp.kernels.stats as K

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(K._load_mojo() is None, reason=f"Mojo kernels not built: {K._state['error']}")]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def test_wheel_ships_kernels_and_runs_mojo_in_a_fresh_venv(tmp_path):
    # --no-isolation: build with this venv's setuptools, so no package index is needed for the build itself
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist")], cwd=ROOT)
    wheel, = (tmp_path / "dist").glob("interp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "interp/_kernels/manifest.json" in names
    assert any(n.startswith("interp/_kernels/lib") and n.endswith(".so") for n in names)
    assert {"interp/data/stdlib_docstrings.jsonl", "interp/data/open_text.jsonl.gz"} <= set(names)   # bundled corpora
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "numpy"], capture_output=True, text=True)
    if r.returncode != 0: pytest.skip(f"cannot install numpy into a fresh venv (no package index?): {r.stderr[-300:]}")
    run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)])
    probe = textwrap.dedent("""
        import json, sys, numpy as np, interp.kernels.stats as K
        x = np.random.default_rng(0).standard_normal((5000, 300)).astype(np.float32)
        r = K.topk_per_column(x, 8)
        ok = bool((r.values == -np.sort(-x, axis=0)[:8]).all())
        print(json.dumps({"backend": K.last_backend(), "ok": ok, "file": K.__file__,
                          "torch": "torch" in sys.modules, "mojo": "mojo" in sys.modules}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = run([str(py), "-c", probe], cwd=tmp_path, env=env).strip().splitlines()[-1]
    import json
    res = json.loads(out)
    assert res["file"].startswith(str(venv)), res
    assert res == {**res, "backend": "mojo", "ok": True, "torch": False, "mojo": False}
