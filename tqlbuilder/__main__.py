"""Command line: ``python -m tqlbuilder check|format FILE|-``.

``check`` prints one finding per line as ``LINE:COL: severity code: message`` and exits 1 if
any finding is an error; ``format`` prints the pretty-printed query. Usage errors exit 2.
Files are read as bytes and decoded as UTF-8 without newline translation, so a CR the engine
would stop at is seen here too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tqlbuilder.errors import TQLSyntaxError

__all__ = ["main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def _read(source: str) -> str:
    """The text of ``source`` (``-`` = stdin), undecodable bytes kept as lone surrogates."""
    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(source, "rb") as handle:
            data = handle.read()
    return data.decode("utf-8", errors="surrogateescape")


def _write(line: str, *, error: bool = False) -> None:
    """Print ``line``; bytes the terminal cannot show are escaped, never an exception."""
    stream = sys.stderr if error else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    safe = line.encode(encoding, "backslashreplace").decode(encoding, "replace")
    print(safe, file=stream)


def _line_col(text: str, position: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a 0-based offset."""
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def _run_check(text: str) -> int:
    from tqlbuilder.text.hazards import check

    findings = check(text)
    for finding in findings:
        line, col = _line_col(text, finding.position)
        _write(f"{line}:{col}: {finding.severity} {finding.code}: {finding.message}")
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK


def _run_format(text: str) -> int:
    from tqlbuilder.text.formatter import format as format_tql

    try:
        formatted = format_tql(text)
    except TQLSyntaxError as exc:
        line, col = _line_col(text, exc.position)
        _write(f"{line}:{col}: error: {exc.reason}", error=True)
        return EXIT_FINDINGS
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        _write(formatted)
    else:  # write the literals' bytes back exactly as they were read
        sys.stdout.flush()
        buffer.write(formatted.encode("utf-8", "surrogateescape") + b"\n")
        buffer.flush()
    return EXIT_OK


_COMMANDS: dict[str, tuple[Callable[[str], int], str]] = {
    "check": (_run_check, "report the hazards in a TQL query (exit 1 if any is an error)"),
    "format": (_run_format, "pretty-print a TQL query on several lines, tokens unchanged"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tqlbuilder", description="Tools for Deep Lake TQL queries."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("file", metavar="FILE", help="file holding one query, or - for stdin")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 findings/errors, 2 usage)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        text = _read(args.file)
    except OSError as exc:
        _write(f"tqlbuilder {args.command}: cannot read {args.file}: {exc.strerror}", error=True)
        return EXIT_USAGE
    run, _ = _COMMANDS[args.command]
    return run(text)


if __name__ == "__main__":
    sys.exit(main())
