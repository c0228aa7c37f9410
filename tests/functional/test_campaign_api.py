"""The campaign API on moto: scheduling, drafts, listing and paging, limits, validation, tenant isolation, auth."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.services.tenants import create_tenant
from tests.conftest import SENDER, Api, Env, campaign_body, campaign_partitions, make_pump, schedule_of, set_settings

PLUS_ONE_HOUR = timezone(timedelta(hours=1))


def numbers(count: int, block: int = 0) -> list[str]:
    return [f"+1415555{block:02d}{i:02d}" for i in range(count)]


def shifted_pump(env: Env) -> Any:
    """An event pump whose idea of now is the app's (fake) clock."""
    return make_pump(env)


def sent_to(env: Env) -> list[str]:
    return sorted(m["to"] for m in env.sim.messages() if m["from"] == SENDER)


def scheduled_in(env: Env, hours: float) -> tuple[str, str]:
    """A time `hours` from the app's now, written with a +01:00 offset, and the same time as the API answers it."""
    at = (env.deps.clock.utcnow() + timedelta(hours=hours)).replace(microsecond=0)
    return at.astimezone(PLUS_ONE_HOUR).isoformat(), at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------ scheduling
def test_scheduled_campaign_is_stored_in_utc_and_its_schedule_starts_it(
    env: Env, api: Api, channel: dict[str, Any]
) -> None:
    # GIVEN a campaign scheduled two hours ahead, written with a +01:00 offset
    at_local, at_utc = scheduled_in(env, 2)
    body = campaign_body(numbers(4), channel["id"], send_time={"type": "scheduled", "at": at_local})
    # WHEN it is created
    status, created = api.call("POST", "/v1/campaigns", body)
    # THEN it is scheduled, its time stored in UTC, nothing started
    assert status == 201, created
    assert created["status"] == "scheduled"
    assert created["scheduled_at"] == at_utc and created["send_time"] == {"type": "scheduled", "at": at_utc}
    assert created["started_at"] is None and created["result"]["pending"] == 4
    # AND a one-time EventBridge schedule targets the start function at that UTC time
    schedule = schedule_of(env, created["id"])
    assert schedule["ScheduleExpression"] == f"at({at_utc[:-1]})"
    assert schedule.get("ScheduleExpressionTimezone", "UTC") == "UTC"
    assert json.loads(schedule["Target"]["Input"])["campaign_id"] == created["id"]
    pump = shifted_pump(env)
    # WHEN the schedules are checked before the time, THEN nothing fires
    assert pump.fire_due_schedules() == 0
    assert api.call("GET", f"/v1/campaigns/{created['id']}")[1]["status"] == "scheduled"
    # WHEN time passes the scheduled time and due schedules fire
    env.deps.clock.offset += 2 * 3600 + 30
    assert pump.fire_due_schedules() == 1
    # THEN the campaign is executing, then completes once the queue is worked, every number sent once
    status, started = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert started["status"] == "executing" and started["started_at"] >= at_utc
    pump.drain()
    assert pump.errors == []
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed" and done["result"]["sent"] == 4
    assert sent_to(env) == numbers(4)
    # AND the one-time schedule is gone
    with pytest.raises(ClientError):
        schedule_of(env, created["id"])


def test_scheduled_campaign_whose_schedule_was_lost_is_started_by_the_tick(
    env: Env, api: Api, channel: dict[str, Any]
) -> None:
    # GIVEN a scheduled campaign whose EventBridge schedule never fires (deleted here)
    at_local, _ = scheduled_in(env, 1)
    status, created = api.call(
        "POST",
        "/v1/campaigns",
        campaign_body(numbers(3), channel["id"], send_time={"type": "scheduled", "at": at_local}),
    )
    assert status == 201, created
    boto3.client("scheduler").delete_schedule(Name=f"start-{created['id']}", GroupName=env.resources.scheduler_group)
    pump = shifted_pump(env)
    # WHEN the minute tick runs before its time, THEN it stays scheduled
    assert pump.run_ticks() == 1
    assert api.call("GET", f"/v1/campaigns/{created['id']}")[1]["status"] == "scheduled"
    # WHEN the tick runs after its time
    env.deps.clock.offset += 3600 + 61
    assert pump.run_ticks() == 1
    assert pump.errors == []
    # THEN the tick started it and it completes
    assert api.call("GET", f"/v1/campaigns/{created['id']}")[1]["status"] == "executing"
    pump.drain()
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed" and done["result"]["sent"] == 3
    assert sent_to(env) == numbers(3)


