"""End to end over HTTP, on the local stack as `make run` serves it: answers that are lost are settled, never resent.

The stack runs with a short provider client timeout (1 s), a short settle wait (3 s) and a tick every second, and
kills the sender the first time it writes the outcomes of accepted messages (FAULT_KILL_SENDER_AFTER_ACCEPT=1): the
first test below meets that fault.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.stackproc import StackProcess, start_stack, wait_for

pytestmark = pytest.mark.e2e

SENDER = "+15005550006"


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    s = start_stack(
        extra_env={
            "PROVIDER_TIMEOUT_MS": "1000",
            "SETTLE_SECONDS": "3",
            "TICK_SECONDS": "1",
            "FAULT_KILL_SENDER_AFTER_ACCEPT": "1",
        }
    )
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


def sim(stack: StackProcess, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, stack.sim + path, json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def numbers(block: int) -> list[str]:
    return [f"+1415555{block:02d}{i:02d}" for i in range(4)]


def send(stack: StackProcess, to: list[str]) -> str:
    response = stack.call(
        "POST",
        "/v1/campaigns",
        {
            "name": "never twice",
            "channel_id": stack.channel_id,
            "sender": SENDER,
            "recipients": {"numbers": to},
            "content": {"type": "text", "text": "Only once, please"},
            "send_time": {"type": "now"},
            "send_mode": "direct",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def completed(stack: StackProcess, campaign_id: str) -> dict[str, Any] | None:
    body = stack.call("GET", f"/v1/campaigns/{campaign_id}").json()
    return body if body["status"] == "completed" else None


def assert_each_once(stack: StackProcess, campaign_id: str, to: list[str]) -> None:
    """At the simulator exactly once each; every recipient sent or delivered with that message's id, attempt 1."""
    done = wait_for(lambda: completed(stack, campaign_id), timeout=60)
    assert done, stack.call("GET", f"/v1/campaigns/{campaign_id}").json()
    assert done["result"]["failed"] == 0 and done["result"]["sent"] == len(to), done
    messages = [m for m in sim(stack, "GET", "/sim/messages")["items"] if m["to"] in to]
    assert Counter(m["to"] for m in messages) == Counter(dict.fromkeys(to, 1))
    sids = {m["to"]: m["sid"] for m in messages}
    listed = stack.call("GET", f"/v1/campaigns/{campaign_id}/recipients").json()["items"]
    assert {r["number"] for r in listed} == set(to)
    for r in listed:
        assert r["status"] in ("sent", "delivered"), r
        assert r["provider_message_id"] == sids[r["number"]] and r["attempts"] == 1, r


def test_a_sender_killed_after_the_providers_accept_is_settled_by_the_callbacks(stack: StackProcess) -> None:
    # GIVEN the stack kills the sender when it writes the outcomes of the first accepted messages
    to = numbers(80)
    # WHEN a campaign of four is sent
    campaign_id = send(stack, to)
    # THEN Twilio's status callbacks settle the claims the dead sender left: each number once, with its id
    assert_each_once(stack, campaign_id, to)
    assert "FAULT_KILL_SENDER_AFTER_ACCEPT" in "".join(stack.output)


def test_answers_after_the_client_timeout_are_settled_not_resent(stack: StackProcess) -> None:
    # GIVEN Twilio accepts each message but answers after the service's client has given up
    sim(stack, "POST", "/sim/config", {"latency_ms": 1500})
    try:
        to = numbers(81)
        # WHEN a campaign of four is sent
        campaign_id = send(stack, to)
        # THEN it completes, each number sent once and recorded with its id, attempt 1
        assert_each_once(stack, campaign_id, to)
    finally:
        sim(stack, "POST", "/sim/config", {"latency_ms": 0})


def test_a_reset_after_accept_with_no_callback_is_found_in_twilios_records(stack: StackProcess) -> None:
    # GIVEN Twilio accepts the next four, resets each connection instead of answering, and never calls back
    sim(stack, "POST", "/sim/config", {"reset_after_accept_next": 4, "drop_callbacks_next": 4})
    to = numbers(82)
    # WHEN a campaign of four is sent
    campaign_id = send(stack, to)
    # THEN the settle job finds each in the Messages list: recorded with its id, attempt 1, sent once
    assert_each_once(stack, campaign_id, to)
    assert sim(stack, "GET", "/sim/stats")["resets_after_accept"] >= 4


def test_a_hand_over_the_records_prove_absent_is_sent_once_more(stack: StackProcess) -> None:
    # GIVEN Twilio answers the next send with a 500 and keeps nothing
    sim(stack, "POST", "/sim/config", {"server_error_next": 1})
    to = numbers(83)[:1]
    # WHEN a campaign of one is sent
    campaign_id = send(stack, to)
    # THEN after the settle wait its absence is proven and it is sent once, as attempt 2
    done = wait_for(lambda: completed(stack, campaign_id), timeout=60)
    assert done and done["result"]["sent"] == 1, done
    assert [m["to"] for m in sim(stack, "GET", "/sim/messages")["items"] if m["to"] in to] == to
    (r,) = stack.call("GET", f"/v1/campaigns/{campaign_id}/recipients").json()["items"]
    assert r["attempts"] == 2 and r["provider_message_id"], r
