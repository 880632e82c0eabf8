"""``python -m tqlbuilder check|format FILE|-``: output format, exit codes, stdin, raw bytes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tqlbuilder.__main__ import main

FINDING_LINE = re.compile(r"^(\d+):(\d+): (error|warning) ([a-z0-9-]+): (.+)$")


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command in a fresh interpreter (stdin as bytes, output as text)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tqlbuilder", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def write(tmp_path: Path, text: str | bytes, name: str = "q.tql") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


def test_check_reports_line_and_column_and_exits_1(tmp_path: Path) -> None:
    query = 'SELECT id\nFROM "x"\nWHERE id = 010 OR t = "v"\n'
    result = cli("check", write(tmp_path, query))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    parsed = [FINDING_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in parsed if m] == [
        ("3", "12", "error", "octal-integer"),
        ("3", "23", "warning", "double-quoted-string"),
    ]


def test_check_clean_query_prints_nothing_and_exits_0(tmp_path: Path) -> None:
    query = 'SELECT "id" FROM "x" ORDER BY COSINE_SIMILARITY("e", ARRAY[1, 0]) DESC LIMIT 3\n'
    result = cli("check", write(tmp_path, query))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    result = cli("check", write(tmp_path, 'SELECT id FROM "x" -- note\nWHERE id = 1'))
    assert result.returncode == 0
    assert result.stdout.startswith("1:20: warning comment: ")


def test_check_reads_stdin_and_keeps_carriage_returns() -> None:
    result = cli("check", "-", stdin=b'SELECT id FROM "x"\r\nWHERE id = 1\r\n')
    assert result.returncode == 1
    assert result.stdout.startswith("1:19: error carriage-return: ")


def test_check_survives_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    result = cli("check", write(tmp_path, b'SELECT id FROM "x\xff" WHERE id = 1 \xe9 OR id = 2'))
    assert result.returncode == 1
    assert "non-ascii-outside-quotes" in result.stdout
    assert "Traceback" not in result.stderr


def test_format_prints_the_layout(tmp_path: Path) -> None:
    query = "select * from (select id from \"x\" where t = 'é') order by id limit 2"
    result = cli("format", write(tmp_path, query))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "select *\nfrom (\n    select id\n    from \"x\"\n    where t = 'é'\n)\n"
        "order by id\nlimit 2\n"
    )


def test_format_from_stdin_keeps_bytes_exactly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tqlbuilder", "format", "-"],
        input=b"SELECT id FROM \"x\" WHERE t = 'caf\xc3\xa9 \xff'",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stdout == b"SELECT id\nFROM \"x\"\nWHERE t = 'caf\xc3\xa9 \xff'\n"


def test_format_refuses_a_comment_and_points_at_it(tmp_path: Path) -> None:
    result = cli("format", write(tmp_path, 'SELECT id\nFROM "x" -- c\nWHERE id = 1'))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("2:10: error: cannot format text with a comment")
    assert "tqlbuilder.check(text)" in result.stderr


@pytest.mark.parametrize(
    "args", [(), ("lint", "x.tql"), ("check",), ("format", "a", "b"), ("format",)]
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = cli("check", str(tmp_path / "missing.tql"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_main_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 'SELECT DISTINCT id FROM "x"')
    assert main(["check", path]) == 1
    out = capsys.readouterr().out
    assert out.startswith("1:8: error distinct-ignored: ")
    assert main(["--help"]) == 0
    assert "check" in capsys.readouterr().out
    assert main(["bogus"]) == 2


def test_check_many_files_prefixes_paths_and_keeps_going(tmp_path: Path) -> None:
    """pre-commit passes many files: each line names its file; the worst status wins."""
    clean = write(tmp_path, 'SELECT id FROM "x" WHERE id = 1', "clean.tql")
    warned = write(tmp_path, 'SELECT id FROM "x" -- note\nWHERE id = 1', "warned.tql")
    broken = write(tmp_path, 'SELECT id FROM "x" WHERE id = 010', "broken.tql")
    result = cli("check", clean, warned, broken)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(f"{warned}:1:20: warning comment: ")
    assert result.stdout.splitlines()[1].startswith(f"{broken}:1:31: error octal-integer: ")
    assert len(result.stdout.splitlines()) == 2
    assert cli("check", clean, warned).returncode == 0


def test_check_reports_engine_rejected_syntax(tmp_path: Path) -> None:
    result = cli("check", write(tmp_path, "SELECT COUNT(*) AS c FROM \"x\" WHERE t CONTAINS 'a'"))
    assert result.returncode == 1
    codes = [FINDING_LINE.match(line).group(4) for line in result.stdout.splitlines()]  # type: ignore[union-attr]
    assert codes == ["absent-function", "infix-contains"]


def test_a_missing_file_among_many_exits_2_after_checking_the_rest(tmp_path: Path) -> None:
    broken = write(tmp_path, 'SELECT id FROM "x" WHERE id = 010', "broken.tql")
    result = cli("check", str(tmp_path / "missing.tql"), broken)
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert "octal-integer" in result.stdout
