"""check() finds every hazard it documents, nothing in well-formed queries, and the engine really
misbehaves on each hazard (engine-marked tests run the hazardous and the fixed query)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tqlbuilder.text.hazards import (
    CRASH_CODES,
    KINDS,
    REJECTED_CODES,
    RULES,
    TRUNCATION_CODES,
    Finding,
    check,
)

ALL_CODES = {r.code for r in RULES}


def codes(text: str) -> set[str]:
    return {f.code for f in check(text)}


# --------------------------------------------------------------------------- nothing to report

CLEAN = [
    """SELECT * FROM (SELECT "text", COSINE_SIMILARITY("embedding", ARRAY[0.1,0.2]) AS "score" """
    """FROM "hub://org/ds" WHERE ("year" >= 2020) AND ("meta"['k'] = 'it''s')) """
    """ORDER BY "score" DESC LIMIT 5""",
    """SELECT "id" FROM "x" ORDER BY BM25_SIMILARITY("text", 'moon') DESC LIMIT 10 OFFSET 5""",
    """SELECT * FROM (SELECT * FROM (SELECT "a", "b" FROM "x") ORDER BY "b" ASC) """
    """ORDER BY "a" DESC LIMIT 3""",
    """SELECT "id" FROM "x" SAMPLE BY MAX_WEIGHT(("flag"): 10, TRUE: 1) REPLACE FALSE LIMIT 5""",
    """SELECT * FROM ((SELECT "id" FROM "x" WHERE "id" < 2) UNION (SELECT "id" FROM "x" """
    """WHERE "id" > 5)) ORDER BY "id" DESC LIMIT 3""",
    """SELECT "x"[0:8] AS "p", "x"[:, 0] AS "q", SHAPE("x")[0] AS "r", "x"[::2] AS "s", """
    """"x"[:2] AS "t" FROM "d" WHERE "v" > -1.5 AND "a" - -1 > 0""",
    """select id, label, score from (select *, COSINE_SIMILARITY(embedding, ARRAY[1,0]) as """
    """score from "p" where label == 'a' order by COSINE_SIMILARITY(embedding, ARRAY[1,0]) """
    """DESC limit 2)""",
    """SELECT id FROM "p" WHERE n IS NULL OR m IS NOT NULL ORDER BY L2_NORM(e - ARRAY[1,2]) """
    """ASC LIMIT 3""",
    """SELECT m.id, s.extra FROM "a" AS m JOIN "b" AS s ON m.id = s.sid WHERE "t" = 'plain';""",
    """SELECT * FROM (SELECT id, l2_norm(e - ARRAY[1, 2]) AS d FROM "p") ORDER BY d LIMIT 3""",
    """SELECT TOP 3 id FROM "p" ORDER BY DOT(e, ARRAY[1, 2]) DESC""",
    """SELECT "id" AS "id", n FROM "p" WHERE "id" > 1 AND label BETWEEN 'a' AND 'c'""",
    """SELECT id FROM "p" WHERE CONTAINS(t, 'deep') AND CONTAINS(t, 'é') LIMIT 2 OFFSET 3""",
    """SELECT id FROM "p" SAMPLE BY -1 LIMIT 3""",
    """SELECT id FROM "p" SAMPLE BY max_weight(TRUE: 1, flag: 5) LIMIT 3""",
    """SELECT id FROM "p" SAMPLE BY n REPLACE FALSE""",
    """SELECT id FROM "p" SAMPLE BY id < 0 replace false LIMIT 2""",
    """SELECT id FROM "p" WHERE contains(t, ('deep')) AND contains(t, 'deep lake')""",
    """SELECT id, ROW_NUMBER() AS r, row_number() n FROM "p" ORDER BY id""",
    """SELECT * FROM "p" WHERE id < 5 INTERSECT SELECT * FROM "p" WHERE id > 2""",
    """SELECT id FROM ((SELECT * FROM "p" WHERE id < 5) EXCEPT (SELECT * FROM "p"))""",
    """SELECT id, BM25_SIMILARITY(t, 'x') AS score FROM "p" ORDER BY BM25_SIMILARITY(t, 'x') """
    """DESC LIMIT 3""",
    """SELECT * FROM (SELECT label, shape(id)[0] AS cnt FROM "p" GROUP BY label) WHERE cnt > 2""",
    """SELECT id FROM "p" WHERE text = '-- not a comment' AND "it's" = 'a''b' OFFSET 6""",
    """SELECT id FROM "p" ORDER BY HAMMING_DISTANCE(e, ARRAY[1, 0]) LIMIT 4;""",
    # the builder's shape: the ranking level is limited by the level that wraps it
    """SELECT * FROM (SELECT * FROM (SELECT *, L1_NORM("text" - ARRAY[0.0]) AS "score" FROM """
    """"hub://org/ds") ORDER BY "score" ASC) LIMIT 5""",
    # a search function's first argument is a column even when an alias has the same name
    """SELECT "year", ("year" + 0) AS "text" FROM "x" ORDER BY BM25_SIMILARITY("text", 'moon') """
    """DESC LIMIT 3""",
    "",
    "   \n\t",
]


@pytest.mark.parametrize("query", CLEAN)
def test_well_formed_queries_have_no_findings(query: str) -> None:
    assert check(query) == []


# --------------------------------------------------------------------------- each code


CASES: list[tuple[str, str, str, str]] = [
    # (query, code, severity, the text the finding points at)
    ('SELECT id FROM "x" WHERE id = 1 @ OR id = 2', "unknown-character", "error", "@"),
    ('SELECT id FROM "x" WHERE id = 1 # c', "unknown-character", "error", "#"),
    ('SELECT id FROM "x" WHERE id = 1 && flag', "unknown-character", "error", "&&"),
    ('SELECT id FROM "x" WHERE "" = 1', "unknown-character", "error", '""'),
    ('SELECT id FROM "x" WHERE id = 1_000', "unknown-character", "error", "_"),
    ('SELECT id FROM "x" WHERE id = 1 \0 OR id = 2', "nul-byte", "error", "\0"),
    ("SELECT id FROM \"x\" WHERE t = 'a\0b'", "nul-byte", "error", "\0"),
    ('SELECT id FROM "x"\r\nWHERE id = 1', "carriage-return", "error", "\r"),
    ('SELECT id FROM "x" WHERE id = 1\xa0OR id = 2', "non-ascii-outside-quotes", "error", "\xa0"),
    ('SELECT id FROM "x" WHERE naïve = 1', "non-ascii-outside-quotes", "error", "ï"),
    ('SELECT id FROM "x" WHERE id = 1 -- c\n  OR id = 2', "comment-swallows-rest", "error", "--"),
    ('SELECT id FROM "x" WHERE id = 1 -- c\n\nOR id = 2', "comment-swallows-rest", "error", "--"),
    ('SELECT id FROM "x" WHERE id = 1 --  \nOR id = 2', "comment-swallows-rest", "error", "--"),
    ('SELECT id FROM "x" WHERE id = 1 -- c\nOR id = 2', "comment", "warning", "--"),
    ('SELECT id FROM "x" WHERE n--1 > 0', "double-dash", "error", "--"),
    ('SELECT id FROM "x" WHERE n = --1', "double-dash", "error", "--"),
    ('SELECT id FROM "x" WHERE t = \'abc', "unterminated-string", "error", "'abc"),
    ('SELECT id FROM "x', "unterminated-identifier", "error", '"x'),
    ('SELECT id FROM "x" WHERE id = 010', "octal-integer", "error", "010"),
    ('SELECT id FROM "x" WHERE id = 08', "octal-integer", "error", "08"),
    ('SELECT id FROM "x" WHERE id = 9223372036854775808', "integer-out-of-range", "error", "9"),
    ('SELECT id FROM "x" WHERE f < 1e400', "float-out-of-range", "warning", "1e400"),
    ('SELECT id, n * 2 AS d FROM "x" WHERE d > 2', "alias-in-same-level", "error", "d > 2"),
    ('SELECT id, n * 2 d FROM "x" ORDER BY d', "alias-in-same-level", "error", r"d\Z"),
    (
        'SELECT id, COSINE_SIMILARITY(e, ARRAY[1]) AS "s" FROM "x" ORDER BY "s" DESC LIMIT 3',
        "alias-in-same-level",
        "error",
        '"s" DESC',
    ),
    ('SELECT id FROM "x" WHERE t = "plain"', "double-quoted-string", "warning", '"plain"'),
    ('SELECT id FROM "x" WHERE t LIKE "a%"', "double-quoted-string", "warning", '"a%"'),
    ('SELECT id FROM "x" WHERE meta["k"] = 1', "double-quoted-string", "warning", '"k"'),
    ('SELECT id FROM "x" WHERE t IN ("a", \'b\')', "double-quoted-string", "warning", '"a"'),
    ('SELECT id FROM "x" WHERE CONTAINS(t, "v")', "double-quoted-string", "warning", '"v"'),
    ('SELECT id FROM "x" OFFSET 2 LIMIT 2', "offset-before-limit", "error", "OFFSET"),
    ('SELECT DISTINCT label FROM "x"', "distinct-ignored", "error", "DISTINCT"),
    ('SELECT DISTINCT ON (label) id FROM "x"', "distinct-ignored", "error", "DISTINCT"),
    (
        'SELECT id FROM "x" WHERE id IN (SELECT sid FROM "y")',
        "in-subquery",
        "error",
        "(SELECT sid",
    ),
    ("SELECT id FROM \"x\" WHERE label < 'd'", "text-ordering-comparison", "error", "<"),
    ("SELECT id FROM \"x\" WHERE 'a' >= label", "text-ordering-comparison", "error", ">="),
    (
        'SELECT id FROM "x" ORDER BY COSINE_SIMILARITY(e, ARRAY[1]) DESC',
        "vector-ranking-without-limit",
        "warning",
        "ORDER",
    ),
    (
        "SELECT id FROM \"x\" ORDER BY BM25_SIMILARITY(t, 'a') DESC",
        "bm25-without-limit",
        "error",
        "ORDER",
    ),
    (
        'SELECT * FROM (SELECT id FROM "x" ORDER BY DOT(e, ARRAY[1]) DESC) ORDER BY id LIMIT 3',
        "vector-ranking-without-limit",
        "warning",
        "ORDER BY DOT",
    ),
    (
        'SELECT id FROM "x" ORDER BY COSINE_SIMILARITY(e, ARRAY[1]) LIMIT 3',
        "wrong-sort-direction",
        "error",
        "COSINE",
    ),
    (
        'SELECT id FROM "x" ORDER BY maxsim(e, ARRAY[ARRAY[1]]) ASC LIMIT 3',
        "wrong-sort-direction",
        "error",
        "maxsim",
    ),
    (
        'SELECT id FROM "x" ORDER BY L2_NORM(e - ARRAY[1]) DESC LIMIT 3',
        "wrong-sort-direction",
        "error",
        "L2_NORM",
    ),
    (
        'SELECT * FROM (SELECT id, L1_NORM(e - ARRAY[1]) AS d FROM "x") ORDER BY d DESC LIMIT 3',
        "wrong-sort-direction",
        "error",
        "d DESC",
    ),
    ('SELECT id FROM "x" ORDER BY label ASC, n DESC', "ignored-order-key", "error", "n DESC"),
    (
        'SELECT id FROM "x" WHERE id < 2 UNION SELECT id FROM "x" WHERE id > 9 ORDER BY id',
        "order-after-union",
        "warning",
        "ORDER",
    ),
    (
        '(SELECT id FROM "x") UNION ALL (SELECT id FROM "y") LIMIT 3',
        "limit-after-union",
        "error",
        "LIMIT",
    ),
    ('SELECT id FROM "x" INTERSECT SELECT id FROM "y"', "intersect-except", "error", "INTER"),
    ('SELECT id FROM "x" EXCEPT SELECT id FROM "y"', "intersect-except", "error", "EXCEPT"),
    ('SELECT * FROM "x" EXCEPT SELECT * FROM "y"', "intersect-except", "error", "EXCEPT"),
    ('SELECT a.id FROM "x" AS a, "y" AS b', "comma-join", "error", ', "y"'),
    ('SELECT id FROM "x" ORDER BY RANDOM() LIMIT 3', "order-by-random", "warning", "RANDOM"),
    ('SELECT label FROM "x" GROUP BY label LIMIT 2', "limit-before-group", "error", "LIMIT"),
    ('SELECT TOP 2 label FROM "x" GROUP BY label', "limit-before-group", "error", "GROUP"),
    ('SELECT label FROM "x" GROUP BY label HAVING n > 1', "having-ignored", "error", "HAVING"),
    (
        "SELECT id, BM25_SIMILARITY(t, 'x') AS s FROM \"x\"",
        "bm25-score-selected",
        "error",
        "BM25",
    ),
    ('SELECT id FROM "x" WHERE n = NULL', "null-literal", "error", "NULL"),
    ('SELECT NULL AS z FROM "x"', "null-literal", "error", "NULL"),
    ('SELECT e[-1] AS v FROM "x"', "negative-index", "error", "-1"),
    ('SELECT e[0, -2:3] AS v FROM "x"', "negative-index", "error", "-2"),
    ('SELECT e[1:] AS v FROM "x"', "open-slice", "error", ":]"),
    ('SELECT id FROM "x" WHERE id = 3 EXPAND BY 1 1', "expand-by", "error", "EXPAND"),
    ('SELECT id FROM "x"; SELECT id FROM "y"', "multiple-statements", "error", 'SELECT id FROM "y'),
    ("SELECT id FROM \"x\" WHERE CONTAINS(t, '')", "contains-without-token", "error", "''"),
    ("SELECT id FROM \"x\" WHERE contains(t, ' !! ')", "contains-without-token", "error", "' !"),
    ("SELECT id FROM \"x\" WHERE CONTAINS(t, '_')", "contains-without-token", "error", "'_'"),
    ('SELECT id FROM "x" SAMPLE BY 0 LIMIT 3', "sample-zero-weights", "error", "SAMPLE"),
    ('SELECT id FROM "x" SAMPLE BY -0.0', "sample-zero-weights", "error", "SAMPLE"),
    ('SELECT id FROM "x" SAMPLE BY (FALSE) LIMIT 3', "sample-zero-weights", "error", "SAMPLE"),
    ('SELECT id FROM "x" SAMPLE BY max_weight(false: 1)', "sample-zero-weights", "error", "SAMPLE"),
    (
        'SELECT id FROM "x" SAMPLE BY MAX_WEIGHT(TRUE: 0, flag: -1) LIMIT 3',
        "sample-zero-weights",
        "error",
        "SAMPLE",
    ),
    (
        'SELECT id FROM "x" SAMPLE BY sum_weight(TRUE: 1, TRUE: -1) REPLACE TRUE',
        "sample-zero-weights",
        "error",
        "SAMPLE",
    ),
    ('UPDATE "x" SET n = 1', "update-statement", "error", "UPDATE"),
    ("SELECT id FROM \"x\" WHERE contains(t, (' '))", "contains-without-token", "error", "' '"),
    ("SELECT id FROM \"x\" WHERE contains(t, (('!!')))", "contains-without-token", "error", "'!"),
    ("SELECT id FROM \"x\" WHERE CONTAINS(t, '*an*')", "contains-wildcard", "warning", "'*"),
    ('SELECT id FROM "x" SAMPLE BY id < 0 LIMIT 2', "sample-may-hang", "error", "SAMPLE"),
    ('SELECT id FROM "x" WHERE e[0] BETWEEN 0.5 AND 1.0', "between-on-element", "error", "BETWEEN"),
    ('SELECT id FROM "x" SAMPLE BY n REPLACE TRUE', "sample-may-hang", "error", "SAMPLE"),
    (
        'SELECT id FROM "x" SAMPLE BY max_weight(TRUE: -1, flag: 5) LIMIT 3',
        "sample-may-hang",
        "error",
        "SAMPLE",
    ),
    ("SELECT id FROM \"x\" WHERE t CONTAINS 'a'", "infix-contains", "error", "CONTAINS"),
    ('SELECT COUNT(*) FROM "x"', "absent-function", "error", "COUNT"),
    (
        'SELECT id FROM "x" WHERE id = (SELECT id FROM "x" LIMIT 1)',
        "scalar-subquery",
        "error",
        '(SELECT id FROM "x" LIMIT',
    ),
    (
        'SELECT id FROM "x" ORDER BY L1_NORM(e - ARRAY[1]) ASC LIMIT 3',
        "l1-linf-top-k",
        "error",
        "L1_NORM",
    ),
    ('SELECT TOP 3 id FROM "x" ORDER BY linf_norm(e - ARRAY[1])', "l1-linf-top-k", "error", "linf"),
    ('SELECT id, ROW_NUMBER() FROM "x"', "unaliased-expression", "error", "ROW_NUMBER"),
    ('SELECT id, n * id FROM "x"', "unaliased-expression", "error", "n * id"),
    (
        "SELECT id, BM25_SIMILARITY(t, 'a') AS score FROM \"x\" "
        "ORDER BY BM25_SIMILARITY(t, 'b') DESC LIMIT 3",
        "bm25-score-mismatch",
        "error",
        "BM25",
    ),
    ('SELECT id FROM "x"; update "x" SET n = 1', "update-statement", "error", "update"),
]


def anchor_position(query: str, anchor: str) -> int:
    if anchor.endswith("\\Z"):
        return query.rindex(anchor[:-2])
    return query.index(anchor)


@pytest.mark.parametrize(("query", "code", "severity", "anchor"), CASES)
def test_each_hazard_is_reported_where_it_is(
    query: str, code: str, severity: str, anchor: str
) -> None:
    findings = [f for f in check(query) if f.code == code]
    assert findings, check(query)
    assert findings[0].severity == severity
    assert findings[0].position == anchor_position(query, anchor)


def test_every_registered_code_has_a_case() -> None:
    assert {case[1] for case in CASES} == ALL_CODES - {"check-incomplete"}


@pytest.mark.parametrize(("query", "code", "severity", "anchor"), CASES)
def test_each_finding_carries_its_rules_kind(
    query: str, code: str, severity: str, anchor: str
) -> None:
    (registered,) = [r for r in RULES if r.code == code]
    assert registered.severity == severity
    for finding in check(query):
        (source,) = [r for r in RULES if r.code == finding.code]
        assert (finding.kind, finding.severity) == (source.kind, source.severity)


def test_refusal_sets_follow_the_kinds() -> None:
    """The executors refuse exactly what truncates, or kills/hangs the engine for sure."""
    assert all(kind in KINDS for kind in (r.kind for r in RULES))
    for each in RULES:
        loud = each.kind in ("crash", "hang") and each.severity == "error"
        assert (each.code in CRASH_CODES) == loud, each.code
        assert (each.code in TRUNCATION_CODES) == (each.kind == "truncation"), each.code
        assert (each.code in REJECTED_CODES) == (each.kind == "engine-rejects"), each.code
    # the run/ executors import these names
    from tqlbuilder.run import local

    assert local._REFUSED_CODES == CRASH_CODES | TRUNCATION_CODES


@pytest.mark.parametrize(
    "query",
    [
        'SELECT id FROM "x" WHERE n - -1 > 0',
        'SELECT id FROM "x" WHERE n -1 > 0',
        'SELECT id FROM "x" WHERE n IS NOT NULL AND m IS NULL',
        "SELECT id FROM \"x\" WHERE label BETWEEN 'b' AND 'd' AND meta['k'] < 3",
        'SELECT e[1:4] AS a, e[:3] AS b, e[::2] AS c, e[:, 0] AS d FROM "x"',
        "SELECT id FROM \"x\" WHERE CONTAINS(t, 'a b') OR CONTAINS(t, ?) OR CONTAINS(arr, 9)",
        'SELECT id FROM "x" SAMPLE BY max_weight(flag: 10, TRUE: 1) LIMIT 3',
        'SELECT id FROM "x" SAMPLE BY n - 1000 REPLACE FALSE LIMIT 3',
        'SELECT id FROM "x" ORDER BY label DESC LIMIT 3 SAMPLE BY 1 LIMIT 2',
        'SELECT id FROM "x" LIMIT 3 OFFSET 1 SAMPLE BY 1 LIMIT 2',
        'SELECT a.id FROM "x" AS a JOIN "y" AS b ON "id" = "sid"',
        'SELECT id FROM "x" ORDER BY -COSINE_SIMILARITY(e, ARRAY[1]) LIMIT 3',
        'SELECT id FROM "x" ORDER BY 1 - COSINE_SIMILARITY(e, ARRAY[1]) ASC LIMIT 3',
        'SELECT id, n * 2 AS d FROM "x" WHERE x.d > 1 ORDER BY d2',
        'SELECT * FROM (SELECT label FROM "x" GROUP BY label) LIMIT 2',
        'SELECT id FROM "x" WHERE "a" = "b"."c"',
    ],
)
def test_near_misses_are_not_reported(query: str) -> None:
    assert check(query) == [], check(query)


def test_findings_are_sorted_frozen_and_one_line() -> None:
    query = 'SELECT DISTINCT id FROM "x" WHERE t = "v" AND id = 010 @ LIMIT 1 OFFSET 1 OFFSET 2'
    findings = check(query)
    assert [f.position for f in findings] == sorted(f.position for f in findings)
    assert {f.code for f in findings} >= {"distinct-ignored", "octal-integer", "unknown-character"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        findings[0].code = "x"  # type: ignore[misc]
    for finding in findings:
        assert "\n" not in finding.message and "\r" not in finding.message
        assert finding.severity in ("error", "warning")


def test_repeated_unknown_characters_are_reported_once_per_code() -> None:
    findings = check('SELECT id\r\nFROM "x"\r\nWHERE id = 1\r\n')
    assert [f.code for f in findings] == ["carriage-return"]
    assert findings[0].position == 9 and "2 more" in findings[0].message


def test_the_swallowed_extent_is_named() -> None:
    (finding,) = check('SELECT id FROM "x" WHERE id = 1 -- c\n  OR id = 2\nLIMIT 3')
    assert "through line 2" in finding.message
    (finding,) = check('SELECT id FROM "x" WHERE id = 1 -- c\n  OR id = 2')
    assert "to the end of the query" in finding.message


def test_finding_equality_and_fields() -> None:
    assert check("SELECT 010 AS n") == [
        Finding(
            code="octal-integer",
            position=7,
            message=check("SELECT 010 AS n")[0].message,
            severity="error",
            kind="silent-wrong",
        )
    ]
    assert "octal: 8, not 10" in check("SELECT 010 AS n")[0].message
    # an unaliased constant reads no column: the engine wants a name for it
    assert [f.code for f in check("SELECT 010")] == ["octal-integer", "unaliased-expression"]


SOUP = st.sampled_from(
    [
        *"()[],;:.*-+<>='\"@\r\n \t",
        "SELECT",
        "FROM",
        "WHERE",
        "ORDER",
        "BY",
        "LIMIT",
        "OFFSET",
        "UNION",
        "GROUP",
        "SAMPLE",
        "IN",
        "AS",
        "DESC",
        "NULL",
        "IS",
        "NOT",
        "CONTAINS",
        "COSINE_SIMILARITY",
        "max_weight",
        "x",
        '"y"',
        "'s'",
        "0",
        "010",
        "--",
        "ARRAY",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.lists(SOUP, max_size=40).map(" ".join)))
def test_property_check_never_raises_and_findings_are_in_range(text: str) -> None:
    findings = check(text)
    assert [(f.position, f.code) for f in findings] == sorted(
        (f.position, f.code) for f in findings
    )
    for finding in findings:
        assert finding.code in ALL_CODES
        assert 0 <= finding.position <= len(text)
        assert finding.message and "\n" not in finding.message


# --------------------------------------------------------------------------- the real engine


class Engine:
    """Runs queries on three small datasets; ``{M}``, ``{S}``, ``{B}`` name them in queries."""

    def __init__(self, root: Path) -> None:
        import deeplake
        import numpy as np

        types = deeplake.types
        self.paths = {key: f'"{root / name}"' for key, name in (("M", "main"), ("S", "side"))}
        self.paths["B"] = f'"{root / "bm25"}"'
        ds = deeplake.create(str(root / "main"))
        for name, dtype in [
            ("id", types.Int64()),
            ("n", types.Int32()),
            ("label", types.Text()),
            ("flag", types.Bool()),
            ("e", types.Embedding(4)),
        ]:
            ds.add_column(name, dtype)
        vectors = [[1.0, 0.0, 0.0, 0.0]]
        vectors += [[float(i * 7 % 5), float(i * 3 % 4), float(i % 3), 1.0] for i in range(1, 12)]
        ds.append(
            {
                "id": list(range(12)),
                "n": [10 * i - 30 for i in range(12)],
                "label": [("cat", "dog", "bird")[i % 3] for i in range(12)],
                "flag": [i % 2 == 1 for i in range(12)],
                "e": np.array(vectors, dtype=np.float32),
            }
        )
        ds.commit()
        side = deeplake.create(str(root / "side"))
        side.add_column("sid", types.Int64())
        side.add_column("extra", types.Text())
        side.append({"sid": [0, 1, 2, 50], "extra": ["zero", "one", "two", "fifty"]})
        side.commit()
        bm = deeplake.create(str(root / "bm25"))
        bm.add_column("id", types.Int64())
        bm.add_column("body", types.Text(index_type=types.BM25))
        bm.append(
            {
                "id": [0, 1, 2, 3],
                "body": [
                    "the quick brown fox",
                    "deep learning with deep lake",
                    "vector search engines",
                    "brown bears eat fish",
                ],
            }
        )
        bm.commit()

    def q(self, template: str) -> str:
        return template.format(**self.paths)

    def run(self, template: str) -> dict[str, list[Any]] | str:
        """Columns as lists, or ``"error: <message>"``; the view is bound before reading."""
        import deeplake
        import numpy as np

        try:
            view = deeplake.query(self.q(template))
            out: dict[str, list[Any]] = {}
            for column in view.schema.columns:
                values = view[column.name][:]
                out[column.name] = values.tolist() if isinstance(values, np.ndarray) else values
            return out
        except RuntimeError as exc:
            return f"error: {exc}"

    def ids(self, template: str) -> list[int] | str:
        result = self.run(template)
        return result if isinstance(result, str) else [int(i) for i in result["id"]]

    def reports(self, template: str, code: str) -> bool:
        return code in codes(self.q(template))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    pytest.importorskip("deeplake")
    return Engine(tmp_path_factory.mktemp("check-engine"))


# Each row: a hazardous query, the query that does what was meant, the expected rows of each
# (hazard first), and the code check() must report on the hazard (and not on the fix).
SILENT = [
    (
        "unknown-character",
        "SELECT id FROM {M} WHERE id = 1 @ OR id = 2",
        "SELECT id FROM {M} WHERE id = 1 OR id = 2",
        [1],
        [1, 2],
    ),
    (
        "nul-byte",
        "SELECT id FROM {M} WHERE id = 1 \0 OR id = 2",
        "SELECT id FROM {M} WHERE id = 1 OR id = 2",
        [1],
        [1, 2],
    ),
    (
        "carriage-return",
        "SELECT id FROM {M}\r\nWHERE id = 1",
        "SELECT id FROM {M}\nWHERE id = 1",
        list(range(12)),
        [1],
    ),
    (
        "non-ascii-outside-quotes",
        "SELECT id FROM {M} WHERE id = 1\xa0OR id = 2",
        "SELECT id FROM {M} WHERE id = 1 OR id = 2",
        [1],
        [1, 2],
    ),
    (
        "comment-swallows-rest",
        "SELECT id FROM {M} WHERE id = 1 -- first\n  OR id = 2",
        "SELECT id FROM {M} WHERE id = 1\n  OR id = 2",
        [1],
        [1, 2],
    ),
    (
        "comment-swallows-rest",
        "SELECT id FROM {M} WHERE id = 1 --  \nOR id = 2",
        "SELECT id FROM {M} WHERE id = 1\nOR id = 2",
        [1],
        [1, 2],
    ),
    (
        "double-dash",
        "SELECT id FROM {M} WHERE n--1 > 0",
        "SELECT id FROM {M} WHERE n - -1 > 0",
        [0, 1, 2, *range(4, 12)],
        list(range(3, 12)),
    ),
    (
        "unterminated-string",
        "SELECT id FROM {M} 'WHERE id = 1",
        "SELECT id FROM {M} WHERE id = 1",
        list(range(12)),
        [1],
    ),
    (
        "unterminated-identifier",
        'SELECT id FROM {M} "WHERE id = 1',
        "SELECT id FROM {M} WHERE id = 1",
        list(range(12)),
        [1],
    ),
    (
        "octal-integer",
        "SELECT id FROM {M} WHERE id = 010",
        "SELECT id FROM {M} WHERE id = 10",
        [8],
        [10],
    ),
    (
        "octal-integer",
        "SELECT id FROM {M} WHERE id = 09",
        "SELECT id FROM {M} WHERE id = 9",
        [0],
        [9],
    ),
    (
        "in-subquery",
        "SELECT id FROM {M} WHERE id IN (SELECT sid FROM {S})",
        "SELECT id FROM {M} WHERE id IN (0, 1, 2, 50)",
        [],
        [0, 1, 2],
    ),
    (
        "text-ordering-comparison",
        "SELECT id FROM {M} WHERE label < 'd' AND id < 6",
        "SELECT id FROM {M} WHERE label BETWEEN 'a' AND 'cz' AND id < 6",
        [],
        [0, 2, 3, 5],
    ),
    (
        "wrong-sort-direction",
        "SELECT id FROM {M} ORDER BY COSINE_SIMILARITY(e, ARRAY[1,0,0,0]) LIMIT 1",
        "SELECT id FROM {M} ORDER BY COSINE_SIMILARITY(e, ARRAY[1,0,0,0]) DESC LIMIT 1",
        [5],
        [0],
    ),
    (
        "wrong-sort-direction",
        "SELECT id FROM {M} ORDER BY L2_NORM(e - ARRAY[1,0,0,0]) DESC LIMIT 1",
        "SELECT id FROM {M} ORDER BY L2_NORM(e - ARRAY[1,0,0,0]) ASC LIMIT 1",
        [2],
        [0],
    ),
    (
        "ignored-order-key",
        "SELECT id FROM {M} ORDER BY label ASC, n DESC LIMIT 4",
        "SELECT * FROM (SELECT id, label FROM {M} ORDER BY n DESC) ORDER BY label ASC LIMIT 4",
        [2, 5, 8, 11],
        [11, 8, 5, 2],
    ),
    (
        "order-after-union",
        "SELECT id FROM {M} WHERE id < 2 UNION SELECT id FROM {M} WHERE id > 9 ORDER BY id DESC "
        "LIMIT 3",
        "SELECT * FROM (SELECT id FROM {M} WHERE id < 2 UNION SELECT id FROM {M} WHERE id > 9) "
        "ORDER BY id DESC LIMIT 3",
        [11, 10, 1, 0],
        [11, 10, 1],
    ),
    (
        "expand-by",
        "SELECT id FROM {M} WHERE id = 3 EXPAND BY 1 1",
        "SELECT id FROM {M} WHERE id BETWEEN 2 AND 4",
        [3],
        [2, 3, 4],
    ),
]


@pytest.mark.engine
@pytest.mark.parametrize(("code", "hazard", "fixed", "got", "meant"), SILENT)
def test_engine_silently_returns_other_rows(
    engine: Engine, code: str, hazard: str, fixed: str, got: list[int], meant: list[int]
) -> None:
    assert engine.ids(hazard) == got
    assert engine.ids(fixed) == meant
    assert engine.reports(hazard, code)
    assert not codes(engine.q(fixed)) & {code, *TRUNCATION_CODES, *CRASH_CODES}


@pytest.mark.engine
def test_engine_ignores_distinct(engine: Engine) -> None:
    result = engine.run("SELECT DISTINCT label FROM {M}")
    assert isinstance(result, dict) and len(result["label"]) == 12  # not the 3 distinct labels
    assert engine.reports("SELECT DISTINCT label FROM {M}", "distinct-ignored")


@pytest.mark.engine
def test_engine_sorts_a_union_but_ignores_its_limit(engine: Engine) -> None:
    union = "SELECT id FROM {M} WHERE id < 2 UNION SELECT id FROM {M} WHERE id > 9"
    result = engine.run(union + " ORDER BY id DESC LIMIT 3 OFFSET 1")
    assert isinstance(result, dict)
    assert result["id"] == [11, 10, 1, 0]  # sorted, but neither limited nor offset
    assert result["_order_score_"] == [0.0, 1.0, 10.0, 11.0]  # a stray, unsorted column
    findings = [(f.code, f.severity) for f in check(engine.q(union + " ORDER BY id LIMIT 3"))]
    assert findings == [("order-after-union", "warning"), ("limit-after-union", "error")]


@pytest.mark.engine
def test_engine_groups_after_limit_and_ignores_having(engine: Engine) -> None:
    limited = "SELECT label, shape(id)[0] AS cnt FROM {M} GROUP BY label LIMIT 2"
    result = engine.run(limited)
    assert isinstance(result, dict) and result["cnt"] == [1, 1]  # groups built from 2 rows
    fixed = "SELECT * FROM (SELECT label, shape(id)[0] AS cnt FROM {M} GROUP BY label) LIMIT 2"
    result = engine.run(fixed)
    assert isinstance(result, dict) and result["cnt"] == [4, 4]
    assert engine.reports(limited, "limit-before-group") and not codes(engine.q(fixed))

    having = "SELECT label, shape(id)[0] AS cnt FROM {M} GROUP BY label HAVING shape(id)[0] > 100"
    result = engine.run(having)
    assert isinstance(result, dict) and result["cnt"] == [4, 4, 4]  # nothing was filtered
    assert engine.reports(having, "having-ignored")


@pytest.mark.engine
def test_engine_comma_join_is_a_zip(engine: Engine) -> None:
    query = "SELECT m.id, s.extra FROM {M} AS m, {S} AS s"
    result = engine.run(query)
    assert isinstance(result, dict)
    assert len(result["id"]) == 12  # not 12 x 4
    assert result["extra"][:5] == ["zero", "one", "two", "fifty", None]
    assert engine.reports(query, "comma-join")


@pytest.mark.engine
def test_engine_open_slice_returns_one_element(engine: Engine) -> None:
    query = "SELECT id, e[1:] AS v FROM {M} WHERE id = 1"
    result = engine.run(query)
    assert isinstance(result, dict) and result["v"] == [3.0]  # e[1], not e[1:4]
    result = engine.run("SELECT id, e[1:4] AS v FROM {M} WHERE id = 1")
    assert isinstance(result, dict) and result["v"] == [[3.0, 1.0, 1.0]]
    assert engine.reports(query, "open-slice")


ERRORS = [
    ("integer-out-of-range", "SELECT id FROM {M} WHERE id = 9223372036854775808", "syntax error"),
    ("alias-in-same-level", "SELECT id, n * 2 AS d FROM {M} WHERE d > 2", 'Tensor "d"'),
    ("double-quoted-string", 'SELECT id FROM {M} WHERE label = "cat"', 'Tensor "cat"'),
    ("offset-before-limit", "SELECT id FROM {M} OFFSET 2 LIMIT 2", "unexpected LIMIT"),
    ("intersect-except", "SELECT id FROM {M} INTERSECT SELECT id FROM {M}", "intersection"),
    ("null-literal", "SELECT id FROM {M} WHERE n = NULL", "NULL is not supported"),
    ("negative-index", "SELECT id, e[-1] AS v FROM {M}", "Indexes should be 1D array"),
    ("multiple-statements", "SELECT id FROM {M}; SELECT id FROM {S}", "Multiple query"),
    ("bm25-score-selected", "SELECT id, BM25_SIMILARITY(body, 'deep') AS s FROM {B}", "BM25"),
    (
        "bm25-without-limit",
        "SELECT id FROM {B} ORDER BY BM25_SIMILARITY(body, 'deep') DESC",
        "cannot be used without index",
    ),
    (
        "wrong-sort-direction",
        "SELECT id FROM {B} ORDER BY BM25_SIMILARITY(body, 'deep') ASC LIMIT 2",
        "cannot be used without index",
    ),
    ("infix-contains", "SELECT id FROM {M} WHERE label CONTAINS 'cat'", "syntax error"),
    ("absent-function", "SELECT COUNT(*) FROM {M}", "'COUNT' is not found"),
    ("absent-function", "SELECT COUNT(id) AS c FROM {M}", "'COUNT' is not found"),
    ("absent-function", "SELECT id FROM {M} WHERE MAX(n) > 0", "'MAX' is not found"),
    (
        "scalar-subquery",
        "SELECT id FROM {M} WHERE id = (SELECT id FROM {M} LIMIT 1)",
        "SELECT is not supported",
    ),
    (
        "scalar-subquery",
        "SELECT id, (SELECT id FROM {M} LIMIT 1) AS s FROM {M}",
        "SELECT is not supported",
    ),
    (
        "l1-linf-top-k",
        "SELECT id FROM {M} ORDER BY L1_NORM(e - ARRAY[1,0,1,0]) ASC LIMIT 3",
        "requires 2 arguments",
    ),
    (
        "l1-linf-top-k",
        "SELECT TOP 3 id FROM {M} ORDER BY LINF_NORM(e - ARRAY[1,0,1,0]) ASC",
        "requires 2 arguments",
    ),
    (
        "l1-linf-top-k",
        "SELECT * FROM (SELECT id, L1_NORM(e - ARRAY[1,0,1,0]) AS d FROM {M}) ORDER BY d ASC "
        "LIMIT 3",
        "requires 2 arguments",
    ),
    ("unaliased-expression", "SELECT id, ROW_NUMBER() FROM {M}", "should be aliased"),
    ("unaliased-expression", "SELECT ROW_NUMBER() FROM {M}", "should be aliased"),
    ("unaliased-expression", "SELECT id, n * id FROM {M}", "should be aliased"),
    (
        "bm25-score-selected",
        "SELECT id, BM25_SIMILARITY(body, 'deep') AS s FROM {B} "
        "ORDER BY BM25_SIMILARITY(body, 'deep') DESC LIMIT 2",
        'Tensor "score" does not exist',
    ),
    (
        "bm25-score-selected",
        "SELECT id, BM25_SIMILARITY(body, 'deep') AS SCORE FROM {B} "
        "ORDER BY BM25_SIMILARITY(body, 'deep') DESC LIMIT 2",
        'Tensor "score" does not exist',
    ),
]


@pytest.mark.engine
@pytest.mark.parametrize(("code", "query", "message"), ERRORS)
def test_engine_rejects(engine: Engine, code: str, query: str, message: str) -> None:
    result = engine.run(query)
    assert isinstance(result, str) and message in result, result
    assert engine.reports(query, code)


@pytest.mark.engine
def test_engine_rejected_forms_have_working_rewrites(engine: Engine) -> None:
    """The forms the messages suggest run, and check() finds nothing in them."""
    fixes = [
        "SELECT id FROM {M} WHERE CONTAINS(label, 'cat')",
        "SELECT * FROM (SELECT * FROM (SELECT id, L1_NORM(e - ARRAY[1,0,1,0]) AS d FROM {M}) "
        "ORDER BY d ASC) LIMIT 3",
        "SELECT id, ROW_NUMBER() AS r FROM {M}",
        "SELECT id, BM25_SIMILARITY(body, 'deep') AS score FROM {B} "
        "ORDER BY BM25_SIMILARITY(body, 'deep') DESC LIMIT 2",
    ]
    for fix in fixes:
        assert isinstance(engine.run(fix), dict), fix
        assert codes(engine.q(fix)) == set(), fix


@pytest.mark.engine
def test_selected_bm25_score_is_the_order_by_score(engine: Engine) -> None:
    """Selected as score beside another BM25 ORDER BY, the column holds the ORDER BY's scores."""
    mismatch = (
        "SELECT id, BM25_SIMILARITY(body, 'deep') AS score FROM {B} "
        "ORDER BY BM25_SIMILARITY(body, 'brown') DESC LIMIT 2"
    )
    same = (
        "SELECT id, BM25_SIMILARITY(body, 'brown') AS score FROM {B} "
        "ORDER BY BM25_SIMILARITY(body, 'brown') DESC LIMIT 2"
    )
    got, meant = engine.run(mismatch), engine.run(same)
    assert isinstance(got, dict) and isinstance(meant, dict)
    assert got["score"] == meant["score"] and got["score"][0] > 0  # 'deep' is in neither row
    assert engine.reports(mismatch, "bm25-score-mismatch") and not codes(engine.q(same))


