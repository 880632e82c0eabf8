"""What a hazard rule is: its code, severity and kind, and the finding it reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

import attrs

if TYPE_CHECKING:
    from tqlbuilder.text.hazards._scan import Context

__all__ = ["KINDS", "Finding", "Hit", "Kind", "Rule", "Severity", "rule", "rules_in"]

Severity = Literal["error", "warning"]

#: What the engine does with the hazard:
#: ``truncation``: it runs only part of the text; ``crash``: its process dies (SIGSEGV);
#: ``hang``: it never returns and allocates without bound; ``silent-wrong``: it runs and returns
#: other rows (or values) than the text says; ``engine-rejects``: it fails with an error;
#: ``fragile``: it runs as written today, but the construct is easily broken or misread.
Kind = Literal["truncation", "crash", "hang", "silent-wrong", "engine-rejects", "fragile"]
KINDS: tuple[Kind, ...] = (
    "truncation",
    "crash",
    "hang",
    "silent-wrong",
    "engine-rejects",
    "fragile",
)


@attrs.frozen
class Finding:
    """One hazard in a text.

    Attributes:
        code: stable identifier of the rule (e.g. ``"octal-integer"``).
        position: 0-based character offset in the checked text the finding points at.
        message: one line: what the Deep Lake engine does and what to write instead.
        severity: ``"error"`` (the query does not do what it says) or ``"warning"``.
        kind: what the engine does (see `KINDS`): ``"truncation"``, ``"crash"``,
            ``"hang"``, ``"silent-wrong"``, ``"engine-rejects"`` or ``"fragile"``, so callers can
            tell silent hazards from loud engine rejections.
    """

    code: str
    position: int
    message: str
    severity: Severity
    kind: Kind = "silent-wrong"


class Hit(NamedTuple):
    """What a rule function yields: where, and the message."""

    position: int
    message: str


RuleFunction = Callable[["Context"], Iterable[Hit]]


@attrs.frozen
class Rule:
    """A registered hazard rule: a small function over the checker's `Context`.

    Attributes:
        code: the finding code.
        severity: the severity of every finding of this rule.
        kind: what the engine does (see `KINDS`).
        summary: one line for the docs' table of codes.
        find: the function; yields `Hit` s.
    """

    code: str
    severity: Severity
    kind: Kind
    summary: str
    find: RuleFunction = attrs.field(repr=False)

    def run(self, ctx: Context) -> Iterator[Finding]:
        """The rule's findings on ``ctx``."""
        for position, message in self.find(ctx):
            yield Finding(self.code, position, message, self.severity, self.kind)


def rule(code: str, severity: Severity, kind: Kind, summary: str) -> Callable[[RuleFunction], Rule]:
    """Decorator: turn a function ``(ctx) -> Iterable[Hit]`` into a `Rule`."""

    def wrap(function: RuleFunction) -> Rule:
        return Rule(code, severity, kind, summary, function)

    return wrap


def rules_in(namespace: Mapping[str, object]) -> tuple[Rule, ...]:
    """The rules defined in a module namespace, in definition order."""
    return tuple(value for value in namespace.values() if isinstance(value, Rule))
