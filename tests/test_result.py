"""Result: both REST shapes decode to equal, immutable, validated results."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tqlbuilder.errors import ResponseFormatError, TQLError
from tqlbuilder.run.result import SUCCESS_MESSAGE, Result

TENSORS = ["id", "text", "embedding", "meta", "score"]
ROWS: list[dict[str, Any]] = [
    {"id": 0, "text": "a", "embedding": [1.0, 0.0], "meta": {"k": 1}, "score": 0.5},
    {"id": 1, "text": None, "embedding": [0.0, 1.0], "meta": {}, "score": 0.25},
    {"id": 2, "text": "c", "embedding": [0.5, 0.5], "meta": {"k": [1, 2]}, "score": 1.0},
]
COLUMNS = {name: [row[name] for row in ROWS] for name in TENSORS}


def body(data: object, tensors: object = TENSORS, **extra: object) -> bytes:
    return orjson.dumps({"message": SUCCESS_MESSAGE, "tensors": tensors, "data": data, **extra})


def decode(raw: bytes, *, as_list: bool = True) -> Result:
    return Result.from_response_body(raw, as_list=as_list, status=200, query="SELECT 1")


def test_both_shapes_decode_to_equal_results() -> None:
    from_rows = decode(body(ROWS), as_list=True)
    from_columns = decode(body(COLUMNS), as_list=False)
    assert from_rows == from_columns
    assert from_rows == Result.from_rows(TENSORS, ROWS)
    assert from_rows == Result.from_columns(TENSORS, COLUMNS)
    assert from_rows.tensors == tuple(TENSORS)
    assert from_rows.rows == ROWS
    assert from_rows.columns == COLUMNS
    assert list(from_rows.columns) == TENSORS  # select order kept
    assert list(from_rows) == ROWS
    assert len(from_rows) == 3
    assert from_rows.message == SUCCESS_MESSAGE
    assert from_rows.column("text") == ["a", None, "c"]


def test_equality_ignores_message_but_not_order_or_values() -> None:
    base = Result.from_rows(TENSORS, ROWS)
    assert base == Result.from_rows(TENSORS, ROWS, message="other")
    assert base != Result.from_rows(TENSORS, ROWS[::-1])
    assert base != Result.from_rows(TENSORS[::-1], ROWS)
    assert base != Result.from_rows(TENSORS, [{**ROWS[0], "score": 0.6}, *ROWS[1:]])
    assert base != "not a result"


def test_result_is_immutable_and_hands_out_copies() -> None:
    result = Result.from_rows(TENSORS, ROWS)
    with pytest.raises(AttributeError):
        result.message = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result._columns = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.extra = 1  # type: ignore[attr-defined]
    rows = result.rows
    rows[0]["id"] = 99
    rows.append({})
    columns = result.columns
    columns["id"].append(7)
    columns.pop("text")
    assert result.rows == ROWS
    assert result.columns == COLUMNS
    assert isinstance(result.tensors, tuple)
    with pytest.raises(TypeError):
        hash(result)


def test_empty_results_in_every_shape() -> None:
    empty_rows = decode(body([]), as_list=True)
    empty_object = decode(body({}), as_list=False)
    empty_columns = decode(body({name: [] for name in TENSORS}), as_list=False)
    assert empty_rows == empty_object == empty_columns
    assert len(empty_rows) == 0
    assert empty_rows.rows == []
    assert empty_rows.columns == {name: [] for name in TENSORS}
    assert empty_rows.to_numpy("score").shape == (0,)


@pytest.mark.parametrize(
    ("raw", "as_list", "reason"),
    [
        (b"not json at all", True, "not valid JSON"),
        (b"", True, "not valid JSON"),
        (b"[1, 2]", True, "not a JSON object"),
        (orjson.dumps({"tensors": TENSORS}), True, "missing 'data'"),
        (orjson.dumps({"data": ROWS}), True, "missing 'tensors'"),
        (body(COLUMNS), True, "not a list of rows"),
        (body(ROWS), False, "not an object of columns"),
        (body([{"id": 1}]), True, "exactly the keys"),
        (body([{**ROWS[0], "extra": 1}, *ROWS[1:]]), True, "exactly the keys"),
        (body([{**{k: v for k, v in ROWS[0].items() if k != "id"}, "x": 1}]), True, "exactly"),
        (body([[0, "a", [], {}, 0.5]]), True, "exactly the keys"),
        (body({**COLUMNS, "id": [0]}), False, "different lengths"),
        (body({**COLUMNS, "id": "012"}), False, "not lists"),
        (body({"id": [1]}), False, "do not match"),
        (body(ROWS, tensors="id"), True, "list of strings"),
        (body(ROWS, tensors=[1, 2]), True, "list of strings"),
        (body([], tensors=["id", "id"]), True, "duplicate"),
        (body(ROWS, message=5), True, "'message'"),
    ],
)
def test_malformed_bodies_raise_response_format_error(
    raw: bytes, as_list: bool, reason: str
) -> None:
    with pytest.raises(ResponseFormatError) as info:
        Result.from_response_body(raw, as_list=as_list, status=207, query="SELECT q")
    error = info.value
    assert isinstance(error, TQLError)
    assert reason in str(error)
    assert error.status == 207
    assert error.query == "SELECT q"
    assert error.server_message == raw[:200].decode("utf-8", errors="replace")
    assert "HTTP 207" in str(error)
    assert error.__context__ is None and error.__cause__ is None


def test_body_preview_is_capped() -> None:
    raw = b"x" * 10_000
    with pytest.raises(ResponseFormatError) as info:
        decode(raw)
    assert info.value.server_message == "x" * 200
    assert len(str(info.value)) < 400


def test_missing_message_is_empty_string() -> None:
    result = decode(orjson.dumps({"tensors": ["id"], "data": [{"id": 1}]}))
    assert result.message == ""
    assert result.rows == [{"id": 1}]


def test_constructors_validate() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Result.from_rows(["id", "id"], [])
    with pytest.raises(ValueError, match="exactly the keys"):
        Result.from_rows(["id"], [{"id": 1}, {"idx": 2}])
    with pytest.raises(ValueError, match="different lengths"):
        Result.from_columns(["a", "b"], {"a": [1], "b": [1, 2]})
    with pytest.raises(ValueError, match="do not match"):
        Result.from_columns(["a"], {"b": [1]})
    with pytest.raises(TypeError):
        Result.from_rows("id", [])


def test_to_numpy_types() -> None:
    result = Result.from_rows(TENSORS, ROWS)
    embedding = result.to_numpy("embedding")
    assert embedding.dtype == np.float32
    assert embedding.shape == (3, 2)
    np.testing.assert_array_equal(embedding, np.array([[1, 0], [0, 1], [0.5, 0.5]], np.float32))
    ids = result.to_numpy("id")
    assert ids.dtype == np.int64 and ids.tolist() == [0, 1, 2]
    score = result.to_numpy("score")
    assert score.dtype == np.float64 and score.tolist() == [0.5, 0.25, 1.0]
    text = result.to_numpy("text")
    assert text.dtype == object and text.tolist() == ["a", None, "c"]
    assert result.to_numpy("meta").tolist() == [{"k": 1}, {}, {"k": [1, 2]}]
    with pytest.raises(KeyError):
        result.to_numpy("nope")
    # a fresh array each time: writing to it does not touch the result
    embedding[0, 0] = 42
    assert result.rows[0]["embedding"] == [1.0, 0.0]


def test_to_numpy_edge_cases() -> None:
    result = Result.from_columns(
        ["ragged", "mixed", "flag", "maybe"],
        {
            "ragged": [[1.0], [1.0, 2.0]],
            "mixed": [1, 2.5],
            "flag": [True, False],
            "maybe": [1.5, None],
        },
    )
    ragged = result.to_numpy("ragged")
    assert ragged.dtype == object and ragged[1].dtype == np.float32
    assert result.to_numpy("mixed").dtype == np.float64
    assert result.to_numpy("flag").dtype == np.bool_
    maybe = result.to_numpy("maybe")
    assert maybe[0] == 1.5 and np.isnan(maybe[1])


def test_response_body_round_trip_and_pickle() -> None:
    result = Result.from_rows(TENSORS, ROWS, message="m")
    for as_list in (True, False):
        again = decode(result.to_response_body(as_list=as_list), as_list=as_list)
        assert again == result and again.message == "m"
    clone = pickle.loads(pickle.dumps(result))
    assert clone == result and clone.message == "m"
    assert repr(result) == (
        "Result(tensors=('id', 'text', 'embedding', 'meta', 'score'), rows=3, message='m')"
    )


def test_decoding_many_rows() -> None:
    rows = [{"id": i, "v": [float(i)] * 8, "t": str(i)} for i in range(10_000)]
    tensors = ["id", "v", "t"]
    a = decode(body(rows, tensors=tensors), as_list=True)
    b = decode(
        body({name: [row[name] for row in rows] for name in tensors}, tensors=tensors),
        as_list=False,
    )
    assert a == b and len(a) == 10_000
    assert a.to_numpy("v").shape == (10_000, 8)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique=True),
    data=st.data(),
)
def test_shapes_agree_for_arbitrary_json(names: list[str], data: st.DataObject) -> None:
    n_rows = data.draw(st.integers(0, 5))
    rows = [{name: data.draw(json_values) for name in names} for _ in range(n_rows)]
    columns = {name: [row[name] for row in rows] for name in names}
    from_rows = decode(body(rows, tensors=names), as_list=True)
    from_columns = decode(body(columns, tensors=names), as_list=False)
    assert from_rows == from_columns == Result.from_rows(names, rows)
    assert from_rows.rows == rows
    assert from_columns.columns == columns


def test_import_is_light() -> None:
    code = (
        "import sys, tqlbuilder.run.result as r; "
        "print('requests' in sys.modules, 'deeplake' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
