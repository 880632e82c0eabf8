"""AsyncRestExecutor (httpx) against the fault server of tests/_faults.py and the local server.

Parity: every scripted scenario of tests/test_rest.py is run through both clients and must give
the same Result or the same typed error (type, status, server message, text), the same number
of requests and the same back-off waits. The end-to-end tests run the project's server as a
child process (tests/_servers.py). Async tests run on asyncio through anyio's pytest plugin.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
import random
import re
import sys
import time
import traceback
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests._faults import (
    OK_BODY,
    QUERY,
    TOKEN,
    Action,
    AsyncSleeps,
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
from tqlbuilder import AsyncRestExecutor, RestExecutor
from tqlbuilder.errors import (
    AuthenticationError,
    DeadlineExceededError,
    ExecutionError,
    MalformedTokenError,
    MissingDependencyError,
    MissingTokenError,
    QueryError,
    ResponseFormatError,
    ServerError,
    TransportError,
    UnsafeTransportError,
)
from tqlbuilder.run.result import Result

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with running_fault_server() as httpd:
        yield httpd


def aexecutor(
    server: FaultServer,
    sleeps: AsyncSleeps | None = None,
    *,
    clock: float | None = None,
    token: str = TOKEN,
    **kwargs: Any,
) -> AsyncRestExecutor:
    kwargs.setdefault("timeout", 5.0)
    ex = AsyncRestExecutor(token, url=server.url, **kwargs)
    ex._sleep = sleeps if sleeps is not None else AsyncSleeps()  # type: ignore[method-assign]
    ex._rng = random.Random(7)
    if clock is not None:
        ex._clock = lambda: clock  # type: ignore[method-assign]
    return ex


def sync_executor(
    server: FaultServer, sleeps: Sleeps, *, clock: float | None = None, **kwargs: Any
) -> RestExecutor:
    kwargs.setdefault("timeout", 5.0)
    ex = RestExecutor(TOKEN, url=server.url, **kwargs)
    ex._sleep = sleeps  # type: ignore[method-assign]
    ex._rng = random.Random(7)
    if clock is not None:
        ex._clock = lambda: clock  # type: ignore[method-assign]
    return ex


# ---------------------------------------------------------------------- parity with RestExecutor

NOW = 1_800_000_000.0
ROWS = [{"id": i, "embedding": [i / 7] * 16, "text": f"row {i}"} for i in range(2_000)]
TENSORS = ["id", "embedding", "text"]

# (name, script, settings, as_list): every scenario tests/test_rest.py scripts
SCENARIOS: list[tuple[str, list[Action], dict[str, Any], bool]] = [
    ("rows", [reply(200, OK_BODY)], {}, True),
    ("columns", [reply(200, {**OK_BODY, "data": {"id": [1]}})], {}, False),
    ("large", [reply(200, {"message": "ok", "tensors": TENSORS, "data": ROWS})], {}, True),
    ("echo", [echo()], {}, True),
    *[
        (f"status-{status}", [reply(status, document)], {}, True)
        for status, document in [
            (400, {"message": 'Tensor "x" does not exist'}),
            (400, {"description": "bad request"}),
            (400, {"error": "syntax error"}),
            (422, {"detail": [{"msg": "field required"}]}),
            (400, b"plain text problem"),
            (401, {"message": "expired"}),
            (403, {"description": "plan"}),
            (404, {"message": "no dataset"}),
            (413, b""),
            (500, {"message": "boom"}),
            (504, {"message": "query timed out"}),
            (501, {}),
            (418, {"message": "teapot"}),
            (302, b""),
        ]
    ],
    ("retry-after", [reply(429, {}, Retry_After="2"), reply(503, {}, Retry_After="1")], {}, True),
    (
        "retry-after-date",
        [
            reply(429, {}, Retry_After=formatdate(NOW + 7, usegmt=True)),
            reply(429, {}, Retry_After=formatdate(NOW + 3600, usegmt=True)),
        ],
        {"max_backoff": 20.0},
        True,
    ),
    ("rate-limit-gives-up", [reply(429, {"message": "slow"}, Retry_After="5")] * 3, {}, True),
    ("jitter-502", [reply(502, {})] * 3, {"max_attempts": 4}, True),
    ("jitter-503", [reply(503, {})] * 3, {"max_attempts": 4}, True),
    (
        "capped",
        [reply(503, {"message": "busy"})] * 6,
        {"max_attempts": 6, "backoff": 10.0, "max_backoff": 1.5},
        True,
    ),
    ("cut", [cut_mid_body, close_without_answer], {}, True),
    ("bad-json", [reply(200, b"<html>oops</html>")], {}, True),
    ("no-data", [reply(200, {"message": "Query successful.", "tensors": ["id"]})], {}, True),
    ("not-rows", [reply(200, {"tensors": ["id"], "data": {"id": [1]}})], {}, True),
    ("huge", [reply(200, b"x" * 300_000)], {"max_response_bytes": 100_000}, True),
    ("huge-chunked", [chunked(300_000)], {"max_response_bytes": 100_000}, True),
    ("timeout", [hang(1.0)] * 2, {"timeout": (2.0, 0.25), "max_attempts": 2}, True),
]


def _summary(outcome: Result | ExecutionError) -> tuple[Any, ...]:
    if isinstance(outcome, Result):
        return ("result", outcome.tensors, outcome.rows, outcome.message)
    text = str(outcome)
    if type(outcome) is TransportError:  # the client library's own words differ after this
        text = text.split(":")[0]
    # how many bytes had arrived when the cap was hit depends on each library's chunk size
    text = re.sub(r"at least \d+ bytes", "at least N bytes", text)
    return (type(outcome), outcome.status, outcome.server_message, text, outcome.query)


@pytest.mark.parametrize(
    ("script", "settings", "as_list"),
    [pytest.param(s, k, a, id=name) for name, s, k, a in SCENARIOS],
)
async def test_async_results_equal_rest_results(
    server: FaultServer, script: list[Action], settings: dict[str, Any], as_list: bool
) -> None:
    outcomes = []
    for kind in ("sync", "async"):
        server.script = list(script)
        server.default = reply()
        server.requests.clear()
        outcome: Result | ExecutionError
        if kind == "sync":
            sleeps: list[float] = Sleeps()
            with sync_executor(server, sleeps, clock=NOW, **settings) as ex:  # type: ignore[arg-type]
                try:
                    outcome = await anyio.to_thread.run_sync(
                        lambda ex=ex: ex.execute(QUERY, as_list=as_list)
                    )
                except ExecutionError as error:
                    outcome = error
        else:
            sleeps = AsyncSleeps()
            async with aexecutor(server, sleeps, clock=NOW, **settings) as aex:  # type: ignore[arg-type]
                try:
                    outcome = await aex.execute(QUERY, as_list=as_list)
                except ExecutionError as error:
                    outcome = error
        outcomes.append((_summary(outcome), len(server.requests), list(sleeps)))
    assert outcomes[0] == outcomes[1]


# ---------------------------------------------------------------------- the request


@pytest.mark.parametrize("as_list", [True, False])
async def test_request_is_the_documented_one(server: FaultServer, as_list: bool) -> None:
    import httpx

    server.default = reply(200, OK_BODY if as_list else {**OK_BODY, "data": {"id": [1]}})
    async with aexecutor(server, token=f"Bearer {TOKEN}") as ex:
        result = await ex.execute(QUERY, as_list=as_list)
    assert result == Result.from_rows(["id"], [{"id": 1}])
    (request,) = server.requests
    assert request.requestline == "POST /api/query/v1 HTTP/1.1"
    assert request.body == b'{"query":"SELECT id FROM \\"hub://org/ds\\"","as_list":%s}' % (
        b"true" if as_list else b"false"
    )
    headers = {key.lower(): value for key, value in request.headers.items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].endswith(f"python-httpx/{httpx.__version__}")


async def test_token_never_leaks(server: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.script = [
        reply(401, {"message": f"token {TOKEN} is not valid"}),
        reply(500, f"<html>{TOKEN}</html>".encode()),
        reply(200, b"{not json " + TOKEN.encode()),
        hang(1.0),
        cut_mid_body,
    ]
    errors: list[ExecutionError] = []
    async with aexecutor(server, timeout=0.3, max_attempts=1) as ex:
        for _ in range(5):
            with pytest.raises(ExecutionError) as info:
                await ex.execute(QUERY)
            errors.append(info.value)
        assert TOKEN not in repr(ex) and TOKEN not in repr(vars(ex))
        with pytest.raises(TypeError):
            pickle.dumps(ex)
    assert [type(e) for e in errors] == [
        AuthenticationError,
        ServerError,
        ResponseFormatError,
        TransportError,
        TransportError,
    ]
    for error in errors:
        assert TOKEN not in "".join(traceback.format_exception(error))
        assert error.__cause__ is None and error.__context__ is None
        assert error.query == QUERY
    assert TOKEN not in caplog.text
    debug = [r.getMessage() for r in caplog.records if r.name == "tqlbuilder.run.async_rest"]
    assert f"POST {server.url}: {QUERY}" in debug


# ---------------------------------------------------------------------- deadline and cancellation


@pytest.mark.parametrize("headers_too", [True, False], ids=["whole-answer", "body-only"])
async def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(
    server: FaultServer, headers_too: bool
) -> None:
    server.default = trickle(0.12, headers_too=headers_too)
    async with AsyncRestExecutor(TOKEN, url=server.url, timeout=1.0, deadline=1.0) as ex:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            await ex.execute(QUERY)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"held for {elapsed:.2f} s past a 1 s deadline"
    assert "deadline of 1 s passed" in str(info.value) and info.value.query == QUERY


async def test_the_deadline_spans_retries_and_a_wait_past_it_is_not_slept(
    server: FaultServer,
) -> None:
    sleeps = AsyncSleeps()
    server.default = reply(503, {"message": "busy"}, Retry_After="30")
    async with aexecutor(server, sleeps, deadline=5.0, max_backoff=60.0) as ex:
        with pytest.raises(DeadlineExceededError, match=r"retry in 30\.00 s") as info:
            await ex.execute(QUERY)
    assert sleeps == [] and info.value.status == 503 and info.value.server_message == "busy"


@pytest.mark.parametrize("how", ["cancel-scope", "task-cancel"])
async def test_a_cancelled_call_leaves_the_pool_usable(server: FaultServer, how: str) -> None:
    server.script = [hang(3.0), hang(3.0)]
    async with aexecutor(server, pool_size=1) as ex:
        for _ in range(2):  # twice: a leaked connection would block the only slot
            if how == "cancel-scope":
                with anyio.move_on_after(0.3) as scope:
                    await ex.execute(QUERY)
                assert scope.cancelled_caught
            else:
                task = asyncio.ensure_future(ex.execute(QUERY))
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
        with anyio.fail_after(2.0):
            result = await ex.execute(QUERY)
    assert result.rows == OK_BODY["data"]
    assert len(server.requests) == 3


# ---------------------------------------------------------------------- many queries


async def test_gather_of_50_uses_bounded_connections(server: FaultServer) -> None:
    server.default = echo(delay=0.01)
    queries = [f'SELECT {i} FROM "hub://org/ds"' for i in range(50)]
    async with aexecutor(server, pool_size=4) as ex:
        results = await asyncio.gather(*(ex.execute(q) for q in queries))
    assert [r.rows for r in results] == [[{"q": q}] for q in queries]
    connections = {request.client_port for request in server.requests}
    assert len(server.requests) == 50 and 1 <= len(connections) <= 4


async def test_execute_many_keeps_order_and_errors_in_place_or_raised_in_order(
    server: FaultServer,
) -> None:
    server.default = echo(delay=0.01)
    queries = [f"{QUERY} LIMIT 0", "FAIL 1", f"{QUERY} LIMIT 2", "FAIL 3"]
    async with aexecutor(server) as ex:
        outcomes = await ex.execute_many(queries, return_exceptions=True)
        assert isinstance(outcomes[0], Result) and outcomes[0].rows == [{"q": f"{QUERY} LIMIT 0"}]
        assert isinstance(outcomes[1], QueryError) and outcomes[1].query == "FAIL 1"
        assert isinstance(outcomes[3], QueryError) and outcomes[3].query == "FAIL 3"
        server.requests.clear()
        with pytest.raises(QueryError) as info:
            await ex.execute_many(queries, max_concurrency=2)
        assert info.value.query == "FAIL 1"
        assert len(server.requests) == 4, "every query ran before the error was raised"
        assert len({request.client_port for request in server.requests}) <= 2
        assert await ex.execute_many([]) == []
        with pytest.raises(ValueError, match="max_concurrency"):
            await ex.execute_many(queries, max_concurrency=0)


# ---------------------------------------------------------------------- settings


def test_same_refusals_as_rest_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIVELOOP_TOKEN", raising=False)
    with pytest.raises(MissingTokenError):
        AsyncRestExecutor()
    with pytest.raises(MalformedTokenError, match="malformed"):
        AsyncRestExecutor("two words")
    with pytest.raises(UnsafeTransportError):
        AsyncRestExecutor(TOKEN, url="http://example.com/api/query/v1")
    with pytest.raises(ValueError, match="deadline"):
        AsyncRestExecutor(TOKEN, deadline=0)
    with pytest.raises(ValueError, match="verify"):
        AsyncRestExecutor(TOKEN, verify="/no/such/bundle.pem")
    with pytest.warns(DeprecationWarning, match="max_attempts"):
        AsyncRestExecutor(TOKEN, max_retries=2)
    parameters = inspect.signature(AsyncRestExecutor).parameters
    assert not [name for name in parameters if name.startswith("_")]
    rest = set(inspect.signature(RestExecutor).parameters) - {"session"}
    assert rest == set(parameters)


def test_without_httpx_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(MissingDependencyError, match=r"tqlbuilder\[async\]") as info:
        AsyncRestExecutor(TOKEN)
    assert isinstance(info.value, ImportError)


async def test_closed_executor_refuses(server: FaultServer) -> None:
    ex = aexecutor(server)
    await ex.aclose()
    await ex.aclose()
    with pytest.raises(ExecutionError, match="closed"):
        await ex.execute(QUERY)


async def test_connection_refused_is_retried_then_a_transport_error() -> None:
    sleeps = AsyncSleeps()
    ex = AsyncRestExecutor("e", url=f"http://127.0.0.1:{free_port()}/x", max_attempts=3)
    ex._sleep = sleeps  # type: ignore[method-assign]
    async with ex:
        with pytest.raises(TransportError) as info:
            await ex.execute(QUERY)
    assert len(sleeps) == 2
    assert str(info.value).startswith("request failed: ConnectError")  # token "e" not redacted


# ---------------------------------------------------------------------- against the local server


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("deeplake")
    from tests._datasets import make_datasets
    from tests._servers import ServerProcess

    root: Path = make_datasets(tmp_path_factory.mktemp("async") / "root")
    process = ServerProcess(root, token=TOKEN)
    yield process
    assert process.stop() == 0


@pytest.mark.engine
async def test_local_server_results_equal_rest_executor_results(local_server: Any) -> None:
    from tests.test_server import QUERIES

    failing = 'SELECT no_such_column FROM "hub://org/docs"'
    with RestExecutor(TOKEN, url=local_server.url, timeout=30.0) as rest:
        expected = [rest.execute(q, as_list=a) for q in QUERIES for a in (True, False)]
        with pytest.raises(QueryError) as sync_info:
            rest.execute(failing)
    async with AsyncRestExecutor(TOKEN, url=local_server.url, timeout=30.0, pool_size=4) as ex:
        got = [await ex.execute(q, as_list=a) for q in QUERIES for a in (True, False)]
        with pytest.raises(QueryError) as async_info:
            await ex.execute(failing)
        many = await asyncio.gather(*(ex.execute(QUERIES[i % len(QUERIES)]) for i in range(50)))
    assert got == expected
    assert [r.rows for r in got] == [r.rows for r in expected]
    assert _summary(async_info.value) == _summary(sync_info.value)
    assert many == [expected[2 * (i % len(QUERIES))] for i in range(50)]
