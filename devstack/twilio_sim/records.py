"""The records the simulated Twilio keeps: sender numbers and their queues, messages, pending status callbacks, its
config."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from devstack.twilio_sim.rules import API_VERSION, DEFAULT_VALIDITY_SECONDS, rfc2822


@dataclass
class Number:
    """A sender number of an account, its messages-per-second rate and its queue: ``next_free`` is when (the model's
    clock) the queue can send the next segment."""

    number: str
    account_sid: str
    mps: float
    inbound_url: str | None
    whatsapp: bool = False  # a WhatsApp sender (sends and receives as `whatsapp:+E164`)
    next_free: float = float("-inf")

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
class SenderStats:
    """What ``GET /sim/stats`` says of one sender's queue (times on the model's clock)."""

    accepted: int = 0
    sent: int = 0  # reached their send time
    first_send_at: float | None = None
    last_send_at: float | None = None
    longest_wait: float = 0.0

    def view(self) -> dict[str, Any]:
        """Public view: ``achieved_mps`` is the rate between the first and the last send (None below 2 sends)."""
        span = (self.last_send_at or 0.0) - (self.first_send_at or 0.0)
        return {
            "accepted": self.accepted,
            "sent": self.sent,
            "achieved_mps": (self.sent - 1) / span if self.sent >= 2 and span > 0 else None,
            "longest_queue_wait_s": self.longest_wait,
            "queued_now": self.accepted - self.sent,
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
    segments: int = 1  # what it takes of its sender's rate
    send_at: float = 0.0  # when its turn in the sender's queue comes (the model's clock)
    queue_wait: float = 0.0  # send_at - when it was accepted (s)
    replay_stages: frozenset[int] = frozenset()  # the stages of its plan whose callback is posted twice (a fault)

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
            # Its turn in the sender's queue (wall clock: created_at + queue_wait), and when it really was sent.
            "send_at": self.created_at + self.queue_wait,
            "queue_wait_s": self.queue_wait,
            "sent_at": self.date_sent,
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
            "num_segments": str(self.segments),
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
    # A callback posted once already, to post again exactly (the callback_replay_rate fault): (url, token, params).
    replay: tuple[str, str, dict[str, str]] | None = field(default=None, compare=False)


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
    # A message's longest wait in its sender's queue when it gives no ValidityPeriod (Twilio's default: 10 h).
    queue_max_seconds: float = DEFAULT_VALIDITY_SECONDS
    # In-flight API requests an account may make at once (beyond: 429 20429), unless its own limit is set.
    account_concurrency: int = 100

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
            "queue_max_seconds": self.queue_max_seconds,
            "account_concurrency": self.account_concurrency,
        }
