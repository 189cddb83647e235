"""`tokenbytes.Tokenizer`: loaders, settings, errors, pickling and the tiktoken-style view.

Whole-corpus and property comparisons with `tokenizers` are in test_tokenizer_parity.py;
here each check is small and names what it pins down. Expected values come from the
reference (`tokenizers` 0.23.3 or tiktoken 0.14.0 over the same vocabulary), never from
tokenbytes itself.
"""

from __future__ import annotations

import json
import pickle
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hf_fixtures import (
    QWEN_SPECIALS,
    gpt2_dir,
    llama3_json_path,
    ours,
    reference,
    smollm2_gguf_path,
    tiktoken_llama3,
    tiktoken_qwen,
)

import tokenbytes
from conftest import BENCH_FILES, bench_texts, udhr_texts

Tokenizer = tokenbytes.Tokenizer


def sample_texts() -> list[str]:
    texts = [t[:3000] for c in BENCH_FILES for t in bench_texts(c)[::40]]
    texts += [t[:2000] for _, t in list(udhr_texts())[::25]]
    return texts


# ----------------------------------------------------------------------------- loaders


def test_from_file_str_buffer_agree() -> None:
    path = llama3_json_path()
    text = "Hello, world! 12345 ünïcödé"
    by_file = Tokenizer.from_file(path)
    by_str = Tokenizer.from_str(path.read_text(encoding="utf-8"))
    by_buffer = Tokenizer.from_buffer(path.read_bytes())
    expected = reference("llama3").encode(text).ids
    assert by_file.encode(text).ids == by_str.encode(text).ids == expected
    assert by_buffer.encode(text).ids == expected
    assert by_file.source == str(path)
    assert by_str.source == "<string>"
    assert str(path) in repr(by_file)


def test_vocabulary_methods_match_tokenizers() -> None:
    tok, ref = ours("llama3"), reference("llama3")
    for with_added in (True, False):
        assert tok.get_vocab_size(with_added) == ref.get_vocab_size(with_added)
        assert tok.get_vocab(with_added) == ref.get_vocab(with_added)
    for token in ["Ġthe", "<|begin_of_text|>", "hello", "not-a-token-at-all", ""]:
        assert tok.token_to_id(token) == ref.token_to_id(token)
    for i in [0, 1, 255, 9906, 127999, 128000, 128255, 128256, 10**9]:
        assert tok.id_to_token(i) == ref.id_to_token(i)
    added = ref.get_added_tokens_decoder()
    assert tok.added_tokens() == [(i, t.content, t.special) for i, t in sorted(added.items())]


def test_split_special_tokens() -> None:
    text = "<|begin_of_text|>Hi<|eot_id|> <|end_of_text|>"
    tok = Tokenizer.from_file(llama3_json_path())
    assert not tok.split_special_tokens
    ids = tok.encode(text).ids
    assert ids == reference("llama3").encode(text).ids
    assert ids[0] == 128000 and 128009 in ids
    tok.split_special_tokens = True
    assert tok.encode_special_tokens  # tokenizers' name for the same switch
    split = tok.encode(text).ids
    assert max(split) < 128000
    ref = Tokenizer.from_file(llama3_json_path(), split_special_tokens=True)
    assert ref.encode(text).ids == split
    plain = reference("llama3")
    try:
        plain.encode_special_tokens = True
        assert plain.encode(text).ids == split
    finally:
        plain.encode_special_tokens = False
    with pytest.raises(TypeError):
        tok.split_special_tokens = 1  # type: ignore[assignment]


