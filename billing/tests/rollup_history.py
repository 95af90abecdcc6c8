"""A few days of real activity at two stores for the rollup and accounting-export tests: three days of sales and
refunds, each day's tills closed with their Z, and a fourth day ("today") with tills still open and sales on them.
Built through the services, under a clock that moves seven minutes a call (billing.tests.test_figures_property)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from billing import sessions
from billing.tests.test_figures_property import FIRST_DAY, Clock, Refund, Sale, World, _run, _sell

D = Decimal

PLAN = [
    [
        Sale(0, True, ((0, 2, 0), (3, 1, 10)), 5, False, 3, D("1.50")),
        Sale(1, True, ((1, 3, 0), (2, 1, 0)), 0, True, 4, D("0")),
        Sale(0, False, ((2, 1, 0),), 0, False, 1, D("0")),
    ],
    [
        Sale(1, False, ((0, 1, 0), (3, 2, 0)), 15, False, 2, D("1.50")),
        Refund(0, 0, 1, True),
        Refund(1, 0, 2, False),
        Sale(0, True, ((1, 2, 10),), 0, False, 0, D("0")),
    ],
    [
        Sale(0, False, ((0, 3, 0), (1, 1, 0)), 0, False, 3, D("1.50")),
        Refund(3, 1, 1, True),
        Sale(1, True, ((2, 2, 0),), 5, False, 0, D("0")),
    ],
]
TODAY = FIRST_DAY + timedelta(days=len(PLAN))


@dataclass
class History:
    world: World
    clock: Clock
    open_sessions: list[int]
    first_day: date = FIRST_DAY
    today: date = TODAY


def build(world: World, clock: Clock) -> History:
    """Run PLAN (closing each day's tills), then open today's tills and sell on them. Call under the clock."""
    _run(world, PLAN, [D("2.20"), D("3.10")], clock)
    clock.start_day(len(PLAN))
    tills = [sessions.open_session(register_id=pk, user=world.user, opening_float="50.00") for pk in world.registers]
    _sell(world, Sale(0, True, ((0, 1, 0), (1, 1, 0)), 0, False, 2, D("1.50")))
    _sell(world, Sale(1, False, ((2, 1, 0),), 0, False, 0, D("0")))
    return History(world=world, clock=clock, open_sessions=[till.pk for till in tills])
