"""Hand-made ASA Data Expo 2009 rows (29 columns, NA for missing) and their file writers."""

from __future__ import annotations

import bz2
from pathlib import Path

from flightpipe.contracts.layouts import DATAEXPO_COLUMNS

HEADER = ",".join(DATAEXPO_COLUMNS)


def line(**values: object) -> str:
    """One Data Expo line: the given columns, NA for the others."""
    unknown = set(values) - set(DATAEXPO_COLUMNS)
    assert not unknown, unknown
    return ",".join(str(values.get(c, "NA")) for c in DATAEXPO_COLUMNS)


def write_dataexpo(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` under the header, bzip2-compressed when ``path`` ends with .bz2."""
    text = "\n".join([HEADER, *lines]) + "\n"
    if path.suffix == ".bz2":
        path.write_bytes(bz2.compress(text.encode()))
    else:
        path.write_text(text)
    return path
