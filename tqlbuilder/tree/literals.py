"""Render Python values and names as TQL tokens, refusing anything the engine would misread.

These are the only functions that turn user data into TQL text. Each one either returns text
that the engine's lexer reads back as exactly the given value, or raises an error that names
the argument and says what would be accepted. Rules and evidence: the TQL reference, section 5.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from tqlbuilder.engine.lexicon import BARE_NAME, INT64_MAX, INT64_MIN, NOT_BARE_WORDS
from tqlbuilder.errors import InvalidIdentifierError, InvalidValueError, UnsupportedTypeError

__all__ = [
    "check_cosine_query",
    "render_identifier",
    "render_number",
    "render_scalar",
    "render_string",
    "render_vector",
    "render_vector_shape",
]


# Characters that can never appear inside a quoted identifier: the lexer rule is "[^"\n]+", the
# query is a C string (NUL ends it), and a CR would make the query two lines.
_BAD_NAME_CHARS = re.compile(r'["\n\r\x00]')
_ORJSON_NUMPY = 1 << 4  # orjson.OPT_SERIALIZE_NUMPY; orjson is imported on first use (its
# import pulls in uuid, json and dataclasses: milliseconds that `from tqlbuilder import col` skips)
# an element orjson writes positionally although numpy (and TQL) allow the shorter exponent form
_SMALL_POSITIONAL = re.compile(rb"(-?)0\.(0+)([1-9])([0-9]*)")
_LARGE_POSITIONAL = re.compile(rb"(-?)([1-9])([0-9]*?)(0*)\.0")


def _exponent_form(element: bytes) -> bytes:
    """``0.0000882`` -> ``8.82e-5``, ``1250000000.0`` -> ``1.25e9`` when shorter (same digits)."""
    small = _SMALL_POSITIONAL.fullmatch(element)
    if small is not None:
        sign, zeros, lead, rest = small.groups()
        exponent = -(len(zeros) + 1)
    else:
        large = _LARGE_POSITIONAL.fullmatch(element)
        if large is None:
            return element
        sign, lead, rest, zeros = large.groups()
        exponent = len(rest) + len(zeros)
    written = sign + lead + (b"." + rest if rest else b"") + b"e" + str(exponent).encode()
    return written if len(written) < len(element) else element


# |x| outside [1.1e-4, 1e5) as one unsigned compare on the float bits (sign bit cleared):
# (bits - low) wraps around below ``low``, so ``>= high - low`` is "below low or at/above high".
# float32(1e-4) sits just below 1e-4, hence 1.1e-4. NaN and infinity are flagged too (harmless:
# they fail the finiteness check afterwards).
_FLAG_BITS = {
    np.dtype(np.float32): (
        np.uint32,
        np.uint32(0x7FFFFFFF),
        np.float32(1.1e-4).view(np.uint32),
        np.uint32(np.float32(1e5).view(np.uint32) - np.float32(1.1e-4).view(np.uint32)),
    ),
    np.dtype(np.float64): (
        np.uint64,
        np.uint64(0x7FFFFFFFFFFFFFFF),
        np.float64(1.1e-4).view(np.uint64),
        np.uint64(np.float64(1e5).view(np.uint64) - np.float64(1.1e-4).view(np.uint64)),
    ),
}


def _flag_positional(array: np.ndarray) -> np.ndarray:
    """Indices of the elements orjson writes positionally: ``|x| < 1.1e-4`` or ``|x| >= 1e5``."""
    spec = _FLAG_BITS.get(array.dtype)
    if spec is None:  # pragma: no cover - 1-D float arrays reaching here are float32/64
        magnitude = np.abs(array)
        return np.flatnonzero((magnitude < 1.1e-4) | (magnitude >= 1e5))
    unsigned, mask, low, span = spec
    bits = array.view(unsigned) & mask
    bits -= low
    return np.flatnonzero(bits >= span)


def _dump_vector(array: np.ndarray, prefix: bytes = b"") -> bytes:
    """``prefix`` + orjson's JSON text of a numeric array, tiny and huge 1-D elements shortened.

    orjson writes ``8.82e-05`` as ``0.0000882`` and ``1e6`` as ``1000000.0``. numpy finds those
    elements (a few per normalised 1536-d embedding); the runs between them are dumped as they
    are and only the flagged elements are rewritten, so the text is never scanned from Python.
    The runs are joined through memoryviews: the text is copied once, into the result.
    """
    import orjson  # a sys.modules lookup after the first vector

    dumps = orjson.dumps
    if array.ndim != 1 or array.dtype.kind != "f":
        return prefix + dumps(array, option=_ORJSON_NUMPY)
    flagged = _flag_positional(array)
    if not flagged.size:
        return prefix + dumps(array, option=_ORJSON_NUMPY)
    pieces: list[bytes | memoryview] = [prefix, b"["]
    append = pieces.append
    done = 0
    for index in flagged.tolist():
        if index > done:
            append(memoryview(dumps(array[done:index], option=_ORJSON_NUMPY))[1:-1])
            append(b",")
        append(_exponent_form(dumps(array[index : index + 1], option=_ORJSON_NUMPY)[1:-1]))
        append(b",")
        done = index + 1
    if done < array.size:
        append(memoryview(dumps(array[done:], option=_ORJSON_NUMPY))[1:-1])
    else:
        pieces.pop()  # the comma after the last element
    append(b"]")
    return b"".join(pieces)


def render_identifier(name: object, *, argument: str = "name") -> str:
    """Write a column, alias or dataset name: bare when plain, else double-quoted.

    A name matching ``[A-Za-z][A-Za-z0-9_]*`` that is not a reserved word is written as is (the
    engine reads it identically, and shorter queries cost less on the wire); anything else is
    double-quoted. TQL has no escape inside quotes, so names with ``"``, LF, CR or NUL are refused.
    """
    if type(name) is str and BARE_NAME.fullmatch(name) is not None:  # the common case
        return name if name.upper() not in NOT_BARE_WORDS else f'"{name}"'
    if not isinstance(name, str):
        raise UnsupportedTypeError(
            f"{argument} must be a str naming a column or dataset, got {type(name).__name__}: "
            f"{name!r}"
        )
    if not name:
        raise InvalidIdentifierError(f"{argument} must not be empty")
    bad = _BAD_NAME_CHARS.search(name)
    if bad is not None:
        char = {'"': '"', "\n": "newline", "\r": "carriage return", "\x00": "NUL"}[bad.group()]
        raise InvalidIdentifierError(
            f"{argument} {name!r} contains a {char} at position {bad.start()}: TQL quoted names "
            'cannot contain ", newline, CR or NUL and have no escape for them; rename the column '
            "(or read it with select('*'))"
        )
    if not name.isascii():
        _check_encodable(name, argument)
    return f'"{name}"'


def render_string(value: str, *, argument: str = "value") -> str:
    """Single-quote a string, doubling every ``'`` (the only escape TQL has); NUL is refused."""
    nul = value.find("\x00")
    if nul != -1:
        raise InvalidValueError(
            f"{argument} contains a NUL character at position {nul}: the engine reads the query "
            "as a C string and would cut it there; remove the NUL"
        )
    if not value.isascii():
        _check_encodable(value, argument)
    return "'" + value.replace("'", "''") + "'"


