"""Bad input gives a clear, ordinary Python exception; never a Rust panic."""

from __future__ import annotations

import base64
import gzip

import pytest

import tokenbytes
from conftest import DATA, ours
from tokenbytes.load import core_from_rank_file

PAT = r"\S+|\s+"


def _panic_type() -> type[BaseException]:
    try:
        from pyo3_runtime import PanicException  # type: ignore[import-not-found]

        return PanicException
    except ImportError:  # only exists once a panic happened somewhere
        return type("NeverRaised", (BaseException,), {})


def _rank_file(tmp_path, lines: list[bytes], name: str = "v.tiktoken"):
    p = tmp_path / name
    p.write_bytes(b"\n".join(lines) + b"\n")
    return p


def _byte_lines() -> list[bytes]:
    return [base64.b64encode(bytes([i])) + b" %d" % i for i in range(256)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ls: [*ls[:10], b"!!notbase64 10", *ls[11:]], "line 11"),
        (lambda ls: [*ls, base64.b64encode(b"ab") + b" 5"], "duplicate rank"),
        (lambda ls: [*ls, base64.b64encode(b"a") + b" 300"], "duplicate token"),
        (lambda ls: ls[:-1], "0xff"),
        (lambda ls: [*ls, b"YWI= notanumber"], "bad rank"),
        (lambda ls: [*ls, b"YWI="], "line 257"),
    ],
)
def test_malformed_rank_file_names_file_and_problem(tmp_path, mutate, message: str) -> None:
    p = _rank_file(tmp_path, mutate(_byte_lines()))
    with pytest.raises(ValueError, match=message) as info:
        core_from_rank_file(p, {}, PAT)
    assert str(p) in str(info.value)


def test_wrong_hash_names_file(tmp_path) -> None:
    p = _rank_file(tmp_path, _byte_lines())
    with pytest.raises(ValueError, match="sha256 mismatch") as info:
        core_from_rank_file(p, {}, PAT, expected_hash="0" * 64)
    assert str(p) in str(info.value)


def test_bad_gzip(tmp_path) -> None:
    p = tmp_path / "x.tiktoken.gz"
    p.write_bytes(gzip.compress(b"YQ== 0\n")[:12])
    with pytest.raises(ValueError, match="gzip"):
        tokenbytes.load_tiktoken_bpe(p)


def test_constructor_errors() -> None:
    full = {bytes([i]): i for i in range(256)}
    with pytest.raises(ValueError, match="empty"):
        tokenbytes.Encoding("t", pat_str=PAT, mergeable_ranks=full, special_tokens={"": 300})
    with pytest.raises(ValueError, match="also a mergeable rank"):
        tokenbytes.Encoding("t", pat_str=PAT, mergeable_ranks=full, special_tokens={"<s>": 5})
    # Two names may share an id, as in tiktoken's o200k_harmony.
    shared = tokenbytes.Encoding(
        "t", pat_str=PAT, mergeable_ranks=full, special_tokens={"<a>": 300, "<b>": 300}
    )
    assert shared.encode("<a><b>", allowed_special="all") == [300, 300]
    assert shared.decode([300]) == "<a>"
    with pytest.raises(ValueError, match="pattern"):
        tokenbytes.Encoding("t", pat_str="(unclosed", mergeable_ranks=full, special_tokens={})
    with pytest.raises(ValueError, match="explicit_n_vocab"):
        tokenbytes.Encoding(
            "t", pat_str=PAT, mergeable_ranks=full, special_tokens={}, explicit_n_vocab=999
        )
    with pytest.raises(ValueError, match="out of range"):
        tokenbytes.Encoding(
            "t", pat_str=PAT, mergeable_ranks={**full, b"ab": -1}, special_tokens={}
        )
    with pytest.raises(ValueError, match="empty"):
        tokenbytes.Encoding("t", pat_str=PAT, mergeable_ranks={**full, b"": 400}, special_tokens={})
    with pytest.raises(TypeError, match="bytes"):
        tokenbytes.Encoding("t", pat_str=PAT, mergeable_ranks={"a": 1}, special_tokens={})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="int"):
        tokenbytes.Encoding("t", pat_str=PAT, mergeable_ranks={b"a": "1"}, special_tokens={})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        tokenbytes.Encoding("t", pat_str=PAT, mergeable_ranks=[], special_tokens={})  # type: ignore[arg-type]


