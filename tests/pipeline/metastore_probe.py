"""Test helper: open the configured metastore, write one silver table, hold the session a while."""

from __future__ import annotations

import sys
import time

from flightpipe.core.catalog import ensure_database
from flightpipe.core.session import build_session
from flightpipe.core.settings import load_config


def main(config: str, table: str, hold_seconds: float) -> None:
    cfg = load_config(config)
    spark = build_session(cfg, f"probe-{table}")
    ensure_database(spark, "silver", cfg.paths.warehouse)
    spark.range(3).write.mode("overwrite").format("parquet").saveAsTable(f"silver.{table}")
    time.sleep(hold_seconds)
    names = sorted(r.tableName for r in spark.sql("SHOW TABLES IN silver").collect())
    print("tables:", ",".join(names))
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
