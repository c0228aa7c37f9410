"""Idempotency-Key on POST /v1/campaigns: a PBX retrying after a timeout never creates (or sends) twice."""

from __future__ import annotations

from typing import Any

from tests.conftest import SENDER, Api, Env, campaign_body


def _campaign_ids(api: Api) -> list[str]:
    return [c["id"] for c in api.call("GET", "/v1/campaigns")[1]["items"]]


def test_a_retried_create_answers_the_first_campaign_and_sends_once(
    api: Api, channel: dict[str, Any], pump: Any, env: Env
) -> None:
    # GIVEN a campaign created with an Idempotency-Key
    body = campaign_body(["+14155550100", "+14155550101"], channel["id"])
    first_status, first = api.call("POST", "/v1/campaigns", body, headers={"Idempotency-Key": "order-42"})
    assert first_status == 201, first
    # WHEN the PBX sends the very same request again (its first answer was lost)
    again_status, again = api.call("POST", "/v1/campaigns", body, headers={"Idempotency-Key": "order-42"})
    # THEN it gets the same campaign, and only one exists
    assert again_status == 201
    assert again["id"] == first["id"]
    assert _campaign_ids(api) == [first["id"]]
    # AND each number is sent exactly once
    pump.drain()
    assert sorted(m["to"] for m in env.sim.messages() if m["from"] == SENDER) == ["+14155550100", "+14155550101"]


def test_replay_is_flagged_in_a_header(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN a created campaign WHEN the same request is replayed THEN the answer says it is a replay
    body = campaign_body(["+14155550100"], channel["id"], send_time={"type": "draft"})
    api.call("POST", "/v1/campaigns", body, headers={"Idempotency-Key": "k1"})
    response = api.client.http.post(
        "/v1/campaigns",
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json", "Idempotency-Key": "k1"},
        body=__import__("json").dumps(body),
    )
    assert response.status_code == 201
    assert response.headers.get("Idempotent-Replayed") == "true"


def test_a_key_reused_for_another_request_is_refused(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN a key used for one campaign
    api.call("POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]), headers={"Idempotency-Key": "k"})
    # WHEN it comes with a different campaign THEN 422 and nothing new is created
    status, answer = api.call(
        "POST", "/v1/campaigns", campaign_body(["+14155550199"], channel["id"]), headers={"Idempotency-Key": "k"}
    )
    assert status == 422 and answer["error"]["code"] == "idempotency_key_reused", answer
    assert len(_campaign_ids(api)) == 1


def test_a_refused_request_does_not_use_up_its_key(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN a request refused as invalid, with a key
    bad = campaign_body(["not a number"], channel["id"])
    assert api.call("POST", "/v1/campaigns", bad, headers={"Idempotency-Key": "k2"})[0] == 422
    # WHEN the corrected request comes with the same key THEN it creates the campaign
    good = campaign_body(["+14155550100"], channel["id"])
    status, created = api.call("POST", "/v1/campaigns", good, headers={"Idempotency-Key": "k2"})
    assert status == 201, created
    assert _campaign_ids(api) == [created["id"]]


def test_keys_belong_to_their_tenant(api: Api, channel: dict[str, Any], env: Env, client: Any) -> None:
    # GIVEN tenant A used a key
    from chalicelib.services.tenants import create_tenant

    api.call(
        "POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]), headers={"Idempotency-Key": "same"}
    )
    # WHEN tenant B uses the same key for its own (invalid for B: A's channel) request
    _, key_b = create_tenant(env.deps, "B")
    status, answer = Api(client, key_b).call(
        "POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]), headers={"Idempotency-Key": "same"}
    )
    # THEN B is not answered A's campaign: its request is judged on its own (A's channel is not B's)
    assert status == 422 and answer["error"]["code"] == "channel_not_found", answer


def test_a_malformed_key_is_a_400(api: Api, channel: dict[str, Any]) -> None:
    for key in ["", "x" * 256, "has space", "tab\tkey"]:
        status, answer = api.call(
            "POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]), headers={"Idempotency-Key": key}
        )
        assert status == 400 and answer["error"]["code"] == "invalid_request", (key, answer)
    assert _campaign_ids(api) == []
