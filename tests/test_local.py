"""LocalExecutor and dataset-path mapping: JSON-like values, refusals, confinement to the root."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests._datasets import DOCS_PATH, N_DOCS, TAGS_PATH, doc_rows, make_datasets
from tqlbuilder import LocalExecutor
from tqlbuilder.errors import (
    EngineNotInstalledError,
    ExecutionError,
    InvalidValueError,
    QueryError,
)
from tqlbuilder.run.local import map_dataset_paths
from tqlbuilder.run.result import Result

# ---------------------------------------------------------------------- path mapping (no engine


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "org").mkdir(parents=True)
    return tmp_path / "root"


def test_map_rewrites_from_join_and_comma_sources(root: Path) -> None:
    real = os.path.realpath(root)
    text = (
        'SELECT a.id, "b"."tag" FROM "hub://org/docs" AS a '
        'JOIN "hub://org/tags" AS b ON a.id = b.id, "hub://org/x-1.2" '
        'WHERE a.text = \'FROM "hub://org/zzz"\' AND "col" > 1'
    )
    mapped = map_dataset_paths(text, root)
    assert mapped == (
        f'SELECT a.id, "b"."tag" FROM "file://{real}/org/docs" AS a '
        f'JOIN "file://{real}/org/tags" AS b ON a.id = b.id, "file://{real}/org/x-1.2" '
        'WHERE a.text = \'FROM "hub://org/zzz"\' AND "col" > 1'
    )


def test_map_handles_subqueries_comments_and_aliases(root: Path) -> None:
    real = os.path.realpath(root)
    text = (
        "SELECT * FROM (SELECT id FROM -- note\n"
        '"hub://org/docs" d WHERE id IN (1, 2)) ORDER BY id, "x"'
    )
    assert map_dataset_paths(text, root) == (
        f'SELECT * FROM (SELECT id FROM -- note\n"file://{real}/org/docs" d '
        'WHERE id IN (1, 2)) ORDER BY id, "x"'
    )


@pytest.mark.parametrize(
    "source",
    [
        '"file:///etc"',
        '"file:///etc/passwd"',
        '"hub://org/../../x"',
        '"hub://org/ds/../../.."',
        '"hub://../ds"',
        '"hub://org/.."',
        '"hub://org/.hidden"',
        '"hub://org/"',
        '"hub:///ds"',
        '"hub://org/ds/"',
        '"hub://org/ds/extra"',
        '"HUB://org/ds"',
        '"mem://x"',
        '"s3://bucket/ds"',
        '"al://org/ds"',
        '"/etc"',
        '"org/ds"',
        '"hub://org/d s"',
        '"hub://org\\ds/x"',
        "main",
        'dataset_name AS d JOIN "hub://org/docs"',
    ],
)
def test_map_refuses_everything_but_safe_hub_paths(root: Path, source: str) -> None:
    for text in (
        f"SELECT * FROM {source}",
        f'SELECT * FROM "hub://org/docs" AS a JOIN {source} AS b ON a.id = b.id',
        f'SELECT * FROM "hub://org/docs" AS a, {source}',
        f"SELECT * FROM (SELECT * FROM {source})",
        f"SELECT * FROM ({source})",
        f'SELECT * FROM "hub://org/docs" AS a JOIN "hub://org/tags" AS b ON a.id = b.id, {source}',
        f'SELECT * FROM (SELECT id FROM "hub://org/docs" WHERE id IN (1, 2)) AS t, {source}',
    ):
        with pytest.raises(QueryError) as info:
            map_dataset_paths(text, root)
        assert info.value.status is None
        assert info.value.query == text


@pytest.mark.parametrize("name", ['"file:///etc"', '"/etc/x"', '"s3://b/k"', '"../up"'])
def test_map_refuses_path_like_names_anywhere(root: Path, name: str) -> None:
    with pytest.raises(QueryError, match="looks like a dataset path"):
        map_dataset_paths(f'SELECT {name} FROM "hub://org/docs"', root)
    # ordinary names with slashes or dots inside are fine
    map_dataset_paths('SELECT "slash/name", "dot.name" FROM "hub://org/docs"', root)


def test_map_refuses_symlinks_out_of_the_root(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "evil").symlink_to(outside)
    (root / "org" / "link").symlink_to(outside)
    for path in ("hub://evil/ds", "hub://org/link"):
        with pytest.raises(QueryError, match="outside the dataset root"):
            map_dataset_paths(f'SELECT * FROM "{path}"', root)
    # a symlink that stays inside the root is fine
    (root / "org" / "alias").symlink_to(root / "org")
    (root / "org" / "real").mkdir()
    mapped = map_dataset_paths('SELECT * FROM "hub://org/real"', root)
    assert f"file://{os.path.realpath(root)}/org/real" in mapped


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError):
        LocalExecutor(tmp_path / "missing")
    quoted = tmp_path / 'we"ird'
    quoted.mkdir()
    with pytest.raises(ValueError, match="cannot be written"):
        LocalExecutor(quoted)


def test_import_does_not_load_the_engine() -> None:
    code = "import sys, tqlbuilder.run.local; print('deeplake' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_engine_is_a_clear_error(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "deeplake", None)
    with pytest.raises(EngineNotInstalledError, match=r'pip install "tqlbuilder\[local\]"'):
        LocalExecutor(root).execute(f'SELECT * FROM "{DOCS_PATH}"')


@pytest.mark.parametrize(
    "text",
    [
        f"SELECT * FROM \"{DOCS_PATH}\" WHERE CONTAINS(text, '!!')",
        f"SELECT * FROM \"{DOCS_PATH}\" WHERE CONTAINS(text, ' ')",
        f'SELECT * FROM "{DOCS_PATH}" SAMPLE BY MAX_WEIGHT(FALSE: 1) LIMIT 5',
        f'UPDATE "{DOCS_PATH}" SET year = 1',
        f'SELECT * FROM "{DOCS_PATH}" WHERE id = 1 # OR id = 2',
        f'SELECT * FROM "{DOCS_PATH}"\r\nWHERE id = 1',
        f'SELECT * FROM "{DOCS_PATH}" WHERE id = 1 -- c\n  AND year > 1',
        f'SELECT * FROM "{DOCS_PATH}" WHERE id = 1\x00 OR id = 2',
        f'SELECT * FROM "{DOCS_PATH}" WHERE text = \'open',
    ],
)
def test_killer_and_truncated_queries_are_refused_before_the_engine(
    root: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setitem(sys.modules, "deeplake", None)  # the engine must not even be loaded
    with pytest.raises(QueryError, match=r"^refused: ") as info:
        LocalExecutor(root).execute(text)
    assert info.value.status is None and info.value.query == text


# ---------------------------------------------------------------------- on the engine


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("deeplake")
    return make_datasets(tmp_path_factory.mktemp("local") / "root")


@pytest.fixture(scope="module")
def local(data_root: Path) -> Iterator[LocalExecutor]:
    with LocalExecutor(data_root) as executor:
        yield executor


@pytest.mark.engine
def test_values_are_json_like_python(local: LocalExecutor) -> None:
    result = local.execute(f'SELECT * FROM "{DOCS_PATH}" ORDER BY id')
    assert result.tensors == ("id", "text", "year", "embedding", "meta")
    expected = doc_rows()
    expected[5]["text"] = None  # empty text comes back as None
    for row in expected:  # embeddings are float32 in the dataset
        row["embedding"] = np.array(row["embedding"], np.float32).tolist()
        row["meta"]["arr"] = [float(x) for x in row["meta"]["arr"]]  # Dict arrays hold floats
    assert result.rows == expected
    row = result.rows[3]
    assert type(row["id"]) is int and type(row["year"]) is int
    assert all(type(x) is float for x in row["embedding"])
    assert type(row["meta"]["n"]) is int and type(row["meta"]["nested"]["x"]) is int
    embedding = result.to_numpy("embedding")
    assert embedding.dtype == np.float32 and embedding.shape == (N_DOCS, 4)
    assert result.to_numpy("year").dtype == np.int64


@pytest.mark.engine
def test_scores_filters_and_projections(local: LocalExecutor) -> None:
    result = local.execute(
        "SELECT * FROM (SELECT id, COSINE_SIMILARITY(embedding, ARRAY[1, 0, 0, 0]) AS score "
        f'FROM "{DOCS_PATH}") ORDER BY score DESC LIMIT 3'
    )
    assert result.tensors == ("id", "score")
    assert result.column("id") == [0, 1, 2]
    assert all(type(s) is float for s in result.column("score"))
    assert result.column("score")[0] == pytest.approx(1.0, abs=1e-4)
    assert result.to_numpy("score").dtype == np.float64
    filtered = local.execute(
        f"SELECT id, meta['k'] AS k FROM \"{DOCS_PATH}\" WHERE year >= 2024 AND meta['k'] = 'v0'"
    )
    assert filtered.rows == [{"id": 9, "k": "v0"}]


@pytest.mark.engine
def test_join_runs_across_mapped_datasets(local: LocalExecutor) -> None:
    result = local.execute(
        f'SELECT a.id AS id, b.tag AS tag FROM "{DOCS_PATH}" AS a '
        f'JOIN "{TAGS_PATH}" AS b ON a.id = b.id'
    )
    assert sorted(map(tuple, (r.values() for r in result.rows))) == [  # type: ignore[arg-type]
        (1, "one"),
        (2, "two"),
        (3, "three"),
    ]


@pytest.mark.engine
def test_empty_result_and_non_finite_numbers(local: LocalExecutor) -> None:
    empty = local.execute(f'SELECT id, embedding FROM "{DOCS_PATH}" WHERE id > 100')
    assert len(empty) == 0 and empty.columns == {"id": [], "embedding": []}
    infinite = local.execute(f'SELECT id, year / 0 AS z FROM "{DOCS_PATH}" WHERE id < 2')
    assert infinite.rows == [{"id": 0, "z": None}, {"id": 1, "z": None}]  # like JSON null


@pytest.mark.engine
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f'SELECT nope FROM "{DOCS_PATH}"', 'Tensor "nope" does not exist'),
        (f'SELECT id FROM "{DOCS_PATH}" WHERE', "syntax error"),
        (f'SELECT id, embedding[-1] AS z FROM "{DOCS_PATH}"', "Indexes should be 1D"),  # lazy
        ('SELECT id FROM "hub://org/missing"', "'hub://org/missing'"),
    ],
)
def test_engine_errors_become_query_errors(local: LocalExecutor, text: str, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        local.execute(text)
    error = info.value
    assert fragment in (error.server_message or "")
    assert error.status is None and error.query == text
    assert str(error).startswith("engine error: ")
    assert local.root is not None and local.root not in str(error), "root is not revealed"


@pytest.mark.engine
def test_without_root_paths_pass_through(data_root: Path) -> None:
    path = data_root / "org" / "docs"
    result = LocalExecutor().execute(f'SELECT id FROM "file://{path}" WHERE id < 3')
    assert result.column("id") == [0, 1, 2]
    with pytest.raises(QueryError):
        LocalExecutor(data_root).execute(f'SELECT id FROM "file://{path}"')


@pytest.mark.engine
def test_execute_many_threads_keep_order(local: LocalExecutor) -> None:
    queries = [f'SELECT id, text FROM "{DOCS_PATH}" WHERE id = {i % N_DOCS}' for i in range(24)]
    sequential = [local.execute(q) for q in queries]
    assert local.execute_many(queries, max_workers=8) == sequential
    mixed = [queries[0], f'SELECT nope FROM "{DOCS_PATH}"', queries[2]]
    outcomes = local.execute_many(mixed, return_exceptions=True, as_list=False)
    assert outcomes[0] == sequential[0] and outcomes[2] == sequential[2]
    assert isinstance(outcomes[1], QueryError)
    with pytest.raises(ExecutionError):
        local.execute_many(mixed)


@pytest.mark.engine
def test_query_objects_are_accepted(local: LocalExecutor) -> None:
    class Q:
        def to_tql(self) -> str:
            return f'SELECT id FROM "{DOCS_PATH}" WHERE id = 4'

    assert local.execute(Q()) == Result.from_rows(["id"], [{"id": 4}])
    assert local.execute(Q(), as_list=False) == local.execute(Q())


@pytest.mark.engine
@pytest.mark.parametrize("where", ["", " WHERE id >= 0"])
def test_a_selected_array_element_reads_as_one_value_per_row(tmp_path: Path, where: str) -> None:
    """The engine batch-reads the tail e[1:] here without WHERE or ORDER BY; rows are right."""
    import deeplake
    from deeplake import types

    ds = deeplake.create(str(tmp_path / "ds"))
    ds.add_column("id", types.Int64())
    ds.add_column("e", types.Array(types.Float32(), 1))
    rows = [np.array([1.0, 2.0, 3.0], dtype="float32"), np.array([4.0, 5.0, 6.0], dtype="float32")]
    ds.append({"id": [0, 1], "e": rows})
    ds.commit()
    result = LocalExecutor().execute(f'SELECT id, e[1] AS x FROM "{tmp_path / "ds"}"{where}')
    assert result.column("x") == [2.0, 5.0]
