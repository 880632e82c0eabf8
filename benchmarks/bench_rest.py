"""Figure 3: REST round trips through ``RestExecutor`` against a local stand-in server.

(a) Sequential queries: the API docs' pattern, ``requests.post(url, json=..., headers=...)``
followed by ``.json()`` (a new session, so a new TCP connection, per call), against one
long-lived ``RestExecutor`` (a pooled keep-alive connection; it also validates the body into a
``Result``). The server answers instantly with a fixed small body, so the client's per-query
overhead is what differs.

(b) Concurrency: ``execute_many`` with N workers against sequential ``execute`` calls, with
the server sleeping 20 ms per request (a server-bound workload, as real queries are). With a
server that can take N requests at once the ideal speed-up is N.

(c) Async: ``AsyncRestExecutor.execute_many`` with ``async_queries`` (50) queries in flight
at once against ``RestExecutor.execute_many`` with as many threads (both with a pool of that
many connections), same server delay: one event loop against a thread pool.
"""

from __future__ import annotations

from typing import Any

import requests

from benchmarks._harness import Row, Settings, attach_profile, compare, format_ns, status
from benchmarks.server import ServerHandle, running_server
from tqlbuilder import RestExecutor, Result

__all__ = ["TQL", "docs_pattern", "run"]

TOKEN = "t"
TQL = 'SELECT "id" FROM "hub://org/ds" LIMIT 1'
TARGET_POOLED = 1.5
LINEARITY = 0.8  # "near-linear": at least this fraction of the ideal speed-up
TARGET_WORKERS = 8


def docs_pattern(url: str, tql: str = TQL) -> Any:
    """One query the way the API docs show it: ``requests.post`` then ``.json()``."""
    response = requests.post(
        url,
        json={"query": tql, "as_list": True},
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=60,
    )
    response.raise_for_status()
    return response.json()


def check_equivalent(url: str) -> None:
    """Raise AssertionError unless the docs pattern and the executor return the same rows."""
    document = docs_pattern(url)
    with RestExecutor(token=TOKEN, url=url) as executor:
        result = executor.execute(TQL)
        many = executor.execute_many([TQL] * 3, max_workers=2)
    expected = Result.from_rows(document["tensors"], document["data"])
    if result != expected or result.rows != document["data"]:
        raise AssertionError(f"figure 3: executor {result.rows} != requests {document['data']}")
    if many != [expected] * 3:
        raise AssertionError("figure 3: execute_many results differ from execute")


def _connections_per_batch(server: ServerHandle, batch: Any) -> int:
    before = server.stats()["connections"]
    batch()
    return server.stats()["connections"] - before - 1  # minus the stats call's own


def _pooled(settings: Settings) -> list[Row]:
    n = settings.rest_queries
    with running_server() as server, RestExecutor(token=TOKEN, url=server.url) as executor:
        url = server.url
        check_equivalent(url)

        def baseline() -> None:
            for _ in range(n):
                docs_pattern(url)

        def candidate() -> None:
            for _ in range(n):
                executor.execute(TQL)

        result = compare(
            {"requests.post": baseline, "RestExecutor": candidate},
            rounds=settings.rounds,
            batch_ns=0,
            reps={"requests.post": 1, "RestExecutor": 1},
        )
        opened = {
            "requests.post": _connections_per_batch(server, baseline),
            "RestExecutor": _connections_per_batch(server, candidate),
        }
        speedup = result.speedup("requests.post", "RestExecutor")
        row = Row(
            figure="3",
            case=f"REST: {n} sequential queries, per query",
            baseline=f"requests.post {format_ns(result.median('requests.post') / n)}",
            candidate=f"RestExecutor {format_ns(result.median('RestExecutor') / n)}",
            result=f"{speedup:.3f}x faster",
            target=f">= {TARGET_POOLED}x",
            status=status(speedup >= TARGET_POOLED),
            value=speedup,
            notes=[
                f"TCP connections opened per {n} queries: requests.post "
                f"{opened['requests.post']}, RestExecutor {opened['RestExecutor']}",
                "per query, fastest-slowest round: "
                + ", ".join(
                    f"{name} {format_ns(min(values) / n)}-{format_ns(max(values) / n)}"
                    for name, values in result.samples.items()
                ),
            ],
        )
        per_query = result.median("RestExecutor") / n
        attach_profile(row, lambda: executor.execute(TQL), per_query, settings)
    return [row]


