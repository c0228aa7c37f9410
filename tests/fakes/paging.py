"""Pages over sorted in-memory items, with cursors shaped like the table's (opaque, refused when not ours)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from chalicelib.domain.errors import InvalidRequestError

T = TypeVar("T")


@dataclass(frozen=True)
class FakePage(Generic[T]):
    """One page of a listing."""

    items: list[T]
    next_cursor: str | None


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"sk": key}).encode()).decode().rstrip("=")


def _decode(cursor: str, prefix: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["sk"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidRequestError("cursor is not valid", details=[{"field": "cursor"}]) from exc
    if not isinstance(key, str) or not key.startswith(prefix):
        raise InvalidRequestError("cursor is not valid", details=[{"field": "cursor"}])
    return key[len(prefix) :]


def page(items: Sequence[T], key: Callable[[T], str], prefix: str, limit: int, cursor: str | None) -> FakePage[T]:
    """Up to `limit` of `items` (sorted by `key`) after the cursor; no cursor when this page ends the list."""
    ordered = sorted(items, key=key)
    if cursor is not None:
        after = _decode(cursor, prefix)
        ordered = [i for i in ordered if key(i) > after]
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return FakePage(chosen, _encode(prefix + key(chosen[-1])) if more and chosen else None)
