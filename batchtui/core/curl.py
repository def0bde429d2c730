"""A shell command that replays one batch request synchronously, to try it out of the batch."""

from __future__ import annotations

import shlex

import orjson

from batchtui.core.errors import BatchtuiError
from batchtui.core.records import endpoint_path


class NotARequestError(BatchtuiError):
    """The line cannot be turned into a request to send."""


def curl_command(request_line: bytes, base_url: str) -> str:
    """`curl` for the line's url under `base_url` (joined as the SDK does: base_url holds the /v1), with
    the body and the key left as `$OPENAI_API_KEY` for the shell, so no secret lands in a clipboard."""
    try:
        data = orjson.loads(request_line)
    except orjson.JSONDecodeError:
        raise NotARequestError("This line is not valid JSON, so it cannot be sent as a request.") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or not data["url"].strip():
        raise NotARequestError('This line has no "url" to send the request to.')
    if not isinstance(data.get("body"), dict):
        raise NotARequestError('This line has no "body" object to send.')
    try:
        body = orjson.dumps(data["body"]).decode()
    except orjson.JSONEncodeError:
        raise NotARequestError("This request's body is nested too deeply to send with curl.") from None
    url = base_url.rstrip("/") + endpoint_path(data["url"]).removeprefix("/v1")
    return (
        f"curl -sS {shlex.quote(url)}"
        ' -H "Authorization: Bearer $OPENAI_API_KEY"'
        " -H 'Content-Type: application/json'"
        f" -d {shlex.quote(body)}"
    )
