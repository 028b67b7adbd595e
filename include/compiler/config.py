"""The site catalogue and the compiler settings, loaded from YAML configuration files.

Defaults: ``config/sites.yaml`` and ``config/compiler.yaml`` at the project root; the environment
variables ``EDGE_INTENT_SITES`` and ``EDGE_INTENT_COMPILER_CONFIG`` point at other files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import CompilerError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SITES_FILE = PROJECT_ROOT / "config" / "sites.yaml"
DEFAULT_COMPILER_FILE = PROJECT_ROOT / "config" / "compiler.yaml"

SliceType = Literal["eMBB", "URLLC", "mMTC"]
SLICE_TYPES: tuple[SliceType, ...] = ("eMBB", "URLLC", "mMTC")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|Ki|Mi|Gi)?$")


class ConfigError(CompilerError):
    """A configuration file is missing or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(_Strict):
    """One edge site of the catalogue."""

    name: str = Field(max_length=20)
    aliases: tuple[str, ...] = ()
    group: str = Field(default="default", max_length=63)
    repo: str
    kubernetesConnId: str
    metricsSelector: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "group")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not DNS_LABEL.fullmatch(value):
            raise ValueError("must be a DNS-1123 label (lowercase letters, digits and '-')")
        return value

    def spoken_names(self) -> tuple[str, ...]:
        """Every way an intent may name this site, lowercase."""
        names = [self.name, *(alias.lower() for alias in self.aliases)]
        match = re.fullmatch(r"([a-z]+)-?([0-9]+)", self.name)
        if match:
            word, number = match.groups()
            names += [f"{word} {number}", f"{word}-{number}", f"{word}{number}", f"{word} site {number}"]
        return tuple(dict.fromkeys(names))


class SiteCatalogue(_Strict):
    """Every site intents can target."""

    sites: tuple[Site, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> SiteCatalogue:
        names = [site.name for site in self.sites]
        if len(set(names)) != len(names):
            raise ValueError(f"site names must be unique, got {names}")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(site.name for site in self.sites)

    def get(self, name: str) -> Site | None:
        return next((site for site in self.sites if site.name == name), None)

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """``{group: its sites}``, groups in the order the catalogue first names them (the default
        order of a progressive rollout's waves)."""
        found: dict[str, list[str]] = {}
        for site in self.sites:
            found.setdefault(site.group, []).append(site.name)
        return {group: tuple(sites) for group, sites in found.items()}


class Defaults(_Strict):
    sliceType: SliceType = "eMBB"
    priority: int = Field(50, ge=1, le=100)
    observationPeriod: int = Field(600, ge=1, le=86_400)
    sites: tuple[str, ...] = ()


class SliceProfile(_Strict):
    sst: int = Field(ge=1, le=255)
    templateName: str
    templateVersion: str
    defaultReliability: float | None = Field(None, gt=0, lt=100)
    fiveQIResourceTypes: tuple[Literal["GBR", "Non-GBR", "Delay-critical GBR"], ...]
    defaultFiveQI: int
    replicas: int = Field(ge=1)
    uesPerReplica: int = Field(ge=1)
    maxReplicas: int | None = Field(None, ge=1, le=1000)
    """The most replicas scaling may give a slice of this type (None: ``workload.maxReplicas``)."""
    minUesPerReplica: int | None = Field(None, ge=1)
    """An intent with ``maxNumberofUEs`` is scaled to at most one replica per this many UEs."""
    cpuRequest: str
    cpuLimit: str
    memoryRequest: str
    memoryLimit: str

    @field_validator("cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not QUANTITY.fullmatch(value):
            raise ValueError(f"{value!r} is not a Kubernetes quantity this compiler understands")
        return value


class Workload(_Strict):
    image: str
    args: tuple[str, ...] = ()
    port: int = Field(ge=1, le=65535)
    maxReplicas: int = Field(ge=1, le=1000)
    cpuPerGbps: str = "500m"
    maxCpuLimit: str = "4"


class CompilerSettings(_Strict):
    """Defaults, slice profiles and the workload sizing table."""

    defaults: Defaults = Defaults()
    sliceTypes: dict[SliceType, SliceProfile]
    workload: Workload

    @model_validator(mode="after")
    def _every_slice_type(self) -> CompilerSettings:
        missing = [name for name in SLICE_TYPES if name not in self.sliceTypes]
        if missing:
            raise ValueError(f"sliceTypes must define {', '.join(missing)}")
        return self


class Settings(_Strict):
    """Everything the compiler is configured with."""

    catalogue: SiteCatalogue
    compiler: CompilerSettings

    @model_validator(mode="after")
    def _default_sites_known(self) -> Settings:
        unknown = [name for name in self.compiler.defaults.sites if self.catalogue.get(name) is None]
        if unknown:
            raise ValueError(
                f"defaults.sites names unknown sites {unknown}; known: {list(self.catalogue.names)}"
            )
        return self


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc


def load_settings(
    sites_file: str | os.PathLike | None = None, compiler_file: str | os.PathLike | None = None
) -> Settings:
    """Load and validate the site catalogue and compiler settings.

    :param sites_file: the site catalogue; default ``$EDGE_INTENT_SITES`` or ``config/sites.yaml``.
    :param compiler_file: compiler settings; default ``$EDGE_INTENT_COMPILER_CONFIG`` or
        ``config/compiler.yaml``.
    """
    sites_path = Path(sites_file or os.environ.get("EDGE_INTENT_SITES") or DEFAULT_SITES_FILE)
    compiler_path = Path(
        compiler_file or os.environ.get("EDGE_INTENT_COMPILER_CONFIG") or DEFAULT_COMPILER_FILE
    )
    try:
        return Settings(catalogue=_read_yaml(sites_path), compiler=_read_yaml(compiler_path))
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration ({sites_path}, {compiler_path}): {details}") from exc
