"""``flawn serve`` in a real headless Chromium: ask two checkpoints side by side, see both
answers, then see an over-long question refused on the page.

Needs Debian's ``chromium`` and ``chromium-driver`` (skipped, saying so, without them) and
the ``web`` and ``dev`` extras (Gradio, Selenium). The browser runs with its background
networking off, and the test checks that the page loads nothing from outside this machine.

The test serves two random tiny checkpoints it writes itself. To serve real ones instead
and keep the screenshot (docs/serve.png is made this way)::

    FLAWN_SERVE_CHECKPOINTS=runs/demo/<run_a>:runs/demo/<run_b> \\
    FLAWN_SERVE_SCREENSHOT=docs/serve.png \\
    .venv/bin/python -m pytest tests/test_serve_browser.py -p no:xdist
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from tiny_runs import MIXTURES, write_random_run

pytest.importorskip("gradio", reason="flawn serve needs the web extra: pip install -e '.[web]'")
pytest.importorskip("selenium", reason="the browser test needs selenium (the dev extra)")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Chromium and its driver: apt-get install -y chromium chromium-driver",
    ),
]

QUESTION = (
    "Name the article of the General Data Protection Regulation that grants the data "
    "subject's right."
)
CONTEXT = (
    "Question: A customer of Blue Biotech Ltd. wants a copy of the personal data the company "
    "holds about them. Which article of the GDPR grants this right?"
)
MAX_INPUT_CHARS = 400


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_page(url: str, server: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"flawn serve exited with {server.returncode}:\n{server.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"flawn serve did not answer on {url} within {timeout:.0f} s")


def _browser(profile) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _requested_hosts(driver) -> set[str]:
    """Hosts of every request the page made (from Chrome's DevTools log)."""
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = urllib.parse.urlsplit(message["params"]["request"]["url"])
            if url.scheme in ("http", "https", "ws", "wss"):
                hosts.add(url.hostname)
    return hosts


def _value(driver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).get_property("value") or ""


def test_the_page_asks_two_checkpoints_and_refuses_an_over_long_question(tmp_path):
    given = os.environ.get("FLAWN_SERVE_CHECKPOINTS")
    if given:
        checkpoints = given.split(os.pathsep)
    else:
        checkpoints = [
            str(write_random_run(tmp_path / "runs", m, seed=i).path) for i, m in enumerate(MIXTURES)
        ]
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "flawn.cli", "serve", "--port", str(port)]
    for checkpoint in checkpoints:
        command += ["--checkpoint", checkpoint]
    command += ["--max-input-chars", str(MAX_INPUT_CHARS), "--max-new-tokens", "24"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    driver = None
    try:
        _wait_for_page(url, server)
        driver = _browser(tmp_path / "chromium-profile")
        driver.get(url)
        wait = WebDriverWait(driver, 180)
        question = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#flawn-question textarea"))
        question.send_keys(QUESTION)
        driver.find_element(By.CSS_SELECTOR, "#flawn-context textarea").send_keys(CONTEXT)
        driver.find_element(By.CSS_SELECTOR, "#flawn-ask").click()
        answers = [f"#flawn-answer-{i} textarea" for i in range(len(checkpoints))]
        wait.until(lambda d: all(_value(d, css).strip() for css in answers))
        assert not driver.find_element(By.CSS_SELECTOR, "#flawn-status").text.strip()
        driver.save_screenshot(str(tmp_path / "serve.png"))
        keep = os.environ.get("FLAWN_SERVE_SCREENSHOT")
        if keep:
            shutil.copy(tmp_path / "serve.png", keep)

        question.clear()
        # one keystroke short of the limit would pass: the context already has its own length
        driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            question,
            "x" * (MAX_INPUT_CHARS + 1),
        )
        driver.find_element(By.CSS_SELECTOR, "#flawn-ask").click()
        status = wait.until(
            lambda d: (
                "Refused" in d.find_element(By.CSS_SELECTOR, "#flawn-status").text
                and d.find_element(By.CSS_SELECTOR, "#flawn-status").text
            )
        )
        assert f"at most {MAX_INPUT_CHARS}" in status and "Traceback" not in status
        assert all(not _value(driver, css) for css in answers)  # no answer to a refused question
        assert _requested_hosts(driver) == {"127.0.0.1"}  # nothing from outside this machine
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
