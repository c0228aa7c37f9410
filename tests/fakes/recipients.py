"""In-memory RecipientRepo and HandoverRepo: the same operations, conditions and named errors as
adapters/dynamo/recipients.py and adapters/handovers.py, over a FakeTable shared with FakeCampaigns."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.recipients import Move, counter_sk, thread_message
from chalicelib.adapters.dynamo.table import campaign_pk, recipient_sk
from chalicelib.adapters.handovers import HANDOVER_PREFIX, Handover, handover_from_item, handover_sk
from chalicelib.domain.errors import AlreadyRespondedError, RecipientMovedError
from chalicelib.domain.model import BUCKET_OF, COUNTER_SHARDS, RecipientStatus
from chalicelib.domain.recipient import Recipient, RecipientPage, recipient_from, recipient_values, requeue_changes
from chalicelib.domain.replies import RESPONDED, ThreadMessage
from tests.fakes.items import FakeTable


def _as_found(item: Mapping[str, Any] | None) -> Recipient | None:
    """The recipient a lost condition found, as the winner left it (a copy), if there was one."""
    return recipient_from(copy.deepcopy(item)) if item is not None else None


class FakeRecipients:
    """A campaign's recipients and counters, in memory."""

    def __init__(self, table: FakeTable | None = None) -> None:
        self.table = table or FakeTable()

    def _raw(self, campaign_id: str, index: int) -> dict[str, Any] | None:
        return self.table.raw(campaign_pk(campaign_id), recipient_sk(index))

    # ------------------------------------------------------------------ reads
    def get(self, campaign_id: str, index: int) -> Recipient | None:
        """One recipient."""
        item = self.table.get(campaign_pk(campaign_id), recipient_sk(index))
        return recipient_from(item) if item is not None else None

    def range(self, campaign_id: str, start: int, end: int) -> list[Recipient]:
        """Recipients with index in [start, end)."""
        if end <= start:
            return []
        items = self.table.query(campaign_pk(campaign_id), "R#", between=(recipient_sk(start), recipient_sk(end - 1)))
        return [recipient_from(i) for i in items]

    def with_status(self, campaign_id: str, statuses: Sequence[str]) -> Iterator[Recipient]:
        """A campaign's recipients in one of `statuses`, in index order."""
        wanted = set(statuses)
        items = self.table.query(campaign_pk(campaign_id), "R#")
        return iter([recipient_from(i) for i in items if i.get("status") in wanted])

    def page(
        self, campaign_id: str, status: str | Collection[str] | None, limit: int, cursor: str | None
    ) -> RecipientPage:
        """A page of a campaign's recipients in list order."""
        page = self.table.page(campaign_pk(campaign_id), "R#", limit=limit, cursor=cursor, forward=True, status=status)
        return RecipientPage([recipient_from(i) for i in page.items], page.next_cursor)

    def counters(self, campaign_id: str) -> list[dict[str, Any]]:
        """The campaign's counter shards."""
        return self.table.query(campaign_pk(campaign_id), "C#")

    # ------------------------------------------------------------------ writes
    def create(
        self, campaign_id: str, recipients: Iterable[Recipient], on_batch: Callable[[], None] | None = None
    ) -> None:
        """Create queued recipients, each only if it does not exist yet."""
        pk = campaign_pk(campaign_id)
        for count, recipient in enumerate(recipients, start=1):
            sk = recipient_sk(recipient.index)
            with self.table.lock:
                if self.table.raw(pk, sk) is None:
                    self.table.put({"pk": pk, "sk": sk, **recipient_values(recipient)})
            if count % 100 == 0 and on_batch is not None:
                on_batch()

    def purge(self, campaign_id: str) -> None:
        """Remove a campaign's recipients, counters and hand-over records."""
        pk = campaign_pk(campaign_id)
        with self.table.lock:
            for item in self.table.query(pk):
                self.table.delete(pk, item["sk"])

    def claim(self, campaign_id: str, recipients: Sequence[Recipient], token: str, now: float) -> list[Recipient]:
        """Claim queued recipients for sending; those claimed, as claimed."""
        claimed = []
        with self.table.lock:
            for r in recipients:
                item = self._raw(campaign_id, r.index)
                if item is None or item.get("status") != "queued":
                    continue
                item.update(
                    status="sending", claim_token=token, claimed_at=now, attempts=int(item.get("attempts", 0)) + 1
                )
                claimed.append(r.claimed(token, now))
        return claimed

    def _held(self, campaign_id: str, index: int, token: str) -> dict[str, Any]:
        item = self._raw(campaign_id, index)
        if item is None or item.get("status") != "sending" or item.get("claim_token") != token:
            raise RecipientMovedError("the claim is no longer ours", _as_found(item))
        return item

    def release(self, campaign_id: str, index: int, token: str, *, attempted: bool = False) -> None:
        """Give back a claim: queued again (with its attempt back unless `attempted`)."""
        with self.table.lock:
            item = self._held(campaign_id, index, token)
            item["status"] = "queued"
            item.pop("claim_token", None)
            item.pop("claimed_at", None)
            item["attempts"] = int(item.get("attempts", 0)) - (0 if attempted else 1)

    def next_attempt(self, campaign_id: str, index: int, token: str) -> int:
        """Count one more attempt on a recipient we still hold; its new number."""
        with self.table.lock:
            item = self._held(campaign_id, index, token)
            item["attempts"] = int(item.get("attempts", 0)) + 1
            return int(item["attempts"])

    def _count(self, campaign_id: str, shard: int, old: str, new: str) -> None:
        if old == new:
            return
        pk, sk = campaign_pk(campaign_id), counter_sk(shard)
        counter = self.table.raw(pk, sk)
        if counter is None:
            self.table.put({"pk": pk, "sk": sk})
            counter = self.table.raw(pk, sk) or {}
        counter[old] = int(counter.get(old, 0)) - 1
        counter[new] = int(counter.get(new, 0)) + 1

    def _apply(self, campaign_id: str, move: Move) -> None:
        recipient, to_status, fields, token = move
        item = self._raw(campaign_id, recipient.index)
        if (
            item is None
            or item.get("status") != recipient.status.value
            or (token is not None and item.get("claim_token") != token)
        ):
            raise RecipientMovedError("the recipient changed since it was read", _as_found(item))
        item["status"] = to_status.value
        for field, value in fields.items():
            if value is None:
                item.pop(field, None)
            else:
                item[field] = copy.deepcopy(value)
        old, new = BUCKET_OF[recipient.status], BUCKET_OF[to_status]
        self._count(campaign_id, recipient.shard, old, new)

    def move(
        self,
        campaign_id: str,
        recipient: Recipient,
        to_status: RecipientStatus,
        fields: Mapping[str, Any],
        *,
        claim_token: str | None = None,
    ) -> None:
        """Move a recipient from the status it was read with, counting it."""
        with self.table.lock:
            self._apply(campaign_id, (recipient, to_status, fields, claim_token))

    def move_many(self, campaign_id: str, moves: Sequence[Move]) -> list[int]:
        """Several moves; the positions that lost."""
        lost = []
        with self.table.lock:
            for pos, move in enumerate(moves):
                try:
                    self._apply(campaign_id, move)
                except RecipientMovedError:
                    lost.append(pos)
        return lost

    def requeue(self, campaign_id: str, recipients: Sequence[Recipient]) -> list[int]:
        """Move failed recipients back to queued for a retry; the indexes moved."""
        moves: list[Move] = [
            (
                r,
                RecipientStatus.QUEUED,
                requeue_changes(r),
                None,
            )
            for r in recipients
        ]
        lost = set(self.move_many(campaign_id, moves))
        return [r.index for pos, r in enumerate(recipients) if pos not in lost]

    def deliver_sent(
        self,
        campaign_id: str,
        index: int,
        shard: int,
        tenant_id: str,
        channel_id: str,
        attempt: int,
        message_id: str,
        now: str,
    ) -> None:
        """Move a recipient from sent to delivered if it is exactly that sent message."""
        with self.table.lock:
            item = self._raw(campaign_id, index)
            if not 0 <= shard < COUNTER_SHARDS:
                raise RecipientMovedError("no such counter shard")
            expected = {
                "status": "sent",
                "tenant_id": tenant_id,
                "channel_id": channel_id,
                "attempts": attempt,
                "provider_message_id": message_id,
                "shard": shard,
            }
            if item is None or any(item.get(k) != v for k, v in expected.items()):
                raise RecipientMovedError("the recipient is not that sent message", _as_found(item))
            item.update(status="delivered", delivered_at=now)
            self._count(campaign_id, shard, BUCKET_OF[RecipientStatus.SENT], BUCKET_OF[RecipientStatus.DELIVERED])

    def set_fields(self, campaign_id: str, index: int, fields: Mapping[str, Any], only_if_missing: str) -> bool:
        """Set fields on a recipient if `only_if_missing` is not there yet; whether it did."""
        with self.table.lock:
            item = self._raw(campaign_id, index)
            if item is None or only_if_missing in item:
                return False
            item.update(copy.deepcopy(dict(fields)))
            return True

    # ------------------------------------------------------------------ replies
    def in_thread(self, thread: str, since: str, until: str) -> list[ThreadMessage]:
        """The campaign messages of a thread sent within [since, until], newest first (gsi2 is sparse: only
        recipients with both `thread` and `sent_at` are in it)."""
        found = [
            i
            for i in self.table.scan()
            if i.get("thread") == thread and "sent_at" in i and since <= str(i["sent_at"]) <= until
        ]
        found.sort(key=lambda i: (str(i["sent_at"]), i["pk"], i["sk"]), reverse=True)
        return [thread_message(i) for i in found]

    def respond(self, campaign_id: str, index: int, shard: int, at: str) -> None:
        """Set a recipient's `responded_at` and count it on its shard, once; AlreadyRespondedError after that."""
        with self.table.lock:
            item = self._raw(campaign_id, index)
            if item is None or "responded_at" in item or not 0 <= shard < COUNTER_SHARDS:
                raise AlreadyRespondedError("the recipient's reply is counted already")
            item["responded_at"] = at
            pk, sk = campaign_pk(campaign_id), counter_sk(shard)
            if self.table.raw(pk, sk) is None:
                self.table.put({"pk": pk, "sk": sk})
            counter = self.table.raw(pk, sk) or {}
            counter[RESPONDED] = int(counter.get(RESPONDED, 0)) + 1


