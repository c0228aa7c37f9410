"""The EventRoutes port: one contract run against the fake and against the EventBridge adapter on moto; and what the
adapter configures in EventBridge for a tenant (the rule, its target, the API destination and the connection)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.adapters.events import EventBus, route_name
from chalicelib.domain.pbx_events import BusEntry, PbxEvent
from chalicelib.services.event_ports import EventRoutes
from tests.conftest import Env
from tests.fakes.events import FakeEventRoutes

TID = "tn_a"


def entry(n: int, tenant_id: str = TID) -> BusEntry:
    """An event on the bus."""
    event = PbxEvent(f"evt_{n}", "Session Opened", tenant_id, "2026-12-01T08:00:00Z", {"tenant_id": tenant_id, "n": n})
    return BusEntry(event, dict(event.detail))


class EventRoutesContract:
    """What every EventRoutes implementation does."""

    @pytest.fixture
    def port(self) -> EventRoutes:
        raise NotImplementedError

    def test_the_first_secret_is_kept_and_a_second_is_refused(self, port: EventRoutes) -> None:
        # GIVEN no secret WHEN two are offered THEN the first is kept, the second refused and changes nothing
        assert port.secret(TID) is None
        assert port.create_secret(TID, "first") is True
        assert port.create_secret(TID, "second") is False
        assert port.secret(TID) == "first" and port.secret("tn_b") is None

    def test_routes_are_upserted_and_removed_whatever_there_is(self, port: EventRoutes) -> None:
        # GIVEN no route WHEN removed THEN fine; WHEN routed twice (a URL change) and removed twice THEN fine
        port.unroute(TID)
        port.route(TID, "https://pbx.example.com/a")
        port.route(TID, "https://pbx.example.com/b")
        port.unroute(TID)
        port.unroute(TID)

    def test_any_number_of_events_is_put(self, port: EventRoutes) -> None:
        # GIVEN 23 events (more than one PutEvents call) WHEN put THEN no error
        port.put([entry(n) for n in range(23)])
        port.put([])


class TestFakeEventRoutes(EventRoutesContract):
    @pytest.fixture
    def port(self) -> EventRoutes:
        return FakeEventRoutes()


def tap(env: Env) -> str:
    """A catch-all rule on the bus to an SQS queue (moto delivers to SQS targets); the queue's URL."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="contract-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = env.resources.event_bus_name
    events.put_rule(Name="contract-tap", EventBusName=bus, EventPattern=json.dumps({"source": ["msgcampaigns"]}))
    events.put_targets(Rule="contract-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return str(url)


def drain(url: str) -> list[dict[str, Any]]:
    """Every message on a queue, as JSON."""
    sqs, out = boto3.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        out += [json.loads(m["Body"]) for m in got]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )


class TestMotoEventRoutes(EventRoutesContract):
    @pytest.fixture
    def port(self, env: Env) -> EventRoutes:
        return env.deps.events  # type: ignore[no-any-return]

    def test_put_events_reach_the_bus_in_batches_of_ten(self, port: EventBus, env: Env) -> None:
        # GIVEN a catch-all rule on the bus WHEN 23 events are put THEN all 23 are on it, detail as given
        url = tap(env)
        port.put([entry(n) for n in range(23)])
        got = drain(url)
        assert sorted(m["detail"]["n"] for m in got) == list(range(23))
        assert {m["source"] for m in got} == {"msgcampaigns"} and {m["detail-type"] for m in got} == {"Session Opened"}

    def test_a_route_is_the_rule_target_api_destination_and_connection_as_documented(
        self, port: EventBus, env: Env
    ) -> None:
        # GIVEN a tenant routed to one URL, then to another
        events = boto3.client("events")
        port.route(TID, "https://pbx.example.com/a")
        port.route(TID, "https://pbx.example.com/b")
        name, bus = route_name(TID), env.resources.event_bus_name
        # THEN its rule matches its signed events only
        rule = events.describe_rule(Name=name, EventBusName=bus)
        assert json.loads(rule["EventPattern"]) == {
            "source": ["msgcampaigns"],
            "detail": {"tenant_id": [TID], "delivery": {"signature": [{"exists": True}]}},
        }
        # AND its one target is the API destination, the body the signed text, the signature a header
        (target,) = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        destination = events.describe_api_destination(Name=name)
        assert target["Arn"] == destination["ApiDestinationArn"]
        assert target["InputTransformer"] == {
            "InputPathsMap": {"body": "$.detail.delivery.body"},
            "InputTemplate": "<body>",
        }
        assert target["HttpParameters"] == {
            "HeaderParameters": {"X-Msgcampaigns-Signature": "$.detail.delivery.signature"}
        }
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
        assert target["DeadLetterConfig"] == {"Arn": env.resources.events_dlq_arn}
        assert target["RoleArn"] == env.deps.settings.event_target_role_arn
        # AND the destination POSTs to the latest URL through the tenant's connection
        assert destination["InvocationEndpoint"] == "https://pbx.example.com/b"
        assert destination["HttpMethod"] == "POST" and destination["InvocationRateLimitPerSecond"] > 0
        connection = events.describe_connection(Name=name)
        assert destination["ConnectionArn"] == connection["ConnectionArn"]
        assert connection["AuthorizationType"] == "API_KEY"
        assert connection["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == "X-Msgcampaigns-Tenant"

    def test_unroute_removes_all_four(self, port: EventBus, env: Env) -> None:
        # GIVEN a routed tenant WHEN unrouted THEN no rule, API destination or connection of it remains
        events = boto3.client("events")
        port.route(TID, "https://pbx.example.com/a")
        port.unroute(TID)
        name, bus = route_name(TID), env.resources.event_bus_name
        assert [r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]] == []
        for describe in (events.describe_api_destination, events.describe_connection):
            with pytest.raises(events.exceptions.ResourceNotFoundException):
                describe(Name=name)
