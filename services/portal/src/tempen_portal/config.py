"""The portal's settings, read from the environment when it starts. It owns no data: no broker, no database."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TEMPEN_PORTAL_", frozen=True, extra="ignore", populate_by_name=True)

    port: int = 8000
    host: str = Field(default="127.0.0.1", validation_alias="TEMPEN_HTTP_HOST")
    log_level: str = Field(default="INFO", validation_alias="TEMPEN_LOG_LEVEL")
    config_dir: Path = Field(default=Path("config"), validation_alias="TEMPEN_CONFIG_DIR")
    # Where people reach the portal (behind a reverse proxy: its https address). Session cookies are
    # marked Secure when it is https.
    public_url: str = Field(default="http://127.0.0.1:8000", validation_alias="TEMPEN_PORTAL_URL")
    scoring_url: str = "http://127.0.0.1:8002"
    alerts_url: str = "http://127.0.0.1:8003"
    # An admin API token (`tempen tokens create --admin --name portal`): the portal reads and acts for
    # every tenant, and decides itself what each signed-in person may see.
    api_token: SecretStr
    # Shared with alerts, which signs the personal links in its e-mails with it.
    link_secret: SecretStr = Field(validation_alias="TEMPEN_LINK_SECRET")
    # Signs the session cookie. Unset: derived from the link secret, so one secret is enough to run.
    session_secret: SecretStr | None = None
    session_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    upstream_timeout_s: float = Field(default=10.0, gt=0)
    # Where the API tokens are (the services' shared database): the portal only reads them, to check the
    # admin token of its sign-in-link API. Unset: that API answers 503, the pages work as ever.
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    # How often the portal asks alerts which e-mail links were revoked (`tempen links revoke`): the
    # longest a revoked link's session lives on pages that do not fetch its alert. 0: on every request.
    revocation_poll_s: float = Field(default=30.0, ge=0, le=3600)
