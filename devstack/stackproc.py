"""Start `python -m devstack.stack` (what `make run` runs) as a child process on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StackProcess:
    """The local stack as a child process."""

    port: int
    sim_port: int
    api_key: str
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    channel_id: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sim(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, json=body, headers=headers, timeout=30, **kwargs)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return int(self.proc.returncode)


def start_stack(
    api_key: str = "e2e-key", extra_env: dict[str, str] | None = None, timeout: float = 90.0
) -> StackProcess:
    """Start the stack and wait for its READY line."""
    port, sim_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "SIM_PORT": str(sim_port),
        "API_KEY": api_key,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.stack"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = StackProcess(port, sim_port, api_key, proc)
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            stack.output.append(line)
            if line.strip() == "READY":
                ready.set()
            if "id ch_" in line and not stack.channel_id:
                stack.channel_id = line.split("id ", 1)[1].split()[0]

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError("local stack did not start:\n" + "".join(stack.output[-50:]))
    return stack


def wait_for(predicate: Any, timeout: float, interval: float = 0.25) -> Any:
    """Poll until predicate() returns something truthy; the last value otherwise (the test asserts on it)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
