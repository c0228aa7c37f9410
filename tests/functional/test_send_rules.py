"""Send rules on moto: one sender per tenant under races, FIFO hand-over, an idempotent sender, provider throttling."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from chalicelib.api.commands import create_campaign as create_command
from chalicelib.api.schemas import CampaignIn
from chalicelib.domain.pacing import budget_key
from chalicelib.services import campaigns, lifecycle
from devstack.pump import EventPump
from tests.conftest import SENDER, Api, Env, campaign_body, once_before, settle_time

SENDING = ("executing", "retrying")
_DESER = TypeDeserializer()


# ------------------------------------------------------------------------------------------------------ helpers
@pytest.fixture
def serial_dynamodb(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each DynamoDB request atomic in moto, as it is in DynamoDB.

    moto's transact_write_items backs up the whole table and, when a condition fails, restores that backup, which
    silently undoes every write other threads made meanwhile. Real DynamoDB never does that, so a race test on
    unguarded moto would fail for moto's reasons, not ours. One lock per request models DynamoDB's serializable
    transactions; the races between requests (read, decide, conditional write) stay exactly as they are.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


@pytest.fixture
def fake_sleep(env: Env) -> Iterator[list[float]]:
    """Waits move the app's clock instead of the wall clock; yields the waits asked for."""
    clock = env.deps.clock
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)
            clock.offset += seconds

    clock.sleep_fn = sleep
    yield waits


def numbers(block: int, count: int) -> list[str]:
    """`count` distinct valid numbers, distinct from every other block's."""
    return [f"+1415555{block:02d}{i:02d}" for i in range(count)]


