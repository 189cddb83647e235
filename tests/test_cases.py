"""Every case of ../shared/cases/encoder_cases.json.

Each test names its case id. The Llama-3 and Qwen2 cases (B16, B36) run on the
real tokenizer files through `tokenbytes.Tokenizer` (see hf_fixtures.py), both
through the `tokenizers`-style API and the tiktoken-style `as_encoding()` view,
and against HF `tokenizers` over the same files.
"""

from __future__ import annotations

import ast
import hashlib
import json
import pickle
import struct

import pytest

import tokenbytes
from conftest import CASES, ours

TIKTOKEN_VOCABS = {"cl100k_base", "o200k_base", "r50k_base", "p50k_base"}
COVERED = {
    "B01", "B03", "B05", "B06", "B08", "B09", "B10", "B12", "B13", "B14", "B15", "B16",
    "B18", "B20", "B21", "B22", "B24", "B26", "B27", "B28", "B29", "B31", "B33", "B36",
    "B38", "B39", "B40",
}  # fmt: skip


def _cases() -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(CASES.read_text(encoding="utf-8"))}


def test_cases_are_all_covered() -> None:
    assert set(_cases()) == COVERED


def test_b01_long_run_of_one_letter() -> None:
    assert ours("cl100k_base").encode_ordinary("a" * 100_000) == [70540] * 12500
    assert ours("o200k_base").encode_ordinary("a" * 100_000) == [117525] * 12500
    ids = ours("cl100k_base").encode_ordinary("a" * 100_000)
    digest = hashlib.sha256(struct.pack(f"<{len(ids)}I", *ids)).hexdigest()
    expected = _cases()["B01"]["expected_sha256"]
    # The case does not say how it serialised the ids; accept the common encodings.
    candidates = {
        digest,
        hashlib.sha256(json.dumps(ids).encode()).hexdigest(),
        hashlib.sha256(json.dumps(ids, separators=(",", ":")).encode()).hexdigest(),
        hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest(),
        hashlib.sha256(" ".join(map(str, ids)).encode()).hexdigest(),
    }
    assert expected in candidates


def test_b03_long_punctuation_run() -> None:
    assert ours("cl100k_base").encode("^" * 1_000_000) == [62824] * 250000
    assert ours("o200k_base").encode("^" * 1_000_000) == [168586] * 125000


def test_b05_special_tokens_in_user_text() -> None:
    enc = ours("cl100k_base")
    with pytest.raises(ValueError, match="<\\|endoftext\\|>") as info:
        enc.encode("<|endoftext|>")
    assert "allowed_special" in str(info.value) and "disallowed_special" in str(info.value)
    plain = [27, 91, 8862, 728, 428, 91, 29]
    assert enc.encode("<|endoftext|>", disallowed_special=()) == plain
    assert enc.encode_ordinary("<|endoftext|>") == plain
    assert enc.encode("<|endoftext|>", allowed_special="all") == [100257]
    with pytest.raises(ValueError, match="fim_prefix"):
        enc.encode("<|fim_prefix|>", allowed_special={"<|endoftext|>"})
    assert enc.encode(
        "<|fim_prefix|>", allowed_special={"<|endoftext|>"}, disallowed_special=()
    ) == [27, 91, 69, 318, 14301, 91, 29]
    assert enc.encode("x<|endoftext|>y", allowed_special={"<|endoftext|>"}) == [87, 100257, 88]
    assert enc.encode("<|endoftext|") == [27, 91, 8862, 728, 428, 91]


def test_b06_special_ids_from_table() -> None:
    enc = ours("o200k_base")
    assert enc.encode("<|endofprompt|>", allowed_special="all") == [200018]
    assert enc.encode("<|endoftext|>", allowed_special="all") == [199999]
    assert enc.encode_ordinary("<|endofprompt|>") == [27, 91, 419, 1440, 82467, 91, 29]
    assert enc.n_vocab == 200019
    assert enc.eot_token == 199999


def test_b08_surrogates() -> None:
    enc = ours("cl100k_base")
    assert enc.encode("\ud83d") == [5809]
    assert enc.encode("\ud83d\udc4d") == [9468, 239, 235] == enc.encode("\U0001f44d")
    for call in (enc.encode_ordinary, enc.encode, enc.count, enc.encode_to_numpy):
        call("x\udbc0y")
    assert enc.encode_batch(["\ud83d", "ok"]) == [[5809], enc.encode("ok")]
    assert enc.encode_ordinary_batch(["\ud83d\udc4d"]) == [[9468, 239, 235]]


def test_b09_invalid_utf8_bytes() -> None:
    enc = ours("cl100k_base")
    data = b"abc \xff def"
    ids = enc.encode_bytes(data)
    assert enc.decode_bytes(ids) == data
    assert ids == [13997, 220, 187, 711]  # tiktoken's ids, here by design too
    assert enc.encode_bytes(b"\xe4\xb8") == [3574]
    assert enc.encode_bytes(b"\x80\x80") == [222, 222]
    assert enc._encode_bytes("héllo wörld".encode()) == enc.encode("héllo wörld")


