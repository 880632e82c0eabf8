"""The lexer reads TQL exactly as the engine's flex lexer does (flex_lexer.l, verified on 4.7.4)."""

from __future__ import annotations

import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tqlbuilder.text.lexer import (
    RESERVED_WORDS,
    Token,
    TokenKind,
    engine_prefix_end,
    is_bare_identifier,
    lex,
)

K = TokenKind


def kinds(text: str) -> list[tuple[TokenKind, str]]:
    return [(t.kind, t.text) for t in lex(text)]


def only(text: str) -> Token:
    tokens = lex(text)
    assert len(tokens) == 1, tokens
    return tokens[0]


# --------------------------------------------------------------------------- string literals


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'plain'", "plain"),
        ("'it''s'", "it's"),
        ("''", ""),
        ("''''", "'"),
        ("''''''", "''"),
        ("'back\\slash'", "back\\slash"),
        ("'ends\\'", "ends\\"),  # a backslash does not escape the quote
        ("'\\'''", "\\'"),
        ("'new\nline'", "new\nline"),
        ("'cr\rhere'", "cr\rhere"),
        ("'tab\there'", "tab\there"),
        ("'-- not a comment'", "-- not a comment"),
        ("'/* star */ ? % _ ; @ # ~'", "/* star */ ? % _ ; @ # ~"),
        ("'unicodé 中文 😀'", "unicodé 中文 😀"),
        ("'say \"hi\"'", 'say "hi"'),
    ],
)
def test_string_literals(literal: str, value: str) -> None:
    tok = only(literal)
    assert (tok.kind, tok.text, tok.value, tok.start, tok.end) == (
        K.STRING,
        literal,
        value,
        0,
        len(literal),
    )


def test_adjacent_string_literals_are_one_escape_not_two_strings() -> None:
    assert kinds("'a''b'") == [(K.STRING, "'a''b'")]
    assert kinds("'a' 'b'") == [(K.STRING, "'a'"), (K.STRING, "'b'")]


@pytest.mark.parametrize(
    ("text", "value"),
    [("'abc", "abc"), ("'abc''", "abc'"), ("'''", "'"), ("'", ""), ("'a\nb", "a\nb")],
)
def test_unterminated_string_runs_to_the_end(text: str, value: str) -> None:
    tok = only(text)
    assert (tok.kind, tok.value, tok.end) == (K.UNTERMINATED_STRING, value, len(text))


# --------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "name", ["my col", "select", "order", "1abc", "dot.name", "naïve", "tab\tname", "it's", "a\\b"]
)
def test_quoted_identifiers(name: str) -> None:
    tok = only(f'"{name}"')
    assert (tok.kind, tok.value) == (K.QUOTED_IDENTIFIER, name)


def test_doubled_double_quote_is_two_identifiers() -> None:
    assert kinds('"we""ird"') == [(K.QUOTED_IDENTIFIER, '"we"'), (K.QUOTED_IDENTIFIER, '"ird"')]


def test_empty_and_unclosed_quoted_identifiers() -> None:
    assert kinds('""') == [(K.UNKNOWN, '""')]
    assert kinds('"abc') == [(K.UNTERMINATED_IDENTIFIER, '"abc')]
    assert only('"abc').value == "abc"
    # a newline cannot be inside a quoted name: the quote is left open at the line end
    assert kinds('"ab\ncd"')[0] == (K.UNTERMINATED_IDENTIFIER, '"ab')


@pytest.mark.parametrize("text", ["id", "MyCol", "under_score", "a1", "text", "data", "Z"])
def test_bare_identifiers(text: str) -> None:
    tok = only(text)
    assert (tok.kind, tok.value) == (K.IDENTIFIER, text)


@pytest.mark.parametrize(
    "text", ["SELECT", "select", "SeLeCt", "array", "Array", "TEXT_INTERNAL_TQL"]
)
def test_keywords_any_case(text: str) -> None:
    tok = only(text)
    assert (tok.kind, tok.value, tok.text) == (K.KEYWORD, text.upper(), text)


