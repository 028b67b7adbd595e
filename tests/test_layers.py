"""The layers hold: ``include/`` never imports the plugins, the pure libraries never import Airflow,
and no module grows past what one reads in a sitting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from include.compiler.config import PROJECT_ROOT

PURE = ("include/compiler", "include/gitops", "include/evidence", "include/slo", "include/lifecycle.py")
MAX_LINES = 500


def modules(*roots: str) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        path = PROJECT_ROOT / root
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", modules("include"), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_include_never_imports_the_plugins(path):
    assert not {name for name in imported(path) if name.split(".")[0] in ("edge_intent", "plugins")}


@pytest.mark.parametrize("path", modules(*PURE), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_pure_libraries_do_not_import_airflow(path):
    assert not {name for name in imported(path) if name.split(".")[0] == "airflow"}


@pytest.mark.parametrize(
    "path", modules("include", "plugins", "dags"), ids=lambda p: str(p.relative_to(PROJECT_ROOT))
)
def test_modules_stay_small(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) < MAX_LINES


def _task_id_literals(tree: ast.AST) -> list[ast.Constant]:
    """String literals given as a task id: ``task_id=``/``task_ids=`` keywords and the arguments of
    XCom readers (``xcom(...)``, ``xcom_pull(...)``)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        values = [k.value for k in node.keywords if k.arg in ("task_id", "task_ids")]
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("xcom", "xcom_pull"):
            values += node.args
        found += [v for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return found


def test_task_ids_are_named_once():
    """The DAG files, the intent API, the metrics, the demo and the benchmarks take task ids from
    include/lifecycle.py: none of them names a task by a string literal."""
    readers = modules("dags", "plugins/edge_intent", "include/demo.py", "bench")
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: {node.value!r}"
        for path in readers
        for node in _task_id_literals(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == []
