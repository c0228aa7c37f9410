"""What a failed provider call raised, unwrapped: requests and urllib3 wrap the exception that tells what happened."""

from __future__ import annotations

from collections.abc import Iterator

from urllib3.exceptions import MaxRetryError, NewConnectionError


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the exceptions requests and urllib3 wrap in their args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.extend(e for e in (item.__cause__, item.__context__, getattr(item, "reason", None)) if e is not None)
        todo.extend(a for a in item.args if isinstance(a, BaseException))


def connect_failed(exc: BaseException) -> bool:
    """True when urllib3 gave up while connecting (its connect phase ends before the request is written)."""
    return any(isinstance(e, MaxRetryError) and isinstance(e.reason, NewConnectionError) for e in exception_chain(exc))
