"""Each alert transition explained in words a manager understands, in Swedish or English.

`explain` turns a decision, its evidence and the policy into numbers (`Explanation`), stored with the
transition so the words can be written again later in any language from what the rules saw then;
`describe` writes them. The decision's English `reason` stays what logs, backtests and the audit read.

How sure we are is said twice. Per period: a group of n respondents can move about ±2 standard errors
from one period to the next by chance alone. For the run: how often a mean as low as the run's would come
about by chance if the unit were really at the line (the normal approximation with the reported standard
errors), in bands that never claim more than the numbers do. Only scored periods carry numbers; a
suppressed period is named with "too few responses" and nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from tempen_alerts.domain.rules import AlertSnapshot, OpenAlert, PeriodScore, Resolve, StateChange, pooled
from tempen_shared.tenancy.models import AlertPolicy

Language = Literal["sv", "en"]
Kind = Literal["opened", "escalated", "resolved"]

# About 95 % of a period's chance variation lies within this many standard errors of its true level.
MARGIN_Z = 1.96
# The bands for how likely a low run is by chance: below the first "very unlikely", below the second
# "unlikely"; above it we say that chance cannot be ruled out.
VERY_UNLIKELY = 0.01
UNLIKELY = 0.05


@dataclass(frozen=True, slots=True)
class PeriodFact:
    """One period as an explanation shows it: a suppressed one has its name only."""

    period: str
    index: float | None = None  # None: too few responses, so nothing else about it is kept
    respondents: int | None = None
    margin: float | None = None  # ± points one period of this size can move by chance (about 2 SE)
    tenant_index: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """What a transition found, against which line, by which rule, and how sure that is."""

    kind: Kind
    rule: str  # rules.Rule
    detection: str  # the policy's detection when it was judged: "pooled" or "each_period"
    periods: tuple[PeriodFact, ...]  # the periods the rule read, oldest first, suppressed ones in between named
    threshold: float
    below_tenant_by: float | None  # None: the tenant-relative line is off
    sustained_periods: int
    noise_z: float
    line: float | None = None  # opened: the highest line the run's mean fell short of; resolved: the line to reach
    tenant_line: bool = False  # whether `line` is the whole tenant's index minus below_tenant_by
    mean: float | None = None  # opened: the run's respondent-weighted mean
    mean_margin: float | None = None  # ± points of that mean (about 2 SE)
    chance: float | None = None  # how often a mean this low comes about by chance were the unit at `line`
    resolve_margin: float | None = None
    from_level: int | None = None
    to_level: int | None = None
    to_hr: bool = False  # escalated past the top manager: the alert is with HR now
    baseline_period: str | None = None  # escalated for no improvement: the period it is measured from
    baseline_index: float | None = None
    improvement: float | None = None
    min_improvement: float | None = None
    waited_days: int | None = None  # escalated unacknowledged
    allowed_days: int | None = None
    level_started: str | None = None  # ISO date

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["periods"] = [{k: v for k, v in asdict(p).items() if v is not None} for p in self.periods]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Explanation:
        fields = dict(data)
        fields["periods"] = tuple(PeriodFact(**p) for p in fields.get("periods", ()))
        return cls(**fields)


def explain(
    decision: StateChange,
    policy: AlertPolicy,
    *,
    alert: AlertSnapshot | None,
    history: Sequence[PeriodScore],
    now: datetime,
) -> Explanation:
    """The explanation of a decision `decide` made, from the same `history`, `alert` (before the decision,
    None when opening) and `policy`, at `now`."""
    common: dict[str, Any] = {
        "rule": decision.rule,
        "detection": policy.detection,
        "periods": _facts(decision.evidence, history),
        "threshold": policy.threshold,
        "below_tenant_by": policy.below_tenant_by,
        "sustained_periods": policy.sustained_periods,
        "noise_z": policy.noise_z,
    }
    if isinstance(decision, OpenAlert):
        return Explanation(kind="opened", **common, **_how_sure(decision.evidence, policy))
    if isinstance(decision, Resolve):
        return Explanation(
            kind="resolved",
            line=policy.threshold + policy.resolve_margin,
            resolve_margin=policy.resolve_margin,
            **common,
        )
    if alert is None:
        raise ValueError("explaining an escalation needs the alert as it was")
    escalation: dict[str, Any] = {"from_level": alert.level, "to_level": decision.to_level, "to_hr": decision.to_hr}
    if decision.rule == "no_improvement" and decision.evidence and decision.evidence[-1].index is not None:
        escalation |= {
            "baseline_period": alert.baseline_period,
            "baseline_index": alert.baseline_index,
            "improvement": decision.evidence[-1].index - alert.baseline_index,
            "min_improvement": policy.escalate_min_improvement,
        }
    else:
        escalation |= {
            "waited_days": (now - alert.level_started_at).days,
            "allowed_days": policy.escalate_unacknowledged_days,
            "level_started": alert.level_started_at.date().isoformat(),
        }
    return Explanation(kind="escalated", **common, **escalation)


def margin(standard_error: float | None) -> float | None:
    """± points a period (or a mean) with this standard error can move by chance: about 2 standard errors."""
    return None if standard_error is None else MARGIN_Z * standard_error


def chance_below(mean: float, line: float, standard_error: float) -> float:
    """How often a mean at or below `mean` comes about by chance when the true level is `line` (normal)."""
    if standard_error <= 0:
        return 0.0 if mean < line else 1.0
    return 0.5 * math.erfc((line - mean) / (standard_error * math.sqrt(2)))


def _facts(evidence: Sequence[PeriodScore], history: Sequence[PeriodScore]) -> tuple[PeriodFact, ...]:
    if not evidence:
        return ()
    first, last = evidence[0].period, evidence[-1].period
    shown = {score.period: score for score in evidence}
    # Suppressed periods within the run are named (they neither count nor break it); never with a number.
    for score in history:
        if score.index is None and first < score.period < last:
            shown[score.period] = score
    return tuple(_fact(shown[period]) for period in sorted(shown))


def _fact(score: PeriodScore) -> PeriodFact:
    if score.index is None:
        return PeriodFact(score.period)
    return PeriodFact(
        period=score.period,
        index=score.index,
        respondents=score.respondents,
        margin=margin(score.standard_error),
        tenant_index=score.tenant_index,
    )


def _how_sure(evidence: Sequence[PeriodScore], policy: AlertPolicy) -> dict[str, Any]:
    scored = [score for score in evidence if score.index is not None]
    if not scored:
        return {}
    together = pooled(scored)
    mean = together.index
    if mean is None:  # pooled() of scored periods always has one
        return {}
    lines = [(policy.threshold, False)] if mean < policy.threshold else []
    by = policy.below_tenant_by
    if together.tenant_index is not None and by is not None and mean <= together.tenant_index - by:
        lines.append((together.tenant_index - by, True))
    out: dict[str, Any] = {"mean": mean, "mean_margin": margin(together.standard_error)}
    if lines:
        line, tenant = max(lines)
        out |= {"line": line, "tenant_line": tenant}
        if together.standard_error is not None:
            out["chance"] = chance_below(mean, line, together.standard_error)
    return out


# ---------------------------------------------------------------------------------------------- words


@dataclass(frozen=True, slots=True, kw_only=True)
class _Words:
    numbers: tuple[str, ...]  # 0..12 in words, for nouns of common gender ("en månad")
    neuter_one: str  # "ett kvartal"
    units: Mapping[str, tuple[str, str, bool]]  # kind -> (one, several, neuter)
    respondents: tuple[str, str]  # {n}
    definite_plural: Mapping[str, str]  # "de tre månaderna": the noun after "de"/"the"
    period_tenant: str  # {tenant}
    too_few: str
    threshold: str  # {threshold}
    tenant_line: str  # {line} {by}
    either_line: str  # {threshold}
    opened_found: str  # {count} {line}
    opened_noise: str  # {respondents} {unit} {margin}
    opened_mean: str  # {count} {mean} {margin}
    opened_chance: str  # {line} {chance}
    bands: tuple[str, str, str]  # very unlikely, unlikely, cannot be ruled out
    rule_pooled: str  # {needed} {z}
    rule_each: str  # {needed} {z}
    escalated_no_improvement: (
        str  # {level} {baseline_period} {baseline} {count} {latest_period} {latest} {change} {needed}
    )
    escalated_unacknowledged: str  # {days} {level} {started} {waited}
    escalated_to: str  # {level}
    escalated_to_hr: str
    resolved_found: str  # {count} {line} {threshold} {margin}
    resolved_latest: str  # {unit} {line} {threshold} {margin}
    resolved_tenant: str
    resolved_closed: str
    resolved_noise: str  # {respondents} {unit} {margin}
    under_one: str  # a chance below 0.1 %
    single: Mapping[str, str]  # "en enskild månad", "a single quarter"
    latest: Mapping[str, str]  # "den senaste månaden", "the latest quarter"
    about_percent: str  # {value}
    points: tuple[str, str]
    standard_errors: tuple[str, str]
    decimal_comma: bool


_SV = _Words(
    numbers=("noll", "en", "två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio", "elva", "tolv"),
    neuter_one="ett",
    units={
        "month": ("månad", "månader", False),
        "quarter": ("kvartal", "kvartal", True),
        "year": ("år", "år", True),
        "period": ("period", "perioder", False),
    },
    respondents=("{n} svarande", "{n} svarande"),
    definite_plural={"month": "månaderna", "quarter": "kvartalen", "year": "åren", "period": "perioderna"},
    period_tenant="; hela organisationen {tenant}",
    too_few="för få svar, räknas inte",
    threshold="gränsen {threshold}",
    tenant_line="linjen för hela organisationen ({line}: organisationens index minus {by})",
    either_line="gränsen {threshold} eller linjen för hela organisationen",
    opened_found="Indexet har legat under {line} {count} i rad:",
    opened_noise="Med {respondents} kan {single} variera med ungefär ±{margin} av en slump, "
    "så ett enstaka lågt resultat säger lite.",
    opened_mean="Tillsammans ger de {count} ett medel på {mean} (±{margin}).",
    opened_chance="Om gruppens verkliga nivå vore {line} skulle ett så lågt medel uppstå av en slump i {chance} "
    "av fallen.",
    bands=(
        "Att det är en slump är alltså mycket osannolikt.",
        "Att det är en slump är alltså osannolikt.",
        "Slumpen kan alltså inte uteslutas, men resultatet har legat lågt {count} i rad.",
    ),
    rule_pooled="Regeln: ett ärende öppnas när indexet legat under linjen minst {needed} i rad och medlet för "
    "perioderna ligger mer än {z} under linjen.",
    rule_each="Regeln: ett ärende öppnas när indexet legat under linjen minst {needed} i rad, varje gång med mer "
    "än {z}.",
    escalated_no_improvement="När ärendet nådde nivå {level} var indexet {baseline} ({baseline_period}). "
    "Efter {count} är det {latest} ({latest_period}), {change} och fortfarande under linjen. "
    "Regeln: ärendet går vidare om indexet inte har förbättrats med minst {needed}.",
    escalated_unacknowledged="Ingen kvitterade ärendet inom {days} efter att det nådde nivå {level} "
    "({started}, för {waited} sedan). Regeln: ett ärende som inte kvitteras i tid går vidare.",
    escalated_to="Därför har det gått vidare till nivå {level}.",
    escalated_to_hr="Det finns ingen högre chefsnivå, så ärendet har lämnats över till HR.",
    resolved_found="Indexet har legat på eller över {line} (gränsen {threshold} plus {margin} marginal) {count} i rad:",
    resolved_latest="Indexet var på eller över {line} (gränsen {threshold} plus {margin} marginal) {unit}:",
    resolved_tenant="Det ligger också över linjen för hela organisationen.",
    resolved_closed="Regeln: ett ärende avslutas när indexet har återhämtat sig så, och därför är det avslutat.",
    resolved_noise="Med {respondents} kan {single} variera med ungefär ±{margin} av en slump.",
    under_one="mindre än 0,1 %",
    single={
        "month": "en enskild månad",
        "quarter": "ett enskilt kvartal",
        "year": "ett enskilt år",
        "period": "en enskild period",
    },
    latest={
        "month": "den senaste månaden",
        "quarter": "det senaste kvartalet",
        "year": "det senaste året",
        "period": "den senaste perioden",
    },
    about_percent="ungefär {value} %",
    points=("poäng", "poäng"),
    standard_errors=("standardfel", "standardfel"),
    decimal_comma=True,
)

_EN = _Words(
    numbers=("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"),
    neuter_one="one",
    units={
        "month": ("month", "months", False),
        "quarter": ("quarter", "quarters", False),
        "year": ("year", "years", False),
        "period": ("period", "periods", False),
    },
    respondents=("{n} respondent", "{n} respondents"),
    definite_plural={"month": "months", "quarter": "quarters", "year": "years", "period": "periods"},
    period_tenant="; whole organisation {tenant}",
    too_few="too few responses, not counted",
    threshold="the threshold {threshold}",
    tenant_line="the whole organisation's line ({line}: the organisation's index minus {by})",
    either_line="the threshold {threshold} or the whole organisation's line",
    opened_found="The index has been below {line} for {count} in a row:",
    opened_noise="With {respondents} {single} can vary by about ±{margin} by chance, "
    "so one low result on its own says little.",
    opened_mean="Together the {count} average {mean} (±{margin}).",
    opened_chance="If the group were really at {line}, a mean this low would come about by chance in {chance} "
    "of cases.",
    bands=(
        "So chance is very unlikely to explain it.",
        "So chance is unlikely to explain it.",
        "So chance cannot be ruled out, but the results have been low for {count} in a row.",
    ),
    rule_pooled="The rule: an alert opens when the index has been below the line for at least {needed} in a row "
    "and their mean is more than {z} below the line.",
    rule_each="The rule: an alert opens when the index has been below the line for at least {needed} in a row, "
    "each time by more than {z}.",
    escalated_no_improvement="When the alert reached level {level}, the index was {baseline} ({baseline_period}). "
    "After {count} it is {latest} ({latest_period}), {change} and still below the line. "
    "The rule: the alert goes on if the index has not improved by at least {needed}.",
    escalated_unacknowledged="Nobody acknowledged the alert within {days} of it reaching level {level} "
    "({started}, {waited} ago). The rule: an alert not acknowledged in time goes on.",
    escalated_to="So it has gone on to level {level}.",
    escalated_to_hr="There is no higher management level, so the alert has been handed over to HR.",
    resolved_found="The index has been at or above {line} (the threshold {threshold} plus a margin of {margin}) "
    "for {count} in a row:",
    resolved_latest="The index was at or above {line} (the threshold {threshold} plus a margin of {margin}) in {unit}:",
    resolved_tenant="It is also above the whole organisation's line.",
    resolved_closed="The rule: an alert closes when the index has recovered like this, so it is closed.",
    resolved_noise="With {respondents} {single} can vary by about ±{margin} by chance.",
    under_one="less than 0.1 %",
    single={unit: f"a single {unit}" for unit in ("month", "quarter", "year", "period")},
    latest={unit: f"the latest {unit}" for unit in ("month", "quarter", "year", "period")},
    about_percent="about {value} %",
    points=("point", "points"),
    standard_errors=("standard error", "standard errors"),
    decimal_comma=False,
)

_WORDS: Mapping[Language, _Words] = {"sv": _SV, "en": _EN}

_DAYS: Mapping[Language, tuple[str, str]] = {"sv": ("dag", "dagar"), "en": ("day", "days")}


def describe(explanation: Explanation, language: Language) -> tuple[str, ...]:
    """The explanation as lines of plain text, the periods indented: what was found, against which line,
    how sure that is, and the rule in words."""
    w = _WORDS[language]
    unit = _unit_of(explanation.periods)
    scored = [p for p in explanation.periods if p.index is not None]
    lines: list[str] = []
    if explanation.kind == "opened":
        lines.append(w.opened_found.format(line=_line_words(explanation, w), count=_count(len(scored), unit, w)))
        lines += [f"  {_period_line(p, w, tenant=explanation.tenant_line)}" for p in explanation.periods]
        noise = _noise(scored, unit, w, w.opened_noise)
        if noise:
            lines.append(noise)
        if explanation.mean is not None and explanation.mean_margin is not None and len(scored) > 1:
            sure = w.opened_mean.format(
                count=_count(len(scored), unit, w, definite=True),
                mean=_number(explanation.mean, w),
                margin=_points(explanation.mean_margin, w),
            )
            if explanation.chance is not None and explanation.line is not None:
                sure += " " + _chance_words(explanation.chance, explanation.line, len(scored), unit, w)
            lines.append(sure)
        elif explanation.chance is not None and explanation.line is not None:
            lines.append(_chance_words(explanation.chance, explanation.line, len(scored), unit, w))
        rule = w.rule_each if explanation.detection == "each_period" else w.rule_pooled
        lines.append(
            rule.format(
                needed=_count(explanation.sustained_periods, unit, w),
                z=f"{_plain(explanation.noise_z, w)} {w.standard_errors[0 if explanation.noise_z == 1 else 1]}",
            )
        )
    elif explanation.kind == "escalated":
        latest = scored[-1] if scored else None
        if (
            explanation.baseline_index is not None
            and explanation.improvement is not None
            and latest is not None
            and latest.index is not None
        ):
            lines.append(
                w.escalated_no_improvement.format(
                    level=explanation.from_level,
                    baseline=_number(explanation.baseline_index, w),
                    baseline_period=explanation.baseline_period,
                    count=_count(len(scored), unit, w),
                    latest=_number(latest.index, w),
                    latest_period=latest.period,
                    change=_change(explanation.improvement, language, w),
                    needed=_points(explanation.min_improvement or 0.0, w, exact=True),
                )
            )
            lines += [f"  {_period_line(p, w)}" for p in explanation.periods]
            noise = _noise(scored, unit, w, w.resolved_noise)
            if noise:
                lines.append(noise)
        else:
            days = _DAYS[language]
            lines.append(
                w.escalated_unacknowledged.format(
                    days=f"{explanation.allowed_days} {days[0] if explanation.allowed_days == 1 else days[1]}",
                    level=explanation.from_level,
                    started=explanation.level_started,
                    waited=f"{explanation.waited_days} {days[0] if explanation.waited_days == 1 else days[1]}",
                )
            )
        lines.append(w.escalated_to_hr if explanation.to_hr else w.escalated_to.format(level=explanation.to_level))
    else:
        template = w.resolved_found if len(scored) > 1 else w.resolved_latest
        lines.append(
            template.format(
                line=_plain(explanation.line or explanation.threshold, w),
                threshold=_plain(explanation.threshold, w),
                margin=_points(explanation.resolve_margin or 0.0, w, exact=True),
                count=_count(len(scored), unit, w),
                unit=_definite(unit, w),
            )
        )
        lines += [f"  {_period_line(p, w)}" for p in explanation.periods]
        noise = _noise(scored, unit, w, w.resolved_noise)
        if noise:
            lines.append(noise)
        if explanation.below_tenant_by is not None and any(p.tenant_index is not None for p in scored):
            lines.append(w.resolved_tenant)
        lines.append(w.resolved_closed)
    return tuple(lines)


def _line_words(explanation: Explanation, w: _Words) -> str:
    threshold = _plain(explanation.threshold, w)
    scored = [p for p in explanation.periods if p.index is not None]
    if all(p.index is not None and p.index < explanation.threshold for p in scored):
        return w.threshold.format(threshold=threshold)
    if explanation.tenant_line and explanation.line is not None and explanation.below_tenant_by is not None:
        return w.tenant_line.format(
            line=_plain(explanation.line, w), by=_points(explanation.below_tenant_by, w, exact=True)
        )
    return w.either_line.format(threshold=threshold)


def _period_line(fact: PeriodFact, w: _Words, *, tenant: bool = False) -> str:
    if fact.index is None:
        return f"{fact.period}: {w.too_few}"
    n = fact.respondents or 0
    details = [(w.respondents[0] if n == 1 else w.respondents[1]).format(n=n)]
    if fact.margin is not None:
        details.append(f"±{_rounded_margin(fact.margin, w)}")
    shown = ", ".join(details)
    if tenant and fact.tenant_index is not None:
        shown += w.period_tenant.format(tenant=_number(fact.tenant_index, w))
    return f"{fact.period}: {_number(fact.index, w)} ({shown})"


def _noise(scored: Sequence[PeriodFact], unit: str, w: _Words, template: str) -> str | None:
    margins = [p.margin for p in scored if p.margin is not None]
    if not margins or len(margins) != len(scored):
        return None
    counts = sorted({p.respondents or 0 for p in scored})
    shown = sorted({_rounded_margin(m, w) for m in margins}, key=lambda s: float(s.replace(",", ".")))
    many = counts[-1] != 1
    people = (w.respondents[1] if many else w.respondents[0]).format(
        n=str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    )
    spread = shown[0] if len(shown) == 1 else f"{shown[0]}–{shown[-1]}"
    return template.format(respondents=people, single=w.single[unit], margin=f"{spread} {w.points[1]}")


def _chance_words(chance: float, line: float, count: int, unit: str, w: _Words) -> str:
    band = w.bands[0] if chance < VERY_UNLIKELY else w.bands[1] if chance < UNLIKELY else w.bands[2]
    said = w.opened_chance.format(line=_plain(line, w), chance=_percent(chance, w))
    return f"{said} {band.format(count=_count(count, unit, w))}"


def _percent(chance: float, w: _Words) -> str:
    if chance < 0.001:
        return w.under_one
    value = chance * 100
    shown = _number(value, w, digits=1) if value < 10 else f"{round(value):d}"
    return w.about_percent.format(value=shown)


def _change(improvement: float, language: Language, w: _Words) -> str:
    points = _points(abs(improvement), w, exact=True)
    if abs(improvement) < 0.05:
        return "oförändrat" if language == "sv" else "unchanged"
    if improvement > 0:
        return f"{points} bättre" if language == "sv" else f"{points} better"
    return f"{points} sämre" if language == "sv" else f"{points} worse"


def _unit_of(periods: Sequence[PeriodFact]) -> str:
    labels = [p.period for p in periods]
    if labels and all(re.fullmatch(r"\d{4}-\d{2}", label) for label in labels):
        return "month"
    if labels and all(re.fullmatch(r"\d{4}-Q[1-4]", label) for label in labels):
        return "quarter"
    if labels and all(re.fullmatch(r"\d{4}", label) for label in labels):
        return "year"
    return "period"


def _count(n: int, unit: str, w: _Words, *, definite: bool = False) -> str:
    """ "tre månader", "ett kvartal", "two quarters"; `definite` for "de tre månaderna", "the three months"."""
    one, several, neuter = w.units[unit]
    noun = one if n == 1 else (w.definite_plural[unit] if definite else several)
    if n == 1:
        word = w.neuter_one if neuter else w.numbers[1]
    elif n < len(w.numbers):
        word = w.numbers[n]
    else:
        word = str(n)
    return f"{word} {noun}"


def _definite(unit: str, w: _Words) -> str:
    """ "den senaste månaden", "det senaste kvartalet", "the latest month"."""
    return w.latest[unit]


def _rounded_margin(value: float, w: _Words) -> str:
    return _number(value, w, digits=1) if value < 1 else f"{round(value):d}"


def _points(value: float, w: _Words, *, exact: bool = False) -> str:
    """ "5 poäng", "1,5 points": `exact` keeps one decimal where there is one; otherwise whole points from 1."""
    shown = _plain(value, w) if exact or value < 1 else f"{round(value):d}"
    return f"{shown} {w.points[0] if shown == '1' else w.points[1]}"


def _plain(value: float, w: _Words) -> str:
    """A setting as people write it: 5, 1,5 (no trailing ",0")."""
    rounded = round(value, 1)
    return f"{int(rounded)}" if rounded == int(rounded) else _number(rounded, w)


def _number(value: float, w: _Words, *, digits: int = 1) -> str:
    shown = f"{value:.{digits}f}"
    return shown.replace(".", ",") if w.decimal_comma else shown
