"""What a gold load took: per mart and in total, rows, seconds and rows/s of the JDBC write.

:meth:`flightpipe.gold.swap.StagedLoad.swap` returns a :class:`LoadReport`; its :meth:`LoadReport.details`
goes into the run record (``pipeline_runs.details``), and the bench reads the rate from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


def covered_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by at least one of the (start, end) intervals: overlaps count once."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


@dataclass(frozen=True)
class TableLoad:
    """One mart's load: rows in its staged table, rows Spark's JDBC writer sent, the seconds of
    that write, and the seconds of building the secondary indexes after it (``began``: when
    the write started, on the monotonic clock)."""

    rows: int
    sent: int
    seconds: float
    index_seconds: float = 0.0
    began: float = 0.0

    @property
    def rows_per_s(self) -> float:
        """The JDBC write's rate."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def record(self) -> dict:
        return {
            "rows": self.sent,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_per_s),
            "index_seconds": round(self.index_seconds, 3),
        }


@dataclass
class LoadReport:
    """Every mart's :class:`TableLoad`, and the seconds the load was at work (staging and swap;
    the marts may be computed in between)."""

    tables: dict[str, TableLoad] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table after the swap."""
        return {name: t.rows for name, t in self.tables.items()}

    @property
    def total(self) -> TableLoad:
        """The JDBC writes together: rows sent, and the seconds during which at least one was
        running (the marts are written side by side, and in gold as each is computed; the ratio
        is the load rate)."""
        loads = list(self.tables.values())
        return TableLoad(
            sum(t.rows for t in loads),
            sum(t.sent for t in loads),
            covered_seconds((t.began, t.began + t.seconds) for t in loads),
            sum(t.index_seconds for t in loads),
        )

    def details(self) -> dict:
        """For the run record: per mart and in total, rows sent, seconds and rows/s of the JDBC write."""
        return {
            "tables": {name: t.record() for name, t in self.tables.items()},
            **self.total.record(),
            "load_seconds": round(self.seconds, 3),
        }