@pytest.mark.engine
def test_intersect_and_except_of_whole_rows_run(engine: Engine) -> None:
    """Both sides SELECT * of one dataset: computed; a column list on either side: refused."""
    whole = "SELECT * FROM {M} WHERE id < 5 INTERSECT SELECT * FROM {M} WHERE id > 2"
    assert engine.ids(whole) == [3, 4] and not codes(engine.q(whole))
    wrapped = (
        "SELECT * FROM ((SELECT * FROM {M} WHERE id < 5) EXCEPT (SELECT * FROM {M} WHERE id > 2))"
    )
    assert engine.ids(wrapped) == [0, 1, 2] and not codes(engine.q(wrapped))
    columns = "SELECT * FROM ((SELECT id FROM {M} WHERE id < 5) EXCEPT (SELECT id FROM {M}))"
    result = engine.run(columns)
    assert isinstance(result, str) and "difference of two independent" in result
    assert engine.reports(columns, "intersect-except")


@pytest.mark.engine
def test_contains_star_is_literal_in_v4(engine: Engine) -> None:
    """v3 read '*a*' as a wildcard (it would match 'cat'); v4 matches a literal star."""
    query = "SELECT id FROM {M} WHERE CONTAINS(label, '*a*')"
    assert engine.ids(query) == []
    assert engine.ids("SELECT id FROM {M} WHERE CONTAINS(label, 'a')") == [0, 3, 6, 9]
    assert engine.reports(query, "contains-wildcard")


