"""A sender number's send budget: the rule that spaces its messages at the provider's rate, shared by every campaign
and channel that sends from it. Pure: no I/O (chalicelib/adapters/dynamo/pace.py stores it).

The budget is GCRA's "theoretical arrival time" (`tat`): the time the next free slot starts. Taking `count` slots of
`interval` seconds each starts at max(tat, now) and moves tat on by count * interval, so however many senders take
slots, the starts they get are `interval` apart: the provider's rate, never more, and never less while there is
work. A sender may take slots only up to `lead` seconds ahead of now (Twilio queues what it is given and sends it at
the number's rate: a few seconds of lead keeps its queue from running dry; Meta refuses what comes too early, so its
lead is 0).

A provider throttle (Twilio 20429/21611/30001, Meta 130429) slows the budget: the rate is multiplied by SLOW_FACTOR
(down to MIN_FACTOR of the channel's mps), and it recovers by RECOVER_STEP of mps for every RECOVER_SECONDS without a
throttle (AIMD, as TCP's congestion window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

SLOW_FACTOR = 0.8
MIN_FACTOR = 0.1
RECOVER_STEP = 0.05
# Recovery every 2 s: a lone refusal (one late send) costs about 2 % of a 12-second run at 80/s, not 15 %.
RECOVER_SECONDS = 2.0
# Slots a sender takes per write: half a second's worth (at least one), so a busy number costs about two writes a
# second on its budget item, whatever its rate.
BLOCK_SECONDS = 0.5
# The rate one worker is given of a number: a faster number's chunks are spread over this many FIFO message groups
# (at most MAX_SEND_GROUPS), so while one worker ends its chunk (writes its outcomes, the queue hands over the next
# message) another is sending; the number's budget keeps their sum at its rate.
GROUP_MPS = 40.0
MAX_SEND_GROUPS = 16


class Taken(NamedTuple):
    """What taking slots got: the first slot's start and the seconds between slots; or, when none could be taken
    (the next free one is more than the lead ahead), start None and the seconds until one can."""

    start: float | None
    interval: float = 0.0
    wait: float = 0.0


@dataclass(frozen=True)
class Budget:
    """A sender number's budget as stored: the next free slot, the share of mps it runs at, its last throttle."""

    tat: float = 0.0
    factor: float = 1.0
    slowed_at: float = 0.0

    def interval(self, mps: float) -> float:
        """Seconds between slot starts at `mps` messages (or segments) per second, as slowed now."""
        return 1.0 / (max(mps, 1e-6) * self.factor)

    def take(self, now: float, count: int, mps: float, lead: float) -> tuple[float, Budget] | None:
        """Take `count` slots if the first starts no later than `lead` seconds from now: (first start, new budget);
        None when the first free slot is further ahead (the sender should come back later, see `wait`)."""
        budget = self.recovered(now)
        start = max(budget.tat, now)
        if start > now + lead:
            return None
        return start, Budget(start + count * budget.interval(mps), budget.factor, budget.slowed_at)

    def wait(self, now: float, lead: float) -> float:
        """How long until slots can be taken again (0 when they can now)."""
        return max(0.0, self.tat - now - lead)

    def slowed(self, now: float) -> Budget:
        """After a provider throttle: a slower rate (at most one slow-down per second, so a burst of refusals of
        the sends already in flight counts once)."""
        if now - self.slowed_at < 1.0:
            return self
        return Budget(max(self.tat, now), max(MIN_FACTOR, self.factor * SLOW_FACTOR), now)

    def recovered(self, now: float) -> Budget:
        """The rate recovered by RECOVER_STEP per RECOVER_SECONDS since the last throttle, up to the full mps."""
        if self.factor >= 1.0:
            return self
        steps = int((now - self.slowed_at) // RECOVER_SECONDS)
        if steps <= 0:
            return self
        return Budget(self.tat, min(1.0, self.factor + steps * RECOVER_STEP), self.slowed_at + steps * RECOVER_SECONDS)


def block_size(mps: float, factor: float = 1.0) -> int:
    """Slots to take per write at this rate."""
    return max(1, int(mps * factor * BLOCK_SECONDS))


def send_groups(mps: float) -> int:
    """How many FIFO message groups a number's chunks are spread over at `mps` (1 up to GROUP_MPS)."""
    return max(1, min(MAX_SEND_GROUPS, math.ceil(max(mps, 0.0) / GROUP_MPS)))


def budget_key(provider: str, sender: str) -> str:
    """The budget of one number at one provider: shared by all campaigns, channels and tenants sending from it."""
    return f"{provider}#{sender}"