def _check_encodable(value: str, argument: str) -> None:
    """Refuse text that has no UTF-8 form (a lone surrogate): it cannot be sent to the engine."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValueError(
            f"{argument} has a lone surrogate {value[exc.start]!r} at position {exc.start}: it "
            "is not text any encoding can send; decode the source with errors='replace' or "
            "'surrogatepass' and clean it first"
        ) from None


def _check_int(value: int, argument: str) -> str:
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidValueError(
            f"{argument}={value} is outside the int64 range the engine reads "
            f"([{INT64_MIN}, {INT64_MAX}]); pass it as a float or a string"
        )
    return str(value)


def _check_float(value: float, argument: str) -> str:
    if not math.isfinite(value):
        raise InvalidValueError(
            f"{argument}={value!r} is not finite: TQL has no NaN or infinity literal (the engine "
            "would read 'nan' as a column name); filter such values out before building the query"
        )
    return repr(value)


def render_number(value: Any, *, argument: str = "value", dtype: str | None = None) -> str:
    """Render a bool, int or float (Python or numpy) as a TQL literal.

    ``dtype="float32"`` renders the float64 value of the nearest float32, which is what a
    float32 column holds: scalar literals compare as float64, so ``0.1`` never equals a stored
    float32 ``0.1`` but ``0.10000000149011612`` does. numpy float32 scalars do this by default.
    """
    if isinstance(value, (bool, np.bool_)):
        if dtype is not None:
            raise InvalidValueError(f"{argument}: dtype={dtype!r} does not apply to a bool")
        return "TRUE" if value else "FALSE"
    if dtype is not None:
        if dtype not in ("float32", "float64"):
            raise InvalidValueError(
                f"dtype must be 'float32' or 'float64', got {dtype!r} (for {argument})"
            )
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise UnsupportedTypeError(
                f"{argument} must be a number to apply dtype={dtype!r}, got {type(value).__name__}"
            )
        if dtype == "float32":
            with np.errstate(over="ignore"):
                value = float(np.float32(value))
        return _check_float(float(value), argument)
    if isinstance(value, (int, np.integer)):
        return _check_int(int(value), argument)
    if isinstance(value, (np.float32, np.float16)):
        return _check_float(float(value), argument)
    if isinstance(value, (float, np.floating)):
        return _check_float(float(value), argument)
    raise UnsupportedTypeError(
        f"{argument} must be a bool, int or float, got {type(value).__name__}: {value!r}"
    )


def render_scalar(value: Any, *, argument: str = "value", dtype: str | None = None) -> str:
    """Render a scalar literal: str (quoted), bool, int or float; anything else is refused."""
    if dtype is None:  # fast paths for exact built-in types (bool is not ``type(x) is int``)
        kind = type(value)
        if kind is int:
            return _check_int(value, argument)
        if kind is float:
            return _check_float(value, argument)
    if isinstance(value, str):
        if dtype is not None:
            raise InvalidValueError(f"{argument}: dtype={dtype!r} does not apply to a string")
        return render_string(value, argument=argument)
    if value is None:
        raise InvalidValueError(
            f"{argument} is None: TQL has no NULL literal; use .is_null() / .is_not_null() "
            "(or compare with == None, which means IS NULL)"
        )
    if isinstance(value, (bytes, bytearray)):
        raise UnsupportedTypeError(f"{argument} is bytes; decode it to str first")
    return render_number(value, argument=argument, dtype=dtype)


def _first_bad(mask: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    return str(index[0]) if len(index) == 1 else str(list(index))


def _as_numeric_array(value: Any, argument: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (list, tuple)):
        if any(isinstance(x, (bool, np.bool_)) for x in value):
            raise InvalidValueError(
                f"{argument} contains a bool; vectors must hold numbers (bools are refused so "
                "that True is never silently sent as 1.0)"
            )
        try:
            array = np.asarray(value)
        except ValueError:
            raise InvalidValueError(
                f"{argument} is ragged (its rows differ in length); every row of a "
                "multi-vector query must have the same dimension"
            ) from None
    else:
        raise UnsupportedTypeError(
            f"{argument} must be a list, tuple or numpy array of numbers, got "
            f"{type(value).__name__}"
        )
    kind = array.dtype.kind
    if kind == "f":
        if array.dtype.itemsize < 4:
            array = array.astype(np.float32)  # exact: every float16 is a float32
        elif array.dtype.itemsize > 8:
            array = array.astype(np.float64)
        return array
    if kind in "iu":
        return array
    if kind == "b":
        raise InvalidValueError(f"{argument} holds bools; vectors must hold numbers")
    if kind == "c":
        raise InvalidValueError(f"{argument} holds complex numbers; vectors must be real")
    if kind == "O" and isinstance(value, (list, tuple)):
        raise InvalidValueError(
            f"{argument} is ragged or mixes types; pass equal-length rows of numbers"
        )
    raise InvalidValueError(
        f"{argument} must hold real numbers, got numpy dtype {array.dtype} (for example text "
        "or objects)"
    )


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(array: np.ndarray, argument: str) -> None:
    """Refuse float64 elements that become infinite in float32.

    The engine reads every ``ARRAY[...]`` literal as float32, also against a Float64 column
    (``tests/probes/vectors.py``: ``DOT(a, ARRAY[1e39, 0])`` is ``inf`` on a Float64 array;
    ``COSINE_SIMILARITY`` is NaN for every row, which ranks arbitrarily). Elements below
    float32's smallest subnormal (about 1.4e-45) become 0, like any float32 rounding: accepted.
    """
    with np.errstate(over="ignore"):
        overflow = np.isinf(array.astype(np.float32)) & np.isfinite(array)
    if overflow.any():
        where = _first_bad(overflow)
        value = float(array[tuple(int(i) for i in np.argwhere(overflow)[0])])
        raise InvalidValueError(
            f"{argument} element {where} is {value!r}, outside float32's range "
            f"(±{_FLOAT32_MAX:.8g}): the engine reads vector literals as float32 and would turn "
            "it into infinity (scores become NaN and the ranking arbitrary); scale the vector"
        )


def check_cosine_query(value: Any, *, argument: str = "vector") -> None:
    """Refuse a cosine query vector whose float32 norm is zero or infinite.

    The engine computes ``COSINE_SIMILARITY`` in float32 from the float32 query vector
    (``tests/probes/vectors.py``, deeplake 4.7.4). When the sum of the squared elements is 0
    (the zero vector, or every element below about 4e-23 so that each square underflows) every
    score is 0; when it overflows float32 (an element above about 1.8e19) every score is 0 or
    NaN. Either way the ranking returns arbitrary rows (the last rows of the dataset). Subnormal
    sums still rank correctly and are accepted.

    Raises:
        InvalidValueError: the norm is zero or infinite in float32.
    """
    array = _as_numeric_array(value, argument)
    with np.errstate(over="ignore", under="ignore"):
        as32 = array.astype(np.float32)
        squares = (as32 * as32).astype(np.float64)
    total = float(squares.sum())
    if total == 0.0:
        raise InvalidValueError(
            f"{argument} has zero length in float32 (every element is 0 or its square underflows): "
            "cosine similarity with it is 0 for every row, so the engine would return arbitrary "
            "rows; pass a non-zero query vector (or use metric='l2' to rank by distance)"
        )
    if not math.isfinite(total) or total > _FLOAT32_MAX:
        raise InvalidValueError(
            f"{argument} is too long for float32 (the sum of its squared elements is {total:.3g}, "
            f"above {_FLOAT32_MAX:.8g}): the engine's cosine similarity overflows and every score "
            "becomes 0 or NaN; normalise the vector first"
        )


def render_vector(value: Any, *, argument: str = "vector", ndim: int | None = 1) -> str:
    """Render a 1-D (or 2-D for multi-vector search) numeric array as ``ARRAY[...]``.

    float32 values render as the shortest text that reads back as the same float32 (no float64
    noise), float64 as the shortest round trip, ints exactly. One vectorised call, no Python
    loop per element: a 1536-d vector takes microseconds.
    """
    return render_vector_shape(value, argument=argument, ndim=ndim)[0]


def render_vector_shape(
    value: Any, *, argument: str = "vector", ndim: int | None = 1
) -> tuple[str, tuple[int, ...]]:
    """`render_vector()`'s text and the shape of the array it rendered (one conversion)."""
    array = _as_numeric_array(value, argument)
    if ndim is not None and array.ndim != ndim:
        what = "a 1-D vector" if ndim == 1 else f"a {ndim}-D array (one row per query vector)"
        raise InvalidValueError(f"{argument} must be {what}, got shape {array.shape}")
    if array.ndim == 0:
        raise InvalidValueError(f"{argument} must be an array, got a scalar")
    if array.size == 0:
        raise InvalidValueError(
            f"{argument} is empty (shape {array.shape}); TQL has no empty ARRAY literal"
        )
    if array.dtype.kind == "u" and array.dtype.itemsize == 8:
        too_big = array > np.uint64(INT64_MAX)
        if too_big.any():
            raise InvalidValueError(f"{argument} has a value beyond int64 at {_first_bad(too_big)}")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    one_d = array.ndim == 1
    data = _dump_vector(array, b"ARRAY" if one_d else b"")
    if b"n" in data:  # orjson writes NaN and infinity as null; numbers (and ARRAY) hold no "n"
        finite = np.isfinite(array)
        raise InvalidValueError(
            f"{argument} has a non-finite value (NaN or infinity) at index "
            f"{_first_bad(~finite)}; TQL has no literal for it"
        )
    if array.dtype.kind == "f" and array.dtype.itemsize > 4:
        _check_float32_range(array, argument)
    text = data.decode("ascii")
    if one_d:
        return text, array.shape  # one bracket pair, already prefixed: no scan of the text
    return text.replace("[", "ARRAY["), array.shape
