"""Headless-Chromium checks that interp's HTML views work offline: hover and click change what is shown, no network
request."""
import os, shutil, tempfile
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pytest
from interp.viz.views import AttentionView, TokenView, CircuitView

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM): pytest.skip("chromium is not installed at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="interp-chromium-")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS, headless=True)
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)

@pytest.fixture
def open_view(browser, tmp_path):
    pages = []
    def _open(view, name):
        path = view.save(tmp_path / f"{name}.html")
        page = browser.new_page()
        page.requests, page.errors = [], []
        page.on("request", lambda r: page.requests.append(r.url))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        pages.append(page)
        return page
    yield _open
    for page in pages:
        assert page.errors == [], f"JavaScript errors: {page.errors}"
        assert all(u.startswith(("file:", "data:", "about:")) for u in page.requests), \
            f"network requests: {page.requests}"
        page.close()

def bg(page, sel): return page.eval_on_selector(sel, "e => getComputedStyle(e).backgroundColor")

def attention_view():
    toks = ["When", " Mary", " and", " John", " went", " to", " the", " store"]
    n = len(toks); P = np.zeros((2, n, n))
    for i in range(n):
        P[0, i, : i + 1] = 1.0 / (i + 1)                 # head 0: uniform over the prefix
        P[1, i, min(i, 1)] = 1.0                          # head 1: everything on " Mary" (or itself at pos 0)
    return AttentionView(toks, P, head_labels=["uniform", "mary"], title="test")

def test_attention_hover_and_click(open_view):
    page = open_view(attention_view(), "attn")
    root = page.locator(".interp-attention")
    assert root.get_attribute("data-head") == "0" and root.get_attribute("data-query") == "7"
    info0 = page.inner_text(".interp-info")
    assert "query \" store\" (7)" in info0
    # hover the token at position 3: it becomes the query; tokens after it get no attention
    page.hover('.interp-tok[data-pos="3"]')
    assert root.get_attribute("data-query") == "3"
    assert "query \" John\" (3)" in page.inner_text(".interp-info")
    assert bg(page, '.interp-tok[data-pos="5"]') == "rgba(0, 114, 178, 0)"
    assert bg(page, '.interp-tok[data-pos="2"]') != "rgba(0, 114, 178, 0)"
    # click the second head: the colouring moves to " Mary" only
    page.click('.interp-head-btn[data-head="1"]')
    assert root.get_attribute("data-head") == "1"
    assert "active" in page.get_attribute('.interp-head-btn[data-head="1"]', "class")
    assert "active" not in page.get_attribute('.interp-head-btn[data-head="0"]', "class")
    assert bg(page, '.interp-tok[data-pos="1"]') == "rgb(0, 114, 178)"
    assert bg(page, '.interp-tok[data-pos="2"]') == "rgba(0, 114, 178, 0)"
    # clicking a token pins it: hovering elsewhere no longer changes the query
    page.click('.interp-tok[data-pos="6"]')
    page.hover('.interp-tok[data-pos="2"]')
    assert root.get_attribute("data-query") == "6" and "[pinned]" in page.inner_text(".interp-info")

def test_two_views_on_one_page_are_independent(open_view, tmp_path):
    a, b = attention_view(), attention_view()
    page_html = ("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>" + a.to_html() + b.to_html() +
                 "</body></html>")
    class Both:
        def save(self, path): path.write_text(page_html); return path
    page = open_view(Both(), "both")
    roots = page.locator(".interp-attention")
    assert roots.count() == 2
    roots.nth(1).locator('.interp-head-btn[data-head="1"]').click()
    assert roots.nth(0).get_attribute("data-head") == "0" and roots.nth(1).get_attribute("data-head") == "1"

def test_token_view_feature_switch_and_hover(open_view):
    tv = TokenView(["a", "b", "c"], np.array([[1.0, 0.0], [-0.5, 2.0], [0.0, 1.0]]), feature_labels=["f0", "f1"])
    page = open_view(tv, "tok")
    assert bg(page, '.interp-tok[data-pos="0"]') == "rgb(0, 114, 178)"
    assert bg(page, '.interp-tok[data-pos="1"]') == "rgba(213, 94, 0, 0.5)"
    page.hover('.interp-tok[data-pos="1"]')
    assert page.inner_text(".interp-info") == '"b" (1) · f0 = -0.5000'
    page.click('.interp-feat-btn[data-feature="1"]')
    assert page.locator(".interp-view").get_attribute("data-feature") == "1"
    assert bg(page, '.interp-tok[data-pos="0"]') == "rgba(0, 114, 178, 0)"
    assert bg(page, '.interp-tok[data-pos="1"]') == "rgb(0, 114, 178)"

def test_circuit_hover_click_threshold(open_view):
    cv = CircuitView(["embed", "L0H0", "L0H1", "L1H0", "logits"],
                     [("embed", "L0H0", 1.0), ("embed", "L0H1", 0.2), ("L0H0", "L1H0", -0.8), ("L1H0", "logits", 0.5)])
    page = open_view(cv, "circuit")
    root = page.locator(".interp-circuit")
    assert root.get_attribute("data-shown") == "4"
    page.hover('.interp-node[data-node="L0H0"]')
    assert root.get_attribute("data-focus") == "L0H0"
    assert page.locator(".interp-edge.hl").count() == 2                 # embed->L0H0 and L0H0->L1H0
    assert "L0H0 · 2 edges" in page.inner_text(".interp-info")
    assert page.eval_on_selector('.interp-edge[data-src="embed"][data-dst="L0H1"]',
                                 "e => getComputedStyle(e).opacity") == "0.08"
    page.mouse.move(1, 1)
    assert root.get_attribute("data-focus") == "" and page.locator(".interp-edge.hl").count() == 0
    page.click('.interp-node[data-node="L1H0"]')                         # pin
    page.mouse.move(1, 1)
    assert root.get_attribute("data-focus") == "L1H0" and "[pinned]" in page.inner_text(".interp-info")
    page.fill("input.interp-threshold", "0.6")                             # |w| >= 0.6: two edges remain
    page.dispatch_event("input.interp-threshold", "input")
    assert root.get_attribute("data-shown") == "2"
    assert page.locator(".interp-edge.hidden").count() == 2
