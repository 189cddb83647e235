"""Mistral Tekken files as tokenizer.json (`_core.tekken_tokenizer_json`).

Reference: mistral-common 1.13.1's own `Tekkenizer.from_file(path).encode(text, bos, eos)` on
the Tekken files it ships. Tekkenizer never matches special-token text in the input (it is
encoded as ordinary text), which `tokenizers` does by default: the comparison sets
`encode_special_tokens = True` (tokenizers' switch for exactly that).
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path

import pytest
import tokenizers
from hypothesis import given
from hypothesis import strategies as st
from mistral_common.tokens.tokenizers.tekken import Tekkenizer
from pypi_cache import pypi_file

from conftest import BENCH_FILES, bench_texts, udhr_texts
from tokenbytes import _core

FILES = ["tekken_240718.json", "tekken_240911.json"]


@cache
def path(name: str) -> Path:
    return pypi_file("mistral-common", "1.13.1", f"mistral_common/data/{name}")


@cache
def converted(name: str) -> str:
    return _core.tekken_tokenizer_json(path(name).read_bytes(), str(path(name)))


@cache
def ours(name: str) -> tokenizers.Tokenizer:
    tok = tokenizers.Tokenizer.from_str(converted(name))
    tok.encode_special_tokens = True
    return tok


@cache
def theirs(name: str) -> Tekkenizer:
    return Tekkenizer.from_file(path(name))


@cache
def sample_texts() -> list[str]:
    out: list[str] = []
    for category in BENCH_FILES:
        out += bench_texts(category)[::40]
    return out + [text for _, text in list(udhr_texts())[::10]]


def mismatching(name: str, texts: list[str]) -> list[int]:
    got = ours(name).encode_batch(texts, add_special_tokens=False)
    ref = theirs(name)
    return [
        i
        for i, (g, t) in enumerate(zip(got, texts, strict=True))
        if g.ids != ref.encode(t, bos=False, eos=False)
    ]


@pytest.mark.parametrize("name", FILES)
def test_ids_equal_mistral_common(name: str) -> None:
    texts = sample_texts()
    assert len(texts) > 100
    assert mismatching(name, texts) == []


@pytest.mark.slow
def test_whole_corpus() -> None:
    texts: list[str] = []
    for category in BENCH_FILES:
        texts += bench_texts(category)
    texts += [text for _, text in udhr_texts()]
    assert mismatching("tekken_240911.json", texts) == []


@pytest.mark.parametrize("name", FILES)
def test_vocabulary_and_special_tokens(name: str) -> None:
    spec = json.loads(converted(name))
    ref = theirs(name)
    tok = tokenizers.Tokenizer.from_str(converted(name))
    # 1000 special tokens, then the first 130072 ranks shifted by 1000.
    assert tok.get_vocab_size() == ref.n_words == 131072
    assert len(spec["added_tokens"]) == ref.num_special_tokens == 1000
    for i in [0, 1, 2, 3, 4, 19, 20, 999]:
        assert tok.id_to_token(i) == ref.id_to_piece(i)
        assert tok.token_to_id(ref.id_to_piece(i)) == i
    assert spec["model"]["ignore_merges"] is True
    # tokenizers matches special-token text by default; Tekkenizer encodes it as text.
    assert tok.encode("[INST]hi", add_special_tokens=False).ids[0] == 3
    assert ours(name).encode("[INST]hi", add_special_tokens=False).ids == ref.encode(
        "[INST]hi", bos=False, eos=False
    )
    # add_special_tokens puts <s> first, as encode(bos=True).
    for text in ["Hello world", ""]:
        assert tok.encode(text).ids == ref.encode(text, bos=True, eos=False)
    # Decoding ordinary ids gives the text back.
    text = "Ünïcödé — 東京 🦙 done."
    ids = ref.encode(text, bos=False, eos=False)
    assert tok.decode(ids) == ref.decode(ids) == text


@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(list(" \t\n\r'/sS01½é́ÀaZ东\u00a0!?")),
            st.characters(codec="utf-8"),
        ),
        max_size=60,
    )
)
def test_random_text(text: str) -> None:
    name = "tekken_240911.json"
    assert ours(name).encode(text, add_special_tokens=False).ids == theirs(name).encode(
        text, bos=False, eos=False
    )


def tekken(extra: str = "", version: str = "v3", vocab: str | None = None) -> bytes:
    base = [{"rank": i, "token_bytes": _b64(bytes([i])), "token_str": None} for i in range(256)]
    body = vocab if vocab is not None else json.dumps(base)
    return (
        '{"config": {"pattern": "\\\\S+|\\\\s+", "num_vocab_tokens": 256, '
        f'"default_vocab_size": 286, "default_num_special_tokens": 30, "version": "{version}"}}, '
        f'"vocab": {body}{extra}}}'
    ).encode()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def test_small_file_converts() -> None:
    tok = tokenizers.Tokenizer.from_str(_core.tekken_tokenizer_json(tekken(), "small.json"))
    assert tok.get_vocab_size() == 286
    assert tok.encode("ab", add_special_tokens=False).ids == [30 + 97, 30 + 98]
    # Files of version <= v7 without a list: mistral-common's 20 tokens, then fillers.
    assert tok.id_to_token(5) == "[AVAILABLE_TOOLS]"
    assert tok.id_to_token(25) == "<SPECIAL_25>"
    assert tok.encode("x").ids == [1, 30 + 120]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not a Tekken tokenizer file"),
        (b"[]", "not a Tekken tokenizer file"),
        (tekken(version="v99"), "unknown Tekken version"),
        (tekken(version="v13"), "must list their special_tokens"),
        (tekken(vocab="[]"), "needs 256 ordinary tokens, the file has 0"),
        (
            tekken(
                vocab=json.dumps(
                    [{"rank": 0, "token_bytes": "!!!", "token_str": None}]
                    + [
                        {"rank": i, "token_bytes": _b64(bytes([i])), "token_str": None}
                        for i in range(1, 256)
                    ]
                )
            ),
            "vocab[0].token_bytes is not base64",
        ),
        (
            tekken(
                ',"special_tokens": [{"rank": 0, "token_str": "<s>", "is_control": true}, '
                '{"rank": 1, "token_str": "<s>", "is_control": true}]'
            ),
            'special token "<s>" appears twice',
        ),
    ],
)
def test_bad_files_raise_value_error(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        _core.tekken_tokenizer_json(data, "bad-tekken.json")
    assert str(info.value).startswith("bad-tekken.json: ")
