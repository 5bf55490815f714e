"""Bases shared by the request and response bodies of every domain."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A request body that refuses unknown fields, so a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")
