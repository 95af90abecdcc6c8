"""The locustfile of bench/friday.py: a Friday night in N stores, N ramped step by step. Run by bench/friday.py in its
own process (`locust -f bench/friday_locust.py --headless ...`), which prepares the stores and writes the plan this
file reads (FRIDAY_PLAN, a JSON file: every store's signed-in sessions at paired terminals, its tables, products).

One locust user is one store; it runs the store's people as greenlets, each with its own browser session (the
session, CSRF and paired-terminal cookies, htmx headers, an Idempotency-Key on each htmx write as static/js/pos.js
sends it):

  * 4 tills: open a quick sale, add a line every 3 s (a tap on a product), checkout after about 45 s: the payment
    screen, then card or cash (cash handed over rounded up to the next 10, so there is change), then the receipt;
  * 6 waiters on phones, two tables each: open the table, add 4 to 6 dishes (one every 6 s), send to the kitchen,
    30 s later 2 more dishes and send again; 30 s later the table pays by card at a till (the Waiter role takes no
    payments): the payment screen, the payment, the receipt; then the next table;
  * 1 kitchen display polling its board every 5 s (as templates/pos/kitchen.html does) and bumping the oldest
    ticket when more than 3 are up;
  * 1 manager opening the sales report (/reports/) every minute;
  * the print-problems banner of every open POS page (the 4 tills and 6 phones) polled every 20 s.

With FRIDAY_ETAG=1 the polls send the ETag of what they show (If-None-Match), as static/js/pos.js does; with 0 they
do not (as before the server answered 304).

After a warm-up of FRIDAY_WARMUP_SECONDS at the first step (not counted), the shape holds each step (a number of
stores) for FRIDAY_STEP_SECONDS; the first FRIDAY_SETTLE_SECONDS of a step are not counted. After each step it
writes the step's figures as a JSON line to FRIDAY_OUT and stops the ramp when POS interactions' p95 passed 100 ms,
checkout's p99 passed 300 ms, or any request failed.
"""

import itertools
import json
import os
import random
import re
import time
import uuid
from pathlib import Path

import gevent
from locust import LoadTestShape, User, constant, events, task
from locust.contrib.fasthttp import FastHttpSession

PLAN = json.loads(Path(os.environ["FRIDAY_PLAN"]).read_text())
STEPS = [int(n) for n in os.environ["FRIDAY_STEPS"].split(",")]
STEP_S = float(os.environ.get("FRIDAY_STEP_SECONDS", "30"))
SETTLE_S = float(os.environ.get("FRIDAY_SETTLE_SECONDS", "8"))
WARMUP_S = float(os.environ.get("FRIDAY_WARMUP_SECONDS", "30"))
OUT = os.environ["FRIDAY_OUT"]
ETAG = os.environ.get("FRIDAY_ETAG", "1") == "1"
KEEP_GOING = os.environ.get("FRIDAY_KEEP_GOING", "0") == "1"  # the whole curve, past the limit

POS_P95_MS = 100.0
CHECKOUT_P99_MS = 300.0
# The POS interactions a person waits for (the checkout itself is judged on its own p99).
POS_INTERACTIONS = ("open order", "order screen", "add line", "send to kitchen", "pay screen", "receipt", "bump")
CHECKOUT = "checkout"

