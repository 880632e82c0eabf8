"""The fluent, immutable query builder.

Each method returns a new `Query` (an unrolled ``attrs.evolve``) over a frozen node whose
state is all tuples, so a step costs a few microseconds, shares every unchanged part, and can
never change a query someone else holds.

>>> from tqlbuilder import select, col
>>> q = select("text").from_("hub://org/docs").where(col("year") >= 2020).limit(3)
>>> q.to_tql()
'SELECT text FROM "hub://org/docs" WHERE year >= 2020 LIMIT 3'
"""

from __future__ import annotations

from typing import Any

import attrs

from tqlbuilder.build.items import (
    _count,
    _order_key,
    _output_name,
    _select_items,
    _weight_nonzero_everywhere,
)
from tqlbuilder.engine.catalog import METRIC_ALIASES, METRICS, resolve_metric
from tqlbuilder.engine.rules import constant_sampling_problem
from tqlbuilder.engine.sampling import SAMPLE_GUARD_ADVICE, sample_can_exhaust_memory
from tqlbuilder.errors import InvalidValueError, UnsupportedConstructError, UnsupportedTypeError
from tqlbuilder.tree.expr import (
    Expr,
    Literal,
    OrderKey,
    Raw,
    Star,
    as_condition,
    as_expr,
    as_literal,
    as_value,
)
from tqlbuilder.tree.expr import (
    vector as make_vector,
)
from tqlbuilder.tree.literals import check_cosine_query, render_identifier
from tqlbuilder.tree.sources import (
    Dataset,
    Sampling,
    SetOperation,
    Subquery,
    TextSearch,
    VectorSearch,
)

__all__ = ["Query", "select"]

_REPR_LIMIT = 240


