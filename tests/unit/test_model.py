"""The status machines, result figures, ids and the pacer: pure logic, no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.adapters.providers.base import Outcome
from chalicelib.adapters.providers.twilio import classify
from chalicelib.adapters.queue import Chunk
from chalicelib.domain.model import (
    COUNTER_SHARDS,
    SEND_INTERRUPTED,
    IdFactory,
    RecipientStatus,
    Result,
    counter_shard,
    provider_may_move,
)
from chalicelib.domain.recipient import Recipient, recipient_from, recipient_values
from chalicelib.services.sending import MAX_PARALLEL, parallelism

R = RecipientStatus


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (R.SENDING, R.SENT, True),
        (R.SENT, R.DELIVERED, True),
        (R.DELIVERED, R.READ, True),
        (R.READ, R.SENT, False),  # a late `sent` never undoes `read`
        (R.READ, R.DELIVERED, False),
        (R.DELIVERED, R.SENT, False),
        (R.DELIVERED, R.DELIVERED, False),  # a replay moves nothing, so it counts nothing
        (R.FAILED, R.DELIVERED, False),  # failed at send time is final
        (R.QUEUED, R.DELIVERED, False),  # never sent by us: no report can apply
        (R.SENT, R.UNDELIVERED, True),
        (R.UNDELIVERED, R.DELIVERED, False),
    ],
)
def test_provider_reports_only_move_forward(current: R, target: R, allowed: bool) -> None:
    # GIVEN a recipient in `current` WHEN the provider reports `target` THEN it moves only forward
    assert provider_may_move(current, target) is allowed


def test_an_interrupted_send_can_be_settled_by_the_provider() -> None:
    # GIVEN a recipient failed because its worker died mid-send
    # THEN the provider's own report of delivery may still settle it, but another failure code may not
    assert provider_may_move(R.FAILED, R.DELIVERED, SEND_INTERRUPTED)
    assert not provider_may_move(R.FAILED, R.DELIVERED, "21211")
    # AND a recipient asks the same rule with its own error code
    interrupted = Recipient(0, "+14155550100", R.FAILED, 0, "tn_1", "ch_1", attempts=1, error_code=SEND_INTERRUPTED)
    assert interrupted.provider_may_move(R.DELIVERED)
    assert not replace(interrupted, error_code="21211").provider_may_move(R.DELIVERED)


def test_a_recipient_round_trips_through_its_stored_attributes() -> None:
    # GIVEN a claimed recipient with variables
    queued = Recipient(3, "+14155550100", R.QUEUED, 1, "tn_1", "ch_1", variables={"name": "Ann"})
    claimed = queued.claimed("tok", 100.0)
    assert (claimed.status, claimed.claim_token, claimed.claimed_at, claimed.attempts) == (R.SENDING, "tok", 100.0, 1)
    assert claimed.held_by("tok") and not claimed.held_by("other") and not queued.held_by("tok")
    # WHEN it is stored and read back (with the item's keys beside it) THEN it is the same recipient
    values = recipient_values(claimed)
    assert values["status"] == "sending" and "error_code" not in values
    assert recipient_from({"pk": "CAMPAIGN#c", "sk": "R#00000003", **values}) == claimed
    # AND no variables are stored when it has none
    assert "variables" not in recipient_values(replace(queued, variables={}))


def test_result_sums_shards_into_the_contracts_figures() -> None:
    # GIVEN counters spread over shards
    shards = [
        {"n_pending": 2, "n_sent": 3, "n_delivered": 4, "n_read": 1},
        {"n_failed": 5, "n_undelivered": 2, "n_skipped": 1},
    ]
    # WHEN summed THEN sent includes delivered and read, failed includes undelivered, total covers all
    result = Result.from_buckets(shards)
    assert result.total == 18
    assert result.sent == 8
    assert result.delivered == 5
    assert result.failed == 7
    assert result.pending == 2
    assert result.skipped == 1
    assert result.total == result.sent + result.failed + result.pending + result.skipped


def test_ids_sort_by_creation_time() -> None:
    # GIVEN ids made at increasing times (with random tails that would sort otherwise)
    times = iter([1.0, 2.0, 3.0])
    tails = iter([3 << 70, 2 << 70, 1 << 70])
    ids = IdFactory(clock=lambda: next(times), rand=lambda bits: next(tails))
    made = [ids.new("cmp") for _ in range(3)]
    # THEN string order is creation order, which is what "newest first" listing relies on
    assert made == sorted(made)
    assert all(i.startswith("cmp_") and len(i) == 30 for i in made)


def test_counter_shards_group_a_chunk_and_spread_chunks() -> None:
    # GIVEN 100 recipients per chunk THEN a chunk shares one shard and consecutive chunks use different ones
    assert {counter_shard(i, 100) for i in range(100)} == {0}
    assert [counter_shard(c * 100, 100) for c in range(COUNTER_SHARDS + 1)] == [*range(COUNTER_SHARDS), 0]


def test_parallelism_grows_with_mps_within_bounds() -> None:
    # Enough sends at once that answers taking SEND_LATENCY_SECONDS, and a block's slots waiting their turn, still
    # carry the number's rate: 12/s -> 5 awaiting answers + 5 more slots of its block of 6.
    assert parallelism(1) == parallelism(2) == 1
    assert parallelism(12) == 10
    assert parallelism(80) == parallelism(1000) == MAX_PARALLEL


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (429, 20429, Outcome.THROTTLED),
        (400, 21211, Outcome.PERMANENT),
        (400, 21610, Outcome.PERMANENT),
        (401, 20003, Outcome.ACCOUNT),
        # A 5xx may come after Twilio queued the message: never a refusal, never resent blindly.
        (500, 20500, Outcome.UNCERTAIN),
        (503, None, Outcome.UNCERTAIN),
        (502, None, Outcome.UNCERTAIN),
        (400, 30001, Outcome.THROTTLED),
    ],
)
def test_twilio_errors_are_classified(status: int, code: int | None, outcome: Outcome) -> None:
    assert classify(status, code) == outcome


def test_chunk_round_trips_through_its_message_body() -> None:
    chunk = Chunk("tn_1", "cmp_1", 100, 200, 3)
    assert Chunk.from_json(chunk.to_json()) == chunk


def test_a_report_for_the_attempt_queued_again_disproves_its_absence() -> None:
    # GIVEN a recipient released after its hand-over seemed absent from the provider's records (attempt 1 kept)
    released = Recipient(0, "+14155550100", R.QUEUED, shard=0, tenant_id="tn_1", channel_id="ch_1", attempts=1)
    # THEN the provider's report that attempt 1 was sent disproves the absence (it is recorded, never resent)
    assert released.disproves_absence(1, RecipientStatus.SENT)
    assert released.disproves_absence(1, RecipientStatus.DELIVERED)
    # AND a report of another attempt, of a failure, without an attempt, or after a retry's requeue does not
    assert not released.disproves_absence(2, RecipientStatus.SENT)
    assert not released.disproves_absence(1, RecipientStatus.FAILED)
    assert not released.disproves_absence(None, RecipientStatus.SENT)
    assert not replace(released, last_error={"code": "30003"}).disproves_absence(1, RecipientStatus.SENT)
    assert not replace(released, status=R.SENDING).disproves_absence(1, RecipientStatus.SENT)


def test_a_button_payload_names_campaign_recipient_and_button_and_reads_back() -> None:
    # GIVEN a payload we made WHEN it is read THEN it names the same campaign, recipient and button
    from chalicelib.domain.templates import button_payload, parse_button_payload

    payload = button_payload("cmp_01HX", 42, 1)
    assert parse_button_payload(payload) == ("cmp_01HX", 42, 1)
    # AND anything else (a PBX's own payload, a forged or truncated one) names nothing
    for other in ("Stop promotions", "mc1:cmp_01HX:42", "mc1::1:0", "mc1:c:x:0", "mc1:c:٤٢:0", "mc2:c:1:0"):
        assert parse_button_payload(other) is None


def test_an_inbound_message_is_kept_under_its_id_or_a_stable_digest_when_that_cannot_be_a_key() -> None:
    # GIVEN messages with a plain id, an id too long (or not plain) for a table key, and no id at all
    from chalicelib.domain.events import InboundMessage, inbound_key

    plain = InboundMessage("wamid.HBgL", "+41415084545", "+15550100001", "hi")
    long = InboundMessage("SM" + "b" * 2000, "+41415084545", "+15550100001", "hi")
    odd = InboundMessage("SM\n1", "+41415084545", "+15550100001", "hi")
    none = InboundMessage("", "+41415084545", "+15550100001", "hi")
    # THEN a plain id is the key; the others are keyed by a digest that is the same for the provider's retry
    assert inbound_key(plain) == "wamid.HBgL"
    for message in (long, odd, none):
        key = inbound_key(message)
        assert key.startswith("sha256:") and len(key) < 100 and key == inbound_key(message)
    assert len({inbound_key(long), inbound_key(odd), inbound_key(none)}) == 3
    # AND two different messages without an id are told apart
    assert inbound_key(none) != inbound_key(InboundMessage("", "+41415084545", "+15550100001", "other"))
