"""`tokenbytes.Tokenizer` against HF `tokenizers` 0.23.3 on real tokenizer files.

The tokenizers and their references are described in `hf_fixtures`. Checks:

* every document of ``corpus/bench/*.jsonl`` and ``corpus/udhr/*.txt``: ids and offsets
  identical (every tenth document: every field of the encoding, and decode) for Llama-3,
  Qwen2, GPT-2 and SmolLM2; the Qwen2.5-style and GGUF variants of Qwen2 on part of the
  corpus, and the GGUF one's ids on all of it against tiktoken over Qwen's rank file;
* hypothesis: random text mixing unicode, special-token strings, whitespace runs, digits
  and combining marks; every field identical, with and without ``split_special_tokens``,
  single texts and pairs;
* truncation and padding grids on single texts, pairs and batches: identical encodings,
  including overflowing windows, or an error where `tokenizers` refuses (it panics on
  some stride settings; tokenbytes raises ValueError there).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import pytest
from hf_fixtures import REAL, ours, reference, tiktoken_qwen
from hypothesis import given
from hypothesis import strategies as st

from conftest import BENCH_FILES, bench_texts, udhr_texts

WHOLE_CORPUS = ["llama3", "qwen2", "gpt2", "smollm2"]
#: Variants of Qwen2 checked on part of the corpus (the whole corpus costs ~100 s each,
#: most of it in `tokenizers`): qwen2_hf on every document that NFC changes plus every
#: 20th; qwen2_gguf on every 20th (and on all ids, against tiktoken, below).
PARTIAL_CORPUS = ["qwen2_hf", "qwen2_gguf"]
FIELDS = ("ids", "tokens", "offsets", "type_ids", "attention_mask", "special_tokens_mask")


@cache
def corpus() -> list[tuple[str, str]]:
    """(label, text) for every document of the bench corpus and the UDHR."""
    docs = [(f"{c}.jsonl#{i}", t) for c in BENCH_FILES for i, t in enumerate(bench_texts(c))]
    docs += [(f"udhr/{name}", text) for name, text in udhr_texts()]
    return docs


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fields(encoding: Any) -> dict[str, Any]:
    return {f: list(getattr(encoding, f)) for f in FIELDS}


def _check_documents(name: str, docs: Sequence[tuple[str, str]]) -> int:
    """ids and offsets of every document equal the reference's; returns the token count."""
    tok, ref = ours(name), reference(name)
    n_tokens = 0
    for chunk in _chunks(docs, 256):
        texts = [t for _, t in chunk]
        got = tok.encode_batch(texts)
        expected = ref.encode_batch(texts)
        for (label, _), g, e in zip(chunk, got, expected, strict=True):
            if g.ids != e.ids or g.offsets != e.offsets:
                _assert_same(g, e, f"{name} on {label}")
            n_tokens += len(g.ids)
    # Every tenth document: all fields, the single-text path, and decode both ways.
    for label, text in docs[::10]:
        g, e = tok.encode(text), ref.encode(text)
        _assert_same(g, e, f"{name} encode() on {label}")
        for skip in (True, False):
            assert tok.decode(e.ids, skip_special_tokens=skip) == ref.decode(
                e.ids, skip_special_tokens=skip
            ), f"{name} decode on {label}"
    return n_tokens


def _assert_same(got: Any, expected: Any, what: str) -> None:
    """Every field equal, overflowing parts included; the message shows the first diff."""
    g, e = _fields(got), _fields(expected)
    for f in FIELDS:
        if g[f] != e[f]:
            at = next(
                (i for i, (x, y) in enumerate(zip(g[f], e[f], strict=False)) if x != y),
                min(len(g[f]), len(e[f])),
            )
            pytest.fail(
                f"{what}: {f} differ at token {at}: ours {g[f][at : at + 5]} "
                f"vs tokenizers {e[f][at : at + 5]} (lengths {len(g[f])} / {len(e[f])})"
            )
    assert len(got.overflowing) == len(expected.overflowing), f"{what}: overflowing count"
    for i, (a, b) in enumerate(zip(got.overflowing, expected.overflowing, strict=True)):
        _assert_same(a, b, f"{what}, overflowing[{i}]")


