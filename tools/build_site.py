"""Build the interp docs site: execute every nbdev notebook, process it with nbdev's own processors, render with Sphinx.

Usage: python tools/build_site.py [--quick] [--out _site] [--jobs 2] [--force]

1. the sidebar mirrors the bands: docs/sidebar.yml names one section per folder of nbs/ (pages in number order);
2. each notebook gets nbdev's `show_doc` cells, is executed top to bottom (nbclient, in its own folder;
   `INTERP_QUICK=1` and `#| slow` cells skipped with --quick, as nbdev-test does) and cached under _build/exec/
   keyed on its content and the package source;
3. nbdev's processors hide `#| hide`/exported cells and clean `show_doc` cells; cell options become MyST-NB tags;
   an "Open in Colab" badge is added under each title;
4. the home page gets the gallery: one card per paper page, with that page's first figure;
5. Sphinx + MyST-NB + the Sphinx Book Theme render _build/src/ into --out.
A failing cell stops the build with the notebook's path and the cell's error.
"""
from __future__ import annotations
import argparse, hashlib, json, os, re, shutil, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, DOCS, BUILD = ROOT / "nbs", ROOT / "docs", ROOT / "_build"
_NUM = re.compile(r"^\d+_")
_OPT = re.compile(r"^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")
_PAGES_OUTSIDE_NBS = {"guides/contributing.md": ROOT / "CONTRIBUTING.md"}  # pages kept at the top level of the repo
_TAGS = {("echo", "false"): "remove-input", ("output", "false"): "remove-output", ("include", "false"): "remove-cell"}


class SiteError(RuntimeError): pass


_PARSE_LOCK = threading.Lock()
KERNEL_START_ATTEMPTS = 3


def load_sidebar() -> list[dict]:
    "The sidebar: one section per band of docs/sidebar.yml, its notebooks in number order, plus any extra pages."
    import yaml
    sections = yaml.safe_load((DOCS / "sidebar.yml").read_text())["sections"]
    out, pinned = [], {p for s in sections for p in (s.get("pages") or [])}  # pages a section names explicitly
    for s in sections:
        band = s.get("band")
        pages = sorted(p.relative_to(NBS).as_posix() for p in (NBS / band).glob("*.ipynb")) if band else []
        out.append(dict(caption=s["caption"], pages=[p for p in pages if p not in pinned] + list(s.get("pages") or [])))
    listed = [p for s in out for p in s["pages"]]
    found = {p.relative_to(NBS).as_posix() for p in NBS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    found.discard("index.ipynb")
    dupes = {p for p in listed if listed.count(p) > 1}
    missing = sorted(found - set(listed))
    absent = sorted(p for p in listed if p.endswith(".ipynb") and p not in found)
    absent += sorted(p for p in listed if not p.endswith(".ipynb") and not _md_source(p).exists())
    if dupes or missing or absent:
        raise SiteError(
            "docs/sidebar.yml is out of date:"
            + (f"\n  notebooks in no band section (add their folder as a `band:`): {missing}" if missing else "")
            + (f"\n  listed but not found (remove or fix the path): {absent}" if absent else "")
            + (f"\n  listed twice: {sorted(dupes)}" if dupes else "")
        )
    return out


def _md_source(rel: str) -> Path: return _PAGES_OUTSIDE_NBS.get(rel, NBS / rel)


def page_name(rel: str) -> str:
    "Docs path of a notebook: the numeric prefix is dropped (`core/00_runtime.ipynb` -> `core/runtime`)."
    p = Path(rel)
    return (p.parent / _NUM.sub("", p.stem)).as_posix()


def _source_key(nb_path: Path, quick: bool) -> str:
    h = hashlib.sha256(nb_path.read_bytes())
    for f in sorted((ROOT / "interp").rglob("*.py")) + sorted((ROOT / "mojo").rglob("*.mojo")):
        h.update(f.as_posix().encode()); h.update(f.read_bytes())
    h.update(b"quick" if quick else b"full")
    return h.hexdigest()


def _prepare(nb_path: Path, quick: bool = False):
    "Add nbdev's show_doc cells and drop export calls, ready to execute; `quick` skips `#| slow` cells (as nbdev-test)."
    from fastcore.nbio import read_nb
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs
    from nbdev.maker import mk_cell
    nb = read_nb(nb_path)
    NBProcessor(nb=nb, procs=[add_show_docs], rm_directives=False).process()
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and "nbdev_export()" in c.source)]
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), 0)
    nb.cells.insert(first_code + 1, mk_cell("#| hide\nfrom nbdev.showdoc import show_doc\n"
                                          "from typing import Any, Callable, ClassVar, Optional, Union  # show_doc "
                                          "evaluates inherited string annotations here\n"
                                          "import warnings; warnings.filterwarnings('ignore', message='IProgress not "
                                          "found')  # tqdm.auto without ipywidgets: text bars"))
    for c in nb.cells:
        skip = r"^\s*#\|\s*(eval:\s*false|slow\b)" if quick else r"^\s*#\|\s*eval:\s*false"
        if c.cell_type == "code" and re.search(skip, c.source, re.M):
            c.setdefault("metadata", {}).setdefault("tags", []).append("skip-execution")
    return nb


