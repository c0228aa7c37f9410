"""The documented operations of sessions and the opt-out list (operations.py adds them to the route table)."""

from __future__ import annotations

from chalicelib.api.operation import Operation

SESSION_OPERATIONS: tuple[Operation, ...] = ()
OPTOUT_OPERATIONS: tuple[Operation, ...] = ()