def test_encode_batch_inputs_and_threads() -> None:
    tok, ref = ours("llama3_template"), reference("llama3_template")
    items: list[Any] = ["a b", ("first", "second"), ["list", "pair"], ""]
    got = tok.encode_batch(items)
    expected = ref.encode_batch(items)
    assert [e.ids for e in got] == [e.ids for e in expected]
    assert [e.type_ids for e in got] == [e.type_ids for e in expected]
    texts = sample_texts()
    one = Tokenizer.from_str(tok.to_str())
    one.num_threads = 1
    assert [e.ids for e in one.encode_batch(texts)] == [e.ids for e in tok.encode_batch(texts)]
    assert tok.encode_ids_batch(texts) == [e.ids for e in ref.encode_batch(texts)]
    assert [tok.encode_ids(t) for t in texts[:20]] == [ref.encode(t).ids for t in texts[:20]]
    with pytest.raises(ValueError):
        one.num_threads = 0
    with pytest.raises(TypeError):
        tok.encode_batch("not a list")  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        tok.encode("x", is_pretokenized=True)
    with pytest.raises(TypeError):
        tok.encode(b"bytes")  # type: ignore[arg-type]


def test_decode_defaults_follow_tokenizers() -> None:
    tok, ref = ours("llama3_template"), reference("llama3_template")
    ids = ref.encode("Hello there").ids
    assert ids[0] == 128000
    assert tok.decode(ids) == ref.decode(ids) == "Hello there"  # skips specials by default
    assert tok.decode(ids, skip_special_tokens=False) == "<|begin_of_text|>Hello there"
    assert tok.decode_batch([ids, ids[1:]]) == ref.decode_batch([ids, ids[1:]])
    partial = ref.encode("\U0001f44d").ids[1:2]  # a token that ends inside the emoji
    assert tok.decode(partial) == ref.decode(partial)


# ----------------------------------------------------------------------------- from_pretrained


def _copy_gpt2(tmp_path: Path) -> Path:
    folder = tmp_path / "gpt2"
    shutil.copytree(gpt2_dir(), folder)
    return folder


def test_gpt2_folder_builds_what_tokenizers_builds() -> None:
    """vocab.json + merges.txt become the same tokenizer.json as BPE.from_file + ByteLevel."""
    tok, ref = ours("gpt2"), reference("gpt2")
    assert json.loads(tok.to_str()) == json.loads(ref.to_str())
    ids = [15496, 995, 1279, 91, 437, 1659, 5239, 91, 29]
    assert tok.encode("Hello world <|endoftext|>").ids == ids


def test_gpt2_folder_with_special_tokens_map(tmp_path: Path) -> None:
    folder = _copy_gpt2(tmp_path)
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"})
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"additional_special_tokens": ["<|im_start|>"], "model_max_length": 1024})
    )
    tok = Tokenizer.from_pretrained(folder)
    ref = reference("gpt2")
    expected = Tokenizer.from_str(ref.to_str())
    assert expected.encode("a<|endoftext|>").ids == [64, 27, 91, 437, 1659, 5239, 91, 29]
    from tokenizers import AddedToken
    from tokenizers import Tokenizer as HfTokenizer

    hf = HfTokenizer.from_str(ref.to_str())
    hf.add_special_tokens([AddedToken("<|endoftext|>", normalized=False, special=True)])
    hf.add_special_tokens([AddedToken("<|im_start|>", normalized=False, special=True)])
    for text in ["a<|endoftext|>b", "<|im_start|>user\nhi<|endoftext|>", "plain"]:
        assert tok.encode(text).ids == hf.encode(text).ids
        assert tok.encode(text).offsets == hf.encode(text).offsets
    assert tok.token_to_id("<|im_start|>") == 50257
    assert tok.encode("a<|endoftext|>").ids == [64, 50256]
    assert tok.as_encoding().eot_token == 50256
    assert tok.decode([64, 50256]) == "a"


def test_gpt2_folder_add_bos_and_prefix_space(tmp_path: Path) -> None:
    folder = _copy_gpt2(tmp_path)
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"add_bos_token": True, "bos_token": "<|endoftext|>", "add_prefix_space": True})
    )
    tok = Tokenizer.from_pretrained(folder)
    from tokenizers import Tokenizer as HfTokenizer
    from tokenizers import pre_tokenizers, processors

    hf = HfTokenizer.from_str(reference("gpt2").to_str())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    hf.post_processor = processors.TemplateProcessing(
        single="<|endoftext|>:0 $A:0",
        pair="<|endoftext|>:0 $A:0 $B:1",
        special_tokens=[("<|endoftext|>", 50256)],
    )
    hf.add_special_tokens(["<|endoftext|>"])
    for args in [("Hello",), ("Hello", "world"), ("",)]:
        got, expected = tok.encode(*args), hf.encode(*args)
        assert (got.ids, got.offsets, got.type_ids) == (
            expected.ids,
            expected.offsets,
            expected.type_ids,
        )
    assert tok.encode("Hello").ids == [50256, 18435]


