from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from tempen_shared.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    """Scoring's settings: the common ones plus TEMPEN_SCORING_*."""

    model_config = SettingsConfigDict(env_prefix="TEMPEN_SCORING_", frozen=True, extra="ignore", populate_by_name=True)

    port: int = 8002
    group_id: str = "scoring"
    # Slices (tenant, instrument, model, period) kept in memory between batches so that only the groups
    # a batch changed are rescored; each costs about 20 MB for 3,000 units. 0: always read from the database.
    slice_cache: int = Field(default=4, ge=0)
    # How often to look for slices rolled up against another tree than the org version now in force
    # (org events stored by another replica); this replica's own org events trigger it at once.
    realign_interval_s: float = Field(default=30.0, gt=0)
    # Score rows are computed on a tick, not with every batch: at most every `score_interval_s` while
    # batches arrive one by one, every `backlog_score_interval_s` while they come full (a burst or a
    # replay), so a group's rows are rewritten once for many batches. A batch's totals are durable at
    # once either way; a crash between a batch and its tick is caught up by the realigner.
    score_interval_s: float = Field(default=0.5, ge=0, le=60)
    backlog_score_interval_s: float = Field(default=5.0, ge=0, le=600)
    # Larger batches than the other services: every batch rescores the groups it touched and publishes
    # their changed scores, so under a backlog bigger batches mean fewer, not more, score events per
    # submission. At steady load a batch holds only what has arrived, so latency does not grow.
    max_batch: int = Field(
        default=5_000,
        ge=1,
        le=10_000,
        validation_alias=AliasChoices("TEMPEN_SCORING_MAX_BATCH", "TEMPEN_KAFKA_MAX_BATCH"),
    )
