"""Settings, read from environment variables (prefix-free, as operators expect) and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def project_root() -> Path:
    """The directory that holds `var/`: the checkout when run from one, else the cwd."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "polis").is_dir():
            return parent
    return Path.cwd()


class Settings(BaseSettings):
    """Everything Polis reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, description="Primary server; unset = embedded")
    read_database_url: str | None = Field(default=None, description="Replica for reports")
    var_dir: Path = Field(default_factory=lambda: project_root() / "var")

    # Seed 000 "Connection Pooling": 20 / 40 / 30 s.
    db_pool_size: int = 20
    db_max_overflow: int = 40
    db_pool_timeout: int = 30
    db_statement_timeout_ms: int = 30_000

    # Seed 001 system_configurations defaults, overridable per deployment.
    session_timeout_hours: int = 8
    max_login_attempts: int = 5

    # Field encryption (polis.platform.crypto); unset = a generated development key in var/.
    encryption_keys: str | None = Field(
        default=None, description="kid:base64key,... (first=current)"
    )
    blind_index_key: str | None = Field(default=None, description="base64, >= 32 bytes")

    # Stored documents (polis.documents): content-addressed files; unset = <var_dir>/documents.
    documents_dir: Path | None = Field(default=None, description="unset = <var_dir>/documents")
    document_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="Upload limit")

    # Department of Land Transport check (polis.integrations.dlt, decision 0046); the default
    # is our sandbox (`polis sandbox dlt`), whose key is the development default below.
    dlt_base_url: str = Field(default="http://127.0.0.1:8090", description="DLT API root")
    dlt_api_key: str = Field(default="polis-dlt-sandbox-key", description="X-API-Key sent")
    dlt_timeout_seconds: float = Field(default=5.0, gt=0, description="Per HTTP attempt")
    dlt_retries: int = Field(default=2, ge=0, description="Retries after the first attempt")
    dlt_breaker_failures: int = Field(default=5, ge=1, description="Failures that open it")
    dlt_breaker_reset_seconds: float = Field(default=30.0, gt=0, description="Open period")

    # Payment gateway (polis.integrations.gateway, decision 0048); the defaults are our sandbox
    # (`polis sandbox gateway`) and its development key and webhook secret.
    payment_gateway_base_url: str = Field(default="http://127.0.0.1:8091", description="API root")
    payment_gateway_api_key: str = Field(default="polis-gateway-sandbox-key")
    payment_gateway_webhook_secret: str = Field(
        default="polis-gateway-sandbox-webhook-secret", description="HMAC key of callbacks"
    )
    payment_gateway_webhook_url: str = Field(
        default="http://127.0.0.1:8000/api/v1/motor/payments/gateway/callback",
        description="Where the sandbox sends callbacks",
    )
    payment_gateway_timeout_seconds: float = Field(default=10.0, gt=0)
    payment_gateway_retries: int = Field(default=2, ge=0)
    payment_gateway_callback_tolerance_seconds: int = Field(
        default=300, gt=0, description="Callback timestamp window (replays)"
    )

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    environment: str = "DEVELOPMENT"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache)."""
    return Settings()