def test_gpt2_folder_add_bos_that_is_not_in_the_vocabulary(tmp_path: Path) -> None:
    """A config BOS token missing from vocab.json is added (id 50257, after the
    vocabulary) and put first, as transformers' GPT-2 tokenizer does."""
    folder = _copy_gpt2(tmp_path)
    for bos in ("<s>", {"content": "<s>", "special": True}):
        (folder / "tokenizer_config.json").write_text(
            json.dumps({"add_bos_token": True, "bos_token": bos})
        )
        tok = Tokenizer.from_pretrained(folder)
        assert tok.token_to_id("<s>") == 50257
        assert tok.encode("Hello").ids == [50257, 15496]
        assert tok.encode("Hello").tokens == ["<s>", "Hello"]
        assert tok.decode([50257, 15496]) == "Hello"
        assert tok.decode([50257, 15496], skip_special_tokens=False) == "<s>Hello"


def test_pretrained_folder_with_tokenizer_json(tmp_path: Path) -> None:
    shutil.copyfile(llama3_json_path(), tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})
    )
    tok = Tokenizer.from_pretrained(tmp_path)
    assert tok.encode("hi there").ids == reference("llama3").encode("hi there").ids
    assert tok.as_encoding().eot_token == 128009  # the config's eos_token
    assert len(tok.added_tokens()) == 256  # both already added: nothing appended


def test_pretrained_folder_adds_declared_specials(tmp_path: Path) -> None:
    """A special token that only the config declares is added as `tokenizers`'
    add_special_tokens would add it (next free id), and then matched in text."""
    shutil.copyfile(llama3_json_path(), tmp_path / "tokenizer.json")
    (tmp_path / "special_tokens_map.json").write_text(
        json.dumps({"additional_special_tokens": ["<|my_tool|>", "<|eot_id|>"]})
    )
    tok = Tokenizer.from_pretrained(tmp_path)
    from tokenizers import AddedToken
    from tokenizers import Tokenizer as HfTokenizer

    hf = HfTokenizer.from_file(str(llama3_json_path()))
    hf.add_special_tokens([AddedToken("<|my_tool|>", normalized=False, special=True)])
    text = "call <|my_tool|> then<|eot_id|>"
    assert tok.encode(text).ids == hf.encode(text).ids
    assert tok.token_to_id("<|my_tool|>") == hf.token_to_id("<|my_tool|>") == 128256
    assert tok.added_tokens()[-1] == (128256, "<|my_tool|>", True)
    assert len(tok.added_tokens()) == 257


