"""Run an import: the upload is read in a worker thread and stored in chunks, then imported a chunk per
transaction, its progress and row errors recorded as it goes (docs/architecture.md, "Imports").

The chunk a transaction imports is deleted in that transaction, so a runner that stops (a restart, a crash)
leaves exactly the rows still to do; any replica's `resume_stale` goes on with them once the import's heartbeat
is old. Rows are idempotent by their key besides, as they always were.
"""

import asyncio
import csv
import io
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import structlog
import yaml
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.intake.commands import capture
from services.intake.commands.capture import Arrival
from services.intake.commands.imports.mapping import ImportMapping, RowError, read_row, row_key
from services.intake.persistence import repository
from services.intake.persistence.tables import import_chunks, imports
from services.intake.webhooks.contract import Parsed
from shared.db.database import aware
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)
_MAX_ERRORS_KEPT = 1000
CHUNK_ROWS = 250
# A runner beats with every chunk (a chunk takes well under a second); one silent this long has stopped.
STALE_AFTER = timedelta(seconds=120)


class ImportRefused(ValueError):
    """A file that cannot be imported at all (not CSV, columns the mapping needs are missing)."""


class CsvRows:
    """A CSV upload read a chunk at a time, for a worker thread: parsing 64 MiB on the event loop stalled every
    request of the process for seconds."""

    def __init__(self, binary: IO[bytes], mapping: ImportMapping) -> None:
        self._text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        self._reader = csv.DictReader(self._text)
        try:
            header = [h for h in (self._reader.fieldnames or []) if h]
        except UnicodeDecodeError as exc:
            raise ImportRefused(f"the file is not UTF-8 text: {exc}") from exc
        if not header:
            raise ImportRefused("the file has no header row")
        missing = sorted(mapping.columns() - set(header))
        if missing:
            raise ImportRefused(f"columns the mapping names are not in the file: {missing}")
        self.header = header

    def take(self, count: int) -> list[dict[str, str | None]]:
        """Up to `count` more rows; none at the end."""
        rows: list[dict[str, str | None]] = []
        try:
            for row in self._reader:
                rows.append(row)
                if len(rows) == count:
                    break
        except UnicodeDecodeError as exc:
            raise ImportRefused(f"the file is not UTF-8 text after row {self._reader.line_num}: {exc}") from exc
        except csv.Error as exc:
            raise ImportRefused(f"the file is not valid CSV at line {self._reader.line_num}: {exc}") from exc
        return rows


async def stage(
    uow: UnitOfWorkFactory, mapping: ImportMapping, mapping_text: str, filename: str | None, upload: IO[bytes]
) -> str:
    """Read the upload in a worker thread and store its rows in chunks; returns the import's id. A file refused
    part way (bad UTF-8 at row 5,000) is refused whole: nothing of it is imported."""
    reader = await asyncio.to_thread(CsvRows, upload, mapping)
    import_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with uow() as unit:
        await unit.session.execute(
            insert(imports).values(
                import_id=import_id,
                source=mapping.source,
                filename=filename,
                status="staging",
                total=0,
                processed=0,
                accepted=0,
                duplicates=0,
                failed=0,
                errors=[],
                created_at=now,
                mapping=mapping_text,
                heartbeat_at=now,
            )
        )
        await unit.commit()
    seq, first_row = 0, 2
    try:
        while rows := await asyncio.to_thread(reader.take, CHUNK_ROWS):
            async with uow() as unit:
                await unit.session.execute(
                    insert(import_chunks).values(import_id=import_id, seq=seq, first_row=first_row, rows=rows)
                )
                await unit.session.execute(
                    update(imports)
                    .where(imports.c.import_id == import_id)
                    .values(total=imports.c.total + len(rows), heartbeat_at=datetime.now(UTC))
                )
                await unit.commit()
            seq, first_row = seq + 1, first_row + len(rows)
    except ImportRefused as exc:
        await _finish(uow, import_id, "failed", error={"row": first_row, "error": str(exc)})
        raise
    async with uow() as unit:
        await unit.session.execute(update(imports).where(imports.c.import_id == import_id).values(status="running"))
        await unit.commit()
    return import_id


async def run(uow: UnitOfWorkFactory, import_id: str, mapping: ImportMapping) -> None:
    """Import the stored chunks until none is left."""
    imported_at = datetime.now(UTC)
    try:
        while await _next_chunk(uow, import_id, mapping, imported_at):
            pass
        status = "done"
    except Exception:
        log.exception("import.failed", import_id=import_id)
        status = "failed"
    await _finish(uow, import_id, status)
    log.info("import.finished", import_id=import_id, status=status)


