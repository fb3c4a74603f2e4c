"""The page in Debian's headless Chromium (driven by Playwright, which downloads no browser):
three real posters side by side with the inputs each card read and each genre's threshold on
its bar, film details cleared with the posters, comparable films with thumbnails, the compare
view, the CSV, the report link, /docs offline, phone width, and axe-core finding no serious
or critical violation. Nothing is fetched from anywhere but the app. Screenshots go to
``$TEST_ARTIFACTS`` (or a pytest temporary folder)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from postergenre.bundle import load_bundle
from postergenre.features.year import FIRST, LAST
from postergenre.serve import SimilarIndex, create_app

from .bundles import GENRES, poster
from .conftest import SHARED_DATA
from .serving import build_served_bundle, running

CHROMIUM = Path("/usr/bin/chromium")
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
LONG_NAME = "summer-release_final-poster-variant-with-a-long-name.png"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")


def three_posters(folder: Path) -> list[Path]:
    """Three real posters of the shared set, or three made here where it is absent."""
    real = sorted((SHARED_DATA / "movie-posters" / "posters").glob("*.webp"))
    if len(real) >= 3:
        return [real[len(real) // 2], real[len(real) // 3], real[2 * len(real) // 3]]
    folder.mkdir(exist_ok=True)
    made = []
    for i, colour in enumerate([(220, 20, 20), (20, 200, 20), (20, 20, 220)]):
        made.append(folder / f"variant-{i}.png")
        Image.fromarray(poster(colour, size=(182, 268), seed=i)).save(made[-1])
    return made


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_served_bundle(tmp_path_factory.mktemp("browser") / "model")


@pytest.fixture(scope="module")
def server(model):
    bundle = load_bundle(model)
    with running(create_app(bundle, index=SimilarIndex.of(bundle))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = Path(os.environ.get("TEST_ARTIFACTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def posters(tmp_path_factory):
    return three_posters(tmp_path_factory.mktemp("posters"))


@pytest.fixture
def page(browser, server):
    """A fresh page of the app at laptop size; fails the test on a console error or on any
    request that leaves the app."""
    context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
    page = context.new_page()
    foreign, errors = [], []
    page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:"))
            else foreign.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(server)
    page.wait_for_selector("#model:has-text('genres')")
    yield page
    context.close()
    assert not foreign and not errors, (foreign, errors)


def add(page, files, count):
    page.set_input_files("#files", [str(f) for f in files])
    page.locator("#results .variant").nth(count - 1).wait_for()


def shot(page, path: Path, full_page=False) -> Path:
    page.screenshot(path=path, full_page=full_page)
    with Image.open(path) as im:
        assert im.width == page.viewport_size["width"]
        assert len(im.convert("RGB").resize((64, 64)).getcolors(64 * 64)) > 50  # not blank
    return path


def test_three_posters_show_inputs_thresholds_and_heatmaps(page, posters, artifacts):
    header = page.locator("#model").inner_text()
    assert header.startswith("Reads a film's poster") and "macro" not in header  # plain words
    assert (page.get_attribute("#year", "min"), page.get_attribute("#year", "max")) == (
        str(FIRST), str(LAST))  # the year field's own range, from /v1/model
    page.click("#details summary")
    page.fill("#title", "Red Night")
    page.fill("#year", "1980")
    add(page, posters, 3)
    cards = page.locator("#results .variant")
    assert cards.count() == 3
    for i in range(3):
        card = cards.nth(i)
        assert sorted(card.locator(".bar .genre").all_inner_texts()) == sorted(GENRES)
        assert card.locator(".bar.is-decided").count() >= 1
        used = card.locator(".used").inner_text()  # the toy model reads the poster alone
        assert used.startswith("Read: poster") and "not read: title and year" in used
        assert "Thresholds for posters alone" in used
        for bar in card.locator(".bar").all():  # the mark sits at the genre's threshold
            assert bar.locator(".cut").evaluate("e => e.style.left") == "50%"
            assert bar.locator(".need").inner_text() == "mark 50%"
    assert "ticked" in page.locator("#bars-key").inner_text()
    assert "All 3 posters" in page.locator("#details-scope").inner_text()
    shot(page, artifacts / "page-three-posters.png", full_page=True)

    cards.nth(0).locator(".bar").first.click()  # a genre -> its heatmap
    heat = cards.nth(0).locator(".heatmap")
    heat.wait_for(state="visible")
    assert heat.get_attribute("src").startswith("data:image/png;base64,")
    # the keyboard alone: a genre chip ranks the variants, Enter on a bar explains
    page.locator(".chip input").first.focus()
    page.keyboard.press("Space")
    page.locator("#results .variant .place").first.wait_for(state="visible")
    assert page.locator("#results .variant .place").first.inner_text().startswith("#1")
    cards.nth(2).locator(".bar").nth(1).focus()
    page.keyboard.press("Enter")
    cards.nth(2).locator(".heatmap").wait_for(state="visible")


def test_clear_all_clears_the_films_details_with_its_posters(page, posters):
    page.click("#details summary")
    page.fill("#title", "Another Film")
    page.fill("#year", "1999")
    page.fill("#plot", "A haunted house.")
    add(page, posters[:2], 2)
    page.fill("#title", "Changed")
    assert page.locator("#stale").is_visible()  # the cards no longer match the details
    page.click("#clear")
    assert page.locator("#results .variant").count() == 0
    assert [page.input_value(f) for f in ("#title", "#year", "#plot")] == ["", "", ""]
    assert "every poster you add" in page.locator("#details-scope").inner_text()
    with page.expect_response("**/v1/predict") as answered:
        add(page, posters[2:], 1)
    inputs = answered.value.json()["posters"][0]["inputs"]
    assert inputs == {"used": ["poster"], "ignored": [], "rule": []}  # no details were sent
    assert page.locator("#results .used").inner_text() == \
        "Read: poster. Thresholds for posters alone."


def test_comparable_films_show_thumbnails_in_a_wrapping_grid(page, posters, artifacts):
    page.set_viewport_size({"width": 760, "height": 900})
    add(page, posters, 3)
    cards = page.locator("#results .variant")
    cards.nth(1).locator(".find-similar").click()
    films = page.locator("#films .film")
    films.first.wait_for()
    assert films.count() == 6
    thumbs = page.locator("#films .film img")
    assert thumbs.count() == 5  # the sixth film's poster did not decode: "no poster"
    for img in thumbs.all():
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=img.element_handle())
    likes = page.locator("#films .like").all_inner_texts()
    assert all(like.startswith(("the same", "looks")) for like in likes), likes
    tops = {round(f.bounding_box()["y"]) for f in films.all()}
    assert len(tops) >= 2  # wraps into rows, no sideways strip
    name = cards.nth(1).get_attribute("aria-label")
    page.locator(".chip input").nth(2).check()  # re-rank: the mark follows the variant
    marked = page.locator("#results .variant.selected")
    assert marked.count() == 1 and marked.get_attribute("aria-label") == name
    assert marked.locator(".flag").is_visible()
    assert name.removeprefix("Variant ") in page.locator("#similar-for").inner_text()
    page.locator("#similar").scroll_into_view_if_needed()
    shot(page, artifacts / "comparable-films.png", full_page=True)


def test_compare_two_variants_and_download_every_result(page, posters, artifacts):
    add(page, posters, 3)
    page.locator("#compare").wait_for()
    page.select_option("#compare-b", index=2)
    rows = page.locator("#compare-table tbody tr")
    assert rows.count() == len(GENRES)
    points = [row.locator("td").nth(3).inner_text() for row in rows.all()]
    sizes = [0 if p == "same" else int(p.split()[0].strip("+−")) for p in points]
    assert sizes == sorted(sizes, reverse=True)
    genre = rows.first.locator("td").first.inner_text()
    page.locator("#compare-heat").wait_for()
    assert genre in page.locator("#compare-heat-title").inner_text()
    for side in "ab":
        assert page.locator(f"#compare-heat-{side}").get_attribute("src").startswith("data:")
    shot(page, artifacts / "compare.png", full_page=True)

    with page.expect_download() as download:
        page.click("#download")
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(table) == 3 * len(GENRES)
    files = [p.name for p in posters]
    assert sorted({r["file"] for r in table}) == sorted(files)
    assert {r["decided"] for r in table} <= {"yes", "no"}
    assert all(0 <= float(r["chance"]) <= 1 and float(r["threshold"]) == 0.5 for r in table)


def test_the_report_link_is_shown_only_when_there_is_a_report(page, model):
    assert page.locator("#report-link").is_hidden()
    report = model.parent / "report.html"
    report.write_text("<html><head><title>Run report</title></head><body>report</body></html>")
    try:
        page.reload()
        page.wait_for_selector("#model:has-text('genres')")
        page.click("#report-link")
        page.wait_for_url("**/report")
        assert page.title() == "Run report"
    finally:
        report.unlink()


def test_docs_render_with_no_network(browser, server):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    blocked = []

    def offline(route):
        if route.request.url.startswith(server):
            return route.continue_()
        blocked.append(route.request.url)
        return route.abort()

    page.route("**/*", offline)
    page.goto(f"{server}/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() >= 5
    assert "/v1/predict" in page.locator(".swagger-ui").inner_text()
    context.close()
    assert not blocked, blocked


def test_phone_width_status_goes_away_and_names_wrap_between_words(page, posters, tmp_path):
    page.set_viewport_size(PHONE)
    long = tmp_path / LONG_NAME
    long.write_bytes(posters[0].read_bytes())
    add(page, [long, *posters[1:]], 3)
    status = page.locator("#status")
    assert status.inner_text()
    box = status.bounding_box()
    for bar in page.locator(".bar").all():  # in the page's flow: it covers nothing
        other = bar.bounding_box()
        assert box["y"] + box["height"] <= other["y"] or other["y"] + other["height"] <= box["y"]
    page.wait_for_function("document.getElementById('status').textContent === ''",
                           timeout=8000)
    # every part of the long name (between - _ .) sits on one line
    lines = page.locator("#results .variant .name").first.evaluate("""h => {
        const parts = [...h.childNodes].filter(n => n.nodeType === Node.TEXT_NODE);
        return parts.map(n => { const r = document.createRange(); r.selectNodeContents(n);
                                return new Set([...r.getClientRects()].map(c => c.top)).size; });
    }""")
    assert len(lines) > 3 and max(lines) == 1, lines


def test_no_serious_accessibility_violations(page, posters):
    from axe_playwright_python.sync_playwright import Axe

    page.click("#details summary")
    add(page, posters, 3)
    page.locator("#compare-heat").wait_for()
    page.locator("#results .variant").nth(0).locator(".find-similar").click()
    page.locator("#films .film").first.wait_for()
    results = Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, serious
