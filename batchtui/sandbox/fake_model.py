"""A deterministic stand-in for OpenAI's models: one request line in, one response body out.

An answer's content is derived from a hash of the raw request line (custom_id + body), so the same
file always yields the same answers. Whether an attempt fails at random (`fail_rate`) is drawn from
a second hash, of the attempt (custom_id + batch), so a retried request fails again only at that
rate. A request OpenAI would refuse (temperature 5, a prompt past the model's context) fails with
OpenAI's error whatever the rate. Bodies follow the SDK types (ChatCompletion, Response,
CreateEmbeddingResponse, Completion, ModerationCreateResponse, ImagesResponse, Video).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
from array import array
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import ApiError

SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-3.5-turbo-instruct": "gpt-3.5-turbo-instruct",
    "omni-moderation-latest": "omni-moderation-2024-09-26",
}
EMBEDDING_DIMS = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536, "text-embedding-ada-002": 1536}
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)  # fmt: skip
TEXT_AND_IMAGE = {"self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "violence", "violence/graphic"}
TRIGGERS = {
    "harassment": ("idiot", "stupid", "loser", "shut up"),
    "violence": ("kill", "hurt", "attack", "punch"),
    "hate": ("hate",),
    "illicit": ("steal", "hack into", "counterfeit"),
}
ONE_PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

OPENERS = (
    'On "{echo}": here is a concise answer.',
    'You asked about "{echo}".',
    'Regarding "{echo}", the short answer is yes, with some caveats.',
    'Considering "{echo}", a few points stand out.',
    'About "{echo}": it depends on the context, but broadly it holds.',
    'Good question. "{echo}" touches on a common issue.',
)
ELABORATIONS = (
    "The main theme is {kw}, which comes up repeatedly in the input.",
    "The strongest signal here is the mention of {kw}.",
    "It is worth noting how {kw} relates to the rest of the request.",
    "A reasonable reading is that {kw} matters most to the author.",
    "Taken together, the details point toward {kw} as the central issue.",
    "If more context about {kw} were available, the answer could be more specific.",
    "The wording around {kw} suggests a practical rather than a theoretical concern.",
    "Nothing in the text contradicts this interpretation of {kw}.",
    "One caveat: {kw} can mean different things in different settings.",
    "The evidence for this is moderate, mostly resting on {kw}.",
)
SENTIMENTS = ("positive", "negative", "neutral", "mixed", "positive", "negative")
TOPICS = ("billing", "shipping", "product quality", "customer service", "usability", "pricing", "other")
CONTEXT_WINDOWS = (
    ("gpt-4.1", 1_047_576), ("gpt-5", 400_000), ("o1", 200_000), ("o3", 200_000), ("o4", 200_000),
    ("gpt-3.5-turbo-instruct", 4_096), ("text-embedding", 8_192),
)  # fmt: skip
DEFAULT_CONTEXT_WINDOW = 128_000
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
SAFETY_REJECTION = (
    "Your request was rejected as a result of our safety system. Your prompt may contain text "
    "that is not allowed by our safety system."
)
PROMPTED = {"/v1/chat/completions", "/v1/responses", "/v1/completions", "/v1/images/generations",
            "/v1/images/edits", "/v1/videos"}  # fmt: skip

_POOL_SIZE = 16384
_rng = random.Random(20240415)
_GAUSS_POOL = [_rng.gauss(0.0, 1.0) for _ in range(_POOL_SIZE + 4096)]


@dataclass(slots=True)
class Answer:
    """A simulated response to one request line, with the token usage it adds to the batch."""

    status_code: int
    body: dict[str, Any]
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


def digest_of(raw_line: bytes) -> bytes:
    return hashlib.blake2b(raw_line, digest_size=24).digest()


def unit(digest: bytes, i: int) -> float:
    """A number in [0, 1) from 4 bytes of the digest, so each decision has its own draw."""
    return int.from_bytes(digest[i : i + 4], "little") / 4294967296.0


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text.split()) * 1.3))


def attempt_seed(batch_id: str, custom_id: str) -> bytes:
    """The hash of one attempt at a request: the same within a batch (a resumed batch writes the same
    lines), another one in a retry batch. Draws the random failure and names the request_id."""
    return hashlib.blake2b(custom_id.encode(), key=batch_id.encode()[:64], person=b"attempt", digest_size=16).digest()


def answer(
    endpoint: str, body: dict[str, Any], digest: bytes, created: int, fail_rate: float, attempt: bytes | None = None
) -> Answer:
    """Simulate the endpoint for one request body. A request OpenAI would refuse gets its 400; of the
    others, a `fail_rate` share of attempts fail as OpenAI's do now and then, drawn from `attempt`
    (see attempt_seed), or from the request's own digest when it is answered once, outside a batch."""
    try:
        _check_params(endpoint, body)
        result = HANDLERS.get(endpoint, _images)(body, digest, created)
    except ApiError as exc:
        return Answer(exc.status, exc.body())
    draw = digest if attempt is None else attempt
    if fail_rate and unit(draw, 0) < fail_rate:
        return _failure(endpoint, draw)
    return result


