"""Settings every service shares. Read from the environment when a service starts, never at import."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Common settings. The broker and database URLs carry no service prefix, so one environment
    (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`) configures the whole deployment; each service's own
    settings class adds its fields under its prefix (`TEMPEN_INGEST_PORT`, ...)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: SecretStr = Field(validation_alias="DATABASE_URL")
    config_dir: Path = Field(default=Path("config"), validation_alias="TEMPEN_CONFIG_DIR")
    state_dir: Path = Field(default=Path(".tempen"), validation_alias="TEMPEN_STATE_DIR")
    topic_prefix: str = Field(default="", validation_alias="TEMPEN_TOPIC_PREFIX")
    replication_factor: int = Field(default=1, ge=1, validation_alias="TEMPEN_KAFKA_REPLICATION_FACTOR")
    # Short group timeouts make the embedded broker start fast; on a real cluster keep Kafka's defaults.
    session_timeout_ms: int = Field(default=10_000, ge=1_000, validation_alias="TEMPEN_KAFKA_SESSION_TIMEOUT_MS")
    heartbeat_interval_ms: int = Field(default=3_000, ge=100, validation_alias="TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS")
    max_batch: int = Field(default=500, ge=1, le=10_000, validation_alias="TEMPEN_KAFKA_MAX_BATCH")
    # How long the broker may hold a consumer's fetch while it has no data. The embedded Tansu answers a
    # waiting fetch only when the wait ends (a record published meanwhile waited ~110 ms per hop at
    # Kafka's 500 ms default, ~10 ms at 50); Kafka answers as soon as data arrives, so there 50 only means
    # 20 empty fetches a second per idle consumer. One value serves both (docs/operations.md).
    fetch_max_wait_ms: int = Field(default=50, ge=0, le=5_000, validation_alias="TEMPEN_KAFKA_FETCH_MAX_WAIT_MS")
    # How long the outbox relay's producer waits to fill a batch. The relay hands it up to 2,000 rows at
    # once, so batches fill without waiting; the linger only gathers a trickle at steady load.
    linger_ms: int = Field(default=5, ge=0, le=1_000, validation_alias="TEMPEN_KAFKA_LINGER_MS")
    # What one fetch may bring from one partition. Kafka's default (1 MiB, about 1,500 submissions) cut
    # scoring's batches short once a tenant's submissions come from one partition; 8 MiB fills a batch
    # of 5,000 and holds at most that per assigned partition in memory.
    max_partition_fetch_bytes: int = Field(
        default=8 << 20, ge=1 << 16, le=64 << 20, validation_alias="TEMPEN_KAFKA_MAX_PARTITION_FETCH_BYTES"
    )
    pool_max_size: int = Field(default=10, ge=2, validation_alias="TEMPEN_DB_POOL_MAX_SIZE")
    log_level: str = Field(default="INFO", validation_alias="TEMPEN_LOG_LEVEL")
    host: str = Field(default="127.0.0.1", validation_alias="TEMPEN_HTTP_HOST")
    retry_backoff_s: float = Field(default=0.5, ge=0, validation_alias="TEMPEN_RETRY_BACKOFF_S")
    retry_max_backoff_s: float = Field(default=30.0, ge=0, validation_alias="TEMPEN_RETRY_MAX_BACKOFF_S")
    retry_max_attempts: int = Field(default=3, ge=1, validation_alias="TEMPEN_RETRY_MAX_ATTEMPTS")
    outbox_retention_hours: int = Field(default=168, ge=1, validation_alias="TEMPEN_OUTBOX_RETENTION_HOURS")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def consumer_group(self, name: str) -> str:
        """A consumer group's name, with the topic prefix: deployments that share a Kafka cluster under
        different prefixes must not share groups, or each one's members would join the other's rebalances
        (and a member that left without a word would hold up the other's joins until it timed out)."""
        return f"{self.topic_prefix}{name}"
