"""The production image and docker-compose.prod.yml in containers, under podman and podman-compose: deploy/deploy.sh
deploys it (first deployment), the smoke flow an operator would try goes through nginx over TLS, then a second
deployment rolls web under steady load with no failed request and a rollback returns to the first image.

`make test-stack` runs it (it is skipped elsewhere): it installs podman, podman-compose and mmdebstrap when they are
missing and builds the base images from Debian packages (deploy/test-stack/images.sh), since no registry can be
reached; the test passes their names in as the compose file's variables. Each step prints its result."""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest

from posproject.tests.test_production_stack import Load, PrinterStandIn, _csrf, _session, step

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / "deploy" / "wheelhouse"
METRICS_TOKEN = "stack-metrics-token-" + "c" * 20
DEMO_PASSWORD_SOURCE = "billing/management/commands/load_demo.py"
UNRESOLVED = ("could not translate host name", "Name or service not known", "Temporary failure in name resolution")
# The lock is compiled for the official images' Python (3.11.3 or later). The base image built from Debian has
# Python 3.11.2, for which redis (imported with its asyncio client) also needs async-timeout: pinned with its hash
# here, installed beside the lock in the test's image only.
DEBIAN_PYTHON_EXTRA = "debian-python-extra.txt"
DEBIAN_PYTHON_REQUIREMENTS = (
    "async-timeout==5.0.1 --hash=sha256:39e3809566ff85354557ec2398b55e096c8364bacac9405a7a1fa429e77fe76c\n"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),  # the test's own certificate
    pytest.mark.skipif(not os.environ.get("TILLHOUSE_STACK_TEST"), reason="containers: run by `make test-stack`"),
]


def _run(args: list[str], env: dict, *, timeout: int = 900, check: bool = True, quiet: bool = True):
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
        )
    if not quiet:
        print(done.stdout[-3000:], done.stderr[-3000:], flush=True)
    return done


def _spare_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))  # a port free on every address: nginx publishes on all of them
        return probe.getsockname()[1]


def _demo_password() -> str:
    return re.search(r'DEMO_PASSWORD = "([^"]+)"', (ROOT / DEMO_PASSWORD_SOURCE).read_text()).group(1)


