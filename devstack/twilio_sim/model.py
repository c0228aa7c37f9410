"""A real HTTP server that simulates Twilio's Messages API for the local stack and the tests.

It speaks ``/2010-04-01/Accounts/{AccountSid}/Messages.json`` (create, fetch, list) with HTTP Basic auth, answers
Twilio's error JSON, honours Twilio's magic test numbers, enforces each sender's messages-per-second limit, and
posts signed status callbacks (``sent`` then ``delivered``/``undelivered``) from a small pool of worker threads.
An MMS (``MediaUrl``) is fetched before its first callback, as Twilio does; media Twilio could not send fails it.
Control endpoints under ``/sim/`` configure it and inject latency and failures; ``POST /sim/inbound`` makes it post
a signed incoming-message webhook, as Twilio would.

Run it alone with ``python -m devstack.twilio_sim --port 8001``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import heapq
import itertools
import json
import logging
import math
import mimetypes
import os
import re
import signal
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from chalicelib.adapters.providers.twilio import MMS_CONTENT_TYPES  # the MIME types Twilio takes for MMS media

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY_BYTES = 1_000_000
MAX_BODY_CHARS = 1600
DEFAULT_UNDELIVERED_CODE = 30003

# Outbound media (https://www.twilio.com/docs/messaging/guides/accepted-mime-types): Twilio GETs each MediaUrl after
# accepting the message and checks its Content-Type and the total size; a message whose media fails is `failed`.
MAX_MEDIA_URLS = 10
MAX_MEDIA_BYTES = 5 * 1024 * 1024  # "For an MMS message, the size limit is 5MB" (the whole message's media)
MEDIA_FETCH_TIMEOUT = 10.0
# 11200 "HTTP retrieval failure": the docs' causes include "Web server returned a 4xx or 5xx HTTP response" and
# network failures; it is the code Twilio logs for a MediaUrl it cannot fetch.
MEDIA_RETRIEVAL_FAILED = 11200
# 12300 "Invalid Content-Type": "Twilio is unable to process the Content-Type of the provided URL", with "make sure
# messages to or from your Twilio phone number are using a supported content-type" among its fixes; also for a
# missing Content-Type ("You must return a Content-Type for all requests").
MEDIA_INVALID_CONTENT_TYPE = 12300
# 11751 "Media Message - Media exceeds messaging provider size limit": "the total size of the media message request
# exceeds the maximum size limit for the channel" (5 MB for MMS). Not 30019 "Content size exceeds carrier limit":
# that is a delivery error, for a destination carrier's own (smaller, per-carrier) limit, after Twilio sent it.
MEDIA_TOO_LARGE = 11751

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_RESET = "__reset_connection__"  # marks an accepted message whose answer is a reset connection
_CREATE_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_FETCH_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)\.json$")

# Twilio's magic "To" numbers (https://www.twilio.com/docs/iam/test-credentials) and the errors they produce.
TEST_NUMBER_ERRORS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number {to} is not currently reachable: Twilio cannot route to this number.",
    ),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}

_COUNTRY_PREFIXES: dict[str, str] = {
    "+1": "US",
    "+31": "NL",
    "+32": "BE",
    "+33": "FR",
    "+34": "ES",
    "+39": "IT",
    "+41": "CH",
    "+43": "AT",
    "+44": "GB",
    "+45": "DK",
    "+46": "SE",
    "+47": "NO",
    "+48": "PL",
    "+49": "DE",
    "+61": "AU",
    "+351": "PT",
    "+352": "LU",
    "+353": "IE",
    "+423": "LI",
}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(ts: float) -> str:
    """Format a wall-clock timestamp the way Twilio's 2010 API does, e.g. ``Thu, 30 Jul 2015 20:12:31 +0000``."""
    t = time.gmtime(ts)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def country_of(number: str) -> str:
    """ISO country code of an E.164 number by its longest known calling-code prefix ('' if unknown)."""
    for length in (4, 3, 2):
        country = _COUNTRY_PREFIXES.get(number[:length])
        if country:
            return country
    return ""


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    """Twilio's REST error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def new_sid(prefix: str) -> str:
    """A Twilio-style sid: a two-letter prefix and 32 lowercase hex digits."""
    return prefix + uuid.uuid4().hex


class TwilioApiError(Exception):
    """An error the simulated Twilio API answers with Twilio's error JSON."""

    def __init__(self, status: int, code: int, message: str) -> None:
        """Remember the HTTP status, Twilio error code and message."""
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Twilio would answer."""
        return twilio_error(self.code, self.message, self.status)


class UnknownNumberError(LookupError):
    """The simulator has no such number configured."""


@dataclass
class _Number:
    number: str
    account_sid: str
    mps: float
    inbound_url: str | None
    window: deque[float] = field(default_factory=deque)

    def limits(self) -> tuple[float, int]:
        """The sliding window (seconds) and how many messages it admits: mps per 1 s, or 1 per 1/mps s below 1."""
        window = max(1.0, 1.0 / self.mps)
        return window, max(1, math.floor(self.mps * window + 1e-9))

    def to_dict(self) -> dict[str, Any]:
        """Public view."""
        return {
            "number": self.number,
            "account_sid": self.account_sid,
            "mps": self.mps,
            "inbound_url": self.inbound_url,
        }


@dataclass
class _Message:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    media_urls: list[str]
    status_callback: str | None
    messaging_service_sid: str | None
    created_at: float
    plan: list[tuple[str, int | None]]
    status: str = "queued"
    error_code: int | None = None
    date_updated: float = 0.0
    date_sent: float | None = None
    # One entry per MediaUrl: {"url", "status", "bytes", "content_type", "http_status"}; status is "pending" until
    # fetched, then "fetched", "failed" (11200), "invalid_content_type" (12300), "too_large" (11751) or "skipped"
    # (not fetched: an earlier one already failed the message).
    media: list[dict[str, Any]] = field(default_factory=list)
    # Accepted, but its status callbacks are never posted (the `drop_callbacks_next` fault).
    drop_callbacks: bool = False

    def item(self) -> dict[str, Any]:
        """The entry listed by ``GET /sim/messages``."""
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "from": self.from_,
            "to": self.to,
            "body": self.body,
            "media_urls": list(self.media_urls),
            "media": [dict(m) for m in self.media],
            "status": self.status,
            "error_code": self.error_code,
            "status_callback": self.status_callback,
            "created_at": self.created_at,
        }

    def resource(self) -> dict[str, Any]:
        """The Message resource JSON, shaped like Twilio's."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created_at),
            "date_sent": rfc2822(self.date_sent) if self.date_sent is not None else None,
            "date_updated": rfc2822(self.date_updated or self.created_at),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media_urls)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    sid: str = field(compare=False)
    stage: int = field(compare=False)
    generation: int = field(compare=False)
    attempt: int = field(default=0, compare=False)
    idempotency_token: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)