def execute(rel: str, quick: bool, force: bool) -> tuple[str, float, bool]:
    "Execute one notebook (cached); returns (rel, seconds, was_cached)."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from fastcore.nbio import write_nb
    src = NBS / rel
    out = BUILD / "exec" / rel
    key_file = out.with_suffix(".key")
    key = _source_key(src, quick)
    if not force and out.exists() and key_file.exists() and key_file.read_text() == key:
        return rel, 0.0, True
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".prepared.ipynb")
    with _PARSE_LOCK: write_nb(_prepare(src, quick), tmp)   # CPython 3.11's ast.parse is not thread-safe
    t0 = time.time()
    for attempt in range(KERNEL_START_ATTEMPTS):
        nb = nbformat.read(tmp, as_version=4)
        client = NotebookClient(nb, timeout=3600, kernel_name="python3", allow_errors=False, record_timing=False,
                                resources={"metadata": {"path": str(src.parent)}}, startup_timeout=120)
        try: client.execute(); break
        except CellExecutionError as e:
            raise SiteError(f"notebook {rel} failed while building the site:\n{str(e)[-3000:]}") from None
        except RuntimeError as e:   # the kernel did not start (e.g. two kernels raced for one port): start another
            if attempt + 1 == KERNEL_START_ATTEMPTS:
                raise SiteError(f"notebook {rel}: no kernel started: {e}") from None
            print(f"  {rel}: kernel did not start ({e}); retrying", flush=True)
    nbformat.write(nb, out)
    key_file.write_text(key); tmp.unlink(missing_ok=True)
    return rel, time.time() - t0, False


def _cell_options(cell) -> dict:
    "nbdev/Quarto `#| key: value` options of a cell, from its parsed directives and any left in its source."
    directives = getattr(cell, "directives_", None) or {}
    opts = {k: " ".join(v) if isinstance(v, list) else str(v) for k, v in directives.items()}
    lines = cell.source.splitlines()
    while lines and (m := _OPT.match(lines[0])):
        opts[m.group(1)] = m.group(2); lines.pop(0)
    cell.source = "\n".join(lines)
    return opts


def process(rel: str, colab_base: str) -> None:
    "Turn an executed notebook into a MyST-NB page: nbdev's doc processors, then cell options as MyST-NB tags."
    from fastcore.nbio import read_nb, write_nb
    from nbdev.process import NBProcessor
    from nbdev.maker import mk_cell
    from nbdev import processors as P
    nb = read_nb(BUILD / "exec" / rel)
    procs = [P.populate_language, P.strip_ansi, P.hide_line, P.filter_stream_, P.rm_header_dash, P.clean_show_doc,
             P.rm_export, P.clean_magics, P.hide_, P.mv_exports, P.strip_hidden_metadata]
    NBProcessor(nb=nb, procs=procs, rm_directives=True).process()
    cells = []
    for c in nb.cells:
        if c.cell_type == "code":
            opts = _cell_options(c)
            tags = [t for (k, v), t in _TAGS.items() if opts.get(k, "").lower() == v]
            if opts.get("output", "").lower() == "asis": tags.append("remove-input")
            if "remove-cell" in tags: continue
            kept = set(c.metadata.get("tags", [])) - {"skip-execution"}
            c.setdefault("metadata", {})["tags"] = sorted(kept | set(tags))
            for k in ("directives_", "idx_", "has_sd"): c.pop(k, None)
            for o in c.get("outputs", []):  # show_doc opens with a Quarto rule `---` that docutils cannot place
                md = o.get("data", {}).get("text/markdown")
                if md: o["data"]["text/markdown"] = re.sub(r"^\s*---\s*\n", "",
                                                           "".join(md) if isinstance(md, list) else md)
        cells.append(c)
    depth = len(Path(rel).parts) - 1
    badge = f"{'../' * depth}_static/colab-badge.svg"
    title_idx = next((i for i, c in enumerate(cells)
                      if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), None)
    if title_idx is None: raise SiteError(f"notebook {rel} has no '# Title' markdown cell")
    cells.insert(title_idx + 1, mk_cell(f"[![Open In Colab]({badge})]({colab_base}/{rel})", cell_type="markdown"))
    nb.cells = cells
    dest = BUILD / "src" / (page_name(rel) + ".ipynb")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, dest)


