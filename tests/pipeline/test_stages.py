"""The declared stage graph: run order, what a stage needs and what needs it."""

from __future__ import annotations

import pytest

from flightpipe.core import stages
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import PACKAGE_ROOT
from flightpipe.core.stages import Stage


def names(found: list[Stage]) -> list[str]:
    return [s.name for s in found]


def test_the_order_is_what_a_run_does():
    assert names(stages.order()) == [
        "mariadb",
        "ingest",
        "replay",
        "streaming",
        "cleaning",
        "ml",
        "ml-score",
        "gold",
    ]
    assert [s.step for s in stages.order()] == [
        "mariadb",
        "ingest",
        "replay",
        "streaming",
        "cleaning",
        "ml-train",
        "ml-score",
        "gold",
    ]


def test_every_stage_comes_after_what_it_needs():
    seen: set[str] = set()
    for s in stages.order():
        assert set(s.needs) <= seen, s.name
        seen.add(s.name)


def test_the_spark_stages_and_their_scripts():
    spark = [s for s in stages.order() if s.is_spark]
    assert [(s.name, s.script, s.args) for s in spark] == [
        ("ingest", "ingest.py", ()),
        ("streaming", "streaming.py", ("--available-now",)),
        ("cleaning", "cleaning.py", ()),
        ("ml", "ML.py", ()),
        ("ml-score", "ML.py", ("--score",)),
        ("gold", "gold.py", ()),
    ]
    for s in stages.GRAPH:
        assert (PACKAGE_ROOT / s.script).is_file(), s.script
    assert [s.name for s in stages.GRAPH if s.uses_jdbc] == ["gold"]
    assert [s.name for s in stages.GRAPH if s.uses_hive] == ["cleaning", "ml", "ml-score", "gold"]


def test_what_a_stage_writes_the_next_one_reads():
    by_name = {s.name: s for s in stages.GRAPH}
    for s in stages.GRAPH:
        for needed in s.needs:
            assert set(by_name[needed].writes) & set(s.reads) or by_name[needed].kind == "service", (
                f"{s.name} reads nothing {needed} writes"
            )
    assert "silver.flights" in by_name["cleaning"].writes
    assert "gold.daily_kpis" in by_name["gold"].writes


def test_only_gold_reads_the_run_log_before_its_work():
    assert [s.name for s in stages.GRAPH if stages.reads_run_log(s.name)] == ["gold"]
    assert stages.reads_run_log("GOLD")
    assert not stages.reads_run_log("ml-train")
    # The bench's own steps are not in the graph.
    assert not stages.reads_run_log("jdbc_load")


def test_upstream():
    assert names(stages.upstream("gold")) == ["mariadb", "ingest", "replay", "streaming", "cleaning", "ml"]
    assert names(stages.upstream("cleaning")) == ["ingest", "replay", "streaming"]
    assert names(stages.upstream("ml-train")) == ["ingest", "replay", "streaming", "cleaning"]
    assert names(stages.upstream("ingest")) == []


def test_downstream():
    assert names(stages.downstream("cleaning")) == ["ml", "ml-score", "gold"]
    assert names(stages.downstream("replay")) == ["streaming", "cleaning", "ml", "ml-score", "gold"]
    assert names(stages.downstream("ml")) == ["ml-score", "gold"]
    assert names(stages.downstream("mariadb")) == ["gold"]
    assert names(stages.downstream("gold")) == []


def test_an_unknown_stage_is_one_sentence():
    with pytest.raises(PipelineError, match=r"^there is no stage 'silver'; the stages are mariadb, ingest, "):
        stages.downstream("silver")


def test_a_cycle_or_an_unknown_need_is_refused():
    a = Stage("a", "a.py", needs=("b",))
    b = Stage("b", "b.py", needs=("a",))
    with pytest.raises(PipelineError, match=r"^the stages a, b need each other in a cycle\.$"):
        stages.order((a, b))
    with pytest.raises(PipelineError, match=r"^stage 'a' needs unknown stages: b\.$"):
        stages.order((a,))


def test_ties_keep_the_declaration_order():
    graph = (Stage("z", "z.py"), Stage("y", "y.py", needs=("x",)), Stage("x", "x.py"))
    assert names(stages.order(graph)) == ["z", "x", "y"]


def test_select_a_stage_what_depends_on_it_and_what_it_needs():
    assert names(stages.select(["cleaning+"])) == ["cleaning", "ml", "ml-score", "gold"]
    assert names(stages.select(["+gold"])) == [
        "mariadb",
        "ingest",
        "replay",
        "streaming",
        "cleaning",
        "ml",
        "gold",
    ]
    assert names(stages.select(["ML"])) == ["ml"]
    assert names(stages.select(["ml-train+"])) == ["ml", "ml-score", "gold"]
    assert names(stages.select(["+streaming+"])) == [
        "replay",
        "streaming",
        "cleaning",
        "ml",
        "ml-score",
        "gold",
    ]
    # A union, in run order whatever the order given.
    assert names(stages.select(["gold,ingest", "mariadb"])) == ["mariadb", "ingest", "gold"]


def test_a_selection_of_nothing_or_of_an_unknown_stage_is_one_sentence():
    with pytest.raises(PipelineError, match=r"^the selection '\+' names no stage; write e\.g\. cleaning\+"):
        stages.select(["+"])
    with pytest.raises(PipelineError, match=r"^there is no stage 'silverr'; the stages are "):
        stages.select(["silverr+"])
