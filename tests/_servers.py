"""Start ``python -m tqlbuilder.server`` as a real child process and read the port it prints.

Children are spawned by exec (``subprocess.Popen`` without ``preexec_fn``): forking a process
that has loaded deeplake's threads can deadlock the child.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVING_PREFIX = "Serving on "


class ServerProcess:
    """A running server child: ``url``, ``process``, and :meth:`stop` (SIGTERM, then wait)."""

    def __init__(self, root: Path, *, token: str | None, extra_args: tuple[str, ...] = ()) -> None:
        command = [sys.executable, "-m", "tqlbuilder.server", "--root", str(root), "--port", "0"]
        if token is not None:
            command += ["--token", token]
        command += list(extra_args)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
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
        _, err = self.process.communicate(timeout=10)
        raise RuntimeError(f"server did not start (rc={self.process.returncode}): {err}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the child and return its exit status (kills it if it does not stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.process.returncode
