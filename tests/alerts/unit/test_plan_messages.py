"""The e-mails about an alert that went on quote its action plan: what, owner, due date, status and the latest
comment, in the e-mail's language, escaped in the HTML part."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from tempen_alerts.domain.messages import QUOTED_PLAN_CHARS, Email, Language, render_moved_on, render_notification
from tempen_alerts.domain.plans import Plan, PlanComment, PlanRevision
from tempen_alerts.domain.routing import Recipient
from tests.alerts.unit.factories import months

KIM = Recipient(email="kim@kommun.example", name="Kim", role="next_level", level=2)
BO_BEFORE = Recipient(email="bo@kommun.example", name="Bo", role="previous_level", level=1)
URL = "https://tempen.kommun.example/l/abc.def"
WRITTEN = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)

PLAN = Plan(
    revisions=(
        PlanRevision(
            revision=1,
            what="Prata i APT",
            owner="Bo",
            due=date(2026, 4, 1),
            status="planned",
            written_by="bo@kommun.example",
            written_at=WRITTEN,
        ),
        PlanRevision(
            revision=2,
            what="Prata i APT om <arbetsbelastningen>\noch boka in medarbetarsamtal",
            owner="Bo Ek",
            due=date(2026, 5, 1),
            status="in_progress",
            written_by="bo@kommun.example",
            written_at=datetime(2026, 3, 20, 8, 0, tzinfo=UTC),
        ),
    ),
    comments=(
        PlanComment(
            text="Första APT hållen.", written_by="bo@kommun.example", written_at=datetime(2026, 3, 27, tzinfo=UTC)
        ),
        PlanComment(
            text="Samtalen bokade & klara.",
            written_by="cecilia@kommun.example",
            written_at=datetime(2026, 4, 2, tzinfo=UTC),
        ),
    ),
)


def escalated(plan: Plan | None, language: Language = "sv", kind: str = "escalated") -> Email:
    return render_notification(
        language=language,
        kind=kind,  # type: ignore[arg-type]
        recipient=KIM,
        tenant_name="Hjo kommun",
        unit_name="Hemtjänst Norr",
        dimension_name="Tillit",
        history=months(58.0, 60.0, 61.0),
        threshold=65,
        explanation=None,
        acknowledge_url=URL,
        level=2,
        plan=plan,
    )


def test_the_escalation_quotes_the_current_plan_and_the_latest_comment_in_swedish() -> None:
    email = escalated(PLAN)

    assert (
        "Handlingsplan:\n"
        "  Vad som ska göras: Prata i APT om <arbetsbelastningen>\n"
        "    och boka in medarbetarsamtal\n"
        "  Ansvarig: Bo Ek\n"
        "  Klart senast: 2026-05-01\n"
        "  Läge: pågår\n"
        "  Senast ändrad 2026-03-20 av bo@kommun.example (version 2)\n"
        "  Senaste kommentar (2026-04-02, cecilia@kommun.example): Samtalen bokade & klara.\n"
    ) in email.text
    assert "Första APT hållen." not in email.text, "the latest comment only; the case page has them all"
    assert email.text.index("Handlingsplan:") < email.text.index("Organisation:"), "the plan before the figures"
    assert "<th>Vad som ska göras</th><td>Prata i APT om &lt;arbetsbelastningen&gt;<br>och boka in" in email.html
    assert "Samtalen bokade &amp; klara." in email.html
    assert "<arbetsbelastningen>" not in email.html


def test_the_plan_is_quoted_in_english_when_the_tenant_writes_english() -> None:
    email = escalated(PLAN, "en")
    assert "Action plan:\n  What will be done: Prata i APT" in email.text
    assert "  Owner: Bo Ek\n  Due: 2026-05-01\n  Status: in progress\n" in email.text
    assert "  Last changed 2026-03-20 by bo@kommun.example (revision 2)\n" in email.text
    assert "  Latest comment (2026-04-02, cecilia@kommun.example): Samtalen bokade & klara.\n" in email.text


def test_an_alert_that_went_on_without_a_plan_says_none_was_written_and_a_new_one_says_nothing() -> None:
    assert "Handlingsplan: Ingen handlingsplan är skriven ännu.\n" in escalated(Plan()).text
    assert "<p>Ingen handlingsplan är skriven ännu.</p>" in escalated(Plan()).html
    opened = escalated(None, kind="opened")
    assert "Handlingsplan" not in opened.text.replace("handlingsplan", "")


def test_a_plan_acknowledged_without_a_date_says_no_date_is_set() -> None:
    undated = Plan(revisions=(replace(PLAN.revisions[0], due=None),))
    assert "  Klart senast: inget datum satt\n" in escalated(undated).text


def test_a_long_plan_is_cut_and_points_to_the_case() -> None:
    long = Plan(revisions=(replace(PLAN.revisions[0], what="a" * (QUOTED_PLAN_CHARS + 50)),))
    text = escalated(long).text
    assert "a" * QUOTED_PLAN_CHARS + "… (resten finns i ärendet)\n" in text
    assert "a" * (QUOTED_PLAN_CHARS + 1) not in text


def test_the_note_to_the_level_moved_past_quotes_the_plan_too() -> None:
    email = render_moved_on(
        language="sv",
        recipient=BO_BEFORE,
        tenant_name="Hjo kommun",
        unit_name="Hemtjänst Norr",
        dimension_name="Tillit",
        to_level=2,
        to_name="Kim",
        to_hr=False,
        rule="no_improvement",
        explanation=None,
        url=URL,
        plan=PLAN,
    )
    assert "Handlingsplan:\n  Vad som ska göras: Prata i APT om <arbetsbelastningen>" in email.text
    assert "<h3>Handlingsplan</h3>" in email.html
