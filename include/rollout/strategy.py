"""Rollout strategies, in the shape Open Cluster Management users know (``RolloutStrategy``), and the
waves they make of an intent's sites. Pure: no Airflow.

A strategy is JSON::

    {"type": "ProgressivePerGroup",
     "progressivePerGroup": {"mandatoryDecisionGroups": [{"groupName": "canary"}],
                             "minSuccessTime": "30s", "progressDeadline": "5m", "maxFailures": 0},
     "approval": {"groups": ["wave-3"], "timeout": "10m"}}

* ``type``: ``All`` (one wave), ``Progressive`` (the mandatory decision groups first, a wave each,
  then the other sites ``maxConcurrency`` at a time) or ``ProgressivePerGroup`` (the mandatory decision
  groups first, then every other group, a wave each, in the catalogue's order);
* ``minSuccessTime``: the soak; a site stays under verification that long after its SLO window
  passed, before the next wave starts;
* ``progressDeadline``: a site not synced and provisioned that long after its delivery failed
  (``None``: the pipeline's own wait timeout);
* ``maxFailures``: the failed sites tolerated (a count, or a percentage of the intent's sites); one
  more stops the rollout and rolls back what was delivered;
* ``approval`` (this project's, not OCM's): a wave holding a site of one of ``groups`` starts only
  when a person approves it; no answer within ``timeout`` is a rejection.

Durations are Go's (``90s``, ``5m``, ``1h30m``), as in OCM. The default strategy is
``config/rollout.yaml``'s (``$EDGE_INTENT_ROLLOUT_CONFIG``).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from include.compiler.config import PROJECT_ROOT, SiteCatalogue
from include.compiler.errors import FieldError, IntentValidationError

DEFAULT_FILE = PROJECT_ROOT / "config" / "rollout.yaml"
FIELD = "rolloutStrategy"
TYPES = {"All": "all", "Progressive": "progressive", "ProgressivePerGroup": "progressivePerGroup"}
_COMMON = {"minSuccessTime", "progressDeadline", "maxFailures"}
_FIELDS = {
    "all": _COMMON,
    "progressive": _COMMON | {"mandatoryDecisionGroups", "maxConcurrency"},
    "progressivePerGroup": _COMMON | {"mandatoryDecisionGroups"},
}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")
_PERCENT = re.compile(r"(\d{1,3})%")
MAX_DURATION = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Wave:
    """One wave: its 1-based index, its name, its groups and sites, and whether it waits for approval."""

    index: int
    name: str
    groups: tuple[str, ...]
    sites: tuple[str, ...]
    approval: bool = False


@dataclass(frozen=True)
class RolloutPlan:
    """A strategy resolved against an intent's sites: the waves, and the limits in numbers."""

    type: str
    waves: tuple[Wave, ...]
    maxFailures: int
    minSuccessTime: float
    progressDeadline: float | None
    approvalTimeout: float
    strategy: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (lists, not tuples): what an XCom gives back."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RolloutPlan:
        waves = tuple(
            Wave(**{**w, "groups": tuple(w["groups"]), "sites": tuple(w["sites"])}) for w in data["waves"]
        )
        return cls(**{**data, "waves": waves})

    def wave(self, index: int) -> Wave | None:
        """The wave of 1-based ``index``, or None when the plan has fewer."""
        return self.waves[index - 1] if 0 < index <= len(self.waves) else None

    def wave_of(self, site: str) -> Wave | None:
        return next((w for w in self.waves if site in w.sites), None)


class _Errors:
    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def add(self, path: str, reason: str) -> None:
        self.found.append(FieldError(path, reason))