def race(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job in its own thread, all released at the same instant; results in job order."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], Any]) -> Any:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def tenant_campaigns(env: Env, tenant_id: str) -> dict[str, dict[str, Any]]:
    """The tenant's campaigns by id, read straight from the table."""
    return {c.campaign_id: dataclasses.asdict(c) for c in env.deps.campaigns.of_tenant(tenant_id)}


def sent_per_number(env: Env) -> Counter[str]:
    """How many messages the provider accepted for each number."""
    return Counter(m["to"] for m in env.sim.messages() if m["from"] == SENDER)


def pump_one_at_a_time(env: Env, tenant_id: str, pump: Any, max_steps: int = 60) -> list[str]:
    """Pump one queue message per step, checking the send lock at every step; returns the order campaigns sent in.

    After every step: at most one campaign is executing, and it is the one holding the tenant's lock. The app's clock
    moves 10 s per step so that started_at and completed_at tell the steps apart.
    """
    seen: list[str] = []
    for _ in range(max_steps):
        listed = tenant_campaigns(env, tenant_id)
        sending = [cid for cid, c in listed.items() if c["status"] in SENDING]
        assert len(sending) <= 1, f"two campaigns of one tenant sending at once: {sending}"
        lock = (env.deps.campaigns.lock_of(tenant_id) or {}).get("sending")
        assert lock == (sending[0] if sending else None), (lock, sending)
        if sending and (not seen or seen[-1] != sending[0]):
            seen.append(sending[0])
        env.deps.clock.offset += 10
        handled = pump.pump_queues_once()
        if handled == 0 and not sending:
            break
    else:
        raise AssertionError("campaigns still sending after the step budget")
    assert pump.errors == []
    return seen


def assert_ran_back_to_back(env: Env, tenant_id: str, order: list[str]) -> None:
    """Every campaign completed, each starting no earlier than the one before it completed."""
    listed = tenant_campaigns(env, tenant_id)
    assert all(listed[cid]["status"] == "completed" for cid in order), {c: listed[c]["status"] for c in order}
    for before, after in zip(order, order[1:], strict=False):
        assert listed[before]["started_at"] < listed[before]["completed_at"] <= listed[after]["started_at"], (
            before,
            after,
        )
    tenant = env.deps.campaigns.lock_of(tenant_id) or {}
    assert not tenant.get("sending")
    assert not tenant.get("pending_queue")


# ------------------------------------------------------------------------------------------ one sender per tenant
def test_campaigns_created_at_once_send_one_at_a_time_in_fifo_order(
    env: Env, tenant: tuple[str, str], channel: dict[str, Any], pump: Any, serial_dynamodb: None, fake_sleep: Any
) -> None:
    # GIVEN eight PBX requests, each creating a campaign to send now for the same tenant, released at one instant
    tenant_id = tenant[0]
    bodies = [
        create_command(CampaignIn.model_validate(campaign_body(numbers(i, 2), channel["id"], name=f"race {i}")))
        for i in range(8)
    ]
    # WHEN they all run at once
    created = [c for c, _ in race([partial(campaigns.create_campaign, env.deps, tenant_id, b) for b in bodies])]
    # THEN exactly one is executing and the seven others are pending, each queued once behind it
    statuses = Counter(c["status"] for c in created)
    assert statuses == {"executing": 1, "pending": 7}, statuses
    first = next(c["id"] for c in created if c["status"] == "executing")
    tenant_item = env.deps.campaigns.lock_of(tenant_id) or {}
    assert tenant_item["sending"] == first
    queue = list(tenant_item["pending_queue"])
    assert sorted(queue) == sorted(c["id"] for c in created if c["status"] == "pending")
    assert len(set(queue)) == 7
    # WHEN the queue is worked one message at a time
    order = pump_one_at_a_time(env, tenant_id, pump)
    # THEN never two sent at once, they sent in the order they started waiting, and each completed before the next
    assert order == [first, *queue]
    assert_ran_back_to_back(env, tenant_id, order)
    # AND every number got its message exactly once
    assert sent_per_number(env) == Counter({n: 1 for i in range(8) for n in numbers(i, 2)})


def test_scheduled_campaigns_started_by_schedule_and_tick_at_once_never_send_two(
    env: Env, tenant: tuple[str, str], channel: dict[str, Any], pump: Any, serial_dynamodb: None, fake_sleep: Any
) -> None:
    # GIVEN four campaigns scheduled for the same time, an hour from now
    tenant_id = tenant[0]
    at = (env.deps.clock.utcnow() + timedelta(hours=1)).isoformat(timespec="seconds")
    ids = []
    for i in range(4):
        body = campaign_body(numbers(i, 1), channel["id"], name=f"sched {i}", send_time={"type": "scheduled", "at": at})
        created, _ = campaigns.create_campaign(env.deps, tenant_id, create_command(CampaignIn.model_validate(body)))
        assert created["status"] == "scheduled"
        ids.append(created["id"])
    # WHEN their time has passed and each is started twice at once (its schedule and a retry), while two ticks run
    env.deps.clock.offset += 2 * 3600
    jobs: list[Callable[[], Any]] = [
        partial(lifecycle.start_scheduled, env.deps, tenant_id, cid) for cid in ids for _ in range(2)
    ]
    jobs += [partial(lifecycle.tick, env.deps) for _ in range(2)]
    race(jobs)
    # THEN exactly one is executing, the other three pending, each queued exactly once
    listed = tenant_campaigns(env, tenant_id)
    statuses = Counter(c["status"] for c in listed.values())
    assert statuses == {"executing": 1, "pending": 3}, statuses
    first = next(cid for cid, c in listed.items() if c["status"] == "executing")
    queue = list((env.deps.campaigns.lock_of(tenant_id) or {})["pending_queue"])
    assert sorted(queue) == sorted(set(ids) - {first}) and len(queue) == 3
    # WHEN the queue is worked, THEN they send one at a time in queue order and all complete
    order = pump_one_at_a_time(env, tenant_id, pump)
    assert order == [first, *queue]
    assert_ran_back_to_back(env, tenant_id, order)
    assert sent_per_number(env) == Counter({n: 1 for i in range(4) for n in numbers(i, 1)})


def lock_violations(env: Env, tenant_id: str, dynamodb: Any) -> list[str]:
    """What is wrong with the send lock in one consistent read of the tenant's partition (tenant item and campaigns)."""
    out = dynamodb.query(
        TableName=env.resources.table_name,
        ConsistentRead=True,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}},
    )
    assert "LastEvaluatedKey" not in out
    items = [{k: _DESER.deserialize(v) for k, v in raw.items()} for raw in out["Items"]]
    tenant = next(i for i in items if i["sk"] == "#TENANT")
    listed = {i["campaign_id"]: i["status"] for i in items if i["sk"].startswith("CAMPAIGN#")}
    sending = sorted(cid for cid, st in listed.items() if st in SENDING)
    queue = list(tenant.get("pending_queue") or [])
    problems = []
    if len(sending) > 1:
        problems.append(f"two sending at once: {sending}")
    if tenant.get("sending") != (sending[0] if sending else None):
        problems.append(f"lock {tenant.get('sending')} but sending {sending}")
    if sorted(queue) != sorted(cid for cid, st in listed.items() if st == "pending") or len(set(queue)) != len(queue):
        problems.append(f"queue {queue} but pending {[c for c, st in listed.items() if st == 'pending']}")
    if queue and not sending:
        problems.append(f"campaigns waiting behind nobody: {queue}")
    return problems


