"""Container health probe: exit 0 when the URL answers 200 within two seconds (no curl in the slim image)."""

import sys
import urllib.request

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/health/live"
try:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a fixed local URL
        sys.exit(0 if response.status == 200 else 1)
except Exception as error:  # any failure means unhealthy
    print(f"unhealthy: {error}", file=sys.stderr)
    sys.exit(1)
