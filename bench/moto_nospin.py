"""moto for the in-process campaign benchmark: `chalicelib.local.moto_proc` plus a fix for a busy loop in moto's SQS.

moto 5's ReceiveMessage long poll waits with `Condition.wait_for(lambda: queue.messages)`, i.e. until some message
is *visible*. On a FIFO queue whose visible messages all belong to a message group that has a message in flight,
they are visible but cannot be delivered, so the wait returns at once and the poll spins for its whole
WaitTimeSeconds, rescanning every message each turn. The event pump long-polls the send queue with two workers
while one of them holds the campaign's sender group, so moto burns a core for nothing: measured on this machine, a
GetItem went from 8 ms to 71 ms while one such poll was waiting. AWS has no such cost.

The fix: when visible messages exist but none was delivered, wait until a message is added or deleted (a delete
frees its group), or the poll's time is up, before scanning again; deletes now notify waiting polls. Delivery
semantics are unchanged; only a group freed by an expiring visibility timeout is noticed at the poll's end
instead of at once (the pump polls again right away).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def apply() -> None:
    """Patch moto's SQS Queue.wait_for_messages in this process."""
    from moto.sqs.models import Queue

    original_delete = Queue.delete_message

    def wait_for_messages(self: Any, timeout: int) -> None:
        with self._messages_lock:
            if self.messages:  # visible, yet the caller got none: their group is busy; do not spin
                self._messages_lock.wait(timeout=timeout)
            else:
                self._messages_lock.wait_for(lambda: self.messages, timeout=timeout)

    def delete_message(self: Any, receipt_handle: str) -> None:
        original_delete(self, receipt_handle)
        with self._messages_lock:
            self._messages_lock.notify_all()

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]
    Queue.delete_message = delete_message  # type: ignore[method-assign]


def main() -> int:
    """Run chalicelib.local.moto_proc's server with the fix applied."""
    apply()
    from chalicelib.local import moto_proc

    return moto_proc.main()


def spawn() -> tuple[subprocess.Popen[Any], str]:
    """Start this moto process; returns it and its URL (a drop-in for chalicelib.local.moto_proc.spawn)."""
    from chalicelib.local import moto_proc

    return moto_proc.spawn("bench.moto_nospin")


if __name__ == "__main__":
    sys.exit(main())
