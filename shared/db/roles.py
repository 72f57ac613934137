"""One database role per service, limited to its own schema (docs/architecture.md, "Database roles").

The migrator (the owner of the schemas) runs `leadflow migrate --roles`: each service's role may use its schema
and read and write its tables, nothing else. It cannot change the schema, and another service's tables do not
exist for it, so a bug or an injection in one service reaches one service's data. Advisory locks and
LISTEN/NOTIFY need no grant.
"""

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def role_name(service: str) -> str:
    """The role a service connects as."""
    return f"leadflow_{service}"


async def grant_service_role(connection: AsyncConnection, *, schema: str, role: str, password: str) -> None:
    """Create or update `role` with `password` and give it the use of `schema`'s tables and sequences, now and for
    tables later migrations create. Run as the role that owns the schema (the migrator)."""
    for name in (schema, role):
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a plain lower-case SQL name")
    if not password:
        raise ValueError(f"the password of role {role} is empty")
    literal = "'" + password.replace("'", "''") + "'"  # DDL takes no bind parameters
    exists = await connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role})
    verb = "ALTER" if exists else "CREATE"
    await connection.execute(text(f'{verb} ROLE "{role}" LOGIN PASSWORD {literal} NOSUPERUSER NOCREATEDB NOCREATEROLE'))
    await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    await connection.execute(text(f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC'))
    await connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
    await connection.execute(
        text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    )
    await connection.execute(text(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
    await connection.execute(
        text(
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"'
        )
    )
    await connection.execute(
        text(f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "{role}"')
    )
