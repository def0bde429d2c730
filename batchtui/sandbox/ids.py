"""Object ids in the formats OpenAI uses: batch_<hex>, file-<base62>, batch_req_<hex>, req_<hex>."""

from __future__ import annotations

import random
import secrets

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def batch_id(rng: random.Random | None = None) -> str:
    return "batch_" + _hex(32, rng)


def file_id(rng: random.Random | None = None) -> str:
    pick = rng.choice if rng else secrets.choice
    return "file-" + "".join(pick(_BASE62) for _ in range(22))


def _hex(length: int, rng: random.Random | None) -> str:
    if rng is None:
        return secrets.token_hex(length // 2)
    return f"{rng.getrandbits(length * 4):0{length}x}"
