"""Events for the PBX, read from the table's stream: which item changes are events, their stable ids, and the signed
body a tenant's `event_url` receives. Pure: no I/O.

A stream record is Lambda's shape (`eventID`, `eventName`, `dynamodb.Keys|NewImage|OldImage` as typed attribute
values). The item layouts are fixed by services/session_ports.py, services/optout_ports.py and the campaign
repository (TENANT#{tid} / CAMPAIGN#{cid} with `status`).

The body delivered to the PBX (and signed) is compact JSON with ASCII escapes, keys sorted:
    {"detail": {...the contract's fields...}, "id": "evt_...", "time": "2026-01-01T00:00:00Z", "type": "<detail-type>"}
and the header `X-Msgcampaigns-Signature: sha256=<hex HMAC-SHA256 of exactly those bytes with the event secret>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

SOURCE = "msgcampaigns"
CAMPAIGN_STATUS_CHANGED = "Campaign Status Changed"
SESSION_OPENED = "Session Opened"
MESSAGE_RECEIVED = "Message Received"
CONTACT_OPTED_OUT = "Contact Opted Out"
CONTACT_OPTED_IN = "Contact Opted In"
DETAIL_TYPES = (CAMPAIGN_STATUS_CHANGED, SESSION_OPENED, MESSAGE_RECEIVED, CONTACT_OPTED_OUT, CONTACT_OPTED_IN)
SIGNATURE_HEADER = "X-Msgcampaigns-Signature"
# The (non-secret) header the tenant's EventBridge connection adds to every delivery: the tenant's id.
TENANT_HEADER = "X-Msgcampaigns-Tenant"

# The stream's item keys the events worker wants (the event source mapping's filter says the same, in infra terms).
TENANT_PREFIX = "TENANT#"
CAMPAIGN_PREFIX = "CAMPAIGN#"
SESSION_PREFIX = "SESSION#"
MESSAGE_PREFIX = "MSG#"
OPTOUT_PREFIX = "OPTOUT#"
# (pk prefix, sk prefix) pairs: campaigns, sessions and opt-outs live in a tenant's partition, messages in a session's.
WANTED_KEYS = (
    (TENANT_PREFIX, CAMPAIGN_PREFIX),
    (TENANT_PREFIX, SESSION_PREFIX),
    (SESSION_PREFIX, MESSAGE_PREFIX),
    (TENANT_PREFIX, OPTOUT_PREFIX),
)


@dataclass(frozen=True)
class PbxEvent:
    """One event for the PBX: its stable id, detail-type, tenant, time and the contract's detail fields."""

    event_id: str
    detail_type: str
    tenant_id: str
    time: str
    detail: dict[str, Any]
    # Campaign Status Changed gets its `result` from the counters when it is put on the bus (the item has none).
    needs_result: bool = False

    def with_result(self, result: Mapping[str, int]) -> PbxEvent:
        """The event with its campaign `result` filled in."""
        return PbxEvent(
            self.event_id, self.detail_type, self.tenant_id, self.time, {**self.detail, "result": dict(result)}
        )


@dataclass(frozen=True)
class BusEntry:
    """One event as it goes on the bus: the event and the detail to put (the contract's fields and `delivery`)."""

    event: PbxEvent
    detail: dict[str, Any]


class EventsNotPutError(RuntimeError):
    """The bus refused some entries of a PutEvents call: the stream batch fails and is tried again (never dropped)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def decode_value(typed: Mapping[str, Any]) -> Any:
    """One DynamoDB typed attribute value (`{"S": ...}`, `{"N": ...}`, `{"M": ...}`...) as plain Python."""
    ((tag, raw),) = typed.items()
    if tag == "S":
        return str(raw)
    if tag == "N":
        return _plain(Decimal(str(raw)))
    if tag == "BOOL":
        return bool(raw)
    if tag == "NULL":
        return None
    if tag == "M":
        return {str(k): decode_value(v) for k, v in raw.items()}
    if tag == "L":
        return [decode_value(v) for v in raw]
    if tag == "SS":
        return sorted(str(v) for v in raw)
    if tag == "NS":
        return sorted(_plain(Decimal(str(v))) for v in raw)
    if tag == "B":
        return raw if isinstance(raw, bytes) else base64.b64decode(raw)
    if tag == "BS":
        return [v if isinstance(v, bytes) else base64.b64decode(v) for v in raw]
    raise ValueError(f"not a DynamoDB attribute value type: {tag!r}")


def decode_image(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stream record's NewImage/OldImage/Keys as a plain item."""
    if image is None:
        return None
    return {str(k): decode_value(v) for k, v in image.items()}


def wanted(keys: Mapping[str, Any]) -> bool:
    """Whether an item with these (plain) keys can be an event (the stream filter's rule, for the local stack too)."""
    pk, sk = str(keys.get("pk", "")), str(keys.get("sk", ""))
    return any(pk.startswith(p) and sk.startswith(s) for p, s in WANTED_KEYS)