def test_from_pretrained_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="never downloads"):
        Tokenizer.from_pretrained("meta-llama/Meta-Llama-3-8B")
    with pytest.raises(FileNotFoundError, match=r"no tokenizer\.json"):
        Tokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer.model").write_bytes(b"\x0a\x00")
    with pytest.raises(NotImplementedError, match="SentencePiece"):
        Tokenizer.from_pretrained(tmp_path)
    bad = _copy_gpt2(tmp_path)
    (bad / "merges.txt").write_text("#version: 0.2\nĠ t\nthree parts here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merges\.txt: line 3"):
        Tokenizer.from_pretrained(bad)
    (bad / "merges.txt").write_text("#version: 0.2\nĠ t\n", encoding="utf-8")
    (bad / "vocab.json").write_text('{"a": 0, "b": 0}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab\.json: id 0"):
        Tokenizer.from_pretrained(bad)
    (bad / "vocab.json").write_text('{"a": 0, "a": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab\.json.*'a' twice"):
        Tokenizer.from_pretrained(bad)
    (bad / "vocab.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab\.json.*not valid JSON"):
        Tokenizer.from_pretrained(bad)


# ----------------------------------------------------------------------------- bad files


def _tiny_bpe_json() -> dict[str, Any]:
    """A small byte-level BPE tokenizer.json written by `tokenizers` itself."""
    from tokenizers import Tokenizer as HfTokenizer
    from tokenizers import decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    vocab["ab"] = len(vocab)
    vocab["abc"] = len(vocab)
    hf = HfTokenizer(models.BPE(vocab, [("a", "b"), ("ab", "c")]))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    return json.loads(hf.to_str())


def test_tiny_tokenizer_loads() -> None:
    data = _tiny_bpe_json()
    tok = Tokenizer.from_str(json.dumps(data))
    from tokenizers import Tokenizer as HfTokenizer

    hf = HfTokenizer.from_str(json.dumps(data))
    assert tok.encode("abc ab abd").ids == hf.encode("abc ab abd").ids
    assert tok.encode("abc").ids == [tok.token_to_id("abc")] == [257]


def _write(tmp_path: Path, data: Any, name: str = "tokenizer.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    for text in ["{", "[]", "", '{"model": 5}', "null"]:
        path = _write(tmp_path, text)
        with pytest.raises(ValueError, match=str(path)):
            Tokenizer.from_file(path)
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"x": "\xff"}')
    with pytest.raises(ValueError, match=r"latin1\.json"):
        Tokenizer.from_file(path)


def test_merge_with_unknown_token(tmp_path: Path) -> None:
    data = _tiny_bpe_json()
    data["model"]["merges"].append(["ab", "zzz-not-in-vocab"])
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=str(path)) as info:
        Tokenizer.from_file(path)
    assert "zzz-not-in-vocab" in str(info.value)


def test_duplicate_ids(tmp_path: Path) -> None:
    data = _tiny_bpe_json()
    data["model"]["vocab"]["abc"] = data["model"]["vocab"]["ab"]
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=str(path)):
        Tokenizer.from_file(path)


def _added(content: str, id: int) -> dict[str, Any]:
    return {
        "id": id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def test_added_token_ids_that_tokenizers_would_renumber(tmp_path: Path) -> None:
    """tokenizers gives an added token that is not a model token the next id from the
    vocabulary size up, whatever the file says (it only logs a warning). Such a file, or one
    whose next id is already a model token's (two tokens, one id), is refused by name."""
    from tokenizers import Tokenizer as HfTokenizer

    data = _tiny_bpe_json()
    n = len(data["model"]["vocab"])  # 258: the next free id
    data["added_tokens"] = [_added("<s>", n), _added("ab", 256)]
    ok = json.dumps(data)
    tok, hf = Tokenizer.from_str(ok), HfTokenizer.from_str(ok)
    assert tok.token_to_id("<s>") == hf.token_to_id("<s>") == n
    assert tok.encode("ab<s>").ids == hf.encode("ab<s>").ids == [256, n]

    data["added_tokens"] = [_added("<s>", n + 5)]
    path = _write(tmp_path, data)
    assert HfTokenizer.from_file(str(path)).token_to_id("<s>") == n  # silently renumbered
    with pytest.raises(ValueError, match=str(path)) as info:
        Tokenizer.from_file(path)
    assert "<s>" in str(info.value) and str(n + 5) in str(info.value)

    gap = _tiny_bpe_json()
    gap["model"]["vocab"]["abc"] = n  # ids 0..256 and 258: the vocabulary size is 258
    gap["added_tokens"] = [_added("<s>", n)]
    path = _write(tmp_path, gap, "gap.json")
    with pytest.raises(ValueError, match=r"gap\.json") as info:
        Tokenizer.from_file(path)
    assert "already the id" in str(info.value)


def test_not_a_gguf(tmp_path: Path) -> None:
    for name, content in [("empty.gguf", b""), ("text.gguf", b"hello world" * 10)]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=name):
            Tokenizer.from_gguf(path)
    truncated = tmp_path / "truncated.gguf"
    with smollm2_gguf_path().open("rb") as f:
        truncated.write_bytes(f.read(100_000))
    with pytest.raises(ValueError, match=r"truncated\.gguf"):
        Tokenizer.from_gguf(truncated)
    with pytest.raises(FileNotFoundError):
        Tokenizer.from_gguf(tmp_path / "missing.gguf")


def test_not_a_tekken_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {"config": {}}, "tekken.json")
    with pytest.raises(ValueError, match=r"tekken\.json"):
        Tokenizer.from_tekken(path)


