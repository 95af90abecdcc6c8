"""Prometheus metrics at /metrics: django-prometheus (requests by view, latency, database, cache) plus the business.

Business figures are computed from the database when Prometheus scrapes, by `BusinessCollector`, so they are the same
whichever worker answers. Their labels take a handful of fixed values (status, tender, kind): none grows with orders,
users or products.

With several gunicorn workers, PROMETHEUS_MULTIPROC_DIR must be set (deploy/gunicorn.conf.py wipes it at start and
marks dead workers); each scrape then sums the files every worker wrote, and adds the `process_*` metrics (memory, CPU,
open files, start time) of every live process that writes there, labelled by `pid` (`WorkerProcesses`).
"""

import hmac
import logging
import os
import re
from pathlib import Path

import prometheus_client
from django.conf import settings
from prometheus_client import CollectorRegistry, ProcessCollector, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from core.client_ip import in_networks

logger = logging.getLogger("tillhouse.metrics")

PREFIX = "tillhouse"


def _float(value) -> float:
    return float(value or 0)


class BusinessCollector:
    """Sales, orders, cash sessions, refunds and voids, low stock, print jobs, backups and restore drills."""

    def collect(self):
        up = GaugeMetricFamily(f"{PREFIX}_business_metrics_up", "1 when the business figures could be read.")
        try:
            families = list(self._families())
        except Exception as exc:
            logger.warning("business metrics unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        from django.db.models import Count, Sum

        from billing.models import CashSession, Payment, PrintJob, ReceiptEmail, Refund
        from inventory.selectors import low_stock
        from ops.integrity import last_report
        from orders.models import Order, OrderLine

        sales = CounterMetricFamily(
            f"{PREFIX}_sales_amount", "Money taken by payments, by tender (currency units).", labels=["tender"]
        )
        sales_count = CounterMetricFamily(f"{PREFIX}_sales", "Orders paid (including those refunded since).")
        for row in Payment.objects.order_by().values("tender").annotate(amount=Sum("amount")):
            sales.add_metric([row["tender"]], _float(row["amount"]))
        sales_count.add_metric([], Order.objects.filter(status__in=[Order.Status.PAID, Order.Status.REFUNDED]).count())
        yield sales
        yield sales_count

        orders = GaugeMetricFamily(f"{PREFIX}_orders", "Orders by status.", labels=["status"])
        counts = dict(Order.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in Order.Status.values:
            orders.add_metric([status], counts.get(status, 0))
        yield orders

        sessions = GaugeMetricFamily(f"{PREFIX}_cash_sessions_open", "Cash sessions open now.")
        sessions.add_metric([], CashSession.objects.filter(status=CashSession.Status.OPEN).count())
        yield sessions

        refunds = Refund.objects.aggregate(n=Count("id"), amount=Sum("amount"))
        refund_count = CounterMetricFamily(f"{PREFIX}_refunds", "Refunds given.")
        refund_count.add_metric([], refunds["n"])
        refund_amount = CounterMetricFamily(f"{PREFIX}_refunds_amount", "Money refunded (currency units).")
        refund_amount.add_metric([], _float(refunds["amount"]))
        yield refund_count
        yield refund_amount

        voids = CounterMetricFamily(f"{PREFIX}_voids", "Voided orders and voided order lines.", labels=["kind"])
        voids.add_metric(["order"], Order.objects.filter(status=Order.Status.VOIDED).count())
        voids.add_metric(["line"], OrderLine.objects.filter(status=OrderLine.Status.VOIDED).count())
        yield voids

        low = GaugeMetricFamily(
            f"{PREFIX}_stock_items_below_reorder_point",
            "Stock levels (product × location) at or below the product's reorder point.",
        )
        low.add_metric([], low_stock().order_by().count())
        yield low

        jobs = GaugeMetricFamily(f"{PREFIX}_print_jobs", "Print jobs by state.", labels=["status"])
        counts = dict(PrintJob.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in PrintJob.Status.values:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs

        emails = GaugeMetricFamily(
            f"{PREFIX}_receipt_emails",
            "Receipt e-mails by state (failed: not sent again or dismissed).",
            labels=["status"],
        )
        counts = dict(
            ReceiptEmail.objects.filter(dismissed_at__isnull=True)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        for status in ReceiptEmail.Status.values:
            emails.add_metric([status], counts.get(status, 0))
        yield emails

        yield from self._backup_families()

        report = last_report()
        integrity = GaugeMetricFamily(
            f"{PREFIX}_integrity_violations", "Invariant violations found by the last integrity check."
        )
        integrity.add_metric([], report["violation_count"] if report else 0)
        yield integrity

    def _backup_families(self):
        from ops.backups.selectors import latest_drill, latest_successful_backup

        backup = latest_successful_backup()
        last = GaugeMetricFamily(
            f"{PREFIX}_backup_last_success_timestamp_seconds", "When the newest successful backup finished."
        )
        size = GaugeMetricFamily(f"{PREFIX}_backup_last_size_bytes", "Size of the newest successful backup.")
        duration = GaugeMetricFamily(
            f"{PREFIX}_backup_last_duration_seconds", "How long the newest successful backup took."
        )
        if backup is not None and backup.finished_at is not None:
            last.add_metric([], backup.finished_at.timestamp())
            size.add_metric([], _float(backup.bytes))
            duration.add_metric([], _float(backup.duration_seconds))
        else:
            last.add_metric([], 0)
        rpo = GaugeMetricFamily(
            f"{PREFIX}_backup_rpo_seconds", "The recovery point objective (BACKUP_RPO_HOURS): how old a backup may be."
        )
        rpo.add_metric([], settings.BACKUP_RPO_HOURS * 3600)
        yield last
        yield size
        yield duration
        yield rpo

        drill = latest_drill()
        result = GaugeMetricFamily(
            f"{PREFIX}_restore_drill_last_success", "1 if the newest finished restore drill passed, 0 if it failed."
        )
        when = GaugeMetricFamily(
            f"{PREFIX}_restore_drill_last_timestamp_seconds", "When the newest finished restore drill started."
        )
        rto = GaugeMetricFamily(
            f"{PREFIX}_restore_drill_last_rto_seconds", "Measured RTO: how long the newest restore drill took."
        )
        if drill is not None:
            result.add_metric([], 1 if drill.result == drill.Result.PASSED else 0)
            when.add_metric([], drill.started_at.timestamp())
            if drill.duration_seconds is not None:
                rto.add_metric([], drill.duration_seconds)
        else:  # present from the start, as the backup's: "no drill yet" is 0, so the missing-drill alert can fire
            when.add_metric([], 0)
        yield result
        yield when
        yield rto
        yield from self._pitr_families()

    def _pitr_families(self):
        """Continuous archiving: present (at 0) while PITR is off, so that the rules always find their series."""
        from django.db import connection

        from ops.backups.pitr import archive_status, forced_switches
        from ops.backups.pitr_services import latest_runs, pitr_drill_times

        enabled = GaugeMetricFamily(f"{PREFIX}_pitr_enabled", "1 when WAL archiving with pgBackRest is configured.")
        lag = GaugeMetricFamily(
            f"{PREFIX}_pitr_archive_lag_seconds",
            "How long committed work has waited outside the WAL archive (the current RPO; 0: nothing waiting).",
        )
        failing = GaugeMetricFamily(f"{PREFIX}_pitr_archive_failing", "1 while the last WAL push failed.")
        failures = CounterMetricFamily(f"{PREFIX}_pitr_archive_failures", "WAL pushes that failed (pg_stat_archiver).")
        archived = GaugeMetricFamily(
            f"{PREFIX}_pitr_archive_last_success_timestamp_seconds", "When the newest WAL segment was archived."
        )
        backups = {
            kind: GaugeMetricFamily(
                f"{PREFIX}_pitr_{kind}_backup_last_success_timestamp_seconds",
                f"When the newest successful pgBackRest {kind} backup started (0: none).",
            )
            for kind in ("full", "diff")
        }
        drill_passed = GaugeMetricFamily(
            f"{PREFIX}_pitr_drill_last_success_timestamp_seconds",
            "When the newest passing PITR drill started (0: none).",
        )
        drill_failed = GaugeMetricFamily(
            f"{PREFIX}_pitr_drill_last_failure_timestamp_seconds",
            "When the newest failing PITR drill started (0: none).",
        )
        drill_rto = GaugeMetricFamily(f"{PREFIX}_pitr_drill_last_rto_seconds", "Measured RTO of the newest PITR drill.")
        switches = CounterMetricFamily(
            f"{PREFIX}_pitr_wal_switches_forced",
            "WAL segments closed by beat's switch task (pg_switch_wal) so that committed work reached the archive.",
        )
        switched = GaugeMetricFamily(
            f"{PREFIX}_pitr_wal_switch_last_timestamp_seconds", "When beat last forced a WAL segment switch (0: never)."
        )
        enabled.add_metric([], 1 if settings.PITR_ENABLED else 0)
        status, runs = None, {}
        if settings.PITR_ENABLED:
            with connection.cursor() as cursor:
                status = archive_status(cursor)
            runs = latest_runs()
        lag.add_metric([], 0 if status is None else min(status.lag_seconds, 10**9))
        failing.add_metric([], 1 if status is not None and status.failing else 0)
        failures.add_metric([], status.failed_count if status else 0)
        archived.add_metric([], status.last_archived_at.timestamp() if status and status.last_archived_at else 0)
        for kind, family in backups.items():
            run = runs.get(kind)
            family.add_metric([], run.started_at.timestamp() if run and run.status == "succeeded" else 0)
        drills = pitr_drill_times() if settings.PITR_ENABLED else {}
        drill_passed.add_metric([], drills.get("succeeded", 0))
        drill_failed.add_metric([], drills.get("failed", 0))
        drill_rto.add_metric([], (runs.get("drill") and runs["drill"].duration_seconds) or 0)
        forced, forced_at = forced_switches() if settings.PITR_ENABLED else (0, 0.0)
        switches.add_metric([], forced)
        switched.add_metric([], forced_at)
        yield from (enabled, lag, failing, failures, archived, *backups.values(), drill_passed, drill_failed, drill_rto)
        yield from (switches, switched)


_business_registry = CollectorRegistry(auto_describe=False)
_business_registry.register(BusinessCollector())


def is_multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


_PID_IN_FILE_NAME = re.compile(r"_(\d+)\.db$")


class WorkerProcesses:
    """`process_*` metrics of every live process writing to the multiprocess directory (each gunicorn worker, on the
    same host or container as the one scraping), with a `pid` label: the multiprocess collector serves only the
    metrics the processes wrote, and the default process collector would describe the scraping worker alone."""

    def __init__(self, directory: str):
        self.directory = Path(directory)

    def pids(self) -> list[int]:
        found = {os.getpid()}
        for path in self.directory.glob("*.db"):
            match = _PID_IN_FILE_NAME.search(path.name)
            if match:
                found.add(int(match.group(1)))
        return sorted(pid for pid in found if Path(f"/proc/{pid}/stat").exists())

    def collect(self):
        families: dict[str, Metric] = {}
        for pid in self.pids():
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                merged = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from families.values()


def render_metrics() -> bytes:
    """The exposition text: process metrics (in multiprocess mode: summed over workers, and each live worker's
    `process_*` by pid) then the business ones."""
    if is_multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(WorkerProcesses(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    else:
        registry = prometheus_client.REGISTRY
    return prometheus_client.generate_latest(registry) + prometheus_client.generate_latest(_business_registry)


def scrape_allowed(request) -> bool:
    """From an address in METRICS_ALLOWED_IPS, or with `Authorization: Bearer <METRICS_BEARER_TOKEN>`.

    The address is REMOTE_ADDR itself, never a forwarded header: behind a proxy, use the token.
    """
    if settings.METRICS_BEARER_TOKEN and request.headers.get("Authorization", "").startswith("Bearer "):
        return has_metrics_token(request)
    return in_networks(request.META.get("REMOTE_ADDR", ""), settings.METRICS_ALLOWED_IPS)


def has_metrics_token(request) -> bool:
    """`Authorization: Bearer <METRICS_BEARER_TOKEN>` (never true while no token is configured)."""
    token = settings.METRICS_BEARER_TOKEN
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())
