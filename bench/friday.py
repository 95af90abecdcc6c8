"""How many busy stores one box serves: a Friday night in N stores, N ramped until the POS gets slow.

Prepares its own PostgreSQL database (created and migrated if needed) with as many stores as the ramp's last step,
each with: 4 tills (a register with an open cash session, a paired terminal with a receipt printer writing to a file,
a cashier signed in), 6 waiters' phones (paired, on the tills' registers, two tables each), a kitchen display
(paired, the kitchen role), a manager signed in to the back office, and a menu: 30 goods and 20 dishes cooked at
the "grill" station, all with ample stock. Then it starts gunicorn with the production settings
(deploy/gunicorn.conf.py) and a Celery worker (the receipts' print jobs) on the benchmark database, and runs locust
in its own process with bench/friday_locust.py, which models what each store does (see its docstring: tills,
waiters, kitchen display, manager, the print banner's polls) and ramps the stores step by step.

The ramp stops after the first step where POS interactions' p95 passed 100 ms, checkout's p99 passed 300 ms, or any
request failed. It prints "stores served: N" (the last step within all three), the curve (per step: stores,
requests/s, POS p95, checkout p99, failures, load average), each interaction's p50/p95/p99 at the limit, and the CPU
split over the limit step: gunicorn (master and workers), PostgreSQL (the backends connected to the benchmark
database), Redis (the whole server: it is shared with whatever else runs on the machine), the Celery worker, locust
itself, and the machine's total (so the share other work took is visible).

    .venv/bin/python bench/friday.py                          # steps 1,2,4,6,8,10,12,16,20,24 stores, 30 s each
    .venv/bin/python bench/friday.py --steps 2,4,8 --step-seconds 20
    .venv/bin/python bench/friday.py --no-etag                # polls without If-None-Match (as before the 304s)
    .venv/bin/python bench/friday.py --source /path/to/other/checkout   # serve another checkout of the code
    .venv/bin/python bench/friday.py --keep-going             # every step, past the limit: the whole curve
    .venv/bin/python bench/friday.py --profile 40             # each interaction's Django CPU and statements
    .venv/bin/python bench/friday.py --poll-cpu 50            # the board poll's server CPU, drawn and 304

Needs locust (requirements-dev.txt; `make install-dev`), or --locust pointing at a locust executable.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
TILLS, WAITERS, TABLES_PER_WAITER = 4, 6, 2
CSRF_SECRET = "fridaycsrfsecret0123456789abcdef"  # 32 characters: a valid CSRF secret
GOODS, DISHES = 30, 20


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _menu() -> tuple[list[int], list[int]]:
    from inventory.models import Category, Product, TaxRate

    tax, _ = TaxRate.objects.get_or_create(name="Standard", defaults={"percent": Decimal(20)})
    shop, _ = Category.objects.get_or_create(name="Friday shop", location=None)
    grill, _ = Category.objects.get_or_create(name="Friday grill", location=None, defaults={"station": "grill"})
    for i in range(GOODS):
        Product.objects.get_or_create(
            sku=f"FRIGOOD{i:03d}",
            defaults={"name": f"Friday goods {i}", "price": Decimal("3.40") + i, "tax_rate": tax, "category": shop},
        )
    for i in range(DISHES):
        Product.objects.get_or_create(
            sku=f"FRIDISH{i:03d}",
            defaults={
                "name": f"Friday dish {i}",
                "price": Decimal("9.50") + i,
                "tax_rate": tax,
                "category": grill,
                "kind": Product.Kind.MENU_ITEM,
            },
        )
    goods = list(Product.objects.filter(sku__startswith="FRIGOOD").order_by("pk").values_list("pk", flat=True))
    dishes = list(Product.objects.filter(sku__startswith="FRIDISH").order_by("pk").values_list("pk", flat=True))
    return goods, dishes


def _signed_in(user, *, extra: dict | None = None) -> str:
    """A session of `user` signed in with the password (as the login screen leaves it): its key."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.update(extra or {})
    session.create()
    return session.session_key


def _person(username: str, role: str, location):
    from django.contrib.auth.models import Group, User

    from staff.models import StaffProfile

    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        StaffProfile.objects.get_or_create(user=user)[0].locations.add(location)
    return user


