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
        self.units: dict[str, float] = {}  # DynamoDB capacity units (estimated: see dynamodb_units), by label
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

        def on_params(event_name: str = "", params: Any = None, **_: Any) -> None:
            # The operation's own parameters (before-call sees the serialized request instead).
            if getattr(self._local, "paused", False):
                return
            units = dynamodb_units(event_name.rsplit(".", 1)[-1], params or {})
            with self._lock:
                for kind, n in units.items():
                    self.units[f"{label}|{kind}"] = self.units.get(f"{label}|{kind}", 0.0) + n

        def on_send(event_name: str = "", **_: Any) -> None:
            self._count(self.sends, label, event_name)

        session.register("before-call", on_call, unique_id=f"bench-awscount-call-{id(session)}")
        session.register("before-parameter-build.dynamodb", on_params, unique_id=f"bench-awscount-params-{id(session)}")
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

    def report(self, label: str = "service") -> dict[str, Any]:
        """One label's calls by `service.Operation` and its DynamoDB units, as plain JSON."""
        with self._lock:
            calls, units = Counter(self.calls), dict(self.units)
        return {
            "calls": dict(only(calls, label)),
            "units": {k.split("|", 1)[1]: v for k, v in units.items() if k.startswith(f"{label}|")},
        }

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


def dynamodb_units(operation: str, params: Any) -> dict[str, float]:
    """The capacity units one DynamoDB call costs on demand, estimated for items of at most 1 KB (ours are):
    a write 1 WRU per item, a transactional one 2 per item; a strongly consistent read 1 RRU per item, an eventually
    consistent one 0.5, a transactional one 2; a Query or Scan 1 per call (at most 4 KB read, as ours are)."""
    if not isinstance(params, dict):
        return {}
    if operation == "TransactWriteItems":
        return {"wru": 2.0 * len(params.get("TransactItems") or [])}
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return {"wru": 1.0}
    if operation == "BatchWriteItem":
        return {"wru": float(sum(len(v) for v in (params.get("RequestItems") or {}).values()))}
    if operation == "TransactGetItems":
        return {"rru": 2.0 * len(params.get("TransactItems") or [])}
    if operation == "GetItem":
        return {"rru": 1.0 if params.get("ConsistentRead") else 0.5}
    if operation == "BatchGetItem":
        keys = 0.0
        for spec in (params.get("RequestItems") or {}).values():
            keys += len(spec.get("Keys") or []) * (1.0 if spec.get("ConsistentRead") else 0.5)
        return {"rru": keys}
    if operation in ("Query", "Scan"):
        return {"rru": 1.0 if params.get("ConsistentRead") else 0.5}
    return {}
