"""The send budgets' contract, on the in-memory fake and on PaceRepo over moto: slots taken are distinct however many
senders take them at once, the lead is respected, and a throttle slows the number."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

from chalicelib.adapters.dynamo.pace import PaceRepo
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.pacing import RECOVER_SECONDS, RECOVER_STEP, SLOW_FACTOR
from tests.fakes.pace import FakePace

NOW = 1_000_000.0


class PaceContract:
    @pytest.fixture
    def pace(self) -> Any:
        raise NotImplementedError

    def test_slots_are_taken_one_interval_apart_within_the_lead(self, pace: Any) -> None:
        first = pace.take("twilio#+1", NOW, 3, 2.0, 5.0)
        assert (first.start, first.interval) == (NOW, 0.5)
        second = pace.take("twilio#+1", NOW, 3, 2.0, 5.0)
        assert second.start == NOW + 1.5
        # WHEN the next free slot is more than the lead ahead THEN nothing is taken, and the wait is told
        for _ in range(2):
            pace.take("twilio#+1", NOW, 3, 2.0, 5.0)
        refused = pace.take("twilio#+1", NOW, 1, 2.0, 5.0)
        assert refused.start is None and refused.wait == pytest.approx(6.0 - 5.0)
        # AND another number has its own budget
        assert pace.take("twilio#+2", NOW, 1, 2.0, 5.0).start == NOW

    def test_senders_taking_at_once_never_get_the_same_slot(self, pace: Any) -> None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(pool.map(lambda _: pace.take("meta#+1", NOW, 5, 10.0, 3600.0).start, range(12)))
        assert sorted(got) == [NOW + i * 0.5 for i in range(12)]

    def test_a_throttle_slows_the_number(self, pace: Any) -> None:
        pace.take("meta#+1", NOW, 1, 10.0, 0.0)
        pace.slow("meta#+1", NOW)
        assert pace.take("meta#+1", NOW, 1, 10.0, 1.0).interval == pytest.approx(0.1 / SLOW_FACTOR)
        # AND two recovery periods later it runs RECOVER_STEP of mps faster for each
        later = pace.take("meta#+1", NOW + 2 * RECOVER_SECONDS, 1, 10.0, 1.0)
        assert later.interval == pytest.approx(0.1 / (SLOW_FACTOR + 2 * RECOVER_STEP))


class TestFake(PaceContract):
    @pytest.fixture
    def pace(self) -> Any:
        return FakePace()


class TestMoto(PaceContract):
    @pytest.fixture
    def pace(self, moto_url: str) -> Any:
        from devstack.resources import create_resources

        requests.post(f"{moto_url}/moto-api/reset", timeout=10)
        name = create_resources(None).table_name
        return PaceRepo(Table(boto3.client("dynamodb"), name, sleep=lambda _: None))
