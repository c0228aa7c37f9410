"""The session repository: sessions, the lock that keeps one open per (channel, sender, contact), and chat logs.

Layout: chalicelib/services/session_ports.py.
"""

from __future__ import annotations

from chalicelib.adapters.dynamo.table import Table


class SessionRepository:
    """Sessions and their chat logs in the table."""

    def __init__(self, table: Table) -> None:
        self.table = table
