"""Cost of a model call when the client did not report it: the price table in
`data/prices.json`, with per-project overrides in the project's settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_read: float
    cache_write: float

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Price:
        return cls(
            input=float(raw["input"]),
            output=float(raw["output"]),
            cache_read=float(raw.get("cache_read", raw["input"])),
            cache_write=float(raw.get("cache_write", raw["input"])),
        )


@cache
def default_prices() -> dict[str, Price]:
    text = resources.files("prodlens.analytics").joinpath("data/prices.json").read_text()
    return {name: Price.parse(raw) for name, raw in json.loads(text)["models"].items()}


def find_price(model: str | None, prices: Mapping[str, Price]) -> Price | None:
    """Exact name, then without a provider prefix ("openai/gpt-4o"), then the longest
    known name the model starts with ("gpt-4o-mini-2024-07-18" is "gpt-4o-mini")."""
    if not model:
        return None
    name = model.strip().lower()
    for candidate in (name, name.rsplit("/", 1)[-1]):
        if candidate in prices:
            return prices[candidate]
    base = name.rsplit("/", 1)[-1]
    matches = [known for known in prices if base.startswith(known)]
    return prices[max(matches, key=len)] if matches else None


def project_prices(overrides: Mapping[str, Any] | None) -> dict[str, Price]:
    prices = dict(default_prices())
    for name, raw in (overrides or {}).items():
        prices[name.lower()] = Price.parse(raw)
    return prices


def estimate_cost(
    price: Price,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_creation_tokens: int,
) -> float:
    """`input_tokens` are the uncached input tokens; cached ones are priced apart."""
    return (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_read_tokens * price.cache_read
        + cache_creation_tokens * price.cache_write
    ) / PER_MILLION
