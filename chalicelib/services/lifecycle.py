"""A campaign's life once it is to send: start (taking the tenant's send lock or queueing), dispatch (write the
audience, queue its chunks), finish (hand the lock on), and the minute tick's repairs. The API, the sender, the
settler and the tick all move campaigns through here.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from chalicelib.adapters.providers.base import ProviderRules
from chalicelib.domain.campaign import Campaign
from chalicelib.domain.errors import AudienceWrittenError, CampaignMovedError
from chalicelib.domain.messages import Chunk, Job, parse_message
from chalicelib.domain.model import (
    COUNTER_SHARDS,
    SEND_INTERRUPTED,
    SENDING_STATUSES,
    CampaignStatus,
    RecipientStatus,
    Result,
    counter_shard,
    parse_utc,
    utc_iso,
)
from chalicelib.domain.pacing import send_groups
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.replies import thread_key
from chalicelib.services import audience, settle, webhooks
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of

# A sending campaign with no progress for this long is dispatched again (claims make that safe). Longer than the
# queue's visibility timeout (120 s: a dead sender's chunk is delivered again after it, the lease), so a chunk still
# in flight is not doubled for nothing; a handed-back chunk marks progress each time it wakes.
STALL_SECONDS = 5 * 60
METRICS_NAMESPACE = "msgcampaigns"
# A campaign marked sending whose chunks were never put on the queue (its starter died) is dispatched after this.
UNDISPATCHED_GRACE_SECONDS = 60
# A dispatcher marks its campaign this often while it writes the audience and queues the chunks; one silent for
# DISPATCH_SILENCE_SECONDS has died (its Lambda timed out) and the tick dispatches again. Without the mark, a dispatch
# longer than SQS FIFO's five-minute de-duplication window was started a second time and queued every chunk twice.
HEARTBEAT_SECONDS = 30
DISPATCH_SILENCE_SECONDS = 180
# Errors a retry does not resend, besides those the provider says mean "opted out": the message may have gone out.
NOT_RETRIED = frozenset({SEND_INTERRUPTED})
RETRYABLE_STATUSES = ("failed", "undelivered")


def retry_rules(deps: Deps, tenant_id: str, campaign: Campaign) -> ProviderRules | None:
    """The rules of the campaign's provider, which say which failures are opt-outs; None when its channel is gone."""
    channel = deps.channels.get(tenant_id, campaign.channel_id)
    return rules_of(deps, channel) if channel else None


def retryable(recipient: Recipient, rules: ProviderRules | None, now: float | None = None) -> bool:
    """A failure worth sending again: not an opt-out at the provider, not one that may have gone out, and (given
    `now`) not one the provider said to send again only later (Meta 131049). Without the channel (deleted since) the
    retry is accepted as before and the sender stops it with `channel_missing`."""
    code = str(recipient.error_code)
    if recipient.status not in RETRYABLE_STATUSES or code in NOT_RETRIED:
        return False
    if rules is None:
        return True
    if rules.error(code).opted_out:
        return False
    at = retryable_from(recipient, rules)
    return now is None or at is None or at <= now


def retryable_from(recipient: Recipient, rules: ProviderRules | None) -> float | None:
    """When (epoch seconds) a failure whose code means "not now" may be sent again; None for any other."""
    if rules is None or recipient.status not in RETRYABLE_STATUSES or not recipient.failed_at:
        return None
    info = rules.error(str(recipient.error_code))
    if info.opted_out or info.retry_after_seconds is None:
        return None
    return parse_utc(recipient.failed_at).timestamp() + info.retry_after_seconds


def schedule(deps: Deps, tenant_id: str, campaign_id: str, scheduled_at: str) -> None:
    try:
        deps.scheduler.schedule_start(
            tenant_id, campaign_id, datetime.fromisoformat(scheduled_at.replace("Z", "+00:00"))
        )
    except Exception:  # noqa: BLE001 - the minute tick starts it all the same
        log.exception(
            "could not create the start schedule; the minute tick will start the campaign",
            extra={"campaign_id": campaign_id},
        )


