"""Flight files landed by Arrow hold exactly the rows Spark lands; any file Arrow would read
differently goes to Spark, rejected lines and all."""

from __future__ import annotations

import bz2
import re
import threading
from datetime import datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality

from flightpipe.bronze import arrow_csv
from flightpipe.bronze import slots as bronze
from flightpipe.bronze.ingest import flight_slot
from flightpipe.bronze.landing import land_slot
from flightpipe.bronze.sources import SourceFile
from flightpipe.contracts.layouts import BTS
from tests.support.bts import BTS_BAD, BTS_GOOD, BTS_HEADER, write_bts, write_bts_layout

INGESTED_AT = datetime(2026, 3, 1, 4, 5, 6)
BATCH = "ingest-20260301T040506Z-abc123"

# More good lines: a negative delay with no decimals, a diverted flight, a leading plus.
MORE_GOOD = [
    '2023,1,7,2023-01-07,"WN","N8710M",33,"LGA","New York, NY","MDW","0700","0650",-10,"0840","0829",-11,,,0.00,120.00,725.00,',
    '2023,1,7,2023-01-07,"NK","",221,"EWR","Newark, NJ","FLL","1200","1310",+70.00,"1505","",,0.00,,1.00,,1065.00,',
]
NAN_LINE = '2023,1,8,2023-01-08,"UA","N1",1,"EWR","Newark, NJ","ORD","0600","0600",nan,"0800","0800",0.00,0.00,,0.00,100.00,719.00,'
INF_LINE = '2023,1,8,2023-01-08,"UA","N2",2,"EWR","Newark, NJ","ORD","0600","0600",0.00,"0800","0800",inf,0.00,,0.00,100.00,719.00,'
QUOTED_QUOTE = '2023,1,8,2023-01-08,"UA","N3",3,"EWR","Newark ""Liberty"", NJ","ORD","0600","0600",0.00,"0800","0800",0.00,0.00,,0.00,100.00,719.00,'
PADDED_INT = BTS_GOOD[0].replace('"0515"', '" 515"')
HEX_INT = BTS_GOOD[0].replace(",1545,", ",0x10,")
TEXT_AFTER_QUOTE = BTS_GOOD[0].replace('"Newark, NJ"', '"Newark, NJ"x')
BARE_QUOTE = BTS_GOOD[0].replace('"N14228"', 'N14"228')
BACKSLASH = '2023,1,8,2023-01-08,"UA","N4",4,"EWR","Newark\\, NJ","ORD","0600","0600",0.00,"0800","0800",0.00,0.00,,0.00,100.00,719.00,'


def _land(spark, tmp_path: Path, files: list[Path], arrow: bool):
    root = tmp_path / ("arrow" if arrow else "spark")
    slot = flight_slot(BTS, [str(f) for f in files], str(root / "cache"), drift="rescue")
    writer = bronze.SlotWriter(spark, str(root / "bronze"), BATCH)
    landed = land_slot(spark, writer, slot, str(root / "bronze"), INGESTED_AT, arrow)
    writer.commit()
    folder = bronze.slot_path(str(root / "bronze"), "flights_batch", "bts")
    # Spark says why it read files Arrow was allowed to land; Arrow's files are named by the batch.
    assert bool(landed.why_spark) == (arrow and landed.reader == "spark")
    if landed.reader == "arrow":
        assert all(p.name.endswith(f"-{BATCH}.snappy.parquet") for p in Path(folder).glob("*.parquet"))
    counts = (landed.rows, landed.rejected, landed.reasons)
    return counts, spark.read.parquet(folder), landed.reader == "arrow"


@pytest.mark.parametrize(
    ("case", "lines", "by_arrow"),
    [
        ("well formed", BTS_GOOD + MORE_GOOD, True),
        ("a short line", [*BTS_GOOD, BTS_BAD[0]], False),
        ("text in a number column", [*BTS_GOOD, BTS_BAD[1]], False),
        ("an unclosed quote", [*BTS_GOOD, BTS_BAD[2]], False),
        ("nan", [*BTS_GOOD, NAN_LINE], False),
        ("inf", [*BTS_GOOD, INF_LINE], False),
        ("a doubled quote in a value", [*BTS_GOOD, QUOTED_QUOTE], False),
        ("a backslash", [*BTS_GOOD, BACKSLASH], False),
        ("text after a closing quote", [*BTS_GOOD, TEXT_AFTER_QUOTE], False),
        ("a quote inside a bare value", [*BTS_GOOD, BARE_QUOTE], False),
        ("an integer with a space", [*BTS_GOOD, PADDED_INT], False),
        ("a hexadecimal integer", [*BTS_GOOD, HEX_INT], False),
    ],
)
def test_arrow_lands_what_spark_lands(spark, tmp_path, case, lines, by_arrow):
    src = write_bts(tmp_path / "On_Time_2023_1.csv", lines)
    got, arrow_rows, took_arrow = _land(spark, tmp_path, [src], arrow=True)
    want, spark_rows, _ = _land(spark, tmp_path, [src], arrow=False)
    assert took_arrow is by_arrow, case
    assert got == want
    assert_df_equality(arrow_rows, spark_rows, ignore_row_order=True, ignore_nullable=False)
    assert arrow_rows.count() == len(lines) - want[1]


