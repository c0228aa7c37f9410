"""The OptOuts port: a tenant's opt-out list.

Implemented by chalicelib/adapters/dynamo/optouts.py and tests/fakes/optouts.py (contract test on both).
Stored layout (the events worker reads these items from the table's stream; keep the keys and `kind`):

    TENANT#{tid}   OPTOUT#{number}   kind=optout: tenant_id, number, opted_out (bool), source, channel_id, at

An opt-in keeps the item with opted_out false (so its source is known to the event); the event is emitted when
`opted_out` changes (INSERT with true, MODIFY true <-> false), never for a repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chalicelib.domain.optouts import OptOut, OptOutPage


class OptOuts(Protocol):
    """A tenant's opt-out list."""

    def get(self, tenant_id: str, number: str) -> OptOut | None:
        """A number's entry (opted out or not), read consistently; None when it never had one."""
        ...

    def opted_out(self, tenant_id: str, numbers: Sequence[str]) -> set[str]:
        """Which of `numbers` are opted out now (one BatchGetItem per 100 numbers)."""
        ...

    def page(self, tenant_id: str, limit: int, cursor: str | None) -> OptOutPage:
        """A page of the numbers opted out now, by number."""
        ...

    def opt_out(self, entry: OptOut) -> None:
        """Put the number on the list as `entry` says; OptOutUnchangedError (nothing written) when it is on it."""
        ...

    def opt_in(self, entry: OptOut) -> None:
        """Take the number off the list (its entry kept, opted_out false, with `entry`'s source, channel and time);
        OptOutUnchangedError (nothing written) when it is not on it."""
        ...
