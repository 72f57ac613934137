"""Batch lookups (`column IN (…)`) as statements built once, with the list as one parameter.

Building a select and its cache key on every call, and expanding an IN into one type-cast placeholder per
value, cost more CPU than the query itself. PostgreSQL takes the list as one array (`= ANY($1)`); SQLite has no
arrays and gets an expanding IN from the same statement builder. Callers cache their statements per dialect.
"""

from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def dialect_of(bind: AsyncSession | AsyncConnection) -> str:
    """The session's (or connection's) database dialect name, the key of a statement cache."""
    return (bind.get_bind() if isinstance(bind, AsyncSession) else bind).dialect.name


def one_of(column: ColumnElement[Any], parameter: str, dialect: str) -> ColumnElement[bool]:
    """A WHERE clause: `column` equals one of the values passed as list parameter `parameter`."""
    if dialect == "postgresql":
        return column == any_(bindparam(parameter, type_=ARRAY(column.type)))
    return column.in_(bindparam(parameter, expanding=True))
