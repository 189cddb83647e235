"""Batch-level dynamic token merging: exact parity with the slow reference
(tests/dynamic_reference.py), round trips, the word-level limit, edge cases,
embeddings and bad input."""

from __future__ import annotations

import json
import math
import os
import random
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from dynamic_reference import Result, reference_merge

import tokenbytes
from tokenbytes.dynamic import MergedBatch, embed, merge_batch

SHARED = Path(
    os.environ.get("TOKENBYTES_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)
CORPUS = SHARED / "corpus"
MODES = ["pretoken", "word", "word_hyphen", "none"]
ENCODINGS = ["cl100k_base", "o200k_base", "r50k_base"]
UDHR_LANGS = [
    "en",
    "de-1996",
    "fr",
    "tr",
    "vi",
    "ru",
    "bg",
    "el-monoton",
    "ar",
    "ur",
    "hi",
    "th",
    "zh",
    "ja",
    "sw",
]
BENCH = ["en_prose", "code", "multi_eu", "cjk"]


@cache
def enc(name: str) -> tokenbytes.Encoding:
    return tokenbytes.get_encoding(name)


@cache
def paragraphs(source: str) -> list[str]:
    """Non-empty paragraphs of a UDHR language (`udhr/xx`) or bench file (`bench/name`)."""
    kind, name = source.split("/")
    if kind == "udhr":
        text = (CORPUS / "udhr" / f"{name}.txt").read_text(encoding="utf-8")
        return [p for p in text.splitlines() if p.strip()]
    with (CORPUS / "bench" / f"{name}.jsonl").open(encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f if line.strip()]
    return [p for d in docs[:60] for p in d.split("\n\n") if p.strip()]


requires_corpus = pytest.mark.skipif(not CORPUS.exists(), reason=f"shared corpus not at {CORPUS}")


def as_result(m: MergedBatch) -> Result:
    return Result(
        ids=[x.tolist() for x in m.ids],
        vocab=m.vocab,
        merges=m.merges,
        spans=[[tuple(r) for r in s.tolist()] for s in m.spans],
        lengths_before=m.lengths_before.tolist(),
        lengths_after=m.lengths_after.tolist(),
        word_level_length=m.word_level_length,
    )


def random_batch(seed: int) -> tuple[str, list]:
    """A small random batch (2-6 snippets) from the shared corpus, as text or ids.

    Small on purpose: the reference re-counts the batch at every merge.
    Snippets are cut at random characters; id batches are sometimes cut
    inside a character (invalid UTF-8 at the end), and some batches repeat
    snippets so that counts above 1 and ties between them occur.
    """
    rng = random.Random(seed)
    name = ENCODINGS[seed % len(ENCODINGS)]
    sources = [f"udhr/{x}" for x in UDHR_LANGS] + [f"bench/{x}" for x in BENCH]
    source = rng.choice(sources)
    pool = paragraphs(source)
    texts = []
    for _ in range(rng.randint(2, 6)):
        p = rng.choice(pool)
        start = rng.randrange(max(1, len(p) - 40))
        texts.append(p[start : start + rng.randint(0, 90)])
    if rng.random() < 0.3:
        texts += rng.sample(texts, k=min(2, len(texts)))
    if seed % 2:
        e = enc(name)
        ids = [e.encode_ordinary(t) for t in texts]
        ids = [x[: rng.randint(0, len(x))] if rng.random() < 0.3 else x for x in ids]
        return name, ids
    return name, texts


def stop_rules(seed: int, l0: int) -> list[dict]:
    rng = random.Random(seed)
    return [
        {},
        {"max_merges": rng.randint(0, 12)},
        {"target_length": rng.randint(0, max(0, l0))},
        {"gap_fraction": rng.choice([0.0, 0.25, 0.5, 0.8, 1.0])},
        {"max_merges": rng.randint(0, 30), "gap_fraction": 0.6},
    ]


@requires_corpus
@pytest.mark.parametrize("seed", range(120))
def test_matches_reference_on_random_batches(seed: int) -> None:
    name, batch = random_batch(seed)
    e = enc(name)
    l0 = sum(len(e.encode_ordinary(x)) if isinstance(x, str) else len(x) for x in batch)
    for mode in MODES:
        for stop in stop_rules(seed, l0):
            got = as_result(merge_batch(e, batch, boundary=mode, **stop))
            want = reference_merge(e, batch, boundary=mode, **stop)
            assert got == want, (name, mode, stop, batch)


@requires_corpus
@pytest.mark.parametrize(("lang", "as_ids"), [("tr", False), ("hi", True), ("zh", False)])
def test_matches_reference_on_a_larger_batch(lang: str, as_ids: bool) -> None:
    e = enc("o200k_base")
    texts = [p[:200] for p in paragraphs(f"udhr/{lang}")[2:18]]
    batch = [e.encode(t)[:48] for t in texts] if as_ids else texts
    for stop in ({}, {"gap_fraction": 0.5}):
        got = as_result(merge_batch(e, batch, **stop))
        assert got == reference_merge(e, batch, **stop)


def test_ties_go_to_the_pair_seen_first() -> None:
    e = enc("cl100k_base")
    # Units (boundary none, ids): [x y] then [p q]: both pairs have count 1.
    x, y, p, q = (e.encode_single_token(t) for t in (b"x", b"y", b"p", b"q"))
    for batch, first in (([[p, q], [x, y]], (p, q)), ([[x, y], [p, q]], (x, y))):
        m = merge_batch(e, batch, boundary="none", max_merges=1)
        assert m.merges == [((first[0],), (first[1],), 1)]
        assert as_result(m) == reference_merge(e, batch, boundary="none", max_merges=1)


@pytest.mark.parametrize("seed", range(30))
def test_identity_by_bytes_on_colliding_tokens(seed: int) -> None:
    """Random id sequences over tokens like a, b, ab, ba, aa: many merges reach
    the same bytes by two paths or spell a vocabulary token."""
    e = enc("cl100k_base")
    alphabet = [
        e.encode_single_token(t)
        for t in (b"a", b"b", b"ab", b"ba", b"aa", b"bb", b" a", b" b", b"-")
    ]
    rng = random.Random(seed)
    batch = [
        [rng.choice(alphabet) for _ in range(rng.randint(0, 12))] for _ in range(rng.randint(1, 5))
    ]
    for mode in MODES:
        for stop in ({}, {"max_merges": rng.randint(0, 6)}):
            got = as_result(merge_batch(e, batch, boundary=mode, **stop))
            assert got == reference_merge(e, batch, boundary=mode, **stop), (batch, mode, stop)


def test_two_merge_paths_give_one_token() -> None:
    e = enc("cl100k_base")
    a, b, c, ab, bc = (e.encode_single_token(t) for t in (b"a", b"b", b"f", b"ab", b"bf"))
    assert b"abf" not in e._mergeable_ranks
    m = merge_batch(e, [[ab, c], [a, bc], [a, b]], boundary="none")
    assert m.ids[0].tolist() == m.ids[1].tolist()  # "abf" by two paths: one token
    assert m.vocab[m.ids[0][0]] == (ab, c)  # parts of the merge that made it first
    assert m.vocab[m.ids[2][0]] == (ab,)  # a + b spells the vocabulary token "ab"


def test_overlapping_pairs() -> None:
    e = enc("cl100k_base")
    a = e.encode_single_token(b"a")
    m = merge_batch(e, [[a] * 5], boundary="none", max_merges=1)
    assert m.merges[0][2] == 4  # (a, a) counted at every position
    assert [m.token_bytes(d) for d in m.ids[0].tolist()] == [b"aa", b"aa", b"a"]
    assert m.spans[0].tolist() == [[0, 2], [2, 4], [4, 5]]
    # "aa" is a cl100k token: the merge pools with it.
    assert m.vocab[m.ids[0][0]] == (e.encode_single_token(b"aa"),)


@requires_corpus
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_round_trip_and_word_level_limit(name: str, mode: str) -> None:
    e = enc(name)
    texts = [p for lang in ("en", "ru", "ja", "ar") for p in paragraphs(f"udhr/{lang}")[5:13]]
    full = merge_batch(e, texts, boundary=mode)
    half = merge_batch(e, texts, boundary=mode, gap_fraction=0.5)
    for m in (full, half):
        assert [m.decode(i) for i in range(len(texts))] == texts
        for i, t in enumerate(texts):
            assert m.base_ids(i) == e.encode(t)
            spans = m.spans[i]
            assert spans[0, 0] == 0 and spans[-1, 1] == len(e.encode(t))
            assert (spans[1:, 0] == spans[:-1, 1]).all()
    # No stop rule: exactly one token per unit, and no pair left.
    assert full.total_after == full.word_level_length
    assert full.gap_reduction == 1.0
    assert (
        merge_batch(e, texts, boundary=mode, max_merges=full.n_merges + 5).n_merges == full.n_merges
    )
    if mode == "pretoken":
        assert full.word_level_length == sum(len(e.pretokenize(t)) for t in texts)
        for i, t in enumerate(texts):
            assert [full.token_bytes(d).decode() for d in full.ids[i].tolist()] == e.pretokenize(t)
    assert 0.45 <= half.gap_reduction < 1.0 or full.total_before == full.word_level_length


@requires_corpus
def test_texts_and_ids_agree_and_lengths_shrink() -> None:
    e = enc("o200k_base")
    texts = paragraphs("udhr/de-1996")[3:20]
    ids = [e.encode(t) for t in texts]
    for mode in MODES:
        assert as_result(merge_batch(e, texts, boundary=mode)) == as_result(
            merge_batch(e, ids, boundary=mode)
        )
        lengths = [
            merge_batch(e, texts, boundary=mode, max_merges=k).total_after for k in range(0, 40, 4)
        ]
        assert lengths == sorted(lengths, reverse=True)


def test_stop_rules() -> None:
    e = enc("cl100k_base")
    texts = ["the cat sat on the mat with the other cats", "cats and mats"] * 3
    m0 = merge_batch(e, texts, boundary="none", max_merges=0)
    assert m0.n_merges == 0 and m0.total_after == m0.total_before
    assert merge_batch(e, texts, gap_fraction=0.0).n_merges == 0
    assert merge_batch(e, texts, target_length=10**6).n_merges == 0
    t = merge_batch(e, texts, boundary="none", target_length=20)
    assert t.total_after <= 20
    prev = merge_batch(e, texts, boundary="none", max_merges=t.n_merges - 1)
    assert prev.total_after > 20
    texts = ["internationalization of hyperparameter tokenization", "tokenization, again!"] * 3
    for f in (0.25, 0.5, 0.75):
        g = merge_batch(e, texts, boundary="word", gap_fraction=f)
        gap = g.total_before - g.word_level_length
        assert gap > 0 and g.n_merges > 0
        assert g.total_before - g.total_after >= f * gap
        before = merge_batch(e, texts, boundary="word", max_merges=g.n_merges - 1)
        assert before.total_before - before.total_after < f * gap


def test_edge_cases() -> None:
    e = enc("o200k_base")
    for batch in ([], [""], ["", ""], [[]], [[], []]):
        m = merge_batch(e, batch)
        assert len(m) == len(batch) and m.total_after == 0 and m.vocab == [] and m.merges == []
        assert m.reduction == 0.0 and m.gap_reduction == 1.0
        assert [x.tolist() for x in m.ids] == [[] for _ in batch]
    m = merge_batch(e, ["a", "b", ""], boundary="none")
    assert m.lengths_after.tolist() == [1, 1, 0] and m.n_merges == 0
    ids, mask = m.padded(pad_id=-1)
    assert ids.tolist() == [[0], [1], [-1]] and mask.tolist() == [[True], [True], [False]]


def test_special_tokens_never_merge() -> None:
    e = enc("cl100k_base")
    eot = e.eot_token
    text = "<|endoftext|>hello<|endoftext|><|endoftext|> hello<|endoftext|>"
    for mode in MODES:
        m = merge_batch(e, [text, "hello"], boundary=mode, allowed_special="all")
        assert m.decode(0) == text
        toks = [m.token_bytes(d) for d in m.ids[0].tolist()]
        assert toks == [
            b"<|endoftext|>",
            b"hello",
            b"<|endoftext|>",
            b"<|endoftext|>",
            b" hello",
            b"<|endoftext|>",
        ]
        assert m.vocab[m.ids[0][0]] == (eot,)
        assert as_result(m) == reference_merge(
            e, [text, "hello"], boundary=mode, allowed_special="all"
        )
    # The same string as ordinary text merges to one token that is *not* the special.
    m = merge_batch(e, [[eot, *e.encode_ordinary("<|endoftext|>")]], boundary="none")
    assert len(m.ids[0]) == 2 and m.ids[0][0] != m.ids[0][1]
    assert m.token_bytes(m.ids[0][1]) == b"<|endoftext|>"
    with pytest.raises(ValueError, match="disallowed special token"):
        merge_batch(e, [text])
    assert merge_batch(e, [text], disallowed_special=()).decode(0) == text


def test_single_token_sequences() -> None:
    e = enc("cl100k_base")
    batch = [[e.encode_single_token(b" the")]] * 4 + [[e.eot_token]]
    m = merge_batch(e, batch, boundary="none")
    assert m.n_merges == 0 and m.lengths_after.tolist() == [1] * 5
    assert m.vocab == [(e.encode_single_token(b" the"),), (e.eot_token,)]


def test_invalid_utf8_ids() -> None:
    e = enc("o200k_base")
    ids = e.encode("日本語のテキスト 日本")
    cut = [i for i in range(1, len(ids)) if not _valid(e.decode_bytes(ids[:i]))]
    batch = [ids[: cut[0]] if cut else ids, ids]
    for mode in MODES:
        m = merge_batch(e, batch, boundary=mode)
        assert m.decode_bytes(0) == e.decode_bytes(batch[0])
        assert as_result(m) == reference_merge(e, batch, boundary=mode)


def _valid(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_numpy_ids_and_new_token_mask() -> None:
    e = enc("cl100k_base")
    texts = ["token merging merges tokens", "merging tokens"]
    ids = [np.array(e.encode(t), dtype=np.int64) for t in texts]
    m = merge_batch(e, ids, boundary="word")
    assert as_result(m) == as_result(merge_batch(e, texts, boundary="word"))
    assert m.ids[0].dtype == np.uint32 and m.spans[0].dtype == np.int64
    assert m.new_token_mask.tolist() == [len(v) > 1 for v in m.vocab]


# ---------------------------------------------------------------- embeddings


def _merged() -> MergedBatch:
    e = enc("cl100k_base")
    return merge_batch(
        e,
        ["internationalization internationalization", "hyperparameter <|endoftext|>"],
        allowed_special="all",
    )


def test_embed_mean_and_weighted() -> None:
    m = _merged()
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((enc("cl100k_base").n_vocab, 6)).astype(np.float32)
    out = embed(m, emb)
    assert out.shape == (len(m.vocab), 6) and out.dtype == np.float32
    assert any(len(v) > 1 for v in m.vocab)
    for row, parts in zip(out, m.vocab, strict=True):
        np.testing.assert_allclose(
            row, emb[list(parts)].astype(np.float64).mean(0), rtol=1e-6, atol=1e-6
        )
        if len(parts) == 1:
            assert (row == emb[parts[0]]).all()
    w = embed(m, emb.astype(np.float64), "weighted")
    e = enc("cl100k_base")
    for row, parts in zip(w, m.vocab, strict=True):
        n = np.array([len(e.decode_single_token_bytes(p)) for p in parts], dtype=np.float64)
        np.testing.assert_allclose(row, (emb[list(parts)] * n[:, None]).sum(0) / n.sum(), rtol=1e-6)


def test_embed_hypernetwork() -> None:
    m = _merged()
    emb = np.zeros((enc("cl100k_base").n_vocab, 3))
    calls = []

    def hyper(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        calls.append((ids.copy(), mask.copy()))
        return np.stack([ids[:, 0], mask.sum(1), ids.max(1)], axis=1).astype(float)

    out = embed(m, emb, hyper, maxlen=2, pad_id=-7)
    ((ids, mask),) = calls
    new = [v for v in m.vocab if len(v) > 1]
    assert ids.shape == (len(new), 2) and ids.dtype == np.int64 and mask.dtype == bool
    assert ids.tolist() == [list(v[:2]) for v in new]  # truncated to maxlen
    assert np.all(out[~m.new_token_mask] == 0)
    out_all = embed(m, emb, hyper, maxlen=8, pad_id=-7, predict_all=True)
    ids, mask = calls[-1]
    assert ids.shape == (len(m.vocab), 8)
    assert ids[0].tolist() == list(m.vocab[0]) + [-7] * (8 - len(m.vocab[0]))
    assert out_all[:, 1].tolist() == [min(8, len(v)) for v in m.vocab]


def test_embed_bad_input() -> None:
    m = _merged()
    n = enc("cl100k_base").n_vocab
    with pytest.raises(ValueError, match="embeddings has 10 rows"):
        embed(m, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="shape"):
        embed(m, np.zeros(n))
    with pytest.raises(TypeError, match="floating"):
        embed(m, np.zeros((n, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="method"):
        embed(m, np.zeros((n, 4)), "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hypernetwork returned shape"):
        embed(m, np.zeros((n, 4)), lambda ids, mask: np.zeros((1, 4)))
    with pytest.raises(ValueError, match="maxlen"):
        embed(m, np.zeros((n, 4)), lambda ids, mask: ids, maxlen=0)
    with pytest.raises(TypeError, match="MergedBatch"):
        embed("not a batch", np.zeros((n, 4)))  # type: ignore[arg-type]
    empty = merge_batch(enc("cl100k_base"), [])
    assert embed(empty, np.zeros((5, 4), dtype=np.float16)).shape == (0, 4)


def test_budgets_beyond_any_batch_are_no_limit() -> None:
    e = enc("cl100k_base")
    texts = ["the cat sat on the mat", "the cat and the hat"]
    unlimited = as_result(merge_batch(e, texts))
    for huge in ({"max_merges": 2**70}, {"target_length": 2**70}):
        got = as_result(merge_batch(e, texts, **huge))
        if "max_merges" in huge:
            assert got == unlimited
        else:
            assert got.lengths_after == got.lengths_before  # already below the target


# ----------------------------------------------------------------- bad input


def _panic_type() -> type[BaseException]:
    try:
        from pyo3_runtime import PanicException  # type: ignore[import-not-found]
    except ImportError:
        return type("NeverRaised", (BaseException,), {})
    return PanicException


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (
            {"batch": ["a", [1, 2]]},
            TypeError,
            r"mixes strings \(batch\[0\]\) and token-id sequences \(batch\[1\]\)",
        ),
        ({"batch": [[1, 2], "a"]}, TypeError, r"batch\[1\]"),
        ({"batch": [[1, 10**7]]}, ValueError, r"batch\[0\]\[1\]"),
        ({"batch": [[5], [1, -3]]}, ValueError, r"batch\[1\]\[1\]"),
        ({"batch": [[1, 2**40]]}, ValueError, r"batch\[0\]\[1\]"),
        ({"batch": [[1, 2.0]]}, TypeError, r"batch\[0\]\[1\]"),
        ({"batch": [[1, None]]}, TypeError, r"batch\[0\]\[1\]"),
        ({"batch": [np.array([1.0])]}, TypeError, r"batch\[0\]"),
        ({"batch": [np.array([[1]])]}, ValueError, r"batch\[0\]"),
        ({"batch": [np.array([-1, 2])]}, ValueError, r"batch\[0\]"),
        ({"batch": [b"bytes"]}, TypeError, r"batch\[0\]"),
        ({"batch": [3]}, TypeError, r"batch\[0\]"),
        ({"batch": "a string"}, TypeError, "batch"),
        ({"batch": None}, TypeError, "batch"),
        ({"max_merges": -1}, ValueError, "max_merges"),
        ({"max_merges": 1.5}, TypeError, "max_merges"),
        ({"max_merges": True}, TypeError, "max_merges"),
        ({"target_length": -5}, ValueError, "target_length"),
        ({"gap_fraction": -0.1}, ValueError, "gap_fraction"),
        ({"gap_fraction": 1.5}, ValueError, "gap_fraction"),
        ({"gap_fraction": math.nan}, ValueError, "gap_fraction"),
        ({"gap_fraction": "0.5"}, TypeError, "gap_fraction"),
        ({"boundary": "words"}, ValueError, "boundary"),
        ({"boundary": None}, TypeError, "boundary"),
        ({"allowed_special": "some"}, TypeError, "allowed_special"),
        ({"tokenizer": "cl100k_base"}, TypeError, "tokenizer"),
    ],
)
def test_bad_input(kwargs: dict, exc: type[Exception], match: str) -> None:
    args = {"tokenizer": enc("cl100k_base"), "batch": ["a b", "c"], **kwargs}
    tokenizer, batch = args.pop("tokenizer"), args.pop("batch")
    with pytest.raises(exc, match=match):
        try:
            merge_batch(tokenizer, batch, **args)
        except _panic_type() as e:  # pragma: no cover - would be a bug
            pytest.fail(f"panic: {e}")


def test_bad_input_reaching_the_extension_directly() -> None:
    """The Rust functions validate on their own too (no panic, clear errors)."""
    from tokenbytes import _core

    core = enc("cl100k_base")._core
    with pytest.raises(ValueError, match="max_merges"):
        _core.dynamic_merge_ids(core, [[1]], "none", -1, None, None)
    with pytest.raises(ValueError, match="gap_fraction"):
        _core.dynamic_merge_ids(core, [[1]], "none", None, None, 2.0)
    with pytest.raises(ValueError, match="boundary"):
        _core.dynamic_merge_texts(core, ["a"], "x", None, None, None, frozenset(), "all")
    with pytest.raises(TypeError, match=r"batch\[1\]"):
        _core.dynamic_merge_texts(core, ["a", 1], "none", None, None, None, frozenset(), "all")
    with pytest.raises(ValueError, match=r"batch\[0\]\[0\]"):
        _core.dynamic_merge_ids(core, [[4_000_000_000]], "none", None, None, None)
