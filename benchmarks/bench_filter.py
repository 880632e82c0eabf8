"""Figure 2: build and compile a filter query, against an f-string, PyPika and sqlglot.

The query selects two columns from a dataset with four predicates (a comparison, string
equality with a quote in the value, ``IN`` over 20 strings, ``BETWEEN``), an ``ORDER BY`` and a
``LIMIT``. Every contender builds it from the same Python values on every call, then renders it:

* the f-string is the floor: hand-written, with the ``'`` -> ``''`` escaping a careful author
  adds, and written to produce exactly the builder's text (so the two are checked equal);
* PyPika and sqlglot are the general SQL builders people reach for. sqlglot is built from
  expression objects (no SQL parsing) with ``copy=False``, its fastest documented mode.

Also timed: ``to_tql()`` on an already built query, which returns the cached text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pypika
import sqlglot.expressions as sx
from pypika import Order, Table

from benchmarks._harness import (
    Row,
    Settings,
    Thunk,
    attach_breakdown,
    attach_profile,
    compare,
    format_ns,
    status,
)
from tqlbuilder import Query, col, lex, select
from tqlbuilder.text.lexer import TokenKind

__all__ = [
    "AUTHOR",
    "LANGUAGES",
    "fstring",
    "pypika_sql",
    "query",
    "sqlglot_sql",
    "tqlbuilder_tql",
    "values_of",
]

DATASET = "hub://org/ds"
AUTHOR = "O'Brien"
LANGUAGES: tuple[str, ...] = tuple(f"lang-{i:02d}" for i in range(20))
YEAR = 2020
LOW, HIGH = 0.25, 0.75
LIMIT = 10
TARGET_VS_FSTRING = 10.0  # at most this many times slower than the f-string
TARGET_VS_PYPIKA = 5.0  # at least this many times faster than PyPika


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def fstring(
    year: int = YEAR,
    author: str = AUTHOR,
    languages: Sequence[str] = LANGUAGES,
    low: float = LOW,
    high: float = HIGH,
    limit: int = LIMIT,
) -> str:
    """The hand-written floor: an f-string with correct quote escaping."""
    in_list = ", ".join(_quote(lang) for lang in languages)
    return (
        f'SELECT id, text FROM "{DATASET}" WHERE (year > {year}) AND '
        f"(author = {_quote(author)}) AND (lang IN ({in_list})) AND "
        f"(score BETWEEN {low!r} AND {high!r}) ORDER BY year DESC LIMIT {limit}"
    )


def query(
    year: int = YEAR,
    author: str = AUTHOR,
    languages: Sequence[str] = LANGUAGES,
    low: float = LOW,
    high: float = HIGH,
    limit: int = LIMIT,
) -> Query:
    """The query built with tqlbuilder (not yet compiled)."""
    return (
        select("id", "text")
        .from_(DATASET)
        .where(
            col("year") > year,
            col("author") == author,
            col("lang").isin(languages),
            col("score").between(low, high),
        )
        .order_by(col("year").desc())
        .limit(limit)
    )


def tqlbuilder_tql() -> str:
    """Candidate: build with tqlbuilder and compile."""
    return query().to_tql()


def pypika_sql() -> str:
    """The same query with PyPika."""
    t = Table(DATASET)
    q = (
        pypika.Query.from_(t)
        .select(t.id, t.text)
        .where(t.year > YEAR)
        .where(t.author == AUTHOR)
        .where(t.lang.isin(list(LANGUAGES)))
        .where(t.score.between(LOW, HIGH))
        .orderby(t.year, order=Order.desc)
        .limit(LIMIT)
    )
    return q.get_sql()


def _column(name: str) -> sx.Column:
    return sx.column(name, quoted=True)


def sqlglot_sql() -> str:
    """The same query with sqlglot's builder, from expressions (no SQL string parsing)."""
    q = (
        sx.select(_column("id"), _column("text"))
        .from_(sx.table_(DATASET, quoted=True), copy=False)
        .where(
            _column("year") > YEAR,
            _column("author").eq(AUTHOR),
            _column("lang").isin(*LANGUAGES),
            _column("score").between(LOW, HIGH),
            copy=False,
        )
        .order_by(sx.Ordered(this=_column("year"), desc=True), copy=False)
        .limit(LIMIT, copy=False)
    )
    return q.sql()


def values_of(sql: str) -> list[object]:
    """Names, strings and numbers of ``sql`` in order, read with the TQL lexer.

    Two renderings with the same values in the same order name the same columns, compare
    them with the same constants and apply the same limit: the operators and parentheses may
    differ in spacing and brackets but not the data.
    """
    kinds = {
        TokenKind.QUOTED_IDENTIFIER,
        TokenKind.IDENTIFIER,
        TokenKind.STRING,
        TokenKind.INTEGER,
        TokenKind.FLOAT,
    }
    return [token.value for token in lex(sql) if token.kind in kinds]


