"""The OptOuts port: a tenant's opt-out list.

Implemented by chalicelib/adapters/dynamo/optouts.py and tests/fakes/optouts.py (contract test on both).
Stored layout (the events worker reads these items from the table's stream; keep the keys and `kind`):

    TENANT#{tid}   OPTOUT#{number}   kind=optout: tenant_id, number, opted_out (bool), source, channel_id, at

An opt-in keeps the item with opted_out false (so its source is known to the event); the event is emitted when
`opted_out` changes (INSERT with true, MODIFY true <-> false), never for a repeat.
"""

from __future__ import annotations

from typing import Protocol


class OptOuts(Protocol):
    """A tenant's opt-out list."""
