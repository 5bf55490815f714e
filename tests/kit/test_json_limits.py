"""The JSON scanner against the parser: the depth it measures and the text it flags are
the parser's, however the body is cut into chunks and whatever encoding it comes in."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodlens.kit.errors import JsonTooDeep
from prodlens.kit.json_limits import JsonScanner, check_depth, loads, unstorable_text

# Strings that trouble a scanner: quotes, backslashes, brackets, escapes spelled out,
# NUL and surrogate halves (alone and paired), characters beyond the BMP.
TRICKY = st.sampled_from(
    ['"', "\\", '\\"', "[", "]", "{", "}", "\\u0000", "\x00", "\ud800", "\udc00", "\U0001f600"]
)
TEXT = st.lists(st.one_of(TRICKY, st.text(max_size=3)), max_size=4).map("".join)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=30,
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32-le"])


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def has_unstorable(value: Any) -> bool:
    return unstorable_text(value) is not None


def scan(body: bytes, max_depth: int, cuts: list[int]) -> JsonScanner | None:
    """The scanner after the body in pieces cut at `cuts`; None when it refused."""
    scanner = JsonScanner(max_depth)
    edges = [0, *sorted(cut % (len(body) + 1) for cut in cuts), len(body)]
    try:
        for index, (start, end) in enumerate(pairwise(edges)):
            scanner.feed(body[start:end], final=index == len(edges) - 2)
    except JsonTooDeep:
        return None
    return scanner


@settings(max_examples=400, deadline=None)
@given(
    value=VALUES,
    ascii_only=st.booleans(),
    encoding=ENCODINGS,
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_the_scan_agrees_with_the_parser(
    value: Any, ascii_only: bool, encoding: str, cuts: list[int]
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        body = text.encode(encoding)
    except UnicodeEncodeError:  # a raw half pair: not text any encoding can carry
        return
    parsed = json.loads(body)
    depth = depth_of(parsed)
    at_limit = scan(body, depth, cuts)
    assert at_limit is not None
    assert at_limit.unstorable == has_unstorable(parsed)
    if depth:
        assert scan(body, depth - 1, cuts) is None


def test_escapes_are_read_as_the_parser_reads_them() -> None:
    cases = {
        r'["\u0000"]': True,
        r'["\\u0000"]': False,  # a backslash, then the text u0000
        r'["\\\u0000"]': True,
        r'["\ud83d\ude00"]': False,  # a pair: one character
        r'["\ud83d"]': True,
        r'["\ude00\ud83d"]': True,  # the halves in the wrong order
        r'["\ud83d\\ude00"]': True,  # a half, a backslash, text
        r'["\uD800\uDC00", "\uDBFF\uDFFF"]': False,
    }
    for body, unstorable in cases.items():
        assert check_depth(body.encode(), 8).unstorable is unstorable, body
        assert check_depth(body, 8).unstorable is unstorable, body


def test_loads_refuses_before_parsing() -> None:
    deep = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads
    with pytest.raises(JsonTooDeep):
        loads(deep, max_depth=64)
    assert loads('{"a": [[["[[[[[[["]]]}', max_depth=4) == {"a": [[["[[[[[[["]]]}


def test_sniffing_leaves_what_is_not_json() -> None:
    scanner = JsonScanner(2, sniff=True)
    scanner.feed(b"\x0a\x02" + b"[" * 50, final=True)  # protobuf
    assert not scanner.unstorable
    with pytest.raises(JsonTooDeep):
        JsonScanner(2, sniff=True).feed(b"  \n [[[", final=True)
