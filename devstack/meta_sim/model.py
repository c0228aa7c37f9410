"""The simulated Meta state and its rules: WABAs (token, app secret, webhook URL), their phone numbers and
throughput windows, message templates, messages and the statuses each moves through, the pair rate, the fault
config (and the shared rate-based fault knobs, devstack/sim_faults.py, as `graph_*`), counters (each number's sends
in `senders`, `duplicates`, the faults `injected`), and the queue of webhooks to post.

Thread-safe (one lock); no HTTP here: http.py serves it, webhooks.py posts what it schedules.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devstack import sim_faults
from devstack.due_jobs import DueJobs
from devstack.meta_sim.payloads import PREFERENCE_DETAILS, message_value, preference_value, status_value
from devstack.meta_sim.records import (
    CONFIG_PARSERS,
    FAULT_OPTIONS,
    Config,
    Job,
    PhoneNumber,
    SentMessage,
    Waba,
    number_opt,
)
from devstack.meta_sim.rules import (
    DEFAULT_MPS,
    DEFAULT_PAGE_SIZE,
    DIGITS,
    MAX_PAGE_SIZE,
    OTHER_FAILURES,
    PAIR_GAP_SECONDS,
    TEST_NUMBER_FAILURES,
    GraphError,
    check_template_send,
    cursor,
    invalid_token,
    new_wamid,
    offset_of,
    template_item,
)


class MetaModel(DueJobs[Job]):
    """Meta's Cloud API state and rules for the WABAs it holds, thread-safe; http.py serves it."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        webhook_delay: float = 0.05,
        retry_backoff: Sequence[float] = (0.1, 0.3, 1.0),
    ) -> None:
        """No WABAs yet; `clock` drives throughput and pair rate, `webhook_delay` (s) spaces the statuses."""
        super().__init__()
        self._clock = clock
        self._default_delay_ms = webhook_delay * 1000.0
        self._retry_backoff = tuple(float(b) for b in retry_backoff)
        self._wabas: dict[str, Waba] = {}
        self._numbers: dict[str, PhoneNumber] = {}
        self._messages: list[SentMessage] = []
        self._by_id: dict[str, SentMessage] = {}
        self._last_to: dict[tuple[str, str], float] = {}  # (phone number id, user) -> last accepted send
        self._last_inbound: dict[tuple[str, str], float] = {}  # (phone number id, user) -> last inbound (24 h window)
        self._inbound: dict[str, tuple[str, dict[str, Any]]] = {}  # wamid -> (WABA, the webhook posted): replays
        self._config = Config(graph_webhook_delay_ms=self._default_delay_ms)
        self._stats = self._fresh_stats()
        self._sent_before: set[tuple[str, str, str]] = set()  # (number id, user, what) of each accepted send
        self._fault_base: dict[str, Any] = {}  # the fault knobs a reset returns to (the SIM_* environment)
        self._faults = sim_faults.Faults()
        self._generation = 0
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self.wall_clock: Callable[[], float] = time.time

    @staticmethod
    def _fresh_stats() -> dict[str, Any]:
        return {
            "accepted": 0,
            "rejected": 0,
            "unauthorized": 0,
            "throttled_130429": 0,
            "pair_rate_131056": 0,
            "server_errors": 0,
            "timeouts": 0,
            "failed_statuses": 0,
            "webhooks_posted": 0,
            "webhooks_failed": 0,
            "inbound": 0,
            "inbound_replays": 0,
            "user_preferences": 0,
            "template_updates": 0,
            "resets_after_accept": 0,
            "duplicates": 0,  # accepted with the same (number, user, text or template and parameters) as before
            "first_accepted_at": None,
            "last_accepted_at": None,
        }

    # ------------------------------------------------------------------ configuration

    def add_waba(
        self,
        waba_id: str,
        access_token: str,
        app_secret: str,
        webhook_url: str | None = None,
        phone_numbers: Sequence[Mapping[str, Any]] = (),
        templates: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        """Register (or replace) a WABA with its numbers ({id, display_phone_number, mps}) and templates."""
        for name, value in (("waba_id", waba_id), ("access_token", access_token), ("app_secret", app_secret)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"'{name}' must be a non-empty string")
        if not waba_id.isdigit():
            raise ValueError("'waba_id' must be digits")
        if webhook_url is not None and (not isinstance(webhook_url, str) or not webhook_url.startswith("http")):
            raise ValueError("'webhook_url' must be an http(s) URL")
        numbers = []
        for spec in phone_numbers:
            number_id = str(spec.get("id") or "")
            display = "".join(c for c in str(spec.get("display_phone_number") or "") if c.isdigit())
            mps = spec.get("mps", DEFAULT_MPS)
            if not number_id.isdigit() or not DIGITS.fullmatch(display):
                raise ValueError("a phone number needs digits 'id' and 'display_phone_number'")
            numbers.append(PhoneNumber(number_id, display, waba_id, number_opt("mps", mps) or DEFAULT_MPS))
        with self._lock:
            items = [template_item(spec, str(next(self._ids) + 1_000_000_000_000_000)) for spec in templates]
            self._wabas[waba_id] = Waba(waba_id, access_token, app_secret, webhook_url, items)
            for number in numbers:
                self._numbers[number.phone_number_id] = number
            return self._waba_view(self._wabas[waba_id])

    def _waba_view(self, waba: Waba) -> dict[str, Any]:
        return {
            "waba_id": waba.waba_id,
            "webhook_url": waba.webhook_url,
            "phone_numbers": [
                {"id": n.phone_number_id, "display_phone_number": n.display, "mps": n.mps}
                for n in self._numbers.values()
                if n.waba_id == waba.waba_id
            ],
            "templates": [{"id": t["id"], "name": t["name"], "status": t["status"]} for t in waba.templates],
        }

    @staticmethod
    def parse_config(**opts: Any) -> dict[str, Any]:
        """The options checked and parsed (ValueError for an unknown or bad one), nothing changed."""
        unknown = sorted(set(opts) - set(CONFIG_PARSERS))
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}")
        return {name: CONFIG_PARSERS[name](name, value) for name, value in opts.items()}

    def configure(self, **opts: Any) -> dict[str, Any]:
        """Change the Graph API's faults and timing (options `graph_*`); unknown ones raise ValueError."""
        parsed = self.parse_config(**opts)
        faults = {FAULT_OPTIONS[name]: parsed.pop(name) for name in list(parsed) if name in FAULT_OPTIONS}
        with self._lock:
            for name, value in parsed.items():
                setattr(self._config, name, value)
            self._faults.set(**faults)
            return self._config_view()

    def set_fault_base(self, knobs: Mapping[str, Any]) -> None:
        """Fault knobs (parsed, unprefixed: see sim_faults.from_env) set now and again after every reset."""
        with self._lock:
            self._fault_base = dict(knobs)
            self._faults.set(**self._fault_base)

    def config(self) -> dict[str, Any]:
        """The Graph API's configuration."""
        with self._lock:
            return self._config_view()

    def _config_view(self) -> dict[str, Any]:
        return {**self._config.to_dict(), **self._faults.to_dict(prefix="graph_")}

    def reset(self, all: bool = False) -> None:
        """Forget messages, stats, windows, pending webhooks and config; `all` also forgets the WABAs."""
        with self._lock:
            self._generation += 1
            self._messages.clear()
            self._by_id.clear()
            self._jobs.clear()
            self._last_to.clear()
            self._last_inbound.clear()
            self._inbound.clear()
            self._config = Config(graph_webhook_delay_ms=self._default_delay_ms)
            self._stats = self._fresh_stats()
            self._sent_before.clear()
            self._faults = sim_faults.Faults()
            self._faults.set(**self._fault_base)
            for number in self._numbers.values():
                number.window.clear()
                number.accepted, number.first_accepted_at, number.last_accepted_at = 0, None, None
            if all:
                self._wabas.clear()
                self._numbers.clear()
            self._cond.notify_all()

    # ------------------------------------------------------------------ inspection

    def messages(self) -> list[dict[str, Any]]:
        """Every accepted message, oldest first."""
        with self._lock:
            return [m.item() for m in self._messages]

    def stats(self) -> dict[str, Any]:
        """Counters, incl. 130429 (throughput) and 131056 (pair rate) refusals, each number's sends (`senders`, by
        phone number id) and the faults `injected`."""
        with self._lock:
            return {
                **self._stats,
                "webhooks_pending": self._pending(),
                "senders": {n.phone_number_id: n.sender_view() for n in self._numbers.values() if n.accepted},
                "injected": dict(self._faults.injected),
            }

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until no webhook is pending or in flight; False on timeout."""
        return self._wait_idle(timeout)

    def owns_display_number(self, number: str) -> bool:
        """Whether `number` (E.164) is one of the business numbers (an inbound to it is Meta's)."""
        digits = number.lstrip("+")
        with self._lock:
            return any(n.display == digits for n in self._numbers.values())

    # ------------------------------------------------------------------ the Graph API

    def _waba_for(self, object_id: str, authorization: str | None) -> tuple[Waba, PhoneNumber | None]:
        number = self._numbers.get(object_id)
        waba = self._wabas.get(number.waba_id if number else object_id)
        token = (authorization or "")[7:] if (authorization or "").startswith("Bearer ") else None
        if waba is None:
            if token and any(secrets.compare_digest(token, w.access_token) for w in self._wabas.values()):
                raise GraphError(
                    400,
                    100,
                    f"Unsupported post request. Object with ID '{object_id}' does not exist",
                    kind="GraphMethodException",
                )
            raise invalid_token()
        if token is None or not secrets.compare_digest(token, waba.access_token):
            raise invalid_token()
        return waba, number

    def send(self, phone_number_id: str, authorization: str | None, body: Any) -> tuple[dict[str, Any], float]:
        """`POST /{phone-number-id}/messages`: Meta's answer and a delay before it; GraphError for a refusal."""
        with self._lock:
            try:
                waba, number = self._waba_for(phone_number_id, authorization)
            except GraphError as exc:
                self._stats["unauthorized" if exc.code == 190 else "rejected"] += 1
                raise
            if number is None:
                self._stats["rejected"] += 1
                raise GraphError(
                    400, 100, f"Unsupported post request. Object with ID '{phone_number_id}' is not a phone number"
                )
            if self._config.graph_server_error_next > 0 or self._faults.roll(sim_faults.SERVER_ERROR):
                self._config.graph_server_error_next = max(0, self._config.graph_server_error_next - 1)
                self._stats["server_errors"] += 1
                raise GraphError(500, 1, "An unknown error occurred", kind="OAuthException")
            try:
                to, kind, template, text, category = self._validate(waba, body)
            except GraphError:
                self._stats["rejected"] += 1
                raise
            now = self._clock()
            window = number.window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= max(1, math.floor(number.mps)):
                self._stats["throttled_130429"] += 1
                # HTTP 400, as Meta's error-code table gives it for 130429 (the code, not the status, says throttled).
                raise GraphError(
                    400, 130429, "Rate limit hit", details=f"Cloud API message throughput ({number.mps:g}/s) reached"
                )
            last = self._last_to.get((phone_number_id, to))
            if last is not None and now - last < PAIR_GAP_SECONDS:
                self._stats["pair_rate_131056"] += 1
                raise GraphError(
                    400,
                    131056,
                    "(Business Account, Consumer Account) pair rate limit hit",
                    details="Too many messages sent from this phone number to the same phone number in a short time",
                )
            window.append(now)
            self._last_to[(phone_number_id, to)] = now
            failure = TEST_NUMBER_FAILURES.get(to)
            if failure is None and kind == "text" and not self._in_window(phone_number_id, to):
                failure = (131047, *OTHER_FAILURES[131047])
            plan: list[tuple[str, int | None]] = (
                [("failed", failure[0])] if failure else [("sent", None), ("delivered", None), ("read", None)]
            )
            opaque = body.get("biz_opaque_callback_data")
            message = SentMessage(
                wamid=new_wamid(),
                phone_number_id=phone_number_id,
                to=to,
                kind=kind,
                template=template,
                text=text,
                opaque=opaque if isinstance(opaque, str) else None,
                category=category,
                created_at=self.wall_clock(),
                plan=plan,
                replay_stages=self._faults.replays(len(plan)),
            )
            number.accepted += 1
            if number.first_accepted_at is None:
                number.first_accepted_at = now
            number.last_accepted_at = now
            key = (phone_number_id, to, text if text is not None else json.dumps(template, sort_keys=True))
            if key in self._sent_before:
                self._stats["duplicates"] += 1
            self._sent_before.add(key)
            self._messages.append(message)
            self._by_id[message.wamid] = message
            self._stats["accepted"] += 1
            if self._stats["first_accepted_at"] is None:
                self._stats["first_accepted_at"] = message.created_at
            self._stats["last_accepted_at"] = message.created_at
            self._schedule(waba.waba_id, self._config.graph_webhook_delay_ms / 1000.0, wamid=message.wamid)
            delay = self._config.graph_latency_ms / 1000.0
            if self._config.graph_timeout_next > 0:
                self._config.graph_timeout_next -= 1
                self._stats["timeouts"] += 1
                delay = max(delay, self._config.graph_timeout_ms / 1000.0)
            if self._faults.roll(sim_faults.LATE_ANSWER):
                delay = max(delay, self._faults.late_seconds())
            answer: dict[str, Any] = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": to}],
                "messages": [{"id": message.wamid, **({"message_status": "accepted"} if kind == "template" else {})}],
            }
            if self._faults.roll(sim_faults.RESET_AFTER_ACCEPT):
                self._stats["resets_after_accept"] += 1
                answer[sim_faults.RESET] = True
            return answer, delay

    def _in_window(self, phone_number_id: str, to: str) -> bool:
        last = self._last_inbound.get((phone_number_id, to))
        return last is not None and self.wall_clock() - last < 24 * 3600

    def _validate(self, waba: Waba, body: Any) -> tuple[str, str, dict[str, Any] | None, str | None, str]:
        if not isinstance(body, Mapping):
            raise GraphError(400, 100, "Invalid parameter", details="the body must be a JSON object")
        if body.get("messaging_product") != "whatsapp":
            raise GraphError(400, 100, "Invalid parameter", details="messaging_product must be 'whatsapp'")
        raw_to = body.get("to")
        to = raw_to.lstrip("+") if isinstance(raw_to, str) else ""
        if not DIGITS.fullmatch(to):
            raise GraphError(400, 131009, "Parameter value is not valid", details="'to' is not a valid phone number")
        kind = body.get("type", "text")
        if kind == "text":
            text = body.get("text")
            if not isinstance(text, Mapping) or not isinstance(text.get("body"), str) or not text["body"]:
                raise GraphError(400, 131008, "Required parameter is missing", details="text.body")
            return to, "text", None, text["body"], "service"
        if kind != "template":
            raise GraphError(400, 131051, "Unsupported message type")
        spec = body.get("template")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise GraphError(400, 131008, "Required parameter is missing", details="template.name")
        language = spec.get("language")
        code = language.get("code") if isinstance(language, Mapping) else None
        item = next((t for t in waba.templates if t["name"] == spec["name"] and t["language"] == code), None)
        if item is None or item["status"] in ("PENDING", "REJECTED", "IN_APPEAL", "DELETED"):
            raise GraphError(
                404,
                132001,
                "Template name does not exist in the translation",
                details=f"template name ({spec['name']}) does not exist in {code}",
            )
        if item["status"] == "PAUSED":
            raise GraphError(400, 132015, "Template is Paused", details=f"template {item['name']} is paused")
        if item["status"] == "DISABLED":
            raise GraphError(400, 132016, "Template is Disabled", details=f"template {item['name']} is disabled")
        components = spec.get("components") or []
        if not isinstance(components, list):
            raise GraphError(400, 100, "Invalid parameter", details="template.components must be a list")
        filled = check_template_send(item, components)
        summary = {"name": item["name"], "language": item["language"], "id": item["id"], **filled}
        return to, "template", summary, None, str(item.get("category") or "MARKETING").lower()

    def list_templates(self, waba_id: str, authorization: str | None, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """`GET /{waba-id}/message_templates` with `limit` and `after`: one page and its paging."""
        with self._lock:
            waba, number = self._waba_for(waba_id, authorization)
            if number is not None:
                raise GraphError(400, 100, "Tried accessing nonexisting field (message_templates)")
            items = [dict(t) for t in waba.templates]
        try:
            limit = int((query.get("limit") or [str(DEFAULT_PAGE_SIZE)])[0])
            start = offset_of(query["after"][0]) if query.get("after") else 0
        except (ValueError, UnicodeDecodeError):
            raise GraphError(400, 100, "Invalid parameter", details="limit or after") from None
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        page = items[start : start + limit]
        answer: dict[str, Any] = {"data": page}
        if page:
            answer["paging"] = {"cursors": {"before": cursor(start), "after": cursor(start + len(page))}}
            if start + len(page) < len(items):
                answer["paging"]["next"] = (
                    f"/{waba_id}/message_templates?limit={limit}&after={cursor(start + len(page))}"
                )
        return answer

    # ------------------------------------------------------------------ control

    def set_template_status(
        self, name: str, status: str, waba_id: str | None = None, reason: str | None = None
    ) -> list[str]:
        """Move every template of this name (in one WABA, or all) to a Meta state and schedule its status update."""
        if not isinstance(status, str) or not status.isalpha() and "_" not in status:
            raise ValueError("'status' must be a Meta template state such as PAUSED")
        changed = []
        with self._lock:
            for waba in self._wabas.values():
                if waba_id is not None and waba.waba_id != waba_id:
                    continue
                for item in waba.templates:
                    if item["name"] != name:
                        continue
                    item["status"] = status.upper()
                    changed.append(item["id"])
                    value: dict[str, Any] = {
                        "event": item["status"],
                        "message_template_id": int(item["id"]),
                        "message_template_name": item["name"],
                        "message_template_language": item["language"],
                        "reason": reason or "NONE",
                    }
                    if item["status"] == "PAUSED":
                        value["other_info"] = {
                            "title": "FIRST_PAUSE",
                            "description": reason or "Paused for low quality",
                        }
                    self._stats["template_updates"] += 1
                    self._schedule(
                        waba.waba_id, 0.0, payload=self.envelope(waba.waba_id, value, "message_template_status_update")
                    )
        if not changed:
            raise LookupError(f"no template named {name!r}")
        return changed

    def inbound(
        self,
        from_number: str,
        to_number: str,
        body: str,
        context_id: str | None,
        button: str | None,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        """Schedule a messages webhook for a user's message to a business number (under `message_id` when given,
        else a new wamid); its wamid and where it goes. Each is kept, so that it can be replayed exactly."""
        user = self._user(from_number)
        if message_id is not None and (not isinstance(message_id, str) or not message_id):
            raise ValueError("'message_id' must be a non-empty string")
        with self._lock:
            number, waba = self._business(to_number)
            wamid = message_id or new_wamid()
            now = int(self.wall_clock())
            value = message_value(number, user, wamid, body, context_id, button, now)
            payload = self.envelope(waba.waba_id, value, "messages")
            self._inbound[wamid] = (waba.waba_id, payload)
            self._last_inbound[(number.phone_number_id, user)] = self.wall_clock()
            self._stats["inbound"] += 1
            self._schedule(waba.waba_id, 0.0, payload=payload)
            return {"message_id": wamid, "webhook_url": waba.webhook_url}

    def knows_inbound(self, message_id: str) -> bool:
        """Whether a user's message of this wamid was posted (and can be replayed)."""
        with self._lock:
            return message_id in self._inbound

    def replay_inbound(self, message_id: str) -> dict[str, Any]:
        """Post a user's message again exactly as it was first posted (same wamid and body, signed again), as Meta
        does when its webhook was not answered 200; LookupError for one never posted."""
        with self._lock:
            kept = self._inbound.get(message_id)
            if kept is None:
                raise LookupError(f"no inbound message {message_id}")
            waba_id, payload = kept
            self._stats["inbound_replays"] += 1
            self._schedule(waba_id, 0.0, payload=payload)
            return {"message_id": message_id, "webhook_url": self._wabas[waba_id].webhook_url, "replayed": True}

    def user_preference(self, from_number: str, to_number: str, value: str) -> dict[str, Any]:
        """Schedule a user_preferences webhook: the user stopped (`stop`) or resumed (`resume`) marketing messages
        from the business number."""
        user = self._user(from_number)
        if value not in PREFERENCE_DETAILS:
            raise ValueError("'value' must be 'stop' or 'resume'")
        with self._lock:
            number, waba = self._business(to_number)
            payload = self.envelope(
                waba.waba_id, preference_value(number, user, value, int(self.wall_clock())), "user_preferences"
            )
            self._stats["user_preferences"] += 1
            self._schedule(waba.waba_id, 0.0, payload=payload)
            return {"wa_id": user, "value": value, "webhook_url": waba.webhook_url}

    @staticmethod
    def _user(from_number: str) -> str:
        user = from_number.lstrip("+") if isinstance(from_number, str) else ""
        if not DIGITS.fullmatch(user):
            raise ValueError("'from' must be an E.164 number")
        return user

    def _business(self, to_number: str) -> tuple[PhoneNumber, Waba]:
        """The business number (and its WABA) of an E.164 display number; LookupError for none (lock held)."""
        number = next((n for n in self._numbers.values() if n.display == to_number.lstrip("+")), None)
        if number is None:
            raise LookupError(f"no business number {to_number}")
        return number, self._wabas[number.waba_id]

    # ------------------------------------------------------------------ the webhook workers' side (webhooks.py)

    @staticmethod
    def envelope(waba_id: str, value: dict[str, Any], field_name: str) -> dict[str, Any]:
        """Meta's webhook wrapper: object, entry[] of the WABA, changes[] with the field and its value."""
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": field_name}]}],
        }

    def _schedule(self, waba_id: str, delay: float, **what: Any) -> None:
        job = Job(time.monotonic() + delay, next(self._seq), self._generation, waba_id, **what)
        self._push(job)

    def pending_header(self, job: Job) -> tuple[str, str] | None:
        """(header kind, link) of a template message whose media header Meta has not fetched yet (before `sent`)."""
        with self._lock:
            message = self._by_id.get(job.wamid or "")
            if job.payload is not None or job.stage or job.attempt or message is None or not message.template:
                return None
            link, kind = message.template.get("header_link"), message.template.get("header_kind")
            return (str(kind), str(link)) if link and kind else None

    def take_batch(self, first: Job) -> list[Job]:
        """More status jobs to post with `first` (config `graph_batch_max`): same WABA, due within a webhook delay."""
        with self._cond:
            most = self._config.graph_batch_max - 1
            if first.payload is not None or most <= 0:
                return []
            horizon = time.monotonic() + self._config.graph_webhook_delay_ms / 1000.0
            taken: list[Job] = []
            kept: list[Job] = []
            while self._jobs and len(taken) < most and self._jobs[0].due <= horizon:
                job = heapq.heappop(self._jobs)
                fits = job.payload is None and job.waba_id == first.waba_id and job.generation == first.generation
                (taken if fits and self.pending_header(job) is None else kept).append(job)
            for job in kept:
                heapq.heappush(self._jobs, job)
            self._inflight += len(taken)
            return taken

    def header_fetched(self, job: Job, error: int | None) -> None:
        """What fetching the header media found: a media Meta cannot send fails the message (131053)."""
        with self._lock:
            message = self._by_id.get(job.wamid or "")
            if message is not None and error is not None and job.generation == self._generation:
                message.plan = [("failed", error)]

    def delivery(self, job: Job) -> tuple[str | None, str, dict[str, Any]] | None:
        """What to post for a job: (webhook URL, app secret, payload); None when it is stale or the message gone."""
        with self._lock:
            waba = self._wabas.get(job.waba_id)
            if job.generation != self._generation or waba is None:
                return None
            url = None if self._config.graph_no_webhooks else waba.webhook_url
            if job.payload is not None:
                return url, waba.app_secret, job.payload
            message = self._by_id.get(job.wamid or "")
            if message is None:
                return None
            status, code = message.plan[job.stage]
            if job.attempt == 0:
                message.status, message.error_code = status, code
                if status == "failed":
                    self._stats["failed_statuses"] += 1
            number = self._numbers[message.phone_number_id]
            return (
                url,
                waba.app_secret,
                self.envelope(
                    waba.waba_id, status_value(message, number, status, code, int(self.wall_clock())), "messages"
                ),
            )

    def replay_later(self, jobs: Sequence[Job], payload: dict[str, Any]) -> None:
        """After a status webhook was posted and answered 200: post it again, identical, if one of the statuses it
        carried was drawn for a replay (the callback_replay_rate fault), as Meta resends one it took for lost."""
        with self._lock:
            if self._stopping or not jobs or jobs[0].generation != self._generation:
                return
            for job in jobs:
                message = self._by_id.get(job.wamid or "") if job.payload is None and not job.replay else None
                if message is not None and job.stage in message.replay_stages:
                    delay = self._config.graph_webhook_delay_ms / 1000.0
                    self._schedule(job.waba_id, delay, payload=copy.deepcopy(payload), replay=True)
                    return

    def finish(self, job: Job, ok: bool, posted: bool) -> None:
        """After a post (or none): retry a failed one with backoff, else schedule the message's next status."""
        with self._lock:
            if job.generation != self._generation or self._stopping:
                return
            if not ok and job.attempt < len(self._retry_backoff):
                heapq.heappush(
                    self._jobs,
                    Job(
                        time.monotonic() + self._retry_backoff[job.attempt],
                        next(self._seq),
                        job.generation,
                        job.waba_id,
                        job.wamid,
                        job.stage,
                        job.payload,
                        job.attempt + 1,
                        job.replay,
                    ),
                )
                self._cond.notify()
                return
            if posted:
                self._stats["webhooks_posted" if ok else "webhooks_failed"] += 1
                if job.replay:
                    self._faults.replayed()
            message = self._by_id.get(job.wamid or "") if job.payload is None else None
            if message is not None and job.stage + 1 < len(message.plan):
                self._schedule(
                    job.waba_id, self._config.graph_webhook_delay_ms / 1000.0, wamid=job.wamid, stage=job.stage + 1
                )
