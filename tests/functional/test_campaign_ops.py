"""Campaign operations through the API on moto: edit, send, duplicate, retry and delete a campaign, the limits, and
the large-audience path (the audience written by a dispatch job on the send queue)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.services import lifecycle
from tests.conftest import (
    SENDER,
    Api,
    Env,
    campaign_body,
    campaign_partitions,
    schedule_of,
    set_settings,
    settle_time,
)
from tests.functional.test_uploads import csv_rows, inline_csv

DRAFT = {"type": "draft"}
BAD_NUMBER = "+15005550001"  # Twilio 21211: invalid number (a failure a retry resends)
OPTED_OUT = "+15005550004"  # Twilio 21610: the recipient replied STOP (never resent)


# ------------------------------------------------------------------------------------------------ helpers
def numbers(count: int, block: int = 0) -> list[str]:
    return [f"+1415666{block:02d}{i:02d}" for i in range(count)]


def create(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    status, created = api.call("POST", "/v1/campaigns", body)
    assert status == 201, created
    return created


def get(api: Api, campaign_id: str) -> dict[str, Any]:
    status, got = api.call("GET", f"/v1/campaigns/{campaign_id}")
    assert status == 200, got
    return got


def recipients(api: Api, campaign_id: str) -> dict[str, dict[str, Any]]:
    status, page = api.call("GET", f"/v1/campaigns/{campaign_id}/recipients?limit=200")
    assert status == 200, page
    return {r["number"]: r for r in page["items"]}


def sent_to(env: Env) -> list[str]:
    return sorted(m["to"] for m in env.sim.messages() if m["from"] == SENDER)


def in_an_hour(env: Env) -> str:
    return (env.deps.clock.utcnow() + timedelta(hours=1)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_sleep(env: Env) -> None:
    """Backoffs move the app's clock instead of waiting (the sender sleeps through deps.clock)."""
    lock = threading.Lock()

    def advance(seconds: float) -> None:
        with lock:
            env.deps.clock.offset += seconds

    env.deps.clock.sleep_fn = advance