def _browser(user, terminal) -> dict:
    from staff.terminals import DEVICE_COOKIE, device_cookie_value

    key = _signed_in(user)
    return {
        "cookie": f"sessionid={key}; csrftoken={CSRF_SECRET}; {DEVICE_COOKIE}={device_cookie_value(terminal)}",
        "csrf": CSRF_SECRET,
    }


def prepare(stores: int, device_dir: str) -> dict:
    """Migrate, create what is missing for `stores` stores, sign everyone in afresh; return locust's plan."""
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from billing.models import CashSession, Printer, Register
    from inventory.models import Location, StockLevel, StockMove
    from inventory.services import StockChange, apply_stock_changes
    from orders.models import KitchenTicket, Order, Table

    call_command("migrate", verbosity=0, interactive=False)
    goods, dishes = _menu()
    printer, _ = Printer.objects.update_or_create(
        name="Friday receipts",
        defaults={"connection": Printer.Connection.FILE, "device_path": str(Path(device_dir) / "receipts")},
    )
    plan = {"stores": []}
    for n in range(stores):
        with transaction.atomic():
            location, _ = Location.objects.get_or_create(code=f"friday-{n:03d}", defaults={"name": f"Friday {n}"})
            # An earlier run stopped mid-evening leaves orders open on the tables and tickets on the board: this is
            # the benchmark's own database, so they are simply closed here, and every run starts the same.
            Order.objects.filter(location=location, status__in=[Order.Status.OPEN, Order.Status.HELD]).update(
                status=Order.Status.VOIDED
            )
            KitchenTicket.objects.filter(location=location, status=KitchenTicket.Status.NEW).update(
                status=KitchenTicket.Status.BUMPED, bumped_at=timezone.now()
            )
            stocked = set(
                StockLevel.objects.filter(
                    location=location, product_id__in=goods + dishes, on_hand__gte=100_000
                ).values_list("product_id", flat=True)
            )
            top_up = [StockChange(pk, location.pk, Decimal(1_000_000)) for pk in goods + dishes if pk not in stocked]
            if top_up:
                apply_stock_changes(top_up, reason=StockMove.Reason.PURCHASE, reference="friday bench")
            cashier_users = [_person(f"friday{n}-till{i}", "Cashier", location) for i in range(TILLS)]
            registers = []
            tills = []
            for i, user in enumerate(cashier_users):
                register, _ = Register.objects.get_or_create(location=location, name=f"Till {i + 1}")
                if not CashSession.objects.filter(register=register, status=CashSession.Status.OPEN).exists():
                    CashSession.objects.create(register=register, opened_by=user)
                registers.append(register)
                tills.append(_browser(user, _terminal(location, f"Till {i + 1}", register, printer)))
            waiters = []
            for i in range(WAITERS):
                user = _person(f"friday{n}-waiter{i}", "Waiter", location)
                phone = _terminal(location, f"Phone {i + 1}", registers[i % TILLS], printer)
                tables = [
                    Table.objects.get_or_create(location=location, name=f"{i * TABLES_PER_WAITER + t + 1}")[0].pk
                    for t in range(TABLES_PER_WAITER)
                ]
                waiters.append({**_browser(user, phone), "tables": tables})
            display = _terminal(location, "Kitchen display", None, None)
            kitchen = _browser(_person(f"friday{n}-kitchen", "Kitchen", location), display)
            manager_user = _person(f"friday{n}-manager", "Manager", location)
            manager = {"cookie": f"sessionid={_signed_in(manager_user)}; csrftoken={CSRF_SECRET}", "csrf": CSRF_SECRET}
        plan["stores"].append(
            {
                "tills": tills,
                "waiters": waiters,
                "kitchen": kitchen,
                "manager": manager,
                "goods": goods,
                "dishes": dishes,
            }
        )
    plan["prepared_at"] = timezone.now().isoformat()
    return plan


def _terminal(location, name: str, register, printer):
    from staff.models import Terminal

    terminal, _ = Terminal.objects.get_or_create(location=location, name=name)
    Terminal.objects.filter(pk=terminal.pk).update(
        register=register, printer=printer, paired_at=terminal.created_at, revoked_at=None
    )
    terminal.refresh_from_db()
    return terminal


