"""Browser tests: Debian Chromium, driven by Playwright, against the real app served by gunicorn.

`live_app` runs migrate and load_demo into a fresh SQLite database in its own TRIALDESK_HOME (subprocesses,
demo mode) and serves it on a free port, once per session. The tests never touch pytest-django's test
database. `page` is a fresh browser context per test; a failing test leaves a screenshot in test-artifacts/.

Without /usr/bin/chromium (or $TRIALDESK_CHROMIUM) these tests skip, except under CI=true, where they
fail: CI must run them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from trialdesk.demo.credentials import DemoLogin, credentials_path, credentials_read

# Debian's Chromium (Playwright cannot download its own browsers here); overridable for other systems.
CHROMIUM = os.environ.get("TRIALDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HERE = Path(__file__).resolve().parent
STARTUP_SECONDS = 60
_REPORTS = pytest.StashKey[dict]()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    """Mark everything in this folder `browser` and run it last: while Playwright's event loop is alive,
    Django refuses ORM calls from the same thread, so no database test may run after a browser test starts.

    A plain hook on purpose: it runs after pytest-django's (tryfirst) reordering and before pytest's own
    `-m` deselection, which must already see the marker.
    """
    browser_items, others = [], []
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            browser_items.append(item)
        else:
            others.append(item)
    items[:] = others + browser_items


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@dataclass(frozen=True)
class LiveApp:
    base_url: str
    home: Path
    logins: dict[str, DemoLogin]   # username -> login (username, password, role)

    def url(self, path: str) -> str:
        return self.base_url + path

    def password(self, username: str) -> str:
        return self.logins[username].password


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The demo load takes about 95 s of CPU; on a busy 2-core machine that has stretched to 7 minutes of wall time.
SETUP_SECONDS = 900


def _run(args: list[str], env: dict, log: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "trialdesk", *args], env=env, capture_output=True, text=True,
                            timeout=SETUP_SECONDS, check=False)
    log.write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        pytest.fail(f"`trialdesk {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
                    pytrace=False)


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"The app server exited with {proc.returncode}:\n{log.read_text(errors='replace')}",
                        pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"The app server did not answer {url} within {STARTUP_SECONDS} s:\n"
                f"{log.read_text(errors='replace')}", pytrace=False)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    home = tmp_path_factory.mktemp("live-app-home")
    env = {k: v for k, v in os.environ.items() if k != "TRIALDESK_DATABASE_URL"}
    env.update({"TRIALDESK_HOME": str(home), "TRIALDESK_DEMO": "1", "TRIALDESK_DEBUG": "0",
                "DJANGO_SETTINGS_MODULE": "trialdesk.settings", "PYTHONUNBUFFERED": "1"})
    _run(["migrate", "--noinput", "-v", "0"], env, home / "migrate.log")
    _run(["load_demo"], env, home / "load_demo.log")
    logins = credentials_read(credentials_path(home))

    port = _free_port()
    log = home / "server.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "trialdesk.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--timeout", "120", "--graceful-timeout", "5",
             "--access-logfile", "-", "--error-logfile", "-"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(f"{base_url}/healthz", proc, log)
        yield LiveApp(base_url=base_url, home=home, logins=logins)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e .[dev])")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(request, browser, live_app):
    context = browser.new_context(base_url=live_app.base_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    reports = request.node.stash.get(_REPORTS, {})
    if any(r.failed for r in reports.values()):
        artifacts = request.config.rootpath / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    context.close()
