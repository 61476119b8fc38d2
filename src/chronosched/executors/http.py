"""`http` jobs: one HTTP request; success is a 2xx answer.

Payload: `{"url", "method" (default POST), "headers", "body" (string) | "json", "timeout"}`.
The result is `{"status": code, "body": <JSON value | text>}`: the body is parsed when the
response says it is JSON (`application/json`, `*+json`) and fits `MAX_JSON_BODY`, else it is the
first 64 KiB of text. Requests carry `X-Chronosched-Job-Id`, `X-Chronosched-Attempt` and, in a
DAG, `X-Chronosched-Dag-Id`, so receivers can deduplicate retries.

Safety: only http(s) URLs; a host that resolves to a link-local or cloud-metadata address
(169.254.0.0/16, fe80::/10, fd00:ec2::254) is refused unless `allow_link_local=True`, so a job
author cannot read the worker's cloud credentials. Redirects are not followed (a 3xx fails the
job), since a redirect could point there. Loopback and private networks are allowed.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import re
import socket
from typing import Any

import httpx

from chronosched.executors.base import (
    OUTPUT_LIMIT,
    ExecutionOutcome,
    JobContext,
    PayloadError,
    optional_str,
    parse_json,
    str_map,
    timed_out_message,
    timeout_of,
)

MAX_JSON_BODY = 1024 * 1024  # bytes; a JSON answer up to this size becomes a structured result
BLOCKED_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
_METHOD = re.compile(r"[A-Z]+")
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\b", re.IGNORECASE)


class ResolveError(OSError):
    """The host name does not resolve (now): an ordinary, retryable failure."""


class HttpExecutor:
    kind = "http"

    def __init__(self, *, allow_link_local: bool = False) -> None:
        self.allow_link_local = allow_link_local
        self._client: httpx.AsyncClient | None = None  # created on first use, on the worker's loop

    async def execute(
        self,
        payload: dict[str, Any],
        ctx: JobContext,
        timeout: float | None,  # noqa: ASYNC109 -- a default the payload may override, not a cap
    ) -> ExecutionOutcome:
        url = optional_str(payload, "url")
        if not url:
            raise PayloadError("http payload needs a 'url'")
        method = (optional_str(payload, "method") or "POST").upper()
        if not _METHOD.fullmatch(method):
            raise PayloadError(f"invalid HTTP method {method!r}")
        body, json_body = _body_of(payload)
        headers = httpx.Headers(str_map(payload, "headers"))
        headers["X-Chronosched-Job-Id"] = str(ctx.job_id)
        headers["X-Chronosched-Attempt"] = str(ctx.attempt)
        if ctx.dag_id:
            headers["X-Chronosched-Dag-Id"] = str(ctx.dag_id)
        timeout = timeout_of(payload, timeout)
        parsed = parse_url(url)
        request = self._http().build_request(
            method, parsed, headers=headers, content=body, json=json_body
        )
        return await self._send(request, timeout)

    async def _send(self, request: httpx.Request, limit: float | None) -> ExecutionOutcome:
        try:
            async with asyncio.timeout(limit) as deadline:  # covers DNS, connect, send, read
                await check_host(request.url, allow_link_local=self.allow_link_local)
                response = await self._http().send(request, stream=True)
                try:
                    raw, complete = await _read_bounded(response, MAX_JSON_BODY)
                finally:
                    await response.aclose()
        except ResolveError as exc:
            return ExecutionOutcome(False, None, str(exc))
        except TimeoutError as exc:
            message = timed_out_message(limit or 0.0) if deadline.expired() else repr(exc)
            return ExecutionOutcome(False, None, message)
        except httpx.HTTPError as exc:
            return ExecutionOutcome(False, None, f"{type(exc).__name__}: {exc}")
        status = response.status_code
        result = {"status": status, "body": _body_value(response, raw, complete)}
        ok = 200 <= status < 300
        error = None if ok else f"HTTP {status} {response.reason_phrase}".rstrip()
        return ExecutionOutcome(ok, result, error)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No client-side timeouts: the job's own deadline (asyncio.timeout) bounds the request.
            self._client = httpx.AsyncClient(timeout=None, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _body_of(payload: dict[str, Any]) -> tuple[str | None, Any]:
    body, json_body = payload.get("body"), payload.get("json")
    if body is not None and json_body is not None:
        raise PayloadError("give either 'body' (a string) or 'json', not both")
    if body is not None and not isinstance(body, str):
        raise PayloadError("body must be a string; send structured data with 'json'")
    return body, json_body


async def check_url(url: str, *, allow_link_local: bool) -> None:
    """`parse_url` then `check_host`: the whole safety check for one URL."""
    await check_host(parse_url(url), allow_link_local=allow_link_local)


def parse_url(url: str) -> httpx.URL:
    """The URL, parsed; PayloadError unless it is an absolute http(s) URL."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise PayloadError(f"invalid url {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise PayloadError(f"url scheme must be http or https, got {parsed.scheme!r}")
    if not parsed.host:
        raise PayloadError(f"url {url!r} has no host")
    return parsed


async def check_host(url: httpx.URL, *, allow_link_local: bool) -> None:
    """PayloadError when the host resolves to a link-local/metadata address.

    ResolveError when it does not resolve. The name is resolved here and again by the request,
    so a DNS answer that changes in between (DNS rebinding) is not caught: also block
    169.254.169.254 at the network level where that matters.
    """
    if allow_link_local:
        return
    for address in await _addresses(url):
        if is_blocked(address):
            raise PayloadError(
                f"url host {url.host!r} is a link-local/metadata address ({address}); "
                "refused unless the worker allows link-local targets"
            )


def is_blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in BLOCKED_NETWORKS)


async def _addresses(url: httpx.URL) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    host = url.raw_host.decode("ascii")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolveError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    # A scoped IPv6 address comes back as "fe80::1%eth0": drop the scope before parsing.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def _read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of the (decoded) body, and whether that is all of it."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > limit:
            return bytes(data), False
    return bytes(data), True


def _body_value(response: httpx.Response, raw: bytes, complete: bool) -> Any:
    charset = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    if complete and _JSON_TYPE.match(response.headers.get("content-type", "")):
        is_json, value = parse_json(raw.decode(charset, errors="replace"))
        if is_json:
            return value
    return raw[:OUTPUT_LIMIT].decode(charset, errors="replace")
