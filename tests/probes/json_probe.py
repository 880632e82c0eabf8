"""Re-run the JSON probes of json_missing_keys.md: ``python tests/probes/json_probe.py``.

Prints one line per WHERE clause: the row ids the engine returns, or its error message.
"""

from __future__ import annotations

import deeplake
from deeplake import types

SPARSE = [
    {"src": "a.txt", "n": 1},
    {"other": 1},
    {"src": "b.md", "n": -3.0},
    {"src": "a", "n": "x"},
    {"src": 5, "n": 0.5},
]
MIXED = [
    {"v": v} for v in (1, None, "5", 5, True, False, None, -2.5, "abc", "", [1, 2], {"a": 1}, 0)
]
MIXED[1] = {}
MAX = "1.7976931348623157e308"

PROBES = {
    "sparse": [
        "meta['src'] = 'a'",
        "meta['src'] != 'a'",
        "meta['src'] NOT IN ('a')",
        "NOT (meta['src'] = 'a')",
        "meta['src'] IS NULL",
        "meta['src'] IS NOT NULL",
        "meta['src'] LIKE '%.txt'",
        "meta['src'] ILIKE 'A%'",
        "meta['src'] NOT LIKE '%.txt'",
        "meta['src'] IS NOT NULL AND meta['src'] LIKE '%.txt'",
        "contains(meta['src'], 'a')",
        "NOT contains(meta['src'], 'a')",
        "meta['n'] < 1",
        "meta['n'] > 'a'",
        "meta['n'] != -3",
        "meta['src'] > 'a'",
        "meta['src'] BETWEEN 'a' AND 'az'",
        "meta['n'] IN (-3.0, 0.5)",
        "meta['n'] IN ((-3.0), 0.5)",
        "meta['n'] IN (0 - 3.0, 0.5)",
        "meta['n'] NOT IN (-3.0, 1)",
        "meta['n'] BETWEEN -4 AND 0",
        "contains(meta['n'], -3.0)",
        "contains(meta['n'], 0.5)",
        "meta['n'] = -3.0 OR meta['n'] = 0.5",
        "meta['n'] >= -4 AND meta['n'] <= 0",
        f"meta['n'] >= -{MAX} AND meta['n'] != -3",
        "f IN (-0.5, 0.5)",
        "f BETWEEN -1 AND 1",
    ],
    "mixed": [
        "meta['v'] = 1",
        "meta['v'] = '5'",
        "meta['v'] = 5",
        "meta['v'] != 5",
        f"meta['v'] >= -{MAX}",
        f"meta['v'] < -{MAX}",
        "meta['v'] >= ''",
        "meta['v'] IS NULL",
    ],
}


def make(path: str, metas: list[dict[str, object]]) -> None:
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("f", types.Float32())
    ds.add_column("meta", types.Dict())
    n = len(metas)
    ds.append({"id": list(range(n)), "f": [i - 1.5 for i in range(n)], "meta": metas})
    ds.commit()


def main() -> None:
    make("mem://sparse", SPARSE)
    make("mem://mixed", MIXED)
    for name, wheres in PROBES.items():
        for where in wheres:
            try:
                view = deeplake.query(f'SELECT id FROM "mem://{name}" WHERE {where}')
                result = str([int(i) for i in view["id"][:]])
            except RuntimeError as error:
                result = "error: " + str(error).splitlines()[0]
            print(f"{name:7s} {where:60s} {result}")


if __name__ == "__main__":
    main()
