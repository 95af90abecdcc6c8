import gc
import os

from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posproject.settings")
application = get_wsgi_application()

# Load now what the first requests would otherwise load: gunicorn preloads this module in its arbiter
# (deploy/gunicorn.conf.py), so each forked or recycled worker starts with it. No connection is opened here.
get_resolver().url_patterns  # noqa: B018 - the URLconf, and with it every view module
getattr(cache, "_cache", None)  # the cache's client library (redis-py with Redis configured)

# Everything loaded so far lives as long as the process: move it out of the garbage collector's sight, so that the
# collections a request's allocations trigger do not walk the whole framework each time (about 0.9 ms of CPU per
# checkout; BENCHMARKS.md). Done last, in the arbiter before it forks, so workers also share these pages longer.
gc.freeze()
