"""The Idempotency port: one contract, run against the in-memory fake and against the DynamoDB repository on moto."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import IdempotencyKeyTakenError
from chalicelib.domain.idempotency import IdempotencyRecord
from chalicelib.services.ports import Idempotency
from tests.conftest import Env
from tests.fakes.idempotency import FakeIdempotency

NOW = 1_796_000_000.0
TTL = 86_400


class IdempotencyContract:
    """What every Idempotency implementation does."""

    @pytest.fixture
    def repo(self) -> Idempotency:
        raise NotImplementedError

    def test_two_claims_of_one_key_the_second_is_told_the_first(self, repo: Idempotency) -> None:
        # GIVEN a key claimed for campaign 1 WHEN a retry claims it for campaign 2 THEN it is told campaign 1's record
        repo.claim("tn_a", "k1", IdempotencyRecord("cmp_1", "hash1"), now=NOW, ttl_seconds=TTL)
        with pytest.raises(IdempotencyKeyTakenError) as taken:
            repo.claim("tn_a", "k1", IdempotencyRecord("cmp_2", "hash2"), now=NOW + 5, ttl_seconds=TTL)
        assert taken.value.record == IdempotencyRecord("cmp_1", "hash1", int(NOW) + TTL)

    def test_keys_are_per_tenant(self, repo: Idempotency) -> None:
        # GIVEN tenant a's key WHEN tenant b uses the same key THEN it is b's own
        repo.claim("tn_a", "k1", IdempotencyRecord("cmp_1", "hash1"), now=NOW, ttl_seconds=TTL)
        repo.claim("tn_b", "k1", IdempotencyRecord("cmp_2", "hash2"), now=NOW, ttl_seconds=TTL)

    def test_an_expired_key_may_be_claimed_again(self, repo: Idempotency) -> None:
        # GIVEN a key whose time is up WHEN claimed again THEN the new claim wins and is what a third one is told
        repo.claim("tn_a", "k1", IdempotencyRecord("cmp_1", "hash1"), now=NOW, ttl_seconds=TTL)
        later = NOW + TTL + 1
        repo.claim("tn_a", "k1", IdempotencyRecord("cmp_2", "hash2"), now=later, ttl_seconds=TTL)
        with pytest.raises(IdempotencyKeyTakenError) as taken:
            repo.claim("tn_a", "k1", IdempotencyRecord("cmp_3", "hash3"), now=later, ttl_seconds=TTL)
        assert taken.value.record.campaign_id == "cmp_2"

    def test_a_release_frees_the_key_only_for_the_request_that_took_it(self, repo: Idempotency) -> None:
        # GIVEN a claim by campaign 1 WHEN another request's campaign releases it THEN the key stays taken
        repo.claim("tn_a", "k1", IdempotencyRecord("cmp_1", "hash1"), now=NOW, ttl_seconds=TTL)
        repo.release("tn_a", "k1", "cmp_other")
        with pytest.raises(IdempotencyKeyTakenError):
            repo.claim("tn_a", "k1", IdempotencyRecord("cmp_2", "hash1"), now=NOW, ttl_seconds=TTL)
        # WHEN campaign 1 releases it THEN the same request may be tried again
        repo.release("tn_a", "k1", "cmp_1")
        repo.claim("tn_a", "k1", IdempotencyRecord("cmp_2", "hash1"), now=NOW, ttl_seconds=TTL)
        # AND releasing a key nobody holds is a no-op
        repo.release("tn_a", "k-none", "cmp_1")


class TestFakeIdempotency(IdempotencyContract):
    @pytest.fixture
    def repo(self) -> Idempotency:
        return FakeIdempotency()


class TestMotoIdempotency(IdempotencyContract):
    @pytest.fixture
    def repo(self, env: Env) -> Idempotency:
        return env.deps.idempotency
