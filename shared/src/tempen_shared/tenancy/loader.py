"""Reads the configuration directory: tenants/*.yaml, models/*.yaml, instruments/*.yaml and org files.

Every problem is collected, with its file and line, before anything is refused, so one run of
`tempen config check` shows an HR admin everything to fix.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tempen_shared.tenancy.addresses import SMTPUTF8_HINT, SMTPUTF8_WARNING, AddressError, sending_form
from tempen_shared.tenancy.models import AlertPolicy, Instrument, LeadershipModel, TenantConfig
from tempen_shared.tenancy.org import OrgTree, OrgUnit
from tempen_shared.tenancy.org_import import OrgFileError, read_org, read_org_rows

M = TypeVar("M", bound=BaseModel)

_SECRET_LOOKING = re.compile(r"secret|passw|token|api_?key|credential", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    line: int | None
    location: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.location}: {self.message}" if self.location else f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Tenant:
    """A tenant with everything it refers to resolved."""

    config: TenantConfig
    instruments: dict[str, Instrument]
    models: dict[str, LeadershipModel]
    org: OrgTree

    @property
    def id(self) -> str:
        return self.config.id


@dataclass(frozen=True)
class Catalog:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    models: dict[str, LeadershipModel] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)

    def address_warnings(self, config_dir: Path) -> list[ConfigProblem]:
        """See `address_warnings`: what `tempen config check` warns about once the directory loads."""
        return address_warnings(config_dir, self)


@dataclass(frozen=True, slots=True)
class _YamlFile:
    path: Path
    text: str
    root: yaml.Node | None

    def line(self, path: Sequence[int | str]) -> int | None:
        """Best-effort line of a key path, for messages an HR admin can act on."""
        node = self.root
        if node is None:
            return None
        line: int = node.start_mark.line + 1
        for step in path:
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == step), None)
                if pair is None:
                    return line
                key, node = pair
                line = key.start_mark.line + 1
                if not isinstance(node, yaml.MappingNode):
                    line = node.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _read_yaml(path: Path, problems: list[ConfigProblem]) -> tuple[_YamlFile, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(ConfigProblem(str(path), None, "", "not UTF-8 text", "save the file as UTF-8"))
        return None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append(
            ConfigProblem(
                str(path),
                mark.line + 1 if mark else None,
                "",
                f"not valid YAML: {problem}",
                "check the indentation and that every 'key: value' has a space after the colon",
            )
        )
        return None
    document = _YamlFile(path, text, root)
    problems.extend(_repeated_keys(document))
    return document, data


def _repeated_keys(document: _YamlFile) -> list[ConfigProblem]:
    # PyYAML keeps the last of two equal keys without a word, so a pasted block silently overrides one above.
    found: list[ConfigProblem] = []
    stack: list[tuple[yaml.Node, str]] = [(document.root, "")] if document.root else []
    while stack:
        node, where = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                location = f"{where}.{name}" if where else name
                if name in seen:
                    found.append(
                        ConfigProblem(
                            str(document.path),
                            key.start_mark.line + 1,
                            location,
                            f"key {name!r} appears twice; only the last value would count",
                            "remove one of them",
                        )
                    )
                seen.add(name)
                stack.append((value, location))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{where}.{index}") for index, item in enumerate(node.value))
    return found


def _validate(document: _YamlFile, data: Any, model: type[M], problems: list[ConfigProblem]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problem(document, model, error) for error in exc.errors(include_input=False))
        return None


def _load_yaml_model(path: Path, model: type[M], problems: list[ConfigProblem]) -> M | None:
    read = _read_yaml(path, problems)
    return None if read is None else _validate(*read, model, problems)


LineOf = Callable[[Sequence[int | str]], int | None]


def read_config_file(path: Path, model: type[M], problems: list[ConfigProblem]) -> tuple[M, LineOf] | None:
    """Read one YAML file of the configuration directory into `model`, as the catalogue reads its own.

    Every problem (not UTF-8, not YAML, a repeated key, a failed validation) is appended to `problems`
    with its line and a hint, and None is returned. Otherwise returns the model and a function from a
    key path (`("questions", "G01Q01")`) to its line, for problems found later against other files.
    """
    read = _read_yaml(path, problems)
    if read is None:
        return None
    document, data = read
    validated = _validate(document, data, model, problems)
    return None if validated is None else (validated, document.line)


def _problem(document: _YamlFile, model: type[BaseModel], error: ErrorDetails) -> ConfigProblem:
    loc = tuple(error["loc"])
    location = ".".join(str(p) for p in loc) or "(document)"
    key = str(loc[-1]) if loc else ""
    message, hint = error["msg"], ""
    kind = error["type"]
    if kind == "extra_forbidden":
        message = f"unknown key {key!r}"
        known = _known_keys(model, loc[:-1])
        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if guess:
            hint = f"did you mean {guess[0]!r}?"
        elif _SECRET_LOOKING.search(key):
            hint = "secrets never go in config files; refer to one with {env: NAME} where a secret is expected"
        else:
            hint = f"known keys here: {', '.join(known)}"
    elif kind == "missing":
        hint = f"add '{key}:' to the file"
    elif kind == "inline_secret":
        if key == "webhook_url":
            hint = "use the plain https URL and set webhook_secret: {env: NAME}; replace the exposed credentials"
        else:
            hint = (
                f"write '{key}: {{env: TEMPEN_{document.path.stem.upper().replace('-', '_')}_{key.upper()}}}' "
                "and set that variable where tempen runs; replace the secret, since it has been written down"
            )
    elif key == "min_group_size" and kind in {"greater_than_equal", "int_parsing", "int_type"}:
        hint = (
            "3 is the lowest allowed, since smaller groups can identify who answered; "
            "5 is the usual Swedish default; a smaller group's answers are shown only within a larger group above it"
        )
    elif key == "complementary_suppression":
        hint = (
            "write fewest_people (the default: hide what withholds the fewest people's results) or smallest_part "
            "(hide the smallest group beside a small one, as Viva Glint does); docs/privacy.md compares them"
        )
    elif "email" in message:
        hint = str(error.get("ctx", {}).get("hint") or "write the address as name@domain, e.g. hr@kommun.se")
    elif kind == "string_pattern_mismatch":
        hint = "ids use plain letters a-z, digits and '-' (no spaces, no å, ä, ö)"
    elif kind == "model_type" and not loc:
        hint = "the file must be a mapping of keys to values"
    return ConfigProblem(str(document.path), document.line(loc), location, message, hint)


def _known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys allowed at `loc` inside `model`, for "did you mean" hints."""
    current: type[BaseModel] | None = model
    for step in loc:
        if current is None:
            return []
        if isinstance(step, str):
            info = current.model_fields.get(step)
            current = _model_in(info.annotation) if info else None
    return sorted(current.model_fields) if current else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in {Union, types.UnionType, tuple, list}:
        for argument in get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def read_org_file(path: Path) -> list[OrgUnit]:
    """Units from a CSV (unit_id,name,parent_id,manager_name,manager_email,headcount) or JSON list.

    Checked row by row (see `tempen_shared.tenancy.org_import`); raises OrgFileError, a ValueError.
    """
    return [unit for _, unit in read_org_rows(path)]


