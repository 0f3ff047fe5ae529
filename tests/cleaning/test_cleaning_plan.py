"""plan_rebuild on hand-made states: which months a run rebuilds, and why. No Spark."""

from __future__ import annotations

from flightpipe.silver.plan import (
    CONFIG_CHANGED,
    FULL_REFRESH,
    NO_STATE,
    REFERENCE_CHANGED,
    STATE_VERSION,
    files_to_scan,
    next_file_state,
    path_of,
    plan_rebuild,
)

FP = "fingerprint-1"
REF = ["bronze/airports/a.parquet|10|1"]
WX = ["bronze/weather/w.parquet|20|1"]
JAN = "/b/flights/flight_date=2013-01-01/part-0.parquet|100|1000"
MAR = "/b/flights/flight_date=2013-03-10/part-0.parquet|200|1000"
BATCH = "/b/flights_batch/source_format=nycflights13/part-0.parquet|300|1000"


def previous(files: dict[str, list[list[int]]]) -> dict:
    return {
        "version": STATE_VERSION,
        "config": FP,
        "reference_files": REF,
        "weather_files": WX,
        "files": files,
    }


STATE = previous({JAN: [[2013, 1]], MAR: [[2013, 3]], BATCH: [[2013, 1], [2013, 3], [2013, 11]]})
NOW = {JAN, MAR, BATCH}


def plan(state=STATE, files_now=NOW, new_months=None, **kw):
    args = {"fingerprint": FP, "reference_files": REF, "weather_files": WX, **kw}
    return plan_rebuild(state, files_now, new_months or {}, **args)


def test_first_run_rebuilds_everything():
    p = plan(state={})
    assert p.full and p.reasons == (NO_STATE,)
    assert p.month_set is None and p.weather_changed and not p.unchanged


def test_nothing_changed():
    p = plan()
    assert not p.full and p.month_set == set() and not p.weather_changed
    assert p.unchanged
    assert files_to_scan(STATE, NOW) == set()


def test_one_new_file_rebuilds_its_months():
    new = "/b/flights/flight_date=2013-02-01/part-0.parquet|50|2000"
    assert files_to_scan(STATE, NOW | {new}) == {new}
    p = plan(files_now=NOW | {new}, new_months={new: {(2013, 2)}})
    assert not p.full and p.month_set == {(2013, 2)}
    assert p.months == {(2013, 2): (f"new file {path_of(new)}",)}
    assert p.new_files == {path_of(new)} and not p.changed_files and not p.removed_files
    assert not p.unchanged


def test_a_new_file_without_rows_rebuilds_nothing():
    empty = "/b/flights/part-9.parquet|0|2000"
    p = plan(files_now=NOW | {empty})
    assert p.month_set == set() and p.unchanged
    assert p.new_files == {path_of(empty)}


def test_one_changed_file_rebuilds_its_old_and_new_months():
    # The batch file rewritten: it held January, March and November, now March and December.
    rewritten = BATCH.replace("|300|1000", "|310|3000")
    p = plan(files_now={JAN, MAR, rewritten}, new_months={rewritten: {(2013, 3), (2013, 12)}})
    assert p.month_set == {(2013, 1), (2013, 3), (2013, 11), (2013, 12)}
    why = f"changed file {path_of(BATCH)}"
    assert all(reasons == (why,) for reasons in p.months.values())
    assert p.changed_files == {path_of(BATCH)} and not p.new_files and not p.removed_files


def test_one_removed_file_rebuilds_its_months():
    p = plan(files_now={JAN, BATCH})
    assert p.month_set == {(2013, 3)}
    assert p.months == {(2013, 3): (f"removed file {path_of(MAR)}",)}
    assert p.removed_files == {path_of(MAR)}


def test_new_and_removed_files_add_up_with_reasons_per_month():
    late = "/b/flights/flight_date=2013-01-02/part-0.parquet|70|2000"
    no_date = "/b/flights_batch/source_format=bts/part-0.parquet|80|2000"
    p = plan(files_now={MAR, BATCH, late, no_date}, new_months={late: {(2013, 1)}, no_date: {(0, 0)}})
    assert p.month_set == {(2013, 1), (0, 0)}
    assert p.months[(2013, 1)] == (f"new file {path_of(late)}", f"removed file {path_of(JAN)}")
    assert p.months[(0, 0)] == (f"new file {path_of(no_date)}",)


def test_config_fingerprint_changed_rebuilds_everything():
    p = plan(fingerprint="fingerprint-2")
    assert p.full and p.reasons == (CONFIG_CHANGED,) and p.month_set is None


def test_reference_files_changed_rebuilds_everything():
    p = plan(reference_files=["bronze/airports/b.parquet|11|2"])
    assert p.full and p.reasons == (REFERENCE_CHANGED,)


def test_full_refresh_and_a_missing_table():
    p = plan(full_refresh=True, tables_exist=False, silver_table="silver.flights")
    assert p.full and p.reasons == (FULL_REFRESH, "silver.flights does not exist")
    assert p.month_set is None and p.weather_changed


def test_weather_change_alone():
    p = plan(weather_files=["bronze/weather/w2.parquet|21|2"])
    assert not p.full and p.month_set == set() and p.weather_changed and not p.unchanged


def test_next_state_after_an_incremental_run():
    late = "/b/flights/flight_date=2013-01-02/part-0.parquet|70|2000"
    months = {(2013, 1)}
    processed = {JAN: {(2013, 1)}, late: {(2013, 1)}, BATCH: {(2013, 1)}}
    state = next_file_state(STATE["files"], {JAN, MAR, BATCH, late}, months, processed)
    assert state == {
        JAN: [[2013, 1]],
        MAR: [[2013, 3]],
        BATCH: [[2013, 1], [2013, 3], [2013, 11]],
        late: [[2013, 1]],
    }
