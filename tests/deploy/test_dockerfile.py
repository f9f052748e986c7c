"""deploy/Dockerfile builds one image with every package of the repository and runs it as a non-root user."""

import re

from tests.deploy.promql import DEPLOY, REPO

DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_image_is_based_on_python_3_11_slim() -> None:
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", DOCKERFILE, flags=re.MULTILINE))
    bases = [value.split(" AS ")[0].strip() for kind, value in _instructions() if kind == "FROM"]
    assert bases
    for base in bases:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert resolved == "python:3.11-slim"


def test_pip_installs_shared_every_service_and_the_root_package() -> None:
    installs = [value for kind, value in _instructions() if kind == "RUN" and "pip install" in value]
    assert len(installs) == 1
    paths = set(re.findall(r"(?<=\s)(\.(?:/[\w/-]+)?)(?=\s|$)", installs[0].split("pip install", 1)[1]))
    services = {f"./services/{p.name}" for p in (REPO / "services").iterdir() if (p / "pyproject.toml").is_file()}
    assert paths == {"./shared", ".", *services}
    for path in paths:
        assert (REPO / path / "pyproject.toml").is_file(), path


def test_every_source_directory_pip_needs_is_copied_in() -> None:
    copied = {
        value.split()[0].rstrip("/") for kind, value in _instructions() if kind == "COPY" and "--from" not in value
    }
    assert {"pyproject.toml", "shared", "services", "src"} <= copied


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, flags=re.MULTILINE)
    assert users
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def test_the_build_context_leaves_out_the_virtualenv_and_git() -> None:
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert {"**/.venv", "**/.git"} <= set(ignored)
