"""Events for the PBX over the real wiring on moto: `GET|PATCH /v1/tenant` through the Chalice client, and the local
stack's event pump reading the table's stream, running events_worker, and playing the tenant's rule to a receiver
on 127.0.0.1 (signed, retried, dead-lettered)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from chalicelib.adapters.dynamo.table import to_item
from chalicelib.adapters.events import route_name
from chalicelib.domain.pbx_events import verify
from devstack.event_rules import RuleDelivery, StreamSource
from tests.conftest import Api, Env, campaign_body


@dataclass
class Receiver:
    """A local HTTP receiver standing in for the PBX: what it got, and what it answers."""

    url: str = ""
    answer: int = 200
    got: list[tuple[dict[str, str], str]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        """The bodies received, parsed."""
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, a free port."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
            state.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/pbx/events"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@dataclass
class EventsPump:
    """The stream source and rule delivery of the local stack, driven by hand."""

    stream: StreamSource
    rules: RuleDelivery
    sleeps: list[float]

    def run(self, rounds: int = 3) -> None:
        """Read the stream, run the worker, deliver what the rules match (a few rounds: a failed batch retries)."""
        for _ in range(rounds):
            self.stream.pump_once()
            while self.rules.deliver_once():
                pass


@pytest.fixture
def events_pump(env: Env, pump: Any) -> EventsPump:
    """The local stack's stream source and rule delivery over moto (no real sleeping between retries)."""
    sleeps: list[float] = []
    stream = StreamSource(
        pump.invoke, boto3.client("dynamodbstreams"), boto3.client("sqs"), env.resources.table_stream_arn
    )
    rules = RuleDelivery(
        boto3.client("events"),
        boto3.client("sqs"),
        env.resources.event_bus_name,
        attempts=4,
        sleep=sleeps.append,
        secrets=boto3.client("secretsmanager"),
    )
    return EventsPump(stream, rules, sleeps)


# ------------------------------------------------------------------------------------------------ the tenant API
def test_get_tenant_shows_it_without_event_url(api: Api, tenant: tuple[str, str]) -> None:
    # GIVEN a new tenant WHEN it reads itself THEN its id and name, no event_url, nothing secret
    status, body = api.call("GET", "/v1/tenant")
    assert status == 200, body
    assert body["id"] == tenant[0] and body["name"] == "Acme PBX" and body["event_url"] is None
    assert "event_secret" not in body and "api_key_hash" not in body


def test_the_first_patch_answers_the_secret_once_and_routes_in_eventbridge(
    api: Api, tenant: tuple[str, str], env: Env
) -> None:
    # GIVEN a tenant WHEN it sets an event_url, then changes it
    status, first = api.call("PATCH", "/v1/tenant", {"event_url": "https://pbx.example.com/events"})
    assert status == 200, first
    status, second = api.call("PATCH", "/v1/tenant", {"event_url": "https://pbx.example.com/v2"})
    # THEN only the first answer has the secret; GET shows the URL and never the secret
    assert first["event_secret"].startswith("mce_") and "event_secret" not in second
    status, got = api.call("GET", "/v1/tenant")
    assert got["event_url"] == "https://pbx.example.com/v2" and "event_secret" not in got
    # AND EventBridge holds the tenant's API destination at the new URL
    destination = boto3.client("events").describe_api_destination(Name=route_name(tenant[0]))
    assert destination["InvocationEndpoint"] == "https://pbx.example.com/v2"
    # WHEN it patches null THEN the route is gone and the URL too
    status, cleared = api.call("PATCH", "/v1/tenant", {"event_url": None})
    assert status == 200 and cleared["event_url"] is None
    rules = boto3.client("events").list_rules(EventBusName=env.resources.event_bus_name)["Rules"]
    assert route_name(tenant[0]) not in [r["Name"] for r in rules]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"event_url": "http://pbx.example.com/events"}, 422, "invalid_event_url"),
        ({"event_url": "https://user:pw@pbx.example.com/"}, 422, "invalid_event_url"),
        ({"event_url": "https://pbx.example.com/" + "x" * 3000}, 422, "invalid_event_url"),
        ({"event_url": 5}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ({"event_url": "https://pbx.example.com/", "other": 1}, 400, "invalid_request"),
        ([], 400, "invalid_request"),
    ],
)
def test_a_bad_patch_is_answered_in_the_error_shape_and_changes_nothing(
    api: Api, tenant: tuple[str, str], env: Env, body: Any, status: int, code: str
) -> None:
    # GIVEN a tenant WHEN it patches something that is not an event_url THEN 4xx with the code, nothing changed
    got_status, got = api.call("PATCH", "/v1/tenant", body)
    assert (got_status, got["error"]["code"]) == (status, code), got
    assert api.call("GET", "/v1/tenant")[1]["event_url"] is None
    assert env.deps.events.secret(tenant[0]) is None


def test_without_a_key_the_tenant_is_401(client: Any, env: Env) -> None:
    # GIVEN no API key THEN both operations are 401
    for method in ("GET", "PATCH"):
        response = client.http.request(method, "/v1/tenant", headers={"Content-Type": "application/json"}, body=b"{}")
        assert response.status_code == 401


