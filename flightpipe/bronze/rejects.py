"""Why a CSV line was rejected, in words: one rule for batch ingest and the stream."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField

# Splits on commas outside double quotes, the way the CSV parser counts fields.
FIELD_SPLIT = r',(?=(?:[^"]*"[^"]*")*[^"]*$)'
MISMATCH = "a value does not match its column type"


def _type_name(dtype) -> str:
    return {"int": "an integer", "double": "a number", "date": "a date", "timestamp": "a timestamp"}.get(
        dtype.simpleString(), dtype.simpleString()
    )


def csv_reject_reason(
    line: Column,
    expected_fields: int,
    typed_fields: tuple[StructField, ...] | list[StructField] = (),
    null_value: str = "",
    fallback: str = MISMATCH,
) -> Column:
    """Broken quoting, a wrong field count, or the first value of ``typed_fields`` (in column
    order) that does not cast to its type; ``fallback`` when none of these is found."""
    fields = F.split(line, FIELD_SPLIT)
    quotes = F.length(line) - F.length(F.regexp_replace(line, '"', ""))
    reason = F.when(quotes % 2 == 1, F.lit("broken quoting: unbalanced double quote")).when(
        F.size(fields) != expected_fields,
        F.format_string(f"has %d fields, expected {expected_fields}", F.size(fields)),
    )
    for i, field_ in enumerate(typed_fields):
        if isinstance(field_.dataType, StringType):
            continue
        raw = F.regexp_replace(F.element_at(fields, i + 1), r'^\s*"|"\s*$', "")
        bad = (raw != F.lit(null_value)) & (raw != "") & raw.try_cast(field_.dataType).isNull()
        reason = reason.when(
            bad, F.format_string(f"{field_.name} is not {_type_name(field_.dataType)}: '%s'", raw)
        )
    return reason.otherwise(F.lit(fallback))
