"""Pause, resume and cancel through the API on moto, the simulator and the event pump (the contract's extension)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Api, Env, campaign_body, schedule_of
from tests.functional.test_campaign_ops import create, get, in_an_hour, numbers, recipients, sent_to


def test_pause_frees_the_slot_and_resume_sends_the_rest_once(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN campaign A sending (its chunk not worked yet) and B pending behind it
    a = create(api, campaign_body(numbers(3, 0), channel["id"]))
    b = create(api, campaign_body(numbers(2, 1), channel["id"]))
    assert (a["status"], b["status"]) == ("executing", "pending")
    # WHEN A is paused
    status, paused = api.call("POST", f"/v1/campaigns/{a['id']}/pause")
    # THEN it is paused, and B took the tenant's slot at once
    assert status == 200 and paused["status"] == "paused" and paused["paused_at"], paused
    assert get(api, b["id"])["status"] == "executing"
    assert (env.deps.campaigns.lock_of(tenant[0]) or {}).get("sending") == b["id"]
    # AND working the queue sends B alone; A's chunk finds it paused and hands nothing over
    pump.drain()
    assert get(api, b["id"])["status"] == "completed"
    assert sent_to(env) == sorted(numbers(2, 1))
    assert {r["status"] for r in recipients(api, a["id"]).values()} == {"queued"}
    # WHEN A is resumed THEN it sends again and completes, each of its numbers sent once
    status, resumed = api.call("POST", f"/v1/campaigns/{a['id']}/resume")
    assert status == 200 and resumed["status"] == "executing", resumed
    pump.drain()
    assert get(api, a["id"])["status"] == "completed"
    assert sent_to(env) == sorted(numbers(3, 0) + numbers(2, 1))
    assert pump.errors == []


def test_cancel_of_a_scheduled_campaign_completes_it_with_every_recipient_skipped(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a campaign scheduled in an hour
    scheduled = create(
        api, campaign_body(numbers(2), channel["id"], send_time={"type": "scheduled", "at": in_an_hour(env)})
    )
    assert schedule_of(env, scheduled["id"])
    # WHEN it is cancelled
    status, cancelled = api.call("POST", f"/v1/campaigns/{scheduled['id']}/cancel")
    # THEN it is completed, its recipients are listed skipped as cancelled, and its schedule is gone
    assert status == 200 and cancelled["status"] == "completed" and cancelled["cancel_requested_at"], cancelled
    assert cancelled["result"]["total"] == 2 and cancelled["result"]["skipped"] == 2
    listed = recipients(api, scheduled["id"])
    assert {(r["status"], r["error"]["code"]) for r in listed.values()} == {("skipped", "cancelled")}
    with pytest.raises(ClientError):
        schedule_of(env, scheduled["id"])
    # AND when its time comes nothing is sent
    env.deps.clock.offset += 3600 + 61
    pump.run_ticks()
    pump.drain()
    assert env.sim.messages() == [] and get(api, scheduled["id"])["status"] == "completed"


def test_cancel_of_a_sending_campaign_skips_what_was_not_handed_over(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a campaign sending, its chunk not yet worked
    sending = create(api, campaign_body(numbers(3), channel["id"]))
    # WHEN it is cancelled
    status, cancelled = api.call("POST", f"/v1/campaigns/{sending['id']}/cancel")
    # THEN it completed with all three skipped, and its chunk, worked later, sends nothing
    assert status == 200 and cancelled["status"] == "completed", cancelled
    assert (cancelled["result"]["skipped"], cancelled["result"]["pending"]) == (3, 0)
    pump.drain()
    assert env.sim.messages() == [] and pump.errors == []
    # AND a second cancel is a conflict now (it is completed), in the contract's shape
    status, again = api.call("POST", f"/v1/campaigns/{sending['id']}/cancel")
    assert status == 409 and again["error"]["code"] == "campaign_not_cancellable", again
    assert again["error"]["details"] == [{"status": "completed"}]


def test_pause_resume_and_cancel_where_the_state_does_not_allow_them(
    api: Api, channel: dict[str, Any], pump: Any
) -> None:
    draft = create(api, campaign_body(numbers(1), channel["id"], send_time={"type": "draft"}))
    for action, code in (("pause", "campaign_not_sending"), ("resume", "campaign_not_paused")):
        status, refused = api.call("POST", f"/v1/campaigns/{draft['id']}/{action}")
        assert status == 409 and refused["error"]["code"] == code, refused
    status, refused = api.call("POST", f"/v1/campaigns/{draft['id']}/cancel")
    assert status == 409 and refused["error"]["code"] == "campaign_not_cancellable", refused
    assert get(api, draft["id"])["status"] == "draft"
    # An unknown campaign is 404
    for action in ("pause", "resume", "cancel"):
        status, missing = api.call("POST", f"/v1/campaigns/cmp_nope/{action}")
        assert status == 404 and missing["error"]["code"] == "not_found", missing


def test_a_chunk_in_the_dead_letter_queue_stops_its_campaign_and_retry_resumes_it(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a sending campaign whose chunk SQS moved to the send queue's dead-letter queue (failed on every delivery)
    created = create(api, campaign_body(numbers(2), channel["id"]))
    sqs = env.sqs()
    send_url = env.deps.settings.send_queue_url
    chunk = sqs.receive_message(QueueUrl=send_url, MaxNumberOfMessages=1)["Messages"][0]
    dlq_url = sqs.get_queue_url(QueueName="msgcampaigns-send-dlq.fifo")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody=chunk["Body"], MessageGroupId="g", MessageDeduplicationId="d1")
    sqs.delete_message(QueueUrl=send_url, ReceiptHandle=chunk["ReceiptHandle"])
    # WHEN the minute tick runs
    pump.run_ticks()
    # THEN the campaign is stopped with chunk_dead_lettered, and the dead letter is gone
    stopped = get(api, created["id"])
    assert stopped["status"] == "stopped" and stopped["stop_reason"]["code"] == "chunk_dead_lettered", stopped
    assert sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", []) == []
    # AND a retry sends both numbers, once each
    status, retried = api.call("POST", f"/v1/campaigns/{created['id']}/retry")
    assert status == 200 and retried["status"] == "retrying", retried
    pump.drain()
    assert get(api, created["id"])["status"] == "completed"
    assert sent_to(env) == sorted(numbers(2))
