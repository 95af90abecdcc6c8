"""docs/RUNBOOK.md names only commands this product has: every `make <target>` is a Makefile target and every
`manage.py <command>` a management command; its YAML examples parse."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = (ROOT / "docs" / "RUNBOOK.md").read_text()


def _make_targets() -> set[str]:
    out = subprocess.run(["make", "-pRrq", "-f", "Makefile"], cwd=ROOT, capture_output=True, text=True)
    return {m.group(1) for m in re.finditer(r"(?m)^([A-Za-z0-9][\w.-]*):(?!=)", out.stdout)}


def _named(pattern: str) -> set[str]:
    return set(re.findall(pattern, RUNBOOK))


def test_the_runbook_names_make_targets_and_manage_commands():
    assert len(_named(r"\bmake ([a-z][\w-]*)")) >= 5
    assert len(_named(r"manage\.py ([a-z][a-z0-9_]*)")) >= 5


def test_every_make_target_in_the_runbook_exists():
    named = _named(r"\bmake ([a-z][\w-]*)")
    missing = sorted(named - _make_targets())
    assert not missing, f"docs/RUNBOOK.md names make targets the Makefile lacks: {missing}"


def test_every_manage_py_command_in_the_runbook_exists():
    named = _named(r"manage\.py ([a-z][a-z0-9_]*)")
    missing = sorted(named - set(get_commands()))
    assert not missing, f"docs/RUNBOOK.md names manage.py commands that do not exist: {missing}"


def test_the_runbook_covers_what_an_operator_needs():
    headings = " ".join(re.findall(r"(?m)^#{2,3} (.+)$", RUNBOOK)).lower()
    for topic in (
        "architecture",
        "first deployment",
        "configuration reference",
        "updates and rollbacks",
        "health endpoints",
        "uptime kuma",
        "kubernetes",
        "prometheus",
        "logs and request-id",
        "sentry",
        "backups",
        "scaling",
        "service down",
        "slow",
        "database connections exhausted",
        "redis down",
        "printer offline",
        "disk full",
    ):
        assert topic in headings, topic


@pytest.mark.parametrize(
    "alert",
    [
        "TillhouseInstanceDown",
        "TillhouseHigh5xxRate",
        "TillhouseSlowRequests",
        "TillhouseBackupTooOld",
        "TillhouseRestoreDrillFailed",
        "TillhousePrintFailures",
        "TillhouseRestoreDrillMissing",
        "TillhouseIntegrityViolations",
    ],
)
def test_the_alert_rules_parse_include_and_are_in_the_runbook(alert):
    groups = yaml.safe_load((ROOT / "deploy" / "monitoring" / "alerts.yml").read_text())["groups"]
    assert alert in {rule["alert"] for group in groups for rule in group["rules"]}
    assert f"| {alert} |" in RUNBOOK