def test_schedule_in_the_past_or_unreadable_is_refused(env: Env, api: Api, channel: dict[str, Any]) -> None:
    now = env.deps.clock.utcnow()
    # GIVEN send times a minute ago, now, without an offset, without a time, unreadable, and more than a year ahead
    refused = [
        (now - timedelta(minutes=1)).astimezone(PLUS_ONE_HOUR).isoformat(),
        now.isoformat(),
        "2026-12-01T09:00:00",
        "2026-12-01",
        "next tuesday",
        "",
        (now + timedelta(days=366)).isoformat(),
    ]
    for at in refused:
        # WHEN a campaign is created with it
        status, body = api.call(
            "POST", "/v1/campaigns", campaign_body(numbers(2), channel["id"], send_time={"type": "scheduled", "at": at})
        )
        # THEN 422 invalid_schedule
        assert status == 422, (at, body)
        assert body["error"]["code"] == "invalid_schedule", at
    # AND nothing was stored or scheduled
    assert api.call("GET", "/v1/campaigns")[1]["items"] == []
    assert campaign_partitions(env) == set()
    assert boto3.client("scheduler").list_schedules(GroupName=env.resources.scheduler_group)["Schedules"] == []


def test_draft_is_kept_and_nothing_is_sent(env: Env, api: Api, channel: dict[str, Any], pump: Any) -> None:
    # GIVEN a campaign saved as a draft
    status, created = api.call(
        "POST", "/v1/campaigns", campaign_body(numbers(3), channel["id"], send_time={"type": "draft"})
    )
    assert status == 201, created
    # WHEN the queue is worked and the tick runs
    pump.drain()
    pump.run_ticks()
    # THEN it is still a draft, never started, nothing sent, and no schedule exists for it
    status, got = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert got["status"] == "draft" and got["started_at"] is None and got["scheduled_at"] is None
    assert got["result"]["total"] == 3 and got["result"]["pending"] == 3 and got["result"]["sent"] == 0
    assert env.sim.messages() == []
    with pytest.raises(ClientError):
        schedule_of(env, created["id"])
    # AND it does not hold the tenant's send lock: a campaign to send now starts at once
    status, now = api.call("POST", "/v1/campaigns", campaign_body(numbers(1, 1), channel["id"]))
    assert now["status"] == "executing"


# ------------------------------------------------------------------------------------------------ listing
def _create_five(env: Env, api: Api, channel: dict[str, Any]) -> list[str]:
    """Three drafts and two scheduled campaigns, a second apart; their ids, oldest first."""
    at_local, _ = scheduled_in(env, 5)
    ids = []
    for i, kind in enumerate(["draft", "scheduled", "draft", "scheduled", "draft"]):
        send_time = {"type": kind, "at": at_local} if kind == "scheduled" else {"type": kind}
        status, created = api.call(
            "POST", "/v1/campaigns", campaign_body(numbers(1, i), channel["id"], name=f"c{i}", send_time=send_time)
        )
        assert status == 201, created
        ids.append(created["id"])
        env.deps.clock.offset += 1
    return ids


