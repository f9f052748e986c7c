from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tempen_shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    """Ingest's settings: the common ones plus TEMPEN_INGEST_* (port, pseudonym key, limits, retention)."""

    model_config = SettingsConfigDict(env_prefix="TEMPEN_INGEST_", frozen=True, extra="ignore", populate_by_name=True)

    port: int = 8001
    group_id: str = "ingest"
    max_batch_items: int = Field(default=10_000, ge=1)
    max_clock_skew_s: int = Field(default=300, ge=0)
    # Fallback key for respondent pseudonyms when a tenant has no key of its own. Development only:
    # production refuses to start with it (see app.create_app).
    pseudonym_key: SecretStr = SecretStr("tempen-development-pseudonym-key")
    allow_development_key: bool = True
    # Privacy (docs/privacy.md): raw answers and opted-in free text are deleted after these many days;
    # the submission row (id, revision, fingerprint) stays so redeliveries are still recognised.
    retention_days: int = Field(default=730, ge=1)
    comment_retention_days: int = Field(default=365, ge=1)
    retention_interval_s: float = Field(default=3600.0, gt=0)
    max_webhook_bytes: int = Field(default=1 << 20, ge=1024)
    # SurveyMonkey and Qualtrics webhooks name a response; it is fetched from the platform's API.
    # A failed fetch is retried after fetch_backoff_s, doubling up to fetch_max_backoff_s (or when
    # the platform's Retry-After says), and dead-lettered after fetch_max_attempts.
    fetch_timeout_s: float = Field(default=10.0, gt=0)
    fetch_max_attempts: int = Field(default=10, ge=1)
    fetch_backoff_s: float = Field(default=30.0, ge=0)
    fetch_max_backoff_s: float = Field(default=3600.0, ge=0)
    fetch_lease_s: float = Field(default=60.0, gt=0)
    fetch_idle_s: float = Field(default=1.0, gt=0)