class Stack:
    """One compose project under podman: its environment, its containers by service, commands inside them."""

    def __init__(self, tmp_path: Path):
        self.project = f"tillhouse-stack-{uuid.uuid4().hex[:8]}"
        self.http_port, self.https_port = _spare_port(), _spare_port()
        self.base = f"https://127.0.0.1:{self.https_port}"
        self.compose = f"podman-compose -p {self.project} -f docker-compose.prod.yml"
        certs = tmp_path / "certs"
        certs.mkdir()
        _run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
            dict(os.environ),
        )  # fmt: skip
        certs.chmod(0o755)
        (certs / "privkey.pem").chmod(0o644)  # nginx's master reads it as root; the directory is the test's own
        (tmp_path / "acme").mkdir()
        password = secrets.token_urlsafe(24)
        env_file = tmp_path / "stack.env"
        env_file.write_text(
            "\n".join(
                [
                    "DEBUG=False",
                    f"SECRET_KEY={secrets.token_urlsafe(50)}",
                    "ALLOWED_HOSTS=127.0.0.1",
                    # nginx passes the host without the port: the browser's origin is trusted as such (CSRF)
                    f"CSRF_TRUSTED_ORIGINS={self.base}",
                    f"POSTGRES_PASSWORD={password}",
                    f"METRICS_BEARER_TOKEN={METRICS_TOKEN}",
                    "METRICS_ALLOWED_IPS=",
                    "PRINT_SWEEP_EVERY=2",
                    "HEALTH_CACHE_SECONDS=0",
                    "WEB_CONCURRENCY=2",
                    "LOG_LEVEL=WARNING",
                    "PITR_ENABLED=True",  # the db container archives WAL with pgBackRest; web and worker watch it
                    "",
                ]
            )
        )
        images = os.environ
        self.tags = ("stack-a", "stack-b")
        self.steps: list[str] = []
        self.image = "localhost/tillhouse-stack-test"
        self.db_image = f"localhost/{self.project}-db"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}},
            "COMPOSE": self.compose,
            "TILLHOUSE_ENV_FILE": str(env_file),
            "TILLHOUSE_IMAGE": self.image,
            "TILLHOUSE_TAG": self.tags[0],
            "TILLHOUSE_DB_IMAGE": self.db_image,
            "PGBACKREST_CIPHER_PASS": secrets.token_urlsafe(24),  # the repository encrypted, as in production
            "POSTGRES_PASSWORD": password,
            "PYTHON_IMAGE": images["STACK_PYTHON_IMAGE"],
            "POSTGRES_IMAGE": images["STACK_POSTGRES_IMAGE"],
            "PG_MAJOR": images["STACK_PG_MAJOR"],
            "PG_APT_SOURCE": "",  # Debian's own PostgreSQL client, the major version of Debian's server image
            "REDIS_IMAGE": images["STACK_REDIS_IMAGE"],
            "NGINX_IMAGE": images["STACK_NGINX_IMAGE"],
            # The build reaches no package index: the lock's wheels, downloaded here (hashes checked at install),
            # and the one package Debian's Python 3.11.2 needs beyond them (DEBIAN_PYTHON_EXTRA).
            "PIP_INSTALL_ARGS": f"--no-index --find-links /tmp/wheelhouse -r /tmp/wheelhouse/{DEBIAN_PYTHON_EXTRA}",
            "HTTP_PORT": str(self.http_port),
            "HTTPS_PORT": str(self.https_port),
            "TLS_CERT_DIR": str(certs),
            "ACME_WEBROOT": str(tmp_path / "acme"),
            "DEPLOY_STATE_DIR": str(tmp_path / "deploy-state"),
            "WAIT_SECONDS": "240",
            "BUILDAH_FORMAT": "docker",  # podman builds OCI images by default, which drop the HEALTHCHECK
        }

    def deploy(self, action: str, *args: str, **extra) -> None:
        """deploy/deploy.sh, its steps (the `==>` lines) kept with the time they were reached."""
        process = subprocess.Popen(
            ["deploy/deploy.sh", action, *args],
            cwd=ROOT,
            env={**self.env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("==>"):
                self.steps.append(f"{time.strftime('%H:%M:%S')} {action}: {line[4:].strip()}")
        if process.wait(timeout=1200) != 0:
            raise AssertionError(f"deploy/deploy.sh {action} failed ({process.returncode}):\n{''.join(output)[-8000:]}")

    def ids(self, service: str) -> list[str]:
        out = _run(
            ["podman", "ps", "-q", "--filter", f"label=io.podman.compose.project={self.project}",
             "--filter", f"label=com.docker.compose.service={service}"],
            self.env,
        ).stdout  # fmt: skip
        return out.split()

    def web(self) -> str:
        ids = self.ids("web")
        assert len(ids) == 1, f"web containers: {ids}"
        return ids[0]

    def ip(self, container: str) -> str:
        template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        return _run(["podman", "inspect", "-f", template, container], self.env, check=False).stdout.strip()

    def exec(self, container: str, *command: str, check: bool = True, user: str = "") -> subprocess.CompletedProcess:
        return _run(["podman", "exec", *(["-u", user] if user else []), container, *command], self.env, check=check,
                    timeout=300)  # fmt: skip

    def exec_resolving(self, container: str, *command: str) -> subprocess.CompletedProcess:
        """A command that connects to `db` by name, run again when that name did not resolve: podman's name server
        (aardvark-dns) does not answer while it reloads its records as containers start and stop on this machine,
        and the lookup then fails over to the host's resolver, which knows no `db` (docs/RUNBOOK.md §4)."""
        for _ in range(5):
            done = self.exec(container, *command, check=False)
            if done.returncode == 0 or not any(text in done.stderr for text in UNRESOLVED):
                break
            print(f"[stack] ({' '.join(command[:3])}: a name did not resolve; again)", flush=True)
            time.sleep(3)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                                 f"{done.stderr[-6000:]}")  # fmt: skip
        return done

    def django(self, code: str) -> str:
        return self.exec_resolving(self.web(), "python", "manage.py", "shell", "-c", code).stdout.strip()

    def logs(self, container: str) -> str:
        done = _run(["podman", "logs", container], self.env, check=False)
        return done.stdout + done.stderr

    def healthy(self, service: str) -> bool:
        ids = self.ids(service)
        return bool(ids) and all(
            _run(["podman", "healthcheck", "run", i], self.env, check=False).returncode == 0 for i in ids
        )

    def down(self) -> None:
        label = f"label=io.podman.compose.project={self.project}"
        containers = _run(["podman", "ps", "-aq", "--filter", label], self.env, check=False).stdout.split()
        if containers:
            _run(["podman", "rm", "-f", "-t", "5", *containers], self.env, check=False)
        volumes = _run(["podman", "volume", "ls", "-q", "--filter", label], self.env, check=False).stdout.split()
        if volumes:
            _run(["podman", "volume", "rm", "-f", *volumes], self.env, check=False)
        _run(["podman", "network", "rm", "-f", f"{self.project}_default"], self.env, check=False)
        for tag in self.tags:
            _run(["podman", "rmi", f"{self.image}:{tag}"], self.env, check=False)
        _run(["podman", "rmi", f"{self.db_image}:{self.env['PG_MAJOR']}"], self.env, check=False)


def _wait(condition, seconds: float, what) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what() if callable(what) else what}")
        time.sleep(1)


