"""Health routes: lifecycle (included by polis.health.endpoints under /health)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])
