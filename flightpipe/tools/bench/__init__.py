"""The benchmark harness behind scripts/bench.py and ``make bench``.

sampler: peak memory of a process tree; profile: Spark event-log profile; tables: files per
table; runner: a case's config and timed steps; cases: the embedded and synthetic cases;
verdicts: targets and scaling checks; results: the printed table and bench/results.json;
main: the command line.
"""