@contextmanager
def _wheelhouse():
    """The lock's wheels in the build context (deploy/wheelhouse/, never committed), for a build without an index."""
    before = set(WHEELHOUSE.iterdir())
    (WHEELHOUSE / DEBIAN_PYTHON_EXTRA).write_text(DEBIAN_PYTHON_REQUIREMENTS)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes", "--only-binary=:all:", "--no-deps",
         "--dest", str(WHEELHOUSE), "-r", str(ROOT / "requirements.lock"), "-r", str(WHEELHOUSE / DEBIAN_PYTHON_EXTRA)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    try:
        yield
    finally:
        for path in set(WHEELHOUSE.iterdir()) - before:
            path.unlink()


def _signed_in(browser, base: str, path: str, username: str, password: str, next_page: str = ""):
    """Sign-in forms are rate limited by nginx (10 a minute, bursts of 5): a 429 is waited out."""

    def patiently(call):
        for _ in range(20):
            answer = call()
            if answer.status_code != 429:
                return answer
            time.sleep(6)
        raise AssertionError(f"sign-in at {path} stayed rate limited")

    page = patiently(lambda: browser.get(f"{base}{path}"))
    token = _csrf(browser, page.text)
    data = {"csrfmiddlewaretoken": token, "username": username, "password": password}
    return patiently(lambda: browser.post(f"{base}{path}{next_page}", data=data))


