"""`logo db serve` in a real browser: headless Chromium driven by selenium (with the system chromedriver).

Skips, saying how to enable it, where Chromium, chromedriver or selenium are missing (`make test` installs
Chromium when it runs as root on Debian; `apt-get install -y chromium chromium-driver` does it by hand).
"""
from __future__ import annotations

import base64
import io
import re
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from app.web.server import close_app, create_app
from serve_fixtures import build_db, loaded

ENABLE = ("install headless Chromium to run it: apt-get install -y chromium chromium-driver (`make test` does this "
          "when run as root on Debian), and selenium (pip install -e '.[test]')")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000")


def find_browser() -> tuple[str, str]:
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip(f"browser test skipped: selenium is not installed; {ENABLE}")
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip(f"browser test skipped: {'chromium' if browser is None else 'chromedriver'} not found; {ENABLE}")
    return browser, driver


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The server on a free port of 127.0.0.1, in a thread; yields (base URL, database facts)."""
    from werkzeug.serving import make_server
    path = tmp_path_factory.mktemp("browser") / "db.sqlite"
    info = build_db(path)
    app = loaded(create_app(path))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", info, path
    server.shutdown()
    close_app(app)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary, driver_path = find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver, css: str, timeout: float = 20):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def entry_ids(driver, css: str) -> list[int]:
    from selenium.webdriver.common.by import By
    return [int(re.search(r"/entry/(\d+)$", a.get_attribute("href")).group(1))
            for a in driver.find_elements(By.CSS_SELECTOR, css)]


def test_a_researcher_browses_uploads_draws_and_solves(site, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    from data.db import Database
    base, info, path = site
    d = browser

    # the overview, with its counts; it follows a writer (as while `dream` runs)
    d.get(base + "/")
    assert wait_for(d, "#n-entries").text == str(info["entries"])
    assert d.find_element(By.CSS_SELECTOR, "#n-source-task").text == "2"
    WebDriverWait(d, 10).until(lambda drv: drv.execute_script(
        "return document.getElementById('growth').naturalWidth") > 300)           # the plot loaded
    with Database(path) as writer:
        assert writer.insert("(loop i 8 (move (* ul 2) (/ ua 8))) (move ul 0)", source="dream").status == "new"
    WebDriverWait(d, 30).until(lambda drv: drv.find_element(By.ID, "n-entries").text == str(info["entries"] + 1))
    assert d.find_element(By.ID, "n-source-dream").text == "3"

    # browse to an entry
    d.find_element(By.ID, "nav-browse").click()
    first = wait_for(d, "#results a.cell")
    first_id = entry_ids(d, "#results a.cell")[0]
    first.click()
    assert wait_for(d, "h1").text == f"Entry {first_id}"
    assert d.find_element(By.ID, "head").text
    assert d.execute_script("return document.getElementById('entry-image').naturalWidth") == 256

    # upload a PNG of a DreamCoder task: its entry comes first
    from data import dreamcoder_tasks
    task = next(t for t in dreamcoder_tasks("train", size=96) if t.name == "7-gon 1l")
    png = tmp_path / "7-gon.png"
    Image.fromarray(255 - task.image).save(png)
    d.find_element(By.ID, "nav-query").click()
    wait_for(d, "#upload").send_keys(str(png))
    d.find_element(By.ID, "upload-submit").click()
    wait_for(d, "#nearest a.cell")
    assert entry_ids(d, "#nearest a.cell")[0] == info["tasks"]["7-gon 1l"]

    # draw a stroke on the canvas: the query is that stroke
    canvas = wait_for(d, "#canvas")
    chain = ActionChains(d).move_to_element_with_offset(canvas, -90, 0).click_and_hold()
    for _ in range(9):
        chain = chain.move_by_offset(20, 0)
    chain.release().perform()
    d.find_element(By.ID, "draw-submit").click()
    wait_for(d, "#nearest a.cell")
    assert len(entry_ids(d, "#nearest a.cell")) == 24
    src = d.find_element(By.ID, "query-image").get_attribute("src")
    query = 255 - np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L"))
    rows = np.flatnonzero(query.max(axis=1) > 128)
    cols = np.flatnonzero(query.max(axis=0) > 128)
    assert len(rows) and rows.max() - rows.min() < query.shape[0] // 4          # one horizontal stroke
    assert cols.max() - cols.min() > query.shape[1] // 2

    # solve it for two seconds with the grammar proposer: progress, then the best program
    Select(d.find_element(By.NAME, "proposer")).select_by_value("grammar")
    seconds = d.find_element(By.NAME, "seconds")
    seconds.clear()
    seconds.send_keys("2")
    d.find_element(By.ID, "solve").click()
    WebDriverWait(d, 30).until(lambda drv: drv.find_element(By.ID, "solve-status").text.startswith("done"))
    assert d.find_element(By.ID, "solve-program").text
    WebDriverWait(d, 10).until(lambda drv: drv.execute_script(
        "return document.getElementById('solve-best').naturalWidth") > 0)

    # a screenshot that is not blank
    shot = Image.open(io.BytesIO(d.get_screenshot_as_png())).convert("L")
    shot.save(tmp_path / "serve.png")
    pixels = np.asarray(shot)
    assert pixels.std() > 20 and len(np.unique(pixels)) > 30
    assert (pixels < 64).mean() > 0.005 and (pixels > 192).mean() > 0.3                 # ink and paper
