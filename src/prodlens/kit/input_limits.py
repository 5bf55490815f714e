"""The input rules every request passes, in one middleware (docs/api.md, "Input limits").

- NUL in the path or the query of an API request → 422 `validation.failed` before
  routing: no route can look such a value up (PostgreSQL refuses it in text).
- A body that opens with `[` or `{` is scanned as JSON as it is read, whatever its
  content type (`kit.json_limits`): nesting deeper than `http.max_json_depth` → 400
  `request.too_deep` before anything parses it; a string escape of NUL or half a
  surrogate pair → 422 `validation.failed`. Form bodies: NUL → 422.

Ingest routes answer per item: there a bad string rejects its item alone (the
ingest code checks); the GitHub webhook drops NUL. The middleware leaves that text
to them (`PER_ITEM`, `NUL_DROPPED`), and still bounds their depth. Compressed bodies (and
protobuf) open with neither bracket; the decoders that inflate them scan what comes
out.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodlens.kit.errors import UnstorableText, correlation_id_of, problem_response
from prodlens.kit.json_limits import JsonScanner

# Routes with a rule of their own for such text. Ingest rejects the item that holds it
# (batches, OTLP, reports). The GitHub webhook drops NUL from what it stores rather
# than have GitHub retry a delivery forever; half a surrogate pair it cannot drop.
PER_ITEM = "/ingest/"
NUL_DROPPED = ("/integrations/github/webhook",)
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def unstorable_target(scope: Scope) -> str | None:
    """The field (`path`, `query.<name>`) of a request's target that holds NUL."""
    if "\x00" in scope["path"]:
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return "query." + name.replace("\x00", "\\u0000")
    return None


class _FormScan:
    """NUL in a form body, raw or percent-encoded (a chunk may cut `%00`). Percent
    decoding replaces what is not UTF-8, so no half surrogate pair comes of it."""

    half_pair = False

    def __init__(self) -> None:
        self.nul = False
        self._tail = b""

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        data = self._tail + chunk
        if b"\x00" in data or b"%00" in data:
            self.nul = True
        self._tail = data[-2:]


class InputLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_json_depth: int, api_prefix: str = "/api/") -> None:
        self.app = app
        self.max_json_depth = max_json_depth
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self.api_prefix) and (field := unstorable_target(scope)):
            problem = UnstorableText.at(field)
            response = problem_response(
                problem,
                instance=path,
                correlation_id=correlation_id_of(scope),
                detail=problem.detail,
            )
            await response(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type", "")
        scanner: JsonScanner | _FormScan
        if content_type.split(";")[0].strip().lower() in _FORMS:
            scanner = _FormScan()
        else:
            # Whatever the headers say: some routes read any body as JSON (LiteLLM sends
            # no content type, or a wrong one), and FastAPI ignores Content-Encoding.
            scanner = JsonScanner(self.max_json_depth, sniff=True)
        per_item = PER_ITEM in path
        nul_left = per_item or path.endswith(NUL_DROPPED)

        async def receive_scanned() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                scanner.feed(message.get("body", b""), final=not message.get("more_body"))
                if (scanner.nul and not nul_left) or (scanner.half_pair and not per_item):
                    raise UnstorableText.at("body")
            return message

        await self.app(scope, receive_scanned, send)