def test_type_errors() -> None:
    enc = ours("cl100k_base")
    for call in (enc.encode, enc.encode_ordinary, enc.count, enc.encode_to_numpy):
        with pytest.raises(TypeError):
            call(b"bytes are not text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            call(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        enc.encode_batch("not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        enc.encode_batch(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        enc.decode("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        enc.decode([1, "2"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        enc.decode([1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        enc.encode_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        enc.encode("x", allowed_special="everything")
    with pytest.raises(TypeError):
        enc.encode("x", allowed_special={1})  # type: ignore[arg-type]
    # A str with a lone surrogate is the right type but can name no special token.
    for arg in ("allowed_special", "disallowed_special"):
        with pytest.raises(ValueError, match=f"{arg} contains '\\\\ud800'.*lone surrogate"):
            enc.encode("x", **{arg: {"\ud800"}})
    with pytest.raises(KeyError):
        enc.encode_single_token("not a single token at all")
    # As tiktoken: a lone surrogate has no UTF-8 bytes to look up (never the bytes that
    # "surrogatepass" would make, which are no token either).
    with pytest.raises(UnicodeEncodeError):
        enc.encode_single_token("\ud800")
    with pytest.raises(TypeError):
        enc.decode({1: 2})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tokenbytes.encoding_for_model(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="explicit_n_vocab"):
        tokenbytes.Encoding(
            "t",
            pat_str=PAT,
            mergeable_ranks={bytes([i]): i for i in range(256)},
            special_tokens={},
            explicit_n_vocab="256",  # type: ignore[arg-type]
        )


def test_special_argument_none_follows_tiktoken() -> None:
    enc = ours("cl100k_base")
    # allowed_special=None is not "all" (that would let user text inject specials).
    with pytest.raises(TypeError, match="allowed_special"):
        enc.encode("<|endoftext|>", allowed_special=None)  # type: ignore[arg-type]
    # disallowed_special=None or any false value (tiktoken tests `if disallowed_special:`):
    # no check, special text is ordinary text.
    plain = enc.encode_ordinary("a<|endoftext|>b")
    for off in (None, (), set(), frozenset(), [], "", {}, 0, False):
        assert enc.encode("a<|endoftext|>b", disallowed_special=off) == plain  # type: ignore[arg-type]
    assert enc.encode("<|endoftext|>", allowed_special=["<|endoftext|>"]) == [100257]
    assert enc.encode("<|endoftext|>", allowed_special=("<|endoftext|>",)) == [100257]


def test_custom_regex_failure_is_catchable() -> None:
    full = {bytes([i]): i for i in range(256)}
    enc = tokenbytes.Encoding(
        "t", pat_str=r"\s+(?!\S)|\s+|\S", mergeable_ranks=full, special_tokens={}
    )
    try:
        enc.encode(" " * 2_000_000 + "a")
    except ValueError as e:  # the general regex engine may give up: a ValueError, not a panic
        assert "regex" in str(e)


def test_no_panic_anywhere() -> None:
    panic = _panic_type()
    enc = ours("cl100k_base")
    attempts = [
        lambda: enc.decode([2**31]),
        lambda: enc.decode([-5]),
        lambda: enc.decode_single_token_bytes(10**12),
        lambda: enc.encode("<|endoftext|>"),
        lambda: enc.encode_single_token(b""),
        lambda: enc.decode_with_offsets([9468, 239]),
        lambda: tokenbytes.Encoding("t", pat_str="", mergeable_ranks={}, special_tokens={}),
        lambda: tokenbytes.Encoding(
            "t",
            pat_str=PAT,
            mergeable_ranks={bytes([i]): i * 1000000 for i in range(256)},
            special_tokens={},
        ),
    ]
    for attempt in attempts:
        try:
            attempt()
        except panic:  # pragma: no cover - the failure this test exists for
            pytest.fail("a Rust panic reached Python")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            pass


def test_data_files_are_verified() -> None:
    from tokenbytes.load import read_rank_file
    from tokenbytes.registry import SPECS

    for spec in SPECS.values():
        read_rank_file(DATA / spec.file, spec.sha256)


def test_load_tiktoken_bpe_is_strict(tmp_path) -> None:
    p = _rank_file(tmp_path, [*_byte_lines(), base64.b64encode(b"ab") + b" 5"])
    with pytest.raises(ValueError, match="duplicate rank") as info:
        tokenbytes.load_tiktoken_bpe(p)
    assert str(p) in str(info.value) and "line 257" in str(info.value)
    p = _rank_file(tmp_path, _byte_lines()[1:], name="missing.tiktoken")
    with pytest.raises(ValueError, match="0x00"):
        tokenbytes.load_tiktoken_bpe(p)
    p = _rank_file(tmp_path, [*_byte_lines(), b"YWI= 1_000"], name="underscore.tiktoken")
    with pytest.raises(ValueError, match="bad rank"):
        tokenbytes.load_tiktoken_bpe(p)
    with pytest.raises(TypeError):
        tokenbytes.load_tiktoken_bpe(p, expected_hash=5)  # type: ignore[arg-type]
