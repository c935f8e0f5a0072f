"""The page `mlcli serve` shows at `/`, in a real browser (Debian's headless chromium driven by Selenium
through chromium-driver): an image uploaded there shows the top class `mlcli predict` gives it; a GAN
generator's page draws a grid of 16 samples. The generator's API answers the checkpoint's own pixels.
Skipped, with the reason, only where no browser is installed (`.ci/run` installs one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SMOKE, cli
from tests.test_real_inputs import mixed_image_folder
from tests.test_serve import Server, predicted, train

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="no chromium + chromedriver (Debian: apt-get install chromium chromium-driver)"
)


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the page tests below (each opens its own server's page)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)  # a driver path: no Selenium Manager
    yield driver
    driver.quit()


def wait_for(driver, css: str, check=lambda e: e.text.strip(), timeout: float = 60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, css) if check(e)]
    )


@needs_browser
def test_an_image_dropped_on_the_page_shows_predicts_top_class(tmp_path: Path, browser):
    from selenium.webdriver.common.by import By

    files = mixed_image_folder(tmp_path / "images")
    run = train(tmp_path, "shapes", f"{{source: image_folder, path: '{tmp_path / 'images'}', image_size: [12, 16], "
                "batch_size: 4}", "{type: cnn, blocks: [{filters: 4}]}")  # fmt: skip
    picked = [files[1], files[14]]  # a JPEG of one class, a PNG of the other
    expected = predicted(run, tmp_path, *map(str, picked))
    classes = ["dark", "light"]
    server = Server(run)
    try:
        browser.get(f"http://127.0.0.1:{server.port}/")
        wait_for(browser, "#about", lambda e: e.text.startswith("Reads image"))
        for file, probabilities in zip(picked, expected):
            browser.find_element(By.ID, "file").send_keys(str(file))
            top = wait_for(browser, "#top", lambda e, f=file: e.text and browser.execute_script(
                "return document.getElementById('preview').src.length") > 100)[0]  # fmt: skip
            shown = {r.find_elements(By.TAG_NAME, "td")[0].text: float(r.find_elements(By.TAG_NAME, "td")[1].text)
                     for r in browser.find_elements(By.CSS_SELECTOR, "#result tr")}  # fmt: skip
            assert top.text == classes[int(np.argmax(probabilities))], (file, shown, probabilities)
            assert shown == pytest.approx(dict(zip(classes, probabilities)), abs=6e-4)  # shown to 3 decimals
            browser.execute_script("document.getElementById('result').innerHTML = ''")
        assert browser.find_element(By.ID, "error").text == ""
    finally:
        assert server.stop()[0] == 0


@needs_browser
def test_a_conditional_gan_page_draws_a_grid_of_the_chosen_class_as_the_generator_does(tmp_path: Path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    result = cli("train", SMOKE / "gan.yaml", "--run-dir", tmp_path / "gan", "--quiet",
                 "--set", "training.epochs=1", "--set", "model.conditional=true")  # fmt: skip
    assert result.exit_code == 0, result.output
    server = Server(tmp_path / "gan")
    try:
        meta = server.get("/v1/models/m/metadata")["mlcli"]
        assert meta["reads"] == "latent" and meta["output"] == "pixels" and meta["latent_dim"] == 16
        assert meta["inputs"] == ["latent", "label"] and meta["class_names"] == [str(d) for d in range(10)]
        z = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
        labels = [3, 0, 9]
        code, body = server.post({"instances": [{"latent": v, "label": k} for v, k in zip(z.tolist(), labels)]})
        assert code == 200, body
        import keras

        gan = keras.models.load_model(tmp_path / "gan" / "checkpoints" / "best.keras")
        own = np.asarray(gan.generator([z, np.array(labels)], training=False)) * 127.5 + 127.5  # by hand
        np.testing.assert_allclose(np.array(body["predictions"]), own, atol=1e-3)
        code, body = server.post({"instances": [[1.0] * 16]})
        assert code == 400 and 'needs "label"' in body["error"], body
        code, body = server.post({"instances": [{"latent": [1.0] * 15, "label": 1}]})
        assert code == 400 and "16 finite numbers" in body["error"], body

        browser.get(f"http://127.0.0.1:{server.port}/")
        wait_for(browser, "#about", lambda e: e.text.startswith("Reads latent"))
        choice = Select(browser.find_element(By.ID, "label"))
        assert [o.text for o in choice.options] == [str(d) for d in range(10)]
        choice.select_by_visible_text("7")
        browser.find_element(By.ID, "go").click()
        canvases = wait_for(browser, "#grid canvas", lambda e: True)
        assert len(canvases) == 16
        sizes = {(c.get_property("width"), c.get_property("height")) for c in canvases}
        assert sizes == {(own.shape[2], own.shape[1])}
        spread = browser.execute_script(  # drawn pixels, not a blank canvas: grey levels vary
            "const c = document.querySelector('#grid canvas');"
            "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let lo = 255, hi = 0;"
            "for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }"
            "return hi - lo;")  # fmt: skip
        assert spread > 10
    finally:
        assert server.stop()[0] == 0
