"""Azure's batch files as Azure writes and runs them (url /chat/completions, a deployment name as model): with an
Azure profile validate, make-batch-file, split and start-batch go by Azure's rules; without one, by OpenAI's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import batchtui

EXAMPLE = Path(__file__).parent.parent / "examples" / "reviews"


@pytest.fixture
def env(cli_env, isolated_home, sandbox_url) -> dict[str, str]:
    """The sandbox's environment, plus a config whose profile `azure` is an Azure resource at the sandbox's
    address (which has no Azure paths: a call that reaches it gets its 404)."""
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.toml").write_text(
        f'[profiles.azure]\nkind = "azure"\nazure_endpoint = "{sandbox_url.removesuffix("/v1")}"\n'
        'api_version = "2025-04-01-preview"\napi_key = "az-key"\nmax_retries = 0\n')
    return cli_env


def azure_file(path: Path) -> Path:
    lines = [{"custom_id": f"task-{i}", "method": "POST", "url": "/chat/completions",
              "body": {"model": "my-gpt4o-deployment", "messages": [{"role": "user", "content": f"Item {i}"}]}}
             for i in range(3)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_validate_goes_by_the_profiles_rules(env, tmp_path, isolated_home):
    path = azure_file(tmp_path / "azure.jsonl")
    azure = batchtui("validate", str(path), "--profile", "azure", env=env, check=False)
    assert azure.returncode == 0, azure.stdout + azure.stderr
    assert "no price for my-gpt4o-deployment (an Azure deployment name" in azure.stdout
    openai = batchtui("validate", str(path), env=env, check=False)
    assert openai.returncode == 1
    assert "azure.jsonl line 1: invalid_url: url '/chat/completions' is not a batch endpoint" in openai.stdout
    wrong = batchtui("validate", str(path), "--endpoint", "/chat/completions", env=env, check=False)
    assert wrong.returncode == 2 and "--endpoint /chat/completions: not a batch endpoint" in wrong.stderr
    missing = batchtui("validate", str(path), "--profile", "nope", env=env, check=False)
    assert missing.returncode == 2 and "no profile named 'nope'" in missing.stderr
    config = isolated_home / "config.toml"
    config.write_text('default_profile = "azure"\n' + config.read_text())
    assert batchtui("validate", str(path), env=env, check=False).returncode == 0  # the default profile's rules


def test_make_batch_file_and_split_take_azures_endpoints(env, tmp_path):
    for name in ("template.json", "reviews.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    args = (str(tmp_path / "template.json"), str(tmp_path / "reviews.csv"), "--endpoint", "/chat/completions")
    refused = batchtui("make-batch-file", *args, env=env, check=False)
    assert refused.returncode == 2 and "--endpoint /chat/completions: not a batch endpoint" in refused.stderr
    made = Path(batchtui("make-batch-file", *args, "--profile", "azure", env=env).stdout.strip())
    assert {json.loads(line)["url"] for line in made.read_text().splitlines()} == {"/chat/completions"}
    assert batchtui("validate", str(made), "--profile", "azure", env=env, check=False).returncode == 0
    huge = tmp_path / "inputs.jsonl"  # one line of more embeddings inputs than a whole file may hold
    huge.write_text(json.dumps({"custom_id": "e", "method": "POST", "url": "/embeddings",
                                "body": {"model": "emb", "input": ["x"] * 50_001}}) + "\n")
    assert batchtui("split", str(huge), env=env).stdout.split() == [str(huge)]  # not an embeddings url for OpenAI
    over = batchtui("split", str(huge), "--profile", "azure", env=env, check=False)
    assert over.returncode == 1 and "inputs.jsonl line 1: 50,001 embeddings inputs" in over.stderr


def test_start_batch_with_an_azure_profile_calls_azure_with_its_endpoint(env):
    done = batchtui("start-batch", "file-abc", "--endpoint", "/chat/completions", "--profile", "azure", env=env,
                    check=False)
    assert done.returncode == 1
    assert "/openai/batches" in done.stderr and "not one of" not in done.stderr  # the server called refused it
    refused = batchtui("start-batch", "file-abc", "--endpoint", "/v1/moderations", "--profile", "azure", env=env,
                       check=False)
    assert refused.returncode == 1
    assert "endpoint '/v1/moderations' is not one of /chat/completions, /embeddings, /responses" in refused.stderr
    openai = batchtui("start-batch", "file-abc", "--endpoint", "/chat/completions", env=env, check=False)
    assert "endpoint '/chat/completions' is not one of /v1/responses" in openai.stderr
