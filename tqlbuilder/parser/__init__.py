"""Read TQL text back into a builder [`Query`][tqlbuilder.Query].

[`parse()`][tqlbuilder.parse] is a hand-written recursive-descent parser
(`.grammar`, `.expressions`) over the project's lexer, following the
engine's grammar (the v4 bison grammar, reference sections 2-5) and its operator precedence. It
works in two steps:

1. **Syntax.** The text becomes a small tree of SELECT levels whose expressions are already
   builder nodes (``Column``, ``Literal``, ``Binary``...). Constructs the builder deliberately
   does not offer are refused here with `UnsupportedSyntaxError` (an
   `UnsupportedConstructError`) saying what the engine gets wrong and where; text the engine
   would silently truncate (unknown character, CR, NUL, comment, unterminated quote) and text
   that is not TQL are refused with a `TQLSyntaxError` carrying the 0-based position.
2. **Shapes.** Each level becomes a ``Query``. The builder compiles one ``Query`` into several
   nested SELECTs (vector search, nested sorts, grouping under a LIMIT, BM25 paging), so
   candidate ``Query`` values that fold a chain of ``SELECT * FROM (...)`` wrappers back into one
   query are proposed and *accepted only if they compile to exactly the canonical text of the
   input* (the builder's own rendering of the same tree): text equality is what makes the
   recognition safe. In order: an exact candidate; a vector search whose filter sits one level
   up (REST shape A), accepted if it compiles to the input with that filter moved into the
   search (same rows: nothing between the two levels limits or groups); the level mapped one to
   one onto a ``Query``; and, when that one-to-one ``Query`` would be written differently, the
   same-level constructs whose meaning the builder would change are refused first (an alias
   used in its own SELECT's WHERE/ORDER BY, LIMIT next to GROUP BY).

For builder output, ``parse(q.to_tql()).to_tql() == q.to_tql()``; for hand-written TQL the
recompiled text means the same (names quoted, ``==`` -> ``=``, ``<>`` -> ``!=``, compound
operands parenthesised).
"""

from __future__ import annotations

from tqlbuilder.build.query import Query
from tqlbuilder.errors import BuildError, TQLSyntaxError, UnsupportedSyntaxError
from tqlbuilder.parser.cursor import _refuse_truncation
from tqlbuilder.parser.expressions import SUPPORTED_FUNCTIONS
from tqlbuilder.parser.grammar import Parser
from tqlbuilder.parser.recognise import Recogniser
from tqlbuilder.text.lexer import Token, TokenKind, lex

__all__ = ["SUPPORTED_FUNCTIONS", "UnsupportedSyntaxError", "parse"]


def parse(text: str) -> Query:
    """Parse one TQL ``SELECT`` statement into a builder [`Query`][tqlbuilder.Query].

    The result is an ordinary builder value: extend it with ``.where()``, ``.limit()``... For
    builder output, ``parse(q.to_tql()).to_tql() == q.to_tql()``; hand-written TQL comes back
    in the builder's spelling (names quoted where needed, ``==`` as ``=``, compound operands
    parenthesised), with the same meaning.

    Args:
        text: One ``SELECT`` statement. A ``--`` comment is accepted only where it ends the text
            (the engine's comments swallow the lines that follow).

    Returns:
        The query the text describes.

    Raises:
        TQLSyntaxError: the text is not valid TQL, or the engine would silently truncate it
            (unknown character, CR, NUL, comment, unterminated quote); ``position`` points at it.
        UnsupportedSyntaxError: valid TQL the builder does not offer because the engine gets it
            wrong (``DISTINCT``, ``JOIN``, ``HAVING``, a second ``ORDER BY`` key...).

    Examples:
        >>> print(parse('SELECT id FROM "hub://org/ds" WHERE year == 2020').limit(5))
        SELECT id FROM "hub://org/ds" WHERE year = 2020 LIMIT 5
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes a str, got {type(text).__name__}")
    # a comment that swallowed no following line and does not read as 'a--1' hides nothing
    # (the lexer follows the engine: such a comment stops at the end of its line)
    tokens = [tok for tok in lex(text) if not _harmless_comment(text, tok)]
    _refuse_truncation(text, tokens)
    parser = Parser(text, tokens)
    try:
        node = parser.statement()
        return Recogniser(text).query(node)
    except (TQLSyntaxError, UnsupportedSyntaxError):
        raise
    except BuildError as exc:  # a builder constructor refused a value (e.g. CR in a name)
        raise UnsupportedSyntaxError(str(exc), text=text, position=parser.position()) from exc


def _harmless_comment(text: str, tok: Token) -> bool:
    return (
        tok.kind is TokenKind.COMMENT
        and "\n" not in tok.text.rstrip()
        and text[tok.start - 1 : tok.start].isspace()
    )
