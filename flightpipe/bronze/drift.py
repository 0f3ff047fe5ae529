"""Schema drift of file sources: columns a file has that its layout does not list.

Headers are checked before anything is written; ``ingest.schema_drift`` says what happens
to such columns: ``fail`` stops the run, ``add`` lands them as string columns of their own,
``rescue`` packs them into one JSON string column ``_rescued`` so bronze keeps fixed columns.
The functions take a layout's column lists, not one source's constants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import SchemaDrift

RESCUED = "_rescued"
# BTS lines end with a comma: the empty last field is read under this name, it is no column.
TRAILING = "_trailing"

_ACTIONS: dict[str, str] = {
    "add": "landed as extra string column(s)",
    "rescue": f"packed into {RESCUED} as JSON",
}


def unknown_columns(header: Sequence[str], known: Sequence[str]) -> list[str]:
    """The columns of ``header`` (named as the reader names them) that ``known`` does not list."""
    listed = set(known)
    return [c for c in header if c not in listed and c != TRAILING]


def check_drift(
    path: str, header: Sequence[str], known: Sequence[str], required: Sequence[str], policy: SchemaDrift
) -> list[str]:
    """The unknown columns of the file at ``path``.

    A missing required column stops the run; so do unknown columns under ``fail``. A
    missing optional column is no drift: the reader leaves it null.
    """
    missing = [c for c in required if c not in header]
    if missing:
        raise PipelineError(f"file {path} lacks the required column(s) {', '.join(missing)} in its header.")
    unknown = unknown_columns(header, known)
    if unknown and policy == "fail":
        raise PipelineError(
            f"file {path} has column(s) {', '.join(unknown)} that its layout does not list; set "
            "ingest.schema_drift to add or rescue to land them, or fix the file."
        )
    return unknown


def drift_note(path: str, unknown: Sequence[str], policy: SchemaDrift) -> str:
    """The warning line of one drifting file: its unknown columns and what ingest does with them."""
    action = _ACTIONS.get(policy, "stopped the run")
    return f"file {path} has column(s) its layout does not list: {', '.join(unknown)}; {action}."


def _col(name: str) -> Column:
    # Quoted: a source column name may hold dots or spaces.
    return F.col("`" + name.replace("`", "``") + "`")


def with_rescued(unknown: Sequence[str]) -> Callable[[DataFrame], DataFrame]:
    """A transform packing the ``unknown`` columns into ``_rescued`` and dropping them.

    ``_rescued`` is a JSON object column -> value of the row's non-null unknown values, null
    when it has none; it is added even when nothing is unknown, so every file lands the
    same columns.
    """
    drop = set(unknown)

    def transform(df: DataFrame) -> DataFrame:
        kept = [_col(c) for c in df.columns if c not in drop]
        if not unknown:
            return df.select(*kept, F.lit(None).cast("string").alias(RESCUED))
        values = [_col(c) for c in unknown]
        packed = F.when(F.coalesce(*values).isNotNull(), F.to_json(F.struct(*values)))
        return df.select(*kept, packed.alias(RESCUED))

    return transform
