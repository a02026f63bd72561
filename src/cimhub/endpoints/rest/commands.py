"""Commands (EndDeviceControls) over REST: list, one command with its moves, approve, cancel.

Approval is its own operation (permission ``EndDeviceControls.approve``) so that access
control can grant it apart from creating commands; the approver is the authenticated
principal (``request.state.principal.name``; ``anonymous`` in open loopback mode) and may
not be the person who asked for the command (3.9). A refused move is 409 with code 3.4.
Where the tenant asks for one-time codes, an approval carries the code the approver asked
for (``POST /commands/approval-codes``; see cimhub.handlers.approval). Reads need
``rest.commands.read``; cancel needs ``EndDeviceControls.cancel``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cimhub.domain.access import Principal, message_permission
from cimhub.domain.approval_code import ApprovalCodeError, NoContactError
from cimhub.domain.command import APPROVE_PERMISSION, ApprovalError, State
from cimhub.domain.rule import IllegalTransitionError
from cimhub.endpoints.auth import authenticate, guard, require
from cimhub.endpoints.rest.deps import Paging, paging
from cimhub.endpoints.rest.problems import of as problem_of
from cimhub.endpoints.rest.problems import problem
from cimhub.errors import CODES, CimHubError, DomainRuleError, UnknownObjectError
from cimhub.handlers.approval import Approvals
from cimhub.handlers.commands import Commands
from cimhub.settings import Settings
from cimhub.store.commands import StoredCommand
from cimhub.store.database import Database

TENANT_HEADER = "X-Cimhub-Tenant"
#: The REST area of the read routes: ``rest.commands.read``.
AREA = "commands"


def principal_name(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "name", None) or "anonymous")


def tenant_code(request: Request, default: str) -> str:
    """The principal's tenant; without one (open loopback mode) the header's, or the default."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return str(principal.tenant)
    return request.headers.get(TENANT_HEADER, "").strip() or default


async def may_approve(request: Request) -> Principal:
    """Authenticated, and holding ``EndDeviceControls.approve`` (granted apart from create)."""
    principal = await authenticate(request)
    require(principal, APPROVE_PERMISSION)
    return principal


async def may_cancel(request: Request) -> Principal:
    """Authenticated, and allowed to cancel commands as the CIM cancel message is."""
    principal = await authenticate(request)
    require(principal, message_permission("EndDeviceControls", "cancel"))
    return principal


def body(stored: StoredCommand, *, moves: bool = False) -> dict[str, Any]:
    c = stored.command
    out: dict[str, Any] = {
        "mrid": c.mrid,
        "kind": c.kind.value,
        "meter": c.meter.key,
        "state": c.state.value,
        "requester": c.requester,
        "source": c.source,
        "reason": c.reason,
        "hes": stored.hes,
        "demand_limit_w": c.demand_limit_w,
        "created_at": stored.created_at,
        "sent_at": stored.sent_at,
    }
    if moves:
        out["transitions"] = [
            {"state": t.state.value, "at": t.at, "actor": t.actor, "reason": t.reason}
            for t in c.history
        ]
    return out


CODE = Field(default=None, max_length=20, description="the one-time code, where the tenant asks")


class ApprovalList(BaseModel):
    mrids: list[str] = Field(min_length=1, max_length=10_000, description="command mRIDs")
    code: str | None = CODE


class Approval(BaseModel):
    code: str | None = CODE


def bind(uow: Any, request: Request, default_tenant: str) -> int:
    """The request's tenant, bound to the unit of work (row-level security)."""
    code = tenant_code(request, default_tenant)
    tenant_id = uow.tenants.find(code)
    if tenant_id is None:
        raise UnknownObjectError(f"unknown tenant {code!r}", object_id=code)
    uow.bind_tenant(tenant_id)  # row-level security: this tenant's rows only
    return int(tenant_id)


def refusal(error: CimHubError) -> JSONResponse:
    """A refused approval or code request as a problem: a code's verdicts and the
    four-eyes rule are 403; what the tenant's setup cannot serve (no contact, no codes
    asked) and a move the state machine refuses are 409."""
    response = problem_of(error)
    if isinstance(error, ApprovalCodeError | ApprovalError):
        response.status_code = 409 if isinstance(error, NoContactError) else 403
    elif type(error) is DomainRuleError or isinstance(error, IllegalTransitionError):
        response.status_code = 409
    return response