@dataclass
class _Config:
    latency_ms: float = 0.0
    callback_delay_ms: float = 50.0
    throttle_next: int = 0
    server_error_next: int = 0
    undelivered: dict[str, int] = field(default_factory=dict)
    no_callbacks: bool = False
    # The next N messages are accepted (created, queued, their callbacks posted) but the connection is reset instead
    # of answering: the caller cannot know whether Twilio has them.
    reset_after_accept_next: int = 0
    # The next N accepted messages never get a status callback.
    drop_callbacks_next: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Public view."""
        return {
            "latency_ms": self.latency_ms,
            "callback_delay_ms": self.callback_delay_ms,
            "throttle_next": self.throttle_next,
            "server_error_next": self.server_error_next,
            "undelivered": dict(self.undelivered),
            "no_callbacks": self.no_callbacks,
            "reset_after_accept_next": self.reset_after_accept_next,
            "drop_callbacks_next": self.drop_callbacks_next,
        }


def _number_opt(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)


def _count_opt(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _undelivered_opt(value: Any) -> dict[str, int]:
    if isinstance(value, list | tuple):
        value = dict.fromkeys(value, DEFAULT_UNDELIVERED_CODE)
    if not isinstance(value, Mapping):
        raise ValueError("undelivered must map numbers to Twilio error codes")
    result: dict[str, int] = {}
    for number, code in value.items():
        if not isinstance(number, str) or isinstance(code, bool) or not isinstance(code, int):
            raise ValueError("undelivered must map numbers (strings) to error codes (integers)")
        result[number] = code
    return result


class TwilioSimulator:
    """A thread-safe, in-process HTTP server that behaves like Twilio's Messages API."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        callback_delay: float = 0.05,
        *,
        workers: int = 4,
        retry_backoff: Sequence[float] = (0.1, 0.3, 1.0),
        callback_timeout: float = 10.0,
    ) -> None:
        """Configure (not start) a simulator; ``clock`` drives the rate limit, ``callback_delay`` is in seconds."""
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._host = host
        self._requested_port = port
        self._clock = clock
        self._default_callback_delay_ms = _number_opt("callback_delay", callback_delay) * 1000.0
        self._workers_count = workers
        self._retry_backoff = tuple(float(b) for b in retry_backoff)
        self._callback_timeout = callback_timeout

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._accounts: dict[str, str] = {}
        self._numbers: dict[str, _Number] = {}
        self._messages: list[_Message] = []
        self._by_sid: dict[str, _Message] = {}
        self._config = _Config(callback_delay_ms=self._default_callback_delay_ms)
        self._stats = self._fresh_stats()
        self._generation = 0
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._inflight = 0
        self._stopping = False

        # Twilio's clock, for the times it stamps on messages (a test may make it its app's clock).
        self.wall_clock: Callable[[], float] = time.time
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._worker_threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> TwilioSimulator:
        """Bind the port and start serving (and the callback workers) on daemon threads."""
        with self._lock:
            if self._server is not None:
                return self
            self._stopping = False
            server = _Server((self._host, self._requested_port), _Handler)
            server.simulator = self
            self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-sim-http", daemon=True
        )
        self._serve_thread.start()
        self._worker_threads = [
            threading.Thread(target=self._worker, name=f"twilio-sim-callbacks-{i}", daemon=True)
            for i in range(self._workers_count)
        ]
        for thread in self._worker_threads:
            thread.start()
        logger.info("twilio simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and drop pending callbacks; safe to call twice."""
        with self._lock:
            server, self._server = self._server, None
            self._stopping = True
            self._jobs.clear()
            self._cond.notify_all()
        if server is not None:
            server.shutdown()
            server.server_close()
        for thread in [self._serve_thread, *self._worker_threads]:
            if thread is not None:
                thread.join(timeout=5)
        self._serve_thread = None
        self._worker_threads = []

    def __enter__(self) -> TwilioSimulator:
        """Start on entering a with-block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a with-block."""
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        server = self._server
        if server is None:
            raise RuntimeError("simulator is not running")
        return int(server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host  # noqa: S104 - mapping, not binding
        return f"http://{host}:{self.port}"

    # ------------------------------------------------------------------ configuration

    def add_account(self, account_sid: str, auth_token: str) -> None:
        """Register (or update) an account and its auth token."""
        if not isinstance(account_sid, str) or not account_sid or not isinstance(auth_token, str) or not auth_token:
            raise ValueError("account_sid and auth_token must be non-empty strings")
        with self._lock:
            self._accounts[account_sid] = auth_token

    def add_number(self, number: str, account_sid: str, mps: float = 1.0, inbound_url: str | None = None) -> None:
        """Register (or update) a sender number of an account, its messages-per-second limit and inbound webhook."""
        if not isinstance(number, str) or not _E164.match(number):
            raise ValueError("number must be an E.164 phone number")
        if isinstance(mps, bool) or not isinstance(mps, int | float) or not math.isfinite(mps) or mps <= 0:
            raise ValueError("mps must be a positive number")
        if inbound_url is not None and (not isinstance(inbound_url, str) or not _is_http_url(inbound_url)):
            raise ValueError("inbound_url must be an http(s) URL")
        with self._lock:
            if account_sid not in self._accounts:
                raise ValueError(f"unknown account {account_sid!r}; add the account first")
            self._numbers[number] = _Number(number, account_sid, float(mps), inbound_url)

    def configure(self, **opts: Any) -> dict[str, Any]:
        """Change fault injection and timing (see ``_Config``); unknown options raise ValueError. Returns the config."""
        parsers: dict[str, Callable[[Any], Any]] = {
            "latency_ms": lambda v: _number_opt("latency_ms", v),
            "callback_delay_ms": lambda v: _number_opt("callback_delay_ms", v),
            "throttle_next": lambda v: _count_opt("throttle_next", v),
            "server_error_next": lambda v: _count_opt("server_error_next", v),
            "undelivered": _undelivered_opt,
            "no_callbacks": _bool_opt,
            "reset_after_accept_next": lambda v: _count_opt("reset_after_accept_next", v),
            "drop_callbacks_next": lambda v: _count_opt("drop_callbacks_next", v),
        }
        unknown = sorted(set(opts) - set(parsers))
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}")
        parsed = {name: parsers[name](value) for name, value in opts.items()}
        with self._lock:
            for name, value in parsed.items():
                setattr(self._config, name, value)
            return self._config.to_dict()

    def config(self) -> dict[str, Any]:
        """The current configuration."""
        with self._lock:
            return self._config.to_dict()

    def reset(self, all: bool = False) -> None:
        """Clear messages, stats, rate windows, pending callbacks and config; ``all`` also forgets accounts/numbers."""
        with self._lock:
            self._generation += 1
            self._messages.clear()
            self._by_sid.clear()
            self._jobs.clear()
            self._config = _Config(callback_delay_ms=self._default_callback_delay_ms)
            self._stats = self._fresh_stats()
            for number in self._numbers.values():
                number.window.clear()
            if all:
                self._numbers.clear()
                self._accounts.clear()
            self._cond.notify_all()

    # ------------------------------------------------------------------ inspection

    def messages(self) -> list[dict[str, Any]]:
        """Every accepted outbound message, oldest first."""
        with self._lock:
            return [m.item() for m in self._messages]

    def stats(self) -> dict[str, Any]:
        """Counters: accepted, rejected (4xx), throttled (429), and more."""
        with self._lock:
            stats = dict(self._stats)
            stats["callbacks_pending"] = len(self._jobs) + self._inflight
            return stats

    def wait_for_callbacks(self, timeout: float = 5.0) -> bool:
        """Block until no status callback is pending or in flight; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and self._inflight == 0, timeout=timeout)

    # ------------------------------------------------------------------ the Messages API

    def create_message(self, path_sid: str, authorization: str | None, form: Mapping[str, list[str]]) -> dict[str, Any]:
        """Handle ``POST .../Messages.json``: the Message resource, or TwilioApiError with Twilio's status and code."""
        with self._lock:
            try:
                self._authenticate(path_sid, authorization)
            except TwilioApiError:
                self._stats["unauthorized"] += 1
                raise
            if self._config.server_error_next > 0:
                self._config.server_error_next -= 1
                self._stats["server_errors"] += 1
                raise TwilioApiError(500, 20500, "An internal server error has occurred")
            if self._config.throttle_next > 0:
                self._config.throttle_next -= 1
                self._stats["throttled"] += 1
                raise TwilioApiError(429, 20429, "Too Many Requests")
            try:
                to, sender, body, media, callback, service_sid = self._validate(path_sid, form)
            except TwilioApiError:
                self._stats["rejected"] += 1
                raise
            window, capacity = sender.limits()
            now = self._clock()
            while sender.window and sender.window[0] <= now - window:
                sender.window.popleft()
            if len(sender.window) >= capacity:
                self._stats["throttled"] += 1
                raise TwilioApiError(429, 20429, "Too Many Requests")
            sender.window.append(now)

            wall = self.wall_clock()
            final_code = self._config.undelivered.get(to)
            plan: list[tuple[str, int | None]] = [("sent", None)]
            plan.append(("undelivered", final_code) if final_code is not None else ("delivered", None))
            message = _Message(
                sid=new_sid("SM"),
                account_sid=path_sid,
                from_=sender.number,
                to=to,
                body=body,
                media_urls=media,
                status_callback=callback,
                messaging_service_sid=service_sid,
                created_at=wall,
                date_updated=wall,
                plan=plan,
                media=[
                    {"url": url, "status": "pending", "bytes": None, "content_type": None, "http_status": None}
                    for url in media
                ],
            )
            if self._config.drop_callbacks_next > 0:
                self._config.drop_callbacks_next -= 1
                message.drop_callbacks = True
            self._messages.append(message)
            self._by_sid[message.sid] = message
            self._stats["accepted"] += 1
            if self._stats["first_accepted_at"] is None:
                self._stats["first_accepted_at"] = wall
            self._stats["last_accepted_at"] = wall
            self._schedule(message.sid, stage=0, delay=self._config.callback_delay_ms / 1000.0)
            resource = message.resource()
            if self._config.reset_after_accept_next > 0:
                self._config.reset_after_accept_next -= 1
                self._stats["resets_after_accept"] += 1
                resource[_RESET] = True
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
            to, sender = _first(query, "To"), _first(query, "From")
            date_filters = [(op, _date_sent_bound(op, _first(query, name) or "")) for name, op in _DATE_SENT_PARAMS
                            if _first(query, name) is not None]  # fmt: skip
            try:
                page_size = max(1, min(1000, int(_first(query, "PageSize") or 50)))
                page = max(0, int(_first(query, "Page") or 0))
            except ValueError:
                raise TwilioApiError(400, 20001, "PageSize and Page must be integers") from None
            rows = [
                m
                for m in reversed(self._messages)  # newest first, then (stable) sorted as Twilio sorts below
                if m.account_sid == path_sid
                and (not to or m.to == to)
                and (not sender or m.from_ == sender)
                and all(_date_sent_matches(m.date_sent, op, bound) for op, bound in date_filters)
            ]
            # "Results are sorted by the DateSent field, with the most recent messages appearing first" (to the
            # second). Where Twilio puts a message not sent yet is not documented: here last, the hardest place for
            # a caller that stops reading at the first old message.
            rows.sort(key=lambda m: (m.date_sent is None, -math.floor(m.date_sent or 0)))
            start = page * page_size
            token = _first(query, "PageToken") or ""
            if token.startswith("PA"):
                after = next((pos for pos, m in enumerate(rows) if m.sid == token[2:]), None)
                if after is not None:
                    start = after + 1
            found = rows[start : start + page_size]
            messages = [m.resource() for m in found]
            more = start + page_size < len(rows)
        base = f"/{API_VERSION}/Accounts/{path_sid}/Messages.json"
        keep = [(k, v) for k in ("To", "From", *(n for n, _ in _DATE_SENT_PARAMS)) for v in query.get(k, [])[:1]]

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

    # ------------------------------------------------------------------ inbound messages

    def inbound(
        self, from_number: str, to_number: str, body: str = "", media_urls: Sequence[str] = ()
    ) -> tuple[int, dict[str, Any]]:
        """Post a signed incoming-message webhook for ``to_number``; (HTTP status to answer, result JSON)."""
        for name, value in (("from", from_number), ("to", to_number)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"'{name}' must be a non-empty string")
        if not isinstance(body, str):
            raise ValueError("'body' must be a string")
        if isinstance(media_urls, str) or not all(isinstance(u, str) and u for u in media_urls):
            raise ValueError("'media' must be a list of URLs")
        with self._lock:
            number = self._numbers.get(to_number)
            if number is None:
                raise UnknownNumberError(f"no number {to_number} is configured")
            url = number.inbound_url
            token = self._accounts.get(number.account_sid)
            account_sid = number.account_sid
        if not url or not token:
            return 409, {"error": f"number {to_number} has no inbound_url", "status": 409}
        sid = new_sid("MM" if media_urls else "SM")
        params = {
            "ToCountry": country_of(to_number),
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media_urls)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": country_of(from_number),
            "To": to_number,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": account_sid,
            "From": from_number,
            "ApiVersion": API_VERSION,
        }
        for i, media_url in enumerate(media_urls):
            params[f"MediaContentType{i}"] = mimetypes.guess_type(urlsplit(media_url).path)[0] or "image/jpeg"
            params[f"MediaUrl{i}"] = media_url
        with self._lock:
            self._stats["inbound"] += 1
        try:
            with requests.Session() as session:
                session.trust_env = False
                status = self._post_signed(session, url, params, token, idempotency_token=uuid.uuid4().hex)
        except requests.RequestException as exc:
            logger.warning("inbound webhook to %s failed: %s", url, exc)
            return 502, {"message_sid": sid, "status": None, "error": str(exc)}
        return 200, {"message_sid": sid, "status": status}

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
            "first_accepted_at": None,
            "last_accepted_at": None,
            "callbacks_posted": 0,
            "callbacks_failed": 0,
            "inbound": 0,
        }

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

    def _validate(
        self, account_sid: str, form: Mapping[str, list[str]]
    ) -> tuple[str, _Number, str, list[str], str | None, str | None]:
        to = _first(form, "To")
        from_ = _first(form, "From")
        service_sid = _first(form, "MessagingServiceSid")
        body = _first(form, "Body") or ""
        media = [u for u in form.get("MediaUrl", []) if u]
        callback = _first(form, "StatusCallback")
        if len(media) > MAX_MEDIA_URLS:
            raise TwilioApiError(400, 21623, "Number of media files exceeds allowed limit")
        if not all(_is_http_url(u) for u in media):
            raise TwilioApiError(400, 21620, "Invalid media URL(s)")
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service_sid:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if not body and not media and not _first(form, "ContentSid"):
            raise TwilioApiError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            raise TwilioApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if from_:
            sender = self._numbers.get(from_)
            if sender is None or sender.account_sid != account_sid:
                raise TwilioApiError(
                    400,
                    21606,
                    f"The From phone number {from_} is not a valid, SMS-capable inbound phone number or short code "
                    "for your account.",
                )
        else:
            # A messaging service without From: send from the account's first number (a one-number sender pool).
            owned = [n for n in self._numbers.values() if n.account_sid == account_sid]
            if not owned:
                raise TwilioApiError(400, 21703, "The Messaging Service does not have a phone number available.")
            sender = owned[0]
        if to in TEST_NUMBER_ERRORS:
            code, template = TEST_NUMBER_ERRORS[to]
            raise TwilioApiError(400, code, template.format(to=to))
        if not _E164.match(to):
            raise TwilioApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if callback is not None and not _is_http_url(callback):
            raise TwilioApiError(400, 21609, "The StatusCallback URL is not a valid URL.")
        return to, sender, body, media, callback, service_sid

    def _schedule(self, sid: str, stage: int, delay: float, attempt: int = 0, token: str | None = None) -> None:
        job = _Job(time.monotonic() + delay, next(self._seq), sid, stage, self._generation, attempt)
        if token is not None:
            job.idempotency_token = token
        heapq.heappush(self._jobs, job)
        self._cond.notify()

    def _worker(self) -> None:
        session = requests.Session()
        session.trust_env = False
        try:
            while True:
                with self._cond:
                    while True:
                        if self._stopping:
                            return
                        if self._jobs:
                            wait = self._jobs[0].due - time.monotonic()
                            if wait <= 0:
                                break
                            self._cond.wait(timeout=wait)
                        else:
                            self._cond.wait()
                    job = heapq.heappop(self._jobs)
                    self._inflight += 1
                try:
                    self._run_job(job, session)
                except Exception:  # a callback worker must survive anything
                    logger.exception("status callback job for %s failed", job.sid)
                finally:
                    with self._cond:
                        self._inflight -= 1
                        self._cond.notify_all()
        finally:
            session.close()

    def _check_media(self, job: _Job, session: requests.Session) -> None:
        """Before the first callback, fetch an MMS's media as Twilio would; media it can't send fails the message."""
        with self._lock:
            message = self._by_sid.get(job.sid)
            if message is None or job.generation != self._generation:
                return
            urls = [m["url"] for m in message.media if m["status"] == "pending"]
        if not urls:
            return
        results, error_code = _fetch_media(session, urls)
        with self._lock:
            if job.generation != self._generation:
                return
            message.media = results
            if error_code is not None:
                message.plan = [("failed", error_code)]

    def _run_job(self, job: _Job, session: requests.Session) -> None:
        if job.stage == 0 and job.attempt == 0:
            self._check_media(job, session)
        with self._lock:
            message = self._by_sid.get(job.sid)
            if message is None or job.generation != self._generation:
                return
            status, error_code = message.plan[job.stage]
            if job.attempt == 0:
                now = self.wall_clock()
                message.status, message.error_code, message.date_updated = status, error_code, now
                if status == "sent":
                    message.date_sent = now
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
        ok, posted = True, False
        if url and token:
            posted = True
            try:
                ok = self._post_signed(session, url, params, token, job.idempotency_token) < 500
            except requests.RequestException as exc:
                logger.info("status callback %s to %s failed: %s", status, url, exc)
                ok = False
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
            if job.stage + 1 < len(message.plan):
                self._schedule(job.sid, job.stage + 1, self._config.callback_delay_ms / 1000.0)

    def _post_signed(
        self, session: requests.Session, url: str, params: dict[str, str], token: str, idempotency_token: str
    ) -> int:
        signature = RequestValidator(token).compute_signature(url, params)
        response = session.post(
            url,
            data=params,
            headers={
                SIGNATURE_HEADER: signature,
                "I-Twilio-Idempotency-Token": idempotency_token,
                "User-Agent": "TwilioProxy/1.1",
                "Accept": "*/*",
            },
            timeout=(2.0, self._callback_timeout),
            allow_redirects=False,
        )
        _ = response.content  # drain, so the keep-alive connection goes back to the pool
        return response.status_code


