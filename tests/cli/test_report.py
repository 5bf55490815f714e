"""`prodlens report` arguments the command refuses before it reads anything (the report
itself is tested with the KPIs, in tests/analytics/test_kpis.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from prodlens.cli.main import cli
from prodlens.cli.report import Format

runner = CliRunner()


def test_an_unknown_format_names_the_formats_there_are(workdir: Path) -> None:
    result = runner.invoke(
        cli, ["report", "--project", "p", "--since", "2025-05-01", "--format", "xml"]
    )
    assert result.exit_code == 2
    message = " ".join(result.output.replace("│", " ").split())
    assert "'xml' is not a report format: use table, csv or json." in message
    assert all(item.value in message for item in Format)
    assert "Value error" not in message
    assert "Traceback" not in result.output
