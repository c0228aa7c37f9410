"""EventBridge adapter: the service's bus, and per tenant a connection, an API destination, a rule and its target
that deliver the tenant's events to its event_url; the tenant's event secret in Secrets Manager.

Per tenant (names `msgcampaigns-{tenant_id}`):
    Connection      auth API_KEY, header X-Msgcampaigns-Tenant: <tenant id> (not a secret: EventBridge requires an
                    authorization; the signature is what the PBX checks)
    ApiDestination  POST event_url, INVOCATION_RATE per second
    Rule            on the bus: source msgcampaigns, detail.tenant_id = the tenant, detail.delivery present
    Target          the API destination; InputTransformer {"body": "$.detail.delivery.body"} with the string template
                    "<body>" (the signed JSON text is the request body, as is); HttpParameters.HeaderParameters
                    X-Msgcampaigns-Signature = "$.detail.delivery.signature" (EventBridge documents JSON-path values
                    in header parameters); RetryPolicy 24 h / 185 attempts; DeadLetterConfig the events DLQ; RoleArn
                    the role EventBridge assumes to invoke API destinations.

AWS limits this design meets (per Region): 300 rules per event bus by default (a soft quota: one rule per tenant
with an event_url, so raise it beyond 300 such tenants), 3,000 API destinations per account (hard), API destination
invocation rate up to 300 per second each (INVOCATION_RATE here), PutEvents 10 entries and 256 KB per call.
Not verifiable here: moto stores all of this but never invokes an API destination; the local stack's pump plays
the rule (devstack/event_rules.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.errors import EventRoutesLimitError, EventRoutesUnavailableError
from chalicelib.domain.pbx_events import SIGNATURE_HEADER, SOURCE, TENANT_HEADER, BusEntry, EventsNotPutError

TARGET_ID = "pbx"
# Invocations per second of each tenant's API destination (EventBridge allows 1..300).
INVOCATION_RATE = 20
RETRY_MAX_AGE_SECONDS = 86_400
RETRY_MAX_ATTEMPTS = 185
# PutEvents: at most 10 entries and 256 KB per call (entry size counted as EventBridge does, roughly).
PUT_MAX_ENTRIES = 10
PUT_MAX_BYTES = 250_000
_CACHE_SECONDS = 300.0
_MISSING = ("ResourceNotFoundException",)


def route_name(tenant_id: str) -> str:
    """The name of a tenant's connection, API destination and rule."""
    return f"msgcampaigns-{tenant_id}"


def rule_pattern(tenant_id: str) -> dict[str, Any]:
    """The tenant rule's event pattern: its events that carry a signed delivery."""
    return {"source": [SOURCE], "detail": {"tenant_id": [tenant_id], "delivery": {"signature": [{"exists": True}]}}}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _entry_size(entry: dict[str, Any]) -> int:
    return sum(len(str(entry.get(k, "")).encode("utf-8")) for k in ("Source", "DetailType", "Detail")) + 14


def batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """PutEvents entries cut into calls of at most 10 entries and PUT_MAX_BYTES."""
    out: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        n = _entry_size(entry)
        if not out or len(out[-1]) >= PUT_MAX_ENTRIES or size + n > PUT_MAX_BYTES:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += n
    return out


class EventBus:
    """The bus and the tenants' routes over an `events` client; secrets over a `secretsmanager` client."""

    def __init__(
        self,
        events: Any,
        secretsmanager: Any,
        *,
        bus_name: str,
        target_role_arn: str,
        dead_letter_arn: str,
        secrets_prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._events = events
        self._sm = secretsmanager
        self.bus_name = bus_name
        self._role_arn = target_role_arn
        self._dlq_arn = dead_letter_arn
        self._prefix = secrets_prefix
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    # ----------------------------------------------------------------------------- the bus
    def put(self, entries: Sequence[BusEntry]) -> None:
        """PutEvents in batches; EventsNotPutError naming how many were refused (the others are on the bus)."""
        wire = [
            {
                "Source": SOURCE,
                "DetailType": e.event.detail_type,
                "Detail": json.dumps(e.detail, separators=(",", ":"), ensure_ascii=False),
                "EventBusName": self.bus_name,
                "Resources": [],
            }
            for e in entries
        ]
        refused: list[str] = []
        for batch in batches(wire):
            out = self._events.put_events(Entries=batch)
            if out.get("FailedEntryCount"):
                refused += [str(r.get("ErrorCode")) for r in out.get("Entries", []) if r.get("ErrorCode")]
        if refused:
            raise EventsNotPutError(f"{len(refused)} of {len(wire)} events refused: {sorted(set(refused))}")

    # ----------------------------------------------------------------------------- a tenant's route
    def route(self, tenant_id: str, event_url: str) -> None:
        """Create or update the tenant's connection, API destination, rule and target (each step is an upsert);
        EventRoutesLimitError at a quota, EventRoutesUnavailableError for any other refusal (never a bare 500)."""
        try:
            self._route(tenant_id, event_url)
        except ClientError as exc:
            if _code(exc) == "LimitExceededException":
                raise EventRoutesLimitError("EventBridge allows no more tenant routes in this account") from exc
            raise EventRoutesUnavailableError(f"EventBridge did not take the route now ({_code(exc)})") from exc

    def _route(self, tenant_id: str, event_url: str) -> None:
        name = route_name(tenant_id)
        connection_arn = self._connection(name, tenant_id)
        destination_arn = self._destination(name, connection_arn, event_url)
        self._events.put_rule(
            Name=name,
            EventBusName=self.bus_name,
            EventPattern=json.dumps(rule_pattern(tenant_id)),
            State="ENABLED",
            Description=f"Events of tenant {tenant_id} to its event_url",
        )
        out = self._events.put_targets(Rule=name, EventBusName=self.bus_name, Targets=[self._target(destination_arn)])
        if out.get("FailedEntryCount"):
            raise EventsNotPutError(f"the rule's target was refused: {out.get('FailedEntries')}")

    def _target(self, destination_arn: str) -> dict[str, Any]:
        return {
            "Id": TARGET_ID,
            "Arn": destination_arn,
            "RoleArn": self._role_arn,
            "InputTransformer": {"InputPathsMap": {"body": "$.detail.delivery.body"}, "InputTemplate": "<body>"},
            "HttpParameters": {"HeaderParameters": {SIGNATURE_HEADER: "$.detail.delivery.signature"}},
            "RetryPolicy": {
                "MaximumEventAgeInSeconds": RETRY_MAX_AGE_SECONDS,
                "MaximumRetryAttempts": RETRY_MAX_ATTEMPTS,
            },
            "DeadLetterConfig": {"Arn": self._dlq_arn},
        }

    def _connection(self, name: str, tenant_id: str) -> str:
        auth = {"ApiKeyAuthParameters": {"ApiKeyName": TENANT_HEADER, "ApiKeyValue": tenant_id}}
        try:
            self._events.describe_connection(Name=name)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
            out = self._events.create_connection(Name=name, AuthorizationType="API_KEY", AuthParameters=auth)
            return str(out["ConnectionArn"])
        out = self._events.update_connection(Name=name, AuthorizationType="API_KEY", AuthParameters=auth)
        return str(out["ConnectionArn"])

    def _destination(self, name: str, connection_arn: str, event_url: str) -> str:
        fields = {
            "Name": name,
            "ConnectionArn": connection_arn,
            "InvocationEndpoint": event_url,
            "HttpMethod": "POST",
            "InvocationRateLimitPerSecond": INVOCATION_RATE,
        }
        try:
            self._events.describe_api_destination(Name=name)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
            return str(self._events.create_api_destination(**fields)["ApiDestinationArn"])
        return str(self._events.update_api_destination(**fields)["ApiDestinationArn"])

    def unroute(self, tenant_id: str) -> None:
        """Remove the target, rule, API destination and connection; what is gone already is fine."""
        name = route_name(tenant_id)
        steps: list[Callable[[], Any]] = [
            lambda: self._events.remove_targets(Rule=name, EventBusName=self.bus_name, Ids=[TARGET_ID]),
            lambda: self._events.delete_rule(Name=name, EventBusName=self.bus_name),
            lambda: self._events.delete_api_destination(Name=name),
            lambda: self._events.delete_connection(Name=name),
        ]
        for step in steps:
            try:
                step()
            except ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise

    # ----------------------------------------------------------------------------- the tenant's event secret
    def _secret_name(self, tenant_id: str) -> str:
        return f"{self._prefix}{tenant_id}/_events"

    def create_secret(self, tenant_id: str, secret: str) -> bool:
        """CreateSecret, which fails when the name exists: of two first PATCHes at once, exactly one wins."""
        name = self._secret_name(tenant_id)
        try:
            self._sm.create_secret(
                Name=name,
                SecretString=json.dumps({"event_secret": secret}),
                Tags=[{"Key": "tenant", "Value": tenant_id}],
            )
        except ClientError as exc:
            if _code(exc) == "ResourceExistsException":
                return False
            raise
        self._cache[name] = (self._clock(), secret)
        return True

    def secret(self, tenant_id: str) -> str | None:
        """The tenant's event secret (cached briefly per container), or None."""
        name = self._secret_name(tenant_id)
        hit = self._cache.get(name)
        if hit and self._clock() - hit[0] < _CACHE_SECONDS:
            return hit[1]
        try:
            out = self._sm.get_secret_value(SecretId=name)
        except ClientError as exc:
            if _code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                return None
            raise
        value = str(json.loads(out["SecretString"])["event_secret"])
        self._cache[name] = (self._clock(), value)
        return value