class FakeHandovers:
    """Hand-over records, in memory."""

    def __init__(self, table: FakeTable | None = None) -> None:
        self.table = table or FakeTable()

    def open(self, campaign_id: str, token: str, indexes: Sequence[int], settle_after: float) -> None:
        """Record the recipients a sender is about to hand over."""
        self.table.put(
            {
                "pk": campaign_pk(campaign_id),
                "sk": handover_sk(token),
                "token": token,
                "indexes": [int(i) for i in indexes],
                "settle_after": settle_after,
            }
        )

    def narrow(
        self, campaign_id: str, token: str, errors: Mapping[int, Mapping[str, str]], settle_after: float
    ) -> None:
        """Keep only the still-uncertain recipients, or drop the record when none is."""
        pk, sk = campaign_pk(campaign_id), handover_sk(token)
        with self.table.lock:
            if not errors:
                self.table.delete(pk, sk)
                return
            item = self.table.raw(pk, sk)
            if item is None:
                return
            item.update(
                indexes=sorted(int(i) for i in errors),
                errors={str(i): dict(e) for i, e in errors.items()},
                settle_after=settle_after,
            )

    def of_campaign(self, campaign_id: str) -> list[Handover]:
        """Every open hand-over record of a campaign."""
        return [handover_from_item(campaign_id, i) for i in self.table.query(campaign_pk(campaign_id), HANDOVER_PREFIX)]
