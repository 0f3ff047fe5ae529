"""plan_rebuild and plan_backfill on hand-made states: which months a run rebuilds, why, and
what the state records afterwards. No Spark."""

from __future__ import annotations

from datetime import date

import pytest

from flightpipe.core.dates import DateRange, parse_range
from flightpipe.core.errors import PipelineError
from flightpipe.silver.plan import (
    CONFIG_CHANGED,
    FULL_REFRESH,
    NO_STATE,
    REFERENCE_CHANGED,
    STATE_VERSION,
    backfill_file_state,
    backfill_range,
    files_to_scan,
    next_file_state,
    path_of,
    plan_backfill,
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


# --- backfill ------------------------------------------------------------------------------
def test_a_range_touches_whole_months():
    # 2013-11-20..2014-02-03 touches November, December, January and February.
    r = DateRange(date(2013, 11, 20), date(2014, 2, 3))
    assert r.months == [(2013, 11), (2013, 12), (2014, 1), (2014, 2)]
    assert (r.first_day, r.last_day, r.widened) == (date(2013, 11, 1), date(2014, 2, 28), True)
    assert r.describe() == (
        "2013-11-20..2014-02-03: month(s) 2013-11, 2013-12, 2014-01, 2014-02 "
        "(edges widened to whole months: 2013-11-01..2014-02-28)"
    )
    march = DateRange(date(2013, 3, 1), date(2013, 3, 31))
    assert march.months == [(2013, 3)] and not march.widened
    assert march.details() == {"start": "2013-03-01", "end": "2013-03-31", "months": ["2013-03"]}
    assert DateRange(date(2012, 2, 10), date(2012, 2, 10)).last_day == date(2012, 2, 29)  # leap year


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            "2013-02-30",
            "2013-03-01",
            "--start '2013-02-30' is not a date YYYY-MM-DD; give e.g. --start 2013-03-01.",
        ),
        ("2013-03-01", "March", "--end 'March' is not a date YYYY-MM-DD; give e.g. --end 2013-03-01."),
        (
            "2013-03-02",
            "2013-03-01",
            "--start 2013-03-02 is after --end 2013-03-01; give a range with start <= end.",
        ),
        ("2013-03-01", None, "--start and --end go together; give both (YYYY-MM-DD) or neither."),
    ],
)
def test_bad_ranges_are_one_sentence(start, end, message):
    with pytest.raises(PipelineError) as failure:
        parse_range(start, end)
    assert str(failure.value) == message


def test_no_range_and_the_full_refresh_clash():
    assert parse_range(None, None) is None
    assert backfill_range("2013-03-01", "2013-03-31", False) == DateRange(date(2013, 3, 1), date(2013, 3, 31))
    with pytest.raises(
        PipelineError, match=r"^--full-refresh rebuilds every month and takes no --start/--end"
    ):
        backfill_range("2013-03-01", "2013-03-31", True)


def test_backfill_leaves_the_changes_outside_the_range_pending():
    # New: a January stream file; MAR removed; BATCH rewritten (January, March, November before,
    # January and December now). A backfill of January rebuilds January only.
    late = "/b/flights/flight_date=2013-01-02/part-0.parquet|70|2000"
    rewritten = BATCH.replace("|300|1000", "|310|3000")
    now = {JAN, late, rewritten}
    new_months = {late: {(2013, 1)}, rewritten: {(2013, 1), (2013, 12)}}
    p = plan_backfill(STATE, now, new_months, {(2013, 1)}, FP, REF)
    assert p.months == {(2013, 1)} and p.pending_full == ()
    assert p.pending == {
        (2013, 3): (f"changed file {path_of(BATCH)}", f"removed file {path_of(MAR)}"),
        (2013, 11): (f"changed file {path_of(BATCH)}",),
        (2013, 12): (f"changed file {path_of(BATCH)}",),
    }
    processed = {JAN: {(2013, 1)}, late: {(2013, 1)}, rewritten: {(2013, 1)}}
    state = backfill_file_state(STATE["files"], now, {(2013, 1)}, processed, new_months)
    # late lies in January: processed. rewritten has December rows: still new, and the old
    # BATCH stays (its March and November still to rebuild), as does the removed MAR.
    assert state == {
        JAN: [[2013, 1]],
        MAR: [[2013, 3]],
        BATCH: [[2013, 1], [2013, 3], [2013, 11]],
        late: [[2013, 1]],
    }
    # The next normal run then rebuilds what the backfill left: March, November, December and
    # January once more (the rewritten file is still new and holds January rows).
    nxt = plan(state=previous(state), files_now=now, new_months={rewritten: {(2013, 1), (2013, 12)}})
    assert nxt.month_set == {(2013, 1), (2013, 3), (2013, 11), (2013, 12)}


def test_backfill_forgets_a_removed_file_whose_months_it_rebuilt():
    p = plan_backfill(STATE, {JAN, BATCH}, {}, {(2013, 3)}, FP, REF)
    assert p.pending == {}
    state = backfill_file_state(STATE["files"], {JAN, BATCH}, {(2013, 3)}, {BATCH: {(2013, 3)}}, {})
    assert state == {JAN: [[2013, 1]], BATCH: [[2013, 1], [2013, 3], [2013, 11]]}
    assert plan(state=previous(state), files_now={JAN, BATCH}).unchanged


def test_backfill_records_a_known_file_whose_range_month_lost_its_rows():
    # BATCH's November rows are gone from what the check read (e.g. the month now empty).
    state = backfill_file_state(STATE["files"], NOW, {(2013, 11)}, {}, {})
    assert state[BATCH] == [[2013, 1], [2013, 3]]


def test_backfill_with_a_changed_config_or_airports_keeps_the_full_rebuild_pending():
    p = plan_backfill(STATE, NOW, {}, {(2013, 1)}, "fingerprint-2", ["bronze/airports/b.parquet|11|2"])
    assert p.pending_full == (CONFIG_CHANGED, REFERENCE_CHANGED) and p.pending == {}