def _stray_files(directory: Path) -> list[ConfigProblem]:
    return [
        ConfigProblem(
            str(path), None, "", "this file is not read", f"only *.yaml is read: rename it to {path.stem}.yaml"
        )
        for path in sorted(directory.glob("*.yml"))
    ]


def load_tenant_config(config_dir: Path, tenant_id: str) -> TenantConfig:
    """Read and validate one tenant file, `tenants/<tenant_id>.yaml`, without what it refers to.

    Raises:
        ConfigError: the file is missing or invalid.
    """
    path = config_dir / "tenants" / f"{tenant_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (config_dir / "tenants").glob("*.yaml"))
        raise ConfigError(
            [
                ConfigProblem(
                    str(path), None, "", f"no tenant {tenant_id!r}", f"known tenants: {', '.join(known) or 'none'}"
                )
            ]
        )
    problems: list[ConfigProblem] = []
    config = _load_yaml_model(path, TenantConfig, problems)
    if config is None or problems:
        raise ConfigError(problems)
    return config


def load_catalog(config_dir: Path) -> Catalog:
    """Load and cross-check the whole configuration directory; raise ConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    for sub in ("models", "instruments", "tenants"):
        problems.extend(_stray_files(config_dir / sub))
    models: dict[str, LeadershipModel] = {}
    instruments: dict[str, Instrument] = {}
    instrument_files: dict[str, _YamlFile] = {}
    for path in sorted((config_dir / "models").glob("*.yaml")):
        if (model := _load_yaml_model(path, LeadershipModel, problems)) is not None:
            models[model.id] = model
    for path in sorted((config_dir / "instruments").glob("*.yaml")):
        read = _read_yaml(path, problems)
        if read is not None and (instrument := _validate(*read, Instrument, problems)) is not None:
            instruments[instrument.id] = instrument
            instrument_files[instrument.id] = read[0]
    for instrument_id, instrument in instruments.items():
        problems.extend(_instrument_problems(instrument, instrument_files[instrument_id], models))
    tenants: dict[str, Tenant] = {}
    for path in sorted((config_dir / "tenants").glob("*.yaml")):
        read = _read_yaml(path, problems)
        if read is None:
            continue
        document, data = read
        found = len(problems)
        config = _validate(document, data, TenantConfig, problems)
        invalid = {p.location for p in problems[found:]}
        references = _references(config, data, invalid)
        org = _check_references(references, document, config_dir, instruments, problems)
        if config is not None and len(problems) == found:
            chosen = {i: instruments[i] for i in config.instruments}
            tenant_models = {m: models[m] for i in chosen.values() for m in i.models if m in models}
            for loc, message, hint in alert_on_problems(config.alert_policy, tenant_models):
                where = ("alert_policy", *loc)
                problems.append(
                    ConfigProblem(str(document.path), document.line(where), ".".join(map(str, where)), message, hint)
                )
            if org is not None:
                for loc, message, hint in unit_group_problems(config, org):
                    where = ("portal", "oidc", "unit_groups", *loc)
                    problems.append(
                        ConfigProblem(
                            str(document.path), document.line(where), ".".join(map(str, where)), message, hint
                        )
                    )
            if org is not None and len(problems) == found:
                tenants[config.id] = Tenant(config=config, instruments=chosen, models=tenant_models, org=org)
    if problems:
        raise ConfigError(_in_file_order(problems))
    return Catalog(tenants=tenants, models=models, instruments=instruments)


def unit_group_problems(config: TenantConfig, org: OrgTree) -> list[tuple[tuple[str | int, ...], str, str]]:
    """What is wrong with the portal's group-to-unit mapping against the tenant's org tree, as (key path,
    message, hint): a unit id that is not in the tree would grant nothing, silently."""
    oidc = config.portal.oidc
    if oidc is None:
        return []
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    for group, units in oidc.unit_groups.items():
        for index, unit in enumerate(units):
            if unit not in org:
                close = difflib.get_close_matches(unit, list(org.units), n=1, cutoff=0.6)
                found.append(
                    (
                        (group, index),
                        f"unit {unit!r} is not in the org tree ({config.org_file})",
                        f"did you mean {close[0]!r}?" if close else "use a unit id from the org file",
                    )
                )
    return found


def alert_on_problems(
    policy: AlertPolicy, models: dict[str, LeadershipModel]
) -> list[tuple[tuple[str | int, ...], str, str]]:
    """What in `policy.alert_on` the tenant's `models` do not have, each as (key path under the policy,
    message, hint): a model or dimension id that is not one of them, or "totals" with no total index."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    if policy.alert_on == "totals" and not any(m.total for m in models.values()):
        found.append(
            (
                ("alert_on",),
                "alert_on is totals, but none of the tenant's models has a total index, so nothing would alert",
                "use all or dimensions, or list the dimension ids per model",
            )
        )
    if isinstance(policy.alert_on, str):
        return found
    for model_id, dimension_ids in policy.alert_on.items():
        model = models.get(model_id)
        if model is None:
            guess = difflib.get_close_matches(model_id, list(models), n=1, cutoff=0.6)
            found.append(
                (
                    ("alert_on", model_id),
                    f"unknown model {model_id!r}: none of the tenant's instruments feeds it",
                    f"did you mean {guess[0]!r}?" if guess else f"the tenant's models: {', '.join(sorted(models))}",
                )
            )
            continue
        known = [d.id for d in model.dimensions] + ([model.total.id] if model.total else [])
        for index, dimension_id in enumerate(dimension_ids):
            if dimension_id not in known:
                guess = difflib.get_close_matches(dimension_id, known, n=1, cutoff=0.6)
                found.append(
                    (
                        ("alert_on", model_id, index),
                        f"unknown dimension {dimension_id!r} of {model_id}",
                        f"did you mean {guess[0]!r}?" if guess else f"dimensions of {model_id}: {', '.join(known)}",
                    )
                )
    return found


