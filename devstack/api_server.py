"""Chalice's local HTTP server for the app, closer to API Gateway and to the contract.

- A route the app does not have answers `404` with `{"error": {"code": "not_found", ...}}`. Chalice's local gateway
  answers a 403 "Missing Authentication Token" there, or, when the request has an Authorization header, a 403 whose
  message repeats that header (the caller's API key) back.
- Path parameters arrive percent-decoded, as API Gateway passes them (`%3A` is `:`).
- Every HTTP method reaches the app (TRACE, QUERY: a 405 in the contract's shape), not the HTTP server's 501 page.
- Given the `webhooks` function, paths under /webhooks/ go to it as function URL events (devstack/function_url.py),
  as in AWS, where the providers reach the webhooks through that function's URL; the rest goes to Chalice's gateway.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaContext,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    MatchResult,
    RouteMatcher,
)

from devstack import function_url

NOT_FOUND_BODY = json.dumps(
    {"error": {"code": "not_found", "message": "No such route: check the method and path.", "details": []}}
).encode("utf-8")


class DecodingMatcher(RouteMatcher):
    """Chalice's route matcher, with the captured path parameters percent-decoded."""

    def match_route(self, url: str) -> MatchResult:
        """The matching route, its parameters decoded; ValueError if none matches."""
        found = super().match_route(url)
        return MatchResult(found.route, {k: unquote(v) for k, v in found.captured.items()}, found.query_params)


# Requests served and their seconds, by kind (`api`, `webhooks`): the cost benchmark reads them (devstack/stack.py
# prints them as the stack stops).
SERVED: dict[str, int] = {}
SERVED_SECONDS: dict[str, float] = {}
SERVED_LOCK = threading.Lock()


UrlHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class GatewayHandler(ChaliceRequestHandler):
    """Chalice's request handler as API Gateway and the contract would answer (see the module's docstring)."""

    # The `webhooks` function behind the local function URL, if any (none: the webhooks go through the gateway too).
    # In a tuple: a function kept as a class attribute would be bound as a method.
    url_functions: tuple[UrlHandler, ...] = ()

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        """A gateway over the app with the decoding matcher, then handle the request."""
        self._routes = DecodingMatcher(list(app_object.routes))
        self.local_gateway = LocalGateway(app_object, config)
        self.local_gateway.event_converter._route_matcher = self._routes
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        """Any `do_<METHOD>` BaseHTTPRequestHandler looks up is handled (the app answers what it does not allow)."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        started = time.monotonic()
        try:
            self._handle_request()
        finally:
            # What API Gateway would bill (a request) and the API handler's Lambda seconds, by the path's kind.
            kind = "webhooks" if self.path.startswith("/webhooks/") else "api"
            with SERVED_LOCK:
                SERVED[kind] = SERVED.get(kind, 0) + 1
                SERVED_SECONDS[kind] = SERVED_SECONDS.get(kind, 0.0) + time.monotonic() - started

    def _handle_request(self) -> None:
        if self.url_functions and self.path.startswith("/webhooks/"):
            self._function_url(self.url_functions[0])
            return
        try:
            self._routes.match_route(self.path)
        except ValueError:
            self._parse_payload()  # read the body, so the connection can serve the next request
            headers = {"Content-Type": "application/json; charset=utf-8"}
            self._send_http_response(404, headers, None if self.command == "HEAD" else NOT_FOUND_BODY)
            return
        self._generic_handle()

    def _function_url(self, handler: UrlHandler) -> None:
        """Serve the request as Lambda serves a function URL: one event to the function, its answer as HTTP."""
        _, body = self._parse_payload()
        host = self.headers.get("host") or "127.0.0.1"
        event = function_url.url_event(self.command, self.path, self.headers.items(), body, host)
        status, headers, raw = function_url.http_answer(handler(event, LambdaContext("webhooks", 128, 30_000)))
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle


def api_server(
    app: Chalice, config: Config, host: str, port: int, webhooks: UrlHandler | None = None
) -> LocalDevServer:
    """Chalice's local server for `app` on host:port (0: any free port), answering as GatewayHandler does; with
    `webhooks` (app.webhooks), the webhook paths through it as through its function URL."""
    if not isinstance(app, LocalChalice):
        # As chalice.local.create_local_server does (once: a second time would make a cycle of base classes): the
        # app's current_request becomes per thread, since the server answers each connection on its own thread.
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    handler: type[GatewayHandler] = GatewayHandler
    if webhooks is not None:

        class FunctionUrlGatewayHandler(GatewayHandler):
            pass

        FunctionUrlGatewayHandler.url_functions = (webhooks,)
        handler = FunctionUrlGatewayHandler
    return LocalDevServer(app, config, host, port, handler_cls=handler)
