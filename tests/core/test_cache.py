"""Tests for the SQLite cache, on real database files."""

import asyncio
import os
import sqlite3
import stat
import time
from pathlib import Path

import orjson
import pytest
from cache_helpers import integrity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mounts import tmpfs

from batchtui.core.api.models import Batch, FileObject
from batchtui.core.cache.store import PAGE_SIZE, SCHEMA_VERSION, Cache, CacheError, DownloadedFile, ProgressObservation
from batchtui.core.domain import ACTIVE_STATUSES, TERMINAL_STATUSES

T0 = 1_760_000_000


def make_batch(
    batch_id: str,
    status: str = "completed",
    *,
    created_at: int = T0,
    counts: tuple[int, int, int] | None = (0, 0, 0),
    metadata: dict[str, str] | None = None,
    **fields: object,
) -> Batch:
    data: dict[str, object] = {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": f"file-in-{batch_id}",
        "completion_window": "24h",
        "status": status,
        "created_at": created_at,
        "expires_at": created_at + 86_400,
        "model": "gpt-4o-mini",
        **fields,
    }
    if counts is not None:
        data["request_counts"] = dict(zip(("completed", "failed", "total"), counts, strict=True))
    if metadata is not None:
        data["metadata"] = metadata
    return Batch.from_dict(data)


def rich_batch(status: str) -> Batch:
    """A batch in ``status`` carrying the fields the API sends in that state."""
    extra: dict[str, object] = {"in_progress_at": T0 + 5}
    if status in {"finalizing", "completed", "cancelling", "cancelled", "expired"}:
        extra["finalizing_at"] = T0 + 50
    if status == "completed":
        extra |= {
            "completed_at": T0 + 60,
            "output_file_id": "file-out",
            "error_file_id": "file-err",
            "usage": {
                "input_tokens": 1200,
                "input_tokens_details": {"cached_tokens": 300},
                "output_tokens": 800,
                "output_tokens_details": {"reasoning_tokens": 128},
                "total_tokens": 2000,
            },
        }
    if status == "failed":
        extra = {
            "failed_at": T0 + 2,
            "errors": {
                "object": "list",
                "data": [
                    {"code": "invalid_json_line", "line": 3, "message": "Line 3 is not valid JSON."},
                    {"code": "duplicate_custom_id", "line": 9, "message": "dup", "param": "custom_id"},
                ],
            },
        }
    if status in {"cancelling", "cancelled"}:
        extra["cancelling_at"] = T0 + 30
    if status == "cancelled":
        extra["cancelled_at"] = T0 + 40
    if status == "expired":
        extra["expired_at"] = T0 + 86_400
    return make_batch(
        f"batch_{status}",
        status,
        counts=(7, 2, 10),
        metadata={"description": f"nightly {status} run", "owner": "ops"},
        **extra,
    )


def make_file(file_id: str, purpose: str = "batch", created_at: int = T0, **fields: object) -> FileObject:
    return FileObject.from_dict(
        {
            "id": file_id,
            "object": "file",
            "bytes": 1234,
            "created_at": created_at,
            "filename": f"{file_id}.jsonl",
            "purpose": purpose,
            "status": "processed",
            **fields,
        }
    )


@pytest.fixture
async def cache(tmp_path: Path):
    cache = await Cache.open(tmp_path / "cache" / "batchtui.db")
    async with cache:
        yield cache


ALL_STATUSES = sorted(ACTIVE_STATUSES | TERMINAL_STATUSES)


@pytest.mark.parametrize("status", ALL_STATUSES)
async def test_batch_round_trips_exactly(cache: Cache, status: str) -> None:
    batch = rich_batch(status)
    await cache.upsert_batches([batch], observed_at=1.0)
    got = await cache.get_batch(batch.id)
    assert got == batch
    assert got.to_json() == batch.to_json()