# --- CPU, per part of the system -------------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds used: user + system)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(stat.parent.name)] = (int(fields[1]), cmdline, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _machine_busy_seconds() -> float:
    parts = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuSampler(threading.Thread):
    """Once a second, the CPU each part has used so far. A process that ends keeps the last figure seen for it
    (gunicorn recycles workers, database connections are re-made after CONN_MAX_AGE)."""

    def __init__(self, roots: dict[str, int], database: str):
        super().__init__(daemon=True)
        self.roots, self.database = roots, database
        self.seen: dict[str, dict[int, float]] = {}
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.halt = threading.Event()

    def group_of(self, pid: int, procs: dict) -> str | None:
        cmdline = procs[pid][1]
        if cmdline.startswith("redis-server"):
            return "Redis (whole server, shared)"
        if cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
            return "PostgreSQL (bench database)"
        chain, current = set(), pid
        while current in procs and current not in chain and current > 1:
            chain.add(current)
            for name, root in self.roots.items():
                if current == root:
                    return name
            current = procs[current][0]
        return None

    def sample(self) -> None:
        procs = _processes()
        for pid in procs:
            group = self.group_of(pid, procs)
            if group:
                self.seen.setdefault(group, {})[pid] = procs[pid][2]
        totals = {group: sum(by_pid.values()) for group, by_pid in self.seen.items()}
        totals["machine (all work)"] = _machine_busy_seconds()
        self.samples.append((time.time(), totals))

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(1.0)

    def between(self, started: float, ended: float) -> dict[str, float]:
        """Cores busy per part between two times (1.0 = one core all the time)."""
        first = next((s for s in self.samples if s[0] >= started), self.samples[0])
        last = next((s for s in reversed(self.samples) if s[0] <= ended), self.samples[-1])
        span = max(last[0] - first[0], 1e-9)
        return {group: (last[1].get(group, 0.0) - first[1].get(group, 0.0)) / span for group in last[1]}


