"""RestExecutor against a fault-injecting HTTP server on 127.0.0.1 (real sockets, no mocks).

The server (tests/_faults.py) is a small ``http.server`` in a thread whose answers are
scripted per request: statuses, Retry-After, hangs, trickled bytes, connections cut mid-body,
bad JSON, huge bodies. A recording ``sleep`` (set on the instance: test hooks are not
constructor parameters) keeps the back-off tests fast and exact.
"""

from __future__ import annotations

import inspect
import logging
import pickle
import random
import re
import time
import traceback
import warnings
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import tqlbuilder
from tests._faults import (
    OK_BODY,
    QUERY,
    TOKEN,
    Action,
    FaultServer,
    Sleeps,
    chunked,
    close_without_answer,
    cut_mid_body,
    echo,
    free_port,
    hang,
    reply,
    running_fault_server,
    trickle,
)
from tqlbuilder import RestExecutor
from tqlbuilder.errors import (
    AuthenticationError,
    DeadlineExceededError,
    ExecutionError,
    MalformedTokenError,
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


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with running_fault_server() as httpd:
        yield httpd


def executor(
    server: FaultServer,
    sleeps: Sleeps | None = None,
    *,
    clock: float | None = None,
    token: str = TOKEN,
    **kwargs: Any,
) -> RestExecutor:
    kwargs.setdefault("timeout", 5.0)
    ex = RestExecutor(token, url=server.url, **kwargs)
    ex._sleep = sleeps if sleeps is not None else Sleeps()  # type: ignore[method-assign]
    ex._rng = random.Random(7)
    if clock is not None:
        ex._clock = lambda: clock  # type: ignore[method-assign]
    return ex


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


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    monkeypatch.delenv("ACTIVELOOP_TOKEN", raising=False)
    with pytest.raises(MissingTokenError, match="no access token") as info:
        RestExecutor(token)
    assert isinstance(info.value, TQLError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("has space", "whitespace or a control character at position 3"),
        ("line\nbreak", "whitespace or a control character at position 4"),
        ("tab\tx", "whitespace or a control character"),
        ("abc\x00", "whitespace or a control character"),
        ("tok\u00e9n", "a non-ASCII character at position 3"),
        ("Bearer ", "blank"),
        ("   ", "blank"),
        (b"bytes-token", "must be a str"),
    ],
)
def test_malformed_token_says_malformed_not_missing(token: Any, says: str) -> None:
    with pytest.raises(MalformedTokenError, match=r"malformed|must be a str") as info:
        RestExecutor(token)
    message = str(info.value)
    assert says in message and "missing" not in message and "no access token" not in message
    assert not isinstance(info.value, MissingTokenError)
    if isinstance(token, str) and token.strip() and token != "Bearer ":
        assert token not in message


@pytest.mark.parametrize("given", [f"Bearer {TOKEN}", f"bearer  {TOKEN}", f"  {TOKEN}\n"])
def test_bearer_prefix_and_surrounding_whitespace_are_stripped(
    server: FaultServer, given: str
) -> None:
    with executor(server, token=given) as ex:
        ex.execute(QUERY)
    assert server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


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
    proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens: using it would fail
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
    closed_port = free_port()
    server.script = [
        reply(401, {"message": f"token {TOKEN} is not valid"}),
        reply(500, f"<html>{TOKEN}</html>".encode()),
        reply(200, b"{not json " + TOKEN.encode()),
        hang(1.0),
        cut_mid_body,
    ]
    errors: list[ExecutionError] = []
    with executor(server, timeout=0.3, max_attempts=1) as ex:
        for _ in range(5):
            with pytest.raises(ExecutionError) as info:
                ex.execute(QUERY)
            errors.append(info.value)
        assert TOKEN not in repr(ex) and TOKEN not in str(ex)
        assert TOKEN not in repr(vars(ex)) if hasattr(ex, "__dict__") else True
        with pytest.raises(TypeError):
            pickle.dumps(ex)
    refused = RestExecutor(TOKEN, url=f"http://127.0.0.1:{closed_port}/x", max_attempts=1)
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
        (504, {"message": "query timed out after 30 s"}, ServerError, "query timed out after 30 s"),
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
    with executor(server, sleeps, max_backoff=20.0, clock=now) as ex:
        ex.execute(QUERY)
    assert sleeps == [7.0, 20.0]


