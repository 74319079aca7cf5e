"""`polis sandbox ...`: local sandboxes of the external services (decision 0046)."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer

app = typer.Typer(
    help="Local sandboxes of external services (DLT, payment gateway, SMS).", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Local sandboxes of external services (DLT, payment gateway, SMS)."""


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


@app.command("gateway")
def gateway(
    host: str = typer.Option("127.0.0.1", help="Listen address"),
    port: int = typer.Option(
        None, help="Port (default: the port of PAYMENT_GATEWAY_BASE_URL, else 8091)"
    ),
    api_key: str = typer.Option(None, help="Required X-API-Key (default: the settings')"),
    webhook_url: str = typer.Option(
        None, help="Callback URL (default: PAYMENT_GATEWAY_WEBHOOK_URL)"
    ),
    callbacks: bool = typer.Option(True, help="Send callbacks by themselves (else /send)"),
) -> None:
    """Serve the payment-gateway sandbox (cards by test number, PromptPay, signed callbacks)."""
    from polis.cli import friendly

    @friendly
    def run() -> None:
        import uvicorn

        from polis.config import get_settings
        from polis.integrations.gateway_sandbox import create_gateway_app

        settings = get_settings()
        app_ = create_gateway_app(
            api_key or settings.payment_gateway_api_key,
            settings.payment_gateway_webhook_secret,
            webhook_url=webhook_url or settings.payment_gateway_webhook_url,
            auto_callbacks=callbacks,
        )
        listen_port = port or urlsplit(settings.payment_gateway_base_url).port or 8091
        typer.echo(f"Payment-gateway sandbox on http://{host}:{listen_port}")
        uvicorn.run(app_, host=host, port=listen_port, log_level="warning", access_log=False)

    run()


@app.command("sms")
def sms(
    host: str = typer.Option("127.0.0.1", help="Listen address"),
    port: int = typer.Option(None, help="Port (default: the port of SMS_BASE_URL, else 8092)"),
    api_key: str = typer.Option(None, help="Required X-API-Key (default: SMS_API_KEY)"),
) -> None:
    """Serve the SMS sandbox (stores messages in memory; GET /messages?to= lists them)."""
    from polis.cli import friendly

    @friendly
    def run() -> None:
        import uvicorn

        from polis.config import get_settings
        from polis.integrations.sms_sandbox import create_sms_sandbox_app

        settings = get_settings()
        app_ = create_sms_sandbox_app(api_key or settings.sms_api_key)
        listen_port = port or urlsplit(settings.sms_base_url).port or 8092
        typer.echo(f"SMS sandbox on http://{host}:{listen_port}")
        uvicorn.run(app_, host=host, port=listen_port, log_level="warning", access_log=False)

    run()
