"""Django settings, read from TRIALDESK_* environment variables (see docs/configuration.md)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from trialdesk.conf import (
    DEFAULT_CACHE_URL,
    ConfigError,
    env_bool,
    env_int,
    env_list,
    env_path,
    env_str,
    parse_cache_url,
    parse_database_url,
    parse_networks,
    replica_database,
    sqlite_database,
)

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent.parent
HOME = env_path("TRIALDESK_HOME", REPO_DIR / "var")
HOME.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("TRIALDESK_DEBUG", False)
# Demo mode creates demo users with printed passwords. Never on in production.
DEMO_MODE = env_bool("TRIALDESK_DEMO", False)


def _secret_key() -> str:
    configured = env_str("TRIALDESK_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ConfigError("TRIALDESK_SECRET_KEY must be at least 32 characters long")
        return configured
    # No built-in default: a random key is generated once per installation and
    # kept beside the database, readable only by the service account.
    key_file = HOME / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    os.chmod(key_file, 0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("TRIALDESK_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("TRIALDESK_CSRF_TRUSTED_ORIGINS", [])
# Reverse proxies / load balancers whose X-Forwarded-For names the client (core/proxies.py).
TRUSTED_PROXIES = env_list("TRIALDESK_TRUSTED_PROXIES", [])
parse_networks(TRUSTED_PROXIES)  # a bad entry stops start-up

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "trialdesk.core",
    "trialdesk.audit",
    "trialdesk.accounts",
    "trialdesk.signatures",
    "trialdesk.organizations",
    "trialdesk.studies",
    "trialdesk.sites",
    "trialdesk.ctgov",
    "trialdesk.subjects",
    "trialdesk.visits",
    "trialdesk.enrollment",
    "trialdesk.startup",
    "trialdesk.staff",
    "trialdesk.training",
    "trialdesk.workqueue",
    "trialdesk.demo",
]

MIDDLEWARE = [
    "trialdesk.core.proxies.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "trialdesk.core.middleware.RequestIdMiddleware",
    "trialdesk.core.replica.ReplicaMiddleware",
    "trialdesk.core.middleware.IdleSessionMiddleware",  # Django's, saving an unchanged session once a minute
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "trialdesk.core.middleware.LoginRequiredMiddleware",
    # Axes last: it turns a locked-out login attempt into a lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "trialdesk.urls"
WSGI_APPLICATION = "trialdesk.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trialdesk.core.context_processors.trialdesk",
            ],
        },
    },
]

_database_url = env_str("TRIALDESK_DATABASE_URL")
DATABASES = {
    "default": parse_database_url(_database_url) if _database_url else sqlite_database(HOME / "trialdesk.sqlite3")
}
DATABASE_ENGINE = "postgresql" if "postgresql" in DATABASES["default"]["ENGINE"] else "sqlite"
# A read replica (optional): opted-in dashboard reads may use it; writes and everything else use the primary.
_replica_url = env_str("TRIALDESK_REPLICA_DATABASE_URL")
if _replica_url:
    DATABASES["replica"] = replica_database(_replica_url, DATABASES["default"])
DATABASE_ROUTERS = ["trialdesk.core.replica.ReplicaRouter"]
# After a POST that wrote, the browser reads from the primary for this long (covers replication lag).
REPLICA_PIN_SECONDS = env_int("TRIALDESK_REPLICA_PIN_SECONDS", 10, minimum=0, maximum=3600)

# Stateless app servers: sessions live in the database and the cache is shared (database table by
# default), so any app server behind a load balancer can serve any request.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
CACHES = {"default": parse_cache_url(env_str("TRIALDESK_CACHE_URL") or DEFAULT_CACHE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": env_int("TRIALDESK_PASSWORD_MIN_LENGTH", 12, minimum=8, maximum=128)}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Session idle timeout (21 CFR 11.10(d), Annex 11 §12): the cookie is renewed on
# every request, so it expires after this many idle minutes.
SESSION_IDLE_MINUTES = env_int("TRIALDESK_SESSION_IDLE_MINUTES", 30, minimum=1, maximum=24 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# The idle timeout moves forward with activity; core.middleware.IdleSessionMiddleware saves an unchanged
# session at most once per SESSION_REFRESH_SECONDS instead of on every request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_COOKIES = env_bool("TRIALDESK_SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# Lockout after repeated failed logins (django-axes).
AXES_FAILURE_LIMIT = env_int("TRIALDESK_LOCKOUT_FAILURES", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("TRIALDESK_LOCKOUT_MINUTES", 30, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = ["username"]
# Lock the account, not the address: a whole hospital often shares one NAT address, and an
# IP lockout would lock every user there out. Axes warns about this choice (W006); it is deliberate.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "trialdesk.accounts.views.lockout_response"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TRIALDESK_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env_path("TRIALDESK_STATIC_ROOT", HOME / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing root even when serving from finders
# Static files come from the installed apps (our CSS, htmx from django-htmx);
# WhiteNoise serves them without Django views and without any CDN.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = HOME / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("TRIALDESK_MAX_UPLOAD_MB", 50, minimum=1, maximum=2048) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

EMAIL_BACKEND = env_str("TRIALDESK_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("TRIALDESK_FROM_EMAIL", "trialdesk@localhost")
# SMTP (used with TRIALDESK_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
EMAIL_HOST = env_str("TRIALDESK_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("TRIALDESK_EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("TRIALDESK_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("TRIALDESK_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("TRIALDESK_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("TRIALDESK_EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ConfigError("TRIALDESK_EMAIL_USE_TLS and TRIALDESK_EMAIL_USE_SSL cannot both be true (STARTTLS on "
                      "port 587 or implicit TLS on port 465: choose one)")
EMAIL_TIMEOUT = env_int("TRIALDESK_EMAIL_TIMEOUT", 30, minimum=1, maximum=600)
EMAIL_SUBJECT_PREFIX = env_str("TRIALDESK_EMAIL_SUBJECT_PREFIX", "[Trialdesk] ")
# Where users reach the web UI, for links in e-mails (empty: e-mails show paths such as /my-work/).
TRIALDESK_BASE_URL = (env_str("TRIALDESK_BASE_URL", "") or "").strip().rstrip("/")
if TRIALDESK_BASE_URL and not TRIALDESK_BASE_URL.startswith(("http://", "https://")):
    raise ConfigError(f"TRIALDESK_BASE_URL={TRIALDESK_BASE_URL!r} must start with http:// or https://")

API_TOKEN_DEFAULT_DAYS = env_int("TRIALDESK_API_TOKEN_DAYS", 90, minimum=1, maximum=3650)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("TRIALDESK_LOG_LEVEL", "WARNING")},
    "loggers": {"axes": {"level": "WARNING"}},
}
