"""The sender: one chunk of one campaign, each recipient claimed before the provider is called."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import math
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from chalicelib.adapters.providers.base import Outcome, Provider, ProviderRules, SendResult
from chalicelib.domain.campaign import Campaign
from chalicelib.domain.errors import CampaignMovedError, RecipientMovedError
from chalicelib.domain.messages import Chunk
from chalicelib.domain.model import CampaignStatus, RecipientStatus, utc_iso
from chalicelib.domain.pacing import Taken, block_size, budget_key
from chalicelib.domain.phone import mask
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.templates import TemplateMessage
from chalicelib.services import conversation, lifecycle, optouts, views
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of
from chalicelib.services.template_send import for_recipient as _for_recipient
from chalicelib.services.template_send import pair_gap_wait, template_message

# Stop taking new recipients when less than this is left of the invocation; the rest goes back on the queue.
SAFETY_SECONDS = 20.0
MAX_TRANSIENT_TRIES = 3
MAX_BACKOFF_SECONDS = 8.0
# Sends of a chunk at once (threads), at most; and the answer time they are sized for (Meta's Graph API and Twilio's
# Messages API answer a send in 0.1 to 0.5 s): at 80/s, 32 await answers while a block's 40 slots wait their turn.
MAX_PARALLEL = 64
SEND_LATENCY_SECONDS = 0.4
# A dead sender's hand-over record is due this long after its invocation's deadline (time for its last call to end).
HANDOVER_MARGIN_SECONDS = 60.0
# How long the media URL handed to the provider works (capped in AWS by the Lambda role's session, about an hour+).
MEDIA_URL_SECONDS = 6 * 3600
# While a chunk sends, its campaign is read again at most this often: a pause or cancel holds within seconds.
CHECK_SECONDS = 2.0
# A sender sleeps at most this long for a slot of its number's budget; a longer gap hands the chunk back, to be woken.
IDLE_SECONDS = 1.0
# Without a lead (Meta), how long before their start slots may be taken (each message still goes at its slot).
TAKE_AHEAD_SECONDS = 0.25
# A chunk handed back this often goes on as a fresh message (the send queue dead-letters one received 100 times).
RENEW_RECEIVES = 50
# A recipient whose number is on the tenant's opt-out list when its chunk is sent: skipped, never handed over.
OPTED_OUT = SendResult(Outcome.PERMANENT, error_code="opted_out", error_message="the number is on the opt-out list")


class Pacer:
    """Spaces one chunk's hand-overs by its sender number's budget (chalicelib/domain/pacing.py), which every
    campaign and channel sending from the number shares (thread-safe).

    `acquire` takes the next slot: it returns 0 once the message may go (having slept at most IDLE_SECONDS for its
    slot), or, when the number's next free slot is further ahead, the seconds after which the chunk should be handed
    back to be woken (a sender never sleeps through a slow number's gaps). Slots are taken a block at a time (half a
    second's worth, never more than the chunk still has to send). With a `lead` (Twilio, which queues and sends at
    the number's rate), messages go up to `lead` seconds before their slot and the chunk comes back when half the
    lead is left, so the provider's queue never runs dry between wakes.
    """

    def __init__(
        self, deps: Deps, key: str, mps: float, lead: float, slots_per_message: int = 1, messages: int = 1
    ) -> None:
        self.mps = mps if mps > 0 else 1.0
        self._deps, self._key, self._lead = deps, key, max(0.0, lead)
        self._per_message = max(1, slots_per_message)
        self._remaining = max(1, messages)
        self._slots: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._next_free = 0.0  # the number's next free slot after this pacer's last take
        # Without a lead (Meta), a block holds no more slots than the chunk has sends in flight: a worker slower than
        # the number (its provider's answers late) falls no further behind its slots than one round of answers, so
        # it never sends a backlog of late slots at once while the next worker sends the following ones.
        self._block_cap = parallelism(self.mps) if self._lead == 0 else None
        self.come_back: float = 0.0

    def _block(self) -> int:
        """Slots to take at once: half a second's worth, no more than the chunk has left (nor the cap)."""
        size = min(self._remaining, block_size(self.mps))
        return size if self._block_cap is None else min(size, self._block_cap)

    def acquire(self) -> float:
        """0 when the caller may hand its message over now; else the seconds to hand the chunk back for."""
        clock = self._deps.clock
        while True:
            with self._lock:
                now = clock.now()
                wait = 0.0
                if not self._slots:
                    taken = self._take(now, self._block())
                    if taken.start is None:
                        wait = taken.wait
                        back = wait + self._lead / 2
                        if back > IDLE_SECONDS:
                            self.come_back = max(self.come_back, back)
                            return back
                slot = self._slots.popleft() if self._slots else None
                if slot is not None:
                    self._remaining = max(1, self._remaining - 1)
            if slot is None:
                clock.sleep(min(IDLE_SECONDS, max(wait, 0.01)))  # a busy number frees slots within the second
                continue
            early = slot - self._lead - clock.now()
            if early > 0:
                clock.sleep(early)
            return 0.0

    def reserve(self, wanted: int) -> int:
        """Take up to `wanted` messages' slots now, as far as the lead allows; how many were taken (0: none is free
        within the lead, and `come_back` says when one will be)."""
        with self._lock:
            now = self._deps.clock.now()
            while len(self._slots) < wanted:
                taken = self._take(now, min(wanted - len(self._slots), block_size(self.mps)))
                if taken.start is None:
                    if not self._slots:
                        self.come_back = max(self.come_back, taken.wait + self._lead / 2)
                    break
                if self._slots[-1] > now + self._lead:
                    break  # the block reached past the lead: take no more
            return len(self._slots)

    def _take(self, now: float, count: int) -> Taken:
        """Take `count` messages' slots of the number's budget into this pacer's own (the caller holds the lock)."""
        # Without a lead, slots are still taken up to TAKE_AHEAD_SECONDS before they start (each is sent at its
        # start), so the next block is held before the last one ends: a late wake-up costs the number none of its rate.
        ahead = self._lead or TAKE_AHEAD_SECONDS
        taken = self._deps.pace.take(self._key, now, count * self._per_message, self.mps, ahead)
        if taken.start is not None:
            step = taken.interval * self._per_message
            self._slots.extend(taken.start + i * step for i in range(count))
            self._next_free = max(self._next_free, taken.start + count * step)
        return taken

    def drained_in(self) -> float:
        """Seconds until half the lead handed over ahead of the number's next free slot is left (when to come
        back), as far as this pacer's own takes tell."""
        with self._lock:
            free = self._next_free
        return max(1.0, free - self._deps.clock.now() - self._lead / 2)

    def throttled(self) -> None:
        """The provider said "slower" (not about one recipient): the number's budget slows down for everyone."""
        with self._lock:
            self._slots.clear()
        self._deps.pace.slow(self._key, self._deps.clock.now())


def status_callback_url(
    deps: Deps,
    rules: ProviderRules,
    channel_id: str,
    campaign_id: str,
    index: int,
    attempt: int = 1,
    shard: int | None = None,
) -> str:
    """The status callback the provider calls for one recipient's attempt (query keys sorted: the signature covers
    them). The attempt tells a late report about an earlier attempt's message apart after a retry; the counter
    shard lets the common report (sent -> delivered) be recorded in one write, without reading the recipient."""
    params = {"a": str(attempt), "c": campaign_id, "r": str(index)}
    if shard is not None:
        params["s"] = str(shard)
    query = urlencode(sorted(params.items()))
    return f"{deps.settings.webhook_base}{rules.webhook_path(channel_id, 'status')}?{query}"


def handle_chunk(deps: Deps, chunk: Chunk, time_left: Callable[[], float], receives: int = 1) -> float | None:
    """Send a chunk; safe to run twice for the same message (claims), and to be cut short (the rest is requeued).

    Returns None when the chunk is done with, or the seconds after which its message is to be delivered again: the
    sender number's budget has no slot for that long, and the sender hands back rather than sleep (its recipients
    not handed over are queued again, and the redelivered chunk sends them). `receives`: how often the queue has
    delivered this message; past RENEW_RECEIVES the rest goes on as a fresh message instead (each hand-back is a
    receive, and the queue dead-letters a message received too often)."""
    campaign = deps.campaigns.get(chunk.tenant_id, chunk.campaign_id)
    if campaign is None or not campaign.may_send:
        if campaign is not None and campaign.cancel_requested_at:
            lifecycle.finish_cancel(deps, chunk.tenant_id, chunk.campaign_id)
        return None
    channel = deps.channels.get(chunk.tenant_id, campaign.channel_id)
    creds = deps.secrets.get(chunk.tenant_id, campaign.channel_id) if channel else None
    if channel is None or creds is None:
        lifecycle.finish(
            deps,
            chunk.tenant_id,
            chunk.campaign_id,
            CampaignStatus.STOPPED,
            {"code": "channel_missing", "message": "the campaign's channel or its credentials are gone"},
        )
        return None
    rules = rules_of(deps, channel)
    template: TemplateMessage | None = None
    if campaign.content.get("type") == "template":
        # Read at each chunk's start: a template paused or disabled meanwhile stops the campaign before any send.
        template = template_message(deps, campaign)
        if template is None:
            return None
    text = campaign.content.get("text")
    media_urls: tuple[str, ...] = ()
    if campaign.content.get("type") == "file":
        # Presigned at send time: the provider fetches the media within minutes of accepting the message.
        key = views.media_key_of(chunk.tenant_id, campaign.content)
        media_urls = (deps.blobs.presigned_get(key, MEDIA_URL_SECONDS),)
    gap_wait = pair_gap_wait(deps, campaign, rules)
    if gap_wait > 0:
        if time_left() - gap_wait < SAFETY_SECONDS:
            _requeue(deps, chunk, campaign, chunk.start if chunk.indexes is None else min(chunk.indexes, default=0))
            return None
        deps.clock.sleep(gap_wait)
    wanted = set(chunk.indexes) if chunk.indexes is not None else None
    # Only queued recipients are sent. One `sending` is held by a live worker, or its hand-over is uncertain and is
    # settled from its hand-over record (never resent from here).
    todo = [
        r
        for r in deps.recipients.range(chunk.campaign_id, chunk.start, chunk.end)
        if (wanted is None or r.index in wanted) and r.status == RecipientStatus.QUEUED
    ]
    limits = rules.limits
    pacer = Pacer(
        deps,
        budget_key(channel.provider, campaign.sender),
        float(channel.mps) * limits.rate_share,
        limits.queue_lead_seconds,
        # Twilio's rate counts SMS segments: a 3-segment message takes 3 slots of the number's budget.
        int(campaign.segments) if limits.segmented else 1,
        len(todo),
    )
    # With a lead (Twilio), the slots are taken first and only as many recipients are claimed: a slow number hands
    # over its lead's worth per wake, and claiming (then releasing) the whole chunk at every wake would cost two
    # writes per recipient per wake.
    most = pacer.reserve(len(todo)) if todo and limits.queue_lead_seconds > 0 else len(todo)
    more = len(todo) > most
    rest_from = todo[most].index if more else chunk.end
    todo = todo[:most]
    if more and not todo:
        return max(1.0, pacer.come_back)  # no slot within the lead: nothing claimed, woken when there is
    token = uuid.uuid4().hex
    if todo:
        # Written before the claim: should this worker die from here on, the record names the recipients that may
        # be at the provider, due for settling once this invocation must have ended (Lambda stops it at its timeout).
        due = deps.clock.now() + time_left() + HANDOVER_MARGIN_SECONDS
        deps.handovers.open(chunk.campaign_id, token, [r.index for r in todo], due)
    # One claim for the chunk (a transaction per 100 recipients), not one per recipient.
    claimed = deps.recipients.claim(chunk.campaign_id, todo, token, deps.clock.now()) if todo else []
    # Read once per chunk, after the claim: a number opted out since is never sent (nor retried: it is skipped).
    opted = optouts.opted_out(deps, chunk.tenant_id, [r.number for r in claimed]) if claimed else set()
    outcomes = OutcomeBuffer(deps, campaign, token)
    halt = threading.Event()
    providers = threading.local()
    may_send = StillSending(deps, campaign)

    def work(recipient: Recipient) -> tuple[str, int]:
        index = recipient.index
        if halt.is_set():
            return "skipped", index
        if time_left() < SAFETY_SECONDS:
            halt.set()
            return "requeue", index
        if not may_send():
            # Paused, cancelled or finished meanwhile: hand over nothing more. Resume queues the campaign again.
            halt.set()
            return "held", index
        if recipient.number in opted:
            outcomes.add(recipient, RecipientStatus.SKIPPED, OPTED_OUT)
            return "done", index
        if not hasattr(providers, "provider"):
            providers.provider = deps.provider_for(channel, creds)
        message: TemplateMessage | None = None
        if template is not None:
            filled = _for_recipient(template, campaign, recipient)
            if isinstance(filled, SendResult):
                outcomes.add(recipient, RecipientStatus.SKIPPED, filled)  # an empty cell and no default: never sent
                return "done", index
            message = filled
        verdict = _send_one(
            deps,
            chunk,
            campaign,
            recipient,
            providers.provider,
            rules,
            pacer,
            (text, media_urls, message),
            time_left,
            outcomes,
        )
        if verdict != "done":
            halt.set()
        return verdict, index

    verdicts: list[tuple[str, int]] = []
    try:
        # Several sends in flight at once, so a provider's latency does not cap the rate below mps; the pacer
        # still spaces their starts 1/mps apart.
        with ThreadPoolExecutor(max_workers=parallelism(pacer.mps), thread_name_prefix="send") as pool:
            verdicts = list(pool.map(work, claimed))
    finally:
        outcomes.flush()
    unsent = [i for v, i in verdicts if v != "done"]
    for index in unsent:
        # Sent nothing: queued again, attempt not counted (unless a status report or a settler has it now).
        with contextlib.suppress(RecipientMovedError):
            deps.recipients.release(chunk.campaign_id, index, token)
    if todo:
        # Every claimed recipient now has an outcome except the uncertain ones: the record keeps those alone, due
        # once the provider's status callback has had time to settle them.
        deps.handovers.narrow(
            chunk.campaign_id, token, outcomes.uncertain(), deps.clock.now() + deps.settings.settle_seconds
        )
    if any(v in ("stop", "held") for v, _ in verdicts):
        if any(v == "held" for v, _ in verdicts):
            # Held by a cancel: what this chunk released is skipped now (a pause leaves it queued for resume).
            lifecycle.finish_cancel(deps, chunk.tenant_id, chunk.campaign_id)
        return None
    later = any(v == "later" for v, _ in verdicts)
    if more and not unsent:
        # All it claimed went; the rest of the chunk waits for the number's next slots (the lead drained by half).
        later = True
        pacer.come_back = max(pacer.come_back, pacer.drained_in())
    if unsent and not later:
        _requeue(deps, chunk, campaign, min(unsent))
        return None
    try:
        deps.campaigns.set_fields(chunk.tenant_id, chunk.campaign_id, {"progress_at": utc_iso(deps.clock.utcnow())})
    except CampaignMovedError:
        return None  # finished and deleted meanwhile: nothing is left to finish
    if later:
        if receives >= RENEW_RECEIVES and (unsent or more):
            # A very slow number's chunk: carry on as a fresh message (delivered at once, then handed back anew).
            _requeue(deps, chunk, campaign, min([*unsent, rest_from]))
            return None
        log.info("handed back until the number has slots", extra={"campaign_id": chunk.campaign_id})
        return max(1.0, pacer.come_back)
    lifecycle.finish_if_done(deps, chunk.tenant_id, chunk.campaign_id)
    return None


class StillSending:
    """Whether the chunk's campaign may still send, read again at most every CHECK_SECONDS (thread-safe)."""

    def __init__(self, deps: Deps, campaign: Campaign) -> None:
        self._deps = deps
        self._tenant_id, self._campaign_id = campaign.tenant_id, campaign.campaign_id
        self._lock = threading.Lock()
        self._checked = deps.clock.now()
        self._ok = campaign.may_send

    def __call__(self) -> bool:
        with self._lock:
            now = self._deps.clock.now()
            if self._ok and now - self._checked >= CHECK_SECONDS:
                self._checked = now
                current = self._deps.campaigns.get(self._tenant_id, self._campaign_id)
                self._ok = current is not None and current.may_send
            return self._ok


class OutcomeBuffer:
    """Send outcomes written in batches: one transaction records many recipients and their counts (thread-safe).

    A batch is written when it holds FLUSH_SIZE outcomes or its oldest is FLUSH_SECONDS old, and at the chunk's
    end. If the worker dies before a write, its recipients stay claimed (`sending`) under the chunk's hand-over
    record, and are settled by the provider's status callback or its records, never resent blindly. Uncertain
    hand-overs are not written here: they stay claimed, and the chunk's hand-over record keeps them.
    """

    FLUSH_SIZE = 25
    FLUSH_SECONDS = 0.5

    def __init__(self, deps: Deps, campaign: Campaign, token: str) -> None:
        self._deps = deps
        self._campaign = campaign
        self._campaign_id = campaign.campaign_id
        self._token = token
        self._lock = threading.Lock()
        self._pending: list[tuple[Recipient, RecipientStatus, dict[str, Any], str | None]] = []
        self._oldest = 0.0
        self._uncertain: dict[int, dict[str, str]] = {}

    def add_uncertain(self, claimed: Recipient, result: SendResult) -> None:
        """Remember a hand-over whose answer was lost: the recipient stays claimed until it is settled."""
        with self._lock:
            self._uncertain[claimed.index] = {
                "code": result.error_code or "provider_no_answer",
                "message": result.error_message or "",
            }

    def uncertain(self) -> dict[int, dict[str, str]]:
        """The uncertain hand-overs so far, by recipient index."""
        with self._lock:
            return dict(self._uncertain)

    def add(self, claimed: Recipient, to: RecipientStatus, result: SendResult) -> None:
        """Remember one outcome; write the batch when it is due."""
        now = utc_iso(self._deps.clock.utcnow())
        fields: dict[str, Any] = {"claim_token": None}
        if to == RecipientStatus.SENT:
            fields.update(provider_message_id=result.message_id, sent_at=now)
        elif to == RecipientStatus.SKIPPED:
            # Never handed over: the claim's attempt is not one.
            fields.update(error_code=result.error_code, error_message=result.error_message or "")
            fields["attempts"] = max(claimed.attempts - 1, 0)
        else:
            fields.update(error_code=result.error_code, error_message=result.error_message or "", failed_at=now)
        batch = None
        with self._lock:
            if not self._pending:
                self._oldest = self._deps.clock.now()
            self._pending.append((claimed, to, fields, result.message_id))
            if len(self._pending) >= self.FLUSH_SIZE or self._deps.clock.now() - self._oldest >= self.FLUSH_SECONDS:
                batch, self._pending = self._pending, []
        if batch:
            self._write(batch)

    def flush(self) -> None:
        """Write whatever is waiting."""
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self._write(batch)

    def _write(self, batch: list[tuple[Recipient, RecipientStatus, dict[str, Any], str | None]]) -> None:
        recipients = self._deps.recipients
        lost = recipients.move_many(self._campaign_id, [(c, to, f, self._token) for c, to, f, _ in batch])
        gone = set(lost)
        accepted = [
            (claimed, message_id, str(fields.get("sent_at") or ""))
            for pos, (claimed, to, fields, message_id) in enumerate(batch)
            if to == RecipientStatus.SENT and pos not in gone
        ]
        conversation.sent(self._deps, self._campaign, accepted)
        for pos in lost:
            claimed, _, _, message_id = batch[pos]
            # The provider's status callback got here first and moved the recipient on; keep its status, add the id.
            if message_id:
                recipients.set_fields(
                    self._campaign_id,
                    claimed.index,
                    {"provider_message_id": message_id},
                    only_if_missing="provider_message_id",
                )


def parallelism(mps: float) -> int:
    """A chunk's sends at once (threads), 1 to MAX_PARALLEL: those awaiting the provider's answer (mps x
    SEND_LATENCY_SECONDS), and those holding the slots of a block taken (all but its first, which goes at once),
    each asleep until its slot. Fewer, and the answer time caps the rate below mps (measured: 32 threads at 80/s
    with 200 ms answers reached 93 %, 64 reached the full rate)."""
    return max(1, min(MAX_PARALLEL, math.ceil(mps * SEND_LATENCY_SECONDS) + block_size(mps) - 1))


def _send_one(
    deps: Deps,
    chunk: Chunk,
    campaign: Campaign,
    claimed: Recipient,
    provider: Provider,
    rules: ProviderRules,
    pacer: Pacer,
    what: tuple[str | None, tuple[str, ...], TemplateMessage | None],
    time_left: Callable[[], float],
    outcomes: OutcomeBuffer,
) -> str:
    """Send and record one claimed recipient. Returns "done", "requeue" (not sent: give the rest back), "later" (not
    sent: hand the chunk back until the number's budget has slots) or "stop"."""
    text, media_urls, template = what
    index = claimed.index
    transient_tries = 0
    backoff = 0.5
    while True:
        callback = status_callback_url(
            deps,
            rules,
            campaign.channel_id,
            chunk.campaign_id,
            index,
            claimed.attempts,
            claimed.shard,
        )
        back = pacer.acquire()
        if back > 0:
            return "later"  # no slot of the number's budget for a while: the chunk is handed back, then woken
        result = provider.send(
            to=claimed.number,
            sender=campaign.sender,
            text=None if template is not None else text,
            media_urls=() if template is not None else media_urls,
            status_callback=callback,
            template=template,
        )
        if result.outcome == Outcome.ACCEPTED:
            outcomes.add(claimed, RecipientStatus.SENT, result)
            return "done"
        if result.outcome == Outcome.UNCERTAIN:
            # The provider may have it: never call again for this attempt. Its callback or its records settle it.
            outcomes.add_uncertain(claimed, result)
            log.warning(
                "hand-over uncertain; left to settle",
                extra={"campaign_id": chunk.campaign_id, "index": index, "code": result.error_code},
            )
            return "done"
        if result.outcome == Outcome.TRANSIENT:
            transient_tries += 1
        if result.outcome == Outcome.PERMANENT or (
            result.outcome == Outcome.TRANSIENT and transient_tries >= MAX_TRANSIENT_TRIES
        ):
            outcomes.add(claimed, RecipientStatus.FAILED, result)
            if result.outcome == Outcome.PERMANENT:
                conversation.refused(deps, campaign, claimed, result.error_code)
            log.info(
                "recipient failed",
                extra={
                    "campaign_id": chunk.campaign_id,
                    "index": index,
                    "to": mask(claimed.number),
                    "code": result.error_code,
                },
            )
            return "done"
        if result.outcome in (Outcome.ACCOUNT, Outcome.TEMPLATE):
            # Not this recipient's fault: it goes back to queued (the chunk releases it), so a retry sends it.
            log.error(
                "provider refused the account or the template; stopping the campaign",
                extra={"campaign_id": chunk.campaign_id, "code": result.error_code, "outcome": result.outcome.value},
            )
            code = str(result.error_code)
            reason = rules.error(code).stop_reason or f"provider_{code}"
            lifecycle.finish(
                deps,
                chunk.tenant_id,
                chunk.campaign_id,
                CampaignStatus.STOPPED,
                {"code": reason, "message": result.error_message or ""},
            )
            return "stop"
        if result.outcome == Outcome.TRANSIENT:
            # It provably never left: the next call is a new attempt, with its own callback URL.
            try:
                attempt = deps.recipients.next_attempt(chunk.campaign_id, index, str(claimed.claim_token))
            except RecipientMovedError:
                return "done"  # no longer ours to send
            claimed = dataclasses.replace(claimed, attempts=attempt)
        if result.outcome == Outcome.THROTTLED and result.retry_after is None:
            # "Slower" about the number, not this recipient (Meta's 131056 comes with its own wait): the number's
            # budget slows for every campaign sending from it, and its slots space the next tries.
            pacer.throttled()
            log.info(
                "provider asked us to slow down", extra={"campaign_id": chunk.campaign_id, "code": result.error_code}
            )
            continue
        # Throttled for this recipient, or never sent: wait, then try the same recipient again.
        wait = min(result.retry_after or backoff, MAX_BACKOFF_SECONDS)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        if time_left() - wait < SAFETY_SECONDS:
            return "requeue"
        log.info(
            "provider asked us to slow down" if result.outcome == Outcome.THROTTLED else "provider unreachable; again",
            extra={"campaign_id": chunk.campaign_id, "index": index, "code": result.error_code, "wait": wait},
        )
        deps.clock.sleep(wait)


def _requeue(deps: Deps, chunk: Chunk, campaign: Campaign, from_index: int) -> None:
    indexes = None if chunk.indexes is None else tuple(i for i in chunk.indexes if i >= from_index)
    rest = Chunk(chunk.tenant_id, chunk.campaign_id, from_index, chunk.end, chunk.generation, indexes)
    deps.queue.publish(
        [rest],
        group=campaign.send_group,
        dedup_prefix=f"{chunk.campaign_id}:requeue:{uuid.uuid4().hex}",
    )
    log.info("chunk requeued", extra={"campaign_id": chunk.campaign_id, "from": from_index, "end": chunk.end})