# ----------------------------------------------------------------------------- corpus


@pytest.mark.slow
@pytest.mark.parametrize("name", WHOLE_CORPUS)
def test_whole_corpus_ids_and_offsets(name: str) -> None:
    docs = corpus()
    assert len(docs) > 3000
    assert _check_documents(name, docs) > 5_000_000


@pytest.mark.parametrize("name", PARTIAL_CORPUS)
def test_part_of_corpus_ids_and_offsets(name: str) -> None:
    docs = corpus()
    part = docs[::20]
    if name == "qwen2_hf":  # its NFC normalizer: every document it changes
        part += [(label, t) for label, t in docs if unicodedata.normalize("NFC", t) != t]
    assert len(part) > 150
    assert _check_documents(name, part) > 200_000


def test_qwen2_gguf_matches_tiktoken_ranks() -> None:
    """`from_gguf` on llama.cpp's Qwen2 GGUF equals tiktoken over Qwen's own rank file on
    the whole corpus (ordinary text): the GGUF conversion and our engine together against
    an oracle that shares neither (test_whole_corpus_ids_and_offsets checks the engine
    alone against tokenizers on the converted JSON)."""
    texts = [t for _, t in corpus()]
    got = ours("qwen2_gguf").encode_ids_batch(texts, add_special_tokens=False)
    expected = tiktoken_qwen().encode_ordinary_batch(texts, num_threads=2)
    bad = next((i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b), None)
    assert bad is None, f"{corpus()[bad][0]} differs"


# ----------------------------------------------------------------------------- hypothesis

HYPOTHESIS_NAMES = ["llama3_template", "qwen2_hf", "gpt2", "smollm2"]


@cache
def specials_of(name: str) -> list[str]:
    return [content for _, content, _ in ours(name).added_tokens()][:40]


@cache
def reference_split(name: str) -> Any:
    """A second reference object with ``encode_special_tokens = True``."""
    ref = REAL[name].load_reference()
    ref.encode_special_tokens = True
    return ref


FRAGMENTS = [
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "\u2028",
    "0", "7", "12", "2025", "123456", "1.5", "x=12345;", "->", "):\n", "'s", "'LL", "n't",
    "e\u0301", "\u0301", "a\u0308\u0301", "\u1100\u1161\u11a8", "Å", "Å", "ﬁ", "\U0001f44d",
    "\U0001f469\u200d\U0001f4bb", "日本語", "한국어", "ελληνικά", "кириллица", "עברית", "नमस्ते",
    "<|", "|>", "<|endoftext", "<s>", "</s>",
]  # fmt: skip


def _texts(name: str) -> st.SearchStrategy[str]:
    piece = st.one_of(
        st.text(max_size=12),
        st.sampled_from(FRAGMENTS),
        st.sampled_from(specials_of(name) or ["<|endoftext|>"]),
        st.text(alphabet=" \t\n\r", min_size=1, max_size=6),
        st.text(alphabet="0123456789", min_size=1, max_size=8),
    )
    return st.lists(piece, max_size=12).map("".join)


@pytest.mark.parametrize("name", HYPOTHESIS_NAMES)
def test_random_text_identical(name: str) -> None:
    tok = ours(name)
    split_tok = REAL[name].load_ours()
    split_tok.split_special_tokens = True

    @given(text=_texts(name), pair=st.none() | _texts(name), add=st.booleans())
    def check(text: str, pair: str | None, add: bool) -> None:
        e = reference(name).encode(text, pair, add_special_tokens=add)
        _assert_same(tok.encode(text, pair, add_special_tokens=add), e, repr((text, pair)))
        s = reference_split(name).encode(text, pair, add_special_tokens=add)
        _assert_same(split_tok.encode(text, pair, add_special_tokens=add), s, "split " + repr(text))
        for skip in (True, False):
            assert tok.decode(e.ids, skip) == reference(name).decode(e.ids, skip)

    check()


# ----------------------------------------------------------------------------- settings

SAMPLES = [
    "Hello world, this is a test of truncation.",
    "Short",
    "",
    "1234567 digits and words 'll ok\n\nnext paragraph",
    "日本語のテキストとEnglish mixed together.",
]
PAIRS = [(a, b) for a, b in itertools.product(SAMPLES[:4], SAMPLES[1:]) if a != b]


