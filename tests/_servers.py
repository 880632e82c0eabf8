"""Start ``python -m tqlbuilder.server`` as a real child process and read the port it prints.

Children are spawned by exec (``subprocess.Popen`` without ``preexec_fn``): forking a process
that has loaded deeplake's threads can deadlock the child. Also: the dataset the engine
crashes or hangs on (:func:`make_hazard_dataset`) and those inputs, for the isolation tests.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HAZARD_PATH = "hub://org/feat"
# a float array element under BETWEEN: SIGSEGV on deeplake 4.7.4 (check() does not flag it yet)
CRASH_QUERY = f'SELECT id FROM "{HAZARD_PATH}" WHERE features[0] BETWEEN 0.5 AND 1.0'
# CONTAINS with no word on a BM25-indexed column: SIGSEGV (check() refuses it)
CRASH_QUERY_CONTAINS = f"SELECT id FROM \"{HAZARD_PATH}\" WHERE CONTAINS(body, ' ')"
# a SAMPLE BY weight that is zero for every row: never returns, holds the GIL, grows memory
HANG_QUERY = f'SELECT * FROM "{HAZARD_PATH}" SAMPLE BY id < 0 LIMIT 2'

SERVING_PREFIX = "Serving on "
_UNCHECKED_MAIN = (
    "import sys; import tqlbuilder.run.local as local; "
    "local.LocalExecutor._check_hazards = False; "
    "from tqlbuilder.run.server_cli import main; sys.exit(main(sys.argv[1:]))"
)


class ServerProcess:
    """A running server child: ``url``, ``process``, and :meth:`stop` (SIGTERM, then wait)."""

    def __init__(
        self,
        root: Path,
        *,
        token: str | None,
        extra_args: tuple[str, ...] = (),
        unchecked: bool = False,
    ) -> None:
        """``unchecked``: switch the hazard checker off in the child (test-only), so crash and
        hang inputs reach the engine workers."""
        command = [sys.executable, "-m", "tqlbuilder.server", "--root", str(root), "--port", "0"]
        if unchecked:
            command[1:3] = ["-c", _UNCHECKED_MAIN]
        if token is not None:
            command += ["--token", token]
        command += list(extra_args)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # stderr goes to a file: an unread pipe could fill up and block the server
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env
        )
        self.url = self._read_url(timeout=30.0)

    def _read_url(self, *, timeout: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith(SERVING_PREFIX):
                    return line[len(SERVING_PREFIX) :].strip()
                if not line and self.process.poll() is not None:
                    break
        self.process.kill()
        self.process.wait(timeout=10)
        raise RuntimeError(f"server did not start (rc={self.process.returncode}): {self.stderr()}")

    def stderr(self) -> str:
        """What the server wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0, signum: int = signal.SIGTERM) -> int:
        """Signal the child (SIGTERM) and return its exit status (kills it if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()
        return self.process.returncode


def make_hazard_dataset(root: Path) -> Path:
    """Create ``root/org/feat``: id, features (1-D float32 array), body (BM25-indexed text)."""
    import deeplake
    import numpy as np
    from deeplake import types

    (root / "org").mkdir(parents=True, exist_ok=True)
    ds = deeplake.create(f"file://{root / 'org' / 'feat'}")
    ds.add_column("id", types.Int64())
    ds.add_column("features", types.Array(types.Float32(), dimensions=1))
    ds.add_column("body", types.Text(index_type=types.BM25))
    ds.append(
        {
            "id": list(range(6)),
            "features": [np.array([i / 5, 1 - i / 5], dtype=np.float32) for i in range(6)],
            "body": ["a quick fox", "brown bear", "deep lake", "x y", "hello world", "zz top"],
        }
    )
    ds.commit()
    return root


def child_pids(pid: int) -> set[int]:
    """The direct children of ``pid`` (Linux ``/proc``)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return children
