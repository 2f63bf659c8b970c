"""Settings for several app servers: cache and replica URLs, sessions in the database, nothing in process memory."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, router

from trialdesk.conf import ConfigError, cache_is_shared, parse_cache_url, replica_database
from trialdesk.core.replica import read_alias, replica_reads
from trialdesk.studies.models import Study


def test_default_settings_keep_no_state_in_the_app_process():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    assert settings.CACHES["default"] == {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                          "LOCATION": "trialdesk_cache"}
    assert cache_is_shared(settings.CACHES["default"])
    # Login lockouts are kept in the database (django-axes' database handler), not in a process.
    assert getattr(settings, "AXES_HANDLER", "axes.handlers.database.AxesDatabaseHandler").endswith(
        "AxesDatabaseHandler")
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


@pytest.mark.parametrize(("url", "expected"), [
    ("db://", {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "trialdesk_cache"}),
    ("db://td_cache?timeout=600", {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "td_cache",
                                   "TIMEOUT": 600}),
    ("locmem://", {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "trialdesk"}),
    ("dummy://", {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}),
    ("file:///var/cache/trialdesk?key_prefix=td", {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/cache/trialdesk",
        "KEY_PREFIX": "td"}),
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