def test_keyword_prefix_is_an_identifier() -> None:
    assert kinds("selectx orders _x") == [
        (K.IDENTIFIER, "selectx"),
        (K.IDENTIFIER, "orders"),
        (K.UNKNOWN, "_"),
        (K.IDENTIFIER, "x"),
    ]


def test_character_varying_is_one_keyword() -> None:
    tok = only("character \n\t VARYING")
    assert (tok.kind, tok.value) == (K.KEYWORD, "CHARACTER VARYING")
    assert kinds("CHARACTER") == [(K.IDENTIFIER, "CHARACTER")]
    # longest match: the keyword wins over the identifier even when a letter follows
    assert kinds("CHARACTER VARYINGX") == [
        (K.KEYWORD, "CHARACTER VARYING"),
        (K.IDENTIFIER, "X"),
    ]


def test_reserved_words_match_appendix_b() -> None:
    assert len(RESERVED_WORDS) == 155
    for word in ["DATE", "INDEX", "KEY", "SPLIT", "VALUES", "ORDER", "TOP", "SAMPLE", "ALL"]:
        assert word in RESERVED_WORDS
    for word in ["TEXT", "DATA", "ID", "ANY", "YEAR", "VALUE", "NAME", "TYPE", "SCORE"]:
        assert word not in RESERVED_WORDS


@pytest.mark.parametrize(
    ("name", "bare"),
    [
        ("id", True),
        ("text", True),
        ("Under_9", True),
        ("order", False),
        ("Date", False),
        ("_x", False),
        ("1a", False),
        ("a-b", False),
        ("naïve", False),
        ("", False),
        ("CHARACTER", False),
        ("a b", False),
    ],
)
def test_is_bare_identifier(name: str, bare: bool) -> None:
    assert is_bare_identifier(name) is bare


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "value", "octal"),
    [
        ("0", 0, False),
        ("42", 42, False),
        ("010", 8, True),
        ("08", 0, True),  # strtoll base 0 stops at the bad octal digit
        ("0178", 15, True),
        ("007", 7, False),  # a leading zero that does not change the value
        ("00", 0, False),
        ("9223372036854775807", 2**63 - 1, False),
        ("08999999999999999999999", 0, True),  # reads as 0: in range
    ],
)
def test_integers_read_like_strtoll_base_0(text: str, value: int, octal: bool) -> None:
    tok = only(text)
    assert (tok.kind, tok.value, tok.octal, tok.out_of_range) == (K.INTEGER, value, octal, False)


@pytest.mark.parametrize(
    "text", ["9223372036854775808", "123456789012345678901234567890", "0777777777777777777777777"]
)
def test_integers_beyond_int64_are_marked(text: str) -> None:
    assert only(text).out_of_range


def test_int64_min_is_one_token_and_huge_literals_do_not_raise() -> None:
    tok = only("-9223372036854775808")
    assert (tok.kind, tok.value, tok.out_of_range) == (K.INTEGER, -(2**63), False)
    assert kinds("- 9223372036854775808")[0] == (K.OPERATOR, "-")
    assert kinds("x-1") == [(K.IDENTIFIER, "x"), (K.OPERATOR, "-"), (K.INTEGER, "1")]
    huge = only("9" * 10_000)
    assert huge.out_of_range and huge.value == 10**10_000 - 1


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.", 1.0),
        (".5", 0.5),
        ("1.5", 1.5),
        ("1e5", 1e5),
        ("1E-5", 1e-5),
        ("1.5e+3", 1500.0),
        (".5e2", 50.0),
        ("1.e5", 1e5),
        ("1e400", float("inf")),
        ("1e-400", 0.0),
    ],
)
def test_floats(text: str, value: float) -> None:
    tok = only(text)
    assert (tok.kind, tok.value) == (K.FLOAT, value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1abc", [(K.INTEGER, "1"), (K.IDENTIFIER, "abc")]),
        ("2e", [(K.INTEGER, "2"), (K.IDENTIFIER, "e")]),
        ("1e+", [(K.INTEGER, "1"), (K.IDENTIFIER, "e"), (K.OPERATOR, "+")]),
        ("1_0", [(K.INTEGER, "1"), (K.UNKNOWN, "_"), (K.INTEGER, "0")]),
        ("1_000", [(K.INTEGER, "1"), (K.UNKNOWN, "_"), (K.INTEGER, "000")]),
        ("1.5.3", [(K.FLOAT, "1.5"), (K.FLOAT, ".3")]),
        ("1..2", [(K.FLOAT, "1."), (K.FLOAT, ".2")]),
        ("0x10", [(K.INTEGER, "0"), (K.IDENTIFIER, "x10")]),
        ("+5", [(K.OPERATOR, "+"), (K.INTEGER, "5")]),
        ("a.b", [(K.IDENTIFIER, "a"), (K.OPERATOR, "."), (K.IDENTIFIER, "b")]),
        ("a.5", [(K.IDENTIFIER, "a"), (K.FLOAT, ".5")]),
    ],
)
def test_number_boundaries(text: str, expected: list[tuple[TokenKind, str]]) -> None:
    assert kinds(text) == expected


