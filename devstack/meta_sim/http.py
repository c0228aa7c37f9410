"""The simulated Graph API over HTTP, mounted in the provider simulator: `/graph/...` paths, and the `/sim/` control
endpoints that concern Meta (WABAs, template states, inbound to a business number and its exact replay
`/sim/inbound/{wamid}/replay`, a user's marketing stop/resume `/sim/meta/user_preferences`; messages and stats answer
for both; `/sim/config` and `/sim/reset` reach Meta through the provider simulator's configure and reset)."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import unquote

from devstack import sim_faults
from devstack.meta_sim.model import MetaModel
from devstack.meta_sim.rules import GRAPH_PATH, GraphError
from devstack.meta_sim.webhooks import work

logger = logging.getLogger(__name__)

TEMPLATE_STATUS_PATH = re.compile(r"^/sim/templates/([^/]+)/status$")
# The Twilio side serves the same path for its own messages' ids. A wamid may hold '/' and '+' (it is base64): give
# it percent-encoded (or as it is: everything between /sim/inbound/ and /replay is the id).
REPLAY_PATH = re.compile(r"^/sim/inbound/(.+)/replay$")


def replay_id(match: re.Match[str]) -> str:
    """The message id of a replay path, percent-decoded."""
    return unquote(match.group(1))


class TwilioSide(Protocol):
    """What the Meta routes need of the provider simulator they are mounted in (its Twilio model)."""

    def messages(self) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...


class Handler(Protocol):
    """The provider simulator's request handler, as the Meta routes use it."""

    headers: Any

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None: ...
    def _reset_connection(self) -> None: ...


class MetaSimulator(MetaModel):
    """Meta's Graph API model with its webhook workers; `route` serves its paths inside the provider simulator."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        webhook_delay: float = 0.05,
        retry_backoff: Sequence[float] = (0.1, 0.3, 1.0),
        *,
        workers: int = 2,
        webhook_timeout: float = 10.0,
    ) -> None:
        """Configure (not start) the Graph API and its webhook workers."""
        super().__init__(clock, webhook_delay, retry_backoff)
        self._workers_count = workers
        self._webhook_timeout = webhook_timeout
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the webhook workers."""
        self.set_stopping(False)
        self._threads = [
            threading.Thread(
                target=work, args=(self, self._webhook_timeout), name=f"meta-sim-webhooks-{i}", daemon=True
            )
            for i in range(self._workers_count)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the webhook workers (pending webhooks are dropped)."""
        self.set_stopping(True)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def route(
        self, handler: Handler, twilio: TwilioSide, method: str, path: str, query: Mapping[str, list[str]], raw: bytes
    ) -> bool:
        """Serve the request if it is Meta's (True), or leave it to the Twilio side (False)."""
        graph = GRAPH_PATH.match(path)
        if graph:
            self._graph(handler, method, graph.group(2), graph.group(3), query, raw)
            return True
        if not path.startswith("/sim/"):
            return False
        path = path.rstrip("/")
        status_path = TEMPLATE_STATUS_PATH.match(path)
        replay_path = REPLAY_PATH.match(path)
        try:
            if path == "/sim/meta/wabas" and method == "POST":
                body = _object(raw)
                view = self.add_waba(
                    _string(body, "waba_id"),
                    _string(body, "access_token"),
                    _string(body, "app_secret"),
                    body.get("webhook_url"),
                    _list(body, "phone_numbers"),
                    _list(body, "templates"),
                )
                handler._json(201, view)
            elif status_path and method == "POST":
                body = _object(raw)
                reason = body.get("reason")
                ids = self.set_template_status(
                    status_path.group(1),
                    _string(body, "status"),
                    body.get("waba_id"),
                    reason if isinstance(reason, str) else None,
                )
                handler._json(200, {"template_ids": ids, "status": body["status"].upper()})
            elif path == "/sim/inbound" and method == "POST":
                body = _object(raw)
                if not self.owns_display_number(str(body.get("to") or "")):
                    return False
                context, button = body.get("context_message_id"), body.get("button_payload")
                if (
                    context is not None
                    and not isinstance(context, str)
                    or button is not None
                    and not isinstance(button, str)
                ):
                    raise ValueError("'context_message_id' and 'button_payload' must be strings")
                text = str(body.get("body") or "")
                handler._json(
                    200, self.inbound(_string(body, "from"), body["to"], text, context, button, body.get("message_id"))
                )
            elif replay_path and method == "POST":
                if not self.knows_inbound(replay_id(replay_path)):
                    return False  # not a message of Meta's: perhaps Twilio's
                handler._json(200, self.replay_inbound(replay_id(replay_path)))
            elif path == "/sim/meta/user_preferences" and method == "POST":
                body = _object(raw)
                handler._json(
                    200, self.user_preference(_string(body, "from"), _string(body, "to"), _string(body, "value"))
                )
            elif path == "/sim/messages" and method == "GET":
                handler._json(200, {"items": twilio.messages() + self.messages()})
            elif path == "/sim/stats" and method == "GET":
                handler._json(200, {**twilio.stats(), "whatsapp_cloud": self.stats()})
            else:
                return False
        except LookupError as exc:
            handler._json(404, {"error": str(exc), "status": 404})
        except (ValueError, TypeError) as exc:
            handler._json(400, {"error": str(exc), "status": 400})
        return True

    def _graph(
        self, handler: Handler, method: str, object_id: str, edge: str, query: Mapping[str, list[str]], raw: bytes
    ) -> None:
        authorization = handler.headers.get("Authorization")
        delay = 0.0
        try:
            if edge == "messages" and method == "POST":
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except (UnicodeDecodeError, ValueError):
                    raise GraphError(400, 100, "Invalid parameter", details="the body is not JSON") from None
                status, (payload, delay) = 200, self.send(object_id, authorization, body)
            elif edge == "message_templates" and method == "GET":
                status, payload = 200, self.list_templates(object_id, authorization, query)
            else:
                raise GraphError(400, 100, f"Unsupported {method} request", kind="GraphMethodException")
        except GraphError as exc:
            status, payload = exc.status, exc.body()
            delay = self.config()["graph_latency_ms"] / 1000.0
        if delay > 0:
            time.sleep(delay)
        if payload.pop(sim_faults.RESET, False):
            handler._reset_connection()  # the reset_after_accept_rate fault: taken, and no answer
            return
        headers = {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'} if status == 401 else None
        handler._json(status, payload, headers)


def _object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def _string(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{key}' must be a non-empty string")
    return value


def _list(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ValueError(f"'{key}' must be a list of objects")
    return value
