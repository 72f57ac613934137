"""Run an import: rows in chunks, one transaction per chunk, progress and row errors recorded as it goes."""

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from services.intake.imports.mapping import ImportMapping, RowError, read_row, row_key
from services.intake.persistence import repository
from services.intake.persistence.tables import imports
from services.intake.service import capture_one
from shared.db.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)
_MAX_ERRORS_KEPT = 1000


class ImportRefused(ValueError):
    """A file that cannot be imported at all (not CSV, columns the mapping needs are missing)."""


@dataclass(frozen=True)
class Rows:
    """A CSV file's rows, 1-based row numbers counting the header as row 1."""

    header: list[str]
    rows: list[dict[str, str | None]]


def read_csv(data: bytes, mapping: ImportMapping) -> Rows:
    """Parse and check that every column the mapping names is there."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"the file is not UTF-8 text: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h for h in (reader.fieldnames or []) if h]
    if not header:
        raise ImportRefused("the file has no header row")
    missing = sorted(mapping.columns() - set(header))
    if missing:
        raise ImportRefused(f"columns the mapping names are not in the file: {missing}")
    return Rows(header, list(reader))


async def start(uow: UnitOfWorkFactory, mapping: ImportMapping, filename: str | None, total: int) -> str:
    """Record a new import; returns its id."""
    import_id = str(uuid.uuid4())
    async with uow() as unit:
        await unit.session.execute(
            insert(imports).values(
                import_id=import_id,
                source=mapping.source,
                filename=filename,
                status="running",
                total=total,
                processed=0,
                accepted=0,
                duplicates=0,
                failed=0,
                errors=[],
                created_at=datetime.now(UTC),
            )
        )
        await unit.commit()
    return import_id


async def run(
    uow: UnitOfWorkFactory, import_id: str, mapping: ImportMapping, rows: Sequence[dict[str, Any]], chunk: int = 250
) -> None:
    """Import every row; a crash leaves the counts where they were and a re-run skips what was done."""
    imported_at = datetime.now(UTC)
    try:
        for start_at in range(0, len(rows), chunk):
            part = list(enumerate(rows[start_at : start_at + chunk], start=start_at + 2))
            try:
                await _chunk(uow, import_id, mapping, part, imported_at)
            except IntegrityError:
                # A concurrent delivery created one of these leads first; go row by row.
                for item in part:
                    await _chunk(uow, import_id, mapping, [item], imported_at)
        status = "done"
    except Exception:
        log.exception("import.failed", import_id=import_id)
        status = "failed"
    async with uow() as unit:
        await unit.session.execute(
            update(imports).where(imports.c.import_id == import_id).values(status=status, finished_at=datetime.now(UTC))
        )
        await unit.commit()
    log.info("import.finished", import_id=import_id, status=status, rows=len(rows))


async def _chunk(
    uow: UnitOfWorkFactory,
    import_id: str,
    mapping: ImportMapping,
    rows: list[tuple[int, dict[str, Any]]],
    imported_at: datetime,
) -> None:
    accepted = duplicates = 0
    errors: list[dict[str, Any]] = []
    async with uow() as unit:
        for number, row in rows:
            outcome = await _row(unit, mapping, row, imported_at)
            if isinstance(outcome, RowError):
                errors.append({"row": number, "error": str(outcome)})
            elif outcome:
                accepted += 1
            else:
                duplicates += 1
        current = (
            await unit.session.execute(select(imports.c.errors).where(imports.c.import_id == import_id))
        ).scalar_one()
        kept = (list(current) + errors)[:_MAX_ERRORS_KEPT]
        await unit.session.execute(
            update(imports)
            .where(imports.c.import_id == import_id)
            .values(
                processed=imports.c.processed + len(rows),
                accepted=imports.c.accepted + accepted,
                duplicates=imports.c.duplicates + duplicates,
                failed=imports.c.failed + len(errors),
                errors=kept,
            )
        )
        await unit.commit()


async def _row(unit: UnitOfWork, mapping: ImportMapping, row: dict[str, Any], imported_at: datetime) -> bool | RowError:
    """True when imported, False when it was imported before, the error when it cannot be."""
    key = row_key(mapping, row)
    if await repository.find_delivery(unit.session, mapping.source, key) is not None:
        return False
    try:
        item = read_row(row, mapping, imported_at=imported_at)
    except RowError as exc:
        return exc
    event_id, lead_id = await capture_one(unit, item)
    await repository.record_delivery(unit.session, mapping.source, key, repository.DeliveryRecord(event_id, lead_id))
    return True


async def progress(uow: UnitOfWorkFactory, import_id: str) -> dict[str, Any] | None:
    """An import's status and counts, with its row errors."""
    async with uow() as unit:
        row = (await unit.session.execute(select(imports).where(imports.c.import_id == import_id))).mappings().first()
    return dict(row) if row else None
