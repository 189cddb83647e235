"""The tiktoken-compatible surface: metadata, every encode/decode variant, loaders."""

from __future__ import annotations

import gzip
import sys

import numpy as np
import pytest

import tokenbytes
from conftest import DATA, TIKTOKEN_ENCODINGS, ours, reference

SAMPLES = [
    "hello world",
    "Héllo wörld! 你好，世界。 こんにちは",
    "def f(x):\n    return x**2  # comment\r\n",
    "   leading and trailing   ",
    "<|endoftext|> is special",
    "emoji 👍🏽 and flags 🇫🇷, NBSP\u00a0here",
    "",
]


def test_metadata_matches_tiktoken(enc_name: str) -> None:
    a, b = ours(enc_name), reference(enc_name)
    assert a.name == b.name
    assert a.n_vocab == b.n_vocab
    assert a.max_token_value == b.max_token_value
    assert a.eot_token == b.eot_token
    assert a.special_tokens_set == b.special_tokens_set
    assert a._pat_str == b._pat_str
    assert a._special_tokens == b._special_tokens


def test_mergeable_ranks_and_token_bytes(enc_name: str) -> None:
    a, b = ours(enc_name), reference(enc_name)
    assert a._mergeable_ranks == b._mergeable_ranks
    assert a.token_byte_values() == b.token_byte_values()


def test_every_variant_matches_tiktoken(enc_name: str) -> None:
    a, b = ours(enc_name), reference(enc_name)
    for s in SAMPLES:
        assert a.encode_ordinary(s) == b.encode_ordinary(s)
        assert a.encode(s, allowed_special="all") == b.encode(s, allowed_special="all")
        assert a.encode(s, disallowed_special=()) == b.encode(s, disallowed_special=())
        ids = b.encode(s, allowed_special="all")
        assert a.decode(ids) == b.decode(ids)
        assert a.decode_bytes(ids) == b.decode_bytes(ids)
        assert a.decode_tokens_bytes(ids) == b.decode_tokens_bytes(ids)
        assert a.decode_with_offsets(ids) == b.decode_with_offsets(ids)
        arr = a.encode_to_numpy(s, allowed_special="all")
        assert arr.dtype == np.uint32 and arr.tolist() == ids
        assert a.count(s, allowed_special="all") == len(ids)
        if s:  # tiktoken 0.14 panics on an empty piece (case B27); we return []
            assert a._encode_single_piece(s.encode()) == b._encode_single_piece(s.encode())
    assert a.encode_batch(SAMPLES, allowed_special="all") == b.encode_batch(
        SAMPLES, allowed_special="all"
    )
    assert a.encode_ordinary_batch(SAMPLES, num_threads=3) == b.encode_ordinary_batch(SAMPLES)
    batch = b.encode_batch(SAMPLES, allowed_special="all")
    assert a.decode_batch(batch) == b.decode_batch(batch)
    assert a.decode_bytes_batch(batch) == b.decode_bytes_batch(batch)
    for t in (0, 255, 1000, a.eot_token):
        assert a.decode_single_token_bytes(t) == b.decode_single_token_bytes(t)
        assert a.encode_single_token(b.decode_single_token_bytes(t)) == t
        assert a.is_special_token(t) == b.is_special_token(t)


def test_decode_accepts_any_int_sequence() -> None:
    enc = ours("cl100k_base")
    ids = enc.encode("hello world")
    assert enc.decode(tuple(ids)) == "hello world"
    assert enc.decode(np.array(ids, dtype=np.uint32)) == "hello world"
    assert enc.decode(np.array(ids, dtype=np.int64)) == "hello world"
    assert enc.decode(iter(ids)) == "hello world"


def test_model_mapping() -> None:
    assert tokenbytes.encoding_name_for_model("gpt-4o") == "o200k_base"
    assert tokenbytes.encoding_name_for_model("gpt-4o-2024-05-13") == "o200k_base"
    assert tokenbytes.encoding_name_for_model("gpt-4") == "cl100k_base"
    assert tokenbytes.encoding_name_for_model("gpt-3.5-turbo-0125") == "cl100k_base"
    assert tokenbytes.encoding_name_for_model("text-davinci-003") == "p50k_base"
    assert tokenbytes.encoding_name_for_model("davinci") == "r50k_base"
    assert tokenbytes.encoding_for_model("gpt-4o") is ours("o200k_base")
    with pytest.raises(KeyError):
        tokenbytes.encoding_name_for_model("no-such-model")


def test_registry() -> None:
    names = tokenbytes.list_encoding_names()
    assert set(TIKTOKEN_ENCODINGS) | {"gpt2"} <= set(names)
    assert tokenbytes.get_encoding("gpt2").encode("hello world") == ours("r50k_base").encode(
        "hello world"
    )
    with pytest.raises(ValueError, match="Known encodings"):
        tokenbytes.get_encoding("nope")
    with pytest.raises(TypeError):
        tokenbytes.get_encoding(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["o200k_harmony", "p50k_edit"])
def test_extra_encodings_match_tiktoken(name: str) -> None:
    a, b = ours(name), reference(name)
    assert a._special_tokens == b._special_tokens
    assert a.n_vocab == b.n_vocab
    for s in ["hi <|reserved_200018|> <|endofprompt|> <|start|>x<|end|>", "<|fim_middle|>"]:
        assert a.encode(s, allowed_special="all") == b.encode(s, allowed_special="all")
        assert a.encode_ordinary(s) == b.encode_ordinary(s)


def test_p50k_edit_and_harmony_specials() -> None:
    edit = tokenbytes.get_encoding("p50k_edit")
    assert edit.encode("<|fim_middle|>", allowed_special="all") == [50282]
    harmony = tokenbytes.get_encoding("o200k_harmony")
    assert harmony.encode("<|start|>x<|end|>", allowed_special="all")[0] == 200006
    assert harmony.n_vocab == 201088


def test_custom_encoding_like_tiktoken() -> None:
    base = reference("cl100k_base")
    mine = tokenbytes.Encoding(
        "cl100k_im",
        pat_str=base._pat_str,
        mergeable_ranks=base._mergeable_ranks,
        special_tokens={**base._special_tokens, "<|im_start|>": 100264, "<|im_end|>": 100265},
    )
    text = "<|im_start|>user\nhi<|im_end|>"
    assert mine.encode(text, allowed_special="all")[0] == 100264
    assert mine.encode_ordinary("hello world") == base.encode_ordinary("hello world")
    import pickle

    again = pickle.loads(pickle.dumps(mine))
    assert again.encode(text, allowed_special="all") == mine.encode(text, allowed_special="all")


def test_load_tiktoken_bpe(tmp_path) -> None:
    raw = gzip.decompress((DATA / "r50k_base.tiktoken.gz").read_bytes())
    p = tmp_path / "r50k.tiktoken"
    p.write_bytes(raw)
    ranks = tokenbytes.load_tiktoken_bpe(p)
    assert ranks == reference("r50k_base")._mergeable_ranks
    assert tokenbytes.load_tiktoken_bpe(DATA / "r50k_base.tiktoken.gz") == ranks
    # tiktoken downloads URLs; tokenbytes says it never does (not a mangled path).
    url = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"
    with pytest.raises(FileNotFoundError, match="never downloads") as err:
        tokenbytes.load_tiktoken_bpe(url)
    assert url in str(err.value)


def test_threads_argument() -> None:
    enc = ours("cl100k_base")
    with pytest.raises(ValueError, match="num_threads"):
        enc.encode_batch(["a"], num_threads=0)
    with pytest.raises(TypeError, match="num_threads"):
        enc.encode_batch(["a"], num_threads="2")  # type: ignore[arg-type]


def test_long_lists_own_one_reference_per_item() -> None:
    # Lists of 1024 ids or more are filled by writing the item array
    # directly (not through PyList_SetItem): each item must still own
    # exactly one reference, or ints would leak or be freed while in use.
    enc = ours("cl100k_base")
    text = "hello world " * 3000
    first = enc.encode_ordinary(text)
    token = first[1]  # " world", a shared int
    base = sys.getrefcount(token)
    makers = [
        lambda: enc.encode_ordinary(text),
        lambda: enc.encode(text),
        lambda: enc.encode_ordinary_batch([text] * 4, num_threads=2)[2],
        lambda: enc.encode_batch([text] * 40, num_threads=2)[39],
    ]
    for make in makers:
        ids = make()
        assert ids == first
        assert sys.getrefcount(token) == base + ids.count(token)
        del ids
        assert sys.getrefcount(token) == base


def test_long_lists_of_unshared_ids() -> None:
    # Ids above the shared-int range get a new int each: in a long list too.
    big = 3_000_000
    enc = tokenbytes.Encoding(
        name="big_special",
        pat_str=ours("r50k_base")._pat_str,
        mergeable_ranks=ours("r50k_base")._mergeable_ranks,
        special_tokens={"<|big|>": big},
    )
    ids = enc.encode("<|big|> x" * 2000, allowed_special="all")
    assert len(ids) == 4000 and ids[::2] == [big] * 2000
    assert enc.encode_batch(["<|big|>" * 1500] * 50, allowed_special="all")[49] == [big] * 1500


UNSTABLE_PROMPTS = [
    "hello wor",
    "http:",
    "def hello_wor",
    "The capital of France is",
    "x = 1\n",
    "line\n  ",
    "trailing space ",
    "数字 123",
    "naïve café",
    "a<|endoftext|>",
    "",
]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "r50k_base"])
def test_encode_with_unstable_matches_tiktoken(name: str) -> None:
    a, b = ours(name), reference(name)
    for prompt in UNSTABLE_PROMPTS:
        stable, completions = a.encode_with_unstable(prompt, allowed_special="all")
        ref_stable, ref_completions = b.encode_with_unstable(prompt, allowed_special="all")
        assert stable == ref_stable, prompt
        assert sorted(completions) == sorted(ref_completions), prompt
    stable, completions = ours("cl100k_base").encode_with_unstable("hello wor")
    assert stable == [15339] and len(completions) == 119 and [1917] in completions


def test_encode_with_unstable_survives_surrogates() -> None:
    enc = ours("cl100k_base")
    stable, completions = enc.encode_with_unstable("ab \ud83d")
    assert enc.encode("ab \ud83d")[: len(stable)] == stable
    assert completions
