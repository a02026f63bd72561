"""Request limits at the edge: a per-client rate (token buckets) and a body-size cap on
every route, answered in each transport's own terms.

* Rate: each client has a bucket of ``rate_limit_burst`` tokens refilled at
  ``rate_limit_per_second``; a request takes one. A client is its authenticated
  principal when one is known, else its IP address: every request is charged to its IP
  before anything else runs (credential guessing included), and to its principal once
  authenticated (``charge``: REST, /cim and SOAP). An empty bucket is answered 429 with Retry-After:
  problem+json (code 6.3) on the API, a FAILED 61968-100 reply (6.3) on /cim, a SOAP
  Fault ("6.3 …") on SOAP. Addresses in ``rate_limit_exempt`` (loopback by default: local
  tools, the bench, a reverse proxy that limits on its own) are not limited by address.
* Size: /cim and SOAP read bodies capped at ``max_message_bytes`` themselves (1.3
  replies); every other route is capped here at ``max_request_bytes`` (413, code 1.3),
  on the declared Content-Length and, for chunked bodies, while they stream in.
* Time: HTTP and SOAP wait ``reply_wait_seconds`` for the handler — a worker on the broker,
  or the serving process's own handler threads without one — then answer 0.3 (accepted,
  still being processed), so no request holds a connection longer.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from cimhub.endpoints.rest.problems import problem
from cimhub.errors import CODES, MessageTooLargeError, RateLimitedError
from cimhub.message.reply import Outcome, render_reply
from cimhub.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Probes are never limited: an orchestrator polls them.
UNLIMITED = frozenset({"/healthz", "/readyz"})
#: Clients remembered at most (the least recently seen are forgotten first).
MAX_CLIENTS = 50_000


class TokenBuckets:
    """One token bucket per client key; thread-safe, bounded in memory."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there is."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return wait


class Throttled(Exception):
    """A principal's bucket is empty: answer 429 after ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limit exceeded for {wait:.1f} s")
        self.wait = wait


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


def principal_key(principal: Any) -> str | None:
    """The bucket of an authenticated principal; None for none or the loopback one."""
    kind = str(getattr(getattr(principal, "kind", None), "value", "loopback"))
    if principal is None or kind == "loopback":
        return None
    return f"principal:{principal.tenant}/{principal.name}"


def too_many(path: str, wait: float) -> Response:
    """The 429 answer for ``path``, in its transport's terms."""
    headers = {"Retry-After": str(max(1, math.ceil(wait)))}
    error = RateLimitedError(f"rate limit exceeded: retry in {headers['Retry-After']} s")
    if path == "/cim":
        body = render_reply(None, Outcome.failed(error))
        return Response(body, 429, headers, media_type="application/xml")
    if path.startswith("/soap/"):
        from cimhub.endpoints.soap import SOAP_XML, fault_bytes

        fault = fault_bytes("Client", f"{error.code} {error.reason}")
        return Response(fault, 429, headers, media_type=SOAP_XML)
    response = problem(429, CODES[error.code].title, error.reason, error.code)
    response.headers.update(headers)
    return response


def too_large(limit: int, declared: str) -> Response:
    error = MessageTooLargeError(f"request body of {declared} bytes exceeds {limit} bytes")
    return problem(413, CODES[error.code].title, error.reason, error.code)


class LimitsMiddleware:
    """ASGI middleware: the per-IP rate and the body cap of routes that do not cap their
    bodies themselves."""

    def __init__(
        self,
        app: ASGIApp,
        buckets: TokenBuckets,
        max_request_bytes: int,
        exempt: tuple[IPNetwork, ...] = (),
    ) -> None:
        self.app, self.buckets, self.cap, self.exempt = app, buckets, max_request_bytes, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in UNLIMITED:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = 0.0 if _within(client, self.exempt) else self.buckets.take(f"ip:{client}")
        if wait:
            await too_many(path, wait)(scope, receive, send)
            return
        if path == "/cim" or (path.startswith("/soap/") and scope.get("method") == "POST"):
            await self.app(scope, receive, send)  # read_capped: max_message_bytes, 1.3
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"").decode()
        if declared.isdigit() and int(declared) > self.cap:
            await too_large(self.cap, declared)(scope, receive, send)
            return
        await self.app(scope, self._capped(receive), send)

    def _capped(self, receive: Receive) -> Receive:
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.cap:
                raise BodyTooLarge(self.cap)
            return message

        return capped


def charge(request: Request) -> None:
    """Take a token from the request's authenticated principal; raises Throttled when its
    bucket is empty. ``auth.authenticate`` calls it (REST, /cim, HTTP credentials on
    SOAP); SOAP calls it after a WS-Security UsernameToken."""
    if getattr(request.state, "rate_charged", False):  # authenticated twice: charged once
        return
    request.state.rate_charged = True
    buckets: TokenBuckets | None = getattr(request.app.state, "rate_limits", None)
    key = principal_key(getattr(request.state, "principal", None))
    wait = buckets.take(key) if buckets is not None and key else 0.0
    if wait:
        raise Throttled(wait)


def install(app: FastAPI, settings: Settings) -> TokenBuckets:
    """Add the limits to ``app`` (after every route is mounted); returns the buckets."""
    buckets = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.rate_limits = buckets

    async def body_too_large(_request: Request, exc: Exception) -> Response:
        return too_large(settings.max_request_bytes, "more than that")

    async def throttled(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Throttled)
        return too_many(request.url.path, exc.wait)

    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(Throttled, throttled)
    app.add_middleware(
        LimitsMiddleware,  # type: ignore[arg-type]
        buckets=buckets,
        max_request_bytes=settings.max_request_bytes,
        exempt=tuple(ipaddress.ip_network(n, strict=False) for n in settings.rate_limit_exempt),
    )
    return buckets


def _within(host: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)
