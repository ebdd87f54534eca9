"""The documentation site: the committed environment pages are what the generator writes
from the registry and the committed results, every measured verdict on them is the result
file's, the site builds without warnings, and a headless browser shows the gallery with
every GIF loaded.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them); without them it is skipped, unless ``POMDP_ENVS_REQUIRE_BROWSER=1`` (set by CI)
makes that a failure. Its screenshots are kept in ``test-artifacts/``."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pomdp_envs.registration import ENTRIES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ARTIFACTS = ROOT / "test-artifacts"

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")
if not all(entry.available for entry in ENTRIES):
    pytest.skip("the env pages need every extra installed", allow_module_level=True)


def _generator():
    spec = importlib.util.spec_from_file_location("gen_env_pages", DOCS / "_scripts" / "gen_env_pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up by name
    spec.loader.exec_module(module)
    return module


def test_committed_env_pages_are_what_the_generator_writes(tmp_path):
    gen = _generator()
    written = gen.write_pages(tmp_path)
    assert len(written) == len(ENTRIES) + 1  # a page per id and the gallery
    for path in written:
        committed = DOCS / "environments" / path.name
        assert committed.is_file() and committed.read_text() == path.read_text(), (
            f"{committed.relative_to(ROOT)} is stale: run python docs/_scripts/gen_env_pages.py"
        )


def test_every_env_page_shows_its_gif_and_the_verdicts_of_the_result_file():
    gen = _generator()
    results = gen.Results.load()
    assert results.validation, "the committed standard report has no validation rows"
    for entry in ENTRIES:
        page = (DOCS / "environments" / f"{entry.short_name}.md").read_text()
        assert (DOCS / "_static" / "gifs" / gen.gif_name(entry)).is_file()
        assert f"../_static/gifs/{gen.gif_name(entry)}" in page
        for row in results.validation:
            if row["env"] == entry.id:
                line = f"| {row['factor']} | {row['measure']} | {gen._number(row['memoryless'])} |"
                assert line in page and row["verdict"] in page, (entry.name, row["factor"])
        for row in results.prediction:
            if row["env"] == entry.short_name:
                assert f"| {row['core']} | {gen.REGIMES[row['regime']]} | {row['reg_lambda']:g} |" in page


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def test_the_site_builds_without_warnings(built_site):
    for entry in ENTRIES:
        assert (built_site / "environments" / f"{entry.short_name}.html").is_file()
    for guide in ("quickstart", "hidden_factors", "validation", "baselines", "benchmarks", "long_runs"):
        assert (built_site / "guides" / f"{guide}.html").is_file()


def _browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None or importlib.util.find_spec("selenium") is None:
        message = "needs chromium, chromium-driver (Debian) and selenium"
        if os.environ.get("POMDP_ENVS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # Headless, and without the background connections that a closed network refuses.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,2000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def _loaded_images(browser) -> list[tuple[str, bool]]:
    return browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);"
    )


def test_a_browser_shows_the_gallery_and_every_env_page_with_its_gif(built_site):
    browser = _browser()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        browser.get((built_site / "environments" / "index.html").as_uri())
        images = _loaded_images(browser)
        gifs = [(src, ok) for src, ok in images if src.endswith(".gif")]
        assert len(gifs) == len(ENTRIES) and all(ok for _, ok in gifs), gifs
        browser.save_screenshot(str(ARTIFACTS / "docs-gallery.png"))
        for entry in ENTRIES:
            browser.get((built_site / "environments" / f"{entry.short_name}.html").as_uri())
            assert entry.name in browser.title
            shown = [ok for src, ok in _loaded_images(browser) if src.endswith(f"/{entry.short_name}.gif")]
            assert shown == [True], (entry.name, _loaded_images(browser))
        browser.save_screenshot(str(ARTIFACTS / "docs-env-page.png"))
    finally:
        browser.quit()
