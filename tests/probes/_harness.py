"""Run engine probes in child processes, so a query that kills the engine loses only itself.

A probe child reads one JSON job per line on stdin, runs it, and prints one JSON answer per
line (flushed). When the child dies (SIGSEGV, OOM, watchdog), the parent knows the job it was
on: the first job without an answer. :func:`run_jobs` restarts the child after that job and
records it as ``{"fatal": <signal or exit code>}``.

Children are started by exec (``subprocess.Popen``, no ``preexec_fn``): forking a process that
has loaded deeplake's threads can deadlock the child (engine-probe.md, section 7). Memory is
capped with ``prlimit``-style ``RLIMIT_AS`` set by the child on itself before importing
deeplake, and every child is killed after ``timeout`` seconds without an answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any

# child side -----------------------------------------------------------------------------------


def serve(handle: Callable[[dict[str, Any]], Any], *, memory_mb: int | None = None) -> None:
    """Child main loop: answer every job line on stdin with ``{"ok": handle(job)}``."""
    if memory_mb is not None:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            answer: dict[str, Any] = {"ok": handle(job)}
        except Exception as exc:  # the engine raises bare RuntimeError; keep the message
            answer = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        print(json.dumps(answer), flush=True)


# parent side ----------------------------------------------------------------------------------


def run_jobs(
    command: list[str],
    jobs: Iterable[dict[str, Any]],
    *,
    timeout: float = 60.0,
    start_timeout: float = 120.0,
    on_answer: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``jobs`` through child processes started with ``command``; one answer per job.

    Answers are ``{"ok": ...}``, ``{"error": "..."}``, or ``{"fatal": returncode}`` when the
    child died on that job (``-11`` is SIGSEGV, ``-9`` a kill by the watchdog or the OOM killer,
    ``"timeout"`` when the watchdog fired).
    """
    pending = list(jobs)
    answers: list[dict[str, Any]] = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    while len(answers) < len(pending):
        child = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert child.stdin is not None and child.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ)

        first = _read_line(selector, child, start_timeout)
        if first is None:
            child.kill()
            child.wait()
            raise RuntimeError(f"probe child did not start: {command}")
        failure: dict[str, Any] | None = None
        for index in range(len(answers), len(pending)):
            try:
                child.stdin.write(json.dumps(pending[index]) + "\n")
                child.stdin.flush()
            except BrokenPipeError:
                failure = {"fatal": child.wait()}
                break
            line = _read_line(selector, child, timeout)
            if line is None or line == "":
                if line is None and child.poll() is None:
                    child.kill()
                    child.wait()
                    failure = {"fatal": "timeout"}
                else:
                    failure = {"fatal": child.wait()}
                break
            answer = json.loads(line)
            answers.append(answer)
            if on_answer is not None:
                on_answer(index, answer)
        selector.close()
        if failure is not None:
            answers.append(failure)
            if on_answer is not None:
                on_answer(len(answers) - 1, failure)
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return answers


def _read_line(
    selector: selectors.BaseSelector, child: subprocess.Popen[str], limit: float
) -> str | None:
    """The child's next line, "" when it died, None when it said nothing within ``limit``."""
    if not selector.select(limit):
        return None
    assert child.stdout is not None
    return child.stdout.readline()


def child_command(script: str, *args: str) -> list[str]:
    """``nice -n 10 python <script> <args>``: probes share two cores with other work."""
    return ["nice", "-n", "10", sys.executable, script, *args]


def _run_query(job: dict[str, Any]) -> Any:
    """Generic job: run ``job["query"]`` and return its columns as JSON-able lists."""
    import deeplake

    view = deeplake.query(job["query"])  # bind the view before reading from it
    out: dict[str, Any] = {}
    for column in view.schema.columns:
        values = view[column.name][:]
        listed = values.tolist() if hasattr(values, "tolist") else list(values)
        out[column.name] = json.loads(json.dumps(listed, default=str))
    return out


def query_command(memory_mb: int = 2048) -> list[str]:
    """A child that answers ``{"query": text}`` jobs with the result's columns."""
    return child_command(__file__, "query", str(memory_mb))


if __name__ == "__main__" and sys.argv[1:2] == ["query"]:
    serve(_run_query, memory_mb=int(sys.argv[2]))
