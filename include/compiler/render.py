"""Rendering with the real kpt: ``kpt fn render --allow-exec`` on each site's package.

The blueprint's pipeline runs exec functions written in Python (include/kpt/functions); there is
no container runtime, so image functions are not used. kpt resolves an exec path against its
working directory, so each package is rendered from inside itself, beside a ``functions`` link,
the same layout as include/kpt. kpt's own output reaches the user when rendering fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import KptNotFoundError, RenderError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = PROJECT_ROOT / "include" / "kpt" / "functions"
RENDER_TIMEOUT_S = 180  # the seed's Rendering phase timeout (3 min)
INSTALL_HINT = (
    "kpt is not installed or not executable: install kpt v1.0.0-beta.56 or later "
    "(see https://kpt.dev/installation/kpt-cli) so that 'kpt' is on PATH, or set KPT_BIN to its path"
)
KPT_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "512MiB", "GOMAXPROCS": "1"}
"""Go runtime settings kpt runs with, unless the environment sets them. kpt lives for well under a
second, so its garbage collector runs only near the memory limit; one thread each, as the sites'
packages are rendered side by side. bench/compile.py shows kpt's floor with and without them."""


def kpt_binary() -> str:
    """The kpt executable: ``$KPT_BIN`` or ``kpt`` on PATH."""
    candidate = os.environ.get("KPT_BIN") or shutil.which("kpt")
    if not candidate or not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
        raise KptNotFoundError(INSTALL_HINT)
    return candidate


def prepare_workspace(workspace: Path) -> None:
    """Put the functions beside the packages of ``workspace``, as the Kptfile expects them."""
    link = workspace / "functions"
    if not link.exists():
        link.symlink_to(FUNCTIONS, target_is_directory=True)


def kpt_env() -> dict[str, str]:
    """The environment kpt runs in, and with it the exec functions.

    The functions are Python scripts started as ``python3 -IS`` (standard library only, see
    include/kpt/functions/krmfn.py): ``python3`` is this interpreter, whose PyYAML they fall back
    on for YAML they do not read themselves. PYTHONPATH serves functions started without ``-I``.
    kpt's Go runtime gets :data:`KPT_RUNTIME` where the environment does not say otherwise.
    """
    env = {**KPT_RUNTIME, **os.environ}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def render(package: Path, *, timeout: float = RENDER_TIMEOUT_S) -> str:
    """Render ``package`` in place; return kpt's report, or raise RenderError with kpt's output.

    :param package: a package directory whose parent holds the ``functions`` link.
    """
    binary = kpt_binary()
    try:
        done = subprocess.run(
            [binary, "fn", "render", ".", "--allow-exec", "--truncate-output=false"],
            cwd=package,
            env=kpt_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"kpt fn render of {package.name} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise KptNotFoundError(f"{INSTALL_HINT} ({exc.strerror})") from None
    report = (done.stderr + done.stdout).strip()
    if done.returncode != 0:
        raise RenderError(f"kpt fn render of package {package.name!r} failed:\n{report}")
    return report
