"""Check the house rules that keep `interp` navigable; exits 1 with one line per breach.

1. Layout: `nbs/<band>/NN_<name>.ipynb` exports `interp/<band>/<name>.py` and nothing else; guides export nothing;
   no module is exported by two notebooks; every module of a band comes from a notebook; nothing imports upwards.
2. Size: no module over MAX_MODULE_LINES lines, no exported function or method over MAX_FUNCTION_LINES lines,
   no line over MAX_COLUMNS columns (except what nbdev writes itself: the summary docstring, `__all__`).
3. Contract: every registered technique keeps the API contract (`interp.core.method.check_contract`).
4. One address: every notebook's Colab install cell is built from `[project.urls] Repository` in pyproject.toml
   (`--fix` rewrites the cells that differ).

Usage: .venv/bin/python tools/check_house.py [--quiet] [--fix]
"""
from __future__ import annotations
import ast, importlib, json, pkgutil, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, LIB = ROOT / "nbs", ROOT / "interp"
BANDS = ("core", "repr", "streams", "kernels", "viz", "methods", "papers")
# the import order of the bands: a module may import only from its own band and the bands before it
IMPORT_ORDER = ("core", "repr", "kernels", "streams", "viz", "methods", "papers")
# deliberate upward imports, made at call time: (from band, to band) -> why
LAZY_UPWARD = {("core", "viz"): "Result.plot looks up its type's plotter in interp.viz.plots when called"}
NO_EXPORT_BANDS = ("guides",)
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
MAX_COLUMNS = 120
_EXPORT = re.compile(r"^#\|[ \t]*exports?[ \t]*(\S*)[ \t]*$", re.M)
_DEFAULT_EXP = re.compile(r"^#\|\s*default_exp\s+(\S+)", re.M)


def _code_cells(nb_path: Path) -> list[str]:
    nb = json.loads(nb_path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def check_layout(nbs: Path = NBS, lib: Path = LIB) -> list[str]:
    "Breaches of the one-notebook-one-module layout rule (in the tree at `nbs` exporting to `lib`)."
    NBS, LIB = nbs, lib
    problems, owners = [], {}
    for nb in sorted(NBS.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb.parts: continue
        rel = nb.relative_to(NBS)
        cells = _code_cells(nb)
        dexp = [m.group(1) for c in cells for m in _DEFAULT_EXP.finditer(c)]
        exports = [m.group(1) for c in cells for m in _EXPORT.finditer(c)]
        if len(rel.parts) == 1 or rel.parts[0] in NO_EXPORT_BANDS:
            if exports: problems.append(f"{rel}: exports code, but home and guide pages export nothing")
            continue
        band, m = rel.parts[0], re.match(r"^(\d\d)_([a-z][a-z0-9_]*)$", nb.stem)
        if band not in BANDS:
            problems.append(f"{rel}: {band!r} is not a band ({', '.join(BANDS + NO_EXPORT_BANDS)})")
            continue
        if not m: problems.append(f"{rel}: name it NN_<name>.ipynb (two digits, lower-case name)"); continue
        if not exports: continue
        want = f"{band}.{m.group(2)}"
        if dexp != [want]: problems.append(f"{rel}: `#| default_exp {dexp[0] if dexp else '?'}` should be `#| "
                                           f"default_exp {want}` "
                                           f"(nbs/<band>/NN_<name>.ipynb exports interp/<band>/<name>.py)")
        for target in exports:
            if target and target != want: problems.append(f"{rel}: exports a cell to {target!r}; a notebook exports "
                                                          f"only its own module {want!r}")
        if want in owners: problems.append(f"{rel}: exports {want}, which {owners[want]} already exports")
        owners.setdefault(want, rel)
    for band in BANDS:
        for mod in sorted((LIB / band).glob("*.py")):
            if mod.name != "__init__.py" and f"{band}.{mod.stem}" not in owners:
                problems.append(f"interp/{band}/{mod.name}: no notebook exports it (delete it or write "
                                f"nbs/{band}/NN_{mod.stem}.ipynb)")
    for mod in sorted(LIB.glob("*.py")):
        if mod.name not in ("__init__.py", "_modidx.py"):
            problems.append(f"interp/{mod.name}: modules live in a band folder, interp/<band>/")
    return problems


def _band_imports(path: Path) -> list[tuple[str, int, bool]]:
    "(band imported, line, at module level) for each import of another interp band in the module at `path`."
    tree = ast.parse(path.read_text()); top = set(map(id, tree.body)); out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module: mods = [node.module]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("interp."): mods = [node.module[7:]]
        elif isinstance(node, ast.Import): mods = [a.name[7:] for a in node.names if a.name.startswith("interp.")]
        else: continue
        out += [(m.split(".")[0], node.lineno, id(node) in top) for m in mods]
    return out


def check_imports(lib: Path = LIB) -> list[str]:
    "Imports that go upwards in IMPORT_ORDER (module level always; inside functions unless listed in LAZY_UPWARD)."
    problems = []
    for band in IMPORT_ORDER:
        for mod in sorted((lib / band).glob("*.py")):
            for dep, line, top in _band_imports(mod):
                if dep not in IMPORT_ORDER or IMPORT_ORDER.index(dep) <= IMPORT_ORDER.index(band): continue
                if not top and (band, dep) in LAZY_UPWARD: continue
                problems.append(f"interp/{band}/{mod.name}:{line} imports from {dep!r}, above {band!r} "
                                f"(order: {' <- '.join(IMPORT_ORDER)}): move the shared code down")
    return problems


def repository_url(root: Path = ROOT) -> str:
    "The repository's address: written once, in pyproject.toml's `[project.urls] Repository`."
    import tomllib
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Repository"].rstrip("/")


def colab_cell(url: str) -> str:
    "The hidden first cell of every page: on Colab, install the library from its repository."
    return ("#| hide\nimport sys\nif 'google.colab' in sys.modules:  # Colab: install the library first\n"
            f"    get_ipython().run_line_magic('pip', 'install -q \"interp @ git+{url}\"')")


def check_colab(nbs: Path = NBS, fix: bool = False) -> list[str]:
    "Notebooks whose Colab install cell is missing or does not match the repository address (rewritten with `fix`)."
    problems, want = [], colab_cell(repository_url())
    for nb_path in sorted(nbs.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb_path.parts: continue
        nb = json.loads(nb_path.read_text())
        cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "google.colab" in "".join(c["source"])]
        rel = nb_path.relative_to(nbs)
        if len(cells) != 1: problems.append(f"{rel}: has {len(cells)} Colab install cells; copy the one of "
                                            "nbs/core/00_runtime.ipynb"); continue
        if "".join(cells[0]["source"]) != want:
            if fix:
                cells[0]["source"] = want.splitlines(keepends=True)
                nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            else: problems.append(f"{rel}: its Colab cell does not install from {repository_url()} (run "
                                  "tools/check_house.py --fix)")
    return problems


def check_sizes() -> list[str]:
    "Modules over MAX_MODULE_LINES lines and exported functions over MAX_FUNCTION_LINES lines."
    problems = []
    for mod in sorted(LIB.rglob("*.py")):
        if mod.name == "_modidx.py": continue
        text = mod.read_text(); rel = mod.relative_to(ROOT)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            problems.append(f"{rel}: {len(text.splitlines())} lines (> {MAX_MODULE_LINES}): split the notebook by "
                            "concept")
        in_all = False
        for i, line in enumerate(text.splitlines(), 1):
            in_all = line.startswith("__all__ = ") or (in_all and line.startswith(" " * 11))  # nbdev's own wrapping
            summary = i == 1 and line.startswith(('"""', 'r"""'))  # the summary docstring nbdev writes
            if len(line) > MAX_COLUMNS and not in_all and not summary:
                problems.append(f"{rel}:{i} is {len(line)} columns (> {MAX_COLUMNS}): wrap it in the notebook")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    problems.append(f"{rel}:{node.lineno} {node.name}() is {n} lines (> {MAX_FUNCTION_LINES}): split "
                                    "it into named steps")
    return problems


def load_all_modules() -> list[str]:
    "Import every module of the package (so that every technique is registered); returns their names."
    import interp
    names = []
    for info in pkgutil.walk_packages(interp.__path__, "interp."):
        importlib.import_module(info.name); names.append(info.name)
    return names


def check_registry(verbose: bool = True) -> list[str]:
    "Breaches of the API contract by registered techniques (prints one line per technique)."
    load_all_modules()
    from interp.core.method import registry, check_contract, FAMILIES
    problems = []
    for name, cls in registry().items():
        found = check_contract(cls)
        if verbose: print(f"  {'ok  ' if not found else 'FAIL'} {name:<28} {cls.family:<14} {FAMILIES[cls.family]}  "
                          f"({cls.__module__})")
        problems += found
    return problems


def main(argv=None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    quiet, fix = "--quiet" in args, "--fix" in args
    problems = []
    checks = (("layout", check_layout), ("imports", check_imports), ("sizes", check_sizes),
              ("colab", lambda: check_colab(fix=fix)), ("contract", lambda: check_registry(not quiet)))
    for title, check in checks:
        found = check()
        print(f"[check_house] {title}: {'ok' if not found else f'{len(found)} problem(s)'}")
        for p in found: print("   ", p)
        problems += found
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
