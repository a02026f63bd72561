"""``POST /api/v1/commands/approval-codes``: an approver asks for a one-time code to approve
a list of commands, where the tenant asks for codes (seed 004, MP practice).

The code goes to the contact an administrator registered for the approver (`cimhub control
contact set`), through the hub's notification sender (``CIMHUB_NOTIFY_URL``); the answer
says where, masked, and until when the code is valid — never the code. It is sent after
the commit that stored it; if the sender fails, the code is voided and the answer is 503
(5.4). An approver who asked for too many codes in the window gets 429 (6.3) with
Retry-After.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cimhub.domain.approval_code import TooManyCodesError
from cimhub.domain.command import APPROVE_PERMISSION
from cimhub.endpoints.rest.commands import bind, may_approve, principal_name, refusal
from cimhub.handlers.approval import Approvals, UndeliveredError, send_code
from cimhub.settings import Settings
from cimhub.store.database import Database


class CodeRequest(BaseModel):
    mrids: list[str] = Field(
        min_length=1, max_length=10_000, description="the exact list of commands to approve"
    )


def router(database: Database, settings: Settings) -> APIRouter:
    api = APIRouter(tags=["commands"])

    @api.post(
        "/commands/approval-codes",
        status_code=201,
        summary="Ask for a one-time code to approve exactly these commands (sent to you)",
        openapi_extra={"x-cimhub-permission": APPROVE_PERMISSION},
        dependencies=[Depends(may_approve)],
    )
    def ask(request: Request, batch: CodeRequest) -> JSONResponse:
        approver = principal_name(request)
        with database.unit_of_work(hub=False) as uow:
            out = Approvals(uow, settings).ask(
                bind(uow, request, settings.default_tenant), approver, batch.mrids
            )
        if out.error is not None or out.issued is None:
            response = refusal(out.error or UndeliveredError("no code issued"))
            if isinstance(out.error, TooManyCodesError):
                response.headers["Retry-After"] = str(out.error.retry_after)
            return response
        issued = out.issued
        try:
            send_code(settings, issued)
        except UndeliveredError as exc:
            with database.unit_of_work(hub=False) as uow:
                tenant_id = bind(uow, request, settings.default_tenant)
                Approvals(uow, settings).undelivered(tenant_id, issued, approver, exc.reason)
            return refusal(exc)
        answer = {
            "id": issued.id,
            "mrids": issued.mrids,
            "sent_to": issued.sent_to,
            "expires_at": issued.expires_at,
            "attempts": settings.approval_code_max_attempts,
        }
        return JSONResponse(answer, status_code=201)

    return api
