"""moto as its own process (so the local stack's AWS stand-in gets a core of its own), with the speed patch."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import Any


def main() -> int:
    """Serve moto on 127.0.0.1 (port from argv, 0 = any) and print the port; run until stdin closes or SIGTERM."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from devstack import moto_speed

    moto_speed.apply()
    server = ThreadedMotoServer(
        ip_address="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0, verbose=False
    )
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    # The parent holds our stdin; when it dies, stdin closes and we stop too.
    def watch_parent() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    done.wait()
    server.stop()
    return 0


def spawn(module: str = "devstack.moto_proc") -> tuple[subprocess.Popen[Any], str]:
    """Start the moto process (`module` runs `main()` of this one, perhaps with patches first); its URL."""
    proc = subprocess.Popen(  # noqa: S603 - our own module names, never input
        [sys.executable, "-m", module, "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"moto did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}"


if __name__ == "__main__":
    sys.exit(main())
