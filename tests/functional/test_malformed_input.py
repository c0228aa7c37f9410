"""No input gets a 5xx: malformed bodies, wrong types, odd ids, garbage parameters and headers, unsigned webhooks.

Every answer here is a 4xx in the contract's error shape with a stable code, and leaves the table and the secret store
exactly as they were.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from chalicelib.domain.model import utc_iso
from chalicelib.services.tenants import create_tenant
from tests.conftest import PUBLIC_BASE, SENDER, SIM_ACCOUNT, SIM_TOKEN, Api, Env, campaign_body

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FORM = "application/x-www-form-urlencoded"
FIVE_MB = 5 * 1024 * 1024


# --------------------------------------------------------------------------------------------------------- helpers
def error_problems(status: int, body: Any) -> list[str]:
    """Why an answer is not a 4xx in the contract's error shape (empty when it is)."""
    problems = []
    if not 400 <= status < 500:
        problems.append(f"status {status}")
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return [*problems, f"not the error shape: {str(body)[:200]}"]
    err = body["error"]
    if set(err) != {"code", "message", "details"}:
        problems.append(f"error keys {sorted(err)}")
    if not isinstance(err.get("code"), str) or not CODE_RE.match(err["code"]):
        problems.append(f"code {err.get('code')!r}")
    if not isinstance(err.get("message"), str) or not err["message"].strip():
        problems.append(f"message {err.get('message')!r}")
    if not isinstance(err.get("details"), list):
        problems.append(f"details {err.get('details')!r}")
    return problems


class Probe:
    """Sends requests and collects every answer that is not the expected error, to report them all at once."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key
        self.failures: list[str] = []

    def send(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> tuple[int, Any]:
        hdrs = {"Content-Type": "application/json"}
        if auth:
            hdrs["Authorization"] = f"Bearer {key or self.key}"
        hdrs.update(headers or {})
        payload = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        response = self.client.http.request(method, path, headers=hdrs, body=payload)
        raw = response.body
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            # Strict JSON out: NaN or Infinity in an answer would not be JSON.
            return response.status_code, json.loads(text, parse_constant=_no_constant) if text else None
        except (ValueError, UnicodeDecodeError) as exc:
            return response.status_code, f"<not JSON: {exc}: {raw[:100]!r}>"

    def expect(
        self,
        label: str,
        method: str,
        path: str,
        body: bytes | str | None = None,
        *,
        status: int | set[int] | None = None,
        code: str | set[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        got, answer = self.send(method, path, body, **kwargs)
        problems = error_problems(got, answer)
        statuses = {status} if isinstance(status, int) else status
        codes = {code} if isinstance(code, str) else code
        if statuses and got not in statuses:
            problems.append(f"status {got}, expected {sorted(statuses)}")
        if codes and isinstance(answer, dict) and answer.get("error", {}).get("code") not in codes:
            problems.append(f"code {answer.get('error', {}).get('code')!r}, expected {sorted(codes)}")
        if problems:
            self.failures.append(f"{label}: {method} {path[:80]}: {'; '.join(problems)}")
        return answer

    def check(self) -> None:
        assert not self.failures, f"{len(self.failures)} bad answers:\n" + "\n".join(self.failures[:60])


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} in an answer")


@functools.cache
def _clients(moto_url: str) -> tuple[Any, Any]:
    """DynamoDB and Secrets Manager clients on the session's moto server (a client costs ~50 ms to build)."""
    return boto3.client("dynamodb", endpoint_url=moto_url), boto3.client("secretsmanager", endpoint_url=moto_url)


@functools.cache
def _s3(moto_url: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_url)


def snapshot(env: Env) -> tuple[list[Any], list[Any], list[Any]]:
    """Every item of the table (uploads included), every secret and every object of the upload bucket.

    An error answer must leave all three exactly as they were.
    """
    dynamodb, secretsmanager = _clients(env.moto_url)
    items: list[Any] = []
    kwargs: dict[str, Any] = {"TableName": env.resources.table_name}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    secrets = secretsmanager.list_secrets()["SecretList"]
    objects = _s3(env.moto_url).get_paginator("list_objects_v2").paginate(Bucket=env.resources.upload_bucket)
    return (
        sorted(items, key=lambda i: json.dumps(i, sort_keys=True)),
        sorted((s["Name"], str(s.get("LastChangedDate"))) for s in secrets),
        sorted((o["Key"], o["ETag"]) for page in objects for o in page.get("Contents", [])),
    )


def channel_body(**overrides: Any) -> dict[str, Any]:
    """A valid channel, to be varied."""
    body = {
        "name": "Promotions",
        "type": "sms",
        "provider": "twilio",
        "senders": [SENDER],
        "credentials": {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN},
        "mps": 5,
    }
    body.update(overrides)
    return body


def walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) inside a JSON value, the root included."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, (*path, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A deep copy of `value` with the element at `path` replaced."""
    out = json.loads(json.dumps(value))
    if not path:
        return new
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return out


# DynamoDB refuses (a 500 for us) a partition key over 2048 bytes or a sort key over 1024; moto does not check reads.
KEY_LIMITS = {"pk": 2048, "sk": 1024}


def _oversized_keys(params: dict[str, Any]) -> list[str]:
    keys = [params.get("Key"), params.get("ExclusiveStartKey"), params.get("Item")]
    return [
        f"{name} of {len(value['S'].encode('utf-8', 'surrogatepass'))} bytes"
        for key in keys
        if key
        for name, limit in KEY_LIMITS.items()
        if (value := key.get(name)) and len(value["S"].encode("utf-8", "surrogatepass")) > limit
    ]


@pytest.fixture
def probe(client: Any, env: Env, tenant: tuple[str, str]) -> Iterator[Probe]:
    """A Probe whose check() also fails when the app sent DynamoDB a key that real DynamoDB would refuse."""
    probe = Probe(client, tenant[1])

    def watch(params: dict[str, Any], **_: Any) -> None:
        probe.failures.extend(f"sent DynamoDB a {problem}" for problem in _oversized_keys(params))

    events = env.deps.campaigns.table.db.meta.events
    events.register("provide-client-params.dynamodb", watch, unique_id="malformed-input-key-sizes")
    yield probe
    events.unregister("provide-client-params.dynamodb", unique_id="malformed-input-key-sizes")


@pytest.fixture
def draft(api: Api, channel: dict[str, Any]) -> dict[str, Any]:
    """A draft campaign of the tenant."""
    status, body = api.call(
        "POST", "/v1/campaigns", campaign_body(["+41415084545"], channel["id"], send_time={"type": "draft"})
    )
    assert status == 201 and body["status"] == "draft", body
    return body


UPLOAD_BODY = {"kind": "contacts_csv", "filename": "x.csv", "content_type": "text/csv", "size": 10}
INLINE_CSV = "/v1/uploads?kind=contacts_csv&filename=x.csv"
VALID_CSV = b"Number,name\n+41415084545,Ann\n"
DRAFT_PATCH = {
    "name": "Renamed draft",
    "sender": SENDER,
    "recipients": {"numbers": ["+41415084545"]},
    "content": {"type": "text", "text": "Hi"},
    "send_mode": "direct",
}


