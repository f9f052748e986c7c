"""Sampling profiles of the services while a phase runs (py-spy, outside the process, no code change),
and a plain-text summary of where the time goes: by function, self and inclusive."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


class Profiler:
    """py-spy record on each service process; `stop()` ends them and returns the summaries."""

    def __init__(self, out_dir: Path, *, rate: int = 67) -> None:
        self.out_dir = out_dir
        self.rate = rate
        self._running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        self._summaries: dict[str, Any] = {}

    def start(self, name: str, pid: int | None) -> None:
        binary = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
        if pid is None or not Path(binary).exists():
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        raw = self.out_dir / f"{name}.folded"
        process = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--nonblocking",
                "-o",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._running[name] = (process, raw)

    def stop(self) -> dict[str, Any]:
        for name, (process, raw) in list(self._running.items()):
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            del self._running[name]
            if raw.exists():
                summary = summarise(raw.read_text(encoding="utf-8", errors="replace"))
                (raw.with_suffix(".txt")).write_text(render(name, summary), encoding="utf-8")
                self._summaries[name] = summary
        return self._summaries


def _short(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarise(folded: str, top: int = 30) -> dict[str, Any]:
    """Self and inclusive share of samples per function, from py-spy's collapsed stacks."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: Counter[str], *, skip_above: float = 101.0) -> list[tuple[str, float]]:
        if not total:
            return []
        ranked = [(name, round(100 * n / total, 1)) for name, n in counter.most_common()]
        return [(name, pct) for name, pct in ranked if pct < skip_above][:top]

    # Inclusive shares leave out the chain every sample shares (event loop, server, framework entry).
    return {"samples": total, "self_pct": share(self_time), "inclusive_pct": share(inclusive, skip_above=80.0)}


def render(name: str, summary: dict[str, Any]) -> str:
    lines = [f"# {name}: {summary['samples']} samples (py-spy, non-idle threads)", "", "## self"]
    lines += [f"{pct:5.1f}%  {frame}" for frame, pct in summary["self_pct"]]
    lines += ["", "## inclusive"]
    lines += [f"{pct:5.1f}%  {frame}" for frame, pct in summary["inclusive_pct"]]
    return "\n".join(lines) + "\n"
