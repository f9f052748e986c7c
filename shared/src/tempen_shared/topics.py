"""The topic registry: every topic tempen uses, who writes it, who reads it, and how it is keyed.

Most keys are `tenant:unit`, so everything about one unit stays in order on one partition, and a Kafka
cluster spreads tenants and units over partitions and consumer-group members. Submissions are keyed
by tenant alone: scoring rolls every unit up into its ancestors and checks anonymity across the whole
tree, so one replica must own all of a tenant's submissions. Spread by unit, two replicas both wrote
every period of the tenant, each reloading it whole after the other's batch: the 100k burst on 2,990
units took 1.9 times scoring's CPU of one replica and ran a third slower (docs/benchmarks.md). Scoring
scales out over tenants, as many replicas as the topic has partitions with tenants on them.
"""

from dataclasses import dataclass

from pydantic import BaseModel

from tempen_shared.events import (
    AlertTransitionedV1,
    CanonicalSubmission,
    OrgUnitVersionedV1,
    SubmissionAcceptedV1,
    SubmissionRetractedV1,
    UnitScoredV2,
)


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int
    current: type[BaseModel]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    key: str = "tenant:unit"
    # Other events on the same topic (same key, same order), told apart by their `event_type` field.
    also: tuple[type[BaseModel], ...] = ()

    @property
    def dead_letters(self) -> str:
        return f"{self.name}.dlq"

    def key_of(self, tenant: str, unit: str) -> bytes:
        """The partition key of a record about `unit` of `tenant` on this topic."""
        return tenant.encode() if self.key == "tenant" else partition_key(tenant, unit)


INTAKE = Topic("tempen.intake", 4, CanonicalSubmission, ("survey platforms",), ("ingest",))
SUBMISSIONS = Topic(
    "tempen.submissions",
    4,
    SubmissionAcceptedV1,
    ("ingest",),
    ("scoring",),
    key="tenant",
    also=(SubmissionRetractedV1,),
)
SCORES = Topic("tempen.scores", 4, UnitScoredV2, ("scoring",), ("alerts",))
ALERTS = Topic("tempen.alerts", 4, AlertTransitionedV1, ("alerts",), ("other systems",))
ORG = Topic("tempen.org", 4, OrgUnitVersionedV1, ("ingest",), ("scoring", "alerts"))

TOPICS: tuple[Topic, ...] = (INTAKE, SUBMISSIONS, SCORES, ALERTS, ORG)
DLQ_PARTITIONS = 1


def all_topic_names() -> dict[str, int]:
    """Every topic to create, with its partition count, dead-letter topics included."""
    names = {topic.name: topic.partitions for topic in TOPICS}
    names.update({topic.dead_letters: DLQ_PARTITIONS for topic in TOPICS})
    return names


def partition_key(tenant: str, unit: str) -> bytes:
    """The partition key of anything about one unit of one tenant."""
    return f"{tenant}:{unit}".encode()


# Golden example messages (synthetic ids only), one folder per contract and version, checked in tests.
EXAMPLE_FOLDERS: dict[type[BaseModel], str] = {
    CanonicalSubmission: "canonical-submission",
    SubmissionAcceptedV1: "submission-accepted",
    SubmissionRetractedV1: "submission-retracted",
    UnitScoredV2: "unit-scored",
    AlertTransitionedV1: "alert-transitioned",
    OrgUnitVersionedV1: "org-unit-versioned",
}
