"""Bulk import routes: upload a CSV with its mapping, then follow the progress."""

from datetime import datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, ValidationError

from services.intake.commands.imports import runner
from services.intake.commands.imports.mapping import ImportMapping
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.http.auth import Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem


class RowErrorOut(BaseModel):
    """A row that was not imported, and why (row 1 is the header)."""

    row: int
    error: str


class ImportOut(BaseModel):
    """An import's progress."""

    import_id: str
    source: str
    filename: str | None
    status: str
    total: int
    processed: int
    accepted: int
    duplicates: int
    failed: int
    errors: list[RowErrorOut]
    created_at: datetime
    finished_at: datetime | None


def imports_router(uow: UnitOfWorkFactory, tokens: TokenAuthority, workers: runner.ImportWorkers) -> APIRouter:
    """POST /v1/imports and GET /v1/imports/{id}; the upload's size is bounded before routing (body limits)."""
    router = APIRouter(prefix="/v1", tags=["imports"])

    @router.post(
        "/imports",
        status_code=202,
        response_model=ImportOut,
        dependencies=[Depends(tokens.require(Scope.LEADS_WRITE))],
        summary="Import leads from a CSV file with a field mapping (YAML); idempotent per row",
        responses=declared(_422="the mapping is not valid, or the file does not fit it"),
    )
    async def post_import(
        file: Annotated[UploadFile, File(description="the CSV export, UTF-8, with a header row")],
        mapping: Annotated[str, Form(description="the mapping, YAML (see deploy/imports/xeducation.yaml)")],
    ) -> ImportOut:
        rules = _mapping(mapping)
        try:
            import_id = await runner.stage(uow, rules, mapping, file.filename, file.file)
        except runner.ImportRefused as exc:
            raise Problem(422, "Invalid request", str(exc)) from exc
        workers.start(import_id, rules)
        return await _view(uow, import_id)

    @router.get(
        "/imports/{import_id}",
        response_model=ImportOut,
        dependencies=[Depends(tokens.require(Scope.LEADS_READ))],
        summary="An import's progress and its row errors",
        responses=declared(404),
    )
    async def get_import(import_id: str) -> ImportOut:
        return await _view(uow, import_id)

    return router


def _mapping(text: str) -> ImportMapping:
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Problem(422, "Invalid request", f"mapping is not valid YAML: {exc}") from exc
    try:
        return ImportMapping.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"mapping: {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise Problem(422, "Invalid request", problems) from exc


async def _view(uow: UnitOfWorkFactory, import_id: str) -> ImportOut:
    found = await runner.progress(uow, import_id)
    if found is None:
        raise Problem(404, "Not found", f"no import {import_id}")
    return ImportOut.model_validate(found)
