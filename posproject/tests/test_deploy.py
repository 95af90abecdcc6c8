"""The production files: docker-compose.prod.yml through Debian's docker-compose, nginx.conf through `nginx -t`,
and the Dockerfile's basics. `make test` installs docker-compose and nginx (target deploy-tools)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_GRACEFUL_DEFAULT = re.compile(r"_env_int\(\"GUNICORN_GRACEFUL_TIMEOUT\", (\d+)\)")


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if not found:
        pytest.skip(f"{name} is not installed (make test installs it with apt-get: target deploy-tools)")
    return found


def _env_file(tmp_path: Path) -> Path:
    """The operator's .env: .env.example with the blanks filled in."""
    text = (ROOT / ".env.example").read_text()
    text = re.sub(r"(?m)^SECRET_KEY=$", "SECRET_KEY=" + "k" * 60, text)
    text = re.sub(r"(?m)^POSTGRES_PASSWORD=.*$", "POSTGRES_PASSWORD=a-long-random-password", text)
    path = tmp_path / ".env"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory):
    compose = _binary("docker-compose")
    env_file = _env_file(tmp_path_factory.mktemp("compose"))
    env = {**os.environ, "TILLHOUSE_ENV_FILE": str(env_file)}
    out = subprocess.run(
        [compose, "--env-file", str(env_file), "-f", "docker-compose.prod.yml", "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "WARNING" not in out.stderr and "not set" not in out.stderr, out.stderr
    quiet = subprocess.run(
        [compose, "--env-file", str(env_file), "-f", "docker-compose.prod.yml", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert quiet.returncode == 0, quiet.stderr
    return yaml.safe_load(out.stdout)


def _seconds(value: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", value))


def test_the_compose_file_has_every_service_the_runbook_names(compose_config):
    assert set(compose_config["services"]) == {"db", "redis", "migrate", "web", "worker", "beat", "nginx"}
    assert {"pg-data", "redis-data", "backups"} <= set(compose_config["volumes"])


def test_web_starts_after_migrations_and_healthy_database_and_redis(compose_config):
    depends = compose_config["services"]["web"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert compose_config["services"]["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert compose_config["services"]["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_runs_gunicorn_with_the_deploy_config_and_outlives_its_graceful_timeout(compose_config):
    web = compose_config["services"]["web"]
    assert web["command"][:3] == ["gunicorn", "--config", "deploy/gunicorn.conf.py"]
    graceful = int(web["environment"].get("GUNICORN_GRACEFUL_TIMEOUT") or 0) or int(
        GUNICORN_GRACEFUL_DEFAULT.search((ROOT / "deploy/gunicorn.conf.py").read_text()).group(1)
    )
    assert _seconds(web["stop_grace_period"]) > graceful
    assert "/health/live" in " ".join(web["healthcheck"]["test"])


def test_postgresql_16_has_a_named_volume_and_a_pg_isready_healthcheck(compose_config):
    db = compose_config["services"]["db"]
    assert db["build"]["args"]["POSTGRES_IMAGE"].startswith("postgres:16")
    assert any(v.startswith("pg-data:/var/lib/postgresql/data") for v in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_postgresql_archives_its_wal_with_pgbackrest_into_a_volume_of_its_own_within_a_minute(compose_config):
    db = compose_config["services"]["db"]
    settings = dict(arg.split("=", 1) for arg in db["command"] if "=" in arg)
    assert settings["archive_mode"] == "on" and settings["wal_level"] == "replica"
    assert int(settings["archive_timeout"]) <= 60
    assert settings["archive_command"].startswith("pgbackrest ")
    assert settings["archive_command"].endswith("--stanza=tillhouse archive-push %p")
    assert any(v.startswith("pgbackrest-repo:/var/lib/pgbackrest") for v in db["volumes"])
    assert "pgbackrest-repo" in compose_config["volumes"]
    containerfile = (ROOT / "deploy/db/Containerfile").read_text()
    assert "FROM ${POSTGRES_IMAGE}" in containerfile and "pgbackrest" in containerfile


def test_the_db_container_writes_pgbackrest_configuration_from_its_environment():
    entrypoint = (ROOT / "deploy/db/entrypoint.sh").read_text()
    for line in ("repo1-path=/var/lib/pgbackrest", "repo1-retention-full=${PITR_RETENTION_DAYS:-14}",
                 "repo1-cipher-type=aes-256-cbc", "pg1-path=${PGDATA:-/var/lib/postgresql/data}"):  # fmt: skip
        assert line in entrypoint


def test_the_app_containers_watch_the_archive_and_leave_pgbackrest_backups_to_the_db_container(compose_config):
    for name in ("web", "worker", "beat", "migrate"):
        assert compose_config["services"][name]["environment"]["PITR_WATCH_ONLY"] == "True", name
        # beat's pgBackRest backups run in the db server (COPY ... FROM PROGRAM), with its configuration
        assert compose_config["services"][name]["environment"]["PITR_PGBACKREST_VIA"] == "sql", name


def test_redis_7_keeps_an_append_only_file(compose_config):
    redis = compose_config["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"


def test_every_long_running_service_restarts_and_rotates_its_logs(compose_config):
    for name, service in compose_config["services"].items():
        assert service["logging"]["options"]["max-size"], name
        assert service["logging"]["options"]["max-file"], name
        if name != "migrate":
            assert service["restart"] == "unless-stopped", name


def test_the_app_services_share_the_backups_volume_and_take_secrets_from_the_env_file(compose_config):
    for name in ("web", "worker", "beat", "migrate"):
        service = compose_config["services"][name]
        assert any(v.startswith("backups:/backups") for v in service["volumes"]), name
        assert service["environment"]["SECRET_KEY"] == "k" * 60, "SECRET_KEY comes from the env file"
    text = (ROOT / "docker-compose.prod.yml").read_text()
    assert not re.search(r"(?m)^\s*(SECRET_KEY|POSTGRES_PASSWORD):\s*[^$\s]", text), "a secret is written in the file"


def test_there_is_exactly_one_beat(compose_config):
    beat = compose_config["services"]["beat"]
    assert beat["command"][:4] == ["celery", "--app", "posproject", "beat"]
    assert beat.get("scale", 1) == 1
    assert "deploy" not in beat or beat["deploy"].get("replicas", 1) == 1


# --- nginx -----------------------------------------------------------------------------------------------------


def _nginx_config_on_loopback(tmp_path: Path) -> Path:
    """deploy/nginx.conf with the upstream on loopback, a throwaway certificate and a cache under tmp_path."""
    openssl = _binary("openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    text = (ROOT / "deploy/nginx.conf").read_text()
    assert "server web:8000;" in text
    text = text.replace("server web:8000;", "server 127.0.0.1:8280;")
    text = text.replace("/etc/nginx/certs/", f"{tmp_path}/")
    text = text.replace("/var/cache/nginx/tillhouse_static", f"{tmp_path}/cache")
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    return config


def test_nginx_accepts_the_config(tmp_path):
    nginx = _binary("nginx")
    config = _nginx_config_on_loopback(tmp_path)

    out = subprocess.run(
        [nginx, "-t", "-c", str(config), "-p", f"{tmp_path}/", "-e", "stderr"], capture_output=True, text=True
    )

    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr


def test_nginx_limits_sign_in_and_api_rates_and_request_size_and_sets_security_headers():
    text = (ROOT / "deploy/nginx.conf").read_text()
    assert re.search(r"location = /accounts/login/ \{\s*limit_req zone=tillhouse_login", text)
    assert re.search(r"location = /admin/login/ \{\s*limit_req zone=tillhouse_login", text)
    assert re.search(r"location /api/ \{\s*limit_req zone=tillhouse_api", text)
    assert "client_max_body_size 2m;" in text
    # the one exception: a catalogue file, as large as inventory.catalogue reads
    assert re.search(r"location = /inventory/catalogue/ \{\s*client_max_body_size 64m;", text)
    for header in ("Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert f'add_header {header} "' in text
    assert "gzip on;" in text
    assert "proxy_set_header X-Real-IP $remote_addr;" in text  # what PROXY_CLIENT_IP_HEADER=X-Real-IP reads


# --- Dockerfile ------------------------------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_dockerfile_is_multi_stage_on_a_pinned_slim_python():
    lines = _dockerfile()
    # A base image given as a build argument is its default (docker-compose.prod.yml passes the same one).
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", "\n".join(lines), flags=re.MULTILINE))
    froms = [line.split() for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 2
    assert all(len(f) == 4 and f[2] == "AS" for f in froms), "every stage is named"
    for f in froms:
        image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], f[1])
        assert "slim" in image and not image.endswith(":latest"), image


def test_the_image_runs_as_an_unprivileged_user():
    lines = _dockerfile()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0", "0:0"}
    last_stage = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    assert any(line.startswith("USER ") for line in lines[last_stage:])


def test_static_files_are_collected_at_build_and_the_healthcheck_asks_for_liveness():
    lines = _dockerfile()
    assert any(line.startswith("RUN ") and "collectstatic --noinput" in line for line in lines)
    healthcheck = next(line for line in lines if line.startswith("HEALTHCHECK "))
    assert "/health/live" in healthcheck
    cmd = next(line for line in reversed(lines) if line.startswith("CMD "))
    assert "gunicorn" in cmd and "deploy/gunicorn.conf.py" in cmd


def test_no_secret_is_baked_into_the_image():
    lines = _dockerfile()
    for line in lines:
        if line.startswith(("ENV ", "ARG ")):
            assert not re.search(r"(SECRET|PASSWORD|TOKEN|DSN)", line), line
        if line.startswith(("COPY ", "ADD ")):
            assert ".env" not in line, line
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", ".git", ".venv", "var", "deploy/certs"} <= set(ignored)


def test_apt_installs_skip_recommends_and_clean_their_lists():
    for line in _dockerfile():
        if "apt-get install" in line:
            assert "--no-install-recommends" in line
            assert "rm -rf /var/lib/apt/lists/*" in line


# --- make deploy / rollback ------------------------------------------------------------------------------------


def test_the_deploy_script_is_valid_bash_and_backs_up_before_it_migrates():
    script = (ROOT / "deploy/deploy.sh").read_text()
    out = subprocess.run(["bash", "-n", str(ROOT / "deploy/deploy.sh")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    deploy = script[script.index("\ndeploy() {") : script.index("\nrollback() {")]
    order = [deploy.index(step) for step in ("backup --kind pre-deploy", "compose build", "manage.py migrate")]
    assert order == sorted(order)
    assert deploy.index("manage.py migrate") < deploy.index("rolling_restart_web")


def test_the_pre_deploy_backup_kind_is_one_the_backup_command_accepts():
    from ops.models import BackupRecord

    assert "pre-deploy" in BackupRecord.Kind.values


def test_usage_is_printed_for_an_unknown_deploy_action():
    out = subprocess.run([str(ROOT / "deploy/deploy.sh"), "sideways"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "usage:" in out.stderr


@pytest.mark.slow
def test_collectstatic_at_build_succeeds_with_the_production_manifest_storage(tmp_path):
    """The Dockerfile's collectstatic step: hashed, compressed files and a manifest every template can resolve."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DEBUG": "False",
            "SECRET_KEY": "collectstatic-at-build-time-only",
            "ALLOWED_HOSTS": "localhost",
            "STATIC_ROOT": str(tmp_path),
        }
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert out.returncode == 0, out.stderr[-3000:]
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    assert "css/tillhouse.css" in manifest
    assert (tmp_path / manifest["css/tillhouse.css"]).exists()
    assert (tmp_path / (manifest["css/tillhouse.css"] + ".gz")).exists()


FAKE_COMPOSE = """#!/usr/bin/env bash
echo "compose $*" >> "$DEPLOY_LOG"
case "$*" in
  "ps -q web") cat "$DEPLOY_STATE/web" 2>/dev/null || true ;;
  "up -d --no-deps web") echo c1 > "$DEPLOY_STATE/web" ;;
esac
"""
FAKE_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >> "$DEPLOY_LOG"
if [ "$1" = inspect ]; then echo healthy; fi
"""


def _deploy_with_fakes(tmp_path: Path, runs: int) -> list[list[str]]:
    """Run deploy.sh `runs` times against a stand-in `docker compose` and `docker` that record what they are asked."""
    (tmp_path / "deploy").mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy/deploy.sh", tmp_path / "deploy/deploy.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("compose", FAKE_COMPOSE), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "COMPOSE": str(bin_dir / "compose"),
        "DEPLOY_STATE": str(tmp_path),
        "WAIT_SECONDS": "5",
    }
    calls = []
    for run in range(runs):
        log = tmp_path / f"calls-{run}.log"
        done = subprocess.run(
            ["bash", str(tmp_path / "deploy/deploy.sh"), "deploy"],
            env={**env, "DEPLOY_LOG": str(log), "TILLHOUSE_TAG": f"v{run}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        calls.append(log.read_text().splitlines())
    return calls


def test_the_first_deploy_backs_up_before_migrating_and_later_ones_back_up_through_the_running_web(tmp_path):
    first, second = _deploy_with_fakes(tmp_path, runs=2)

    backup = "compose run -T --rm --no-deps migrate python manage.py backup --kind pre-deploy --if-installed"
    assert backup in first
    assert first.index(backup) < first.index("compose run -T --rm --no-deps migrate python manage.py migrate --noinput")
    assert not any("exec -T web python manage.py backup" in call for call in first)

    assert second[1] == "compose exec -T web python manage.py backup --kind pre-deploy"
    assert backup not in second
    assert (tmp_path / "var/deploy/previous").read_text().strip() == "v0"


def test_backup_if_installed_leaves_an_empty_database_alone(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "True",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "BACKUP_DIR": str(tmp_path / "backups"),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "backup", "--kind", "pre-deploy", "--if-installed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no Tillhouse tables yet: nothing to back up" in done.stdout
    assert not list((tmp_path / "backups").rglob("*.sqlite3"))


def test_nginx_serves_certificate_challenges_from_the_directory_the_compose_file_mounts(compose_config):
    conf = (ROOT / "deploy/nginx.conf").read_text()
    webroot = re.search(r"location /\.well-known/acme-challenge/ \{\s*root ([^;]+);", conf).group(1)
    mounts = [
        v["target"] if isinstance(v, dict) else v.split(":")[1] for v in compose_config["services"]["nginx"]["volumes"]
    ]
    assert webroot in mounts
    ports = {name for name, service in compose_config["services"].items() if service.get("ports")}
    assert ports == {"nginx"}  # the firewall section relies on it: nothing but nginx is published


FAKE_RESTORE_COMPOSE = """#!/usr/bin/env bash
# PODMAN_STYLE=1: as podman-compose 1.0 does, `run` exits 0 whatever the container did, printing "exit code: N"
# (after pgBackRest's JSON, which has no newline: on the same line), and a container's lines end in \\r
echo "compose $*" >> "$DEPLOY_LOG"
end=""; [ -n "${PODMAN_STYLE:-}" ] && end=$'\\r'
finish() { if [ -n "${PODMAN_STYLE:-}" ]; then echo "exit code: $1"; exit 0; fi; exit "$1"; }
case "$*" in
  "run -T --rm --no-deps db pgbackrest info --output=json") echo "podman run ..."
    printf "[{\\"name\\":\\"tillhouse\\"}]$end"  # pgBackRest's JSON ends without a newline
    if [ -n "${PODMAN_STYLE:-}" ]; then finish 0; fi ;;
  *"--step options") echo "podman run ..."
    printf "%s$end\\n" --delta --type=time "--target=2026-12-07 14:03:00.000000+00" ;;
  "run -T --rm --no-deps db pitr-restore"*) finish "${PITR_RESTORE_EXIT:-0}" ;;
esac
"""


def _restore_to_with_fakes(
    tmp_path: Path, *args: str, restore_exit: int = 0, podman_style: bool = False
) -> tuple[int, list[str]]:
    """deploy/restore-to.sh against a stand-in `docker compose` that records what it is asked."""
    (tmp_path / "deploy").mkdir(parents=True, exist_ok=True)
    for name in ("deploy.sh", "restore-to.sh"):
        shutil.copy(ROOT / "deploy" / name, tmp_path / "deploy" / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("compose", FAKE_RESTORE_COMPOSE), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.log"
    done = subprocess.run(
        ["bash", str(tmp_path / "deploy/restore-to.sh"), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "COMPOSE": str(bin_dir / "compose"), "DEPLOY_LOG": str(log),
             "PITR_RESTORE_EXIT": str(restore_exit), "WAIT_SECONDS": "5", "PODMAN_STYLE": "1" if podman_style else ""},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, log.read_text().splitlines() if log.exists() else []


def test_restore_to_prepares_in_an_app_container_restores_in_the_db_container_and_finishes(tmp_path):
    code, calls = _restore_to_with_fakes(tmp_path, "2026-12-07 14:03:00", "--yes")
    manage = "compose run -T --rm --no-deps migrate python manage.py restore"
    assert code == 0
    assert calls == [
        "compose run -T --rm --no-deps db pgbackrest info --output=json",
        f'{manage} --to 2026-12-07 14:03:00 --step prepare --pgbackrest-info [{{"name":"tillhouse"}}] --yes',
        f"{manage} --step options",
        "compose stop db",
        "compose run -T --rm --no-deps db pitr-restore --delta --type=time --target=2026-12-07 14:03:00.000000+00",
        "compose up -d db",
        f"{manage} --step finish",
    ]


@pytest.mark.parametrize("podman_style", [False, True], ids=["docker-compose", "podman-compose"])
def test_restore_to_abandons_the_restore_when_pgbackrest_refuses_and_wants_its_arguments(tmp_path, podman_style):
    """podman-compose 1.0 exits 0 whatever the container did (it prints "exit code: N") and its lines end in \\r:
    a refused pgBackRest restore still stops the script, and the options reach pgBackRest without the \\r (they
    did, and pgBackRest restored everything archived instead of the instant)."""
    code, calls = _restore_to_with_fakes(tmp_path, "latest", "--yes", restore_exit=1, podman_style=podman_style)
    assert code == 1
    # the JSON alone, as pgBackRest gave it
    prepare = "compose run -T --rm --no-deps migrate python manage.py restore --to latest --step prepare"
    assert f'{prepare} --pgbackrest-info [{{"name":"tillhouse"}}] --yes' in calls
    restore = calls.index("compose run -T --rm --no-deps db pitr-restore --delta --type=time "
                          "--target=2026-12-07 14:03:00.000000+00")  # fmt: skip
    assert calls[restore + 1 :] == [
        "compose up -d db",
        "compose run -T --rm --no-deps migrate python manage.py restore --step abort",
    ]
    for wrong in ((), ("latest", "-y")):
        code, calls = _restore_to_with_fakes(tmp_path / str(len(wrong)), *wrong)
        assert code == 2 and calls == []
