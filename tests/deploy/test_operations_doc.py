"""docs/operations.md: its links resolve, and it documents the settings and commands operators need."""

import re

import yaml

from tests.deploy.promql import DEPLOY, REPO
from tests.deploy.services import SERVICES
from tests.deploy.tools import markdown_anchors

OPERATIONS = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
# Files the operator creates and must never commit.
OPERATOR_FILES = {"deploy/tenant-secrets.env"}


def test_markdown_anchors_follow_github_s_rules() -> None:
    assert markdown_anchors("## Dead-letter topics (DLQ)\n### `tempen dlq` and PostgreSQL sizing\n") == {
        "dead-letter-topics-dlq",
        "tempen-dlq-and-postgresql-sizing",
    }


def test_every_link_within_the_document_resolves() -> None:
    links = set(re.findall(r"\]\(#([^)]+)\)", OPERATIONS))
    assert links
    assert links - markdown_anchors(OPERATIONS) == set()


def test_every_file_it_names_under_deploy_exists() -> None:
    named = set(re.findall(r"`(deploy/[\w./-]+)`", OPERATIONS)) - OPERATOR_FILES
    assert named
    assert [path for path in sorted(named) if not (REPO / path).exists()] == []


def test_every_setting_the_deployments_pass_to_the_services_is_documented() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    names = {key for name in SERVICES for key in compose["services"][name]["environment"]}
    for path in (DEPLOY / "k8s").glob("configmap-*.yaml"):
        names |= {key for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) for key in doc["data"]}
    for path in (DEPLOY / "k8s" / "secrets").glob("*.yaml"):
        if path.name == "tenant-secrets.template.yaml":
            continue  # keys the tenant files name, documented in tenants.md
        names |= {key for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) for key in doc["stringData"]}
    names -= {"TEMPEN_STATE_DIR"}  # set by the image; nothing for an operator to choose
    assert [name for name in sorted(names) if f"`{name}`" not in OPERATIONS and name not in OPERATIONS] == []


def test_the_dlq_commands_are_documented() -> None:
    for command in ("tempen dlq list", "tempen dlq list --topic", "tempen dlq replay --topic", "--offset", "--all"):
        assert command in OPERATIONS
