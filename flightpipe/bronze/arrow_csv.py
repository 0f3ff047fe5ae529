"""Flight CSV files landed with Arrow's CSV reader and Parquet writer, in driver threads.

Spark's CSV parser and Parquet writer spend about three times the CPU of Arrow's on the
109-column BTS files (a month of 850k rows: 12 s against 4 s on one core), and ingest is
mostly that. The bronze rows must be those Spark lands, so Arrow only lands files it reads
exactly as Spark does: plain local files of one header; text, integer, number and date
columns; quotes only around whole values and no backslash (:func:`check_quoting`); every
line with the header's field count; typed values in the plain forms both parsers read alike
(no " 515", "0x10", "nan" or "inf", which one of them rejects). Anything else raises
:class:`ArrowMismatchError`, what was written is dropped and Spark lands the slot, rejected
lines and all.
"""

from __future__ import annotations

import io
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyspark.sql.types import (
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)

from flightpipe.bronze.sources import SourceFile, read_header
from flightpipe.core import storage
from flightpipe.core.errors import PipelineError

# Spark's CSV reader splits files into pieces of about this size too; a piece is one task here.
PIECE_BYTES = 128 << 20
# Rows per Parquet row group: Spark's readers split bronze files by row group.
ROW_GROUP_ROWS = 65_536
BLOCK_BYTES = 4 << 20
# The extensions of Hadoop's compression codecs, which Spark's readers decompress.
COMPRESSED = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst", ".zstd", ".br", ".xz", ".zip")

_ARROW_TYPES: dict[type[DataType], pa.DataType] = {
    StringType: pa.string(),
    IntegerType: pa.int32(),
    LongType: pa.int64(),
    DoubleType: pa.float64(),
    DateType: pa.date32(),
}


class ArrowMismatchError(Exception):
    """The slot's files are not ones Arrow reads exactly as Spark does; Spark lands them."""


class LandingStoppedError(Exception):
    """Another slot failed: the pieces still to land are not landed."""


@dataclass(frozen=True)
class Piece:
    """Lines ``start`` to ``end`` (bytes, on line boundaries) of one source file."""

    source: SourceFile
    start: int
    end: int


def reads_types(types: Iterable[DataType]) -> bool:
    """True when Arrow reads every one of these Spark types as Spark does."""
    return all(type(t) in _ARROW_TYPES for t in types)


def arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow schema of a Spark read schema; ArrowMismatchError for a type Arrow would read otherwise."""
    fields = []
    for f in schema.fields:
        arrow_type = _ARROW_TYPES.get(type(f.dataType))
        if arrow_type is None:
            raise ArrowMismatchError(f"column {f.name} is {f.dataType.simpleString()}")
        fields.append(pa.field(f.name, arrow_type))
    return pa.schema(fields)


LINEAGE_FIELDS = (
    pa.field("_source_file", pa.string()),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
    pa.field("_batch_id", pa.string()),
)


def landed_schema(schema: pa.Schema, null_columns: Sequence[str]) -> pa.Schema:
    """The landed columns: the file's, the all-null text ones, then the lineage."""
    for field in [*(pa.field(c, pa.string()) for c in null_columns), *LINEAGE_FIELDS]:
        schema = schema.append(field)
    return schema


def spark_micros(ingested_at: datetime) -> int:
    """Microseconds since the epoch of a naive datetime, as PySpark's ``F.lit`` reads it."""
    return TimestampType().toInternal(ingested_at)


def pieces(sources: Sequence[SourceFile], piece_bytes: int = PIECE_BYTES) -> list[Piece]:
    """Each file cut into pieces of about ``piece_bytes``, each ending after a line break."""
    out = []
    for source in sources:
        cuts = [0]
        try:
            size = os.path.getsize(source.readable)
            with open(source.readable, "rb") as fh:
                while cuts[-1] + piece_bytes < size:
                    fh.seek(cuts[-1] + piece_bytes)
                    rest = fh.readline()
                    if not rest.endswith(b"\n"):
                        break
                    cuts.append(fh.tell())
        except OSError as exc:
            raise _unreadable(source, exc) from exc
        cuts.append(size)
        out += [Piece(source, a, b) for a, b in itertools.pairwise(cuts) if b > a]
    return out


_QUOTE, _BACKSLASH, _COMMA, _LF, _CR = b'"'[0], b"\\"[0], b","[0], b"\n"[0], b"\r"[0]