def test_campaigns_created_while_others_finish_never_overlap_and_none_is_left_waiting(
    env: Env, tenant: tuple[str, str], channel: dict[str, Any], pump: Any, serial_dynamodb: None, fake_sleep: Any
) -> None:
    # GIVEN a clock that moves one second each time it is read (every timestamp distinct and in order)
    # and a watcher checking the send lock in consistent snapshots all along
    tenant_id = tenant[0]
    ticks = threading.Lock()

    def ticking() -> float:
        with ticks:
            env.deps.clock.offset += 1.0
            return 1_900_000_000.0

    env.deps.clock.now_fn = ticking
    stop = threading.Event()
    problems: list[str] = []
    snapshots = [0]
    dynamodb = boto3.client("dynamodb")

    def watch() -> None:
        while not stop.is_set():
            problems.extend(lock_violations(env, tenant_id, dynamodb))
            snapshots[0] += 1
            stop.wait(0.02)

    def create(i: int) -> Callable[[], Any]:
        body = create_command(CampaignIn.model_validate(campaign_body(numbers(i, 1), channel["id"], name=f"wave {i}")))
        return lambda: campaigns.create_campaign(env.deps, tenant_id, body)

    # AND two campaigns created at once
    race([create(i) for i in range(2)])
    # WHEN four more are created at once while the sender works and hands the lock from campaign to campaign
    watcher = threading.Thread(target=watch)
    creators = threading.Thread(target=race, args=([create(i) for i in range(2, 6)],))
    watcher.start()
    creators.start()
    try:
        while creators.is_alive():
            pump.pump_queues_once()
    finally:
        creators.join()
        stop.set()
        watcher.join()
    # AND the queue is worked to the end (checking the lock after every step)
    pump_one_at_a_time(env, tenant_id, pump)
    # THEN the lock was never broken, in any snapshot
    assert problems == []
    assert snapshots[0] >= 3
    # AND every campaign completed, one after the other, each number sent once
    listed = tenant_campaigns(env, tenant_id)
    order = sorted(listed, key=lambda cid: listed[cid]["started_at"])
    assert len(order) == 6
    assert_ran_back_to_back(env, tenant_id, order)
    assert sent_per_number(env) == Counter({n: 1 for i in range(6) for n in numbers(i, 1)})


