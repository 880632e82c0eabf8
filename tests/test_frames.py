"""Result.to_pandas() / to_arrow(): typed columns, the same for both REST shapes and executors."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._datasets import DOCS_PATH, N_DOCS, make_datasets
from tests._servers import ServerProcess
from tqlbuilder import LocalExecutor, RestExecutor, Result, col, select
from tqlbuilder.run.frames import column_kind

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

TOKEN = "frames-token"

# ----------------------------------------------------------------------------- generated columns

ints = st.integers(-(2**63), 2**63 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False, width=32).map(float)
texts = st.text(max_size=8)
maybe = st.booleans()


@st.composite
def columns(draw: st.DrawFn, n: int) -> tuple[str, list[Any]]:
    kind = draw(st.sampled_from(["int", "float", "bool", "str", "vector", "dict", "null"]))
    with_none = draw(maybe) and kind not in ("null",)
    if kind == "int":
        values: list[Any] = draw(st.lists(ints, min_size=n, max_size=n))
    elif kind == "float":
        values = draw(
            st.lists(st.one_of(floats, ints.map(lambda i: i % 1000)), min_size=n, max_size=n)
        )
    elif kind == "bool":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif kind == "str":
        values = draw(st.lists(texts, min_size=n, max_size=n))
    elif kind == "vector":
        dim = draw(st.integers(1, 5))
        values = draw(
            st.lists(st.lists(floats, min_size=dim, max_size=dim), min_size=n, max_size=n)
        )
    elif kind == "dict":
        values = [{"k": draw(texts), "n": draw(st.integers(-5, 5))} for _ in range(n)]
    else:
        values = [None] * n
    if with_none and n > 1:
        values[draw(st.integers(0, n - 1))] = None
    if kind == "float" and not any(type(v) is float for v in values):
        for index, value in enumerate(values):
            if value is not None:
                values[index] = 0.5
                break
    return kind, values


@st.composite
def results(draw: st.DrawFn) -> tuple[Result, list[str]]:
    n = draw(st.integers(0, 6))
    count = draw(st.integers(1, 4))
    kinds, data = [], {}
    for index in range(count):
        kind, values = draw(columns(n))
        kinds.append(kind)
        data[f"c{index}"] = values
    return Result.from_columns(list(data), data), kinds


ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    "null": pa.null(),
}


@settings(max_examples=200, deadline=None)
@given(generated=results())
def test_generated_results_convert_with_their_types(generated: tuple[Result, list[str]]) -> None:
    result, kinds = generated
    table = result.to_arrow()
    frame = result.to_pandas()
    assert table.column_names == list(result.tensors) == list(frame.columns)
    assert table.num_rows == len(result) == len(frame)
    for name, kind in zip(result.tensors, kinds, strict=True):
        values = result.column(name)
        field_type = table.schema.field(name).type
        if not values or all(v is None for v in values):
            assert field_type == pa.null()
            continue
        if kind in ARROW_TYPES:
            assert field_type == ARROW_TYPES[kind]
        if kind == "vector":
            dim = len(next(v for v in values if v is not None))
            assert field_type == pa.list_(pa.float32(), dim)
            stacked = [None if v is None else np.float32(v).tolist() for v in values]
            assert table.column(name).to_pylist() == stacked
            cells = frame[name].tolist()
            for cell, value in zip(cells, values, strict=True):
                if value is None:
                    assert cell is None
                else:
                    assert cell.dtype == np.float32 and cell.tolist() == np.float32(value).tolist()
        elif kind == "dict":
            assert pa.types.is_struct(field_type)
            assert table.column(name).to_pylist() == values
            assert frame[name].tolist() == values
        else:
            assert table.column(name).to_pylist() == [
                None if v is None else (float(v) if kind == "float" else v) for v in values
            ]
            series = frame[name]
            has_none = any(v is None for v in values)
            expected_dtype = {
                "int": "Int64" if has_none else "int64",
                "float": "float64",
                "bool": "boolean" if has_none else "bool",
                "str": "string",
            }[kind]
            assert str(series.dtype) == expected_dtype
            for got, want in zip(series.tolist(), values, strict=True):
                if want is None:
                    assert (
                        got is None or got is pd.NA or (isinstance(got, float) and math.isnan(got))
                    )
                else:
                    assert got == want


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([], ("empty", 0)),
        ([None, None], ("null", 0)),
        ([1, 2**63], ("object", 0)),
        ([1, 2.5, None], ("float", 0)),
        ([[1, 2], [3, 4]], ("int_vector", 2)),
        ([[1.0], [2.0, 3.0]], ("ragged", 0)),
        ([[], []], ("ragged", 0)),
        ([1, "a"], ("object", 0)),
        ([True, 1], ("object", 0)),
        ([{"a": 1}, {"a": "x"}], ("dict", 0)),
    ],
)
def test_column_kinds(values: list[Any], kind: tuple[str, int]) -> None:
    assert column_kind(values) == kind


def test_awkward_columns_fall_back_to_json_text() -> None:
    result = Result.from_columns(
        ["mixed", "dicts", "big"],
        {"mixed": [1, "a"], "dicts": [{"a": 1}, {"a": "x"}], "big": [1, 2**63]},
    )
    table = result.to_arrow()
    assert table.column("mixed").to_pylist() == ["1", '"a"']
    assert table.column("dicts").to_pylist() == ['{"a":1}', '{"a":"x"}']
    assert table.schema.field("big").type == pa.string()
    frame = result.to_pandas()
    assert frame["big"].tolist() == [1, 2**63] and frame["mixed"].tolist() == [1, "a"]


def test_empty_result_keeps_its_columns() -> None:
    empty = Result.from_columns(["id", "embedding"], {"id": [], "embedding": []})
    frame = empty.to_pandas()
    assert list(frame.columns) == ["id", "embedding"] and len(frame) == 0
    table = empty.to_arrow()
    assert table.column_names == ["id", "embedding"] and table.num_rows == 0


def test_rows_without_columns() -> None:
    frame = Result.from_rows([], [{}, {}]).to_pandas()
    assert frame.shape == (2, 0)


@pytest.mark.parametrize(
    ("module", "method", "extra"),
    [("pandas", "to_pandas", "pandas"), ("pyarrow", "to_arrow", "arrow")],
)
def test_missing_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, module: str, method: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    result = Result.from_columns(["a"], {"a": [1]})
    with pytest.raises(ImportError, match=rf"pip install 'tqlbuilder\[{extra}\]'"):
        getattr(result, method)()


# ------------------------------------------------------------------ REST shapes, executors


def _same_frames(a: Result, b: Result) -> None:
    assert a.to_arrow().equals(b.to_arrow())
    frame_a, frame_b = a.to_pandas(), b.to_pandas()
    assert list(frame_a.dtypes.astype(str)) == list(frame_b.dtypes.astype(str))
    assert frame_a.to_dict("list").keys() == frame_b.to_dict("list").keys()
    for name in frame_a.columns:
        left, right = frame_a[name].tolist(), frame_b[name].tolist()
        assert len(left) == len(right)
        for x, y in zip(left, right, strict=True):
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y)
            else:
                assert (x is pd.NA and y is pd.NA) or x == y or (x != x and y != y)


@settings(max_examples=60, deadline=None)
@given(generated=results())
def test_both_rest_shapes_give_the_same_frames(generated: tuple[Result, list[str]]) -> None:
    result, _ = generated
    shapes = [
        Result.from_response_body(
            result.to_response_body(as_list=as_list), as_list=as_list, status=200, query="q"
        )
        for as_list in (True, False)
    ]
    _same_frames(shapes[0], shapes[1])
    _same_frames(shapes[0], result)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("deeplake")
    return make_datasets(tmp_path_factory.mktemp("frames") / "root")


@pytest.fixture(scope="module")
def server(data_root: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(data_root, token=TOKEN)
    try:
        yield process
    finally:
        process.stop()


QUERIES = [
    select("*").from_(DOCS_PATH),
    select("id", "embedding").from_(DOCS_PATH).similar_to([1, 0, 0, 0]).limit(3),
    select("id", "text", "meta").from_(DOCS_PATH).where(col("id") < 0),
]


@pytest.mark.engine
def test_every_executor_and_shape_gives_the_same_frames(
    data_root: Path, server: ServerProcess
) -> None:
    with LocalExecutor(data_root) as local, RestExecutor(TOKEN, url=server.url) as rest:
        for query in QUERIES:
            results = [local.execute(query)]
            results += [rest.execute(query, as_list=as_list) for as_list in (True, False)]
            for other in results[1:]:
                _same_frames(results[0], other)
    with LocalExecutor(data_root) as local:
        everything = local.execute(QUERIES[0])
        scored = local.execute(QUERIES[1])
        empty = local.execute(QUERIES[2])
    table = everything.to_arrow()
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("year").type == pa.int64()
    assert table.schema.field("text").type == pa.string()
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 4)
    assert pa.types.is_struct(table.schema.field("meta").type)
    frame = everything.to_pandas()
    assert np.stack(frame["embedding"].tolist()).shape == (N_DOCS, 4)
    assert str(frame["id"].dtype) == "int64" and str(frame["text"].dtype) == "string"
    assert scored.to_arrow().schema.field("score").type == pa.float64()
    assert empty.to_pandas().columns.tolist() == ["id", "text", "meta"]
    assert empty.to_arrow().num_rows == 0
