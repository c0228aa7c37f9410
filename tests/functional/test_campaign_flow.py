"""A text campaign through the API, the queue, the sender and Twilio (the simulator), on moto."""

from __future__ import annotations

from typing import Any

from tests.conftest import FAILING, SENDER, Api, Env, campaign_body


def test_campaign_sent_now_completes_with_exact_failures(
    api: Api, channel: dict[str, Any], pump: Any, env: Env
) -> None:
    # GIVEN 20 good numbers, a duplicate, and Twilio's five failing test numbers
    good = [f"+1415555{i:04d}" for i in range(20)]
    numbers = good + [good[0]] + list(FAILING)
    # WHEN the PBX creates it to send now and the queue is pumped
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers, channel["id"]))
    assert status == 201, created
    assert created["status"] == "executing"
    assert created["result"]["total"] == 25
    assert created["encoding"] == "UCS-2" and created["segments"] == 1
    pump.drain()
    # THEN it completed with exactly the five failures, each with Twilio's code
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert status == 200
    assert done["status"] == "completed", done
    assert done["result"]["total"] == 25
    assert done["result"]["failed"] == 5
    assert done["result"]["sent"] == 20
    assert done["result"]["pending"] == 0
    status, failed = api.call("GET", f"/v1/campaigns/{created['id']}/recipients?status=failed")
    assert {r["number"]: r["error"]["code"] for r in failed["items"]} == FAILING
    # AND the simulator got each good number exactly once, from the campaign's sender
    sent = [m for m in env.sim.messages() if m["from"] == SENDER]
    assert sorted(m["to"] for m in sent) == sorted(good)
