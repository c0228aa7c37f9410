"""Events for the PBX: which stream records are events (hand-built records in the stored layouts), their stable ids,
the signed body, and the events worker's use case on fakes."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, cast

import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib.domain import pbx_events as pe
from chalicelib.domain.tenants import Tenant
from chalicelib.services import pbx_events
from chalicelib.services.event_ports import EventsNotPutError
from tests.fakes.deps import FakeWorld, fake_world
from tests.fakes.items import FakeTable
from tests.fakes.recipients import FakeRecipients

_SER = TypeSerializer()
TID = "tn_a"
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-12-01T00:00:00.000"


def typed(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item as a stream image."""
    return None if item is None else {k: _SER.serialize(v) for k, v in item.items()}


def record(
    name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None, *, event_id: str = "e1"
) -> dict[str, Any]:
    """A Lambda-shaped DynamoDB stream record of an item change."""
    item = new or old or {}
    return {
        "eventID": event_id,
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_796_000_000,
            "Keys": typed({"pk": item["pk"], "sk": item["sk"]}),
            "NewImage": typed(new),
            "OldImage": typed(old),
            "SequenceNumber": "1",
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def campaign(status: str, cid: str = "cmp_1") -> dict[str, Any]:
    """A campaign item."""
    return {"pk": f"TENANT#{TID}", "sk": f"CAMPAIGN#{cid}", "type": "campaign", "status": status, "name": "x"}


def session(sid: str = "ses_1") -> dict[str, Any]:
    """A session item (session_ports.py's layout)."""
    return {
        "pk": f"TENANT#{TID}",
        "sk": f"SESSION#{sid}",
        "kind": "session",
        "session_id": sid,
        "tenant_id": TID,
        "channel_id": "ch_1",
        "sender": "+15005550006",
        "contact": "+14155550100",
        "routing_target": {"type": "queue", "id": "700"},
        "status": "open",
        "origin": "campaign",
        "campaign_id": "cmp_1",
        "created_at": "2026-12-01T08:00:00Z",
        "last_message_at": "2026-12-01T08:00:00Z",
    }


def message(direction: str = "inbound", text: str = "yes please") -> dict[str, Any]:
    """A session_message item."""
    return {
        "pk": "SESSION#ses_1",
        "sk": "MSG#2026-12-01T08:01:00Z#msg_1",
        "kind": "session_message",
        "tenant_id": TID,
        "session_id": "ses_1",
        "message_id": "msg_1",
        "direction": direction,
        "contact": "+14155550100",
        "text": text,
        "at": "2026-12-01T08:01:00Z",
    }


def optout(opted_out: bool, source: str = "keyword") -> dict[str, Any]:
    """An opt-out item (optout_ports.py's layout)."""
    return {
        "pk": f"TENANT#{TID}",
        "sk": "OPTOUT#+14155550100",
        "kind": "optout",
        "tenant_id": TID,
        "number": "+14155550100",
        "opted_out": opted_out,
        "source": source,
        "channel_id": "ch_1",
        "at": "2026-12-01T08:02:00Z",
    }


# ------------------------------------------------------------------------------------------------ translation
def test_a_campaign_status_change_is_an_event_and_other_campaign_writes_are_not() -> None:
    # GIVEN a campaign created, moved to executing, then written again in the same status, then deleted
    created = pe.translate(record("INSERT", campaign("draft")))
    moved = pe.translate(record("MODIFY", campaign("executing"), campaign("draft")))
    same = pe.translate(record("MODIFY", {**campaign("executing"), "name": "y"}, campaign("executing")))
    deleted = pe.translate(record("REMOVE", None, campaign("draft")))
    # THEN creation and the move are Campaign Status Changed (waiting for their result), the rest nothing
    assert created is not None and moved is not None
    assert moved.detail_type == "Campaign Status Changed" and moved.needs_result
    assert moved.detail == {"tenant_id": TID, "campaign_id": "cmp_1", "status": "executing"}
    assert created.detail["status"] == "draft"
    assert same is None and deleted is None


def test_a_session_insert_is_session_opened_and_its_later_writes_are_not() -> None:
    # GIVEN a session item inserted, then modified
    opened = pe.translate(record("INSERT", session()))
    touched = pe.translate(record("MODIFY", {**session(), "last_message_at": "later"}, session()))
    # THEN the insert is Session Opened with the contract's fields
    assert opened is not None and opened.detail_type == "Session Opened" and not opened.needs_result
    assert opened.detail == {
        "tenant_id": TID,
        "session_id": "ses_1",
        "contact": "+14155550100",
        "routing_target": {"type": "queue", "id": "700"},
        "campaign_id": "cmp_1",
    }
    assert touched is None


def test_only_an_inbound_chat_log_message_is_message_received() -> None:
    # GIVEN an inbound and an outbound message of a session's chat log
    inbound = pe.translate(record("INSERT", message("inbound")))
    outbound = pe.translate(record("INSERT", message("outbound")))
    status = pe.translate(record("MODIFY", {**message("inbound"), "status": "read"}, message("inbound")))
    # THEN only the inbound insert is an event
    assert inbound is not None and inbound.detail_type == "Message Received"
    assert inbound.detail == {
        "tenant_id": TID,
        "session_id": "ses_1",
        "message_id": "msg_1",
        "contact": "+14155550100",
        "text": "yes please",
    }
    assert outbound is None and status is None


@pytest.mark.parametrize(
    ("name", "new", "old", "expected"),
    [
        ("INSERT", True, None, "Contact Opted Out"),
        ("INSERT", False, None, None),
        ("MODIFY", False, True, "Contact Opted In"),
        ("MODIFY", True, False, "Contact Opted Out"),
        ("MODIFY", True, True, None),
        ("MODIFY", False, False, None),
        ("REMOVE", None, True, None),
    ],
)
def test_an_opt_out_event_is_a_flip_of_opted_out(name: str, new: bool | None, old: bool | None, expected: str) -> None:
    # GIVEN an opt-out item written WHEN it is translated THEN only a change of opted_out is an event
    event = pe.translate(
        record(name, optout(new) if new is not None else None, optout(old) if old is not None else None)
    )
    assert (event.detail_type if event else None) == expected
    if event:
        assert event.detail == {"tenant_id": TID, "number": "+14155550100", "source": "keyword"}


def test_items_outside_the_event_keys_are_nothing() -> None:
    # GIVEN writes of a tenant item, a recipient and a counter WHEN translated THEN no event
    tenant = {"pk": f"TENANT#{TID}", "sk": "#TENANT", "status": "x", "kind": "session"}
    recipient = {"pk": "CAMPAIGN#cmp_1", "sk": "R#00000001", "status": "sent"}
    assert pe.translate(record("INSERT", tenant)) is None
    assert pe.translate(record("MODIFY", recipient, {**recipient, "status": "queued"})) is None
    assert not pe.wanted({"pk": "CAMPAIGN#cmp_1", "sk": "C#00"})
    assert pe.wanted({"pk": "SESSION#s", "sk": "MSG#x"}) and pe.wanted({"pk": f"TENANT#{TID}", "sk": "OPTOUT#+1"})


def test_the_event_id_is_stable_per_record_and_differs_between_records() -> None:
    # GIVEN one stream record read twice (a retry) and another record
    first = pe.translate(record("INSERT", session(), event_id="e1"))
    again = pe.translate(record("INSERT", session(), event_id="e1"))
    other = pe.translate(record("INSERT", session(), event_id="e2"))
    # THEN the retry has the same id, the other record another
    assert first and again and other
    assert first.event_id == again.event_id != other.event_id
    assert first.event_id.startswith("evt_") and first.time == "2026-11-30T00:53:20Z"


# ------------------------------------------------------------------------------------------------ the signed body
def test_the_delivered_body_is_signed_with_hmac_sha256_of_its_exact_bytes() -> None:
    # GIVEN an event with non-ASCII text
    event = pe.translate(record("INSERT", message(text="¿sí? 👍")))
    assert event is not None
    # WHEN its bus detail is made for a tenant with a secret
    detail = pe.bus_detail(event, "s3cret")
    body = detail["delivery"]["body"]
    # THEN the body is the documented JSON and the signature its HMAC-SHA256 with the secret
    assert json.loads(body) == {
        "id": event.event_id,
        "type": "Message Received",
        "time": event.time,
        "detail": event.detail,
    }
    expected = hmac.new(b"s3cret", body.encode("utf-8"), hashlib.sha256).hexdigest()
    assert detail["delivery"]["signature"] == f"sha256={expected}"
    assert pe.verify(body, f"sha256={expected}", "s3cret") and not pe.verify(body + " ", f"sha256={expected}", "s3cret")
    assert not pe.verify(body, f"sha256={expected}", "other")
    # AND the contract's fields sit beside it; without a secret (no event_url) there is no delivery
    assert {k: v for k, v in detail.items() if k != "delivery"} == event.detail
    assert pe.bus_detail(event, None) == event.detail


# ------------------------------------------------------------------------------------------------ the worker
def worker_world(event_url: str | None = "https://pbx.example.test/events") -> FakeWorld:
    """A fake world with one tenant (with an event_url and secret, unless None) and counters for cmp_1."""
    world = fake_world()
    world.tenants.create(Tenant(TID, "Acme", "h1", "2026-12-01T00:00:00Z", event_url=event_url))
    if event_url:
        world.events.create_secret(TID, "s3cret")
    table = FakeTable()
    table.put({"pk": "CAMPAIGN#cmp_1", "sk": "C#00", "n_sent": 2, "n_delivered": 1, "n_failed": 1})
    table.put({"pk": "CAMPAIGN#cmp_1", "sk": "C#01", "n_pending": 3, "n_skipped": 1})
    world.deps.recipients = cast(Any, FakeRecipients(table))
    return world


def test_the_worker_puts_each_event_with_its_result_and_signed_delivery() -> None:
    # GIVEN a batch of a campaign move, a counter write and an opt-out for a tenant with an event_url
    world = worker_world()
    batch = [
        record("MODIFY", campaign("completed"), campaign("executing"), event_id="a"),
        record("MODIFY", {"pk": "CAMPAIGN#cmp_1", "sk": "C#00", "n_sent": 3}, None, event_id="b"),
        record("INSERT", optout(True), event_id="c"),
    ]
    # WHEN the worker handles it
    assert pbx_events.handle_records(world.deps, batch) == 2
    # THEN two events are on the bus, the campaign's with its result from the counters, each with a signed body
    status, opted = world.events.put_entries
    assert status.event.detail_type == "Campaign Status Changed"
    assert status.detail["result"] == {
        "total": 8,
        "sent": 3,
        "delivered": 1,
        "read": 0,
        "failed": 1,
        "pending": 3,
        "skipped": 1,
    }
    assert opted.event.detail_type == "Contact Opted Out"
    for entry in (status, opted):
        body = entry.detail["delivery"]["body"]
        assert pe.verify(body, entry.detail["delivery"]["signature"], "s3cret")
        assert json.loads(body)["detail"] == {k: v for k, v in entry.detail.items() if k != "delivery"}


def test_a_tenant_without_event_url_gets_events_on_the_bus_without_delivery() -> None:
    # GIVEN a tenant with no event_url WHEN its session opens THEN the event is on the bus, nothing to deliver
    world = worker_world(event_url=None)
    pbx_events.handle_records(world.deps, [record("INSERT", session())])
    (entry,) = world.events.put_entries
    assert "delivery" not in entry.detail and entry.detail["session_id"] == "ses_1"


def test_a_refused_put_fails_the_batch_so_the_stream_retries_it() -> None:
    # GIVEN the bus refuses an entry once
    world = worker_world()
    world.events.refuse_puts = 1
    batch = [record("INSERT", session(), event_id="a"), record("INSERT", optout(True), event_id="c")]
    # WHEN the worker handles the batch THEN it raises (Lambda retries the batch, never drops it)
    with pytest.raises(EventsNotPutError):
        pbx_events.handle_records(world.deps, batch)
    # AND the retry puts both again, with the same event ids (what the PBX de-duplicates on)
    pbx_events.handle_records(world.deps, batch)
    ids = [e.event.event_id for e in world.events.put_entries]
    assert ids[0] == ids[1] and len(set(ids)) == 2 and len(ids) == 3


def test_an_event_url_without_its_secret_fails_the_batch_instead_of_delivering_unsigned() -> None:
    # GIVEN a tenant with an event_url but (against the PATCH's order) no secret
    world = worker_world()
    world.events.secrets.clear()
    # WHEN its event is handled THEN the batch fails and nothing is put
    with pytest.raises(pbx_events.EventSecretMissingError):
        pbx_events.handle_records(world.deps, [record("INSERT", session())])
    assert world.events.put_entries == []


def test_put_events_calls_hold_at_most_ten_entries_and_the_size_limit() -> None:
    # GIVEN 25 small entries and 4 large ones WHEN cut into PutEvents calls
    from chalicelib.adapters.events import PUT_MAX_BYTES, batches

    small = [{"Source": "msgcampaigns", "DetailType": "x", "Detail": "{}"} for _ in range(25)]
    large = [{"Source": "msgcampaigns", "DetailType": "x", "Detail": "y" * 100_000} for _ in range(4)]
    # THEN no call has more than 10, none exceeds the size limit, and every entry is in one, in order
    cut = batches(small)
    assert [len(b) for b in cut] == [10, 10, 5]
    cut = batches(large)
    assert [len(b) for b in cut] == [2, 2]
    assert all(sum(len(e["Detail"]) for e in b) <= PUT_MAX_BYTES for b in cut)
    assert batches([]) == []
