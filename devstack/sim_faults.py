"""Rate-based fault knobs both provider simulators share (the chaos benchmark's provider faults).

Each create (a Twilio ``POST .../Messages.json``, a Meta ``POST /{phone-number-id}/messages``) rolls, in this order:
``server_error_rate`` (answered 500, the message is NOT created), then, for a created message,
``late_answer_rate`` (the answer is held back ``late_answer_ms``, so the caller times out while the provider has it)
and ``reset_after_accept_rate`` (the connection is reset instead of answered). Each status callback/webhook of a
created message is posted a second time (identical, signed again, after the first) with ``callback_replay_rate``;
those rolls are made when the message is created, so that a seeded run is the same run whatever order the callback
workers post in.

A rate is in [0, 1]; 0 never rolls the random stream and 1 always injects, so either is deterministic with any
seed. ``seed`` re-seeds the stream (``random.Random``): the same requests in the same order inject the same faults.
Not thread-safe on its own: each simulator model calls it under its lock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SERVER_ERROR = "server_error_rate"
LATE_ANSWER = "late_answer_rate"
RESET_AFTER_ACCEPT = "reset_after_accept_rate"
CALLBACK_REPLAY = "callback_replay_rate"
RATES = (SERVER_ERROR, LATE_ANSWER, RESET_AFTER_ACCEPT, CALLBACK_REPLAY)
LATE_ANSWER_MS = "late_answer_ms"
SEED = "seed"
KNOBS = (*RATES, LATE_ANSWER_MS, SEED)
DEFAULT_LATE_ANSWER_MS = 15000.0  # longer than the service's provider timeout: the caller gives up first

# What `injected` counts, by knob.
COUNTERS = {SERVER_ERROR: "server_errors", LATE_ANSWER: "late_answers", RESET_AFTER_ACCEPT: "resets"}
REPLAYS = "replays"

# Mark an answer (popped by the HTTP layer): hold it back this many seconds; reset the connection instead.
LATE = "__late_answer_s__"
RESET = "__reset_connection__"


def parse(name: str, value: Any) -> Any:
    """One knob's value checked (ValueError with a clear message otherwise): a rate, milliseconds or a seed."""
    if name in RATES:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ValueError(f"'{name}' must be a number from 0 to 1 (a probability), got {value!r}")
        return float(value)
    if name == LATE_ANSWER_MS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"'{name}' must be a non-negative number of milliseconds, got {value!r}")
        return float(value)
    if name == SEED:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"'{name}' must be an integer (or null for an unseeded stream), got {value!r}")
        return value
    raise ValueError(f"unknown fault knob {name!r}")


def from_env(environ: Mapping[str, str], prefix: str = "SIM_") -> dict[str, Any]:
    """The knobs set in the environment (``SIM_SERVER_ERROR_RATE=0.05``, ``SIM_SEED=1``, ...), parsed; ValueError
    for a bad value."""
    knobs: dict[str, Any] = {}
    for name in KNOBS:
        raw = environ.get(prefix + name.upper())
        if raw is None or not raw.strip():
            continue
        try:
            value: Any = int(raw) if name == SEED else float(raw)
        except ValueError:
            raise ValueError(f"{prefix}{name.upper()}={raw!r} is not a number") from None
        knobs[name] = parse(name, value)
    return knobs


@dataclass
class Faults:
    """The fault knobs of one simulator, its random stream, and what it injected."""

    server_error_rate: float = 0.0
    late_answer_rate: float = 0.0
    late_answer_ms: float = DEFAULT_LATE_ANSWER_MS
    reset_after_accept_rate: float = 0.0
    callback_replay_rate: float = 0.0
    seed: int | None = None
    injected: dict[str, int] = field(default_factory=lambda: {**dict.fromkeys(COUNTERS.values(), 0), REPLAYS: 0})
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def set(self, **knobs: Any) -> None:
        """Set knobs already parsed (see ``parse``); a ``seed`` re-seeds the stream."""
        for name, value in knobs.items():
            setattr(self, name, value)
        if SEED in knobs:
            self._rng.seed(knobs[SEED])

    def roll(self, rate_name: str) -> bool:
        """Whether to inject this fault now; counts it (but for replays, counted when posted: ``replayed``)."""
        rate = float(getattr(self, rate_name))
        if rate <= 0.0:
            return False
        hit = rate >= 1.0 or self._rng.random() < rate
        if hit and rate_name in COUNTERS:
            self.injected[COUNTERS[rate_name]] += 1
        return hit

    def replays(self, stages: int) -> frozenset[int]:
        """Which of a new message's ``stages`` status callbacks to post twice."""
        return frozenset(stage for stage in range(stages) if self.roll(CALLBACK_REPLAY))

    def replayed(self) -> None:
        """Count a status callback posted a second time."""
        self.injected[REPLAYS] += 1

    def late_seconds(self) -> float:
        """How long a late answer is held back."""
        return self.late_answer_ms / 1000.0

    def to_dict(self, prefix: str = "") -> dict[str, Any]:
        """The knobs (their names with ``prefix``), for ``GET /sim/config``."""
        return {prefix + name: getattr(self, name) for name in KNOBS}
