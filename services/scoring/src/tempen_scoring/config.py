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
    # Larger batches than the other services: every batch writes the totals of each unit it touched, so
    # under a backlog bigger batches mean fewer rows per submission. At steady load a batch holds only
    # what has arrived, so latency does not grow. 10,000 rather than 5,000: a tenant's submissions come
    # from one partition, and the embedded broker hands them out about 8,000 at a time, so batches of
    # 5,000 alternated with remainders of 3,000 (2,371-2,459/s against 2,688/s, 100k on 2,990 units).
    max_batch: int = Field(
        default=10_000,
        ge=1,
        le=10_000,
        validation_alias=AliasChoices("TEMPEN_SCORING_MAX_BATCH", "TEMPEN_KAFKA_MAX_BATCH"),
    )