def interleave(monkeypatch: pytest.MonkeyPatch, env: Env, during: str, action: Callable[[], Any]) -> list[bool]:
    """Run `action` once, right after the campaign repository's `during` operation has read the tenant item (its send
    lock) and before it writes.

    This pins down the race a conditional write must close: the operation decides on a tenant item that is already
    stale when it writes. Returns a one-item list that says whether the action ran.
    """
    repo = env.deps.campaigns
    inside = threading.local()
    ran = [False]
    operation, read_tenant = getattr(repo, during), repo.lock_of

    def wrapped_operation(*args: Any, **kwargs: Any) -> Any:
        inside.active = True
        try:
            return operation(*args, **kwargs)
        finally:
            inside.active = False

    def hooked_read(tenant_id: str) -> Any:
        tenant = read_tenant(tenant_id)
        if getattr(inside, "active", False) and not ran[0]:
            ran[0] = True
            inside.active = False
            action()
            inside.active = True
        return tenant

    monkeypatch.setattr(repo, during, wrapped_operation)
    monkeypatch.setattr(repo, "lock_of", hooked_read)
    return ran


def test_campaign_created_while_the_sender_finishes_is_not_left_waiting(
    env: Env,
    api: Api,
    tenant: tuple[str, str],
    channel: dict[str, Any],
    pump: Any,
    fake_sleep: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN campaign A sending, and campaign B to be created just after A's finisher has seen an empty queue
    status, a = api.call("POST", "/v1/campaigns", campaign_body(numbers(1, 2), channel["id"], name="A"))
    assert a["status"] == "executing"
    body_b = create_command(CampaignIn.model_validate(campaign_body(numbers(2, 2), channel["id"], name="B")))
    created: list[dict[str, Any]] = []
    ran = interleave(
        monkeypatch,
        env,
        "finish",
        lambda: created.append(campaigns.create_campaign(env.deps, tenant[0], body_b)[0]),
    )
    # WHEN A's chunk is sent and A finishes, with B created in between its read and its write
    pump.drain()
    assert ran == [True]
    # THEN B queued behind A, was handed the lock when A finished, and completed too
    assert created[0]["status"] == "pending"
    for cid in (a["id"], created[0]["id"]):
        status, got = api.call("GET", f"/v1/campaigns/{cid}")
        assert got["status"] == "completed", got
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers(1, 2) + numbers(2, 2), 1))
    assert lock_violations(env, tenant[0], boto3.client("dynamodb")) == []


def test_campaign_whose_creator_saw_a_sender_that_then_finished_starts_at_once(
    env: Env,
    api: Api,
    tenant: tuple[str, str],
    channel: dict[str, Any],
    pump: Any,
    fake_sleep: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN campaign A sending, and campaign B being created: B's creator reads the tenant while A holds the lock
    status, a = api.call("POST", "/v1/campaigns", campaign_body(numbers(1, 2), channel["id"], name="A"))
    assert a["status"] == "executing"
    ran = interleave(monkeypatch, env, "create", lambda: pump.drain())
    # WHEN A is sent and finishes between that read and B's write
    status, b = api.call("POST", "/v1/campaigns", campaign_body(numbers(2, 2), channel["id"], name="B"))
    assert ran == [True]
    assert api.call("GET", f"/v1/campaigns/{a['id']}")[1]["status"] == "completed"
    # THEN B did not queue behind a campaign that is gone: it took the free lock and is sending
    assert status == 201 and b["status"] == "executing", b
    assert lock_violations(env, tenant[0], boto3.client("dynamodb")) == []
    pump.drain()
    assert api.call("GET", f"/v1/campaigns/{b['id']}")[1]["status"] == "completed"
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers(1, 2) + numbers(2, 2), 1))


def _raise(exc: Exception) -> None:
    raise exc


