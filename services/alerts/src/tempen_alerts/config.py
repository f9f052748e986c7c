from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tempen_shared.settings import ServiceSettings


class AlertsSettings(ServiceSettings):
    """Alerts' settings: the common ones plus TEMPEN_ALERTS_* (port, SMTP, webhooks, judging cadence)."""

    model_config = SettingsConfigDict(env_prefix="TEMPEN_ALERTS_", frozen=True, extra="ignore", populate_by_name=True)

    port: int = 8003
    group_id: str = "alerts"
    public_url: str = "http://127.0.0.1:8003"  # where recipients acknowledge; put your reverse proxy's URL here
    smtp_host: str | None = None  # unset: write e-mails to a local mail folder instead
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 15.0
    mail_dir: Path | None = None  # default: <state dir>/mail
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_backoff_s: float = Field(default=5.0, ge=0)
    # A claimed notification still 'sending' after this long belonged to a process that died: in doubt.
    notify_lease_s: float = Field(default=120.0, gt=0)
    notify_drain_s: float = Field(default=10.0, ge=0)  # on shutdown, time allowed to finish the delivery in hand
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    sweep_interval_s: float = Field(default=30.0, gt=0)
    # A backfill has ended once no transition has been quiet (history) for this long: then what it left
    # open is told, once (docs/alerts.md, "Importing history quietly").
    history_settle_s: float = Field(default=600.0, ge=0)
    # Scoring's read API, which `POST /v1/tenants/{tenant}/alerts/backtest` reads scoring's scores through.
    scoring_url: str = "http://127.0.0.1:8002"
    scoring_timeout_s: float = Field(default=30.0, gt=0)
    # The portal: where an e-mail's personal link leads, and the secret alerts signs those links with
    # (the portal checks them with the same one). Without a portal URL e-mails link to the API.
    portal_url: str | None = Field(default=None, validation_alias="TEMPEN_PORTAL_URL")
    link_secret: SecretStr | None = Field(default=None, validation_alias="TEMPEN_LINK_SECRET")

    @property
    def mail_folder(self) -> Path:
        return self.mail_dir or self.state_dir / "mail"