async def _next_chunk(uow: UnitOfWorkFactory, import_id: str, mapping: ImportMapping, imported_at: datetime) -> bool:
    """Import the next chunk, delete it and count it, in one transaction; False when none is left."""
    for attempt in range(3):
        try:
            async with uow() as unit:
                chunk = (
                    await unit.session.execute(
                        select(import_chunks.c.seq, import_chunks.c.first_row, import_chunks.c.rows)
                        .where(import_chunks.c.import_id == import_id)
                        .order_by(import_chunks.c.seq)
                        .limit(1)
                        .with_for_update(skip_locked=True)  # a second runner (a resume) takes the next one
                    )
                ).first()
                if chunk is None:
                    return False
                await _import(unit, import_id, mapping, list(enumerate(chunk.rows, start=chunk.first_row)), imported_at)
                await unit.session.execute(
                    delete(import_chunks).where(
                        import_chunks.c.import_id == import_id, import_chunks.c.seq == chunk.seq
                    )
                )
                await unit.commit()
                return True
        except IntegrityError:
            # A delivery created one of these leads at the same moment; again, it is now an update.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _import(
    unit: UnitOfWork,
    import_id: str,
    mapping: ImportMapping,
    rows: Sequence[tuple[int, dict[str, Any]]],
    imported_at: datetime,
) -> None:
    arrivals: list[Arrival] = []
    refused: dict[tuple[str, str], dict[str, Any]] = {}
    for number, row in rows:
        key = row_key(mapping, row)
        try:
            item = read_row(row, mapping, imported_at=imported_at)
        except RowError as exc:
            refused[(mapping.source, key)] = {"row": number, "error": str(exc)}
            continue
        arrivals.append(Arrival(mapping.source, Parsed(key, (item,))))
    results = await capture.stage(unit, arrivals)
    accepted = sum(not result.duplicate for result in results)
    # A row imported before is a duplicate even where it no longer reads (a file uploaded again, edited).
    before = await repository.find_deliveries(unit.session, list(refused))
    duplicates = len(results) - accepted + len(before)
    errors = [error for key, error in refused.items() if key not in before]
    current = (
        await unit.session.execute(select(imports.c.errors).where(imports.c.import_id == import_id))
    ).scalar_one()
    await unit.session.execute(
        update(imports)
        .where(imports.c.import_id == import_id)
        .values(
            processed=imports.c.processed + len(rows),
            accepted=imports.c.accepted + accepted,
            duplicates=imports.c.duplicates + duplicates,
            failed=imports.c.failed + len(errors),
            errors=(list(current) + errors)[:_MAX_ERRORS_KEPT],
            heartbeat_at=datetime.now(UTC),
        )
    )


async def _finish(uow: UnitOfWorkFactory, import_id: str, status: str, error: dict[str, Any] | None = None) -> None:
    async with uow() as unit:
        values: dict[str, Any] = {"status": status, "finished_at": datetime.now(UTC)}
        if error is not None:
            current = (
                await unit.session.execute(select(imports.c.errors).where(imports.c.import_id == import_id))
            ).scalar_one()
            values["errors"] = [*current, error][:_MAX_ERRORS_KEPT]
        await unit.session.execute(update(imports).where(imports.c.import_id == import_id).values(**values))
        if status != "running":
            await unit.session.execute(delete(import_chunks).where(import_chunks.c.import_id == import_id))
        await unit.commit()


class ImportWorkers:
    """The imports this process runs, as tasks it keeps a hold of."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._running: set[asyncio.Task[None]] = set()

    def start(self, import_id: str, mapping: ImportMapping) -> None:
        """Run an import in the background."""
        task = asyncio.create_task(run(self._uow, import_id, mapping), name=f"import.{import_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def resume_stale(self, now: datetime | None = None) -> int:
        """Go on with imports whose runner stopped (its heartbeat is old): the stored chunks are imported; an
        upload interrupted while it was being stored is marked failed. Returns how many were taken over."""
        now = now or datetime.now(UTC)
        cutoff = now - STALE_AFTER
        async with self._uow() as unit:
            stale = (
                await unit.session.execute(
                    select(imports.c.import_id, imports.c.status, imports.c.mapping, imports.c.heartbeat_at).where(
                        imports.c.status.in_(["staging", "running"]), imports.c.heartbeat_at < cutoff
                    )
                )
            ).all()
        taken = 0
        for import_id, status, mapping_text, beat in stale:
            async with self._uow() as unit:
                # Claimed by moving the heartbeat: of two replicas asking at once, one changes the row.
                claimed = await unit.session.execute(
                    update(imports)
                    .where(imports.c.import_id == import_id, imports.c.heartbeat_at == beat)
                    .values(heartbeat_at=now)
                )
                await unit.commit()
            if not claimed.rowcount:  # type: ignore[attr-defined]
                continue
            taken += 1
            since = aware(beat).isoformat(timespec="seconds")
            if status == "staging" or not mapping_text:
                await _finish(
                    self._uow,
                    import_id,
                    "failed",
                    error={
                        "row": 0,
                        "error": f"the upload stopped while it was stored (last seen {since}); upload again",
                    },
                )
                log.warning("import.stale_failed", import_id=import_id, last_seen=since)
                continue
            log.info("import.resumed", import_id=import_id, last_seen=since)
            self.start(import_id, ImportMapping.model_validate(yaml.safe_load(mapping_text)))
        return taken


async def progress(uow: UnitOfWorkFactory, import_id: str) -> dict[str, Any] | None:
    """An import's status and counts, with its row errors."""
    async with uow() as unit:
        row = (await unit.session.execute(select(imports).where(imports.c.import_id == import_id))).mappings().first()
    return dict(row) if row else None