async def test_batch_without_counts_or_metadata(cache: Cache) -> None:
    batch = make_batch("batch_v", "validating", counts=None)
    await cache.upsert_batches([batch], observed_at=1.0)
    assert await cache.get_batch("batch_v") == batch
    assert await cache.observations("batch_v") == [ProgressObservation("batch_v", 1.0, "validating", 0, 0, 0)]


async def test_unknown_statuses_round_trip_and_odd_rows_are_made_sane(cache: Cache) -> None:
    """A status batchtui does not know survives the cache; a row that does not validate (an older batchtui's, or
    one edited by hand) is read as the API client would have made it, not lost."""
    fields = {"id": "batch_new", "object": "batch", "endpoint": "/v1/responses", "input_file_id": "file-1",
              "completion_window": "24h", "status": "paused", "created_at": T0}
    await cache.upsert_batches([Batch.from_dict(fields)], observed_at=1.0)
    assert (await cache.get_batch("batch_new")) == Batch.from_dict(fields)
    odd = Batch(**{**fields, "id": "batch_odd", "created_at": "yesterday", "request_counts": {"total": 3}})
    await cache.upsert_batches([odd], observed_at=1.0)
    got = await cache.get_batch("batch_odd")
    assert got is not None
    assert (got.status, got.created_at, got.request_counts) == ("paused", 0, None)


async def test_get_missing_returns_none(cache: Cache) -> None:
    assert await cache.get_batch("nope") is None
    assert await cache.get_file("nope") is None
    assert await cache.get_download("nope") is None
    assert await cache.get_meta("nope") is None
    assert await cache.observations("nope") == []


async def test_upsert_returns_only_new_or_changed(cache: Cache) -> None:
    a = make_batch("batch_a", "in_progress", counts=(1, 0, 10))
    b = make_batch("batch_b", "completed", counts=(10, 0, 10))
    assert sorted(await cache.upsert_batches([a, b], observed_at=1.0)) == ["batch_a", "batch_b"]
    assert await cache.upsert_batches([a, b], observed_at=2.0) == []
    a2 = make_batch("batch_a", "in_progress", counts=(5, 0, 10))
    c = make_batch("batch_c", "validating")
    assert await cache.upsert_batches([a2, b, c], observed_at=3.0) == ["batch_a", "batch_c"]
    assert await cache.get_batch("batch_a") == a2
    assert await cache.upsert_batches([], observed_at=4.0) == []
    assert len(await cache.list_batches()) == 3


async def test_metadata_change_counts_as_change(cache: Cache) -> None:
    await cache.upsert_batches([make_batch("batch_a", metadata={"k": "v"})], observed_at=1.0)
    changed = await cache.upsert_batches([make_batch("batch_a", metadata={"k": "w"})], observed_at=2.0)
    assert changed == ["batch_a"]
    assert (await cache.get_batch("batch_a")).metadata == {"k": "w"}


async def test_observations(cache: Cache) -> None:
    running = make_batch("batch_run", "in_progress", counts=(1, 0, 10))
    done = make_batch("batch_done", "completed", counts=(10, 0, 10))
    await cache.upsert_batches([running, done], observed_at=100.0)
    await cache.upsert_batches([running, done], observed_at=105.0)
    running2 = make_batch("batch_run", "in_progress", counts=(4, 1, 10))
    await cache.upsert_batches([running2, done], observed_at=110.0)
    finished = make_batch("batch_run", "completed", counts=(9, 1, 10))
    await cache.upsert_batches([finished, done], observed_at=115.0)
    await cache.upsert_batches([finished, done], observed_at=120.0)

    assert await cache.observations("batch_run") == [
        ProgressObservation("batch_run", 100.0, "in_progress", 1, 0, 10),  # 105: unmoved, observed 5 s ago
        ProgressObservation("batch_run", 110.0, "in_progress", 4, 1, 10),
        ProgressObservation("batch_run", 115.0, "completed", 9, 1, 10),
    ]
    assert [o.observed_at for o in await cache.observations("batch_run", since=110.0)] == [110.0, 115.0]
    assert await cache.observations("batch_done") == []


