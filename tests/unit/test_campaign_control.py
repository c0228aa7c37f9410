"""Pause, resume and cancel on fakes: what each does to the senders, the recipients and the tenant's send lock.

The sender here is the real one (chalicelib.services.sending) over the in-memory repositories; a provider wrapper
lets a test pause or cancel the campaign at an exact point of a chunk, as an admin's request would land.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.providers.base import Outcome, SendResult
from chalicelib.domain.commands import (
    SendDraft,
    SendScheduled,
)
from chalicelib.domain.errors import ConflictError
from chalicelib.domain.model import RecipientStatus
from chalicelib.services import campaigns, control, lifecycle, sending, views
from tests.fakes.provider import KEPT_NO_ANSWER
from tests.unit.campaign_deps import CHANNEL, TENANT, World, world
from tests.unit.test_campaign_life import create
from tests.unit.test_campaign_life import send_queued as work

NUMBERS = [f"+1415555{n:04d}" for n in range(10)]


def slow_world() -> World:
    """world() with a 2-messages-per-second sender: one send in flight at a time, so a test knows which went."""
    w = world()
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None
    w.deps.channels.channels[(TENANT, CHANNEL)] = dataclasses.replace(channel, mps=2)  # type: ignore[attr-defined]
    return w


def after_sends(w: World, count: int, action: Callable[[], None]) -> None:
    """Run `action` once the provider has been handed `count` messages (inside that send, as a request landing
    while the chunk is being sent), then let the sender's re-read interval pass."""
    provider = w.provider
    real = provider.send

    def send(**kwargs: Any) -> Any:
        result = real(**kwargs)
        if len(provider.calls) == count:
            action()
            w.advance(sending.CHECK_SECONDS + 1)
        return result

    w.deps.provider_for = lambda channel, creds: _Hooked(provider, send)


class _Hooked:
    """The fake provider with its send wrapped (everything else is the fake's)."""

    def __init__(self, provider: Any, send: Callable[..., Any]) -> None:
        self._provider, self.send = provider, send

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)


def got(w: World, campaign_id: str) -> dict[str, Any]:
    return views.get_campaign(w.deps, TENANT, campaign_id)


def statuses(w: World, campaign_id: str) -> Counter[str]:
    return Counter(r.status.value for r in w.recipients.range(campaign_id, 0, 10_000))


def test_a_paused_campaign_hands_nothing_more_over_and_resume_sends_only_the_rest_once() -> None:
    # GIVEN a 10-recipient campaign sending one message at a time
    w = slow_world()
    created = create(w, NUMBERS)
    cid = created["id"]
    # WHEN the admin pauses it after the 3rd hand-over
    after_sends(w, 3, lambda: control.pause_campaign(w.deps, TENANT, cid))
    work(w)
    # THEN it is paused, only those 3 went, the other 7 are queued, and the tenant's slot is free
    assert got(w, cid)["status"] == "paused" and got(w, cid)["paused_at"]
    assert len(w.provider.calls) == 3
    assert statuses(w, cid) == Counter({"sent": 3, "queued": 7})
    assert not (w.campaigns.lock_of(TENANT) or {}).get("sending")
    # WHEN it is resumed and its queue worked
    resumed = control.resume_campaign(w.deps, TENANT, cid)
    assert resumed["status"] == "executing"
    work(w)
    # THEN every number got exactly one message, and the campaign completed
    assert Counter(w.provider.calls) == Counter(NUMBERS)
    final = got(w, cid)
    assert final["status"] == "completed" and final["result"]["sent"] == 10 and final["result"]["pending"] == 0


def test_a_chunk_of_before_the_pause_worked_after_the_resume_sends_nothing_twice() -> None:
    # GIVEN a campaign paused before its chunk was worked, then resumed (so its old and its new chunk are queued)
    w = slow_world()
    cid = create(w, NUMBERS[:4])["id"]
    old = w.queue.take_chunks()
    control.pause_campaign(w.deps, TENANT, cid)
    control.resume_campaign(w.deps, TENANT, cid)
    new = w.queue.take_chunks()
    assert old and new and new[0].generation != old[0].generation
    # WHEN both are worked, the old one twice (a redelivery)
    for chunk in [*old, *new, *old]:
        sending.handle_chunk(w.deps, chunk, lambda: 600.0)
    # THEN each number was handed over once
    assert Counter(w.provider.calls) == Counter(NUMBERS[:4])
    assert got(w, cid)["status"] == "completed"


