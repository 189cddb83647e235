"""Ids identical to tiktoken on every document of the shared corpus."""

from __future__ import annotations

import pytest

from conftest import BENCH_FILES, TIKTOKEN_ENCODINGS, bench_texts, ours, reference, udhr_texts


def _first_mismatch(a: list[list[int]], b: list[list[int]]) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), None)


@pytest.mark.parametrize("category", BENCH_FILES)
@pytest.mark.parametrize("name", TIKTOKEN_ENCODINGS)
def test_bench_corpus_identical(name: str, category: str) -> None:
    texts = bench_texts(category)
    assert len(texts) > 10
    expected = reference(name).encode_ordinary_batch(texts, num_threads=2)
    got = ours(name).encode_ordinary_batch(texts)
    bad = _first_mismatch(got, expected)
    assert bad is None, f"document {bad} of {category}: {texts[bad][:200]!r}"
    # The special-token-aware path gives the same ids when nothing is special.
    sample = texts[:: max(1, len(texts) // 50)]
    for t in sample:
        assert ours(name).encode(t, disallowed_special=()) == reference(name).encode(
            t, disallowed_special=()
        )


@pytest.mark.parametrize("name", TIKTOKEN_ENCODINGS)
def test_udhr_identical(name: str) -> None:
    docs = list(udhr_texts())
    assert len(docs) > 500
    texts = [t for _, t in docs]
    expected = reference(name).encode_ordinary_batch(texts, num_threads=2)
    got = ours(name).encode_ordinary_batch(texts)
    bad = _first_mismatch(got, expected)
    assert bad is None, f"udhr/{docs[bad][0]} differs"
    # Every document also round-trips exactly.
    assert ours(name).decode_batch(got) == texts
