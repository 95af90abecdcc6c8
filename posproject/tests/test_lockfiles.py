"""Reproducible installs: requirements.txt / requirements-dev.txt (the human-edited top-level pins) are compiled by
`make lock` into requirements.lock / requirements-dev.lock, every transitive dependency pinned with its hashes; the
Makefile and the Dockerfile install only from the locks, and `make test` refuses locks that are stale."""

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "deploy" / "lockcheck.py"
FILES = ("requirements.txt", "requirements-dev.txt", "requirements.lock", "requirements-dev.lock")
PIN = re.compile(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _pins(text: str) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in PIN.findall(text)}


def _check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), "--root", str(root)], capture_output=True, text=True)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _assert_stale(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "run `make lock`" in result.stderr.lower()
    for word in words:
        assert word in result.stderr


# --- the locks in the repository --------------------------------------------------------------------------------


def test_the_committed_locks_are_compiled_from_the_committed_inputs():
    result = _check(ROOT)
    assert result.returncode == 0, result.stderr


def test_every_locked_package_is_pinned_with_hashes_and_the_dev_lock_agrees_with_the_runtime_lock():
    runtime = (ROOT / "requirements.lock").read_text()
    dev = (ROOT / "requirements-dev.lock").read_text()
    for text in (runtime, dev):
        blocks = re.split(r"(?m)^(?=[A-Za-z0-9])", text)
        requirements = [block for block in blocks if PIN.match(block)]
        assert len(requirements) > 30
        for block in requirements:
            assert "--hash=sha256:" in block, block.splitlines()[0]
    assert _pins(runtime).items() <= _pins(dev).items()


def test_the_extras_and_the_installer_are_in_the_locks():
    runtime, dev = _pins((ROOT / "requirements.lock").read_text()), _pins((ROOT / "requirements-dev.lock").read_text())
    assert runtime["psycopg-binary"] == runtime["psycopg"]  # psycopg[binary]
    assert "redis" in runtime and "kombu" in runtime  # celery[redis]
    assert {"flask", "flask-cors"} <= dev.keys()  # moto[server]
    assert "pip" in runtime and "setuptools" in runtime  # pinned too: installs resolve the same way everywhere
    assert {"import-linter", "mypy", "django-stubs", "djangorestframework-stubs"} <= dev.keys()
    assert "mypy" not in runtime


def test_a_lock_names_no_index_or_local_path():
    for name in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / name).read_text()
        assert not re.search(r"(?m)^\s*--(index-url|extra-index-url|find-links|trusted-host)", text), name
        assert "file://" not in text and "/opt/" not in text and "/tmp/" not in text, name


# --- the staleness check that `make test` runs -------------------------------------------------------------------


def test_a_fresh_copy_passes_and_a_comment_only_edit_needs_no_new_lock(copy):
    assert _check(copy).returncode == 0
    _edit(copy / "requirements.txt", "Django==5.2.19", "Django==5.2.19  # the web framework")
    (copy / "requirements-dev.txt").write_text("# more words\n" + (copy / "requirements-dev.txt").read_text())
    assert _check(copy).returncode == 0, _check(copy).stderr


def test_a_new_version_in_an_input_without_make_lock_fails_loudly(copy):
    _edit(copy / "requirements.txt", "Django==5.2.19", "Django==5.2.20")
    _assert_stale(_check(copy), "Django==5.2.20", "requirements.lock")


def test_a_new_package_in_the_dev_input_without_make_lock_fails(copy):
    (copy / "requirements-dev.txt").write_text((copy / "requirements-dev.txt").read_text() + "coverage==7.6.1\n")
    _assert_stale(_check(copy), "coverage==7.6.1", "requirements-dev.lock")


def test_a_removed_package_or_a_changed_extra_without_make_lock_fails(copy):
    _edit(copy / "requirements.txt", "Unidecode==1.4.0\n", "")
    _assert_stale(_check(copy), "requirements.txt")
    shutil.copy(ROOT / "requirements.txt", copy / "requirements.txt")
    assert _check(copy).returncode == 0
    _edit(copy / "requirements.txt", "psycopg[binary]==3.3.9", "psycopg[binary,pool]==3.3.9")
    _assert_stale(_check(copy), "requirements.txt")