def test_pausing_frees_the_slot_for_the_next_pending_campaign_and_resume_waits_behind_it() -> None:
    # GIVEN campaign A sending and B pending behind it
    w = slow_world()
    a = create(w, NUMBERS[:5], name="A")["id"]
    b = create(w, NUMBERS[5:], name="B")["id"]
    assert got(w, b)["status"] == "pending"
    # WHEN A is paused before any send
    paused = control.pause_campaign(w.deps, TENANT, a)
    # THEN B holds the slot at once, and A resumed now waits behind it
    assert paused["status"] == "paused" and got(w, b)["status"] == "executing"
    assert control.resume_campaign(w.deps, TENANT, a)["status"] == "pending"
    work(w)
    # AND once B completed, A got the slot back and completed, each number sent once
    assert (got(w, a)["status"], got(w, b)["status"]) == ("completed", "completed")
    assert Counter(w.provider.calls) == Counter(NUMBERS)


def test_a_paused_retry_resumes_as_a_retry() -> None:
    # GIVEN a completed campaign with one failure, retried, then paused before its retry was sent
    w = slow_world()
    w.provider.script(NUMBERS[1], SendResult.refused(Outcome.PERMANENT, "30007", "carrier filtered"))
    cid = create(w, NUMBERS[:3])["id"]
    work(w)
    assert got(w, cid)["result"]["failed"] == 1
    campaigns.retry_campaign(w.deps, TENANT, cid)
    assert control.pause_campaign(w.deps, TENANT, cid)["status"] == "paused"
    work(w)  # the retry's chunk finds the campaign paused: nothing handed over
    calls = len(w.provider.calls)
    assert calls == 3
    # WHEN it is resumed
    assert control.resume_campaign(w.deps, TENANT, cid)["status"] == "retrying"
    work(w)
    # THEN only the failed number was sent again, and the retry completed
    assert w.provider.calls[calls:] == [NUMBERS[1]]
    assert got(w, cid)["status"] == "completed" and got(w, cid)["result"]["failed"] == 0


def test_cancel_while_sending_skips_only_what_was_not_handed_over_and_completes() -> None:
    # GIVEN a 10-recipient campaign sending one at a time, and campaign B pending behind it
    w = slow_world()
    cid = create(w, NUMBERS[:8])["id"]
    b = create(w, NUMBERS[8:], name="B")["id"]
    # WHEN the admin cancels it after the 4th hand-over
    after_sends(w, 4, lambda: control.cancel_campaign(w.deps, TENANT, cid))
    work(w)
    # THEN the 4 handed over keep their outcome, the other 4 are skipped as cancelled, and it completed
    final = got(w, cid)
    assert final["status"] == "completed" and final["cancel_requested_at"]
    assert (final["result"]["sent"], final["result"]["skipped"], final["result"]["pending"]) == (4, 4, 0)
    skipped = [r for r in w.recipients.range(cid, 0, 100) if r.status == RecipientStatus.SKIPPED]
    assert {r.error_code for r in skipped} == {"cancelled"} and len(skipped) == 4
    assert w.provider.calls[:4] == NUMBERS[:4] and not set(w.provider.calls) & {r.number for r in skipped}
    # AND the slot went on to B, which was sent
    assert got(w, b)["status"] == "completed"


def test_cancel_of_a_scheduled_campaign_lists_every_recipient_skipped_and_sends_none() -> None:
    # GIVEN a campaign scheduled for tomorrow
    w = slow_world()
    cid = create(w, NUMBERS[:3], send_time=SendScheduled("2026-12-02T08:00:00Z"))["id"]
    assert got(w, cid)["status"] == "scheduled" and cid in w.deps.scheduler.scheduled  # type: ignore[attr-defined]
    # WHEN it is cancelled
    answer = control.cancel_campaign(w.deps, TENANT, cid)
    # THEN it is completed at once, its schedule is gone, and its recipients are listed skipped (cancelled)
    assert answer["status"] == "completed" and answer["result"]["skipped"] == 3 and answer["result"]["total"] == 3
    assert cid not in w.deps.scheduler.scheduled  # type: ignore[attr-defined]
    assert {(r.status, r.error_code) for r in w.recipients.range(cid, 0, 10)} == {
        (RecipientStatus.SKIPPED, "cancelled")
    }
    # AND when its time comes, nothing starts
    w.advance(2 * 86400)
    lifecycle.tick(w.deps)
    work(w)
    assert w.provider.calls == [] and got(w, cid)["status"] == "completed"


