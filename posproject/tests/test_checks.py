"""`make test` and `make lint` check the floors (import-linter) and the types (mypy) after ruff, before the suite."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _make_dry_run(target: str) -> list[str]:
    out = subprocess.run(
        ["make", "-n", "-B", "-f", "Makefile", "PYTHON=python3", target], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def _first(commands: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(commands) if needle in line)


@pytest.mark.parametrize("target", ["test", "lint"])
def test_the_floors_and_types_are_checked_after_ruff(target):
    commands = _make_dry_run(target)
    ruff = _first(commands, "ruff format --check")
    assert ruff < _first(commands, "bin/lint-imports") < _first(commands, "bin/mypy")


def test_make_test_checks_floors_and_types_before_the_suite():
    commands = _make_dry_run("test")
    assert _first(commands, "bin/mypy") < _first(commands, "bin/pytest")