def begin_dispatch(deps: Deps, tenant_id: str, campaign_id: str, size: int, generation: int) -> None:
    """Dispatch a campaign that just started: here when small, else through a job on the queue (no API timeout)."""
    try:
        if size <= deps.settings.inline_dispatch_max:
            dispatch(deps, tenant_id, campaign_id)
        else:
            deps.queue.publish_job(Job("dispatch", tenant_id, campaign_id), f"dispatch:{campaign_id}:{generation}")
    except Exception:  # noqa: BLE001 - the campaign is stored and sending; the tick dispatches it
        log.exception(
            "could not dispatch; the minute tick will dispatch the campaign", extra={"campaign_id": campaign_id}
        )


def run_job(deps: Deps, job: Job) -> None:
    """A job from the send queue."""
    if job.kind == "dispatch":
        dispatch(deps, job.tenant_id, job.campaign_id)
    elif job.kind == "purge":
        deps.recipients.purge(job.campaign_id)
    elif job.kind == "settle":
        settle.settle_campaign(deps, job.tenant_id, job.campaign_id)
        finish_cancel(deps, job.tenant_id, job.campaign_id)
    elif job.kind == "cancel":
        finish_cancel(deps, job.tenant_id, job.campaign_id)
    elif job.kind == "report":
        webhooks.apply_deferred(deps, job)
    else:
        log.warning("unknown job dropped", extra={"kind": job.kind, "campaign_id": job.campaign_id})


# ---------------------------------------------------------------------------------------------- life of a campaign
def materialize(
    deps: Deps,
    campaign: Campaign,
    beat: Callable[[], None],
    statuses: tuple[str, ...] = ("executing", "retrying"),
    first_chunk: Callable[[int], None] | None = None,
) -> bool:
    """Write a sending campaign's recipients (resolving its phonebook or upload now); False when it had to stop.
    `statuses`: those it may be in when its counters are written (a cancel writes a paused or pending one's).
    `first_chunk(end)`: called once the first chunk's recipients are written, before the rest: it queues that
    chunk, so the first message goes out while the rest of a large audience is written."""
    tenant_id, campaign_id = campaign.tenant_id, campaign.campaign_id
    limit = deps.settings.max_recipients_per_campaign
    try:
        entries, report, count = audience.resolve_stream(deps, tenant_id, campaign.audience or {}, limit)
        if count > limit:
            raise audience.AudienceGoneError(
                "too_many_recipients", f"the audience has {count} recipients now; at most {limit} are allowed"
            )
    except audience.AudienceGoneError as exc:
        log.warning("audience unavailable; stopping", extra={"campaign_id": campaign_id, "code": exc.code})
        finish(deps, tenant_id, campaign_id, CampaignStatus.STOPPED, {"code": exc.code, "message": exc.message})
        return False
    chunk = int(campaign.chunk_size or deps.settings.chunk_size)
    shard_counts = [0] * COUNTER_SHARDS

    def rows() -> Iterator[Recipient]:
        for index, (number, variables) in enumerate(entries):
            shard = counter_shard(index, chunk)
            shard_counts[shard] += 1
            yield Recipient(
                index=index,
                number=number,
                status=RecipientStatus.QUEUED,
                shard=shard,
                tenant_id=tenant_id,
                channel_id=campaign.channel_id,
                variables=variables or {},
                thread=thread_key(tenant_id, campaign.channel_id, campaign.sender, number),
            )

    all_rows = rows()
    if first_chunk is not None and count > chunk:
        deps.recipients.create(campaign_id, itertools.islice(all_rows, chunk), on_batch=beat)
        first_chunk(chunk)
    deps.recipients.create(campaign_id, all_rows, on_batch=beat)
    # Another dispatcher may have counted them (the recipients it wrote are the same): its counters stand.
    with contextlib.suppress(AudienceWrittenError):
        deps.campaigns.mark_materialized(tenant_id, campaign_id, shard_counts, report, statuses)
    log.info("audience written", extra={"campaign_id": campaign_id, "recipients": sum(shard_counts)})
    return True


