"""A shell command that replays one batch request synchronously, to try it out of the batch."""

from __future__ import annotations

import shlex
from urllib.parse import quote

import orjson

from batchtui.core.errors import BatchtuiError
from batchtui.core.results.records import endpoint_path


class NotARequestError(BatchtuiError):
    """The line cannot be turned into a request to send."""


def curl_command(request_line: bytes, base_url: str, *, azure_api_version: str | None = None) -> str:
    """`curl` for the line's url under `base_url` (joined as the SDK does: base_url holds the /v1), with
    the body and the key left as `$OPENAI_API_KEY` for the shell, so no secret lands in a clipboard.

    With `azure_api_version`, base_url is an Azure resource's endpoint and the request goes where the
    AzureOpenAI client sends it: the deployment named by the body's model, with the key in an api-key header."""
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
    path = endpoint_path(data["url"]).removeprefix("/v1")
    key_header = '"Authorization: Bearer $OPENAI_API_KEY"'
    if azure_api_version is None:
        url = base_url.rstrip("/") + path
    else:
        deployment = data["body"].get("model")
        if not isinstance(deployment, str) or not deployment:
            raise NotARequestError('This request\'s body has no "model" to name the Azure deployment.')
        url = (f"{base_url.rstrip('/')}/openai/deployments/{quote(deployment, safe='')}{path}"
               f"?api-version={quote(azure_api_version, safe='')}")
        key_header = '"api-key: $AZURE_OPENAI_API_KEY"'
    return (
        f"curl -sS {shlex.quote(url)}"
        f" -H {key_header}"
        " -H 'Content-Type: application/json'"
        f" -d {shlex.quote(body)}"
    )
