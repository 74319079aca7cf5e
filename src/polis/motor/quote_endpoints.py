"""Motor routes: quotes (included by polis.motor.endpoints under /motor)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["motor"])
