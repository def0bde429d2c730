"""Names from outside (the API's ids and file names, config sections) never lead out of their folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchtui.core.api.downloads import cached_name
from batchtui.core.paths import UnsafePathError, inside, is_safe_name, safe_name
from batchtui.core.text import redact_url


@given(st.text(max_size=300))
def test_any_text_makes_a_safe_name_inside_its_folder(text):
    name = safe_name(text, suffix="_output.jsonl")
    assert is_safe_name(name) and name.endswith("_output.jsonl")
    assert inside(Path("/data/out"), name).parent == Path("/data/out")


@given(st.text(max_size=60), st.text(max_size=60))
def test_different_texts_never_share_a_name(one, other):
    if one != other:
        assert safe_name(one) != safe_name(other)


def test_safe_ids_keep_their_names_and_others_keep_what_they_can():
    assert cached_name("file-abc", "output", "batch_123") == "batch_123_output.jsonl"
    assert cached_name("file-abc", "error", None) == "file-abc.jsonl"
    escaping = safe_name("batch_x/../../../../any/dir/ESCAPED", suffix="_output.jsonl")
    assert escaping.startswith("batch_x_any_dir_ESCAPED-") and "/" not in escaping
    assert safe_name("my data (v2).jsonl").endswith(".jsonl") and " " not in safe_name("my data (v2).jsonl")
    for hidden in ("..", ".", ".bashrc", ""):
        assert not safe_name(hidden).startswith(".")


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", "/etc/passwd", "x\0y"])
def test_inside_refuses_a_name_that_leaves_the_folder(name):
    with pytest.raises(UnsafePathError, match="would leave the folder"):
        inside(Path("/data/out"), name)


@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:secret@host:8/v1", "http://***@host:8/v1"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ("http://h/v1?api-key=abc", "http://h/v1?***"),
    ("http://h/v1#token", "http://h/v1#***"),
    ("http://a:b@c@d/v1", "http://***@d/v1"),
])
def test_a_url_is_shown_without_its_password_or_query(url, shown):
    assert redact_url(url) == shown