def _all_pages(api: Api, query: str) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(10):
        status, page = api.call("GET", f"/v1/campaigns?{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, page
        pages.append([c["id"] for c in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("paging never ended")


def test_campaign_list_is_newest_first_filters_by_status_and_pages_without_repeats(
    env: Env, api: Api, channel: dict[str, Any]
) -> None:
    # GIVEN five campaigns created one after the other: drafts and scheduled ones
    ids = _create_five(env, api, channel)
    newest_first = ids[::-1]
    # WHEN listed, THEN newest first with no cursor left
    status, listed = api.call("GET", "/v1/campaigns")
    assert status == 200
    assert [c["id"] for c in listed["items"]] == newest_first and listed["next_cursor"] is None
    # WHEN filtered by status, THEN only that status, still newest first
    status, scheduled = api.call("GET", "/v1/campaigns?status=scheduled")
    assert [c["id"] for c in scheduled["items"]] == [ids[3], ids[1]]
    assert {c["status"] for c in scheduled["items"]} == {"scheduled"}
    assert api.call("GET", "/v1/campaigns?status=completed")[1]["items"] == []
    # WHEN paged two at a time, THEN the pages cover every campaign once, in order
    pages = _all_pages(api, "limit=2")
    assert all(len(p) <= 2 for p in pages) and [i for p in pages for i in p] == newest_first
    # AND a filtered listing pages the same way
    pages = _all_pages(api, "limit=2&status=draft")
    assert [i for p in pages for i in p] == [ids[4], ids[2], ids[0]]
    # AND a page that ends exactly at the last campaign says there is no more
    assert _all_pages(api, "limit=5") == [newest_first]
    assert _all_pages(api, "limit=3&status=draft") == [[ids[4], ids[2], ids[0]]]


def test_bad_list_parameters_are_a_400(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN a tenant with a campaign (so a page exists)
    api.call("POST", "/v1/campaigns", campaign_body(numbers(1), channel["id"], send_time={"type": "draft"}))
    foreign = base64.urlsafe_b64encode(b'{"sk":"CHANNEL#x"}').decode().rstrip("=")
    not_an_object = base64.urlsafe_b64encode(b'["sk"]').decode().rstrip("=")
    for query in [
        "limit=0",
        "limit=abc",
        "limit=201",
        "limit=-1",
        "limit=1.5",
        "limit=%D9%A2",
        "limit=",
        "cursor=garbage!!",
        "cursor=%FF",
        f"cursor={foreign}",
        f"cursor={not_an_object}",
        "status=bogus",
    ]:
        # WHEN the list is asked with a bad limit, a cursor that is not ours, or an unknown status
        status, body = api.call("GET", f"/v1/campaigns?{query}")
        # THEN 400 invalid_request in the contract's shape
        assert status == 400, (query, body)
        assert body["error"]["code"] == "invalid_request", query
    # AND the limits themselves are accepted
    for query in ["limit=1", "limit=200"]:
        assert api.call("GET", f"/v1/campaigns?{query}")[0] == 200, query


def test_recipients_cursor_is_not_a_campaigns_cursor(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN a page of a sending campaign's recipients with a cursor (a draft's are written when it is sent)
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers(3), channel["id"]))
    status, page = api.call("GET", f"/v1/campaigns/{created['id']}/recipients?limit=2")
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    # WHEN that cursor is used on the campaign list, THEN 400
    assert api.call("GET", f"/v1/campaigns?cursor={page['next_cursor']}")[0] == 400
    # AND on its own list it gives the rest
    status, rest = api.call("GET", f"/v1/campaigns/{created['id']}/recipients?limit=2&cursor={page['next_cursor']}")
    assert [r["number"] for r in page["items"] + rest["items"]] == numbers(3)


# ------------------------------------------------------------------------------------------------ limits
def test_campaign_limit_refuses_the_next_campaign_and_leaves_nothing_behind(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any]
) -> None:
    # GIVEN a deployment allowing three campaigns per tenant, and three campaigns
    set_settings(env, max_campaigns_per_tenant=3)
    ids = []
    for i in range(3):
        status, created = api.call(
            "POST", "/v1/campaigns", campaign_body(numbers(2, i), channel["id"], send_time={"type": "draft"})
        )
        assert status == 201, created
        ids.append(created["id"])
    # WHEN a fourth is created
    status, body = api.call("POST", "/v1/campaigns", campaign_body(numbers(5, 9), channel["id"]))
    # THEN 409 campaign_limit_reached, and nothing of it remains: no campaign, no recipients, nothing sent
    assert status == 409, body
    assert body["error"]["code"] == "campaign_limit_reached"
    assert sorted(c["id"] for c in api.call("GET", "/v1/campaigns")[1]["items"]) == sorted(ids)
    assert campaign_partitions(env) == set()  # drafts hold no recipient items; the refused one wrote none either
    assert (env.deps.campaigns.lock_of(tenant[0]) or {})["campaign_count"] == 3
    assert env.sim.messages() == []


def test_too_many_recipients_after_deduplication_is_a_422_with_the_count(
    env: Env, api: Api, channel: dict[str, Any]
) -> None:
    # GIVEN a deployment allowing five recipients per campaign
    set_settings(env, max_recipients_per_campaign=5)
    # WHEN a campaign has six distinct numbers
    status, body = api.call("POST", "/v1/campaigns", campaign_body(numbers(6), channel["id"]))
    # THEN 422 too_many_recipients with the count and the maximum, and nothing stored
    assert status == 422, body
    assert body["error"]["code"] == "too_many_recipients"
    assert body["error"]["details"][0]["count"] == 6 and body["error"]["details"][0]["max"] == 5
    assert campaign_partitions(env) == set()
    # WHEN five distinct numbers come with duplicates, THEN they count once each and it is accepted
    status, created = api.call(
        "POST", "/v1/campaigns", campaign_body(numbers(5) + numbers(3), channel["id"], send_time={"type": "draft"})
    )
    assert status == 201, created
    assert created["result"]["total"] == 5


# ------------------------------------------------------------------------------------------------ validation
def test_invalid_numbers_fail_the_whole_request_listing_each_offender(
    env: Env, api: Api, channel: dict[str, Any]
) -> None:
    # GIVEN good numbers mixed with Arabic-Indic digits, full-width digits, a non-string, null, no plus, too short
    bad = {1: "+١٤١٥٥٥٥٠١٠١", 2: "+１４１５５５５０１０２", 3: 14155550103, 4: None, 6: "0041415084545", 7: "+1415"}
    given: list[Any] = [numbers(1)[0], bad[1], bad[2], bad[3], bad[4], numbers(2)[1], bad[6], bad[7]]
    # WHEN a campaign is created with them
    status, body = api.call("POST", "/v1/campaigns", campaign_body(given, channel["id"]))
    # THEN 422 invalid_phone_number lists every offender with its position and value
    assert status == 422, body
    assert body["error"]["code"] == "invalid_phone_number"
    assert {d["index"]: d["value"] for d in body["error"]["details"]} == bad
    assert all(d["reason"] for d in body["error"]["details"])
    # AND nothing was created
    assert api.call("GET", "/v1/campaigns")[1]["items"] == []
    assert campaign_partitions(env) == set()
    assert env.sim.messages() == []


def test_text_length_and_encoding(api: Api, channel: dict[str, Any]) -> None:
    draft = {"type": "draft"}
    # WHEN the text has 1,601 characters, THEN 422 content_too_long with the length
    status, body = api.call(
        "POST",
        "/v1/campaigns",
        campaign_body(numbers(1), channel["id"], content={"type": "text", "text": "a" * 1601}, send_time=draft),
    )
    assert status == 422, body
    assert body["error"]["code"] == "content_too_long"
    assert body["error"]["details"][0]["length"] == 1601
    # WHEN it has exactly 1,600, THEN it is accepted
    status, body = api.call(
        "POST",
        "/v1/campaigns",
        campaign_body(numbers(1), channel["id"], content={"type": "text", "text": "a" * 1600}, send_time=draft),
    )
    assert status == 201, body
    # WHEN a GSM-7 text has 160 then 161 characters, THEN one then two segments, GSM-7
    for length, segments in ((160, 1), (161, 2)):
        status, body = api.call(
            "POST",
            "/v1/campaigns",
            campaign_body(numbers(1), channel["id"], content={"type": "text", "text": "b" * length}, send_time=draft),
        )
        assert status == 201, body
        assert (body["segments"], body["encoding"]) == (segments, "GSM-7"), length
    # WHEN the text has an emoji, THEN UCS-2
    status, body = api.call(
        "POST",
        "/v1/campaigns",
        campaign_body(numbers(1), channel["id"], content={"type": "text", "text": "Hi 👋"}, send_time=draft),
    )
    assert (body["segments"], body["encoding"]) == (1, "UCS-2")


# ------------------------------------------------------------------------------------------------ isolation, auth
def test_another_tenant_gets_404_for_everything_of_this_tenant(
    env: Env, api: Api, client: Any, channel: dict[str, Any]
) -> None:
    # GIVEN tenant A's channel and campaign, and tenant B's key
    status, campaign = api.call(
        "POST", "/v1/campaigns", campaign_body(numbers(2), channel["id"], send_time={"type": "draft"})
    )
    assert status == 201
    _, key_b = create_tenant(env.deps, "B")
    as_b: Callable[..., tuple[int, Any]] = lambda method, path, body=None: api.call(method, path, body, key=key_b)  # noqa: E731
    # WHEN B asks for A's campaign, its recipients, and A's channel in every way
    attempts = [
        as_b("GET", f"/v1/campaigns/{campaign['id']}"),
        as_b("GET", f"/v1/campaigns/{campaign['id']}/recipients"),
        as_b("GET", f"/v1/channels/{channel['id']}"),
        as_b("PATCH", f"/v1/channels/{channel['id']}", {"name": "hijacked"}),
        as_b("DELETE", f"/v1/channels/{channel['id']}"),
    ]
    # THEN every answer is 404 not_found, as for an id that does not exist
    for status, body in attempts:
        assert status == 404, body
        assert body["error"]["code"] == "not_found"
    assert as_b("GET", "/v1/campaigns/cmp_doesnotexist") == attempts[0]
    # AND B's lists are empty, and B cannot send on A's channel
    assert as_b("GET", "/v1/campaigns")[1]["items"] == []
    assert as_b("GET", "/v1/channels")[1]["items"] == []
    status, body = as_b("POST", "/v1/campaigns", campaign_body(numbers(1), channel["id"]))
    assert status == 422 and body["error"]["code"] == "channel_not_found"
    # AND A's channel is untouched
    status, got = api.call("GET", f"/v1/channels/{channel['id']}")
    assert status == 200 and got["name"] == channel["name"]


def test_missing_or_wrong_key_is_a_401_and_health_needs_none(client: Any, channel: dict[str, Any]) -> None:
    calls = (
        ("GET", "/v1/campaigns"),
        ("GET", "/v1/channels"),
        ("GET", f"/v1/channels/{channel['id']}"),
        ("POST", "/v1/campaigns"),
    )
    for authorization in (None, "", "Bearer", "Bearer ", "Bearer wrong-key", "Basic dXNlcjpwYXNz", "wrong-key"):
        headers = {} if authorization is None else {"Authorization": authorization}
        # WHEN the API is called with no key or a wrong one
        for method, path in calls:
            response = getattr(client.http, method.lower())(
                path,
                headers={**headers, "Content-Type": "application/json"},
                body=json.dumps(campaign_body(numbers(1), channel["id"])) if method == "POST" else None,
            )
            # THEN 401 unauthorized in the contract's shape
            assert response.status_code == 401, (authorization, method, path, response.body)
            assert json.loads(response.body)["error"]["code"] == "unauthorized"
        # AND health answers without a key
        response = client.http.get("/v1/health", headers=headers)
        assert response.status_code == 200 and json.loads(response.body) == {"status": "ok"}