class _Heartbeat:
    """Marks a campaign as being dispatched (at most every HEARTBEAT_SECONDS), so the tick leaves it alone."""

    def __init__(self, deps: Deps, tenant_id: str, campaign_id: str) -> None:
        self._deps, self._tenant_id, self._campaign_id = deps, tenant_id, campaign_id
        self._last = float("-inf")

    def __call__(self) -> None:
        now = self._deps.clock.now()
        if now - self._last >= HEARTBEAT_SECONDS:
            self._last = now
            stamp = utc_iso(self._deps.clock.utcnow())
            # A sending campaign cannot be deleted; should it be gone, the dispatch's next read finds out.
            with contextlib.suppress(CampaignMovedError):
                self._deps.campaigns.set_fields(self._tenant_id, self._campaign_id, {"dispatching_at": stamp})


def dispatch(deps: Deps, tenant_id: str, campaign_id: str) -> None:
    """Write a sending campaign's audience if not yet done, and put its recipients on the queue in chunks."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None or campaign.status not in SENDING_STATUSES:
        return
    # The first mark comes with the first batch written or queued: a small audience (the common case) costs none.
    beat = _Heartbeat(deps, tenant_id, campaign_id)
    if not campaign.audience_written:
        generation = int(campaign.dispatch_gen)
        group = campaign.send_group

        def first_chunk(end: int) -> None:
            # The same message id as the dispatch below gives it: FIFO de-duplication drops that repeat.
            deps.queue.publish(
                [Chunk(tenant_id, campaign_id, 0, end, generation)],
                group=group,
                dedup_prefix=f"{campaign_id}:{generation}",
            )

        if not materialize(deps, campaign, beat, first_chunk=first_chunk):
            return
        campaign = deps.campaigns.get(tenant_id, campaign_id)
        if campaign is None or campaign.status not in SENDING_STATUSES:
            return
    total = int(campaign.total or 0)
    size = int(campaign.chunk_size or deps.settings.chunk_size)
    generation = int(campaign.dispatch_gen)
    retry_gen = int(campaign.retry_gen)
    if campaign.status == CampaignStatus.RETRYING and int(campaign.retry_dispatched) < retry_gen:
        todo = _requeue_failures(deps, campaign_id, retry_rules(deps, tenant_id, campaign), deps.clock.now())
        chunks = [
            Chunk(tenant_id, campaign_id, part[0], part[-1] + 1, generation, tuple(part))
            for part in (todo[i : i + size] for i in range(0, len(todo), size))
        ]
    else:
        chunks = [
            Chunk(tenant_id, campaign_id, start, min(start + size, total), generation)
            for start in range(0, total, size)
        ]
    channel = deps.channels.get(tenant_id, campaign.channel_id)
    groups = send_groups(float(channel.mps)) if channel is not None else 1
    by_group: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_group.setdefault(campaign.send_group_of(chunk.start, size, groups), []).append(chunk)
    for group, part in by_group.items():
        deps.queue.publish(part, group=group, dedup_prefix=f"{campaign_id}:{generation}", on_batch=beat)
    now = utc_iso(deps.clock.utcnow())
    marks = {"dispatched_gen": generation, "dispatched_at": now, "progress_at": now, "retry_dispatched": retry_gen}
    with contextlib.suppress(CampaignMovedError):  # gone meanwhile: its chunks find no campaign and do nothing
        deps.campaigns.set_fields(tenant_id, campaign_id, marks)
    log.info("campaign dispatched", extra={"campaign_id": campaign_id, "chunks": len(chunks), "generation": generation})
    if not chunks:
        finish_if_done(deps, tenant_id, campaign_id)


def _requeue_failures(deps: Deps, campaign_id: str, rules: ProviderRules | None, now: float) -> list[int]:
    """Queue a retry's recipients again; returns every index it must send (also those a crashed run requeued)."""
    failed: list[Recipient] = []
    todo: list[int] = []
    for r in deps.recipients.with_status(campaign_id, [*RETRYABLE_STATUSES, "queued", "sending"]):
        if r.status in ("queued", "sending"):
            todo.append(r.index)
        elif retryable(r, rules, now):
            failed.append(r)
    todo.extend(deps.recipients.requeue(campaign_id, failed))
    return sorted(todo)


