"""The domain's words: statuses that agree with each other, and metadata within OpenAI's limits."""

from __future__ import annotations

import pytest

from batchtui.core.domain import (
    ACTIVE_STATUSES,
    CANCELLABLE,
    MAIN_PATH,
    OUTCOMES,
    PHASES,
    TERMINAL_STATUSES,
    MetadataError,
    parse_metadata,
)


def test_every_status_is_active_or_terminal_and_never_both():
    assert not ACTIVE_STATUSES & TERMINAL_STATUSES
    assert {*PHASES, "cancelling", *OUTCOMES} == ACTIVE_STATUSES | TERMINAL_STATUSES
    assert CANCELLABLE < ACTIVE_STATUSES and MAIN_PATH[-1] in TERMINAL_STATUSES


def test_pairs_and_description_become_metadata_with_the_description_first():
    assert parse_metadata(["owner=ci", " b = two words "], "cli test") == {
        "description": "cli test", "owner": "ci", "b": "two words"}
    assert list(parse_metadata(["owner=ci"], "cli test")) == ["description", "owner"]
    assert parse_metadata([]) == {}
    assert parse_metadata(["empty="]) == {"empty": ""}


def test_a_pair_without_equals_names_itself():
    with pytest.raises(MetadataError, match="'novalue' is not key=value") as caught:
        parse_metadata(["novalue"])
    assert caught.value.pair == "novalue"


@pytest.mark.parametrize(
    ("pairs", "description", "error"),
    [
        (["=1"], "", "'=1' is not key=value"),
        (["a=1", "a=2"], "", "'a' is given twice"),
        (["description=y"], "x", "the Description field sets it"),
        (["k" * 64 + "=1", "v=" + "v" * 512], "d" * 512, None),
        (["k" * 65 + "=1"], "", "over 64 characters"),
        (["a=" + "v" * 513], "", "over 512 characters"),
        ([], "d" * 513, "the description is over 512 characters"),
        ([f"k{i}=v" for i in range(16)], "", None),
        ([f"k{i}=v" for i in range(16)], "x", "17 pairs with the description; at most 16"),
    ],
)
def test_openai_limits(pairs, description, error):
    if error is None:
        assert len(parse_metadata(pairs, description)) == len(pairs) + bool(description)
    else:
        with pytest.raises(MetadataError, match=error):
            parse_metadata(pairs, description)
