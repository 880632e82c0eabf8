"""RestExecutor against a fault-injecting HTTP server on 127.0.0.1 (real sockets, no mocks).

The server is a small ``http.server`` in a thread whose answers are scripted per request:
statuses, Retry-After, hangs, connections cut mid-body, bad JSON, huge bodies. A recording
``sleep`` keeps the back-off tests fast and exact.
"""

from __future__ import annotations

import logging
import pickle
import random
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
import requests

import tqlbuilder
from tqlbuilder import RestExecutor
from tqlbuilder.errors import (
    AuthenticationError,
    ExecutionError,
    MissingTokenError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TQLError,
    TransportError,
    UnsafeTransportError,
)
from tqlbuilder.run.result import Result

TOKEN = "tok-3f9c2a7e1b5d4c6a8e0f.SECRET_value"
QUERY = 'SELECT id FROM "hub://org/ds"'
OK_BODY = {"message": "Query successful.", "tensors": ["id"], "data": [{"id": 1}]}

Action = Callable[["_Handler"], None]


# ---------------------------------------------------------------------- fault server


class Recorded:
    """One request as the server saw it."""

    def __init__(self, handler: _Handler, body: bytes) -> None:
        self.requestline = handler.requestline
        self.method = handler.command
        self.path = handler.path
        self.headers = dict(handler.headers.items())
        self.body = body
        self.client_port = handler.client_address[1]
        self.at = time.monotonic()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.body = body
        self.server.record(Recorded(self, body))
        self.server.next_action(self)(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------ responses

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def reply(status: int = 200, document: object = OK_BODY, **headers: str) -> Action:
    def act(handler: _Handler) -> None:
        raw = document if isinstance(document, bytes) else orjson.dumps(document)
        handler.send(status, raw, {k.replace("_", "-"): v for k, v in headers.items()})

    return act


def echo(delay: float = 0.0) -> Action:
    """Answer with the query text as the single value (after ``delay`` seconds)."""

    def act(handler: _Handler) -> None:
        time.sleep(delay)
        query = orjson.loads(handler.body)["query"]
        if query.startswith("FAIL"):
            reply(400, {"message": f"bad: {query}"})(handler)
        else:
            reply(200, {"message": "ok", "tensors": ["q"], "data": [{"q": query}]})(handler)

    return act


def hang(seconds: float) -> Action:
    def act(handler: _Handler) -> None:
        time.sleep(seconds)
        reply()(handler)

    return act


def cut_mid_body(handler: _Handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b'{"message": "Qu')
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def close_without_answer(handler: _Handler) -> None:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def chunked(total: int) -> Action:
    def act(handler: _Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < total:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up, as it should
        handler.close_connection = True

    return act


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.script: list[Action] = []
        self.default: Action = reply()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/query/v1"

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def next_action(self, handler: _Handler) -> Action:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-response (as the tests make them) are expected


@pytest.fixture
def server() -> Iterator[FaultServer]:
    httpd = FaultServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


class Sleeps(list[float]):
    """A sleep() that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def executor(server: FaultServer, sleeps: Sleeps | None = None, **kwargs: Any) -> RestExecutor:
    kwargs.setdefault("timeout", 5.0)
    return RestExecutor(
        TOKEN,
        url=server.url,
        _sleep=sleeps if sleeps is not None else Sleeps(),
        _rng=random.Random(7),
        **kwargs,
    )


class FakeQuery:
    def to_tql(self) -> str:
        return QUERY


# ---------------------------------------------------------------------- the request


@pytest.mark.parametrize("as_list", [True, False])
def test_request_is_exactly_the_documented_one(server: FaultServer, as_list: bool) -> None:
    body = OK_BODY if as_list else {**OK_BODY, "data": {"id": [1]}}
    server.script = [reply(200, body)]
    with executor(server) as ex:
        result = ex.execute(FakeQuery(), as_list=as_list)
    assert result == Result.from_rows(["id"], [{"id": 1}])
    (request,) = server.requests
    assert request.requestline == "POST /api/query/v1 HTTP/1.1"
    expected_body = b'{"query":"SELECT id FROM \\"hub://org/ds\\"","as_list":%s}' % (
        b"true" if as_list else b"false"
    )
    assert request.body == expected_body
    headers = request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Length"] == str(len(expected_body))
    assert headers["User-Agent"] == (
        f"tqlbuilder/{tqlbuilder.__version__} python-requests/{requests.__version__}"
    )
    assert headers["Host"] == f"127.0.0.1:{server.server_address[1]}"


def test_token_from_environment(server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVELOOP_TOKEN", "env-token")
    with RestExecutor(url=server.url) as ex:
        ex.execute(QUERY)
    assert server.requests[0].headers["Authorization"] == "Bearer env-token"


@pytest.mark.parametrize("token", [None, "", "has space", "line\nbreak", "tab\tx", "é"])
def test_missing_or_unusable_token(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    monkeypatch.delenv("ACTIVELOOP_TOKEN", raising=False)
    with pytest.raises(MissingTokenError) as info:
        RestExecutor(token)
    assert isinstance(info.value, TQLError)
    if token:
        assert token not in str(info.value)


def test_connections_are_kept_alive_and_pooled(server: FaultServer) -> None:
    with executor(server) as ex:
        for _ in range(5):
            ex.execute(QUERY)
    assert len({request.client_port for request in server.requests}) == 1


# ---------------------------------------------------------------------- transport safety


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/api/query/v1",
        "http://10.0.0.1/api/query/v1",
        "http://localhost.example.com/x",
        "http://127.0.0.1.nip.io/x",
        "http://[::2]/x",
        "ftp://127.0.0.1/x",
        "app.activeloop.ai/api/query/v1",
    ],
)
def test_plain_http_to_remote_hosts_is_refused(url: str) -> None:
    with pytest.raises(UnsafeTransportError) as info:
        RestExecutor(TOKEN, url=url)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x",
        "http://127.9.8.7/x",
        "http://localhost:9/x",
        "http://LOCALHOST/x",
        "http://[::1]:9/x",
        "https://app.activeloop.ai/api/query/v1",
    ],
)
def test_loopback_http_and_https_are_allowed(url: str) -> None:
    RestExecutor(TOKEN, url=url).close()


def test_loopback_http_never_goes_through_an_environment_proxy(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.1:{_free_port()}"  # nothing listens: using it would fail
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    session = requests.Session()
    session.proxies = {"http": proxy}
    for ex in (executor(server), executor(server, session=session)):
        with ex:
            assert len(ex.execute(QUERY)) == 1
    assert len(server.requests) == 2


def test_token_never_leaks(server: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    closed_port = _free_port()
    server.script = [
        reply(401, {"message": f"token {TOKEN} is not valid"}),
        reply(500, f"<html>{TOKEN}</html>".encode()),
        reply(200, b"{not json " + TOKEN.encode()),
        hang(1.0),
        cut_mid_body,
    ]
    errors: list[ExecutionError] = []
    with executor(server, timeout=0.3, max_retries=1) as ex:
        for _ in range(5):
            with pytest.raises(ExecutionError) as info:
                ex.execute(QUERY)
            errors.append(info.value)
        assert TOKEN not in repr(ex) and TOKEN not in str(ex)
        assert TOKEN not in repr(vars(ex)) if hasattr(ex, "__dict__") else True
        with pytest.raises(TypeError):
            pickle.dumps(ex)
    refused = RestExecutor(TOKEN, url=f"http://127.0.0.1:{closed_port}/x", max_retries=1)
    with pytest.raises(TransportError) as info:
        refused.execute(QUERY)
    errors.append(info.value)
    assert [type(e) for e in errors] == [
        AuthenticationError,
        ServerError,
        ResponseFormatError,
        TransportError,
        TransportError,
        TransportError,
    ]
    assert "***" in (errors[0].server_message or "")
    for error in errors:
        text = "".join(traceback.format_exception(error))
        assert TOKEN not in text
        assert TOKEN not in repr(error) and TOKEN not in str(error)
        assert TOKEN not in (error.server_message or "")
        assert error.__cause__ is None and error.__context__ is None
        assert error.query == QUERY
    assert TOKEN not in caplog.text


# ---------------------------------------------------------------------- status mapping


@pytest.mark.parametrize(
    ("status", "document", "error_type", "server_message"),
    [
        (400, {"message": 'Tensor "x" does not exist'}, QueryError, 'Tensor "x" does not exist'),
        (400, {"description": "bad request"}, QueryError, "bad request"),
        (400, {"error": "syntax error"}, QueryError, "syntax error"),
        (422, {"detail": [{"msg": "field required"}]}, QueryError, '[{"msg":"field required"}]'),
        (400, b"plain text problem", QueryError, "plain text problem"),
        (401, {"message": "expired"}, AuthenticationError, "expired"),
        (403, {"description": "plan"}, PermissionDeniedError, "plan"),
        (404, {"message": "no dataset"}, NotFoundError, "no dataset"),
        (413, b"", PayloadTooLargeError, ""),
        (500, {"message": "boom"}, ServerError, "boom"),
        (501, {}, ServerError, "{}"),
        (418, {"message": "teapot"}, ExecutionError, "teapot"),
        (302, b"", ExecutionError, ""),
    ],
)
def test_status_codes_map_to_typed_errors(
    server: FaultServer,
    status: int,
    document: object,
    error_type: type[ExecutionError],
    server_message: str,
) -> None:
    sleeps = Sleeps()
    server.default = reply(status, document, Location="http://127.0.0.1:1/elsewhere")
    with executor(server, sleeps) as ex, pytest.raises(ExecutionError) as info:
        ex.execute(QUERY)
    error = info.value
    assert type(error) is error_type
    assert error.status == status
    assert error.server_message == server_message
    assert error.query == QUERY
    assert f"HTTP {status}" in str(error)
    assert len(server.requests) == 1, "not retried"
    assert sleeps == []


# ---------------------------------------------------------------------- retries


def test_retry_after_seconds_is_honoured(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.script = [reply(429, {}, Retry_After="2"), reply(503, {}, Retry_After="1")]
    with executor(server, sleeps) as ex:
        assert len(ex.execute(QUERY)) == 1
    assert sleeps == [2.0, 1.0]
    assert len(server.requests) == 3


def test_retry_after_http_date_is_honoured_and_capped(server: FaultServer) -> None:
    now = 1_800_000_000.0
    sleeps = Sleeps()
    server.script = [
        reply(429, {}, Retry_After=formatdate(now + 7, usegmt=True)),
        reply(429, {}, Retry_After=formatdate(now + 3600, usegmt=True)),
    ]
    with executor(server, sleeps, max_backoff=20.0, _clock=lambda: now) as ex:
        ex.execute(QUERY)
    assert sleeps == [7.0, 20.0]


def test_rate_limit_gives_up_after_max_attempts(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.default = reply(429, {"message": "slow down"}, Retry_After="5")
    with executor(server, sleeps, max_retries=3) as ex, pytest.raises(RateLimitError) as info:
        ex.execute(QUERY)
    assert info.value.retry_after == 5.0
    assert info.value.status == 429
    assert info.value.server_message == "slow down"
    assert len(server.requests) == 3
    assert sleeps == [5.0, 5.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_retry_with_full_jitter(server: FaultServer, status: int) -> None:
    sleeps = Sleeps()
    server.script = [reply(status, {}), reply(status, {}), reply(status, {})]
    with executor(server, sleeps, max_retries=4, backoff=0.5, max_backoff=30) as ex:
        assert len(ex.execute(QUERY)) == 1
    assert len(server.requests) == 4
    rng = random.Random(7)
    assert sleeps == [rng.uniform(0, 0.5), rng.uniform(0, 1.0), rng.uniform(0, 2.0)]


def test_attempts_are_bounded_and_backoff_is_capped(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.default = reply(503, {"message": "busy"})
    ex = executor(server, sleeps, max_retries=6, backoff=10.0, max_backoff=1.5)
    with ex, pytest.raises(ServerError):
        ex.execute(QUERY)
    assert len(server.requests) == 6
    assert len(sleeps) == 5
    assert all(0 <= s <= 1.5 for s in sleeps)


def test_no_retry_when_max_retries_is_one(server: FaultServer) -> None:
    server.default = reply(503, {})
    with executor(server, max_retries=1) as ex, pytest.raises(ServerError):
        ex.execute(QUERY)
    assert len(server.requests) == 1


def test_real_sleep_is_used_by_default(server: FaultServer) -> None:
    server.script = [reply(503, {})]
    with RestExecutor(TOKEN, url=server.url, backoff=0.05, _rng=random.Random(1)) as ex:
        started = time.monotonic()
        ex.execute(QUERY)
    assert time.monotonic() - started < 2.0
    assert len(server.requests) == 2


# ---------------------------------------------------------------------- transport faults


def test_timeout_is_retried_then_reported(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.default = hang(1.5)
    started = time.monotonic()
    ex = executor(server, sleeps, timeout=(2.0, 0.25), max_retries=2)
    with ex, pytest.raises(TransportError) as info:
        ex.execute(QUERY)
    elapsed = time.monotonic() - started
    assert "timed out" in str(info.value)
    assert info.value.status is None and info.value.query == QUERY
    assert len(server.requests) == 2 and len(sleeps) == 1
    assert elapsed < 1.4, "each attempt must stop at the read timeout"


def test_connection_cut_mid_body_is_retried(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.script = [cut_mid_body, close_without_answer]
    with executor(server, sleeps) as ex:
        assert len(ex.execute(QUERY)) == 1
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_connection_refused_is_a_bounded_transport_error() -> None:
    sleeps = Sleeps()
    port = _free_port()
    ex = RestExecutor(TOKEN, url=f"http://127.0.0.1:{port}/api", max_retries=3, _sleep=sleeps)
    with ex, pytest.raises(TransportError) as info:
        ex.execute(QUERY)
    assert len(sleeps) == 2
    assert "ConnectionError" in str(info.value)


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (reply(200, b"<html>oops</html>"), "not valid JSON"),
        (reply(200, {"message": "Query successful.", "tensors": ["id"]}), "missing 'data'"),
        (reply(200, {"tensors": ["id"], "data": {"id": [1]}}), "not a list of rows"),
    ],
)
def test_bad_success_bodies(server: FaultServer, action: Action, reason: str) -> None:
    server.default = action
    with executor(server) as ex, pytest.raises(ResponseFormatError) as info:
        ex.execute(QUERY)
    assert reason in str(info.value)
    assert info.value.status == 200
    assert len(server.requests) == 1


def test_huge_bodies_are_cut_off(server: FaultServer) -> None:
    server.script = [reply(200, b"x" * 3_000_000), chunked(3_000_000)]
    with executor(server, max_response_bytes=1_000_000) as ex:
        for _ in range(2):
            with pytest.raises(ResponseFormatError, match="max_response_bytes"):
                ex.execute(QUERY)
        # the executor still works afterwards
        assert len(ex.execute(QUERY)) == 1


def test_large_valid_body(server: FaultServer) -> None:
    rows = [{"id": i, "embedding": [i / 7] * 16, "text": f"row {i}"} for i in range(10_000)]
    document = {"message": "Query successful.", "tensors": ["id", "embedding", "text"]}
    server.default = reply(200, {**document, "data": rows})
    with executor(server) as ex:
        result = ex.execute(QUERY)
    assert result.rows == rows
    assert result.to_numpy("embedding").shape == (10_000, 16)


# ---------------------------------------------------------------------- many queries


def test_execute_many_keeps_order_and_runs_concurrently(server: FaultServer) -> None:
    server.default = echo(delay=0.05)
    queries = [f"SELECT {i}" for i in range(16)]
    with executor(server) as ex:
        started = time.monotonic()
        results = ex.execute_many(queries, max_workers=8)
        elapsed = time.monotonic() - started
    assert [r.rows for r in results] == [[{"q": q}] for q in queries]
    sequential = 16 * 0.05
    assert elapsed < 0.6 * sequential, f"{elapsed:.3f}s is not concurrent"


def test_execute_many_errors_in_place_or_raised_in_order(server: FaultServer) -> None:
    server.default = echo(delay=0.01)
    queries = ["SELECT 0", "FAIL 1", "SELECT 2", "FAIL 3", FakeQuery()]
    with executor(server) as ex:
        outcomes = ex.execute_many(queries, return_exceptions=True)
        assert isinstance(outcomes[0], Result) and isinstance(outcomes[2], Result)
        assert isinstance(outcomes[1], QueryError) and outcomes[1].query == "FAIL 1"
        assert isinstance(outcomes[3], QueryError) and outcomes[3].query == "FAIL 3"
        assert isinstance(outcomes[4], Result) and outcomes[4].rows == [{"q": QUERY}]
        server.requests.clear()
        with pytest.raises(QueryError) as info:
            ex.execute_many(queries, max_workers=5)
        assert info.value.query == "FAIL 1"
        assert len(server.requests) == 5, "every query ran before the error was raised"
        assert ex.execute_many([]) == []


# ---------------------------------------------------------------------- lifecycle


def test_close_and_user_session(server: FaultServer) -> None:
    ex = executor(server)
    ex.execute(QUERY)
    ex.close()
    ex.close()
    with pytest.raises(ExecutionError, match="closed"):
        ex.execute(QUERY)
    session = requests.Session()
    with RestExecutor(TOKEN, url=server.url, session=session) as ex2:
        ex2.execute(QUERY)
    # a caller's session is not closed by the executor
    assert session.post(server.url, data=b"{}", timeout=5).status_code == 200
    session.close()


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        RestExecutor(TOKEN, max_retries=0)
    with pytest.raises(ValueError):
        RestExecutor(TOKEN, timeout=0)
    with pytest.raises(ValueError):
        RestExecutor(TOKEN, timeout=(1.0, -1.0))
    with pytest.raises(ValueError):
        RestExecutor(TOKEN, backoff=-1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_environment_is_read_once_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxies and CA bundles from the environment are resolved in __init__, not per request."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    executor = RestExecutor("t", url="https://db.example.com/api/query/v1")
    try:
        assert executor._session.trust_env is False
        assert executor._proxies == {"https": "http://proxy.invalid:3128"}
        assert executor._verify == "/etc/ssl/certs/ca-certificates.crt"
    finally:
        executor.close()
    explicit = RestExecutor("t", url="https://db.example.com/api/query/v1", verify=False)
    try:
        assert explicit._verify is False
    finally:
        explicit.close()