def test_cancel_of_a_pending_campaign_takes_it_out_of_the_queue() -> None:
    # GIVEN A sending, B and C pending behind it
    w = slow_world()
    a = create(w, NUMBERS[:2], name="A")["id"]
    b = create(w, NUMBERS[2:4], name="B")["id"]
    c = create(w, NUMBERS[4:6], name="C")["id"]
    # WHEN B is cancelled
    assert control.cancel_campaign(w.deps, TENANT, b)["status"] == "completed"
    # THEN the queue holds C alone, and working it sends A and C, never B
    assert (w.campaigns.lock_of(TENANT) or {}).get("pending_queue") == [c]
    work(w)
    assert (got(w, a)["status"], got(w, c)["status"]) == ("completed", "completed")
    assert Counter(w.provider.calls) == Counter(NUMBERS[:2] + NUMBERS[4:6])


def test_cancel_of_a_paused_campaign_waits_for_its_uncertain_hand_over_to_settle() -> None:
    # GIVEN a campaign whose 2nd hand-over lost its answer (the provider kept it), paused after the 3rd
    w = slow_world()
    w.provider.script(NUMBERS[1], KEPT_NO_ANSWER)
    cid = create(w, NUMBERS[:6])["id"]
    after_sends(w, 3, lambda: control.pause_campaign(w.deps, TENANT, cid))
    work(w)
    assert statuses(w, cid) == Counter({"sent": 2, "sending": 1, "queued": 3})
    # WHEN it is cancelled
    assert control.cancel_campaign(w.deps, TENANT, cid)["status"] == "paused"
    # THEN the queued are skipped at once, and it completes once the tick has settled the uncertain one (found sent)
    assert statuses(w, cid) == Counter({"sent": 2, "sending": 1, "skipped": 3})
    w.advance(w.deps.settings.settle_seconds + 600 + sending.HANDOVER_MARGIN_SECONDS)
    lifecycle.tick(w.deps)
    work(w)
    lifecycle.tick(w.deps)
    assert got(w, cid)["status"] == "completed"
    assert statuses(w, cid) == Counter({"sent": 3, "skipped": 3})
    assert len(w.provider.calls) == 3


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [
        (control.pause_campaign, "draft", "campaign_not_sending"),
        (control.pause_campaign, "completed", "campaign_not_sending"),
        (control.pause_campaign, "paused", "campaign_not_sending"),
        (control.resume_campaign, "executing", "campaign_not_paused"),
        (control.resume_campaign, "completed", "campaign_not_paused"),
        (control.cancel_campaign, "draft", "campaign_not_cancellable"),
        (control.cancel_campaign, "completed", "campaign_not_cancellable"),
    ],
)
def test_an_action_the_state_does_not_allow_is_409_and_changes_nothing(
    action: Callable[..., Any], status: str, code: str
) -> None:
    # GIVEN a campaign in `status`
    w = slow_world()
    if status == "draft":
        cid = create(w, NUMBERS[:1], send_time=SendDraft())["id"]
    else:
        cid = create(w, NUMBERS[:2])["id"]
        if status == "completed":
            work(w)
        elif status == "paused":
            control.pause_campaign(w.deps, TENANT, cid)
    before = got(w, cid)
    assert before["status"] == status
    # WHEN the action is asked for
    with pytest.raises(ConflictError) as refused:
        action(w.deps, TENANT, cid)
    # THEN it is refused with its code and the campaign's status, and nothing changed
    assert refused.value.code == code and refused.value.details == [{"status": status}]
    assert got(w, cid) == before


def test_a_campaign_being_cancelled_cannot_be_paused_or_resumed_and_a_repeated_cancel_answers_it() -> None:
    # GIVEN a campaign cancelled after its 1st hand-over, whose answer was lost (the provider kept it)
    w = slow_world()
    w.provider.script(NUMBERS[0], KEPT_NO_ANSWER)
    cid = create(w, NUMBERS[:3])["id"]
    after_sends(w, 1, lambda: control.cancel_campaign(w.deps, TENANT, cid))
    work(w)
    # THEN it still sends (its uncertain hand-over is open), the two others skipped, nothing more handed over
    now = got(w, cid)
    assert now["status"] == "executing" and now["cancel_requested_at"] and now["result"]["skipped"] == 2
    assert w.provider.calls == [NUMBERS[0]]
    # AND pause and resume are refused, and a repeated cancel answers it as it is
    with pytest.raises(ConflictError) as paused:
        control.pause_campaign(w.deps, TENANT, cid)
    assert paused.value.code == "campaign_not_sending"
    with pytest.raises(ConflictError) as resumed:
        control.resume_campaign(w.deps, TENANT, cid)
    assert resumed.value.code == "campaign_not_paused"
    assert control.cancel_campaign(w.deps, TENANT, cid) == got(w, cid)
    # WHEN the tick settles the uncertain hand-over (the provider has it)
    w.advance(w.deps.settings.settle_seconds + 600 + sending.HANDOVER_MARGIN_SECONDS)
    lifecycle.tick(w.deps)
    work(w)
    lifecycle.tick(w.deps)
    # THEN the campaign completed: 1 sent, 2 skipped
    final = got(w, cid)
    assert final["status"] == "completed"
    assert (final["result"]["sent"], final["result"]["skipped"]) == (1, 2)