def _fetch_media(session: requests.Session, urls: Sequence[str]) -> tuple[list[dict[str, Any]], int | None]:
    """GET each media URL in order: what was fetched, and the Twilio error code that fails the message (or None)."""
    results: list[dict[str, Any]] = []
    error_code: int | None = None
    total = 0
    for url in urls:
        item: dict[str, Any] = {
            "url": url,
            "status": "skipped",
            "bytes": None,
            "content_type": None,
            "http_status": None,
        }
        results.append(item)
        if error_code is not None:
            continue
        try:
            with session.get(url, timeout=MEDIA_FETCH_TIMEOUT, stream=True) as response:
                item["http_status"] = response.status_code
                item["content_type"] = response.headers.get("Content-Type")
                if not 200 <= response.status_code < 300:
                    item["status"], error_code = "failed", MEDIA_RETRIEVAL_FAILED
                    continue
                media_type = (item["content_type"] or "").split(";", 1)[0].strip().lower()
                if media_type not in MMS_CONTENT_TYPES:
                    item["status"], error_code = "invalid_content_type", MEDIA_INVALID_CONTENT_TYPE
                    continue
                size = 0
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    size += len(chunk)
                    if total + size > MAX_MEDIA_BYTES:
                        break  # never read more than the limit allows
                item["bytes"] = size
                total += size
                if total > MAX_MEDIA_BYTES:
                    item["status"], error_code = "too_large", MEDIA_TOO_LARGE
                else:
                    item["status"] = "fetched"
        except requests.RequestException as exc:
            logger.info("media fetch %s failed: %s", url, exc)
            item["status"], error_code = "failed", MEDIA_RETRIEVAL_FAILED
    return results, error_code