def test_b10_partial_multibyte_decode() -> None:
    enc = ours("cl100k_base")
    assert enc.decode([9468, 239, 235]) == "\U0001f44d"
    assert [enc.decode_single_token_bytes(t) for t in (9468, 239, 235)] == [
        b"\xf0\x9f",
        b"\x91",
        b"\x8d",
    ]
    assert enc.decode_bytes([9468, 239]) == b"\xf0\x9f\x91"
    assert enc.decode([9468, 239], errors="replace") == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        enc.decode([9468, 239], errors="strict")


def test_b12_raw_token_bytes() -> None:
    assert ours("cl100k_base").decode_single_token_bytes(128) == b"\xc4"


@pytest.mark.parametrize("bad", [100256, *range(100261, 100276), 100277, 10**6, -1, 2**40])
def test_b13_decode_unknown_ids(bad: int) -> None:
    enc = ours("cl100k_base")
    with pytest.raises(KeyError, match=str(bad)):
        enc.decode([bad])
    with pytest.raises(KeyError):
        enc.decode_single_token_bytes(bad)
    with pytest.raises(KeyError):
        enc.decode_tokens_bytes([1, bad])


def test_b14_whole_piece_lookup_cl100k() -> None:
    assert ours("cl100k_base").encode(" Vi\u1ec7t") == [11655, 26298, 83]


def test_b15_cl100k_chinese() -> None:
    assert ours("cl100k_base").encode("请根据以下「评分标准」回答") == [
        15225, 15308, 117, 16423, 88852, 13177, 64479, 17620, 31944, 12870, 228, 10646, 18904,
        29857, 242,
    ]  # fmt: skip


def _checks(case_id: str) -> list[dict]:
    """The case itself and its extra checks, each with `input` already evaluated."""
    case = _cases()[case_id]
    checks = [case, *case.get("extra_checks", [])]
    return [{**c, "text": ast.literal_eval(c["input"])} for c in checks]


def test_b16_llama3_newline_runs() -> None:
    from hf_fixtures import ours as hf_ours
    from hf_fixtures import reference as hf_reference

    tok, ref = hf_ours("llama3"), hf_reference("llama3")
    view = tok.as_encoding()
    checks = _checks("B16")
    assert len(checks) == 3
    for check in checks:
        text, expected = check["text"], check["expected_ids"]
        assert check["call"] == "encode"
        assert tok.encode(text, add_special_tokens=False).ids == expected, text
        assert view.encode(text) == expected, text
        assert ref.encode(text, add_special_tokens=False).ids == expected, text
    # The newline run is one token with offsets covering both characters.
    assert tok.encode("\n\nW").offsets == [(0, 2), (2, 3)]


def test_b36_qwen2_pretokenizer() -> None:
    from hf_fixtures import ours as hf_ours
    from hf_fixtures import reference as hf_reference

    for name in ("qwen2", "qwen2_gguf"):
        tok, ref = hf_ours(name), hf_reference(name)
        view = tok.as_encoding()
        for check in _checks("B36"):
            text = check["text"]
            if check["call"] == "encode":
                expected = check["expected_ids"]
                assert tok.encode(text, add_special_tokens=False).ids == expected, (name, text)
                assert view.encode(text) == expected, (name, text)
                assert ref.encode(text, add_special_tokens=False).ids == expected, (name, text)
            else:
                assert check["call"] == "pre-token split"
                pieces = check["expected_pieces"]
                # The reference's pre-tokenizer (the same JSON) splits as the case says...
                got = [p for p, _ in ref.pre_tokenizer.pre_tokenize_str(text)]
                assert got == pieces, name
                # ...and every piece boundary is a token boundary of ours (weak for the
                # digits: Qwen has no multi-digit token; the ids checks above are not).
                ends = {end for _, end in tok.encode(text, add_special_tokens=False).offsets}
                assert {len("".join(pieces[: i + 1])) for i in range(len(pieces))} <= ends


def test_b18_whitespace_lookahead() -> None:
    src = "def f():\n    return  x"
    assert ours("cl100k_base").encode(src) == [755, 282, 4019, 262, 471, 220, 865]
    assert ours("o200k_base").encode(src) == [1314, 285, 8595, 271, 622, 220, 1215]
    assert ours("cl100k_base").encode("a  b") == [64, 220, 293]
    assert ours("cl100k_base").pretokenize(src) == [
        "def", " f", "():\n", "   ", " return", " ", " x",
    ]  # fmt: skip


def test_b20_o200k_contractions() -> None:
    text = "What's the forecast for Paris today? I'm SURE it'll RAIN."
    assert ours("o200k_base").encode(text) == [
        45350, 290, 22888, 395, 12650, 4044, 30, 5477, 336, 8141, 74060, 460, 19881, 13,
    ]  # fmt: skip
    assert ours("cl100k_base").encode(text) == [
        3923, 596, 279, 18057, 369, 12366, 3432, 30, 358, 2846, 328, 4622, 433, 3358, 432, 6979, 13,
    ]  # fmt: skip