def address_warnings(config_dir: Path, catalog: Catalog) -> list[ConfigProblem]:
    """Valid addresses that reach their recipient only through a relay offering SMTPUTF8 (å, ä, ö before
    the @): warnings for `tempen config check`, never refusals, since many relays do offer it."""
    warnings: list[ConfigProblem] = []
    for tenant in catalog.tenants.values():
        path = config_dir / "tenants" / f"{tenant.id}.yaml"
        read = _read_yaml(path, [])
        settings = (
            (("hr_email",), tenant.config.hr_email),
            (
                ("notifications", "from_address"),
                tenant.config.notifications.from_address,
            ),
        )
        for loc, address in settings:
            if _needs_smtputf8(address):
                line = read[0].line(loc) if read else None
                location = ".".join(loc)
                warnings.append(
                    ConfigProblem(str(path), line, location, f"{address} {SMTPUTF8_WARNING}", SMTPUTF8_HINT)
                )
        org_path = config_dir / tenant.config.org_file
        try:
            rows = read_org_rows(org_path)
        except (OrgFileError, OSError):  # already reported by load_catalog, or changed since
            continue
        warnings.extend(
            ConfigProblem(
                str(org_path),
                line,
                f"{unit.id}.manager_email",
                f"{unit.manager.email} {SMTPUTF8_WARNING}",
                SMTPUTF8_HINT,
            )
            for line, unit in rows
            if unit.manager is not None and _needs_smtputf8(unit.manager.email)
        )
    return warnings


