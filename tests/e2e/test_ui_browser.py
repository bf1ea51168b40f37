"""The UI in a real headless browser, on a platform that `tasador up` started and ran rounds on.

Debian's `chromium` and `chromium-driver` drive it (Selenium). The test prices a home through the
form, finds the price and the waterfall, visits every page looking for error text, and saves a
screenshot of each page to a folder it prints. Without the browser it skips, saying why.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.http import free_port

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PAGES = ("price", "why", "compare", "models", "drift", "retrained", "live")
ERROR_TEXT = ("Traceback", "Error:", "Exception", "This app has encountered an error")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs Debian's chromium and chromium-driver (sudo apt-get install chromium "
    "chromium-driver); .ci/run installs them",
)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except Exception:  # the page is still rendering: elements come and go
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not seen within {timeout:.0f} s")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`tasador up --rounds 3` on a small simulated dataset, left serving; stopped after. One
    tuning trial a model: the pages show whatever the rounds trained, not how well it was tuned."""
    state = tmp_path_factory.mktemp("ui-e2e") / "state"
    services = ("DB_EMBEDDED", "MLFLOW", "SERVING", "SIMULATOR", "UI", "PROMETHEUS")
    ports = {key: free_port() for key in services}
    env = {
        **os.environ,
        "TASADOR_STATE_DIR": str(state),
        **{f"TASADOR_{key}_PORT": str(port) for key, port in ports.items()},
        "TASADOR_SIMULATOR_ROWS": "16000",
        "TASADOR_TRAIN_N_TRIALS": "1",
        "TASADOR_SERVING_POLL_SECONDS": "1",
        "COLUMNS": "200",
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "tasador", "up", "--rounds", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert up.stdout is not None
        for line in up.stdout:
            output.append(line)
            if "services are up" in line:
                break
        else:
            pytest.fail("tasador up ended before its services were up:\n" + "".join(output))
        ui = f"http://127.0.0.1:{ports['UI']}"
        assert any(ui in line for line in output), "".join(output)  # `up` prints the UI's URL
        yield {"ui": ui, "api": f"http://127.0.0.1:{ports['SERVING']}", "output": "".join(output)}
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(120)
        except subprocess.TimeoutExpired:
            up.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui-screenshots")
    print(f"\nUI screenshots: {folder}")
    return folder


def expect(driver: Any, shots: Path, check: Callable[[], Any], timeout: float, what: str) -> Any:
    """`wait_for`, keeping a screenshot of the page when it fails (named in the error)."""
    try:
        return wait_for(check, timeout, what)
    except TimeoutError as err:
        failed = shots / f"failed-{len(list(shots.glob('failed-*')))}.png"
        driver.save_screenshot(str(failed))
        raise TimeoutError(f"{err}; the page: {failed}") from None


def page_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, "section.main, [data-testid='stMain']").text)


def settle(driver: Any) -> None:
    """Wait until Streamlit has finished running the page's script."""
    from selenium.webdriver.common.by import By

    def idle() -> bool:
        running = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
        return not any("Running" in r.text for r in running)

    time.sleep(0.5)
    wait_for(idle, 60, "the page's script to finish")


def open_page(driver: Any, name: str) -> None:
    """Go to a page through the sidebar (a new URL would start a new session and lose the form)."""
    from selenium.webdriver.common.by import By

    link = wait_for(
        lambda: next(
            a
            for a in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebarNav'] a")
            if a.get_attribute("href").rstrip("/").endswith(f"/{name}")
        ),
        60,
        f"the sidebar link to {name}",
    )
    link.click()
    wait_for(lambda: driver.current_url.rstrip("/").endswith(f"/{name}"), 30, f"page {name}")
    settle(driver)


def charts(driver: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart']"))


def test_price_a_home_then_see_why_and_every_page(
    platform: dict[str, str], browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(platform["ui"])
    submit = wait_for(
        lambda: next(
            b for b in browser.find_elements(By.CSS_SELECTOR, "button") if "Price" in b.text
        ),
        90,
        "the price form's button",
    )
    size = browser.find_element(By.CSS_SELECTOR, "input[aria-label='house size (sq ft)']")
    size.send_keys(Keys.CONTROL, "a")
    size.send_keys("2400", Keys.TAB)
    submit.click()
    settle(browser)
    served = httpx.get(f"{platform['api']}/model").json()["version"]

    def priced() -> str | None:
        text = page_text(browser)
        return text if "$" in text and served in text and "2,400 sq ft" in text else None

    text = expect(browser, shots, priced, 60, "a price and the model version")
    assert not [e for e in ERROR_TEXT if e in text], text
    browser.save_screenshot(str(shots / "price.png"))

    open_page(browser, "why")
    expect(browser, shots, lambda: charts(browser), 60, "the waterfall chart")
    text = page_text(browser)
    assert "$" in text
    assert not [e for e in ERROR_TEXT if e in text], text
    browser.save_screenshot(str(shots / "why.png"))

    for name in PAGES[2:]:
        open_page(browser, name)
        expect(browser, shots, lambda: charts(browser) or page_text(browser), 60, f"page {name}")
        text = page_text(browser)
        assert not [e for e in ERROR_TEXT if e in text], (name, text)
        assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']"), name
        browser.save_screenshot(str(shots / f"{name}.png"))
    assert sorted(p.stem for p in shots.glob("*.png")) == sorted(PAGES)