def check_quoting(lines: bytes, where: str) -> None:
    """ArrowMismatchError unless every double quote of these whole lines opens a field (after a
    comma or at a line start) or closes one (before a comma or a line end), opening and closing
    in turn within a line, and no backslash: where Spark's and Arrow's CSV parsers part ways
    (an escaped quote, text after a closing quote, a quote inside a bare value)."""
    text = np.frombuffer(b"\n" + lines + b"\n", dtype=np.uint8)
    if (text == _BACKSLASH).any():
        raise ArrowMismatchError(f"{where} holds a backslash")
    quotes = np.flatnonzero(text == _QUOTE)
    if not len(quotes):
        return
    before, after = text[quotes - 1], text[quotes + 1]
    opens = (before == _COMMA) | (before == _LF)
    closes = (after == _COMMA) | (after == _LF) | (after == _CR)
    line = np.searchsorted(np.flatnonzero(text == _LF), quotes)
    if (
        len(quotes) % 2
        or not (opens[0::2] & ~closes[0::2]).all()
        or not (closes[1::2] & ~opens[1::2]).all()
        or (line[0::2] != line[1::2]).any()
    ):
        raise ArrowMismatchError(f"{where} holds a double quote Arrow would read otherwise than Spark")


class _CheckedSlice(io.RawIOBase):
    """The bytes of one piece, read in blocks of whole lines, each checked by
    :func:`check_quoting` (a memory map would count the piece in the process's memory)."""

    def __init__(self, piece: Piece, where: str):
        self._file = open(piece.source.readable, "rb")  # noqa: SIM115 - closed with the stream
        self._file.seek(piece.start)
        self._left = piece.end - piece.start
        self._block = memoryview(b"")
        self._where = where

    def readable(self) -> bool:
        return True

    def _next_block(self) -> memoryview:
        data = self._file.read(min(BLOCK_BYTES, self._left))
        if len(data) < self._left and not data.endswith(b"\n"):
            data += self._file.readline(self._left - len(data))
        self._left -= len(data)
        check_quoting(data, self._where)
        return memoryview(data)

    def readinto(self, buffer) -> int:
        if not self._block and self._left > 0:
            self._block = self._next_block()
        size = min(len(buffer), len(self._block))
        buffer[:size] = self._block[:size]
        self._block = self._block[size:]
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


# The text of a typed value both readers take to the same value: Arrow alone would take
# " 515" and "0x10" as integers, where Spark rejects the line.
_INTEGER_TEXT = r"^[+-]?[0-9]+$"
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _any(flags: pa.ChunkedArray) -> bool:
    return bool(pc.any(flags).as_py())