def duration(value: Any, path: str, errors: _Errors, *, none_allowed: bool = False) -> float | None:
    """Seconds of a Go duration (``30s``, ``5m``, ``1h30m``); ``None`` for ``"None"`` where allowed."""
    if none_allowed and value in (None, "None"):
        return None
    if not isinstance(value, str) or not value:
        errors.add(path, 'must be a duration such as "30s", "5m" or "1h30m"')
        return None
    if value.startswith("-"):
        errors.add(path, "must not be negative")
        return None
    match = _DURATION.fullmatch(value)
    if not match or not any(match.groups()):
        errors.add(path, f'{value[:40]!r} is not a duration such as "30s", "5m" or "1h30m"')
        return None
    hours, minutes, seconds = (float(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total > MAX_DURATION:
        errors.add(path, "must be at most 168h")
        return None
    return total


def count(value: Any, path: str, total: int, errors: _Errors, *, minimum: int) -> int | None:
    """A count, or a percentage (``"25%"``) of ``total`` rounded as OCM does (up for concurrency)."""
    if isinstance(value, bool):
        errors.add(path, 'must be a whole number or a percentage such as "25%"')
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _PERCENT.fullmatch(value):
        percent = int(value[:-1])
        if percent > 100:
            errors.add(path, "a percentage must be at most 100%")
            return None
        number = math.ceil(total * percent / 100) if minimum else math.floor(total * percent / 100)
    else:
        errors.add(path, 'must be a whole number or a percentage such as "25%"')
        return None
    if number < minimum:
        errors.add(path, f"must be at least {minimum}")
        return None
    return number


def load_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """``config/rollout.yaml``: the default strategy and the approval timeout."""
    where = Path(path or os.environ.get("EDGE_INTENT_ROLLOUT_CONFIG") or DEFAULT_FILE)
    data = yaml.safe_load(where.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not isinstance(data.get("default"), dict):
        raise ValueError(f"{where}: needs a mapping 'default' (the default rollout strategy)")
    return data


def max_waves(catalogue: SiteCatalogue, config: dict[str, Any] | None = None) -> int:
    """How many waves the pipeline DAG has room for (its wave task groups)."""
    config = load_config() if config is None else config
    return max(1, min(len(catalogue.sites), int(config.get("maxWaves", 6))))


def _groups(raw: Any, path: str, catalogue: SiteCatalogue, errors: _Errors) -> list[str]:
    names = list(catalogue.groups)
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add(path, "must be a list of {groupName} or {groupIndex}")
        return []
    chosen = []
    for i, ref in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(ref, dict) or set(ref) - {"groupName", "groupIndex"} or len(ref) != 1:
            errors.add(where, "must be exactly one of {groupName: name} or {groupIndex: n}")
        elif "groupName" in ref:
            if ref["groupName"] not in names:
                errors.add(
                    f"{where}.groupName", f"unknown group {str(ref['groupName'])[:63]!r}; known: {names}"
                )
            else:
                chosen.append(ref["groupName"])
        elif isinstance(ref["groupIndex"], bool) or not isinstance(ref["groupIndex"], int):
            errors.add(f"{where}.groupIndex", "must be a whole number")
        elif not 0 <= ref["groupIndex"] < len(names):
            errors.add(f"{where}.groupIndex", f"must be from 0 to {len(names) - 1}")
        else:
            chosen.append(names[ref["groupIndex"]])
    return list(dict.fromkeys(chosen))


def _waves(
    kind: str, body: dict, sites: list[str], catalogue: SiteCatalogue, mandatory: list[str], errors: _Errors
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """``[(name, groups, sites)]`` in rollout order; groups with none of the intent's sites have no wave."""
    group_of = {s.name: s.group for s in catalogue.sites}
    ordered = [g for g in mandatory] + [g for g in catalogue.groups if g not in mandatory]
    by_group = [(g, tuple(s for s in catalogue.groups[g] if s in sites)) for g in ordered]
    by_group = [(g, members) for g, members in by_group if members]
    if kind == "all":
        return [("all", tuple(g for g, _ in by_group), tuple(s for _, m in by_group for s in m))]
    if kind == "progressivePerGroup":
        return [(g, (g,), members) for g, members in by_group]
    waves = [(g, (g,), members) for g, members in by_group if g in mandatory]
    rest = [s for g, members in by_group if g not in mandatory for s in members]
    step = len(rest) or 1
    if body.get("maxConcurrency") is not None:
        step = count(
            body["maxConcurrency"], f"{FIELD}.progressive.maxConcurrency", len(sites), errors, minimum=1
        )
        step = step or 1
    for start in range(0, len(rest), step):
        chunk = tuple(rest[start : start + step])
        waves.append((f"batch-{len(waves) + 1}", tuple(dict.fromkeys(group_of[s] for s in chunk)), chunk))
    return waves


def resolve(
    strategy: dict[str, Any] | None,
    sites: list[str],
    catalogue: SiteCatalogue,
    *,
    config: dict[str, Any] | None = None,
) -> RolloutPlan:
    """The waves of ``strategy`` (None: the configured default) over an intent's ``sites``.

    :raises IntentValidationError: the strategy is invalid (every field and reason, ``stage="rollout"``).
    """
    config = load_config() if config is None else config
    given = config["default"] if strategy is None else strategy
    errors = _Errors()
    if not isinstance(given, dict):
        raise IntentValidationError.single(FIELD, "must be an object", stage="rollout")
    unknown = set(given) - {"type", *TYPES.values(), "approval"}
    for name in sorted(unknown):
        errors.add(f"{FIELD}.{name}"[:120], "unknown field")
    kind_name = given.get("type", "All")
    kind = TYPES.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise IntentValidationError(
            [*errors.found, FieldError(f"{FIELD}.type", f"must be one of {', '.join(TYPES)}")],
            stage="rollout",
        )
    for other in set(TYPES.values()) - {kind}:
        if other in given:
            errors.add(f"{FIELD}.{other}", f"does not apply to type {kind_name}")
    body = given.get(kind)
    body = {} if body is None else body
    path = f"{FIELD}.{kind}"
    if not isinstance(body, dict):
        raise IntentValidationError.single(path, "must be an object", stage="rollout")
    for name in sorted(set(body) - _FIELDS[kind]):
        errors.add(f"{path}.{name}"[:120], "unknown field")
    mandatory = _groups(
        body.get("mandatoryDecisionGroups"), f"{path}.mandatoryDecisionGroups", catalogue, errors
    )
    soak = duration(body.get("minSuccessTime", "0s"), f"{path}.minSuccessTime", errors)
    deadline = duration(body.get("progressDeadline"), f"{path}.progressDeadline", errors, none_allowed=True)
    failures = count(body.get("maxFailures", 0), f"{path}.maxFailures", len(sites), errors, minimum=0)
    if failures is not None and failures > len(sites):
        errors.add(f"{path}.maxFailures", f"{failures} is more than the intent's {len(sites)} site(s)")
    approval = given.get("approval") or {}
    approval_groups: list[str] = []
    timeout = duration(config.get("approvalTimeout", "1h"), "approvalTimeout", errors)
    if not isinstance(approval, dict) or set(approval) - {"groups", "timeout"}:
        errors.add(f"{FIELD}.approval", "must be an object of groups and timeout")
    else:
        raw_groups = approval.get("groups", [])
        if not isinstance(raw_groups, list) or not all(isinstance(g, str) for g in raw_groups):
            errors.add(f"{FIELD}.approval.groups", "must be a list of group names")
        else:
            for g in raw_groups:
                if g not in catalogue.groups:
                    errors.add(
                        f"{FIELD}.approval.groups",
                        f"unknown group {g[:63]!r}; known: {list(catalogue.groups)}",
                    )
            approval_groups = raw_groups
        if "timeout" in approval:
            timeout = duration(approval["timeout"], f"{FIELD}.approval.timeout", errors)
    waves = _waves(kind, body, sites, catalogue, mandatory, errors)
    room = max_waves(catalogue, config)
    if len(waves) > room:
        errors.add(path, f"makes {len(waves)} waves; the pipeline runs at most {room}")
    if errors.found:
        raise IntentValidationError(errors.found, stage="rollout")
    return RolloutPlan(
        type=kind_name,
        waves=tuple(
            Wave(i, name, groups, members, approval=bool(set(groups) & set(approval_groups)))
            for i, (name, groups, members) in enumerate(waves, start=1)
        ),
        maxFailures=failures or 0,
        minSuccessTime=soak or 0.0,
        progressDeadline=deadline,
        approvalTimeout=timeout or 3600.0,
        strategy=given,
    )
