"""An import-linter contract type: domains use each other only through public modules.

A domain's public modules are the ones DESIGN.md names for use from outside:
its services (`service`, `*_service`), `models`, `schemas`, `errors` and
`deps` (dependency aliases), plus any listed in `extra_public` (`auth.runtime`:
the auth collaborators a service call takes). Everything else in a domain is
its own business. `make lint` runs it (see `[tool.importlinter]`).
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output

PUBLIC_NAMES = frozenset({"service", "models", "schemas", "errors", "deps"})


def _is_public(module: str, domain: str, extra: frozenset[str]) -> bool:
    if module in extra or module == domain:
        return True
    # The public module itself or anything inside it (a public package).
    inner = module.removeprefix(domain + ".").split(".")[0]
    return inner in PUBLIC_NAMES or inner.endswith("_service")


class PublicSurfaceContract(Contract):
    type_name = "public_surface"

    domains = fields.ListField(subfield=fields.ModuleField())
    extra_public = fields.ListField(subfield=fields.ModuleField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        # import-linter sets the fields' parsed values on the instance; mypy sees the fields.
        options: dict[str, Any] = vars(self)
        domains = [module.name for module in options["domains"]]
        extra = frozenset(module.name for module in options.get("extra_public") or [])
        ignored = {
            (rule.importer.expression, rule.imported.expression)
            for rule in options.get("ignore_imports") or []
        }
        illegal: list[dict[str, Any]] = []
        for importer_domain in domains:
            for importer in sorted(graph.find_descendants(importer_domain) | {importer_domain}):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    owner = next(
                        (d for d in domains if imported == d or imported.startswith(d + ".")),
                        None,
                    )
                    if owner in (None, importer_domain) or _is_public(imported, owner, extra):
                        continue
                    if (importer, imported) in ignored:
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    lines = [detail["line_number"] for detail in details]
                    illegal.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for link in check.metadata["illegal"]:
            lines = ", ".join(str(line) for line in link["lines"])
            output.print_error(
                f"- {link['importer']} -> {link['imported']} (l.{lines}): "
                "not a public module of its domain",
                bold=False,
            )
            output.new_line()
