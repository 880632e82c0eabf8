"""The local REST server, end to end: RestExecutor -> HTTP -> LocalExecutor -> engine -> Result.

The server runs as a real child process (``python -m tqlbuilder.server``) on 127.0.0.1 over
small datasets made with deeplake; results must equal LocalExecutor's for the same text.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from tests._datasets import DOCS_PATH, N_DOCS, TAGS_PATH, make_datasets
from tests._servers import ServerProcess
from tqlbuilder import LocalExecutor, RestExecutor
from tqlbuilder.errors import (
    AuthenticationError,
    PayloadTooLargeError,
    QueryError,
)
from tqlbuilder.run.server import QueryServer

pytest.importorskip("deeplake")
pytestmark = pytest.mark.engine

TOKEN = "server-test-token-9b1e"

QUERIES = [
    f'SELECT * FROM "{DOCS_PATH}"',
    f'SELECT id, text FROM "{DOCS_PATH}" WHERE year > 2020 ORDER BY id DESC',
    f'SELECT id, embedding FROM "{DOCS_PATH}" WHERE id > 100',
    "SELECT * FROM (SELECT id, text, COSINE_SIMILARITY(embedding, ARRAY[0.6, 0.8, 0, 0]) AS score "
    f'FROM "{DOCS_PATH}") ORDER BY score DESC LIMIT 5',
    f"SELECT id, meta['nested'] AS nested, meta['arr'] AS arr FROM \"{DOCS_PATH}\" WHERE id < 4",
    f'SELECT a.id AS id, b.tag AS tag FROM "{DOCS_PATH}" AS a JOIN "{TAGS_PATH}" AS b '
    "ON a.id = b.id",
    f'SELECT id, year / 0 AS z FROM "{DOCS_PATH}" WHERE id = 1',
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_datasets(tmp_path_factory.mktemp("server") / "root")
    # a real dataset outside the root: the confinement tests must never read it
    make_datasets(root.parent / "outside")
    (root / "escape").symlink_to(root.parent / "outside" / "org")
    return root


@pytest.fixture(scope="module")
def server(data_root: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(data_root, token=TOKEN)
    yield process
    assert process.stop() == 0, "the server stops cleanly on SIGTERM"


@pytest.fixture(scope="module")
def rest(server: ServerProcess) -> Iterator[RestExecutor]:
    with RestExecutor(TOKEN, url=server.url, timeout=30.0) as executor:
        yield executor


@pytest.fixture(scope="module")
def local(data_root: Path) -> LocalExecutor:
    return LocalExecutor(data_root)


def post(server: ServerProcess, body: bytes, token: str | None = TOKEN) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(server.url, data=body, headers=headers, timeout=30)


# ---------------------------------------------------------------------- end to end


@pytest.mark.parametrize("query", QUERIES)
def test_rest_results_equal_local_results(
    rest: RestExecutor, local: LocalExecutor, query: str
) -> None:
    expected = local.execute(query)
    as_rows = rest.execute(query, as_list=True)
    as_columns = rest.execute(query, as_list=False)
    assert as_rows == expected
    assert as_columns == expected
    assert as_rows.rows == expected.rows and as_columns.columns == expected.columns
    assert as_rows.message == "Query successful."


def test_wire_format_matches_the_documented_api(server: ServerProcess) -> None:
    query = f'SELECT id, text FROM "{DOCS_PATH}" WHERE id < 2'
    rows = post(server, orjson.dumps({"query": query}))  # as_list defaults to true
    assert rows.status_code == 200
    assert rows.headers["Content-Type"] == "application/json"
    assert rows.json() == {
        "message": "Query successful.",
        "tensors": ["id", "text"],
        "data": [{"id": 0, "text": "doc 0 about pears"}, {"id": 1, "text": "doc 1 about apples"}],
    }
    columns = post(server, orjson.dumps({"query": query, "as_list": False}))
    assert columns.json()["data"] == {
        "id": [0, 1],
        "text": ["doc 0 about pears", "doc 1 about apples"],
    }


def test_embeddings_arrive_as_float32_matrix(rest: RestExecutor) -> None:
    result = rest.execute(f'SELECT embedding FROM "{DOCS_PATH}"', as_list=False)
    array = result.to_numpy("embedding")
    assert array.dtype.name == "float32" and array.shape == (N_DOCS, 4)


def test_execute_many_over_http(rest: RestExecutor, local: LocalExecutor) -> None:
    queries = [f'SELECT id, text FROM "{DOCS_PATH}" WHERE id = {i % N_DOCS}' for i in range(16)]
    assert rest.execute_many(queries, max_workers=8) == [local.execute(q) for q in queries]


# ---------------------------------------------------------------------- errors and refusals


def test_engine_errors_are_400_with_the_engine_message(rest: RestExecutor) -> None:
    with pytest.raises(QueryError) as info:
        rest.execute(f'SELECT nope FROM "{DOCS_PATH}"')
    assert info.value.status == 400
    assert (info.value.server_message or "").startswith('Tensor "nope" does not exist')


def test_wrong_or_missing_token_is_401(server: ServerProcess) -> None:
    with RestExecutor("wrong-token", url=server.url) as ex, pytest.raises(AuthenticationError):
        ex.execute(f'SELECT id FROM "{DOCS_PATH}"')
    for token in (None, ""):
        response = post(server, orjson.dumps({"query": "SELECT 1"}), token=token)
        assert response.status_code == 401
        assert "message" in response.json()
    response = requests.post(
        server.url, data=b"{}", headers={"Authorization": f"Basic {TOKEN}"}, timeout=10
    )
    assert response.status_code == 401


def test_huge_body_is_413(rest: RestExecutor) -> None:
    huge = f"SELECT id FROM \"{DOCS_PATH}\" WHERE text = '{'x' * (9 * 1024 * 1024)}'"
    with pytest.raises(PayloadTooLargeError) as info:
        rest.execute(huge)
    assert info.value.status == 413
    assert len(rest.execute(f'SELECT id FROM "{DOCS_PATH}"')) == N_DOCS


@pytest.mark.parametrize(
    "source",
    [
        '"file:///etc"',
        '"hub://org/../../x"',
        '"hub://org/ds/../../.."',
        '"mem://x"',
        '"/etc"',
        '"hub://escape/docs"',  # a symlink inside the root that points outside it
        "OUTSIDE",  # replaced by the absolute file:// path of a real dataset outside the root
    ],
)
def test_paths_outside_the_root_are_refused(
    rest: RestExecutor, server: ServerProcess, data_root: Path, source: str
) -> None:
    if source == "OUTSIDE":
        source = f'"file://{data_root.parent / "outside" / "org" / "docs"}"'
    with pytest.raises(QueryError) as info:
        rest.execute(f"SELECT * FROM {source}")
    assert info.value.status == 400
    assert str(data_root) not in str(info.value), "the server's root is not revealed"
    assert server.alive()


def test_killer_queries_are_refused_and_the_server_survives(
    rest: RestExecutor, server: ServerProcess
) -> None:
    killers = [
        f"SELECT * FROM \"{DOCS_PATH}\" WHERE CONTAINS(text, '!!')",
        f"SELECT * FROM \"{DOCS_PATH}\" WHERE CONTAINS(text, '² ½')",  # isalnum, not engine words
        f'SELECT * FROM "{DOCS_PATH}" SAMPLE BY MAX_WEIGHT(FALSE: 1) LIMIT 3',
        f'UPDATE "{DOCS_PATH}" SET year = 1',
        f'SELECT * FROM "{DOCS_PATH}" WHERE id = 1 # OR id = 2',
    ]
    for killer in killers:
        with pytest.raises(QueryError) as info:
            rest.execute(killer)
        assert info.value.status == 400
        assert "refused" in str(info.value)
    assert server.alive()
    assert len(rest.execute(f'SELECT id FROM "{DOCS_PATH}" WHERE id < 3')) == 3


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b"{}", "'query'"),
        (b'{"query": 5}', "'query'"),
        (b'{"query": "SELECT 1", "as_list": "yes"}', "'as_list'"),
    ],
)
def test_invalid_request_bodies_are_400(server: ServerProcess, body: bytes, fragment: str) -> None:
    response = post(server, body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_other_paths_and_methods(server: ServerProcess) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = server.url.rsplit("/api/", 1)[0]
    assert (
        requests.post(f"{base}/api/query/v2", data=b"{}", headers=auth, timeout=10).status_code
        == 404
    )
    assert requests.get(f"{base}/", timeout=10).status_code == 404
    response = requests.get(server.url, headers=auth, timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert requests.delete(server.url, headers=auth, timeout=10).status_code == 405


# ---------------------------------------------------------------------- keep-alive and shutdown


def test_each_keep_alive_response_is_one_write_on_a_nodelay_socket(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers and body leave in one write with TCP_NODELAY: no ~40 ms delayed-ACK stall."""
    import socket

    from tqlbuilder.run import server_handler as server_module

    writes: list[int] = []
    nodelay: list[int] = []
    original_setup = server_module._Handler.setup

    def setup(handler: server_module._Handler) -> None:
        original_setup(handler)
        nodelay.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        write = handler.wfile.write

        def counting_write(data: bytes) -> int:
            writes.append(len(data))
            return write(data)

        handler.wfile.write = counting_write  # type: ignore[method-assign]

    monkeypatch.setattr(server_module._Handler, "setup", setup)
    query = f'SELECT id FROM "{DOCS_PATH}" WHERE id = 1'
    with QueryServer(data_root, token="t") as srv, RestExecutor("t", url=srv.url) as client:
        for _ in range(5):
            assert len(client.execute(query)) == 1
    assert nodelay == [1]  # one keep-alive connection for all five requests
    assert len(writes) == 5  # one write per response, headers and body together


