"""`http` executor against a real HTTP server on 127.0.0.1 (stdlib, in a thread)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chronosched.executors import PayloadError, get_executor
from chronosched.executors.http import HttpExecutor, check_url
from tests.unit.executor_helpers import make_ctx

CTX = make_ctx("http")
RELEASE_SLOW = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if self.path == "/echo":
            seen = {k: v for k, v in self.headers.items() if k.lower().startswith("x-")}
            echo = {"method": self.command, "body": body, "headers": seen}
            self._send(200, json.dumps(echo).encode(), "application/json; charset=utf-8")
        elif self.path == "/text":
            self._send(201, b"created", "text/plain")
        elif self.path == "/big":
            self._send(200, b"y" * 200_000, "text/plain")
        elif self.path == "/fail":
            self._send(500, b'{"error": "boom"}', "application/problem+json")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            RELEASE_SLOW.wait(5)
            self._send(200, b"late", "text/plain")
        else:
            self._send(404, b"nope", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client gave up (timeout test): nothing to report


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    RELEASE_SLOW.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
async def executor() -> AsyncIterator[HttpExecutor]:
    ex = HttpExecutor()
    yield ex
    await ex.aclose()


async def test_http__json_answer_is_parsed_and_identity_headers_sent(
    executor: HttpExecutor, base_url: str
) -> None:
    payload = {"url": f"{base_url}/echo", "json": {"a": 1}, "headers": {"X-Custom": "v"}}
    out = await executor.execute(payload, CTX, 5)
    assert out.ok
    assert out.error is None
    assert out.result["status"] == 200
    echo = out.result["body"]
    assert echo["method"] == "POST"
    assert json.loads(echo["body"]) == {"a": 1}
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert headers["x-chronosched-job-id"] == "42"
    assert headers["x-chronosched-attempt"] == "2"
    assert headers["x-chronosched-dag-id"] == "7"
    assert headers["x-custom"] == "v"


async def test_http__no_dag_header_outside_a_dag(executor: HttpExecutor, base_url: str) -> None:
    ctx = make_ctx("http", dag_id=None)
    out = await executor.execute({"url": f"{base_url}/echo", "method": "get"}, ctx, 5)
    headers = {k.lower() for k in out.result["body"]["headers"]}
    assert out.result["body"]["method"] == "GET"
    assert "x-chronosched-dag-id" not in headers
    assert "x-chronosched-job-id" in headers


async def test_http__string_body_is_sent_as_is(executor: HttpExecutor, base_url: str) -> None:
    out = await executor.execute({"url": f"{base_url}/echo", "body": "a=1&b=2"}, CTX, 5)
    assert out.result["body"]["body"] == "a=1&b=2"


async def test_http__text_answer_is_the_text(executor: HttpExecutor, base_url: str) -> None:
    out = await executor.execute({"url": f"{base_url}/text", "method": "PUT"}, CTX, 5)
    assert out.ok
    assert out.result == {"status": 201, "body": "created"}


async def test_http__big_text_answer_is_bounded(executor: HttpExecutor, base_url: str) -> None:
    out = await executor.execute({"url": f"{base_url}/big", "method": "GET"}, CTX, 5)
    assert out.ok
    assert out.result["body"] == "y" * 64 * 1024


async def test_http__500_fails_with_its_body(executor: HttpExecutor, base_url: str) -> None:
    out = await executor.execute({"url": f"{base_url}/fail"}, CTX, 5)
    assert not out.ok
    assert out.error == "HTTP 500 Internal Server Error"
    assert out.result == {"status": 500, "body": {"error": "boom"}}


async def test_http__redirect_is_not_followed(executor: HttpExecutor, base_url: str) -> None:
    out = await executor.execute({"url": f"{base_url}/redirect"}, CTX, 5)
    assert not out.ok
    assert out.result["status"] == 302


async def test_http__timeout(executor: HttpExecutor, base_url: str) -> None:
    out = await executor.execute({"url": f"{base_url}/slow", "timeout": 0.3}, CTX, 30)
    assert not out.ok
    assert out.error == "timed out after 0.3s"


async def test_http__connection_refused_is_a_retryable_failure(executor: HttpExecutor) -> None:
    out = await executor.execute({"url": "http://127.0.0.1:9/"}, CTX, 5)
    assert not out.ok
    assert out.error is not None
    assert out.error.startswith("ConnectError")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.1.1:8080/x",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 written as one number
    ],
)
async def test_http__link_local_targets_are_refused(executor: HttpExecutor, url: str) -> None:
    with pytest.raises(PayloadError, match="link-local"):
        await executor.execute({"url": url}, CTX, 5)


async def test_http__link_local_allowed_when_the_worker_says_so() -> None:
    await check_url("http://169.254.169.254/latest", allow_link_local=True)
    await check_url("http://127.0.0.1/", allow_link_local=False)
    await check_url("http://localhost/", allow_link_local=False)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"url": "file:///etc/passwd"}, "scheme"),
        ({"url": "ftp://example.com/x"}, "scheme"),
        ({"url": "/relative"}, "scheme"),
        ({}, "'url'"),
        ({"url": "http://127.0.0.1/", "method": "GE T"}, "method"),
        ({"url": "http://127.0.0.1/", "body": "x", "json": {}}, "not both"),
        ({"url": "http://127.0.0.1/", "body": {"a": 1}}, "body must be a string"),
        ({"url": "http://127.0.0.1/", "headers": {"A": None}}, "headers"),
    ],
)
async def test_http__invalid_payload_raises_payload_error(
    executor: HttpExecutor, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        await executor.execute(payload, CTX, 5)


async def test_http__get_executor_runs_http_jobs(base_url: str) -> None:
    ex = get_executor("http")  # httpx and the real executor load with the first job
    try:
        outs = [await ex.execute({"url": f"{base_url}/echo", "json": i}, CTX, 5) for i in (1, 2)]
    finally:
        await ex.aclose()
    assert [json.loads(out.result["body"]["body"]) for out in outs] == [1, 2]


async def test_http__get_executor_passes_the_link_local_switch_on() -> None:
    url = "http://169.254.0.1:9/"  # link-local, and nothing is expected to answer there
    refusing, allowing = get_executor("http"), get_executor("http", allow_link_local=True)
    try:
        with pytest.raises(PayloadError, match="link-local"):
            await refusing.execute({"url": url}, CTX, 0.3)
        # Allowed: it is tried (and fails to connect or times out here), not refused.
        out = await allowing.execute({"url": url}, CTX, 0.3)
    finally:
        await refusing.aclose()
        await allowing.aclose()
    assert out.error is None or "link-local" not in out.error
