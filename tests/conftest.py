"""Fixtures shared by every test package: a real Kafka-protocol broker (``tests.broker``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.broker import Broker, find_tansu, missing_message, start_broker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One Tansu broker per test session (per xdist worker), stopped by PID at the end.

    Give each test its own topic (``broker.create_topic(unique_name, 3)``).
    Without the binary the test fails under CI (``CI=true``) and is skipped elsewhere.
    """
    binary = find_tansu()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(missing_message(), pytrace=False)
        pytest.skip(missing_message())
    b = start_broker(tmp_path_factory.mktemp("tansu"), binary)
    try:
        yield b
    finally:
        b.stop()