def router(database: Database, settings: Settings) -> APIRouter:
    api = APIRouter(tags=["commands"])

    def _tenant(uow: Any, request: Request) -> int:
        return bind(uow, request, settings.default_tenant)

    def _one(commands: Commands, tenant_id: int, mrid: str, lock: bool = False) -> StoredCommand:
        found = commands.repo.by_mrid(tenant_id, [mrid], lock=lock).get(mrid)
        if found is None:
            raise UnknownObjectError(f"unknown command {mrid!r}", object_id=mrid)
        return found

    @api.get(
        "/commands",
        summary="Commands, newest first (filter by state)",
        dependencies=[Depends(guard(AREA))],
    )
    def list_commands(
        request: Request,
        page: Annotated[Paging, Depends(paging)],
        state: Annotated[list[State] | None, Query()] = None,
    ) -> dict[str, Any]:
        with database.unit_of_work(hub=True) as uow:
            tenant_id = _tenant(uow, request)
            found, total = Commands(uow).repo.query(
                tenant_id, states=[s.value for s in state or []], limit=page.limit,
                offset=page.offset,
            )  # fmt: skip
        return {
            "items": [body(s) for s in found],
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
        }

    @api.get(
        "/commands/summary",
        summary="How many commands of each kind are in each state",
        dependencies=[Depends(guard(AREA))],
    )
    def summary(request: Request) -> dict[str, Any]:
        with database.unit_of_work(hub=True) as uow:
            rows = Commands(uow).repo.summary(_tenant(uow, request))
        counts: dict[str, dict[str, int]] = {}
        for kind, state, count in rows:
            counts.setdefault(kind, {})[state] = count
        return {"kinds": counts, "total": sum(n for *_, n in rows)}

    @api.post(
        "/commands/approve",
        summary="Approve a list of commands (a disconnect list); each one judged on its own",
        openapi_extra={"x-cimhub-permission": APPROVE_PERMISSION},
        dependencies=[Depends(may_approve)],
    )
    def approve_list(request: Request, batch: ApprovalList) -> JSONResponse:
        approver = principal_name(request)
        with database.unit_of_work(hub=False) as uow:  # commits a wrong code's attempt too
            out = Approvals(uow, settings).approve(
                _tenant(uow, request), approver, batch.mrids, batch.code
            )
        if out.error is not None:
            return refusal(out.error)
        return JSONResponse({"approved": out.approved, "refused": out.refused})

    @api.get(
        "/commands/{mrid}",
        summary="One command with every move (time, actor, reason)",
        dependencies=[Depends(guard(AREA))],
    )
    def get_command(mrid: str, request: Request) -> dict[str, Any]:
        with database.unit_of_work(hub=True) as uow:
            return body(_one(Commands(uow), _tenant(uow, request), mrid), moves=True)

    @api.post(
        "/commands/{mrid}/approve",
        summary="A second person approves a command (permission EndDeviceControls.approve)",
        openapi_extra={"x-cimhub-permission": APPROVE_PERMISSION},
        dependencies=[Depends(may_approve)],
    )
    def approve(mrid: str, request: Request, given: Approval | None = None) -> JSONResponse:
        with database.unit_of_work(hub=False) as uow:  # commits a wrong code's attempt too
            tenant_id = _tenant(uow, request)
            out = Approvals(uow, settings).approve(
                tenant_id, principal_name(request), [mrid], given.code if given else None
            )
            stored = Commands(uow).repo.by_mrid(tenant_id, [mrid]).get(mrid)
        if out.error is not None:
            return refusal(out.error)
        if out.refused:
            (item,) = out.refused
            status = {"2.15": 404, "3.9": 403}.get(item["code"], 409)
            return problem(status, CODES[item["code"]].title, item["detail"], item["code"],
                           object=mrid)  # fmt: skip
        assert stored is not None
        return JSONResponse(body(stored, moves=True))

    @api.post(
        "/commands/{mrid}/cancel",
        summary="Cancel a command not yet sent (permission EndDeviceControls.cancel)",
        dependencies=[Depends(may_cancel)],
    )
    def cancel(mrid: str, request: Request) -> JSONResponse:
        return _act(
            mrid,
            request,
            lambda c, s: c.move(s, State.CANCELED, principal_name(request), "canceled"),
        )

    def _act(mrid: str, request: Request, action: Any) -> JSONResponse:
        try:
            with database.unit_of_work(hub=True) as uow:
                commands = Commands(uow)
                stored = _one(commands, _tenant(uow, request), mrid, lock=True)
                action(commands, stored)
                result = body(stored, moves=True)
        except (IllegalTransitionError, ApprovalError) as exc:
            return refusal(exc)
        return JSONResponse(result)

    return api