def test_campaign_whose_sender_died_before_finishing_it_is_finished_by_the_tick_and_hands_the_lock_on(
    env: Env,
    api: Api,
    tenant: tuple[str, str],
    channel: dict[str, Any],
    pump: Any,
    fake_sleep: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN campaign A sending and campaign B pending behind it
    status, a = api.call("POST", "/v1/campaigns", campaign_body(numbers(3, 2), channel["id"], name="A"))
    status, b = api.call("POST", "/v1/campaigns", campaign_body(numbers(4, 2), channel["id"], name="B"))
    assert (a["status"], b["status"]) == ("executing", "pending")
    # AND A's sender dies after recording every outcome, at the moment it would end the campaign
    died = once_before(monkeypatch, env.deps.campaigns, "finish", partial(_raise, RuntimeError("sender killed")))
    pump.drain()
    assert died == [True] and len(pump.errors) == 1
    got = api.call("GET", f"/v1/campaigns/{a['id']}")[1]
    assert got["status"] == "executing" and got["result"]["pending"] == 0 and got["result"]["sent"] == 2
    # WHEN the minute tick runs (before SQS hands the chunk back)
    assert pump.run_ticks() == 1
    # THEN the tick completed A and handed the lock to B
    assert api.call("GET", f"/v1/campaigns/{a['id']}")[1]["status"] == "completed"
    assert api.call("GET", f"/v1/campaigns/{b['id']}")[1]["status"] == "executing"
    # AND once SQS hands A's chunk back (5 s locally; nothing left to do), B's chunk follows in the FIFO group and B
    # completes; nothing was sent twice
    deadline = time.monotonic() + 60
    while api.call("GET", f"/v1/campaigns/{b['id']}")[1]["status"] != "completed" and time.monotonic() < deadline:
        pump.pump_queues_once(wait_seconds=1)
    assert api.call("GET", f"/v1/campaigns/{b['id']}")[1]["status"] == "completed"
    assert len(pump.errors) == 1
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers(3, 2) + numbers(4, 2), 1))
    assert lock_violations(env, tenant[0], boto3.client("dynamodb")) == []


def test_scheduled_campaign_whose_starter_saw_a_sender_that_then_finished_starts_at_once(
    env: Env,
    api: Api,
    tenant: tuple[str, str],
    channel: dict[str, Any],
    pump: Any,
    fake_sleep: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN campaign A sending, and campaign B scheduled and due, whose starter reads the tenant while A holds the lock
    at = (env.deps.clock.utcnow() + timedelta(hours=1)).isoformat()
    status, b = api.call(
        "POST",
        "/v1/campaigns",
        campaign_body(numbers(2, 2), channel["id"], name="B", send_time={"type": "scheduled", "at": at}),
    )
    assert b["status"] == "scheduled"
    status, a = api.call("POST", "/v1/campaigns", campaign_body(numbers(1, 2), channel["id"], name="A"))
    assert a["status"] == "executing"
    env.deps.clock.offset += 2 * 3600
    ran = interleave(monkeypatch, env, "start", lambda: pump.drain())
    # WHEN A is sent and finishes between that read and B's start
    started = lifecycle.start_scheduled(env.deps, tenant[0], b["id"])
    assert ran == [True]
    # THEN B took the free lock and is sending, then completes
    assert started == "executing"
    assert lock_violations(env, tenant[0], boto3.client("dynamodb")) == []
    pump.drain()
    assert api.call("GET", f"/v1/campaigns/{b['id']}")[1]["status"] == "completed"
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers(1, 2) + numbers(2, 2), 1))


# ---------------------------------------------------------------------------------------------- sender idempotency
def _first_chunk_event(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    """Receive the first chunk message off the send queue as the Lambda SQS trigger would; (event, message)."""
    out = env.sqs().receive_message(
        QueueUrl=env.resources.send_queue_url, MaxNumberOfMessages=1, AttributeNames=["All"]
    )
    messages = out.get("Messages", [])
    assert len(messages) == 1, out
    return {"Records": [EventPump._record(messages[0], env.resources.send_queue_name)]}, messages[0]


def _two_chunk_campaign(env: Env, api: Api, channel: dict[str, Any], count: int) -> dict[str, Any]:
    """A campaign to send now whose recipients are split into two chunks, so the first chunk leaves it executing."""
    env.deps.settings = dataclasses.replace(env.deps.settings, chunk_size=count // 2)
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers(1, count), channel["id"]))
    assert status == 201, created
    assert created["status"] == "executing"
    return dict(created)


