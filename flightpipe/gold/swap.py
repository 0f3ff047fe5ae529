"""Gold's atomic load: every mart staged in MariaDB, checked, then swapped in by one statement.

Each mart goes to a staging table ``<name>__stage`` (typed DDL, Spark's JDBC write in key
order, a row count against the rows the mart has, then its secondary indexes), and a single
``RENAME TABLE`` swaps every staged table in at once. A reader sees the old complete tables or
the new complete ones, never a missing or half-filled one; when anything fails the old tables
stay and the staging tables are dropped. A range refresh first copies a mart's live rows
outside the range into its staging table on the server, so only the range's rows travel from
Spark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from functools import partial

import mysql.connector
from pyspark.sql import DataFrame

from flightpipe.contracts.gold import TableSpec
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import side_by_side
from flightpipe.core.sections import Gold
from flightpipe.gold import jdbc
from flightpipe.gold.load_report import LoadReport, TableLoad, covered_seconds

# The load's lines keep the logger name they had before this module was split from jdbc.
log = logging.getLogger("flightpipe.jdbc")

STAGE_SUFFIX = "__stage"
OLD_SUFFIX = "__old"


def _copy_outside(conn, gold: Gold, spec: TableSpec, stage: str, predicate: str) -> int:
    """Copy the live rows of ``spec`` outside ``predicate`` into ``stage``, server-side; return how many."""
    if spec.name not in jdbc.table_names(conn):
        raise PipelineError(
            f"{spec.name} was dropped from {jdbc.where(gold)} during the run; run gold.py again "
            "(it then loads that table whole)."
        )
    cols = ", ".join(f"`{c}`" for c in spec.column_names)
    cur = conn.cursor()
    try:
        cur.execute(
            f"INSERT INTO `{stage}` ({cols}) SELECT {cols} FROM `{spec.name}` WHERE NOT ({predicate})"
        )
        return int(cur.rowcount)
    except mysql.connector.Error as err:
        raise jdbc.translate_error(err, gold) from None
    finally:
        cur.close()


def stage_mart(
    gold: Gold, spec: TableSpec, df: DataFrame, rows: int | None, keep: str | None, bulk: bool
) -> TableLoad:
    """Fill ``<mart>__stage`` over a connection of its own: create it, keep the live rows
    outside ``keep``, write ``df``, check its row count (``rows``, counted here when None)
    and add the secondary indexes."""
    stage = spec.name + STAGE_SUFFIX
    with jdbc.connect(gold) as conn:
        ddl = jdbc.create_table_sql(spec, stage, indexes=False)
        jdbc.execute(conn, gold, f"DROP TABLE IF EXISTS `{stage}`", ddl)
        kept = 0 if keep is None else _copy_outside(conn, gold, spec, stage, keep)
        if rows is None:
            rows = int(df.count())
        try:
            writing = time.monotonic()
            jdbc.write_stage(df.select(*spec.column_names), gold, stage, spec.primary_key, bulk)
            seconds = time.monotonic() - writing
        except Exception as exc:
            log.debug("JDBC write of %s failed", stage, exc_info=True)
            raise jdbc.write_error(exc, spec.name, gold) from None
        try:
            loaded = jdbc.count_table(conn, stage)
        except mysql.connector.Error as err:
            raise jdbc.translate_error(err, gold) from None
        if loaded != rows + kept:
            raise PipelineError(
                f"{stage} holds {loaded} rows after the load instead of {rows + kept}; "
                "the previous tables were kept."
            )
        indexing = time.monotonic()
        add_indexes = jdbc.add_indexes_sql(spec, stage)
        if add_indexes:
            jdbc.execute(conn, gold, add_indexes)
        done = TableLoad(loaded, rows, seconds, time.monotonic() - indexing, writing)
    log.info(
        "staged %-24s %9d rows, JDBC write %6.2f s, %7.0f rows/s, indexes %5.2f s%s",
        spec.name,
        done.sent,
        done.seconds,
        done.rows_per_s,
        done.index_seconds,
        f" (+{kept} kept from the live table)" if keep is not None else "",
    )
    return done


class StagedLoad:
    """One atomic load, as a context manager: :meth:`stage` fills a mart's staging table (from
    any thread, each over a connection of its own, so a mart can be staged as soon as it is
    computed), :meth:`swap` renames every staged table in at once. Leaving the block without a
    swap, by an error or a failed check, drops every staging table: the live tables stay.
    ``keep_outside`` maps a mart to the SQL of the rows its frame replaces (a range refresh):
    its live rows outside them are kept.
    """

    def __init__(self, gold: Gold, keep_outside: Mapping[str, str] | None = None) -> None:
        self.gold = gold
        self.keep_outside = dict(keep_outside or {})
        self._loads: dict[str, TableLoad] = {}
        self._staging: list[str] = []
        self._busy: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._exit = ExitStack()
        self._conn = None
        self._bulk = True

    def __enter__(self) -> StagedLoad:
        self._conn = self._exit.enter_context(jdbc.connect(self.gold))
        try:
            self._bulk = jdbc.is_mariadb(self._conn)
        except mysql.connector.Error as err:
            self._exit.close()
            raise jdbc.translate_error(err, self.gold) from None
        return self

    def __exit__(self, *exc) -> bool:
        try:
            # Every staging table is gone after a failure, whichever mart failed.
            _drop_quietly(self._conn, self._staging)
        finally:
            self._exit.close()
        return False

    def stage(self, spec: TableSpec, df: DataFrame, rows: int | None = None) -> TableLoad:
        """Stage ``df`` as ``spec``'s table; ``rows``: its row count, counted here when None."""
        with self._lock:
            self._staging.append(spec.name + STAGE_SUFFIX)
        began = time.monotonic()
        done = stage_mart(self.gold, spec, df, rows, self.keep_outside.get(spec.name), self._bulk)
        with self._lock:
            self._loads[spec.name] = done
            self._busy.append((began, time.monotonic()))
        return done

    def swap(self, names: Sequence[str]) -> LoadReport:
        """Swap the staged tables of ``names`` in by one ``RENAME TABLE``; every one must be staged."""
        missing = [n for n in names if n not in self._loads]
        if missing:
            raise PipelineError(f"{', '.join(missing)} not staged; the previous tables were kept.")
        began = time.monotonic()
        conn, gold = self._conn, self.gold
        try:
            existing = jdbc.table_names(conn)
            renames, olds = [], []
            for name in names:
                if name in existing:
                    old = name + OLD_SUFFIX
                    jdbc.execute(conn, gold, f"DROP TABLE IF EXISTS `{old}`")
                    renames.append(f"`{name}` TO `{old}`")
                    olds.append(old)
                renames.append(f"`{name}{STAGE_SUFFIX}` TO `{name}`")
            # One statement: every table is swapped at once, or none is.
            jdbc.execute(conn, gold, "RENAME TABLE " + ", ".join(renames))
            self._staging.clear()
            for old in olds:
                jdbc.execute(conn, gold, f"DROP TABLE IF EXISTS `{old}`")
        except mysql.connector.Error as err:
            raise jdbc.translate_error(err, gold) from None
        self._busy.append((began, time.monotonic()))
        report = LoadReport({name: self._loads[name] for name in names}, covered_seconds(self._busy))
        total = report.total
        log.info(
            "JDBC load of %d tables: %d rows in %.2f s of writes, %.0f rows/s; indexes %.2f s; "
            "%.1f s in all with the DDL, checks and swap",
            len(report.tables),
            total.sent,
            total.seconds,
            total.rows_per_s,
            total.index_seconds,
            report.seconds,
        )
        return report