@pytest.fixture
def body_routes(env: Env, channel: dict[str, Any], draft: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, a valid body) for every route that takes a JSON body.

    In this order the baseline test can send each valid body: the draft is edited before /send schedules it.
    """
    tomorrow = utc_iso(env.deps.clock.utcnow() + timedelta(days=1))
    return [
        ("POST", "/v1/channels", channel_body()),
        ("PATCH", f"/v1/channels/{channel['id']}", {"name": "Renamed", "senders": [SENDER], "mps": 2}),
        ("POST", "/v1/campaigns", campaign_body(["+41415084545"], channel["id"], send_time={"type": "draft"})),
        ("PUT", "/v1/phonebooks/pb-1", {"name": "Team", "contacts": [{"name": "A", "numbers": {"mobile": SENDER}}]}),
        ("PATCH", f"/v1/campaigns/{draft['id']}", DRAFT_PATCH),
        ("POST", f"/v1/campaigns/{draft['id']}/send", {"send_time": {"type": "scheduled", "at": tomorrow}}),
        ("POST", "/v1/uploads", UPLOAD_BODY),
    ]


# ----------------------------------------------------------------------------------------------------------- bodies
NOT_JSON: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("blank", b" \r\n\t "),
    ("truncated", b'{"name": "x"'),
    ("missing value", b'{"name": }'),
    ("single quotes", b"{'name': 'x'}"),
    ("trailing comma", b'{"name": "x",}'),
    ("trailing garbage", b'{"name": "x"} {}'),
    ("bare word", b"hello"),
    ("comment", b'{"name": "x" /* c */}'),
    ("array", b"[]"),
    ("array of objects", b'[{"name": "x"}]'),
    ("string", b'"{\\"name\\": \\"x\\"}"'),
    ("number", b"42"),
    ("float", b"-0.5e3"),
    ("null", b"null"),
    ("true", b"true"),
    ("NaN value", b'{"name": NaN}'),
    ("Infinity value", b'{"mps": Infinity}'),
    ("-Infinity value", b'{"mps": -Infinity}'),
    ("NaN body", b"NaN"),
    ("overflowing number", b'{"mps": 1e999}'),
    ("overflowing number deep", b'{"recipients": {"numbers": [1e400]}}'),
    ("5000-digit integer", b'{"mps": ' + b"9" * 5000 + b"}"),
    ("unpaired high surrogate", b'{"name": "a\\ud800b"}'),
    ("unpaired low surrogate", b'{"recipients": {"numbers": ["\\udc00"]}}'),
    ("unpaired surrogate in a key", b'{"\\udfff": 1}'),
    ("invalid UTF-8", b'{"name": "\xff\xfe"}'),
    ("invalid UTF-8 start", b"\xff\xfe{}"),
    ("overlong UTF-8", b'{"name": "\xc0\xaf"}'),
    ("UTF-16", '{"name": "x"}'.encode("utf-16")),
    ("UTF-8 BOM", b'\xef\xbb\xbf{"name": "x"}'),
    ("NUL bytes", b"\x00\x00\x00"),
    ("100000 levels of [", b"[" * 100_000),
    ("100000 levels of [] closed", b"[" * 100_000 + b"]" * 100_000),
    ("100000 levels of objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    ("deep inside a field", b'{"name": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
]


def test_bodies_that_are_not_a_json_object_are_400(
    probe: Probe, env: Env, body_routes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    # GIVEN the state after a channel was created
    before = snapshot(env)
    # WHEN every route with a body gets each malformed body
    for method, path, _ in body_routes:
        for label, raw in NOT_JSON:
            probe.expect(label, method, path, raw, status=400, code="invalid_request")
    # THEN each is a 400 invalid_request in shape, and nothing changed
    probe.check()
    assert snapshot(env) == before


def test_valid_bodies_used_as_baseline_are_accepted(
    probe: Probe,
    channel: dict[str, Any],
    draft: dict[str, Any],
    body_routes: list[tuple[str, str, dict[str, Any]]],
) -> None:
    # The variations below start from these bodies: each must be good, or the tests below would prove nothing.
    # (Each test has its own state: the draft this one schedules is a draft again in the others.)
    for method, path, body in body_routes:
        status, answer = probe.send(method, path, json.dumps(body))
        assert status in (200, 201), (method, path, answer)
    status, answer = probe.send("GET", f"/v1/campaigns/{draft['id']}")
    assert status == 200 and answer["name"] == DRAFT_PATCH["name"] and answer["status"] == "scheduled", answer
    # AND what the malformed cases must not catch: escaped surrogate pairs (an emoji), an escaped backslash before
    # "ud800", exponents that fit a float, a large integer
    raw = '{"name": "\\ud83d\\udc4b C:\\\\ud800", "mps": 1.5e2}'
    assert json.loads(raw) == {"name": "👋 C:\\ud800", "mps": 150.0}
    status, answer = probe.send("PATCH", f"/v1/channels/{channel['id']}", raw)
    assert status == 200 and answer["name"] == "👋 C:\\ud800" and answer["mps"] == 150, answer
    status, answer = probe.send("PATCH", f"/v1/channels/{channel['id']}", '{"mps": ' + "9" * 4000 + "}")
    assert status == 422 and answer["error"]["code"] == "invalid_mps", answer


WRONG_VALUES: dict[type, list[Any]] = {
    str: [1, 1.5, True, [], {}, ["x"], {"x": "y"}],
    int: ["1", True, False, [], {}, [1], {"v": 1}],
    list: ["x", 1, True, {}, {"0": "x"}],
    dict: ["x", 1, True, [], [{}]],
}


# Fields a POST body must have (null is no value): a PATCH has none.
REQUIRED = {
    "name",
    "type",
    "provider",
    "senders",
    "credentials",
    "account_sid",
    "auth_token",
    "channel_id",
    "sender",
    "recipients",
    "content",
    "send_time",
    "text",
    "at",
    "kind",
    "filename",
    "content_type",
    "size",
}


def test_wrong_types_for_every_field_are_400(
    probe: Probe, env: Env, body_routes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    # GIVEN valid bodies and the state before
    before = snapshot(env)
    for method, path, body in body_routes:
        # WHEN each field, at every level, gets each value of another JSON type (null for a required one)
        for where, value in walk(body):
            if not where:
                continue
            kind = bool if isinstance(value, bool) else type(value)
            wrong = list(WRONG_VALUES.get(kind, []))
            if method == "POST" and where[-1] in REQUIRED:
                wrong.append(None)
            if where == ("recipients", "numbers", 0):
                continue  # any JSON value is allowed there; a non-number is a 422 invalid_phone_number
            for new in wrong:
                label = f"{'.'.join(map(str, where))} = {json.dumps(new)}"
                answer = probe.expect(
                    label, method, path, json.dumps(replaced(body, where, new)), status=400, code="invalid_request"
                )
                # THEN the details name the field
                fields = [d.get("field", "") for d in (answer or {}).get("error", {}).get("details", [])]
                if not any(f.startswith(str(where[0])) for f in fields):
                    probe.failures.append(f"{label}: details name {fields}, not {where[0]}")
    probe.check()
    assert snapshot(env) == before


def test_unknown_fields_at_every_level_are_400(
    probe: Probe, env: Env, body_routes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    before = snapshot(env)
    for method, path, body in body_routes:
        for where, value in walk(body):
            if not isinstance(value, dict):
                continue
            for extra in ("unknown", "", "ключ👋", "__proto__", "NAME"):
                changed = replaced(body, where, {**value, extra: 1})
                answer = probe.expect(
                    f"{'.'.join(map(str, where)) or 'body'} + {extra!r}",
                    method,
                    path,
                    json.dumps(changed),
                    status=400,
                    code="invalid_request",
                )
                types = [d.get("type") for d in (answer or {}).get("error", {}).get("details", [])]
                if "extra_forbidden" not in types:
                    probe.failures.append(f"unknown field {extra!r} at {where}: details types {types}")
    probe.check()
    assert snapshot(env) == before


def test_huge_strings_are_refused_without_5xx(
    probe: Probe, env: Env, channel: dict[str, Any], body_routes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    before = snapshot(env)
    huge = "x" * 1_000_000
    emoji = "👋" * 100_000
    for method, path, body in body_routes:
        for where, value in walk(body):
            if not isinstance(value, str):
                continue
            if where in {("type",), ("provider",), ("content", "type"), ("send_time", "type")}:
                continue  # enums: covered by the wrong-type test
            for big in (huge, emoji):
                probe.expect(
                    f"{'.'.join(map(str, where))} = {len(big)} chars",
                    method,
                    path,
                    json.dumps(replaced(body, where, big)),
                    status={400, 422},
                )
    # Fields the baseline bodies do not have
    cid = channel["id"]
    extras = [
        ("recipients.upload_id", {"recipients": {"upload_id": huge}}),
        ("recipients.phonebook.id", {"recipients": {"phonebook": {"id": huge, "number_type": "mobile"}}}),
        ("content.upload_id", {"content": {"type": "file", "upload_id": huge}}),
        ("content.template_id", {"content": {"type": "template", "template_id": huge}}),
        ("content.variables key", {"content": {"type": "template", "template_id": "t", "variables": {huge: "v"}}}),
        ("send_time.at", {"send_time": {"type": "scheduled", "at": huge}}),
        ("routing_target.id", {"send_mode": "session", "routing_target": {"type": "queue", "id": huge}}),
        ("1001 numbers", {"recipients": {"numbers": [f"+4141508{i:04d}" for i in range(1001)]}}),
        ("100000 bad numbers", {"recipients": {"numbers": ["+0"] * 100_000}}),
        ("100001 numbers", {"recipients": {"numbers": ["+0"] * 100_001}}),
        ("numbers of every type", {"recipients": {"numbers": [None, True, 1, 1.5, [], {}, "", huge]}}),
    ]
    for label, overrides in extras:
        probe.expect(
            label,
            "POST",
            "/v1/campaigns",
            json.dumps(campaign_body(["+41415084545"], cid, **overrides)),
            status={400, 422},
        )
    probe.check()
    assert snapshot(env) == before


# Well-typed credentials Twilio could never accept: strings, so not a 400, but refused with 422 when saved.
UNUSABLE_CREDENTIALS = [
    ("account_sid", "x" * 1_000_000),
    ("account_sid", "👋" * 100_000),
    ("account_sid", "ＡＣ" + "0" * 32),  # fullwidth A and C
    ("account_sid", "AC" + "０" * 32),  # fullwidth zeros
    ("account_sid", SIM_ACCOUNT + "\n"),
    ("account_sid", "\x00" * 34),
    ("auth_token", "x" * 1_000_000),
    ("auth_token", "👋"),
    ("auth_token", "tok\u00a0en"),  # no-break space
    ("auth_token", "tok\u200ben"),  # zero-width space
    ("auth_token", "tok\u2028en"),  # line separator
    ("auth_token", "tok\x85en"),  # next line (C1)
    ("auth_token", "\x00"),
    ("auth_token", " "),
]


def test_credentials_no_provider_could_accept_are_422_and_change_nothing(
    probe: Probe, env: Env, channel: dict[str, Any]
) -> None:
    # GIVEN the state with one working channel (its credentials in Secrets Manager)
    before = snapshot(env)
    for field, value in UNUSABLE_CREDENTIALS:
        credentials = {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN, field: value}
        label = f"{field} = {value[:12]!r} ({len(value)} chars)"
        # WHEN a channel is created with them, or the channel is patched with them
        for method, path, body in (
            ("POST", "/v1/channels", channel_body(credentials=credentials)),
            ("PATCH", f"/v1/channels/{channel['id']}", {"name": "Renamed", "credentials": credentials}),
        ):
            answer = probe.expect(label, method, path, json.dumps(body), status=422, code="invalid_credentials")
            # THEN the details name the field
            fields = [d.get("field") for d in (answer or {}).get("error", {}).get("details", [])]
            if fields != [f"credentials.{field}"]:
                probe.failures.append(f"{label}: {method} details name {fields}")
    probe.check()
    # AND nothing changed: no channel, no secret, not even the secret's last-changed date
    assert snapshot(env) == before


def test_bodies_over_5_mb_are_413(
    probe: Probe, env: Env, channel: dict[str, Any], body_routes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    before = snapshot(env)
    big = json.dumps({"name": "x" * (FIVE_MB + 1)})
    for method, path, _ in body_routes:
        probe.expect("5 MB + 1 of JSON", method, path, big, status=413, code="payload_too_large")
        probe.expect("5 MB + 1 of garbage", method, path, b"\xff" * (FIVE_MB + 1), status=413, code="payload_too_large")
    for hook in ("status", "inbound"):
        probe.expect(
            "5 MB + 1 of form",
            "POST",
            f"/webhooks/twilio/{channel['id']}/{hook}",
            "Body=" + "x" * FIVE_MB,
            auth=False,
            headers={"Content-Type": FORM, "X-Twilio-Signature": "x"},
            status=413,
            code="payload_too_large",
        )
    # Exactly 5 MB is not too large: it fails later, for what it is
    at_limit = json.dumps({"name": "x" * (FIVE_MB - 12)})
    assert len(at_limit) == FIVE_MB
    probe.expect("exactly 5 MB", "POST", "/v1/channels", at_limit, status=400, code="invalid_request")
    probe.check()
    assert snapshot(env) == before


def test_wrong_content_types_are_415(
    probe: Probe, env: Env, channel: dict[str, Any], body_routes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    before = snapshot(env)
    for method, path, body in body_routes:
        for content_type in (
            "text/plain",
            FORM,
            "text/csv",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/octet-stream",
            "image/png",
            "application/jsonp",
            "json",
            "ключ/👋",
        ):
            # POST /v1/uploads takes text/csv too (an inline CSV): without ?filename= that is a 400
            inline = path == "/v1/uploads" and content_type == "text/csv"
            probe.expect(
                content_type,
                method,
                path,
                json.dumps(body),
                headers={"Content-Type": content_type},
                status=400 if inline else 415,
                code="invalid_request" if inline else "unsupported_media_type",
            )
    for hook in ("status", "inbound"):
        for content_type in ("application/json", "text/plain", "text/xml"):
            probe.expect(
                content_type,
                "POST",
                f"/webhooks/twilio/{channel['id']}/{hook}",
                "MessageSid=SM1",
                auth=False,
                headers={"Content-Type": content_type, "X-Twilio-Signature": "x"},
                status=415,
                code="unsupported_media_type",
            )
    probe.check()
    assert snapshot(env) == before


# The content types of the routes that take no body (Chalice refuses any other with a 415 before the route).
BODYLESS_TYPES = [
    "application/json",
    FORM,
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "text/csv",
]


def test_garbage_bodies_on_retry_and_duplicate_are_ignored(probe: Probe, env: Env, draft: dict[str, Any]) -> None:
    # GIVEN a draft (not retryable) and the state before
    before = snapshot(env)
    bodies = [*NOT_JSON, ("valid JSON", b'{"send_time": {"type": "now"}}'), ("5 MB + 1", b"\xff" * (FIVE_MB + 1))]
    retry = f"/v1/campaigns/{draft['id']}/retry"
    # WHEN a retry comes with any body, of any content type it may have
    for content_type in BODYLESS_TYPES:
        for label, raw in bodies:
            if len(raw) > FIVE_MB and content_type != "application/json":
                continue  # once is enough
            probe.expect(
                f"{label} as {content_type}",
                "POST",
                retry,
                raw,
                headers={"Content-Type": content_type},
                status=409,
                code="campaign_not_retryable",
            )
    # AND with a content type it may not have, the route is not reached
    for content_type in ("image/png", "ключ/👋", "json"):
        probe.expect(content_type, "POST", retry, b"\xff\x00", headers={"Content-Type": content_type}, status=415)
        probe.expect(
            content_type,
            "POST",
            f"/v1/campaigns/{draft['id']}/duplicate",
            b"[[[",
            headers={"Content-Type": content_type},
            status=415,
            code="unsupported_media_type",
        )
    # THEN the body was not read: the answer is the draft's, and nothing changed
    probe.check()
    assert snapshot(env) == before
    # WHEN the draft is duplicated with garbage bodies THEN each is a new draft, the body ignored
    copies = set()
    for index, (label, raw) in enumerate(bodies[::3]):
        content_type = BODYLESS_TYPES[index % len(BODYLESS_TYPES)]
        status, answer = probe.send(
            "POST", f"/v1/campaigns/{draft['id']}/duplicate", raw, headers={"Content-Type": content_type}
        )
        if status != 201 or not isinstance(answer, dict) or answer.get("status") != "draft":
            probe.failures.append(f"duplicate with {label} as {content_type}: {status} {str(answer)[:200]}")
        else:
            copies.add(answer["id"])
    probe.check()
    status, listed = probe.send("GET", "/v1/campaigns?limit=200")
    assert status == 200 and {c["id"] for c in listed["items"]} == {draft["id"], *copies}, listed
    assert len(copies) == len(bodies[::3])


def test_unsupported_methods_are_405_in_shape(probe: Probe, env: Env, channel: dict[str, Any]) -> None:
    before = snapshot(env)
    for method, path in [
        ("PUT", "/v1/channels"),
        ("DELETE", "/v1/campaigns"),
        ("POST", "/v1/health"),
        ("PUT", f"/v1/channels/{channel['id']}"),
        ("POST", "/v1/campaigns/cmp_x/recipients"),
        ("GET", f"/webhooks/twilio/{channel['id']}/status"),
        ("DELETE", "/v1/openapi.json"),
        ("POST", "/v1/phonebooks"),
    ]:
        probe.expect("method", method, path, "{}", status=405, code="method_not_allowed")
    probe.check()
    assert snapshot(env) == before


# ---------------------------------------------------------------------------------------------- ids and parameters
WEIRD_IDS = [
    "ch_00000000000000000000000000",
    "cmp_01JD0000000000000000000000",
    "ключ👋",
    "x" * 5000,
    "👋" * 1000,
    "%00",
    "a\x00b",
    "\ud800",
    "%2F..%2F..",
    "..",
    "'; DROP TABLE x; --",
    "${jndi:ldap:x}",  # no "/": a slash makes another path, which API Gateway answers itself
    "CHANNEL#",
    "*",
    " ",
    "\u202e\u200b",
]


def campaign_operations(campaign_id: str) -> list[tuple[str, str, str | None]]:
    """(method, path, a valid body) of every operation on one campaign that changes it or makes another."""
    return [
        ("PATCH", f"/v1/campaigns/{campaign_id}", json.dumps({"name": "x"})),
        ("DELETE", f"/v1/campaigns/{campaign_id}", None),
        ("POST", f"/v1/campaigns/{campaign_id}/send", json.dumps({"send_time": {"type": "now"}})),
        ("POST", f"/v1/campaigns/{campaign_id}/duplicate", None),
        ("POST", f"/v1/campaigns/{campaign_id}/retry", None),
    ]


def test_unknown_and_weird_path_ids_are_404(probe: Probe, env: Env, channel: dict[str, Any]) -> None:
    before = snapshot(env)
    for ident in WEIRD_IDS:
        label = f"id {ident[:20]!r}"
        probe.expect(label, "GET", f"/v1/channels/{ident}", status=404, code="not_found")
        probe.expect(label, "PATCH", f"/v1/channels/{ident}", json.dumps({"name": "x"}), status=404, code="not_found")
        probe.expect(label, "DELETE", f"/v1/channels/{ident}", status=404, code="not_found")
        probe.expect(label, "GET", f"/v1/campaigns/{ident}", status=404, code="not_found")
        probe.expect(label, "GET", f"/v1/campaigns/{ident}/recipients", status=404, code="not_found")
        probe.expect(label, "GET", f"/v1/phonebooks/{ident}", status=404, code="not_found")
        probe.expect(label, "DELETE", f"/v1/phonebooks/{ident}", status=404, code="not_found")
        # (a "#" would start the URL's fragment, leaving /v1/campaigns/CHANNEL with no /send after it)
        for method, path, body in campaign_operations(ident.replace("#", "%23")):
            probe.expect(label, method, path, body, status=404, code="not_found")
        probe.expect(label, "GET", f"/v1/uploads/{ident}", status=404, code="not_found")
    probe.check()
    assert snapshot(env) == before


def test_another_tenants_ids_are_404(probe: Probe, env: Env, channel: dict[str, Any], draft: dict[str, Any]) -> None:
    # GIVEN another tenant, and a draft campaign, a phonebook and an upload of the first
    status, created = probe.send(
        "POST", "/v1/campaigns", json.dumps(campaign_body(["+41415084545"], channel["id"], send_time={"type": "draft"}))
    )
    assert status == 201, created
    assert probe.send("PUT", "/v1/phonebooks/pb-1", json.dumps({"name": "Team", "contacts": []}))[0] == 201
    status, upload = probe.send("POST", INLINE_CSV, VALID_CSV, headers={"Content-Type": "text/csv"})
    assert status == 201 and upload["status"] == "ready", upload
    _, other_key = create_tenant(env.deps, "Other PBX")
    before = snapshot(env)
    # WHEN the other tenant names them THEN they do not exist for it
    for method, path, body in [
        ("GET", f"/v1/channels/{channel['id']}", None),
        ("PATCH", f"/v1/channels/{channel['id']}", json.dumps({"name": "mine"})),
        ("DELETE", f"/v1/channels/{channel['id']}", None),
        ("GET", f"/v1/campaigns/{created['id']}", None),
        ("GET", f"/v1/campaigns/{created['id']}/recipients", None),
        ("GET", "/v1/phonebooks/pb-1", None),
        ("DELETE", "/v1/phonebooks/pb-1", None),
        *campaign_operations(draft["id"]),
        ("GET", f"/v1/uploads/{upload['id']}", None),
    ]:
        probe.expect("other tenant", method, path, body, key=other_key, status=404, code="not_found")
    probe.expect(
        "other tenant's channel",
        "POST",
        "/v1/campaigns",
        json.dumps(campaign_body(["+41415084545"], channel["id"])),
        key=other_key,
        status=422,
        code="channel_not_found",
    )
    probe.check()
    assert snapshot(env) == before


def _cursor(data: Any) -> str:
    import base64

    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


GARBAGE_LIMITS = [
    "",
    "0",
    "-1",
    "201",
    "1000000",
    "abc",
    "1.5",
    "1e2",
    "0x10",
    "+5",
    " 5",
    "5 ",
    "９",
    "٥",
    "NaN",
    "null",
    "[]",
    "%00",
    "\x00",
    "9" * 5000,
    "0" * 5000 + "5",
    "ключ",
]
GARBAGE_CURSORS = [
    "garbage",
    "!!!!",
    "====",
    "ключ",
    "%00",
    "\x00",
    "A" * 5000,
    _cursor(b"\xff\xfe"),
    _cursor(b"not json"),
    _cursor([1, 2]),
    _cursor({"sk": 1}),
    _cursor({"nope": "x"}),
    _cursor({"sk": "OTHER#x"}),
    _cursor({"sk": "CHANNEL#" + "x" * 2000}),
    _cursor({"sk": "CAMPAIGN#" + "x" * 2000}),
    _cursor({"sk": "R#" + "x" * 2000}),
    _cursor("R#1"),
]
GARBAGE_STATUSES = ["", "bogus", "EXECUTING", "executing ", "draft,executing", "ключ", "1", "%00", "x" * 5000]


def test_garbage_query_parameters_are_400(probe: Probe, env: Env, channel: dict[str, Any]) -> None:
    status, created = probe.send(
        "POST", "/v1/campaigns", json.dumps(campaign_body(["+41415084545"], channel["id"], send_time={"type": "draft"}))
    )
    assert status == 201, created
    before = snapshot(env)
    lists = ["/v1/channels", "/v1/campaigns", f"/v1/campaigns/{created['id']}/recipients"]
    for path in [*lists, "/v1/phonebooks"]:
        for value in GARBAGE_LIMITS:
            probe.expect(
                f"limit={value[:20]!r}",
                "GET",
                f"{path}?{urlencode({'limit': value})}",
                status=400,
                code="invalid_request",
            )
        for value in GARBAGE_CURSORS:
            probe.expect(
                f"cursor={value[:20]!r}",
                "GET",
                f"{path}?{urlencode({'cursor': value})}",
                status=400,
                code="invalid_request",
            )
        # A last repeated value wins; garbage there is still garbage
        probe.expect("limit twice", "GET", f"{path}?limit=5&limit=x", status=400, code="invalid_request")
    for path in lists[1:]:
        for value in GARBAGE_STATUSES:
            probe.expect(
                f"status={value[:20]!r}",
                "GET",
                f"{path}?{urlencode({'status': value})}",
                status=400,
                code="invalid_request",
            )
    probe.check()
    assert snapshot(env) == before


def test_authorization_garbage_is_401(
    probe: Probe, env: Env, channel: dict[str, Any], body_routes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    before = snapshot(env)
    key = probe.key
    headers: list[str | None] = [
        None,
        "",
        " ",
        "Bearer",
        "Bearer ",
        "Bearer  ",
        "Basic abc",
        f"Basic {key}",
        key,
        f"Token {key}",
        f"Bearer {key}x",
        f"Bearer x{key}",
        f"Bearer {key[:-1]}",
        "Bearer null",
        "Bearer undefined",
        "ключ",
        "Bearer ключ",
        "Bäarer x",
        f"Bearer {key}ü",
        "Bearer \ud800",
        "👋 👋",
        "Bearer\x00" + key,
        "Bearer " + "x" * 100_000,
        f"Bearer {key.upper()}" if key != key.upper() else "Bearer X",
    ]
    routes = [(m, p, json.dumps(b)) for m, p, b in body_routes] + [
        ("GET", "/v1/channels", None),
        ("GET", "/v1/campaigns", None),
        ("GET", "/v1/openapi.json", None),
        ("GET", f"/v1/channels/{channel['id']}", None),
        ("DELETE", f"/v1/channels/{channel['id']}", None),
        ("GET", "/v1/campaigns/cmp_x", None),
        ("GET", "/v1/campaigns/cmp_x/recipients", None),
    ]
    for value in headers:
        for method, path, body in routes:
            hdrs = {} if value is None else {"Authorization": value}
            probe.expect(
                f"Authorization {value!r:.30}",
                method,
                path,
                body,
                auth=False,
                headers=hdrs,
                status=401,
                code="unauthorized",
            )
    probe.check()
    assert snapshot(env) == before


# -------------------------------------------------------------------------------------------------------- webhooks
def test_webhooks_with_garbage_and_no_or_odd_signatures_are_403(
    probe: Probe, env: Env, channel: dict[str, Any]
) -> None:
    # GIVEN requests no channel signed, with bodies of every kind (not UTF-8 included)
    before = snapshot(env)
    real = channel["id"]
    good_form = urlencode(
        {"MessageSid": "SM1", "MessageStatus": "delivered", "From": "+41415084545", "To": SENDER, "Body": "hi"}
    )
    other_url_signature = RequestValidator(SIM_TOKEN).compute_signature(f"{PUBLIC_BASE}/elsewhere", {})
    signatures: list[str | None] = [
        None,
        "",
        "x",
        "ключ",
        "\ud800",
        "A" * 10_000,
        other_url_signature,
        "bm90IGEgc2lnbmF0dXJl",
    ]
    bodies: list[bytes | str] = [
        b"",
        b"\xff\xfe\x00",
        b"a=b&&&==&=&%zz",
        b'{"MessageSid": "SM1"}',
        b"[" * 10_000,
        good_form,
        "Body=" + "👋" * 100_000,
        b"%ff%fe=%00",
    ]
    cases = [(real, signatures, bodies)] + [
        (unknown, [None, "x"], [b"", good_form, b"\xff\xfe\x00"])
        for unknown in ("ch_unknown", "x" * 5000, "ключ👋", "\ud800", "%00")
    ]
    for channel_id, channel_signatures, channel_bodies in cases:
        for hook in ("status", "inbound"):
            path = f"/webhooks/twilio/{channel_id}/{hook}?c=cmp_x&r=0"
            for signature in channel_signatures:
                for body in channel_bodies:
                    hdrs = {"Content-Type": FORM}
                    if signature is not None:
                        hdrs["X-Twilio-Signature"] = signature
                    probe.expect(
                        f"{hook} {channel_id[:12]!r} sig={signature!r:.20} body={body[:16]!r}",
                        "POST",
                        path,
                        body,
                        auth=False,
                        headers=hdrs,
                        status=403,
                        code="invalid_signature",
                    )
    # THEN each is a 403 invalid_signature: the signature is checked before the body is judged; nothing changed
    probe.check()
    assert snapshot(env) == before


def test_signed_webhooks_with_garbage_fields_are_accepted_without_5xx(
    probe: Probe, env: Env, channel: dict[str, Any]
) -> None:
    # GIVEN requests Twilio really signed, with fields and query values that name nothing
    validator = RequestValidator(SIM_TOKEN)
    forms = [
        {},
        {"MessageStatus": "delivered"},
        {"MessageStatus": "ключ", "MessageSid": "👋"},
        {"SmsStatus": "failed", "ErrorCode": "x" * 1000},
        {"MessageSid": "", "From": "", "Body": "x" * 10_000},
    ]
    # Query keys sorted and encoded as the service rebuilds the signed URL
    queries = [""] + [
        "?" + urlencode(q)
        for q in (
            {"c": "cmp_nope", "r": "0"},
            {"c": "", "r": ""},
            {"c": "x", "r": "-1"},
            {"c": "x", "r": "1.5"},
            {"c": "x" * 2000, "r": "1"},
            {"c": "x", "r": "٣"},
            {"c": "ключ", "r": "00000000000000000001"},
        )
    ]
    for hook, ok in (("status", 204), ("inbound", 200)):
        for query in queries:
            for form in forms:
                path = f"/webhooks/twilio/{channel['id']}/{hook}{query}"
                signature = validator.compute_signature(f"{PUBLIC_BASE}{path}", form)
                status, answer = probe.send(
                    "POST",
                    path,
                    urlencode(form),
                    auth=False,
                    headers={"Content-Type": FORM, "X-Twilio-Signature": signature},
                )
                if status != ok:
                    probe.failures.append(f"signed {hook}{query[:30]} {form}: {status} {str(answer)[:200]}")
    probe.check()


# ---------------------------------------------------------------------------------------------- inline CSV
# The codes an inline CSV's import may be rejected with (chalicelib.domain.contacts_csv, services.uploads).
CSV_CODES = {
    "contact_too_large",
    "empty_file",
    "invalid_csv",
    "invalid_encoding",
    "invalid_phone_number",
    "missing_number_column",
    "no_rows",
    "payload_too_large",
}
CSV_HEADERS = {"Content-Type": "text/csv"}


def import_problems(status: int, answer: Any) -> list[str]:
    """Why an answer to an inline CSV is not a 201 with the upload, ready or rejected with a parser's code."""
    if status != 201 or not isinstance(answer, dict) or "id" not in answer:
        return [f"status {status}: {str(answer)[:300]}"]
    problems = []
    if answer.get("kind") != "contacts_csv" or answer.get("stage") != "done":
        problems.append(f"kind {answer.get('kind')!r}, stage {answer.get('stage')!r}")
    raw_counts = [answer.get(k) for k in ("rows", "valid", "invalid", "duplicates")]
    rows, valid, invalid, duplicates = (n if isinstance(n, int) and not isinstance(n, bool) else -1 for n in raw_counts)
    if min(rows, valid, invalid, duplicates) < 0:
        return [*problems, f"counts {raw_counts}"]
    error = answer.get("error")
    if answer.get("status") == "ready":
        if error is not None or invalid or not 0 <= duplicates < valid or rows != valid:
            problems.append(f"ready with error {error}, counts {rows}, {valid}, {invalid}, {duplicates}")
        if not any(isinstance(c, str) and c.lower() == "number" for c in answer.get("columns") or []):
            problems.append(f"ready without a Number column: {str(answer.get('columns'))[:100]}")
    elif answer.get("status") == "rejected":
        if not isinstance(error, dict) or set(error) != {"code", "message", "details"}:
            problems.append(f"rejected with error {str(error)[:200]}")
        elif error["code"] not in CSV_CODES or not error["message"] or not isinstance(error["details"], list):
            problems.append(f"rejected with {error['code']!r}: {error['message'][:100]!r}")
        elif error["code"] == "invalid_phone_number" and (not invalid or rows != valid + invalid):
            problems.append(f"invalid_phone_number with counts {rows}, {valid}, {invalid}")
    else:
        problems.append(f"status {answer.get('status')!r}")
    if len(answer.get("errors") or []) > 100:
        problems.append(f"{len(answer['errors'])} row errors listed")
    return problems


