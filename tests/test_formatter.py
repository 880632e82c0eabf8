"""format() lays TQL out on lines without changing a token, is idempotent, and refuses text the
engine would read differently once re-spaced."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tqlbuilder.errors import TQLSyntaxError
from tqlbuilder.text.formatter import format
from tqlbuilder.text.lexer import TokenKind, lex


def token_texts(text: str) -> list[tuple[TokenKind, str]]:
    """Kinds and texts; the inner spacing of CHARACTER VARYING (one keyword) is not text."""
    return [
        (t.kind, " ".join(t.text.split()) if t.kind is TokenKind.KEYWORD else t.text)
        for t in lex(text)
    ]


EXAMPLES = [
    (
        """SELECT * FROM (SELECT "text", COSINE_SIMILARITY("embedding", ARRAY[0.1,0.2]) AS """
        """"score" FROM "hub://org/ds" WHERE ("year" >= 2020) AND ("meta"['k'] = 'it''s')) """
        """ORDER BY "score" DESC LIMIT 5""",
        """\
SELECT *
FROM (
    SELECT "text", COSINE_SIMILARITY("embedding", ARRAY[0.1, 0.2]) AS "score"
    FROM "hub://org/ds"
    WHERE ("year" >= 2020) AND ("meta"['k'] = 'it''s')
)
ORDER BY "score" DESC
LIMIT 5""",
    ),
    (
        """select * from ((select "id" from "x" where "id" < 2) union all (select "id" from "x"))"""
        """ order by "id" desc limit 3""",
        """\
select *
from (
    (
        select "id"
        from "x"
        where "id" < 2
    )
    union all
    (
        select "id"
        from "x"
    )
)
order by "id" desc
limit 3""",
    ),
    (
        """SELECT id FROM "p" WHERE id IN (SELECT sid FROM "q") AND a.b = -1 AND c-d>- 2 """
        """AND x[:, 0] > 1 AND x[1:2] = 3 AND ALL(e > 0) AND "a" - -1 > 0 SAMPLE BY """
        """max_weight(flag: 10, TRUE: 1) REPLACE FALSE LIMIT 5;""",
        """\
SELECT id
FROM "p"
WHERE id IN (
    SELECT sid
    FROM "q"
) AND a.b = -1 AND c - d > -2 AND x[:, 0] > 1 AND x[1:2] = 3 AND ALL(e > 0) AND "a" - -1 > 0
SAMPLE BY max_weight(flag: 10, TRUE: 1) REPLACE FALSE
LIMIT 5;""",
    ),
    (
        """SELECT m.*, s.extra FROM "a" AS m JOIN "b" AS s ON m.id = s.sid WHERE n > 0 """
        """GROUP BY label UNGROUP BY SPLIT ORDER BY SHAPE(x)[0] LIMIT 2 OFFSET 1""",
        """\
SELECT m.*, s.extra
FROM "a" AS m JOIN "b" AS s ON m.id = s.sid
WHERE n > 0
GROUP BY label
UNGROUP BY SPLIT
ORDER BY SHAPE(x)[0]
LIMIT 2
OFFSET 1""",
    ),
    (
        """(SELECT id FROM "a" LIMIT 2) UNION (SELECT id FROM "b")""",
        """\
