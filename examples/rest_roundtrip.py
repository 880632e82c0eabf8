"""REST round trip: the quickstart's queries through RestExecutor and a local REST server.

Run it from the repository root after ``pip install -e ".[local]"``::

    python examples/rest_roundtrip.py

It builds the example dataset (as the quickstart does), starts
``python -m tqlbuilder.server --root examples/.datasets --port 0 --token ...`` as a subprocess
(the server speaks the Managed Tensor Database API, ``POST /api/query/v1``), and runs the same
queries through :class:`tqlbuilder.RestExecutor`, exactly as against
``https://app.activeloop.ai/api/query/v1`` with an ``ACTIVELOOP_TOKEN``. It shows the two response
shapes (``as_list`` true: a list of row objects; false: an object of columns), checks that
both give the same :class:`~tqlbuilder.Result` as the embedded engine, runs queries
concurrently, shows two typed errors, and stops the server.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from typing import IO

import requests
from quickstart import ROOT, build_example_dataset, example_queries, print_result

from tqlbuilder import (
    AuthenticationError,
    LocalExecutor,
    QueryError,
    RestExecutor,
    col,
    select,
)

SERVER_START_TIMEOUT = 60.0


def start_server(token: str) -> tuple[subprocess.Popen[str], str]:
    """Start the local REST server as a new process; return it and its endpoint URL.

    The server prints ``Serving on http://HOST:PORT/api/query/v1`` once it listens. The child
    is a fresh interpreter (fork + exec), never a fork of this process, which has imported the
    engine.
    """
    command = [
        sys.executable,
        "-m",
        "tqlbuilder.server",
        "--root",
        str(ROOT),
        "--port",
        "0",
        "--token",
        token,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = _read_url(process, process.stdout)
    return process, url


def _read_url(process: subprocess.Popen[str], stdout: IO[str]) -> str:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        line = stdout.readline()
        if line.startswith("Serving on "):
            return line.removeprefix("Serving on ").strip()
        if not line and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
    process.kill()
    raise RuntimeError("the server did not start in time")


def stop_server(process: subprocess.Popen[str]) -> None:
    """Ask the server to stop (SIGTERM), and kill it if it does not within a few seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def show_wire_shapes(url: str, token: str) -> None:
    """POST one small query by hand to show the two JSON shapes of a successful response."""
    query = select("id", "year").from_("hub://org/passages").where(col("id") < 2)
    for as_list in (True, False):
        response = requests.post(
            url,
            json={"query": query.to_tql(), "as_list": as_list},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        response.raise_for_status()
        print(f"as_list={str(as_list).lower()}: {json.dumps(response.json())}")
    print()


def main() -> None:
    started = time.perf_counter()
    build_example_dataset()
    token = secrets.token_urlsafe(16)  # what ACTIVELOOP_TOKEN holds for the cloud endpoint
    process, url = start_server(token)
    print(f"Local REST server: {url}\n")
    try:
        show_wire_shapes(url, token)
        queries = example_queries()
        local = LocalExecutor(root=ROOT)
        with RestExecutor(token, url=url, timeout=30) as rest:
            for title, query in queries:
                began = time.perf_counter()
                rows = rest.execute(query)  # as_list=True: the server sends row objects
                seconds = time.perf_counter() - began
                columns = rest.execute(query, as_list=False)  # the server sends columns
                print_result(f"{title} (over REST)", query, rows, seconds)
                assert rows == columns, "both response shapes give the same Result"
                assert rows == local.execute(query), "REST and the embedded engine agree"
                print("same Result for as_list=true, as_list=false and the embedded engine\n")

            # several queries at once, on the executor's connection pool
            batch = rest.execute_many([query for _, query in queries], max_workers=3)
            print(f"execute_many: {[len(result) for result in batch]} rows, in input order")

            # errors are typed, carry the HTTP status, and never contain the token
            try:
                rest.execute(select("no_such_column").from_("hub://org/passages"))
            except QueryError as error:
                print(f"QueryError (HTTP {error.status}): {error.server_message}")
        try:
            with RestExecutor("wrong-token", url=url, max_attempts=1) as intruder:
                intruder.execute(queries[0][1])
        except AuthenticationError as error:
            print(f"AuthenticationError (HTTP {error.status})")
    finally:
        stop_server(process)
    print(f"Server stopped (exit status {process.returncode})")
    print(f"Done in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
