"""Command-line tools around the pipeline: the whole run, the replay feed, synthetic data, the bench."""