(
    SELECT id
    FROM "a"
    LIMIT 2
)
UNION
(
    SELECT id
    FROM "b"
)""",
    ),
]


@pytest.mark.parametrize(("query", "expected"), EXAMPLES)
def test_layout(query: str, expected: str) -> None:
    assert format(query) == expected
    assert format(expected) == expected
    assert token_texts(expected) == token_texts(query)


def test_tricky_neighbours_keep_their_space() -> None:
    query = 'SELECT x - -9223372036854775808 AS a, - -1 AS b, - .5 AS c, 1 e FROM "t"'
    out = format(query)
    assert "- -9223372036854775808" in out and "- -1" in out and "-.5" in out and "1 e" in out
    assert token_texts(out) == token_texts(query)


def test_long_array_literal_stays_on_one_line() -> None:
    vector = ", ".join(str(i / 7) for i in range(1536))
    query = f'SELECT id FROM "x" ORDER BY COSINE_SIMILARITY(e, ARRAY[{vector}]) DESC LIMIT 5'
    lines = format(query).split("\n")
    assert lines == [
        "SELECT id",
        'FROM "x"',
        f"ORDER BY COSINE_SIMILARITY(e, ARRAY[{vector}]) DESC",
        "LIMIT 5",
    ]


def test_multiline_literals_are_kept_verbatim_and_two_word_keywords_get_one_space() -> None:
    query = "SELECT id FROM \"x\" WHERE t = 'line one\n  line two' AND c = CHARACTER\n VARYING"
    out = format(query)
    assert "'line one\n  line two'" in out and "CHARACTER VARYING" in out
    assert format(out) == out


def test_empty_text() -> None:
    assert format("") == ""
    assert format(" \n\t ") == ""


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ('SELECT id FROM "x" -- why\nWHERE id = 1', "--"),
        ('SELECT id FROM "x" WHERE id = 1 @ OR id = 2', "@"),
        ('SELECT id FROM "x"\r\nWHERE id = 1', "\r"),
        ('SELECT id FROM "x" WHERE id = 1\xa0OR id = 2', "\xa0"),
        ('SELECT id FROM "x" WHERE t = \'abc', "'abc"),
        ('SELECT id FROM "x', '"x'),
        ("SELECT id FROM \"x\" WHERE t = 'a\0b'", "\0"),
        ('SELECT id FROM "x" WHERE id = 1 \0', "\0"),
    ],
)
def test_refuses_text_the_engine_reads_differently(query: str, where: str) -> None:
    with pytest.raises(TQLSyntaxError) as info:
        format(query)
    assert info.value.position == query.index(where)
    assert "tqlbuilder.check(text)" in str(info.value)
    assert isinstance(info.value, ValueError)


POOL = st.sampled_from(
    [
        "SELECT",
        "select",
        "FROM",
        "WHERE",
        "GROUP",
        "ORDER",
        "BY",
        "LIMIT",
        "OFFSET",
        "UNION",
        "ALL",
        "SAMPLE",
        "AS",
        "AND",
        "IN",
        "ARRAY",
        "DESC",
        "TRUE",
        "x",
        "e",
        "f",
        '"col"',
        '"a b"',
        "'s'",
        "'it''s'",
        "0",
        "1",
        "010",
        "1.5",
        ".5",
        "1e5",
        "9223372036854775808",
        "-9223372036854775808",
        *"()[]{},;:.*-+/%<>=?|^",
        "==",
        "!=",
        "<=",
        "||",
        "CHARACTER",
        "VARYING",
    ]
)


@settings(max_examples=400)
@given(st.lists(POOL, max_size=40), st.lists(st.sampled_from([" ", "\n", "\t", "  \n "])))
def test_property_same_tokens_idempotent_and_reflattenable(
    words: list[str], spaces: list[str]
) -> None:
    query = "".join(w + (spaces[i % len(spaces)] if spaces else " ") for i, w in enumerate(words))
    out = format(query)
    assert token_texts(out) == token_texts(query)
    assert format(out) == out
    assert token_texts(" ".join(t.text for t in lex(out))) == token_texts(query)
    for line in out.split("\n"):
        assert line == line.rstrip()
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 4 == 0


@settings(max_examples=400)
@given(st.lists(st.tuples(POOL, st.sampled_from(["", " "])), max_size=30))
def test_property_glued_text_keeps_its_tokens(pieces: list[tuple[str, str]]) -> None:
    query = "".join(word + gap for word, gap in pieces)
    kinds = {t.kind for t in lex(query)}
    assume(not kinds & {TokenKind.COMMENT, TokenKind.UNKNOWN})
    out = format(query)
    assert token_texts(out) == token_texts(query)
    assert format(out) == out


@pytest.mark.engine
def test_engine_gives_the_same_rows_for_the_formatted_query(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    deeplake = pytest.importorskip("deeplake")
    path = tmp_path_factory.mktemp("format-engine") / "ds"
    ds = deeplake.create(str(path))
    ds.add_column("id", deeplake.types.Int64())
    ds.add_column("label", deeplake.types.Text())
    ds.append({"id": list(range(6)), "label": ["a", "b", "c", "a", "b", "c"]})
    ds.commit()
    p = f'"{path}"'
    queries = [
        f"SELECT * FROM (SELECT id, label FROM {p} WHERE label = 'a' OR id > 3) "
        "ORDER BY id DESC LIMIT 3",
        f"SELECT * FROM ((SELECT id FROM {p} WHERE id < 2) UNION (SELECT id FROM {p} WHERE "
        "id > 4)) ORDER BY id ASC LIMIT 5",
        f"SELECT id FROM {p} WHERE id - -1 > 3 AND label IN ('b', 'c') LIMIT 2 OFFSET 1",
    ]
    for query in queries:
        formatted = format(query)
        assert "\n" in formatted
        before = deeplake.query(query)
        after = deeplake.query(formatted)
        assert list(before["id"][:]) == list(after["id"][:])


# --------------------------------------------------------------------------- any nesting depth

DEPTH = 20_000  # far beyond Python's recursion limit; the benchmark times 100,000


def test_deep_sub_selects_format_with_capped_indentation() -> None:
    from tqlbuilder.text.formatter import MAX_INDENT

    text = "SELECT * FROM " + "(SELECT * FROM " * DEPTH + '"x"' + ")" * DEPTH
    result = format(text)
    assert token_texts(result) == token_texts(text)
    widest = max(len(line) - len(line.lstrip(" ")) for line in result.splitlines())
    assert widest == 4 * MAX_INDENT
    assert len(result) < 30 * len(text)  # linear: no line grows with the depth


def test_deep_parentheses_and_long_sums_keep_their_tokens() -> None:
    parens = "SELECT * FROM x WHERE " + "(" * DEPTH + "a = 1" + ")" * DEPTH
    assert token_texts(format(parens)) == token_texts(parens)
    total = "SELECT * FROM x WHERE " + " + ".join(["a"] * DEPTH) + " > 0"
    assert format(total).splitlines()[-1] == "WHERE " + " + ".join(["a"] * DEPTH) + " > 0"
