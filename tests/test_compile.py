"""Exact TQL for every clause, operator and function the builder offers."""

from __future__ import annotations

import numpy as np
import pytest

from tqlbuilder import F, col, lit, select
from tqlbuilder.levels.printer import compile_expr

EMB = np.array([0.1, 0.2, 0.3], dtype=np.float32)
DS = select("text").from_("hub://org/ds")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (col("year") == 2020, "year = 2020"),
        (col("year") != 2020, "year != 2020"),
        (col("year") < 2020, "year < 2020"),
        (col("year") <= 2020, "year <= 2020"),
        (col("year") > 2020, "year > 2020"),
        (col("year") >= 2020, "year >= 2020"),
        (col("name") == "O'Brien", "name = 'O''Brien'"),
        (col("flag") == True, "flag = TRUE"),  # noqa: E712 - builds a TQL comparison
        (col("x") == None, "x IS NULL"),  # noqa: E711 - builds IS NULL
        (col("x") != None, "x IS NOT NULL"),  # noqa: E711
        (col("a") + 1, "a + 1"),
        (col("a") - -1, "a - -1"),
        (1 - col("a"), "1 - a"),
        (col("a") * 2.5, "a * 2.5"),
        (col("a") / 2, "a / 2"),
        (col("a") % 3, "a % 3"),
        (2 * col("a"), "2 * a"),
        (-col("a"), "-a"),
        (-(col("a") + 1), "-(a + 1)"),
        (-lit(-1), "-(-1)"),
        ((col("a") > 1) & (col("b") < 2), "(a > 1) AND (b < 2)"),
        ((col("a") > 1) | (col("b") < 2), "(a > 1) OR (b < 2)"),
        (~(col("a") > 1), "NOT (a > 1)"),
        (
            (col("a") > 1) & (col("b") < 2) & (col("c") == 3),
            "(a > 1) AND (b < 2) AND (c = 3)",
        ),
        (
            ((col("a") > 1) | (col("b") < 2)) & (col("c") == 3),
            "((a > 1) OR (b < 2)) AND (c = 3)",
        ),
        (col("a").isin([1, 2, 3]), "a IN (1, 2, 3)"),
        (col("a").isin(["x", "it's"]), "a IN ('x', 'it''s')"),
        (col("a").isin([]), "FALSE"),
        (col("a").not_in([1]), "a NOT IN (1)"),
        (col("a").not_in([]), "TRUE"),
        (col("a").isin(np.array([1, 2])), "a IN (1, 2)"),
        (col("a").between(-1, 2.5), "a BETWEEN -1 AND 2.5"),
        (~col("a").between(1, 2), "NOT (a BETWEEN 1 AND 2)"),
        (col("t").contains("ppl"), "CONTAINS(t, 'ppl')"),
        (col("arr").contains(9), "CONTAINS(arr, 9)"),
        (col("t").like("%apple%"), "t LIKE '%apple%'"),
        (col("t").ilike("A%"), "t ILIKE 'A%'"),
        (col("t").not_like("a.c"), "t NOT LIKE 'a.c'"),
        (~col("t").ilike("a"), "NOT (t ILIKE 'a')"),
        (col("t").is_null(), "t IS NULL"),
        (col("t").is_not_null(), "t IS NOT NULL"),
        (col("meta")["source"], "meta['source']"),
        (col("meta")["a"]["b"], "meta['a']['b']"),
        (col("meta")["it's"], "meta['it''s']"),
        (col("e")[0], "e[0]"),
        (col("e")[0:8], "e[0:8]"),
        (col("e")[:2], "e[:2]"),
        (col("e")[::2], "e[::2]"),
        (col("e")[0:], "e[:]"),
        (col("m")[:, 0], "m[:, 0]"),
        (col("m")[0, 1], "m[0, 1]"),
        ((col("n") * 2).alias("d"), "(n * 2) AS d"),
        (col("n").alias("order"), 'n AS "order"'),
        (col("select"), '"select"'),
        (col("my col"), '"my col"'),
        (col("naïve"), '"naïve"'),
        (lit(0.1), "0.1"),
        (lit(np.float32(0.1)), "0.10000000149011612"),
        (lit(0.1, dtype="float32"), "0.10000000149011612"),
        (lit(1e-5), "1e-05"),
        (lit(-0.0), "-0.0"),
        (lit(2**63 - 1), "9223372036854775807"),
        (lit(-(2**63)), "-9223372036854775808"),
        (lit(np.int64(7)), "7"),
        (lit(False), "FALSE"),
        (lit(np.bool_(True)), "TRUE"),
        (lit("line\nbreak\r"), "'line\nbreak\r'"),
        (lit([1, 2, 3]), "ARRAY[1,2,3]"),
        (lit(np.array([[1, 2], [3, 4]], dtype=np.float32)), "ARRAY[ARRAY[1.0,2.0],ARRAY[3.0,4.0]]"),
    ],
)
def test_expression(expr: object, expected: str) -> None:
    assert compile_expr(expr) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (F.cosine_similarity("e", EMB), "COSINE_SIMILARITY(e, ARRAY[0.1,0.2,0.3])"),
        (F.dot("e", [1, 0]), "DOT(e, ARRAY[1,0])"),
        (F.l2_norm(col("e") - EMB), "L2_NORM(e - ARRAY[0.1,0.2,0.3])"),
        (F.l1_norm(col("e") - [1, 2]), "L1_NORM(e - ARRAY[1,2])"),
        (F.linf_norm(col("e") - [1, 2]), "LINF_NORM(e - ARRAY[1,2])"),
        (F.hamming_distance("e", [1, 0]), "HAMMING_DISTANCE(e, ARRAY[1,0])"),
        (F.maxsim("mv", [[1, 0], [0, 1]]), "MAXSIM(mv, ARRAY[ARRAY[1,0],ARRAY[0,1]])"),
        (F.bm25_similarity("text", "moon"), "BM25_SIMILARITY(text, 'moon')"),
        (F.contains("t", "x"), "CONTAINS(t, 'x')"),
        (F.shape("e"), "SHAPE(e)"),
        (F.shape("e")[0] > 2, "SHAPE(e)[0] > 2"),
        (F.count("id"), "SHAPE(id)[0]"),
        (F.data("e", 10), "DATA(e, 10)"),
        (F.any(col("e") > 0.5), "ANY(e > 0.5)"),
        (F.all(col("e") > 0), "ALL(e > 0)"),
        (F.all_strict(col("e") > 0), "ALL_STRICT(e > 0)"),
        (F.logical_and(col("e") > 0, col("e") < 1), "LOGICAL_AND(e > 0, e < 1)"),
        (F.logical_or(col("e") > 0, col("e") < 1), "LOGICAL_OR(e > 0, e < 1)"),
        (F.nonzero("e"), "NONZERO(e)"),
        (F.sum("n"), "SUM(n)"),
        (F.avg("n"), "AVG(n)"),
        (F.prod("n"), "PROD(n)"),
        (F.amin("n"), "AMIN(n)"),
        (F.amax("n"), "AMAX(n)"),
        (F.sqrt("n"), "SQRT(n * 1.0)"),
        (F.abs(col("n") - 3), "ABS(n - 3)"),
        (F.keys("meta"), "KEYS(meta)"),
        (F.row_number(), "ROW_NUMBER()"),
        (F.random(), "RANDOM()"),
        (F.max_weight((col("flag"), 10), (True, 1)), "MAX_WEIGHT(flag: 10, TRUE: 1)"),
        (
            F.sum_weight((col("n") > 0, 2.5), (col("t") == "a", 1)),
            "SUM_WEIGHT((n > 0): 2.5, (t = 'a'): 1)",
        ),
        (
            0.7 * F.cosine_similarity("e", [1, 0]) + 0.3 * F.dot("e", [0, 1]),
            "(0.7 * COSINE_SIMILARITY(e, ARRAY[1,0])) + (0.3 * DOT(e, ARRAY[0,1]))",
        ),
    ],
)
def test_functions(expr: object, expected: str) -> None:
    assert compile_expr(expr) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (select().from_("hub://org/ds"), 'SELECT * FROM "hub://org/ds"'),
        (select("*").from_("x"), "SELECT * FROM x"),
        (select("a", "b").from_("x"), "SELECT a, b FROM x"),
        (select("a").from_("x").limit(5), "SELECT a FROM x LIMIT 5"),
        (select("a").from_("x").limit(5).offset(10), "SELECT a FROM x LIMIT 5 OFFSET 10"),
        (select("a").from_("x").offset(10), "SELECT a FROM x OFFSET 10"),
        (select("a").from_("x").offset(0), "SELECT a FROM x"),
        (select("a").from_("x").limit(0), "SELECT a FROM x LIMIT 0"),
        (select("a"), "SELECT a"),
        (
            select("a").from_("x").where(col("y") > 1).where("flag"),
            "SELECT a FROM x WHERE (y > 1) AND flag",
        ),
        # TRUE is the empty AND (and_() with no conditions): no filter at all
        (select("a").from_("x").where(True), "SELECT a FROM x"),
        (select("a").from_("x").where(False), "SELECT a FROM x WHERE FALSE"),
        (
            select("a").from_("x").where(col("y") > 1, col("z") == "it's"),
            "SELECT a FROM x WHERE (y > 1) AND (z = 'it''s')",
        ),
        (
            select("a").from_("x").order_by("y"),
            "SELECT a FROM x ORDER BY y ASC",
        ),
        (
            select("a").from_("x").order_by(col("y").desc()).limit(3),
            "SELECT a FROM x ORDER BY y DESC LIMIT 3",
        ),
        (
            select("a").from_("x").where(col("y") > 1).order_by(col("y").asc(), "z").limit(2),
            "SELECT a FROM (SELECT * FROM x WHERE y > 1 ORDER BY z ASC) ORDER BY y ASC LIMIT 2",
        ),
        (
            select("a").from_("x").order_by(col("y").desc(), col("z").asc(), "w"),
            "SELECT a FROM (SELECT * FROM (SELECT * FROM x ORDER BY w ASC) "
            "ORDER BY z DESC) ORDER BY y DESC",
        ),
        (
            select("a").from_(select("a", "b").from_("x").where(col("b") > 0)).limit(1),
            "SELECT a FROM (SELECT a, b FROM x WHERE b > 0) LIMIT 1",
        ),
        (
            select((col("n") * 2).alias("d")).from_("x").where(col("d") > 3).order_by("d").limit(2),
            "SELECT * FROM (SELECT (n * 2) AS d FROM x) WHERE d > 3 ORDER BY d ASC LIMIT 2",
        ),
        (
            select("label", F.count("id").alias("n")).from_("x").group_by("label"),
            "SELECT label, SHAPE(id)[0] AS n FROM x GROUP BY label",
        ),
        (
            select("label", F.count("id").alias("n")).from_("x").group_by("label").limit(2),
            "SELECT * FROM (SELECT label, SHAPE(id)[0] AS n FROM x GROUP BY label) LIMIT 2",
        ),
        (
            select("label", F.count("id").alias("n"))
            .from_("x")
            .group_by("label")
            .order_by(col("n").desc())
            .limit(2),
            "SELECT * FROM (SELECT label, SHAPE(id)[0] AS n FROM x GROUP BY label) "
            "ORDER BY n DESC LIMIT 2",
        ),
        (
            select().from_("x").group_by("label").ungroup_by(2),
            "SELECT * FROM (SELECT * FROM x GROUP BY label) UNGROUP BY 2",
        ),
        (
            select("id").from_("x").sample_by(F.max_weight((col("flag"), 10), (True, 1)), limit=5),
            "SELECT id FROM x SAMPLE BY MAX_WEIGHT(flag: 10, TRUE: 1) REPLACE FALSE LIMIT 5",
        ),
        (
            select("id").from_("x").sample_by(1, replace=True),
            "SELECT id FROM x SAMPLE BY 1 REPLACE TRUE",
        ),
        (
            select("id").from_("x").order_by("id").limit(4).sample_by("w", limit=2),
            "SELECT id FROM x ORDER BY id ASC LIMIT 4 SAMPLE BY w REPLACE FALSE LIMIT 2",
        ),
        (
            select("id").from_("x").union(select("id").from_("y")),
            "SELECT * FROM ((SELECT id FROM x) UNION (SELECT id FROM y))",
        ),
        (
            select("id")
            .from_("x")
            .union(select("id").from_("y"))
            .union(select("id").from_("z"))
            .order_by(col("id").desc())
            .limit(3),
            "SELECT * FROM ((SELECT id FROM x) UNION (SELECT id FROM y) UNION "
            "(SELECT id FROM z)) ORDER BY id DESC LIMIT 3",
        ),
        (
            select("id").from_("x").limit(2).union(select("id").from_("y").limit(2)),
            "SELECT * FROM ((SELECT id FROM x LIMIT 2) UNION (SELECT id FROM y LIMIT 2))",
        ),
        (
            select("id").from_("x").text_search("moon landing").limit(5),
            "SELECT id FROM (SELECT * FROM x ORDER BY BM25_SIMILARITY(text, 'moon landing') DESC "
            "LIMIT 2147483647) LIMIT 5",
        ),
        (
            select("id")
            .from_("x")
            .where(col("y") > 1)
            .text_search("it's", column="body")
            .limit(5)
            .offset(10),
            "SELECT id FROM (SELECT * FROM x WHERE y > 1 ORDER BY BM25_SIMILARITY(body, 'it''s') "
            "DESC LIMIT 2147483647) LIMIT 5 OFFSET 10",
        ),
    ],
)
def test_query(query: object, expected: str) -> None:
    assert str(query) == expected