@pytest.mark.engine
def test_the_bm25_fix_works(engine: Engine) -> None:
    query = "SELECT id FROM {B} ORDER BY BM25_SIMILARITY(body, 'deep') DESC LIMIT 2"
    assert engine.ids(query) == [1]
    assert not codes(engine.q(query))


@pytest.mark.engine
def test_engine_process_dies_on_contains_without_a_token(engine: Engine) -> None:
    """Run in a fresh interpreter (exec, not fork): the engine kills its process with SIGSEGV."""
    query = engine.q("SELECT id FROM {B} WHERE CONTAINS(body, '!!')")
    assert "contains-without-token" in codes(query)
    code = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        import deeplake
        view = deeplake.query({query!r})
        print(len(view))
        """
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert child.returncode < 0, (child.returncode, child.stdout, child.stderr[-500:])
    # a real word on the same column is fine
    assert engine.ids("SELECT id FROM {B} WHERE CONTAINS(body, 'brown')") == [0, 3]


def _child(code: str, timeout: float) -> tuple[int | None, str]:
    """Run ``code`` in a fresh interpreter with 3 GB of address space: (exit code, stdout).

    The exit code is None if the child ran past ``timeout`` seconds (it is killed).
    """
    prologue = (
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "import deeplake\n"
    )
    try:
        child = subprocess.run(
            [sys.executable, "-c", prologue + textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None, ""
    return child.returncode, child.stdout


@pytest.mark.engine
def test_engine_process_dies_on_contains_in_parentheses(engine: Engine) -> None:
    query = engine.q("SELECT id FROM {B} WHERE CONTAINS(body, ((' ')))")
    assert "contains-without-token" in codes(query)
    returncode, _ = _child(f"print(len(deeplake.query({query!r})))", timeout=60)
    assert returncode is not None and returncode < 0
    assert engine.ids("SELECT id FROM {B} WHERE CONTAINS(body, ('brown'))") == [0, 3]


@pytest.mark.engine
def test_row_dependent_zero_weights_hang_without_replace_false(engine: Engine) -> None:
    """SAMPLE BY id < 0 (zero for every row) never returns with replacement; REPLACE FALSE does.

    The child is killed after 8 s (or fails its 3 GB allocation limit first): either way it
    produced no sample. The guarded forms run in a child too, before the hanging one.
    """
    hanging = engine.q("SELECT id FROM {M} SAMPLE BY id < 0 LIMIT 2")
    guarded = [
        engine.q("SELECT id FROM {M} SAMPLE BY id < 0 REPLACE FALSE LIMIT 2"),
        engine.q("SELECT id FROM {M} SAMPLE BY 0 REPLACE FALSE LIMIT 2"),
        engine.q("SELECT id FROM {M} SAMPLE BY max_weight(id < 0: 1, TRUE: 1) LIMIT 2"),
    ]
    code = f"for q in {guarded!r}:\n    print(len(deeplake.query(q)))\n"
    returncode, out = _child(code, timeout=60)
    assert (returncode, out.split()) == (0, ["2", "2", "2"])
    for query in guarded:
        assert not codes(query) & {"sample-may-hang", "sample-zero-weights"}, query
    assert "sample-may-hang" in codes(hanging)
    returncode, out = _child(f"print(len(deeplake.query({hanging!r})))", timeout=8)
    assert out == "" and returncode != 0


def test_engine_killers_are_reported_without_running_them() -> None:
    assert "sample-zero-weights" in codes('SELECT id FROM "x" SAMPLE BY max_weight(TRUE: -1)')
    assert not codes('SELECT id FROM "x" SAMPLE BY -1')  # a constant non-zero weight runs
    assert not codes('SELECT id FROM "x" SAMPLE BY max_weight(TRUE: -1) REPLACE FALSE')
    assert "update-statement" in codes('UPDATE "x" SET n = 1')
    assert CRASH_CODES <= ALL_CODES


def test_huge_literals_do_not_break_the_checker() -> None:
    (finding,) = check("SELECT 08" + "9" * 6000 + " AS n")
    assert finding.code == "octal-integer" and len(finding.message) < 400
    (finding,) = check("SELECT " + "9" * 6000 + " AS n")
    assert finding.code == "integer-out-of-range"


def test_a_30kb_vector_query_has_no_findings() -> None:
    vector = ", ".join(repr(i / 1536 - 0.5) for i in range(1536))
    query = (
        'SELECT * FROM (SELECT "text", COSINE_SIMILARITY("embedding", ARRAY['
        + vector
        + ']) AS "score" FROM "hub://org/ds") ORDER BY "score" DESC LIMIT 5'
    )
    assert check(query) == []


# --------------------------------------------------------------------------- any nesting depth

DEPTH = 20_000  # far beyond Python's recursion limit; the benchmark times 100,000


def test_deep_nesting_is_checked_without_recursion() -> None:
    """Findings at the bottom of deep nests are still found (and nothing raises)."""
    parens = "SELECT * FROM x WHERE " + "(" * DEPTH + "a = 010" + ")" * DEPTH
    assert codes(parens) == {"octal-integer"}
    nested = "SELECT * FROM " + "(SELECT * FROM " * DEPTH + '"x" WHERE t = "v"' + ")" * DEPTH
    assert codes(nested) == {"double-quoted-string"}
    ranked = (
        "SELECT * FROM "
        + "(" * DEPTH
        + "SELECT id FROM x ORDER BY L2_NORM(e - ARRAY[1]) DESC"
        + ")" * DEPTH
        + " LIMIT 3"
    )
    assert codes(ranked) == {"wrong-sort-direction"}
    unclosed = "SELECT * FROM x WHERE " + "(" * DEPTH + "CONTAINS(t, '!')"
    assert codes(unclosed) == {"contains-without-token"}
    total = "SELECT * FROM x WHERE " + " + ".join(["a"] * DEPTH) + ' > 0 AND t = "v"'
    assert codes(total) == {"double-quoted-string"}


def test_check_never_raises_even_when_a_rule_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing rule becomes a check-incomplete warning; the other rules still report."""
    from tqlbuilder.text.hazards import statements

    def broken(ctx: object) -> list[object]:
        raise ValueError("boom")

    patched = tuple(
        attrs.evolve(r, find=broken) if r.code == "distinct-ignored" else r for r in RULES
    )
    import tqlbuilder.text.hazards as hazards

    monkeypatch.setattr(hazards, "RULES", patched)
    findings = check('SELECT DISTINCT id FROM "x" WHERE id = 010')
    assert [(f.code, f.severity) for f in findings] == [
        ("check-incomplete", "warning"),
        ("octal-integer", "error"),
    ]
    assert "distinct-ignored" in findings[0].message and "boom" in findings[0].message
    assert statements.RULES  # the module's own registry is untouched


