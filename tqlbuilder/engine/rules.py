"""Engine rules checked in more than one place, each defined once.

Every function returns ``None`` when the engine is safe with the input, or the reason it is not,
written to follow "because" in an error message. The builder raises with the reason, the parser
refuses with it, the checker reports it: one rule, one answer.

>>> contains_problem("moon") is None, contains_problem("!!") is not None
(True, True)
>>> constant_sampling_problem(0) is not None, constant_sampling_problem(True) is not None
(True, True)
>>> sampling_weight_problem(True)
'a boolean sampling weight is not a number the engine can draw with'
>>> open_slice_problem(3, None)
'the engine reads x[3:] as the single element x[3]'
"""

from __future__ import annotations

import re

from tqlbuilder.engine import words

__all__ = [
    "array_comparison_problem",
    "constant_sampling_problem",
    "contains_problem",
    "has_engine_word",
    "like_pattern_problem",
    "open_slice_problem",
    "sampling_weight_problem",
    "sampling_weights_problem",
    "text_ordering_problem",
    "unaliased_item_problem",
]

# the engine's word characters, probed for every code point (tests/probes/contains_words.py)
has_engine_word = words.has_engine_word


def contains_problem(value: str) -> str | None:
    """Why ``CONTAINS(<indexed text column>, value)`` is unsafe, or None.

    A value in which the text index finds no word kills the engine process (SIGSEGV).
    """
    if has_engine_word(value):
        return None
    return (
        "a value with no word character kills the engine process (SIGSEGV) on a column with a "
        "text index"
    )


def sampling_weight_problem(value: object) -> str | None:
    """Why a constant ``SAMPLE BY`` weight (or a ``cond: weight`` weight) is unusable, or None.

    A constant weight must be a number; booleans and text are not weights, and a constant
    weight of zero (or less) makes every row's weight zero, on which the engine allocates
    memory without bound (engine probe §7).
    """
    if isinstance(value, bool):
        return "a boolean sampling weight is not a number the engine can draw with"
    if not isinstance(value, (int, float)):
        return f"a sampling weight must be a number, not {type(value).__name__}"
    if value < 0:
        return "a negative sampling weight is meaningless"
    return None


def constant_sampling_problem(value: object) -> str | None:
    """Why ``SAMPLE BY <constant>`` is unusable, or None: it must be a positive number.

    A constant weight is every row's weight, so zero makes all weights zero (the engine then
    allocates memory without bound, engine probe §7); booleans and text are not weights.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return (
            "a constant sampling weight must be a positive number (all weights zero make the "
            "engine allocate memory without bound; booleans and text are not weights)"
        )
    return None


def sampling_weights_problem(weights: list[object]) -> str | None:
    """Why a set of constant weights is unusable (each one, then all of them zero), or None."""
    for weight in weights:
        problem = sampling_weight_problem(weight)
        if problem is not None:
            return problem
    if all(weight == 0 for weight in weights):
        return (
            "all weights zero: the engine allocates memory without bound when every row's "
            "weight is zero"
        )
    return None


def text_ordering_problem(json_operand: bool) -> str | None:
    """Why ``x < 'text'`` (``<= > >=``) does not mean what it says, or None.

    On a Text column the engine silently returns no rows for an ordering against text; on a JSON
    key it orders JSON strings lexicographically (``tests/probes/json_missing_keys.md``), which
    the builder's JSON null semantics rely on.
    """
    if json_operand:
        return None
    return "the engine silently returns no rows for text < > <= >= on a text column"


def unaliased_item_problem(columns_read: int) -> str | None:
    """Why a select-list expression needs ``AS name``, or None.

    The engine names an unaliased expression after the one column it reads; one that reads none
    (``ROW_NUMBER()``) or several (``x * id``) fails with "SELECT tensor expression containing
    more than one tensor should be aliased." (probed on deeplake 4.7.4; pinned by
    ``tests/test_docs_corpus.py`` and ``tests/test_build_errors.py``).
    """
    if columns_read == 1:
        return None
    return "the engine refuses an unaliased select expression that reads no column or several"


#: ``re`` errors that RE2 reports for the same pattern (unbalanced brackets, a trailing escape).
_RE2_ALSO_REJECTS = (
    "unterminated character set",
    "missing ), unterminated subpattern",
    "unbalanced parenthesis",
    "bad escape (end of pattern)",
)


def like_pattern_problem(pattern: str) -> str | None:
    """Why the engine cannot use ``pattern`` for LIKE / ILIKE, or None.

    The engine turns a LIKE pattern into an RE2 regular expression (``%`` and ``*`` match any
    run, ``?`` one character, every other regex character keeps its meaning) and, when RE2
    cannot compile it (``x[``, ``(``, a trailing backslash), silently matches no row
    (probed on deeplake 4.7.4; pinned by ``tests/test_engine_semantics.py``). Python's ``re``
    compiles the same translation to find those patterns first.
    """
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            parts.append(pattern[index : index + 2])
            index += 2
            continue
        parts.append({"%": ".*", "*": ".*", "?": "."}.get(char, char))
        index += 1
    try:
        re.compile("".join(parts))
    except re.error as exc:
        if not exc.msg.startswith(_RE2_ALSO_REJECTS):
            return None  # Python's re rejects what RE2 may accept (e.g. \\x{5f}): let it pass
        return (
            f"the engine reads LIKE patterns as regular expressions and silently matches no row "
            f"for one it cannot compile ({exc.msg}); escape the regex character with a "
            "backslash"
        )
    return None


def array_comparison_problem() -> str:
    """Why a comparison with an ``ARRAY[...]`` literal is refused.

    On the engine ``x > ARRAY[1, 2]`` (and comparisons of a whole array or slice) silently test
    the first element only (engine probe ``tests/probes/array_elements.py``).
    """
    return (
        "the engine compares only the first element of an ARRAY (silently); compare elements "
        "(col('e')[0] > 1), use isin() for a set of values, or a vector function for similarity"
    )


def open_slice_problem(start: int | None, stop: int | None) -> str | None:
    """Why the slice ``[start:stop]`` does not mean what it says on the engine, or None.

    The engine reads ``x[n:]`` with ``n > 0`` as the single element ``x[n]`` (engine probe §5).
    """
    if stop is None and start not in (None, 0):
        return f"the engine reads x[{start}:] as the single element x[{start}]"
    return None
