"""Registering with a taken email does the work of a new account (S10, timing): the hash
and the same database statements, so its answer comes no sooner. No timing here (see
bench/bench_register.py); what is checked is the work itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from prodlens.auth.passwords import PasswordHasher
from tests.harness import Harness


def shape(statement: str) -> str | None:
    """`INSERT users`, `UPDATE one_time_tokens`, `SELECT users`; None for transaction control."""
    words = statement.split()
    verb = words[0].upper()
    if verb == "INSERT":
        return f"INSERT {words[2].strip(chr(34))}"
    if verb == "UPDATE":
        return f"UPDATE {words[1].strip(chr(34))}"
    if verb == "DELETE":
        return f"DELETE {words[2].strip(chr(34))}"
    if verb == "SELECT":
        match = re.search(r"\bFROM\s+\"?(\w+)", statement, re.IGNORECASE)
        return f"SELECT {match.group(1) if match else '?'}"
    return None


@contextmanager
def statements_of(h: Harness) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = h.app.state.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if (kind := shape(statement)) is not None:
            seen.append(kind)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def registration(h: Harness, email_address: str, username: str) -> list[str]:
    with statements_of(h) as seen:
        response = await h.register(username, email_address=email_address)
    assert response.status_code == 201, response.text
    return seen


async def test_s10_a_taken_email_costs_what_a_new_account_costs(harness: Harness) -> None:
    assert (await harness.register("ada")).status_code == 201
    await harness.settle()
    accounts = await harness.sql("SELECT count(*) FROM users")
    tokens = await harness.sql("SELECT count(*) FROM one_time_tokens")

    taken = await registration(harness, "ADA@example.com", "mallory")
    fresh = await registration(harness, "grace@example.com", "grace")
    assert "INSERT users" in fresh
    assert "INSERT one_time_tokens" in fresh
    assert sorted(taken) == sorted(fresh)

    # The stand-in account of the taken path leaves nothing behind.
    await harness.settle()
    assert (await harness.sql("SELECT count(*) FROM users"))[0][0] == accounts[0][0] + 1
    assert (await harness.sql("SELECT count(*) FROM one_time_tokens"))[0][0] == tokens[0][0] + 1
    assert await harness.sql("SELECT id FROM users WHERE username_key = 'mallory'") == []
    assert await harness.sql("SELECT id FROM users WHERE email_key LIKE '%.invalid'") == []


async def test_s10_both_paths_hash_the_password_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await harness.register("ada")).status_code == 201
    hasher: PasswordHasher = harness.app.state.auth.hasher
    calls: list[str] = []
    real_hash = hasher.hash

    async def counted(password: str) -> str:
        calls.append(password)
        return await real_hash(password)

    monkeypatch.setattr(hasher, "hash", counted)
    assert (await harness.register("mallory", email_address="ada@example.com")).status_code == 201
    assert len(calls) == 1
    assert (await harness.register("grace")).status_code == 201
    assert len(calls) == 2