async def test_an_active_batch_that_does_not_move_is_observed_once_a_minute(cache: Cache) -> None:
    stalled = make_batch("batch_stalled", "in_progress", counts=(3, 0, 10))
    for second in range(0, 185, 5):
        await cache.upsert_batches([stalled], observed_at=float(second))
    assert [o.observed_at for o in await cache.observations("batch_stalled")] == [0.0, 60.0, 120.0, 180.0]


async def test_terminal_to_terminal_change_is_observed(cache: Cache) -> None:
    await cache.upsert_batches([make_batch("b", "cancelling", counts=(1, 0, 5))], observed_at=1.0)
    await cache.upsert_batches([make_batch("b", "cancelled", counts=(1, 0, 5))], observed_at=2.0)
    await cache.upsert_batches([make_batch("b", "cancelled", counts=(1, 0, 5))], observed_at=3.0)
    assert [o.status for o in await cache.observations("b")] == ["cancelling", "cancelled"]


async def test_duplicate_ids_in_one_call_last_wins(cache: Cache) -> None:
    first = make_batch("b", "in_progress", counts=(1, 0, 5))
    last = make_batch("b", "in_progress", counts=(2, 0, 5))
    assert await cache.upsert_batches([first, last], observed_at=1.0) == ["b"]
    assert await cache.get_batch("b") == last
    assert len(await cache.observations("b")) == 1


async def test_status_queries_order_and_limit(cache: Cache) -> None:
    batches = [
        make_batch("b1", "completed", created_at=T0 + 1),
        make_batch("b2", "in_progress", created_at=T0 + 2),
        make_batch("b3", "failed", created_at=T0 + 3),
        make_batch("b4", "validating", created_at=T0 + 4),
        make_batch("b5", "completed", created_at=T0 + 5),
        make_batch("b6", "completed", created_at=T0 + 5),
        make_batch("b7", "cancelling", created_at=T0 + 6),
    ]
    await cache.upsert_batches(batches[::-1], observed_at=1.0)

    assert [b.id for b in await cache.list_batches()] == ["b7", "b6", "b5", "b4", "b3", "b2", "b1"]
    assert [b.id for b in await cache.list_batches(limit=3)] == ["b7", "b6", "b5"]
    assert await cache.list_batches(limit=0) == []
    assert [b.id for b in await cache.list_batches(status="completed")] == ["b6", "b5", "b1"]
    assert [b.id for b in await cache.list_batches(status="completed", limit=1)] == ["b6"]
    assert [b.id for b in await cache.get_batches(["b1", "nope", "b6", "b5"])] == ["b6", "b5", "b1"]
    assert await cache.get_batches([]) == []
    assert await cache.list_batches(status="expired") == []
    assert await cache.active_batch_ids() == ["b7", "b4", "b2"]
    assert await cache.terminal_ids(["b1", "b2", "b3", "b5", "unknown"]) == {"b1", "b3", "b5"}
    assert await cache.terminal_ids([]) == set()
    assert len(await cache.list_batches()) == 7


async def test_files(cache: Cache) -> None:
    files = [
        make_file("file-a", "batch", T0 + 1),
        make_file("file-b", "batch_output", T0 + 2, expires_at=T0 + 100),
        make_file("file-c", "batch", T0 + 3, status="error", status_details="bad line 4"),
        make_file("file-d", "user_data", T0 + 4),
    ]
    await cache.upsert_files(files)
    for file in files:
        got = await cache.get_file(file.id)
        assert got == file
    assert [f.id for f in await cache.list_files()] == ["file-d", "file-c", "file-b", "file-a"]
    assert [f.id for f in await cache.list_files(purpose="batch")] == ["file-c", "file-a"]

    renamed = make_file("file-a", "batch", T0 + 1, filename="renamed.jsonl")
    await cache.upsert_files([renamed])
    assert (await cache.get_file("file-a")).filename == "renamed.jsonl"
    await cache.upsert_files([])


