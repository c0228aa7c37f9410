"""A provider's status callbacks on fakes: signed reports move recipients forward; anything else changes nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from chalicelib.adapters.providers.twilio import TwilioSignature
from chalicelib.domain.errors import ConcurrencyError, InvalidSignatureError, RecipientMovedError
from chalicelib.services import campaigns, lifecycle, webhooks
from tests.unit.campaign_deps import CHANNEL, TENANT, World, world
from tests.unit.test_campaign_life import create, send_queued

TOKEN = "t"  # the fake channel's auth token (tests/unit/campaign_deps.py)


def signed_world() -> World:
    w = world()
    w.deps.verifier_for = lambda channel, creds: TwilioSignature(creds["auth_token"])
    return w


def callback(w: World, message_index: int, fields: dict[str, str], token: str = TOKEN) -> None:
    """Post Twilio's status callback for a message the fake provider took, signed with `token`."""
    message = w.provider.messages[message_index]
    url = message.status_callback
    query = dict(parse_qsl(urlsplit(url).query))
    body = urlencode(fields).encode()
    signature = RequestValidator(token).compute_signature(url, fields)
    webhooks.record_status(w.deps, CHANNEL, query, body, signature)


def statuses(w: World, campaign_id: str) -> dict[str, str]:
    page = campaigns.views.list_recipients(w.deps, TENANT, campaign_id, None, 100, None)
    return {r["number"]: r["status"] for r in page["items"]}


def test_a_signed_delivered_report_moves_its_recipient_and_a_late_sent_does_not_undo_it() -> None:
    # GIVEN a campaign sent to two numbers
    w = signed_world()
    created = create(w, ["+14155550100", "+14155550101"])
    send_queued(w)
    first = w.provider.messages[0]
    # WHEN Twilio reports the first delivered, then (late) sent
    callback(w, 0, {"MessageSid": first.sid, "MessageStatus": "delivered", "To": first.to})
    callback(w, 0, {"MessageSid": first.sid, "MessageStatus": "sent", "To": first.to})
    # THEN that recipient is delivered and the other still sent; the campaign's figures say so
    got = statuses(w, created["id"])
    assert got[first.to] == "delivered"
    assert [s for n, s in got.items() if n != first.to] == ["sent"]
    result = campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"]
    assert result["delivered"] == 1 and result["sent"] == 2


def test_a_report_signed_with_another_token_is_refused_and_changes_nothing() -> None:
    # GIVEN a sent campaign
    w = signed_world()
    created = create(w, ["+14155550100"])
    send_queued(w)
    before = statuses(w, created["id"])
    # WHEN a report arrives signed with the wrong token, THEN it is refused, and the recipient is as it was
    message = w.provider.messages[0]
    with pytest.raises(InvalidSignatureError):
        callback(w, 0, {"MessageSid": message.sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}, token="x")
    assert statuses(w, created["id"]) == before == {"+14155550100": "sent"}


def test_an_undelivered_report_records_the_error_and_counts_as_failed() -> None:
    # GIVEN a sent campaign
    w = signed_world()
    created = create(w, ["+14155550100"])
    send_queued(w)
    message = w.provider.messages[0]
    # WHEN Twilio reports it undelivered with 30003 (unreachable handset)
    callback(w, 0, {"MessageSid": message.sid, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    # THEN the recipient is undelivered with that error, and the campaign counts it as failed
    page = campaigns.views.list_recipients(w.deps, TENANT, created["id"], None, 100, None)
    (recipient,) = page["items"]
    assert recipient["status"] == "undelivered" and recipient["error"]["code"] == "30003"
    assert campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"]["failed"] == 1


def losing_world() -> tuple[World, dict[str, Any], Any, Any]:
    """A sent one-recipient campaign whose recipient's every conditional move loses a race; with the real move."""
    w = signed_world()
    created = create(w, ["+14155550100"])
    send_queued(w)
    recipients = w.deps.recipients

    def always_lost(campaign_id: str, recipient: object, to_status: object, fields: object, **_: object) -> None:
        raise RecipientMovedError("another writer was first", recipient=recipients.get(campaign_id, 0))

    real_move = recipients.move
    recipients.move = always_lost  # type: ignore[method-assign]
    return w, created, w.provider.messages[0], real_move


def test_a_report_that_keeps_losing_its_race_is_kept_on_the_queue_and_applied_once_never_dropped() -> None:
    # GIVEN a sent campaign whose recipient's every conditional move loses a race (another writer always first, and
    # the recipient as it left it still allows the move: the report must be decided again, then again)
    w, created, first, real_move = losing_world()
    recipients = w.deps.recipients
    report = {"MessageSid": first.sid, "MessageStatus": "undelivered", "ErrorCode": "30003", "To": first.to}
    # WHEN Twilio reports it undelivered (and would not post it again after a 5xx: its default retries only a
    # failed connection)
    callback(w, 0, report)
    # THEN the report is kept on the send queue before the 2xx, and nothing changed yet
    (job,) = w.queue.take_jobs()
    assert job.kind == "report" and job.campaign_id == created["id"] and job.data is not None
    assert statuses(w, created["id"]) == {first.to: "sent"}
    # AND while the races go on, applying it fails (the queue delivers it again), still changing nothing
    with pytest.raises(ConcurrencyError):
        lifecycle.run_job(w.deps, job)
    # WHEN the race is over and the queue delivers it again, and once more (a duplicate delivery)
    recipients.move = real_move  # type: ignore[method-assign]
    lifecycle.run_job(w.deps, job)
    lifecycle.run_job(w.deps, job)
    # THEN it is applied once, with its error
    assert statuses(w, created["id"]) == {first.to: "undelivered"}
    got = campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"]
    assert (got["failed"], got["delivered"], got["pending"]) == (1, 0, 0)
    assert recipients.get(created["id"], 0).error_code == "30003"  # type: ignore[union-attr]


def test_a_report_that_keeps_losing_its_race_is_refused_with_503_when_the_queue_cannot_keep_it() -> None:
    # GIVEN a sent campaign whose recipient's every move loses a race, and a send queue that refuses messages
    w, created, first, _ = losing_world()

    def refused(job: object, dedup_id: str) -> None:
        raise ConcurrencyError("the queue kept refusing messages")

    w.queue.publish_job = refused  # type: ignore[method-assign]
    # WHEN Twilio reports it undelivered THEN it is answered try-again (503), never a 2xx for a report not kept
    with pytest.raises(ConcurrencyError) as answer:
        callback(w, 0, {"MessageSid": first.sid, "MessageStatus": "undelivered", "ErrorCode": "30003", "To": first.to})
    assert answer.value.status == 503
    assert statuses(w, created["id"]) == {first.to: "sent"}
