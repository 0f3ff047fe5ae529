"""Small DataFrame helpers every layer uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from typing import TypeVar

from pyspark.sql import DataFrame
from pyspark.sql.types import DataType, StructField, StructType

T = TypeVar("T")


def struct(*fields: tuple[str, DataType]) -> StructType:
    """A nullable StructType from (name, type) pairs."""
    return StructType([StructField(name, dtype, True) for name, dtype in fields])


def union_all(frames: list[DataFrame]) -> DataFrame:
    """The frames stacked by column name; a column one frame lacks is null there."""
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


def side_by_side(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run Spark actions from threads of their own, their jobs sharing the cores; results in order.

    In one union query AQE materialises persisted frames one after the other, each scan's last
    wave leaving a core idle (10M-row gold: 3-5 s more than side by side).
    """
    if not actions:
        return []
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(lambda action: action(), actions))
