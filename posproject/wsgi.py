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