def load_tables(
    gold: Gold,
    marts: Sequence[tuple[TableSpec, DataFrame]],
    expected: Sequence[int | None] | None = None,
    keep_outside: Mapping[str, str] | None = None,
) -> LoadReport:
    """Load every mart atomically (:class:`StagedLoad`); return rows per table and what each
    JDBC write took.

    The marts are staged side by side, each over a connection of its own: a small mart's load
    is mostly round trips (DDL, a Spark job, a count), which one after another cost gold 2-3 s
    at any size. A mart's rows are counted while it is staged when its entry of ``expected``
    (or ``expected``) is None. A staging table gets its primary key from the start but its
    secondary indexes only once its rows are in: InnoDB then builds each by one sort instead
    of a random B-tree insert per row.
    """
    if expected is None:
        expected = [None] * len(marts)
    with StagedLoad(gold, keep_outside) as load:
        side_by_side(
            [partial(load.stage, spec, df, rows) for (spec, df), rows in zip(marts, expected, strict=True)]
        )
        return load.swap([spec.name for spec, _ in marts])


def _drop_quietly(conn, tables: list[str]) -> None:
    """Best-effort removal of staging tables after a failure (the server may be gone)."""
    for table in tables:
        try:
            cur = conn.cursor()
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
            cur.close()
        except mysql.connector.Error:
            log.debug("could not drop %s", table, exc_info=True)
