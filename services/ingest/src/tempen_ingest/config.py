from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tempen_shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    """Ingest's settings: the common ones plus TEMPEN_INGEST_* (port, pseudonym key, limits)."""

    model_config = SettingsConfigDict(env_prefix="TEMPEN_INGEST_", frozen=True, extra="ignore", populate_by_name=True)

    port: int = 8001
    group_id: str = "ingest"
    max_batch_items: int = Field(default=10_000, ge=1)
    max_clock_skew_s: int = Field(default=300, ge=0)
    # Fallback key for respondent pseudonyms when a tenant has no key of its own. Development only:
    # production refuses to start with it (see app.create_app).
    pseudonym_key: SecretStr = SecretStr("tempen-development-pseudonym-key")
    allow_development_key: bool = True