RECORDS: list[tuple[float, str, float, str]] = []  # (finished at, name, ms, the failure or "")
_store_numbers = itertools.count()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kwargs):
    RECORDS.append((time.time(), name, response_time, "" if exception is None else str(exception)[:120]))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class Browser:
    """One person's browser: the cookies of a signed-in session at a paired terminal, htmx's headers."""

    def __init__(self, user: User, who: dict):
        self.http = FastHttpSession(user.host, request_event=user.environment.events.request, user=user)
        self.cookie = who["cookie"]
        self.csrf = who["csrf"]
        self.etags: dict[str, str] = {}

    def headers(self, *, write: bool = False, extra: dict | None = None) -> dict:
        headers = {"Cookie": self.cookie, "HX-Request": "true", "Referer": self.http.base_url + "/pos/"}
        if write:
            headers.update(
                {
                    "X-CSRFToken": self.csrf,
                    "Origin": self.http.base_url,
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Idempotency-Key": str(uuid.uuid4()),
                }
            )
        headers.update(extra or {})
        return headers

    def get(self, path: str, name: str, *, htmx: bool = True, extra: dict | None = None):
        headers = self.headers(extra=extra)
        if not htmx:
            headers.pop("HX-Request")
        with self.http.get(path, name=name, headers=headers, allow_redirects=False, catch_response=True) as r:
            if r.status_code not in (200, 304):
                r.failure(f"HTTP {r.status_code}")
            return r

    def post(self, path: str, name: str, body: str, *, expect=(200,)):
        with self.http.post(
            path, name=name, data=body, headers=self.headers(write=True), allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code not in expect:
                said = re.search(r'class="error-box"[^>]*>([^<]+)', r.text or "")
                sent_to = r.headers.get("HX-Redirect")  # e.g. the lock screen of a terminal left idle too long
                told = said.group(1).strip() if said else f"sent to {sent_to}" if sent_to else (r.text or "")[:120]
                r.failure(f"HTTP {r.status_code}: {told}")
            return r

    def poll(self, path: str, name: str):
        """A background poll, with the ETag of what the panel shows when FRIDAY_ETAG is on."""
        extra = {"X-Background-Poll": "1"}
        if ETAG and self.etags.get(path):
            extra["If-None-Match"] = self.etags[path]
        r = self.get(path, name, extra=extra)
        if r.status_code == 200:
            self.etags[path] = r.headers.get("ETag") or ""
        return r


def open_order(b: Browser, body: str, name: str = "open order") -> str | None:
    """The floor's open form (hx-boost: a 302 the browser follows), then the order screen."""
    r = b.post("/pos/orders/new/", name, body, expect=(302,))
    location = r.headers.get("Location") or ""
    if r.status_code != 302 or "/pos/orders/" not in location:
        return None
    path = "/pos/orders/" + location.split("/pos/orders/", 1)[1]
    b.get(path, "order screen", htmx=False)
    return path


def pay(b: Browser, order_path: str, tender: str) -> None:
    screen = b.get(order_path + "pay/", "pay screen", htmx=False)
    if screen.status_code != 200:
        return
    text = screen.text or ""
    key = re.search(r'name="key" value="([^"]+)"', text)
    due = re.search(r'name="due" value="([0-9.]+)"', text)
    if not key or not due:
        screen.failure("the payment screen has no key or amount due")
        return
    amount = float(due.group(1))
    if tender == "cash":  # handed over rounded up to the next 10: change is due
        amount = (int(amount // 10) + 1) * 10
    body = f"key={key.group(1)}&rows=1&tender_0={tender}&amount_0={amount:.2f}"
    r = b.post(order_path + "pay/", CHECKOUT, body)
    receipt = r.headers.get("HX-Redirect") or ""
    if r.status_code == 200 and "/pos/receipts/" in receipt:
        b.get("/pos/receipts/" + receipt.split("/pos/receipts/", 1)[1], "receipt", htmx=False)
    elif r.status_code == 200:
        r.failure("the payment was not taken")


def banner(b: Browser) -> None:
    gevent.sleep(random.uniform(0, 20))
    while True:
        b.poll("/pos/print-problems/", "poll: print banner")
        gevent.sleep(20)


def till(b: Browser, store: dict) -> None:
    rng = random.Random()
    gevent.sleep(rng.uniform(0, 10))
    while True:
        order = open_order(b, "channel=retail")
        if order is None:
            gevent.sleep(3)
            continue
        until = time.monotonic() + rng.uniform(35, 55)  # a checkout about every 45 s
        while time.monotonic() < until:
            gevent.sleep(3)
            b.post(order + "lines/", "add line", f"product={rng.choice(store['goods'])}")
        pay(b, order, rng.choice(("card", "cash")))


def waiter(b: Browser, store: dict, tables: list[int], till: Browser) -> None:
    rng = random.Random()
    gevent.sleep(rng.uniform(0, 30))
    for table in itertools.cycle(tables):
        order = open_order(b, f"channel=dine_in&table={table}&guest_count=2")
        if order is None:
            gevent.sleep(5)
            continue
        for _ in range(rng.randint(4, 6)):
            gevent.sleep(6)
            b.post(order + "lines/", "add line", f"product={rng.choice(store['dishes'])}")
        b.post(order + "send/", "send to kitchen", "")
        gevent.sleep(30)
        for _ in range(2):
            gevent.sleep(6)
            b.post(order + "lines/", "add line", f"product={rng.choice(store['dishes'])}")
        b.post(order + "send/", "send to kitchen", "")
        gevent.sleep(30)
        pay(till, order, "card")  # a waiter's role takes no payments: the table is settled at a till
        gevent.sleep(5)


def kitchen(b: Browser) -> None:
    gevent.sleep(random.uniform(0, 5))
    tickets: list[str] = []
    while True:
        gevent.sleep(5)
        r = b.poll("/pos/kitchen/board/", "poll: kitchen board")
        if r.status_code == 200:
            tickets = re.findall(r'data-ticket="(\d+)"', r.text or "")
        if len(tickets) > 3:
            bumped = b.post(f"/pos/kitchen/tickets/{tickets[0]}/bump/", "bump", "")
            tickets = re.findall(r'data-ticket="(\d+)"', bumped.text or "")
            b.etags.pop("/pos/kitchen/board/", None)  # the board was drawn again by the bump


def manager(b: Browser) -> None:
    gevent.sleep(random.uniform(0, 60))
    while True:
        b.get("/reports/", "manager: sales report", htmx=False)
        gevent.sleep(60)


class Store(User):
    """A store on a Friday night: its people run as greenlets for as long as the store is in the ramp."""

    wait_time = constant(3600)

    def on_start(self):
        store = PLAN["stores"][next(_store_numbers) % len(PLAN["stores"])]
        people = []
        for who in store["tills"]:
            b = Browser(self, who)
            people += [gevent.spawn(till, b, store), gevent.spawn(banner, b)]
        for i, who in enumerate(store["waiters"]):
            b, till_browser = Browser(self, who), Browser(self, store["tills"][i % len(store["tills"])])
            people += [gevent.spawn(waiter, b, store, who["tables"], till_browser), gevent.spawn(banner, b)]
        people.append(gevent.spawn(kitchen, Browser(self, store["kitchen"])))
        people.append(gevent.spawn(manager, Browser(self, store["manager"])))
        self.people = people

    def on_stop(self):
        gevent.killall(self.people, block=False)

    @task
    def evening(self):
        gevent.sleep(3600)


def step_figures(stores: int, started: float, ended: float) -> dict:
    window = [r for r in RECORDS if started <= r[0] < ended]
    by_name: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    for _, name, ms, failure in window:
        by_name.setdefault(name, []).append(ms)
        if failure:
            failures[f"{name}: {failure}"] = failures.get(f"{name}: {failure}", 0) + 1
    pos = [ms for name in POS_INTERACTIONS for ms in by_name.get(name, [])]
    return {
        "stores": stores,
        "started": started,
        "ended": ended,
        "requests_per_s": len(window) / (ended - started),
        "pos_p95_ms": percentile(pos, 95),
        "checkout_p99_ms": percentile(by_name.get(CHECKOUT, []), 99),
        "checkouts": len(by_name.get(CHECKOUT, [])),
        "failures": failures,
        "by_name": {
            name: {
                "count": len(values),
                "p50": percentile(values, 50),
                "p95": percentile(values, 95),
                "p99": percentile(values, 99),
            }
            for name, values in sorted(by_name.items())
        },
        "load_average": os.getloadavg()[0],
    }


class Ramp(LoadTestShape):
    """STEPS stores, each held STEP_S seconds; stops after the step that passed a limit."""

    def __init__(self):
        super().__init__()
        self.done = 0
        self.stop = False

    def tick(self):
        if self.get_run_time() < WARMUP_S:  # the workers' first requests (imports, templates): not counted
            return STEPS[0], max(1, STEPS[0])
        run_time = self.get_run_time() - WARMUP_S
        step = int(run_time // STEP_S)
        while self.done < step and not self.stop:  # the step that just ended: its figures, and whether to go on
            now = time.time()
            ended = now - (run_time - self.done * STEP_S - STEP_S)
            started = ended - STEP_S + SETTLE_S
            figures = step_figures(STEPS[self.done], started, ended)
            figures["over"] = (
                figures["pos_p95_ms"] > POS_P95_MS
                or figures["checkout_p99_ms"] > CHECKOUT_P99_MS
                or bool(figures["failures"])
            )
            with open(OUT, "a") as out:
                out.write(json.dumps(figures) + "\n")
            self.done += 1
            self.stop = (figures["over"] and not KEEP_GOING) or self.done >= len(STEPS)
        if self.stop:
            return None
        stores = STEPS[step]
        return stores, max(1, stores)
