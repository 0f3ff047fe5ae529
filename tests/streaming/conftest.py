"""Fixtures of the streaming tests (their plain helpers are in tests/support/streaming.py)."""

from __future__ import annotations

import pytest


@pytest.fixture()
def stream_config(make_config):
    """Config for a fast continuous query: 1 s trigger, one file per micro-batch."""

    def factory(**streaming):
        overrides = {"streaming": {"trigger_seconds": 1, "max_files_per_trigger": 1, **streaming}}
        return make_config(overrides)

    return factory
