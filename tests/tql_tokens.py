"""An independent, test-side TQL tokenizer that follows the reference's lexical rules.

It is deliberately separate from ``tqlbuilder.text.lexer`` so the compiler's output is checked
against a second reading of the rules (TQL reference section 5): only space, tab and LF are
whitespace; strings are '...' with '' as the only escape; quoted names are "..." without " or
LF; numbers are decimal; ``--`` starts a comment; any other character is unknown (the engine
would stop reading there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\n]+)
  | (?P<comment>--[^\n]*)
  | (?P<string>'(?:[^'\x00]|'')*')
  | (?P<qident>"[^"\n\x00]+")
  | (?P<float>(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)
  | (?P<int>[0-9]+)
  | (?P<word>[A-Za-z][A-Za-z0-9_]*)
  | (?P<op>==|!=|<>|<=|>=|\|\||[-+*/(){},.;<>=^%:?\[\]|])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    value: object


class LexFailure(AssertionError):
    """The text would not be read completely by the engine."""


def tokenize(text: str) -> list[Tok]:
    """Tokens of ``text`` (whitespace dropped); raises LexFailure where the engine would stop."""
    tokens: list[Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise LexFailure(f"unknown character {text[pos]!r} at {pos} in {text[:200]!r}")
        kind = match.lastgroup
        assert kind is not None
        chunk = match.group()
        pos = match.end()
        if kind == "ws":
            continue
        if kind == "string":
            value: object = chunk[1:-1].replace("''", "'")
        elif kind == "qident":
            value = chunk[1:-1]
        elif kind == "int":
            if len(chunk) > 1 and chunk.startswith("0"):
                raise LexFailure(f"octal-looking integer {chunk!r}")
            value = int(chunk)
        elif kind == "float":
            value = float(chunk)
        elif kind == "word":
            value = chunk.upper()
        else:
            value = chunk
        tokens.append(Tok(kind, chunk, value))
    return tokens


def literal_values(text: str) -> list[object]:
    """Decoded values of the string literals, in order."""
    return [t.value for t in tokenize(text) if t.kind == "string"]


def names(text: str, keywords: frozenset[str] = frozenset()) -> list[str]:
    """Identifiers in order: quoted ones decoded, bare words that are not in ``keywords``."""
    return [
        str(t.value) if t.kind == "qident" else t.text
        for t in tokenize(text)
        if t.kind == "qident" or (t.kind == "word" and t.value not in keywords)
    ]
