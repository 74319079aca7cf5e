"""`WebRoute`: page routes whose failures are pages, not problem+json.

A missing sign-in redirects to the sign-in form (htmx: `HX-Redirect`), a due password change
to the change form; 403, 404 and other refusals render the error page in the layout with the
status; anything unexpected is logged and renders the 500 page with the request id.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from polis.platform.context import current_request_id
from polis.platform.errors import PolisError
from polis.web import i18n
from polis.web.session import (
    COOKIE_PATH,
    CsrfRefused,
    PasswordChangeNeeded,
    SignInRequired,
    TwoFactorEnrolmentNeeded,
    apply_cookies,
    sign_in_url,
)
from polis.web.templating import prepare_language, render

log = structlog.get_logger("polis.web")
_ = i18n.gettext_


def redirect(request: Request, url: str) -> Response:
    """A 303 to `url`; for htmx requests a 200 with HX-Redirect (htmx follows it)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, message: str | None = None) -> Response:
    """The error page of a status, in the layout."""
    prepare_language(request)
    titles = {
        400: _("The request could not be understood"),
        403: _("You may not open this page"),
        404: _("Page not found"),
        409: _("This cannot be done now"),
        422: _("Some values were refused"),
        429: _("Too many attempts"),
    }
    title = titles.get(status, _("Something went wrong"))
    context = {
        "status": status,
        "title": title,
        "message": message,
        "request_id": current_request_id(),
    }
    return render(request, "errors/error.html", context, status_code=status)


def failure_response(request: Request, exc: Exception) -> Response:
    """The page answering an exception raised by a page route."""
    if isinstance(exc, SignInRequired):
        return redirect(request, sign_in_url(request))
    if isinstance(exc, PasswordChangeNeeded):
        return redirect(request, f"{COOKIE_PATH}/password")
    if isinstance(exc, TwoFactorEnrolmentNeeded):
        return redirect(request, f"{COOKIE_PATH}/two-factor")
    if isinstance(exc, CsrfRefused):
        return error_page(
            request, 403, _("The form has expired. Go back, reload the page and try again.")
        )
    if isinstance(exc, PolisError):
        prepare_language(request)
        messages = {403: _("Your role does not allow this."), 404: _("There is nothing here.")}
        return error_page(request, exc.status_code, messages.get(exc.status_code, exc.message))
    if isinstance(exc, RequestValidationError):
        # A malformed id in the path names nothing: the 404 page; other input: 400.
        in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
        return error_page(request, 404 if in_path else 400, None)
    if isinstance(exc, StarletteHTTPException):
        return error_page(request, exc.status_code, None)
    log.exception("web_page_failed", path=request.url.path)
    return error_page(request, 500, None)


class WebRoute(APIRoute):
    """An APIRoute rendering its failures as pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler, wrapped."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:
                response = failure_response(request, exc)
            apply_cookies(request, response)
            return response

        return page_handler