def _assert_each_once(env: Env, api: Api, campaign_id: str, count: int) -> None:
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers(1, count), 1))
    status, done = api.call("GET", f"/v1/campaigns/{campaign_id}")
    assert status == 200
    assert done["status"] == "completed"
    assert done["result"] == {
        "total": count,
        "sent": count,
        "delivered": 0,
        "read": 0,
        "failed": 0,
        "pending": 0,
        "skipped": 0,
    }
    status, recipients = api.call("GET", f"/v1/campaigns/{campaign_id}/recipients")
    assert {r["status"] for r in recipients["items"]} == {"sent"}
    assert {r["attempts"] for r in recipients["items"]} == {1}
    assert len({r["provider_message_id"] for r in recipients["items"]}) == count


def test_same_queue_message_delivered_twice_sends_each_number_once(
    env: Env, api: Api, channel: dict[str, Any], pump: Any, fake_sleep: Any
) -> None:
    # GIVEN a campaign of 8 recipients in two chunks, and the first chunk's message as SQS hands it to the worker
    created = _two_chunk_campaign(env, api, channel, 8)
    event, message = _first_chunk_event(env)
    # WHEN SQS delivers that same message twice (at-least-once delivery) while the campaign is still executing
    pump.invoke("send_worker", event)
    status, midway = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert midway["status"] == "executing" and midway["result"]["sent"] == 4
    pump.invoke("send_worker", event)
    env.sqs().delete_message(QueueUrl=env.resources.send_queue_url, ReceiptHandle=message["ReceiptHandle"])
    # AND the rest of the queue is worked
    pump.drain()
    assert pump.errors == []
    # THEN each number was sent exactly once and counted once
    _assert_each_once(env, api, created["id"], 8)


def test_two_workers_racing_on_one_chunk_send_each_number_once(
    env: Env, api: Api, channel: dict[str, Any], pump: Any, serial_dynamodb: None, fake_sleep: Any
) -> None:
    # GIVEN a campaign of 10 recipients in two chunks, and a provider slow enough for two workers to overlap
    created = _two_chunk_campaign(env, api, channel, 10)
    event, message = _first_chunk_event(env)
    env.sim.configure(latency_ms=20)
    # WHEN two workers handle the same chunk at the same instant
    race([lambda: pump.invoke("send_worker", event), lambda: pump.invoke("send_worker", event)])
    env.sqs().delete_message(QueueUrl=env.resources.send_queue_url, ReceiptHandle=message["ReceiptHandle"])
    pump.drain()
    assert pump.errors == []
    # THEN each number was sent exactly once and counted once
    _assert_each_once(env, api, created["id"], 10)


# -------------------------------------------------------------------------------------------- provider back-pressure
def test_provider_429_slows_the_sender_and_is_never_a_failure(
    env: Env, api: Api, channel: dict[str, Any], pump: Any, fake_sleep: list[float]
) -> None:
    # GIVEN the provider answers the next three sends with 429 Too Many Requests
    env.sim.configure(throttle_next=3)
    # WHEN a campaign of five is sent
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers(2, 5), channel["id"]))
    assert status == 201, created
    pump.drain()
    assert pump.errors == []
    # THEN it completed with no failure, every number sent exactly once
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed"
    assert done["result"]["failed"] == 0 and done["result"]["sent"] == 5 and done["result"]["pending"] == 0
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers(2, 5), 1))
    assert env.sim.stats()["throttled"] == 3
    # AND the sender number's budget was slowed (for every campaign sending from it), not the recipients failed
    budget = env.deps.pace.get(budget_key("twilio", SENDER))  # type: ignore[attr-defined]
    assert budget.factor < 1.0 and budget.slowed_at > 0, budget


