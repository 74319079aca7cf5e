"""Back-office pages: server-rendered Jinja2 + htmx under /web (decision 0065).

`install(app)` adds the page routers, the static files at /web/static and the page 404 for
any other /web path; `/` redirects to the home page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from polis.platform.errors import NotFound
from polis.web.routing import WebRoute
from polis.web.session import COOKIE_PATH, State
from polis.web.static_files import CachedStaticFiles

STATIC_DIR = Path(__file__).parent / "static"
FONTS_DIR = Path(__file__).parent.parent / "documents" / "fonts"


def page_router() -> APIRouter:
    """Every page route under /web, the catch-all 404 last."""
    from polis.web.pages import account, admin, auth, dashboard, health, motor, portal

    router = APIRouter(prefix=COOKIE_PATH, route_class=WebRoute, include_in_schema=False)
    router.include_router(auth.router)
    router.include_router(health.router)
    router.include_router(dashboard.router)
    router.include_router(motor.router)
    router.include_router(portal.router)
    router.include_router(account.router)
    router.include_router(admin.router)

    @router.get("/{path:path}")
    async def not_found(path: str, request: Request, state: State) -> Response:
        """Any other /web path: the 404 page."""
        raise NotFound("There is nothing here.")

    return router


def install(app: FastAPI) -> None:
    """Serve the pages and their static files from `app`."""
    # Thai text needs a Thai font: the Sarabun the PDFs embed (polis.documents, OFL), served
    # as it is rather than copied. Mounted first: /web/static would take the path otherwise.
    app.mount(
        f"{COOKIE_PATH}/static/fonts",
        CachedStaticFiles(directory=FONTS_DIR),
        name="web-fonts",
    )
    app.mount(f"{COOKIE_PATH}/static", CachedStaticFiles(directory=STATIC_DIR), name="web-static")
    app.include_router(page_router())

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        """The home page of the pages."""
        return RedirectResponse(f"{COOKIE_PATH}/", status_code=303)
