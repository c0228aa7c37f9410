"""The opt-out repository: a tenant's opt-out list. Layout: chalicelib/services/optout_ports.py."""

from __future__ import annotations

from chalicelib.adapters.dynamo.table import Table


class OptOutRepository:
    """A tenant's opt-out list in the table."""

    def __init__(self, table: Table) -> None:
        self.table = table