# --------------------------------------------------------------------------- operators


def test_operators() -> None:
    multi = ["==", "!=", "<>", "<=", ">="]
    for op in [*multi, "||", *"-+*/(){},.;<>=^%:?[]|"]:
        assert kinds(op) == [(K.OPERATOR, op)]
    assert kinds("<>=") == [(K.OPERATOR, "<>"), (K.OPERATOR, "=")]
    assert kinds("!==") == [(K.OPERATOR, "!="), (K.OPERATOR, "=")]
    assert kinds("|||") == [(K.OPERATOR, "||"), (K.OPERATOR, "|")]
    assert kinds("<=>") == [(K.OPERATOR, "<="), (K.OPERATOR, ">")]
    assert kinds("!a") == [(K.UNKNOWN, "!"), (K.IDENTIFIER, "a")]


# --------------------------------------------------------------------------- comments


def comment_and_rest(text: str) -> tuple[str, list[str]]:
    tokens = lex(text)
    comment = next(t.text for t in tokens if t.kind is K.COMMENT)
    return comment, [t.text for t in tokens if t.kind is not K.COMMENT]


@pytest.mark.parametrize(
    ("text", "comment", "rest"),
    [
        ("a -- c\nOR b", "-- c", ["a", "OR", "b"]),
        ("a --\nOR b", "--", ["a", "OR", "b"]),
        ("a -- c   \nOR b", "-- c   ", ["a", "OR", "b"]),  # trailing blanks after text: fine
        ("a -- c", "-- c", ["a"]),
        ("a --", "--", ["a"]),
        # a newline followed by blank, tab or newline out-matches the end-of-comment rule
        ("a -- c\n OR b", "-- c\n OR b", ["a"]),
        ("a -- c\n\tOR b", "-- c\n\tOR b", ["a"]),
        ("a -- c\n\nOR b", "-- c\n\nOR b", ["a"]),
        # a comment that is only blanks runs into the next line as well
        ("a --   \nOR b", "--   \nOR b", ["a"]),
        ("a --\t\nOR b", "--\t\nOR b", ["a"]),
        # swallowing stops at the next newline that is followed by a non-blank
        ("a -- c\n  OR b\nOR d", "-- c\n  OR b", ["a", "OR", "d"]),
        ("a--1 > 0", "--1 > 0", ["a"]),
        ("'--' -- x", "-- x", ["'--'"]),
    ],
)
def test_comments_and_the_swallowing_quirk(text: str, comment: str, rest: list[str]) -> None:
    assert comment_and_rest(text) == (comment, rest)


def test_character_varying_out_matches_a_comment_across_a_line_end() -> None:
    assert kinds("a --CHARACTER\nVARYING x\nb") == [
        (K.IDENTIFIER, "a"),
        (K.COMMENT, "--"),
        (K.KEYWORD, "CHARACTER\nVARYING"),
        (K.COMMENT, " x"),
        (K.IDENTIFIER, "b"),
    ]
    assert kinds("--CHARACTER VARYING\nb") == [
        (K.COMMENT, "--CHARACTER VARYING"),
        (K.IDENTIFIER, "b"),
    ]


# --------------------------------------------------------------------------- unknown characters