# The Messages list's DateSent filters: the query parameter and how it compares.
_DATE_SENT_PARAMS = (("DateSent", "="), ("DateSent<", "<"), ("DateSent>", ">"))


def _date_sent_bound(op: str, value: str) -> tuple[float, float]:
    """The [from, to) epoch range a DateSent filter admits: a date means that whole GMT day; so does `DateSent=` with
    a time (the SDK writes even a date as ``YYYY-MM-DDT00:00:00Z``), while ``<``/``>`` with a time compare to it."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
            lo, hi = day, day + 86400.0
        else:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            if op == "=":
                at = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                lo, hi = at.timestamp(), at.timestamp() + 86400.0
            else:
                lo, hi = at.timestamp(), at.timestamp() + 1.0
    except ValueError:
        raise TwilioApiError(400, 20001, f"Invalid DateSent value {value!r}: use YYYY-MM-DD") from None
    if op == "<":
        return (float("-inf"), hi)  # on or before
    if op == ">":
        return (lo, float("inf"))  # on or after
    return (lo, hi)


def _date_sent_matches(date_sent: float | None, op: str, bound: tuple[float, float]) -> bool:
    if date_sent is None:
        return False
    return bound[0] <= math.floor(date_sent) < bound[1]


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _bool_opt(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("no_callbacks must be true or false")
    return value


def _str(body: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string")
    return value


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# ---------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for idle keep-alive connections on stop()
    simulator: TwilioSimulator


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TwilioSimulator/1.0"
    timeout = 60
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait for delayed ACKs

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)

    @property
    def sim(self) -> TwilioSimulator:
        return cast(_Server, self.server).simulator

    def _dispatch(self, method: str) -> None:
        try:
            raw = self._read_body()
            self._route(method, raw)
        except _BadRequest as exc:
            self._json(exc.status, {"error": exc.message, "status": exc.status})
        except (BrokenPipeError, ConnectionResetError):
            # The caller gave up before the answer (its client timed out): as at Twilio, the message stays accepted.
            logger.debug("caller of %s %s left before the answer", method, self.path)
            self.close_connection = True
        except Exception as exc:  # the simulator must never crash on bad input
            logger.exception("simulator failed on %s %s", method, self.path)
            self._json(500, {"error": f"simulator error: {exc}", "status": 500})

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise _BadRequest(411, "chunked bodies are not supported; send Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise _BadRequest(400, "bad Content-Length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise _BadRequest(413, "request body too large")
        return self.rfile.read(length) if length else b""

    def _route(self, method: str, raw: bytes) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        if path.startswith("/sim/") or path == "/sim":
            self._control(method, path.rstrip("/"), raw, query)
            return
        create = _CREATE_PATH.match(path)
        if create:
            account_sid = create.group(1)
            if method == "POST":
                form = self._form(raw)
                self._twilio(201, lambda: self.sim.create_message(account_sid, self._auth(), form), latency=True)
            elif method == "GET":
                self._twilio(200, lambda: self.sim.list_messages(account_sid, self._auth(), query))
            else:
                self._method_not_allowed()
            return
        fetch = _FETCH_PATH.match(path)
        if fetch:
            account_sid, message_sid = fetch.group(1), fetch.group(2)
            if method == "GET":
                self._twilio(200, lambda: self.sim.fetch_message(account_sid, self._auth(), message_sid))
            else:
                self._method_not_allowed()
            return
        self._json(404, twilio_error(20404, f"The requested resource {path} was not found", 404))

    def _twilio(self, ok_status: int, call: Callable[[], dict[str, Any]], latency: bool = False) -> None:
        delay = self.sim.config()["latency_ms"] / 1000.0 if latency else 0.0
        try:
            status, payload = ok_status, call()
        except TwilioApiError as exc:
            status, payload = exc.status, exc.body()
        if delay > 0:
            time.sleep(delay)
        if payload.pop(_RESET, False):
            self._reset_connection()
            return
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
        self._json(status, payload, headers)

    def _control(self, method: str, path: str, raw: bytes, query: Mapping[str, list[str]]) -> None:
        sim = self.sim
        routes: dict[str, tuple[str, ...]] = {
            "/sim/health": ("GET",),
            "/sim/accounts": ("POST",),
            "/sim/numbers": ("POST",),
            "/sim/config": ("GET", "POST"),
            "/sim/reset": ("POST",),
            "/sim/messages": ("GET",),
            "/sim/stats": ("GET",),
            "/sim/inbound": ("POST",),
        }
        if path not in routes:
            raise _BadRequest(404, f"unknown simulator endpoint {path}")
        if method not in routes[path]:
            raise _BadRequest(405, f"{method} is not allowed on {path}")
        if method == "GET":
            if path == "/sim/health":
                self._json(200, {"ok": True})
            elif path == "/sim/config":
                self._json(200, sim.config())
            elif path == "/sim/messages":
                self._json(200, {"items": sim.messages()})
            else:
                self._json(200, sim.stats())
            return
        body = self._json_body(raw)
        try:
            if path == "/sim/accounts":
                sim.add_account(_str(body, "account_sid"), _str(body, "auth_token"))
                self._json(201, {"account_sid": body["account_sid"]})
            elif path == "/sim/numbers":
                mps = body.get("mps")
                mps = 1.0 if mps is None else mps
                sim.add_number(_str(body, "number"), _str(body, "account_sid"), mps, body.get("inbound_url"))
                self._json(
                    201,
                    {
                        "number": body["number"],
                        "account_sid": body["account_sid"],
                        "mps": mps,
                        "inbound_url": body.get("inbound_url"),
                    },
                )
            elif path == "/sim/config":
                self._json(200, sim.configure(**body))
            elif path == "/sim/reset":
                everything = body.get("all", False)
                if not isinstance(everything, bool):
                    raise ValueError("'all' must be true or false")
                sim.reset(all=everything)
                self._json(200, {"reset": True, "all": everything})
            else:
                media = body.get("media") or []
                if not isinstance(media, list):
                    raise ValueError("'media' must be a list of URLs")
                status, result = sim.inbound(_str(body, "from"), _str(body, "to"), _str(body, "body", ""), media)
                self._json(status, result)
        except UnknownNumberError as exc:
            raise _BadRequest(404, str(exc)) from None
        except (ValueError, TypeError) as exc:
            raise _BadRequest(400, str(exc)) from None

    def _json_body(self, raw: bytes) -> dict[str, Any]:
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _BadRequest(400, "body must be JSON") from None
        if not isinstance(body, dict):
            raise _BadRequest(400, "body must be a JSON object")
        return body

    def _form(self, raw: bytes) -> dict[str, list[str]]:
        try:
            return parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise _BadRequest(400, "form body must be UTF-8") from None

    def _auth(self) -> str | None:
        return self.headers.get("Authorization")

    def _reset_connection(self) -> None:
        """Abort the connection with a TCP reset (SO_LINGER 0), as a dropped load balancer connection looks."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _method_not_allowed(self) -> None:
        self._json(405, twilio_error(20004, "Method not allowed", 405))

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


