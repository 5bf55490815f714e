from __future__ import annotations

import pytest

from prodlens.projects.api_key_format import new_key, prefix_of


def test_prefix_survives_underscores_in_the_secret() -> None:
    assert prefix_of("pl_0a1b2c3d_abc_def-ghi") == "pl_0a1b2c3d"


@pytest.mark.parametrize(
    "bad", ["", "pl_", "pl_abc", "pl__secret", "xx_0a1b2c3d_s", "pl_0a1b2c3d_"]
)
def test_malformed_keys_have_no_prefix(bad: str) -> None:
    assert prefix_of(bad) is None


def test_new_keys_parse_back() -> None:
    secret, prefix = new_key()
    assert prefix_of(secret) == prefix