@attrs.frozen(eq=False, repr=False)
class Query:
    """A TQL ``SELECT``: start one with [`select()`][tqlbuilder.select], chain the methods below.

    Every method returns a new query: queries are frozen, hashable and compared by structure, so
    they can be shared, extended in two directions and used as cache keys. ``str(q)`` is
    ``q.to_tql()``.

    Examples:
        >>> from tqlbuilder import col, select
        >>> base = select("id").from_("hub://org/ds")
        >>> recent = base.where(col("year") >= 2000).limit(5)
        >>> print(recent)
        SELECT id FROM "hub://org/ds" WHERE year >= 2000 LIMIT 5
        >>> recent == base.where(col("year") >= 2000).limit(5), base.to_tql()
        (True, 'SELECT id FROM "hub://org/ds"')
    """

    items: tuple[Expr, ...] = ()
    source: Dataset | Subquery | SetOperation | None = None
    conditions: tuple[Expr, ...] = ()
    groups: tuple[Expr, ...] = ()
    ungroup_count: int | None = None
    ordering: tuple[OrderKey, ...] = ()
    row_limit: int | None = None
    row_offset: int | None = None
    sampling: Sampling | None = None
    search: VectorSearch | TextSearch | None = None
    # [text] once compiled, [text, trusted] once an executor asked for the provenance
    _tql: list[Any] = attrs.field(factory=list, init=False, repr=False)

    def _replace(self, **changes: Any) -> Query:
        """``attrs.evolve`` unrolled by hand: builder steps are a hot path (2.3 us -> 1.1 us).

        Every unchanged field is shared, never copied; ``test_replace_covers_every_field``
        keeps this list in step with the class.
        """
        get = changes.get
        return Query(
            get("items", self.items),
            get("source", self.source),
            get("conditions", self.conditions),
            get("groups", self.groups),
            get("ungroup_count", self.ungroup_count),
            get("ordering", self.ordering),
            get("row_limit", self.row_limit),
            get("row_offset", self.row_offset),
            get("sampling", self.sampling),
            get("search", self.search),
        )

    # ------------------------------------------------------------------ sources
    def select(self, *items: str | Expr) -> Query:
        """Replace the select list.

        Args:
            *items: Column names and expressions, as for [`select()`][tqlbuilder.select]; none, or
                ``"*"``, selects every column.

        Returns:
            A new query.

        Raises:
            InvalidValueError: two items have the same output name.
        """
        return self._replace(items=_select_items(items))

    def from_(self, source: str | Query) -> Query:
        """Read from a dataset path (``hub://org/ds``...) or from another query (a subquery).

        On a query that reads from a dataset (or from nothing yet) this sets or replaces the
        dataset. On a query that reads from a subquery or a set operation (a parsed
        ``(SELECT ... ) UNION (SELECT ...)`` written for an open dataset), the source is given to
        every inner query that has none, so their clauses are kept.

        Raises:
            UnsupportedTypeError: ``source`` is neither a str nor a Query.
            UnsupportedConstructError: the query reads from a subquery or set operation whose
                inner queries all have their own source (replacing it would drop their clauses).

        Examples:
            >>> from tqlbuilder import parse
            >>> q = parse("(SELECT * WHERE x = 1) UNION (SELECT * WHERE x = 2)")
            >>> q.from_("ds").to_tql()[:49]
            'SELECT * FROM ((SELECT * FROM ds WHERE x = 1) UNI'
            >>> q.from_("ds").to_tql().count("FROM ds")
            2
        """
        if isinstance(source, Query):
            new: Dataset | Subquery = Subquery(source)
        elif isinstance(source, str):
            new = Dataset(source, render_identifier(source, argument="source"))
        else:
            raise UnsupportedTypeError(
                f"from_() takes a dataset path (str) or a Query, got {type(source).__name__}"
            )
        if self.source is None or isinstance(self.source, Dataset):
            return Query(
                self.items,
                new,
                self.conditions,
                self.groups,
                self.ungroup_count,
                self.ordering,
                self.row_limit,
                self.row_offset,
                self.sampling,
                self.search,
            )  # _replace unrolled: a hot step
        filled = _fill_source(self.source, new)
        if filled is None:
            kind = "subquery" if isinstance(self.source, Subquery) else "set operation"
            raise UnsupportedConstructError(
                f"from_() on a query that reads from a {kind} whose queries all have their own "
                f"FROM would replace the {kind} and drop its clauses; call from_() on the inner "
                "queries before combining them, or start a new select()"
            )
        return self._replace(source=filled)

    # ------------------------------------------------------------------ filtering
    def where(self, *conditions: Expr | str | bool) -> Query:
        """Add filters; all conditions (and those of later calls) are combined with ``AND``.

        A ``TRUE`` condition (such as ``and_()`` of nothing, or ``filters.from_dict({})``) means
        "no filter" and adds nothing.

        Args:
            *conditions: Boolean expressions (``col("year") > 2000``), boolean column names, or
                ``True``/``False``.

        Returns:
            A new query.

        Raises:
            InvalidValueError: no condition was given.
            UnsupportedTypeError: a condition is not an expression, a name or a bool.

        Examples:
            >>> from tqlbuilder import col, select
            >>> q = select("id").from_("hub://org/ds")
            >>> print(q.where(col("year") > 2000, col("topic") == "space"))
            SELECT id FROM "hub://org/ds" WHERE (year > 2000) AND (topic = 'space')
        """
        if not conditions:
            raise InvalidValueError("where() needs at least one condition")
        added_list: list[Expr] = []
        for i, c in enumerate(conditions):
            if isinstance(c, Expr) and type(c) is not Literal:  # the common case, as is
                added_list.append(c)
                continue
            condition = as_condition(c, argument=f"where() condition {i}")
            if not (isinstance(condition, Literal) and condition.value is True):
                added_list.append(condition)
        added = tuple(added_list)
        if not added:
            return self
        return Query(
            self.items,
            self.source,
            self.conditions + added,
            self.groups,
            self.ungroup_count,
            self.ordering,
            self.row_limit,
            self.row_offset,
            self.sampling,
            self.search,
        )  # _replace unrolled: a hot step

    # ------------------------------------------------------------------ search
    def similar_to(
        self,
        vector: Any,
        *,
        column: str | Expr = "embedding",
        metric: str = "cosine",
        alias: str = "score",
    ) -> Query:
        """Rank rows by similarity to a vector and add the score as column ``alias``.

        Metrics: ``cosine``, ``dot`` and ``maxsim`` (a 2-D query against multi-vector columns) rank
        highest first; ``l2``, ``l1`` and ``linf`` (distances) lowest first. Names are
        case-insensitive, and the aliases vector stores use are accepted (``"cos"``,
        ``"euclidean"``, ``"ip"``, ``"inner_product"``, ``"manhattan"``...; the table is
        ``tqlbuilder.engine.catalog.METRIC_ALIASES``). Filters from
        [`where()`][tqlbuilder.Query.where] on source columns apply before ranking; a filter on the
        score applies after it.

        Args:
            vector: The query vector: a 1-D list, tuple or numpy array of finite numbers with the
                column's number of dimensions (2-D, ``(m, d)``, for ``maxsim``). float32 arrays are
                written in their shortest exact form.
            column: The vector column (name or expression).
            metric: The similarity or distance function (see above).
            alias: The name of the score column in the result.

        Returns:
            A new query; it needs [`limit()`][tqlbuilder.Query.limit] before it compiles.

        Raises:
            InvalidValueError: the vector is empty, ragged or not finite, or the metric is unknown.
            UnsupportedTypeError: the vector is not a list, tuple or numpy array of numbers.
            UnsupportedConstructError: the query already has a search (for a hybrid ranking, fuse
                two queries with [`reciprocal_rank_fusion()`][tqlbuilder.reciprocal_rank_fusion]).

        Examples:
            >>> from tqlbuilder import select
            >>> q = select("id").from_("hub://org/ds").similar_to([0.5, -0.25]).limit(3)
            >>> print(q)
            SELECT * FROM (SELECT id, COSINE_SIMILARITY(embedding, ARRAY[0.5,-0.25]) AS score
            FROM "hub://org/ds") ORDER BY score DESC LIMIT 3
        """
        spec = resolve_metric(metric) if isinstance(metric, str) else None
        if spec is None:
            raise InvalidValueError(
                f"metric must be one of {', '.join(METRICS)} or an alias "
                f"({', '.join(sorted(METRIC_ALIASES))}), case-insensitive; got {metric!r}"
            )
        if self.search is not None:
            raise UnsupportedConstructError(
                "this query already has a similar_to()/text_search(); for a hybrid score select "
                "an expression such as 0.7 * F.cosine_similarity(...) + 0.3 * F.dot(...)"
            )
        if isinstance(vector, Expr):
            query_vector: Expr = vector
        else:
            query_vector = make_vector(vector, ndim=spec.ndim, argument="vector")
            if spec.name == "cosine":
                check_cosine_query(vector, argument="vector")
        if not isinstance(alias, str):
            raise UnsupportedTypeError(f"alias must be a str, got {type(alias).__name__}")
        names = {_output_name(item) for item in self.items}
        if alias in names:
            raise InvalidValueError(
                f"alias {alias!r} is already a column of the select list; pick another alias"
            )
        search = VectorSearch(
            as_expr(column, argument="column"),
            query_vector,
            spec,
            alias,
            render_identifier(alias, argument="alias"),
        )
        return Query(
            self.items,
            self.source,
            self.conditions,
            self.groups,
            self.ungroup_count,
            self.ordering,
            self.row_limit,
            self.row_offset,
            self.sampling,
            search,
        )  # _replace unrolled: a hot step

    def text_search(self, text: str, *, column: str | Expr = "text") -> Query:
        """Rank rows by BM25 relevance to ``text`` (the column needs a BM25 index).

        Compiles to the only form the engine runs, ``ORDER BY BM25_SIMILARITY(column, 'text') DESC
        LIMIT n``, ranking every match once in a subquery so that pages never repeat or skip tied
        rows. The score cannot be selected, so it cannot be combined with ``order_by``,
        ``group_by`` or ``sample_by``; [`where()`][tqlbuilder.Query.where] filters work.

        Args:
            text: The search text (a Python ``str``; quoted, never parsed as TQL).
            column: The text column with the BM25 index.

        Returns:
            A new query; it needs [`limit()`][tqlbuilder.Query.limit], and
            [`offset()`][tqlbuilder.Query.offset] pages correctly.

        Raises:
            UnsupportedTypeError: ``text`` is not a ``str``.
            UnsupportedConstructError: the query already has a search.

        Examples:
            >>> from tqlbuilder import select
            >>> print(select("id").from_("hub://org/ds").text_search("moon landing").limit(3))
            SELECT id FROM (SELECT * FROM "hub://org/ds"
            ORDER BY BM25_SIMILARITY(text, 'moon landing') DESC LIMIT 2147483647) LIMIT 3
        """
        if not isinstance(text, str):
            raise UnsupportedTypeError(f"text must be a str, got {type(text).__name__}")
        if self.search is not None:
            raise UnsupportedConstructError(
                "this query already has a similar_to()/text_search(); fuse two rankings with "
                "tqlbuilder.reciprocal_rank_fusion instead"
            )
        search = TextSearch(as_expr(column, argument="column"), as_literal(text, argument="text"))
        return self._replace(search=search)

    # ------------------------------------------------------------------ ordering, paging
    def order_by(self, *keys: str | Expr | OrderKey) -> Query:
        """Sort by one or more keys; replaces any earlier ordering.

        Without a direction a key sorts ascending, except the similarity score and similarity
        functions, which sort best first. Several keys work, as nested stable sorts (the engine
        itself honours only the first ``ORDER BY`` key).

        Args:
            *keys: Column names, expressions, or sort keys such as ``col("year").desc()``.

        Returns:
            A new query.

        Raises:
            InvalidValueError: no key was given.

        Examples:
            >>> from tqlbuilder import col, select
            >>> print(select("id").from_("hub://org/ds").order_by(col("year").desc()).limit(5))
            SELECT id FROM "hub://org/ds" ORDER BY year DESC LIMIT 5
        """
        if not keys:
            raise InvalidValueError("order_by() needs at least one key")
        ordering = tuple(_order_key(key, i) for i, key in enumerate(keys))
        return Query(
            self.items,
            self.source,
            self.conditions,
            self.groups,
            self.ungroup_count,
            ordering,
            self.row_limit,
            self.row_offset,
            self.sampling,
            self.search,
        )  # _replace unrolled: a hot step

    def limit(self, n: int) -> Query:
        """Return at most ``n`` rows (groups, on a grouped query).

        Args:
            n: A non-negative ``int`` (the engine returns no rows for a negative one).

        Returns:
            A new query.

        Raises:
            InvalidValueError: ``n`` is negative or beyond int64.
            UnsupportedTypeError: ``n`` is not an ``int``.
        """
        return Query(
            self.items,
            self.source,
            self.conditions,
            self.groups,
            self.ungroup_count,
            self.ordering,
            _count(n, "limit"),
            self.row_offset,
            self.sampling,
            self.search,
        )  # _replace unrolled: a hot step

    def offset(self, n: int) -> Query:
        """Skip the first ``n`` rows; ``LIMIT`` is always written before ``OFFSET``.

        Args:
            n: A non-negative ``int``.

        Returns:
            A new query.

        Raises:
            InvalidValueError: ``n`` is negative or beyond int64.
            UnsupportedTypeError: ``n`` is not an ``int``.
        """
        return self._replace(row_offset=_count(n, "offset"))

    # ------------------------------------------------------------------ grouping, sampling
    def group_by(self, *exprs: str | Expr) -> Query:
        """Group rows: every selected column becomes a per-group sequence.

        Count with ``F.count(col)`` and aggregate with ``F.sum``, ``F.avg``, ``F.amin``, ``F.amax``
        (the engine has no ``COUNT``, ``MIN`` or ``MAX``). A ``LIMIT`` on a grouped query limits
        groups: the grouping is wrapped in a subquery, since the engine would otherwise limit the
        rows before grouping. ``HAVING`` is not offered: the engine ignores it.

        Args:
            *exprs: Column names or expressions to group by.

        Returns:
            A new query.

        Examples:
            >>> from tqlbuilder import F, select
            >>> q = select("topic", F.count("id").alias("n")).from_("hub://org/ds")
            >>> q = q.group_by("topic")
            >>> print(q.limit(3))
            SELECT * FROM (SELECT topic, SHAPE(id)[0] AS n FROM "hub://org/ds" GROUP BY topic)
            LIMIT 3
        """
        if not exprs:
            raise InvalidValueError("group_by() needs at least one expression")
        if self.search is not None:
            raise UnsupportedConstructError("group_by() cannot be combined with a search")
        groups = tuple(as_expr(e, argument=f"group_by() item {i}") for i, e in enumerate(exprs))
        return self._replace(groups=groups)

    def ungroup_by(self, chunks: int) -> Query:
        """Split each group of this grouped query into ``chunks`` rows.

        Args:
            chunks: A positive ``int``.

        Returns:
            A new query, ``SELECT * FROM (<this query>) UNGROUP BY chunks``.

        Raises:
            InvalidValueError: ``chunks`` is less than 1.
        """
        count = _count(chunks, "chunks")
        if count < 1:
            raise InvalidValueError("chunks must be at least 1")
        return Query(source=Subquery(self), ungroup_count=count)

    def sample_by(self, weights: Any, *, replace: bool = False, limit: int | None = None) -> Query:
        """Draw rows at random with the given weights (``SAMPLE BY``).

        ``replace=True`` needs a weight that is provably non-zero: a positive constant, or
        ``F.max_weight`` / ``F.sum_weight`` with a catch-all pair ``(True, w)``; the engine
        allocates memory without bound when every row's weight is zero
        (``tqlbuilder/engine/sampling.py``; pinned by ``tests/test_engine_fatal.py``).
        ``replace=False`` never hangs: with all-zero weights the engine returns the first rows in
        dataset order.

        Args:
            weights: A positive number, a numeric column or expression, or
                [`F.max_weight()`][tqlbuilder.F.max_weight] / ``F.sum_weight()``.
            replace: Whether a row may be drawn twice. ``False`` here (the engine's own default is
                with replacement).
            limit: The number of draws (all rows if ``None``).

        Returns:
            A new query.

        Raises:
            InvalidValueError: a constant weight of 0 or a negative one, or a negative ``limit``.
            UnsupportedConstructError: ``replace=True`` with a weight that may be zero in every
                row.

        Examples:
            >>> from tqlbuilder import F, col, select
            >>> w = F.max_weight((col("topic") == "space", 5), (True, 1))
            >>> print(select("id").from_("hub://org/ds").sample_by(w, limit=10))
            SELECT id FROM "hub://org/ds"
            SAMPLE BY MAX_WEIGHT((topic = 'space'): 5, TRUE: 1) REPLACE FALSE LIMIT 10
        """
        weight = (
            as_value(weights, argument="weights")
            if not isinstance(weights, str)
            else (as_expr(weights, argument="weights"))
        )
        if isinstance(weight, Literal):
            problem = constant_sampling_problem(weight.value)
            if problem is not None:
                raise InvalidValueError(f"weights={weight.value!r} is refused because {problem}")
        if not isinstance(replace, bool):
            raise UnsupportedTypeError(f"replace must be a bool, got {type(replace).__name__}")
        if sample_can_exhaust_memory(
            replace=replace, weight_nonzero_somewhere=_weight_nonzero_everywhere(weight)
        ):
            raise UnsupportedConstructError(
                f"sample_by(..., replace=True) with weight {weight.to_tql()}: {SAMPLE_GUARD_ADVICE}"
            )
        draws = None if limit is None else _count(limit, "limit")
        return self._replace(sampling=Sampling(weight, replace, draws))

    # ------------------------------------------------------------------ set operations
    def union(self, other: Query) -> Query:
        """Rows of either query: ``SELECT * FROM ((this) UNION (other))``.

        Later where/order_by/limit calls apply to the combined rows (the engine ignores
        ORDER BY/LIMIT written after a UNION). Duplicates: over one dataset the engine returns
        the set union of the rows, in dataset order (a row both operands return comes once);
        over two datasets it concatenates the operands.
        Source: ``tests/probes/setop_union.md``, pinned by ``tests/test_engine_semantics.py``.
        """
        return self._set_operation("UNION", other)

    def intersect(self, other: Query) -> Query:
        """Rows of this query that the other also returns (``INTERSECT``).

        The engine computes it for two queries over the same dataset (by row); over two
        different datasets it fails loudly ("Can't compute intersection of two independent
        datasets"). Source: ``tests/probes/setop_union.md``.
        """
        return self._set_operation("INTERSECT", other)

    def except_(self, other: Query) -> Query:
        """Rows of this query that the other does not return: ``... ((this) EXCEPT (other))``.

        Same dataset only, like [`intersect()`][intersect].
        """
        return self._set_operation("EXCEPT", other)

    def _set_operation(self, op: str, other: Query) -> Query:
        name = op.lower() if op != "EXCEPT" else "except_"
        if not isinstance(other, Query):
            raise UnsupportedTypeError(f"{name}() takes a Query, got {type(other).__name__}")
        if op != "UNION" and (self.items or other.items):
            raise UnsupportedConstructError(
                f"{name}() operands must select every column (select() / SELECT *): the engine "
                "computes INTERSECT/EXCEPT only between SELECT * queries over one dataset (with a "
                "column list it fails with 'Can't compute intersection of two independent "
                f"datasets'); select the columns outside: select('id').from_(a.{name}(b))"
            )
        left_names = _explicit_width(self)
        right_names = _explicit_width(other)
        if left_names is not None and right_names is not None and left_names != right_names:
            raise InvalidValueError(
                f"{name}() operands select {left_names} and {right_names} columns; the engine "
                "needs the same number"
            )
        operands: tuple[Query, ...] = (self, other)
        if _is_bare_set_operation(self, op):
            assert isinstance(self.source, SetOperation)
            operands = (*self.source.operands, other)
        return Query(source=SetOperation(op, operands))

    # ------------------------------------------------------------------ output
    def to_tql(self, *, pretty: bool = False) -> str:
        """Compile the query to TQL (cached).

        Args:
            pretty: Lay the same query out over several lines, for reading and logging (send the
                one-line form).

        Returns:
            One line of TQL: no comments, no ``;``, no line ends.

        Raises:
            BuildError: the query cannot be compiled as built (for example a search without
                [`limit()`][tqlbuilder.Query.limit]).

        Examples:
            >>> from tqlbuilder import col, select
            >>> print(select("id").from_("hub://org/ds").where(col("author") == "O'Brien"))
            SELECT id FROM "hub://org/ds" WHERE author = 'O''Brien'
        """
        cache = self._tql
        if not cache:
            from tqlbuilder.compiler.lower import compile_query

            cache.append(compile_query(self))
        if pretty:
            from tqlbuilder.text.formatter import format as format_tql

            pretty_text: str = format_tql(cache[0])
            return pretty_text
        text: str = cache[0]
        return text

    def _compiled(self) -> tuple[str, bool]:
        """The cached text and its provenance: True when no ``raw()`` fragment is in the tree.

        Executors (`tqlbuilder.run.executor.compiled_text()`) skip the hazard check of
        trusted text: it was printed from validated nodes only. Computed once, with the text.
        """
        text = self.to_tql()
        cache = self._tql
        if len(cache) == 1:
            cache.append(not _holds_raw(self))
        trusted: bool = cache[1]
        return text, trusted

    def __str__(self) -> str:
        return self.to_tql()

    def __repr__(self) -> str:
        try:
            text = self.to_tql()
        except Exception as exc:
            return f"<Query (incomplete: {exc})>"
        if len(text) > _REPR_LIMIT:
            text = f"{text[: _REPR_LIMIT - 40]} ... {text[-30:]} ({len(text)} chars)"
        return f"<Query {text}>"

    def key(self) -> tuple[Any, ...]:
        """A hashable structural fingerprint of the whole query.

        Returns:
            A nested tuple; two queries have the same key exactly when they are equal.
        """

        def part(value: Any) -> Any:
            if value is None or isinstance(value, (int, str)):
                return value
            if isinstance(value, tuple):
                return tuple(part(v) for v in value)
            return value.key()

        return tuple(part(getattr(self, f.name)) for f in attrs.fields(Query) if f.init)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Query):
            return NotImplemented
        return self is other or self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __bool__(self) -> bool:
        return True


