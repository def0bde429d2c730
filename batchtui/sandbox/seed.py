"""Demo data: a believable research account with ~30 batches in every status over three weeks,
with real input, output and error files. Deterministic: ids and contents come from one seed;
only the timestamps follow the clock. A few batches stay live for minutes at speed 1."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from . import ids
from .store import THIRTY_DAYS, BatchRecord, FileRecord, Plan

if TYPE_CHECKING:
    from .runtime import SandboxRuntime

DAY = 86400
DEMO_FAIL_RATE = 0.02

PRODUCTS = (
    "espresso machine", "noise-cancelling headphones", "standing desk", "air fryer", "trail running shoes",
    "robot vacuum", "mechanical keyboard", "baby stroller", "electric toothbrush", "camping tent",
    "smart thermostat", "cast iron skillet", "office chair", "e-reader", "yoga mat",
)  # fmt: skip
PRAISE = (
    "works exactly as described", "is surprisingly quiet", "was easy to set up in ten minutes",
    "feels sturdy and well made", "has a battery that lasts for days", "looks great in our kitchen",
)  # fmt: skip
COMPLAINTS = (
    "stopped working after two weeks", "arrived with a cracked panel", "is much louder than advertised",
    "came without the promised accessories", "has an app that keeps disconnecting", "smells of plastic",
)  # fmt: skip
TICKETS = (
    "I was charged twice for order #{n} and need one payment refunded.",
    "My package for order #{n} shows delivered but nothing arrived at my door.",
    "The {p} I bought last month {c}. Can I get a replacement?",
    "How do I change the shipping address on order #{n}? It has not shipped yet.",
    "Your agent closed my ticket without answering. This is the third time I am writing.",
    "Is there a student discount on the {p}? The price went up since last week.",
    "The setup screen of the {p} freezes on step 3 every time.",
)
FIELDS = (
    "graph neural networks", "protein folding", "urban heat islands", "sleep and memory consolidation",
    "microplastics in freshwater", "battery degradation", "language model evaluation", "coral reef recovery",
)  # fmt: skip
METHODS = (
    "a randomized controlled trial", "a longitudinal cohort study", "large-scale simulations",
    "a meta-analysis of 48 studies", "field measurements over three summers", "a new benchmark of 12,000 items",
)  # fmt: skip
FINDINGS = (
    "reduces error by 18% compared to prior methods", "shows no significant effect once income is controlled for",
    "explains most of the variance observed in earlier work", "depends strongly on temperature",
    "improves with scale but saturates beyond a threshold", "is robust across all five sites",
)  # fmt: skip
QUESTIONS = (
    "How long does shipping to Canada take?", "Can I return an item I bought on sale?",
    "Do you offer gift wrapping?", "How do I reset my account password?", "Which payment methods do you accept?",
    "Is my warranty still valid if I bought the {p} from a reseller?", "How do I clean the filter of the {p}?",
)  # fmt: skip
COMMENTS = (
    "Thanks for the detailed write-up, this helped me fix my setup.",
    "Has anyone tried the {p} with the older firmware?",
    "You are an idiot if you believe this review.",
    "Shut up and read the manual, loser.",
    "I would kill for a version of the {p} with a longer cable.",
    "Great community, I learn something new here every week.",
    "This thread is going in circles, can a moderator lock it?",
)

SENTIMENT_SYSTEM = "You are a sentiment classifier. Answer with one word: positive, negative, neutral or mixed."
TRIAGE_SYSTEM = (
    "Classify the support ticket into one category: billing, shipping, product quality, customer service, "
    "usability, pricing, other. Answer with the category only."
)


def _review(rng: random.Random, i: int) -> str:
    product = rng.choice(PRODUCTS)
    good, bad = rng.choice(PRAISE), rng.choice(COMPLAINTS)
    stars = rng.randint(1, 5)
    if stars >= 4:
        return f"{stars} stars. The {product} {good}. Would buy again."
    if stars <= 2:
        return f"{stars} stars. The {product} {bad}. Support was slow to reply."
    return f"{stars} stars. The {product} {good}, but it {bad}."


def _sentiment(rng: random.Random, i: int, model: str) -> dict[str, Any]:
    messages = [{"role": "system", "content": SENTIMENT_SYSTEM}, {"role": "user", "content": _review(rng, i)}]
    return {"model": model, "messages": messages, "temperature": 0, "max_tokens": 20}


def _triage(rng: random.Random, i: int, model: str) -> dict[str, Any]:
    ticket = rng.choice(TICKETS).format(n=rng.randint(10000, 99999), p=rng.choice(PRODUCTS), c=rng.choice(COMPLAINTS))
    return {
        "model": model,
        "messages": [{"role": "system", "content": TRIAGE_SYSTEM}, {"role": "user", "content": ticket}],
    }


def _abstract(rng: random.Random, i: int, model: str) -> dict[str, Any]:
    topic = rng.choice(FIELDS)
    text = (
        f"We study {topic} using {rng.choice(METHODS)}. Our analysis indicates that the effect "
        f"{rng.choice(FINDINGS)}. We further show that the result {rng.choice(FINDINGS)}, and discuss "
        f"implications for future work on {topic}."
    )
    return {
        "model": model,
        "instructions": "Summarize this abstract in two sentences for a general audience.",
        "input": text,
        "max_output_tokens": 200,
    }


def _faq(rng: random.Random, i: int, model: str) -> dict[str, Any]:
    question = rng.choice(QUESTIONS).format(p=rng.choice(PRODUCTS))
    messages = [
        {"role": "system", "content": "You write short, friendly help-center answers."},
        {"role": "user", "content": f"Draft an answer to this customer question: {question}"},
    ]
    return {"model": model, "messages": messages}


def _extract(rng: random.Random, i: int, model: str) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": "Extract the product, sentiment label and main topic from the review as JSON."},
        {"role": "user", "content": _review(rng, i)},
    ]
    return {"model": model, "messages": messages, "response_format": {"type": "json_object"}}


def _embedding(rng: random.Random, i: int, model: str) -> dict[str, Any]:
    product = rng.choice(PRODUCTS)
    text = f"{product.title()} - {rng.choice(PRAISE)}; ideal for everyday use. SKU {rng.randint(100000, 999999)}."
    return {"model": model, "input": text, "dimensions": 256}


def _moderation(rng: random.Random, i: int, model: str) -> dict[str, Any]:
    return {"model": model, "input": rng.choice(COMMENTS).format(p=rng.choice(PRODUCTS))}


OWNERS = {
    "sentiment": ("reviews-insights", "maria.k"),
    "extract": ("reviews-insights", "maria.k"),
    "triage": ("support-automation", "dev.patel"),
    "faq": ("support-automation", "dev.patel"),
    "abstracts": ("lit-review", "j.okafor"),
    "embeddings": ("search-relevance", "lin.chen"),
    "moderation": ("trust-safety", "dev.patel"),
}

THEMES: dict[str, tuple[str, Callable[[random.Random, int, str], dict[str, Any]]]] = {
    "sentiment": ("/v1/chat/completions", _sentiment),
    "triage": ("/v1/chat/completions", _triage),
    "abstracts": ("/v1/responses", _abstract),
    "faq": ("/v1/chat/completions", _faq),
    "extract": ("/v1/chat/completions", _extract),
    "embeddings": ("/v1/embeddings", _embedding),
    "moderation": ("/v1/moderations", _moderation),
}


@dataclass
class DemoBatch:
    """One demo batch: what it holds, how old it is, and where it ends up (or is left running)."""

    theme: str
    model: str
    lines: int
    status: str
    days_ago: float
    description: str
    defect: str | None = None
    done_share: float = 1.0
    plan: Plan = field(default_factory=Plan)


def demo_batches() -> list[DemoBatch]:
    """The account, oldest first."""
    D = DemoBatch
    return [
        D("sentiment", "gpt-4o-mini", 120, "completed", 21.0, "sentiment labels for product reviews v1"),
        D("triage", "gpt-4o-mini", 80, "completed", 20.2, "support ticket triage: January export"),
        D(
            "sentiment",
            "gpt-4o-mini",
            150,
            "failed",
            19.5,
            "sentiment labels for product reviews v2",
            defect="invalid_json_line",
        ),
        D("sentiment", "gpt-4o-mini", 150, "completed", 19.4, "sentiment labels for product reviews v2 (fixed)"),
        D("abstracts", "gpt-4.1-mini", 60, "completed", 18.0, "abstract summaries for lit review, batch 1"),
        D(
            "embeddings",
            "text-embedding-3-small",
            200,
            "completed",
            17.1,
            "product description embeddings for search index",
        ),
        D("moderation", "omni-moderation-latest", 300, "completed", 16.3, "forum comment moderation sweep, week 1"),
        D("faq", "gpt-4.1", 40, "expired", 15.8, "FAQ answer drafts for help center", done_share=0.6),
        D("abstracts", "gpt-4.1-mini", 90, "completed", 14.6, "abstract summaries for lit review, batch 2"),
        D(
            "triage",
            "gpt-4o-mini",
            250,
            "failed",
            13.9,
            "support ticket triage: February export",
            defect="duplicate_custom_id",
        ),
        D("triage", "gpt-4o-mini", 250, "completed", 13.8, "support ticket triage: February export (deduplicated)"),
        D(
            "extract",
            "gpt-4o-mini",
            100,
            "cancelled",
            12.5,
            "review attribute extraction (JSON), trial",
            done_share=0.35,
        ),
        D("extract", "gpt-4o-mini", 180, "completed", 12.3, "review attribute extraction (JSON)"),
        D("sentiment", "gpt-4.1", 500, "completed", 11.0, "sentiment labels for product reviews v3"),
        D("moderation", "omni-moderation-latest", 300, "completed", 9.2, "forum comment moderation sweep, week 2"),
        D(
            "abstracts",
            "o4-mini",
            45,
            "failed",
            8.7,
            "abstract summaries with a reasoning model",
            defect="mismatched_model",
        ),
        D("abstracts", "o4-mini", 45, "completed", 8.6, "abstract summaries with a reasoning model"),
        D("faq", "gpt-4.1", 60, "completed", 7.9, "FAQ answer drafts for help center, round 2"),
        D("embeddings", "text-embedding-3-small", 150, "completed", 6.4, "support ticket embeddings for clustering"),
        D(
            "triage",
            "gpt-4.1-mini",
            200,
            "cancelled",
            5.5,
            "support ticket triage: March export (wrong model)",
            done_share=0.2,
        ),
        D("triage", "gpt-4o-mini", 200, "completed", 5.4, "support ticket triage: March export"),
        D("sentiment", "gpt-4o-mini", 400, "completed", 4.1, "sentiment labels for app store reviews"),
        D("faq", "gpt-4.1", 30, "failed", 3.3, "FAQ answer drafts, German", defect="invalid_url"),
        D(
            "moderation",
            "omni-moderation-latest",
            300,
            "expired",
            2.9,
            "forum comment moderation sweep, week 3",
            done_share=0.75,
        ),
        D("abstracts", "gpt-4.1-mini", 120, "completed", 1.6, "abstract summaries for lit review, batch 3"),
        D("extract", "gpt-4o-mini", 220, "completed", 0.8, "review attribute extraction (JSON), full set"),
        D(
            "embeddings",
            "text-embedding-3-small",
            400,
            "in_progress",
            0.05,
            "review embeddings for similarity search",
            done_share=0.1,
            plan=Plan(per_line_s=2.0),
        ),
        D(
            "faq",
            "gpt-4.1",
            50,
            "cancelling",
            0.03,
            "FAQ answer drafts, Spanish",
            done_share=0.4,
            plan=Plan(cancel_s=600),
        ),
        D(
            "sentiment",
            "gpt-4o-mini",
            300,
            "in_progress",
            0.01,
            "sentiment labels for product reviews v4",
            done_share=0.15,
            plan=Plan(per_line_s=0.8),
        ),
        D(
            "triage",
            "gpt-4o-mini",
            90,
            "finalizing",
            0.008,
            "support ticket triage: April export",
            plan=Plan(finalize_s=240),
        ),
        D(
            "abstracts",
            "gpt-4.1-mini",
            70,
            "validating",
            0.0003,
            "abstract summaries for lit review, batch 4",
            plan=Plan(validate_s=120),
        ),
    ]


def _input_lines(spec: DemoBatch, rng: random.Random) -> list[bytes]:
    endpoint, make = THEMES[spec.theme]
    lines = []
    for i in range(spec.lines):
        req = {
            "custom_id": f"{spec.theme}-{i + 1:05d}",
            "method": "POST",
            "url": endpoint,
            "body": make(rng, i, spec.model),
        }
        lines.append(orjson.dumps(req))
    bad = max(1, spec.lines * 2 // 3)
    if spec.defect == "invalid_json_line":
        lines[bad] = lines[bad][: len(lines[bad]) // 2]
    elif spec.defect == "duplicate_custom_id":
        lines[bad] = lines[bad].replace(f"-{bad + 1:05d}".encode(), f"-{bad - 3:05d}".encode())
    elif spec.defect == "mismatched_model":
        lines[bad] = lines[bad].replace(f'"model":"{spec.model}"'.encode(), b'"model":"o3-mini"')
    elif spec.defect == "invalid_url":
        lines[bad] = lines[bad].replace(f'"url":"{endpoint}"'.encode(), b'"url":"/v1/responses"')
    return lines


def seed_demo(rt: SandboxRuntime) -> None:
    """Fill an empty store with the demo account; does nothing if batches already exist."""
    store, engine = rt.store, rt.engine
    if store.batches:
        return
    rng = random.Random(20250301)
    engine.id_rng = rng
    now = time.time()
    try:
        for spec in demo_batches():
            engine.fail_rate = rt.config.fail_rate or (DEMO_FAIL_RATE if spec.status != "in_progress" else 0.0)
            _seed_one(rt, spec, rng, now)
    finally:
        engine.id_rng = None
        engine.fail_rate = rt.config.fail_rate


def _seed_one(rt: SandboxRuntime, spec: DemoBatch, rng: random.Random, now: float) -> None:
    store, engine = rt.store, rt.engine
    created = now - spec.days_ago * DAY
    endpoint = THEMES[spec.theme][0]
    source = store.incoming_path()
    source.write_bytes(b"\n".join(_input_lines(spec, rng)) + b"\n")
    upload_at = int(created) - rng.randint(20, 600)
    slug = spec.description.split(",")[0].split("(")[0].strip().replace(" ", "_").replace(":", "")
    infile = FileRecord(
        id=ids.file_id(rng),
        bytes=source.stat().st_size,
        created_at=upload_at,
        filename=f"{slug}.jsonl",
        purpose="batch",
        expires_at=upload_at + THIRTY_DAYS,
    )
    store.add_file(infile, source=source)
    batch = BatchRecord(
        id=ids.batch_id(rng),
        endpoint=endpoint,
        input_file_id=infile.id,
        completion_window="24h",
        status="validating",
        created_at=int(created),
        expires_at=int(created) + DAY,
        metadata={"description": spec.description, "project": OWNERS[spec.theme][0], "owner": OWNERS[spec.theme][1]},
        plan=spec.plan,
        phase_started=created,
    )
    store.add_batch(batch)
    if spec.status == "validating":
        return
    engine.validate_now(batch)
    t_progress = int(created) + rng.randint(15, 240)
    if batch.status == "failed":
        batch.failed_at = int(created) + rng.randint(10, 90)
        store.save_batch(batch)
        return
    batch.in_progress_at = t_progress
    per_line = rng.uniform(0.8, 4.0)
    if spec.status in ("in_progress", "cancelling", "expired", "cancelled"):
        engine.generate_now(batch, int(batch.total * spec.done_share))
    if spec.status == "in_progress":
        batch.phase_started = now - batch.progress.done * spec.plan.per_line_s
        store.save_batch(batch)
        return
    if spec.status == "cancelling":
        batch.status = "cancelling"
        batch.cancelling_at = int(now) - 60
        batch.phase_started = now - 60
        store.save_batch(batch)
        return
    if spec.status == "finalizing":
        engine.generate_now(batch, batch.total)
        batch.status = "finalizing"
        batch.finalizing_at = int(now) - 30
        batch.phase_started = now - 30
        store.save_batch(batch)
        return
    engine.end_now(batch, spec.status)
    end_at = {
        "completed": t_progress + int(batch.total * per_line) + rng.randint(30, 300),
        "cancelled": t_progress + int(batch.progress.done * per_line) + rng.randint(60, 540),
        "expired": int(created) + DAY,
    }[spec.status]
    if spec.status == "completed":
        batch.finalizing_at = end_at - rng.randint(20, 120)
        batch.completed_at = end_at
    elif spec.status == "cancelled":
        batch.cancelling_at = end_at - rng.randint(30, 500)
        batch.cancelled_at = end_at
    else:
        batch.expired_at = end_at
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            rec = store.files[file_id]
            rec.created_at = end_at
            rec.expires_at = end_at + THIRTY_DAYS
            store.add_file(rec)
    store.save_batch(batch)
