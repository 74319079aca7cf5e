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
    db_ping_after_idle_seconds: float = Field(
        default=10.0, ge=0, description="Ping a pooled connection idle this long before use"
    )

    # Read replica (READ_DATABASE_URL; polis.db.session, decision 0055).
    replica_fallback_seconds: float = Field(
        default=30.0, gt=0, description="After a replica failure, reads use the primary this long"
    )
    replica_max_lag_seconds: float | None = Field(
        default=None, gt=0, description="Use the primary while the replica lags more; unset=off"
    )
    replica_connect_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Give up connecting to the replica after this"
    )

    # Seed 001 system_configurations defaults, overridable per deployment.
    session_timeout_hours: int = Field(
        default=8, ge=1, description="Absolute session lifetime: no refresh extends it"
    )
    # Sessions (polis.iam; decision 0062).
    access_token_minutes: int = Field(
        default=15, ge=1, description="Access token lifetime; POST /auth/refresh for a new one"
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A session unused this long ends (IDLE_TIMEOUT)"
    )
    max_login_attempts: int = Field(
        default=5, ge=1, description="Set = wins over ref.system_configurations' row"
    )

    # Passwords, lockout and the login rate limit (polis.iam; decision 0058).
    password_min_length: int = Field(default=12, ge=8, le=128, description="Password policy")
    lockout_minutes: int = Field(default=15, ge=1, description="Lock after MAX_LOGIN_ATTEMPTS")
    login_rate_limit: int = Field(
        default=20, ge=1, description="Failed logins per client IP per window"
    )
    login_rate_window_seconds: int = Field(default=60, ge=1, description="Rate limit window")

    # Field encryption (polis.platform.crypto); unset = a generated development key in var/.
    encryption_keys: str | None = Field(
        default=None, description="kid:base64key,... (first=current)"
    )
    blind_index_key: str | None = Field(default=None, description="base64, >= 32 bytes")

    # Stored documents (polis.documents): content-addressed files; unset = <var_dir>/documents.
    documents_dir: Path | None = Field(default=None, description="unset = <var_dir>/documents")
    document_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="Upload limit")

    # HTTP hardening (polis.platform.security, decision 0060).
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Request body limit")
    upload_max_bytes: int = Field(
        default=101 * 1024 * 1024,
        gt=0,
        description="Body limit of multipart uploads (>= DOCUMENT_MAX_BYTES and video limit)",
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed by CORS; empty = CORS off"
    )
    hsts_max_age_seconds: int = Field(
        default=31_536_000, ge=0, description="Strict-Transport-Security max-age (PRODUCTION)"
    )

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

    # SMS provider (polis.integrations.sms, decision 0063); the defaults are our sandbox
    # (`polis sandbox sms`) and its development key.
    sms_base_url: str = Field(default="http://127.0.0.1:8092", description="SMS API root")
    sms_api_key: str = Field(default="polis-sms-sandbox-key", description="X-API-Key sent")
    sms_sender: str = Field(default="POLIS", max_length=11, description="Sender name shown")
    sms_timeout_seconds: float = Field(default=5.0, gt=0, description="Per HTTP attempt")
    sms_retries: int = Field(default=1, ge=0, description="Retries after the first attempt")
    # Two factors and SMS one-time passwords (polis.iam.two_factor, decision 0063).
    sms_otp_expiry_minutes: int = Field(
        default=5, ge=1, le=60, description="Set = wins over ref.system_configurations' row"
    )
    totp_issuer: str = Field(default="Polis", description="Issuer shown by authenticator apps")

    # Health checks and metrics (polis.ops.health, polis.ops.metrics; decision 0057).
    health_disk_warning_gb: float = Field(default=80, gt=0, description="Database size warning")
    health_connection_warning: int = Field(default=80, gt=0, description="Active connections")
    health_lag_warning_seconds: int = Field(default=60, gt=0, description="Replica replay lag")
    health_timeout_ms: int = Field(default=2_000, gt=0, description="Probe statement timeout")
    metrics_token: str | None = Field(
        default=None, description="Bearer token for /metrics; unset = loopback clients only"
    )
    metrics_cache_seconds: float = Field(
        default=15.0, ge=0, description="How long the database figures of /metrics are reused"
    )
    shutdown_grace_seconds: int = Field(
        default=10, ge=0, description="In-flight requests finish within this on SIGTERM"
    )

    # Backups and point-in-time recovery (polis.ops.backup, decision 0054).
    backup_dir: Path | None = Field(default=None, description="unset = <var_dir>/backups")
    backup_retention_days: int = Field(default=7, ge=0, description="0 = keep every backup")
    backup_upload_command: str | None = Field(
        default=None, description="Shell command run per backup; {file} = its quoted path"
    )
    wal_archive_dir: Path | None = Field(
        default=None, description="unset = the embedded cluster's <dir>/wal_archive"
    )

    # Background jobs (polis.ops.jobs, `polis worker`; decision 0056).
    worker_concurrency: int = Field(default=2, ge=1, description="Jobs one worker runs at once")
    worker_queues: str = Field(default="", description="Comma-separated queues; empty = all")
    worker_shutdown_timeout_seconds: float | None = Field(
        default=None, gt=0, description="On SIGTERM, wait this long for running jobs; unset=all"
    )
    job_retries: int = Field(default=4, ge=0, description="Retries after a job's first failure")
    job_retry_backoff_seconds: int = Field(
        default=30, ge=0, description="First retry delay; doubles per retry"
    )
    job_retry_max_wait_seconds: int = Field(default=3600, ge=0, description="Retry delay cap")
    job_statement_timeout_ms: int = Field(
        default=3_600_000, ge=0, description="Statement timeout of job connections; 0 = none"
    )
    job_keep_succeeded_days: int = Field(
        default=30, ge=1, description="Finished jobs kept this long (failed ones until retried)"
    )
    partition_months_ahead: int = Field(default=3, ge=1, description="Audit, payments")
    partition_years_ahead: int = Field(default=2, ge=1, description="Health claims")
    session_retention_days: int = Field(
        default=90, ge=1, description="Ended sessions are deleted this long after expiry"
    )
    reconciliation_inbox_dir: Path | None = Field(
        default=None, description="Bank statement CSVs reconciled by the worker; unset = off"
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