def test_issue_example_shape() -> None:
    q = (
        select("text", "metadata")
        .from_("hub://org/docs")
        .where(col("year") >= 2020, col("metadata")["source"] == "it's a wiki")
        .similar_to(EMB, column="embedding", metric="cosine")
        .order_by("score")
        .limit(5)
    )
    assert q.to_tql() == (
        "SELECT * FROM (SELECT text, metadata, COSINE_SIMILARITY(embedding, "
        'ARRAY[0.1,0.2,0.3]) AS score FROM "hub://org/docs" WHERE (year >= 2020) AND '
        "(metadata['source'] = 'it''s a wiki')) ORDER BY score DESC LIMIT 5"
    )
    assert str(q) == q.to_tql()


@pytest.mark.parametrize(
    ("metric", "score", "direction"),
    [
        ("cosine", "COSINE_SIMILARITY(embedding, ARRAY[0.1,0.2,0.3])", "DESC"),
        ("dot", "DOT(embedding, ARRAY[0.1,0.2,0.3])", "DESC"),
        ("l2", "L2_NORM(embedding - ARRAY[0.1,0.2,0.3])", "ASC"),
        ("l1", "L1_NORM(embedding - ARRAY[0.1,0.2,0.3])", "ASC"),
        ("linf", "LINF_NORM(embedding - ARRAY[0.1,0.2,0.3])", "ASC"),
    ],
)
def test_metrics_order_best_first(metric: str, score: str, direction: str) -> None:
    q = DS.similar_to(EMB, metric=metric).limit(3)
    body = (
        f'SELECT * FROM (SELECT text, {score} AS score FROM "hub://org/ds") '
        f"ORDER BY score {direction}"
    )
    # the engine's top-k path rejects L1/LINF norms, so those limit one level up
    expected = f"SELECT * FROM ({body}) LIMIT 3" if metric in ("l1", "linf") else f"{body} LIMIT 3"
    assert str(q) == expected
    assert str(q.order_by("score")) == expected
    flipped = "ASC" if direction == "DESC" else "DESC"
    explicit = q.order_by(col("score").asc() if flipped == "ASC" else col("score").desc())
    assert f"ORDER BY score {flipped}" in str(explicit)


