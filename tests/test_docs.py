"""The docs name what the code has: every problem code, every security test."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import prodlens
from prodlens.kit.errors import ProblemError

ROOT = Path(__file__).resolve().parents[1]
API_DOC = ROOT / "docs" / "api.md"
SECURITY_DOC = ROOT / "docs" / "security.md"


def _subclasses(cls: type[ProblemError]) -> Iterator[type[ProblemError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _all_problem_errors() -> list[type[ProblemError]]:
    for module in pkgutil.walk_packages(prodlens.__path__, "prodlens."):
        if not module.name.endswith("__main__"):  # importing it would run the CLI
            importlib.import_module(module.name)
    # Only the server's own: tests define problem types of their own to exercise handlers.
    everything: list[type[ProblemError]] = [ProblemError, *_subclasses(ProblemError)]
    return [cls for cls in everything if cls.__module__.startswith("prodlens.")]


def test_every_problem_code_is_in_the_api_docs() -> None:
    documented = API_DOC.read_text(encoding="utf-8")
    errors = _all_problem_errors()
    assert len(errors) > 50  # the walk found the domains, not only kit.errors
    missing = sorted(
        f"{cls.status} {cls.code} ({cls.__module__}.{cls.__qualname__})"
        for cls in errors
        if f"| {cls.status} | `{cls.code}` |" not in documented
    )
    assert not missing, "problem codes missing from docs/api.md:\n" + "\n".join(missing)


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_security_doc_names_tests_that_exist() -> None:
    cited = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", SECURITY_DOC.read_text("utf-8"))
    assert len(cited) > 36
    stale = [f"{path}::{name}" for path, name in cited if name not in _test_names(ROOT / path)]
    assert not stale, "docs/security.md cites tests that do not exist:\n" + "\n".join(stale)


def test_every_security_test_is_in_the_security_doc() -> None:
    documented = SECURITY_DOC.read_text(encoding="utf-8")
    named = {
        f"{path.relative_to(ROOT)}::{name}"
        for path in (ROOT / "tests").rglob("test_*.py")
        for name in _test_names(path)
        if re.match(r"test_s\d\d_", name)
    }
    missing = sorted(ref for ref in named if f"`{ref}`" not in documented)
    assert not missing, "security tests missing from docs/security.md:\n" + "\n".join(missing)
