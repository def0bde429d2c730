"""The synchronous model endpoints (chat completions, responses, embeddings, completions, moderations),
answered by the fake model, so a request copied out of a batch replays against the sandbox and any
OpenAI client can use it as an ordinary server.

The body is what a batch line's response.body would be for the same request (its content hashed from
the request body, as a line's is from the line); errors come with their HTTP status in OpenAI's shape.
`fail_rate` applies per request, as it does per attempt in a batch.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from .errors import ApiError, missing_param
from .fake_model import answer, digest_of
from .params import json_object
from .runtime import SandboxRuntime

ROUTES = {
    "/v1/chat/completions": ("chat.completions.create", ("model", "messages")),
    "/v1/responses": ("responses.create", ("model",)),
    "/v1/embeddings": ("embeddings.create", ("model", "input")),
    "/v1/completions": ("completions.create", ("model", "prompt")),
    "/v1/moderations": ("moderations.create", ("input",)),
}
STREAMING_MESSAGE = "Streaming is not supported by the sandbox. Send the request without 'stream'."


def add_direct_routes(app: FastAPI, rt: SandboxRuntime) -> None:
    """Register POST for each synchronous endpoint; the gateway in front counts and faults them as any /v1 route."""
    for path, (name, required) in ROUTES.items():
        app.add_api_route(path, _endpoint(rt, path, required), methods=["POST"], name=name)


def _endpoint(rt: SandboxRuntime, path: str, required: tuple[str, ...]) -> Any:
    async def create(request: Request) -> Response:
        raw = await request.body()
        body = _request_body(raw, required)
        model = body.get("model")
        if model is not None and not (isinstance(model, str) and rt.engine.catalogue.knows(model)):
            raise ApiError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        request_id = secrets.token_bytes(16)
        ans = answer(path, body, digest_of(raw), int(time.time()), rt.config.fail_rate, request_id)
        return Response(orjson.dumps(ans.body), status_code=ans.status_code, media_type="application/json")

    return create


def _request_body(raw: bytes, required: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object sent, with the parameters the endpoint needs; streaming is refused."""
    body = json_object(raw)
    for param in required:
        if body.get(param) is None:
            raise missing_param(param)
    if body.get("stream"):
        raise ApiError(400, STREAMING_MESSAGE, param="stream", code="unsupported_value")
    return body