def test_maxsim_takes_a_matrix() -> None:
    q = select("id").from_("x").similar_to([[1, 0], [0, 1]], column="mv", metric="maxsim").limit(2)
    assert str(q) == (
        "SELECT * FROM (SELECT id, MAXSIM(mv, ARRAY[ARRAY[1,0],ARRAY[0,1]]) AS score "
        "FROM x) ORDER BY score DESC LIMIT 2"
    )


def test_vector_search_with_filters_secondary_key_and_score_filter() -> None:
    q = (
        select("text", "year")
        .from_("x")
        .where(col("year") > 2000, col("score") > 0.5)
        .similar_to(EMB, alias="score")
        .order_by("score", col("year").desc())
        .limit(4)
    )
    assert str(q) == (
        "SELECT * FROM (SELECT text, year, COSINE_SIMILARITY(embedding, "
        "ARRAY[0.1,0.2,0.3]) AS score FROM x WHERE year > 2000 ORDER BY year ASC) "
        "WHERE score > 0.5 ORDER BY score DESC LIMIT 4"
    )


def test_custom_alias_and_column_expression() -> None:
    q = select().from_("x").similar_to(EMB, column=col("emb 2"), alias="sim").limit(1)
    assert str(q) == (
        'SELECT * FROM (SELECT *, COSINE_SIMILARITY("emb 2", ARRAY[0.1,0.2,0.3]) AS sim '
        "FROM x) ORDER BY sim DESC LIMIT 1"
    )