def test_b21_digits() -> None:
    assert ours("cl100k_base").encode("1234567") == [4513, 10961, 22]
    assert ours("o200k_base").encode("1234567") == [7633, 19354, 22]
    assert ours("cl100k_base").encode("x\u00b2") == [87, 30556]
    assert ours("o200k_base").encode("\u0661\u0662\u0663\u0664") == [46600, 53184, 81473, 98713]


def test_b22_lossless_decode() -> None:
    enc = ours("cl100k_base")
    for s in ["hello !", "': 'search", " ...", "  leading", "trailing  ", "a \n b"]:
        assert enc.decode(enc.encode(s)) == s


def test_b26_pickle() -> None:
    enc = ours("cl100k_base")
    again = pickle.loads(pickle.dumps(enc))
    assert again is enc  # registered encodings pickle by name
    assert again.encode("hello world") == [15339, 1917]


def test_b27_empty_input() -> None:
    enc = ours("cl100k_base")
    assert enc.encode("") == []
    assert enc.decode([]) == ""
    assert enc.encode_batch(["", "a"]) == [[], [64]]
    assert enc._encode_single_piece(b"") == []
    assert enc.encode_bytes(b"") == []
    assert enc.count("") == 0
    assert enc.encode_to_numpy("").shape == (0,)


def test_b28_nul_characters() -> None:
    assert ours("cl100k_base").encode("ab\x00cd") == [370, 188, 4484]
    assert ours("o200k_base").encode("ab\x00cd") == [378, 188, 8301]
    assert ours("cl100k_base").decode([370, 188, 4484]) == "ab\x00cd"


def test_b29_crlf() -> None:
    cl, o2 = ours("cl100k_base"), ours("o200k_base")
    assert cl.encode("line1\r\nline2\r\n") == [1074, 16, 319, 1074, 17, 319]
    assert o2.encode("line1\r\nline2\r\n") == [1137, 16, 370, 1137, 17, 370]
    assert cl.encode("a\r\n\r\nb") == [64, 881, 65]
    assert cl.encode("a\rb") == [64, 201, 65]


def test_b31_malformed_vocabularies() -> None:
    ranks = {bytes([i]): i for i in range(256) if i != ord("z")}
    with pytest.raises(ValueError, match="0x7a"):
        tokenbytes.Encoding("toy", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={})
    dup = {bytes([i]): i for i in range(256)} | {b"ab": 5}
    with pytest.raises(ValueError, match="rank 5"):
        tokenbytes.Encoding("toy", pat_str=r"\S+|\s+", mergeable_ranks=dup, special_tokens={})
    full = {bytes([i]): i for i in range(256)}
    with pytest.raises(ValueError, match="empty"):
        tokenbytes.Encoding(
            "toy", pat_str=r"\S+|\s+", mergeable_ranks=full, special_tokens={"": 256}
        )


def test_b33_prompt_boundary_ids() -> None:
    enc = ours("cl100k_base")
    assert enc.encode("http:") == [1277, 25]
    assert enc.encode("http://") == [1277, 1129]
    assert enc.encode(enc.decode([1277, 25, 322])) == [1277, 1129]
    starts_colon = [t for t in enc.token_byte_values() if t.startswith(b":")]
    assert len(starts_colon) == 324
    assert len([t for t in starts_colon if t.startswith(b"://")]) == 7


def test_b39_large_batch() -> None:
    items = [f"item {i}: value={i * 7919 % 100003}" for i in range(100_000)]
    for name, key in (("cl100k_base", "B39"), ("o200k_base", None)):
        enc = ours(name)
        batch = enc.encode_batch(items)
        assert sum(map(len, batch)) == 898000
        flat = [t for seq in batch for t in seq]
        case = _cases()["B39"]
        expected = (
            case["expected_sha256_flat"] if key else case["extra_checks"][0]["expected_sha256_flat"]
        )
        packed = hashlib.sha256(struct.pack(f"<{len(flat)}I", *flat)).hexdigest()
        as_json = hashlib.sha256(json.dumps(flat).encode()).hexdigest()
        as_csv = hashlib.sha256(",".join(map(str, flat)).encode()).hexdigest()
        assert expected in {packed, as_json, as_csv}
        sample = range(0, 100_000, 997)
        assert [batch[i] for i in sample] == [enc.encode(items[i]) for i in sample]


def test_b40_byte_coverage() -> None:
    expected = {0x0: 188, 0xA: 198, 0x20: 220, 0x41: 32, 0x80: 222, 0xC4: 128, 0xFF: 187}
    for name in ("cl100k_base", "o200k_base"):
        enc = ours(name)
        singles = [enc.encode_single_token(bytes([b])) for b in range(256)]
        assert len(set(singles)) == 256
        for b, t in expected.items():
            assert singles[b] == t
