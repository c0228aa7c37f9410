"""The records the simulated Twilio keeps: sender numbers, messages, pending status callbacks, its config."""

from __future__ import annotations

import math
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from devstack.twilio_sim.rules import API_VERSION, rfc2822


@dataclass
class Number:
    """A sender number of an account, its messages-per-second limit and its sliding window of recent sends."""

    number: str
    account_sid: str
    mps: float
    inbound_url: str | None
    window: deque[float] = field(default_factory=deque)
    whatsapp: bool = False  # a WhatsApp sender (sends and receives as `whatsapp:+E164`)

    def limits(self) -> tuple[float, int]:
        """The sliding window (seconds) and how many messages it admits: mps per 1 s, or 1 per 1/mps s below 1."""
        window = max(1.0, 1.0 / self.mps)
        return window, max(1, math.floor(self.mps * window + 1e-9))

    def to_dict(self) -> dict[str, Any]:
        """Public view."""
        return {
            "number": self.number,
            "account_sid": self.account_sid,
            "mps": self.mps,
            "inbound_url": self.inbound_url,
            "whatsapp": self.whatsapp,
        }


@dataclass
class Message:
    """An accepted outbound message, its plan of statuses and where it is in it."""

    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    media_urls: list[str]
    status_callback: str | None
    messaging_service_sid: str | None
    created_at: float
    plan: list[tuple[str, int | None]]
    status: str = "queued"
    error_code: int | None = None
    date_updated: float = 0.0
    date_sent: float | None = None
    # One entry per MediaUrl: {"url", "status", "bytes", "content_type", "http_status"}; status is "pending" until
    # fetched, then "fetched", "failed" (11200), "invalid_content_type" (12300), "too_large" (11751) or "skipped"
    # (not fetched: an earlier one already failed the message).
    media: list[dict[str, Any]] = field(default_factory=list)
    # Accepted, but its status callbacks are never posted (the `drop_callbacks_next` fault).
    drop_callbacks: bool = False
    content_sid: str | None = None  # the content template it was sent with (ContentSid)
    content_variables: dict[str, str] | None = None  # the values it was filled with

    def item(self) -> dict[str, Any]:
        """The entry listed by ``GET /sim/messages``."""
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "from": self.from_,
            "to": self.to,
            "body": self.body,
            "media_urls": list(self.media_urls),
            "media": [dict(m) for m in self.media],
            "status": self.status,
            "error_code": self.error_code,
            "status_callback": self.status_callback,
            "created_at": self.created_at,
            "content_sid": self.content_sid,
            "content_variables": self.content_variables,
        }

    def resource(self) -> dict[str, Any]:
        """The Message resource JSON, shaped like Twilio's."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created_at),
            "date_sent": rfc2822(self.date_sent) if self.date_sent is not None else None,
            "date_updated": rfc2822(self.date_updated or self.created_at),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media_urls)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass(order=True)
class Job:
    """A status callback due at ``due``: stage ``stage`` of the message's plan, try ``attempt``."""

    due: float
    seq: int
    sid: str = field(compare=False)
    stage: int = field(compare=False)
    generation: int = field(compare=False)
    attempt: int = field(default=0, compare=False)
    idempotency_token: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)


@dataclass
class Delivery:
    """One status callback to post: the message, the status it reports, where to, signed with which token."""

    message: Message
    status: str
    url: str | None
    token: str | None
    params: dict[str, str]


@dataclass
class Config:
    """What ``POST /sim/config`` sets: timing and the faults to inject."""

    latency_ms: float = 0.0
    callback_delay_ms: float = 50.0
    throttle_next: int = 0
    server_error_next: int = 0
    undelivered: dict[str, int] = field(default_factory=dict)
    no_callbacks: bool = False
    # The next N messages are accepted (created, queued, their callbacks posted) but the connection is reset instead
    # of answering: the caller cannot know whether Twilio has them.
    reset_after_accept_next: int = 0
    # The next N accepted messages never get a status callback.
    drop_callbacks_next: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Public view."""
        return {
            "latency_ms": self.latency_ms,
            "callback_delay_ms": self.callback_delay_ms,
            "throttle_next": self.throttle_next,
            "server_error_next": self.server_error_next,
            "undelivered": dict(self.undelivered),
            "no_callbacks": self.no_callbacks,
            "reset_after_accept_next": self.reset_after_accept_next,
            "drop_callbacks_next": self.drop_callbacks_next,
        }
