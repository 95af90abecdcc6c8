"""gunicorn settings for production (docker-compose.prod.yml) and the tests that start gunicorn.

Prometheus multiprocess mode: every worker writes its metrics into PROMETHEUS_MULTIPROC_DIR; the directory is
wiped when the arbiter starts and a dead worker's live gauges are marked, so /metrics sums correctly across workers.
The application is preloaded in the arbiter: it opens no database, cache or broker connection at import, so the
forked workers share none.
"""

import multiprocessing
import os
import shutil
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    """An unset or empty variable (as copied from .env.example) means the default."""
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND") or "0.0.0.0:8000"  # inside the container, behind nginx
workers = _env_int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
threads = _env_int("GUNICORN_THREADS", 1)
timeout = _env_int("GUNICORN_TIMEOUT", 30)
# On SIGTERM workers stop accepting and get this long to finish requests in flight (compose's
# stop_grace_period for web is longer, so Docker does not SIGKILL them first).
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 25)
keepalive = 5
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = 200
# The arbiter imports the application once and every worker is a fork of it: a worker recycled after max_requests
# is serving in milliseconds instead of importing Django again, which on a small machine stalls the other workers.
preload_app = True
accesslog = None  # the app logs each request as a JSON line with its request id
errorlog = "-"
# gunicorn's control socket (gunicornc) is not used: reloads and stops are signals (HUP, TERM; deploy/deploy.sh), and
# in the container its default place ($HOME/.gunicorn) is not writable, which logged an error at every worker start.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
proxy_allow_ips = forwarded_allow_ips


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # The preloaded application opens its metric files when it is imported, before on_starting runs.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    """A worker's clock starts at its fork, not at the arbiter's import: /health's uptime and the startup probe
    measure the worker."""
    import time

    from django.conf import settings

    settings.PROCESS_STARTED_AT = time.time()