UNKNOWN_CHARS = ["\r", "@", "#", "$", "~", "`", "\\", "&", "!", "\xa0", "é", "\x0c", "\x0b", "\x00"]
UNKNOWN_CHARS += ["\u2003", "中", "😀", "_", "\x7f", "\x01"]


@pytest.mark.parametrize("char", UNKNOWN_CHARS)
def test_unknown_characters_stop_the_engine(char: str) -> None:
    text = f"id = 1 {char} OR id = 2"
    tokens = lex(text)
    assert (K.UNKNOWN, char) in [(t.kind, t.text) for t in tokens]
    assert engine_prefix_end(tokens) == 7
    # lexing goes on after the unknown character, so callers can report on the rest
    assert [t.text for t in tokens][-4:] == ["OR", "id", "=", "2"]


@pytest.mark.parametrize("char", ["\r", "@", "\xa0", "é", "#", "\x00"])
def test_unknown_characters_are_fine_inside_quotes_except_nul(char: str) -> None:
    for text in (f"'a{char}b'", f'"a{char}b"'):
        tokens = lex(text)
        assert len(tokens) == 1 and tokens[0].kind in (K.STRING, K.QUOTED_IDENTIFIER)
        assert engine_prefix_end(tokens) == (0 if char == "\x00" else None)


def test_nul_ends_the_c_string_everywhere() -> None:
    assert engine_prefix_end(lex("a = 1 OR b = 2\x00 OR c = 3")) == 14
    assert (
        engine_prefix_end(lex("a = 'x\x00y' OR b")) == 4
    )  # an unterminated string, for the engine
    assert engine_prefix_end(lex("a -- note \x00\nOR b")) == 10


def test_engine_prefix_end_for_unterminated_and_clean_text() -> None:
    assert engine_prefix_end(lex('SELECT * FROM "x" WHERE a = \'b')) == 28
    assert engine_prefix_end(lex('SELECT * FROM "x')) == 14
    assert engine_prefix_end(lex("SELECT * FROM \"x\" WHERE a = 'b' -- c\n  x")) is None
    assert engine_prefix_end([]) is None


def test_whitespace_tokens_only_on_request() -> None:
    assert kinds(" a \t\n b ") == [(K.IDENTIFIER, "a"), (K.IDENTIFIER, "b")]
    tokens = lex(" a \t\n b ", include_whitespace=True)
    assert [(t.kind, t.text) for t in tokens] == [
        (K.WHITESPACE, " "),
        (K.IDENTIFIER, "a"),
        (K.WHITESPACE, " \t\n "),
        (K.IDENTIFIER, "b"),
        (K.WHITESPACE, " "),
    ]


def test_token_is_frozen_and_positions_are_character_offsets() -> None:
    tokens = lex("'😀' x")
    assert [(t.start, t.end) for t in tokens] == [(0, 3), (4, 5)]
    with pytest.raises(AttributeError):
        tokens[0].start = 1  # type: ignore[misc]


# --------------------------------------------------------------------------- properties


@settings(max_examples=400)
@given(st.text().filter(lambda s: "\0" not in s))
def test_property_any_string_round_trips_as_one_literal(value: str) -> None:
    literal = "'" + value.replace("'", "''") + "'"
    tok = only(literal)
    assert (tok.kind, tok.value, tok.text) == (K.STRING, value, literal)


@settings(max_examples=400)
@given(st.text(min_size=1).filter(lambda s: not set(s) & {'"', "\n", "\0"}))
def test_property_any_name_round_trips_as_one_quoted_identifier(name: str) -> None:
    tok = only(f'"{name}"')
    assert (tok.kind, tok.value) == (K.QUOTED_IDENTIFIER, name)


TQL_PIECES = [*"abcSELCTFROMWHEREx019 \t\n'\"-.,;()[]<>=!|+*/%:?eE_\r@#\x00é\xa0"]
TQL_PIECES += ["--", "''", "SELECT", "CHARACTER VARYING", "-9223372036854775808", "010"]
TQL_ALPHABET = st.sampled_from(TQL_PIECES)


