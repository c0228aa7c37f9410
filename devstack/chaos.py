"""Chaos for the local stack: the faults AWS has and moto never shows, injected into the process that runs the
Lambda handlers (devstack/stack.py), drawn from one seeded random stream.

Configured by the CHAOS environment variable, e.g. ``CHAOS=duplicate=0.05,kill=0.02,conflict=0.1,throttle=0.02,seed=1``:
- ``duplicate``: the pump delivers a queue message a second time (SQS is at-least-once): a copy is put back on the
  queue, so another worker may take it while the first runs;
- ``kill``: a sender invocation (``send_worker``) dies at a random point: a ``Killed`` (a BaseException, so no
  ``except Exception`` of the service catches it) is raised from a hook before or after one of its AWS calls or
  provider calls, and every later call of that invocation, in any of its threads, dies too (a dead process writes
  nothing more, not even from a ``finally``). The pump leaves its messages on the queue: SQS redelivers them once their
  visibility timeout (``visibility`` seconds, short here) has passed;
- ``conflict``: a TransactWriteItems is refused with TransactionCanceledException, reason TransactionConflict;
- ``throttle``: any DynamoDB call is answered ProvisionedThroughputExceededException or ThrottlingException (botocore's
  retries see it, as they would DynamoDB's);
- ``visibility``: the visibility timeout (seconds) the pump receives with; ``seed``: the random stream's seed.
The DynamoDB faults are answers returned from botocore's ``before-send`` hook, so the client parses and retries them as
it would the real ones; the provider's faults are to be the simulators' knobs (POST /sim/config, not built yet).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HeadersDict

RATES = ("duplicate", "kill", "conflict", "throttle")
KILLED_FUNCTIONS = frozenset({"send_worker"})
_DYNAMO_ERROR = "com.amazonaws.dynamodb.v20120810#"


class Killed(BaseException):  # noqa: N818 - it is what happened, not an error to handle
    """The invocation's process died here (as from a kill -9 or a Lambda sandbox lost)."""


@dataclass(frozen=True)
class ChaosConfig:
    """The rates (0 to 1) of each fault, the visibility timeout the pump receives with, and the seed."""

    duplicate: float = 0.0
    kill: float = 0.0
    conflict: float = 0.0
    throttle: float = 0.0
    visibility: int = 10
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> ChaosConfig:
        """Read ``name=value,name=value`` (ValueError for an unknown name or a bad value)."""
        values: dict[str, Any] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep:
                raise ValueError(f"CHAOS: {part!r} is not name=value")
            if name in RATES:
                rate = float(raw)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"CHAOS: {name} must be a rate from 0 to 1")
                values[name] = rate
            elif name in ("visibility", "seed"):
                values[name] = int(raw)
            else:
                raise ValueError(f"CHAOS: unknown fault {name!r} (known: {', '.join((*RATES, 'visibility', 'seed'))})")
        return cls(**values)


@dataclass
class _Invocation:
    """One sender invocation under chaos: the point it dies at (0: it lives), the points passed, and whether dead."""

    die_at: int
    points: int = 0
    dead: bool = False


_current: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar("chaos_invocation", default=None)


