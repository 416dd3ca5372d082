"""Browser check of the built docs site: every page loads from local files in headless Chromium with its title,
no missing images, no JavaScript console errors, sidebar links that resolve, working offline search, and a Colab badge
on every notebook page. The site folder is `INTERP_SITE_DIR` (default `_site`); build it first with `make site`
(or `python tools/build_site.py --quick`, which the test command runs)."""
import os, shutil
from pathlib import Path
from urllib.parse import urlparse, unquote
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("INTERP_SITE_DIR", ROOT / "_site")).resolve()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKIP_PAGES = {"genindex.html", "search.html"}


def pages():
    if not (SITE / "index.html").exists():
        raise RuntimeError(f"no built site in {SITE}: run `make site` or `.venv/bin/python tools/build_site.py "
                           "--quick` first")
    return sorted(p for p in SITE.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(SITE).parts))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "Chromium is missing: `apt-get install -y chromium` (the set-up does this)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _local_target(page_file: Path, href: str) -> Path | None:
    u = urlparse(href)
    if u.scheme not in ("", "file") or (u.scheme == "" and href.startswith("#")): return None
    return Path(unquote(u.path)) if u.scheme == "file" else (page_file.parent / unquote(u.path)).resolve()


def test_site_has_notebook_pages():
    ps = pages()
    assert (SITE / "index.html") in ps
    assert len([p for p in ps if p.name not in SKIP_PAGES]) >= 3, ps


@pytest.mark.parametrize("rel",
                         [p.relative_to(SITE).as_posix() for p in (pages() if (SITE / "index.html").exists() else [])])
def test_page_loads_cleanly(browser, rel):
    page_file = SITE / rel
    page = browser.new_page()
    errors, failed = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(page_file.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    title = page.title()
    assert title and title.strip() != "<no title>", f"{rel}: page has no title"
    broken = page.evaluate("() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                           ".map(i => i.src)")
    assert not broken, f"{rel}: missing images {broken}"
    assert not errors, f"{rel}: JavaScript console errors {errors}"
    local_failed = [u for u in failed if u.startswith("file:")]
    assert not local_failed, f"{rel}: failed to load {local_failed}"
    links = page.evaluate("() => Array.from(document.querySelectorAll('.bd-sidebar-primary a, nav a.reference'))"
                          ".map(a => a.getAttribute('href'))")
    assert links, f"{rel}: no sidebar links"
    for href in links:
        target = _local_target(page_file, href)
        if target is not None: assert target.exists(), f"{rel}: sidebar link {href} -> {target} does not exist"
    if rel not in SKIP_PAGES and rel != "index.html" and not rel.startswith("guides/"):
        assert page.locator("img[alt='Open In Colab']").count() == 1, f"{rel}: no Open in Colab badge"
        href = page.locator("a:has(img[alt='Open In Colab'])").get_attribute("href")
        assert href.startswith("https://colab.research.google.com/github/") and href.endswith(".ipynb"), href
    page.close()


def test_sidebar_is_the_course(browser):
    "The sidebar reads Start here, then one section per band in order, then Guides; a screenshot of home is kept."
    import yaml
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto((SITE / "index.html").as_uri(), wait_until="load")
    captions = [c.strip() for c in page.locator(".bd-sidebar-primary p.caption").all_inner_texts()]
    expected = [s["caption"] for s in yaml.safe_load((ROOT / "docs" / "sidebar.yml").read_text())["sections"]]
    assert captions == expected, captions
    assert expected[:2] == ["Start here", "Core"] and expected[-2:] == ["Paper gallery", "Guides"], expected
    page.screenshot(path=str(SITE / "screenshot-home.png"), full_page=False)
    assert (SITE / "screenshot-home.png").stat().st_size > 10_000
    page.goto((SITE / "papers" / "ioi.html").as_uri(), wait_until="load")   # and one gallery page, with its figures
    assert page.locator("article img").count() >= 1, "the IOI page shows no figure"
    page.screenshot(path=str(SITE / "screenshot-ioi.png"), full_page=True)
    assert (SITE / "screenshot-ioi.png").stat().st_size > 10_000
    page.close()


def test_offline_search_finds_api(browser):
    page = browser.new_page()
    page.goto((SITE / "search.html").as_uri() + "?q=seed_everything", wait_until="load")
    page.wait_for_selector("#search-results li, ul.search li", timeout=15_000)
    hits = page.locator("#search-results li, ul.search li").all_inner_texts()
    assert any("Core" in h or "core" in h for h in hits), hits
    page.close()


def test_choosing_map_is_drawn_and_its_links_resolve(browser):
    "The choosing guide's map is an SVG drawn from the registry; every technique on it links to an existing page."
    page_file = SITE / "guides" / "choosing.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(page_file.as_uri(), wait_until="load")
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('svg.interp-map a'))"
                          ".map(a => a.getAttribute('href'))")
    assert len(hrefs) >= 20, hrefs
    for href in hrefs:
        target = _local_target(page_file, href)
        assert target is not None and target.exists(), f"map link {href} -> {target} does not exist"
    page.locator("svg.interp-map").screenshot(path=str(SITE / "screenshot-map.png"))
    page.close()


def test_home_shows_the_example_figure_and_the_gallery_cards(browser):
    page_file = SITE / "index.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(page_file.as_uri(), wait_until="load")
    assert page.locator("article img").first.is_visible()                 # the example's figure
    cards = page.locator(".interp-card")
    papers = sorted((ROOT / "nbs" / "papers").glob("*.ipynb"))
    assert cards.count() == len(papers), (cards.count(), len(papers))
    for href in page.evaluate("() => Array.from(document.querySelectorAll('.interp-card a'))"
                              ".map(a => a.getAttribute('href'))"):
        target = _local_target(page_file, href)
        assert target is not None and target.exists(), f"card link {href} -> {target}"
    page.screenshot(path=str(SITE / "screenshot-home-full.png"), full_page=True)
    page.close()
