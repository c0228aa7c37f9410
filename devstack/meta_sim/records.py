"""The records the simulated Meta keeps: WABAs, phone numbers, sent messages, pending webhooks, its config."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack import sim_faults


@dataclass
class Waba:
    """A WhatsApp Business Account: its access token, app secret (webhook signatures), webhook URL, templates."""

    waba_id: str
    access_token: str
    app_secret: str
    webhook_url: str | None
    templates: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PhoneNumber:
    """A business phone number: its id, display number (digits), WABA, throughput and its sliding window."""

    phone_number_id: str
    display: str
    waba_id: str
    mps: float
    window: deque[float] = field(default_factory=deque)
    # What GET /sim/stats says of it: sends accepted, and the first and last (the model's clock).
    accepted: int = 0
    first_accepted_at: float | None = None
    last_accepted_at: float | None = None

    def sender_view(self) -> dict[str, Any]:
        """Its entry in the stats' ``senders``: Meta has no queue (beyond its rate it refuses, 130429), so every
        accepted send is sent at once and waits 0; ``achieved_mps`` is the rate between the first and last one."""
        span = (self.last_accepted_at or 0.0) - (self.first_accepted_at or 0.0)
        return {
            "display_phone_number": self.display,
            "accepted": self.accepted,
            "sent": self.accepted,
            "achieved_mps": (self.accepted - 1) / span if self.accepted >= 2 and span > 0 else None,
            "longest_queue_wait_s": 0.0,
            "queued_now": 0,
        }


@dataclass
class SentMessage:
    """An accepted message, its plan of statuses and where it is in it."""

    wamid: str
    phone_number_id: str
    to: str
    kind: str
    template: dict[str, Any] | None
    text: str | None
    opaque: str | None
    category: str
    created_at: float
    plan: list[tuple[str, int | None]]
    status: str = "accepted"
    error_code: int | None = None
    replay_stages: frozenset[int] = frozenset()  # the stages of its plan whose webhook is posted twice (a fault)

    def item(self) -> dict[str, Any]:
        """The entry listed by `GET /sim/messages`."""
        return {
            "provider": "whatsapp_cloud",
            "id": self.wamid,
            "phone_number_id": self.phone_number_id,
            "to": "+" + self.to,
            "type": self.kind,
            "template": self.template,
            "text": self.text,
            "biz_opaque_callback_data": self.opaque,
            "status": self.status,
            "error_code": self.error_code,
            "created_at": self.created_at,
        }


@dataclass(order=True)
class Job:
    """A webhook due at `due`: a message's status (stage of its plan) or a ready payload, try `attempt`."""

    due: float
    seq: int
    generation: int = field(compare=False)
    waba_id: str = field(compare=False)
    wamid: str | None = field(default=None, compare=False)
    stage: int = field(default=0, compare=False)
    payload: dict[str, Any] | None = field(default=None, compare=False)
    attempt: int = field(default=0, compare=False)
    replay: bool = field(default=False, compare=False)  # a status webhook posted again (the callback_replay fault)


@dataclass
class Config:
    """What `POST /sim/config` sets for the Graph API (its options start with `graph_`)."""

    graph_latency_ms: float = 0.0
    graph_webhook_delay_ms: float = 50.0
    graph_server_error_next: int = 0  # answer the next N sends 500 (code 1), nothing taken
    graph_timeout_next: int = 0  # take the next N sends, then answer only after graph_timeout_ms
    graph_timeout_ms: float = 5000.0
    graph_no_webhooks: bool = False
    # Up to N statuses of one WABA due within a webhook delay of each other go in one POST, as Meta batches them.
    graph_batch_max: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Public view."""
        return dict(self.__dict__)


def number_opt(name: str, value: Any) -> float:
    """A non-negative finite number option (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"'{name}' must be a non-negative number")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"'{name}' must be a non-negative integer")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"'{name}' must be true or false")
    return value


CONFIG_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "graph_latency_ms": number_opt,
    "graph_webhook_delay_ms": number_opt,
    "graph_server_error_next": _count,
    "graph_timeout_next": _count,
    "graph_timeout_ms": number_opt,
    "graph_no_webhooks": _flag,
    "graph_batch_max": _count,
    # The shared fault knobs (devstack/sim_faults.py), Meta's side: POST /sim/config's plain ones set these too.
    **{
        f"graph_{knob}": (lambda name, value: sim_faults.parse(name.removeprefix("graph_"), value))
        for knob in sim_faults.KNOBS
    },
}
FAULT_OPTIONS = {f"graph_{knob}": knob for knob in sim_faults.KNOBS}
