"""The campaign's life on fakes: create, dispatch, send, settle a lost answer, finish and hand the lock on.

Fast and without moto: the repositories and the provider are the in-memory fakes (tests/fakes/), held to the real
adapters by the contract suite, so these tests say what the use cases do, not what DynamoDB does.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from chalicelib.adapters.providers.base import Outcome, SendResult
from chalicelib.domain.commands import CampaignSettings, CreateCampaign, RecipientsSpec, SendNow, TextContent
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.recipient import Recipient
from chalicelib.services import campaigns, lifecycle, sending
from tests.fakes.provider import KEPT_NO_ANSWER, LOST_NO_ANSWER
from tests.unit.campaign_deps import CHANNEL, SENDER, TENANT, World, world

NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]


def create(w: World, numbers: list[str], name: str = "Promo", send_time: Any = None) -> dict[str, Any]:
    """A text campaign to `numbers`, sent now (or as `send_time` says: scheduled, a draft)."""
    settings = CampaignSettings(
        name=name,
        channel_id=CHANNEL,
        sender=SENDER,
        recipients=RecipientsSpec(numbers=tuple(numbers)),
        content=TextContent(text="Hello"),
    )
    created, replayed = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, send_time or SendNow()))
    assert not replayed
    return created


def send_queued(w: World) -> None:
    """Work the queue as the send worker would, until it is empty (jobs first, as their own messages)."""
    while w.queue.chunks or w.queue.jobs:
        for job in w.queue.take_jobs():
            lifecycle.run_job(w.deps, job)
        for chunk in w.queue.take_chunks():
            sending.handle_chunk(w.deps, chunk, lambda: 600.0)


def recipient(w: World, campaign_id: str, index: int) -> Recipient:
    """A recipient that must exist."""
    found = w.recipients.get(campaign_id, index)
    assert found is not None
    return found


def status(w: World, campaign_id: str) -> str:
    found = w.campaigns.get(TENANT, campaign_id)
    return found.status if found else "gone"


def test_a_campaign_is_sent_to_each_number_once_and_completes() -> None:
    # GIVEN a campaign to three numbers, sent now
    w = world()
    created = create(w, NUMBERS)
    assert created["status"] == "executing" and created["result"]["pending"] == 3
    # WHEN its chunk is sent
    send_queued(w)
    # THEN each number got one message, the campaign completed, and the tenant's lock is free
    assert Counter(w.provider.calls) == Counter(NUMBERS)
    got = campaigns.views.get_campaign(w.deps, TENANT, created["id"])
    assert got["status"] == "completed" and got["result"]["sent"] == 3 and got["result"]["pending"] == 0
    assert not (w.campaigns.lock_of(TENANT) or {}).get("sending")


def test_a_chunk_delivered_twice_sends_nothing_twice() -> None:
    # GIVEN a campaign's chunk that the queue hands out twice (a redelivery)
    w = world()
    create(w, NUMBERS)
    chunk = w.queue.take_chunks()
    assert len(chunk) == 1
    # WHEN both deliveries are worked
    sending.handle_chunk(w.deps, chunk[0], lambda: 600.0)
    sending.handle_chunk(w.deps, chunk[0], lambda: 600.0)
    # THEN each number was handed over once
    assert Counter(w.provider.calls) == Counter(NUMBERS)


def test_a_second_campaign_waits_for_the_lock_and_sends_after_the_first() -> None:
    # GIVEN campaign A sending and campaign B created meanwhile
    w = world()
    a = create(w, NUMBERS[:2], name="A")
    b = create(w, NUMBERS[2:], name="B")
    assert (a["status"], b["status"]) == ("executing", "pending")
    # WHEN the queue is worked
    send_queued(w)
    # THEN A finished, handed the lock to B, and B was sent and finished too
    assert (status(w, a["id"]), status(w, b["id"])) == ("completed", "completed")
    assert Counter(w.provider.calls) == Counter(NUMBERS)


def test_an_answer_lost_after_the_provider_kept_the_message_is_settled_not_resent() -> None:
    # GIVEN a provider that keeps the second number's message but whose answer is lost
    w = world()
    w.provider.script(NUMBERS[1], KEPT_NO_ANSWER)
    created = create(w, NUMBERS)
    send_queued(w)
    # THEN that recipient stays claimed and the campaign keeps sending
    assert recipient(w, created["id"], 1).status == RecipientStatus.SENDING
    assert status(w, created["id"]) == "executing"
    # WHEN the settle wait has passed and the minute tick runs
    w.advance(w.deps.settings.settle_seconds + 1)
    assert lifecycle.tick(w.deps)["settling"] == 1
    send_queued(w)
    # THEN the provider's records settled it as sent with its id, it was never handed over again, and the campaign
    # completed
    settled = recipient(w, created["id"], 1)
    assert settled.status == "sent" and settled.provider_message_id == w.provider.sent_to(NUMBERS[1])[0].sid
    assert Counter(w.provider.calls) == Counter(NUMBERS)
    assert status(w, created["id"]) == "completed"


def test_an_answer_lost_before_the_provider_got_it_is_sent_again_as_a_new_attempt() -> None:
    # GIVEN a hand-over whose request never reached the provider, and whose answer was lost
    w = world()
    w.provider.script(NUMBERS[0], LOST_NO_ANSWER)
    created = create(w, NUMBERS)
    send_queued(w)
    # WHEN its records prove it absent (the tick settles it once due)
    w.advance(w.deps.settings.settle_seconds + 1)
    lifecycle.tick(w.deps)
    send_queued(w)
    # THEN it was sent once more, as attempt 2, and the provider has exactly one message for it
    again = recipient(w, created["id"], 0)
    assert (again.status, again.attempts) == ("sent", 2)
    assert w.provider.calls.count(NUMBERS[0]) == 2 and len(w.provider.sent_to(NUMBERS[0])) == 1
    assert status(w, created["id"]) == "completed"


def test_records_that_cannot_be_read_leave_the_recipient_claimed_and_asked_again() -> None:
    w = world()
    w.provider.script(NUMBERS[0], KEPT_NO_ANSWER)
    w.provider.records_unreadable = True
    created = create(w, NUMBERS)
    send_queued(w)
    w.advance(w.deps.settings.settle_seconds + 1)
    lifecycle.tick(w.deps)
    send_queued(w)
    # THEN it is neither resent nor given up: still claimed, the hand-over record due again later
    assert recipient(w, created["id"], 0).status == "sending"
    assert w.provider.calls.count(NUMBERS[0]) == 1
    assert [h.indexes for h in w.handovers.of_campaign(created["id"])] == [(0,)]
    # WHEN the records can be read again THEN the next tick settles it
    w.provider.records_unreadable = False
    w.advance(w.deps.settings.settle_seconds + 1)
    lifecycle.tick(w.deps)
    send_queued(w)
    assert recipient(w, created["id"], 0).status == "sent"
    assert status(w, created["id"]) == "completed"


def test_credentials_the_provider_refuses_stop_the_campaign_and_hand_the_lock_on() -> None:
    # GIVEN campaign A whose provider refuses the account, and B waiting behind it
    w = world()
    w.provider.script(NUMBERS[0], SendResult(Outcome.ACCOUNT, error_code="20003", error_message="Authenticate"))
    a = create(w, NUMBERS[:1], name="A")
    b = create(w, NUMBERS[1:], name="B")
    # WHEN the queue is worked
    send_queued(w)
    # THEN A stopped with the provider's reason, and B was sent
    stopped = w.campaigns.get(TENANT, a["id"])
    assert stopped is not None and stopped.status == "stopped"
    assert stopped.stop_reason is not None and stopped.stop_reason["code"] == "provider_20003"
    assert status(w, b["id"]) == "completed"


def test_a_failed_recipient_is_retried_and_only_it_is_sent_again() -> None:
    # GIVEN a completed campaign whose second number was refused (a permanent error worth a retry)
    w = world()
    w.provider.script(NUMBERS[1], SendResult(Outcome.PERMANENT, error_code="30003", error_message="Unreachable"))
    created = create(w, NUMBERS)
    send_queued(w)
    assert campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"]["failed"] == 1
    # WHEN it is retried
    retried = campaigns.retry_campaign(w.deps, TENANT, created["id"])
    assert retried["status"] == "retrying"
    send_queued(w)
    # THEN only the failed number was sent again, and the campaign completed with everyone sent
    assert Counter(w.provider.calls) == Counter([*NUMBERS, NUMBERS[1]])
    got = campaigns.views.get_campaign(w.deps, TENANT, created["id"])
    assert got["status"] == "completed" and got["result"]["sent"] == 3 and got["result"]["failed"] == 0


def test_the_first_chunk_goes_out_while_the_rest_of_the_audience_is_written_and_counts_add_up() -> None:
    # GIVEN a campaign of five in chunks of two
    w = world(chunk_size=2)
    numbers = [f"+1415555{i:04d}" for i in range(5)]
    real_create = w.recipients.create
    writes: list[int] = []

    def create_then_send_what_is_queued(campaign_id: str, rows: Any, on_batch: Any = None) -> None:
        batch = list(rows)
        writes.append(len(batch))
        if len(writes) == 2:
            # WHEN the rest is about to be written THEN the first chunk is queued already: send it now
            queued = w.queue.take_chunks()
            assert [(c.start, c.end) for c in queued] == [(0, 2)]
            for chunk in queued:
                sending.handle_chunk(w.deps, chunk, lambda: 600.0)
            assert Counter(w.provider.calls) == Counter(numbers[:2])
        real_create(campaign_id, batch, on_batch)

    w.recipients.create = create_then_send_what_is_queued  # type: ignore[method-assign]
    created = create(w, numbers)
    assert writes == [2, 3]
    send_queued(w)
    # THEN every number got one message and the counters add up (the first chunk's outcomes were counted before the
    # audience's counters were written)
    assert Counter(w.provider.calls) == Counter(numbers)
    got = campaigns.views.get_campaign(w.deps, TENANT, created["id"])
    assert got["status"] == "completed"
    assert (got["result"]["total"], got["result"]["sent"], got["result"]["pending"]) == (5, 5, 0)


def test_an_uploaded_list_is_read_as_its_recipients_are_written_so_its_first_chunk_goes_out_first() -> None:
    # GIVEN an imported contacts CSV of 500 and chunks of 100
    from tests.fakes.aws import FakeBlobs
    from tests.unit.template_world import csv_upload

    w = world(chunk_size=100)
    w.deps.blobs = FakeBlobs()
    numbers = [f"+1415555{i:04d}" for i in range(500)]
    upload_id = csv_upload(w, "upl_big", ["first_name"], [(n, [f"C{i}"]) for i, n in enumerate(numbers)])
    read: list[str] = []
    lines = w.deps.blobs.lines

    def counted(key: str) -> Any:
        for line in lines(key):
            read.append(line)
            yield line

    w.deps.blobs.lines = counted  # type: ignore[method-assign]
    publish = w.queue.publish
    read_when_queued: list[int] = []

    def noted(chunks: Any, group: str, dedup_prefix: str, on_batch: Any = None) -> None:
        read_when_queued.append(len(read))
        publish(chunks, group, dedup_prefix, on_batch)

    w.queue.publish = noted  # type: ignore[method-assign]
    settings = CampaignSettings(
        name="Big", channel_id=CHANNEL, sender=SENDER, recipients=RecipientsSpec(upload_id=upload_id),
        content=TextContent(text="Hi"),
    )  # fmt: skip
    # WHEN it is sent now
    created, _ = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()))
    # THEN the first chunk was queued when little more than its own 100 contacts (and the columns line) were read
    assert read_when_queued[0] <= 102 and len(read) == 501
    # AND every contact is written once, with its CSV columns, and gets one message
    send_queued(w)
    assert Counter(w.provider.calls) == Counter(numbers)
    assert recipient(w, created["id"], 499).variables == {"first_name": "C499"}
    got = campaigns.views.get_campaign(w.deps, TENANT, created["id"])
    assert (got["status"], got["result"]["total"], got["result"]["sent"]) == ("completed", 500, 500)


def test_typed_numbers_beside_an_upload_keep_the_csv_columns_and_are_not_sent_twice() -> None:
    # GIVEN a CSV of three and a typed number that is also in it
    from tests.fakes.aws import FakeBlobs
    from tests.unit.template_world import csv_upload

    w = world(chunk_size=2)
    w.deps.blobs = FakeBlobs()
    numbers = [f"+1415555{i:04d}" for i in range(3)]
    upload_id = csv_upload(w, "upl_mixed", ["first_name"], [(n, [f"C{i}"]) for i, n in enumerate(numbers)])
    settings = CampaignSettings(
        name="Mixed", channel_id=CHANNEL, sender=SENDER,
        recipients=RecipientsSpec(numbers=(numbers[2], "+14155559999"), upload_id=upload_id),
        content=TextContent(text="Hi"),
    )  # fmt: skip
    # WHEN it is sent
    created, _ = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()))
    send_queued(w)
    # THEN each number got one message, and the typed one that is in the CSV has its columns
    assert Counter(w.provider.calls) == Counter([*numbers, "+14155559999"])
    assert recipient(w, created["id"], 0).number == numbers[2]
    assert recipient(w, created["id"], 0).variables == {"first_name": "C2"}
