"""Hypothesis properties against tiktoken."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conftest import TIKTOKEN_ENCODINGS, ours, reference

# Characters where pre-tokenizers and BPE go wrong: whitespace of every kind,
# contractions in both cases, digits of several scripts, marks, CJK, emoji.
TRICKY = list(
    " \t\n\r\x0b\x0c\x85\u00a0\u1680\u2000\u2028\u2029\u202f\u3000"
    "'’sStTdDmMlLvVeErR"
    "0123456789²³¹½\u0661\u0662\u06f1\u0966\u2167"
    "aZéÉ\u0301\u0308ſK\u01c5\u02b0ǅİıß"
    '!?.,:;-_/\\()[]{}<>|@#$%^&*~`"+='
    "日本語中文한국어עבריתالعربيةไทย"
    "👍🏽🇫🇷\u200d\ufeff\x00"
)
tricky_text = st.text(alphabet=st.sampled_from(TRICKY), max_size=60)
any_text = st.text(max_size=80)


@given(st.sampled_from(TIKTOKEN_ENCODINGS), st.one_of(tricky_text, any_text))
def test_ids_equal_tiktoken(name: str, text: str) -> None:
    assert ours(name).encode_ordinary(text) == reference(name).encode_ordinary(text)


@given(st.sampled_from(TIKTOKEN_ENCODINGS), st.one_of(tricky_text, any_text))
def test_round_trip(name: str, text: str) -> None:
    enc = ours(name)
    text = text.encode("utf-8", "replace").decode("utf-8")  # valid text only
    assert enc.decode(enc.encode_ordinary(text)) == text


@given(st.sampled_from(TIKTOKEN_ENCODINGS), st.binary(max_size=80))
def test_bytes_round_trip(name: str, data: bytes) -> None:
    enc = ours(name)
    assert enc.decode_bytes(enc.encode_bytes(data)) == data


@given(st.sampled_from(TIKTOKEN_ENCODINGS), st.text(max_size=60))
def test_valid_utf8_bytes_equal_text(name: str, text: str) -> None:
    enc = ours(name)
    text = text.encode("utf-8", "replace").decode("utf-8")
    assert enc.encode_bytes(text.encode("utf-8")) == enc.encode_ordinary(text)


@given(
    st.sampled_from(TIKTOKEN_ENCODINGS),
    st.lists(st.one_of(tricky_text, any_text), max_size=12),
    st.integers(1, 4),
)
def test_batch_equals_one_by_one(name: str, texts: list[str], threads: int) -> None:
    enc = ours(name)
    assert enc.encode_ordinary_batch(texts, num_threads=threads) == [
        enc.encode_ordinary(t) for t in texts
    ]


@given(st.sampled_from(TIKTOKEN_ENCODINGS), st.binary(min_size=1, max_size=40))
def test_single_piece_equals_tiktoken(name: str, piece: bytes) -> None:
    assert ours(name)._encode_single_piece(piece) == reference(name)._encode_single_piece(piece)
