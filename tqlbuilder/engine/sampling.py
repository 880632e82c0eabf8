"""When ``SAMPLE BY`` exhausts the engine's memory: the rule, shared by builder and checker.

Probed on deeplake 4.7.4 by ``tests/probes/sampling.py`` (results in
``tests/probes/data/sampling.json``, pinned by ``tests/test_engine_fatal.py``):

* Sampling **with replacement** (no ``REPLACE`` clause, the engine's default, or
  ``REPLACE TRUE``) allocates memory without bound (``MemoryError: std::bad_alloc`` under a
  2 GB ``RLIMIT_AS``, an OOM kill without one) when **every row's weight is exactly zero**,
  whatever the ``LIMIT``: ``SAMPLE BY 0``, ``0.0``, ``-0.0``, ``id < 0``, ``id * 0``,
  ``MAX_WEIGHT(id < 0: 1)``, ``MAX_WEIGHT(id < 0: 1, TRUE: 0)``, ``SUM_WEIGHT(...)`` of false
  conditions. Which rows weigh zero depends on the data, so no text can be proven safe unless
  the weight is a non-zero constant or has a catch-all pair ``TRUE: w`` with ``w != 0``.
* Negative weights do not hang: ``SAMPLE BY -1`` and ``SAMPLE BY 0 - (id < 5)`` draw rows
  (a negative weight counts like its magnitude); tiny weights (``1e-300``) draw rows too.
* ``REPLACE FALSE`` **never hangs**: with all-zero weights it returns the first rows in
  dataset order (``SAMPLE BY 0 REPLACE FALSE LIMIT 2`` gives rows 0 and 1), and once the
  rows with a non-zero weight are drawn it fills up with zero-weight rows in order.
* Input of one row never hangs; input of no rows fails loudly (``Can't sample empty column.``).
  When the WHERE keeps only rows of weight zero but other rows of the dataset weigh more
  (``WHERE id < 3 SAMPLE BY id > 5``), it does not hang either, but every draw is the first
  kept row (``[0, 0, 0]``): silently not random.

So ``REPLACE FALSE`` is the guard. `sample_can_exhaust_memory()` states the rule.
"""

from __future__ import annotations

__all__ = ["SAMPLE_GUARD_ADVICE", "sample_can_exhaust_memory"]

#: what to tell a user whose SAMPLE BY is unguarded (builder, check() and executors share it)
SAMPLE_GUARD_ADVICE = (
    "SAMPLE BY with replacement (no REPLACE clause, or REPLACE TRUE) makes the engine allocate "
    "memory without bound when every row's weight is zero (deeplake 4.7.4); write REPLACE FALSE "
    "(sample_by(..., replace=False)), or make the weight a non-zero constant or add a catch-all "
    "pair such as MAX_WEIGHT(cond: 10, TRUE: 1)"
)


def sample_can_exhaust_memory(*, replace: bool | None, weight_nonzero_somewhere: bool) -> bool:
    """True when a ``SAMPLE BY`` may make the engine allocate memory without bound.

    Args:
        replace: the ``REPLACE`` flag as written: ``True`` / ``False``, or ``None`` when the
            query has no ``REPLACE`` clause (the engine then samples with replacement).
        weight_nonzero_somewhere: ``True`` only when the weight is *provably* non-zero on
            every row the sampling sees: a non-zero numeric constant, or ``MAX_WEIGHT`` /
            ``SUM_WEIGHT`` with a pair ``TRUE: w`` where ``w != 0`` (for ``SUM_WEIGHT`` every
            other weight must have the sign of ``w``, or sums can cancel to zero). A column or
            condition weight is ``False`` here: it may be zero on every row of some input.

    Returns:
        ``False`` for ``REPLACE FALSE`` (never hangs) and for provably non-zero weights;
        ``True`` otherwise.

    Examples:
        >>> sample_can_exhaust_memory(replace=False, weight_nonzero_somewhere=False)
        False
        >>> sample_can_exhaust_memory(replace=None, weight_nonzero_somewhere=False)
        True
        >>> sample_can_exhaust_memory(replace=True, weight_nonzero_somewhere=True)
        False
    """
    if replace is False:
        return False
    return not weight_nonzero_somewhere
