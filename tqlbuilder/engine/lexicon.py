"""The engine's words and symbols: reserved words, keywords, int64 bounds, bare names, operators.

Data only. The lexer classifies tokens with `RESERVED_WORDS`; literal rendering decides bare
versus quoted names with `is_bare_name()`; the builder's operators, the parser, the checker and
the formatter read `OPERATORS` for canonical spelling, binding power, associativity and
whether a text operand is meaningful.

Sources: the v4 flex lexer and bison grammar (``cpp/3rd_party/sql-parser``, see
``shared/reference/tql-reference.md`` sections 2-3) and the engine probe; pinned by
``tests/test_lexer.py`` (keyword classification agrees with the engine) and
``tests/test_engine_conformance.py`` (names and int64 bounds round-trip on the engine).

>>> is_bare_name("year"), is_bare_name("select"), is_bare_name("my col")
(True, False, False)
>>> OPERATORS["<>"].canonical, OPERATORS["<"].text_operands
('!=', False)
"""

from __future__ import annotations

import re
from types import MappingProxyType

import attrs

__all__ = [
    "ARITHMETIC_OPERATORS",
    "BARE_NAME",
    "BP_ADD",
    "BP_EQUALITY",
    "BP_IS",
    "BP_MUL",
    "BP_NOT",
    "BP_ORDERING",
    "CLAUSE_KEYWORDS",
    "INT64_MAX",
    "INT64_MIN",
    "JOIN_WORDS",
    "NOT_BARE_WORDS",
    "OPERATORS",
    "ORDERING_OPERATORS",
    "RESERVED_WORDS",
    "SET_OPERATIONS",
    "Operator",
    "is_bare_name",
]

#: The engine's integers are int64: a literal outside this range is rejected or wraps.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_RESERVED_TEXT = """
    ACROSS ADD AFTER ALL ALTER ANALYZE AND ARRAY AS ASC BEFORE BEGIN BETWEEN BIGINT BY CALL CASCADE
    CASE CAST CHAR COLUMN COLUMNS COMMIT CONTROL COPY CREATE CROSS DATE DATETIME DAYS DEALLOCATE
    DECIMAL DEFAULT DELETE DELTA DESC DESCRIBE DIRECT DISTINCT DOUBLE DROP ELSE END ESCAPE EXCEPT
    EXECUTE EXISTS EXPAND EXPLAIN EXTRACT FALSE FILE FLOAT FOR FORMAT FROM FULL GLOBAL GROUP HASH
    HAVING HINT HOURS IF ILIKE IMPORT IN INDEX INNER INSERT INT INTEGER INTERSECT INTERVAL INTO IS
    ISNULL JOIN KEY LEFT LIKE LIMIT LOAD LOCAL LOCKED LONG MERGE MINUS MINUTES MONTHS NATURAL NO NOT
    NOWAIT NULL NVARCHAR OF OFF OFFSET ON OR ORDER OUTER OVERLAP PARAMETERS PERCENT PLAN PREPARE
    PRIMARY REAL RENAME REPLACE RESTRICT RIGHT ROLLBACK SAMPLE SCHEMA SCHEMAS SECONDS SELECT SET
    SHARE SHOW SKIP SMALLINT SORTED SPACE SPATIAL SPLIT TABLE TABLES TEMPORARY TEXT_INTERNAL_TQL
    THEN TIME TIMESTAMP TO TOP TRANSACTION TRUE TRUNCATE UNGROUP UNION UNIQUE UNLOAD UPDATE USING
    VALUES VARCHAR VIEW VIRTUAL WHEN WHERE WITH YEARS
