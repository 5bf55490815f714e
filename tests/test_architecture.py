"""The import contracts of `make lint` hold, and each one fails when broken on purpose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (contract name, module to edit, the import that breaks it)
VIOLATIONS = [
    ("Nothing imports the command line", "analytics/window.py", "import prodlens.cli.common"),
    ("Only the app wires routers", "projects/items_router.py", "import prodlens.projects.router"),
    ("kit and http know no domain", "kit/ids.py", "import prodlens.auth.models"),
    (
        "Domains use each other through public modules only",
        "analytics/window.py",
        "import prodlens.auth.lockout",
    ),
]


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copy_of_the_project(destination: Path) -> Path:
    shutil.copytree(ROOT / "src", destination / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (destination / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "import_contracts.py", destination / "tests")
    (destination / "tests" / "__init__.py").touch()
    shutil.copy(ROOT / "pyproject.toml", destination)
    return destination


def test_the_contracts_hold(tmp_path: Path) -> None:
    result = _lint_imports(_copy_of_the_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("contract", "module", "line"), VIOLATIONS)
def test_a_contract_fails_when_broken(
    tmp_path: Path, contract: str, module: str, line: str
) -> None:
    tree = _copy_of_the_project(tmp_path)
    edited = tree / "src" / "prodlens" / module
    edited.write_text(edited.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", "utf-8")

    result = _lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout
    assert "3 kept, 1 broken" in result.stdout