def test_a_dead_lettered_chunk_stops_its_campaign_with_an_alarm_and_retry_resumes_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a sending campaign whose chunk the queue gave up on (it failed on every delivery)
    w = slow_world()
    cid = create(w, NUMBERS[:3])["id"]
    (chunk,) = w.queue.take_chunks()
    w.queue.dead.append(("r1", chunk.to_json()))
    w.queue.dead.append(("r2", "not json"))
    # WHEN the minute tick runs
    counts = lifecycle.tick(w.deps)
    # THEN the campaign is stopped with chunk_dead_lettered, the dead letters are gone, and the metric the alarm
    # watches was written (CloudWatch's embedded metric format)
    stopped = got(w, cid)
    assert stopped["status"] == "stopped" and stopped["stop_reason"]["code"] == "chunk_dead_lettered"
    assert counts["dead_lettered"] == 1 and w.queue.dead == []
    assert '"CampaignsStopped":[1.0]' in capsys.readouterr().out
    # AND the tenant's slot is free, and a retry sends what was still queued, once
    assert not (w.campaigns.lock_of(TENANT) or {}).get("sending")
    assert campaigns.retry_campaign(w.deps, TENANT, cid)["status"] == "retrying"
    work(w)
    assert got(w, cid)["status"] == "completed" and Counter(w.provider.calls) == Counter(NUMBERS[:3])


def test_a_slow_numbers_chunk_is_handed_back_and_after_many_hand_backs_goes_on_as_a_fresh_message() -> None:
    # GIVEN a number of one message every 10 s (Twilio: 5 s of lead) and a campaign of 4
    w = world()
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None
    w.deps.channels.channels[(TENANT, CHANNEL)] = dataclasses.replace(channel, mps=0.1)  # type: ignore[attr-defined]
    cid = create(w, NUMBERS[:4])["id"]
    (chunk,) = w.queue.take_chunks()
    # WHEN its chunk is worked THEN one message goes and the chunk is handed back for ~7.5 s, nothing slept
    back = sending.handle_chunk(w.deps, chunk, lambda: 600.0)
    assert back == pytest.approx(10.0 - 2.5) and len(w.provider.calls) == 1
    assert statuses(w, cid) == Counter({"sent": 1, "queued": 3}) and w.queue.chunks == []
    # WHEN it is delivered again then (the same message) THEN the next one goes, and it is handed back again
    w.advance(back)
    assert sending.handle_chunk(w.deps, chunk, lambda: 600.0) is not None and len(w.provider.calls) == 2
    # AND once delivered RENEW_RECEIVES times, the rest goes on as a fresh message instead of a hand-back
    w.advance(10.0)
    assert sending.handle_chunk(w.deps, chunk, lambda: 600.0, receives=sending.RENEW_RECEIVES) is None
    (fresh,) = w.queue.take_chunks()
    assert fresh.start == 3 and statuses(w, cid) == Counter({"sent": 3, "queued": 1})
    w.advance(10.0)
    assert sending.handle_chunk(w.deps, fresh, lambda: 600.0) is None
    assert got(w, cid)["status"] == "completed" and Counter(w.provider.calls) == Counter(NUMBERS[:4])


def test_a_stalled_campaign_is_revived_once_per_stall_not_at_every_tick_while_its_revival_waits() -> None:
    # GIVEN a sending campaign dispatched, then silent for longer than STALL_SECONDS (its chunk never worked)
    w = slow_world()
    cid = create(w, NUMBERS[:2])["id"]
    w.queue.take_chunks()
    w.advance(lifecycle.STALL_SECONDS + 1)
    # WHEN the tick runs again and again before the revival's dispatch job has run (a backlog)
    revived = [lifecycle.tick(w.deps)["revived"] for _ in range(5)]
    # THEN it was revived once, with one dispatch job; and again only after another stall
    assert revived == [1, 0, 0, 0, 0] and len(w.queue.take_jobs()) == 1
    w.advance(lifecycle.STALL_SECONDS + 1)
    assert lifecycle.tick(w.deps)["revived"] == 1
    work(w)
    assert got(w, cid)["status"] == "completed" and Counter(w.provider.calls) == Counter(NUMBERS[:2])