class _Body:
    """The raw body of a made-up AWS answer, as AWSResponse reads it."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@dataclass
class Chaos:
    """The faults of one stack process, their random stream, and what was injected (``counts``)."""

    config: ChaosConfig
    counts: dict[str, int] = field(default_factory=dict)
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _mean_points: float = 20.0

    def __post_init__(self) -> None:
        self._random = random.Random(self.config.seed)  # noqa: S311 - fault injection, not cryptography
        for name in ("invocations", "duplicated", "kills_armed", "killed", "conflicts", "throttles", "calls"):
            self.counts.setdefault(name, 0)

    # ----------------------------------------------------------------------------- the random stream
    def draw(self, rate: float) -> bool:
        """Whether a fault of this rate happens now (never at 0, always at 1)."""
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            return self._random.random() < rate

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    # ----------------------------------------------------------------------------- the pump's part
    def duplicates(self, count: int) -> list[bool]:
        """For each of `count` delivered messages, whether SQS delivers it again."""
        out = [self.draw(self.config.duplicate) for _ in range(count)]
        with self._lock:
            self.counts["duplicated"] += sum(out)
        return out

    @contextlib.contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        """Run one Lambda invocation; a sender's may be marked to die at a random point of its work."""
        if function not in KILLED_FUNCTIONS:
            yield
            return
        die_at = 0
        self._count("invocations")
        if self.draw(self.config.kill):
            with self._lock:
                die_at = self._random.randint(1, max(4, round(self._mean_points)))
                self.counts["kills_armed"] += 1
        state = _Invocation(die_at)
        token = _current.set(state)
        try:
            yield
        finally:
            _current.reset(token)
            if not state.dead:
                with self._lock:  # learn how many points an invocation passes, so a kill lands inside one
                    self._mean_points = 0.9 * self._mean_points + 0.1 * max(state.points, 1)

    def point(self, **_: Any) -> None:
        """A point where an armed invocation may die: before or after an AWS call or a provider call."""
        state = _current.get()
        if state is None:
            return
        if state.dead:
            raise Killed("the invocation's process is dead")
        state.points += 1
        if state.die_at and state.points >= state.die_at:
            state.dead = True
            self._count("killed")
            raise Killed(f"killed at point {state.points}")

    # ----------------------------------------------------------------------------- DynamoDB's part
    def dynamodb_answer(self, request: Any, **_: Any) -> AWSResponse | None:
        """botocore before-send: a TransactionConflict or a throttle instead of sending, at their rates."""
        self._count("calls")
        target = str(request.headers.get("X-Amz-Target", b"") or "")
        if isinstance(request.headers.get("X-Amz-Target"), bytes):
            target = request.headers["X-Amz-Target"].decode()
        if target.endswith(".TransactWriteItems") and self.draw(self.config.conflict):
            self._count("conflicts")
            items = len(json.loads(request.body or b"{}").get("TransactItems", [])) or 1
            with self._lock:
                at = self._random.randrange(items)
            reasons = [{"Code": "None"} for _ in range(items)]
            reasons[at] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
            codes = ", ".join(r["Code"] for r in reasons)
            return _answer(
                request,
                {
                    "__type": _DYNAMO_ERROR + "TransactionCanceledException",
                    "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",  # noqa: E501
                    "CancellationReasons": reasons,
                },
            )
        if self.draw(self.config.throttle):
            self._count("throttles")
            with self._lock:
                name = self._random.choice(("ProvisionedThroughputExceededException", "ThrottlingException"))
            return _answer(request, {"__type": _DYNAMO_ERROR + name, "message": "Rate of requests exceeds capacity"})
        return None

    # ----------------------------------------------------------------------------- installing
    def install(self, dynamodb: Any, others: tuple[Any, ...] = ()) -> None:
        """Hook the handlers' clients (their DynamoDB client's answers; kill points on it and `others`), the provider
        calls (requests' transport) and the sender's threads (they carry their invocation's context)."""
        self.install_table(dynamodb)
        for client in (dynamodb, *others):
            client.meta.events.register("before-call", self.point)
            client.meta.events.register("after-call", self.point)
        _patch_requests(self.point)
        _patch_thread_pools()

    def install_table(self, dynamodb: Any) -> None:
        """Hook a DynamoDB client's answers alone (conflicts and throttles)."""
        dynamodb.meta.events.register_first("before-send.dynamodb", self.dynamodb_answer)

    def uninstall_table(self, dynamodb: Any) -> None:
        """Take the conflicts and throttles off a DynamoDB client again."""
        dynamodb.meta.events.unregister("before-send.dynamodb", self.dynamodb_answer)

    def summary(self) -> dict[str, Any]:
        """What was injected, for the run's report."""
        with self._lock:
            return {"config": self.config.__dict__, **self.counts}


def _answer(request: Any, body: dict[str, Any]) -> AWSResponse:
    """An HTTP 400 error answer of DynamoDB's JSON protocol."""
    data = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-RequestId": "chaos",
        "Content-Length": str(len(data)),
    }
    return AWSResponse(request.url, 400, HeadersDict(headers), _Body(data))  # type: ignore[arg-type]


_patched: set[str] = set()


def _patch_requests(point: Callable[..., None]) -> None:
    """Kill points before and after every HTTP request made with requests (the providers' SDKs): dying after means
    the provider took the message and the answer was lost with the process."""
    if "requests" in _patched:
        return
    _patched.add("requests")
    from requests.adapters import HTTPAdapter

    original = HTTPAdapter.send

    def send(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        point()
        response = original(self, request, *args, **kwargs)
        point()
        return response

    HTTPAdapter.send = send  # type: ignore[method-assign]


def _patch_thread_pools() -> None:
    """Work submitted to a thread pool runs in the submitter's context (Python does not carry it), so the sender's
    send threads belong to its invocation and die with it."""
    if "pools" in _patched:
        return
    _patched.add("pools")
    original = ThreadPoolExecutor.submit

    def submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        context = contextvars.copy_context()
        return original(self, context.run, fn, *args, **kwargs)

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]


def from_env(environ: dict[str, str] | None = None) -> Chaos | None:
    """The chaos the CHAOS environment variable asks for, or None."""
    import os

    text = (environ if environ is not None else os.environ).get("CHAOS", "").strip()
    return Chaos(ChaosConfig.parse(text)) if text else None
