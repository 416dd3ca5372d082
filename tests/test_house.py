"The house rules: layout, the API contract of every registered technique, one repository address, a light import."
import importlib.util, inspect, json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_house", ROOT / "tools" / "check_house.py")
house = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(house)


def _nb(path: Path, *sources: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [],
              "execution_count": None} for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_the_repository_keeps_its_layout():
    assert house.check_layout() == []


def test_layout_check_catches_misplaced_and_duplicate_exports(tmp_path):
    nbs, lib = tmp_path / "nbs", tmp_path / "interp"
    _nb(nbs / "core" / "00_runtime.ipynb", "#| default_exp core.runtime", "#| export\nx = 1")
    assert house.check_layout(nbs, lib) == []
    _nb(nbs / "core" / "01_sites.ipynb", "#| default_exp repr.sites", "#| export\ny = 1")        # wrong band
    _nb(nbs / "repr" / "10_lens.ipynb", "#| default_exp repr.lens",
        "#| export core.runtime\nz = 1")  # exports elsewhere
    _nb(nbs / "guides" / "70_guide.ipynb", "#| export\nw = 1")                                   # guides export nothing
    (lib / "methods").mkdir(parents=True); (lib / "methods" / "orphan.py").write_text("")
    found = "\n".join(house.check_layout(nbs, lib))
    assert "core/01_sites.ipynb: `#| default_exp repr.sites` should be `#| default_exp core.sites`" in found
    assert "repr/10_lens.ipynb: exports a cell to 'core.runtime'" in found
    assert "guides/70_guide.ipynb: exports code" in found
    assert "interp/methods/orphan.py: no notebook exports it" in found


def test_every_registered_technique_keeps_the_contract():
    house.load_all_modules()
    from interp.core.method import registry, check_contract
    techniques = registry()
    assert len(techniques) >= 20, sorted(techniques)
    broken = {name: check_contract(cls) for name, cls in techniques.items() if check_contract(cls)}
    assert broken == {}


def test_contract_check_names_each_breach():
    from interp.core.method import InterpretationMethod, check_contract, _REGISTRY
    import numpy as np
    try:
        class OldStyle(InterpretationMethod):
            family, citation = "probing", "Nobody (2026). An example"
            defaults = dict(alpha=1.0)
            def probe(self, inputs): return self.result(np.asarray(inputs))
        class Validates(InterpretationMethod):
            family, citation = "attribution", "Nobody (2026). An example"
            def __init__(self, *, k=3): self.k = int(k) + 1
            def attribute(self, model, inputs, target): return self.result(np.zeros(self.k))
        old, val = "\n".join(check_contract(OldStyle)), "\n".join(check_contract(Validates))
        assert "`defaults` dict" in old
        assert "changes 'k'" in val and "does not have the attribution signature attribute('model', 'task')" in val
        with pytest.raises(TypeError, match="not a Result"):
            type("NoResult", (OldStyle,), {"probe": lambda self, inputs: 1})().probe([1])
    finally:
        for k in ("old_style", "validates", "no_result"): _REGISTRY.pop(k, None)


def test_colab_cells_derive_from_the_one_repository_address():
    assert house.check_colab() == []
    url = house.repository_url()
    assert url.startswith("https://") and url in house.colab_cell(url)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert pyproject.count(url) == 1, "the repository address is written once, in [project.urls]"


def test_import_interp_is_light_and_offers_the_entry_points():
    code = ("import sys, time; t = time.perf_counter(); import interp; dt = time.perf_counter() - t; "
            "print(dt, 'torch' in sys.modules, 'transformers' in sys.modules)")
    dt, torch_loaded, hf_loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                 check=True).stdout.split()
    assert float(dt) < 1.5 and torch_loaded == "False" and hf_loaded == "False"
    import interp
    from interp.core.extract import ActivationsExtractor
    from interp.core.method import registry
    assert interp.ActivationsExtractor is ActivationsExtractor and interp.registry is registry
    with pytest.raises(AttributeError, match="no attribute 'nope'"): interp.nope


def test_signatures_show_hyper_parameters():
    house.load_all_modules()
    from interp.core.method import registry
    for name, cls in registry().items():
        params = list(inspect.signature(cls).parameters.values())
        assert all(p.kind is p.KEYWORD_ONLY for p in params), f"{name}: hyper-parameters must be keyword-only: {params}"


def test_import_check_catches_an_upward_import(tmp_path):
    lib = tmp_path / "interp"
    for band in house.IMPORT_ORDER: (lib / band).mkdir(parents=True)
    (lib / "repr" / "lens.py").write_text("from ..core.sites import x\n")                      # downward: fine
    (lib / "core" / "sites.py").write_text("from ..methods.patching import y\n")                # upward at module level
    (lib / "streams" / "bus.py").write_text("def f():\n    from interp.papers.ioi import z\n")  # upward at call time
    found = "\n".join(house.check_imports(lib))
    assert "interp/core/sites.py:1 imports from 'methods', above 'core'" in found
    assert "interp/streams/bus.py:2 imports from 'papers', above 'streams'" in found
    assert "repr/lens.py" not in found
    assert house.check_imports() == []
