"""What operators watch, checked against the real thing: the alert and recording rules pass `promtool check rules`,
the alerts fire on the series a fresh or broken install exposes (`promtool test rules`), and every metric the Grafana
dashboard and the rules read exists in a real /metrics scrape after a checkout."""

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from posproject.tests.test_runbook import RUNBOOK

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULE_FILES = ("alerts.yml", "recording.yml")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="make test installs promtool (Debian prometheus)")

# PromQL words that are not metric names.
PROMQL = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "irate", "time", "histogram_quantile",
    "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool", "le", "clamp_min", "clamp_max",
    "abs", "absent", "vector", "scalar", "offset",
}  # fmt: skip


def _exprs_of_dashboard() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _rules() -> list[dict]:
    return [
        rule
        for name in RULE_FILES
        for group in yaml.safe_load((MONITORING / name).read_text())["groups"]
        for rule in group["rules"]
    ]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label matchers, ranges, strings and numbers left out)."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    return {word for word in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare) if word not in PROMQL}


@needs_promtool
def test_the_alert_and_recording_rules_pass_promtool():
    done = subprocess.run([PROMTOOL, "check", "rules", *RULE_FILES], cwd=MONITORING, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 11 rules found" in done.stdout


@needs_promtool
def test_the_alerts_fire_on_a_fresh_install_a_failed_drill_and_failed_prints():
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=MONITORING, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_runbook_shows_the_alert_rules_that_are_checked():
    assert "deploy/monitoring/alerts.yml" in RUNBOOK
    assert "grafana-dashboard.json" in RUNBOOK


@pytest.fixture
def scrape(client, location, cashier):
    """The sample names of a real /metrics scrape after an API checkout (so the checkout's latency exists)."""
    from orders.tests.helpers import open_register, stocked_product

    till = open_register(location)
    product = stocked_product(location, on_hand="10", price="2.50")
    api = APIClient()
    api.force_authenticate(cashier)
    body = {
        "register": till.pk,
        "lines": [{"product": product.pk, "quantity": "1"}],
        "tenders": [{"tender": "cash", "tendered": "5.00"}],
    }
    answer = api.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert answer.status_code == 201, answer.content
    text = client.get("/metrics").content.decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.mark.django_db
def test_every_metric_the_dashboard_and_the_rules_read_is_in_a_real_scrape(scrape):
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    read = set().union(*(metric_names(e) for e in _exprs_of_dashboard()), *(metric_names(r["expr"]) for r in _rules()))
    read -= recorded | {"up"}  # `up` is Prometheus's own, per scrape target
    # Only once a drill has finished (no drill yet is not a failed drill; its timestamp series is 0 meanwhile).
    read -= {"tillhouse_restore_drill_last_success", "tillhouse_restore_drill_last_rto_seconds"}
    assert read, "the dashboard reads no metric"
    assert sorted(read - scrape) == []
    assert "process_resident_memory_bytes" in read
    assert 'django_http_requests_latency_seconds_by_view_method_bucket{view="api-checkout"}' in "".join(
        _exprs_of_dashboard()
    )


def test_metric_names_reads_past_functions_labels_and_ranges():
    expr = 'histogram_quantile(0.95, sum by (le) (rate(x_bucket{view="a-b"}[5m]))) / max(y_total) or time()'
    assert metric_names(expr) == {"x_bucket", "y_total"}
