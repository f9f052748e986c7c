"""`tempen demo`: the pulses it sends, the token it uses, and a run against the real services."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tempen.cli import main
from tempen.commands.demo import DEFAULT_LOW_UNIT, closed_months, pulse, resolve_token
from tempen.supervisor import Supervisor
from tempen_shared.tenancy.loader import Tenant, load_catalog
from tests.alerts.integration.support import admin_token
from tests.support import child_environ, free_port

if TYPE_CHECKING:  # the fixture's type; nothing is imported from conftest at run time
    from tests.conftest import Infra

SHIPPED_CONFIG = Path(__file__).parents[3] / "config"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def hjo() -> Tenant:
    return load_catalog(SHIPPED_CONFIG).tenants["hjo"]


def test_the_demo_posts_the_last_four_closed_months_in_the_tenants_zone(hjo: Tenant) -> None:
    months = closed_months(hjo, now=NOW, count=4)
    assert [m.key for m in months] == ["2026-07", "2026-08", "2026-09", "2026-10"]
    assert all(m.end <= NOW for m in months)


def test_a_months_pulse_has_6_to_25_valid_submissions_and_is_the_same_every_time(hjo: Tenant) -> None:
    instrument = hjo.instruments["hjo-puls"]
    for month in closed_months(hjo, now=NOW, count=4):
        batch = pulse(hjo, instrument, "hjo-klk-hr", month, low=False)
        assert 6 <= len(batch) <= 25
        assert batch == pulse(hjo, instrument, "hjo-klk-hr", month, low=False)
        for submission in batch:
            assert month.contains(datetime.fromisoformat(str(submission["submitted_at"])))
            answers = submission["answers"]
            assert isinstance(answers, dict)
            assert set(answers) == {item.id for item in instrument.items}
            for item in instrument.items:
                assert instrument.scale_of(item).accepts(answers[item.id])


@pytest.mark.parametrize(
    "today",
    [
        datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
        datetime(2027, 3, 31, 12, 0, tzinfo=UTC),
        datetime(2028, 2, 29, 9, 0, tzinfo=UTC),
    ],
)
def test_the_demo_tells_the_same_story_whatever_the_date(hjo: Tenant, today: datetime) -> None:
    """The answers depend on a month's place in the story, not its name: on some dates the story used
    to end in escalations only, on others not, so the demo (and its test) depended on the calendar."""
    instrument = hjo.instruments["hjo-puls"]

    def story(now: datetime) -> list[list[object]]:
        return [
            [s["answers"] for s in pulse(hjo, instrument, DEFAULT_LOW_UNIT, month, low=True, chapter=chapter)]
            for chapter, month in enumerate(closed_months(hjo, now=now, count=4))
        ]

    assert story(today) == story(NOW)
    assert closed_months(hjo, now=today, count=4)[0].key != closed_months(hjo, now=NOW, count=4)[0].key


def test_the_low_unit_answers_low_on_leadership_and_reverse_worded_items_point_the_other_way(hjo: Tenant) -> None:
    instrument = hjo.instruments["hjo-puls"]
    month = closed_months(hjo, now=NOW, count=1)[0]
    low = pulse(hjo, instrument, DEFAULT_LOW_UNIT, month, low=True)
    healthy = pulse(hjo, instrument, "hjo-klk-hr", month, low=False)

    def average(batch: list[dict[str, Any]], item: str) -> float:
        return float(mean(v for s in batch if (v := s["answers"][item]) != 6))

    assert average(low, "hme-4") < 2.5 < 4 < average(healthy, "hme-4")  # HME ledarskap
    assert average(low, "hjo-ee-1") < 2.5
    assert average(low, "hjo-us-3") > average(healthy, "hjo-us-3"), "agreeing with a problem is low"


def test_the_token_comes_from_the_option_then_the_environment_then_tempen_ups_file(tmp_path: Path) -> None:
    (tmp_path / "admin-token").write_text("tpn_file\n", encoding="utf-8")
    assert resolve_token("tpn_option", "tpn_env", tmp_path).value == "tpn_option"
    assert resolve_token(None, "tpn_env", tmp_path).shown == "$TEMPEN_TOKEN"
    from_file = resolve_token(None, None, tmp_path)
    assert (from_file.value, from_file.shown) == ("tpn_file", f"$(cat {tmp_path / 'admin-token'})")
    assert resolve_token(None, None, tmp_path / "nowhere").value is None


def live_config(tmp_path: Path) -> Path:
    """The shipped configuration with hjo notifying about every period however long ago it closed.

    The demo posts the last four closed months at once; with the default `quiet_history_days` (45) the first
    of them are history or not depending on today's date (docs/alerts.md, "Importing history quietly"). This
    test is about the live story: the opening at level 1 and the escalation at level 2, each e-mailed.
    """
    config = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, config)
    tenant = config / "tenants" / "hjo.yaml"
    text = tenant.read_text(encoding="utf-8")
    sender = "  from_address: tempen@hjo.example\n"
    assert sender in text
    tenant.write_text(text.replace(sender, sender + "  quiet_history_days: null\n"), encoding="utf-8")
    return config


@pytest.fixture
async def up(infra: Infra, database_url: str, topic_prefix: str, tmp_path: Path) -> AsyncIterator[Supervisor]:
    """`tempen up` on the shipped configuration (hjo notifying as in live operation), with no SMTP server:
    e-mails go to the mail folder."""
    sup = Supervisor(
        config_dir=live_config(tmp_path),
        state_dir=tmp_path / "state",
        environ=child_environ(
            **{
                "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
                "DATABASE_URL": database_url,
                "TEMPEN_TOPIC_PREFIX": topic_prefix,
            }
        ),
        ports={name: free_port() for name in ("ingest", "scoring", "alerts", "portal")},
        selected=("ingest", "scoring", "alerts", "portal"),
        extra_env={
            "TEMPEN_KAFKA_SESSION_TIMEOUT_MS": "2000",
            "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": "300",
            "TEMPEN_ALERTS_SWEEP_INTERVAL_S": "1",
            "TEMPEN_ALERTS_NOTIFY_LEASE_S": "3",
        },
    )
    await asyncio.to_thread(sup.start_infrastructure)
    await asyncio.to_thread(sup.start_services)  # the portal's token is made with a database call of its own
    try:
        await asyncio.to_thread(sup.wait_ready, timeout_s=60)
        yield sup
    finally:
        await asyncio.to_thread(sup.stop)


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_demo_raises_an_alert_and_shows_the_email_and_how_to_acknowledge_it(
    up: Supervisor, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = up.state_dir
    (state / "admin-token").write_text(await admin_token(database_url) + "\n", encoding="utf-8")
    args = [
        "demo",
        "--ingest-url",
        up.services["ingest"].url,
        "--alerts-url",
        up.services["alerts"].url,
        "--portal-url",
        up.services["portal"].url,
        "--state",
        str(state),
        "--config",
        str(up.config_dir),
        "--timeout",
        "120",
    ]
    assert await asyncio.to_thread(main, args) == 0
    first = capsys.readouterr().out

    assert "Alerts for Östra skolan F–3" in first
    # The same story on every date: opened at the next level after two low months, escalated after
    # two more without improvement.
    assert "open (sustained_challenge) level 1" in first, "the history shows how the alert opened"
    assert "escalated (no_improvement) level 2" in first
    mails = sorted((state / "mail" / "hjo").glob("*.eml"))
    assert mails, "the e-mails are in the mail folder"
    assert "jonas.hansson@hjo.example" in first, "level 1 is the rektor of Östra skolan F–6"
    assert "sanna.pettersson@hjo.example" in first, "the unit's own manager is informed"
    assert "/acknowledge" in first
    assert f"$(cat {state / 'admin-token'})" in first
    hr_link = re.search(r"HR \(hr@hjo\.example\) sees the whole municipality: .*\n  (\S+/s/\S+)", first)
    assert hr_link, first
    async with httpx.AsyncClient() as browser:
        opened = await browser.get(hr_link.group(1))
    assert opened.status_code == 303
    assert opened.headers["location"] == "/t/hjo/overview", "HR's link opens the HR overview"

    assert await asyncio.to_thread(main, args) == 0, "a second run is idempotent"
    again = capsys.readouterr().out
    assert "duplicate" in again
    assert "accepted" not in again.split("Waiting")[0]
    assert sorted((state / "mail" / "hjo").glob("*.eml")) == mails, "and sends nothing new"