def test_float64_vectors_render_as_python_repr_values() -> None:
    vec = np.array([0.1, 1 / 3, -2.5e-7])
    # dot: cosine refuses this vector (its float32 norm overflows; issue 10 item 4)
    text = str(select("id").from_("x").similar_to(vec, metric="dot").limit(1))
    rendered = text.split("ARRAY[")[1].split("]")[0].split(",")
    assert [float(x) for x in rendered] == vec.tolist()


def test_float32_vectors_are_shortest_round_trip() -> None:
    vec = np.array([0.1, 1e-5, 3.4028235e38, -1.17549435e-38, 1e-45], dtype=np.float32)
    # dot: cosine refuses this vector (its float32 norm overflows; issue 10 item 4)
    text = str(select("id").from_("x").similar_to(vec, metric="dot").limit(1))
    rendered = text.split("ARRAY[")[1].split("]")[0].split(",")
    assert rendered[0] == "0.1"
    assert np.array([float(x) for x in rendered], dtype=np.float32).tobytes() == vec.tobytes()
    assert "np.float32" not in text


def test_non_contiguous_and_big_endian_vectors() -> None:
    base = np.arange(8, dtype=np.float32)
    assert "ARRAY[0.0,2.0,4.0,6.0]" in str(select().from_("x").similar_to(base[::2]).limit(1))
    swapped = np.array([1.5, 2.5], dtype=">f4")
    assert "ARRAY[1.5,2.5]" in str(select().from_("x").similar_to(swapped).limit(1))
    half = np.array([0.5, 1.0], dtype=np.float16)
    assert "ARRAY[0.5,1.0]" in str(select().from_("x").similar_to(half).limit(1))


def test_to_tql_is_cached_and_pretty_is_multiline() -> None:
    q = DS.where(col("year") > 2000).limit(1)
    assert q.to_tql() is q.to_tql()
    pretty = q.to_tql(pretty=True)
    assert "\n" in pretty
    assert " ".join(pretty.split()) == " ".join(q.to_tql().split())
