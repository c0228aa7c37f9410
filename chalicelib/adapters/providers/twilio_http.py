"""A Twilio HTTP client that sends the SDK's requests to another base URL (the local provider simulator).

Every *.twilio.com domain the SDK calls is moved there with its path: api.twilio.com (Messages) and
content.twilio.com (the Content API's /v1/ContentAndApprovals, including the absolute next_page_url of its pages)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response


def _is_twilio_host(host: str | None) -> bool:
    """True when host is twilio.com or one of its subdomains."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    return host == "twilio.com" or host.endswith(".twilio.com")


def _is_loopback(host: str | None) -> bool:
    """True when host names this machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RewritingTwilioHttpClient(TwilioHttpClient):
    """TwilioHttpClient that rewrites the scheme and host of *.twilio.com URLs to base_url, keeping path and query."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        """Build the client; base_url is e.g. ``http://127.0.0.1:8001`` (an optional path prefix is kept)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        if self.session is not None and _is_loopback(parts.hostname):
            # A local simulator must never be reached through an HTTP(S)_PROXY from the environment.
            self.session.trust_env = False

    def rewrite_url(self, url: str) -> str:
        """The URL the request really goes to: twilio.com URLs moved onto base_url, any other URL unchanged."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not _is_twilio_host(parts.hostname):
            return url
        return urlunsplit((self._scheme, self._netloc, self._prefix + (parts.path or "/"), parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send the request to the rewritten URL."""
        return super().request(
            method,
            self.rewrite_url(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
