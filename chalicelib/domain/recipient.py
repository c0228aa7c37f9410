"""One recipient of a campaign as stored: its number, where its message is, the claim a sender holds on it. No I/O.

The recipient repository converts items to and from it. Its status moves only by a conditional write (see
adapters/dynamo/recipients.py); the rules of which provider report may move it live here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.model import RecipientStatus, provider_may_move

R = RecipientStatus


@dataclass(frozen=True)
class Recipient:
    """One recipient of a campaign."""

    index: int
    number: str
    status: RecipientStatus
    # Its counter shard: the one its moves are counted on.
    shard: int
    tenant_id: str
    channel_id: str
    # How many times it was handed to the provider (each attempt has its own callback URL).
    attempts: int = 0
    variables: Mapping[str, Any] = field(default_factory=dict)
    # The claim of the sender that holds it (`sending`), and when it was taken (epoch seconds).
    claim_token: str | None = None
    claimed_at: float | None = None
    provider_message_id: str | None = None
    sent_at: str | None = None
    delivered_at: str | None = None
    read_at: str | None = None
    responded_at: str | None = None
    session_id: str | None = None
    # Its (tenant, channel, sender, contact): gsi2's partition, so a reply finds the campaign messages it may answer.
    thread: str | None = None
    # The sort key of its campaign message in that session's log (its status follows the recipient's).
    session_message: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    failed_at: str | None = None
    # The error it had before a retry queued it again ({"code", "message"}).
    last_error: Mapping[str, Any] | None = None

    def held_by(self, token: str) -> bool:
        """Whether the sender (or settler) with `token` holds its claim."""
        return self.status == R.SENDING and self.claim_token == token

    def claimed(self, token: str, now: float) -> Recipient:
        """It as a claim with `token` at `now` leaves it: sending, one attempt more."""
        return dataclasses.replace(
            self, status=R.SENDING, claim_token=token, claimed_at=now, attempts=self.attempts + 1
        )

    def provider_may_move(self, target: RecipientStatus) -> bool:
        """Whether a provider report of `target` may move it now (forward only; an interrupted send may settle)."""
        return provider_may_move(self.status, target, self.error_code)

    def disproves_absence(self, attempt: int | None, target: RecipientStatus) -> bool:
        """Whether a provider's report of `target` for `attempt` is about it queued again because the provider's
        records seemed not to have it (released after an uncertain hand-over; a retry's requeue sets last_error):
        that attempt did reach the provider, so it must be recorded, and must not go out again."""
        return (
            self.status == R.QUEUED
            and not self.last_error
            and attempt is not None
            and 0 < attempt == self.attempts
            and target in (R.SENT, R.DELIVERED, R.READ)
        )


def recipient_fields() -> frozenset[str]:
    """The attributes a stored recipient item may carry for a Recipient."""
    return frozenset(f.name for f in dataclasses.fields(Recipient))


def recipient_from(values: Mapping[str, Any]) -> Recipient:
    """A Recipient from a stored item's attributes (others, such as its keys, are left out)."""
    known = recipient_fields()
    kept = {k: v for k, v in values.items() if k in known and v is not None}
    kept["status"] = RecipientStatus(kept["status"])
    for number in ("index", "shard", "attempts"):
        if number in kept:
            kept[number] = int(kept[number])
    return Recipient(**kept)


def recipient_values(recipient: Recipient) -> dict[str, Any]:
    """A Recipient's attributes for a new stored item (None, and no variables, left out)."""
    values = {k: v for k, v in dataclasses.asdict(recipient).items() if v is not None}
    values["status"] = recipient.status.value
    if not recipient.variables:
        values.pop("variables", None)
    return values


@dataclass(frozen=True)
class RecipientPage:
    """One page of a campaign's recipients."""

    items: list[Recipient]
    next_cursor: str | None


def requeue_changes(recipient: Recipient) -> dict[str, Any]:
    """What a retry changes on a failed recipient it queues again: its failure becomes `last_error`, the rest clears."""
    return {
        "last_error": {"code": recipient.error_code, "message": recipient.error_message or ""},
        "error_code": None,
        "error_message": None,
        "failed_at": None,
        "provider_message_id": None,
        "claim_token": None,
    }
