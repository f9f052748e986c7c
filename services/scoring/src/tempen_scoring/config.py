from pydantic_settings import SettingsConfigDict

from tempen_shared.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    """Scoring's settings: the common ones plus TEMPEN_SCORING_*."""

    model_config = SettingsConfigDict(env_prefix="TEMPEN_SCORING_", frozen=True, extra="ignore", populate_by_name=True)

    port: int = 8002
    group_id: str = "scoring"
