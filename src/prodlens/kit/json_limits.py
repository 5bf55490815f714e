"""What `json.loads` does not limit: nesting depth, and text storage cannot hold.

`json.loads` recurses once per nesting level and raises `RecursionError` (a 500)
near Python's recursion limit; deep values that do parse go on to recurse in
validation and mapping. `JsonScanner` measures the depth of a body from its bytes,
as they arrive, before anything parses it, and stops at `max_depth`. It also notes
string escapes that decode to text no database column can store: NUL (`\\u0000`,
which PostgreSQL's text and jsonb refuse) and half a surrogate pair (`\\ud800`, no
character at all, which cannot be encoded as UTF-8).

How, at the speed of a few passes of `bytes` methods (a 10 MB batch of events in
~10 ms, a tenth of parsing it): escaped backslashes and escaped quotes are blanked, so
every quote left delimits a string; everything but quotes and brackets is
dropped; what lies between an odd and an even quote is inside a string. The depth
is that of the brackets outside strings. Exact for a JSON document (a parser stops
at the first bracket too many, so nothing after it counts); readers that parse
NDJSON line by line check each line (`loads`). Bodies in UTF-16 or UTF-32, which
`json.loads` detects and accepts, are decoded before they are scanned.
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from prodlens.kit.errors import JsonTooDeep

# `http.max_json_depth`'s default, for JSON read outside a request (files on the CLI).
DEFAULT_MAX_DEPTH = 64
UNSTORABLE = "holds NUL or half a surrogate pair, which cannot be stored"

_HEX = rb"[0-9a-fA-F]"
_HIGH = rb"\\u[dD][89abAB]" + _HEX + rb"{2}"
_LOW = rb"\\u[dD][c-fC-F]" + _HEX + rb"{2}"
# Once escaped backslashes are blanked, every backslash starts an escape: a high half
# without a low one after it, a low half without a high one before it.
_HALF_PAIR_ESCAPE = re.compile(
    rb"\\u(?:[dD][89abAB]" + _HEX + rb"{2}(?!" + _LOW + rb")"
    rb"|(?<!" + _HIGH + rb"\\u)[dD][c-fC-F]" + _HEX + rb"{2})"
)
_NUL_ESCAPE = b"\\u0000"
_ENDS_WITH_HIGH = re.compile(_HIGH + rb"\Z")
_BLANK = b"\x01"  # stands for a removed escape: a control character, so not JSON
_NOT_QUOTES_OR_BRACKETS = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_SQUARE = bytes.maketrans(b"{}", b"[]")
_STEPS = bytes.maketrans(b"[]", b"\x01\xff")  # signed bytes: +1, -1
# The longest escape, a surrogate pair, is 12 bytes; one cut by a chunk's end waits.
_LONGEST_ESCAPE = 12
# Innermost pairs removed before the walk (each pass lowers the deepest point by at
# most one): most bodies shrink to nothing in a few passes.
_PASSES = 8
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_WHITESPACE = b" \t\n\r"


def _peak(brackets: bytes) -> int:
    """The highest level a walk over `[` and `]` (up, down) reaches above its start."""
    return max(accumulate(array("b", brackets.translate(_STEPS)), initial=0))


class JsonScanner:
    """Feed a body's chunks in order (`final` with the last); raises `JsonTooDeep` as
    soon as the nesting passes `max_depth`. `nul` and `half_pair` tell whether a string
    holds an escape of NUL, of half a surrogate pair (`unstorable`: either).

    With `sniff`, a body is scanned only when its first character opens an array or
    an object: others are no JSON that can nest (protobuf sent without a content
    type, a JSON scalar)."""

    def __init__(self, max_depth: int, *, sniff: bool = False) -> None:
        self.max_depth = max_depth
        self.nul = False
        self.half_pair = False
        self._sniff = sniff
        self._off = False
        self._depth = 0
        self._in_string = False
        self._carry = b""
        self._head = b""  # until the encoding is known (4 bytes)
        self._encoding_known = False
        self._decoder: codecs.IncrementalDecoder | None = None

    @property
    def unstorable(self) -> bool:
        return self.nul or self.half_pair

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if self._off:
            return
        if not self._encoding_known:
            chunk = self._head + chunk
            if len(chunk) < 4 and not final:
                self._head = chunk
                return
            self._head, self._encoding_known = b"", True
            encoding = json.detect_encoding(chunk)
            if encoding == "utf-8-sig":
                chunk = chunk[len(codecs.BOM_UTF8) :]
            elif encoding != "utf-8":
                self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        if self._decoder is not None:
            chunk = self._decoder.decode(chunk, final).encode("utf-8", "surrogatepass")
        self._scan(chunk, final)

    def feed_text(self, text: str) -> None:
        """A whole document that is text already."""
        self._encoding_known = True
        if _SURROGATE.search(text):  # as a character, not an escape
            self.half_pair = True
        self._scan(text.encode("utf-8", "surrogatepass"), True)

    def _scan(self, chunk: bytes, final: bool) -> None:
        data = self._carry + chunk
        self._carry = b""
        if self._sniff:
            body = data.lstrip(_JSON_WHITESPACE)
            if not body:
                return
            self._sniff = False
            if body[:1] not in (b"[", b"{"):
                self._off = True
                return
        if b"\\" in data:
            data = self._without_escapes(data, final)
        structure = data.translate(None, _NOT_QUOTES_OR_BRACKETS)
        if self._in_string:
            structure = b'"' + structure
        # Dropping pairs of adjacent quotes keeps the parity of the quotes before each
        # bracket, and so which brackets are inside strings.
        structure = structure.replace(b'""', b"")
        quotes = structure.count(b'"')
        if quotes:
            structure = b"".join(structure.split(b'"')[0::2])
        self._in_string = quotes % 2 == 1
        if structure:
            self._count(structure)

    def _without_escapes(self, data: bytes, final: bool) -> bytes:
        """`data` with escaped backslashes and quotes blanked; an escape the chunk's end
        may cut waits for the next chunk; notes unstorable escapes."""
        data = data.replace(b"\\\\", _BLANK)
        last = data.rfind(b"\\", max(len(data) - _LONGEST_ESCAPE, 0))
        if last >= 0 and not final:
            # With the high half of a pair before it, the pair waits whole.
            if last >= 6 and _ENDS_WITH_HIGH.match(data, last - 6, last):
                last -= 6
            self._carry, data = data[last:], data[:last]
        self.nul = self.nul or _NUL_ESCAPE in data
        self.half_pair = self.half_pair or _HALF_PAIR_ESCAPE.search(data) is not None
        return data.replace(b'\\"', _BLANK)

    def _count(self, brackets: bytes) -> None:
        square = brackets.translate(_SQUARE)
        reduced, passes = square, 0
        while passes < _PASSES:
            shorter = reduced.replace(b"[]", b"")
            if len(shorter) == len(reduced):
                break
            reduced, passes = shorter, passes + 1
        # An upper bound first; the exact walk only when the bound is too high.
        bound = self._depth + passes + _peak(reduced)
        if bound > self.max_depth and self._depth + _peak(square) > self.max_depth:
            raise JsonTooDeep(
                f"JSON may nest arrays and objects at most {self.max_depth} levels deep."
            )
        # Below zero is no JSON: its parser stops there. Carry no debt to hide depth.
        self._depth = max(self._depth + reduced.count(b"[") - reduced.count(b"]"), 0)


def check_depth(data: bytes | str, max_depth: int) -> JsonScanner:
    """Scan a whole document; raises `JsonTooDeep`. The scanner tells `unstorable`."""
    scanner = JsonScanner(max_depth)
    if isinstance(data, str):
        scanner.feed_text(data)
    else:
        scanner.feed(data, final=True)
    return scanner


def loads(data: bytes | str, *, max_depth: int) -> Any:
    """`json.loads`, refusing (`JsonTooDeep`) before parsing what nests deeper than
    `max_depth`."""
    check_depth(data, max_depth)
    return json.loads(data)


def storable(text: str) -> bool:
    """False for text holding NUL or a lone surrogate (no database stores them)."""
    return "\x00" not in text and (text.isascii() or _SURROGATE.search(text) is None)


def sendable(text: str) -> str:
    """`text` with each half surrogate pair replaced (U+FFFD): what a reason that
    quotes the input needs to be encoded in an answer at all."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def unstorable_text(value: Any, where: str = "") -> str | None:
    """Where in `value` (dicts, lists and tuples, walked; keys too) the first text is
    that cannot be stored (`attributes.note`; `value` for a bare string); else None.
    A loop, not recursion: values may nest as deep as the JSON depth limit allows."""
    pending: list[tuple[Any, str]] = [(value, where)]
    while pending:
        item, at = pending.pop()
        if isinstance(item, str):
            if not storable(item):
                return at or "value"
        elif isinstance(item, Mapping):
            inner: list[tuple[Any, str]] = []
            for key, element in item.items():
                if isinstance(key, str) and not storable(key):
                    return f"a key of {at}" if at else "a key"
                inner.append((element, f"{at}.{key}" if at else str(key)))
            pending.extend(reversed(inner))  # first things first
        elif isinstance(item, list | tuple):
            pending.extend(
                (element, f"{at}[{index}]") for index, element in reversed(list(enumerate(item)))
            )
    return None