def test_query_server_in_a_thread(data_root: Path) -> None:
    query = f'SELECT id FROM "{DOCS_PATH}" WHERE id < 2'
    with QueryServer(data_root, token="t") as srv:
        assert srv.port > 0 and srv.url == f"http://127.0.0.1:{srv.port}/api/query/v1"
        with RestExecutor("t", url=srv.url) as ex:
            assert ex.execute(query).column("id") == [0, 1]
            # shutting down from another thread while a keep-alive connection is open
            stopper = threading.Thread(target=srv.shutdown)
            stopper.start()
            stopper.join(10)
            assert not stopper.is_alive()
    srv.shutdown()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.post(srv.url, data=b"{}", timeout=2)


def test_server_without_token_accepts_any_but_requires_the_header(data_root: Path) -> None:
    process = ServerProcess(data_root, token=None)
    try:
        with RestExecutor("anything", url=process.url) as ex:
            assert len(ex.execute(f'SELECT id FROM "{DOCS_PATH}"')) == N_DOCS
        response = requests.post(process.url, data=b'{"query": "SELECT 1"}', timeout=10)
        assert response.status_code == 401
    finally:
        assert process.stop(signum=signal.SIGINT) == 0, "SIGINT stops it cleanly too"


def test_bad_root_exits_with_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not a directory"):
        ServerProcess(tmp_path / "missing", token=None)
    assert os.path.exists(tmp_path)
