"""Start-up does not load the heavy libraries: SciPy and NumPy load with the first
insights report, statsmodels (and the pandas it imports) with the first intervention
report, PyArrow with the first Parquet export (tested in their own modules). Checked
in a fresh interpreter, since this one has imported them already."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scipy", "pyarrow", "numpy", "statsmodels", "pandas")


def test_importing_the_app_loads_no_heavy_library() -> None:
    probe = (
        "import sys, prodlens.app; "
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == []
