"""Find the hazards in hand-written TQL: text the engine truncates, misreads, ignores or dies on.

Each hazard is a registered `Rule` (a code, a severity, a kind and one small function);
[`check()`][tqlbuilder.check] runs them all over one shared, recursion-free view of the text
(tokens, bracket groups, SELECT levels), so it also reports on queries that would not parse.
Every message says what the Deep Lake 4.7.4 engine does with the construct and how to write it
instead.

The registry is the one list of codes: `RULES`. The executors' refusal sets
(`CRASH_CODES`, `TRUNCATION_CODES`) and the table of codes in the docs are derived
from it.
"""

from __future__ import annotations

from tqlbuilder.text.hazards import expressions, levels, lexical, statements
from tqlbuilder.text.hazards._model import KINDS, Finding, Hit, Kind, Rule, Severity, rule
from tqlbuilder.text.hazards._scan import Context

__all__ = [
    "CRASH_CODES",
    "KINDS",
    "REJECTED_CODES",
    "RULES",
    "TRUNCATION_CODES",
    "Finding",
    "Kind",
    "Rule",
    "Severity",
    "check",
    "codes",
    "codes_table",
]


@rule(
    "check-incomplete",
    "warning",
    "fragile",
    "A rule failed on this text (a checker bug): the other rules still ran",
)
def _incomplete(ctx: Context) -> list[Hit]:  # reported by check() itself, never by a scan
    return []


#: Every rule, in a stable order (lexical, statements, levels, expressions).
RULES: tuple[Rule, ...] = (
    *lexical.RULES,
    *statements.RULES,
    *levels.RULES,
    *expressions.RULES,
    _incomplete,
)
_BY_CODE = {r.code: r for r in RULES}
assert len(_BY_CODE) == len(RULES), "duplicate hazard code"


def codes(*kinds: Kind, severity: Severity | None = None) -> frozenset[str]:
    """The codes of the rules of the given kinds (and severity, if given).

    Examples:
        >>> "contains-without-token" in codes("crash")
        True
    """
    return frozenset(
        r.code for r in RULES if r.kind in kinds and (severity is None or r.severity == severity)
    )


#: Codes whose query kills or hangs the embedded engine process (error severity; the
#: ``sample-may-hang`` warning depends on the data and is not refused).
CRASH_CODES: frozenset[str] = codes("crash", "hang", severity="error")

#: Codes whose presence means the engine would run a different (truncated) query than the text.
TRUNCATION_CODES: frozenset[str] = codes("truncation")

#: Codes of text the engine refuses with an error (loud, not silent).
REJECTED_CODES: frozenset[str] = codes("engine-rejects")


def codes_table() -> str:
    """The table of every code as Markdown (docs/reading-tql.md holds exactly this text).

    Examples:
        >>> codes_table().splitlines()[0]
        '| Code | Severity | Kind | What the engine does |'
    """
    lines = ["| Code | Severity | Kind | What the engine does |", "| --- | --- | --- | --- |"]
    lines += [f"| `{r.code}` | {r.severity} | {r.kind} | {r.summary} |" for r in RULES]
    return "\n".join(lines)


def check(text: str) -> list[Finding]:
    """Report every hazard in ``text``, sorted by position (then code). Never raises.

    Linear in the length of the text at any nesting depth (no recursion). A rule that fails
    on some text (a bug) is reported as a ``check-incomplete`` warning instead of raising.

    Args:
        text: the query text, as it would be sent to the engine.

    Returns:
        The findings, each with ``code``, ``position`` (0-based character offset),
        ``message``, ``severity`` and ``kind``; one per code and position.

    Examples:
        >>> [(f.code, f.position, f.kind) for f in check("SELECT * FROM x WHERE id = 010")]
        [('octal-integer', 27, 'silent-wrong')]
    """
    try:
        ctx = Context(text)
    except Exception as exc:  # documented never to raise
        return [_incomplete_finding("scan", exc)]
    found: dict[tuple[str, int], Finding] = {}
    for each in RULES:
        try:
            for finding in each.run(ctx):
                found.setdefault((finding.code, finding.position), finding)
        except Exception as exc:
            finding = _incomplete_finding(each.code, exc)
            found.setdefault((finding.code, finding.position), finding)
    return sorted(found.values(), key=lambda f: (f.position, f.code))


def _incomplete_finding(where: str, exc: Exception) -> Finding:
    message = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("\r", " ")[:200]
    return Finding(
        _incomplete.code,
        0,
        f"the {where} check failed on this text and was skipped ({message}); please report it",
        _incomplete.severity,
        _incomplete.kind,
    )
