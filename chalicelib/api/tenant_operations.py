"""The documented operations of the tenant itself (operations.py adds them to the route table)."""

from __future__ import annotations

from chalicelib.api.operation import Operation

TENANT_OPERATIONS: tuple[Operation, ...] = ()
