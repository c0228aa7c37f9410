"""Where a running `make run` stack says how to reach its AWS stand-in, so other commands (`make tenant`) find it.

The stack writes `.local-stack/port-<PORT>.json` at start and removes it when it stops; a file whose process is gone
(a stack that was killed) counts as no stack.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR = Path(__file__).resolve().parents[1] / ".local-stack"
# What a command needs to use the stack's table: where moto listens and the app's resource names.
ENV_KEYS = ("AWS_ENDPOINT_URL", "TABLE_NAME", "SEND_QUEUE_URL", "SEND_QUEUE_NAME", "SCHEDULER_GROUP", "UPLOAD_BUCKET")


@dataclass(frozen=True)
class RunningStack:
    """What a running local stack wrote about itself."""

    pid: int
    port: int
    env: dict[str, str]


def state_file(port: int, state_dir: Path = STATE_DIR) -> Path:
    """The file the stack serving on `port` writes."""
    return state_dir / f"port-{port}.json"


def announce(port: int, env: dict[str, str], state_dir: Path = STATE_DIR) -> Path:
    """Write this process's stack (serving on `port`, its environment's ENV_KEYS) for other commands to find."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_file(port, state_dir)
    stack = RunningStack(os.getpid(), port, {k: env[k] for k in ENV_KEYS if env.get(k)})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(stack), indent=2) + "\n")
    tmp.replace(path)
    return path


def withdraw(port: int, state_dir: Path = STATE_DIR) -> None:
    """Remove the file `announce` wrote, if it is this process's."""
    found = find(port, state_dir)
    if found is not None and found.pid == os.getpid():
        state_file(port, state_dir).unlink(missing_ok=True)


def find(port: int, state_dir: Path = STATE_DIR) -> RunningStack | None:
    """The stack serving on `port`, if one wrote its file and its process still runs."""
    try:
        data = json.loads(state_file(port, state_dir).read_text())
        stack = RunningStack(int(data["pid"]), int(data["port"]), {str(k): str(v) for k, v in data["env"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    try:
        os.kill(stack.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it runs, as another user
    return stack