def watch_invocations(pump: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Record every function the pump invokes, with its event."""
    seen: list[tuple[str, dict[str, Any]]] = []
    original = pump.invoke

    def invoke(name: str, event: dict[str, Any]) -> Any:
        seen.append((name, event))
        return original(name, event)

    monkeypatch.setattr(pump, "invoke", invoke)
    return seen


# ------------------------------------------------------------------------------------------------ edit
def test_patch_edits_a_draft_and_checks_everything_again(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a draft to two numbers
    draft = create(api, campaign_body(numbers(2), channel["id"], send_time=DRAFT))
    # WHEN its name, recipients and content are edited
    edit = {
        "name": "Autumn promo",
        "recipients": {"numbers": numbers(3, 1) + [numbers(3, 1)[0]]},
        "content": {"type": "text", "text": "b" * 161},
    }
    status, edited = api.call("PATCH", f"/v1/campaigns/{draft['id']}", edit)
    # THEN 200 with the new settings (deduplicated count, segments recomputed), and GET shows the same
    assert status == 200, edited
    assert edited["name"] == "Autumn promo" and edited["status"] == "draft"
    assert edited["recipients"]["numbers"] == numbers(3, 1) and edited["result"]["total"] == 3
    assert edited["content"] == {"type": "text", "text": "b" * 161}
    assert (edited["segments"], edited["encoding"]) == (2, "GSM-7")
    assert get(api, draft["id"]) == edited
    # WHEN an edit has an invalid number, names an unknown channel, or brings a send_time
    refused = [
        ({"recipients": {"numbers": ["+41791234567", "0791234567"]}}, 422, "invalid_phone_number"),
        ({"channel_id": "ch_nope"}, 422, "channel_not_found"),
        ({"content": {"type": "text", "text": "c" * 1601}}, 422, "content_too_long"),
        ({"send_time": {"type": "now"}}, 400, "invalid_request"),
        ({"status": "completed"}, 400, "invalid_request"),
    ]
    for patch, code, error in refused:
        status, got = api.call("PATCH", f"/v1/campaigns/{draft['id']}", patch)
        # THEN it is refused whole and nothing changed
        assert (status, got["error"]["code"]) == (code, error), (patch, got)
        assert get(api, draft["id"]) == edited, patch
    assert api.call("PATCH", "/v1/campaigns/cmp_nope", {"name": "x"})[0] == 404
    # AND the draft, once sent, goes to the edited numbers with the edited text
    status, sending = api.call("POST", f"/v1/campaigns/{draft['id']}/send", {"send_time": {"type": "now"}})
    assert status == 200, sending
    pump.drain()
    assert sent_to(env) == numbers(3, 1)
    assert {m["body"] for m in env.sim.messages()} == {"b" * 161}


def test_only_a_draft_can_be_edited(env: Env, api: Api, channel: dict[str, Any], pump: Any) -> None:
    # GIVEN a scheduled campaign and an executing one
    scheduled = create(
        api, campaign_body(numbers(1), channel["id"], send_time={"type": "scheduled", "at": in_an_hour(env)})
    )
    executing = create(api, campaign_body(numbers(2, 1), channel["id"]))
    assert (scheduled["status"], executing["status"]) == ("scheduled", "executing")

    def refused(campaign_id: str) -> None:
        status, got = api.call("PATCH", f"/v1/campaigns/{campaign_id}", {"name": "changed"})
        assert status == 409 and got["error"]["code"] == "campaign_not_editable", got
        assert got["error"]["details"] == [{"status": get(api, campaign_id)["status"]}]
        assert get(api, campaign_id)["name"] == "Spring promo"

    # WHEN either is edited, THEN 409 campaign_not_editable and nothing changed
    refused(scheduled["id"])
    refused(executing["id"])
    # AND once completed, still 409
    pump.drain()
    assert get(api, executing["id"])["status"] == "completed"
    refused(executing["id"])


# ------------------------------------------------------------------------------------------------ send
def test_send_a_draft_now(env: Env, api: Api, channel: dict[str, Any], pump: Any) -> None:
    # GIVEN a draft
    draft = create(api, campaign_body(numbers(3), channel["id"], send_time=DRAFT))
    # WHEN it is sent now
    status, sending = api.call("POST", f"/v1/campaigns/{draft['id']}/send", {"send_time": {"type": "now"}})
    # THEN it is executing, started, and once the queue is worked it completes, each number sent once
    assert status == 200, sending
    assert sending["status"] == "executing" and sending["started_at"] and sending["send_time"] == {"type": "now"}
    pump.drain()
    done = get(api, draft["id"])
    assert done["status"] == "completed" and done["result"]["sent"] == 3, done
    assert sent_to(env) == numbers(3)
    # WHEN it is sent again, THEN 409: only a draft can be sent, and nothing more goes out
    status, got = api.call("POST", f"/v1/campaigns/{draft['id']}/send", {"send_time": {"type": "now"}})
    assert status == 409 and got["error"]["code"] == "campaign_not_editable", got
    pump.drain()
    assert sent_to(env) == numbers(3)


def test_send_a_draft_scheduled(env: Env, api: Api, channel: dict[str, Any], pump: Any) -> None:
    # GIVEN a draft
    draft = create(api, campaign_body(numbers(2), channel["id"], send_time=DRAFT))
    # WHEN it is sent with a time in the past, THEN 422 invalid_schedule and it stays a draft
    past = (env.deps.clock.utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, got = api.call(
        "POST", f"/v1/campaigns/{draft['id']}/send", {"send_time": {"type": "scheduled", "at": past}}
    )
    assert status == 422 and got["error"]["code"] == "invalid_schedule", got
    assert get(api, draft["id"])["status"] == "draft"
    # WHEN it is sent for an hour from now (no send_time at all is a 400)
    assert api.call("POST", f"/v1/campaigns/{draft['id']}/send", {})[0] == 400
    at = in_an_hour(env)
    status, sent = api.call("POST", f"/v1/campaigns/{draft['id']}/send", {"send_time": {"type": "scheduled", "at": at}})
    # THEN it is scheduled at that time, with a one-time schedule for it; nothing is sent yet
    assert status == 200, sent
    assert sent["status"] == "scheduled" and sent["scheduled_at"] == at and sent["started_at"] is None
    assert schedule_of(env, draft["id"])["ScheduleExpression"] == f"at({at[:-1]})"
    pump.drain()
    assert env.sim.messages() == []
    # AND when the time comes the schedule starts it and it completes
    env.deps.clock.offset += 3600 + 30
    assert pump.fire_due_schedules() == 1
    pump.drain()
    assert get(api, draft["id"])["status"] == "completed"
    assert sent_to(env) == numbers(2)


# ------------------------------------------------------------------------------------------------ duplicate
def test_duplicate_is_a_new_draft_with_the_same_settings_and_counts_toward_the_limit(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a completed campaign, and a deployment allowing two campaigns per tenant
    set_settings(env, max_campaigns_per_tenant=2)
    source = create(api, campaign_body(numbers(2) + numbers(2), channel["id"], content={"type": "text", "text": "Hi"}))
    pump.drain()
    assert get(api, source["id"])["status"] == "completed"
    # WHEN it is duplicated
    status, copy = api.call("POST", f"/v1/campaigns/{source['id']}/duplicate")
    # THEN a new draft with the same settings and recipients, named as a copy, never started
    assert status == 201, copy
    assert copy["id"] != source["id"] and copy["status"] == "draft" and copy["name"] == "Spring promo (copy)"
    for field in ("channel_id", "sender", "content", "send_mode", "segments", "encoding", "recipients"):
        assert copy[field] == source[field], field
    assert copy["recipients"]["numbers"] == numbers(2)
    assert copy["result"]["total"] == 2 and copy["result"]["sent"] == 0
    assert copy["started_at"] is None and copy["completed_at"] is None and copy["send_time"] == DRAFT
    assert get(api, copy["id"]) == copy
    # WHEN the tenant is at its limit, THEN another duplicate is refused
    status, got = api.call("POST", f"/v1/campaigns/{source['id']}/duplicate")
    assert status == 409 and got["error"]["code"] == "campaign_limit_reached", got
    assert len(api.call("GET", "/v1/campaigns")[1]["items"]) == 2
    # AND an unknown campaign cannot be duplicated
    assert api.call("POST", "/v1/campaigns/cmp_nope/duplicate")[0] == 404
    # AND the copy sends like the original
    api.call("POST", f"/v1/campaigns/{copy['id']}/send", {"send_time": {"type": "now"}})
    pump.drain()
    assert get(api, copy["id"])["result"]["sent"] == 2
    assert sent_to(env) == sorted(numbers(2) * 2)


# ------------------------------------------------------------------------------------------------ retry
def test_retry_resends_only_what_failed_and_is_worth_resending(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a completed campaign: three delivered, one invalid number (21211), one opted out (21610)
    good = numbers(3)
    campaign = create(api, campaign_body([*good, BAD_NUMBER, OPTED_OUT], channel["id"]))
    # WHEN it is retried while still executing, THEN 409 campaign_not_retryable
    status, got = api.call("POST", f"/v1/campaigns/{campaign['id']}/retry")
    assert status == 409 and got["error"]["code"] == "campaign_not_retryable", got
    pump.drain()
    done = get(api, campaign["id"])
    assert done["status"] == "completed" and done["result"]["failed"] == 2, done
    # WHEN it is retried
    status, retrying = api.call("POST", f"/v1/campaigns/{campaign['id']}/retry")
    # THEN it is retrying, and once the queue is worked it is completed again
    assert status == 200, retrying
    assert retrying["status"] == "retrying" and retrying["completed_at"] is None
    pump.drain()
    assert pump.errors == []
    again = get(api, campaign["id"])
    assert again["status"] == "completed" and again["completed_at"], again
    assert again["result"] == {**done["result"]}
    # AND the invalid number was tried a second time, the opted-out one was not
    got_recipients = recipients(api, campaign["id"])
    assert got_recipients[BAD_NUMBER]["attempts"] == 2 and got_recipients[BAD_NUMBER]["error"]["code"] == "21211"
    assert got_recipients[OPTED_OUT]["attempts"] == 1 and got_recipients[OPTED_OUT]["error"]["code"] == "21610"
    assert all(got_recipients[n]["attempts"] == 1 and got_recipients[n]["status"] == "sent" for n in good)
    # AND the good numbers were not sent again; Twilio refused the three failing attempts (21211 twice, 21610 once)
    assert sent_to(env) == good
    assert env.sim.stats()["rejected"] == 3


def test_retry_with_nothing_to_retry_or_of_a_draft_is_a_409(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a completed campaign whose only failure is an opted-out number, and a draft
    done = create(api, campaign_body([*numbers(2), OPTED_OUT], channel["id"]))
    draft = create(api, campaign_body(numbers(2, 1), channel["id"], send_time=DRAFT))
    pump.drain()
    assert get(api, done["id"])["result"]["failed"] == 1
    # WHEN the completed one is retried, THEN 409 nothing_to_retry and it stays completed
    status, got = api.call("POST", f"/v1/campaigns/{done['id']}/retry")
    assert status == 409 and got["error"]["code"] == "nothing_to_retry", got
    assert get(api, done["id"])["status"] == "completed"
    # WHEN the draft is retried, THEN 409 campaign_not_retryable
    status, got = api.call("POST", f"/v1/campaigns/{draft['id']}/retry")
    assert status == 409 and got["error"]["code"] == "campaign_not_retryable", got
    assert get(api, draft["id"])["status"] == "draft"
    assert api.call("POST", "/v1/campaigns/cmp_nope/retry")[0] == 404
    # AND nothing more was sent
    pump.drain()
    assert sent_to(env) == numbers(2)


def test_retry_waits_while_another_campaign_of_the_tenant_is_sending(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a completed campaign with a retryable failure, and another campaign now sending
    first = create(api, campaign_body([*numbers(2), BAD_NUMBER], channel["id"]))
    pump.drain()
    second = create(api, campaign_body(numbers(2, 1), channel["id"]))
    assert second["status"] == "executing"
    # WHEN the first is retried, THEN it is pending: one campaign sends at a time
    status, retried = api.call("POST", f"/v1/campaigns/{first['id']}/retry")
    assert status == 200 and retried["status"] == "pending", retried
    # WHEN the sending campaign's chunk is worked (it completes)
    pump.pump_queues_once()
    assert get(api, second["id"])["status"] == "completed"
    # THEN the retry starts, as retrying
    assert get(api, first["id"])["status"] == "retrying"
    # AND it completes, having resent only the failure
    pump.drain()
    assert get(api, first["id"])["status"] == "completed"
    assert recipients(api, first["id"])[BAD_NUMBER]["attempts"] == 2
    assert sent_to(env) == sorted(numbers(2) + numbers(2, 1))


def test_retry_after_provider_faults_sends_what_failed(env: Env, api: Api, channel: dict[str, Any], pump: Any) -> None:
    # GIVEN Twilio answering every send with a 500, and backoffs that do not wait
    fake_sleep(env)
    env.sim.configure(server_error_next=1000)
    campaign = create(api, campaign_body(numbers(2), channel["id"]))
    pump.drain()
    # (each 500 leaves the hand-over uncertain; the provider's records prove it absent, and it is sent again)
    settle_time(env, pump, rounds=3)
    # THEN the campaign completes with both failed (20500, after three attempts) and nothing sent
    done = get(api, campaign["id"])
    assert done["status"] == "completed" and done["result"]["failed"] == 2, done
    assert {r["error"]["code"] for r in recipients(api, campaign["id"]).values()} == {"20500"}
    assert env.sim.messages() == []
    # WHEN Twilio recovers and the campaign is retried
    env.sim.configure(server_error_next=0)
    status, retrying = api.call("POST", f"/v1/campaigns/{campaign['id']}/retry")
    assert status == 200 and retrying["status"] == "retrying", retrying
    pump.drain()
    # THEN both are sent, on a second attempt, with no error left; each number got one message
    again = get(api, campaign["id"])
    assert again["status"] == "completed" and again["result"]["sent"] == 2 and again["result"]["failed"] == 0, again
    for recipient in recipients(api, campaign["id"]).values():
        assert recipient["status"] in ("sent", "delivered") and recipient["error"] is None, recipient
        assert recipient["attempts"] == 4 and recipient["provider_message_id"]
    assert sent_to(env) == numbers(2)


def test_retry_after_its_channel_was_deleted_is_accepted_and_stops_with_channel_missing(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a completed campaign with a failure, and its channel deleted since
    fake_sleep(env)
    env.sim.configure(server_error_next=1000)
    campaign = create(api, campaign_body(numbers(1), channel["id"]))
    pump.drain()
    settle_time(env, pump, rounds=3)
    assert get(api, campaign["id"])["result"]["failed"] == 1
    env.sim.configure(server_error_next=0)
    assert api.call("DELETE", f"/v1/channels/{channel['id']}")[0] == 204
    # WHEN it is retried, THEN the retry is accepted (as before the provider port)
    status, retrying = api.call("POST", f"/v1/campaigns/{campaign['id']}/retry")
    assert status == 200 and retrying["status"] == "retrying", retrying
    pump.drain()
    # AND the sender stops it, saying the channel is gone, with nothing sent
    stopped = get(api, campaign["id"])
    assert stopped["status"] == "stopped" and stopped["stop_reason"]["code"] == "channel_missing", stopped
    assert env.sim.messages() == []


# ------------------------------------------------------------------------------------------------ delete
def test_delete_a_draft_an_executing_and_a_completed_campaign(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a draft and an executing campaign
    draft = create(api, campaign_body(numbers(2), channel["id"], send_time=DRAFT))
    executing = create(api, campaign_body(numbers(3, 1), channel["id"]))
    # WHEN the draft is deleted, THEN 204, then it is gone (404, twice)
    assert api.call("DELETE", f"/v1/campaigns/{draft['id']}") == (204, None)
    assert api.call("GET", f"/v1/campaigns/{draft['id']}")[0] == 404
    assert api.call("DELETE", f"/v1/campaigns/{draft['id']}")[0] == 404
    # WHEN the executing one is deleted, THEN 409 campaign_busy and it goes on
    status, got = api.call("DELETE", f"/v1/campaigns/{executing['id']}")
    assert status == 409 and got["error"]["code"] == "campaign_busy", got
    pump.drain()
    assert get(api, executing["id"])["status"] == "completed"
    assert campaign_partitions(env) == {f"CAMPAIGN#{executing['id']}"}
    # WHEN the completed one is deleted, THEN 204, and its recipients and counters left the table
    assert api.call("DELETE", f"/v1/campaigns/{executing['id']}") == (204, None)
    assert api.call("GET", f"/v1/campaigns/{executing['id']}")[0] == 404
    assert api.call("GET", f"/v1/campaigns/{executing['id']}/recipients")[0] == 404
    assert campaign_partitions(env) == set()
    assert (env.deps.campaigns.lock_of(tenant[0]) or {})["campaign_count"] == 0


def test_delete_a_scheduled_campaign_removes_its_schedule(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a scheduled campaign with its one-time schedule
    scheduled = create(
        api, campaign_body(numbers(2), channel["id"], send_time={"type": "scheduled", "at": in_an_hour(env)})
    )
    assert schedule_of(env, scheduled["id"])
    # WHEN it is deleted
    assert api.call("DELETE", f"/v1/campaigns/{scheduled['id']}") == (204, None)
    # THEN the schedule is gone, and when its time comes nothing starts or is sent
    with pytest.raises(ClientError):
        schedule_of(env, scheduled["id"])
    env.deps.clock.offset += 3600 + 61
    assert pump.fire_due_schedules() == 0
    pump.run_ticks()
    pump.drain()
    assert env.sim.messages() == [] and pump.errors == []
    assert api.call("GET", f"/v1/campaigns/{scheduled['id']}")[0] == 404


def test_delete_a_pending_campaign_takes_it_out_of_the_queue(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN one campaign sending and two waiting behind it
    sending = create(api, campaign_body(numbers(1, 0), channel["id"]))
    second = create(api, campaign_body(numbers(1, 1), channel["id"]))
    third = create(api, campaign_body(numbers(1, 2), channel["id"]))
    assert [c["status"] for c in (sending, second, third)] == ["executing", "pending", "pending"]
    # WHEN the first waiting one is deleted
    assert api.call("DELETE", f"/v1/campaigns/{second['id']}") == (204, None)
    # THEN it left the tenant's queue, and the next one is still waiting behind the sending one
    stored = env.deps.campaigns.lock_of(tenant[0]) or {}
    assert stored["pending_queue"] == [third["id"]] and stored["sending"] == sending["id"]
    assert stored["campaign_count"] == 2
    # AND when the sending one completes, the next starts and completes; the deleted one never sent
    pump.drain()
    assert get(api, sending["id"])["status"] == "completed"
    assert get(api, third["id"])["status"] == "completed"
    assert sent_to(env) == sorted(numbers(1, 0) + numbers(1, 2))
    assert not (env.deps.campaigns.lock_of(tenant[0]) or {}).get("sending")


def test_deleting_a_campaign_frees_its_place(env: Env, api: Api, channel: dict[str, Any]) -> None:
    # GIVEN a deployment allowing two campaigns per tenant, and two campaigns
    set_settings(env, max_campaigns_per_tenant=2)
    first = create(api, campaign_body(numbers(1), channel["id"], send_time=DRAFT))
    create(api, campaign_body(numbers(1, 1), channel["id"], send_time=DRAFT))
    # WHEN a third is created, THEN 409 campaign_limit_reached
    status, got = api.call("POST", "/v1/campaigns", campaign_body(numbers(1, 2), channel["id"], send_time=DRAFT))
    assert status == 409 and got["error"]["code"] == "campaign_limit_reached", got
    # WHEN one is deleted, THEN the third is accepted
    assert api.call("DELETE", f"/v1/campaigns/{first['id']}")[0] == 204
    create(api, campaign_body(numbers(1, 2), channel["id"], send_time=DRAFT))
    assert len(api.call("GET", "/v1/campaigns")[1]["items"]) == 2


# ------------------------------------------------------------------------------------------------ limits
def test_too_many_recipients_counts_distinct_numbers_across_typed_numbers_and_the_upload(
    env: Env, api: Api, channel: dict[str, Any]
) -> None:
    # GIVEN a deployment allowing four recipients per campaign, and CSVs of five and of three distinct numbers
    set_settings(env, max_recipients_per_campaign=4)
    five = inline_csv(api, csv_rows(*[f"{n},x" for n in numbers(5, 7) + numbers(2, 7)]))[1]
    three = inline_csv(api, csv_rows(*[f"{n},x" for n in numbers(3, 8)]))[1]
    assert (five["status"], five["valid"] - five["duplicates"], three["status"]) == ("ready", 5, "ready")
    too_many = [
        {"numbers": numbers(5) + numbers(5)},
        {"upload_id": five["id"]},
        {"upload_id": three["id"], "numbers": [numbers(3, 8)[0], *numbers(2, 9)]},
    ]
    for spec in too_many:
        # WHEN a campaign has five recipients after deduplication
        status, got = api.call("POST", "/v1/campaigns", campaign_body([], channel["id"], recipients=spec))
        # THEN 422 too_many_recipients with the count
        assert status == 422 and got["error"]["code"] == "too_many_recipients", (spec, got)
        assert got["error"]["details"][0]["count"] == 5 and got["error"]["details"][0]["max"] == 4
    # AND four after deduplication is accepted
    spec = {"upload_id": three["id"], "numbers": [numbers(3, 8)[0], numbers(1, 9)[0]]}
    created = create(api, campaign_body([], channel["id"], recipients=spec, send_time=DRAFT))
    assert created["result"]["total"] == 4
    assert len(api.call("GET", "/v1/campaigns")[1]["items"]) == 1


def test_a_large_audience_is_written_by_a_dispatch_job_and_purged_by_a_job(
    env: Env, api: Api, channel: dict[str, Any], pump: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a deployment writing audiences over three recipients outside the request
    set_settings(env, inline_dispatch_max=3)
    invoked = watch_invocations(pump, monkeypatch)
    # WHEN a five-recipient campaign is created to go now
    created = create(api, campaign_body(numbers(5), channel["id"]))
    # THEN it is executing with its total, but no recipient is written yet
    assert created["status"] == "executing" and created["result"]["total"] == 5 and created["result"]["pending"] == 5
    assert recipients(api, created["id"]) == {} and campaign_partitions(env) == set()
    # WHEN the queue is worked
    pump.drain()
    assert pump.errors == []
    # THEN a dispatch job came first on the send queue, then the chunk; the campaign completed, each number once
    jobs = [e["Records"][0]["body"] for name, e in invoked if name == "send_worker"]
    assert '"kind":"dispatch"' in jobs[0] and created["id"] in jobs[0] and len(jobs) == 2
    done = get(api, created["id"])
    assert done["status"] == "completed" and done["result"]["sent"] == 5, done
    assert sent_to(env) == numbers(5)
    # WHEN it is deleted, THEN its recipients go through a purge job
    invoked.clear()
    assert api.call("DELETE", f"/v1/campaigns/{created['id']}") == (204, None)
    pump.drain()
    assert ['"kind":"purge"' in e["Records"][0]["body"] for name, e in invoked if name == "send_worker"] == [True]
    assert campaign_partitions(env) == set()


def test_a_dispatch_that_died_half_way_is_finished_by_the_next_without_sending_twice(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a 250-recipient campaign whose audience is written by a dispatch job
    MANY = [f"+1415667{i:04d}" for i in range(250)]  # noqa: N806
    set_settings(env, inline_dispatch_max=3)
    created = create(api, campaign_body(MANY, channel["id"]))
    # AND a first dispatcher that dies after writing the first 100 recipients (its second write never happens)
    calls = {"n": 0}

    def die_on_second_write(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the Lambda timed out")

    events = env.deps.campaigns.table.db.meta.events
    events.register("before-call.dynamodb.TransactWriteItems", die_on_second_write, unique_id="die")
    try:
        with pytest.raises(RuntimeError):
            lifecycle.dispatch(env.deps, tenant[0], created["id"])
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="die")
    assert len(recipients(api, created["id"])) == 100 and get(api, created["id"])["status"] == "executing"
    # WHEN the dispatch job runs again (SQS redelivers it)
    pump.drain()
    assert pump.errors == []
    # THEN the audience is completed around what was written, and each number is sent exactly once
    done = get(api, created["id"])
    assert done["status"] == "completed" and done["result"]["total"] == 250 and done["result"]["sent"] == 250, done
    assert sent_to(env) == sorted(MANY)