def _needs_smtputf8(address: str) -> bool:
    try:
        return sending_form(address).needs_smtputf8
    except AddressError:
        return False  # not a warning: load_catalog refuses what cannot be an address


def _in_file_order(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Files in the order they were read, each file's problems by line."""
    first_seen: dict[str, int] = {}
    for problem in problems:
        first_seen.setdefault(problem.file, len(first_seen))
    return sorted(problems, key=lambda p: (first_seen[p.file], p.line or 0))


def _instrument_problems(
    instrument: Instrument, document: _YamlFile, models: dict[str, LeadershipModel]
) -> list[ConfigProblem]:
    path = str(document.path)
    problems: list[ConfigProblem] = []
    for index, model_id in enumerate(instrument.models):
        if model_id not in models:
            problems.append(
                ConfigProblem(
                    path,
                    document.line(("models", index)),
                    f"models.{index}",
                    f"unknown model {model_id!r}",
                    f"known models: {', '.join(sorted(models)) or 'none'}",
                )
            )
    for index, item in enumerate(instrument.items):
        model_id = instrument.model_of(item)
        model = models.get(model_id)
        if model is None:
            if model_id not in instrument.models:
                problems.append(
                    ConfigProblem(
                        path,
                        document.line(("items", index, "model")),
                        f"items.{index}.model",
                        f"item {item.id!r} names model {model_id!r}, which the instrument does not list",
                        "add it to the instrument's models",
                    )
                )
            continue
        dimension_ids = {d.id for d in model.dimensions}
        if item.dimension not in dimension_ids:
            problems.append(
                ConfigProblem(
                    path,
                    document.line(("items", index, "dimension")),
                    f"items.{index}.dimension",
                    f"item {item.id!r} maps to unknown dimension {item.dimension!r} of {model_id}",
                    f"dimensions of {model_id}: {', '.join(sorted(dimension_ids))}",
                )
            )
    for model_id in instrument.models:
        model = models.get(model_id)
        if model is None:
            continue
        empty = sorted({d.id for d in model.dimensions} - {i.dimension for i in instrument.items_of(model_id)})
        if empty:
            problems.append(
                ConfigProblem(
                    path,
                    document.line(("items",)),
                    "items",
                    f"dimensions of {model_id} with no item: {', '.join(empty)}",
                    "map at least one item to each dimension",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class _References:
    """What a tenant file refers to. Taken from the raw document when it fails the schema, so an unknown
    instrument or a broken org file is still reported in the same run."""

    tenant_id: str | None
    instruments: tuple[tuple[int, str], ...]  # (position in the file's list, instrument id)
    org_file: str | None


def _references(config: TenantConfig | None, data: object, invalid: set[str]) -> _References:
    """`invalid` holds the locations the schema refused; values there are not followed."""
    if config is not None:
        return _References(config.id, tuple(enumerate(config.instruments)), config.org_file)
    if not isinstance(data, dict):
        return _References(None, (), None)
    tenant_id = data.get("id") if isinstance(data.get("id"), str) and "id" not in invalid else None
    listed = data.get("instruments")
    instruments = (
        tuple((n, i) for n, i in enumerate(listed) if isinstance(i, str) and f"instruments.{n}" not in invalid)
        if isinstance(listed, list)
        else ()
    )
    org_file = data.get("org_file", f"org/{tenant_id}.csv" if tenant_id else None)
    # An org_file the schema refused (absolute, or outside the config directory) is never opened.
    readable = isinstance(org_file, str) and "org_file" not in invalid
    return _References(tenant_id, instruments, org_file if readable else None)


def _check_references(
    references: _References,
    document: _YamlFile,
    config_dir: Path,
    instruments: dict[str, Instrument],
    problems: list[ConfigProblem],
) -> OrgTree | None:
    path = str(document.path)
    if references.tenant_id is not None and references.tenant_id != document.path.stem:
        problems.append(
            ConfigProblem(
                path,
                document.line(("id",)),
                "id",
                f"tenant id {references.tenant_id!r} differs from the file name",
                f"rename the file to {references.tenant_id}.yaml",
            )
        )
    for index, instrument_id in references.instruments:
        if instrument_id not in instruments:
            guess = difflib.get_close_matches(instrument_id, list(instruments), n=1, cutoff=0.6)
            problems.append(
                ConfigProblem(
                    path,
                    document.line(("instruments", index)),
                    f"instruments.{index}",
                    f"unknown instrument {instrument_id!r}",
                    f"did you mean {guess[0]!r}?"
                    if guess
                    else f"known instruments: {', '.join(sorted(instruments)) or 'none'}",
                )
            )
    if references.org_file is None:
        return None
    return _org(references.org_file, document, config_dir, problems)


def _org(org_file: str, document: _YamlFile, config_dir: Path, problems: list[ConfigProblem]) -> OrgTree | None:
    org_path = config_dir / org_file
    try:
        return read_org(org_path)
    except FileNotFoundError:
        problems.append(
            ConfigProblem(
                str(document.path),
                document.line(("org_file",)),
                "org_file",
                f"org file {org_file} not found",
                "paths are relative to the config directory",
            )
        )
    except OrgFileError as exc:
        problems.extend(ConfigProblem(str(org_path), p.line, p.location, p.reason, p.hint) for p in exc.problems)
    except OSError as exc:
        problems.append(ConfigProblem(str(org_path), None, "", f"cannot read the org file: {exc.strerror}"))
    return None
