"""The compiler's stages as functions: parse, convert, compile (KRM) and render to a directory.

Each stage validates everything before it writes anything: invalid input raises
:class:`~.errors.IntentValidationError` and leaves no file behind, and a failed render leaves the
output directory as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import krm, render, ts28312
from .config import Settings
from .convert import convert
from .nl import parse_text
from .tmf921 import Intent, build_intent, load_intent


def parse(text: str, settings: Settings, *, sites: list[str] | None = None) -> Intent:
    """Natural language to a TMF921 intent."""
    return build_intent(parse_text(text, settings, sites=sites))


def to_28312(document: str | bytes | dict[str, Any] | Intent, settings: Settings) -> ts28312.Intent:
    """A TMF921 intent (JSON text, decoded object or model) to a TS 28.312 intent."""
    intent = document if isinstance(document, Intent) else load_intent(document)
    return convert(intent, settings)


def packages(intent: ts28312.Intent, settings: Settings) -> dict[str, dict[str, str]]:
    """The unrendered package of every target site: ``{site: {file name: text}}``."""
    return {site: krm.site_package(intent, site, settings) for site in intent.sites}


@dataclass(frozen=True)
class Rendered:
    """Where each site's rendered package was written.

    :param intent: the TS 28.312 intent the packages came from.
    :param sites: ``{site: directory}``.
    """

    intent: ts28312.Intent
    sites: dict[str, Path]


def render_packages(site_packages: dict[str, dict[str, str]], out_dir: Path) -> dict[str, Path]:
    """Render every site's package with kpt and move the results to ``out_dir/<site>``.

    Packages are rendered in a private directory beside ``out_dir``; only when all of them
    rendered are they moved into place, replacing an earlier rendering of the same site.
    """
    render.kpt_binary()  # fail before any file is written when kpt is missing
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=".render-", dir=parent))
    try:
        render.prepare_workspace(workspace)
        for site, files in site_packages.items():
            package = workspace / site
            package.mkdir()
            for name, text in files.items():
                (package / name).write_text(text, encoding="utf-8")
        with ThreadPoolExecutor(max_workers=min(4, len(site_packages) or 1)) as pool:
            list(pool.map(render.render, [workspace / site for site in site_packages]))
        out_dir.mkdir(parents=True, exist_ok=True)
        placed = {}
        for site in site_packages:
            target = out_dir / site
            if target.exists():
                shutil.rmtree(target)
            (workspace / site).rename(target)
            placed[site] = target
        return placed
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def compile_to_dir(
    document: str | bytes | dict[str, Any] | Intent, out_dir: Path, settings: Settings
) -> Rendered:
    """TMF921 intent to rendered KRM under ``out_dir/<site>/``."""
    intent = to_28312(document, settings)
    return Rendered(intent=intent, sites=render_packages(packages(intent, settings), out_dir))