def _holds_raw(query: Query) -> bool:
    """Whether a ``raw()`` fragment appears anywhere in ``query`` (subqueries included).

    An iterative walk over the attrs fields of every node (queries, sources, searches,
    expressions, sort keys); leaves hold rendered text and are not looked into.
    """
    stack: list[Any] = [query]
    while stack:
        node = stack.pop()
        if isinstance(node, Raw):
            return True
        if isinstance(node, tuple):
            stack.extend(node)
        elif attrs.has(type(node)):
            stack.extend(getattr(node, field.name) for field in attrs.fields(type(node)))
    return False


def _fill_source(
    source: Subquery | SetOperation, new: Dataset | Subquery
) -> Subquery | SetOperation | None:
    """``source`` with ``new`` given to each inner query lacking a source (None: none lacks one)."""
    inner = (source.query,) if isinstance(source, Subquery) else source.operands
    filled: list[Query] = []
    changed = False
    for query in inner:
        if query.source is None:
            filled.append(query._replace(source=new))
            changed = True
        elif isinstance(query.source, Dataset):
            filled.append(query)
        else:
            deeper = _fill_source(query.source, new)
            changed = changed or deeper is not None
            filled.append(query if deeper is None else query._replace(source=deeper))
    if not changed:
        return None
    if isinstance(source, Subquery):
        return Subquery(filled[0])
    return SetOperation(source.op, tuple(filled))