@cache
def _unsupported_models() -> dict[str, str]:
    from tokenizers import Tokenizer as HfTokenizer
    from tokenizers import models, pre_tokenizers

    wordpiece = HfTokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]"))
    unigram = HfTokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0), ("b", -2.0)], 0))
    wordlevel = HfTokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    metaspace = HfTokenizer.from_str(json.dumps(_tiny_bpe_json()))
    metaspace.pre_tokenizer = pre_tokenizers.Metaspace()
    return {
        "WordPiece": wordpiece.to_str(),
        "Unigram": unigram.to_str(),
        "WordLevel": wordlevel.to_str(),
        "Metaspace": metaspace.to_str(),
    }


@pytest.mark.parametrize("kind", ["WordPiece", "Unigram", "WordLevel", "Metaspace"])
def test_unsupported_models_raise_not_implemented(kind: str, tmp_path: Path) -> None:
    path = _write(tmp_path, _unsupported_models()[kind])
    with pytest.raises(NotImplementedError, match=kind):
        Tokenizer.from_file(path)


# ----------------------------------------------------------------------------- settings, pickle


def test_settings_properties_match_tokenizers() -> None:
    tok = Tokenizer.from_file(llama3_json_path())
    from tokenizers import Tokenizer as HfTokenizer

    ref = HfTokenizer.from_file(str(llama3_json_path()))
    assert tok.padding is None and tok.truncation is None
    tok.enable_padding()
    ref.enable_padding()
    assert tok.padding == ref.padding
    tok.enable_padding(
        direction="left", pad_id=5, pad_token="<pad>", length=7, pad_to_multiple_of=4
    )
    ref.enable_padding(
        direction="left", pad_id=5, pad_token="<pad>", length=7, pad_to_multiple_of=4
    )
    assert tok.padding == ref.padding
    tok.enable_truncation(10)
    ref.enable_truncation(10)
    assert tok.truncation == ref.truncation
    tok.enable_truncation(12, stride=2, strategy="only_second", direction="left")
    ref.enable_truncation(12, stride=2, strategy="only_second", direction="left")
    assert tok.truncation == ref.truncation
    assert json.loads(tok.to_str())["padding"] == json.loads(ref.to_str())["padding"]
    assert json.loads(tok.to_str())["truncation"] == json.loads(ref.to_str())["truncation"]
    # A tokenizer.json that stores settings loads with them, as in tokenizers.
    again = Tokenizer.from_str(ref.to_str())
    assert again.padding == ref.padding and again.truncation == ref.truncation
    for bad in [dict(direction="up"), dict(pad_id=-1), dict(length=-2)]:
        with pytest.raises(ValueError):
            tok.enable_padding(**bad)  # type: ignore[arg-type]
    for bad_t in [dict(strategy="bogus"), dict(direction="middle"), dict(stride=11)]:
        with pytest.raises(ValueError):
            tok.enable_truncation(10, **bad_t)  # type: ignore[arg-type]
    tok.no_padding()
    tok.no_truncation()
    assert tok.padding is None and tok.truncation is None


def test_pickle_keeps_settings(tmp_path: Path) -> None:
    tok = Tokenizer.from_str(Path(llama3_json_path()).read_text(encoding="utf-8"))
    tok.enable_truncation(5, stride=1)
    tok.enable_padding(length=8, pad_id=128001)
    tok.split_special_tokens = True
    again = pickle.loads(pickle.dumps(tok))
    assert isinstance(again, Tokenizer)
    assert again.truncation == tok.truncation and again.padding == tok.padding
    assert again.split_special_tokens
    text = "<|begin_of_text|> one two three four five six seven"
    a, b = tok.encode(text), again.encode(text)
    assert (a.ids, a.offsets, [o.ids for o in a.overflowing]) == (
        b.ids,
        b.offsets,
        [o.ids for o in b.overflowing],
    )
    tok.save(tmp_path / "saved.json")
    loaded = Tokenizer.from_file(tmp_path / "saved.json")
    assert loaded.truncation == tok.truncation and loaded.padding == tok.padding


