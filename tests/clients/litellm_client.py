"""Run by tests/clients/test_litellm_proxy.py with the Python of the LiteLLM client venv
(it imports `openai` and `litellm`, which ProdLens's own environment does not have).

    python litellm_client.py calls    < calls.json   # OpenAI-client calls to a proxy
    python litellm_client.py snippet  < code.py      # run a docs snippet as written
    python litellm_client.py sdk      < code.py      # a docs SDK snippet, models mocked
    python litellm_client.py sdk-sync                # a sync and an async SDK call

Every chat call made with the OpenAI client is recorded, one JSON line per call in
the file named by PRODLENS_TEST_RECORD: the user, the model, whether it streamed,
the usage the client got back (or the HTTP status of a failure), and the time the
client waited, so the test can hold ProdLens's figures against the client's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

MOCK_ANSWER = "COMPLETION-SECRET from the SDK mock"


def _record(entry: dict[str, Any]) -> None:
    with open(os.environ["PRODLENS_TEST_RECORD"], "a", encoding="utf-8") as record:
        record.write(json.dumps(entry) + "\n")


def _record_openai_calls() -> None:
    from openai import APIStatusError
    from openai.resources.chat.completions import Completions

    create = Completions.create

    def recording_create(self: Completions, *args: Any, **kwargs: Any) -> Any:
        entry: dict[str, Any] = {
            "user": kwargs.get("user"),
            "model": kwargs.get("model"),
            "stream": bool(kwargs.get("stream")),
        }
        started = time.monotonic()
        try:
            result = create(self, *args, **kwargs)
            if entry["stream"]:  # read to the end: the usage comes in the last chunk
                usage = None
                for chunk in result:
                    usage = chunk.usage or usage
                result = None
            else:
                usage = result.usage
        except APIStatusError as exc:
            entry.update(ok=False, status_code=exc.status_code)
            raise
        else:
            entry.update(ok=True, usage=None if usage is None else usage.model_dump())
        finally:
            entry["elapsed_ms"] = (time.monotonic() - started) * 1000
            _record(entry)
        return result

    Completions.create = recording_create


def _calls(spec: dict[str, Any]) -> None:
    from openai import APIStatusError, OpenAI

    for call in spec["calls"]:
        client = OpenAI(base_url=spec["base_url"], api_key=call["api_key"], max_retries=0)
        extra: dict[str, Any] = {"user": call["user"]} if call.get("user") else {}
        if call.get("metadata"):
            extra["extra_body"] = {"metadata": call["metadata"]}
        if call.get("stream"):
            extra.update(stream=True, stream_options={"include_usage": True})
        with contextlib.suppress(APIStatusError):  # recorded; some calls are meant to fail
            client.chat.completions.create(
                model=call["model"],
                messages=[{"role": "user", "content": call["prompt"]}],
                **extra,
            )


def _run(code: str) -> None:
    exec(compile(code, "<docs snippet>", "exec"), {"__name__": "__main__"})  # noqa: S102


def _mock_models() -> None:
    """No provider is reachable from a test: LiteLLM answers from its mock."""
    import litellm

    acompletion = litellm.acompletion

    async def mocked(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("mock_response", MOCK_ANSWER)
        return await acompletion(*args, **kwargs)

    litellm.acompletion = mocked


def _sdk_sync() -> None:
    """A synchronous `completion` (the docs say it is not sent) and an async one, both
    with the logger registered in a running loop, then both flushes."""
    import litellm
    from litellm.integrations.generic_api.generic_api_callback import GenericAPILogger
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    async def main() -> None:
        logger = GenericAPILogger(
            endpoint=os.environ["PRODLENS_TEST_ENDPOINT"],
            headers={"X-API-Key": os.environ["PRODLENS_TEST_KEY"]},
        )
        litellm.callbacks = [logger]
        messages = [{"role": "user", "content": "PROMPT-SECRET sync"}]
        await asyncio.to_thread(
            litellm.completion,
            model="gpt-4o",
            messages=messages,
            user="sync-caller",
            mock_response=MOCK_ANSWER,
        )
        await litellm.acompletion(
            model="gpt-4o", messages=messages, user="async-caller", mock_response=MOCK_ANSWER
        )
        await asyncio.sleep(0)  # the docs' flush: see the SDK snippet
        await GLOBAL_LOGGING_WORKER.flush()
        await logger.flush_queue()

    asyncio.run(main())


def main() -> None:
    mode = sys.argv[1]
    if mode == "calls":
        _record_openai_calls()
        _calls(json.load(sys.stdin))
    elif mode == "snippet":
        _record_openai_calls()
        _run(sys.stdin.read())
    elif mode == "sdk":
        _mock_models()
        _run(sys.stdin.read())
    elif mode == "sdk-sync":
        _sdk_sync()
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
