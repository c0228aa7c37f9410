"""The function URL conversion (chalicelib/api/function_url.py): v2 events to REST v1 events and v1 answers back."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from chalice.app import Request

from chalicelib.api import function_url as fu
from chalicelib.domain.errors import InvalidRequestError, NotFoundError

TEMPLATES = [
    "/v1/health",
    "/v1/channels/{channel_id}",
    "/webhooks/twilio/{channel_id}/status",
    "/webhooks/twilio/{channel_id}/inbound",
    "/webhooks/whatsapp/{channel_id}",
]
ROUTES = fu.webhook_routes(TEMPLATES)


def event(method: str = "POST", path: str = "/webhooks/twilio/ch_1/status", **changes: Any) -> dict[str, Any]:
    """A minimal function URL event."""
    base: dict[str, Any] = {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "requestContext": {"domainName": "x.lambda-url.us-east-1.on.aws", "http": {"method": method}},
        "body": "MessageStatus=delivered",
        "isBase64Encoded": False,
    }
    return base | changes


def test_only_the_webhook_templates_are_routes() -> None:
    # GIVEN the app's templates WHEN the webhook routes are taken THEN the three /webhooks/ ones, none of /v1
    assert [r.template for r in ROUTES] == [
        "/webhooks/twilio/{channel_id}/inbound",
        "/webhooks/twilio/{channel_id}/status",
        "/webhooks/whatsapp/{channel_id}",
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/webhooks/twilio/ch_1/status", ("/webhooks/twilio/{channel_id}/status", {"channel_id": "ch_1"})),
        ("/webhooks/twilio/ch_1/inbound", ("/webhooks/twilio/{channel_id}/inbound", {"channel_id": "ch_1"})),
        ("/webhooks/whatsapp/ch%3A1", ("/webhooks/whatsapp/{channel_id}", {"channel_id": "ch:1"})),
        ("/webhooks/whatsapp/ch%2F1", ("/webhooks/whatsapp/{channel_id}", {"channel_id": "ch/1"})),
        ("/webhooks/whatsapp/", None),
        ("/webhooks/whatsapp/ch_1/", None),
        ("/webhooks/twilio/ch_1/other", None),
        ("/webhooks/twilio/ch_1", None),
        ("/v1/channels/ch_1", None),
        ("/v1/health", None),
        ("//webhooks/whatsapp/ch_1", None),
    ],
)
def test_a_raw_path_matches_a_webhook_template_segment_by_segment(path: str, expected: Any) -> None:
    # GIVEN a raw path WHEN matched THEN its template and the percent-decoded parameters, or None
    assert fu.match(ROUTES, path) == expected


def test_a_form_post_becomes_the_rest_event_chalice_reads() -> None:
    # GIVEN Twilio's status callback as a function URL event, with a query of our keys and a blank one
    source = event(
        rawQueryString="a=1&c=cmp_1&r=0&s=&r=1",
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "sig"},
        cookies=["a=1", "b=2"],
    )
    # WHEN converted
    rest = fu.to_rest_event(source, ROUTES)
    # THEN it names the route, its parameters, the query (last value and all values, blanks kept), the headers
    assert rest["resource"] == rest["requestContext"]["resourcePath"] == "/webhooks/twilio/{channel_id}/status"
    assert rest["httpMethod"] == rest["requestContext"]["httpMethod"] == "POST"
    assert rest["path"] == "/webhooks/twilio/ch_1/status"
    assert rest["pathParameters"] == {"channel_id": "ch_1"}
    assert rest["queryStringParameters"] == {"a": "1", "c": "cmp_1", "r": "1", "s": ""}
    assert rest["multiValueQueryStringParameters"] == {"a": ["1"], "c": ["cmp_1"], "r": ["0", "1"], "s": [""]}
    assert rest["headers"]["x-twilio-signature"] == "sig"
    assert rest["headers"]["cookie"] == "a=1; b=2"
    assert rest["multiValueHeaders"]["x-twilio-signature"] == ["sig"]
    assert rest["stageVariables"] is None
    assert (rest["body"], rest["isBase64Encoded"]) == ("MessageStatus=delivered", False)
    # AND Chalice's own Request reads it as API Gateway's
    request = Request(rest)
    assert request.query_params is not None and request.query_params.getlist("r") == ["0", "1"]
    assert request.headers["X-Twilio-Signature"] == "sig"
    assert request.uri_params == {"channel_id": "ch_1"}
    assert request.raw_body == b"MessageStatus=delivered"


def test_an_empty_query_and_no_body_are_null_as_api_gateway_passes_them() -> None:
    rest = fu.to_rest_event(event("GET", "/webhooks/whatsapp/ch_1", body=None, rawQueryString=""), ROUTES)
    assert rest["queryStringParameters"] is None and rest["multiValueQueryStringParameters"] is None
    assert rest["body"] is None and rest["isBase64Encoded"] is False
    assert rest["httpMethod"] == "GET"


def test_a_base64_body_reaches_the_app_as_the_same_bytes() -> None:
    # GIVEN a body that is not UTF-8, base64-encoded by the function URL (unpadded input is not accepted)
    raw = b"Body=\xff\xfe&To=%2B1"
    rest = fu.to_rest_event(event(body=base64.b64encode(raw).decode(), isBase64Encoded=True), ROUTES)
    # THEN the app reads exactly those bytes
    assert rest["isBase64Encoded"] is True
    assert Request(rest).raw_body == raw


@pytest.mark.parametrize(
    "changes",
    [
        {"requestContext": None},
        {"requestContext": {"http": {}}},
        {"requestContext": {"http": {"method": "P OST"}}},
        {"requestContext": {"http": {"method": ""}}},
        {"rawPath": None},
        {"headers": {"a": None}},
        {"cookies": [1]},
        {"body": b"bytes"},
        {"body": "!!!!", "isBase64Encoded": True},
        {"rawQueryString": "a=" + "x" * fu.MAX_QUERY_CHARS},
    ],
)
def test_an_unreadable_event_is_an_invalid_request(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        fu.to_rest_event(event(**changes), ROUTES)


def test_the_path_is_taken_from_the_http_context_when_raw_path_is_absent() -> None:
    source = event()
    del source["rawPath"]
    source["requestContext"]["http"]["path"] = "/webhooks/whatsapp/ch_2"
    assert fu.to_rest_event(source, ROUTES)["pathParameters"] == {"channel_id": "ch_2"}


@pytest.mark.parametrize("path", ["/v1/health", "/v1/channels/ch_1", "/", "", "/webhooks/" + "a" * 3000])
def test_a_path_that_is_no_webhook_route_is_not_found(path: str) -> None:
    with pytest.raises(NotFoundError):
        fu.to_rest_event(event(path=path), ROUTES)


def test_a_rest_answer_becomes_a_function_url_answer() -> None:
    # GIVEN a v1 answer with single and multi-value headers and cookies
    answer = {
        "statusCode": 200,
        "headers": {"Content-Type": "text/xml"},
        "multiValueHeaders": {"Vary": ["Accept", "Origin"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "<Response></Response>",
    }
    # WHEN converted THEN headers are joined, cookies separate, the body as it was
    assert fu.to_url_answer(answer) == {
        "statusCode": 200,
        "headers": {"content-type": "text/xml", "vary": "Accept, Origin"},
        "cookies": ["a=1", "b=2"],
        "body": "<Response></Response>",
        "isBase64Encoded": False,
    }


def test_a_binary_or_empty_answer_is_kept() -> None:
    encoded = fu.to_url_answer({"statusCode": 200, "headers": {}, "body": "AAE=", "isBase64Encoded": True})
    assert (encoded["body"], encoded["isBase64Encoded"]) == ("AAE=", True)
    raw = fu.to_url_answer({"statusCode": 200, "body": b"\x00\x01"})
    assert (raw["body"], raw["isBase64Encoded"]) == ("AAE=", True)
    empty = fu.to_url_answer({"statusCode": 204, "headers": {}, "multiValueHeaders": {}, "body": None})
    assert (empty["statusCode"], empty["body"]) == (204, "")


def test_serve_answers_errors_in_the_contracts_shape_without_calling_the_app() -> None:
    # GIVEN an app that records its calls
    calls: list[dict[str, Any]] = []

    def app(rest: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(rest)
        return {"statusCode": 204, "headers": {}, "multiValueHeaders": {}, "body": ""}

    # WHEN a /v1 path and an unreadable event come THEN 404 and 400 in the contract's shape, the app never called
    for source, status, code in ((event(path="/v1/health"), 404, "not_found"), ({}, 400, "invalid_request")):
        answer = fu.serve(source, None, app, ROUTES)
        assert answer["statusCode"] == status
        assert answer["headers"]["content-type"].startswith("application/json")
        assert json.loads(answer["body"])["error"]["code"] == code
    assert calls == []
    # AND a webhook goes to the app, whose answer comes back
    assert fu.serve(event(), "ctx", app, ROUTES)["statusCode"] == 204
    assert calls[0]["resource"] == "/webhooks/twilio/{channel_id}/status"
