"""CORS from an allow-list; a refused preflight answers a problem document like every error."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from prodlens.kit.errors import ProblemError, problem_response


class CorsRejected(ProblemError):
    status, code, title = 400, "http.cors_rejected", "Cross-origin request not allowed"


class ProblemCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        # Starlette's body names what was refused ("Disallowed CORS origin"); keep it.
        return problem_response(
            CorsRejected,
            instance=None,
            correlation_id=None,
            detail=bytes(response.body).decode(),
            headers={"Vary": "Origin"},
        )
