"""The recipient repository: a campaign's recipients and its result counters, moved together.

    CAMPAIGN#{cid}  R#{index}   recipient: number, status, claim, provider id, error, timestamps
    CAMPAIGN#{cid}  C#{shard}   result counter shard: one number per recipient-status bucket

A recipient's status moves only by a conditional write on the status it was read in, in the same transaction as
its counter shard, so the counts stay exact whoever moves it (the sender, a status callback, a settler):

    queued ──claim (one token)──> sending ──outcome──> sent ──report──> delivered ──> read
      ^                              │  └──outcome──> failed            undelivered ──> read
      └──release (sent nothing, or provably absent at the provider)─┘

A lost condition raises RecipientMovedError with the recipient as the winner left it (ALL_OLD).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.table import (
    ConditionFailed,
    Page,
    Table,
    campaign_pk,
    from_item,
    recipient_sk,
    to_values,
)
from chalicelib.domain.errors import AlreadyRespondedError, RecipientMovedError
from chalicelib.domain.model import BUCKET_OF, COUNTER_SHARDS, RecipientStatus
from chalicelib.domain.recipient import Recipient, RecipientPage, recipient_from, recipient_values, requeue_changes
from chalicelib.domain.replies import RESPONDED, ThreadMessage

STATUS = {"#s": "status"}
# A recipient key not written yet (writing an audience again never resets one already claimed).
ABSENT = "attribute_not_exists(pk)"
# Closes: two workers (a duplicated or redelivered SQS message) sending the same recipient.
QUEUED = "#s = :queued"
# Closes: acting on a recipient that a status report, another worker or a settler has taken over meanwhile.
HELD = "#s = :sending AND claim_token = :token"
# Closes: two reports (or a report and the sender) moving the same recipient at once; counts stay exact.
STATUS_WAS = "#s = :from"
# Closes: a replayed, late or forged-looking report, or one for another attempt's message.
SENT_AS_REPORTED = (
    "#s = :sent AND tenant_id = :tid AND channel_id = :ch AND attempts = :a AND provider_message_id = :sid "
    "AND #sh = :shard"
)
# Closes: a replayed inbound message, or a second reply (even at the same moment), counting the recipient twice; and
# a reply recreating a recipient purged meanwhile.
NOT_RESPONDED = "attribute_exists(pk) AND attribute_not_exists(responded_at)"
MOVES_PER_TX = 80  # + at most COUNTER_SHARDS counter updates, within DynamoDB's 100 items per transaction


def counter_sk(shard: int) -> str:
    """Sort key of a counter shard."""
    return f"C#{shard:02d}"


# A move: (the recipient as read, the status it goes to, fields to set (None removes), the claim it needs or None).
Move = tuple[Recipient, RecipientStatus, Mapping[str, Any], str | None]


def thread_message(item: Mapping[str, Any]) -> ThreadMessage:
    """A campaign message as gsi2 projects its recipient (keys, thread, sent_at and the included attributes)."""
    return ThreadMessage(
        campaign_id=str(item["pk"]).removeprefix("CAMPAIGN#"),
        index=int(str(item["sk"]).removeprefix("R#")),
        shard=int(item.get("shard", 0)),
        sent_at=str(item["sent_at"]),
        provider_message_id=item.get("provider_message_id"),
        responded_at=item.get("responded_at"),
        session_id=item.get("session_id"),
    )


def _lost(item: Mapping[str, Any] | None) -> Recipient | None:
    """The recipient a lost condition found (ALL_OLD), if there was one."""
    return recipient_from(item) if item else None


class RecipientRepo:
    """A campaign's recipients and counters."""

    def __init__(self, table: Table) -> None:
        self.table = table

    # ------------------------------------------------------------------ reads
    def get(self, campaign_id: str, index: int) -> Recipient | None:
        """One recipient, read consistently."""
        item = self.table.get(campaign_pk(campaign_id), recipient_sk(index))
        return recipient_from(item) if item is not None else None

    def range(self, campaign_id: str, start: int, end: int) -> list[Recipient]:
        """Recipients with index in [start, end), read consistently."""
        if end <= start:
            return []
        between = (recipient_sk(start), recipient_sk(end - 1))
        return [recipient_from(i) for i in self.table.query_all(campaign_pk(campaign_id), "R#", between=between)]

    def with_status(self, campaign_id: str, statuses: Sequence[str]) -> Iterator[Recipient]:
        """A campaign's recipients in one of `statuses`, in index order (reads the whole campaign)."""
        wanted = set(statuses)
        for item in self.table.query_all(campaign_pk(campaign_id), "R#"):
            if item.get("status") in wanted:
                yield recipient_from(item)

    def page(
        self, campaign_id: str, status: str | Collection[str] | None, limit: int, cursor: str | None
    ) -> RecipientPage:
        """A page of a campaign's recipients in list order, optionally of one status."""
        page: Page = self.table.page(
            campaign_pk(campaign_id), "R#", limit=limit, cursor=cursor, forward=True, status=status
        )
        return RecipientPage([recipient_from(i) for i in page.items], page.next_cursor)

    def counters(self, campaign_id: str) -> list[dict[str, Any]]:
        """The campaign's counter shards, read consistently."""
        return list(self.table.query_all(campaign_pk(campaign_id), "C#"))

    # ------------------------------------------------------------------ writing an audience
    def create(
        self, campaign_id: str, recipients: Iterable[Recipient], on_batch: Callable[[], None] | None = None
    ) -> None:
        """Create queued recipients, 100 per transaction, each only if it does not exist yet.

        The condition makes writing an audience safe to repeat: a second dispatcher (the tick reviving a campaign whose
        first dispatcher seemed dead) can never reset a recipient that a sender has already claimed.
        """
        pk = campaign_pk(campaign_id)
        batch: list[Mapping[str, Any]] = []
        for recipient in recipients:
            batch.append({"pk": pk, "sk": recipient_sk(recipient.index), **recipient_values(recipient)})
            if len(batch) == 100:
                self._create_batch(batch)
                batch = []
                if on_batch is not None:
                    on_batch()
        if batch:
            self._create_batch(batch)

    def _put_absent(self, rows: Sequence[Mapping[str, Any]]) -> bool:
        tx = self.table.tx()
        for row in rows:
            tx.put(str(row["sk"]), row, ABSENT)
        try:
            tx.commit()
        except ConditionFailed:
            return False
        return True

    def _create_batch(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._put_absent(rows):
            return
        # Some exist already (an earlier, interrupted write of this audience): create only the missing ones, in one
        # more transaction when the batch is a run of indexes (it always is), else one by one.
        pk = str(rows[0]["pk"])
        between = (str(rows[0]["sk"]), str(rows[-1]["sk"]))
        existing = {i["sk"] for i in self.table.query_all(pk, "", between=between) if "sk" in i}
        rows = [r for r in rows if r["sk"] not in existing]
        if not rows or self._put_absent(rows):
            return
        for row in rows:
            with contextlib.suppress(ConditionFailed):  # written meanwhile by the other dispatcher: theirs stands
                self.table.put(row, ABSENT)

    def purge(self, campaign_id: str) -> None:
        """Remove a campaign's recipients, counters and hand-over records (a refused create, a deleted campaign)."""
        pk = campaign_pk(campaign_id)
        self.table.batch_delete({"pk": pk, "sk": i["sk"]} for i in self.table.query_all(pk, "", consistent=False))

    # ------------------------------------------------------------------ claims
    def _key(self, campaign_id: str, index: int) -> dict[str, str]:
        return {"pk": campaign_pk(campaign_id), "sk": recipient_sk(index)}

    _CLAIM = "SET #s = :sending, claim_token = :token, claimed_at = :now ADD attempts :one"

    def _claim_values(self, token: str, now: float) -> dict[str, Any]:
        return {":sending": "sending", ":token": token, ":now": now, ":queued": "queued", ":one": 1}

    def claim(self, campaign_id: str, recipients: Sequence[Recipient], token: str, now: float) -> list[Recipient]:
        """Claim queued recipients for sending, up to 100 per transaction; returns those claimed, as claimed.

        When a batch's condition fails (another worker has some of them), its recipients are claimed one by one.
        """
        claimed: list[Recipient] = []
        values = self._claim_values(token, now)
        for start in range(0, len(recipients), 100):
            batch = recipients[start : start + 100]
            tx = self.table.tx()
            for r in batch:
                tx.update(str(r.index), self._key(campaign_id, r.index), self._CLAIM, QUEUED, values, STATUS)
            try:
                tx.commit()
                won = list(batch)
            except ConditionFailed:
                won = [r for r in batch if self._claim_one(campaign_id, r.index, values)]
            claimed.extend(r.claimed(token, now) for r in won)
        return claimed

    def _claim_one(self, campaign_id: str, index: int, values: Mapping[str, Any]) -> bool:
        try:
            self.table.update(self._key(campaign_id, index), self._CLAIM, QUEUED, values, STATUS)
        except ConditionFailed:
            return False
        return True

    def release(self, campaign_id: str, index: int, token: str, *, attempted: bool = False) -> None:
        """Give back a claim: the recipient is queued again. One that sent nothing (throttled, out of time) gets its
        attempt back; one `attempted` (the provider's records prove it never arrived) keeps it, so the next is new.
        RecipientMovedError (with the recipient as it is) when the claim is no longer ours."""
        try:
            self.table.update(
                self._key(campaign_id, index),
                "SET #s = :queued REMOVE claim_token, claimed_at ADD attempts :minus",
                HELD,
                {":queued": "queued", ":sending": "sending", ":token": token, ":minus": 0 if attempted else -1},
                STATUS,
                want_old=True,
            )
        except ConditionFailed as lost:
            raise RecipientMovedError("the claim is no longer ours", _lost(lost.item("item"))) from lost

    def next_attempt(self, campaign_id: str, index: int, token: str) -> int:
        """Count one more attempt on a recipient we still hold (the last one provably never left); its new number.
        RecipientMovedError when the claim is no longer ours."""
        try:
            new = self.table.update(
                self._key(campaign_id, index),
                "ADD attempts :one",
                HELD,
                {":one": 1, ":sending": "sending", ":token": token},
                STATUS,
                want_new=True,
            )
        except ConditionFailed as exc:
            raise RecipientMovedError("the claim is no longer ours") from exc
        assert new is not None
        return int(new["attempts"])

    # ------------------------------------------------------------------ moves with their counts
    def _move(self, tx: Any, name: str, campaign_id: str, move: Move, want_old: bool = False) -> None:
        recipient, to_status, fields, claim_token = move
        names = dict(STATUS)
        values: dict[str, Any] = {":to": to_status.value, ":from": recipient.status.value}
        sets, removes = ["#s = :to"], []
        for i, (field, value) in enumerate(fields.items()):
            names[f"#f{i}"] = field
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":f{i}"] = value
                sets.append(f"#f{i} = :f{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = STATUS_WAS
        if claim_token is not None:
            # Closes: a sender's outcome overwriting a recipient another claim (or a settler) holds now.
            condition += " AND claim_token = :token"
            values[":token"] = claim_token
        key = self._key(campaign_id, recipient.index)
        tx.update(name, key, expression, condition, values, names, want_old=want_old)

    def _counts(self, tx: Any, campaign_id: str, deltas: Mapping[int, Mapping[str, int]]) -> None:
        for shard, delta in deltas.items():
            moves = {b: d for b, d in delta.items() if d}
            if not moves:
                continue
            tx.update(
                f"C{shard}",
                {"pk": campaign_pk(campaign_id), "sk": counter_sk(shard)},
                "ADD " + ", ".join(f"#b{i} :d{i}" for i in range(len(moves))),
                None,
                {f":d{i}": d for i, d in enumerate(moves.values())},
                {f"#b{i}": b for i, b in enumerate(moves)},
            )

    @staticmethod
    def _deltas(moves: Iterable[Move]) -> dict[int, dict[str, int]]:
        deltas: dict[int, dict[str, int]] = {}
        for recipient, to_status, _, _ in moves:
            old, new = BUCKET_OF[recipient.status], BUCKET_OF[to_status]
            if old != new:
                shard = deltas.setdefault(recipient.shard, {})
                shard[old] = shard.get(old, 0) - 1
                shard[new] = shard.get(new, 0) + 1
        return deltas

    def move(
        self,
        campaign_id: str,
        recipient: Recipient,
        to_status: RecipientStatus,
        fields: Mapping[str, Any],
        *,
        claim_token: str | None = None,
    ) -> None:
        """Move a recipient from the status it was read with to `to_status`, counting it in the same transaction.

        RecipientMovedError, with the recipient as it is now, when it changed since it was read.
        """
        move: Move = (recipient, to_status, fields, claim_token)
        tx = self.table.tx()
        self._move(tx, "recipient", campaign_id, move, want_old=True)
        self._counts(tx, campaign_id, self._deltas([move]))
        try:
            tx.commit()
        except ConditionFailed as lost:
            raise RecipientMovedError(
                "the recipient changed since it was read", _lost(lost.item("recipient"))
            ) from lost

    def move_many(self, campaign_id: str, moves: Sequence[Move]) -> list[int]:
        """Several recipient moves with their counts, one transaction per 80; returns the positions that lost.

        A move loses when its recipient changed since it was read (a status callback got there first). The others
        in its transaction are tried again without it, so one late race does not cost the batch.
        """
        lost: list[int] = []
        for start in range(0, len(moves), MOVES_PER_TX):
            todo = list(range(start, min(start + MOVES_PER_TX, len(moves))))
            while todo:
                tx = self.table.tx()
                for pos in todo:
                    self._move(tx, f"m{pos}", campaign_id, moves[pos])
                self._counts(tx, campaign_id, self._deltas(moves[pos] for pos in todo))
                try:
                    tx.commit()
                    todo = []
                    continue
                except ConditionFailed as exc:
                    parts = exc.parts
                if len(todo) == 1:
                    lost.append(todo[0])
                    todo = []
                    continue
                failed = [int(p[1:]) for p in parts if p.startswith("m")]
                if failed and not any(p.startswith("C") for p in parts):
                    lost.extend(failed)
                    todo = [p for p in todo if p not in failed]
                    continue
                # No reason to go by (an emulator names every part): one at a time.
                for pos in todo:
                    if self.move_many(campaign_id, [moves[pos]]):
                        lost.append(pos)
                todo = []
        return sorted(lost)

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
        """Move a recipient from sent to delivered without reading it first.

        The condition names everything a read would have checked: its tenant and channel, its attempt, the message.
        RecipientMovedError (with the recipient as it is, when there is one) if it is not exactly that one.
        """
        if not 0 <= shard < COUNTER_SHARDS:
            raise RecipientMovedError("no such counter shard")
        tx = self.table.tx()
        tx.update(
            "recipient",
            self._key(campaign_id, index),
            "SET #s = :delivered, delivered_at = :now",
            SENT_AS_REPORTED,
            {
                ":delivered": "delivered",
                ":now": now,
                ":sent": "sent",
                ":tid": tenant_id,
                ":ch": channel_id,
                ":a": attempt,
                ":sid": message_id,
                ":shard": shard,
            },
            {**STATUS, "#sh": "shard"},
            want_old=True,
        )
        sent, delivered = BUCKET_OF[RecipientStatus.SENT], BUCKET_OF[RecipientStatus.DELIVERED]
        self._counts(tx, campaign_id, {shard: {sent: -1, delivered: 1}})
        try:
            tx.commit()
        except ConditionFailed as lost:
            raise RecipientMovedError("the recipient is not that sent message", _lost(lost.item("recipient"))) from lost

    def set_fields(self, campaign_id: str, index: int, fields: Mapping[str, Any], only_if_missing: str) -> bool:
        """Set fields on a recipient if attribute `only_if_missing` is not there yet; whether it did."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        names["#m"] = only_if_missing
        try:
            self.table.update(
                self._key(campaign_id, index),
                "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                # Closes: overwriting what a status callback wrote first, or bringing back a purged recipient.
                "attribute_exists(pk) AND attribute_not_exists(#m)",
                {f":v{i}": v for i, v in enumerate(fields.values())},
                names,
            )
        except ConditionFailed:
            return False
        return True

    def requeue(self, campaign_id: str, recipients: Sequence[Recipient]) -> list[int]:
        """Move failed recipients back to queued for a retry, counting them; returns the indexes moved.

        A recipient that changed since it was read (a late status report) is left as it is; the others still go.
        """
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

    # ------------------------------------------------------------------ replies
    def in_thread(self, thread: str, since: str, until: str) -> list[ThreadMessage]:
        """The campaign messages of a thread sent within [since, until], newest first (gsi2)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table.name,
            "IndexName": "gsi2",
            "KeyConditionExpression": "thread = :t AND sent_at BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": to_values({":t": thread, ":lo": since, ":hi": until}),
            "ScanIndexForward": False,
        }
        found: list[ThreadMessage] = []
        while True:
            page = self.table.db.query(**kwargs)
            found.extend(thread_message(from_item(raw)) for raw in page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                return found
            kwargs["ExclusiveStartKey"] = last

    def respond(self, campaign_id: str, index: int, shard: int, at: str) -> None:
        """Set a recipient's `responded_at` and count it on its shard's `n_responded`, once (NOT_RESPONDED)."""
        if not 0 <= shard < COUNTER_SHARDS:
            raise AlreadyRespondedError("no such counter shard")
        tx = self.table.tx()
        tx.update("recipient", self._key(campaign_id, index), "SET responded_at = :at", NOT_RESPONDED, {":at": at})
        tx.update(
            "counter",
            {"pk": campaign_pk(campaign_id), "sk": counter_sk(shard)},
            "ADD #n :one",
            None,
            {":one": 1},
            {"#n": RESPONDED},
        )
        try:
            tx.commit()
        except ConditionFailed as lost:
            raise AlreadyRespondedError("the recipient's reply is counted already") from lost