def test_an_unpinned_input_is_refused(copy):
    _edit(copy / "requirements-dev.txt", "ruff==0.17.6", "ruff>=0.17")
    _assert_stale(_check(copy), "ruff")


def test_a_hand_edited_lock_fails(copy):
    dev = copy / "requirements-dev.lock"
    version = _pins(dev.read_text())["amqp"]
    _edit(dev, f"amqp=={version}", "amqp==0.0.1")
    _assert_stale(_check(copy), "amqp")
    shutil.copy(ROOT / "requirements-dev.lock", dev)
    runtime = copy / "requirements.lock"
    text = runtime.read_text()
    unhashed = re.sub(r"(?m)^(vine==\S+) \\\n(\s+--hash=sha256:\w+ \\\n)*\s+--hash=sha256:\w+\n", r"\1\n", text)
    runtime.write_text(unhashed)
    assert runtime.read_text() != text
    _assert_stale(_check(copy), "vine")


def test_a_missing_lock_fails(copy):
    (copy / "requirements-dev.lock").unlink()
    _assert_stale(_check(copy), "requirements-dev.lock")


# --- every install uses the locks with hashes ---------------------------------------------------------------------


def _make_dry_run(*targets: str) -> str:
    out = subprocess.run(
        ["make", "-n", "-B", "-f", "Makefile", "PYTHON=python3", *targets], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize(
    ("target", "lock"),
    [("install", "requirements.lock"), ("run", "requirements.lock"), ("install-dev", "requirements-dev.lock")],
)
def test_the_makefile_installs_only_from_the_locks_with_hashes(target, lock):
    installs = [line for line in _make_dry_run(target).splitlines() if re.search(r"\bpip3? install\b", line)]
    assert installs
    assert any(f"-r {lock}" in line for line in installs)
    for line in installs:
        assert "--require-hashes" in line and re.search(r"-r requirements(-dev)?\.lock\b", line), line


def test_make_test_checks_the_locks_before_it_runs_anything():
    commands = _make_dry_run("test").splitlines()
    check = next(i for i, line in enumerate(commands) if "deploy/lockcheck.py" in line)
    assert "--stamp" not in commands[check]
    assert check < next(i for i, line in enumerate(commands) if "pytest" in line)
    assert check < next(i for i, line in enumerate(commands) if "pip install" in line)


def _dockerfile() -> list[str]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_image_installs_the_runtime_lock_with_hashes():
    installs = [line for line in _dockerfile() if line.startswith("RUN ") and "pip install" in line]
    assert installs
    for line in installs:
        assert "--require-hashes" in line and "requirements.lock" in line, line
    assert any(line.startswith("COPY ") and "requirements.lock" in line for line in _dockerfile())


def _dockerignored(path: str) -> bool:
    """.dockerignore's rules in order, the last match wins (a leading ! re-includes)."""
    ignored = False
    for rule in (ROOT / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/").replace("**/", "")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negate
    return ignored


def test_the_locks_reach_the_image():
    for name in ("requirements.lock", "requirements.txt", "deploy/lockcheck.py"):
        assert not _dockerignored(name), name
    assert _dockerignored(".venv/bin/python") and _dockerignored(".env")


def test_a_lock_compiled_outside_make_lock_fails_until_stamped(copy):
    lock = copy / "requirements.lock"
    lock.write_text("".join(line for line in lock.read_text().splitlines(True) if "inputs-sha256" not in line))
    _assert_stale(_check(copy), "requirements.lock", "not written by `make lock`")
    stamped = subprocess.run([sys.executable, str(CHECK), "--root", str(copy), "--stamp"], capture_output=True)
    assert stamped.returncode == 0 and _check(copy).returncode == 0
    assert lock.read_text() == (ROOT / "requirements.lock").read_text()
