"""Daily rollups: written when a Z is closed, read by the sales reports for whole closed days, rebuilt and checked
from the raw rows by `manage.py rebuild_rollups`."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from billing import reports, rollups, sessions
from billing.models import DailyRollup, RollupState
from billing.tests.rollup_history import History, build
from billing.tests.test_figures_property import Clock, world  # noqa: F401  (the two stores and their catalogue)

D = Decimal


@pytest.fixture
def history(world):  # noqa: F811
    clock = Clock()
    with mock.patch("django.utils.timezone.now", clock):
        yield build(world, clock)


def _through(store) -> object:
    return RollupState.objects.get(location=store).through


def test_closing_a_z_writes_its_days_rollups_and_only_past_days_with_every_till_closed_are_whole(history: History):
    for store in history.world.stores:
        days = set(
            DailyRollup.objects.filter(location=store, dimension=DailyRollup.Dimension.TOTAL).values_list(
                "day", flat=True
            )
        )
        assert days == {history.first_day + timedelta(days=n) for n in range(3)}
        # the last close was on the third day: the days before it are whole, that day could still have sold more
        assert _through(store) == history.first_day + timedelta(days=1)
    dimensions = set(DailyRollup.objects.values_list("dimension", flat=True))
    assert dimensions == set(DailyRollup.Dimension.values)


def _every_report(p: reports.Period) -> dict:
    answers = {"summary": reports.summary(p)}
    for slug in reports.REPORTS:
        answers[slug] = reports.report_rows(slug, p)
    return answers


def test_the_reports_answer_the_same_from_the_rollups_and_from_the_raw_rows(history: History):
    stores = history.world.stores
    for chosen in ([stores[0]], [stores[1]], stores):
        p = reports.period(locations=chosen, date_from=history.first_day - timedelta(days=1), date_to=history.today)
        split = reports.split(p)
        assert split.rolled is not None and split.raw, "both the rollups and the raw rows are read"
        assert _every_report(p) == _every_report(replace(p, rollups=False))


def test_the_reports_read_whole_closed_days_from_the_rollups(history: History):
    store = history.world.stores[0]
    p = reports.period(location=store, date_from=history.first_day, date_to=history.today)
    before = reports.summary(p)["sales"]
    DailyRollup.objects.filter(location=store, day=history.first_day, dimension="total").update(sales=D("1000"))

    assert reports.summary(replace(p, rollups=False))["sales"] == before
    assert reports.summary(p)["sales"] != before


def test_rebuild_rollups_check_lists_every_difference_and_fails_until_rebuilt(history: History):
    store = history.world.stores[0]
    DailyRollup.objects.filter(location=store, day=history.first_day, dimension="total").update(tips=D("99"))
    DailyRollup.objects.filter(location=store, day=history.first_day, dimension="product").first().delete()
    out = StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("rebuild_rollups", "--check", stdout=out)

    assert refused.value.returncode == 1
    listed = out.getvalue().splitlines()
    assert any(f"incl {history.first_day} total[] tips: stored 99" in line for line in listed)
    assert any(" product[" in line for line in listed)
    assert str(refused.value) == f"{len(listed)} rollup value(s) differ from the raw rows."

    call_command("rebuild_rollups", "--store", "incl", stdout=StringIO())
    out = StringIO()
    call_command("rebuild_rollups", "--check", stdout=out)
    assert "match" in out.getvalue()


def test_a_store_whose_rollups_were_never_built_reads_raw_rows_until_rebuilt(history: History):
    """As after an upgrade: older closed sessions wrote no rollups, so the next close must not call them whole."""
    stores = history.world.stores
    DailyRollup.objects.all().delete()
    RollupState.objects.all().delete()
    history.clock.start_day(5)
    for session_id in history.open_sessions:
        cents = int(sessions.expected_cash(sessions.CashSession.objects.get(pk=session_id)) * 100)
        sessions.close_session(session_id=session_id, user=history.world.user, denominations={"0.01": cents})

    assert [_through(store) for store in stores] == [None, None]
    p = reports.period(locations=stores, date_from=history.first_day, date_to=history.today)
    assert reports.split(p).rolled is None

    call_command("rebuild_rollups", stdout=StringIO())

    assert [_through(store) for store in stores] == [history.today + timedelta(days=1)] * 2
    assert rollups.differences() == []
    assert reports.split(p).raw == ()
    assert _every_report(p) == _every_report(replace(p, rollups=False))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--store", "nowhere"], "No such store: nowhere"),
        (["--from", "2025-03-12", "--to", "2025-03-10"], "--from is after --to"),
        (["--from", "12/03/2025"], "Not a day"),
    ],
)
def test_rebuild_rollups_refuses_a_bad_store_or_range(db, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("rebuild_rollups", *arguments, stdout=StringIO())
