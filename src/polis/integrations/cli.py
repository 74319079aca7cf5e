"""`polis sandbox ...`: local sandboxes of the external services (decision 0046)."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer

app = typer.Typer(help="Local sandboxes of external services (DLT).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Local sandboxes of external services (DLT)."""


def default_port() -> int:
    """The port of DLT_BASE_URL (the sandbox listens where the client looks), else 8090."""
    from polis.config import get_settings

    return urlsplit(get_settings().dlt_base_url).port or 8090


@app.command("dlt")
def dlt(
    host: str = typer.Option("127.0.0.1", help="Listen address"),
    port: int = typer.Option(None, help="Port (default: the port of DLT_BASE_URL, else 8090)"),
    api_key: str = typer.Option(None, help="Required X-API-Key (default: DLT_API_KEY)"),
    slow_seconds: float = typer.Option(3.0, help="Delay of the 'slow' plates (9970-9979)"),
    flaky_failures: int = typer.Option(2, help="503s of a 'flaky' plate (9980-9989) first"),
) -> None:
    """Serve the DLT registration-check sandbox (valid / expired / unknown by plate number)."""
    from polis.cli import friendly

    @friendly
    def run() -> None:
        import uvicorn

        from polis.config import get_settings
        from polis.integrations.dlt_sandbox import create_sandbox_app

        app_ = create_sandbox_app(
            api_key or get_settings().dlt_api_key,
            slow_seconds=slow_seconds,
            flaky_failures=flaky_failures,
        )
        listen_port = port or default_port()
        typer.echo(f"DLT sandbox on http://{host}:{listen_port}")
        uvicorn.run(app_, host=host, port=listen_port, log_level="warning", access_log=False)

    run()
