"""The page in Debian's headless Chromium (driven by Playwright, which downloads no browser):
three real posters side by side, a heatmap, comparable films, ranking, all from the keyboard
too, with nothing fetched from anywhere but the app."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from postergenre.bundle import load_bundle
from postergenre.serve import SimilarIndex, create_app

from .bundles import GENRES, poster
from .conftest import SHARED_DATA
from .serving import build_served_bundle, running

CHROMIUM = Path("/usr/bin/chromium")
LAPTOP = {"width": 1366, "height": 768}


def three_posters(folder: Path) -> list[Path]:
    """Three real posters of the shared set, or three made here where it is absent."""
    real = sorted((SHARED_DATA / "movie-posters" / "posters").glob("*.webp"))
    if len(real) >= 3:
        return [real[len(real) // 2], real[len(real) // 3], real[2 * len(real) // 3]]
    folder.mkdir()
    made = []
    for i, colour in enumerate([(220, 20, 20), (20, 200, 20), (20, 20, 220)]):
        made.append(folder / f"variant-{i}.png")
        Image.fromarray(poster(colour, size=(182, 268), seed=i)).save(made[-1])
    return made


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    bundle = load_bundle(build_served_bundle(tmp_path_factory.mktemp("browser") / "model"))
    with running(create_app(bundle, index=SimilarIndex.of(bundle))) as url:
        yield url


def test_the_page_compares_three_posters_explains_and_finds_films(server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    posters = three_posters(tmp_path / "posters")
    foreign, errors = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport=LAPTOP)
        page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:"))
                else foreign.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server)
        page.wait_for_selector("#model:has-text('genres')")
        page.set_input_files("#files", [str(p) for p in posters])
        columns = page.locator("#results .variant")
        columns.nth(2).wait_for()
        assert columns.count() == 3
        names = [columns.nth(i).locator(".bar .genre").all_inner_texts() for i in range(3)]
        assert all(sorted(n) == sorted(GENRES) for n in names), names
        assert all(columns.nth(i).locator(".bar.is-decided").count() >= 1 for i in range(3))
        page.screenshot(path=tmp_path / "variants.png")

        columns.nth(0).locator(".bar").first.click()  # a genre -> its heatmap
        heat = columns.nth(0).locator(".heatmap")
        heat.wait_for(state="visible")
        assert heat.get_attribute("src").startswith("data:image/png;base64,")
        page.screenshot(path=tmp_path / "heatmap.png")

        columns.nth(1).locator(".find-similar").click()
        page.locator("#films .film").first.wait_for()
        assert page.locator("#films .film").count() >= 3
        assert "look like" in page.locator("#similar-title").inner_text()
        page.screenshot(path=tmp_path / "similar.png", full_page=True)

        # the keyboard alone: a genre chip ranks the variants, Enter on a bar explains
        page.locator(".chip input").first.focus()
        page.keyboard.press("Space")
        page.locator("#results .variant .place").first.wait_for(state="visible")
        assert page.locator("#results .variant .place").first.inner_text().startswith("#1")
        page.locator("#results .variant").nth(2).locator(".bar").nth(1).focus()
        page.keyboard.press("Enter")
        page.locator("#results .variant").nth(2).locator(".heatmap").wait_for(state="visible")
        browser.close()
    assert not foreign and not errors, (foreign, errors)
    for name in ("variants.png", "heatmap.png", "similar.png"):
        with Image.open(tmp_path / name) as shot:
            assert shot.width == LAPTOP["width"]
            assert len(shot.convert("RGB").resize((64, 64)).getcolors(64 * 64)) > 50