# ----------------------------------------------------------------------------- tiktoken view


VIEWS = [("llama3", tiktoken_llama3), ("qwen2", tiktoken_qwen)]


@pytest.mark.parametrize(("name", "oracle"), VIEWS)
def test_encoding_view_matches_tiktoken(name: str, oracle: Any) -> None:
    view, ref = ours(name).as_encoding(), oracle()
    texts = sample_texts()
    assert view.encode_ordinary_batch(texts) == ref.encode_ordinary_batch(texts)
    assert view.encode_batch(texts, disallowed_special=()) == ref.encode_batch(
        texts, disallowed_special=()
    )
    for t in texts[:30]:
        assert view.encode(t) == ref.encode(t)
        assert view.count(t) == len(ref.encode(t))
        ids = ref.encode(t)
        assert view.decode(ids) == ref.decode(ids)
        assert view.decode_bytes(ids) == ref.decode_bytes(ids)
        assert view.decode_tokens_bytes(ids) == ref.decode_tokens_bytes(ids)
    assert view.n_vocab == ref.n_vocab
    assert view.max_token_value == ref.max_token_value
    assert view.special_tokens_set == ref.special_tokens_set
    assert view.token_byte_values() == ref.token_byte_values()
    for i in [0, 1, 100, 5000, 100_000]:
        assert view.decode_single_token_bytes(i) == ref.decode_single_token_bytes(i)
        assert view.encode_single_token(ref.decode_single_token_bytes(i)) == i
    special = sorted(ref.special_tokens_set)[0]
    sid = ref.encode_single_token(special)
    assert view.encode_single_token(special) == sid
    assert view.is_special_token(sid) and not view.is_special_token(0)
    text = f"before {special} after"
    with pytest.raises(ValueError, match=str(special).replace("|", r"\|")):
        view.encode(text)
    assert view.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    assert view.encode(text, allowed_special={special}) == ref.encode(
        text, allowed_special={special}
    )
    assert view.encode(text, disallowed_special=()) == ref.encode(text, disallowed_special=())
    assert view.encode_ordinary(text) == ref.encode_ordinary(text)
    with pytest.raises(KeyError):
        view.decode_single_token_bytes(10**7)
    with pytest.raises(KeyError):
        view.encode_single_token(b"\xff\xfe\xfd not a token")
    with pytest.raises(UnicodeEncodeError):  # as tiktoken: no UTF-8 bytes to look up
        view.encode_single_token("\ud800")
    # Unknown ids raise KeyError naming the id, as Encoding does, whatever their size.
    for bad in (-1, 10**7, 2**40):
        for decode in (view.decode, view.decode_bytes, view.decode_tokens_bytes):
            with pytest.raises(KeyError, match=str(bad)):
                decode([5, bad])
        with pytest.raises(KeyError, match=str(bad)):
            view.decode_batch([[5], [bad]])


def test_encoding_view_eot() -> None:
    assert ours("llama3").as_encoding().eot_token == 128001  # <|end_of_text|>
    assert ours("qwen2").as_encoding().eot_token == QWEN_SPECIALS["<|endoftext|>"]
    assert ours("llama3").as_encoding() is ours("llama3").as_encoding()


def test_smollm2_missing_bytes() -> None:
    """SmolLM2's vocabulary has no token for 21 byte values (0x04, 0xF5-0xFF ...).
    `tokenizers` drops such characters silently; the HF facade must match it, but the
    tiktoken-style view refuses them (ValueError) instead of losing text."""
    tok, ref = ours("smollm2"), reference("smollm2")
    text = "a\x04b \U0001f600 c \u00ff"
    got, expected = tok.encode(text), ref.encode(text)
    assert got.ids == expected.ids and got.offsets == expected.offsets
    missing = "x\x04y"
    assert tok.encode(missing).ids == ref.encode(missing).ids
    assert len(ref.encode(missing, add_special_tokens=False).ids) == 2  # 0x04 dropped
    with pytest.raises(ValueError):
        tok.as_encoding().encode_ordinary(missing)
    with pytest.raises(ValueError):
        tok.as_encoding().encode(missing)
    assert tok.as_encoding().encode_ordinary("xy") == ref.encode("xy", add_special_tokens=False).ids


