"""Config loading: interpolation, path resolution, and one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from flightpipe.core.errors import PipelineError
from flightpipe.core.session import off_heap_conf
from flightpipe.core.settings import PACKAGE_ROOT, interpolate, load_config, read_dotenv
from tests.support.project import BASE_CONFIG


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(BASE_CONFIG.read_text())
    mutate(raw)
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_interpolation_uses_environment_then_default():
    env = {"A": "from-env", "EMPTY": ""}
    assert interpolate("${A}/x", env, "k") == "from-env/x"
    assert interpolate("${B:-fallback}", env, "k") == "fallback"
    assert interpolate("${EMPTY:-fallback}", env, "k") == "fallback"
    assert interpolate("${B:-}", env, "k") == ""
    with pytest.raises(PipelineError, match=r"\$\{B\}.*B is not set"):
        interpolate("${B}", env, "config key 'x'")


def test_dotenv_is_parsed_with_quotes_and_comments(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nA=1\nexport B='two words'\nC=\"x=y\"\n\nnot a line\n")
    assert read_dotenv(env_file) == {"A": "1", "B": "two words", "C": "x=y"}


def test_dotenv_of_the_project_root_feeds_interpolation(tmp_path):
    (tmp_path / ".env").write_text("SPARK_MASTER=local[3]\n")
    path = _write(tmp_path, lambda raw: raw["project"].update(root=str(tmp_path)))
    cfg = load_config(path, environ={})
    assert cfg.spark.master == "local[3]"
    # The environment wins over .env.
    assert load_config(path, environ={"SPARK_MASTER": "local[1]"}).spark.master == "local[1]"


def test_relative_paths_resolve_against_the_project_root_not_the_cwd(tmp_path, monkeypatch):
    root = tmp_path / "project"
    path = _write(tmp_path, lambda raw: raw["project"].update(root=str(root)))
    monkeypatch.chdir(tmp_path)
    cfg = load_config(path, environ={})
    assert cfg.paths.bronze == str(root / "bronze")
    assert cfg.paths.logs == str(root / "var" / "log")
    assert cfg.project.root == str(root)


def test_default_root_is_the_repository(tmp_path):
    cfg = load_config(BASE_CONFIG, environ={})
    assert cfg.paths.bronze == str(BASE_CONFIG.parent.parent / "bronze")
    assert cfg.spark.master == "local[*]"
    assert cfg.ingest.embedded is True
    assert cfg.spark.shuffle_partitions == 8


def test_missing_key_names_the_key_and_the_file(tmp_path):
    path = _write(tmp_path, lambda raw: raw["paths"].pop("bronze"))
    with pytest.raises(PipelineError) as err:
        load_config(path, environ={})
    assert str(err.value) == f"config key 'paths.bronze' is missing from {path}."


def test_mistyped_key_names_the_key_and_the_file(tmp_path):
    path = _write(tmp_path, lambda raw: raw["spark"].update(mastr="local[1]"))
    with pytest.raises(PipelineError) as err:
        load_config(path, environ={})
    assert f"config key 'spark.mastr' in {path} is not a known key" in str(err.value)


def test_wrong_type_is_reported(tmp_path):
    path = _write(tmp_path, lambda raw: raw["spark"].update(shuffle_partitions="many"))
    with pytest.raises(PipelineError, match=r"'spark.shuffle_partitions' .* must be a number, not 'many'"):
        load_config(path, environ={})


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(PipelineError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spark: [unclosed\n")
    with pytest.raises(PipelineError, match=r"is not valid YAML at line \d"):
        load_config(bad)


def test_off_heap_memory_is_on_by_default_and_reaches_the_session(spark):
    cfg = load_config(BASE_CONFIG, environ={})
    assert off_heap_conf(cfg) == {"spark.memory.offHeap.enabled": "true", "spark.memory.offHeap.size": "1g"}
    conf = spark.sparkContext.getConf()
    assert (conf.get("spark.memory.offHeap.enabled"), conf.get("spark.memory.offHeap.size")) == ("true", "1g")


def test_off_heap_memory_zero_turns_it_off_and_a_bad_size_is_reported(tmp_path):
    cfg = load_config(BASE_CONFIG, environ={"SPARK_OFF_HEAP_MEMORY": "0"})
    assert off_heap_conf(cfg) == {"spark.memory.offHeap.enabled": "false"}
    cfg = load_config(BASE_CONFIG, environ={"SPARK_OFF_HEAP_MEMORY": "512M"})
    assert off_heap_conf(cfg)["spark.memory.offHeap.size"] == "512m"
    path = _write(tmp_path, lambda raw: raw["spark"].update(off_heap_memory="lots"))
    with pytest.raises(PipelineError) as err:
        off_heap_conf(load_config(path, environ={}))
    assert str(err.value) == (
        f"config key 'spark.off_heap_memory' in {path} must be a size such as 1g or 512m, or 0 for none, not 'lots'."
    )


def test_the_driver_jvm_runs_with_two_malloc_arenas(spark):
    # Written by make setup into the venv Spark's spark-env.sh, which spark-submit sources.
    jvm = spark.sparkContext._jvm
    assert jvm.java.lang.System.getenv("MALLOC_ARENA_MAX") == "2"


def test_pipeline_root_moves_data_only_program_files_stay_with_the_installation(tmp_path):
    root = tmp_path / "elsewhere"
    path = _write(tmp_path, lambda raw: raw["project"].update(root="${PIPELINE_ROOT:-}"))
    cfg = load_config(path, environ={"PIPELINE_ROOT": str(root)})
    assert cfg.paths.bronze == str(root / "bronze")
    # The JDBC jar and the log4j file ship with the code, whatever the data root.
    assert cfg.spark.jars == (str(PACKAGE_ROOT / "jars" / "mariadb-java-client.jar"),)
    assert cfg.spark.log4j_config == str(PACKAGE_ROOT / "conf" / "log4j2.properties")
    assert Path(cfg.spark.log4j_config).is_file()


def test_ml_grids_are_numbers_at_load_and_a_typo_names_the_key(tmp_path):
    cfg = load_config(BASE_CONFIG, environ={})
    assert all(isinstance(v, float) for v in cfg.ml.gbt.step_sizes)
    assert all(isinstance(v, int) for v in cfg.ml.gbt.max_depths)
    path = _write(tmp_path, lambda raw: raw["ml"]["gbt"].update(step_sizes=[0.1, "0.2x"]))
    with pytest.raises(PipelineError, match=r"^config key 'ml\.gbt\.step_sizes.*' in .*pipeline\.yaml"):
        load_config(path, environ={})


def test_settings_are_frozen():
    cfg = load_config(BASE_CONFIG, environ={})
    with pytest.raises(ValidationError):
        cfg.paths.bronze = "/tmp/other"
    with pytest.raises(TypeError):
        cfg.cleaning.rule_actions["unique_key"] = "warn"
