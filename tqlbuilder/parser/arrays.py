"""``ARRAY[...]`` literals: 1-D vectors and 2-D multi-vector queries of number literals.

Parsed with a fast path for ``[-]NUMBER`` elements (a 1536-d query vector is ~3,000 tokens).
"""

from __future__ import annotations

import math

import numpy as np

from tqlbuilder.levels.printer import compile_expr
from tqlbuilder.parser.cursor import (
    _FLOAT,
    _INTEGER,
    _KEYWORD,
    _OPERATOR,
    Cursor,
)
from tqlbuilder.text.lexer import Token
from tqlbuilder.tree.expr import (
    Expr,
    Literal,
    Vector,
    vector,
)

__all__ = ["ArrayParser"]


class ArrayParser(Cursor):
    """ARRAY literals over a `Cursor` (expressions come from the subclass)."""

    def _expr(self) -> Expr:  # provided by ExpressionParser
        raise NotImplementedError  # pragma: no cover

    def _number(self, tok: Token, *, negative: bool) -> Literal:  # provided by ExpressionParser
        raise NotImplementedError  # pragma: no cover

    def _array(self) -> Vector:
        """``ARRAY[...]`` of number literals (1-D, or 2-D of equal-length rows)."""
        start = self.position()
        self.i += 1  # ARRAY
        self._expect_op("[", "after ARRAY")
        text, shape, values, is_float = self._array_body(start, depth=1)
        array = np.array(values, dtype=np.float64 if is_float else np.int64).reshape(shape)
        canonical = vector(array, ndim=None, argument="ARRAY literal")
        if canonical.text == text:
            return canonical
        return Vector(text, shape)

    def _array_body(
        self, start: int, depth: int
    ) -> tuple[str, tuple[int, ...], list[int | float], bool]:
        """Elements after ``[``: the normalised text, shape, flat values, any float element."""
        tokens, n = self.tokens, self.n
        parts: list[str] = []
        values: list[int | float] = []
        rows: list[tuple[int, ...]] = []
        is_float = False
        i = self.i
        if i < n and tokens[i].kind is _OPERATOR and tokens[i].text == "]":
            self._error("ARRAY[] is empty; TQL has no empty array literal")
        while True:
            tok = tokens[i] if i < n else None
            negative = tok is not None and tok.kind is _OPERATOR and tok.text == "-"
            num = tokens[i + 1] if negative and i + 1 < n else tok
            after = tokens[i + 2] if negative else (tokens[i + 1] if i + 1 < n else None)
            if (
                num is not None
                and (num.kind is _INTEGER or num.kind is _FLOAT)
                and after is not None
                and after.kind is _OPERATOR
                and (after.text == "," or after.text == "]")
            ):  # fast path: [-]NUMBER followed by ',' or ']'
                value = num.value
                assert isinstance(value, (int, float))
                if isinstance(value, float):
                    if math.isinf(value):
                        self.i = i
                        self._number(num, negative=negative)  # refuses infinity
                    is_float = True
                    parts.append(f"-{num.text}" if negative else num.text)
                    values.append(-value if negative else value)
                else:
                    value = -value if negative else value
                    parts.append(str(value))
                    values.append(value)
                i += 3 if negative else 2
                if after.text == "]":
                    break
                continue
            if tok is not None and tok.kind is _KEYWORD and tok.value == "ARRAY":
                if depth >= 2:
                    self._unsupported(
                        "an ARRAY nested more than two deep",
                        "the builder's vectors are 1-D or 2-D",
                        tok.start,
                    )
                self.i = i + 1
                self._expect_op("[", "after ARRAY")
                text, shape, row_values, row_float = self._array_body(tok.start, depth + 1)
                parts.append(text)
                values.extend(row_values)
                rows.append(shape)
                is_float = is_float or row_float
                i = self.i
            else:  # anything else: parse it properly, then accept only a number literal
                self.i = i
                element_start = self.position()
                element = self._expr()
                if not isinstance(element, Literal) or isinstance(element.value, (str, bool)):
                    self._unsupported(
                        f"the ARRAY element {compile_expr(element)}",
                        "the builder's vectors hold number literals only",
                        element_start,
                    )
                is_float = is_float or isinstance(element.value, float)
                parts.append(element.text)
                values.append(element.value)
                i = self.i
            sep = tokens[i] if i < n else None
            if sep is None or sep.kind is not _OPERATOR or sep.text not in (",", "]"):
                self.i = i
                self._unexpected("',' or ']' in ARRAY[...]")
            i += 1
            if sep.text == "]":
                break
        self.i = i
        if rows and len(rows) != len(parts):
            self._unsupported(
                "an ARRAY mixing numbers and nested arrays", "write a rectangular matrix", start
            )
        if rows and len(set(rows)) > 1:
            self._unsupported(
                "a ragged ARRAY (rows of different lengths)",
                "every row of a multi-vector query must have the same dimension",
                start,
            )
        shape = (len(parts), *rows[0]) if rows else (len(parts),)
        return "ARRAY[" + ",".join(parts) + "]", shape, values, is_float
