"""Every registry table: the core ``schema`` and the ``schema_<concern>`` modules.

Each concern (doses, privacy, …) declares its tables in its own module on the
shared ``schema.metadata`` and its own alembic branch from ``0001``; importing
this module loads them all, for migrations and the schema parity test.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

import vaxreg.registry as _package
from vaxreg.registry.schema import metadata


def all_metadata() -> MetaData:
    for module in pkgutil.iter_modules(_package.__path__):
        if module.name.startswith("schema_"):
            importlib.import_module(f"vaxreg.registry.{module.name}")
    return metadata
