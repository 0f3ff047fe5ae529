"""Gold refresh of a date range: which marts hold rows by date, and the SQL of a range's rows.

A mart whose grain is a date or a month gets only the rows of the range's whole months
replaced (the rest is copied from the live table on the server); every other mart sums over
all dates and is reloaded whole. Pure: no Spark, no connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flightpipe.core.dates import DateRange, month_label

# Mart -> the rows of a range, as SQL both Spark and MariaDB read (backquoted names, DATE literals).
DATE_GRAIN = {
    "delay_by_airport_month": "(`year` * 100 + `month`) BETWEEN {first_month} AND {last_month}",
    "daily_kpis": "`flight_date` BETWEEN DATE'{first_day}' AND DATE'{last_day}'",
}


def range_predicate(mart: str, date_range: DateRange) -> str | None:
    """The rows of ``mart`` in the range's whole months; None when the mart is not by date."""
    template = DATE_GRAIN.get(mart)
    if template is None:
        return None
    (y0, m0), (y1, m1) = date_range.months[0], date_range.months[-1]
    return template.format(
        first_month=y0 * 100 + m0,
        last_month=y1 * 100 + m1,
        first_day=date_range.first_day.isoformat(),
        last_day=date_range.last_day.isoformat(),
    )


@dataclass(frozen=True)
class MartRefresh:
    """How one mart is loaded by a range run: ``predicate`` None means whole."""

    mart: str
    predicate: str | None
    why: str


def refresh_plan(
    marts: Iterable[str], existing: set[str], date_range: DateRange, database: str
) -> list[MartRefresh]:
    """Per mart: the range's rows replaced (a date grain and a live table) or a whole reload, and why."""
    months = ", ".join(month_label(m) for m in date_range.months)
    plan = []
    for mart in marts:
        predicate = range_predicate(mart, date_range)
        if predicate is None:
            plan.append(MartRefresh(mart, None, "reloads whole: its rows are not by date"))
        elif mart not in existing:
            plan.append(MartRefresh(mart, None, f"loads whole: {database}.{mart} does not exist yet"))
        else:
            plan.append(MartRefresh(mart, predicate, f"replaces the rows of {months} only"))
    return plan