# ------------------------------------------------------------------------------------------------ delivery
def test_a_campaigns_status_changes_reach_the_event_url_signed(
    api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any, events_pump: EventsPump, receiver: Receiver
) -> None:
    # GIVEN a tenant whose event_url is the local receiver
    status, patched = api.call("PATCH", "/v1/tenant", {"event_url": receiver.url})
    assert status == 200, patched
    secret = patched["event_secret"]
    # WHEN it sends a campaign to three numbers, and the stack's pumps run
    status, created = api.call("POST", "/v1/campaigns", campaign_body(["+14155550101", "+14155550102"], channel["id"]))
    assert status == 201, created
    pump.drain()
    events_pump.run()
    # THEN the receiver got the campaign's moves, each signed with the tenant's secret, the tenant named
    assert receiver.got, "nothing delivered"
    for headers, body in receiver.got:
        assert verify(body, headers["x-msgcampaigns-signature"], secret)
        assert headers["x-msgcampaigns-tenant"] == tenant[0]
    changes = [e for e in receiver.events() if e["type"] == "Campaign Status Changed"]
    assert [e["detail"]["status"] for e in changes][-1] == "completed"
    assert "executing" in [e["detail"]["status"] for e in changes]
    done = changes[-1]
    assert done["detail"]["tenant_id"] == tenant[0] and done["detail"]["campaign_id"] == created["id"]
    assert done["detail"]["result"]["total"] == 2 and done["detail"]["result"]["sent"] == 2
    assert set(done) == {"id", "type", "time", "detail"} and done["id"].startswith("evt_")
    # AND each event once (their ids differ), and running the pumps again delivers nothing more
    assert len({e["id"] for e in receiver.events()}) == len(receiver.got)
    count = len(receiver.got)
    events_pump.run()
    assert len(receiver.got) == count


def test_sessions_messages_and_opt_outs_are_delivered_in_the_stored_layouts(
    api: Api, tenant: tuple[str, str], env: Env, events_pump: EventsPump, receiver: Receiver
) -> None:
    # GIVEN a tenant with an event_url, and a session, an inbound message and an opt-out written as lanes A/B store
    api.call("PATCH", "/v1/tenant", {"event_url": receiver.url})
    tid, db, table = tenant[0], boto3.client("dynamodb"), env.resources.table_name
    contact = "+14155550100"
    items = [
        {
            "pk": f"TENANT#{tid}",
            "sk": "SESSION#ses_1",
            "kind": "session",
            "session_id": "ses_1",
            "tenant_id": tid,
            "channel_id": "ch_1",
            "sender": "+15005550006",
            "contact": contact,
            "routing_target": {"type": "queue", "id": "700"},
            "status": "open",
            "origin": "inbound",
            "created_at": "2026-12-01T08:00:00Z",
        },
        {
            "pk": "SESSION#ses_1",
            "sk": "MSG#2026-12-01T08:00:01Z#msg_1",
            "kind": "session_message",
            "tenant_id": tid,
            "session_id": "ses_1",
            "message_id": "msg_1",
            "direction": "inbound",
            "contact": contact,
            "text": "STOP",
            "at": "2026-12-01T08:00:01Z",
        },
        {
            "pk": f"TENANT#{tid}",
            "sk": f"OPTOUT#{contact}",
            "kind": "optout",
            "tenant_id": tid,
            "number": contact,
            "opted_out": True,
            "source": "keyword",
            "channel_id": "ch_1",
            "at": "2026-12-01T08:00:01Z",
        },
    ]
    for item in items:
        db.put_item(TableName=table, Item=to_item(item))
    # WHEN the stack's pumps run
    events_pump.run()
    # THEN the receiver got Session Opened, Message Received and Contact Opted Out with the contract's fields
    by_type = {e["type"]: e["detail"] for e in receiver.events()}
    assert by_type["Session Opened"] == {
        "tenant_id": tid,
        "session_id": "ses_1",
        "contact": contact,
        "routing_target": {"type": "queue", "id": "700"},
        "campaign_id": None,
    }
    assert by_type["Message Received"] == {
        "tenant_id": tid,
        "session_id": "ses_1",
        "message_id": "msg_1",
        "contact": contact,
        "text": "STOP",
    }
    assert by_type["Contact Opted Out"] == {"tenant_id": tid, "number": contact, "source": "keyword"}


def test_a_receiver_that_fails_gets_retries_then_the_event_is_dead_lettered(
    api: Api, tenant: tuple[str, str], env: Env, events_pump: EventsPump, receiver: Receiver
) -> None:
    # GIVEN a tenant whose receiver answers 500
    receiver.answer = 500
    api.call("PATCH", "/v1/tenant", {"event_url": receiver.url})
    item = {"pk": f"TENANT#{tenant[0]}", "sk": "OPTOUT#+14155550100", "kind": "optout", "tenant_id": tenant[0]}
    boto3.client("dynamodb").put_item(
        TableName=env.resources.table_name,
        Item=to_item({**item, "number": "+14155550100", "opted_out": True, "source": "api"}),
    )
    # WHEN the pumps run
    events_pump.run()
    # THEN the receiver was tried 4 times, backing off, and the event is on the events DLQ, as the rule would leave it
    assert len(receiver.got) == 4 and events_pump.sleeps == [0.5, 1.0, 2.0]
    sqs = boto3.client("sqs")
    got = sqs.receive_message(
        QueueUrl=env.resources.events_dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    (message,) = got
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Contact Opted Out" and event["detail"]["number"] == "+14155550100"
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "HTTP 500"


def test_a_tenant_without_event_url_gets_nothing_delivered(
    api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any, events_pump: EventsPump, receiver: Receiver
) -> None:
    # GIVEN a tenant that set an event_url, then removed it
    api.call("PATCH", "/v1/tenant", {"event_url": receiver.url})
    api.call("PATCH", "/v1/tenant", {"event_url": None})
    # WHEN its campaign runs THEN its events go on the bus but nothing reaches the old URL
    api.call("POST", "/v1/campaigns", campaign_body(["+14155550101"], channel["id"]))
    pump.drain()
    events_pump.run()
    assert receiver.got == []
    assert events_pump.stream.invoked > 0