def import_csv(probe: Probe, label: str, data: bytes, path: str = INLINE_CSV) -> Any:
    """POST an inline CSV; a failure unless it answers the upload, ready or rejected; then it reads back the same."""
    status, answer = probe.send("POST", path, data, headers=CSV_HEADERS)
    problems = import_problems(status, answer)
    if not problems:
        again = probe.send("GET", f"/v1/uploads/{answer['id']}")
        if again != (200, answer):
            problems.append(f"reads back as {str(again)[:200]}")
    if problems:
        probe.failures.append(f"{label}: {'; '.join(problems)}")
        return None
    return answer


def upload_count(env: Env) -> int:
    """How many upload items the table holds."""
    return sum(1 for item in snapshot(env)[0] if item["sk"]["S"].startswith("UPLOAD#"))


def long_names(count: int, length: int) -> bytes:
    """A header: Number and `count` - 1 other columns of `length` characters."""
    return ",".join(["Number", *(f"{i:0{length}d}" for i in range(1, count))]).encode()


# (label, body, the status and error code expected, or None for either outcome of the parser)
NASTY_CSV: list[tuple[str, bytes, tuple[str, str | None] | None]] = [
    ("empty", b"", ("rejected", "empty_file")),
    ("blank lines", b"\r\n\n ,;\t\n\r", ("rejected", "empty_file")),
    ("NUL bytes only", b"\x00" * 100, ("rejected", "invalid_csv")),
    ("a NUL in a row", b"Number\n+41415084545\x00\n", ("rejected", "invalid_csv")),
    ("a NUL in the header", b"Num\x00ber\n+41415084545\n", ("rejected", "invalid_csv")),
    ("lone CR line ends", b"Number,name\r+41415084545,A\r+15005550006,B", ("ready", None)),
    ("a lone CR inside quotes", b'Number,name\n+41415084545,"a\rb"\n', ("ready", None)),
    ("CR CR LF", b"Number\r\r\n+41415084545\r\r\n", ("ready", None)),
    ("a quote never closed", b'Number,name\n+41415084545,"open\n+15005550006,B\n', None),
    ("a quote never closed in the header", b'"Number,name\n+41415084545,A\n', None),
    ("a quote never closed for 1 MB", b'Number\n"' + b"+41415084545\n" * 90_000, ("rejected", "invalid_csv")),
    ("a 1 MB field", b"Number,name\n+41415084545," + b"x" * (1024 * 1024) + b"\n", ("rejected", "invalid_csv")),
    ("a 1 MB number", b"Number\n+" + b"1" * (1024 * 1024) + b"\n", ("rejected", "invalid_csv")),
    # A field under the row limit, but too big to travel with the contact's recipient item (DynamoDB: 400 KB).
    ("a field under 1 MB", b"Number,name\n+41415084545," + b"x" * 1_000_000 + b"\n", ("rejected", "contact_too_large")),
    ("a field of 30 KB", b"Number,name\n+41415084545," + b"x" * 30_000 + b"\n", ("ready", None)),
    ("UTF-16 with a BOM", "Number\n+41415084545\n".encode("utf-16"), ("rejected", "invalid_encoding")),
    ("UTF-16 BE", "Number\n+41415084545\n".encode("utf-16-be"), ("rejected", "invalid_csv")),
    ("UTF-8 BOM twice", b"\xef\xbb\xbf\xef\xbb\xbfNumber\n+41415084545\n", ("ready", None)),
    ("Latin-1", "Number,name\n+41415084545,Zoë\n".encode("latin-1"), ("rejected", "invalid_encoding")),
    ("a number with a lone surrogate in UTF-8", b"Number\n+4141508454\xed\xa0\x80\n", ("rejected", "invalid_encoding")),
    ("header only, 10,000 columns", long_names(10_000, 4), ("rejected", "no_rows")),
    (
        "no Number column, 10,000 columns",
        b",".join([b"x" * 60] * 10_000) + b"\n1\n",
        ("rejected", "missing_number_column"),
    ),
    ("10,000 rows of one number", b"Number\n" + b"+41415084545\n" * 10_000, ("ready", None)),
    ("150 bad rows", b"Number\n" + b"+0\n" * 150, ("rejected", "invalid_phone_number")),
    ("only delimiters", b",,,,\n;;;;\n\t\t\n", ("rejected", "empty_file")),
    ("a header of quotes", b'""""""\n"""\n', None),
]


