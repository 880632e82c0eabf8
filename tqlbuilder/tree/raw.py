"""``raw()``: a hand-written TQL fragment, lexed and checked before it joins the tree.

>>> from tqlbuilder import col, select
>>> select("id").from_("ds").where(raw("year > 2020") & (col("id") < 5)).to_tql()
'SELECT id FROM ds WHERE (year > 2020) AND (id < 5)'
"""

from __future__ import annotations

from tqlbuilder.errors import RawFragmentError, UnsupportedTypeError
from tqlbuilder.tree.expr import Raw

__all__ = ["raw"]


def raw(fragment: str) -> Raw:
    """An expert escape hatch: a TQL expression fragment, inserted in parentheses.

    It is still checked with the project's lexer: it must lex completely, with no comment, no
    unknown character (which would make the engine drop the rest of the query), no NUL or CR,
    no ``;``, balanced quotes, parentheses and brackets, and no keyword that ends an expression
    (``SELECT``, ``FROM``, ``WHERE``, ``ORDER``, ``LIMIT``, ``UNION``...).
    """
    from tqlbuilder.text.lexer import TokenKind, lex

    if not isinstance(fragment, str):
        raise UnsupportedTypeError(f"raw() takes a str, got {type(fragment).__name__}")
    if not fragment.strip():
        raise RawFragmentError("raw() fragment is empty")
    depth: list[str] = []
    closing = {")": "(", "]": "["}
    for token in lex(fragment):
        where = f"at position {token.start}"
        if token.kind is TokenKind.UNKNOWN:
            raise RawFragmentError(
                f"raw() fragment has an unknown character {token.text!r} {where}: the engine "
                "silently drops everything after it"
            )
        if token.kind in (TokenKind.UNTERMINATED_STRING, TokenKind.UNTERMINATED_IDENTIFIER):
            raise RawFragmentError(f"raw() fragment has an unterminated quote {where}")
        if token.kind is TokenKind.COMMENT:
            raise RawFragmentError(
                f"raw() fragment contains a -- comment {where}; comments can swallow the rest "
                "of the query (write 'a - -1', not 'a--1')"
            )
        if token.kind is TokenKind.KEYWORD and token.value in _RAW_FORBIDDEN_KEYWORDS:
            raise RawFragmentError(
                f"raw() fragment contains the keyword {token.value} {where}; raw() is for "
                "expressions only; build clauses with the Query methods"
            )
        if token.kind is TokenKind.OPERATOR:
            if token.text == ";":
                raise RawFragmentError(f"raw() fragment contains ';' {where}")
            if token.text in ("(", "["):
                depth.append(token.text)
            elif token.text in closing and (not depth or depth.pop() != closing[token.text]):
                raise RawFragmentError(f"raw() fragment has an unbalanced {token.text!r} {where}")
    if depth:
        raise RawFragmentError(f"raw() fragment has an unclosed {depth[-1]!r}")
    if "\r" in fragment or "\x00" in fragment:  # inside quotes: the lexer keeps them in a token
        raise RawFragmentError(
            "raw() fragment contains CR or NUL inside quotes: the engine stops reading there"
        )
    return Raw(fragment.strip())


_RAW_FORBIDDEN_KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "UNGROUP",
        "HAVING",
        "ORDER",
        "LIMIT",
        "OFFSET",
        "SAMPLE",
        "UNION",
        "INTERSECT",
        "EXCEPT",
        "EXPAND",
        "JOIN",
        "WITH",
        "UPDATE",
        "DELETE",
        "INSERT",
        "DROP",
        "CREATE",
        "ALTER",
        "TOP",
    }
)