def event_id(record: Mapping[str, Any]) -> str:
    """A stable id for the event a stream record makes: the same on every retry of that record, unique per record."""
    source = f"{record.get('eventSourceARN', '')}|{record['eventID']}"
    return "evt_" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


def record_time(record: Mapping[str, Any]) -> str:
    """When the change was made (the stream's ApproximateCreationDateTime), RFC 3339 UTC."""
    stamp = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    at = datetime.fromtimestamp(float(stamp), UTC) if stamp is not None else datetime.fromtimestamp(0, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def translate(record: Mapping[str, Any]) -> PbxEvent | None:
    """The event a stream record makes, or None when the change is none of the PBX's business.

    Campaign item INSERT, or MODIFY with another `status` -> Campaign Status Changed (a deleted campaign emits
    nothing: deleting is the tenant's own request, answered 204, and never a status); session INSERT -> Session
    Opened; inbound session_message INSERT -> Message Received; opt-out INSERT with opted_out true, or MODIFY
    flipping it -> Contact Opted Out / Contact Opted In (a repeat is none).
    """
    name = str(record.get("eventName", ""))
    data = record.get("dynamodb", {})
    keys = decode_image(data.get("Keys")) or {}
    if name not in ("INSERT", "MODIFY") or not wanted(keys):
        return None
    new = decode_image(data.get("NewImage")) or {}
    old = decode_image(data.get("OldImage")) or {}
    pk, sk = str(keys["pk"]), str(keys["sk"])
    made = _campaign(pk, sk, name, new, old) if sk.startswith(CAMPAIGN_PREFIX) else None
    made = made or _session(name, new) or _message(name, new) or _optout(name, new, old)
    if made is None:
        return None
    detail_type, tenant_id, detail = made
    return PbxEvent(
        event_id=event_id(record),
        detail_type=detail_type,
        tenant_id=tenant_id,
        time=record_time(record),
        detail=_plain({"tenant_id": tenant_id, **detail}),
        needs_result=detail_type == CAMPAIGN_STATUS_CHANGED,
    )


Made = tuple[str, str, dict[str, Any]]


def _campaign(pk: str, sk: str, name: str, new: dict[str, Any], old: dict[str, Any]) -> Made | None:
    status = new.get("status")
    if not status or (name == "MODIFY" and old.get("status") == status):
        return None
    tenant_id = pk.removeprefix(TENANT_PREFIX)
    return CAMPAIGN_STATUS_CHANGED, tenant_id, {"campaign_id": sk.removeprefix(CAMPAIGN_PREFIX), "status": status}


def _session(name: str, new: dict[str, Any]) -> Made | None:
    if name != "INSERT" or new.get("kind") != "session":
        return None
    detail = {
        "session_id": new.get("session_id"),
        "contact": new.get("contact"),
        "routing_target": new.get("routing_target"),
        "campaign_id": new.get("campaign_id"),
    }
    return SESSION_OPENED, str(new.get("tenant_id", "")), detail


def _message(name: str, new: dict[str, Any]) -> Made | None:
    if name != "INSERT" or new.get("kind") != "session_message" or new.get("direction") != "inbound":
        return None
    detail = {
        "session_id": new.get("session_id"),
        "message_id": new.get("message_id"),
        "contact": new.get("contact"),
        "text": new.get("text"),
    }
    return MESSAGE_RECEIVED, str(new.get("tenant_id", "")), detail


def _optout(name: str, new: dict[str, Any], old: dict[str, Any]) -> Made | None:
    if new.get("kind") != "optout":
        return None
    now_out = bool(new.get("opted_out"))
    if name == "INSERT" and not now_out:
        return None
    if name == "MODIFY" and bool(old.get("opted_out")) == now_out:
        return None
    detail_type = CONTACT_OPTED_OUT if now_out else CONTACT_OPTED_IN
    return detail_type, str(new.get("tenant_id", "")), {"number": new.get("number"), "source": new.get("source")}


def delivered_body(event: PbxEvent) -> str:
    """The exact JSON text a tenant's event_url receives (and that is signed)."""
    document = {"id": event.event_id, "type": event.detail_type, "time": event.time, "detail": event.detail}
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def signature(body: str, secret: str) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body's UTF-8 bytes with the secret."""
    digest = hmac.new(secret.encode("utf-8"), body.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: str, header: str, secret: str) -> bool:
    """Whether a signature header is the body's (what a PBX does on receipt; constant time)."""
    return hmac.compare_digest(signature(body, secret), header or "")


def bus_detail(event: PbxEvent, secret: str | None) -> dict[str, Any]:
    """The detail put on the bus: the contract's fields, plus `delivery` (the body and its signature) when the
    tenant has an event_url (a secret)."""
    if secret is None:
        return dict(event.detail)
    body = delivered_body(event)
    return {**event.detail, "delivery": {"body": body, "signature": signature(body, secret)}}
