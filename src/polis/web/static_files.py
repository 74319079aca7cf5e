"""Static files of the pages (CSS, vendored htmx) with cache headers."""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# An hour, then revalidated with the ETag / Last-Modified that StaticFiles sends.
CACHE_CONTROL = "public, max-age=3600, must-revalidate"


class CachedStaticFiles(StaticFiles):
    """StaticFiles whose answers say how long they may be kept."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file (or 304/404), with Cache-Control on success."""
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = CACHE_CONTROL
        return response