def _fresh(name: str) -> tuple[Any, Any]:
    """Our tokenizer and the reference, newly loaded (the tests change their settings)."""
    return REAL[name].load_ours(), REAL[name].load_reference()


def _same_or_both_fail(call_ours: Any, call_ref: Any, what: str) -> None:
    try:
        expected = call_ref()
    except BaseException as exc:  # tokenizers panics (PanicException) on some strides
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        with pytest.raises(ValueError):
            call_ours()
        return
    got = call_ours()
    if isinstance(expected, list):
        assert len(got) == len(expected), what
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _assert_same(g, e, f"{what}[{i}]")
    else:
        _assert_same(got, expected, what)


TRUNCATIONS = [
    dict(max_length=m, stride=s, strategy=st_, direction=d)
    for m, s, st_, d in itertools.product(
        [0, 1, 2, 5, 9],
        [0, 1, 3],
        ["longest_first", "only_first", "only_second"],
        ["right", "left"],
    )
]


@pytest.mark.parametrize("name", ["llama3_template", "gpt2"])
def test_truncation_identical(name: str) -> None:
    tok, ref = _fresh(name)
    for params in TRUNCATIONS:
        try:
            ref.enable_truncation(**params)
        except Exception:
            with pytest.raises(ValueError):
                tok.enable_truncation(**params)
            continue
        tok.enable_truncation(**params)
        assert tok.truncation == ref.truncation
        for text in SAMPLES:
            _same_or_both_fail(
                lambda t=text: tok.encode(t), lambda t=text: ref.encode(t), f"{params} {text!r}"
            )
        for a, b in PAIRS:
            _same_or_both_fail(
                lambda a=a, b=b: tok.encode(a, b),
                lambda a=a, b=b: ref.encode(a, b),
                f"{params} pair {a!r} {b!r}",
            )
    tok.no_truncation()
    ref.no_truncation()
    assert tok.truncation is None


PADDINGS = [
    dict(
        direction=d, pad_id=pid, pad_type_id=ptid, pad_token=tokname, length=n, pad_to_multiple_of=k
    )
    for d, (pid, ptid, tokname), n, k in itertools.product(
        ["right", "left"],
        [(0, 0, "[PAD]"), (128001, 3, "<|end_of_text|>")],
        [None, 4, 20],
        [None, 8],
    )
]


@pytest.mark.parametrize("name", ["llama3_template", "gpt2"])
def test_padding_identical(name: str) -> None:
    tok, ref = _fresh(name)
    for params in PADDINGS:
        ref.enable_padding(**params)
        tok.enable_padding(**params)
        assert tok.padding == ref.padding
        for text in SAMPLES:
            _assert_same(tok.encode(text), ref.encode(text), f"{params} {text!r}")
        _same_or_both_fail(
            lambda: tok.encode_batch(SAMPLES), lambda: ref.encode_batch(SAMPLES), f"{params}"
        )
        _same_or_both_fail(
            lambda: tok.encode_batch(PAIRS), lambda: ref.encode_batch(PAIRS), f"{params} pairs"
        )
        # Padding together with truncation (truncation first, then padding).
        ref.enable_truncation(6, stride=1)
        tok.enable_truncation(6, stride=1)
        _same_or_both_fail(
            lambda: tok.encode_batch(SAMPLES),
            lambda: ref.encode_batch(SAMPLES),
            f"{params} + truncation",
        )
        ref.no_truncation()
        tok.no_truncation()
    tok.no_padding()
    ref.no_padding()
    assert tok.padding is None
    _same_or_both_fail(
        lambda: tok.encode_batch(SAMPLES), lambda: ref.encode_batch(SAMPLES), "no padding"
    )


@pytest.mark.parametrize("name", ["llama3_template", "qwen2_hf"])
def test_num_special_tokens_to_add(name: str) -> None:
    tok, ref = ours(name), reference(name)
    for is_pair in (False, True):
        assert tok.num_special_tokens_to_add(is_pair) == ref.num_special_tokens_to_add(is_pair)
