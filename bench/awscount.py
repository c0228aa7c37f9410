"""Count the AWS requests a process makes, by service and operation, with botocore's event hooks.

`install()` wraps `botocore.session.Session.__init__` so that every botocore session created afterwards (each
`boto3.session.Session()`, which is what `chalicelib.wiring.build` and `boto3.client` use underneath)
registers two handlers before any client is made from it (a client copies its session's handlers when created):

- `before-call`: once per API call (what the code asks for), keyed `service.Operation`;
- `before-send`: once per HTTP request actually sent, retries included.

Each session is labelled when it is created, from the code creating it: `service` when `chalicelib/wiring.py`
(the composition root of the service's dependencies: API, workers, webhooks) is on the stack, else `harness`
(the local stack's event pump polling SQS and listing schedules as the Lambda trigger and EventBridge Scheduler
would, resource creation, the benchmark). Counter keys are `label|service.Operation`.

Sessions and clients created before `install()` are not counted, so call it first. Calls made inside `paused()`
(the benchmark's own progress polling) are left out; the pause is per thread.
"""

from __future__ import annotations

import hashlib
import threading
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SERVICES = {"dynamodb": "DynamoDB", "sqs": "SQS", "s3": "S3"}
SERVICE_MARKER = "chalicelib/wiring.py"


class AwsCounter:
    """Thread-safe counts of AWS API calls and HTTP sends."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sends: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._installed = False

    # ------------------------------------------------------------------ hooks
    def _count(self, into: Counter[str], label: str, event_name: str) -> None:
        if getattr(self._local, "paused", False):
            return
        _, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
        with self._lock:
            into[f"{label}|{service}.{operation}"] += 1

    def register(self, session: Any, label: str | None = None) -> None:
        """Count the calls of clients created from this botocore session from now on."""
        if label is None:
            stack = traceback.extract_stack()
            label = "service" if any(f.filename.endswith(SERVICE_MARKER) for f in stack) else "harness"

        def on_call(event_name: str = "", **_: Any) -> None:
            self._count(self.calls, label, event_name)

        def on_send(event_name: str = "", **_: Any) -> None:
            self._count(self.sends, label, event_name)

        session.register("before-call", on_call, unique_id=f"bench-awscount-call-{id(session)}")
        session.register("before-send", on_send, unique_id=f"bench-awscount-send-{id(session)}")

    def install(self) -> None:
        """Hook every botocore session created from now on (and boto3's default session, if it exists)."""
        if self._installed:
            return
        import boto3
        import botocore.session

        original = botocore.session.Session.__init__
        counter = self

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            counter.register(self)

        botocore.session.Session.__init__ = init  # type: ignore[method-assign]
        if boto3.DEFAULT_SESSION is not None:
            self.register(boto3.DEFAULT_SESSION._session, "harness")
        self._installed = True

    # ------------------------------------------------------------------ reading
    @contextmanager
    def paused(self) -> Iterator[None]:
        """Leave out the calls this thread makes inside the block."""
        self._local.paused = True
        try:
            yield
        finally:
            self._local.paused = False

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        """Copies of (calls, sends)."""
        with self._lock:
            return Counter(self.calls), Counter(self.sends)


def only(counts: Counter[str], label: str) -> Counter[str]:
    """The counts of one label, keyed `service.Operation`."""
    prefix = f"{label}|"
    return Counter({k[len(prefix) :]: v for k, v in counts.items() if k.startswith(prefix)})


def by_service(counts: Counter[str], label: str = "service") -> Counter[str]:
    """Counts of one label per service (DynamoDB, SQS, S3, other services under their botocore id)."""
    out: Counter[str] = Counter()
    for key, value in only(counts, label).items():
        service = key.split(".", 1)[0]
        out[SERVICES.get(service, service)] += value
    return out


def code_fingerprint(repo: str | Path) -> str:
    """A short hash of app.py and chalicelib/**/*.py as they are on disk: which code a figure was measured on."""
    root = Path(repo)
    digest = hashlib.sha1(usedforsecurity=False)
    for path in [root / "app.py", *sorted((root / "chalicelib").rglob("*.py"))]:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def diff(after: Counter[str], before: Counter[str]) -> Counter[str]:
    """after - before, keeping zeros out."""
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})
