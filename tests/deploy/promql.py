"""Which metrics and label matchers a PromQL expression uses, for checking queries against the catalogue.

Not a PromQL parser: a tokenizer that knows enough of the grammar to tell metric names from
functions, aggregations, keywords, grouping label lists, durations and string arguments.
promtool checks the syntax itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
# Keywords followed by a parenthesised list of label names, not of expressions.
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan"})
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>(?:0x[0-9a-fA-F]+|\d[\w.]*))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<brace>\{)
  | (?P<bracket>\[)
  | (?P<paren>\()
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_MATCHER = re.compile(
    r"""\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...]


class PromQLTokenError(ValueError):
    pass


def substitute_grafana_variables(expr: str) -> str:
    """Grafana's interval variables become a duration; other variables only occur inside label values."""
    return re.sub(r"\$\{?__(?:rate_interval|interval|range)(?:_ms|_s)?\}?", "5m", expr)


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    """Index just past the bracket that closes the one at `start`, skipping string literals."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch in "\"'`":
            end = text.find(ch, i + 1)
            while end != -1 and ch != "`" and text[end - 1] == "\\":
                end = text.find(ch, end + 1)
            if end == -1:
                raise PromQLTokenError(f"unterminated string at {i} in {text!r}")
            i = end + 1
            continue
        if ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLTokenError(f"unbalanced {opening!r} at {start} in {text!r}")


def _matchers(body: str) -> tuple[Matcher, ...]:
    found = []
    pos = 0
    while pos < len(body):
        match = _MATCHER.match(body, pos)
        if match is None:
            if body[pos:].strip():
                raise PromQLTokenError(f"cannot read label matchers {body!r}")
            break
        found.append(Matcher(match["label"], match["op"], match["value"][1:-1]))
        pos = match.end()
    return tuple(found)


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in `expr`: its metric name and label matchers, in order of appearance."""
    text = substitute_grafana_variables(expr)
    out: list[Selector] = []
    pos = 0
    while pos < len(text):
        token = _TOKEN.match(text, pos)
        assert token is not None  # the last alternative matches any character
        kind = token.lastgroup
        if kind == "bracket":  # a range or subquery: durations only
            pos = _closing(text, pos, "[", "]")
            continue
        if kind == "brace":  # a selector without a metric name: {__name__="..."}
            end = _closing(text, pos, "{", "}")
            matchers = _matchers(text[pos + 1 : end - 1])
            names = [m.value for m in matchers if m.label == "__name__" and m.op == "="]
            if not names:
                raise PromQLTokenError(f"selector without a metric name in {expr!r}")
            out.append(Selector(names[0], tuple(m for m in matchers if m.label != "__name__")))
            pos = end
            continue
        if kind != "ident":
            pos = token.end()
            continue
        word = token.group()
        after = token.end()
        rest = text[after:].lstrip()
        next_pos = len(text) - len(rest)
        if word in LABEL_LIST_KEYWORDS:
            pos = _closing(text, next_pos, "(", ")") if rest.startswith("(") else after
            continue
        if word in AGGREGATIONS or word.lower() in KEYWORDS or rest.startswith("("):
            pos = after
            continue
        if rest.startswith("{"):
            end = _closing(text, next_pos, "{", "}")
            out.append(Selector(word, _matchers(text[next_pos + 1 : end - 1])))
            pos = end
            continue
        out.append(Selector(word, ()))
        pos = after
    return out


def metric_names(expr: str) -> set[str]:
    return {s.name for s in selectors(expr)}


# --- the catalogue ------------------------------------------------------------------------------


def load_catalogue() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "metrics.yaml").read_text(encoding="utf-8"))
    return data


def catalogue_metrics() -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in load_catalogue()["metrics"]}


def recording_rules() -> dict[str, str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text(encoding="utf-8"))
    return {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}


TARGET_LABELS = frozenset({"job", "instance"})


def selector_problems(selector: Selector, *, recorded: frozenset[str] = frozenset()) -> list[str]:
    """Why `selector` does not fit the catalogue: an unknown metric, a label it lacks, a value outside its set."""
    metrics = catalogue_metrics()
    scrape_series = set(load_catalogue()["scrape_series"])
    name = selector.name
    if name in recorded:
        return []  # a recording rule's own expression is checked against the catalogue separately
    extra_labels: set[str] = set()
    entry = metrics.get(name)
    if entry is None:
        for suffix in HISTOGRAM_SERIES:
            stem = name.removesuffix(suffix)
            if stem != name and metrics.get(stem, {}).get("type") == "histogram":
                entry = metrics[stem]
                extra_labels = {"le"} if suffix == "_bucket" else set()
                break
    if entry is None and name in scrape_series:
        entry = {"name": name, "labels": []}
    if entry is None:
        return [f"{name}: not in deploy/metrics.yaml"]
    allowed = set(entry["labels"]) | TARGET_LABELS | extra_labels
    values: dict[str, list[str]] = entry.get("values") or {}
    problems = []
    for m in selector.matchers:
        if m.label not in allowed:
            problems.append(f"{name}: has no label {m.label!r} (it has {sorted(allowed)})")
            continue
        closed = values.get(m.label)
        if closed is None or "$" in m.value:
            continue
        if m.op in ("=", "!="):
            wanted = [m.value]
        elif re.fullmatch(r"[\w.-]+(\|[\w.-]+)*", m.value):
            wanted = m.value.split("|")
        else:
            continue  # a real regular expression: not checked
        problems.extend(f"{name}: {m.label}={v!r} is not one of {closed}" for v in wanted if v not in closed)
    return problems


def expression_problems(expr: str, *, recorded: frozenset[str] = frozenset()) -> list[str]:
    return [p for s in selectors(expr) for p in selector_problems(s, recorded=recorded)]