def _typed(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    """The table's text columns cast to ``schema``; ArrowMismatchError for a typed value in a
    form Spark would read otherwise or reject."""
    columns = []
    for field, column in zip(schema, table.columns, strict=True):
        if column.null_count == len(column):
            columns.append(column.cast(field.type))
        elif field.type == pa.string():
            columns.append(column)
        elif field.type == pa.float64():
            # Both parsers round to the nearest double; Java reads neither "nan" nor "inf".
            typed = pc.cast(column, field.type)
            if _any(pc.or_(pc.is_nan(typed), pc.is_inf(typed))):
                raise ArrowMismatchError(f"a {field.name} value of {where} is NaN or infinite")
            columns.append(typed)
        else:
            if pa.types.is_integer(field.type):
                is_plain = pc.all(pc.utf8_is_digit(column)).as_py()
                pattern = None if is_plain else _INTEGER_TEXT
            else:
                pattern = _DATE_TEXT
            if pattern and _any(pc.invert(pc.match_substring_regex(column, pattern))):
                raise ArrowMismatchError(f"a {field.name} value of {where} is not {field.type}")
            columns.append(pc.cast(column, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class Lineage:
    """The lineage values of one source file's rows, in LINEAGE_FIELDS' order, and the
    all-null text columns before them (``_rescued`` when nothing is rescued)."""

    source_file: str
    ingested_micros: int
    batch_id: str
    null_columns: tuple[str, ...] = ()


def _write(
    writer: pq.ParquetWriter, batches: list[pa.RecordBatch], schema: pa.Schema, lineage: Lineage, where: str
) -> int:
    table = _typed(pa.Table.from_batches(batches), schema, where)
    n = table.num_rows
    for name in lineage.null_columns:
        table = table.append_column(pa.field(name, pa.string()), pa.nulls(n, pa.string()))
    values = (lineage.source_file, lineage.ingested_micros, lineage.batch_id)
    for value, field in zip(values, LINEAGE_FIELDS, strict=True):
        table = table.append_column(field, pa.repeat(pa.scalar(value, field.type), n))
    writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    return n


def land_piece(
    piece: Piece, schema: pa.Schema, null_value: str, out_file: str, lineage: Lineage, stop: threading.Event
) -> int:
    """Write one piece's rows with their lineage to ``out_file``; the rows written.

    LandingStoppedError as soon as ``stop`` is set."""
    where = f"{piece.source.path} (bytes {piece.start}-{piece.end})"
    read = pacsv.ReadOptions(
        column_names=schema.names,
        skip_rows=1 if piece.start == 0 else 0,
        use_threads=False,
        block_size=BLOCK_BYTES,
    )
    convert = pacsv.ConvertOptions(
        # Every column read as text, typed by _typed.
        column_types={name: pa.string() for name in schema.names},
        null_values=[null_value],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    rows = 0
    try:
        with (
            _CheckedSlice(piece, where) as data,
            pq.ParquetWriter(
                out_file, landed_schema(schema, lineage.null_columns), compression="snappy"
            ) as writer,
        ):
            pending: list[pa.RecordBatch] = []
            for batch in pacsv.open_csv(data, read_options=read, convert_options=convert):
                if stop.is_set():
                    raise LandingStoppedError(where)
                pending.append(batch)
                if sum(b.num_rows for b in pending) >= ROW_GROUP_ROWS:
                    rows += _write(writer, pending, schema, lineage, where)
                    pending = []
            if pending:
                rows += _write(writer, pending, schema, lineage, where)
    except pa.ArrowException as exc:
        raise ArrowMismatchError(f"{where}: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise _unreadable(piece.source, exc) from exc
    return rows


def _unreadable(source: SourceFile, exc: OSError) -> PipelineError:
    return PipelineError(
        f"flight file {source.path} could not be read while it was landed ({exc.strerror or exc}); "
        "check that it is still there and readable, then run ingest again."
    )


def read_schema(
    sources: Sequence[SourceFile], schema_of_header: Callable[[list[str]], StructType]
) -> StructType:
    """The one read schema of the files; ArrowMismatchError when one is compressed (Spark
    decompresses by the name's extension) or their headers differ."""
    for s in sources:
        if s.readable.lower().endswith(COMPRESSED):
            raise ArrowMismatchError(f"{s.path} is compressed")
    headers = {tuple(read_header(s.readable)) for s in sources}
    if len(headers) != 1:
        raise ArrowMismatchError(f"{len(headers)} different headers")
    return schema_of_header(list(headers.pop()))


def land_files(
    sources: Sequence[SourceFile],
    schema: StructType,
    null_value: str,
    staged: str,
    ingested_at: datetime,
    batch_id: str,
    null_columns: Sequence[str] = (),
    threads: int | None = None,
    piece_bytes: int = PIECE_BYTES,
    stop: threading.Event | None = None,
) -> int:
    """Land the files' rows into parquet files under ``staged``, pieces side by side; the rows.

    ArrowMismatchError when a piece is not read as Spark would, LandingStoppedError once
    ``stop`` is set (another slot failed); the caller drops ``staged``.
    """
    stop = stop or threading.Event()
    arrow = arrow_schema(schema)
    micros = spark_micros(ingested_at)
    work = pieces(sources, piece_bytes)
    storage.makedirs(staged)

    def lineage(piece: Piece) -> Lineage:
        return Lineage(piece.source.path, micros, batch_id, tuple(null_columns))

    def land(i: int, piece: Piece) -> int:
        out = storage.join(staged, f"part-{i:05d}-{batch_id}.snappy.parquet")
        if stop.is_set():
            raise LandingStoppedError(piece.source.path)
        return land_piece(piece, arrow, null_value, out, lineage(piece), stop)

    # Arrow lets go of the GIL while it parses and writes: one thread per core.
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 2) as pool:
        futures = [pool.submit(land, i, p) for i, p in enumerate(work)]
        try:
            return sum(f.result() for f in futures)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