def finish_if_done(deps: Deps, tenant_id: str, campaign_id: str) -> bool:
    """Complete a sending campaign once no recipient is pending, and start the next pending one."""
    return _finish_if_done(deps, deps.campaigns.get(tenant_id, campaign_id))


def _finish_if_done(deps: Deps, campaign: Campaign | None) -> bool:
    """finish_if_done for a campaign item the caller has just read."""
    if campaign is None or campaign.status not in SENDING_STATUSES:
        return False
    tenant_id, campaign_id = campaign.tenant_id, campaign.campaign_id
    if not campaign.audience_written or int(campaign.retry_dispatched) < int(campaign.retry_gen):
        return False  # its recipients (or a retry's) are not queued yet: nothing pending only means nothing written
    result = Result.from_buckets(deps.recipients.counters(campaign_id))
    if result.pending > 0:
        return False
    finish(deps, tenant_id, campaign_id, CampaignStatus.COMPLETED)
    return True


def finish(
    deps: Deps, tenant_id: str, campaign_id: str, final: CampaignStatus, reason: dict[str, Any] | None = None
) -> None:
    """End a sending campaign (completed or stopped) and hand the tenant's send lock on."""
    if reason:
        # If it finished meanwhile, finishing it below does nothing either.
        with contextlib.suppress(CampaignMovedError):
            deps.campaigns.set_fields(
                tenant_id, campaign_id, {"stop_reason": reason}, condition_status=["executing", "retrying"]
            )
    next_id = deps.campaigns.finish(tenant_id, campaign_id, final.value, utc_iso(deps.clock.utcnow()) or "")
    log.info("campaign finished", extra={"campaign_id": campaign_id, "status": final.value, "next": next_id})
    if final == CampaignStatus.STOPPED:
        # The alarm (infra/template.json CampaignsStoppedAlarm) watches this metric: someone must look, then retry.
        with single_metric(name="CampaignsStopped", unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE):
            pass
    if next_id:
        start_next(deps, tenant_id, next_id)


def start_next(deps: Deps, tenant_id: str, next_id: str) -> None:
    """The pending campaign the send lock was just handed to: dispatch it (or, cancelled meanwhile, finish that)."""
    nxt = deps.campaigns.get(tenant_id, next_id)
    if nxt is not None and nxt.cancel_requested_at:
        finish_cancel(deps, tenant_id, next_id)
        return
    size, generation = (int(nxt.audience_total or 0), nxt.dispatch_gen) if nxt else (0, 0)
    begin_dispatch(deps, tenant_id, next_id, size, generation)


# A recipient a cancel skipped: never handed to the provider.
CANCELLED = {"code": "cancelled", "message": "the campaign was cancelled before this message was handed over"}
# Where a cancel may be asked for, and where a cancel asked for is finished (not sending: no lock to hand on).
CANCELLABLE = frozenset(
    {
        CampaignStatus.PAUSED,
        CampaignStatus.PENDING,
        CampaignStatus.SCHEDULED,
        CampaignStatus.EXECUTING,
        CampaignStatus.RETRYING,
    }
)