def test_rate_limit_gives_up_after_max_attempts(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.default = reply(429, {"message": "slow down"}, Retry_After="5")
    with executor(server, sleeps, max_attempts=3) as ex, pytest.raises(RateLimitError) as info:
        ex.execute(QUERY)
    assert info.value.retry_after == 5.0
    assert info.value.status == 429
    assert info.value.server_message == "slow down"
    assert len(server.requests) == 3
    assert sleeps == [5.0, 5.0]


@pytest.mark.parametrize("status", [502, 503])
def test_gateway_errors_retry_with_full_jitter(server: FaultServer, status: int) -> None:
    sleeps = Sleeps()
    server.script = [reply(status, {}), reply(status, {}), reply(status, {})]
    with executor(server, sleeps, max_attempts=4, backoff=0.5, max_backoff=30) as ex:
        assert len(ex.execute(QUERY)) == 1
    assert len(server.requests) == 4
    rng = random.Random(7)
    assert sleeps == [rng.uniform(0, 0.5), rng.uniform(0, 1.0), rng.uniform(0, 2.0)]


def test_attempts_are_bounded_and_backoff_is_capped(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.default = reply(503, {"message": "busy"})
    ex = executor(server, sleeps, max_attempts=6, backoff=10.0, max_backoff=1.5)
    with ex, pytest.raises(ServerError):
        ex.execute(QUERY)
    assert len(server.requests) == 6
    assert len(sleeps) == 5
    assert all(0 <= s <= 1.5 for s in sleeps)


def test_no_retry_when_max_attempts_is_one(server: FaultServer) -> None:
    server.default = reply(503, {})
    with executor(server, max_attempts=1) as ex, pytest.raises(ServerError):
        ex.execute(QUERY)
    assert len(server.requests) == 1


def test_real_sleep_is_used_by_default(server: FaultServer) -> None:
    server.script = [reply(503, {})]
    with RestExecutor(TOKEN, url=server.url, backoff=0.05) as ex:
        started = time.monotonic()
        ex.execute(QUERY)
    assert time.monotonic() - started < 2.0
    assert len(server.requests) == 2


# ---------------------------------------------------------------------- transport faults


def test_timeout_is_retried_then_reported(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.default = hang(1.5)
    started = time.monotonic()
    ex = executor(server, sleeps, timeout=(2.0, 0.25), max_attempts=2)
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
    port = free_port()
    ex = RestExecutor(TOKEN, url=f"http://127.0.0.1:{port}/api", max_attempts=3)
    ex._sleep = sleeps  # type: ignore[method-assign]
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
    queries = [f'SELECT {i} FROM "hub://org/ds"' for i in range(16)]
    with executor(server) as ex:
        started = time.monotonic()
        results = ex.execute_many(queries, max_workers=8)
        elapsed = time.monotonic() - started
    assert [r.rows for r in results] == [[{"q": q}] for q in queries]
    sequential = 16 * 0.05
    assert elapsed < 0.6 * sequential, f"{elapsed:.3f}s is not concurrent"


def test_execute_many_errors_in_place_or_raised_in_order(server: FaultServer) -> None:
    server.default = echo(delay=0.01)
    queries = [f"{QUERY} LIMIT 0", "FAIL 1", f"{QUERY} LIMIT 2", "FAIL 3", FakeQuery()]
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
        RestExecutor(TOKEN, max_attempts=0)
    with pytest.raises(ValueError):
        RestExecutor(TOKEN, timeout=0)
    with pytest.raises(ValueError):
        RestExecutor(TOKEN, timeout=(1.0, -1.0))
    with pytest.raises(ValueError):
        RestExecutor(TOKEN, backoff=-1)


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


# ---------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("token", "message", "expected"),
    [
        ("T", 'Tensor "x" does not exist', 'Tensor "x" does not exist'),
        ("T", 'Tensor "T" does not exist', 'Tensor "***" does not exist'),
        ("T", "token T is not valid (Bearer T)", "token *** is not valid (Bearer ***)"),
        ("e", "request failed: the engine erred", "request failed: the engine erred"),
        ("e", "bad token: e", "bad token: ***"),
        ("ab-1", "ab-12 ab-1 xab-1 ab-1.", "ab-12 *** xab-1 ***."),
        (TOKEN, f"x{TOKEN}y and {TOKEN[:-1]}", f"x***y and {TOKEN[:-1]}"),
    ],
)
def test_redaction_replaces_the_token_not_its_letters(
    server: FaultServer, token: str, message: str, expected: str
) -> None:
    server.default = reply(400, {"message": message})
    with executor(server, token=token) as ex, pytest.raises(QueryError) as info:
        ex.execute(QUERY)
    assert info.value.server_message == expected
    assert str(info.value) == f"query rejected (HTTP 400): {expected}"


def test_short_token_keeps_connection_errors_readable() -> None:
    sleeps = Sleeps()
    ex = RestExecutor("e", url=f"http://127.0.0.1:{free_port()}/x", max_attempts=1)
    ex._sleep = sleeps  # type: ignore[method-assign]
    with ex, pytest.raises(TransportError) as info:
        ex.execute(QUERY)
    assert str(info.value).startswith("request failed: ConnectionError: ")
    assert "***" not in str(info.value)


# ---------------------------------------------------------------------- deadline


@pytest.mark.parametrize("headers_too", [True, False], ids=["whole-answer", "body-only"])
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(
    server: FaultServer, headers_too: bool
) -> None:
    # the whole answer would take ~0.12 s x 100+ bytes > 12 s; every single read is fast
    server.default = trickle(0.12, headers_too=headers_too)
    ex = RestExecutor(TOKEN, url=server.url, timeout=1.0, deadline=1.0)
    started = time.monotonic()
    with ex, pytest.raises(DeadlineExceededError) as info:
        ex.execute(QUERY)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"held for {elapsed:.2f} s past a 1 s deadline"
    assert isinstance(info.value, TransportError)
    assert "deadline of 1 s passed" in str(info.value)
    assert info.value.query == QUERY and TOKEN not in str(info.value)
    assert len(server.requests) == 1


def test_with_a_callers_session_a_trickled_body_stops_at_the_deadline(
    server: FaultServer,
) -> None:
    server.default = trickle(0.12, headers_too=False)
    session = requests.Session()
    ex = RestExecutor(TOKEN, url=server.url, timeout=1.0, deadline=1.0, session=session)
    started = time.monotonic()
    with ex, pytest.raises(DeadlineExceededError):
        ex.execute(QUERY)
    assert time.monotonic() - started < 2.5
    server.default = reply()
    with RestExecutor(TOKEN, url=server.url, deadline=5.0, session=session) as ex:
        assert ex.execute(QUERY).rows == OK_BODY["data"], "read1 path reads whole bodies"
        server.default = chunked(3_000_000)
        ex._max_response_bytes = 1_000_000
        with pytest.raises(ResponseFormatError, match="max_response_bytes"):
            ex.execute(QUERY)
    session.close()


def test_the_deadline_spans_retries_and_waits(server: FaultServer) -> None:
    server.default = hang(0.4)  # each attempt times out after 0.25 s (per-read timeout)
    ex = RestExecutor(TOKEN, url=server.url, timeout=0.25, deadline=1.0, max_attempts=100)
    ex._rng = random.Random(7)
    started = time.monotonic()
    with ex, pytest.raises(DeadlineExceededError) as info:
        ex.execute(QUERY)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert 2 <= len(server.requests) < 100
    assert "last failure: request timed out" in str(info.value)


def test_a_wait_past_the_deadline_is_not_slept(server: FaultServer) -> None:
    sleeps = Sleeps()
    server.default = reply(503, {"message": "busy"}, Retry_After="30")
    ex = executor(server, sleeps, deadline=5.0, max_backoff=60.0)
    with ex, pytest.raises(DeadlineExceededError) as info:
        ex.execute(QUERY)
    assert sleeps == [] and len(server.requests) == 1
    error = info.value
    assert "would pass before the next attempt (retry in 30.00 s)" in str(error)
    assert error.status == 503 and error.server_message == "busy"


def test_timeouts_are_bounded_by_the_time_left(server: FaultServer) -> None:
    server.default = hang(3.0)
    ex = RestExecutor(TOKEN, url=server.url, timeout=(30.0, 30.0), deadline=0.5)
    started = time.monotonic()
    with ex, pytest.raises(DeadlineExceededError):
        ex.execute(QUERY)
    assert time.monotonic() - started < 2.0


def test_within_the_deadline_nothing_changes(server: FaultServer) -> None:
    server.script = [reply(503, {}), echo()]
    with executor(server, deadline=10.0) as ex:
        assert ex.execute(QUERY).rows == [{"q": QUERY}]
        assert ex.execute(QUERY).rows == OK_BODY["data"]
    assert len(server.requests) == 3


@pytest.mark.parametrize("deadline", [0, -1, float("inf"), float("nan"), True, "5"])
def test_invalid_deadline(deadline: Any) -> None:
    with pytest.raises(ValueError, match="deadline"):
        RestExecutor(TOKEN, deadline=deadline)


# ---------------------------------------------------------------------- attempts naming


def test_max_retries_is_the_deprecated_name_of_max_attempts(server: FaultServer) -> None:
    server.default = reply(503, {})
    with pytest.warns(DeprecationWarning, match="max_attempts") as record:
        ex = executor(server, max_retries=2)
    assert record[0].filename == __file__, "the warning points at the caller"
    with ex, pytest.raises(ServerError):
        ex.execute(QUERY)
    assert len(server.requests) == 2, "max_retries=2 still means two attempts"
    with pytest.raises(ValueError, match="max_attempts only"):
        RestExecutor(TOKEN, max_attempts=2, max_retries=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RestExecutor(TOKEN, max_attempts=2).close()


def test_test_hooks_are_not_constructor_parameters() -> None:
    parameters = inspect.signature(RestExecutor).parameters
    assert not [name for name in parameters if name.startswith("_")]
    assert {"deadline", "max_attempts", "max_retries", "timeout"} <= set(parameters)


# ---------------------------------------------------------------------- logging


def test_the_query_is_logged_at_debug_with_vectors_abbreviated(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tqlbuilder import F, select

    vector = [i / 1000 for i in range(1536)]
    query = select("id").from_("hub://org/ds").order_by(F.cosine_similarity("e", vector))
    caplog.set_level(logging.DEBUG, logger="tqlbuilder")
    with executor(server) as ex:
        ex.execute(query.limit(3))
    (record,) = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert record.name == "tqlbuilder.run.rest"
    message = record.getMessage()
    assert message.startswith(f"POST {server.url}: SELECT id FROM")
    assert "ARRAY[0.0,0.001,…(1536 values)]" in message and "0.002" not in message
    assert TOKEN not in caplog.text


@settings(max_examples=400, deadline=None)
@given(
    token=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=24),
    pieces=st.lists(
        st.one_of(
            st.just("<T>"),
            st.text(st.sampled_from("Tt*e-_. a1\\n\"'"), max_size=6),
        ),
        max_size=8,
    ),
)
def test_redaction_property(token: str, pieces: list[str]) -> None:
    """The token does not survive where it counts as the token; other text is left alone."""
    from tqlbuilder.run.http_policy import MIN_REDACT_EVERYWHERE, redactor

    text = "".join(token if piece == "<T>" else piece for piece in pieces)
    redacted = redactor(token)(text)
    if token not in text:
        assert redacted == text
    if len(token) >= MIN_REDACT_EVERYWHERE:
        assert token not in redacted
    elif len(token) > 3:
        standalone = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(token)}(?![A-Za-z0-9_])")
        assert standalone.search(redacted) is None
    spaced = f" {token} "
    assert redactor(token)(spaced) == " *** ", "a token between spaces is always redacted"
