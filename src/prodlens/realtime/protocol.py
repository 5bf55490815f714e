"""The WebSocket protocol: message shapes, error codes and close codes (docs/realtime.md).

Every message is a JSON object with `type` and `v` (the protocol version). Messages
on a project channel also carry `channel`, `seq` (per channel, from 1, without gaps
as long as the socket stays open) and `data`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from prodlens.kit import json_limits
from prodlens.kit.errors import JsonTooDeep

VERSION = 1


class CloseCode(IntEnum):
    """Why the server closed a socket. 1001 is the standard "going away"."""

    SHUTTING_DOWN = 1001
    PROTOCOL_ERROR = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    IDLE = 4408
    SESSION_REVOKED = 4409
    MESSAGE_TOO_BIG = 4413
    TOO_MANY = 4429
    TOO_SLOW = 4430

    @property
    def reason(self) -> str:
        return _REASONS[self]


_REASONS = {
    CloseCode.SHUTTING_DOWN: "server shutting down",
    CloseCode.PROTOCOL_ERROR: "protocol error",
    CloseCode.UNAUTHENTICATED: "unauthenticated",
    CloseCode.FORBIDDEN: "forbidden",
    CloseCode.IDLE: "idle",
    CloseCode.SESSION_REVOKED: "session revoked",
    CloseCode.MESSAGE_TOO_BIG: "message too big",
    CloseCode.TOO_MANY: "too many connections or messages",
    CloseCode.TOO_SLOW: "too slow",
}

# The client message types; anything else is answered with `realtime.unknown_type`.
CLIENT_TYPES = frozenset({"auth", "subscribe", "unsubscribe", "ping", "pong"})
# Channel message types, sent to every subscriber of a project.
CHANNEL_TYPES = frozenset({"kpis", "session", "events"})


def project_channel(project_id: str) -> str:
    return f"project:{project_id}"


class BadMessage(Exception):
    """A client message that cannot be acted on; answered with an `error` message."""

    def __init__(self, code: str, detail: str, ref: str | int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref


@dataclass(frozen=True)
class ClientMessage:
    type: str
    ref: str | int | None  # echoed in the answer, so a client can match it
    body: dict[str, Any]

    def text_field(self, name: str, *, max_length: int = 200) -> str:
        value = self.body.get(name)
        if not isinstance(value, str) or not value or len(value) > max_length:
            raise BadMessage(
                "realtime.invalid_message",
                f"`{name}` must be a non-empty string of at most {max_length} characters.",
                self.ref,
            )
        if not json_limits.storable(value):
            raise BadMessage(
                "realtime.invalid_message", f"`{name}` {json_limits.UNSTORABLE}.", self.ref
            )
        return value


def parse_client_message(text: str) -> ClientMessage:
    try:
        # Client messages are flat; the HTTP default depth is generous for them, and
        # what nests deeper is refused before `json.loads` could recurse out of stack.
        body = json_limits.loads(text, max_depth=json_limits.DEFAULT_MAX_DEPTH)
    except JsonTooDeep as deep:
        raise BadMessage("realtime.invalid_json", deep.detail or deep.title) from None
    except ValueError:
        raise BadMessage("realtime.invalid_json", "Messages must be JSON objects.") from None
    if not isinstance(body, dict):
        raise BadMessage("realtime.invalid_json", "Messages must be JSON objects.")
    ref = body.get("ref")
    if not isinstance(ref, (str, int)) or isinstance(ref, bool) or len(str(ref)) > 100:
        ref = None
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        known = ", ".join(sorted(CLIENT_TYPES))
        raise BadMessage("realtime.unknown_type", f"`type` must be one of: {known}.", ref)
    return ClientMessage(kind, ref, body)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


def reply(kind: str, ref: str | int | None = None, **fields: Any) -> str:
    message: dict[str, Any] = {"type": kind, "v": VERSION, **fields}
    if ref is not None:
        message["ref"] = ref
    return encode(message)


def error(code: str, detail: str, ref: str | int | None = None) -> str:
    return reply("error", ref, code=code, detail=detail)


def bye(code: CloseCode, detail: str | None = None) -> str:
    return reply("bye", code=int(code), reason=code.reason, detail=detail or code.reason)


def channel_message(kind: str, channel: str, seq: int, data: dict[str, Any], sent: float) -> str:
    """`sent` is the publisher's wall-clock time (seconds), for latency measurements."""
    return encode(
        {"type": kind, "v": VERSION, "channel": channel, "seq": seq, "sent": sent, "data": data}
    )
