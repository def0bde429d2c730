"""The models the sandbox serves, so a batch naming any other fails with `model_not_found` as on OpenAI.

The chat, reasoning and completion models are the OpenAI models genai-prices knows (its bundled data,
offline); the embedding, moderation, image and video models are listed here; a server adds its own with
`SandboxConfig.models` (`batchtui sandbox --models a,b`). A dated snapshot of a known model
(gpt-4o-mini-2024-07-18) is known too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

EXTRA_MODELS = (
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "omni-moderation-latest",
    "omni-moderation-2024-09-26",
    "text-moderation-latest",
    "text-moderation-stable",
    "gpt-image-1",
    "gpt-image-1-mini",
    "dall-e-2",
    "dall-e-3",
    "sora-2",
    "sora-2-pro",
)
DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@functools.cache
def _priced_openai_models() -> tuple[Any, ...]:
    """genai-prices' OpenAI models (ModelInfo); its data takes a fifth of a second to load, so only when used."""
    from genai_prices.data import providers

    return tuple(model for provider in providers if provider.id == "openai" for model in provider.models)


class ModelCatalogue:
    """Answers whether a model name is one the sandbox serves."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.names = frozenset(EXTRA_MODELS) | frozenset(extra)

    def knows(self, model: str) -> bool:
        """True for a listed or priced model, and for a dated snapshot of one."""
        candidates = {model, DATE_SUFFIX.sub("", model)}
        if candidates & self.names:
            return True
        return any(info.match.is_match(name) for info in _priced_openai_models() for name in candidates)
