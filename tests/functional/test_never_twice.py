"""Never twice: a hand-over whose answer is lost is settled by the callback or the provider's records, not resent.

Functional: the Chalice app's handlers driven by the event pump, moto, and the Twilio simulator over real HTTP
(the twilio SDK with a short client timeout). Faults come from the simulator (latency past the timeout, a reset
after accepting, dropped callbacks), from a closed port, and from a botocore hook that kills the sender between
the provider's accept and the outcome write.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.adapters.queue import Job
from chalicelib.services import lifecycle
from chalicelib.services.sending import status_callback_url
from devstack.stack import is_outcome_write
from devstack.twilio_sim import TwilioSimulator
from tests.conftest import (
    SANDBOX_CHANNEL,
    SENDER,
    SIM_ACCOUNT,
    SIM_TOKEN,
    Api,
    Env,
    campaign_body,
    set_settings,
    settle_time,
)
from tests.functional.test_webhooks import callback_params, post_callback

NUMBERS = ["+14155550170", "+14155550171", "+14155550172", "+14155550173"]
# The app's provider client gives up after this; the simulator answers after LATE_MS.
CLIENT_TIMEOUT = 0.4
LATE_MS = 900


class WorkerKilled(RuntimeError):
    """The sender's process died (raised from a botocore hook, so none of the sender's own code is patched)."""


def sent_per_number(env: Env) -> Counter[str]:
    return Counter(m["to"] for m in env.sim.messages() if m["from"] == SENDER)


def campaign(api: Api, campaign_id: str) -> dict[str, Any]:
    status, body = api.call("GET", f"/v1/campaigns/{campaign_id}")
    assert status == 200, body
    return dict(body)


def recipients(api: Api, campaign_id: str) -> dict[str, dict[str, Any]]:
    status, page = api.call("GET", f"/v1/campaigns/{campaign_id}/recipients")
    assert status == 200, page
    return {r["number"]: r for r in page["items"]}


def start(api: Api, channel: dict[str, Any], numbers: list[str] = NUMBERS) -> str:
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers, channel["id"]))
    assert status == 201, created
    return str(created["id"])


def assert_sent_once_with_the_providers_ids(env: Env, api: Api, campaign_id: str, numbers: list[str]) -> None:
    """Every number is at the simulator exactly once; each recipient is sent, attempt 1, with that message's id."""
    assert sent_per_number(env) == Counter(dict.fromkeys(numbers, 1))
    sids = {m["to"]: m["sid"] for m in env.sim.messages()}
    done = campaign(api, campaign_id)
    assert done["status"] == "completed", done
    assert done["result"]["sent"] == len(numbers) and done["result"]["failed"] == 0 and done["result"]["pending"] == 0
    for number, r in recipients(api, campaign_id).items():
        assert r["status"] in ("sent", "delivered"), r
        assert r["provider_message_id"] == sids[number], r
        assert r["attempts"] == 1 and r["error"] is None, r


def held(api: Api, campaign_id: str) -> list[str]:
    """The recipients still `sending`."""
    return sorted(n for n, r in recipients(api, campaign_id).items() if r["status"] == "sending")