def start(argv: list[str], env: dict, log, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def wait_until_up(port: int, deadline_s: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server on port {port} did not answer within {deadline_s} s")


# --- What each interaction costs: Django's CPU and statements, in this process ----------------------------------


def profile(plan: dict, rounds: int) -> list[tuple[str, float, float, float, str]]:
    """Each interaction `rounds` times through the whole middleware stack (Django's test client, in this process, on
    the benchmark database): the median CPU this process used (Python and Django; PostgreSQL's work is in its own
    process, not here) and the statements sent. CPU time, unlike wall-clock time, hardly moves with other load."""
    import statistics

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    store = plan["stores"][0]

    def browser(who: dict) -> Client:
        client = Client(HTTP_HOST="127.0.0.1")
        for part in who["cookie"].split("; "):
            name, value = part.split("=", 1)
            client.cookies[name] = value
        return client

    till, phone, display, manager = (
        browser(store["tills"][0]),
        browser(store["waiters"][0]),
        browser(store["kitchen"]),
        browser(store["manager"]),
    )
    htmx = {"HX-Request": "true", "X-CSRFToken": CSRF_SECRET}
    poll = {**htmx, "X-Background-Poll": "1"}
    results = []

    def measure(name: str, calls, expect: tuple[int, ...], note: str = "") -> None:
        cpu, statements = [], []
        for call in calls:
            if isinstance(call, tuple):  # (what prepares it, not measured; the interaction)
                call[0]()
                call = call[1]
            with CaptureQueriesContext(connection) as queries:
                started = time.process_time()
                response = call()
                cpu.append((time.process_time() - started) * 1000)
            if response.status_code not in expect:
                raise SystemExit(f"{name}: HTTP {response.status_code}, not {expect}: {response.content[:300]!r}")
            statements.append(len(queries))
        results.append(
            (name, statements and statistics.median(cpu), statistics.median(statements), max(statements), note)
        )

    def open_order(client, body) -> str:
        return client.post("/pos/orders/new/", body, headers=htmx)["Location"]

    goods, dishes = store["goods"], store["dishes"]
    orders = [open_order(till, {"channel": "retail"}) for _ in range(rounds)]
    measure("open order", [lambda: till.post("/pos/orders/new/", {"channel": "retail"}, headers=htmx)] * rounds, (302,))
    measure("order screen", [lambda o=o: till.get(o) for o in orders], (200,))
    adds = [
        lambda o=o, n=n: till.post(o + "lines/", {"product": goods[n % len(goods)]}, headers=htmx)
        for o in orders
        for n in range(3)
    ]
    measure("add line (order of 1-3 lines)", adds, (200,))
    big = orders[0]
    for n in range(12):
        till.post(big + "lines/", {"product": goods[(n + 3) % len(goods)]}, headers=htmx)
    adds = [
        lambda n=n: till.post(big + "lines/", {"product": goods[n % len(goods)]}, headers=htmx) for n in range(rounds)
    ]
    measure("add line (order of 15 lines)", adds, (200,))
    measure("pay screen", [lambda o=o: till.get(o + "pay/") for o in orders], (200,))

    def checkout(order: str, tender: str):
        screen = till.get(order + "pay/").content.decode()
        key = screen.split('name="key" value="', 1)[1].split('"', 1)[0]
        due = Decimal(screen.split('name="due" value="', 1)[1].split('"', 1)[0])
        amount = (due // 10 + 1) * 10 if tender == "cash" else due
        body = {"key": key, "rows": 1, "tender_0": tender, "amount_0": f"{amount:.2f}"}
        return lambda: till.post(order + "pay/", body, headers=htmx)

    paid = [checkout(o, ("card", "cash")[n % 2]) for n, o in enumerate(orders)]
    receipts = []

    def pay_and_keep(call):
        response = call()
        receipts.append(response.headers.get("HX-Redirect"))
        return response

    measure("checkout (card or cash)", [lambda c=c: pay_and_keep(c) for c in paid], (200,))
    measure("receipt", [lambda r=r: till.get(r) for r in receipts], (200,))

    tables = store["waiters"][0]["tables"]
    table_order = open_order(phone, {"channel": "dine_in", "table": tables[0], "guest_count": 2})

    def send_one(n: int):
        add = lambda: phone.post(table_order + "lines/", {"product": dishes[n % len(dishes)]}, headers=htmx)  # noqa: E731
        return add, lambda: phone.post(table_order + "send/", headers=htmx)

    measure("send to kitchen", [send_one(n) for n in range(rounds)], (200,))

    def polled(client, path: str, *, etag: bool):
        tag = client.get(path, headers=poll).get("ETag", "")  # a server without conditional polls sends none
        return lambda: client.get(path, headers={**poll, "If-None-Match": tag} if etag else poll)

    # Polls drawn in full. What a 304 saves is measured on the server (--poll-cpu): here, in one process, a request
    # with an If-None-Match header measured cheaper even where no view reads it.
    measure("poll: print banner (empty)", [polled(till, "/pos/print-problems/", etag=False)] * rounds, (200,))
    tickets = display.get("/pos/kitchen/board/", headers=poll).content.decode().count("data-ticket=")
    board = polled(display, "/pos/kitchen/board/", etag=False)
    measure(f"poll: kitchen board ({tickets} tickets)", [board] * rounds, (200,))
    measure("manager: sales report", [lambda: manager.get("/reports/")] * max(3, rounds // 5), (200,))
    return results


def poll_cpu(args, plan: dict, server_env: dict, work: Path) -> None:
    """The server's own CPU (gunicorn's master and workers, from /proc) for the kitchen board's poll with 40 tickets
    up, drawn and answered 304, in alternating batches of sequential requests over one keep-alive connection."""
    import http.client

    from django.contrib.auth.models import User

    from inventory.models import Location
    from orders import services

    store = plan["stores"][0]
    waiter = User.objects.get(username="friday0-waiter0")
    location_id = Location.objects.get(code="friday-000").pk
    for _ in range(40):
        order = services.open_order(location_id=location_id, user=waiter, channel="takeaway")
        services.add_lines(order.pk, user=waiter, lines=[services.NewLine(product_id=store["dishes"][0])])
        services.send_to_kitchen(order.pk, user=waiter)
    with open(work / "server.log", "w") as log:
        venv = ROOT / ".venv/bin"
        server = start(
            [str(venv / "gunicorn"), "-c", str(args.source / "deploy/gunicorn.conf.py"), "posproject.wsgi"],
            server_env,
            log,
            args.source,
        )
        try:
            wait_until_up(args.port)
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
            headers = {"Cookie": store["kitchen"]["cookie"], "HX-Request": "true", "X-Background-Poll": "1"}

            def get(extra: dict) -> http.client.HTTPResponse:
                conn.request("GET", "/pos/kitchen/board/", headers={**headers, **extra})
                response = conn.getresponse()
                response.read()
                return response

            etag = get({}).getheader("ETag") or ""
            for _ in range(30):  # warm every worker
                get({})
            used = {"drawn": [0.0, 0], "If-None-Match": [0.0, 0]}
            for _ in range(4):
                for name, extra in (("drawn", {}), ("If-None-Match", {"If-None-Match": etag})):
                    before = _tree_cpu(server.pid)
                    statuses = {get(extra).status for _ in range(args.poll_cpu)}
                    used[name][0] += _tree_cpu(server.pid) - before
                    used[name][1] += args.poll_cpu
                    used[name].append(statuses)
        finally:
            stop(server)
    print(f"\nkitchen board with 40 tickets, sequential polls; load average {os.getloadavg()[0]:.1f}")
    for name, (cpu, count, *statuses) in used.items():
        print(f"  {name:<14} server CPU per poll {cpu * 1000 / count:6.1f} ms  (answers {set().union(*statuses)})")


def _tree_cpu(root: int) -> float:
    procs = _processes()
    return sum(cpu for pid, (parent, _, cpu) in procs.items() if root in (pid, parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_friday")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="cache and Celery broker")
    parser.add_argument("--steps", default="1,2,4,6,8,10,12,16,20,24", help="stores at each step of the ramp")
    parser.add_argument("--step-seconds", type=float, default=30)
    parser.add_argument("--settle-seconds", type=float, default=8, help="not counted at the start of each step")
    parser.add_argument("--port", type=int, default=8281)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: its config's)")
    parser.add_argument("--keep-going", action="store_true", help="run every step, past the limit (the whole curve)")
    parser.add_argument("--no-etag", action="store_true", help="polls send no If-None-Match")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout of the code gunicorn serves")
    parser.add_argument("--locust", default=None, help="the locust executable (default: the virtualenv's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--poll-cpu", type=int, metavar="N", default=0, help="only the board poll's server CPU")
    parser.add_argument("--profile", type=int, metavar="ROUNDS", default=0, help="only each interaction's CPU")
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(",")]
    locust = args.locust or shutil.which("locust") or str(ROOT / ".venv/bin/locust")
    if not args.profile and not args.poll_cpu and not Path(locust).exists():
        sys.exit("locust is needed: `make install-dev` (requirements-dev.txt), or --locust PATH")

    work = Path(tempfile.mkdtemp(prefix="bench-friday-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "posproject.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "False",
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
        "LOG_LEVEL": "WARNING",
        "PRINTER_DEVICE_DIRS": str(work),
        "STATIC_ROOT": str(work / "static"),  # the pages name their scripts through the production manifest
    }
    ensure_database(args.database_url)
    setup_django(env)
    print(f"preparing {max(steps)} stores ...", flush=True)
    plan = prepare(max(steps), str(work))
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    if args.profile:
        print(f"\neach interaction {args.profile} times, in this process; load average {os.getloadavg()[0]:.1f}")
        print(f"{'interaction':<30} {'CPU ms':>7} {'statements':>10} {'max':>4}")
        for name, cpu, statements, most, note in profile(plan, args.profile):
            print(f"{name:<30} {cpu:>7.1f} {statements:>10.0f} {most:>4}  {note}")
        shutil.rmtree(work, ignore_errors=True)
        return 0
    (work / "plan.json").write_text(json.dumps(plan))
    out = work / "steps.jsonl"

    server_env = {
        **os.environ,
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prom"),
    }
    if args.workers:
        server_env["WEB_CONCURRENCY"] = str(args.workers)
    if args.poll_cpu:
        poll_cpu(args, plan, server_env, work)
        shutil.rmtree(work, ignore_errors=True)
        return 0
    venv = ROOT / ".venv/bin"
    with open(work / "server.log", "w") as log:
        server = start(
            [str(venv / "gunicorn"), "-c", str(args.source / "deploy/gunicorn.conf.py"), "posproject.wsgi"],
            server_env,
            log,
            args.source,
        )
        worker = start(
            [str(venv / "celery"), "-A", "posproject", "worker", "--concurrency", "1", "--loglevel", "WARNING"],
            server_env,
            log,
            args.source,
        )
        try:
            wait_until_up(args.port)
            locust_env = {
                **os.environ,
                "FRIDAY_PLAN": str(work / "plan.json"),
                "FRIDAY_STEPS": ",".join(map(str, steps)),
                "FRIDAY_STEP_SECONDS": str(args.step_seconds),
                "FRIDAY_SETTLE_SECONDS": str(args.settle_seconds),
                "FRIDAY_OUT": str(out),
                "FRIDAY_ETAG": "0" if args.no_etag else "1",
                "FRIDAY_KEEP_GOING": "1" if args.keep_going else "0",
            }
            runner = start(
                [
                    locust,
                    "-f",
                    str(ROOT / "bench/friday_locust.py"),
                    "--headless",
                    "--host",
                    f"http://127.0.0.1:{args.port}",
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                locust_env,
                log,
                ROOT,
            )
            sampler = CpuSampler(
                {"gunicorn": server.pid, "Celery worker": worker.pid, "locust (the load)": runner.pid},
                urlparse(args.database_url).path.lstrip("/"),
            )
            sampler.start()
            runner.wait(timeout=len(steps) * args.step_seconds + 180)
            sampler.halt.set()
            sampler.join()
        finally:
            for process in (locals().get("runner"), worker, server):
                if process is not None and process.poll() is None:
                    stop(process)

    figures = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    if not figures:
        print((work / "server.log").read_text()[-3000:])
        sys.exit("locust wrote no figures")
    for step in figures:
        step["cpu"] = sampler.between(step["started"], step["ended"])
    served = 0  # the last step of the ramp before the first that passed a limit
    for step in figures:
        if step["over"]:
            break
        served = step["stores"]
    report(args, figures, served)
    if any(step["failures"] for step in figures):
        print("\nthe server's log ends with:\n" + (work / "server.log").read_text()[-4000:])
    if args.json:
        args.json.write_text(json.dumps({"served": served, "steps": figures}, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(args, figures: list[dict], served: int) -> None:
    etag = "without" if args.no_etag else "with"
    print(
        f"\nFriday night: {TILLS} tills, {WAITERS} waiters' phones, a kitchen display, a manager per store; polls"
        f" {etag} If-None-Match; {args.step_seconds:.0f} s per step ({args.settle_seconds:.0f} s not counted)"
    )
    print(f"{'stores':>6} {'req/s':>7} {'POS p95':>8} {'chk p99':>8} {'chk':>4} {'failed':>6} {'load':>5}  limit")
    for s in figures:
        print(
            f"{s['stores']:>6} {s['requests_per_s']:>7.1f} {s['pos_p95_ms']:>8.0f} {s['checkout_p99_ms']:>8.0f}"
            f" {s['checkouts']:>4} {sum(s['failures'].values()):>6} {s['load_average']:>5.1f}"
            f"  {'PASSED' if s['over'] else 'ok'}"
        )
    limit = next((s for s in figures if s["over"]), figures[-1])
    print(f"\nat {limit['stores']} stores (the limit, or the last step), each interaction:")
    print(f"{'interaction':<24} {'count':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for name, row in limit["by_name"].items():
        print(f"{name:<24} {row['count']:>6} {row['p50']:>7.0f} {row['p95']:>7.0f} {row['p99']:>7.0f}")
    if limit["failures"]:
        print(f"failed: {limit['failures']}")
    print("CPU at that step, in cores busy (the machine has", os.cpu_count(), "and was shared with other work):")
    for group, cores in sorted(limit["cpu"].items(), key=lambda kv: -kv[1]):
        print(f"  {group:<30} {cores:5.2f}")
    server = ("gunicorn", "PostgreSQL (bench database)", "Celery worker")
    per_store = sum(limit["cpu"].get(group, 0.0) for group in server) / limit["stores"]
    if per_store:
        print(
            f"the server side (gunicorn, PostgreSQL, Celery) used {per_store:.3f} cores per store: with the"
            f" {os.cpu_count()} cores to itself and no latency limit, at most {os.cpu_count() / per_store:.0f} stores"
        )
    print(f"\nstores served: {served}")


if __name__ == "__main__":
    sys.exit(main())
