"""Command line: ``python -m tqlbuilder check FILE [FILE ...]`` and ``format FILE``.

``check`` prints one finding per line as ``LINE:COL: severity code: message`` (with several
files, prefixed by ``PATH:``), so it can run as a pre-commit hook over many files at once.
``format`` prints the pretty-printed query. ``-`` reads standard input. Files are read as
bytes and decoded as UTF-8 without newline translation, so a CR the engine would stop at is
seen here too.

Exit codes:
    0: no finding of severity error (warnings alone exit 0); ``format`` succeeded.
    1: at least one error finding in any file; ``format`` refused the text.
    2: usage error, or a file could not be read (the other files are still checked).
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


def _run_check(sources: list[str]) -> int:
    from tqlbuilder.text.hazards import check

    status = EXIT_OK
    for source in sources:
        text = _read_or_report("check", source)
        if text is None:
            status = EXIT_USAGE
            continue
        prefix = f"{source}:" if len(sources) > 1 else ""
        findings = check(text)
        for finding in findings:
            line, col = _line_col(text, finding.position)
            _write(f"{prefix}{line}:{col}: {finding.severity} {finding.code}: {finding.message}")
        if any(f.severity == "error" for f in findings) and status == EXIT_OK:
            status = EXIT_FINDINGS
    return status


def _read_or_report(command: str, source: str) -> str | None:
    try:
        return _read(source)
    except OSError as exc:
        _write(f"tqlbuilder {command}: cannot read {source}: {exc.strerror}", error=True)
        return None


def _run_format(sources: list[str]) -> int:
    text = _read_or_report("format", sources[0])
    if text is None:
        return EXIT_USAGE
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


_COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "check": (_run_check, "report the hazards in TQL files (exit 1 if any is an error)"),
    "format": (_run_format, "pretty-print a TQL query on several lines, tokens unchanged"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tqlbuilder", description="Tools for Deep Lake TQL queries."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == "check":
            sub.add_argument(
                "file", metavar="FILE", nargs="+", help="files holding one query each (- = stdin)"
            )
        else:
            sub.add_argument("file", metavar="FILE", help="file holding one query, or - for stdin")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 findings/errors, 2 usage).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 (no errors), 1 (an error finding, or ``format`` refused), 2 (usage, unreadable file).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    run, _ = _COMMANDS[args.command]
    return run(args.file if isinstance(args.file, list) else [args.file])


if __name__ == "__main__":
    sys.exit(main())
