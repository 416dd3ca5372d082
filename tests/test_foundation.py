"Packaging and import-cost checks of the project itself."
import subprocess, sys, venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_is_light():
    "`import interp` in a fresh interpreter: under 1.5 s and without importing torch."
    code = ("import time, sys; t=time.perf_counter(); import interp; print(time.perf_counter()-t); "
            "print('torch' in sys.modules)")
    def run(): return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    best = min(float(run().stdout.split()[0]) for _ in range(3))
    out = run().stdout.split()
    assert out[1] == "False", "import interp imported torch: import heavy dependencies lazily"
    assert best < 1.5, f"import interp took {best:.2f} s"


def test_wheel_builds_installs_and_imports(tmp_path):
    "`python -m build` makes a wheel and an sdist; the wheel installs into a fresh venv and imports."
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(ROOT)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    wheels = list((tmp_path / "dist").glob("interp-*.whl")); sdists = list((tmp_path / "dist").glob("interp-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    venv.create(tmp_path / "venv", with_pip=True)
    py = tmp_path / "venv" / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheels[0])], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([str(py), "-c", "import interp, interp.core.runtime; print(interp.__version__, "
                                       "interp.core.runtime.quick_mode())"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[0] == interp_version()


def interp_version():
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