def _csrf_header(browser) -> dict:
    return {"X-CSRFToken": browser.cookies.get("csrftoken")}


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def test_the_container_stack_deploys_passes_the_smoke_flow_rolls_web_and_rolls_back(tmp_path):
    signal.signal(signal.SIGTERM, _interrupted)  # a stopped run tears its containers down too
    stack = Stack(tmp_path)
    printer = PrinterStandIn(host="0.0.0.0")  # the containers reach the host on their network's gateway
    printer.start()
    cleanup = ExitStack()
    try:
        cleanup.enter_context(_wheelhouse())  # every deployment builds (the rollback does not)
        started = time.monotonic()
        stack.deploy("deploy")
        step(
            f"first deployment with deploy/deploy.sh ({stack.project}, image {stack.image}:{stack.tags[0]}, "
            f"PostgreSQL {stack.env['PG_MAJOR']}): {time.monotonic() - started:.0f} s"
        )
        _wait(lambda: stack.healthy("nginx"), 60, "nginx to be healthy")
        web = stack.web()
        base = stack.base

        # Setup: the demo data, its Till 1 printing on the TCP printer stand-in, the cashier's till opened.
        gateway = _run(
            ["podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", web], stack.env
        ).stdout.strip()
        stack.exec_resolving(web, "python", "manage.py", "load_demo")
        ids = stack.django(
            "from decimal import Decimal\n"
            "from django.contrib.auth import get_user_model\n"
            "from billing import sessions\n"
            "from billing.models import Printer, Register\n"
            "from inventory.models import Location, Product, StockLevel\n"
            "from staff.models import Terminal\n"
            "harbour = Location.objects.get(code='harbour')\n"
            "register = Register.objects.get(location=harbour, name='Till 1')\n"
            "Printer.objects.filter(pk=register.printer_id).update(connection=Printer.Connection.NETWORK,"
            f" host='{gateway}', port={printer.port}, device_path='')\n"
            "sessions.open_session(register_id=register.pk,"
            " user=get_user_model().objects.get(username='cashier'), opening_float=Decimal('100.00'))\n"
            "terminal = Terminal.objects.get(location=harbour, name='Till 1')\n"
            "level = StockLevel.objects.filter(location=harbour, on_hand__gte=10,"
            " product__kind=Product.Kind.GOODS, product__active=True).select_related('product').first()\n"
            "print(harbour.pk, register.pk, terminal.pk, level.product.pk, level.product.price)"
        ).split()
        location_id, register_id, terminal_id, product_id, price = ids[-5:]
        step(f"demo data loaded; Till 1 prints to the TCP printer stand-in at {gateway}:{printer.port}")

        # 1. The sign-in page, over TLS through nginx.
        browser = _session(base)
        page = browser.get(f"{base}/accounts/login/")
        assert page.status_code == 200 and 'name="password"' in page.text
        step(f"1. login page through nginx over TLS: {page.status_code}")

        # 2. A manager signs in to the admin and creates an API client; its token is shown once.
        password = _demo_password()
        signed_in = _signed_in(browser, base, "/admin/login/", "manager", password, "?next=/admin/")
        assert signed_in.status_code == 200 and "/admin/logout/" in signed_in.text, signed_in.text[:500]
        form = browser.get(f"{base}/admin/staff/apiclient/add/")
        issued = browser.post(
            f"{base}/admin/staff/apiclient/add/",
            data={
                "csrfmiddlewaretoken": _csrf(browser, form.text),
                "name": "Online shop",
                "scope": "sell",
                "locations": [location_id],
                "expires_at": "",
            },
        )
        token = re.search(r'<code id="api-token"[^>]*>([^<]+)</code>', issued.text)
        assert token, issued.text[:1000]
        step("2. a manager signed in to the admin and created an API client; its token was shown once")

        # 3. A checkout over the API with that token.
        api = _session(base)
        api.headers.update({"Authorization": f"Bearer {token.group(1)}", "Idempotency-Key": str(uuid.uuid4())})
        sale = api.post(
            f"{base}/api/v1/checkout/",
            json={
                "register": int(register_id),
                "lines": [{"product": int(product_id), "quantity": "1"}],
                "tenders": [{"tender": "cash", "tendered": f"{float(price) + 20:.2f}"}],
            },
        )
        assert sale.status_code == 201, sale.text
        api_receipt = str(sale.json()["receipt"]["number"])
        step(f"3. checkout over the API: 201, receipt {api_receipt}")

        # 4. A sale on the POS screen: the manager pairs this browser as Till 1, the cashier sells on it.
        till = _session(base)
        _signed_in(till, base, "/accounts/login/", "manager", password)
        paired = till.post(
            f"{base}/pos/pair/direct/",
            data={"terminal": terminal_id},
            headers=_csrf_header(till),
            allow_redirects=False,
        )
        assert paired.status_code == 302 and "tillhouse_terminal" in till.cookies, paired.text[:500]
        till.post(f"{base}/accounts/logout/", headers=_csrf_header(till))
        _signed_in(till, base, "/accounts/login/", "cashier", password)
        opened = till.post(
            f"{base}/pos/orders/new/", data={"channel": "retail"}, headers=_csrf_header(till), allow_redirects=False
        )
        assert opened.status_code == 302 and "/pos/orders/" in opened.headers["Location"], opened.text[:500]
        order_path = opened.headers["Location"].split("?")[0].rstrip("/")
        added = till.post(
            f"{base}{order_path}/lines/",
            data={"product": product_id},
            headers={**_csrf_header(till), "HX-Request": "true", "Idempotency-Key": str(uuid.uuid4())},
        )
        assert added.status_code == 200, added.text[:500]
        pay_page = till.get(f"{base}{order_path}/pay/")
        assert pay_page.status_code == 200, pay_page.text[:500]
        key = re.search(r'name="key" value="([^"]+)"', pay_page.text).group(1)
        paid = till.post(
            f"{base}{order_path}/pay/",
            data={"key": key, "rows": "1", "tender_0": "cash", "amount_0": f"{float(price) + 20:.2f}"},
            headers=_csrf_header(till),
            allow_redirects=False,
        )
        assert paid.status_code == 302, paid.text[:1000]
        order_uuid = order_path.rsplit("/", 1)[1]
        pos_receipt = stack.django(
            f"from billing.models import Receipt; print(Receipt.objects.get(order__uuid='{order_uuid}').number)"
        ).split()[-1]
        step(
            f"4. a sale on the POS screen (Till 1 paired by the manager, the cashier signed in): receipt {pos_receipt}"
        )

        # 5. The worker prints both receipts on the TCP printer stand-in.
        _wait(
            lambda: (
                api_receipt in bytes(printer.received).decode("cp437", "replace")
                and pos_receipt in bytes(printer.received).decode("cp437", "replace")
            ),
            90,
            lambda: (
                "the receipts to print: "
                + stack.django(
                    "from billing.models import PrintJob\n"
                    "print(list(PrintJob.objects.values_list('status', 'last_error')))"
                )
            ),
        )
        step(f"5. the worker printed both receipts on the TCP printer stand-in ({len(printer.received)} bytes)")

        # 6. A backup taken and verified by the worker, from the "Back up now" button (/health counts on one).
        page = browser.get(f"{base}/ops/backups/")
        started_backup = browser.post(
            f"{base}/ops/backups/run/", data={"csrfmiddlewaretoken": _csrf(browser, page.text)}
        )
        assert started_backup.status_code == 200
        verified = (
            "from ops.models import BackupRecord; print(BackupRecord.objects.filter("
            "status=BackupRecord.Status.SUCCEEDED, verified_at__isnull=False).count())"
        )
        _wait(lambda: stack.django(verified).split()[-1] != "0", 180, "the backup to be taken and verified")
        step("6. backup taken and verified in the worker (ops/backups: Back up now)")

        # 7. /health: 200 with every check passing, for the monitor holding the token. The integrity check runs
        # nightly from beat; a new installation has not had one yet, so it is run once here, as an operator would.
        # 7. WAL archived by pgBackRest in the db container: after deploy.sh's check (before the migrations), the
        # segment holding the sales is switched by pgBackRest's own check and found in the encrypted repository on
        # its volume. (How many archive_timeout pushed meanwhile is printed, not asserted: on a machine where
        # PostgreSQL's timed wake-ups do not happen it pushes none, and /health's lag shows it; docs/RUNBOOK.md.)
        (db,) = stack.ids("db")
        sql = "SELECT archived_count, failed_count, pg_walfile_name(pg_current_wal_lsn()) FROM pg_stat_archiver"
        psql = ["psql", "-U", "tillhouse", "-d", "postgres", "-Atc", sql]
        archived, failed, current = stack.exec(db, *psql, user="postgres").stdout.strip().split("|")
        stack.exec(db, "pgbackrest", "check", user="postgres")
        # the first full backup, as an operator takes it after the first deployment (then beat, weekly): through the
        # db server (PITR_PGBACKREST_VIA=sql), from the web container; /health warns until there is one
        stack.exec_resolving(web, "python", "manage.py", "pitr", "backup", "--type", "full")
        info = json.loads(stack.exec(db, "pgbackrest", "info", "--output=json", user="postgres").stdout)[0]
        (archive,) = info["archive"]
        assert archive["max"] >= current and info["repo"][0]["cipher"] == "aes-256-cbc", (current, info)
        # (beat may have taken one already: with none yet, its first nightly run does)
        assert "full" in [backup["type"] for backup in info["backup"]], info["backup"]
        step(
            f"7. WAL archived with pgBackRest in the db container: {archived} segment(s) pushed before the sales' "
            f"check ({failed} failed pushes), check passed, stanza {info['name']}, segments {archive['min']} to "
            f"{archive['max']} (the sales' {current} among them) in the encrypted repository (aes-256-cbc); a full "
            "backup taken through the db server"
        )

        # 8. /health: 200 with every check passing, for the monitor holding the token. The integrity check runs
        # nightly from beat; a new installation has not had one yet, so it is run once here, as an operator would.
        stack.exec_resolving(web, "python", "manage.py", "integrity_check")
        health = api.get(f"{base}/health", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        report = health.json()
        not_passing = {key: c[0] for key, c in report["checks"].items() if c[0]["status"] != "pass"}
        assert health.status_code == 200 and report["status"] == "pass", not_passing
        (lag,) = report["checks"]["pitr:archiveLag"]
        newest = re.search(r"newest archived WAL (\w+)", lag["output"]).group(1)
        assert newest >= archive["max"], (lag, archive)
        page = browser.get(f"{base}/ops/backups/")
        assert 'data-pitr="green"' in page.text and newest[:24] in page.text, page.text[:2000]
        step(
            f"8. /health through nginx: {health.status_code}, pass, {len(report['checks'])} checks; "
            f"pitr:archiveLag {lag.get('observedValue')} s, newest archived WAL {newest} (also on /ops/backups/)"
        )

        # 9. /metrics: refused without the token, served with it, inside the compose network (nginx never serves it).
        fetch = (
            "import sys, urllib.request, urllib.error\n"
            "headers = dict(a.split(': ', 1) for a in sys.argv[1:])\n"
            "request = urllib.request.Request('http://127.0.0.1:8000/metrics', headers=headers)\n"
            "try:\n    answer = urllib.request.urlopen(request, timeout=10)\n"
            "    print(answer.status, answer.read().decode())\n"
            "except urllib.error.HTTPError as error:\n    print(error.code)\n"
        )
        refused = stack.exec(web, "python", "-c", fetch).stdout.split()[0]
        served = stack.exec(web, "python", "-c", fetch, f"Authorization: Bearer {METRICS_TOKEN}").stdout
        assert refused == "403", refused
        assert served.startswith("200") and "process_resident_memory_bytes" in served, served[:500]
        assert browser.get(f"{base}/metrics").status_code == 404
        step(
            "9. /metrics in the web container: 403 without the token, 200 with it (process_resident_memory_bytes); "
            "404 through nginx"
        )

        # 10. Exactly one beat, and it schedules: the print sweep it sends every 2 s reaches the worker.
        beats, workers = stack.ids("beat"), stack.ids("worker")
        assert len(beats) == 1 and len(workers) == 1, (beats, workers)
        _wait(lambda: "billing.sweep_print_jobs" in stack.logs(workers[0]), 60, "the beat's sweep to reach the worker")
        assert stack.logs(beats[0]).count("beat: Starting") == 1
        step("10. one beat container runs; its scheduled print sweep reached the worker")

        # 11. A second deployment under steady load through nginx: web rolls with no failed request.
        load = Load(f"{base}/health/live")
        load.start()
        time.sleep(2)
        started = time.monotonic()
        stack.steps.append(f"web before: {stack.ip(web)}")
        stack.deploy("deploy", TILLHOUSE_TAG=stack.tags[1])
        stack.steps.append(f"web after: {stack.ip(stack.web())}")
        rolled_in = time.monotonic() - started
        time.sleep(3)
        load.stop()
        new_web = stack.web()
        image = _run(["podman", "inspect", "-f", "{{.ImageName}}", new_web], stack.env).stdout.strip()
        assert new_web != web and image.endswith(f":{stack.tags[1]}"), (web, new_web, image)
        assert load.ok > 50 and load.failed == [], (load.ok, load.failed[:10])
        step(
            f"11. rolling deployment of {stack.tags[1]} with deploy/deploy.sh ({rolled_in:.0f} s) under load on "
            f"/health/live through nginx: {load.ok} answered, {len(load.failed)} failed"
        )

        # 12. deploy.sh rollback: back to the previous image, web rolled again.
        load = Load(f"{base}/health/live")
        load.start()
        stack.deploy("rollback", TILLHOUSE_TAG="")
        load.stop()
        back = stack.web()
        image = _run(["podman", "inspect", "-f", "{{.ImageName}}", back], stack.env).stdout.strip()
        assert image.endswith(f":{stack.tags[0]}"), image
        assert (Path(stack.env["DEPLOY_STATE_DIR"]) / "current").read_text().strip() == stack.tags[0]
        assert load.failed == [], load.failed[:10]
        assert browser.get(f"{base}/accounts/login/").status_code in {200, 429}
        step(
            f"12. deploy.sh rollback: web runs {image} again ({load.ok} answered, {len(load.failed)} failed meanwhile)"
        )

        # 13. Point-in-time restore with compose, as docs/RUNBOOK.md gives it (deploy/restore-to.sh), from step 7's
        # full backup: a sale, the instant, a second sale;
        # restored to the instant, the database has the first sale and not the second, and the next receipt is
        # numbered above the second one (the counters continued past every number issued).
        def api_sale() -> int:
            answer = api.post(
                f"{base}/api/v1/checkout/",
                headers={"Idempotency-Key": str(uuid.uuid4())},
                json={
                    "register": int(register_id),
                    "lines": [{"product": int(product_id), "quantity": "1"}],
                    "tenders": [{"tender": "cash", "tendered": f"{float(price) + 20:.2f}"}],
                },
            )
            assert answer.status_code == 201, answer.text
            return int(answer.json()["receipt"]["number"])

        (db,) = stack.ids("db")
        before = api_sale()
        time.sleep(1.2)
        now_sql = "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
        instant = stack.exec(db, "psql", "-U", "tillhouse", "-d", "postgres", "-Atc", now_sql, user="postgres")
        instant = instant.stdout.strip() + "+00:00"
        time.sleep(1.5)
        after = api_sale()
        started = time.monotonic()
        stack.deploy("restore-to", instant, "--yes")
        took = time.monotonic() - started
        numbers = stack.django(
            "from billing.models import Receipt\n"
            f"print(sorted(Receipt.objects.filter(register_id={register_id}, number__in=[{before}, {after}])"
            ".values_list('number', flat=True)))"
        )
        assert numbers.splitlines()[-1] == f"[{before}]", (numbers, before, after)  # after the shell's own lines
        next_one = api_sale()
        assert next_one > after, (next_one, after)
        step(
            f"13. deploy/restore-to.sh to {instant} ({took:.0f} s): "
            f"receipt {before} (before it) is there, {after} (after it) is not; the next sale got {next_one}"
        )
    except BaseException:
        for service in ("web", "worker"):
            for container in stack.ids(service):
                print(f"--- {service} {container} logs (tail)\n{stack.logs(container)[-3000:]}", flush=True)
        for container in stack.ids("nginx"):  # its errors, the access log's failures (those of the load: 8 a time)
            lines = [
                line
                for line in stack.logs(container).splitlines()
                if "[error]" in line or "[emerg]" in line or "[notice]" in line or '"status":5' in line
            ]
            print(f"--- nginx errors and 5xx ({len(lines)})\n" + "\n".join([*lines[:40], "...", *lines[-40:]]))
        print("--- deploy.sh steps\n" + "\n".join(stack.steps), flush=True)
        raise
    finally:
        printer.stop()
        cleanup.close()
        with suppress(Exception):
            stack.down()
            step(f"torn down: containers, volumes and network of {stack.project}")
        shutil.rmtree(tmp_path / "certs", ignore_errors=True)
