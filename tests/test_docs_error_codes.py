"""Every problem code the server can answer is documented in docs/api.md."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import prodlens
from prodlens.kit.errors import ProblemError

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _subclasses(cls: type[ProblemError]) -> Iterator[type[ProblemError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _all_problem_errors() -> list[type[ProblemError]]:
    for module in pkgutil.walk_packages(prodlens.__path__, "prodlens."):
        if not module.name.endswith("__main__"):  # importing it would run the CLI
            importlib.import_module(module.name)
    return [ProblemError, *_subclasses(ProblemError)]


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
