"""External tools the deployment tests run. A missing tool fails the test with what to install: never a skip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS_PACKAGE = "prometheus"  # Debian's package: /usr/bin/promtool and /usr/bin/prometheus


def promtool() -> str:
    path = shutil.which("promtool")
    if path is not None:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(
            "promtool is not installed on the CI machine: .ci/run must run "
            f"`apt-get install -y {PROMETHEUS_PACKAGE}` (Debian's package provides /usr/bin/promtool) before pytest"
        )
    pytest.fail(
        f"promtool not found on PATH. Install it with `sudo apt-get install {PROMETHEUS_PACKAGE}` "
        "(Debian/Ubuntu), or put a Prometheus release's promtool on PATH, and run the tests again"
    )


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def markdown_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings, plus explicit <a id="..."> ones."""
    anchors = set(re.findall(r'<a (?:id|name)="([^"]+)"', markdown))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", markdown, flags=re.MULTILINE):
        text = heading.replace("`", "").lower()
        anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors
