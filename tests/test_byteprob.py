"""Exact byte-level probabilities (issue 4) against an exact oracle.

For each tokenizer case the oracle (tests/byte_oracle.py) is the exact token
LM of a byte-level Markov source; the byte-level model must give back the
source: next-byte distributions for every prefix up to 6 bytes (1e-9,
float64), prefix probabilities (sum of cover probabilities), incremental
states equal to from-scratch ones, and sampled strings with the source's
frequencies. Plus: the tokenizer rules against the real encoders (tiktoken
ranks and Hugging Face merges), validity of the covers kept with a model
that leaks mass everywhere, ensembles, FIM with special tokens, bad input.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cache

import numpy as np
import pytest
from byte_oracle import MarkovSource, Mux, Oracle, chi2_sf, toy_source

import tokenbytes
from conftest import bench_texts, ours
from tokenbytes import _core
from tokenbytes.bytelm import ByteEnsemble, ByteLM, TokenizerSpec, tokenizer_spec
from tokenbytes.lm import CallableLM

GPT2_PATTERN = tokenbytes.get_encoding("r50k_base")._pat_str
#: The regex of Hugging Face's ByteLevel pre-tokenizer (a different string:
#: it goes through the general regex engine, not a hand-written splitter).
HF_BYTELEVEL_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
PLAIN = r"(?s).+"

#: Merges of the notes' toy vocabulary (tiktoken ranks in this order).
TOY_TOKENS = [b"aa", b"ab", b" a", b"aba", b" b", b" ab", b"bb", b"  "]
TOL = 1e-9


def toy_encoding(
    pattern: str, extra: list[bytes] = TOY_TOKENS, specials: tuple[str, ...] = ()
) -> tokenbytes.Encoding:
    ranks = {bytes([b]): b for b in range(256)}
    for t in extra:
        ranks[t] = len(ranks)
    sp = {"<|endoftext|>": len(ranks)}
    for name in specials:
        sp[name] = len(ranks) + len(sp)
    return tokenbytes.Encoding("toy", pat_str=pattern, mergeable_ranks=ranks, special_tokens=sp)


def encoding_lm(enc: tokenbytes.Encoding, source: MarkovSource, **kw) -> tuple[ByteLM, Oracle]:
    oracle = Oracle(
        source, lambda s: enc.encode_ordinary(s.decode("utf-8")), enc.n_vocab, enc.eot_token
    )
    return ByteLM(CallableLM(oracle, enc), **kw), oracle


# ---------------------------------------------------------------- HF merge lists


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in character for every byte."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = keep[:]
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, map(chr, chars), strict=True))


def hf_toy(regex: bool) -> tuple[TokenizerSpec, object]:
    """The notes' merge list with Hugging Face semantics: (" ", "ab") is not a
    merge, so " ab" is unreachable. Returns our spec and an HF tokenizer."""
    tokenizers = pytest.importorskip("tokenizers")
    b2u = _bytes_to_unicode()
    toks = [b"a", b"b", b" ", b"aa", b"ab", b" a", b"aba", b" b", b" ab", b"bb", b"  "]
    ids = {t: i for i, t in enumerate(toks)}
    pairs = [
        (b"a", b"a"),
        (b"a", b"b"),
        (b" ", b"a"),
        (b"ab", b"a"),
        (b" ", b"b"),
        (b" a", b"b"),
        (b"b", b"b"),
        (b" ", b" "),
    ]

    def u(t: bytes) -> str:
        return "".join(b2u[b] for b in t)

    model = tokenizers.models.BPE(
        vocab={u(t): i for i, t in enumerate(toks)}, merges=[(u(a), u(b)) for a, b in pairs]
    )
    hf = tokenizers.Tokenizer(model)
    hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=regex)
    spec = TokenizerSpec(
        tokens=[*toks, None],
        merges=[(ids[a], ids[b]) for a, b in pairs],
        ignore_merges=False,
        pattern=HF_BYTELEVEL_PATTERN if regex else None,
        special_tokens={"<eos>": len(toks)},
        eos_token_id=len(toks),
    )
    return spec, hf


# ---------------------------------------------------------------- the cases


def utf8_source() -> MarkovSource:
    return MarkovSource(
        symbols=[b"a", "é".encode(), "中".encode(), b" "],
        init=[0.4, 0.3, 0.2, 0.1],
        trans=[
            [0.3, 0.3, 0.1, 0.2, 0.1],
            [0.4, 0.1, 0.2, 0.2, 0.1],
            [0.2, 0.3, 0.3, 0.1, 0.1],
            [0.4, 0.3, 0.2, 0.05, 0.05],
        ],
        max_len=4,
    )


UTF8_TOKENS = [
    "é".encode(),
    "中".encode()[:2],
    "中".encode(),
    b"a\xc3",
    "aé".encode(),
    " é".encode(),
]


@cache
def case(name: str) -> tuple[ByteLM, MarkovSource, object]:
    """(byte LM, source, oracle) of a named tokenizer case."""
    if name == "plain":
        src = toy_source()
        blm, o = encoding_lm(toy_encoding(PLAIN), src)
    elif name == "gpt2":
        src = toy_source()
        blm, o = encoding_lm(toy_encoding(GPT2_PATTERN), src)
    elif name == "unreachable-plain":
        # "ba " splits into no two tokens: only a whole pre-token gives it.
        src = toy_source()
        blm, o = encoding_lm(toy_encoding(PLAIN, [*TOY_TOKENS, b"ba "]), src)
    elif name == "unreachable-gpt2":
        src = toy_source()
        blm, o = encoding_lm(toy_encoding(GPT2_PATTERN, [*TOY_TOKENS, b"ba ", b"abb"]), src)
    elif name in ("hf-plain", "hf-gpt2"):
        src = toy_source()
        spec, hf = hf_toy(regex=name == "hf-gpt2")
        n = len(spec.tokens)
        o = Oracle(src, lambda s: hf.encode(s.decode(), add_special_tokens=False).ids, n, n - 1)
        blm = ByteLM(CallableLM(o, spec))
    elif name == "utf8-plain":
        src = utf8_source()
        blm, o = encoding_lm(toy_encoding(PLAIN, UTF8_TOKENS), src)
    elif name == "utf8-gpt2":
        src = utf8_source()
        blm, o = encoding_lm(toy_encoding(GPT2_PATTERN, UTF8_TOKENS), src)
    else:
        raise KeyError(name)
    return blm, src, o


CASES = [
    "plain",
    "gpt2",
    "unreachable-plain",
    "unreachable-gpt2",
    "hf-plain",
    "hf-gpt2",
    "utf8-plain",
    "utf8-gpt2",
]


def test_the_unreachable_tokens_are_unreachable() -> None:
    blm, _, _ = case("unreachable-plain")
    assert blm.model.unreachable() == [blm.spec.tokens.index(b"ba ")]
    blm, _, _ = case("hf-plain")
    assert blm.model.unreachable() == [blm.spec.tokens.index(b" ab")]
    # The plain vocabulary keeps "ba " for the whole text "ba " only.
    enc = toy_encoding(PLAIN, [*TOY_TOKENS, b"ba "])
    assert enc.encode_ordinary("ba ") == [enc.encode_single_token(b"ba ")]
    assert len(enc.encode_ordinary("ba a")) > 1


@pytest.mark.parametrize("name", CASES)
def test_next_byte_distribution_equals_the_source(name: str) -> None:
    blm, src, _ = case(name)
    max_len = 6 if name not in ("utf8-plain", "utf8-gpt2") else 7
    prefixes = src.prefixes(max_len)
    assert len(prefixes) > 200
    worst = 0.0
    for x in prefixes:
        got = np.exp(blm.next_byte_logprobs(x))
        want = src.next_probs(x)
        err = float(np.max(np.abs(got - want)))
        worst = max(worst, err)
        assert err < TOL, (name, x, got[want > 0], want[want > 0])
    assert worst < 1e-12


@pytest.mark.parametrize("name", CASES)
def test_cover_probabilities_sum_to_the_prefix_probability(name: str) -> None:
    blm, src, _ = case(name)
    for x in src.prefixes(5):
        assert blm.prefix_logprob(x) == pytest.approx(math.log(src.prefix_prob(x)), abs=1e-12)
    for s, p in list(src.strings().items())[:200]:
        assert blm.score(s) == pytest.approx(math.log(p), abs=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_incremental_equals_from_scratch(name: str) -> None:
    blm, src, _ = case(name)
    prefixes = set(src.prefixes(6))
    # Depth-first over the prefix tree, one state per node made by advancing
    # its parent's copy by one byte.
    stack = [(b"", blm.state(b""))]
    n = 0
    while stack:
        x, st = stack.pop()
        n += 1
        inc = st.symbol_logprobs()
        scratch = blm.state(x).symbol_logprobs()
        np.testing.assert_allclose(np.exp(inc), np.exp(scratch), atol=TOL, rtol=0)
        # The chain of next-byte probabilities is the prefix probability.
        assert st.logprob == pytest.approx(math.log(src.prefix_prob(x)), abs=1e-9)
        for b in range(256):
            if x + bytes([b]) in prefixes and len(x) < 6:
                child = st.copy()
                child.advance(b)
                stack.append((x + bytes([b]), child))
    assert n == len(prefixes)


def test_rows_per_byte_incremental() -> None:
    """About one new LM row per byte once generation runs (plain BPE: one
    exact cover at a time)."""
    blm, _src, _ = case("plain")
    st = blm.state(b"")
    text = b"ab aab ba"
    for b in text:
        st.advance(b)
    st.logprobs()
    assert st.rows_fetched <= len(text) + 2


@pytest.mark.parametrize("name", ["plain", "gpt2", "hf-gpt2", "utf8-gpt2"])
def test_sampled_strings_follow_the_source(name: str) -> None:
    blm, src, _ = case(name)
    n = 1500
    counts: Counter[bytes] = Counter()
    st0 = blm.state(b"")
    rng_seeds = np.random.default_rng(123).integers(0, 2**31, n)
    from tokenbytes.bytelm import _generate

    for seed in rng_seeds:
        out, stop = _generate(st0.copy(), 64, 1.0, 1.0, int(seed), ())
        assert stop == 256
        counts[out] += 1
    # Buckets: first two symbols' bytes and whether the string is longer.
    strings = src.strings()

    def bucket(s: bytes) -> tuple[bytes, bool]:
        k = 2 if name != "utf8-gpt2" else 3
        return s[:k], len(s) > k

    expect: Counter[tuple[bytes, bool]] = Counter()
    for s, p in strings.items():
        expect[bucket(s)] += p * n
    got: Counter[tuple[bytes, bool]] = Counter()
    for s, c in counts.items():
        assert s in strings, s
        got[bucket(s)] += c
    keys = [k for k in expect if expect[k] >= 5]
    rest_e = n - sum(expect[k] for k in keys)
    rest_g = n - sum(got[k] for k in keys)
    chi2 = sum((got[k] - expect[k]) ** 2 / expect[k] for k in keys)
    dof = len(keys) - 1
    if rest_e >= 5:
        chi2 += (rest_g - rest_e) ** 2 / rest_e
        dof += 1
    assert chi2_sf(chi2, dof) > 0.001, (chi2, dof)


def test_naive_answer_is_biased_and_ours_is_not() -> None:
    """The tokenization bias of the notes (2.4): after the canonical [a] the
    next token never starts with a or b, so reading the next token's first
    byte says P(a | "a") = 0; the source says 0.6."""
    blm, _src, oracle = case("plain")
    enc = blm.lm.tokenizer
    row = oracle([enc.encode_ordinary("a")])[0]
    naive = blm.model.scatter(row)
    naive = naive - np.logaddexp.reduce(naive)
    assert np.exp(naive[ord("a")]) == pytest.approx(0.0, abs=1e-12)
    assert np.exp(blm.next_byte_logprobs(b"a")[ord("a")]) == pytest.approx(0.6, abs=TOL)


# ---------------------------------------------------------------- validity


def _valid_sequences(encode, texts: list[bytes]) -> set[tuple[int, ...]]:
    out = set()
    for t in texts:
        e = tuple(encode(t))
        for k in range(len(e) + 1):
            out.add(e[:k])
    return out


@pytest.mark.parametrize("name", ["plain", "gpt2", "hf-plain", "hf-gpt2", "unreachable-plain"])
def test_covers_kept_are_the_valid_ones(name: str) -> None:
    """With a model that puts mass on every token, the covers kept are
    exactly the prefixes of real encodings (all texts up to 8 bytes)."""
    blm, _src, _ = case(name)
    tok = blm.lm.tokenizer
    if isinstance(tok, tokenbytes.Encoding):

        def encode(t: bytes) -> list[int]:
            return tok.encode_ordinary(t.decode())
    else:
        _, hf = hf_toy(regex=name == "hf-gpt2")

        def encode(t: bytes) -> list[int]:
            return hf.encode(t.decode(), add_special_tokens=False).ids

    texts = [b""]
    level = [b""]
    for _ in range(8):
        level = [t + bytes([c]) for t in level for c in b"ab "]
        texts += level
    valid = _valid_sequences(encode, texts)
    n = blm.model.n_vocab
    uniform = np.full(n, -math.log(n))

    def leaky(ctx: list[list[int]]) -> np.ndarray:
        return np.tile(uniform, (len(ctx), 1))

    def decode(t) -> bytes:
        return b"".join(blm.spec.tokens[i] for i in t)

    kept = extra = 0
    for x in [t for t in texts if len(t) <= 4]:
        st = _core.ByteState.from_bytes(blm.model, [], x, leaky)
        exact, strad = st.covers()
        got = {tuple(t) for t, _ in exact} | {tuple(t) for t, _, _ in strad}
        for t in valid:
            d = decode(t)
            if t and d.startswith(x) and len(decode(t[:-1])) < len(x):
                assert t in got, (x, t)
        kept += len(got)
        extra += len(got - valid)
    assert extra == 0, f"{extra} of {kept} covers kept are not valid"


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_rules_match_the_real_encoder(name: str) -> None:
    """The byte model's canonical encoder equals the encoding's on real text,
    and the pair test equals re-encoding by merges on random pairs."""
    enc = ours(name)
    spec = tokenizer_spec(enc)
    model = _core.ByteModel(
        list(spec.tokens), enc.n_vocab, None, True, spec.pattern, [enc.eot_token], []
    )
    for cat in ("en_prose", "code", "multi_eu", "cjk"):
        for text in bench_texts(cat)[:20]:
            text = text[:3000]
            assert model.encode(text.encode()) == enc.encode_ordinary(text), (cat, text[:80])
    ranks = enc._mergeable_ranks
    toks = [t for t in spec.tokens if t is not None]
    rng = np.random.default_rng(0)

    def merges_only(piece: bytes) -> list[bytes]:
        parts = [bytes([b]) for b in piece]
        while True:
            best = None
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                return parts
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]

    invalid = 0
    for _ in range(3000):
        a, b = toks[rng.integers(len(toks))], toks[rng.integers(len(toks))]
        if rng.random() < 0.5:
            b = toks[rng.integers(256)]
        truth = merges_only(a + b) == [a, b]
        assert model.pair_valid(ranks[a], ranks[b]) == truth, (a, b)
        invalid += not truth
    assert invalid > 30


# ---------------------------------------------------------------- FIM, specials


def test_fim_special_tokens_in_the_context() -> None:
    """Suffix-first template: the middle continues the prefix's bytes; the
    context holds special tokens and an encoded suffix; the end of the middle
    is a stop token with its own bin."""
    enc = toy_encoding(GPT2_PATTERN, specials=("<SUF>", "<PRE>", "<EOM>"))
    sp = enc._special_tokens
    src_a = toy_source(6)
    src_b = MarkovSource(
        symbols=[b"a", b"b", b" "],
        init=[0.2, 0.5, 0.3],
        trans=[[0.2, 0.5, 0.2, 0.1], [0.5, 0.2, 0.2, 0.1], [0.3, 0.3, 0.3, 0.1]],
        max_len=6,
    )

    def encode(s: bytes) -> list[int]:
        return enc.encode_ordinary(s.decode())

    oracles = []
    for suffix, src in ((b"ab", src_a), (b"b a", src_b)):
        trunk = [sp["<SUF>"], *encode(suffix), sp["<PRE>"]]
        oracles.append(Oracle(src, encode, enc.n_vocab, sp["<EOM>"], trunk=trunk))
    blm = ByteLM(CallableLM(Mux(oracles), enc), stop_tokens=["<EOM>"])
    template = "<SUF>{suffix}<PRE>{prefix}"
    for suffix, src in ((b"ab", src_a), (b"b a", src_b)):
        for x in src.prefixes(5):
            lp = blm.fim_state(x, suffix, template).symbol_logprobs()
            assert lp.shape == (258,)
            want = src.next_probs(x)
            np.testing.assert_allclose(np.exp(lp[:256]), want[:256], atol=TOL, rtol=0)
            assert np.exp(lp[256]) == pytest.approx(0.0, abs=1e-15)
            assert np.exp(lp[257]) == pytest.approx(want[256], abs=TOL)
    # Generation stops at the end-of-middle token.
    outs = Counter(blm.fim(b"a", b"ab", template, seed=s, max_bytes=20) for s in range(300))
    full = {s[1:] for s in src_a.strings() if s.startswith(b"a")}
    assert set(outs) <= full
    assert outs[b""] / 300 == pytest.approx(src_a.next_probs(b"a")[256], abs=0.06)


def test_fim_template_errors() -> None:
    blm, _, _ = case("gpt2")
    with pytest.raises(ValueError, match="prefix"):
        blm.fim(b"a", b"b", "{suffix}")
    with pytest.raises(ValueError, match="unknown special"):
        blm.fim(b"a", b"b", "<|fim_x|>{prefix}{suffix}")


# ---------------------------------------------------------------- ensembles


def test_mixture_equals_the_true_mixture() -> None:
    """Two exact models of two sources with different tokenizers (plain BPE;
    other merges + GPT-2 regex): "mixture" gives the byte-level distribution
    of the sequence-level mixture; "average" and "product" their own rules."""
    src1 = toy_source(6)
    src2 = MarkovSource(
        symbols=[b"a", b"b", b" "],
        init=[0.1, 0.6, 0.3],
        trans=[[0.1, 0.6, 0.2, 0.1], [0.4, 0.1, 0.4, 0.1], [0.2, 0.7, 0.05, 0.05]],
        max_len=6,
    )
    m1, _ = encoding_lm(toy_encoding(PLAIN), src1)
    m2, _ = encoding_lm(toy_encoding(GPT2_PATTERN, [b"ba", b" b", b"bab", b"aa", b"  "]), src2)
    w = np.array([0.3, 0.7])
    mix = ByteEnsemble([m1, m2], weights=[3, 7], mode="mixture")
    avg = ByteEnsemble([m1, m2], weights=[3, 7], mode="average")
    prod = ByteEnsemble([m1, m2], mode="product")
    for x in sorted(set(src1.prefixes(4)) | set(src2.prefixes(4))):
        p1, p2 = src1.prefix_prob(x), src2.prefix_prob(x)
        n1, n2 = src1.next_probs(x), src2.next_probs(x)
        want = (w[0] * p1 * n1 + w[1] * p2 * n2) / (w[0] * p1 + w[1] * p2)
        np.testing.assert_allclose(np.exp(mix.next_byte_logprobs(x)), want, atol=TOL, rtol=0)
        if p1 > 0 and p2 > 0:
            np.testing.assert_allclose(
                np.exp(avg.next_byte_logprobs(x)), w[0] * n1 + w[1] * n2, atol=TOL, rtol=0
            )
            q = n1 * n2
            if q.sum() > 0:
                np.testing.assert_allclose(
                    np.exp(prod.next_byte_logprobs(x)), q / q.sum(), atol=TOL, rtol=0
                )
    # The rules differ where the members disagree (notes 2.5).
    x = b"bb"
    diff = np.exp(mix.next_byte_logprobs(x)) - np.exp(avg.next_byte_logprobs(x))
    assert np.max(np.abs(diff)) > 0.01
    # Incremental mixture = from scratch.
    st = mix.state(b"")
    for b in b"ab b":
        st.advance(b)
    np.testing.assert_allclose(
        np.exp(st.logprobs()), np.exp(mix.next_byte_logprobs(b"ab b")), atol=TOL, rtol=0
    )
    assert len(mix.sample(b"a", max_bytes=10, seed=1)) <= 10


def test_ensemble_argument_errors() -> None:
    blm, _, _ = case("plain")
    with pytest.raises(ValueError, match="mode"):
        ByteEnsemble([blm], mode="mix")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weights"):
        ByteEnsemble([blm, blm], weights=[1, -1])
    with pytest.raises(ValueError, match="members"):
        ByteEnsemble([])


# ---------------------------------------------------------------- bad input


def test_bytes_the_vocabulary_cannot_produce_have_probability_zero() -> None:
    """A vocabulary without some byte values (SmolLM2's lacks 21): those
    bytes get probability 0; prefixes with them have -inf, not an error."""
    toks = [b"a", b"b", b" ", b"ab", None]
    spec = TokenizerSpec(
        tokens=toks,
        merges=[(0, 1)],
        ignore_merges=False,
        pattern=None,
        special_tokens={"<eos>": 4},
        eos_token_id=4,
    )
    model = _core.ByteModel(toks, 5, [(0, 1)], False, None, [4], [])
    src = toy_source(5)
    oracle = Oracle(src, model.encode, 5, 4)
    blm = ByteLM(CallableLM(oracle, spec))
    lp = blm.next_byte_logprobs(b"a")
    assert lp[ord("c")] == -np.inf
    np.testing.assert_allclose(np.exp(lp), src.next_probs(b"a"), atol=TOL)
    assert np.all(blm.next_byte_logprobs(b"ac") == -np.inf)
    assert blm.prefix_logprob(b"ac") == -np.inf
    assert blm.score(b"c") == -np.inf
    st = blm.state(b"a")
    st.advance(ord("c"))
    assert st.logprob == -np.inf
    assert np.all(st.logprobs() == -np.inf)
    assert blm.sample(b"c", max_bytes=5, seed=0) == b""


def _bad_lm(kind: str):
    enc = toy_encoding(PLAIN)
    n = enc.n_vocab

    def fn(ctx: list[list[int]]) -> np.ndarray:
        rows = np.full((len(ctx), n), -math.log(n))
        if kind == "shape":
            return rows[:, :-1]
        if kind == "batch":
            return rows[:-1]
        if kind == "nan":
            rows[:, 3] = np.nan
        if kind == "inf":
            rows[:, 5] = np.inf
        if kind == "int":
            return np.zeros((len(ctx), n), dtype=np.int64)
        if kind == "list":
            return rows.tolist()  # type: ignore[return-value]
        return rows

    return ByteLM(CallableLM(fn, enc))


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("shape", r"shape \(1, 264\).*expected \(1, 265\)"),
        ("batch", r"shape \(0, 265\)"),
        ("nan", "NaN"),
        ("inf", r"\+inf"),
        ("int", "dtype int64"),
    ],
)
def test_bad_lm_rows_raise_value_error(kind: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _bad_lm(kind).next_byte_logprobs(b"ab")


def test_lm_rows_as_lists_and_float32_work() -> None:
    assert _bad_lm("list").next_byte_logprobs(b"a").shape == (257,)
    enc = toy_encoding(PLAIN)
    src = toy_source(5)
    o = Oracle(src, lambda s: enc.encode_ordinary(s.decode()), enc.n_vocab, enc.eot_token)
    blm32 = ByteLM(CallableLM(lambda c: o(c).astype(np.float32), enc))
    np.testing.assert_allclose(
        np.exp(blm32.next_byte_logprobs(b"ab")), src.next_probs(b"ab"), atol=1e-6
    )


def test_raw_state_rejects_bad_rows_with_value_error() -> None:
    enc = toy_encoding(PLAIN)
    blm = ByteLM(CallableLM(lambda c: np.zeros((len(c), enc.n_vocab)), enc))
    st = _core.ByteState(blm.model, [])
    with pytest.raises(ValueError, match="shape"):
        st.next(lambda c: np.zeros((len(c), 3)))
    with pytest.raises(TypeError, match="numpy array"):
        st.next(lambda c: "rows")
    with pytest.raises(ZeroDivisionError):
        st.next(lambda c: 1 / 0)


def test_empty_prompt_and_argument_errors() -> None:
    blm, src, _ = case("gpt2")
    np.testing.assert_allclose(np.exp(blm.next_byte_logprobs(b"")), src.next_probs(b""), atol=TOL)
    assert blm.next_byte_logprobs("a b").shape == (257,)
    with pytest.raises(TypeError, match="prompt"):
        blm.next_byte_logprobs(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="temperature"):
        blm.sample(b"", temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        blm.sample(b"", top_p=0)
    with pytest.raises(ValueError, match="byte"):
        blm.state(b"").advance(300)
    with pytest.raises(ValueError, match="not a special token"):
        ByteLM(blm.lm, stop_tokens=["<nope>"])
    with pytest.raises(TypeError, match="tokenizer"):
        ByteLM(CallableLM(lambda c: None, object()))  # type: ignore[arg-type,return-value]


def test_sampling_controls() -> None:
    blm, _src, _ = case("plain")
    # Temperature 0: the most likely byte each time.
    out = blm.sample(b"", max_bytes=4, temperature=0)
    assert out == b"aaaa"
    # top_p small: only the top byte.
    assert blm.sample(b"", max_bytes=3, top_p=1e-9, seed=3) == b"aaa"
    # A stop string ends generation and is not returned.
    for s in range(20):
        out = blm.sample(b"", max_bytes=8, seed=s, stop=[b" "])
        assert b" " not in out
