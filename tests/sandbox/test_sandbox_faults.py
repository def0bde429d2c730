"""Fault injection: spec parsing, 429/500/503 answers, slow answers and dropped connections."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest
from sandbox_helpers import jsonl, request_line, upload, validate

from batchtui.sandbox import FAULTS_ENV, FaultConfig


def test_fault_spec_parses_and_names_the_bad_field(monkeypatch):
    cfg = FaultConfig.parse("429=0.1,500=0.05,503=0.05,slow=0.1,drop=0.05,slow_seconds=2,seed=7")
    assert cfg == FaultConfig(
        rate_429=0.1, rate_500=0.05, rate_503=0.05, rate_slow=0.1, rate_drop=0.05, slow_seconds=2, seed=7
    )
    for spec, word in (("404=0.1", "'404'"), ("429=lots", "'429'"), ("slow=1.5", "rate_slow"), ("429", "'429'")):
        with pytest.raises(ValueError, match=word) as err:
            FaultConfig.parse(spec)
        assert "\n" not in str(err.value)
    monkeypatch.delenv(FAULTS_ENV, raising=False)
    assert FaultConfig.from_env() is None
    monkeypatch.setenv(FAULTS_ENV, "500=1")
    assert FaultConfig.from_env() == FaultConfig(rate_500=1.0)


@pytest.mark.parametrize(
    ("kind", "error", "status", "type_"),
    [
        ("429", openai.RateLimitError, 429, "requests"),
        ("500", openai.InternalServerError, 500, "server_error"),
        ("503", openai.InternalServerError, 503, "server_error"),
    ],
)
async def test_status_faults_answer_openai_errors(make_server, client_for, kind, error, status, type_):
    server = make_server(faults=FaultConfig.parse(f"{kind}=1"))
    with pytest.raises(error) as err:
        await client_for(server).batches.list()
    assert err.value.status_code == status and err.value.type == type_
    validate("ErrorResponse", err.value.response.json())
    if kind == "429":
        assert err.value.code == "rate_limit_exceeded"
        assert err.value.response.headers["retry-after"] == "1"
    assert server.stats() == {"batches.list": 1}


async def test_the_sdk_retries_through_rate_limits(make_server, client_for):
    server = make_server(faults=FaultConfig(rate_429=0.5, seed=3))
    client = client_for(server, max_retries=8)
    for _ in range(5):
        await client.batches.list()
    assert server.stats()["batches.list"] > 5


async def test_slow_fault_delays_the_answer(make_server, client_for):
    server = make_server(faults=FaultConfig(rate_slow=1.0, slow_seconds=0.3))
    started = time.monotonic()
    await client_for(server).batches.list()
    assert time.monotonic() - started >= 0.3


async def test_drop_closes_the_connection_without_an_answer(make_server, client_for):
    server = make_server(faults=FaultConfig(rate_drop=1.0))
    with pytest.raises(openai.APIConnectionError):
        await client_for(server).batches.list()
    assert server.stats() == {"batches.list": 1}


async def test_drop_on_download_cuts_the_body_about_halfway(make_server, client_for):
    server = make_server()
    client = client_for(server)
    content = jsonl([request_line(i) for i in range(5000)])
    f = await upload(client, content)
    server.set_faults(FaultConfig(rate_drop=1.0))
    received = bytearray()
    with pytest.raises((httpx2.HTTPError, openai.APIConnectionError)):
        async with client.files.with_streaming_response.content(f.id) as response:
            assert response.headers["content-length"] == str(len(content))
            async for chunk in response.iter_bytes():
                received += chunk
    assert 0 < len(received) < len(content)
    assert abs(len(received) - len(content) // 2) <= 256 * 1024
    server.set_faults(None)
    assert (await client.files.content(f.id)).content == content


async def test_admin_routes_set_faults_and_are_never_faulted(make_server, client_for):
    server = make_server()
    admin = server.base_url.removesuffix("/v1") + "/_sandbox"
    async with httpx2.AsyncClient() as http:
        set_answer = await http.post(admin + "/faults", json={"rate_500": 1.0})
        assert set_answer.status_code == 200 and set_answer.json()["rate_500"] == 1.0
        assert (await http.get(admin + "/stats")).status_code == 200
        with pytest.raises(openai.InternalServerError):
            await client_for(server).batches.list()
        bad = await http.post(admin + "/faults", json={"rate_999": 1.0})
        assert bad.status_code == 400 and "rate_999" in bad.json()["error"]["message"]
        await http.post(admin + "/faults", json={})
    assert (await client_for(server).batches.list()).data == []


async def test_a_key_without_access_is_answered_403(make_server, client_for):
    server = make_server(api_key="sk-right", faults=FaultConfig.parse("no_access_key=sk-restricted"))
    with pytest.raises(openai.PermissionDeniedError) as err:
        await client_for(server, api_key="sk-restricted").batches.list()
    validate("ErrorResponse", err.value.response.json())
    assert "insufficient permissions" in err.value.message and "api.batch.read" in err.value.message
    assert (await client_for(server, api_key="sk-right").batches.list()).data == []
    with pytest.raises(openai.AuthenticationError):
        await client_for(server, api_key="sk-other").batches.list()


async def test_the_injector_counts_the_faults_it_drew(make_server, client_for):
    server = make_server(faults=FaultConfig(rate_500=0.5, rate_slow=0.5, slow_seconds=0, seed=1))
    client = client_for(server)
    failures = 0
    for _ in range(20):
        try:
            await client.batches.list()
        except openai.InternalServerError:
            failures += 1
    injected = server.runtime.faults.injected()
    assert injected["500"] == failures > 0 and 0 < injected["slow"] < 20
    server.set_faults(None)
    assert server.runtime.faults.injected() == injected  # counted since the server started
