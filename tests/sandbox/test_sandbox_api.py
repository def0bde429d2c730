"""Files API, authentication, error shapes and the /_sandbox admin routes."""

from __future__ import annotations

import httpx2
import openai
import pytest
from sandbox_helpers import jsonl, request_line, upload, validate


async def test_files_upload_list_retrieve_download_delete(make_server, client_for):
    server = make_server()
    client = client_for(server)
    content = jsonl([request_line(i) for i in range(300)])
    f = await client.files.create(
        file=("requests.jsonl", content), purpose="batch", expires_after={"anchor": "created_at", "seconds": 7200}
    )
    assert f.id.startswith("file-") and f.bytes == len(content) and f.status == "processed"
    assert f.filename == "requests.jsonl" and f.expires_at == f.created_at + 7200
    other = await upload(client, b"notes", name="notes.txt", purpose="user_data")
    assert other.expires_at is None

    assert (await client.files.retrieve(f.id)) == f
    listed = await client.files.list()
    assert [x.id for x in listed.data] == [other.id, f.id] and not listed.has_more
    assert [x.id for x in (await client.files.list(order="asc")).data] == [f.id, other.id]
    assert [x.id for x in (await client.files.list(purpose="batch")).data] == [f.id]
    first = await client.files.list(limit=1)
    assert first.has_more and [x.id for x in first.data] == [other.id]
    assert [x.id async for x in client.files.list(limit=1)] == [other.id, f.id]

    assert (await client.files.content(f.id)).content == content
    async with client.files.with_streaming_response.content(f.id) as response:
        assert response.headers["content-length"] == str(len(content))
        streamed = b"".join([chunk async for chunk in response.iter_bytes()])
    assert streamed == content

    deleted = await client.files.delete(f.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (f.id, "file", True)
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(f.id)
    assert server.stats()["files.create"] == 2


async def test_unknown_ids_are_404s_in_openai_shape(client):
    with pytest.raises(openai.NotFoundError) as err:
        await client.files.retrieve("file-nope")
    assert err.value.body == {
        "message": "No such File object: file-nope",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }
    assert err.value.code is None and err.value.param == "id"
    for call in (client.batches.retrieve, client.batches.cancel):
        with pytest.raises(openai.NotFoundError) as err:
            await call("batch_nope")
        assert err.value.body["message"] == "No such Batch object: batch_nope" and err.value.param == "id"
    with pytest.raises(openai.NotFoundError):
        await client.files.content("file-nope")
    with pytest.raises(openai.NotFoundError):
        await client.files.delete("file-nope")


async def test_missing_and_wrong_api_keys_are_401s(make_server, client_for):
    server = make_server(api_key="sk-right-key-1234")
    async with httpx2.AsyncClient() as http:
        answer = await http.get(server.base_url + "/batches")
    assert answer.status_code == 401
    validate("ErrorResponse", answer.json())
    error = answer.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)

    with pytest.raises(openai.AuthenticationError) as err:
        await client_for(server, api_key="sk-wrong-key-9876").batches.list()
    assert err.value.code == "invalid_api_key"
    assert err.value.body["message"].startswith("Incorrect API key provided: sk-")
    assert "wrong-key" not in err.value.body["message"]
    page = await client_for(server, api_key="sk-right-key-1234").batches.list()
    assert page.data == []
    assert server.stats()["batches.list"] == 3


async def test_unknown_routes_and_bad_requests_answer_in_openai_shape(sandbox):
    headers = {"Authorization": "Bearer sk-test"}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as http:
        unknown = await http.get("/nothing/here")
        wrong_method = await http.put("/batches")
        bad_limit = await http.get("/batches", params={"limit": "many"})
        bad_json = await http.post("/batches", content=b"{not json", headers={"content-type": "application/json"})
        missing = await http.post("/batches", json={"endpoint": "/v1/chat/completions", "completion_window": "24h"})
        extra = await http.post("/batches", json={"input_file_id": "f", "endpoint": "e", "completion_window": "24h",
                                                  "colour": "blue"})  # fmt: skip
        bad_order = await http.get("/files", params={"order": "sideways"})
    for answer in (unknown, wrong_method, bad_limit, bad_json, missing, extra, bad_order):
        validate("ErrorResponse", answer.json())
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (GET /v1/nothing/here)"
    assert wrong_method.status_code == 404
    assert bad_limit.status_code == 400
    assert (bad_limit.json()["error"]["param"], bad_limit.json()["error"]["code"]) == ("limit", "invalid_type")
    assert bad_json.status_code == 400 and "could not parse the JSON body" in bad_json.json()["error"]["message"]
    assert missing.json()["error"]["param"] == "input_file_id"
    assert missing.json()["error"]["code"] == "missing_required_parameter"
    assert "Unrecognized request argument supplied: colour" in extra.json()["error"]["message"]
    assert bad_order.json()["error"]["param"] == "order"


async def test_stats_count_every_api_request_by_route(make_server, client_for):
    server = make_server()
    client = client_for(server)
    f = await upload(client, jsonl([request_line(0)]))
    for _ in range(3):
        await client.batches.list()
    with pytest.raises(openai.NotFoundError):
        await client.batches.retrieve("batch_missing")
    assert server.stats() == {"files.create": 1, "batches.list": 3, "batches.retrieve": 1}
    async with httpx2.AsyncClient() as http:
        over_http = (await http.get(server.base_url.removesuffix("/v1") + "/_sandbox/stats")).json()
    assert over_http == server.stats()
    server.reset_stats()
    await client.files.retrieve(f.id)
    assert server.stats() == {"files.retrieve": 1}
