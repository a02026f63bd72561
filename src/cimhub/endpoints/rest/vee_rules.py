"""The VEE rule configuration over REST: what is in force for the request's tenant, and
the tenant's stored overrides (``PUT /vee/config``) over the configuration file.

A change applies to data VEE validates from then on; ``cimhub vee rerun`` judges stored
data again. Every change is a new stored version and an audit-chain entry.
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from cimhub.endpoints.rest import edits
from cimhub.endpoints.rest import vee_schemas as schemas
from cimhub.endpoints.rest.problems import problem
from cimhub.endpoints.rest.schemas import Problem
from cimhub.errors import InvalidQueryError
from cimhub.store.audit import AuditLog
from cimhub.store.vee_config import VeeConfigs
from cimhub.vee.config import Params
from cimhub.vee.registry import load_rules

if TYPE_CHECKING:
    from cimhub.endpoints.rest.vee import Scope
    from cimhub.store.unit_of_work import UnitOfWork

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "unknown tenant (2.15)"},
    422: {"model": Problem, "description": "invalid request (2.4)"},
}


def router(scope: Scope) -> APIRouter:
    api = APIRouter(tags=["VEE"], responses=ERRORS)

    @api.get(
        "/vee/rules",
        response_model=schemas.RuleConfig,
        summary="The VEE rules and the parameters in force for the tenant",
    )
    def rules(request: Request) -> dict[str, Any]:
        with scope.reader.tenant(scope.tenant(request)) as (uow, tenant_id):
            return _in_force(scope, uow, tenant_id, scope.tenant(request))

    @api.put(
        "/vee/config",
        response_model=schemas.RuleConfig,
        summary="Replace the tenant's stored VEE overrides (a new version; audited)",
        responses={409: {"model": Problem, "description": "change refused (3.1)"}},
    )
    def put_config(request: Request, body: schemas.VeeConfigRequest) -> Any:
        tenant = scope.tenant(request)
        document = body.model_dump(include={"parameters", "meter_type", "category"})
        try:
            _known_rules(document)
            who = edits.editor(request, body.user, body.reason)
            if not who.user.strip() or not who.reason.strip():
                return problem(409, "change refused", "a change must name its user and reason",
                               "3.1")  # fmt: skip
            with scope.reader.writing(tenant) as (uow, tenant_id):
                configs = VeeConfigs(uow)
                _, before = configs.document(tenant_id)
                now = int(time.time())
                version = configs.put(tenant_id, document, by=who.user, reason=who.reason, now=now)
                AuditLog(uow).record(
                    who.actor, "vee.config", f"vee-config:{version}", tenant=tenant,
                    before=before or None,
                    after={**document, "version": version, "user": who.user, "reason": who.reason},
                    at=now,
                )  # fmt: skip
                return _in_force(scope, uow, tenant_id, tenant)
        except InvalidQueryError as exc:
            return problem(422, "invalid request", exc.reason, exc.code)
        except ValueError as exc:
            return problem(422, "invalid request", str(exc), "2.4")

    return api


def _in_force(scope: Scope, uow: UnitOfWork, tenant_id: int, tenant: str) -> dict[str, Any]:
    """The rules and parameters in force for ``tenant``, and where they come from."""
    version, stored = VeeConfigs(uow).document(tenant_id)
    config = scope.service.for_tenant(uow, tenant_id, tenant).config
    params = config.params(tenant)
    layer = config.tenants.get(tenant)
    path = scope.settings.vee_config
    source = f"file {path} (CIMHUB_VEE_CONFIG)" if path else "built-in defaults"
    return {
        "tenant": tenant,
        "config_version": config.version,
        "source": source + (f", stored overrides version {version}" if version else ""),
        "editable": True,
        "stored": {"version": version, **stored} if version else None,
        "rules": [
            {"id": r.id, "clause": r.clause, "enabled": params.enabled(r.id)}
            for r in sorted(load_rules().values(), key=lambda r: r.id)
        ],
        "parameters": {f.name: _json(getattr(params, f.name)) for f in fields(Params)},
        "meter_type": _overrides(config.defaults.meter_type, layer.meter_type if layer else {}),
        "category": _overrides(config.defaults.category, layer.category if layer else {}),
    }


def _known_rules(document: dict[str, Any]) -> None:
    """Raise ValueError when ``disabled`` names a rule that does not exist."""
    levels = [document["parameters"], *document["meter_type"].values(),
              *document["category"].values()]  # fmt: skip
    lists = [level["disabled"] for level in levels if isinstance(level.get("disabled"), list)]
    named = {r for names in lists for r in names if isinstance(r, str)}  # types: checked later
    unknown = named - set(load_rules())
    if unknown:
        raise ValueError(f"disabled: unknown rule(s) {', '.join(sorted(unknown))}")


def _json(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def _overrides(
    defaults: dict[str, dict[str, Any]], tenant: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    return {k: {**defaults.get(k, {}), **tenant.get(k, {})} for k in {*defaults, *tenant}}