def finish_cancel(deps: Deps, tenant_id: str, campaign_id: str) -> bool:
    """Carry out a cancel that was asked for: write the audience if it never was, skip every recipient still
    queued (`cancelled`), and complete the campaign once none is in flight. Safe to repeat, and repeated (by the
    sender that saw the cancel, the settler, the minute tick) until it is done; True once the campaign completed.

    Recipients a sender holds (`sending`) keep their hand-over: the provider may have them. The sender releases
    those it did not hand over, and this is run again after that."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None or not campaign.cancel_requested_at or campaign.status not in CANCELLABLE:
        return False
    if not campaign.audience_written:
        materialize(deps, campaign, lambda: None, (campaign.status,))  # counted while it is still as read
        campaign = deps.campaigns.get(tenant_id, campaign_id)
        if campaign is None or campaign.status not in CANCELLABLE:
            return False
    if campaign.audience_written:
        queued = list(deps.recipients.with_status(campaign_id, [RecipientStatus.QUEUED.value]))
        fields = {"error_code": CANCELLED["code"], "error_message": CANCELLED["message"], "claim_token": None}
        # A recipient claimed meanwhile loses its move here: its sender hands it over or releases it, then runs this.
        deps.recipients.move_many(campaign_id, [(r, RecipientStatus.SKIPPED, fields, None) for r in queued])
        if queued:
            log.info("cancelled recipients skipped", extra={"campaign_id": campaign_id, "recipients": len(queued)})
    if campaign.status in SENDING_STATUSES:
        return _finish_if_done(deps, campaign)
    if campaign.audience_written and Result.from_buckets(deps.recipients.counters(campaign_id)).pending > 0:
        return False  # a paused campaign's last hand-overs are in flight or uncertain: settled, then finished
    if campaign.status == CampaignStatus.SCHEDULED:
        with contextlib.suppress(Exception):  # a left-over schedule finds the campaign completed and does nothing
            deps.scheduler.cancel(campaign_id)
    try:
        deps.campaigns.close(tenant_id, campaign_id, campaign.status, utc_iso(deps.clock.utcnow()) or "")
    except CampaignMovedError as moved:
        # It started sending meanwhile (the lock handed to it, its schedule came): finish it as a sending one.
        if moved.campaign is not None and moved.campaign.status in SENDING_STATUSES:
            return finish_cancel(deps, tenant_id, campaign_id)
        return False
    log.info("campaign cancelled", extra={"campaign_id": campaign_id, "was": campaign.status})
    return True


def start_scheduled(deps: Deps, tenant_id: str, campaign_id: str) -> str | None:
    """Start a scheduled campaign whose time has come (idempotent: schedule and tick may both call it)."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SCHEDULED:
        return None
    if campaign.cancel_requested_at:
        finish_cancel(deps, tenant_id, campaign_id)
        return None
    now = deps.clock.utcnow()
    if campaign.scheduled_at and parse_utc(campaign.scheduled_at) > now:
        return None
    try:
        status: str | None = deps.campaigns.start(tenant_id, campaign_id, "scheduled", utc_iso(now) or "")
    except CampaignMovedError:
        status = None  # the schedule and the tick both started it; the other one did
    log.info("scheduled campaign started", extra={"campaign_id": campaign_id, "status": status})
    if status == CampaignStatus.EXECUTING:
        begin_dispatch(deps, tenant_id, campaign_id, int(campaign.audience_total or 0), 0)
    return status


