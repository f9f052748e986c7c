"""Kafka plumbing shared by the services: topic creation and the broker's identity (epoch)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

logger = logging.getLogger(__name__)


async def fetch_cluster_id(client: AIOKafkaClient) -> str:
    """The cluster id the broker reports in its metadata.

    A memory-only broker that restarted comes back with a new id (the supervisor gives each start
    its own), which tells the outbox relay that everything it published before may be gone.
    Apache Kafka keeps its id for the life of the cluster.
    """
    node = client.get_random_node()
    if node is None:
        await client.force_metadata_update()
        node = client.get_random_node()
    response = await client.send(node, MetadataRequest(topics=[], allow_auto_topic_creation=False))
    return str(getattr(response, "cluster_id", None) or "unknown")


async def ensure_topics(bootstrap_servers: str, topics: Mapping[str, int], *, replication_factor: int = 1) -> list[str]:
    """Create whichever of `topics` (name -> partitions) do not exist. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topics if name not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(
                [NewTopic(name, topics[name], replication_factor) for name in missing], timeout_ms=10_000
            )
        except TopicAlreadyExistsError:
            pass  # another process won the race; the topic is there either way
        except KafkaError as exc:
            # create_topics reports per-topic errors; a concurrent creator is the common benign one.
            if "TopicAlreadyExists" not in repr(exc):
                raise
        logger.info("created topics %s", ", ".join(missing))
        return missing
    finally:
        await admin.close()
