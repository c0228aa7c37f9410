"""Fixtures the provider and simulator tests share: receivers of the simulators' webhooks on 127.0.0.1.

A module that needs another kind of `receiver` (the Meta tests' JSON one, the PBX events' one) defines its own,
which pytest prefers to these."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functional.test_meta_simulator import JsonReceiver
from tests.functional.test_simulator import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Twilio's form-encoded, signed callbacks, as they arrive."""
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def meta_receiver() -> Iterator[JsonReceiver]:
    """Meta's JSON, signed webhooks, as they arrive."""
    r = JsonReceiver()
    yield r
    r.stop()
