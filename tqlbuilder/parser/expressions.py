"""The expression grammar: operators by binding power (from the lexicon), calls checked against the
function catalog, subscripts, ARRAY literals.

Left-associative operator chains are parsed in a loop (a 100,000-term sum does not recurse);
nesting (parentheses, calls, subqueries) recurses and is bounded by `MAX_DEPTH`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from tqlbuilder.engine.catalog import ABSENT_FUNCTIONS, FUNCTIONS
from tqlbuilder.engine.lexicon import (
    ARITHMETIC_OPERATORS,
    BP_EQUALITY,
    BP_IS,
    BP_MUL,
    BP_ORDERING,
    OPERATORS,
    ORDERING_OPERATORS,
)
from tqlbuilder.engine.rules import (
    array_comparison_problem,
    contains_problem,
    like_pattern_problem,
    sampling_weight_problem,
    sampling_weights_problem,
    text_ordering_problem,
)
from tqlbuilder.errors import (
    BuildError,
    UnsupportedSyntaxError,
)
from tqlbuilder.levels.printer import compile_expr
from tqlbuilder.parser.arrays import ArrayParser
from tqlbuilder.parser.cursor import (
    _FLOAT,
    _IDENTIFIER,
    _INTEGER,
    _KEYWORD,
    _OPERATOR,
    _QUOTED,
    _STRING,
    MAX_DEPTH,
    _describe,
    _is_count,
    _is_text,
)
from tqlbuilder.text.lexer import Token
from tqlbuilder.tree.expr import (
    Binary,
    BoolOp,
    Expr,
    Func,
    InList,
    IsNull,
    Like,
    Literal,
    Neg,
    Not,
    Subscript,
    Vector,
    WeightPair,
    as_literal,
    col,
)

__all__ = ["SUPPORTED_FUNCTIONS", "ExpressionParser"]


#: Engine functions the builder offers, with their arity (None: one or more ``cond: w`` pairs),
#: derived from the catalog.
SUPPORTED_FUNCTIONS: Mapping[str, int | None] = MappingProxyType(
    {name: function.arity for name, function in FUNCTIONS.items()}
)
_NON_ASSOCIATIVE = frozenset({BP_EQUALITY, BP_ORDERING})
_UNSUPPORTED_WORDS = {
    "NULL": (
        "the NULL literal",
        "the engine fails with 'NULL is not supported'; use IS NULL / IS NOT NULL",
    ),
    "CASE": ("CASE", "the engine fails with 'CASE is not supported'"),
    "CAST": ("CAST", "the engine fails with 'CAST is not supported'"),
    "EXISTS": ("EXISTS", "the engine fails with 'EXIST is not supported'"),
    "EXTRACT": ("EXTRACT", "the engine never runs it (date/time functions are not supported)"),
    "INTERVAL": ("INTERVAL", "the engine never runs it (date/time literals are not supported)"),
    "DATE": ("DATE literals", "the engine never runs them (date/time literals are not supported)"),
}

_JOIN_REASON = (
    "the builder does not offer joins (the engine joins only on column equality, and joins are "
    "not known to work over the REST endpoint); join on the client"
)


class ExpressionParser(ArrayParser):
    """Expressions over a `Cursor`."""

    # ------------------------------------------------------------------ expressions
    def _expr(self) -> Expr:
        """``expr OR expr``: the lowest precedence level."""
        first = self._conjunction()
        if not self._is_kw("OR"):
            return first
        operands = [first]
        while self._accept_kw("OR"):
            operands.append(self._conjunction())
        return BoolOp("OR", tuple(operands))  # not .of(): a parenthesised OR stays nested

    def _conjunction(self) -> Expr:
        first = self._predicate()
        if not self._is_kw("AND"):
            return first
        operands = [first]
        while self._accept_kw("AND"):
            operands.append(self._predicate())
        return BoolOp("AND", tuple(operands))

    def _predicate(self) -> Expr:
        """``operand [NOT] IN (...)`` / ``operand BETWEEN a AND b``: they apply to a whole operand.

        In the grammar IN and BETWEEN take a complete operand on their left, so
        ``NOT x IN (1)`` is ``(NOT x) IN (1)`` and ``a = b BETWEEN ...`` is ``(a = b) BETWEEN``.
        """
        left = self._operand(0)
        if self._is_kw("IN"):
            self.i += 1
            return self._in_list(left, negated=False)
        if self._is_kw("NOT") and self._is_kw("IN", offset=1):
            self.i += 2
            return self._in_list(left, negated=True)
        if self._accept_kw("BETWEEN"):
            low = self._operand(0)
            self._expect_kw("AND", "between the BETWEEN bounds")
            # .between(): writes (x >= a) AND (x <= b) where BETWEEN would kill the engine
            return left.between(low, self._operand(0))
        return left

    def _in_list(self, operand: Expr, *, negated: bool) -> Expr:
        if not self._is_op("("):
            self._error(
                f"expected '(' after IN, got {_describe(self._peek())} (TQL has no IN ARRAY[...])"
            )
        j = 1
        while j <= MAX_DEPTH and self._is_op("(", offset=j):  # bounded: deeper is refused
            j += 1
        if self._is_kw("SELECT", "WITH", offset=j):
            self._unsupported(
                "IN (subquery)", "the engine silently returns no rows for x IN (SELECT ...)"
            )
        self.i += 1
        values: list[Literal] = []
        kinds: set[bool] = set()
        while True:
            start = self.position()
            value = self._expr()
            if not isinstance(value, Literal):
                self._unsupported(
                    f"IN with the non-literal value {compile_expr(value)}",
                    "the builder offers IN lists of literal values only (IN over expressions "
                    "returns wrong results on the engine); use = and OR",
                    start,
                )
            if self._is_kw("AS") or self._is_name():
                self._unsupported("an alias inside an IN list", "remove it")
            kinds.add(isinstance(value.value, str))
            if len(kinds) > 1:
                self._unsupported(
                    "an IN list mixing strings and numbers",
                    "the engine cannot compare them in one list ('Can't convert string to "
                    "numeric')",
                    start,
                )
            values.append(value)
            if not self._accept_op(","):
                break
        self._expect_op(")", "after IN list")
        text = ", ".join(value.text for value in values)
        return InList(operand, tuple(value.value for value in values), text, negated)

    def _operand(self, min_bp: int) -> Expr:
        """Precedence climbing over the operators of one operand (everything but AND/OR/IN)."""
        self._nest()
        try:
            return self._climb(min_bp)
        finally:
            self.depth -= 1

    def _climb(self, min_bp: int) -> Expr:
        chained = 0
        left = self._prefix()
        last_bp = 0  # binding power of the non-associative operator just applied, if any
        while True:
            tok = self._peek()
            if tok is None:
                return left
            if tok.kind is _OPERATOR:
                text = tok.text
                if text == "[":
                    chained += 1  # each subscript nests the tree one level deeper
                    if self.depth + chained > MAX_DEPTH:
                        self._error(
                            f"the query nests deeper than {MAX_DEPTH} levels (a chain of "
                            "subscripts) here; tqlbuilder reads at most that many"
                        )
                    left = self._subscript(left)
                    continue
                operator = OPERATORS.get(text)
                info = None if operator is None else (operator.canonical, operator.binding_power)
                if info is None:
                    self._check_operator(text)
                    return left
                op, bp = info
                if bp < min_bp:
                    return left
                if bp == last_bp:
                    self._unexpected(
                        "AND, OR or the end of the comparison (comparisons do not chain: "
                        "write a < b AND b < c)"
                    )
                self.i += 1
                left = self._binary(op, left, self._operand(bp + 1), tok.start)
                last_bp = bp if bp in _NON_ASSOCIATIVE else 0
                continue
            if tok.kind is not _KEYWORD:
                return left
            word = tok.value
            if word in ("LIKE", "ILIKE") or (word == "NOT" and self._is_kw("LIKE", offset=1)):
                if min_bp > BP_EQUALITY:
                    return left
                if last_bp == BP_EQUALITY:
                    self._unexpected("AND, OR or the end of the comparison")
                negated = word == "NOT"
                self.i += 2 if negated else 1
                left = self._like(left, case_insensitive=word == "ILIKE", negated=negated)
                last_bp = BP_EQUALITY
            elif word == "NOT":
                if min_bp > BP_EQUALITY or self._is_kw("IN", offset=1):
                    return left
                after = self._peek(1)
                hint = {
                    "BETWEEN": " (there is no NOT BETWEEN: write NOT (x BETWEEN a AND b))",
                    "ILIKE": " (there is no NOT ILIKE: write NOT (x ILIKE 'p'))",
                }.get(str(after.value) if after is not None else "", "")
                self.i += 1
                self._unexpected(f"LIKE or IN after NOT{hint}")
            elif word == "IS" or word == "ISNULL":
                if min_bp > BP_IS:
                    return left
                self.i += 1
                negated = False
                if word == "IS":
                    negated = self._accept_kw("NOT")
                    self._expect_kw("NULL", "after IS (only IS [NOT] NULL exists)")
                left = IsNull(left, negated)
            else:
                return left

    def _check_operator(self, text: str) -> None:
        if text in ("^", "||"):
            self._unsupported(
                f"the {text} operator",
                f"the engine fails with '{'CONCAT' if text == '||' else '^'} is not supported'",
            )
        if text == ".":
            for tok in self.tokens[self.i :]:  # t.column usually comes from a JOIN: name that
                if tok.kind is _KEYWORD and tok.value == "JOIN":
                    self._unsupported("JOIN", _JOIN_REASON, tok.start)
            self._unsupported(
                "a qualified name (t.column)",
                "the builder has no table aliases or joins; quote a dotted column name as "
                '"t.column"',
            )

    def _binary(self, op: str, left: Expr, right: Expr, position: int) -> Expr:
        if op not in ARITHMETIC_OPERATORS and (
            isinstance(left, Vector) or isinstance(right, Vector)
        ):
            self._unsupported(
                f"the comparison {op} with an ARRAY", array_comparison_problem(), position
            )
        if (_is_text(left) or _is_text(right)) and op in ORDERING_OPERATORS:
            json = any(isinstance(e, Subscript) and e.json_key for e in (left, right))
            problem = text_ordering_problem(json)
            if problem is not None:
                self._unsupported(
                    f"the text ordering comparison {op}",
                    f"{problem}; use =, IN, LIKE or BETWEEN (lexicographic)",
                    position,
                )
        if (_is_text(left) or _is_text(right)) and op in ARITHMETIC_OPERATORS:
            self._unsupported(
                f"arithmetic {op} with a string",
                "TQL has no string concatenation or text arithmetic",
                position,
            )
        return Binary(op, left, right)

    def _like(self, operand: Expr, *, case_insensitive: bool, negated: bool) -> Expr:
        start = self.position()
        pattern = self._operand(BP_EQUALITY + 1)
        if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
            self._unsupported(
                "a LIKE pattern that is not a string literal",
                "the builder's like()/ilike() take a pattern string",
                start,
            )
        problem = like_pattern_problem(pattern.value)
        if problem is not None:
            self._unsupported(f"the LIKE pattern {pattern.text}", problem, start)
        return Like(operand, pattern, case_insensitive, negated)

    def _prefix(self) -> Expr:
        """An operand's first part: a name, literal, call, ARRAY, (expr), -x or NOT x."""
        tok = self._peek()
        if tok is None:
            self._unexpected("an expression")
        kind = tok.kind
        if kind is _IDENTIFIER or kind is _QUOTED:
            self.i += 1
            name = str(tok.value)
            if self._is_op("("):
                return self._call(name, tok.start)
            if self._is_op("."):
                self._check_operator(".")
            return col(name)
        if kind is _INTEGER or kind is _FLOAT:
            self.i += 1
            return self._number(tok, negative=False)
        if kind is _STRING:
            self.i += 1
            return as_literal(tok.value, argument="string literal")
        if kind is _OPERATOR:
            text = tok.text
            if text == "(":
                return self._parenthesized()
            if text == "-":
                return self._negation()
            if text == "*":
                self._unsupported(
                    "'*' inside an expression", "'*' is only valid alone in a select list"
                )
            if text == "?":
                self._unsupported(
                    "a ? parameter",
                    "placeholders exist only in the local SDK's prepared queries; put the value "
                    "in the query",
                )
            if text == "[":
                self._error(
                    "unexpected '['; a bare [...] is not an array literal in TQL: write ARRAY[...]"
                )
            self._unexpected("an expression")
        if kind is _KEYWORD:
            word = tok.value
            if word == "TRUE" or word == "FALSE":
                self.i += 1
                return as_literal(word == "TRUE", argument="boolean literal")
            if word == "NOT":
                self.i += 1
                if self._is_kw("EXISTS"):
                    construct, reason = _UNSUPPORTED_WORDS["EXISTS"]
                    self._unsupported(construct, reason)
                operand = self._operand(BP_EQUALITY)
                if isinstance(operand, Like) and operand.case_insensitive and not operand.negated:
                    return Like(operand.operand, operand.pattern, True, True)  # same text
                return Not(operand)
            if word == "ARRAY":
                return self._array()
            if word == "ALL" and self._is_op("(", offset=1):
                self.i += 1
                return self._call("ALL", tok.start)
            if word in _UNSUPPORTED_WORDS:
                construct, reason = _UNSUPPORTED_WORDS[str(word)]
                self._unsupported(construct, reason)
            if word == "SELECT":
                self._unsupported(
                    "a subquery used as a value", "the engine fails with 'SELECT is not supported'"
                )
        self._unexpected("an expression")

    def _number(self, tok: Token, *, negative: bool) -> Literal:
        value = tok.value
        if isinstance(value, float) and math.isinf(value):
            self._unsupported(
                f"the literal {tok.text}",
                "it overflows to infinity on the engine, and TQL has no infinity literal",
                tok.start,
            )
        assert isinstance(value, (int, float))
        return as_literal(-value if negative else value, argument="number literal")

    def _negation(self) -> Expr:
        """Unary minus; applied directly to a number it folds into a negative literal."""
        self.i += 1
        tok = self._peek()
        if (
            tok is not None
            and (tok.kind is _INTEGER or tok.kind is _FLOAT)
            and not self._is_op("[", offset=1)
        ):
            self.i += 1
            if tok.value == 0 and tok.kind is _INTEGER:
                return Neg(self._number(tok, negative=False))  # keep "-0" (an int has no -0)
            return self._number(tok, negative=True)
        return Neg(self._operand(BP_MUL))

    def _parenthesized(self) -> Expr:
        opened = self.position()
        j = 1
        while j <= MAX_DEPTH and self._is_op("(", offset=j):  # bounded: deeper is refused
            j += 1
        if self._is_kw("SELECT", "WITH", offset=j):
            self._unsupported(
                "a subquery used as a value", "the engine fails with 'SELECT is not supported'"
            )
        number = self._peek(2)
        if (
            self._is_op("-", offset=1)
            and number is not None
            and (number.kind is _INTEGER or number.kind is _FLOAT)
            and self._is_op(")", offset=3)
        ):
            # "(-5)" is how the builder writes a negated literal as an operand (a bare -5 is a
            # negative literal); keep the negation so the text comes back the same
            self.i += 4
            return Neg(self._number(number, negative=False))
        if self._is_kw("TRUE", "FALSE", offset=1) and self._is_op(")", offset=2):
            # "(FALSE)" is how the builder writes an empty IN list inside AND/OR; keep it one
            value = self._is_kw("TRUE", offset=1)
            self.i += 3
            return InList(as_literal(value, argument="boolean literal"), (), "", value)
        self.i += 1
        inner = self._expr()
        self._expect_op(")", f"to close '(' opened at position {opened}")
        return inner

    def _call(self, written: str, start: int) -> Expr:
        """``NAME(args)`` / ``NAME(cond: w, ...)``, checked against the builder's functions."""
        name = written.upper()
        if name not in SUPPORTED_FUNCTIONS:
            hint = ABSENT_FUNCTIONS.get(name, "")
            self._unsupported(
                f"the function {written}",
                f"the engine does not have it{f' ({hint})' if hint else ''}; supported "
                f"functions: {', '.join(sorted(SUPPORTED_FUNCTIONS))}",
                start,
            )
        self.i += 1  # '('
        if self._is_kw("DISTINCT"):
            self._unsupported("DISTINCT inside a function call", "the engine ignores DISTINCT")
        args: list[Expr | WeightPair] = []
        pairs = 0
        if not self._accept_op(")"):
            while True:
                if self._is_op("*"):
                    self._unsupported(
                        f"{name}(*)", "'*' is not a function argument (COUNT does not exist)"
                    )
                arg_start = self.position()
                arg = self._expr()
                if self._is_kw("AS") or self._is_name():
                    self._unsupported("an alias inside a function call", "remove it")
                if self._accept_op(":"):
                    args.append(self._weight_pair(arg, arg_start))
                    pairs += 1
                else:
                    args.append(arg)
                if not self._accept_op(","):
                    break
            self._expect_op(")", f"after the arguments of {name}")
        self._check_call(name, args, pairs, start)
        return Func(name, tuple(args))

    def _weight_pair(self, condition: Expr, start: int) -> WeightPair:
        weight = self._expr()
        if not isinstance(weight, Literal):
            self._unsupported(
                "a sampling weight that is not a number literal",
                "MAX_WEIGHT/SUM_WEIGHT weights must be number literals >= 0",
                start,
            )
        problem = sampling_weight_problem(weight.value)
        if problem is not None:
            self._unsupported(f"the sampling weight {weight.text}", problem, start)
        return WeightPair(condition, weight)

    def _check_call(self, name: str, args: list[Expr | WeightPair], pairs: int, at: int) -> None:
        arity = SUPPORTED_FUNCTIONS[name]
        if arity is None:
            if not args or pairs != len(args):
                self._unsupported(
                    f"{name} without 'condition: weight' pairs",
                    f"{name}(cond1: w1, cond2: w2, ...) takes only such pairs",
                    at,
                )
            problem = sampling_weights_problem(
                [a.weight.value for a in args if isinstance(a, WeightPair)]
            )
            if problem is not None:
                self._unsupported(f"{name} with these weights", problem, at)
            return
        if pairs:
            self._unsupported(
                f"'condition: weight' pairs in {name}",
                "they are only meaningful in MAX_WEIGHT / SUM_WEIGHT",
                at,
            )
        if len(args) != arity:
            self._unsupported(
                f"{name} with {len(args)} argument(s)",
                f"the engine's {name} takes {arity} (it fails with 'requires {arity} arguments')",
                at,
            )
        second = args[1] if arity == 2 else None
        if name == "BM25_SIMILARITY" and not (isinstance(second, Expr) and _is_text(second)):
            self._unsupported(
                "BM25_SIMILARITY without a string literal query", "write the search text", at
            )
        if (
            name == "CONTAINS"
            and isinstance(second, Literal)
            and isinstance(second.value, str)
            and (problem := contains_problem(second.value)) is not None
        ):
            self._unsupported(f"CONTAINS with {second.text}", problem, at)
        if name == "DATA" and not (isinstance(second, Expr) and _is_count(second)):
            self._unsupported(
                "DATA with a row that is not a non-negative integer literal",
                "write DATA(column, 10)",
                at,
            )

    def _subscript(self, operand: Expr) -> Expr:
        """``x['key']`` (JSON) or ``x[i]``, ``x[a:b:c]``, ``x[:, i]`` (tensor)."""
        opened = self.position()
        self.i += 1  # '['
        tok = self._peek()
        if tok is not None and tok.kind is _STRING and self._is_op("]", offset=1):
            self.i += 2
            return self._index(operand, str(tok.value), opened)
        items: list[int | slice] = [self._slice_item()]
        while self._accept_op(","):
            items.append(self._slice_item())
        self._expect_op("]", f"to close the index opened at position {opened}")
        return self._index(operand, tuple(items), opened)

    def _index(self, operand: Expr, item: str | tuple[int | slice, ...], at: int) -> Expr:
        try:
            return operand[item]
        except BuildError as exc:  # e.g. chained tensor subscripts, which come out transposed
            raise UnsupportedSyntaxError(
                f"this index is not supported: {exc}", text=self.text, position=at
            ) from exc

    def _slice_item(self) -> int | slice:
        """One index: an integer literal, or a slice of them (``[a]:[b][:[c]]``)."""
        start = self.position()
        j = self.i
        parts: list[int | None] = [None]
        while j < self.n:
            tok = self.tokens[j]
            if tok.kind is _INTEGER and parts[-1] is None and isinstance(tok.value, int):
                parts[-1] = tok.value
            elif tok.kind is _OPERATOR and tok.text == ":" and len(parts) < 3:
                parts.append(None)
            else:
                break
            j += 1
        end = self.tokens[j] if j < self.n else None
        if end is None or end.kind is not _OPERATOR or end.text not in (",", "]"):
            self._unsupported(
                "a negative or computed index",
                "the engine fails with 'Indexes should be 1D array.' when the row is read (and "
                "x[ARRAY[...]] is not offered); use non-negative integer literals and slices",
                start,
            )
        self.i = j
        if len(parts) == 1:
            assert parts[0] is not None  # an empty item was refused above
            return parts[0]
        if len(parts) == 2 and parts[0] is not None and parts[1] is None:
            self._unsupported(
                f"the open-ended slice [{parts[0]}:]",
                f"the engine reads x[{parts[0]}:] as the single element x[{parts[0]}]; give the "
                "end explicitly, e.g. x[1:384]",
                start,
            )
        if len(parts) == 3 and parts[0] and parts[1] is None:
            self._unsupported(
                "an open-ended slice with a start",
                "the builder does not offer them (the engine reads x[n:] as the element x[n]); "
                "give the end explicitly, e.g. x[1:384:2]",
                start,
            )
        return slice(*parts)