async def test_downloads_and_forget_file(cache: Cache, tmp_path: Path) -> None:
    await cache.upsert_files([make_file("file-out", "batch_output")])
    records = [
        DownloadedFile("file-err", "batch_1", "error", tmp_path / "err.jsonl", 10, 3.0),
        DownloadedFile("file-out", "batch_1", "output", tmp_path / "out.jsonl", 200, 2.0),
        DownloadedFile("file-in", "batch_1", "input", tmp_path / "in.jsonl", 100, 1.0),
        DownloadedFile("file-x", None, "input", tmp_path / "x.jsonl", 5, 4.0),
    ]
    for record in records:
        await cache.record_download(record)
    assert await cache.get_download("file-out") == records[1]
    assert await cache.get_download("file-x") == records[3]

    again = DownloadedFile("file-out", "batch_1", "output", tmp_path / "out2.jsonl", 201, 5.0)
    await cache.record_download(again)
    assert await cache.get_download("file-out") == again

    await cache.forget_file("file-out")
    assert await cache.get_file("file-out") is None
    assert await cache.get_download("file-out") is None
    assert await cache.get_download("file-in") == records[2]


async def test_meta(cache: Cache) -> None:
    await cache.set_meta("last_sync", "1760000000.5")
    await cache.set_meta("last_sync", "1760000001.5")
    assert await cache.get_meta("last_sync") == "1760000001.5"


async def test_concurrent_writers_never_see_locked(tmp_path: Path) -> None:
    """Two connections write 400 times at once and every write lands. Each write gives the shared batch counts no
    other write gives, so each is a move and records an observation: two writes of the same counts within a minute
    are one observation by design, and which write comes second depends on how the two connections interleave."""
    path = tmp_path / "shared.db"
    first, second = await asyncio.gather(Cache.open(path), Cache.open(path))
    async with first, second:

        async def writer(cache: Cache, name: str, i: int) -> None:
            batch = make_batch(f"batch_{name}_{i:03d}", "in_progress", counts=(i, 0, 200))
            done = 2 * i + (name == "y")
            shared = make_batch("batch_shared", "in_progress", counts=(done, 0, 400))
            await cache.upsert_batches([batch, shared], observed_at=float(i))
            await cache.set_meta(f"{name}_{i % 7}", str(i))
            assert await cache.get_batch(batch.id) == batch

        await asyncio.gather(*(writer(c, name, i) for i in range(200) for c, name in ((first, "x"), (second, "y"))))
        assert len(await first.list_batches()) == 401
        assert len(await second.list_batches()) == 401
        assert sorted(seen.completed for seen in await first.observations("batch_shared")) == list(range(400))
        for name in ("x", "y"):
            for i in range(200):
                assert await second.get_batch(f"batch_{name}_{i:03d}") is not None
            assert await first.get_meta(f"{name}_0") is not None