def check_equivalent() -> None:
    """Raise AssertionError unless all four renderings are the same query."""
    tql = tqlbuilder_tql()
    if fstring() != tql:
        raise AssertionError(f"figure 2: f-string and builder differ:\n{fstring()}\n{tql}")
    expected = values_of(tql)
    for name, sql in (("PyPika", pypika_sql()), ("sqlglot", sqlglot_sql())):
        if values_of(sql) != expected:
            raise AssertionError(f"figure 2: {name} renders a different query:\n{sql}\n{tql}")
        if "'O''Brien'" not in sql:
            raise AssertionError(f"figure 2: {name} does not escape the quote: {sql}")


def run(settings: Settings) -> list[Row]:
    """Rows: vs f-string (floor), vs PyPika, vs sqlglot, and cached to_tql()."""
    check_equivalent()
    built = query()
    built.to_tql()
    result = compare(
        {
            "f-string": fstring,
            "tqlbuilder": tqlbuilder_tql,
            "PyPika": pypika_sql,
            "sqlglot": sqlglot_sql,
            "cached to_tql()": built.to_tql,
        },
        rounds=settings.rounds,
        batch_ns=settings.batch_ns,
    )
    candidate = f"tqlbuilder {format_ns(result.median('tqlbuilder'))}"
    vs_floor = 1.0 / result.speedup("f-string", "tqlbuilder")
    vs_pypika = result.speedup("PyPika", "tqlbuilder")
    vs_sqlglot = result.speedup("sqlglot", "tqlbuilder")
    cached = result.median("cached to_tql()")
    rows = [
        Row(
            figure="2",
            case="filter query: build + compile vs f-string (floor)",
            baseline=f"f-string {format_ns(result.median('f-string'))}",
            candidate=candidate,
            result=f"{vs_floor:.1f}x slower",
            target=f"<= {TARGET_VS_FSTRING:.0f}x slower",
            status=status(vs_floor <= TARGET_VS_FSTRING),
            value=vs_floor,
        ),
        Row(
            figure="2",
            case="filter query: build + compile vs PyPika",
            baseline=f"PyPika {format_ns(result.median('PyPika'))}",
            candidate=candidate,
            result=f"{vs_pypika:.1f}x faster",
            target=f">= {TARGET_VS_PYPIKA:.0f}x faster",
            status=status(vs_pypika >= TARGET_VS_PYPIKA),
            value=vs_pypika,
        ),
        Row(
            figure="2",
            case="filter query: build + compile vs sqlglot",
            baseline=f"sqlglot {format_ns(result.median('sqlglot'))}",
            candidate=candidate,
            result=f"{vs_sqlglot:.1f}x faster",
            target="-",
            status=status(None),
            value=vs_sqlglot,
        ),
        Row(
            figure="2",
            case="filter query: to_tql() of a built query (cached)",
            baseline=f"build + compile {format_ns(result.median('tqlbuilder'))}",
            candidate=f"cached {format_ns(cached)}",
            result=f"{format_ns(cached)} per call",
            target="-",
            status=status(None),
            value=cached,
        ),
    ]
    per_call = result.median("tqlbuilder")
    attach_profile(rows[0], tqlbuilder_tql, per_call, settings)
    attach_breakdown(rows[0], breakdown(), settings)
    if rows[0].profile:
        rows[1].profile = rows[0].profile
    else:
        attach_profile(rows[1], tqlbuilder_tql, per_call, settings)
        attach_breakdown(rows[1], breakdown(), settings)
    return rows


def breakdown() -> dict[str, Thunk]:
    """The candidate's steps, each alone (``compile_query`` bypasses the ``to_tql`` cache)."""
    from tqlbuilder.compiler.lower import compile_query

    conditions = (
        col("year") > YEAR,
        col("author") == AUTHOR,
        col("lang").isin(LANGUAGES),
        col("score").between(LOW, HIGH),
    )
    base = select("id", "text").from_(DATASET)
    return {
        "build (query())": query,
        "compile_query": partial(compile_query, query()),
        'select("id", "text").from_(ds)': lambda: select("id", "text").from_(DATASET),
        "4 predicates": lambda: (
            col("year") > YEAR,
            col("author") == AUTHOR,
            col("lang").isin(LANGUAGES),
            col("score").between(LOW, HIGH),
        ),
        '  of which col("lang").isin(20 strings)': lambda: col("lang").isin(LANGUAGES),
        ".where(4 built predicates)": partial(base.where, *conditions),
        '.order_by(col("year").desc())': lambda: base.order_by(col("year").desc()),
        ".limit(10)": partial(base.limit, LIMIT),
    }