def _failure(endpoint: str, attempt: bytes) -> Answer:
    """A failure a valid request meets at random: a 500, or for a prompt a safety-system 400."""
    if endpoint in PROMPTED and attempt[4] % 3 == 0:
        err = ApiError(400, SAFETY_REJECTION, code="content_policy_violation")
    else:
        err = ApiError(500, SERVER_ERROR, type="server_error")
    return Answer(err.status, err.body())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_params(endpoint: str, body: dict[str, Any]) -> None:
    """Refuse sampling parameters out of range, or not taken by a reasoning model, as OpenAI does."""
    if endpoint not in ("/v1/chat/completions", "/v1/responses", "/v1/completions"):
        return
    for param, high in (("temperature", 2), ("top_p", 1)):
        value = body.get(param)
        if not _is_number(value):
            continue
        if value > high:
            raise ApiError(
                400,
                f"Invalid '{param}': decimal above maximum value. Expected a value <= {high}, but got {value} instead.",
                param=param,
                code="decimal_above_max_value",
            )
        if value < 0:
            raise ApiError(
                400,
                f"Invalid '{param}': decimal below minimum value. Expected a value >= 0, but got {value} instead.",
                param=param,
                code="decimal_below_min_value",
            )
    temperature = body.get("temperature")
    if not (_is_number(temperature) and temperature != 1 and str(body.get("model", "")).startswith(REASONING_PREFIXES)):
        return
    if endpoint == "/v1/responses":
        raise ApiError(
            400,
            "Unsupported parameter: 'temperature' is not supported with this model.",
            param="temperature",
            code="unsupported_parameter",
        )
    raise ApiError(
        400,
        f"Unsupported value: 'temperature' does not support {temperature} with this model. "
        "Only the default (1) value is supported.",
        param="temperature",
        code="unsupported_value",
    )


def context_window(model: str) -> int:
    """The model's context in tokens (as count_tokens counts them), for OpenAI's context-length errors."""
    for prefix, window in CONTEXT_WINDOWS:
        if model.startswith(prefix):
            return window
    return DEFAULT_CONTEXT_WINDOW


def _too_long(window: int, prompt_tokens: int, completion_tokens: int) -> str:
    """The legacy endpoints' (completions, embeddings) context-length message."""
    return (
        f"This model's maximum context length is {window} tokens, however you requested "
        f"{prompt_tokens + completion_tokens} tokens ({prompt_tokens} in your prompt; {completion_tokens} for the "
        "completion). Please reduce your prompt; or completion length."
    )


def _hex(digest: bytes, start: int, n: int) -> str:
    return digest[start : start + n].hex()


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                value = part.get("text")
                if isinstance(value, str):
                    parts.append(value)
                elif "content" in part:
                    parts.append(_text_of(part["content"]))
        return " ".join(parts)
    return ""