def _explicit_width(query: Query) -> int | None:
    if not query.items or any(isinstance(item, Star) for item in query.items):
        return None
    return len(query.items) + (1 if isinstance(query.search, VectorSearch) else 0)


def _is_bare_set_operation(query: Query, op: str) -> bool:
    source = query.source
    return (
        isinstance(source, SetOperation)
        and source.op == op
        and op != "EXCEPT"  # (A EXCEPT B) EXCEPT C stays nested: EXCEPT is not associative
        and query == Query(source=source)
    )


def select(*items: str | Expr) -> Query:
    """Start a query with its select list.

    A plain ``str`` is always a column name (never raw TQL); computed columns are expressions,
    named with ``.alias()``. Continue with [`Query.from_()`][tqlbuilder.Query.from_] and the other
    methods of [`Query`][tqlbuilder.Query].

    Args:
        *items: Column names and expressions, in output order. None, or ``"*"``, selects every
            column.

    Returns:
        A new query with no source yet.

    Raises:
        InvalidValueError: two items have the same output name (the engine refuses that).
        InvalidIdentifierError: a name TQL cannot express (empty, or containing ``"``, a line
            break or NUL).

    Examples:
        >>> from tqlbuilder import col
        >>> print(select("id", (col("year") - 1900).alias("since")).from_("hub://org/ds"))
        SELECT id, (year - 1900) AS since FROM "hub://org/ds"
        >>> print(select().from_("hub://org/ds"))
        SELECT * FROM "hub://org/ds"
    """
    return Query(items=_select_items(items))
