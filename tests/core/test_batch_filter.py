"""Status groups, incremental search and sorts of the home list."""

from __future__ import annotations

from decimal import Decimal

from batchtui.core.api.models import Batch
from batchtui.core.listing import (
    STATUS_GROUPS,
    SearchIndex,
    description,
    group_counts,
    matches,
    next_sort,
    sort_batches,
)


def make(number: int, status: str = "completed", *, done: int = 100, metadata=None, model="gpt-4o-mini",
         endpoint="/v1/chat/completions") -> Batch:
    return Batch.from_dict({
        "id": f"batch_{number:04d}", "object": "batch", "endpoint": endpoint, "input_file_id": f"file-in{number}",
        "completion_window": "24h", "status": status, "created_at": 1_763_000_000 + number * 60, "model": model,
        "request_counts": {"total": 100, "completed": done, "failed": 0}, "metadata": metadata,
    })


def group(name: str):
    return next(g for g in STATUS_GROUPS if g.name == name)


def test_groups_and_counts():
    batches = [make(1), make(2, "in_progress", done=10), make(3, "validating", done=0), make(4, "failed"),
               make(5, "expired"), make(6, "cancelled"), make(7, "cancelling"), make(8, "finalizing")]
    assert [g.name for g in STATUS_GROUPS] == ["All", "Active", "Completed", "Failed", "Expired", "Cancelled"]
    assert group_counts(batches) == {"All": 8, "Active": 4, "Completed": 1, "Failed": 1, "Expired": 1,
                                     "Cancelled": 1}
    index = SearchIndex()
    assert [b.id for b in index.filter(batches, group("Active"))] == [
        "batch_0002", "batch_0003", "batch_0007", "batch_0008"]
    assert [b.id for b in index.filter(batches, group("Failed"))] == ["batch_0004"]


def test_search_covers_id_metadata_endpoint_model_and_file_name():
    batch = make(42, metadata={"description": "Sentiment Labels", "team": "NLP"}, model="gpt-4.1",
                 endpoint="/v1/embeddings")
    names = {"file-in42": "Reviews_2025.jsonl"}
    for query in ("0042", "sentiment", "LABELS", "team=nlp", "nlp", "embeddings", "gpt-4.1", "reviews_2025",
                  "file-in42", "labels sentiment", ""):
        assert matches(batch, query, names), query
    for query in ("absent", "labels absent", "description=other"):
        assert not matches(batch, query, names), query
    assert not matches(batch, "reviews")  # the file name is searchable only when known


def test_index_caches_and_follows_changes():
    index = SearchIndex()
    first = make(1, metadata={"description": "alpha"})
    assert index.filter([first], query="alpha") == [first]
    changed = make(1, metadata={"description": "beta"})
    assert index.filter([changed], query="alpha") == []
    assert index.filter([changed], query="beta") == [changed]
    index.set_file_names({"file-in1": "input.jsonl"})
    assert index.filter([changed], query="input.jsonl") == [changed]
    index.forget_missing([])
    assert index.filter([changed], query="beta") == [changed]


def test_description_falls_back_to_first_pair():
    assert description(make(1, metadata={"description": "d", "a": "b"})) == "d"
    assert description(make(1, metadata={"team": "nlp", "x": "y"})) == "team=nlp"
    assert description(make(1)) == ""


def test_sorts():
    batches = [make(1, done=100), make(2, "in_progress", done=50), make(3, "failed", done=20),
               make(4, "in_progress", done=90), make(5, "validating", done=0)]
    assert [b.id[-1] for b in sort_batches(batches)] == list("54321")
    assert [b.id[-1] for b in sort_batches(batches, "status")] == list("42531")
    assert [b.id[-1] for b in sort_batches(batches, "progress")] == list("14235")
    assert next_sort("created") == "status" and next_sort("progress") == "cost" and next_sort("cost") == "created"


def test_sorts_both_ways_and_by_cost():
    """Each sort turns round with `reverse`, ties still newest first; by cost, batches without one stay last."""
    batches = [make(1, done=100), make(2, "in_progress", done=50), make(3, "failed", done=20),
               make(4, "in_progress", done=90), make(5, "validating", done=0)]
    assert [b.id[-1] for b in sort_batches(batches, reverse=True)] == list("12345")
    assert [b.id[-1] for b in sort_batches(batches, "status", reverse=True)] == list("13542")
    assert [b.id[-1] for b in sort_batches(batches, "progress", reverse=True)] == list("53241")
    costs = {batches[0].id: Decimal("0.50"), batches[2].id: Decimal("0.0300"), batches[3].id: Decimal("2")}
    assert [b.id[-1] for b in sort_batches(batches, "cost", costs=costs)] == list("41352")
    assert [b.id[-1] for b in sort_batches(batches, "cost", costs=costs, reverse=True)] == list("31452")


def test_incremental_search_over_ten_thousand_batches():
    """Correctness only: speed is shown by tests/bench/tui_batch_list.py, never by a timed test."""
    batches = [make(i, metadata={"description": f"job {i}", "owner": f"team-{i % 7}"}) for i in range(10_000)]
    index = SearchIndex()
    for query in ("t", "te", "tea", "team", "team-", "team-3"):
        result = index.filter(batches, query=query)
    assert len(result) == len([i for i in range(10_000) if i % 7 == 3])
