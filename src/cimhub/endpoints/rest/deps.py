"""What every API route needs: a read-only unit of work scoped to an existing tenant,
and the paging parameters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy import exc
from sqlalchemy.orm import Session

from cimhub.errors import StorageUnavailableError, UnknownObjectError
from cimhub.store.cache import StoreCache
from cimhub.store.database import Database
from cimhub.store.master_queries import Page
from cimhub.store.unit_of_work import UnitOfWork

MAX_LIMIT = 1000
#: Beyond any store's row count, and within every database's 64-bit integers.
MAX_OFFSET = 2**31 - 1
TENANT_HEADER = "X-Cimhub-Tenant"


def bound_tenant(request: Request) -> str | None:
    """The tenant the request is bound to: its authenticated principal's; in open loopback
    mode the one its tenant header names; None when neither (loopback, no header)."""
    principal = getattr(request.state, "principal", None)
    kind = str(getattr(getattr(principal, "kind", None), "value", "loopback"))
    if principal is not None and kind != "loopback":
        return str(principal.tenant)
    return request.headers.get(TENANT_HEADER, "").strip() or None


async def same_tenant(request: Request) -> None:
    """A router dependency: the tenant a route names (``{tenant}`` in the path or
    ``?tenant=``) must be the one the request is bound to. Another tenant's code is
    answered as unknown (404), never confirmed to exist."""
    named = request.path_params.get("tenant") or request.query_params.get("tenant")
    bound = bound_tenant(request)
    if named is not None and bound is not None and named != bound:
        raise UnknownObjectError(f"unknown tenant {named!r}", object_id=str(named))


class Reader:
    """Read-only units of work: no write lock on SQLite, rolled back at the end."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._cache = StoreCache()

    @contextmanager
    def tenant(self, code: str) -> Iterator[tuple[UnitOfWork, int]]:
        try:
            with (
                Session(self._database.engine) as session,  # rolled back on close
                closing(UnitOfWork(session, self._cache, hub=False)) as uow,  # no tenant yet
            ):
                tenant_id = uow.tenants.find(code)
                if tenant_id is None:
                    raise UnknownObjectError(f"unknown tenant {code!r}", object_id=code)
                uow.bind_tenant(tenant_id)  # row-level security: this tenant's rows only
                yield uow, tenant_id
        except (exc.OperationalError, exc.InterfaceError) as error:
            raise StorageUnavailableError(f"storage unavailable: {error.orig}") from error

    @contextmanager
    def writing(self, code: str) -> Iterator[tuple[UnitOfWork, int]]:
        """One transaction in tenant ``code``'s scope, committed when the block ends."""
        with self._database.unit_of_work(hub=False) as uow:
            tenant_id = uow.tenants.find(code)
            if tenant_id is None:
                raise UnknownObjectError(f"unknown tenant {code!r}", object_id=code)
            uow.bind_tenant(tenant_id)
            yield uow, tenant_id

    @contextmanager
    def hub(self) -> Iterator[UnitOfWork]:
        with (
            Session(self._database.engine) as session,
            closing(UnitOfWork(session, self._cache, hub=True)) as uow,
        ):
            yield uow


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")] = 0,
) -> Paging:
    return Paging(limit, offset)


def page_body(page: Page, request: Request) -> dict[str, Any]:
    """The page, its total and the URL of the next page (None on the last)."""
    following = page.offset + page.limit
    next_url = (
        str(request.url.include_query_params(offset=following, limit=page.limit))
        if following < page.total
        else None
    )
    return {
        "items": page.items,
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "next": next_url,
    }