def _compose(prompt: str, system: str, digest: bytes, want_json: bool) -> str:
    """Answer-like text that echoes a phrase of the prompt and fits the task it seems to ask."""
    words = prompt.split()
    keywords = sorted({w.strip(".,;:!?\"'()[]").lower() for w in words if len(w) > 5}, key=len, reverse=True)
    kw = keywords[digest[9] % len(keywords)] if keywords else "the request"
    task = (system + " " + prompt[:400]).lower()
    if want_json:
        label = SENTIMENTS[digest[10] % len(SENTIMENTS)]
        confidence = round(0.55 + unit(digest, 11) * 0.44, 2)
        return orjson.dumps({"label": label, "confidence": confidence, "topic": kw}).decode()
    if "sentiment" in task:
        label = SENTIMENTS[digest[10] % len(SENTIMENTS)]
        return f"{label.capitalize()}. The review's comments on {kw} read as {label} overall."
    if "classif" in task or "categor" in task or "label" in task:
        topic = TOPICS[digest[10] % len(TOPICS)]
        return f"Category: {topic}. The message mainly concerns {kw}."
    echo = " ".join(words[: 6 + digest[12] % 8]).strip(" \"'")
    if "summar" in task or "tl;dr" in task:
        head = f"Summary: {echo}"
    elif "translat" in task:
        head = f"Translation: {echo}"
    else:
        head = OPENERS[digest[13] % len(OPENERS)].format(echo=echo)
    extra = [ELABORATIONS[(digest[14] + i * 3) % len(ELABORATIONS)].format(kw=kw) for i in range(1 + digest[15] % 4)]
    return head + " " + " ".join(extra)


def _truncate(text: str, limit: int | None) -> tuple[str, bool]:
    if not isinstance(limit, int) or limit <= 0 or count_tokens(text) <= limit:
        return text, False
    words = text.split()
    return " ".join(words[: max(1, int(limit / 1.3))]), True


def _reasoning(model: str, digest: bytes) -> int:
    return 64 * (1 + digest[16] % 12) if model.startswith(REASONING_PREFIXES) else 0


def _cached(prompt_tokens: int, digest: bytes) -> int:
    if prompt_tokens < 1024 or digest[17] % 3:
        return 0
    return 1024 + (prompt_tokens - 1024) // 128 * 128


def _chat(body: dict[str, Any], digest: bytes, created: int) -> Answer:
    model = str(body.get("model", ""))
    messages = body.get("messages") or []
    prompt, system, prompt_tokens = "", "", 3
    for msg in messages if isinstance(messages, list) else []:
        if not isinstance(msg, dict):
            continue
        text = _text_of(msg.get("content"))
        prompt_tokens += count_tokens(text) + 4
        if msg.get("role") in ("system", "developer"):
            system = text
        elif msg.get("role") == "user":
            prompt = text
    window = context_window(model)
    if prompt_tokens > window:
        raise ApiError(
            400,
            f"This model's maximum context length is {window} tokens. However, your messages resulted in "
            f"{prompt_tokens} tokens. Please reduce the length of the messages.",
            param="messages",
            code="context_length_exceeded",
        )
    fmt = body.get("response_format")
    want_json = isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    n = body.get("n") if isinstance(body.get("n"), int) and 1 <= body.get("n") <= 8 else 1
    choices, completion_tokens = [], 0
    for i in range(n):
        d = digest if i == 0 else digest_of(digest + bytes([i]))
        text, cut = _truncate(_compose(prompt, system, d, want_json), limit)
        completion_tokens += count_tokens(text)
        message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": "length" if cut else "stop"})
    reasoning = _reasoning(model, digest)
    completion_tokens += reasoning
    cached = _cached(prompt_tokens, digest)
    return Answer(
        200,
        {
            "id": "chatcmpl-" + base64.b32encode(digest[:18]).decode().rstrip("=")[:29],
            "object": "chat.completion",
            "created": created,
            "model": SNAPSHOTS.get(model, model),
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": reasoning,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_" + _hex(digest, 18, 5),
        },
        prompt_tokens,
        cached,
        completion_tokens,
        reasoning,
    )


