"""The services every deployment must run, and their ports: those `tempen up` runs (the supervisor's
list is the one home of it), so a service added there fails these tests until deploy/ runs it too.

The pipeline services consume Kafka and keep their state in PostgreSQL; the portal owns no data and
only calls scoring's and alerts' APIs."""

from tempen.supervisor import SERVICES as SUPERVISED

SERVICES: dict[str, int] = {name: port for name, (_module, port) in SUPERVISED.items()}
NO_BROKER_NO_DATABASE = frozenset({"portal"})
PIPELINE: dict[str, int] = {name: port for name, port in SERVICES.items() if name not in NO_BROKER_NO_DATABASE}
