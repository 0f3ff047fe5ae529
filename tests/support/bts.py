"""A small BTS on-time file: the real header's first columns, good lines and malformed ones."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

BTS_HEADER = (
    '"Year","Month","DayofMonth","FlightDate","Reporting_Airline","Tail_Number",'
    '"Flight_Number_Reporting_Airline","Origin","OriginCityName","Dest","CRSDepTime","DepTime",'
    '"DepDelay","CRSArrTime","ArrTime","ArrDelay","Cancelled","CancellationCode","Diverted",'
    '"AirTime","Distance",'
)
BTS_GOOD = [
    '2023,1,5,2023-01-05,"UA","N14228",1545,"EWR","Newark, NJ","IAH","0515","0517",2.00,"0830","0830",0.00,0.00,,0.00,227.00,1400.00,',
    '2023,1,5,2023-01-05,"AA","N619AA",1141,"JFK","New York, NY","MIA","0540","0545",5.00,"0850","1022",92.00,0.00,,0.00,160.00,1089.00,',
    '2023,1,5,2023-01-05,"B6","N516JB",725,"JFK","New York, NY","BQN","2359","",,"0350","",,1.00,"B",0.00,,1576.00,',
    '2023,1,6,2023-01-06,"DL","N3739P",461,"LGA","New York, NY","ATL","0600","0554",-6.00,"0837","",,0.00,,1.00,,762.00,',
]
BTS_BAD = [
    # too few fields
    '2023,1,6,2023-01-06,"DL","N3739P",461,"LGA"',
    # text in a numeric column (DepDelay)
    '2023,1,6,2023-01-06,"UA","N39463",1696,"EWR","Newark, NJ","ORD","0558","0554",abc,"0740","0812",12.00,0.00,,0.00,150.00,719.00,',
    # an unclosed quote swallows the rest of the line
    '2023,1,6,2023-01-06,"B6,"N793JB",507,"EWR","Newark, NJ","FLL","0600","0555",-5.00,"0908","0858",-10.00,0.00,,0.00,158.00,1065.00,',
]


def write_bts(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` under the BTS header into ``path``."""
    path.write_text("\n".join([BTS_HEADER, *lines]) + "\n")
    return path


def write_bts_layout(
    path: Path, columns: Sequence[str], lines: list[str], extra: Mapping[str, Sequence[str]] | None = None
) -> Path:
    """Write ``lines`` (in BTS_HEADER's layout) under the header ``columns``: reordered, some
    left out, or new ones whose values ``extra`` gives (one per line); lines end with a comma."""
    names = next(csv.reader([BTS_HEADER]))
    rows = [dict(zip(names, values, strict=True)) for values in csv.reader(lines)]
    for name, values in (extra or {}).items():
        for row, value in zip(rows, values, strict=True):
            row[name] = value
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, ""])
    writer.writerows([*(row[c] for c in columns), ""] for row in rows)
    path.write_text(out.getvalue())
    return path