async def test_migrates_version_1_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = make_batch("batch_old", "in_progress", counts=(1, 0, 2))
    raw = orjson.dumps({key: value for key, value in old.to_dict().items() if value is not None}).decode()  # as
    # batchtui stored a batch then: only the fields the API sent
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE batches (
                id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at INTEGER NOT NULL,
                endpoint TEXT NOT NULL, model TEXT, description TEXT, input_file_id TEXT NOT NULL,
                output_file_id TEXT, error_file_id TEXT, completed INTEGER NOT NULL,
                failed INTEGER NOT NULL, total INTEGER NOT NULL, updated_at REAL NOT NULL, raw TEXT NOT NULL
            );
            CREATE INDEX batches_by_created ON batches (created_at DESC, id DESC);
            CREATE INDEX batches_by_status ON batches (status, created_at DESC, id DESC);
            CREATE TABLE files (
                id TEXT PRIMARY KEY, purpose TEXT NOT NULL, filename TEXT NOT NULL, bytes INTEGER NOT NULL,
                created_at INTEGER NOT NULL, expires_at INTEGER, raw TEXT NOT NULL
            );
            CREATE INDEX files_by_created ON files (created_at DESC, id DESC);
            CREATE INDEX files_by_purpose ON files (purpose, created_at DESC, id DESC);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            PRAGMA user_version = 1;
            """
        )
        conn.execute(
            "INSERT INTO batches VALUES (?, 'in_progress', ?, '/v1/chat/completions', 'gpt-4o-mini', NULL,"
            " 'file-in-batch_old', NULL, NULL, 1, 0, 2, 1.0, ?)",
            ("batch_old", T0, raw),
        )
        conn.execute("INSERT INTO meta VALUES ('last_sync', '42')")
    conn.close()

    async with await Cache.open(path) as cache:
        assert await cache.schema_version() == SCHEMA_VERSION == 6
        assert await cache.get_batch("batch_old") == old
        assert await cache.get_meta("last_sync") == "42"
        assert await cache.active_batch_ids() == ["batch_old"]
        await cache.upsert_batches([make_batch("batch_old", "in_progress", counts=(2, 0, 2))], observed_at=5.0)
        assert len(await cache.observations("batch_old")) == 1
        record = DownloadedFile("file-in-batch_old", "batch_old", "input", tmp_path / "in.jsonl", 1, 1.0)
        await cache.record_download(record)
        assert await cache.get_download("file-in-batch_old") == record

    async with await Cache.open(path) as cache:
        assert await cache.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:  # an existing file keeps its pages; only a new cache gets PAGE_SIZE
        assert conn.execute("PRAGMA page_size").fetchone() == (4096,)
    conn.close()


async def test_a_new_cache_has_large_pages_for_llm_logs_rows(tmp_path: Path) -> None:
    await (await Cache.open(tmp_path / "cache.db")).close()
    with sqlite3.connect(tmp_path / "cache.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,) == (32_768,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE something_new (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CacheError) as info:
        await Cache.open(path)
    message = str(info.value)
    assert str(path) in message and "newer" in message and "\n" not in message
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all\n" * 100, b"\x00" * 10, b"SQLite format 3\x00" + b"\xff" * 4080],
    ids=["text", "short", "bad-header"],
)
async def test_garbage_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(content)
    with pytest.raises(CacheError) as info:
        await Cache.open(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


async def test_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "cache.db"
    async with await Cache.open(path) as cache:
        await cache.set_meta("k", "v")
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(sidecar.exists() for sidecar in sidecars)
        for sidecar in sidecars:
            assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600


async def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "loose.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    async with await Cache.open(path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_close_is_idempotent(tmp_path: Path) -> None:
    cache = await Cache.open(tmp_path / "c.db")
    async with cache:
        pass
    await cache.close()


async def test_ten_thousand_batches(cache: Cache) -> None:
    batches = [
        make_batch(
            f"batch_{i:05d}",
            "in_progress" if i % 10 == 0 else "completed",
            created_at=T0 + i,
            counts=(i % 100, 0, 100),
            metadata={"description": f"job {i}"},
        )
        for i in range(10_000)
    ]
    start = time.perf_counter()
    changed = await cache.upsert_batches(batches, observed_at=1.0)
    upsert_seconds = time.perf_counter() - start
    assert len(changed) == 10_000

    start = time.perf_counter()
    again = await cache.upsert_batches(batches, observed_at=2.0)
    reupsert_seconds = time.perf_counter() - start
    assert again == []

    start = time.perf_counter()
    listed = await cache.list_batches()
    list_seconds = time.perf_counter() - start
    assert [b.id for b in listed[:2]] == ["batch_09999", "batch_09998"]
    assert len(listed) == 10_000
    assert len(await cache.active_batch_ids()) == 1_000
    assert len(await cache.terminal_ids(b.id for b in batches)) == 9_000

    assert upsert_seconds < 2.0, upsert_seconds
    assert reupsert_seconds < 2.0, reupsert_seconds
    assert list_seconds < 2.0, list_seconds


metadata_text = st.text(st.characters(codec="utf-8"), max_size=512)  # within OpenAI's limits, which sane applies


def test_metadata_round_trips_unchanged(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        cache = runner.run(Cache.open(tmp_path / "hypo.db"))
        counter = iter(range(1_000_000))

        @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(metadata=st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=64), metadata_text,
                                        max_size=16))
        def check(metadata: dict[str, str]) -> None:
            batch = make_batch(f"batch_{next(counter)}", "in_progress", metadata=metadata)

            async def round_trip() -> Batch | None:
                await cache.upsert_batches([batch], observed_at=1.0)
                return await cache.get_batch(batch.id)

            got = runner.run(round_trip())
            assert got == batch
            assert got.metadata == metadata

        try:
            check()
        finally:
            runner.run(cache.close())


async def test_uncreatable_path_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(CacheError) as info:
        await Cache.open(blocker / "cache.db")
    assert str(blocker / "cache.db") in str(info.value)


async def test_retries_of_follows_the_chain_oldest_first(cache: Cache) -> None:
    await cache.upsert_batches(
        [
            make_batch("batch_root"),
            make_batch("batch_second", created_at=T0 + 20, metadata={"retry_of": "batch_first"}),
            make_batch("batch_first", created_at=T0 + 10, metadata={"retry_of": "batch_root"}),
            make_batch("batch_other", created_at=T0 + 30, metadata={"retry_of": "batch_unrelated"}),
            make_batch("batch_plain", created_at=T0 + 40, metadata={"description": "no retry"}),
        ],
        observed_at=1.0,
    )
    assert [b.id for b in await cache.retries_of("batch_root")] == ["batch_first", "batch_second"]
    assert [b.id for b in await cache.retries_of("batch_first")] == ["batch_second"]
    assert await cache.retries_of("batch_second") == []
    plan = await cache._fetchall(
        "EXPLAIN QUERY PLAN SELECT id FROM batches WHERE json_extract(raw, '$.metadata.retry_of') = 'x'"
    )
    assert "batches_by_retry_of" in " ".join(str(tuple(row)) for row in plan)


async def test_upload_source_is_remembered(cache: Cache, tmp_path: Path) -> None:
    source = tmp_path / "batch.jsonl"
    assert await cache.upload_source("file-abc") is None
    await cache.record_upload("file-abc", source, 12)
    assert await cache.upload_source("file-abc") == source


async def test_a_write_on_a_full_disk_fails_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        path = disk / "cache.db"
        async with await Cache.open(path) as cache:
            await cache.upsert_batches([make_batch("batch_kept")], observed_at=T0)
            free = os.statvfs(disk)
            (disk / "ballast").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 100_000))
            many = [make_batch(f"batch_{i:03d}", metadata={"note": "x" * 500}) for i in range(1_000)]
            with pytest.raises(CacheError) as info:
                await cache.upsert_batches(many, observed_at=T0)
            assert str(info.value) == (f"{path}: the disk is full (database or disk is full); free some space and "
                                       "try again")
            assert [batch.id for batch in await cache.list_batches()] == ["batch_kept"]
            assert integrity(path) == "ok"
            (disk / "ballast").unlink()
            assert len(await cache.upsert_batches(many, observed_at=T0)) == 1_000


async def test_two_first_opens_of_a_new_file_both_succeed(tmp_path: Path) -> None:
    """Two openers of a file that does not exist yet both switch it to WAL; SQLite answers the second "locked" at
    once (no busy wait), which happened about once in a hundred pairs. The second now tries again."""
    for attempt in range(150):
        path = tmp_path / f"new-{attempt}.db"
        first, second = await asyncio.gather(Cache.open(path), Cache.open(path))
        await first.close()
        await second.close()
