"""Settings for bench/health.py: the product's settings with a URLconf that adds one bare view."""

from posproject.settings import *  # noqa: F403

ROOT_URLCONF = "bench.health_urls"
