"""A problem response can always be sent, whatever its detail quotes."""

from __future__ import annotations

import json

from prodlens.kit.errors import BadRequest, problem_response


def test_a_detail_quoting_half_a_surrogate_pair_is_escaped_not_a_crash() -> None:
    response = problem_response(
        BadRequest, instance="/x", correlation_id="c1", detail="bad value: \ud800 and é"
    )
    assert response.status_code == 400
    assert json.loads(bytes(response.body))["detail"] == "bad value: \ud800 and é"


def test_other_text_is_sent_as_utf8() -> None:
    response = problem_response(BadRequest, instance="/x", correlation_id=None, detail="é ✓")
    assert "é ✓".encode() in bytes(response.body)
