"""The local stack's HTTP server (devstack.api_server): the app's routes as Chalice serves them, unknown ones a 404."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chalice.config import Config
from twilio.request_validator import RequestValidator

from devstack.api_server import api_server
from tests.conftest import Env

SECRET = "Bearer sk-do-not-echo-0123456789"


@pytest.fixture
def base(env: Env) -> Iterator[str]:
    """The app behind the local stack's server on a free port."""
    import app as app_module

    server = api_server(app_module.app, Config.create(chalice_stage="dev", lambda_timeout=30), "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server.server_address[1]}"
    server.shutdown()
    server.server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nope"), ("POST", "/v1/campaigns/x/y/z"), ("DELETE", "/"), ("GET", "/webhooks/nope?x=1")],
)
def test_unknown_route_is_a_contract_404_that_echoes_nothing(base: str, method: str, path: str) -> None:
    # GIVEN the local stack's server WHEN a caller with an API key asks for a route the app does not have
    response = requests.request(method, base + path, headers={"Authorization": SECRET}, data=b'{"a": 1}', timeout=10)
    # THEN it answers 404 in the contract's error shape (not API Gateway's 403), and the key appears nowhere
    assert response.status_code == 404, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": {"code": "not_found", "message": "No such route: check the method and path.", "details": []}
    }
    assert "sk-do-not-echo" not in response.text
    assert all("sk-do-not-echo" not in value for value in response.headers.values())


def test_known_routes_are_served_as_before_on_the_same_connection(base: str) -> None:
    # GIVEN one keep-alive connection WHEN an unknown route with a body, then real routes, are asked for
    with requests.Session() as session:
        missing = session.post(f"{base}/v1/nope", data=b"x" * 1000, timeout=10)
        health = session.get(f"{base}/v1/health", timeout=10)
        unauthorized = session.get(f"{base}/v1/campaigns", timeout=10)
    # THEN the app answers its own routes as it always did
    assert missing.status_code == 404
    assert health.status_code == 200, health.text
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "unauthorized"


def test_path_parameters_arrive_percent_decoded(base: str, tenant: tuple[str, str]) -> None:
    # GIVEN a phonebook id with a ':' that the PBX percent-encodes in the path, as API Gateway would decode it
    headers = {"Authorization": f"Bearer {tenant[1]}", "Content-Type": "application/json"}
    body = {"name": "Sales", "contacts": [{"name": "Anna", "numbers": {"mobile": "+41415084545"}}]}
    # WHEN it is put and then read back by its encoded path
    put = requests.put(f"{base}/v1/phonebooks/pb%3Asales", json=body, headers=headers, timeout=10)
    got = requests.get(f"{base}/v1/phonebooks/pb%3Asales", headers=headers, timeout=10)
    # THEN the app saw the decoded id
    assert put.status_code in (200, 201), put.text
    assert got.status_code == 200, got.text
    assert got.json()["id"] == "pb:sales"


@pytest.mark.parametrize("method", ["TRACE", "QUERY"])
def test_every_method_reaches_the_app(base: str, method: str) -> None:
    # GIVEN a route the app has WHEN it is asked with a method the HTTP server alone would answer 501
    response = requests.request(method, f"{base}/v1/health", timeout=10)
    # THEN the app answers it, in the contract's error shape
    assert response.status_code == 405, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.fixture
def url_server(env: Env) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The local server given the `webhooks` function, as the stack runs it; the events that function got."""
    import app as app_module

    seen: list[dict[str, Any]] = []

    def webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return app_module.webhooks(event, context)

    config = Config.create(chalice_stage="dev", lambda_timeout=30)
    server = api_server(app_module.app, config, "127.0.0.1", 0, webhooks=webhooks)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server.server_address[1]}", seen
    server.shutdown()
    server.server.server_close()
    thread.join(timeout=5)


def test_webhooks_go_through_the_function_url_and_the_api_through_the_gateway(
    url_server: tuple[str, list[dict[str, Any]]],
) -> None:
    # GIVEN the local server with the webhooks function WHEN the API and an unknown webhook path are asked for
    base, seen = url_server
    health = requests.get(f"{base}/v1/health", timeout=10)
    missing = requests.post(f"{base}/webhooks/nope?x=1", data=b"a=1", timeout=10)
    # THEN the API is the gateway's (the function saw nothing of it), the webhook path the function's (its 404)
    assert health.status_code == 200
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert [(e["version"], e["rawPath"], e["rawQueryString"]) for e in seen] == [("2.0", "/webhooks/nope", "x=1")]


def test_a_signed_status_callback_over_http_reaches_the_app_through_the_function_url(
    url_server: tuple[str, list[dict[str, Any]]], env: Env, api: Any, channel: dict[str, Any], pump: Any
) -> None:
    from tests.conftest import SIM_TOKEN, campaign_body, set_settings
    from tests.functional.test_webhooks import callback_params, recipient

    # GIVEN the local server as the webhook base, and a campaign sent with callbacks to it
    base, seen = url_server
    set_settings(env, webhook_base_url=base)
    status, created = api.call("POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]))
    assert status == 201, created
    pump.drain()
    (message,) = env.sim.messages()
    assert message["status_callback"].startswith(f"{base}/webhooks/twilio/")
    # WHEN Twilio posts "delivered" there over HTTP, signed over the URL it calls
    params = callback_params(message, "delivered")
    signature = RequestValidator(SIM_TOKEN).compute_signature(message["status_callback"], params)
    answer = requests.post(
        message["status_callback"], data=params, headers={"X-Twilio-Signature": signature}, timeout=10
    )
    # THEN the function got it as a function URL event, and the recipient is delivered
    assert answer.status_code == 204, answer.text
    assert seen[-1]["rawQueryString"] == message["status_callback"].split("?", 1)[1]
    assert recipient(api, created["id"], "+14155550100")["status"] == "delivered"