def test_from_tekken_and_tekken_folder(tmp_path: Path) -> None:
    """Tekken through the facade equals `tokenizers` over the converted JSON (the
    conversion itself is checked against mistral-common in test_tekken.py)."""
    from pypi_cache import pypi_file
    from tokenizers import Tokenizer as HfTokenizer

    path = pypi_file("mistral-common", "1.13.1", "mistral_common/data/tekken_240911.json")
    tok = Tokenizer.from_tekken(path)
    hf = HfTokenizer.from_str(tokenbytes._core.tekken_tokenizer_json(path.read_bytes(), str(path)))
    texts = sample_texts()[::4]
    assert tok.encode_ids_batch(texts, add_special_tokens=False) == [
        e.ids for e in hf.encode_batch(texts, add_special_tokens=False)
    ]
    shutil.copyfile(path, tmp_path / "tekken.json")
    folder = Tokenizer.from_pretrained(tmp_path)
    assert folder.encode_ids("Bonjour à tous", False) == tok.encode_ids("Bonjour à tous", False)
    assert folder.as_encoding().eot_token == tok.token_to_id("</s>")


def test_smollm2_special_token_ids() -> None:
    """The GGUF's own token ids are kept: SmolLM2's chat tokens are 0-2 (as in its
    published tokenizer and the GGUF's bos/eos ids), not renumbered after the vocabulary."""
    tok = ours("smollm2")
    meta = tokenbytes._core.gguf_metadata(str(smollm2_gguf_path()))
    assert (meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"]) == (1, 2)
    ids = tok.encode("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False).ids
    assert ids[0] == 1 and ids[-1] == 2
    assert [tok.id_to_token(i) for i in range(3)] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert tok.as_encoding().eot_token == 2
    assert tok.get_vocab_size() == 49152


def test_padding_that_cannot_be_allocated_is_refused(tmp_path: Path) -> None:
    tok = Tokenizer.from_str(json.dumps(_tiny_bpe_json()))
    for kwargs in ({"length": 2**40}, {"pad_to_multiple_of": 2**40}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            tok.enable_padding(**kwargs)  # type: ignore[arg-type]
    assert tok.encode("ab").ids == [256]  # the refused setting was not kept
    tok.enable_padding(length=5, pad_id=7)
    assert tok.encode("ab").ids == [256, 7, 7, 7, 7]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pad_id", 2**40),
        ("pad_id", -1),
        ("pad_type_id", 2**33 + 1),
        ("pad_type_id", -2),
        ("pad_to_multiple_of", 2**40),
        ("strategy", {"Fixed": 2**40}),
    ],
)
def test_padding_in_the_file_is_checked_not_changed(tmp_path: Path, field: str, value: Any) -> None:
    data = _tiny_bpe_json()
    data["padding"] = {
        "strategy": "BatchLongest",
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "[PAD]",
    }
    data["padding"][field] = value
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=str(path)) as info:
        Tokenizer.from_file(path)
    assert f"padding.{'length' if field == 'strategy' else field}" in str(info.value)


def test_decode_ids_that_are_not_u32_raise_like_tokenizers() -> None:
    import numpy as np

    tok = Tokenizer.from_str(json.dumps(_tiny_bpe_json()))
    assert tok.decode([256, 99999]) == "ab"  # unknown id in range: nothing, as tokenizers
    for bad in ([-1], [2**40], [2**70], np.array([-5])):
        with pytest.raises(OverflowError, match="not a token id"):
            tok.decode(bad)
    with pytest.raises(TypeError, match="int"):
        tok.decode([1.5])  # type: ignore[list-item]
