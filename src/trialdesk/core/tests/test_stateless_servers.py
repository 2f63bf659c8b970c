"""Two app servers, one database: the app tier keeps no state of its own.

Two gunicorn servers (started with deploy/gunicorn.conf.py, two workers each) on different ports, each with
its own TRIALDESK_HOME (no shared files) and the same TRIALDESK_SECRET_KEY, share one database: a SQLite
file, or, when the tests run on PostgreSQL, a fresh database on that server (dropped afterwards). A browser
signs in on one and carries on on the other, as behind a load balancer; sign-out, lockouts and cache entries
are shared too; static files are answered before any Django view. When nginx is installed, it runs
deploy/nginx/compose.conf in front of both servers: static files from a collected folder, and a signed-in
user's requests spread over both servers with no sticky sessions. Server B also has
TRIALDESK_REPLICA_DATABASE_URL pointing at the same database (a replica with no lag), so its dashboards read
through the replica alias.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[4]
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
NGINX_CONF = REPO / "deploy" / "nginx" / "compose.conf"
PASSWORD = "Stateless-Servers-42"
STARTUP_SECONDS = 60

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _trialdesk(args: list[str], env: dict, *, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "trialdesk", *args], env=env, input=stdin, capture_output=True,
                            text=True, timeout=300, check=False)
    if result.returncode != 0:
        pytest.fail(f"`trialdesk {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
                    pytrace=False)
    return result.stdout


def _pg_admin(url: str):
    import psycopg

    from trialdesk.conf import parse_database_url

    db = parse_database_url(url)
    return psycopg.connect(dbname="postgres", user=db["USER"] or None, password=db["PASSWORD"] or None,
                           host=db["HOST"] or None, port=db["PORT"] or None, autocommit=True), db


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A committed database both servers share (the test database is inside a transaction per test)."""
    if settings.DATABASE_ENGINE != "postgresql":
        yield f"sqlite:///{tmp_path_factory.mktemp('shared-db') / 'trialdesk.sqlite3'}"
        return
    base = os.environ["TRIALDESK_DATABASE_URL"]
    conn, db = _pg_admin(base)
    name = f"{db['NAME']}_stateless_{os.getpid()}"
    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.execute(f'CREATE DATABASE "{name}"')
    parsed = urllib.parse.urlparse(base)
    try:
        yield urllib.parse.urlunparse(parsed._replace(path=f"/{name}"))
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@dataclass
class Server:
    name: str
    base_url: str
    env: dict
    proc: subprocess.Popen
    log: Path

    def url(self, path: str) -> str:
        return self.base_url + path