def _concurrent(settings: Settings) -> list[Row]:
    n = settings.concurrent_queries
    delay = settings.server_delay_s
    sweep = sorted({*settings_sweep(settings), settings.concurrent_workers})
    queries = [TQL] * n
    with (
        running_server(delay=delay) as server,
        RestExecutor(token=TOKEN, url=server.url) as executor,
    ):

        def sequential() -> None:
            for query in queries:
                executor.execute(query)

        contenders: dict[str, Any] = {"sequential": sequential}
        for workers in sweep:
            contenders[f"{workers} workers"] = lambda workers=workers: executor.execute_many(
                queries, max_workers=workers
            )
        result = compare(
            contenders,
            rounds=settings.slow_rounds,
            batch_ns=0,
            reps=dict.fromkeys(contenders, 1),
        )
    rows = []
    for workers in sweep:
        name = f"{workers} workers"
        speedup = result.speedup("sequential", name)
        ideal = min(workers, n)
        judged = workers == settings.concurrent_workers
        rows.append(
            Row(
                figure="3",
                case=(
                    f"REST: execute_many, {workers} workers vs sequential, "
                    f"{n} queries, server {delay * 1000:.0f} ms/query"
                ),
                baseline=f"sequential {format_ns(result.median('sequential'))}",
                candidate=f"execute_many {format_ns(result.median(name))}",
                result=f"{speedup:.2f}x faster (ideal {ideal}x)",
                target=f">= {LINEARITY * ideal:.1f}x" if judged else "-",
                status=status(speedup >= LINEARITY * ideal if judged else None),
                value=speedup,
            )
        )
    return rows


def settings_sweep(settings: Settings) -> tuple[int, ...]:
    """Worker counts to show the scaling (the full run adds 2, 4 and 16 around the 8)."""
    if settings.name == "full":
        return (2, 4, 8, 16)
    return (settings.concurrent_workers,)


def _async(settings: Settings) -> list[Row]:
    """AsyncRestExecutor with N queries in flight vs RestExecutor.execute_many on N threads."""
    import asyncio
    import importlib.util

    n = settings.async_queries
    case = (
        f"REST: AsyncRestExecutor.execute_many vs RestExecutor.execute_many, {n} concurrent "
        f"queries, server {settings.server_delay_s * 1000:.0f} ms/query"
    )
    if importlib.util.find_spec("httpx") is None:
        return [Row("3", case, "-", "-", "not measured: httpx missing", "-", "info", 0.0)]
    from tqlbuilder import AsyncRestExecutor

    queries = [TQL] * n
    loop = asyncio.new_event_loop()
    with (
        running_server(delay=settings.server_delay_s) as server,
        RestExecutor(token=TOKEN, url=server.url, pool_size=n) as threaded,
    ):
        async_executor = AsyncRestExecutor(TOKEN, url=server.url, pool_size=n)
        try:

            def with_threads() -> list[Result]:
                return threaded.execute_many(queries, max_workers=n)

            def with_async() -> list[Result]:
                return loop.run_until_complete(
                    async_executor.execute_many(queries, max_concurrency=n)
                )

            import httpx

            bare = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)
            )

            async def bare_gather() -> list[Any]:
                body = {"query": TQL, "as_list": True}
                headers = {"Authorization": f"Bearer {TOKEN}"}
                responses = await asyncio.gather(
                    *(bare.post(server.url, json=body, headers=headers) for _ in queries)
                )
                return [response.json() for response in responses]

            def with_bare_httpx() -> list[Any]:
                return loop.run_until_complete(bare_gather())

            if with_async() != with_threads():
                raise AssertionError("figure 3: async and threaded execute_many disagree")
            contenders = {"threads": with_threads, "async": with_async, "httpx": with_bare_httpx}
            result = compare(
                contenders,
                rounds=settings.slow_rounds,
                batch_ns=0,
                reps=dict.fromkeys(contenders, 1),
            )
        finally:
            loop.run_until_complete(async_executor.aclose())
            loop.run_until_complete(bare.aclose())
            loop.close()
    speedup = result.speedup("threads", "async")
    floor = settings.server_delay_s * 1e9
    return [
        Row(
            figure="3",
            case=case,
            baseline=f"RestExecutor {format_ns(result.median('threads'))}",
            candidate=f"AsyncRestExecutor {format_ns(result.median('async'))}",
            result=f"{speedup:.2f}x faster" if speedup >= 1 else f"{1 / speedup:.2f}x slower",
            target="-",
            status=status(None),
            value=speedup,
            notes=[
                f"one server round trip is {format_ns(floor)}; the same {n} posts through a "
                f"bare httpx.AsyncClient with asyncio.gather take "
                f"{format_ns(result.median('httpx'))}: the async client's cost is httpx's "
                "connection pool (CPU-bound once its connections are kept alive), not tqlbuilder"
            ],
        )
    ]


def run(settings: Settings) -> list[Row]:
    """Pooled sequential round trips, the concurrency sweep, async against threads."""
    return _pooled(settings) + _concurrent(settings) + _async(settings)