# ---------------------------------------------------------------------- CLI


def _parse_number(spec: str) -> tuple[str, str, float, str | None]:
    parts = spec.split(",", 3)
    if len(parts) < 2:
        raise argparse.ArgumentTypeError("expected NUMBER,ACCOUNT_SID[,MPS[,INBOUND_URL]]")
    mps = float(parts[2]) if len(parts) > 2 and parts[2] else 1.0
    return parts[0], parts[1], mps, (parts[3] if len(parts) > 3 and parts[3] else None)


def _parse_account(spec: str) -> tuple[str, str]:
    sid, sep, token = spec.partition(":")
    if not sep or not sid or not token:
        raise argparse.ArgumentTypeError("expected ACCOUNT_SID:AUTH_TOKEN")
    return sid, token


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description="Local simulator of Twilio's Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIM_PORT") or 8001))
    parser.add_argument("--callback-delay", type=float, default=0.05, help="seconds between status callbacks")
    parser.add_argument("--workers", type=int, default=4, help="status-callback worker threads")
    parser.add_argument("--account", action="append", type=_parse_account, default=[], metavar="SID:TOKEN")
    parser.add_argument(
        "--number", action="append", type=_parse_number, default=[], metavar="NUMBER,ACCOUNT_SID[,MPS[,INBOUND_URL]]"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    sim = TwilioSimulator(args.host, args.port, callback_delay=args.callback_delay, workers=args.workers)
    for sid, token in args.account:
        sim.add_account(sid, token)
    for number, sid, mps, inbound_url in args.number:
        sim.add_number(number, sid, mps, inbound_url)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    sim.start()
    print(f"Twilio simulator listening on {sim.url}", flush=True)
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
