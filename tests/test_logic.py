"""and_() / or_(): any number of conditions; the empty AND is no filter, the empty OR no row."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._datasets import DOCS_PATH, N_DOCS, make_datasets
from tqlbuilder import LocalExecutor, UnsupportedTypeError, and_, col, or_, select
from tqlbuilder import strategies as S
from tqlbuilder.build.logic import FALSE, TRUE


def test_shapes() -> None:
    a, b, c = col("a") > 1, col("b") < 2, col("c") == 3
    assert and_().equals(TRUE) and and_([]).equals(TRUE) and and_(iter(())).equals(TRUE)
    assert or_().equals(FALSE) and or_([]).equals(FALSE)
    assert and_(a).equals(a) and or_([a]).equals(a)
    assert and_(a, b, c).equals(a & b & c) and and_([a, b, c]).equals(a & b & c)
    assert or_(a, b, c).equals(a | b | c) and or_(x for x in (a, b, c)).equals(a | b | c)
    assert and_(a, and_(), b).equals(a & b)  # TRUE is dropped from an AND
    assert or_(a, or_(), b).equals(a | b)  # FALSE is dropped from an OR
    assert and_(a, True).equals(a) and or_(a, False).equals(a)
    assert and_("flag").to_tql() == col("flag").to_tql()
    assert or_(a, True).to_tql().endswith("TRUE")


def test_where_drops_the_empty_and() -> None:
    base = select("id").from_("ds")
    assert str(base.where(and_())) == str(base)
    assert str(base.where(col("a") > 1, and_())) == str(base.where(col("a") > 1))
    assert "FALSE" in str(base.where(or_()))


@pytest.mark.parametrize("bad", [1, None, 2.5, b"x", [1]])
def test_refuses_non_conditions(bad: object) -> None:
    with pytest.raises(UnsupportedTypeError, match=r"and_\(\) condition 0"):
        and_(bad, col("a") > 1)
    with pytest.raises(UnsupportedTypeError, match=r"or_\(\) condition"):
        or_([col("a") > 1, bad])


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalExecutor]:
    pytest.importorskip("deeplake")
    root: Path = make_datasets(tmp_path_factory.mktemp("logic") / "root")
    with LocalExecutor(root) as executor:
        yield executor


@pytest.mark.engine
@settings(max_examples=60, deadline=None)
@given(
    bounds=st.lists(st.tuples(st.integers(-1, N_DOCS), st.booleans()), max_size=4),
    use_or=st.booleans(),
)
def test_on_the_engine(local: LocalExecutor, bounds: list[tuple[int, bool]], use_or: bool) -> None:
    """Python any()/all() over id comparisons, including the empty cases."""
    conditions = [col("id") < b if less else col("id") >= b for b, less in bounds]
    tests = [(lambda i, b=b: i < b) if less else (lambda i, b=b: i >= b) for b, less in bounds]
    combined = or_(conditions) if use_or else and_(conditions)
    pick = any if use_or else all
    expected = [i for i in range(N_DOCS) if pick(t(i) for t in tests)]
    result = local.execute(select("id").from_(DOCS_PATH).where(combined).order_by("id"))
    assert result.column("id") == expected


# ----------------------------------------------------------------------------- lazy exports


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_import_stays_light_and_new_names_are_lazy() -> None:
    code = (
        "import sys, tqlbuilder\n"
        "heavy = {'tqlbuilder.filters', 'tqlbuilder.strategies', 'tqlbuilder.rank.mmr',\n"
        "         'hypothesis', 'pandas', 'pyarrow', 'tqlbuilder.build.logic'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "from tqlbuilder import filters, and_, or_, mmr\n"
        "from tqlbuilder.filters import from_dict\n"
        "print('hypothesis' in sys.modules, 'pandas' in sys.modules)\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "False False"]


def test_strategies_without_hypothesis_names_the_extra() -> None:
    done = _run("import sys\nsys.modules['hypothesis'] = None\nfrom tqlbuilder import strategies\n")
    assert done.returncode != 0
    assert "ImportError: tqlbuilder.strategies needs hypothesis" in done.stderr
    assert "tqlbuilder[strategies]" in done.stderr


def test_strategies_are_exported() -> None:
    for name in S.__all__:
        assert hasattr(S, name), name