def _env(home: Path, database_url: str, secret_key: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALDESK_")}
    env.update({"TRIALDESK_HOME": str(home), "TRIALDESK_DATABASE_URL": database_url,
                "TRIALDESK_SECRET_KEY": secret_key, "TRIALDESK_DEBUG": "0", "TRIALDESK_DEMO": "0",
                "DJANGO_SETTINGS_MODULE": "trialdesk.settings", "PYTHONUNBUFFERED": "1", **extra})
    return env


def _start(name: str, env: dict, home: Path) -> Server:
    port = _free_port()
    env = {**env, "TRIALDESK_BIND": f"127.0.0.1:{port}", "TRIALDESK_WORKERS": "2", "TRIALDESK_THREADS": "2"}
    log = home / "server.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=home)
    server = Server(name=name, base_url=f"http://127.0.0.1:{port}", env=env, proc=proc, log=log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Server {name} exited with {proc.returncode}:\n{log.read_text(errors='replace')}",
                        pytrace=False)
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    _stop(server)
    pytest.fail(f"Server {name} did not start:\n{log.read_text(errors='replace')}", pytrace=False)


def _stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def servers(tmp_path_factory, database_url):
    secret_key = secrets.token_urlsafe(50)
    home_a, home_b = tmp_path_factory.mktemp("server-a"), tmp_path_factory.mktemp("server-b")
    env_a = _env(home_a, database_url, secret_key)
    env_b = _env(home_b, database_url, secret_key, TRIALDESK_REPLICA_DATABASE_URL=database_url)
    _trialdesk(["migrate", "--noinput", "-v", "0"], env_a)
    for username in ("alice", "bob"):
        _trialdesk(["create_user", username, "--first-name", username.title(), "--last-name", "Stateless",
                    "--role", "cpm", "--password-stdin"], env_a, stdin=PASSWORD + "\n")
    a = _start("A", env_a, home_a)
    try:
        b = _start("B", env_b, home_b)
    except BaseException:
        _stop(a)
        raise
    try:
        yield a, b
    finally:
        _stop(a)
        _stop(b)


class Browser:
    """A cookie jar and an opener that does not follow redirects (so we see where a page sends us)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def request(self, url: str, data: dict | None = None, *, json_body: dict | None = None,
                headers: dict | None = None):
        body = None
        headers = dict(headers or {})
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=body, headers=headers)
        try:
            response = self.opener.open(req, timeout=30)
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            return response.status, dict(response.headers), response.read().decode("utf-8", errors="replace")

    def login(self, server: Server, username: str, password: str = PASSWORD):
        status, _headers, html = self.request(server.url("/login/"))
        assert status == 200, html[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        return self.request(server.url("/login/"), {"csrfmiddlewaretoken": token, "username": username,
                                                    "password": password})


def test_a_session_started_on_one_server_works_on_the_other(servers):
    a, b = servers
    browser = Browser()
    status, headers, _ = browser.login(a, "alice")
    assert status == 302 and headers["Location"] == "/", "login on A"
    assert browser.cookie("sessionid")
    # The same cookie, sent to the other server (as a load balancer would), is a valid session there.
    status, _, html = browser.request(b.url("/"))
    assert status == 200 and "alice" in html.lower()
    status, _, body = browser.request(b.url("/api/v1/accounts/me"))
    assert status == 200, body
    assert json.loads(body)["username"] == "alice"
    # Signing out on B ends the session on A as well: the session lives in the database, so even a copy of
    # the old cookie is worthless afterwards (a signed-cookie session would still be accepted).
    old_session = browser.cookie("sessionid")
    csrf = browser.cookie("csrftoken")
    status, headers, _ = browser.request(b.url("/logout/"), {"csrfmiddlewaretoken": csrf})
    assert status == 302
    status, headers, _ = browser.request(a.url("/"))
    assert status == 302 and headers["Location"].startswith("/login/")
    replay = Browser()
    status, headers, _ = replay.request(a.url("/"), headers={"Cookie": f"sessionid={old_session}"})
    assert status == 302 and headers["Location"].startswith("/login/")


def test_a_write_on_one_server_shows_on_the_others_replica_read_dashboard(servers):
    a, b = servers
    browser = Browser()
    assert browser.login(a, "alice")[0] == 302
    status, _, body = browser.request(a.url("/api/v1/studies"), json_body={
        "protocol_number": "STATELESS-1", "brief_title": "Created on server A", "planned_enrollment": 50},
        headers={"X-CSRFToken": browser.cookie("csrftoken"), "Referer": a.url("/")})
    assert status == 201, body
    # B reads its portfolio through TRIALDESK_REPLICA_DATABASE_URL (here: the same database, no lag).
    status, _, html = browser.request(b.url("/"))
    assert status == 200 and "STATELESS-1" in html
    study_id = json.loads(body)["id"]
    status, _, html = browser.request(b.url(f"/studies/{study_id}/enrollment/"))
    assert status == 200 and "STATELESS-1" in html


def test_lockout_counts_failures_on_every_server(servers):
    a, b = servers
    failures = settings.AXES_FAILURE_LIMIT
    for i in range(failures):
        server = (a, b)[i % 2]
        status, _, html = Browser().login(server, "bob", "wrong password")
        assert status in (200, 403), html[:300]
    # Locked out everywhere, even with the right password.
    for server in (a, b):
        status, _, html = Browser().login(server, "bob")
        assert status == 403 and "locked" in html.lower(), server.name


def test_the_cache_is_shared_between_app_servers(servers):
    a, b = servers
    key = f"stateless-{secrets.token_hex(4)}"
    _trialdesk(["shell", "-c", f"from django.core.cache import cache; cache.set({key!r}, 'from A', 60)"], a.env)
    out = _trialdesk(["shell", "-c", f"from django.core.cache import cache; print('value:', cache.get({key!r}))"],
                     b.env)
    assert "value: from A" in out


def test_static_files_are_served_before_any_django_view(servers):
    a, _b = servers
    status, headers, body = Browser().request(a.url("/static/trialdesk/app.css"))
    assert status == 200 and body.strip()
    assert headers["Content-Type"].startswith("text/css")
    # WhiteNoise answered: the request never reached the request-id middleware or a view.
    assert "X-Request-ID" not in headers
    status, headers, _ = Browser().request(a.url("/healthz"))
    assert status == 200 and "X-Request-ID" in headers


# --- nginx in front (when nginx is installed) ----------------------------------------------------------------

@pytest.fixture(scope="module")
def nginx(servers, tmp_path_factory):
    """deploy/nginx/compose.conf with the two servers as its upstream and a collected static folder."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        pytest.skip("nginx is not installed")
    a, b = servers
    home = tmp_path_factory.mktemp("nginx")
    static = home / "static"
    _trialdesk(["collectstatic", "--noinput", "-v", "0"], {**a.env, "TRIALDESK_STATIC_ROOT": str(static)})
    # Written after the app servers started: only a server reading the folder itself can answer it.
    (static / "from-disk.txt").write_text("served by nginx from the collected folder\n")
    port = _free_port()
    site = NGINX_CONF.read_text()
    site = site.replace("server web:8000", f"server {a.base_url[7:]}; server {b.base_url[7:]}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("/srv/static/", f"{static}/")
    assert str(static) in site and a.base_url[7:] in site, "deploy/nginx/compose.conf changed shape"
    (home / "site.conf").write_text(site)
    mime = "include /etc/nginx/mime.types;" if os.path.exists("/etc/nginx/mime.types") else ""
    # Run as root (a container), nginx's workers would switch to "nobody", who cannot read pytest's temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    (home / "nginx.conf").write_text(
        f"daemon off; {user} pid {home}/nginx.pid; error_log {home}/error.log;\nevents {{}}\n"
        f"http {{ {mime} access_log {home}/access.log; client_body_temp_path {home}/body; "
        f"proxy_temp_path {home}/proxy; include {home}/site.conf; }}\n")
    proc = subprocess.Popen([binary, "-c", str(home / "nginx.conf"), "-p", str(home)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                break
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"nginx did not start: {(home / 'error.log').read_text(errors='replace')}", pytrace=False)
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_nginx_serves_static_files_from_disk_and_spreads_requests_without_sticky_sessions(servers, nginx):
    a, b = servers
    status, headers, body = Browser().request(nginx + "/static/from-disk.txt")
    assert status == 200 and "served by nginx" in body and "X-Request-ID" not in headers
    browser = Browser()
    assert browser.login(Server("nginx", nginx, {}, None, Path()), "alice")[0] == 302
    for _ in range(6):
        status, _headers, html = browser.request(nginx + "/")
        assert status == 200 and "alice" in html.lower()
    # Round robin over both app servers: each one's access log shows signed-in page views.
    for server in (a, b):
        assert re.search(r'"GET / HTTP/1\.[01]" 200', server.log.read_text(errors="replace")), server.name
