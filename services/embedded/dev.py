"""`leadflow dev`: the whole pipeline on one machine, from nothing, in one command."""

import asyncio
import base64
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sqlalchemy.engine import make_url

from services.embedded.broker import EmbeddedBroker, free_port
from services.embedded.processes import ServiceProcess
from services.registry import SERVICE_NAMES, service
from shared.db.database import Database, sqlite_url_for
from shared.messaging.kafka_options import TopicShape
from shared.messaging.relay import republish


@dataclass(frozen=True)
class DevCredentials:
    """The token and webhook secrets printed for the developer."""

    api_token: str
    webhook_secrets: dict[str, str]
    generated: bool


def dev_credentials(env: Mapping[str, str]) -> DevCredentials:
    """Honour LEADFLOW_API_TOKEN and LEADFLOW_WEBHOOK_SECRET_<PROVIDER>; generate what is missing."""
    token = env.get("LEADFLOW_API_TOKEN") or secrets.token_urlsafe(32)
    generic = (
        env.get("LEADFLOW_WEBHOOK_SECRET_GENERIC") or "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    )
    return DevCredentials(
        api_token=token,
        webhook_secrets={"generic": generic},
        generated="LEADFLOW_API_TOKEN" not in env,
    )


class EmbeddedPipeline:
    """Broker, databases, migrations and the four services, started and stopped in order."""

    def __init__(self, workdir: Path, port_base: int = 8000, env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port_base = port_base
        self.base_env = dict(os.environ if env is None else env)
        self.credentials = dev_credentials(self.base_env)
        self.broker: EmbeddedBroker | None = None
        self.processes: dict[str, ServiceProcess] = {}
        self.console: ServiceProcess | None = None
        self.console_port = free_port(port_base + 80)  # known before the services start: the notifier links to it

    def start(self, *, log: Callable[[str], None]) -> None:
        """Start everything; raise with the failing part's log if something does not come up."""
        bootstrap = self.base_env.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            shape = TopicShape(partitions=int(self.base_env.get("LEADFLOW_TOPIC_PARTITIONS") or 3))
            self.broker = EmbeddedBroker(free_port(9092), self.workdir / "logs" / "broker.log", topics=shape)
            self.broker.start()
            bootstrap = self.broker.bootstrap_servers
            log(f"broker     embedded Tansu at {bootstrap} (memory storage)")
        else:
            log(f"broker     {bootstrap} (KAFKA_BOOTSTRAP_SERVERS)")
        for index, name in enumerate(SERVICE_NAMES):
            env = self.service_env(name, bootstrap)
            spec = service(name)
            settings = spec.settings(database_url=env["DATABASE_URL"])
            kept = settings.database_url.startswith("sqlite") and _sqlite_file(settings.database_url).exists()
            spec.migrate(settings)
            if kept and self.broker is not None:
                # The embedded broker keeps nothing: events published in the last run but not yet consumed when it
                # stopped are gone with it. Publish the outbox history again; the inboxes drop what was applied.
                queued = asyncio.run(_republish(settings.database_url, settings.database_schema or name))
                if queued:
                    log(f"{name:<10} {queued} events from the last run queued again (consumers skip applied ones)")
            port = free_port(self.port_base + index)
            process = ServiceProcess(name, port, env, self.workdir / "logs" / f"{name}.log")
            process.start()
            self.processes[name] = process
        for process in self.processes.values():
            process.wait_ready()

    def start_console(self) -> ServiceProcess:
        """Start the web console on the services started; returns once it answers."""
        env = dict(self.base_env)
        env.setdefault("LEADFLOW_ENVIRONMENT", "development")
        env["LEADFLOW_API_TOKEN"] = self.credentials.api_token
        env["PYTHONUNBUFFERED"] = "1"
        for name, process in self.processes.items():
            env[f"LEADFLOW_{name.upper()}_URL"] = process.url
        command = [sys.executable, "-m", "services.cli", "console", "--port", str(self.console_port)]
        self.console = ServiceProcess("console", self.console_port, env, self.workdir / "logs" / "console.log", command)
        self.console.start()
        self.console.wait_ready()
        return self.console

    def service_env(self, name: str, bootstrap: str) -> dict[str, str]:
        """The environment a process of service `name` runs with."""
        env = dict(self.base_env)
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        env.setdefault("LEADFLOW_ENVIRONMENT", "development")
        env["LEADFLOW_API_TOKEN"] = self.credentials.api_token
        for provider, secret in self.credentials.webhook_secrets.items():
            env[f"LEADFLOW_WEBHOOK_SECRET_{provider.upper()}"] = secret
        if not self.base_env.get("DATABASE_URL"):
            env["DATABASE_URL"] = sqlite_url_for(self.workdir / "data", name)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("LEADFLOW_CONSOLE_URL", f"http://127.0.0.1:{self.console_port}")
        return env

    def stop(self) -> None:
        """Stop the console and the services first (they flush), then the broker."""
        running = [*([self.console] if self.console else []), *self.processes.values()]
        for process in running:
            process.terminate()
        for process in running:
            process.stop()
        if self.broker is not None:
            self.broker.stop()

    def dead(self) -> list[str]:
        """Names of services (and the console) whose process has exited."""
        running = {**self.processes, **({"console": self.console} if self.console else {})}
        return [name for name, p in running.items() if not p.running()]


def _sqlite_file(url: str) -> Path:
    return Path(make_url(url).database or "")


async def _republish(url: str, schema: str) -> int:
    database = Database(url, schema)
    try:
        return await republish(database)
    finally:
        await database.dispose()


class Printer:
    """Writes the developer-facing lines to stdout, flushed."""

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)  # noqa: T201 - this is the CLI's output


def run_dev(workdir: Path, *, port_base: int, demo: bool) -> int:
    """Run until Ctrl-C or SIGTERM; returns the exit code."""
    say = Printer()
    pipeline = EmbeddedPipeline(workdir, port_base)
    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    try:
        pipeline.start(log=say)
        pipeline.start_console()
        _print_banner(say, pipeline, time.monotonic() - started)
        if demo:
            from services.embedded.demo import run_demo

            run_demo(pipeline, say)
        while not stopping:
            dead = pipeline.dead()
            if dead:
                say(f"stopping: {', '.join(dead)} exited; see {workdir / 'logs'}")
                return 1
            time.sleep(0.3)
        say("stopping…")
        return 0
    except Exception as exc:  # noqa: BLE001 - report any start-up failure plainly, then clean up
        say(f"leadflow dev failed: {exc}")
        return 1
    finally:
        pipeline.stop()
        say("stopped.")


def _print_banner(say: Printer, pipeline: EmbeddedPipeline, seconds: float) -> None:
    creds = pipeline.credentials
    say(f"leadflow is up in {seconds:.1f} s")
    say()
    for name, process in pipeline.processes.items():
        say(f"  {name:<10} {process.url}   docs {process.url}/docs")
    if pipeline.console is not None:
        say(f"  {'console':<10} {pipeline.console.url}   sign in with the API token below")
    say()
    origin = "generated for this run" if creds.generated else "from LEADFLOW_API_TOKEN"
    say(f"  API token ({origin}):")
    say(f"    export LEADFLOW_API_TOKEN={creds.api_token}")
    for provider, secret in creds.webhook_secrets.items():
        say(f"  webhook secret for {provider}:")
        say(f"    export LEADFLOW_WEBHOOK_SECRET_{provider.upper()}={secret}")
    say()
    say(f"  data and logs in {pipeline.workdir}")
    say("  Ctrl-C stops everything.")
    sys.stdout.flush()
