"""Small DataFrame helpers every layer uses."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql.types import DataType, StructField, StructType


def struct(*fields: tuple[str, DataType]) -> StructType:
    """A nullable StructType from (name, type) pairs."""
    return StructType([StructField(name, dtype, True) for name, dtype in fields])


def union_all(frames: list[DataFrame]) -> DataFrame:
    """The frames stacked by column name; a column one frame lacks is null there."""
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
