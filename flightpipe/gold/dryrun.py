"""The plan ``gold.py --dry-run`` prints: driver jar, server, login and silver checked; the swap it would make."""

from __future__ import annotations

from pyspark.sql import SparkSession

from flightpipe.contracts.gold import ALL_TABLES
from flightpipe.core import net
from flightpipe.core.dates import DateRange
from flightpipe.core.dryrun import CHECK, NOTE, READ, REPLACE, WRITE, DryRun
from flightpipe.core.settings import Settings
from flightpipe.gold import jdbc, ranges
from flightpipe.gold.stage import read_silver


def describe_gold(
    spark: SparkSession, cfg: Settings, server_pending: str = "", date_range: DateRange | None = None
) -> DryRun:
    """What ``gold.py`` would read and swap in.

    ``server_pending`` names the step that starts the server when it is not up yet (a pipeline
    dry run before ``scripts/mariadb.sh start``): its absence is then expected, not an error.
    """
    gold, database = cfg.gold, cfg.catalog.silver_database
    out = DryRun("gold")
    jdbc.check_driver_jar(cfg.spark.jars, cfg.config_file)
    where = f"{gold.host}:{gold.port}/{gold.database}"
    if server_pending and not net.port_in_use(gold.port, gold.host):
        live: dict[str, int] = {}
        out.add(CHECK, f"MariaDB {where}", f"not running now; the {server_pending} step starts it")
    else:
        live = jdbc.live_counts(gold)
        out.add(CHECK, f"MariaDB {where}", f"reachable, login of {gold.user} accepted")
    silver = read_silver(spark, database, cfg.paths.metastore_db)
    out.add(READ, f"{database}.flights", f"{silver.flights.count():,} flights")
    others = ["weather_hourly", "airports", "airlines"]
    if silver.has_model_metrics:
        others.append("model_metrics")
    out.add(READ, ", ".join(f"{database}.{t}" for t in others), "")
    names = [spec.name for spec in ALL_TABLES]
    how: dict[str, str] = {}
    if date_range is not None:
        out.add(NOTE, "range", date_range.describe())
        how = {r.mart: r.why for r in ranges.refresh_plan(names, set(live), date_range, gold.database)}
    for name in names:
        if name in live:
            why = f"{how[name]}; " if name in how else ""
            out.add(REPLACE, f"gold.{name}", f"{why}{live[name]:,} rows now, swapped in one RENAME TABLE")
        else:
            out.add(WRITE, f"gold.{name}", "created by the swap")
    out.add(REPLACE, f"{cfg.paths.reports}/index.html", "the HTML report")
    return out
