"""What a gold load took: per mart and in total, rows, seconds and rows/s of the JDBC write.

:func:`flightpipe.gold.jdbc.load_tables` returns a :class:`LoadReport`; its :meth:`LoadReport.details`
goes into the run record (``pipeline_runs.details``), and the bench reads the rate from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """Every mart's :class:`TableLoad`, and the seconds of the whole load (DDL, writes, checks, swap)."""

    tables: dict[str, TableLoad] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table after the swap."""
        return {name: t.rows for name, t in self.tables.items()}

    @property
    def total(self) -> TableLoad:
        """The JDBC writes together: rows sent, and the seconds from the first write's start to
        the last one's end (the marts are written side by side; the ratio is the load rate)."""
        loads = list(self.tables.values())
        span = max((t.began + t.seconds for t in loads), default=0.0) - min(
            (t.began for t in loads), default=0.0
        )
        return TableLoad(
            sum(t.rows for t in loads),
            sum(t.sent for t in loads),
            span,
            sum(t.index_seconds for t in loads),
        )

    def details(self) -> dict:
        """For the run record: per mart and in total, rows sent, seconds and rows/s of the JDBC write."""
        return {
            "tables": {name: t.record() for name, t in self.tables.items()},
            **self.total.record(),
            "load_seconds": round(self.seconds, 3),
        }
