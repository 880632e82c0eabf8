"""The local server under crashes, hangs, hostile clients and load (issue 11), on 127.0.0.1.

Servers run either in this process (``QueryServer``: its engine workers are spawned processes,
so a crash there cannot take pytest down, and the hazard checker can be switched off with
monkeypatch so crash and hang inputs reach a worker) or as a real child process
(``python -m tqlbuilder.server``) where signals and process exit are under test. Every loop is
bounded in count and every wait in time.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._datasets import DOCS_PATH, N_DOCS, TAGS_PATH, make_datasets
from tests._servers import (
    CRASH_QUERY,
    HANG_QUERY,
    ServerProcess,
    child_pids,
    make_hazard_dataset,
)
from tqlbuilder import LocalExecutor, RestExecutor
from tqlbuilder.errors import InvalidValueError, NotFoundError, ServerError
from tqlbuilder.run import local as local_module
from tqlbuilder.run.server import QueryServer

pytest.importorskip("deeplake")
pytestmark = pytest.mark.engine

TOKEN = "limits-token-5c2d"
OK_QUERY = f'SELECT id FROM "{DOCS_PATH}" WHERE id < 3'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hazard_dataset(make_datasets(tmp_path_factory.mktemp("limits") / "root"))


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[QueryServer]:
    """Two workers, a 3 s query limit, short idle/request timeouts, a small header cap."""
    with QueryServer(
        root,
        token=TOKEN,
        workers=2,
        query_timeout=3.0,
        memory_limit=None,
        idle_timeout=1.0,
        request_timeout=1.0,
        max_header_bytes=4096,
    ) as srv:
        yield srv


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let hazardous text reach the engine workers (isolation is what is under test)."""
    monkeypatch.setattr(local_module.LocalExecutor, "_check_hazards", False)


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def request_bytes(query: str, *, token: str = TOKEN, extra: str = "") -> bytes:
    body = orjson.dumps({"query": query})
    return (
        f"POST /api/query/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def read_response(reader: Any) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from a socket file: status, headers (lower-case), body."""
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while True:
        line = reader.readline().decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


def exchange(
    url: str, data: bytes, *, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes, bytes]:
    """Send raw bytes, read one response, then everything until the server closes (or 2 s)."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(data)
        reader = sock.makefile("rb")
        status, headers, body = read_response(reader)
        sock.settimeout(2.0)
        try:
            rest = reader.read()  # b"" once the server has closed the connection
        except TimeoutError:
            rest = b"<still open>"
        return status, headers, body, rest


def post(url: str, query: str, *, timeout: float = 30.0) -> requests.Response:
    return requests.post(
        url,
        data=orjson.dumps({"query": query}),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=timeout,
    )


# ---------------------------------------------------------------------- crashes and hangs


@pytest.mark.usefixtures("unchecked")
def test_the_next_request_is_answered_after_a_query_crashes_its_worker(
    server: QueryServer,
) -> None:
    response = post(server.url, CRASH_QUERY)
    assert response.status_code == 500
    message = response.json()["message"]
    assert "crashed" in message and "SIGSEGV" in message
    with RestExecutor(TOKEN, url=server.url, max_attempts=1) as rest:
        with pytest.raises(ServerError) as info:
            rest.execute(CRASH_QUERY)
        assert info.value.status == 500 and "crashed" in str(info.value)
        for _ in range(5):
            assert rest.execute(OK_QUERY).column("id") == [0, 1, 2]


@pytest.mark.usefixtures("unchecked")
def test_a_hanging_query_times_out_while_other_clients_are_served(server: QueryServer) -> None:
    answers: list[requests.Response] = []
    hanging = threading.Thread(target=lambda: answers.append(post(server.url, HANG_QUERY)))
    hanging.start()
    served_meanwhile = []
    with RestExecutor(TOKEN, url=server.url, max_attempts=1) as rest:
        for _ in range(10):
            assert rest.execute(OK_QUERY).column("id") == [0, 1, 2]
            served_meanwhile.append(hanging.is_alive())
    hanging.join(30)
    assert not hanging.is_alive() and any(served_meanwhile)
    (answer,) = answers
    assert answer.status_code == 504
    assert "time limit of 3 s" in answer.json()["message"]


def test_a_runaway_query_is_answered_500_at_the_memory_limit(root: Path, unchecked: None) -> None:
    with QueryServer(
        root, token=TOKEN, workers=1, query_timeout=120.0, memory_limit=300 * 2**20
    ) as srv:
        response = post(srv.url, HANG_QUERY, timeout=120)
        assert response.status_code == 500
        assert "memory limit of 300 MiB" in response.json()["message"]
        assert post(srv.url, OK_QUERY).status_code == 200


def test_saturated_server_answers_503_with_retry_after(root: Path, unchecked: None) -> None:
    with QueryServer(
        root, token=TOKEN, workers=1, max_queue=0, query_timeout=3.0, memory_limit=None
    ) as srv:
        hangs: list[threading.Thread] = []
        busy = None
        try:
            for _ in range(40):  # until the hang holds the only slot (bounded)
                if not hangs or not hangs[-1].is_alive():  # (re)start it if it was turned away
                    hangs.append(threading.Thread(target=post, args=(srv.url, HANG_QUERY)))
                    hangs[-1].start()
                    time.sleep(0.2)
                busy = post(srv.url, OK_QUERY)
                if busy.status_code == 503:
                    break
            assert busy is not None and busy.status_code == 503
            assert busy.headers["Retry-After"] == "1"
            assert "busy" in busy.json()["message"]
            with RestExecutor(TOKEN, url=srv.url, max_attempts=1) as rest:
                with pytest.raises(ServerError) as info:
                    rest.execute(OK_QUERY)
                assert info.value.status == 503
        finally:
            for hang in hangs:
                hang.join(30)
        assert post(srv.url, OK_QUERY).status_code == 200


# ---------------------------------------------------------------------- connections


def test_hundreds_of_idle_connections_do_not_stop_a_real_request(root: Path) -> None:
    with QueryServer(root, token=TOKEN, workers=1, memory_limit=None, idle_timeout=30.0) as srv:
        idle = [socket.create_connection(address(srv.url), timeout=10) for _ in range(400)]
        try:
            for _ in range(3):
                # a client-side limit of one second for the whole request (connect + answer)
                response = post(srv.url, OK_QUERY, timeout=1.0)
                assert response.status_code == 200
                assert response.json()["data"] == [{"id": 0}, {"id": 1}, {"id": 2}]
        finally:
            for sock in idle:
                sock.close()


def test_over_the_connection_cap_the_longest_idle_connection_makes_room(root: Path) -> None:
    with QueryServer(
        root, token=TOKEN, workers=1, memory_limit=None, max_connections=8, idle_timeout=30.0
    ) as srv:
        idle = [socket.create_connection(address(srv.url), timeout=10) for _ in range(20)]
        try:
            for _ in range(3):
                assert post(srv.url, OK_QUERY, timeout=10).status_code == 200
            # the first idle connections were closed to make room (they read EOF)
            idle[0].settimeout(5)
            assert idle[0].recv(1) == b""
        finally:
            for sock in idle:
                sock.close()


def test_over_the_connection_cap_with_none_idle_a_newcomer_gets_503(root: Path) -> None:
    with QueryServer(
        root,
        token=TOKEN,
        workers=1,
        memory_limit=None,
        max_connections=2,
        request_timeout=5.0,
    ) as srv:
        slow = [socket.create_connection(address(srv.url), timeout=10) for _ in range(2)]
        try:
            for sock in slow:  # half a request: both connections are busy being read
                sock.sendall(b"POST /api/query/v1 HTTP/1.1\r\n")
            time.sleep(0.3)  # let the reactor hand them to handler threads
            status, headers, body, rest = exchange(srv.url, request_bytes(OK_QUERY))
            assert status == 503 and headers["retry-after"] == "1"
            assert "connection limit" in orjson.loads(body)["message"]
            assert rest == b"", "the connection is closed after the 503"
        finally:
            for sock in slow:
                sock.close()


def test_idle_keep_alive_connections_are_closed_after_the_idle_timeout(
    server: QueryServer,
) -> None:
    with socket.create_connection(address(server.url), timeout=10) as sock:
        sock.sendall(request_bytes(OK_QUERY))
        reader = sock.makefile("rb")
        assert read_response(reader)[0] == 200
        sock.settimeout(10)  # the server's idle timeout is 1 s
        assert reader.read() == b""


def test_a_request_trickled_too_slowly_is_cut_off(server: QueryServer) -> None:
    with socket.create_connection(address(server.url), timeout=10) as sock:
        sock.sendall(b"POST /api/query/v1 HTTP/1.1\r\nHost: x\r\n")  # then nothing more
        sock.settimeout(10)  # the server's request timeout is 1 s
        assert sock.recv(4096) == b""  # closed, nothing sent
    assert post(server.url, OK_QUERY).status_code == 200


def test_clients_trickling_their_headers_hold_no_handler_thread(root: Path) -> None:
    """17 handler threads here (1 worker + 0 queue + 16); 40 slow heads must not starve a request.

    Were a slow head to hold a thread, the real request would wait for the 30 s request timeout.
    """
    with QueryServer(
        root, token=TOKEN, workers=1, max_queue=0, memory_limit=None, request_timeout=30.0
    ) as srv:
        slow = [socket.create_connection(address(srv.url), timeout=10) for _ in range(40)]
        try:
            for sock in slow:
                sock.sendall(b"POST /api/query/v1 HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.3)
            for _ in range(3):
                assert post(srv.url, OK_QUERY, timeout=5.0).status_code == 200
            slow[0].sendall(request_bytes(OK_QUERY)[len(b"POST /api/query/v1 HTTP/1.1\r\n") :])
            assert read_response(slow[0].makefile("rb"))[0] == 200  # a slow head still works
        finally:
            for sock in slow:
                sock.close()


def test_pipelined_requests_are_all_answered(server: QueryServer) -> None:
    queries = [f'SELECT id FROM "{DOCS_PATH}" WHERE id = {i}' for i in range(3)]
    with socket.create_connection(address(server.url), timeout=10) as sock:
        sock.sendall(b"".join(request_bytes(query) for query in queries))
        reader = sock.makefile("rb")
        for i in range(3):
            status, _, body = read_response(reader)
            assert status == 200 and orjson.loads(body)["data"] == [{"id": i}]


# ---------------------------------------------------------------------- framing and sizes


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("Content-Length: 5\r\n", "several Content-Length"),  # conflicting with the real one
        ("Transfer-Encoding: chunked\r\n", "Transfer-Encoding"),
        ("Transfer-Encoding: identity\r\n", "Transfer-Encoding"),
    ],
)
def test_ambiguous_framing_is_400_and_the_connection_closed(
    server: QueryServer, extra: str, fragment: str
) -> None:
    smuggled = request_bytes(OK_QUERY, extra=extra) + request_bytes(OK_QUERY)
    status, _, body, rest = exchange(server.url, smuggled)
    assert status == 400 and fragment in orjson.loads(body)["message"]
    assert rest == b"", "nothing after the 400: the smuggled second request is not served"


@pytest.mark.parametrize("value", ["5, 5", "+5", "-1", "0x10", "５", "١٢", "", "1e3"])
def test_malformed_content_length_is_400(server: QueryServer, value: str) -> None:
    data = (
        f"POST /api/query/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {value}\r\n\r\n"
    ).encode()
    status, _, body, rest = exchange(server.url, data)
    assert status == 400 and "Content-Length" in orjson.loads(body)["message"]
    assert rest == b""


def test_a_post_without_content_length_is_411(server: QueryServer) -> None:
    data = f"POST /api/query/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    status, _, body, rest = exchange(server.url, data.encode())
    assert status == 411 and "Content-Length" in orjson.loads(body)["message"]
    assert rest == b""


def test_headers_over_the_cap_are_431(server: QueryServer) -> None:
    extra = "".join(f"X-Filler-{i}: {'v' * 200}\r\n" for i in range(30))  # ~7 KB > 4 KB
    status, _, body, rest = exchange(server.url, request_bytes(OK_QUERY, extra=extra))
    assert status == 431 and "headers" in orjson.loads(body)["message"]
    assert rest == b""


def test_stdlib_request_limits_still_hold(server: QueryServer) -> None:
    long_line = f"POST /{'a' * 70_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    assert exchange(server.url, long_line)[0] == 414
    many = "".join(f"X-{i}: v\r\n" for i in range(150))  # over the stdlib's 100 headers
    status, _, _, rest = exchange(server.url, request_bytes(OK_QUERY, extra=many))
    assert status == 431 and rest == b""


def test_missing_dataset_is_404_not_found(server: QueryServer) -> None:
    response = post(server.url, 'SELECT * FROM "hub://org/no_such_dataset"')
    assert response.status_code == 404
    assert response.json()["message"] == "dataset hub://org/no_such_dataset does not exist"
    with RestExecutor(TOKEN, url=server.url) as rest, pytest.raises(NotFoundError) as info:
        rest.execute(f'SELECT a.id FROM "{DOCS_PATH}" AS a JOIN "hub://nope/x" AS b ON a.id = b.id')
    assert info.value.status == 404 and "hub://nope/x" in str(info.value)


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (("--workers", "0"), "workers"),
        (("--max-connections", "0"), "max_connections"),
        (("--idle-timeout", "-1"), "idle_timeout"),
    ],
)
def test_command_line_refuses_bad_limits(
    root: Path, flags: tuple[str, ...], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tqlbuilder.server import main

    assert main(["--root", str(root), *flags]) == 2
    assert fragment in capsys.readouterr().err


def test_command_line_documents_every_limit(capsys: pytest.CaptureFixture[str]) -> None:
    from tqlbuilder.server import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for flag in (
        "--no-isolate",
        "--workers",
        "--query-timeout",
        "--memory-limit-mb",
        "--max-queue",
        "--max-connections",
        "--idle-timeout",
        "--request-timeout",
        "--max-header-bytes",
        "--max-body-bytes",
    ):
        assert flag in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"workers": 0},
        {"max_queue": -1},
        {"max_connections": 0},
        {"idle_timeout": 0},
        {"request_timeout": -1.0},
        {"max_header_bytes": 0},
        {"max_body_bytes": True},
        {"query_timeout": 0},
        {"memory_limit": -5},
    ],
)
def test_bad_server_limits_are_refused(root: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidValueError) as info:
        QueryServer(root, **kwargs)
    assert next(iter(kwargs)) in str(info.value)


# ---------------------------------------------------------------------- a real process


def test_fifty_clients_times_twenty_requests_equal_local_results(root: Path) -> None:
    process = ServerProcess(root, token=TOKEN, extra_args=("--workers", "2"))
    local = LocalExecutor(root)
    queries = [f'SELECT id, text, year FROM "{DOCS_PATH}" WHERE id = {i}' for i in range(N_DOCS)]
    queries += [
        f'SELECT a.id AS id, b.tag AS tag FROM "{DOCS_PATH}" AS a JOIN "{TAGS_PATH}" AS b '
        "ON a.id = b.id",
        f'SELECT id, embedding FROM "{DOCS_PATH}" ORDER BY year DESC LIMIT 4',
    ]
    expected = {query: local.execute(query) for query in queries}

    def client(number: int) -> list[bool]:
        with RestExecutor(TOKEN, url=process.url, max_attempts=1) as rest:
            picks = [queries[(number * 7 + k) % len(queries)] for k in range(20)]
            return [rest.execute(query) == expected[query] for query in picks]

    try:
        with ThreadPoolExecutor(max_workers=50) as clients:
            outcomes = list(clients.map(client, range(50), timeout=240))
        assert [len(o) for o in outcomes] == [20] * 50
        assert all(all(o) for o in outcomes)
    finally:
        assert process.stop() == 0


def test_server_process_survives_a_crash_and_sigterm_mid_query_stops_it_within_5_s(
    root: Path,
) -> None:
    process = ServerProcess(
        root,
        token=TOKEN,
        extra_args=("--workers", "1", "--query-timeout", "60"),
        unchecked=True,
    )
    crashed = post(process.url, CRASH_QUERY)  # a real server process survives a crash too
    assert crashed.status_code == 500 and "SIGSEGV" in crashed.json()["message"]
    assert process.alive() and post(process.url, OK_QUERY).status_code == 200
    workers = child_pids(process.process.pid)
    assert len(workers) == 1  # the replacement engine worker
    answers: list[object] = []

    def hang() -> None:
        try:
            answers.append(post(process.url, HANG_QUERY))
        except requests.RequestException as error:
            answers.append(error)

    hanging = threading.Thread(target=hang)
    hanging.start()
    hanging.join(1.0)
    assert hanging.is_alive(), f"the query is still running when SIGTERM comes: {answers}"
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    try:
        process.process.wait(timeout=5)
    finally:
        elapsed = time.monotonic() - started
        code = process.stop()
    assert code == 0, f"exit status {code} after {elapsed:.1f} s"
    hanging.join(10)
    assert not hanging.is_alive()
    (answer,) = answers
    if isinstance(answer, requests.Response):  # answered before the socket closed
        assert answer.status_code == 503 and "shutting down" in answer.json()["message"]
    for _ in range(20):  # reaped by now; allow a moment for /proc to catch up (bounded)
        if not any(Path(f"/proc/{pid}").exists() for pid in workers):
            break
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "workers are gone"


def test_killing_the_server_process_leaves_no_worker_behind(root: Path) -> None:
    process = ServerProcess(root, token=TOKEN, extra_args=("--workers", "2"), unchecked=True)
    workers = child_pids(process.process.pid)
    assert len(workers) == 2
    hanging = threading.Thread(target=lambda: _quietly(post, process.url, HANG_QUERY))
    hanging.start()  # one worker hangs (holding the GIL, deaf to its pipe)
    hanging.join(1.0)
    process.process.kill()  # no chance to clean up: the workers must go by themselves
    assert process.stop() == -signal.SIGKILL
    hanging.join(10)
    for _ in range(50):  # bounded: up to 5 s
        if not any(Path(f"/proc/{pid}").exists() for pid in workers):
            break
        time.sleep(0.1)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not alive, f"orphaned workers: {alive}"


def _quietly(function: Any, *args: Any) -> None:
    with contextlib.suppress(requests.RequestException):
        function(*args)


# ---------------------------------------------------------------------- hostile bytes

_METHODS = st.sampled_from(["POST", "GET", "PUT", "XYZ", "post", "", "POST POST"])
_PATHS = st.sampled_from(["/api/query/v1", "/", "/api/query/v1?x=1", "*", "/%00", "x" * 300])
_VERSIONS = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", "", "HTTP/0.9"])
_HEADER_NAMES = st.sampled_from(
    ["Content-Length", "Transfer-Encoding", "Authorization", "Connection", "Expect", "X-A"]
)
_HEADER_VALUES = st.one_of(
    st.sampled_from(
        ["0", "5", "17", "-1", "5, 5", "chunked", "close", "keep-alive", "100-continue"]
    ),
    st.just(f"Bearer {TOKEN}"),
    st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=20),
)


@st.composite
def hostile_requests(draw: st.DrawFn) -> bytes:
    line = f"{draw(_METHODS)} {draw(_PATHS)} {draw(_VERSIONS)}"
    headers = draw(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=6))
    head = "\r\n".join([line, *(f"{name}: {value}" for name, value in headers)])
    body = draw(st.one_of(st.binary(max_size=40), st.just(orjson.dumps({"query": OK_QUERY}))))
    ending = draw(st.sampled_from(["\r\n\r\n", "\n\n", "\r\n", ""]))
    return head.encode("utf-8", "replace") + ending.encode() + body


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=hostile_requests())
def test_hostile_bytes_get_an_answer_or_a_close_never_a_crash(
    server: QueryServer, data: bytes
) -> None:
    with socket.create_connection(address(server.url), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # nothing more is coming
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):  # the server answers and/or closes (<= 1 s)
                received += chunk
    if received:
        assert received.startswith(b"HTTP/1.1 "), received[:80]
        status = int(received.split(b" ", 2)[1])
        assert status != 500, received
    assert post(server.url, OK_QUERY, timeout=10).status_code == 200