def write_tree(sections: list[dict]) -> None:
    "Add the hand-ordered sidebar (hidden toctrees) to the home page and copy the guide pages."
    from fastcore.nbio import read_nb, write_nb
    from nbdev.maker import mk_cell
    for s in sections:
        for p in s.get("pages") or []:
            if p.endswith(".md"):
                dest = BUILD / "src" / p; dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(_md_source(p), dest)
    shutil.copytree(DOCS / "_static", BUILD / "src" / "_static", dirs_exist_ok=True)
    toc = ""
    for s in sections:
        pages = [page_name(p) if p.endswith(".ipynb") else p[:-3] for p in (s.get("pages") or [])]
        if pages: toc += f"```{{toctree}}\n:hidden:\n:caption: {s['caption']}\n\n" + "\n".join(pages) + "\n```\n\n"
    home = BUILD / "src" / "index.ipynb"
    nb = read_nb(home)
    at = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and GALLERY_HEADING in c.source), None)
    if at is None:
        raise SiteError(f"nbs/index.ipynb has no markdown cell with {GALLERY_HEADING!r}: the gallery cards go there")
    papers = next(s["pages"] for s in sections if s["caption"] == "Paper gallery")
    nb.cells.insert(at + 1, mk_cell(gallery_cards([p for p in papers if p.endswith(".ipynb")]), cell_type="markdown"))
    nb.cells.append(mk_cell(toc, cell_type="markdown")); write_nb(nb, home)


GALLERY_HEADING = "## The paper gallery"


def _first_figure(rel: str) -> bytes | None:
    "The first PNG figure an executed notebook shows (its card picture), or None."
    import base64
    nb = json.loads((BUILD / "exec" / rel).read_text())
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            png = o.get("data", {}).get("image/png")
            if png: return base64.b64decode("".join(png) if isinstance(png, list) else png)
    return None


def gallery_cards(rels: list[str]) -> str:
    "MyST for the home page's gallery: one card per paper page, with the page's first figure, title and summary."
    cards = []
    for rel in rels:
        nb = json.loads((NBS / rel).read_text())
        head = "".join(next(c["source"] for c in nb["cells"] if c["cell_type"] == "markdown")).splitlines()
        title = head[0].lstrip("# ").strip()
        summary = next((line.lstrip("> ").strip() for line in head[1:] if line.startswith(">")), "")
        page = page_name(rel)
        png = _first_figure(rel)
        if png is None: raise SiteError(f"{rel} shows no figure: every paper page needs one for its gallery card")
        img = BUILD / "src" / "gallery" / (Path(page).name + ".png"); img.parent.mkdir(parents=True, exist_ok=True)
        img.write_bytes(png)
        cards.append(f":::{{container}} interp-card\n[![{title}](gallery/{img.name})]({page}.ipynb)\n\n"
                     f"[**{title}**]({page}.ipynb)\n{summary}\n:::")
    return "::::{container} interp-gallery\n" + "\n\n".join(cards) + "\n::::"


def build(out: Path, quick: bool, jobs: int, force: bool) -> Path:
    sections = load_sidebar()
    rels = ["index.ipynb"] + [p for s in sections for p in (s.get("pages") or []) if p.endswith(".ipynb")]
    import tomllib
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    cfg = meta["tool"]["nbdev"]
    repo = meta["project"]["urls"]["Repository"].rstrip("/").split("github.com/")[-1]
    colab_base = f"https://colab.research.google.com/github/{repo}/blob/{cfg.get('branch', 'main')}/nbs"
    os.environ["INTERP_QUICK"] = "1" if quick else "0"  # inherited by every kernel process
    # `jobs` kernels share the cores: give each its slice, or torch's thread pools oversubscribe and crawl
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(max(1, (os.cpu_count() or 1) // jobs)))
    print(f"Executing {len(rels)} notebooks ({'quick' if quick else 'full'} workloads, {jobs} at a time)...",
          flush=True)
    t0 = time.time()
    with ThreadPoolExecutor(jobs) as ex:
        for rel, secs, cached in ex.map(lambda r: execute(r, quick, force), rels):
            print(f"  {rel:45s} {'cached' if cached else f'{secs:7.1f} s'}", flush=True)
    print(f"Executed in {time.time() - t0:.0f} s", flush=True)
    if (BUILD / "src").exists(): shutil.rmtree(BUILD / "src")
    for rel in rels: process(rel, colab_base)
    write_tree(sections)
    tmp_out = out.with_name(out.name + ".tmp")
    if tmp_out.exists(): shutil.rmtree(tmp_out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(DOCS), str(BUILD / "src"), str(tmp_out)]
    r = subprocess.run(cmd)
    if r.returncode: raise SiteError(f"sphinx-build failed (exit {r.returncode}): {' '.join(cmd)}")
    if out.exists(): shutil.rmtree(out)
    tmp_out.rename(out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="run notebooks with INTERP_QUICK=1 (small workloads)")
    ap.add_argument("--out", default="_site", help="folder to write the site into")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    ap.add_argument("--force", action="store_true", help="re-execute notebooks even when cached")
    a = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    try: out = build((ROOT / a.out).resolve(), a.quick, a.jobs, a.force)
    except SiteError as e:
        print(f"\nSite build failed: {e}", file=sys.stderr); return 1
    print(f"\nSite built: open file://{out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
