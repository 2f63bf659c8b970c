"""Settings for several app servers: cache and replica URLs, sessions in the database, nothing in process memory."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, router

from trialdesk.conf import ConfigError, cache_is_shared, parse_cache_url, replica_database
from trialdesk.core.replica import read_alias, replica_reads
from trialdesk.studies.models import Study


def test_default_settings_keep_no_state_in_the_app_process():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    assert settings.CACHES["default"] == {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                          "LOCATION": "trialdesk_cache", "OPTIONS": {"MAX_ENTRIES": 10_000}}
    assert cache_is_shared(settings.CACHES["default"])
    # Login lockouts are kept in the database (django-axes' database handler), not in a process.
    assert getattr(settings, "AXES_HANDLER", "axes.handlers.database.AxesDatabaseHandler").endswith(
        "AxesDatabaseHandler")
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


@pytest.mark.parametrize(("url", "expected"), [
    ("db://", {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "trialdesk_cache",
               "OPTIONS": {"MAX_ENTRIES": 10_000}}),
    ("db://td_cache?timeout=600", {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "td_cache",
                                   "TIMEOUT": 600, "OPTIONS": {"MAX_ENTRIES": 10_000}}),
    ("locmem://", {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "trialdesk"}),
    ("dummy://", {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}),
    ("file:///var/cache/trialdesk?key_prefix=td", {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/cache/trialdesk",
        "KEY_PREFIX": "td", "OPTIONS": {"MAX_ENTRIES": 10_000}}),
])
def test_cache_urls(url, expected):
    assert parse_cache_url(url) == expected


def test_process_memory_cache_is_not_shared():
    assert not cache_is_shared(parse_cache_url("locmem://"))
    assert cache_is_shared(parse_cache_url("db://"))


@pytest.mark.parametrize(("url", "message"), [
    ("mongodb://x", "unsupported scheme 'mongodb'"),
    ("db://bad-name;drop", "the table name may hold only letters, digits and _"),
    ("db://?timeout=soon", "timeout must be a whole number of seconds"),
    ("db://?timeout=0", "timeout must be at least 1 second"),
    ("db://?ttl=5", "unknown option(s) ttl"),
    ("file://relative/dir", "use an absolute directory"),
])
def test_bad_cache_urls_name_the_variable(url, message):
    with pytest.raises(ConfigError) as exc:
        parse_cache_url(url)
    assert str(exc.value).startswith("TRIALDESK_CACHE_URL=") and message in str(exc.value)


def test_cache_servers_need_their_client_package():
    # Neither client is a dependency of Trialdesk; the message says what to install.
    for url, package in (("redis://cache:6379/0", "redis"), ("memcached://cache:11211", "pymemcache")):
        try:
            __import__(package)
        except ImportError:
            with pytest.raises(ConfigError, match=f"pip install {package}"):
                parse_cache_url(url)
        else:
            assert parse_cache_url(url)["LOCATION"]


def test_replica_url_becomes_a_test_mirror_with_the_primarys_engine():
    primary = {"ENGINE": "django.db.backends.postgresql"}
    entry = replica_database("postgres://reader@replica.internal:5432/trialdesk?sslmode=require", primary)
    assert entry["HOST"] == "replica.internal" and entry["USER"] == "reader" and entry["NAME"] == "trialdesk"
    assert entry["OPTIONS"] == {"sslmode": "require"}
    assert entry["TEST"] == {"MIRROR": "default"}
    with pytest.raises(ConfigError, match="TRIALDESK_REPLICA_DATABASE_URL must use the same database engine"):
        replica_database("sqlite:////tmp/replica.db", primary)


def test_without_a_replica_everything_reads_the_primary():
    assert "replica" not in settings.DATABASES
    with replica_reads():
        assert read_alias() == DEFAULT_DB_ALIAS
        assert router.db_for_read(Study) == DEFAULT_DB_ALIAS


# --- Behind a reverse proxy -------------------------------------------------------------------------------

@pytest.mark.parametrize(("remote", "forwarded", "expected"), [
    ("10.0.0.2", "203.0.113.9", "203.0.113.9"),                      # through the proxy
    ("10.0.0.2", "198.51.100.7, 203.0.113.9", "203.0.113.9"),        # the client wrote its own header: ignored
    ("10.0.0.2", "203.0.113.9, 10.0.0.3", "203.0.113.9"),            # two proxies of ours
    ("192.0.2.50", "203.0.113.9", "192.0.2.50"),                     # not from a trusted proxy: header ignored
    ("10.0.0.2", "", "10.0.0.2"),
    ("10.0.0.2", "garbage, 203.0.113.9", "203.0.113.9"),
    ("10.0.0.2", "203.0.113.9, not-an-ip", "10.0.0.2"),              # malformed last hop: keep the proxy
    ("10.0.0.2", "2001:db8::1", "2001:db8::1"),
])
def test_client_address_behind_trusted_proxies(remote, forwarded, expected):
    from trialdesk.conf import parse_networks
    from trialdesk.core.proxies import client_address

    assert client_address(remote, forwarded, parse_networks(["10.0.0.0/24"])) == expected


def test_bad_trusted_proxy_is_a_configuration_error():
    from trialdesk.conf import parse_networks

    with pytest.raises(ConfigError, match="TRIALDESK_TRUSTED_PROXIES: 'proxy.internal' is not an IP address"):
        parse_networks(["10.0.0.1", "proxy.internal"])


def test_audit_trail_records_the_client_behind_the_proxy(settings, client, cpm, study):
    from trialdesk.audit.models import AuditEvent

    client.force_login(cpm)
    url = f"/api/v1/studies/{study.pk}/arms"

    def create(label, **headers):
        response = client.post(url, {"label": label}, content_type="application/json", REMOTE_ADDR="10.0.0.2",
                               **headers)
        assert response.status_code == 201, response.content
        return AuditEvent.objects.filter(record_type="studies.arm").order_by("-seq").first()

    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert create("Through the proxy", HTTP_X_FORWARDED_FOR="203.0.113.9").ip_address == "203.0.113.9"
    settings.TRUSTED_PROXIES = []
    assert create("No proxy configured", HTTP_X_FORWARDED_FOR="203.0.113.9").ip_address == "10.0.0.2"


# --- The deploy/ folder ---------------------------------------------------------------------------------------

DEPLOY = Path(__file__).resolve().parents[4] / "deploy"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_scheduled_jobs_name_existing_commands():
    yaml = pytest.importorskip("yaml")
    from django.core.management import get_commands

    commands = set(get_commands())
    timers = {re.search(r"^Unit=trialdesk-job@(\w+)\.service$", p.read_text(), re.M).group(1)
              for p in (DEPLOY / "systemd").glob("*.timer")}
    scheduler = _load(DEPLOY / "scheduler.py")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    in_compose = {job.args[0] for job in scheduler.parse_jobs(compose["services"]["jobs"]["environment"]
                                                              ["TRIALDESK_JOBS"])}
    assert {"flag_missed_visits", "send_reminders"} <= timers
    assert timers == in_compose
    assert timers <= commands, timers - commands


def test_scheduler_runs_each_job_at_its_next_time():
    scheduler = _load(DEPLOY / "scheduler.py")
    jobs = scheduler.parse_jobs(" 01:30 flag_missed_visits;07:00 send_reminders --dry-run; ")
    assert [(j.at, j.args) for j in jobs] == [(dt.time(1, 30), ("flag_missed_visits",)),
                                             (dt.time(7, 0), ("send_reminders", "--dry-run"))]
    now = dt.datetime(2026, 3, 1, 6, 59, 30, tzinfo=dt.UTC)
    assert scheduler.next_run(jobs[0], now) == dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
    assert scheduler.next_run(jobs[1], now) == dt.datetime(2026, 3, 1, 7, 0, tzinfo=dt.UTC)
    assert scheduler.next_run(jobs[1], now.replace(hour=7, second=0)) == dt.datetime(2026, 3, 2, 7, 0,
                                                                                     tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="does not start with a time"):
        scheduler.parse_jobs("daily flag_missed_visits")


def test_gunicorn_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("TRIALDESK_BIND", "127.0.0.1:9001,unix:/run/trialdesk/web.sock")
    monkeypatch.setenv("TRIALDESK_WORKERS", "3")
    monkeypatch.setenv("TRIALDESK_MAX_REQUESTS", "0")
    conf = _load(DEPLOY / "gunicorn.conf.py")
    assert conf.wsgi_app == "trialdesk.wsgi:application"
    assert conf.bind == ["127.0.0.1:9001", "unix:/run/trialdesk/web.sock"]
    assert (conf.workers, conf.max_requests, conf.max_requests_jitter, conf.worker_class) == (3, 0, 0, "gthread")
    monkeypatch.setenv("TRIALDESK_WORKERS", "many")
    with pytest.raises(SystemExit, match="TRIALDESK_WORKERS='many' is not a whole number"):
        _load(DEPLOY / "gunicorn.conf.py")


def test_deploy_check_warns_about_per_server_state(monkeypatch, settings):
    from trialdesk.core.checks import stateless_app_tier

    monkeypatch.delenv("TRIALDESK_SECRET_KEY", raising=False)
    settings.CACHES = {"default": parse_cache_url("locmem://")}
    ids = {m.id for m in stateless_app_tier()}
    assert {"trialdesk.W001", "trialdesk.W002"} <= ids
    monkeypatch.setenv("TRIALDESK_SECRET_KEY", "x" * 40)
    settings.CACHES = {"default": parse_cache_url("db://")}
    ids = {m.id for m in stateless_app_tier()}
    assert not ids & {"trialdesk.W001", "trialdesk.W002"}
    assert ("trialdesk.I001" in ids) == (settings.DATABASE_ENGINE == "sqlite")