"""
#: Reserved words of the v4 lexer (case-insensitive), in upper case. ``CHARACTER VARYING`` is a
#: two-word keyword token; ``CHARACTER`` alone is an ordinary identifier.
RESERVED_WORDS: frozenset[str] = frozenset(_RESERVED_TEXT.split())

#: Words that cannot be written as bare names: the reserved words, and ``CHARACTER`` (a bare
#: ``character`` followed by ``varying`` would lex as one keyword).
NOT_BARE_WORDS: frozenset[str] = RESERVED_WORDS | {"CHARACTER"}

#: The flex rule for a bare identifier (``fullmatch`` it; reserved words are excluded separately).
BARE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

#: Keywords that start a clause of a SELECT (what the formatter breaks lines before).
CLAUSE_KEYWORDS: frozenset[str] = frozenset(
    {"SELECT", "FROM", "WHERE", "GROUP", "UNGROUP", "ORDER", "LIMIT", "OFFSET", "SAMPLE", "EXPAND"}
)
#: Set operations between parenthesised SELECTs.
SET_OPERATIONS: frozenset[str] = frozenset({"UNION", "INTERSECT", "EXCEPT"})
#: Words that start or qualify a JOIN.
JOIN_WORDS: frozenset[str] = frozenset(
    {"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL"}
)


def is_bare_name(name: str) -> bool:
    """Whether ``name`` can be written without double quotes and still lex as that one name.

    Bare identifiers are ``[A-Za-z][A-Za-z0-9_]*`` (flex rule) and must not be a reserved word.
    """
    return BARE_NAME.fullmatch(name) is not None and name.upper() not in NOT_BARE_WORDS


# Binding powers, lowest to highest (the bison %left/%nonassoc/%right table, reference 3.1).
BP_OR = 1
BP_AND = 2
BP_NOT = 3  # prefix NOT: its operand takes everything that binds tighter
BP_EQUALITY = 4  # = == != <> LIKE NOT LIKE ILIKE (non-associative)
BP_ORDERING = 5  # < > <= >= (non-associative)
BP_IS = 7  # IS [NOT] NULL, ISNULL (postfix)
BP_ADD = 9  # + -
BP_MUL = 10  # * / %; also the operand of a unary minus: -x * y is -(x * y) in the grammar


@attrs.frozen
class Operator:
    """One infix operator as the engine reads it.

    Attributes:
        symbol: how it may be written (``<>``).
        canonical: how tqlbuilder writes it (``!=``).
        binding_power: precedence, higher binds tighter.
        associative: False for the non-associative comparisons (``a < b < c`` is a syntax error).
        text_operands: whether a text operand is meaningful. Ordering and arithmetic on text are
            silently wrong on the engine (engine probe §4), so the builder refuses them and the
            checker flags them.
    """

    symbol: str
    canonical: str
    binding_power: int
    associative: bool
    text_operands: bool


def _table(*rows: tuple[str, str, int, bool, bool]) -> MappingProxyType[str, Operator]:
    return MappingProxyType({row[0]: Operator(*row) for row in rows})


#: Infix operators by symbol (keyword operators AND/OR/LIKE/IN/BETWEEN are parsed by name).
OPERATORS: MappingProxyType[str, Operator] = _table(
    ("=", "=", BP_EQUALITY, False, True),
    ("==", "=", BP_EQUALITY, False, True),
    ("!=", "!=", BP_EQUALITY, False, True),
    ("<>", "!=", BP_EQUALITY, False, True),
    ("<", "<", BP_ORDERING, False, False),
    (">", ">", BP_ORDERING, False, False),
    ("<=", "<=", BP_ORDERING, False, False),
    (">=", ">=", BP_ORDERING, False, False),
    ("+", "+", BP_ADD, True, False),
    ("-", "-", BP_ADD, True, False),
    ("*", "*", BP_MUL, True, False),
    ("/", "/", BP_MUL, True, False),
    ("%", "%", BP_MUL, True, False),
)

#: Canonical ordering comparisons (meaningless on text).
ORDERING_OPERATORS: frozenset[str] = frozenset(
    op.canonical for op in OPERATORS.values() if op.binding_power == BP_ORDERING
)
#: Canonical arithmetic operators.
ARITHMETIC_OPERATORS: frozenset[str] = frozenset(
    op.canonical for op in OPERATORS.values() if op.binding_power in (BP_ADD, BP_MUL)
)
