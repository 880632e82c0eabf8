"""A compiled Query carries its text and provenance; executors check only untrusted text.

No timing here: ``benchmarks/bench_local.py`` measures what skipping the re-check saves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, reject, settings

from tqlbuilder import F, col, raw, select
from tqlbuilder import strategies as S
from tqlbuilder.build.query import Query
from tqlbuilder.errors import BuildError
from tqlbuilder.levels.nodes import Select
from tqlbuilder.run.executor import compiled_text
from tqlbuilder.text.hazards import check

VECTOR = np.array([0.5, -0.25, 1e-5, 3.0], dtype=np.float32)


def test_builder_queries_are_trusted_and_carry_their_text() -> None:
    q = select("id", "text").from_("ds").where(col("year") > 2020).similar_to(VECTOR).limit(3)
    assert compiled_text(q) == (q.to_tql(), True)
    assert compiled_text(q)[0] is q.to_tql()  # the cached text, not a recompilation


def test_strings_and_foreign_objects_are_never_trusted() -> None:
    class Foreign:
        def to_tql(self) -> str:
            return "SELECT * FROM ds"

        def _compiled(self) -> tuple[str, bool]:  # a look-alike hook is not honoured
            return "SELECT * FROM ds", True

    assert compiled_text("SELECT * FROM ds") == ("SELECT * FROM ds", False)
    assert compiled_text(Foreign()) == ("SELECT * FROM ds", False)


@pytest.mark.parametrize(
    "query",
    [
        select("id").from_("ds").where(raw("year > 2020")),
        select("id").from_(select().from_("ds").where(raw("a = 1"))).limit(2),
        select(raw("a + 1").alias("b")).from_("ds"),
        select("id").from_("ds").order_by(F.abs(raw("a - 2"))),
        select("id").from_("ds").where(col("a") > 1).union(select("id").where(raw("b < 2"))),
        select("id").from_("ds").sample_by(raw("a + 1"), limit=3),
        select("id").from_("ds").similar_to(VECTOR).where(raw("score > 0.5")).limit(2),
    ],
)
def test_a_raw_fragment_anywhere_makes_the_text_untrusted(query: Query) -> None:
    text, trusted = compiled_text(query)
    assert text == query.to_tql() and trusted is False


@settings(max_examples=300, deadline=None)
@given(S.queries())
def test_trusted_text_is_text_the_checker_passes(case: tuple[Any, list[str]]) -> None:
    try:
        text, trusted = compiled_text(case[0])
    except BuildError:
        reject()
    if trusted:
        assert [f for f in check(text) if f.code != "contains-wildcard"] == []


def test_select_level_shortcuts_cover_every_field() -> None:
    import attrs

    level = Select(
        items=(col("a"),),
        where=(col("a") > 1,),
        groups=(col("g"),),
        ungroup=2,
        limit=3,
        offset=4,
        start=7,
    )
    ordered = level.with_order(None)
    tailed = level.with_tail(9, None, None)
    for field in attrs.fields(Select):
        if field.name != "order":
            assert getattr(ordered, field.name) is getattr(level, field.name), field.name
        if field.name not in ("limit", "offset", "sampling"):
            assert getattr(tailed, field.name) is getattr(level, field.name), field.name
    assert (tailed.limit, tailed.offset, tailed.sampling) == (9, None, None)


def test_local_executor_still_refuses_a_hazard_inside_a_raw_fragment() -> None:
    from tqlbuilder import LocalExecutor
    from tqlbuilder.errors import QueryError

    # raw() lexes its fragment but cannot know the engine crash; the executor's check does
    query = select("id").from_("ds").where(raw("CONTAINS(text, '')"))
    assert compiled_text(query)[1] is False
    with pytest.raises(QueryError, match="contains-without-token"):
        LocalExecutor().execute(query)
    with pytest.raises(QueryError, match="contains-without-token"):
        LocalExecutor().execute_many([query, query], max_workers=2)


def test_the_lazy_orjson_option_is_orjsons_numpy_flag() -> None:
    import orjson

    from tqlbuilder.tree import literals

    assert literals._ORJSON_NUMPY == orjson.OPT_SERIALIZE_NUMPY


def test_unrolled_builder_steps_keep_every_other_field() -> None:
    import attrs

    from tqlbuilder.tree.sources import Dataset, Sampling

    base = Query(
        items=(col("a"), col("b")),
        source=Dataset("x", "x"),
        conditions=(col("a") > 1,),
        groups=(col("g"),),
        ungroup_count=3,
        ordering=(col("a").desc(),),
        row_limit=1,
        row_offset=2,
        sampling=Sampling(col("w"), False, 4),
        search=None,
    )
    steps = {
        "source": base.from_("y"),
        "conditions": base.where(col("c") > 2),
        "ordering": base.order_by("b"),
        "row_limit": base.limit(5),
        "search": base.similar_to(VECTOR),
    }
    names = [f.name for f in attrs.fields(Query) if f.init]
    for changed, query in steps.items():
        assert getattr(query, changed) is not getattr(base, changed)
        for name in names:
            if name != changed:
                assert getattr(query, name) is getattr(base, name), (changed, name)
