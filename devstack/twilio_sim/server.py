"""The simulated Twilio over HTTP: Twilio's Messages API paths and the ``/sim/`` control endpoints.

``TwilioSimulator`` is the model (model.py) with a threaded HTTP server and the callback workers (callbacks.py).
Each request to an account's API paths holds one of the account's concurrency slots while it is served (latency
and late answers included): beyond ``account_concurrency`` it is answered 429 20429. ``POST /sim/config`` sets
Twilio's options, Meta's (``graph_*``) and the shared fault knobs (devstack/sim_faults.py), which reach both sides;
``SIM_*`` environment variables (``SIM_SERVER_ERROR_RATE``...) set those knobs when the simulator is built.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from devstack import sim_faults
from devstack.meta_sim import MetaSimulator
from devstack.meta_sim.http import REPLAY_PATH, replay_id
from devstack.twilio_sim.callbacks import post_inbound, replay_inbound, work
from devstack.twilio_sim.model import TwilioModel
from devstack.twilio_sim.rules import RESET, TwilioApiError, UnknownNumberError, twilio_error

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
CREATE_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
FETCH_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)\.json$")
CONTENT_LIST_PATH = "/v1/ContentAndApprovals"  # content.twilio.com, rewritten here like api.twilio.com


class TwilioSimulator(TwilioModel):
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
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Configure (not start) a simulator; ``clock`` drives the senders' queues, ``callback_delay`` is in seconds;
        the fault knobs start as ``environ``'s ``SIM_*`` variables say (default: the process environment)."""
        if workers < 1:
            raise ValueError("workers must be at least 1")
        super().__init__(clock, callback_delay, retry_backoff)
        self._host = host
        self._requested_port = port
        self._workers_count = workers
        self._callback_timeout = callback_timeout
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._worker_threads: list[threading.Thread] = []
        # Meta's Graph API, served on the same port under /graph/ (devstack/meta_sim).
        self.meta = MetaSimulator(
            clock, callback_delay, retry_backoff, workers=workers, webhook_timeout=callback_timeout
        )
        knobs = sim_faults.from_env(os.environ if environ is None else environ)
        self.set_fault_base(knobs)
        self.meta.set_fault_base(knobs)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> TwilioSimulator:
        """Bind the port and start serving (and the callback workers) on daemon threads."""
        with self._lock:
            if self._server is not None:
                return self
            self.set_stopping(False)
            server = _Server((self._host, self._requested_port), _Handler)
            server.simulator = self
            self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-sim-http", daemon=True
        )
        self._serve_thread.start()
        self._worker_threads = [
            threading.Thread(
                target=work, args=(self, self._callback_timeout), name=f"twilio-sim-callbacks-{i}", daemon=True
            )
            for i in range(self._workers_count)
        ]
        for thread in self._worker_threads:
            thread.start()
        self.meta.start()
        logger.info("twilio simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and drop pending callbacks; safe to call twice."""
        with self._lock:
            server, self._server = self._server, None
            self.set_stopping(True)
        self.meta.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
        for thread in [self._serve_thread, *self._worker_threads]:
            if thread is not None:
                thread.join(timeout=5)
        self._serve_thread = None
        self._worker_threads = []

    def configure(self, **opts: Any) -> dict[str, Any]:
        """Change Twilio's faults and timing, and Meta's (its options start with ``graph_``); a shared fault knob
        (``server_error_rate``...) sets both sides (a ``graph_`` one given with it wins on Meta's). The whole config."""
        graph = {k: v for k, v in opts.items() if k.startswith("graph_")}
        shared = {f"graph_{k}": v for k, v in opts.items() if k in sim_faults.KNOBS}
        graph = {**shared, **graph}
        self.meta.parse_config(**graph)  # refused before anything changes, like Twilio's own options
        twilio = super().configure(**{k: v for k, v in opts.items() if not k.startswith("graph_")})
        return {**twilio, **self.meta.configure(**graph)}

    def config(self) -> dict[str, Any]:
        """Twilio's configuration and Meta's."""
        return {**super().config(), **self.meta.config()}

    def reset(self, all: bool = False) -> None:
        """Reset the Twilio side and Meta's Graph API alike (``all`` also forgets accounts, numbers and WABAs)."""
        super().reset(all=all)
        self.meta.reset(all=all)

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

    def inbound(
        self,
        from_number: str,
        to_number: str,
        body: str = "",
        media_urls: Sequence[str] = (),
        *,
        button_payload: str | None = None,
        button_text: str | None = None,
        replied_to: str | None = None,
        message_sid: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Post a signed incoming-message webhook for ``to_number`` (under ``message_sid`` when given, else a new
        sid); (HTTP status to answer, result JSON)."""
        extras = (button_payload, button_text, replied_to, message_sid)
        return post_inbound(self, from_number, to_number, body, media_urls, self._callback_timeout, *extras)

    def replay_inbound(self, sid: str) -> tuple[int, dict[str, Any]]:
        """Post an incoming message posted before again, exactly (signed again); LookupError for an unknown sid."""
        return replay_inbound(self, sid, self._callback_timeout)


def _str(body: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string")
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Twilio takes a sender's many concurrent connections (up to its account's concurrency); socketserver's backlog of
    # 5 would reset some of them under a fast sender's burst, answers the provider never gives.
    request_queue_size = 256
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
        if self.sim.meta.route(self, self.sim, method, path, query, raw):  # Meta's Graph API and its /sim/ parts
            return
        if path.startswith("/sim/") or path == "/sim":
            self._control(method, path.rstrip("/"), raw, query)
            return
        api = CREATE_PATH.match(path) or FETCH_PATH.match(path)
        if api:
            account_sid = api.group(1)
            if not self.sim.enter_request(account_sid):
                self._json(429, twilio_error(20429, "Too Many Requests", 429))
                return
            try:
                self._api(method, path, raw, query)
            finally:
                self.sim.leave_request(account_sid)
            return
        self._api(method, path, raw, query)

    def _api(self, method: str, path: str, raw: bytes, query: Mapping[str, list[str]]) -> None:
        create = CREATE_PATH.match(path)
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
        if path.rstrip("/") == CONTENT_LIST_PATH:
            if method == "GET":
                self._twilio(200, lambda: self.sim.list_contents(self._auth(), query))
            else:
                self._method_not_allowed()
            return
        fetch = FETCH_PATH.match(path)
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
        delay = max(delay, float(payload.pop(sim_faults.LATE, 0.0)))
        if delay > 0:
            time.sleep(delay)
        if payload.pop(RESET, False):
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
            "/sim/contents": ("POST",),
            "/sim/contents/status": ("POST",),
            "/sim/config": ("GET", "POST"),
            "/sim/reset": ("POST",),
            "/sim/messages": ("GET",),
            "/sim/stats": ("GET",),
            "/sim/inbound": ("POST",),
        }
        replay = REPLAY_PATH.match(path)
        if replay and method == "POST":
            try:
                self._json(*sim.replay_inbound(replay_id(replay)))
            except LookupError as exc:
                raise _BadRequest(404, str(exc)) from None
            return
        if path not in routes and not replay:
            raise _BadRequest(404, f"unknown simulator endpoint {path}")
        if replay:
            raise _BadRequest(405, f"{method} is not allowed on {path}")
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
                sim.add_account(_str(body, "account_sid"), _str(body, "auth_token"), body.get("concurrency"))
                self._json(201, {"account_sid": body["account_sid"], "concurrency": body.get("concurrency")})
            elif path == "/sim/numbers":
                mps = body.get("mps")
                mps = 1.0 if mps is None else mps
                whatsapp = body.get("whatsapp", False)
                sim.add_number(
                    _str(body, "number"), _str(body, "account_sid"), mps, body.get("inbound_url"), whatsapp=whatsapp
                )
                self._json(
                    201,
                    {
                        "number": body["number"],
                        "account_sid": body["account_sid"],
                        "mps": mps,
                        "inbound_url": body.get("inbound_url"),
                        "whatsapp": whatsapp,
                    },
                )
            elif path == "/sim/contents":
                self._json(201, sim.add_content(_str(body, "account_sid"), body))
            elif path == "/sim/contents/status":
                self._json(200, sim.set_content_status(_str(body, "sid"), _str(body, "status")))
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
                status, result = sim.inbound(
                    _str(body, "from"),
                    _str(body, "to"),
                    _str(body, "body", ""),
                    media,
                    button_payload=body.get("button_payload"),
                    button_text=body.get("button_text"),
                    replied_to=body.get("replied_to"),
                    message_sid=body.get("message_id"),
                )
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
