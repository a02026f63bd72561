"""The composition root: settings in, a wired hub (store, registry, pipeline, web app) out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI

from cimhub.bus.pipeline import Pipeline
from cimhub.endpoints.http import create_app
from cimhub.handlers.registry import Registry, default_registry
from cimhub.settings import Settings
from cimhub.store.database import Database

log = logging.getLogger("cimhub")


@dataclass
class Hub:
    settings: Settings
    database: Database
    registry: Registry
    pipeline: Pipeline

    @classmethod
    def build(cls, settings: Settings, *, upgrade: bool = True) -> Hub:
        database = Database(settings.database_url)
        if upgrade:
            database.upgrade()
        registry = default_registry()
        return cls(settings, database, registry, Pipeline(settings, database, registry))

    def web_app(self) -> FastAPI:
        return create_app(self.settings, self.pipeline, self.database)

    def close(self) -> None:
        self.database.dispose()