def test_files_of_two_headers_go_to_spark(spark, tmp_path):
    names = BTS_HEADER.replace('"', "").rstrip(",").split(",")
    first = write_bts(tmp_path / "On_Time_2023_1.csv", BTS_GOOD[:2])
    second = write_bts_layout(tmp_path / "On_Time_2023_2.csv", list(reversed(names)), BTS_GOOD[2:])
    got, arrow_rows, took_arrow = _land(spark, tmp_path, [first, second], arrow=True)
    want, spark_rows, _ = _land(spark, tmp_path, [first, second], arrow=False)
    assert not took_arrow
    assert got == want == (4, 0, {})
    assert_df_equality(arrow_rows, spark_rows, ignore_row_order=True)


def test_a_file_cut_in_pieces_lands_each_row_once(spark, tmp_path):
    src = write_bts(tmp_path / "On_Time_2023_1.csv", (BTS_GOOD + MORE_GOOD) * 5)
    source = SourceFile(str(src), str(src), "bts", "")
    cut = arrow_csv.pieces([source], piece_bytes=300)
    data = src.read_bytes()
    assert len(cut) > 5
    assert b"".join(data[p.start : p.end] for p in cut) == data
    assert all(data[p.end - 1 : p.end] == b"\n" for p in cut)

    schema = BTS.header_schema(BTS_HEADER.replace('"', "").split(","))
    staged = tmp_path / "pieces"
    rows = arrow_csv.land_files(
        [source], schema, "", str(staged), INGESTED_AT, BATCH, ["_rescued"], piece_bytes=300
    )
    assert rows == 30
    assert len(list(staged.glob("*.parquet"))) == len(cut)
    _, spark_rows, _ = _land(spark, tmp_path, [src], arrow=False)
    assert_df_equality(spark.read.parquet(str(staged)), spark_rows, ignore_row_order=True)


def test_a_compressed_file_goes_to_spark(spark, tmp_path):
    plain = write_bts(tmp_path / "plain.csv", BTS_GOOD)
    src = tmp_path / "On_Time_2023_1.csv.bz2"
    src.write_bytes(bz2.compress(plain.read_bytes()))
    got, arrow_rows, took_arrow = _land(spark, tmp_path, [src], arrow=True)
    want, spark_rows, _ = _land(spark, tmp_path, [src], arrow=False)
    assert not took_arrow
    assert got == want == (4, 0, {})
    assert_df_equality(arrow_rows, spark_rows, ignore_row_order=True)


def test_a_landing_stopped_by_another_slots_failure_ends_without_spark(spark, tmp_path):
    src = write_bts(tmp_path / "On_Time_2023_1.csv", BTS_GOOD)
    slot = flight_slot(BTS, [str(src)], str(tmp_path / "cache"), drift="rescue")
    writer = bronze.SlotWriter(spark, str(tmp_path / "bronze"), BATCH)
    stop = threading.Event()
    stop.set()
    with pytest.raises(arrow_csv.LandingStoppedError, match=re.escape(str(src))):
        land_slot(spark, writer, slot, str(tmp_path / "bronze"), INGESTED_AT, arrow=True, stop=stop)
    assert not list((tmp_path / "bronze").rglob("*.parquet"))
    writer.discard()
    assert not (tmp_path / "bronze" / ".staging").exists()


@pytest.mark.parametrize(
    ("lines", "is_same_for_both"),
    [
        (b'1,"a, b",2\n', True),
        (b'1,"",2\r\n"x",3\n', True),
        (b"1,2,3", True),
        (b'1,"a""b",2\n', False),
        (b'1,"a"b,2\n', False),
        (b'1,a"b,2\n', False),
        (b'1,"a\n2,b",3\n', False),
        (b"1,a\\,b\n", False),
    ],
)
def test_quoting_arrow_and_spark_read_alike(lines, is_same_for_both):
    if is_same_for_both:
        arrow_csv.check_quoting(lines, "here")
    else:
        with pytest.raises(arrow_csv.ArrowMismatchError, match=r"^here holds"):
            arrow_csv.check_quoting(lines, "here")
