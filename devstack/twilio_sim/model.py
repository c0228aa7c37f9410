"""The simulated Twilio account state and its rules: accounts, numbers and their send queues, messages and the
status each moves through, the fault-injection config, counters, and the queue of status callbacks to post.

A sender's queue is Twilio's: a create is accepted (201, `queued`) whatever the sender's rate, and the message is
sent when its turn comes, ``send_at = max(now, sender.next_free)``, after which the sender is busy for
``segments / mps`` seconds; its `sent` callback (then delivered...) follows from ``send_at``. A message that would
wait longer than its ValidityPeriod (default ``queue_max_seconds``) is refused with 21611 and takes no turn. An
account's concurrent API requests beyond its limit are refused with 429 20429 (counted by the HTTP layer through
``enter_request``/``leave_request``). Rate-based faults (devstack/sim_faults.py) are rolled at each create.

Thread-safe (one lock); no HTTP here: server.py serves it, callbacks.py posts what it schedules.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from devstack import sim_faults
from devstack.due_jobs import DueJobs
from devstack.twilio_sim.content import (
    APPROVAL_STATUSES,
    NOT_APPROVED_CODES,
    OUTSIDE_WINDOW,
    Content,
    list_page,
    new_content,
)
from devstack.twilio_sim.records import Config, Delivery, Job, Message, Number, SenderStats
from devstack.twilio_sim.rules import (
    API_VERSION,
    DATE_SENT_PARAMS,
    E164,
    INVALID_VALIDITY,
    MAX_VALIDITY_SECONDS,
    PAIR_GAP_SECONDS,
    PAIR_RATE_EXCEEDED,
    QUEUE_FULL,
    RESET,
    WHATSAPP_PREFIX,
    WHATSAPP_TEST_NUMBER_ERRORS,
    TwilioApiError,
    UnknownNumberError,
    at_least_one_opt,
    bool_opt,
    count_opt,
    date_sent_bound,
    date_sent_matches,
    first,
    is_http_url,
    new_sid,
    number_opt,
    positive_opt,
    undelivered_opt,
)
from devstack.twilio_sim.sends import Send, check_send


class TwilioModel(DueJobs[Job]):
    """A Twilio account's Messages API state and rules, thread-safe; the simulator serves it over HTTP."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        callback_delay: float = 0.05,
        retry_backoff: Sequence[float] = (0.1, 0.3, 1.0),
    ) -> None:
        """An empty account set; ``clock`` drives the senders' queues, ``callback_delay`` is in seconds."""
        super().__init__()
        self._clock = clock
        self._default_callback_delay_ms = number_opt("callback_delay", callback_delay) * 1000.0
        self._retry_backoff = tuple(float(b) for b in retry_backoff)

        self._accounts: dict[str, str] = {}
        self._numbers: dict[str, Number] = {}
        self._messages: list[Message] = []
        self._by_sid: dict[str, Message] = {}
        self._contents: dict[str, Content] = {}  # Content API templates by sid
        self._pairs: dict[tuple[str, str], float] = {}  # (WhatsApp sender, user) -> when last sent to (the clock)
        # MessageSid -> (the number it was sent to, its form, its idempotency token): incoming messages, to replay.
        self._inbound: dict[str, tuple[str, dict[str, str], str]] = {}
        self._config = Config(callback_delay_ms=self._default_callback_delay_ms)
        self._stats = self._fresh_stats()
        self._senders: dict[str, SenderStats] = {}  # by sender number (E.164)
        self._sent_before: set[tuple[str, str, Any]] = set()  # (from, to, what) of each accepted message: duplicates
        self._account_limits: dict[str, int] = {}  # an account's own concurrency limit, if set
        self._in_flight: dict[str, int] = {}  # account sid -> API requests being served now
        self._fault_base: dict[str, Any] = {}  # the fault knobs a reset returns to (the SIM_* environment)
        self._faults = sim_faults.Faults()
        self._generation = 0
        self._seq = itertools.count()

        # Twilio's clock, for the times it stamps on messages (a test may make it its app's clock).
        self.wall_clock: Callable[[], float] = time.time

    # ------------------------------------------------------------------ configuration

    def add_account(self, account_sid: str, auth_token: str, concurrency: int | None = None) -> None:
        """Register (or update) an account and its auth token; ``concurrency`` is its own limit of concurrent API
        requests (else the config's ``account_concurrency``)."""
        if not isinstance(account_sid, str) or not account_sid or not isinstance(auth_token, str) or not auth_token:
            raise ValueError("account_sid and auth_token must be non-empty strings")
        if concurrency is not None and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
        ):
            raise ValueError("concurrency must be a positive integer")
        with self._lock:
            self._accounts[account_sid] = auth_token
            if concurrency is not None:
                self._account_limits[account_sid] = concurrency

    def add_number(
        self,
        number: str,
        account_sid: str,
        mps: float = 1.0,
        inbound_url: str | None = None,
        whatsapp: bool = False,
    ) -> None:
        """Register (or update) a sender number of an account, its messages-per-second limit and inbound webhook;
        ``whatsapp`` makes it a WhatsApp sender (addressed ``whatsapp:+E164``)."""
        if not isinstance(whatsapp, bool):
            raise ValueError("whatsapp must be true or false")
        if not isinstance(number, str) or not E164.match(number):
            raise ValueError("number must be an E.164 phone number")
        if isinstance(mps, bool) or not isinstance(mps, int | float) or not math.isfinite(mps) or mps <= 0:
            raise ValueError("mps must be a positive number")
        if inbound_url is not None and (not isinstance(inbound_url, str) or not is_http_url(inbound_url)):
            raise ValueError("inbound_url must be an http(s) URL")
        with self._lock:
            if account_sid not in self._accounts:
                raise ValueError(f"unknown account {account_sid!r}; add the account first")
            self._numbers[number] = Number(number, account_sid, float(mps), inbound_url, whatsapp=whatsapp)

    def add_content(self, account_sid: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create (or replace, by ``sid``) a Content API template of an account; its ContentAndApprovals item."""
        with self._lock:
            if account_sid not in self._accounts:
                raise ValueError(f"unknown account {account_sid!r}; add the account first")
            content = new_content(account_sid, spec, self.wall_clock())
            old = self._contents.get(content.sid)
            if old is not None:
                content.created_at = old.created_at
            self._contents[content.sid] = content
            return content.resource()

    def set_content_status(self, sid: str, status: str) -> dict[str, Any]:
        """Move a template's WhatsApp approval to ``status`` (as Meta pausing or disabling it would)."""
        if status not in APPROVAL_STATUSES:
            raise ValueError(f"'status' must be one of {', '.join(APPROVAL_STATUSES)}")
        with self._lock:
            content = self._contents.get(sid)
            if content is None:
                raise UnknownNumberError(f"no content {sid} is configured")
            content.status = status
            return content.resource()

    def configure(self, **opts: Any) -> dict[str, Any]:
        """Change fault injection and timing (see ``Config``); unknown options raise ValueError. Returns the config."""
        parsers: dict[str, Callable[[Any], Any]] = {
            "latency_ms": lambda v: number_opt("latency_ms", v),
            "callback_delay_ms": lambda v: number_opt("callback_delay_ms", v),
            "throttle_next": lambda v: count_opt("throttle_next", v),
            "server_error_next": lambda v: count_opt("server_error_next", v),
            "undelivered": undelivered_opt,
            "no_callbacks": bool_opt,
            "reset_after_accept_next": lambda v: count_opt("reset_after_accept_next", v),
            "drop_callbacks_next": lambda v: count_opt("drop_callbacks_next", v),
            "queue_max_seconds": positive_opt("queue_max_seconds"),
            "account_concurrency": at_least_one_opt("account_concurrency"),
            **{name: functools.partial(sim_faults.parse, name) for name in sim_faults.KNOBS},
        }
        unknown = sorted(set(opts) - set(parsers))
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}")
        parsed = {name: parsers[name](value) for name, value in opts.items()}
        faults = {name: parsed.pop(name) for name in sim_faults.KNOBS if name in parsed}
        with self._lock:
            for name, value in parsed.items():
                setattr(self._config, name, value)
            self._faults.set(**faults)
            return self._config_view()

    def set_fault_base(self, knobs: Mapping[str, Any]) -> None:
        """Fault knobs (parsed, see sim_faults.from_env) set now and again after every reset."""
        with self._lock:
            self._fault_base = dict(knobs)
            self._faults.set(**self._fault_base)

    def config(self) -> dict[str, Any]:
        """The current configuration."""
        with self._lock:
            return self._config_view()

    def _config_view(self) -> dict[str, Any]:
        return {**self._config.to_dict(), **self._faults.to_dict()}

    def reset(self, all: bool = False) -> None:
        """Clear messages, stats, rate windows, pending callbacks and config; ``all`` also forgets accounts/numbers."""
        with self._lock:
            self._generation += 1
            self._messages.clear()
            self._by_sid.clear()
            self._jobs.clear()
            self._config = Config(callback_delay_ms=self._default_callback_delay_ms)
            self._stats = self._fresh_stats()
            self._pairs.clear()
            self._inbound.clear()
            self._senders.clear()
            self._sent_before.clear()
            self._faults = sim_faults.Faults()
            self._faults.set(**self._fault_base)
            for number in self._numbers.values():
                number.next_free = float("-inf")
            if all:
                self._numbers.clear()
                self._accounts.clear()
                self._account_limits.clear()
                self._contents.clear()
            self._cond.notify_all()

    # ------------------------------------------------------------------ inspection

    def messages(self) -> list[dict[str, Any]]:
        """Every accepted outbound message, oldest first."""
        with self._lock:
            return [m.item() for m in self._messages]

    def stats(self) -> dict[str, Any]:
        """Counters: accepted, rejected (4xx), throttled (429), each sender's queue (``senders``), the faults
        ``injected``, and more."""
        with self._lock:
            stats = dict(self._stats)
            stats["callbacks_pending"] = self._pending()
            stats["senders"] = {number: s.view() for number, s in self._senders.items()}
            stats["injected"] = dict(self._faults.injected)
            return stats

    def enter_request(self, account_sid: str) -> bool:
        """An API request of the account starts: False (and counted as throttled) when the account already has as
        many in flight as it may; True means it holds a slot until ``leave_request``."""
        with self._lock:
            limit = self._account_limits.get(account_sid, self._config.account_concurrency)
            busy = self._in_flight.get(account_sid, 0)
            if busy >= limit:
                self._stats["throttled"] += 1
                self._stats["throttled_concurrency"] += 1
                return False
            self._in_flight[account_sid] = busy + 1
            self._stats["peak_concurrency"] = max(self._stats["peak_concurrency"], busy + 1)
            return True

    def leave_request(self, account_sid: str) -> None:
        """An API request admitted by ``enter_request`` has been answered."""
        with self._lock:
            busy = self._in_flight.get(account_sid, 0) - 1
            if busy > 0:
                self._in_flight[account_sid] = busy
            else:
                self._in_flight.pop(account_sid, None)

    def wait_for_callbacks(self, timeout: float = 5.0) -> bool:
        """Block until no status callback is pending or in flight; False on timeout."""
        return self._wait_idle(timeout)

    # ------------------------------------------------------------------ the Messages API

    def create_message(self, path_sid: str, authorization: str | None, form: Mapping[str, list[str]]) -> dict[str, Any]:
        """Handle ``POST .../Messages.json``: the Message resource, or TwilioApiError with Twilio's status and code."""
        with self._lock:
            try:
                self._authenticate(path_sid, authorization)
            except TwilioApiError:
                self._stats["unauthorized"] += 1
                raise
            if self._config.server_error_next > 0 or self._faults.roll(sim_faults.SERVER_ERROR):
                self._config.server_error_next = max(0, self._config.server_error_next - 1)
                self._stats["server_errors"] += 1
                raise TwilioApiError(500, 20500, "An internal server error has occurred")
            if self._config.throttle_next > 0:
                self._config.throttle_next -= 1
                self._stats["throttled"] += 1
                raise TwilioApiError(429, 20429, "Too Many Requests")
            try:
                checked = self._validate(path_sid, form)
                validity = self._validity(form)
            except TwilioApiError:
                self._stats["rejected"] += 1
                raise
            sender = checked.sender
            segments = 1  # the simulator does not split bodies into segments: one per message
            now = self._clock()
            send_at = max(now, sender.next_free)
            wait = send_at - now
            if wait > validity + 1e-9:
                self._stats["rejected"] += 1
                self._stats["queue_full_21611"] += 1
                raise TwilioApiError(
                    400, QUEUE_FULL, "This 'From' number has exceeded the maximum number of queued messages"
                )
            sender.next_free = send_at + segments / sender.mps

            wall = self.wall_clock()
            message = Message(
                sid=new_sid("SM"),
                account_sid=path_sid,
                from_=WHATSAPP_PREFIX + sender.number if checked.whatsapp else sender.number,
                to=checked.to,
                body=checked.body,
                media_urls=checked.media,
                status_callback=checked.callback,
                messaging_service_sid=checked.service_sid,
                created_at=wall,
                date_updated=wall,
                plan=self._plan(checked, now),
                # A content template's media was fetched and checked when it was approved: not fetched again.
                media=[
                    {"url": url, "status": "pending", "bytes": None, "content_type": None, "http_status": None}
                    for url in (checked.media if checked.content is None else ())
                ],
                content_sid=checked.content.sid if checked.content else None,
                content_variables=checked.values,
                segments=segments,
                send_at=send_at,
                queue_wait=wait,
            )
            message.replay_stages = self._faults.replays(len(message.plan))
            if self._config.drop_callbacks_next > 0:
                self._config.drop_callbacks_next -= 1
                message.drop_callbacks = True
            self._messages.append(message)
            self._by_sid[message.sid] = message
            self._stats["accepted"] += 1
            if self._stats["first_accepted_at"] is None:
                self._stats["first_accepted_at"] = wall
            self._stats["last_accepted_at"] = wall
            queue = self._senders.setdefault(sender.number, SenderStats())
            queue.accepted += 1
            queue.longest_wait = max(queue.longest_wait, wait)
            what = (
                (message.content_sid, tuple(sorted((checked.values or {}).items())))
                if checked.content
                else checked.body
            )
            key = (message.from_, message.to, what)
            if key in self._sent_before:
                self._stats["duplicates"] += 1
            self._sent_before.add(key)
            # The `sent` callback when its turn in the queue comes (then a callback delay, as before any queue).
            self._schedule(message.sid, stage=0, delay=wait + self._config.callback_delay_ms / 1000.0)
            resource = message.resource()
            if self._faults.roll(sim_faults.LATE_ANSWER):
                resource[sim_faults.LATE] = self._faults.late_seconds()
            if self._config.reset_after_accept_next > 0 or self._faults.roll(sim_faults.RESET_AFTER_ACCEPT):
                self._config.reset_after_accept_next = max(0, self._config.reset_after_accept_next - 1)
                self._stats["resets_after_accept"] += 1
                resource[RESET] = True
            return resource

    def fetch_message(self, path_sid: str, authorization: str | None, message_sid: str) -> dict[str, Any]:
        """Handle ``GET .../Messages/{sid}.json``."""
        with self._lock:
            self._authenticate(path_sid, authorization)
            message = self._by_sid.get(message_sid)
            if message is None or message.account_sid != path_sid:
                raise TwilioApiError(
                    404,
                    20404,
                    f"The requested resource /{API_VERSION}/Accounts/{path_sid}/Messages/{message_sid}.json "
                    "was not found",
                )
            return message.resource()

    def list_messages(self, path_sid: str, authorization: str | None, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """Handle ``GET .../Messages.json`` as Twilio does: sorted by DateSent, newest first; filtered by ``To``,
        ``From``, ``DateSent``, ``DateSent<`` and ``DateSent>`` (a ``YYYY-MM-DD`` GMT date, or a time as the SDK
        writes it, ``...THH:MM:SSZ``); paged by ``PageSize`` with ``next_page_uri`` (``Page``, and ``PageToken``:
        ``PA`` + the last sid of the page before). A DateSent filter leaves out messages not sent yet (queued)."""
        with self._lock:
            self._authenticate(path_sid, authorization)
            to, sender = first(query, "To"), first(query, "From")
            date_filters = [(op, date_sent_bound(op, first(query, name) or "")) for name, op in DATE_SENT_PARAMS
                            if first(query, name) is not None]  # fmt: skip
            try:
                page_size = max(1, min(1000, int(first(query, "PageSize") or 50)))
                page = max(0, int(first(query, "Page") or 0))
            except ValueError:
                raise TwilioApiError(400, 20001, "PageSize and Page must be integers") from None
            rows = [
                m
                for m in reversed(self._messages)  # newest first, then (stable) sorted as Twilio sorts below
                if m.account_sid == path_sid
                and (not to or m.to == to)
                and (not sender or m.from_ == sender)
                and all(date_sent_matches(m.date_sent, op, bound) for op, bound in date_filters)
            ]
            # "Results are sorted by the DateSent field, with the most recent messages appearing first" (to the
            # second). Where Twilio puts a message not sent yet is not documented: here last, the hardest place for
            # a caller that stops reading at the first old message.
            rows.sort(key=lambda m: (m.date_sent is None, -math.floor(m.date_sent or 0)))
            start = page * page_size
            token = first(query, "PageToken") or ""
            if token.startswith("PA"):
                after = next((pos for pos, m in enumerate(rows) if m.sid == token[2:]), None)
                if after is not None:
                    start = after + 1
            found = rows[start : start + page_size]
            messages = [m.resource() for m in found]
            more = start + page_size < len(rows)
        base = f"/{API_VERSION}/Accounts/{path_sid}/Messages.json"
        keep = [(k, v) for k in ("To", "From", *(n for n, _ in DATE_SENT_PARAMS)) for v in query.get(k, [])[:1]]

        def uri(page_no: int, page_token: str | None = None) -> str:
            params = [*keep, ("PageSize", str(page_size)), ("Page", str(page_no))]
            if page_token:
                params.append(("PageToken", page_token))
            return f"{base}?{urlencode(params)}"

        return {
            "end": start + max(0, len(messages) - 1),
            "first_page_uri": uri(0),
            "messages": messages,
            "next_page_uri": uri(page + 1, f"PA{found[-1].sid}") if more and found else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": uri(page, token or None),
        }

    def list_contents(self, authorization: str | None, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """Handle ``GET content.twilio.com/v1/ContentAndApprovals``: the authenticated account's templates with their
        WhatsApp approval, oldest first, paged by ``PageSize`` with ``meta.next_page_url``."""
        with self._lock:
            account_sid = self._account_of(authorization)
            return list_page([c for c in self._contents.values() if c.account_sid == account_sid], query)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _fresh_stats() -> dict[str, Any]:
        return {
            "accepted": 0,
            "rejected": 0,
            "throttled": 0,
            "server_errors": 0,
            "unauthorized": 0,
            "resets_after_accept": 0,
            "throttled_concurrency": 0,  # 20429 for more concurrent requests than the account may make (in throttled)
            "peak_concurrency": 0,  # the most concurrent API requests one account had admitted
            "queue_full_21611": 0,  # refused: the wait in the sender's queue would exceed the validity (in rejected)
            "duplicates": 0,  # accepted with the same (from, to, body or content and variables) as an earlier one
            "first_accepted_at": None,
            "last_accepted_at": None,
            "callbacks_posted": 0,
            "callbacks_failed": 0,
            "inbound": 0,
            "inbound_replays": 0,
        }

    def _account_of(self, authorization: str | None) -> str:
        """The account whose credentials the Authorization header carries (401 20003 for any other)."""
        user = ""
        if authorization and authorization.startswith("Basic "):
            try:
                user = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8").partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = ""
        self._authenticate(user, authorization)
        return user

    def _plan(self, checked: Send, now: float) -> list[tuple[str, int | None]]:
        """The statuses a message accepted now will report, in order."""
        if checked.whatsapp:
            # Meta's pair rate (one message per sender and user every 6 s, its 131056), relayed by Twilio as 63018.
            # A refused message does not count as the pair's last.
            pair = (checked.sender.number, checked.number)
            last = self._pairs.get(pair)
            code = WHATSAPP_TEST_NUMBER_ERRORS.get(checked.number)
            if code is None and last is not None and now - last < PAIR_GAP_SECONDS:
                code = PAIR_RATE_EXCEEDED
            if code is None:
                self._pairs[pair] = now
            if code is None and checked.content is not None and checked.content.status != "approved":
                code = NOT_APPROVED_CODES.get(checked.content.status, OUTSIDE_WINDOW)
            if code is not None:
                return [("failed", code)]
        final_code = self._config.undelivered.get(checked.number)
        plan: list[tuple[str, int | None]] = [("sent", None)]
        plan.append(("undelivered", final_code) if final_code is not None else ("delivered", None))
        if checked.whatsapp and final_code is None:
            plan.append(("read", None))
        return plan

    def _authenticate(self, path_sid: str, authorization: str | None) -> None:
        unauthorized = TwilioApiError(401, 20003, "Authenticate")
        if not authorization or not authorization.startswith("Basic "):
            raise unauthorized
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized from None
        user, sep, password = decoded.partition(":")
        token = self._accounts.get(user)
        if not sep or token is None or token != password or user != path_sid:
            raise unauthorized

    def _validate(self, account_sid: str, form: Mapping[str, list[str]]) -> Send:
        return check_send(self._numbers, self._contents, account_sid, form)

    def _validity(self, form: Mapping[str, list[str]]) -> float:
        """The longest a message may wait in its sender's queue: its ValidityPeriod, else ``queue_max_seconds``."""
        raw = first(form, "ValidityPeriod")
        if raw is None or raw == "":
            return self._config.queue_max_seconds
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_VALIDITY_SECONDS:
            raise TwilioApiError(400, INVALID_VALIDITY, "Invalid validity period value")
        return float(raw)

    def _schedule(self, sid: str, stage: int, delay: float, attempt: int = 0, token: str | None = None) -> None:
        job = Job(time.monotonic() + delay, next(self._seq), sid, stage, self._generation, attempt)
        if token is not None:
            job.idempotency_token = token
        self._push(job)

    # ------------------------------------------------------------------ the callback workers' side (callbacks.py)

    def pending_media(self, job: Job) -> list[str]:
        """The media URLs of the job's message not fetched yet (none if the message is gone)."""
        with self._lock:
            message = self._by_sid.get(job.sid)
            if message is None or job.generation != self._generation:
                return []
            return [m["url"] for m in message.media if m["status"] == "pending"]

    def media_checked(self, job: Job, results: list[dict[str, Any]], error_code: int | None) -> None:
        """Record what fetching the message's media found; media Twilio can't send fails the message."""
        with self._lock:
            message = self._by_sid.get(job.sid)
            if message is None or job.generation != self._generation:
                return
            message.media = results
            if error_code is not None:
                message.plan = [("failed", error_code)]

    def start_delivery(self, job: Job) -> Delivery | None:
        """Move the message to the job's status (first attempt) and say what callback to post; None if it is gone."""
        with self._lock:
            message = self._by_sid.get(job.sid)
            if message is None or job.generation != self._generation:
                return None
            status, error_code = message.plan[job.stage]
            if job.attempt == 0:
                now = self.wall_clock()
                message.status, message.error_code, message.date_updated = status, error_code, now
                if status == "sent":
                    message.date_sent = now
                if job.stage == 0:  # its turn in the sender's queue came
                    queue = self._senders.get(message.from_.removeprefix(WHATSAPP_PREFIX))
                    if queue is not None:
                        queue.sent += 1
                        if queue.first_send_at is None:
                            queue.first_send_at = message.send_at
                        queue.last_send_at = max(queue.last_send_at or message.send_at, message.send_at)
            url = None if self._config.no_callbacks or message.drop_callbacks else message.status_callback
            token = self._accounts.get(message.account_sid)
            params = {
                "SmsSid": message.sid,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": message.to,
                "MessageSid": message.sid,
                "AccountSid": message.account_sid,
                "From": message.from_,
                "ApiVersion": API_VERSION,
            }
            if message.messaging_service_sid:
                params["MessagingServiceSid"] = message.messaging_service_sid
            if status in ("delivered", "undelivered"):
                params["RawDlrDoneDate"] = time.strftime("%y%m%d%H%M", time.gmtime())
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
            return Delivery(message, status, url, token, params)

    def finish_delivery(self, job: Job, delivery: Delivery, ok: bool, posted: bool) -> None:
        """After the callback was posted (or not): retry a failed post with backoff, else schedule the next status."""
        with self._lock:
            if job.generation != self._generation or self._stopping:
                return
            if not ok and job.attempt < len(self._retry_backoff):
                self._schedule(
                    job.sid, job.stage, self._retry_backoff[job.attempt], job.attempt + 1, job.idempotency_token
                )
                return
            if posted:
                self._stats["callbacks_posted" if ok else "callbacks_failed"] += 1
            if ok and posted and delivery.url and delivery.token and job.stage in delivery.message.replay_stages:
                # The callback_replay_rate fault: the same callback again, after the first (as Twilio's retry of one
                # it took for lost): the same form and idempotency token, signed again.
                replay = Job(
                    time.monotonic() + self._config.callback_delay_ms / 1000.0,
                    next(self._seq),
                    job.sid,
                    job.stage,
                    self._generation,
                    idempotency_token=job.idempotency_token,
                    replay=(delivery.url, delivery.token, dict(delivery.params)),
                )
                self._push(replay)
            if job.stage + 1 < len(delivery.message.plan):
                self._schedule(job.sid, job.stage + 1, self._config.callback_delay_ms / 1000.0)

    def replay_due(self, job: Job) -> bool:
        """Whether a replay job is still to be posted (not from before a reset); counts it as injected."""
        with self._lock:
            if job.generation != self._generation or self._stopping:
                return False
            self._faults.replayed()
            return True

    def inbound_target(self, to_number: str) -> tuple[str | None, str | None, str, bool]:
        """Where an incoming message to ``to_number`` is posted: (inbound URL, the account's token, account sid,
        whether it is a WhatsApp sender)."""
        with self._lock:
            number = self._numbers.get(to_number)
            if number is None:
                raise UnknownNumberError(f"no number {to_number} is configured")
            return number.inbound_url, self._accounts.get(number.account_sid), number.account_sid, number.whatsapp

    def count_inbound(self, to_number: str, params: dict[str, str], idempotency_token: str) -> None:
        """Count one incoming message posted, and keep it (by its MessageSid) so that it can be replayed."""
        with self._lock:
            self._stats["inbound"] += 1
            self._inbound[params["MessageSid"]] = (to_number, dict(params), idempotency_token)

    def kept_inbound(self, sid: str) -> tuple[str, dict[str, str], str]:
        """An incoming message posted before: (the number it was sent to, its form, its idempotency token);
        LookupError for a sid never posted."""
        with self._lock:
            kept = self._inbound.get(sid)
            if kept is None:
                raise LookupError(f"no inbound message {sid}")
            self._stats["inbound_replays"] += 1
            return kept[0], dict(kept[1]), kept[2]
