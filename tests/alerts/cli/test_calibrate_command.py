from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tempen.cli import main


def test_calibrate_prints_every_policy_with_its_verdict_and_writes_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "calibration.svg"
    assert (
        main(["alerts", "calibrate", "--units", "20", "--sizes", "6,25", "--tenant", "hjo", "--chart", str(chart)]) == 0
    )
    out = capsys.readouterr().out
    for policy in ("pooled (default)", "each period (before)", "no noise guard", "hjo's policy"):
        assert policy in out
    assert out.count("false alerts at most 1 per 50 unit-years at every size, units at 70:") == 4
    assert "20 simulated units per size and scenario" in out
    svg = ET.parse(chart).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "20-point drops caught within 3 periods" in (svg.findtext("{http://www.w3.org/2000/svg}title") or "")


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--sizes", "six"], "--sizes must be whole numbers"),
        (["--sizes", "0,8"], "--sizes must lie in 1-500"),
        (["--baseline", "10"], "--baseline must lie in 20-100"),
        (["--tenant", "nowhere"], "No tenant 'nowhere'"),
    ],
)
def test_calibrate_refuses_bad_arguments_with_the_reason(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "calibrate", "--units", "5", *argv]) == 2
    assert reason in capsys.readouterr().err