def _responses(body: dict[str, Any], digest: bytes, created: int) -> Answer:
    model = str(body.get("model", ""))
    raw_input = body.get("input")
    instructions = body.get("instructions") if isinstance(body.get("instructions"), str) else ""
    if isinstance(raw_input, list):
        prompt = " ".join(
            _text_of(item.get("content")) if isinstance(item, dict) else _text_of(item) for item in raw_input
        )
    else:
        prompt = _text_of(raw_input)
    text_cfg = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}
    want_json = isinstance(text_cfg.get("format"), dict) and text_cfg["format"].get("type") in (
        "json_object",
        "json_schema",
    )
    limit = body.get("max_output_tokens")
    text, cut = _truncate(_compose(prompt, instructions, digest, want_json), limit)
    input_tokens = count_tokens(prompt) + count_tokens(instructions) + 7
    if input_tokens > context_window(model):
        raise ApiError(
            400,
            "Your input exceeds the context window of this model. Please adjust your input and try again.",
            param="input",
            code="context_length_exceeded",
        )
    reasoning = _reasoning(model, digest)
    output_tokens = count_tokens(text) + reasoning
    cached = _cached(input_tokens, digest)
    output: list[dict[str, Any]] = []
    if reasoning:
        output.append({"id": "rs_" + _hex(digest, 0, 24), "type": "reasoning", "summary": []})
    output.append(
        {
            "id": "msg_" + _hex(digest, 1, 23),
            "type": "message",
            "status": "incomplete" if cut else "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        }
    )
    return Answer(
        200,
        {
            "id": "resp_" + _hex(digest, 0, 24),
            "object": "response",
            "created_at": created,
            "status": "incomplete" if cut else "completed",
            "background": False,
            "completed_at": created,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": limit if isinstance(limit, int) else None,
            "model": SNAPSHOTS.get(model, model),
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": "medium" if reasoning else None, "summary": None},
            "service_tier": "default",
            "store": True,
            "temperature": body.get("temperature", 1.0),
            "text": text_cfg,
            "tool_choice": "auto",
            "tools": [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": input_tokens + output_tokens,
            },
            "user": None,
            "metadata": body.get("metadata") or {},
        },
        input_tokens,
        cached,
        output_tokens,
        reasoning,
    )


def _embeddings(body: dict[str, Any], digest: bytes, created: int) -> Answer:
    model = str(body.get("model", ""))
    raw = body.get("input", "")
    inputs = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
    dims = body.get("dimensions") if isinstance(body.get("dimensions"), int) else EMBEDDING_DIMS.get(model, 1536)
    dims = max(1, min(dims, 4096))
    scale = 1.0 / math.sqrt(dims)
    as_base64 = body.get("encoding_format") == "base64"
    data, tokens = [], 0
    window = context_window(model)
    for i, item in enumerate(inputs):
        item_tokens = len(item) if isinstance(item, list) else count_tokens(str(item))
        if item_tokens > window:
            raise ApiError(400, _too_long(window, item_tokens, 0))
        tokens += item_tokens
        start = int.from_bytes(digest_of(digest + i.to_bytes(4, "little"))[:4], "little") % _POOL_SIZE
        vector = [v * scale for v in _GAUSS_POOL[start : start + dims]]
        embedding: Any = base64.b64encode(array("f", vector).tobytes()).decode() if as_base64 else vector
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    return Answer(
        200,
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
        tokens,
    )


def _completions(body: dict[str, Any], digest: bytes, created: int) -> Answer:
    model = str(body.get("model", ""))
    prompt = _text_of(body.get("prompt", ""))
    words = prompt.split()
    kw = max(words, key=len).strip(".,;:!?\"'") if words else "this"
    sentences = [
        ELABORATIONS[(digest[14] + i * 3) % len(ELABORATIONS)].format(kw=kw) for i in range(1 + digest[15] % 3)
    ]
    limit = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0 else 16
    window = context_window(model)
    if count_tokens(prompt) + limit > window:
        raise ApiError(400, _too_long(window, count_tokens(prompt), limit))
    text, cut = _truncate(" " + " ".join(sentences), limit)
    prompt_tokens, completion_tokens = count_tokens(prompt), count_tokens(text)
    return Answer(
        200,
        {
            "id": "cmpl-" + base64.b32encode(digest[:18]).decode().rstrip("=")[:29],
            "object": "text_completion",
            "created": created,
            "model": SNAPSHOTS.get(model, model),
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "length" if cut else "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
        prompt_tokens,
        0,
        completion_tokens,
    )


def _moderations(body: dict[str, Any], digest: bytes, created: int) -> Answer:
    model = str(body.get("model") or "omni-moderation-latest")
    raw = body.get("input", "")
    items = raw if isinstance(raw, list) and raw and isinstance(raw[0], str) else [raw]
    results, tokens = [], 0
    for i, item in enumerate(items):
        text = _text_of(item).lower()
        tokens += count_tokens(text)
        d = digest_of(digest + bytes([i % 256]))
        scores = {c: round(unit(d, j) * 0.002, 8) for j, c in enumerate(MODERATION_CATEGORIES[:6])}
        scores.update({c: round(unit(d, j) * 0.0005, 8) for j, c in enumerate(MODERATION_CATEGORIES[6:])})
        for category, words in TRIGGERS.items():
            if any(w in text for w in words):
                scores[category] = round(0.62 + unit(d, 20) * 0.37, 8)
        flags = {c: s > 0.5 for c, s in scores.items()}
        applied = {c: ["text", "image"] if c in TEXT_AND_IMAGE else ["text"] for c in MODERATION_CATEGORIES}
        results.append(
            {
                "flagged": any(flags.values()),
                "categories": flags,
                "category_scores": scores,
                "category_applied_input_types": applied,
            }
        )
    return Answer(
        200, {"id": "modr-" + _hex(digest, 0, 16), "model": SNAPSHOTS.get(model, model), "results": results}, tokens
    )


def _images(body: dict[str, Any], digest: bytes, created: int) -> Answer:
    prompt = str(body.get("prompt", ""))
    n = body.get("n") if isinstance(body.get("n"), int) and 1 <= body.get("n") <= 4 else 1
    text_tokens = count_tokens(prompt)
    return Answer(
        200,
        {
            "created": created,
            "data": [{"b64_json": ONE_PIXEL_PNG, "revised_prompt": None} for _ in range(n)],
            "background": "opaque",
            "output_format": "png",
            "quality": "low",
            "size": body.get("size", "1024x1024"),
            "usage": {
                "input_tokens": text_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens},
                "output_tokens": 272 * n,
                "total_tokens": text_tokens + 272 * n,
            },
        },
        text_tokens,
        0,
        272 * n,
    )


def _videos(body: dict[str, Any], digest: bytes, created: int) -> Answer:
    seconds = str(body.get("seconds", "4"))
    return Answer(
        200,
        {
            "id": "video_" + _hex(digest, 0, 24),
            "object": "video",
            "created_at": created,
            "completed_at": created,
            "expires_at": created + 86400,
            "error": None,
            "model": str(body.get("model") or "sora-2"),
            "progress": 100,
            "prompt": body.get("prompt"),
            "remixed_from_video_id": None,
            "seconds": seconds if seconds in ("4", "8", "12") else "4",
            "size": body.get("size", "720x1280"),
            "status": "completed",
        },
        count_tokens(str(body.get("prompt", ""))),
    )


HANDLERS = {
    "/v1/chat/completions": _chat,
    "/v1/responses": _responses,
    "/v1/embeddings": _embeddings,
    "/v1/completions": _completions,
    "/v1/moderations": _moderations,
    "/v1/images/generations": _images,
    "/v1/images/edits": _images,
    "/v1/videos": _videos,
}
ENDPOINTS = tuple(HANDLERS)