def test_nasty_inline_csv_files_are_imported_or_rejected_never_5xx(probe: Probe) -> None:
    for label, data, expected in NASTY_CSV:
        answer = import_csv(probe, label, data)
        if answer is None or expected is None:
            continue
        status, code = expected
        got = (answer["status"], (answer["error"] or {}).get("code") if code else None)
        if got != (status, code):
            probe.failures.append(f"{label}: {got}, expected {(status, code)}: {str(answer['error'])[:200]}")
    probe.check()


def test_inline_csv_query_errors_are_4xx_and_change_nothing(probe: Probe, env: Env) -> None:
    before = snapshot(env)
    cases: list[tuple[str, str, int, str]] = [
        ("no query", "/v1/uploads", 400, "invalid_request"),
        ("no filename", "/v1/uploads?kind=contacts_csv", 400, "invalid_request"),
        ("filename without =", "/v1/uploads?kind=contacts_csv&filename", 422, "invalid_filename"),
        ("empty filename", "/v1/uploads?filename=", 422, "invalid_filename"),
        ("blank filename", "/v1/uploads?filename=%20%09%20", 422, "invalid_filename"),
        ("filename of 127", f"/v1/uploads?filename={'x' * 127}", 422, "filename_too_long"),
        ("filename of 127 emoji", f"/v1/uploads?filename={quote('👋' * 127)}", 422, "filename_too_long"),
        ("filename of 5000", f"/v1/uploads?filename={'x' * 5000}", 422, "filename_too_long"),
        ("filename with a NUL", "/v1/uploads?filename=x%00.csv", 422, "invalid_filename"),
        ("filename with a newline", "/v1/uploads?filename=x%0A.csv", 422, "invalid_filename"),
        ("filename with an ESC", "/v1/uploads?filename=%1B%5B31mx.csv", 422, "invalid_filename"),
        ("filename with DEL", "/v1/uploads?filename=x%7F.csv", 422, "invalid_filename"),
        ("filename with a slash", "/v1/uploads?filename=..%2F..%2Fx.csv", 422, "invalid_filename"),
        ("filename with a backslash", "/v1/uploads?filename=..%5Cx.csv", 422, "invalid_filename"),
        ("filename with a lone surrogate", "/v1/uploads?filename=\ud800.csv", 422, "invalid_filename"),
        ("kind=media", "/v1/uploads?kind=media&filename=x.jpg", 400, "invalid_request"),
        ("kind empty", "/v1/uploads?kind=&filename=x.csv", 400, "invalid_request"),
        ("kind upper case", "/v1/uploads?kind=CONTACTS_CSV&filename=x.csv", 400, "invalid_request"),
        ("kind with a space", "/v1/uploads?kind=contacts_csv%20&filename=x.csv", 400, "invalid_request"),
        ("kind unicode", f"/v1/uploads?kind={quote('ключ👋')}&filename=x.csv", 400, "invalid_request"),
        ("kind of 5000", f"/v1/uploads?kind={'x' * 5000}&filename=x.csv", 400, "invalid_request"),
        ("kind NUL", "/v1/uploads?kind=%00&filename=x.csv", 400, "invalid_request"),
        ("kind lone surrogate", "/v1/uploads?kind=\udfff&filename=x.csv", 400, "invalid_request"),
        ("kind twice, media last", "/v1/uploads?kind=contacts_csv&kind=media&filename=x.csv", 400, "invalid_request"),
        ("filename twice, empty last", "/v1/uploads?filename=x.csv&filename=", 422, "invalid_filename"),
        ("only separators", "/v1/uploads?&&=&=x&&", 400, "invalid_request"),
    ]
    for label, path, status, code in cases:
        probe.expect(label, "POST", path, VALID_CSV, headers=CSV_HEADERS, status=status, code=code)
    # A body over 5 MB, with or without a good query
    too_big = b"Number\n" + b"+41415084545\n" * (FIVE_MB // 13 + 1)
    for path in (INLINE_CSV, "/v1/uploads"):
        probe.expect("5 MB + CSV", "POST", path, too_big, headers=CSV_HEADERS, status={400, 413})
    probe.check()
    assert snapshot(env) == before


def test_odd_but_usable_query_values_are_201_or_4xx_in_shape(probe: Probe, env: Env) -> None:
    # Values that are odd but may name a file: accepted (the upload is imported) or refused in shape, never 5xx
    queries = [
        f"kind=contacts_csv&filename={quote('ключ👋.csv')}",
        f"filename={quote('👋' * 126)}",
        f"filename={'x' * 126}",
        f"filename={quote(chr(0x202E) + chr(0x200B) + 'vsc.exe')}",
        "filename=%C2%85x.csv",  # a C1 control character
        "filename=%FF%FE.csv",  # not UTF-8: decoded with replacement characters
        "filename=%25%00x",
        "filename=..",
        "filename=CON",
        "filename=%20x.csv%20",
        "filename=x.csv&kind=contacts_csv&kind=contacts_csv",
        "kind=media&kind=contacts_csv&filename=x.csv",  # the last value wins
        "filename=a%2Fb&filename=x.csv",
        "filename=x.csv&size=-1&content_type=image%2Fpng&unknown=%FF",
        "filename=x.csv&" + "&".join(f"p{i}=v" for i in range(500)),
        "filename=" + "x" * 10_000 + "&filename=y.csv",
    ]
    accepted = 0
    for query in queries:
        path = f"/v1/uploads?{query}"
        status, answer = probe.send("POST", path, VALID_CSV, headers=CSV_HEADERS)
        if status == 201:
            problems = import_problems(status, answer)
            if not problems and (answer["status"], answer["valid"]) != ("ready", 1):
                problems.append(f"status {answer['status']}, valid {answer['valid']}")
            accepted += 1
        else:
            problems = error_problems(status, answer)
        if problems:
            probe.failures.append(f"{query[:60]!r}: {'; '.join(problems)}")
    probe.check()
    # THEN only the accepted ones left an upload
    assert upload_count(env) == accepted


# ------------------------------------------------------------------------ 5xx found by these tests, since fixed
def test_a_tiny_mps_is_a_422_not_a_500(probe: Probe, env: Env, channel: dict[str, Any]) -> None:
    before = snapshot(env)
    probe.expect(
        "create mps 1e-200",
        "POST",
        "/v1/channels",
        json.dumps(channel_body(mps=1e-200)),
        status=422,
        code="invalid_mps",
    )
    probe.expect(
        "patch mps 5e-324",
        "PATCH",
        f"/v1/channels/{channel['id']}",
        json.dumps({"mps": 5e-324}),
        status=422,
        code="invalid_mps",
    )
    probe.check()
    assert snapshot(env) == before


def test_a_csv_header_too_large_to_store_is_rejected_not_a_500(probe: Probe) -> None:
    # A header under the 1 MiB row limit but with 600 KB of column names: DynamoDB refused the upload's item
    # (over 400 KB) and the import was a 500, the upload left processing. Now at most 64 KiB of names.
    for label, data, expected in [
        ("header only, 10,000 long columns", long_names(10_000, 60), ("rejected", "invalid_csv")),
        ("10,000 long columns and a row", long_names(10_000, 60) + b"\n+41415084545\n", ("rejected", "invalid_csv")),
        ("header only, 64 KiB + 1 of names", long_names(2, 64 * 1024 - 5), ("rejected", "invalid_csv")),
        ("header only, 64 KiB of names", long_names(2, 64 * 1024 - 6), ("rejected", "no_rows")),
        ("64 KiB of names and a row", long_names(1093, 60) + b"\n+41415084545\n", ("ready", None)),
        ("64 KiB of names and a bad row", long_names(1093, 60) + b"\n+0\n", ("rejected", "invalid_phone_number")),
        ("60,000 empty names", b"Number" + b"," * 60_000 + b"\n+41415084545\n", ("rejected", "invalid_csv")),
    ]:
        answer = import_csv(probe, label, data)
        if answer is not None:
            got = (answer["status"], (answer["error"] or {}).get("code"))
            if got != expected:
                probe.failures.append(f"{label}: {got}, expected {expected}")
    probe.check()


def test_a_signed_status_callback_with_a_huge_index_is_not_a_500(probe: Probe, channel: dict[str, Any]) -> None:
    path = f"/webhooks/twilio/{channel['id']}/status?c=cmp_x&r={'9' * 5000}"
    form = {"MessageStatus": "delivered", "MessageSid": "SM1"}
    signature = RequestValidator(SIM_TOKEN).compute_signature(f"{PUBLIC_BASE}{path}", form)
    status, answer = probe.send(
        "POST", path, urlencode(form), auth=False, headers={"Content-Type": FORM, "X-Twilio-Signature": signature}
    )
    assert status < 500, answer


# ----------------------------------------------------------------------------------------- property: any JSON body
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


# Values of one JSON type, to vary a field without breaking the body's shape (so the services' checks run).
SAME_TYPE: dict[type, st.SearchStrategy[Any]] = {
    str: st.text(max_size=40) | st.sampled_from(["", " ", "+", "+41415084545", "+15005550006", SENDER, "now", "text"]),
    int: st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    bool: st.booleans(),
    list: st.lists(st.text(max_size=20) | st.sampled_from(["+41415084545", "+15005550001"]), max_size=5),
}


@st.composite
def near(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """A valid body with one element changed (to another value of its type, or any JSON value), dropped or added."""
    where, value = draw(st.sampled_from(list(walk(valid))))
    action = draw(st.sampled_from(["retype", "retype", "replace", "drop", "add"]))
    kind = bool if isinstance(value, bool) else type(value)
    if action == "retype" and kind in SAME_TYPE:
        return replaced(valid, where, draw(SAME_TYPE[kind]))
    if action == "drop" and where:
        out = json.loads(json.dumps(valid))
        target = out
        for step in where[:-1]:
            target = target[step]
        del target[where[-1]]
        return out
    if action == "add" and isinstance(value, dict):
        return replaced(valid, where, {**value, draw(st.text(max_size=12)): draw(json_values)})
    return replaced(valid, where, draw(json_values))


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def counts(env: Env, tenant_id: str) -> tuple[int, int, Any]:
    """A cheaper snapshot for many examples: how many items and secrets, and the tenant item (its campaign count)."""
    dynamodb, secretsmanager = _clients(env.moto_url)
    total, kwargs = 0, {"TableName": env.resources.table_name, "Select": "COUNT"}
    while True:
        page = dynamodb.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return total, len(secretsmanager.list_secrets()["SecretList"]), env.deps.campaigns.lock_of(tenant_id)


@pytest.fixture
def post_any(probe: Probe, env: Env, tenant: tuple[str, str]) -> Callable[[str, Any], None]:
    """POST a body: never a 5xx; an error in shape that changed nothing; or a 201."""
    state: list[Any] = []  # the counts after the last example: an error answer leaves them as they are

    def post(path: str, body: Any) -> None:
        if not state:
            state.append(counts(env, tenant[0]))
        status, answer = probe.send("POST", path, json.dumps(body))
        assert status < 500, (body, answer)
        event(f"{status} {answer['error']['code'] if status >= 400 and isinstance(answer, dict) else ''}")
        if status >= 400:
            assert error_problems(status, answer) == [], (body, answer)
            assert counts(env, tenant[0]) == state[0], body
        else:
            assert status == 201, (body, answer)
            state[0] = counts(env, tenant[0])

    return post


@PROPERTY
@given(data=st.data())
def test_any_json_body_for_post_campaigns_is_never_5xx(
    post_any: Callable[[str, Any], None], channel: dict[str, Any], data: st.DataObject
) -> None:
    valid = campaign_body(["+41415084545", "+15005550006"], channel["id"], send_time={"type": "draft"})
    # Any JSON a quarter of the time; else a valid draft or send-now body with one change
    body = data.draw(
        st.one_of(json_values, near(valid), near(valid), near(campaign_body(["+41415084545"], channel["id"])))
    )
    post_any("/v1/campaigns", body)


@PROPERTY
@given(data=st.data())
def test_any_json_body_for_post_channels_is_never_5xx(
    post_any: Callable[[str, Any], None], data: st.DataObject
) -> None:
    body = data.draw(st.one_of(json_values, near(channel_body()), near(channel_body())))
    post_any("/v1/channels", body)


# ----------------------------------------------------------------------------------- property: any inline CSV
CSV_CELLS = st.sampled_from(
    [
        "Number", "number", " NUMBER ", "name", "", " ", '"', '""', '"+41415084545"', "+41415084545",
        "+15005550006", "+15005550001", "0041415084545", "+1", "+0", "x", "👋", "\ufeff", ",", ";", "\t", "\x00",
        "\r", "\n", "\r\n", "\u2028", "\x85", "+" + "9" * 20,
    ]
) | st.text(max_size=12)  # fmt: skip


@st.composite
def csv_like(draw: st.DrawFn) -> bytes:
    """Bytes shaped like a contact CSV (often a Number header, a delimiter, rows), with damage."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = draw(st.lists(st.lists(CSV_CELLS, max_size=5), max_size=8))
    if draw(st.booleans()):  # rows that start with a good number, so that some files get imported
        numbers = st.sampled_from(["+41415084545", "+15005550006", " +41415084546 ", '"+41415084547"'])
        rows = [[draw(numbers), *row[1:]] for row in rows]
    if draw(st.integers(0, 3)):
        rows.insert(0, ["Number", *draw(st.lists(CSV_CELLS, max_size=3))])
    data = newline.join(delimiter.join(row) for row in rows).encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(["none", "none", "bom", "utf-16", "cut", "bytes"]))
    if damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "utf-16":
        data = data.decode("utf-8", "replace").encode("utf-16")
    elif damage == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@PROPERTY
@given(data=st.data())
def test_any_bytes_as_an_inline_csv_are_imported_or_rejected_never_5xx(
    probe: Probe, env: Env, data: st.DataObject
) -> None:
    raw = data.draw(st.one_of(st.binary(max_size=200), csv_like(), csv_like()))
    status, answer = probe.send("POST", INLINE_CSV, raw, headers=CSV_HEADERS)
    assert status < 500, (raw, answer)
    assert import_problems(status, answer) == [], (raw, answer)
    event(f"{answer['status']} {(answer['error'] or {}).get('code', '')}")
