"""The e-mail an alert sends, in Swedish or English, as plain text and HTML.

Only what the rules saw goes in: the unit's index per period against the threshold, with the number
of respondents, and the action plan the managers wrote (domain/plans.py). Never an individual answer,
never a respondent's free text, and nothing about a suppressed period but that it had too few responses.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from tempen_alerts.domain.explain import Explanation, describe
from tempen_alerts.domain.history import TimelineEntry
from tempen_alerts.domain.plans import Plan, PlanStatus
from tempen_alerts.domain.routing import Recipient
from tempen_alerts.domain.rules import PeriodScore
from tempen_shared.events.alerts import AlertState

Language = Literal["sv", "en"]
# "found_in_history": an alert still open after a quiet backfill, told once at its current level.
# "escalated_to_hr": escalated past the highest management level, to HR, where it stays.
NotificationKind = Literal["opened", "escalated", "resolved", "found_in_history", "escalated_to_hr"]

# A change smaller than this between two periods is reported as "about the same": small groups move
# a point or two from month to month without anything having happened.
STABLE_WITHIN_POINTS = 1.0
# An e-mail quotes this much of a plan's text and of its latest comment; the case page has the rest.
QUOTED_PLAN_CHARS = 1500
QUOTED_COMMENT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Wording:
    titles: Mapping[NotificationKind, str]
    subject: str  # {tenant} {title} {dimension} {unit}
    for_information: str
    greeting: str  # {name}
    asked: Mapping[NotificationKind, tuple[str, ...]]  # {unit} {dimension} {level}
    informed: Mapping[NotificationKind, str]  # {unit} {dimension} {level}
    hr_note: str
    organisation: str
    unit: str
    dimension: str
    threshold: str
    scale: str
    results: str
    period: str
    index: str
    against: str  # {threshold}
    respondents: str
    tenant_index: str
    below: str
    at_or_above: str
    too_few: str
    trend: str
    trend_up: str
    trend_down: str
    trend_flat: str
    trend_from_to: str  # {before} {before_period} {after} {after_period}
    trend_unknown: str
    rule: str
    timeline: str
    timeline_states: Mapping[AlertState, str]  # {level}
    acknowledge: str
    view: str
    privacy: str
    decimal_comma: bool
    plan: str
    plan_none: str
    plan_what: str
    plan_owner: str
    plan_due: str
    plan_no_due: str
    plan_status: str
    plan_statuses: Mapping[PlanStatus, str]
    plan_written: str  # {date} {who} {revision}
    plan_comment: str  # {date} {who}
    plan_more: str


_SV = _Wording(
    titles={
        "opened": "Ihållande låga resultat",
        "escalated": "Eskalerat till nästa chefsnivå",
        "resolved": "Återhämtat",
        "found_in_history": "Öppet ärende i importerade resultat",
        "escalated_to_hr": "Lämnat över till HR",
    },
    subject="[{tenant}] {title}: {dimension} i {unit}",
    for_information="För kännedom – ",
    greeting="Hej {name},",
    asked={
        "opened": (
            "{unit} har haft ihållande låga resultat på {dimension}. Enligt ledarskapsmodellen tar man upp det "
            "med chefen när ledarskapet utmanas, och leder det inte till förbättring går man vidare till nästa "
            "chefsnivå. Därför får du, som nästa chefsnivå, det här meddelandet.",
            "Vi ber dig att prata med enhetens chef om resultatet och att ni tillsammans kommer överens om en "
            "handlingsplan med ett datum för uppföljning.",
        ),
        "escalated": (
            "Resultatet för {unit} på {dimension} har inte förbättrats tillräckligt sedan chefsnivån under dig "
            "fick ett meddelande, eller så kvitterade ingen det i tid. Enligt ledarskapsmodellen går frågan då "
            "vidare till nästa chefsnivå, som är du.",
            "Vi ber dig att prata med enhetens chef och med chefen på nivån under dig, gå igenom "
            "handlingsplanen och komma överens om vad som behöver göras annorlunda.",
        ),
        "resolved": (
            "Resultatet för {unit} på {dimension} har återhämtat sig, och ärendet är avslutat.",
            "Ingen åtgärd krävs. Följ gärna upp med enhetens chef att det som hjälpte fortsätter.",
        ),
        "found_in_history": (
            "Tidigare resultat för {unit} har importerats till tempen. De visar ihållande låga resultat på "
            "{dimension}, och ärendet är fortfarande öppet. Enligt ledarskapsmodellen har det nått nivå {level}, "
            "som är du. Ingen fick något meddelande om det som hände i den importerade historiken; historiken "
            "sammanfattas nedan.",
            "Vi ber dig att prata med enhetens chef om resultatet och att ni tillsammans kommer överens om en "
            "handlingsplan med ett datum för uppföljning.",
        ),
        "escalated_to_hr": (
            "Resultatet för {unit} på {dimension} har inte förbättrats tillräckligt sedan den högsta chefsnivån "
            "för enheten fick ärendet, eller så kvitterade ingen det i tid. Det finns ingen högre chefsnivå att gå "
            "vidare till, så ärendet lämnas nu över till HR.",
            "Vi ber er att ta upp resultatet med den högsta chefsnivån och enhetens chef och bestämma hur ärendet "
            "ska drivas vidare. Ärendet ligger kvar hos HR tills enheten har återhämtat sig eller ärendet avslutas.",
        ),
    },
    informed={
        "opened": "Det här är för din kännedom. {unit} har haft ihållande låga resultat på {dimension}, och din "
        "chef har ombetts att prata med dig om resultatet och tillsammans med dig komma överens om en "
        "handlingsplan.",
        "escalated": "Det här är för din kännedom. Resultatet för {unit} på {dimension} har inte förbättrats "
        "tillräckligt, så frågan har gått vidare till nästa chefsnivå, som har ombetts att prata med dig.",
        "resolved": "Det här är för din kännedom. Resultatet för {unit} på {dimension} har återhämtat sig, och "
        "ärendet är avslutat.",
        "found_in_history": "Det här är för din kännedom. Tidigare resultat för {unit} har importerats och visar "
        "ihållande låga resultat på {dimension}. Ärendet är fortfarande öppet, och chefen på nivå {level} har "
        "ombetts att prata med dig.",
        "escalated_to_hr": "Det här är för din kännedom. Resultatet för {unit} på {dimension} har inte förbättrats "
        "tillräckligt, och eftersom det inte finns någon högre chefsnivå har ärendet lämnats över till HR.",
    },
    hr_note="Du får meddelandet som HR eftersom det inte finns någon chef att gå vidare till ovanför enhetens "
    "chef i organisationsträdet, eller för att enheten inte längre finns där. Se till att rätt chef får frågan.",
    organisation="Organisation",
    unit="Enhet",
    dimension="Dimension",
    threshold="Gräns",
    scale="index 0–100",
    results="Resultat per period",
    period="Period",
    index="Index",
    against="Mot gränsen {threshold}",
    respondents="Svarande",
    tenant_index="Hela organisationen",
    below="under gränsen",
    at_or_above="på eller över gränsen",
    too_few="för få svar",
    trend="Trend",
    trend_up="↑ bättre",
    trend_down="↓ sämre",
    trend_flat="→ ungefär oförändrat",
    trend_from_to="från {before} ({before_period}) till {after} ({after_period})",
    trend_unknown="för få perioder med resultat för att visa en trend",
    rule="Vad vi såg och hur säkra vi är",
    timeline="Ärendets historik",
    timeline_states={
        "open": "öppnat på nivå {level}",
        "escalated": "eskalerat till nivå {level}",
        "acknowledged": "kvitterat på nivå {level}",
        "resolved": "avslutat",
    },
    acknowledge="Kvittera när ni har pratat, gärna med en kort anteckning om handlingsplanen och ett datum för "
    "uppföljning:",
    view="Ärendet:",
    privacy="Meddelandet bygger bara på sammanställda resultat för grupper med tillräckligt många svar. Det "
    "innehåller aldrig enskilda svar eller fritextsvar, och för perioder med för få svar visas inga siffror.",
    decimal_comma=True,
    plan="Handlingsplan",
    plan_none="Ingen handlingsplan är skriven ännu.",
    plan_what="Vad som ska göras",
    plan_owner="Ansvarig",
    plan_due="Klart senast",
    plan_no_due="inget datum satt",
    plan_status="Läge",
    plan_statuses={"planned": "planerad", "in_progress": "pågår", "done": "klar"},
    plan_written="Senast ändrad {date} av {who} (version {revision})",
    plan_comment="Senaste kommentar ({date}, {who})",
    plan_more="… (resten finns i ärendet)",
)

_EN = _Wording(
    titles={
        "opened": "Sustained low results",
        "escalated": "Escalated to the next management level",
        "resolved": "Recovered",
        "found_in_history": "Open case found in imported results",
        "escalated_to_hr": "Handed over to HR",
    },
    subject="[{tenant}] {title}: {dimension} in {unit}",
    for_information="For your information – ",
    greeting="Hello {name},",
    asked={
        "opened": (
            "{unit} has had sustained low results on {dimension}. The leadership model says: when leadership "
            "is challenged, raise it with the manager, and if that does not lead to improvement, go to the "
            "next management level. That is why you, as the next management level, receive this message.",
            "Please talk with the unit's manager about the results and agree together on an action plan with "
            "a date for following it up.",
        ),
        "escalated": (
            "The results of {unit} on {dimension} have not improved enough since the management level below "
            "you was notified, or nobody acknowledged the notice in time. The leadership model then takes the "
            "matter to the next management level, which is you.",
            "Please talk with the unit's manager and with the manager on the level below you, go through the "
            "action plan and agree on what needs to be done differently.",
        ),
        "resolved": (
            "The results of {unit} on {dimension} have recovered, and the case is closed.",
            "No action is needed. You may want to check with the unit's manager that what helped continues.",
        ),
        "found_in_history": (
            "Earlier results of {unit} have been imported into tempen. They show sustained low results on "
            "{dimension}, and the case is still open. Following the leadership model it has reached level {level}, "
            "which is you. Nobody was notified of what happened in the imported history; it is summarised below.",
            "Please talk with the unit's manager about the results and agree together on an action plan with "
            "a date for following it up.",
        ),
        "escalated_to_hr": (
            "The results of {unit} on {dimension} have not improved enough since the highest management level "
            "for the unit took up the case, or nobody acknowledged it in time. There is no higher management level "
            "to go to, so the case is now handed over to HR.",
            "Please take the results up with the highest management level and the unit's manager and decide how "
            "to take the case further. It stays with HR until the unit recovers or the case is closed.",
        ),
    },
    informed={
        "opened": "This is for your information. {unit} has had sustained low results on {dimension}, and your "
        "manager has been asked to talk with you about the results and agree with you on an action plan.",
        "escalated": "This is for your information. The results of {unit} on {dimension} have not improved "
        "enough, so the matter has gone to the next management level, who has been asked to talk with you.",
        "resolved": "This is for your information. The results of {unit} on {dimension} have recovered, and the "
        "case is closed.",
        "found_in_history": "This is for your information. Earlier results of {unit} have been imported and show "
        "sustained low results on {dimension}. The case is still open, and the manager at level {level} has been "
        "asked to talk with you.",
        "escalated_to_hr": "This is for your information. The results of {unit} on {dimension} have not improved "
        "enough, and since there is no higher management level the case has been handed over to HR.",
    },
    hr_note="You receive this message as HR because the org tree has no manager to go to above the unit's "
    "manager, or the unit is no longer in it. Please make sure the right manager takes this up.",
    organisation="Organisation",
    unit="Unit",
    dimension="Dimension",
    threshold="Threshold",
    scale="index 0–100",
    results="Results per period",
    period="Period",
    index="Index",
    against="Against the threshold {threshold}",
    respondents="Respondents",
    tenant_index="Whole organisation",
    below="below the threshold",
    at_or_above="at or above the threshold",
    too_few="too few responses",
    trend="Trend",
    trend_up="↑ improving",
    trend_down="↓ declining",
    trend_flat="→ about the same",
    trend_from_to="from {before} ({before_period}) to {after} ({after_period})",
    trend_unknown="not enough periods with results to show a trend",
    rule="What we found and how sure we are",
    timeline="History of the case",
    timeline_states={
        "open": "opened at level {level}",
        "escalated": "escalated to level {level}",
        "acknowledged": "acknowledged at level {level}",
        "resolved": "closed",
    },
    acknowledge="Acknowledge once you have talked, ideally with a short note on the action plan and a follow-up date:",
    view="The case:",
    privacy="This message is based only on aggregated results for groups with enough responses. It never "
    "contains individual answers or free-text comments, and periods with too few responses show no numbers.",
    decimal_comma=False,
    plan="Action plan",
    plan_none="No action plan has been written yet.",
    plan_what="What will be done",
    plan_owner="Owner",
    plan_due="Due",
    plan_no_due="no date set",
    plan_status="Status",
    plan_statuses={"planned": "planned", "in_progress": "in progress", "done": "done"},
    plan_written="Last changed {date} by {who} (revision {revision})",
    plan_comment="Latest comment ({date}, {who})",
    plan_more="… (the rest is in the case)",
)

_WORDING: Mapping[Language, _Wording] = {"sv": _SV, "en": _EN}


@dataclass(frozen=True, slots=True)
class _Row:
    period: str
    index: str | None  # None: suppressed, show only that there were too few responses
    status: str
    respondents: str
    tenant_index: str


def render_notification(
    *,
    language: Language,
    kind: NotificationKind,
    recipient: Recipient,
    tenant_name: str,
    unit_name: str,
    dimension_name: str,
    history: Sequence[PeriodScore],
    threshold: float,
    explanation: Explanation | None,
    acknowledge_url: str,
    level: int = 1,
    timeline: Sequence[TimelineEntry] = (),
    plan: Plan | None = None,
) -> Email:
    """The notification for one recipient of an alert that opened, escalated or resolved, or that a quiet
    backfill left open ("found_in_history").

    `history` is the periods to show, oldest first; suppressed periods appear as "too few responses"
    with no numbers at all. `explanation` is the transition's (`domain.explain`), written in `language`:
    what was found, the rule and how sure it is (None, for a transition stored before explanations were:
    the section is left out rather than quote the English rule text).
    `level` is the alert's level now; `timeline` its transitions, oldest first, shown as its history
    (only for "found_in_history"). `plan` is the alert's action plan as it stands, quoted after the opening
    paragraphs (its times already in the tenant's zone); None leaves the section out (a new alert has none).
    Every interpolated string is HTML-escaped in the HTML part.

    Raises:
        ValueError: `acknowledge_url` is not an absolute http(s) address.
    """
    _check_url(acknowledge_url)
    words = _WORDING[language]
    informed = recipient.role == "unit_manager"
    title = words.titles[kind]
    subject = _one_line(
        words.subject.format(
            tenant=tenant_name,
            title=f"{words.for_information}{title}" if informed else title,
            dimension=dimension_name,
            unit=unit_name,
        )
    )
    if informed:
        paragraphs = [words.informed[kind].format(unit=unit_name, dimension=dimension_name, level=level)]
    else:
        paragraphs = [p.format(unit=unit_name, dimension=dimension_name, level=level) for p in words.asked[kind]]
        if recipient.role == "hr" and kind != "escalated_to_hr":  # that one says why it came to HR itself
            paragraphs.append(words.hr_note)
    facts = [
        (words.organisation, tenant_name),
        (words.unit, unit_name),
        (words.dimension, dimension_name),
        (words.threshold, f"{_number(threshold, words)} ({words.scale})"),
    ]
    rows = [_row(score, threshold, words) for score in history]
    show_tenant = any(row.tenant_index for row in rows)
    trend = _trend(history, words)
    steps = [f"{entry.period}: {words.timeline_states[entry.to_state].format(level=entry.level)}" for entry in timeline]
    link_label = words.acknowledge if kind != "resolved" and not informed else words.view
    greeting = words.greeting.format(name=recipient.name)
    explained = describe(explanation, language) if explanation is not None else ()
    planned = _plan_lines(plan, words) if plan is not None else None

    text = _text(
        greeting=greeting,
        paragraphs=paragraphs,
        planned=planned,
        facts=facts,
        rows=rows,
        show_tenant=show_tenant,
        trend=trend,
        steps=steps,
        explained=explained,
        link_label=link_label,
        url=acknowledge_url,
        words=words,
    )
    page = _html(
        language=language,
        subject=subject,
        greeting=greeting,
        paragraphs=paragraphs,
        planned=planned,
        facts=facts,
        rows=rows,
        show_tenant=show_tenant,
        threshold=_number(threshold, words),
        trend=trend,
        steps=steps,
        explained=explained,
        link_label=link_label,
        url=acknowledge_url,
        words=words,
    )
    return Email(subject=subject, text=text, html=page)


@dataclass(frozen=True, slots=True)
class OpenCase:
    """An alert open when a backfill ended, as HR's summary lists it."""

    unit_name: str
    dimension_name: str
    state: AlertState
    level: int
    sits_with: str  # the name of whoever the alert is with at its level (a manager, or HR)
    opened_period: str
    from_history: bool  # whether the import opened or moved it
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _SummaryWording:
    subject: str  # {tenant} {count}
    open_count: tuple[str, str]  # one, several: {count}
    greeting: str
    imported: str  # {transitions} {quiet_days}
    transition_count: tuple[str, str]  # one, several: {count}
    open_now: str
    none_open: str
    case: str  # {unit} {dimension} {state} {level} {who} {opened} {mark}
    from_history: str
    states: Mapping[AlertState, str]
    told: str
    told_copy: str
    closed_in_history: tuple[str, str]  # one, several: {count}


_SUMMARY: Mapping[Language, _SummaryWording] = {
    "sv": _SummaryWording(
        subject="[{tenant}] Importerade resultat: {count}",
        open_count=("{count} öppet ärende", "{count} öppna ärenden"),
        greeting="Hej HR,",
        imported="Tidigare resultat har importerats till tempen. Bedömningen av dem gav {transitions} "
        "(ärenden som öppnades, eskalerades eller avslutades) om perioder som stängdes för mer än {quiet_days} dagar "
        "sedan. De är sparade i ärendenas historik, men ingen fick något meddelande om dem.",
        transition_count=("{count} övergång", "{count} övergångar"),
        open_now="Öppna ärenden nu",
        none_open="inga",
        case="{unit} – {dimension}: {state}, nivå {level} ({who}), öppnat {opened}{mark}",
        from_history=" [från importen]",
        states={"open": "öppet", "escalated": "eskalerat", "acknowledged": "kvitterat", "resolved": "avslutat"},
        told="För varje ärende från importen som fortfarande är öppet har chefen på ärendets nuvarande nivå fått "
        "ett meddelande, en gång. Ärenden som ligger hos HR finns bara i den här sammanfattningen.",
        told_copy=" Enhetens chef har fått en kopia för kännedom.",
        closed_in_history=(
            "{count} ärende öppnades och avslutades inom den importerade historiken; ingen fick meddelande om det.",
            "{count} ärenden öppnades och avslutades inom den importerade historiken; ingen fick meddelande om dem.",
        ),
    ),
    "en": _SummaryWording(
        subject="[{tenant}] Imported results: {count}",
        open_count=("{count} open case", "{count} open cases"),
        greeting="Hello HR,",
        imported="Earlier results have been imported into tempen. Judging them made {transitions} "
        "(cases opened, escalated or closed) about periods that closed more than {quiet_days} days ago. They are "
        "kept in the cases' history, but nobody was notified of them.",
        transition_count=("{count} transition", "{count} transitions"),
        open_now="Open cases now",
        none_open="none",
        case="{unit} – {dimension}: {state}, level {level} ({who}), opened {opened}{mark}",
        from_history=" [from the import]",
        states={"open": "open", "escalated": "escalated", "acknowledged": "acknowledged", "resolved": "closed"},
        told="For each case from the import that is still open, the manager at its current level has been "
        "notified, once. Cases that sit with HR are in this summary only.",
        told_copy=" The unit's manager has had a copy for information.",
        closed_in_history=(
            "{count} case opened and closed within the imported history; nobody was notified of it.",
            "{count} cases opened and closed within the imported history; nobody was notified of them.",
        ),
    ),
}


def render_history_summary(
    *,
    language: Language,
    tenant_name: str,
    transitions: int,
    quiet_days: int,
    closed_in_history: int,
    open_now: Sequence[OpenCase],
    unit_managers_informed: bool,
) -> Email:
    """HR's one summary when a quiet backfill has ended: how much history was recorded without notifying,
    every alert of the tenant open now (those the import opened or moved marked), and how many alerts
    opened and closed within the history. Names of units, dimensions and managers only; never an answer."""
    words = _SUMMARY[language]
    wording = _WORDING[language]
    for case in open_now:
        _check_url(case.url)
    count = (words.open_count[0] if len(open_now) == 1 else words.open_count[1]).format(count=len(open_now))
    subject = _one_line(words.subject.format(tenant=tenant_name, count=count))
    counted = (words.transition_count[0] if transitions == 1 else words.transition_count[1]).format(count=transitions)
    intro = words.imported.format(transitions=counted, quiet_days=quiet_days)
    cases = [
        (
            words.case.format(
                unit=case.unit_name,
                dimension=case.dimension_name,
                state=words.states[case.state],
                level=case.level,
                who=case.sits_with,
                opened=case.opened_period,
                mark=words.from_history if case.from_history else "",
            ),
            case.url,
        )
        for case in open_now
    ]
    closing = [words.told + (words.told_copy if unit_managers_informed else "")]
    if closed_in_history:
        phrase = words.closed_in_history[0] if closed_in_history == 1 else words.closed_in_history[1]
        closing.append(phrase.format(count=closed_in_history))
    lines = [words.greeting, "", intro, "", f"{words.open_now}:"]
    lines += [f"  {line} {url}" for line, url in cases] or [f"  {words.none_open}"]
    for paragraph in closing:
        lines += ["", paragraph]
    lines += ["", wording.privacy]
    e = _escape
    items = [f'<li>{e(line)} <a href="{e(url)}">{e(url)}</a></li>' for line, url in cases]
    page = [
        "<!DOCTYPE html>",
        f'<html lang="{e(language)}"><head><meta charset="utf-8"><title>{e(subject)}</title></head><body>',
        f"<p>{e(words.greeting)}</p>",
        f"<p>{e(intro)}</p>",
        f"<h3>{e(words.open_now)}</h3>",
        "<ul>",
        *(items or [f"<li>{e(words.none_open)}</li>"]),
        "</ul>",
        *(f"<p>{e(paragraph)}</p>" for paragraph in closing),
        f"<p><small>{e(wording.privacy)}</small></p>",
        "</body></html>",
    ]
    return Email(subject=subject, text="\n".join(lines) + "\n", html="\n".join(page) + "\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class _MovedOnWording:
    title: str
    moved: str  # {unit} {dimension} {from_level} {to}
    to_manager: str  # {name} {level}
    to_hr: str
    because: Mapping[str, str]  # by rule
    because_other: str
    nothing_asked: str


_MOVED_ON: Mapping[Language, _MovedOnWording] = {
    "sv": _MovedOnWording(
        title="Gått vidare",
        moved="Det här är för din kännedom. Ärendet om {dimension} i {unit}, som du fick på nivå {from_level}, har "
        "gått vidare till {to}, eftersom {because}.",
        to_manager="nästa chefsnivå, {name} (nivå {level})",
        to_hr="HR, eftersom det inte finns någon högre chefsnivå",
        because={
            "no_improvement": "resultatet inte har förbättrats tillräckligt",
            "unacknowledged": "ingen kvitterade ärendet i tid",
        },
        because_other="reglerna säger så",
        nothing_asked="Du behöver inte göra något mer. Fortsätt gärna stödja enhetens chef med det ni har kommit "
        "överens om.",
    ),
    "en": _MovedOnWording(
        title="Moved on",
        moved="This is for your information. The case about {dimension} in {unit}, which came to you at level "
        "{from_level}, has moved on to {to}, because {because}.",
        to_manager="the next management level, {name} (level {level})",
        to_hr="HR, since there is no higher management level",
        because={
            "no_improvement": "the results have not improved enough",
            "unacknowledged": "nobody acknowledged the case in time",
        },
        because_other="the rules say so",
        nothing_asked="Nothing more is asked of you. You may want to keep supporting the unit's manager with what "
        "you agreed on.",
    ),
}


def render_moved_on(
    *,
    language: Language,
    recipient: Recipient,
    tenant_name: str,
    unit_name: str,
    dimension_name: str,
    to_level: int,
    to_name: str,
    to_hr: bool,
    rule: str,
    explanation: Explanation | None,
    url: str,
    plan: Plan | None = None,
) -> Email:
    """The short note, for their information, to whoever an alert sat with before it escalated: it moved
    on to `to_name` at `to_level` (or to HR) because of `rule`; `explanation` (the escalation's, written in
    `language`) says what was found, and is left out when there is none, rather than quote the rule's text.
    `plan` (as `render_notification`'s) reminds them what was agreed while the case was theirs.

    Raises:
        ValueError: `url` is not an absolute http(s) address.
    """
    _check_url(url)
    words = _MOVED_ON[language]
    wording = _WORDING[language]
    subject = _one_line(
        wording.subject.format(
            tenant=tenant_name,
            title=f"{wording.for_information}{words.title}",
            dimension=dimension_name,
            unit=unit_name,
        )
    )
    to = words.to_hr if to_hr else words.to_manager.format(name=to_name, level=to_level)
    moved = words.moved.format(
        unit=unit_name,
        dimension=dimension_name,
        from_level=recipient.level,
        to=to,
        because=words.because.get(rule, words.because_other),
    )
    greeting = wording.greeting.format(name=recipient.name)
    paragraphs = [moved, words.nothing_asked]
    planned = _plan_lines(plan, wording) if plan is not None else None
    lines = [greeting, ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    lines += _plan_text(planned, wording)
    explained = describe(explanation, language) if explanation is not None else ()
    if explained:
        lines += [wording.rule, *explained, ""]
    lines += [f"{wording.view} {url}", "", wording.privacy]
    e = _escape
    page = [
        "<!DOCTYPE html>",
        f'<html lang="{e(language)}"><head><meta charset="utf-8"><title>{e(subject)}</title></head><body>',
        f"<p>{e(greeting)}</p>",
        *(f"<p>{e(paragraph)}</p>" for paragraph in paragraphs),
        *_plan_html(planned, wording),
        *([f"<h3>{e(wording.rule)}</h3>", *_html_lines(explained)] if explained else []),
        f'<p>{e(wording.view)} <a href="{e(url)}">{e(url)}</a></p>',
        f"<p><small>{e(wording.privacy)}</small></p>",
        "</body></html>",
    ]
    return Email(subject=subject, text="\n".join(lines) + "\n", html="\n".join(page) + "\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class _ReminderWording:
    title: str
    passed: str  # {unit} {dimension} {due} {status}
    asked: str
    choices: tuple[str, ...]
    why_you: str
    why_hr: str
    link: str


_REMINDER: Mapping[Language, _ReminderWording] = {
    "sv": _ReminderWording(
        title="Påminnelse om handlingsplanen",
        passed="Handlingsplanen för {dimension} i {unit} skulle vara klar senast {due}, och den står fortfarande "
        "som {status}.",
        asked="Gå in i ärendet och gör det som stämmer:",
        choices=(
            "markera planen som klar om arbetet är gjort,",
            "sätt ett nytt datum om det behöver mer tid (du får en ny påminnelse när det har passerat),",
            "eller skriv en kommentar om hur det går.",
        ),
        why_you="Du får påminnelsen eftersom ärendet ligger hos dig nu. Vi påminner en gång per datum.",
        why_hr="Du får påminnelsen som HR eftersom ärendet ligger hos HR nu. Vi påminner en gång per datum.",
        link="Ärendet:",
    ),
    "en": _ReminderWording(
        title="Action plan reminder",
        passed="The action plan for {dimension} in {unit} was due by {due}, and it still says {status}.",
        asked="Please open the case and do what is true:",
        choices=(
            "mark the plan done if the work is done,",
            "set a new date if it needs more time (you will be reminded again once that has passed),",
            "or write a comment on how it is going.",
        ),
        why_you="You get this reminder because the case sits with you now. We remind once per date.",
        why_hr="You get this reminder as HR because the case sits with HR now. We remind once per date.",
        link="The case:",
    ),
}


def render_plan_reminder(
    *,
    language: Language,
    recipient: Recipient,
    tenant_name: str,
    unit_name: str,
    dimension_name: str,
    plan: Plan,
    url: str,
) -> Email:
    """The reminder to whoever an alert sits with that its action plan's due date has passed and the plan
    is not done (domain/plans.py, `reminder_due`): the plan quoted as every e-mail quotes it (its times
    already in the tenant's zone), and what to do about it in the case behind `url`.

    Raises:
        ValueError: `url` is not an absolute http(s) address, or `plan` has no current revision with a due date.
    """
    _check_url(url)
    current = plan.current
    if current is None or current.due is None:
        raise ValueError("a reminder is about a plan with a due date")
    words = _REMINDER[language]
    wording = _WORDING[language]
    subject = _one_line(
        wording.subject.format(tenant=tenant_name, title=words.title, dimension=dimension_name, unit=unit_name)
    )
    passed = words.passed.format(
        unit=unit_name,
        dimension=dimension_name,
        due=current.due.isoformat(),
        status=wording.plan_statuses[current.status],
    )
    why = words.why_hr if recipient.role == "hr" else words.why_you
    greeting = wording.greeting.format(name=recipient.name)
    planned = _plan_lines(plan, wording)
    lines = [greeting, "", passed, "", words.asked, *(f"  – {choice}" for choice in words.choices), ""]
    lines += _plan_text(planned, wording)
    lines += [f"{words.link} {url}", "", why, "", wording.privacy]
    e = _escape
    page = [
        "<!DOCTYPE html>",
        f'<html lang="{e(language)}"><head><meta charset="utf-8"><title>{e(subject)}</title></head><body>',
        f"<p>{e(greeting)}</p>",
        f"<p>{e(passed)}</p>",
        f"<p>{e(words.asked)}</p>",
        "<ul>",
        *(f"<li>{e(choice)}</li>" for choice in words.choices),
        "</ul>",
        *_plan_html(planned, wording),
        f'<p>{e(words.link)} <a href="{e(url)}">{e(url)}</a></p>',
        f"<p>{e(why)}</p>",
        f"<p><small>{e(wording.privacy)}</small></p>",
        "</body></html>",
    ]
    return Email(subject=subject, text="\n".join(lines) + "\n", html="\n".join(page) + "\n")


def _text(
    *,
    greeting: str,
    paragraphs: Sequence[str],
    planned: Sequence[tuple[str, str]] | None,
    facts: Sequence[tuple[str, str]],
    rows: Sequence[_Row],
    show_tenant: bool,
    trend: str,
    steps: Sequence[str],
    explained: Sequence[str],
    link_label: str,
    url: str,
    words: _Wording,
) -> str:
    lines = [greeting, ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    lines += _plan_text(planned, words)
    lines += [f"{label}: {value}" for label, value in facts]
    lines += ["", f"{words.results}:"]
    for row in rows:
        if row.index is None:
            lines.append(f"  {row.period}: {words.too_few}")
            continue
        tenant = f"; {words.tenant_index.lower()} {row.tenant_index}" if show_tenant and row.tenant_index else ""
        lines.append(f"  {row.period}: {row.index} – {row.status} (n = {row.respondents}{tenant})")
    lines.append(f"{words.trend}: {trend}")
    if steps:
        lines += ["", f"{words.timeline}:", *(f"  {step}" for step in steps)]
    if explained:
        lines += ["", f"{words.rule}:", *explained]
    lines += [
        "",
        f"{link_label} {url}",
        "",
        words.privacy,
    ]
    return "\n".join(lines) + "\n"


def _html(
    *,
    language: Language,
    subject: str,
    greeting: str,
    paragraphs: Sequence[str],
    planned: Sequence[tuple[str, str]] | None,
    facts: Sequence[tuple[str, str]],
    rows: Sequence[_Row],
    show_tenant: bool,
    threshold: str,
    trend: str,
    steps: Sequence[str],
    explained: Sequence[str],
    link_label: str,
    url: str,
    words: _Wording,
) -> str:
    e = _escape
    headers = [words.period, words.index, words.against.format(threshold=threshold), words.respondents]
    if show_tenant:
        headers.append(words.tenant_index)
    body_rows: list[str] = []
    for row in rows:
        if row.index is None:
            body_rows.append(
                f'<tr><td>{e(row.period)}</td><td colspan="{len(headers) - 1}">{e(words.too_few)}</td></tr>'
            )
            continue
        cells = [row.period, row.index, row.status, row.respondents]
        if show_tenant:
            cells.append(row.tenant_index or "–")
        body_rows.append("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in cells) + "</tr>")
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(language)}"><head><meta charset="utf-8"><title>{e(subject)}</title></head><body>',
        f"<p>{e(greeting)}</p>",
        *(f"<p>{e(paragraph)}</p>" for paragraph in paragraphs),
        *_plan_html(planned, words),
        "<table>",
        *(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in facts),
        "</table>",
        f"<h3>{e(words.results)}</h3>",
        "<table>",
        "<tr>" + "".join(f"<th>{e(header)}</th>" for header in headers) + "</tr>",
        *body_rows,
        "</table>",
        f"<p>{e(words.trend)}: {e(trend)}</p>",
        *(
            [f"<h3>{e(words.timeline)}</h3>", "<ul>", *(f"<li>{e(step)}</li>" for step in steps), "</ul>"]
            if steps
            else []
        ),
        *([f"<h3>{e(words.rule)}</h3>", *_html_lines(explained)] if explained else []),
        f'<p>{e(link_label)} <a href="{e(url)}">{e(url)}</a></p>',
        f"<p><small>{e(words.privacy)}</small></p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _plan_lines(plan: Plan, words: _Wording) -> list[tuple[str, str]]:
    """The plan as (label, value) pairs: its current revision and latest comment; empty when nobody wrote any.
    A label of "" is a line of its own (who changed it last)."""
    out: list[tuple[str, str]] = []
    current = plan.current
    if current is not None:
        out += [
            (words.plan_what, _quoted(current.what, QUOTED_PLAN_CHARS, words)),
            (words.plan_owner, _one_line(current.owner)),
            (words.plan_due, current.due.isoformat() if current.due else words.plan_no_due),
            (words.plan_status, words.plan_statuses[current.status]),
            (
                "",
                words.plan_written.format(
                    date=current.written_at.date().isoformat(),
                    who=_one_line(current.written_by),
                    revision=current.revision,
                ),
            ),
        ]
    latest = plan.latest_comment
    if latest is not None:
        label = words.plan_comment.format(date=latest.written_at.date().isoformat(), who=_one_line(latest.written_by))
        out.append((label, _quoted(latest.text, QUOTED_COMMENT_CHARS, words)))
    return out


def _plan_text(planned: Sequence[tuple[str, str]] | None, words: _Wording) -> list[str]:
    if planned is None:
        return []
    if not planned:
        return [f"{words.plan}: {words.plan_none}", ""]
    lines = [f"{words.plan}:"]
    for label, value in planned:
        first, *rest = value.split("\n")
        lines.append(f"  {label}: {first}" if label else f"  {first}")
        lines += [f"    {line}" for line in rest]
    return [*lines, ""]


def _plan_html(planned: Sequence[tuple[str, str]] | None, words: _Wording) -> list[str]:
    if planned is None:
        return []
    e = _escape
    if not planned:
        return [f"<h3>{e(words.plan)}</h3>", f"<p>{e(words.plan_none)}</p>"]
    rows = [
        f"<tr><th>{e(label)}</th><td>{e(value).replace(chr(10), '<br>')}</td></tr>" for label, value in planned if label
    ]
    notes = [f"<p><small>{e(value)}</small></p>" for label, value in planned if not label]
    return [f"<h3>{e(words.plan)}</h3>", "<table>", *rows, "</table>", *notes]


def _quoted(text: str, most: int, words: _Wording) -> str:
    """A person's text for an e-mail: its lines kept (trailing spaces gone), cut at `most` characters."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    kept = "\n".join(lines)
    return kept if len(kept) <= most else kept[:most].rstrip() + words.plan_more


def _html_lines(lines: Sequence[str]) -> list[str]:
    """The explanation's lines as paragraphs, its indented period lines as a list."""
    out: list[str] = []
    items: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("  "):
            items.append(f"<li>{_escape(line.strip())}</li>")
            continue
        if items:
            out += ["<ul>", *items, "</ul>"]
            items = []
        if line:
            out.append(f"<p>{_escape(line)}</p>")
    return out


def _row(score: PeriodScore, threshold: float, words: _Wording) -> _Row:
    if score.index is None:
        return _Row(period=score.period, index=None, status="", respondents="", tenant_index="")
    return _Row(
        period=score.period,
        index=_number(score.index, words),
        status=words.below if score.index < threshold else words.at_or_above,
        respondents=str(score.respondents),
        tenant_index=_number(score.tenant_index, words) if score.tenant_index is not None else "",
    )


def _trend(history: Sequence[PeriodScore], words: _Wording) -> str:
    scored = [(score.period, score.index) for score in history if score.index is not None]
    if len(scored) < 2:
        return words.trend_unknown
    (before_period, before), (after_period, after) = scored[-2], scored[-1]
    change = after - before
    if change >= STABLE_WITHIN_POINTS:
        direction = words.trend_up
    elif change <= -STABLE_WITHIN_POINTS:
        direction = words.trend_down
    else:
        direction = words.trend_flat
    span = words.trend_from_to.format(
        before=_number(before, words),
        before_period=before_period,
        after=_number(after, words),
        after_period=after_period,
    )
    return f"{direction}, {span}"


def _number(value: float, words: _Wording) -> str:
    shown = f"{value:.1f}"
    return shown.replace(".", ",") if words.decimal_comma else shown


def _one_line(value: str) -> str:
    # Names come from configuration; a line break in a subject would let them write mail headers.
    return " ".join(value.split())


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in url):
        raise ValueError(f"acknowledge_url must be an absolute http(s) address, got {url!r}")


def _escape(value: str) -> str:
    return html.escape(value, quote=True)
