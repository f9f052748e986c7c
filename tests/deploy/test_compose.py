"""deploy/compose.yaml: valid by the Compose Specification, a three-broker KRaft cluster, no secrets."""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml

from tests.deploy.promql import DEPLOY
from tests.deploy.services import PIPELINE, SERVICES

COMPOSE_FILE = DEPLOY / "compose.yaml"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "compose-spec.json"
KAFKA_NODES = ["kafka-1", "kafka-2", "kafka-3"]
# `${VAR:?message}`: compose refuses to start while VAR is unset; no value is written here.
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment; None for a variable passed on from the caller's environment when set there."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: None if v is None else str(v) for k, v in env.items()}


def _volume(spec: str) -> tuple[str, str]:
    """(source, target) of a short-syntax volume; the source may hold `${VAR:-default}`."""
    for mode in (":ro", ":rw"):
        spec = spec.removesuffix(mode)
    source, _, target = spec.rpartition(":")
    return source, target


def test_compose_file_is_valid_by_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(_compose()), key=lambda e: list(e.path))
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []


def test_the_schema_catches_a_misspelt_key() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    broken = _compose()
    broken["services"]["ingest"]["helthcheck"] = broken["services"]["ingest"].pop("healthcheck")
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_kafka_is_three_kraft_nodes_replicating_everything_three_times() -> None:
    services = _compose()["services"]
    node_ids = set()
    for name in KAFKA_NODES:
        node = services[name]
        env = _environment(node)
        assert "apache/kafka:" in node["image"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert sorted(str(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]).split(",")) == [
            f"{i}@{n}:9093" for i, n in enumerate(KAFKA_NODES, start=1)
        ]
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert any(_volume(v)[1] == "/var/lib/kafka/data" for v in node["volumes"]), f"{name} keeps no data"
        node_ids.add(env["KAFKA_NODE_ID"])
    assert node_ids == {"1", "2", "3"}


def test_postgresql_is_version_16_or_later_with_a_volume() -> None:
    postgres = _compose()["services"]["postgres"]
    version = re.search(r"postgres:(\d+)", postgres["image"])
    assert version is not None
    assert int(version.group(1)) >= 16
    assert any(_volume(v)[1] == "/var/lib/postgresql/data" for v in postgres["volumes"])
    assert "healthcheck" in postgres


def test_each_service_runs_its_module_on_its_port_with_the_mounted_config() -> None:
    services = _compose()["services"]
    for name, port in SERVICES.items():
        service = services[name]
        env = _environment(service)
        assert service["command"] == ["python", "-m", f"tempen_{name}"]
        assert env[f"TEMPEN_{name.upper()}_PORT"] == str(port)
        assert env["TEMPEN_HTTP_HOST"] == "0.0.0.0"
        assert env["TEMPEN_CONFIG_DIR"] == "/config"
        assert any(_volume(v)[1] == "/config" for v in service["volumes"])
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (COMPOSE_FILE.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_each_pipeline_service_runs_against_all_brokers_with_replication_3_and_the_database() -> None:
    services = _compose()["services"]
    for name in PIPELINE:
        service = services[name]
        env = _environment(service)
        assert env["TEMPEN_KAFKA_REPLICATION_FACTOR"] == "3"
        assert sorted(str(env["KAFKA_BOOTSTRAP_SERVERS"]).split(",")) == [f"{n}:19092" for n in KAFKA_NODES]
        database_url = str(env["DATABASE_URL"])
        assert database_url.startswith("postgresql://")
        assert "@postgres:5432/" in database_url


def test_each_service_is_healthy_only_when_its_readyz_answers_and_waits_for_its_dependencies() -> None:
    services = _compose()["services"]
    for name, port in SERVICES.items():
        service = services[name]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in probe
        depends = service["depends_on"]
        needs = ["postgres", *KAFKA_NODES] if name in PIPELINE else ["alerts", "scoring"]
        for dependency in needs:
            assert depends[dependency]["condition"] == "service_healthy", f"{name} -> {dependency}"
    assert "smtp" in services["alerts"]["depends_on"]
    assert set(SERVICES) <= set(services["prometheus"]["depends_on"])


def test_the_portal_has_no_broker_reads_tokens_and_shares_its_link_secret_and_address_with_alerts() -> None:
    services = _compose()["services"]
    portal, alerts = _environment(services["portal"]), _environment(services["alerts"])
    assert "KAFKA_BOOTSTRAP_SERVERS" not in portal, "the portal owns no survey data"
    # Its sign-in-link API checks admin tokens, which live in the services' database.
    assert portal["DATABASE_URL"] == alerts["DATABASE_URL"]
    assert services["portal"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # `tempen alerts backtest` asks alerts, which replays scoring's scores through scoring's API.
    assert alerts["TEMPEN_ALERTS_SCORING_URL"] == f"http://scoring:{SERVICES['scoring']}"
    assert portal["TEMPEN_PORTAL_ALERTS_URL"] == f"http://alerts:{SERVICES['alerts']}"
    assert portal["TEMPEN_PORTAL_SCORING_URL"] == f"http://scoring:{SERVICES['scoring']}"
    assert portal["TEMPEN_LINK_SECRET"] == alerts["TEMPEN_LINK_SECRET"], "alerts signs what the portal checks"
    assert REQUIRED_VARIABLE.match(str(portal["TEMPEN_LINK_SECRET"]))
    assert portal["TEMPEN_PORTAL_URL"] == alerts["TEMPEN_PORTAL_URL"], "e-mails link to where the portal is"
    assert portal["TEMPEN_PORTAL_API_TOKEN"] is None, "the token is made once the database is up, then passed on"
    assert f"127.0.0.1:{SERVICES['portal']}:{SERVICES['portal']}" in services["portal"]["ports"]


def test_alerts_gets_every_smtp_setting_from_the_environment() -> None:
    env = _environment(_compose()["services"]["alerts"])
    for setting in ("HOST", "PORT", "STARTTLS"):
        assert str(env[f"TEMPEN_ALERTS_SMTP_{setting}"]).startswith(f"${{TEMPEN_ALERTS_SMTP_{setting}:-")
    for credential in ("USERNAME", "PASSWORD"):
        assert env[f"TEMPEN_ALERTS_SMTP_{credential}"] is None, "set only when the caller sets it"


def test_no_secret_is_written_in_the_file() -> None:
    for name, service in _compose()["services"].items():
        for key, value in _environment(service).items():
            if value is None:
                continue  # passed on from the caller's environment
            if SECRET_NAME.search(key):
                assert REQUIRED_VARIABLE.match(value), f"{name}: {key}={value!r}"
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert REQUIRED_VARIABLE.match(password), f"{name}: {key} has a password in it"


def test_prometheus_and_grafana_mount_files_that_exist() -> None:
    services = _compose()["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source, _ = _volume(volume)
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name} mounts missing {source}"
    targets = {_volume(v)[1] for v in services["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules.yml"} <= targets