def test_provider_server_errors_are_settled_from_its_records_and_sent_once(
    env: Env, api: Api, channel: dict[str, Any], pump: Any, fake_sleep: Any
) -> None:
    # GIVEN the provider fails the next two sends with 500 (after which Twilio may or may not have queued them)
    env.sim.configure(server_error_next=2)
    # WHEN a campaign of four is sent
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers(3, 4), channel["id"]))
    assert status == 201, created
    pump.drain()
    # THEN the two are not resent blindly: they stay `sending`, and the campaign is not complete
    status, midway = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert midway["status"] == "executing" and midway["result"]["sent"] == 2 and midway["result"]["pending"] == 2
    first = sent_per_number(env)
    assert len(first) == 2 and set(first.values()) == {1}, first  # sends run in parallel: which two got 500 varies
    # WHEN the settle wait passes and the tick has the provider's records checked: the two are provably absent
    settle_time(env, pump)
    # THEN they were sent again, as a second attempt, and every number got exactly one message
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed"
    assert done["result"]["failed"] == 0 and done["result"]["sent"] == 4
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers(3, 4), 1))
    assert env.sim.stats()["server_errors"] == 2
    status, listed = api.call("GET", f"/v1/campaigns/{created['id']}/recipients")
    assert sorted(r["attempts"] for r in listed["items"]) == [1, 1, 2, 2]


def test_provider_server_errors_beyond_the_attempt_budget_fail_the_recipient_not_the_campaign(
    env: Env, api: Api, channel: dict[str, Any], pump: Any, fake_sleep: Any
) -> None:
    # GIVEN the provider fails the next three sends with 500, and a campaign of one: it gets all three
    env.sim.configure(server_error_next=3)
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers(4, 1), channel["id"]))
    assert status == 201, created
    # WHEN it is sent, and each uncertain attempt is settled (absent) and sent again
    pump.drain()
    settle_time(env, pump, rounds=3)
    # THEN the recipient failed with Twilio's code after three attempts (no endless retry), and the campaign completed
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed"
    assert done["result"]["failed"] == 1 and done["result"]["sent"] == 0 and done["result"]["pending"] == 0
    status, failed = api.call("GET", f"/v1/campaigns/{created['id']}/recipients?status=failed")
    assert [(r["number"], r["error"]["code"], r["attempts"]) for r in failed["items"]] == [
        (numbers(4, 1)[0], "20500", 3)
    ]
    assert env.sim.stats()["server_errors"] == 3
    assert env.sim.messages() == []
    # AND the next campaign sends normally
    status, nxt = api.call("POST", "/v1/campaigns", campaign_body(numbers(5, 2), channel["id"]))
    pump.drain()
    assert api.call("GET", f"/v1/campaigns/{nxt['id']}")[1]["result"]["sent"] == 2


def test_a_failed_chunk_comes_back_in_a_minute_not_after_the_visibility_timeout(
    env: Env, api: Api, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a chunk on the queue whose sending fails with an unexpected error
    import app as app_module
    from devstack.pump import EventPump

    api.call("POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]))
    sqs = boto3.client("sqs")
    message = sqs.receive_message(QueueUrl=env.resources.send_queue_url, MaxNumberOfMessages=1)["Messages"][0]
    seen: list[int] = []
    real = env.deps.queue._sqs.change_message_visibility

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs["VisibilityTimeout"])
        return real(**kwargs)

    monkeypatch.setattr(env.deps.queue._sqs, "change_message_visibility", spy)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("DynamoDB had a bad minute")

    monkeypatch.setattr("chalicelib.services.sending.handle_chunk", broken)
    # WHEN the worker runs it THEN the error propagates (the message is not deleted) and it is due again in 60 s
    pump = EventPump(app_module, sqs)
    with pytest.raises(RuntimeError):
        pump.invoke("send_worker", {"Records": [EventPump._record(message, "msgcampaigns-send.fifo")]})
    assert seen == [60]