def stop_dead_lettered(deps: Deps, limit: int = 100) -> int:
    """Stop the campaign of each message the send queue gave up on (a chunk or a dispatch that failed on every
    delivery: `stop_reason` chunk_dead_lettered, and an alarm), then drop the dead letter; `retry` resumes it,
    sending what is still queued. Returns how many campaigns were stopped."""
    stopped = 0
    seen = 0
    while seen < limit:
        letters = deps.queue.dead_letters()
        if not letters:
            break
        for receipt, body in letters:
            seen += 1
            try:
                message = parse_message(body)
            except (ValueError, KeyError, TypeError, AttributeError):
                log.error("unreadable dead letter dropped", extra={"body": body[:200]})
                deps.queue.drop_dead_letter(receipt)
                continue
            if isinstance(message, Job) and message.kind in ("purge", "settle", "cancel", "report"):
                # Repeated by the tick on its own (a cancel, a settle), harmless to lose (a purge), or a status
                # report that lost its races for the queue's hundred deliveries (its recipient keeps its status).
                log.error("dead-lettered job dropped", extra={"kind": message.kind, "campaign_id": message.campaign_id})
            else:
                campaign = deps.campaigns.get(message.tenant_id, message.campaign_id)
                if campaign is not None and campaign.sending:
                    finish(
                        deps,
                        message.tenant_id,
                        message.campaign_id,
                        CampaignStatus.STOPPED,
                        {
                            "code": "chunk_dead_lettered",
                            "message": "a part of the campaign failed on every try; retry sends what is left",
                        },
                    )
                    stopped += 1
            deps.queue.drop_dead_letter(receipt)
    return stopped


def tick(deps: Deps) -> dict[str, int]:
    """The minute tick: stop what was dead-lettered, start due campaigns the scheduler missed, finish, settle or
    revive sending ones."""
    now = deps.clock.utcnow()
    now_iso = utc_iso(now) or ""
    started = finished = revived = settling = 0
    try:
        dead = stop_dead_lettered(deps)
    except Exception:  # noqa: BLE001 - the rest of the tick matters more; the next tick reads them again
        log.exception("could not read the send queue's dead letters")
        dead = 0
    for tenant_id, campaign_id in deps.campaigns.due(now_iso):
        if start_scheduled(deps, tenant_id, campaign_id):
            started += 1
    for tenant_id, campaign_id in deps.campaigns.active():
        campaign = deps.campaigns.get(tenant_id, campaign_id)
        if campaign is None or campaign.status not in (*SENDING_STATUSES, CampaignStatus.PAUSED):
            continue
        if campaign.cancel_requested_at and finish_cancel(deps, tenant_id, campaign_id):
            finished += 1
            continue
        if campaign.status == CampaignStatus.PAUSED:
            # Its uncertain hand-overs are settled while it waits (a cancel of it completes once they are).
            if settle.queue_if_due(deps, tenant_id, campaign_id):
                settling += 1
            continue
        if _finish_if_done(deps, campaign):
            finished += 1
            continue
        if settle.queue_if_due(deps, tenant_id, campaign_id):
            settling += 1
        if _needs_dispatch(campaign, now):
            generation = int(campaign.dispatch_gen)
            if campaign.dispatched_gen is not None:
                generation += 1
                # Marked as progress: the next revival waits another STALL_SECONDS, so a backlog (the dispatch job
                # not run yet) does not pile one revival on another at every tick.
                with contextlib.suppress(CampaignMovedError):  # gone meanwhile: the job finds nothing to dispatch
                    deps.campaigns.set_fields(
                        tenant_id, campaign_id, {"dispatch_gen": generation, "progress_at": now_iso}
                    )
            # Through the queue: a job's message group runs one dispatch of a campaign at a time, and FIFO
            # de-duplication drops a repeat while the first (writing a large audience) is still running.
            deps.queue.publish_job(Job("dispatch", tenant_id, campaign_id), f"dispatch:{campaign_id}:{generation}")
            revived += 1
    return {"started": started, "finished": finished, "revived": revived, "settling": settling, "dead_lettered": dead}


def _age(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return float("inf")
    return (now - parse_utc(stamp)).total_seconds()


def _needs_dispatch(campaign: Campaign, now: datetime) -> bool:
    if campaign.dispatched_gen is None:
        if campaign.dispatching_at:
            # A dispatcher is (or was) writing a large audience: only one silent for a while has died.
            return _age(campaign.dispatching_at, now) > DISPATCH_SILENCE_SECONDS
        return _age(campaign.started_at, now) > UNDISPATCHED_GRACE_SECONDS
    return _age(campaign.progress_at, now) > STALL_SECONDS
