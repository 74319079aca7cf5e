"""Declarative base shared by every domain's models, with one constraint naming convention."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Seed names win where the seeds name an index or constraint; this covers the rest.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    """Base class of all Polis models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def load_all_models() -> MetaData:
    """Import every models module so Base.metadata knows every table; return it."""
    import importlib
    import pkgutil

    import polis

    for mod in pkgutil.walk_packages(polis.__path__, "polis."):
        if mod.name.endswith((".models", "_models")):  # e.g. polis.motor.rating_models
            importlib.import_module(mod.name)
    return Base.metadata