@settings(max_examples=500)
@given(st.one_of(st.text(), st.lists(TQL_ALPHABET, max_size=40).map("".join)))
def test_property_tokens_are_contiguous_and_reproduce_the_text(text: str) -> None:
    tokens = lex(text, include_whitespace=True)
    assert "".join(t.text for t in tokens) == text
    position = 0
    for tok in tokens:
        assert tok.start == position and tok.end == position + len(tok.text) and tok.text
        assert text[tok.start : tok.end] == tok.text
        position = tok.end
    assert position == len(text)
    assert lex(text) == [t for t in tokens if t.kind is not K.WHITESPACE]


# --------------------------------------------------------------------------- cost and imports


def test_a_30kb_vector_query_lexes_completely() -> None:
    rng = random.Random(7)
    vector = ", ".join(repr(rng.uniform(-1, 1)) for _ in range(1536))
    query = (
        'SELECT * FROM (SELECT "text", COSINE_SIMILARITY("embedding", ARRAY['
        + vector
        + ']) AS "score" FROM "hub://org/ds") ORDER BY "score" DESC LIMIT 5'
    )
    assert len(query) > 30_000
    tokens = lex(query)
    assert len(tokens) > 3000
    assert "".join(t.text for t in lex(query, include_whitespace=True)) == query


def test_importing_the_lexer_pulls_in_no_heavy_dependency() -> None:
    code = (
        "import sys, tqlbuilder.text.lexer, tqlbuilder.text.hazards, tqlbuilder.text.formatter\n"
        "print(sorted({'numpy', 'requests', 'deeplake'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the real engine


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    deeplake = pytest.importorskip("deeplake")
    path = tmp_path_factory.mktemp("lexer-engine") / "tiny"
    ds = deeplake.create(str(path))
    ds.add_column("id", deeplake.types.Int64())
    ds.append({"id": [0, 1, 2, 3]})
    ds.commit()
    return f'"{path}"'


def engine_ids(query: str) -> list[int] | str:
    """The ids the engine returns, or ``"error"``."""
    import deeplake

    try:
        view = deeplake.query(query)  # bind the view before reading a column
        return [int(i) for i in view["id"][:]] if len(view) else []
    except RuntimeError:
        return "error"


@pytest.mark.engine
@pytest.mark.parametrize("char", UNKNOWN_CHARS)
def test_engine_truncates_at_every_unknown_character(tiny_dataset: str, char: str) -> None:
    query = f'SELECT "id" FROM {tiny_dataset} WHERE "id" = 1 {char} OR "id" = 2'
    assert engine_prefix_end(lex(query)) == query.index(char)
    assert engine_ids(query) == [1]
    assert engine_ids(query.replace(char, " ")) == [1, 2]


ENGINE_ALPHABET = [*" \t\n()+*=<>.,;:?[]{}|a1'\"", "\r", "@", "#", "$", "~", "`", "\\"]
ENGINE_ALPHABET += ["&", "!", "\xa0", "é", "\x0c", "_", "\x00"]


@pytest.mark.engine
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(infix=st.lists(st.sampled_from(ENGINE_ALPHABET), min_size=1, max_size=3).map("".join))
def test_engine_stops_exactly_where_the_lexer_says(tiny_dataset: str, infix: str) -> None:
    """Truncating the text where the lexer says the engine stops never changes the answer, and
    when the lexer says the engine reads everything the final ``OR "id" = 2`` is really read."""
    query = f'SELECT "id" FROM {tiny_dataset} WHERE "id" = 1 {infix} OR "id" = 2'
    stop = engine_prefix_end(lex(query))
    got: Any = engine_ids(query)
    if stop is None:
        assert got == "error" or 2 in got, (query, got)
    else:
        assert got == engine_ids(query[:stop]), (query, stop, got)
        if stop <= query.rindex(" OR "):
            assert got == "error" or 2 not in got, (query, got)


def test_any_nesting_depth_lexes_completely() -> None:
    depth = 50_000
    text = "SELECT * FROM " + "(SELECT * FROM " * depth + '"x"' + ")" * depth + " -- end"
    tokens = lex(text, include_whitespace=True)
    assert "".join(t.text for t in tokens) == text
    assert sum(t.text == "(" for t in tokens) == depth
    assert tokens[-1].kind is K.COMMENT
