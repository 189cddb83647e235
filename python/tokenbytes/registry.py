"""The built-in encodings, shipped in the wheel and loaded without a network.

Rank files come from MIT-licensed PyPI packages (see the README's provenance
table) and are verified at load against the sha256 that tiktoken publishes
for each (hash of the uncompressed file).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from tokenbytes.core import Encoding
from tokenbytes.load import core_from_rank_file

__all__ = ["get_encoding", "list_encoding_names"]

DATA_DIR = Path(__file__).parent / "data"

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

#: Pre-tokenizer of GPT-2, r50k_base and p50k_base.
R50K_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)
#: Pre-tokenizer of cl100k_base.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
    r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
#: Pre-tokenizer of o200k_base.
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class EncodingSpec:
    """How to build one registered encoding."""

    name: str
    file: str
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]
    explicit_n_vocab: int | None = None


R50K_SHA = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
P50K_SHA = "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"
CL100K_SHA = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
O200K_SHA = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def _harmony_specials() -> dict[str, int]:
    """o200k_harmony's table, as tiktoken 0.14 defines it: two names share
    id 200018 (``<|endofprompt|>`` and ``<|reserved_200018|>``); the id
    decodes to ``<|endofprompt|>``."""
    named = {
        ENDOFTEXT: 199999,
        ENDOFPROMPT: 200018,
        "<|startoftext|>": 199998,
        "<|reserved_200000|>": 200000,
        "<|reserved_200001|>": 200001,
        "<|return|>": 200002,
        "<|constrain|>": 200003,
        "<|reserved_200004|>": 200004,
        "<|channel|>": 200005,
        "<|start|>": 200006,
        "<|end|>": 200007,
        "<|message|>": 200008,
        "<|reserved_200009|>": 200009,
        "<|reserved_200010|>": 200010,
        "<|reserved_200011|>": 200011,
        "<|call|>": 200012,
    }
    return named | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}


SPECS: dict[str, EncodingSpec] = {
    s.name: s
    for s in [
        EncodingSpec(
            "gpt2", "r50k_base.tiktoken.gz", R50K_SHA, R50K_PATTERN, {ENDOFTEXT: 50256}, 50257
        ),
        EncodingSpec(
            "r50k_base", "r50k_base.tiktoken.gz", R50K_SHA, R50K_PATTERN, {ENDOFTEXT: 50256}, 50257
        ),
        EncodingSpec(
            "p50k_base", "p50k_base.tiktoken.gz", P50K_SHA, R50K_PATTERN, {ENDOFTEXT: 50256}, 50281
        ),
        EncodingSpec(
            "p50k_edit",
            "p50k_base.tiktoken.gz",
            P50K_SHA,
            R50K_PATTERN,
            {ENDOFTEXT: 50256, FIM_PREFIX: 50281, FIM_MIDDLE: 50282, FIM_SUFFIX: 50283},
        ),
        EncodingSpec(
            "cl100k_base",
            "cl100k_base.tiktoken.gz",
            CL100K_SHA,
            CL100K_PATTERN,
            {
                ENDOFTEXT: 100257,
                FIM_PREFIX: 100258,
                FIM_MIDDLE: 100259,
                FIM_SUFFIX: 100260,
                ENDOFPROMPT: 100276,
            },
        ),
        EncodingSpec(
            "o200k_base",
            "o200k_base.tiktoken.gz",
            O200K_SHA,
            O200K_PATTERN,
            {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
        ),
        EncodingSpec(
            "o200k_harmony", "o200k_base.tiktoken.gz", O200K_SHA, O200K_PATTERN, _harmony_specials()
        ),
    ]
}

ENCODINGS: dict[str, Encoding] = {}
_lock = threading.Lock()


def _build(spec: EncodingSpec) -> Encoding:
    core = core_from_rank_file(DATA_DIR / spec.file, spec.special_tokens, spec.pat_str, spec.sha256)
    return Encoding._from_core(
        spec.name,
        core,
        pat_str=spec.pat_str,
        special_tokens=spec.special_tokens,
        explicit_n_vocab=spec.explicit_n_vocab,
    )


def get_encoding(encoding_name: str) -> Encoding:
    """Return the registered encoding `encoding_name` (built once, then cached).

    Raises:
        TypeError: `encoding_name` is not a str.
        ValueError: unknown name (the message lists the known ones), or a
            shipped file failed its hash check.
    """
    if not isinstance(encoding_name, str):
        raise TypeError(f"encoding_name must be a str, got {type(encoding_name).__name__}")
    enc = ENCODINGS.get(encoding_name)
    if enc is not None:
        return enc
    with _lock:
        enc = ENCODINGS.get(encoding_name)
        if enc is None:
            spec = SPECS.get(encoding_name)
            if spec is None:
                raise ValueError(
                    f"Unknown encoding {encoding_name!r}. "
                    f"Known encodings: {', '.join(list_encoding_names())}"
                )
            enc = _build(spec)
            ENCODINGS[encoding_name] = enc
        return enc


def list_encoding_names() -> list[str]:
    """Names accepted by `get_encoding`."""
    return list(SPECS)
