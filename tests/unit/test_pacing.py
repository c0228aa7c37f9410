"""A sender number's budget (chalicelib/domain/pacing.py) and the sender's Pacer over it, on a fake clock.

What would break: two campaigns on one number adding up to more than its rate, a slow number's gaps slept through
(paid idle), a throttle that does not slow the number, segments not counted."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.model import Clock
from chalicelib.domain.pacing import MIN_FACTOR, RECOVER_SECONDS, SLOW_FACTOR, Budget, block_size
from chalicelib.services.sending import IDLE_SECONDS, TAKE_AHEAD_SECONDS, Pacer, parallelism
from tests.fakes.pace import FakePace


class FakeClock(Clock):
    """Time that moves only when slept on (or advanced)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []
        super().__init__(now_fn=lambda: self.t, sleep_fn=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@dataclass
class PaceDeps:
    """What a Pacer reads of the service's deps."""

    clock: FakeClock
    pace: FakePace


def deps() -> PaceDeps:
    return PaceDeps(FakeClock(), FakePace())


def starts(d: PaceDeps, pacer: Pacer, count: int) -> list[float]:
    out = []
    for _ in range(count):
        assert pacer.acquire() == 0.0
        out.append(d.clock.t)
    return out


def test_a_number_without_lead_sends_one_over_mps_apart_never_more_in_a_second() -> None:
    # GIVEN a pacer for 4 messages per second and no lead (Meta refuses what comes early)
    d = deps()
    pacer = Pacer(d, "meta#+1", 4.0, 0.0, messages=9)  # type: ignore[arg-type]
    # WHEN nine messages ask for a slot back to back
    got = starts(d, pacer, 9)
    # THEN they start 0.25 s apart, so no one-second window holds more than 4
    assert [round(b - a, 6) for a, b in zip(got, got[1:], strict=False)] == [0.25] * 8
    assert max(sum(1 for s in got if t <= s < t + 1.0) for t in got) == 4


def test_two_campaigns_on_one_number_share_its_rate() -> None:
    # GIVEN two chunks (two campaigns) sending from the same number at 2 mps, taking turns
    d = deps()
    a = Pacer(d, "meta#+1", 2.0, 0.0, messages=4)  # type: ignore[arg-type]
    b = Pacer(d, "meta#+1", 2.0, 0.0, messages=4)  # type: ignore[arg-type]
    got = []
    for _ in range(4):
        for pacer in (a, b):
            assert pacer.acquire() == 0.0
            got.append(d.clock.t)
    # THEN together they send at 2 per second, not 4
    assert [round(y - x, 6) for x, y in zip(got, got[1:], strict=False)] == [0.5] * 7
    # AND another number is not slowed by them
    c = Pacer(d, "meta#+2", 2.0, 0.0, messages=1)  # type: ignore[arg-type]
    before = d.clock.t
    assert c.acquire() == 0.0 and d.clock.t == before


def test_a_slow_number_with_a_lead_hands_back_instead_of_sleeping() -> None:
    # GIVEN a Twilio number at 1 mps (Twilio queues: a 5 s lead) and a chunk of 20
    d = deps()
    pacer = Pacer(d, "twilio#+1", 1.0, 5.0, messages=20)  # type: ignore[arg-type]
    # WHEN the chunk sends THEN six go at once (slots now .. now+5 s), with no sleep
    got = starts(d, pacer, 6)
    assert got == [1000.0] * 6 and d.clock.slept == []
    # AND the seventh hands the chunk back until half the lead is left in Twilio's queue, still without sleeping
    back = pacer.acquire()
    assert back == pytest.approx(6.0 - 2.5) and back > IDLE_SECONDS and d.clock.slept == []
    # WHEN it is woken then THEN it sends the next ones at once again, never ahead of the lead
    d.clock.t += back
    again = starts(d, pacer, 3)
    assert again == [d.clock.t] * 3 and d.clock.slept == []
    # (the last slot taken starts within the lead; the next would not, so the fourth hands back)
    assert d.pace.get("twilio#+1").tat - 1.0 - d.clock.t <= 5.0
    assert pacer.acquire() > IDLE_SECONDS and d.clock.slept == []


def test_a_number_without_lead_waits_for_a_slot_under_a_second_and_hands_back_longer_gaps() -> None:
    # GIVEN a number whose next slot another campaign took 3 s ahead
    d = deps()
    d.pace.budgets["meta#+1"] = Budget(tat=1003.0)
    pacer = Pacer(d, "meta#+1", 80.0, 0.0, messages=10)  # type: ignore[arg-type]
    # THEN the chunk hands back until the slots may be taken (TAKE_AHEAD_SECONDS before they start)
    assert pacer.acquire() == pytest.approx(3.0 - TAKE_AHEAD_SECONDS) and d.clock.slept == []
    # AND with the slot 0.5 s ahead it waits for it
    d.clock.t = 1002.5
    assert pacer.acquire() == 0.0 and d.clock.t == pytest.approx(1003.0)


def test_a_throttle_slows_the_number_for_everyone_and_it_recovers() -> None:
    d = deps()
    pacer = Pacer(d, "twilio#+1", 10.0, 0.0, messages=10)  # type: ignore[arg-type]
    starts(d, pacer, 2)
    # WHEN the provider throttles THEN the number's rate is SLOW_FACTOR of mps, for any campaign on it
    pacer.throttled()
    budget = d.pace.get("twilio#+1")
    assert budget.factor == pytest.approx(SLOW_FACTOR) and budget.interval(10.0) == pytest.approx(0.1 / SLOW_FACTOR)
    other = Pacer(d, "twilio#+1", 10.0, 0.0, messages=3)  # type: ignore[arg-type]
    got = starts(d, other, 3)
    assert [round(y - x, 6) for x, y in zip(got, got[1:], strict=False)] == [round(0.1 / SLOW_FACTOR, 6)] * 2
    # AND a burst of refusals within a second counts once, repeated throttles go no lower than MIN_FACTOR
    pacer.throttled()
    assert d.pace.get("twilio#+1").factor == pytest.approx(SLOW_FACTOR)
    slow = Budget()
    for i in range(50):
        slow = slow.slowed(float(i * 2))
    assert slow.factor == pytest.approx(MIN_FACTOR)
    # AND without throttles it recovers step by step to the full rate
    assert slow.recovered(98.0 + RECOVER_SECONDS * 100).factor == 1.0
    assert MIN_FACTOR < slow.recovered(98.0 + RECOVER_SECONDS).factor < 1.0


def test_each_sms_segment_takes_a_slot() -> None:
    # GIVEN 3-segment SMS on a number of 3 segments per second
    d = deps()
    pacer = Pacer(d, "twilio#+1", 3.0, 0.0, slots_per_message=3, messages=3)  # type: ignore[arg-type]
    got = starts(d, pacer, 3)
    # THEN one message a second goes
    assert [round(y - x, 6) for x, y in zip(got, got[1:], strict=False)] == [1.0, 1.0]


def test_a_slow_number_claims_only_what_it_can_hand_over_before_its_next_wake() -> None:
    # GIVEN a campaign of 40 on a Twilio number at 1 mps (5 s of lead): one chunk
    from chalicelib.services import lifecycle, sending
    from tests.unit.campaign_deps import CHANNEL, TENANT, world
    from tests.unit.test_campaign_control import create, statuses

    w = world()
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None
    w.deps.channels.channels[(TENANT, CHANNEL)] = dataclasses.replace(channel, mps=1.0)  # type: ignore[attr-defined]
    numbers = [f"+1415555{i:04d}" for i in range(40)]
    cid = create(w, numbers)["id"]
    (chunk,) = w.queue.take_chunks()
    claims: list[int] = []
    claim = w.recipients.claim

    def counted(campaign_id: str, recipients: Any, token: str, now: float) -> Any:
        claims.append(len(recipients))
        return claim(campaign_id, recipients, token, now)

    w.recipients.claim = counted  # type: ignore[method-assign]
    # WHEN its chunk is worked, and delivered again each time it is handed back
    wakes = 0
    while (back := sending.handle_chunk(w.deps, chunk, lambda: 600.0)) is not None:
        wakes += 1
        w.advance(back)
    # THEN each wake claimed no more than its lead's worth (5 s at 1 mps, plus a block and one in flight), never the
    # whole chunk, and every number got one message at the number's rate
    assert max(claims) <= 7 and sum(claims) == 40, claims
    assert statuses(w, cid) == Counter({"sent": 40}) and Counter(w.provider.calls) == Counter(numbers)
    assert wakes >= 40 // 7
    lifecycle.finish_if_done(w.deps, TENANT, cid)


def test_without_lead_a_pacer_holds_no_more_slots_than_it_has_sends_in_flight() -> None:
    # GIVEN a number at 1,000 messages per second, no lead (Meta), and a chunk of 500
    d = deps()
    pacer = Pacer(d, "meta#+1", 1000.0, 0.0, messages=500)  # type: ignore[arg-type]
    # WHEN its first send takes slots
    assert pacer.acquire() == 0.0
    # THEN it took one round of sends in flight (not half a second's 500): a worker whose answers come late does not
    # sit on a backlog of slots that it would then send at once, beside the next worker's
    held = (d.pace.get("meta#+1").tat - 1000.0) * 1000.0
    assert held == pytest.approx(parallelism(1000.0)) and held < block_size(1000.0)


def test_without_lead_the_next_block_is_taken_before_the_last_ends_and_each_message_goes_at_its_slot() -> None:
    # GIVEN a pacer at 4 per second without lead, whose first block (two slots: 1000.0, 1000.25) is taken
    d = deps()
    takes: list[float] = []
    take = d.pace.take

    def noted(key: str, now: float, *rest: Any) -> Any:
        takes.append(now)
        return take(key, now, *rest)

    d.pace.take = noted  # type: ignore[method-assign]
    pacer = Pacer(d, "meta#+1", 4.0, 0.0, messages=4)  # type: ignore[arg-type]
    assert pacer.acquire() == 0.0 and pacer.acquire() == 0.0 and d.clock.t == pytest.approx(1000.25)
    # WHEN the next message asks, within TAKE_AHEAD_SECONDS of the next free slot (1000.5)
    # THEN it takes the next block now (not after a wake-up at 1000.5, which would come late under load) and sleeps
    # until its own slot: never earlier (Meta's 130429), never later
    assert pacer.acquire() == 0.0 and d.clock.t == pytest.approx(1000.5)
    assert takes == [pytest.approx(1000.0), pytest.approx(1000.25)]
    assert d.pace.get("meta#+1").tat == pytest.approx(1001.0)


def test_a_fast_numbers_chunks_are_spread_over_message_groups_and_a_slow_ones_are_not() -> None:
    # GIVEN campaigns of 1,000 on a number at 80 messages per second and on one at 5
    from chalicelib.domain.commands import CampaignSettings, CreateCampaign, RecipientsSpec, SendNow, TextContent
    from chalicelib.services import campaigns
    from tests.unit.campaign_deps import CHANNEL, SENDER, TENANT, world

    def groups_at(mps: float) -> dict[str, list[int]]:
        w = world(inline_dispatch_max=1000)
        channel = w.deps.channels.get(TENANT, CHANNEL)
        assert channel is not None
        w.deps.channels.channels[(TENANT, CHANNEL)] = dataclasses.replace(channel, mps=mps)  # type: ignore[attr-defined]
        numbers = tuple(f"+1415{5550000 + i:07d}" for i in range(1000))
        settings = CampaignSettings(
            name="groups", channel_id=CHANNEL, sender=SENDER, recipients=RecipientsSpec(numbers=numbers),
            content=TextContent(text="Hi"),
        )  # fmt: skip
        # WHEN each is created to send now (its first chunk is queued while the rest is written, then all of them)
        campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()))
        return {g: [c.start for c in chunks] for g, chunks in w.queue.take_by_group().items()}

    # THEN the fast number's ten chunks alternate between two groups (two workers send it at once; the number's
    # budget keeps their sum at its rate), the first in the number's own group, and none is queued twice
    fast = groups_at(80.0)
    base = f"{CHANNEL}:{SENDER}"
    assert fast == {base: [0, 200, 400, 600, 800], f"{base}#1": [100, 300, 500, 700, 900]}
    # AND the slow number's chunks stay in one group (one worker at a time)
    assert groups_at(5.0) == {base: list(range(0, 1000, 100))}