def test_the_docs_table_of_codes_is_the_registry() -> None:
    """docs/reading-tql.md holds exactly codes_table(): every code, severity, kind, summary."""
    from tqlbuilder.text.hazards import codes_table

    docs = Path(__file__).resolve().parent.parent / "docs" / "reading-tql.md"
    assert codes_table() in docs.read_text(encoding="utf-8"), (
        "regenerate the table in docs/reading-tql.md with tqlbuilder.text.hazards.codes_table()"
    )
    rows = codes_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [r.code for r in RULES]


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("SELECT * FROM ds WHERE features[0] BETWEEN 0.5 AND 1.0", True),
        ("SELECT * FROM ds WHERE NOT (e[0:2] BETWEEN 1 AND 2)", True),
        ("SELECT e[1] BETWEEN 0 AND 1 AS b FROM ds", True),
        ("SELECT * FROM ds WHERE meta['k'] BETWEEN 1 AND 2", False),
        ("SELECT * FROM ds WHERE x BETWEEN 1 AND 2", False),
        ("SELECT * FROM ds WHERE (features[0] >= 0.5) AND (features[0] <= 1.0)", False),
    ],
)
def test_between_on_an_array_element_is_flagged_as_a_crash(text: str, flagged: bool) -> None:
    assert ("between-on-element" in codes(text)) is flagged
    if flagged:
        assert "between-on-element" in CRASH_CODES
