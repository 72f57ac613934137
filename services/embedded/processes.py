"""Run a service as a child process (`leadflow serve NAME`) and wait for its /readyz."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx


class ServiceProcess:
    """One service in a child process, with its own environment and log file."""

    def __init__(
        self, name: str, port: int, env: Mapping[str, str], log_file: Path, command: list[str] | None = None
    ) -> None:
        self.command = command or [sys.executable, "-m", "services.cli", "serve", name, "--port", str(port)]
        self.name = name
        self.port = port
        self.env = dict(env)
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Launch the child; returns at once (see wait_ready)."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the parent forwards Ctrl-C itself, in order
        )

    def running(self) -> bool:
        """Whether the child is alive."""
        return self._process is not None and self._process.poll() is None

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until /readyz answers 200; raise with the log's tail if it does not."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited early; last log lines:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout_s} s; last log lines:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._process is not None and self.running():
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._close_log()

    def terminate(self) -> None:
        """Send SIGTERM without waiting, so several services can shut down at once."""
        if self._process is not None and self.running():
            self._process.terminate()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM and wait for a clean shutdown; SIGKILL if it does not come."""
        if self._process is not None and self.running():
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._close_log()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the child's log."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