# ------------------------------------------------------------------------------------ answers that are lost
def test_answers_after_the_client_timeout_are_found_in_the_providers_records_not_resent(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a provider that accepts each message but answers after the app's client has given up
    set_settings(env, provider_timeout_seconds=CLIENT_TIMEOUT)
    env.sim.configure(latency_ms=LATE_MS)
    # WHEN a campaign of four is sent
    campaign_id = start(api, channel)
    pump.drain()
    # THEN nothing is resent: each number is at the provider once, and each recipient stays `sending`, uncertain
    assert sent_per_number(env) == Counter(dict.fromkeys(NUMBERS, 1))
    assert held(api, campaign_id) == sorted(NUMBERS)
    assert campaign(api, campaign_id)["status"] == "executing"
    # AND before the settle wait has passed, the tick leaves them alone
    env.sim.configure(latency_ms=0)
    pump.run_ticks()
    pump.drain()
    assert held(api, campaign_id) == sorted(NUMBERS)
    # WHEN the settle wait passes: the provider's records are checked
    settle_time(env, pump)
    # THEN each is recorded sent with the provider's id, attempt 1, and the campaign completes
    assert_sent_once_with_the_providers_ids(env, api, campaign_id, NUMBERS)


def test_a_connection_reset_after_the_provider_accepted_is_settled_not_resent(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a provider that accepts the next four messages and resets each connection instead of answering
    env.sim.configure(reset_after_accept_next=4)
    # WHEN a campaign of four is sent, and the settle wait passes
    campaign_id = start(api, channel)
    pump.drain()
    assert env.sim.stats()["resets_after_accept"] == 4
    assert held(api, campaign_id) == sorted(NUMBERS)
    settle_time(env, pump)
    # THEN each number got one message, recorded with its id as attempt 1, and the campaign completed
    assert_sent_once_with_the_providers_ids(env, api, campaign_id, NUMBERS)


def test_the_status_callback_settles_an_uncertain_hand_over_first(
    client: Any, env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN four hand-overs left uncertain by answers that came too late
    set_settings(env, provider_timeout_seconds=CLIENT_TIMEOUT)
    env.sim.configure(latency_ms=LATE_MS)
    campaign_id = start(api, channel)
    pump.drain()
    env.sim.configure(latency_ms=0)
    assert held(api, campaign_id) == sorted(NUMBERS)
    # WHEN Twilio's status callback for each attempt arrives (before any settle wait has passed)
    for message in env.sim.messages():
        assert post_callback(client, message["status_callback"], callback_params(message, "sent"))[0] == 204
    # THEN each recipient is sent with the provider's id, and the next tick completes the campaign
    assert held(api, campaign_id) == []
    pump.run_ticks()
    assert_sent_once_with_the_providers_ids(env, api, campaign_id, NUMBERS)
    # AND the settle job that comes due later finds nothing left to do and sends nothing
    settle_time(env, pump)
    assert sent_per_number(env) == Counter(dict.fromkeys(NUMBERS, 1))


def test_a_sender_killed_between_the_providers_accept_and_the_outcome_write_is_settled_not_resent(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN the sender dies when it writes its outcomes, after Twilio accepted every message (and no callback comes)
    kills: list[str] = []

    def die_at_outcome_write(params: dict[str, Any], **_: Any) -> None:
        if is_outcome_write(params) and not kills:
            kills.append("killed")
            raise WorkerKilled("the sender's process died")

    events = env.deps.campaigns.table.db.meta.events
    events.register("before-parameter-build.dynamodb.TransactWriteItems", die_at_outcome_write)
    try:
        campaign_id = start(api, channel)
        pump.drain()
    finally:
        events.unregister("before-parameter-build.dynamodb.TransactWriteItems", die_at_outcome_write)
    assert kills == ["killed"] and any("WorkerKilled" in e for e in pump.errors), pump.errors
    # THEN its recipients stay claimed: not failed, not sent again by the redelivered chunk
    assert sent_per_number(env) == Counter(dict.fromkeys(NUMBERS, 1))
    assert held(api, campaign_id) == sorted(NUMBERS)
    # WHEN the time its invocation could have lasted has passed, and the tick has the records checked
    settle_time(env, pump, seconds=300 + 61)
    # THEN each is found at the provider and recorded sent with its id, attempt 1; the campaign completes
    assert_sent_once_with_the_providers_ids(env, api, campaign_id, NUMBERS)


# ------------------------------------------------------------------------------- provably never at the provider
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_is_sent_again_at_once_as_a_second_attempt(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN the provider's address refuses connections until the sender's first back-off (then Twilio is up)
    port = _free_port()
    late = TwilioSimulator(port=port, callback_delay=0.01)
    set_settings(env, twilio_api_base=f"http://127.0.0.1:{port}")
    clock = env.deps.clock

    def sleep(seconds: float) -> None:
        clock.offset += seconds
        if late._server is None:
            late.start()
            late.add_account(SIM_ACCOUNT, SIM_TOKEN)
            late.add_number(SENDER, SIM_ACCOUNT, mps=1000)
            late.configure(no_callbacks=True)

    clock.sleep_fn = sleep
    try:
        # WHEN a campaign of one is sent
        campaign_id = start(api, channel, NUMBERS[:1])
        pump.drain()
        # THEN the provider got it exactly once, on the second attempt, and the campaign completed
        assert [m["to"] for m in late.messages()] == NUMBERS[:1]
        r = recipients(api, campaign_id)[NUMBERS[0]]
        assert r["status"] == "sent" and r["attempts"] == 2 and r["provider_message_id"] == late.messages()[0]["sid"]
        assert campaign(api, campaign_id)["status"] == "completed"
    finally:
        late.stop()


def test_a_hand_over_the_records_prove_absent_is_sent_once_as_a_second_attempt(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a provider that answers the first send with a 500 and did not keep the message
    env.sim.configure(server_error_next=1)
    campaign_id = start(api, channel, NUMBERS[:1])
    pump.drain()
    assert held(api, campaign_id) == NUMBERS[:1] and env.sim.messages() == []
    # WHEN the settle wait passes and the records show nothing
    settle_time(env, pump)
    # THEN it is sent once more, as attempt 2, and the campaign completes
    assert sent_per_number(env) == Counter({NUMBERS[0]: 1})
    r = recipients(api, campaign_id)[NUMBERS[0]]
    assert r["status"] == "sent" and r["attempts"] == 2 and r["provider_message_id"] == env.sim.messages()[0]["sid"]
    assert campaign(api, campaign_id)["status"] == "completed"


def test_a_late_callback_of_the_absent_attempt_cannot_touch_the_new_one(
    client: Any, env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a recipient sent again as attempt 2 after attempt 1 was proven absent
    env.sim.configure(server_error_next=1)
    campaign_id = start(api, channel, NUMBERS[:1])
    pump.drain()
    settle_time(env, pump)
    message = env.sim.messages()[0]
    # WHEN a forged-looking report arrives naming attempt 1 with the new message's id
    url = message["status_callback"].replace("a=2", "a=1")
    assert "a=1" in url
    assert post_callback(client, url, callback_params(message, "undelivered", "30003"))[0] == 204
    # THEN the recipient is unchanged
    r = recipients(api, campaign_id)[NUMBERS[0]]
    assert r["status"] == "sent" and r["attempts"] == 2 and r["error"] is None


def test_the_campaign_does_not_complete_while_a_hand_over_is_uncertain(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN one recipient of three whose answer was lost
    env.sim.configure(reset_after_accept_next=1)
    campaign_id = start(api, channel, NUMBERS[:3])
    pump.drain()
    # WHEN ticks run before the settle wait is over
    for _ in range(2):
        pump.run_ticks()
        pump.drain()
    # THEN the campaign is still executing, one recipient pending, and its record is still there
    body = campaign(api, campaign_id)
    assert body["status"] == "executing" and body["result"]["pending"] == 1 and body["result"]["sent"] == 2
    table = boto3.client("dynamodb")
    records = table.query(
        TableName=env.resources.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
        ExpressionAttributeValues={":pk": {"S": f"CAMPAIGN#{campaign_id}"}, ":h": {"S": "H#"}},
    )["Items"]
    uncertain = NUMBERS.index(held(api, campaign_id)[0])  # recipients are indexed in the order they were given
    assert [[int(i["N"]) for i in r["indexes"]["L"]] for r in records] == [[uncertain]]
    # WHEN the wait is over THEN it completes, each number once, and the record is gone
    settle_time(env, pump)
    assert campaign(api, campaign_id)["status"] == "completed"
    assert sent_per_number(env) == Counter(dict.fromkeys(NUMBERS[:3], 1))
    left = table.query(
        TableName=env.resources.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
        ExpressionAttributeValues={":pk": {"S": f"CAMPAIGN#{campaign_id}"}, ":h": {"S": "H#"}},
    )["Items"]
    assert left == []


# ------------------------------------------------------------------------------- the table under contention
def _conflict() -> ClientError:
    """DynamoDB's answer when another transaction (a callback on the same counter shard) held one of the items."""
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
        },
        "TransactWriteItems",
    )


class Conflicts:
    """A botocore hook: the next `times` outcome writes are cancelled with TransactionConflict."""

    def __init__(self, env: Env, times: int) -> None:
        self.left, self.fired = times, 0
        self._events = env.deps.campaigns.table.db.meta.events

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if is_outcome_write(params) and self.left > 0:
            self.left -= 1
            self.fired += 1
            raise _conflict()

    def __enter__(self) -> Conflicts:
        self._events.register("before-parameter-build.dynamodb.TransactWriteItems", self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._events.unregister("before-parameter-build.dynamodb.TransactWriteItems", self)


def test_a_transaction_conflict_on_the_outcome_write_is_tried_again_not_taken_for_a_lost_race(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN the sender's outcome write is cancelled twice by TransactionConflict (real DynamoDB does this; moto never)
    with Conflicts(env, times=2) as conflicts:
        # WHEN a campaign of four is sent
        campaign_id = start(api, channel)
        pump.drain()
    # THEN the write went through on a later try: nobody is left `sending`, the campaign completed, each sent once
    assert conflicts.fired == 2
    assert held(api, campaign_id) == []
    assert_sent_once_with_the_providers_ids(env, api, campaign_id, NUMBERS)


def test_a_settle_job_that_keeps_conflicting_leaves_its_record_and_settles_on_a_later_tick(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN four hand-overs left uncertain by resets after Twilio accepted them
    env.sim.configure(reset_after_accept_next=4)
    campaign_id = start(api, channel)
    pump.drain()
    # WHEN the settle job's writes are cancelled by TransactionConflict every time
    with Conflicts(env, times=10_000) as conflicts:
        settle_time(env, pump)
    # THEN it gave up loudly without dropping anything: still held, the record still there
    assert conflicts.fired > 0 and any("ConcurrencyError" in e for e in pump.errors), pump.errors
    assert held(api, campaign_id) == sorted(NUMBERS)
    # AND once the table is calm again, the job SQS hands back (in seconds here, a minute in AWS) settles them
    assert wait_until(lambda: pump.drain() >= 0 and held(api, campaign_id) == [], timeout=30)
    assert_sent_once_with_the_providers_ids(env, api, campaign_id, NUMBERS)


def test_records_that_stay_unreadable_end_in_send_interrupted_after_a_day_and_are_never_resent(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN an uncertain hand-over, and then credentials that can no longer read Twilio's records
    env.sim.configure(reset_after_accept_next=1)
    campaign_id = start(api, channel, NUMBERS[:1])
    pump.drain()
    env.sim.add_account(SIM_ACCOUNT, "rotated-at-twilio")
    try:
        # WHEN the settle job runs: it cannot tell, so it waits
        settle_time(env, pump)
        assert held(api, campaign_id) == NUMBERS[:1]
        # AND a day later it still cannot tell
        settle_time(env, pump, seconds=24 * 3600)
    finally:
        env.sim.add_account(SIM_ACCOUNT, SIM_TOKEN)
    # THEN the recipient is failed as "may have been sent" (which a retry does not resend), the campaign completes
    r = recipients(api, campaign_id)[NUMBERS[0]]
    assert r["status"] == "failed" and r["error"]["code"] == "send_interrupted" and r["attempts"] == 1, r
    assert campaign(api, campaign_id)["status"] == "completed"
    assert api.call("POST", f"/v1/campaigns/{campaign_id}/retry")[0] == 409  # nothing_to_retry
    assert sent_per_number(env) == Counter({NUMBERS[0]: 1})


# ------------------------------------------------------------------------------- settling never races a live sender
def test_a_settle_job_while_the_sender_still_works_leaves_its_recipients_alone(
    env: Env, api: Api, tenant: tuple[str, str], pump: Any
) -> None:
    # GIVEN a slow sender (one send in flight) in the middle of a chunk of three
    status, ch = api.call("POST", "/v1/channels", {**SANDBOX_CHANNEL, "mps": 2})
    assert status == 201, ch
    env.sim.configure(latency_ms=400)
    campaign_id = start(api, ch)
    worker = threading.Thread(target=pump.drain)
    worker.start()
    try:
        assert wait_until(lambda: len(env.sim.messages()) == 1)
        # WHEN a settle job runs right now (another Lambda, a tick that found the record)
        lifecycle.run_job(env.deps, Job("settle", tenant[0], campaign_id))
    finally:
        worker.join()
    env.sim.configure(latency_ms=0)
    pump.drain()
    # THEN it did nothing to the live sender's claims: each number was sent exactly once
    assert_sent_once_with_the_providers_ids(env, api, campaign_id, NUMBERS)


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def report_first_attempt(
    client: Any, env: Env, channel: dict[str, Any], campaign_id: str, to: str, sid: str, status: str
) -> int:
    """Post Twilio's signed status callback about attempt 1 of recipient 0, to the URL the service hands out."""
    url = status_callback_url(
        env.deps, env.deps.rules_for("twilio", "sms"), channel["id"], campaign_id, 0, attempt=1, shard=0
    )
    message = {"sid": sid, "account_sid": SIM_ACCOUNT, "from": SENDER, "to": to}
    return int(post_callback(client, url, callback_params(message, status))[0])


def test_a_callback_for_an_attempt_the_records_missed_stops_its_resend(
    client: Any, env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN an uncertain hand-over the settle job found absent and queued again (Twilio's list lagged behind)
    env.sim.configure(server_error_next=1)
    campaign_id = start(api, channel, NUMBERS[:1])
    pump.drain()
    env.deps.clock.offset += env.deps.settings.settle_seconds + 1
    pump.run_ticks()
    assert pump.pump_queues_once() == 1  # the settle job: it releases the recipient and queues it to be sent
    assert recipients(api, campaign_id)[NUMBERS[0]]["status"] == "queued"
    # WHEN Twilio's status callback for that very attempt arrives before the resend
    assert report_first_attempt(client, env, channel, campaign_id, NUMBERS[0], "SM" + "7" * 32, "sent") == 204
    pump.drain()
    # THEN the recipient is sent with that message's id and is not sent again
    r = recipients(api, campaign_id)[NUMBERS[0]]
    assert (r["status"], r["provider_message_id"], r["attempts"]) == ("sent", "SM" + "7" * 32, 1), r
    assert env.sim.messages() == []


def test_a_late_report_cannot_stop_a_retry_of_what_failed(
    client: Any, env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a recipient that failed (21211) and is queued again by a retry of its campaign
    bad = "+15005550001"
    campaign_id = start(api, channel, [bad])
    pump.drain()
    assert api.call("POST", f"/v1/campaigns/{campaign_id}/retry")[0] == 200
    assert recipients(api, campaign_id)[bad]["status"] == "queued"
    # WHEN a report naming its first attempt arrives (a replay, or forged with a valid signature)
    assert report_first_attempt(client, env, channel, campaign_id, bad, "SM" + "8" * 32, "delivered") == 204
    # THEN the retry's recipient is left queued, and the retry tries it (a second attempt, refused again)
    assert recipients(api, campaign_id)[bad]["status"] == "queued"
    pump.drain()
    r = recipients(api, campaign_id)[bad]
    assert (r["status"], r["attempts"], r["error"]["code"]) == ("failed", 2, "21211"), r
