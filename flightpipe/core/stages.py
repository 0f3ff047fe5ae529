"""The declared stage graph: every step of a pipeline run, what it reads, writes and needs.

``scripts/pipeline.py`` (make demo, nightly) and ``scripts/bench.py`` run the steps in
:func:`order`; :func:`upstream` and :func:`downstream` give what a step depends on and what
depends on it. Table names are those of the contracts: ``bronze.<folder>``,
``silver.<table>`` (the Hive database of ``catalog.silver_database``) and ``gold.<mart>``
(the MariaDB database of ``gold.database``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from flightpipe.core.errors import PipelineError

# spark: an entry script run by spark-submit; feed: a script of the project's Python that
# drops input (no Spark); service: a server the later stages talk to.
Kind = Literal["spark", "feed", "service"]

GOLD_MARTS = (
    "gold.delay_by_carrier",
    "gold.delay_by_airport_month",
    "gold.delay_by_hour",
    "gold.weather_impact",
    "gold.route_delays",
    "gold.daily_kpis",
    "gold.model_performance",
    "gold.pipeline_runs",
)


@dataclass(frozen=True)
class Stage:
    """One step of a run.

    ``name`` is the stage of the run record (``pipeline_runs.stage``); ``step`` the name of the
    summary table and of ``--skip`` (``ml-train`` for the ``ml`` stage); ``script`` is relative
    to the installation.
    """

    name: str
    script: str
    kind: Kind = "spark"
    args: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    uses_hive: bool = False
    uses_jdbc: bool = False
    label: str = ""

    @property
    def step(self) -> str:
        """The step's name in the run summary and for ``--skip``."""
        return self.label or self.name

    @property
    def is_spark(self) -> bool:
        """True for an entry script run through spark-submit."""
        return self.kind == "spark"


GRAPH: tuple[Stage, ...] = (
    Stage(
        "mariadb",
        "scripts/mariadb.sh",
        kind="service",
        args=("start",),
        writes=("gold",),
    ),
    Stage(
        "ingest",
        "ingest.py",
        reads=(
            "embedded",
            "ingest.bts_files",
            "ingest.dataexpo_files",
            "ingest.openmeteo_files",
            "openmeteo_api",
        ),
        writes=(
            "bronze.flights_batch",
            "bronze.weather",
            "bronze.airports",
            "bronze.airlines",
            "bronze.planes",
            "bronze._rejected",
        ),
    ),
    Stage(
        "replay",
        "scripts/replay.py",
        kind="feed",
        reads=("embedded",),
        writes=("landing.flights",),
    ),
    Stage(
        "streaming",
        "streaming.py",
        args=("--available-now",),
        reads=("landing.flights",),
        writes=("bronze.flights", "bronze._rejected"),
        needs=("replay",),
    ),
    Stage(
        "cleaning",
        "cleaning.py",
        reads=(
            "bronze.flights",
            "bronze.flights_batch",
            "bronze.weather",
            "bronze.airports",
            "bronze.airlines",
        ),
        writes=(
            "silver.flights",
            "silver.flights_rejected",
            "silver.weather_hourly",
            "silver.airports",
            "silver.airlines",
            "silver.pipeline_runs",
        ),
        needs=("ingest", "streaming"),
        uses_hive=True,
    ),
    Stage(
        "ml",
        "ML.py",
        label="ml-train",
        reads=("silver.flights", "silver.weather_hourly", "silver.airports"),
        writes=("models", "silver.model_metrics", "silver.pipeline_runs"),
        needs=("cleaning",),
        uses_hive=True,
    ),
    Stage(
        "ml-score",
        "ML.py",
        args=("--score",),
        reads=("models", "silver.flights", "silver.weather_hourly", "silver.airports"),
        writes=("silver.delay_predictions", "silver.pipeline_runs"),
        needs=("ml",),
        uses_hive=True,
    ),
    Stage(
        "gold",
        "gold.py",
        reads=(
            "silver.flights",
            "silver.weather_hourly",
            "silver.airports",
            "silver.airlines",
            "silver.model_metrics",
            "silver.pipeline_runs",
        ),
        writes=(*GOLD_MARTS, "reports"),
        needs=("mariadb", "cleaning", "ml"),
        uses_hive=True,
        uses_jdbc=True,
    ),
)


def stage(name: str, graph: Iterable[Stage] = GRAPH) -> Stage:
    """The stage called ``name`` (its run-record name or its step name, in any case)."""
    for s in graph:
        if name.lower() in (s.name, s.step):
            return s
    known = ", ".join(s.step for s in graph)
    raise PipelineError(f"there is no stage '{name}'; the stages are {known}.")


def reads_run_log(name: str, graph: Iterable[Stage] = GRAPH) -> bool:
    """True when the stage called ``name`` reads ``silver.pipeline_runs`` (False for a name
    outside the graph, such as the bench's steps)."""
    return any(name.lower() in (s.name, s.step) and "silver.pipeline_runs" in s.reads for s in graph)


def order(graph: Iterable[Stage] = GRAPH) -> list[Stage]:
    """Every stage after the stages it needs; ties keep the declaration order."""
    stages = list(graph)
    names = {s.name for s in stages}
    for s in stages:
        missing = [n for n in s.needs if n not in names]
        if missing:
            raise PipelineError(f"stage '{s.name}' needs unknown stages: {', '.join(missing)}.")
    done: list[Stage] = []
    placed: set[str] = set()
    while len(done) < len(stages):
        ready = [s for s in stages if s.name not in placed and set(s.needs) <= placed]
        if not ready:
            left = ", ".join(s.name for s in stages if s.name not in placed)
            raise PipelineError(f"the stages {left} need each other in a cycle.")
        done.append(ready[0])
        placed.add(ready[0].name)
    return done


def upstream(name: str, graph: Iterable[Stage] = GRAPH) -> list[Stage]:
    """The stages ``name`` needs, directly or through others, in run order."""
    stages = order(graph)
    by_name = {s.name: s for s in stages}
    wanted: set[str] = set()
    todo = list(stage(name, stages).needs)
    while todo:
        current = todo.pop()
        if current not in wanted:
            wanted.add(current)
            todo.extend(by_name[current].needs)
    return [s for s in stages if s.name in wanted]


def downstream(name: str, graph: Iterable[Stage] = GRAPH) -> list[Stage]:
    """The stages that need ``name``, directly or through others, in run order."""
    stages = order(graph)
    wanted = {stage(name, stages).name}
    for s in stages:
        if wanted & set(s.needs):
            wanted.add(s.name)
    wanted.discard(stage(name, stages).name)
    return [s for s in stages if s.name in wanted]


def select(expressions: Iterable[str], graph: Iterable[Stage] = GRAPH) -> list[Stage]:
    """The stages a selection names, in run order (the ``--select`` syntax of dbt).

    ``cleaning`` is that stage, ``cleaning+`` it and what depends on it, ``+gold`` it and what it
    needs, ``+ml+`` both; several expressions (or one with commas) select their union.
    """
    stages = order(graph)
    wanted: set[str] = set()
    for expression in expressions:
        for part in (p.strip() for p in expression.split(",")):
            if not part:
                continue
            name = part.strip("+")
            if not name:
                raise PipelineError(f"the selection '{part}' names no stage; write e.g. cleaning+ or +gold.")
            chosen = stage(name, stages)
            wanted.add(chosen.name)
            if part.startswith("+"):
                wanted |= {s.name for s in upstream(chosen.name, stages)}
            if part.endswith("+"):
                wanted |= {s.name for s in downstream(chosen.name, stages)}
    return [s for s in stages if s.name in wanted]
