"""Errors of the rate-limit domain."""

from __future__ import annotations

from prodlens.kit.errors import ProblemError


class RateLimited(ProblemError):
    status, code, title = 429, "rate_limit.exceeded", "Too many requests"
