"""Gunicorn settings for Trialdesk in production: `gunicorn -c deploy/gunicorn.conf.py trialdesk.wsgi:application`.

Every value can be changed through the environment (the systemd unit and the compose file set some):

  TRIALDESK_BIND          address to listen on (default 127.0.0.1:8000; a unix socket: unix:/run/trialdesk/web.sock)
  TRIALDESK_WORKERS       worker processes (default: 2 x CPU cores + 1, at most 8)
  TRIALDESK_THREADS       threads per worker (default 4): requests mostly wait on the database
  TRIALDESK_TIMEOUT       seconds before a silent worker is restarted (default 120: a large ClinicalTrials.gov
                          upload or screening-log import runs inside its request, see docs/deployment.md)
  TRIALDESK_MAX_REQUESTS  recycle a worker after this many requests (default 2000; 0 = never), bounding memory
  TRIALDESK_FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-Proto gunicorn trusts (default 127.0.0.1)

The app keeps no state in the worker processes (sessions and cache live in the database, see
docs/deployment.md), so any number of workers on any number of machines can serve the same users.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name}={raw!r} is not a whole number") from None


wsgi_app = "trialdesk.wsgi:application"
bind = [b.strip() for b in os.environ.get("TRIALDESK_BIND", "127.0.0.1:8000").split(",") if b.strip()]
workers = _int("TRIALDESK_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("TRIALDESK_THREADS", 4)
worker_class = "gthread"
timeout = _int("TRIALDESK_TIMEOUT", 120)
graceful_timeout = 30
keepalive = 5
max_requests = _int("TRIALDESK_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# Import the app once in the master, then fork: faster start and a configuration error stops the
# master at once instead of every worker failing in a loop.
preload_app = True
# Heartbeat files in memory, not on a possibly slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - gunicorn's recommended place
forwarded_allow_ips = os.environ.get("TRIALDESK_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Logs to stdout/stderr: journald (systemd) or the container runtime collects them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("TRIALDESK_GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %({x-request-id}o)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# Uploads are limited by TRIALDESK_MAX_UPLOAD_MB in the app; request lines and headers stay small.
limit_request_line = 8190
proc_name = "trialdesk"


def post_fork(server, worker):
    # Database connections must not cross a fork: each worker opens its own on first use.
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
