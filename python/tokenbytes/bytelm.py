"""Exact byte-level probabilities and sampling from a tokenized language model.

A token-level LM together with its tokenizer defines a distribution over byte
strings. `ByteLM` computes that distribution one byte at a time, without the
bias of reading the next token off the prompt's own encoding: a prompt may
end inside a token, a word or a UTF-8 character. The method (cover encodings,
the Byte-Token Representation Lemma) is from Phan et al. 2024,
arXiv:2410.09303; validity of token sequences and pre-tokenizer branches
follow Hayase et al. 2025, arXiv:2506.14123. The cover bookkeeping and the
scatter of each next-token row into 256 + 1 byte bins run in Rust
(`tokenbytes._core.ByteState`); see the module docs of
`tokenbytes_core::byteprob` for the math.

Shapes and units: next-byte vectors have 257 entries (``[0..256)`` bytes,
``256`` the end of the text), natural-log probabilities as float64; the
"symbol" vectors add one entry per stop token (``257 + k``). Prefixes are
``bytes`` (a ``str`` is taken as UTF-8).

Target: the byte-level model of the *canonical* token process. Tokens that
the tokenizer could never produce after a context are masked out of each
next-token row and the row is renormalized over the rest (an exact model
puts no mass there anyway).

Costs: about one LM row per byte (one per exact cover; a cover that ends
where several pre-token splits are possible adds one). Rows are cached by
context.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tokenbytes import _core
from tokenbytes.core import Encoding

__all__ = [
    "ByteEnsemble",
    "ByteLM",
    "ByteLMState",
    "EnsembleState",
    "TokenizerSpec",
    "spec_from_tokenizer_json",
    "tokenizer_spec",
]

#: Index of the end-of-text entry of a next-byte vector.
END = 256

#: Pre-tokenizer patterns that keep the whole text in one piece.
_WHOLE_TEXT_PATTERNS = frozenset({r"(?s).+", r"[\s\S]+", r"(?s:.+)", r"[\s\S]*", r"(?s).*"})


@dataclass(frozen=True)
class TokenizerSpec:
    """The tokenizer as the byte-level layer needs it.

    Attributes:
        tokens: bytes of each token id (``None`` for special and unused ids).
        merges: BPE merges as ``(left id, right id)`` pairs, highest priority
            first (Hugging Face semantics), or ``None`` for tiktoken's rule
            (two adjacent pieces merge when their concatenation is a token;
            lower ids first).
        ignore_merges: a pre-token that is itself a token is emitted whole
            (always true for tiktoken).
        pattern: the pre-tokenizer regex, ``None`` for BPE on the whole text.
        special_tokens: name -> id of the special tokens.
        eos_token_id: the id that ends a text, if known.
    """

    tokens: Sequence[bytes | None]
    merges: Sequence[tuple[int, int]] | None
    ignore_merges: bool
    pattern: str | None
    special_tokens: Mapping[str, int] = field(default_factory=dict)
    eos_token_id: int | None = None


def tokenizer_spec(tokenizer: Any) -> TokenizerSpec:
    """The `TokenizerSpec` of a tokenizer.

    Accepts a `TokenizerSpec`, a `tokenbytes.Encoding` (tiktoken-style:
    ranks are ids, ``ignore_merges``, its pattern; ``<|endoftext|>`` ends the
    text), the text of a Hugging Face ``tokenizer.json`` (see
    `spec_from_tokenizer_json`), or an object with a ``byte_level_spec()``
    method returning a `TokenizerSpec`.

    Raises:
        TypeError: an unsupported tokenizer type.
        NotImplementedError: a tokenizer component the byte-level layer does
            not handle (reported by the tokenizer adapter).
    """
    if isinstance(tokenizer, TokenizerSpec):
        return tokenizer
    if isinstance(tokenizer, Encoding):
        core = tokenizer._core
        tokens: list[bytes | None] = [None] * tokenizer.n_vocab
        for b, r in core.mergeable_ranks().items():
            tokens[r] = b
        specials = core.special_tokens()
        pattern: str | None = tokenizer._pat_str
        if pattern in _WHOLE_TEXT_PATTERNS:
            pattern = None
        return TokenizerSpec(
            tokens=tokens,
            merges=None,
            ignore_merges=True,
            pattern=pattern,
            special_tokens=specials,
            eos_token_id=specials.get("<|endoftext|>"),
        )
    if isinstance(tokenizer, str) and tokenizer.lstrip().startswith("{"):
        return spec_from_tokenizer_json(tokenizer)
    spec = getattr(tokenizer, "byte_level_spec", None)
    if callable(spec):
        out = spec()
        if isinstance(out, TokenizerSpec):
            return out
    raise TypeError(
        f"unsupported tokenizer {type(tokenizer).__name__}: pass a tokenbytes.Encoding, "
        "a tokenbytes.bytelm.TokenizerSpec, or an object with byte_level_spec()"
    )


#: The regex of Hugging Face's ByteLevel pre-tokenizer (GPT-2's).
HF_BYTELEVEL_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

#: GPT-2's regex applied to the text between isolated digits (a digit split
#: first, as in SmolLM2 and StarCoder tokenizers), as one regex: digits
#: first, no digit runs, and white space may end right before a digit.
_DIGITS_THEN_BYTELEVEL = (
    r"\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+"
)


def _hf_pattern(pre: Any) -> str | None:
    r"""One regex with the boundaries of a tokenizer.json pre-tokenizer.

    Supported: none; ByteLevel (with or without its regex); an isolating
    Split by a regex followed by a regex-less ByteLevel; a split of single
    digits (Split by ``\p{N}`` or Digits with ``individual_digits``)
    followed by the GPT-2 regex.

    Raises:
        NotImplementedError: any other pre-tokenizer.
    """
    if pre is None:
        return None
    steps = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
    regexes: list[str] = []
    for st in steps:
        kind = st.get("type")
        if kind == "ByteLevel":
            if st.get("add_prefix_space"):
                raise NotImplementedError("ByteLevel with add_prefix_space is not supported")
            if st.get("use_regex", True):
                regexes.append(HF_BYTELEVEL_PATTERN)
        elif kind == "Split" and "Regex" in st.get("pattern", {}):
            if st.get("behavior") != "Isolated" or st.get("invert"):
                raise NotImplementedError(f"Split pre-tokenizer {st} is not supported")
            regexes.append(st["pattern"]["Regex"])
        elif kind == "Digits" and st.get("individual_digits"):
            regexes.append(r"\p{N}")
        else:
            raise NotImplementedError(f"pre-tokenizer {kind!r} is not supported")
    if not regexes:
        return None
    if len(regexes) == 1:
        return regexes[0]
    if regexes == [r"\p{N}", HF_BYTELEVEL_PATTERN]:
        return _DIGITS_THEN_BYTELEVEL
    raise NotImplementedError(f"pre-tokenizer sequence {regexes} is not supported")


def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-in character of every byte, reversed."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(keep)
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}


def spec_from_tokenizer_json(data: str, hf: Any = None) -> TokenizerSpec:
    """The `TokenizerSpec` of a Hugging Face ``tokenizer.json`` (byte-level
    BPE). Token bytes, merges and added tokens come from `hf` (a
    ``tokenbytes._core.HfTokenizer``; built from `data` when not given), the
    pre-tokenizer and normalizer from the JSON. Special added tokens have no
    bytes; ``</s>``-like end tokens are found by name.

    Raises:
        NotImplementedError: a normalizer, a non-BPE model or an unsupported
            pre-tokenizer.
        ValueError: malformed JSON.
    """
    import json

    try:
        cfg = json.loads(data)
    except json.JSONDecodeError as e:
        raise ValueError(f"tokenizer.json: {e}") from None
    model = cfg.get("model") or {}
    if model.get("type") != "BPE":
        raise NotImplementedError(f"model type {model.get('type')!r}: only BPE is supported")
    if cfg.get("normalizer") is not None:
        raise NotImplementedError(
            f"normalizer {cfg['normalizer'].get('type')!r}: normalizers change the bytes and "
            "are not supported by the byte-level layer"
        )
    pattern = _hf_pattern(cfg.get("pre_tokenizer"))
    if hf is None:
        hf = _core.HfTokenizer.from_str(data, "tokenizer.json")
    n = int(hf.get_vocab_size(True))
    special = {i: c for i, c, sp in hf.added_tokens() if sp}
    tokens: list[bytes | None] = [
        None if i in special else bytes(hf.token_bytes(i)) for i in range(n)
    ]
    names = {c: i for i, c in special.items()}
    eos = next((names[k] for k in ("<|endoftext|>", "</s>", "<|end_of_text|>") if k in names), None)
    return TokenizerSpec(
        tokens=tokens,
        merges=[(int(a), int(b)) for a, b in hf.merges()],
        ignore_merges=bool(hf.ignore_merges),
        pattern=pattern,
        special_tokens=names,
        eos_token_id=eos,
    )


def _as_bytes(data: bytes | str, what: str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} must be bytes or str, got {type(data).__name__}")


def _logsumexp(x: npt.NDArray[np.float64], axis: int | None = None) -> Any:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if axis is not None else float(s.reshape(()))


def _to_257(symbols: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Bytes + end, with stop tokens folded into the end entry."""
    out = symbols[:257].copy()
    if symbols.shape[0] > 257:
        out[END] = _logsumexp(symbols[END:])
    return out


def _choose(
    logp: npt.NDArray[np.float64], temperature: float, top_p: float, rng: np.random.Generator
) -> int:
    """Sample an index of `logp` (temperature and nucleus act on these probabilities)."""
    finite = np.isfinite(logp)
    if temperature == 0.0:
        return int(np.argmax(np.where(finite, logp, -np.inf)))
    z = np.where(finite, logp / temperature, -np.inf)
    z = z - np.max(z)
    p = np.exp(z)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p, side="left")) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return int(rng.choice(p.shape[0], p=p))


def _check_sampling(max_bytes: int, temperature: float, top_p: float) -> None:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
    if not (
        isinstance(temperature, (int, float)) and temperature >= 0 and math.isfinite(temperature)
    ):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")


class ByteLM:
    """The byte-level model of a token-level LM.

    Args:
        lm: an LM (`tokenbytes.lm.LM`): ``logprobs(prefixes) -> [B, V]``
            next-token log-probabilities and a ``tokenizer``.
        tokenizer: the tokenizer, if not ``lm.tokenizer``.
        end_tokens: ids (or special-token names) that end a text; default
            ``lm.eos_token_id``, else the tokenizer's end-of-text token.
        stop_tokens: further special tokens that end a text with their own
            entry in the symbol vectors (FIM end-of-middle markers, chat
            end-of-turn).
        bos: id prepended to every context; ``"auto"``: ``lm.bos_token_id``
            if ``lm.add_bos``; ``None``: nothing (the empty context).
        cache_bytes: memory for cached LM rows.

    Raises:
        TypeError: unsupported LM or tokenizer.
        ValueError: inconsistent tokenizer data, unknown special tokens, or a
            row length that does not match the tokenizer.
    """

    def __init__(
        self,
        lm: Any,
        *,
        tokenizer: Any = None,
        end_tokens: Sequence[int | str] | None = None,
        stop_tokens: Sequence[int | str] = (),
        bos: int | Literal["auto"] | None = "auto",
        cache_bytes: int = 256 << 20,
    ) -> None:
        if not callable(getattr(lm, "logprobs", None)):
            raise TypeError(f"lm must have a logprobs(prefixes) method, got {type(lm).__name__}")
        self.lm = lm
        tok = tokenizer if tokenizer is not None else getattr(lm, "tokenizer", None)
        if tok is None:
            raise TypeError("no tokenizer: pass tokenizer= or give the LM a .tokenizer")
        self.spec = tokenizer_spec(tok)
        n_vocab = getattr(lm, "n_vocab", None) or len(self.spec.tokens)
        if end_tokens is None:
            eos = getattr(lm, "eos_token_id", None)
            if eos is None:
                eos = self.spec.eos_token_id
            end_ids = [] if eos is None else [eos]
        else:
            end_ids = [self._special_id(t, "end_tokens") for t in end_tokens]
        stop_ids = [self._special_id(t, "stop_tokens") for t in stop_tokens]
        self.model = _core.ByteModel(
            list(self.spec.tokens),
            int(n_vocab),
            None if self.spec.merges is None else list(self.spec.merges),
            self.spec.ignore_merges,
            self.spec.pattern,
            end_ids,
            stop_ids,
        )
        self.stop_ids = stop_ids
        if bos == "auto":
            b = getattr(lm, "bos_token_id", None)
            bos = b if getattr(lm, "add_bos", False) else None
        self._bos: list[int] = [] if bos is None else [int(bos)]
        self._cache: OrderedDict[tuple[int, ...], npt.NDArray[np.floating]] = OrderedDict()
        self._cache_rows = max(16, int(cache_bytes) // (8 * int(n_vocab)))
        #: LM calls and rows computed (not served from the cache).
        self.lm_calls = 0
        self.rows_computed = 0

    def _special_id(self, t: int | str, what: str) -> int:
        if isinstance(t, str):
            if t not in self.spec.special_tokens:
                raise ValueError(f"{what}: {t!r} is not a special token of the tokenizer")
            return int(self.spec.special_tokens[t])
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise TypeError(f"{what} must hold ints or special-token names, got {t!r}")
        return int(t)

    @classmethod
    def from_gguf(
        cls,
        path: str | os.PathLike[str],
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        bos: int | Literal["auto"] | None = "auto",
        end_tokens: Sequence[int | str] | None = None,
        stop_tokens: Sequence[int | str] = (),
        verbose: bool = False,
        cache_bytes: int = 256 << 20,
    ) -> ByteLM:
        """The byte-level model of a GGUF model file, run on the CPU by
        ``xllamacpp`` (`tokenbytes.lm.XLlamaCppLM`), with the tokenizer stored
        in the file (`tokenbytes.Tokenizer.from_gguf`).

        Defaults from the file's ``tokenizer.ggml.*`` metadata:

        * ``bos="auto"``: ``bos_token_id`` when ``add_bos_token`` is set; else
          the tokenizer's end-of-text token (``<|endoftext|>``, ``</s>``):
          documents start after it in pretraining; else ``bos_token_id``.
          Every context starts with this id (the runtime needs a non-empty
          context).
        * ``end_tokens=None``: ``eos_token_id`` and the end-of-text token
          both end a text (for a chat model they differ, e.g. SmolLM2-Instruct
          ``<|im_end|>`` and ``<|endoftext|>``).

        Args:
            path: the ``.gguf`` file.
            n_ctx: the runtime's context window (tokens).
            n_threads: CPU threads (``None``: the runtime's default).
            bos, end_tokens, stop_tokens, cache_bytes: as in `ByteLM`.
            verbose: let llama.cpp log to stderr.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not a GGUF file, or malformed (naming the file).
            NotImplementedError: a tokenizer that is not byte-level BPE, or a
                pre-tokenizer the byte-level layer does not handle.
            ImportError: ``xllamacpp`` is not installed.
            RuntimeError: the runtime cannot load the model.
        """
        from tokenbytes.lm import XLlamaCppLM
        from tokenbytes.tokenizer import Tokenizer

        tok = Tokenizer.from_gguf(path)
        spec = tok.byte_level_spec()
        meta = _core.gguf_metadata(str(path))

        def meta_id(key: str) -> int | None:
            v = meta.get(f"tokenizer.ggml.{key}")
            ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(spec.tokens)
            return int(v) if ok else None  # type: ignore[arg-type]

        eos, meta_bos = meta_id("eos_token_id"), meta_id("bos_token_id")
        if bos == "auto":
            if meta.get("tokenizer.ggml.add_bos_token") is True and meta_bos is not None:
                bos = meta_bos
            else:
                bos = spec.eos_token_id if spec.eos_token_id is not None else meta_bos
            if bos is None:
                raise ValueError(f"{path}: no BOS or end-of-text token to start contexts with")
        if end_tokens is None:
            end_tokens = list(dict.fromkeys(t for t in (eos, spec.eos_token_id) if t is not None))
        try:
            import xllamacpp  # noqa: F401
        except ImportError:
            raise ImportError(
                "ByteLM.from_gguf runs the model with xllamacpp: pip install xllamacpp"
            ) from None
        lm = XLlamaCppLM(
            str(path),
            spec,
            n_ctx=n_ctx,
            n_threads=n_threads,
            eos_token_id=eos,
            bos_token_id=meta_bos,
            verbosity=None if verbose else -1,
        )
        return cls(
            lm, end_tokens=end_tokens, stop_tokens=stop_tokens, bos=bos, cache_bytes=cache_bytes
        )

    def naive_next_byte_logprobs(self, prefix: bytes | str) -> npt.NDArray[np.float64]:
        """The token-level answer that `next_byte_logprobs` corrects: encode
        `prefix` canonically, take the LM's next-token row after it, and add
        up each token's probability under its first byte (end tokens at
        index 256, stop tokens folded in). Shape ``[257]`` float64, natural
        log, not renormalized (mass on other special tokens is left out, so
        the total is at most 1). Biased whenever the prefix may end inside a
        token: the row only offers tokens that *follow* the prefix's last
        token. One LM row (shared with the cache).
        """
        p = _as_bytes(prefix, "prefix")
        ids = [*self._bos, *self.model.encode(p)]
        if not ids:
            raise ValueError("an empty context: give a prompt or a bos token")
        row = self._fetch([ids])[0]
        return _to_257(self.model.scatter(row))

    # ---------------------------------------------------------------- LM rows

    def _fetch(self, contexts: list[list[int]]) -> npt.NDArray[np.floating]:
        """Rows for `contexts` (full token sequences), from the cache or the LM."""
        out: list[Any] = [None] * len(contexts)
        missing: list[int] = []
        for i, c in enumerate(contexts):
            k = tuple(c)
            r = self._cache.get(k)
            if r is None:
                missing.append(i)
            else:
                self._cache.move_to_end(k)
                out[i] = r
        if missing:
            rows = self.lm.logprobs([contexts[i] for i in missing])
            if not isinstance(rows, np.ndarray):
                rows = np.asarray(rows)
            v = self.model.n_vocab
            if rows.ndim != 2 or rows.shape != (len(missing), v):
                raise ValueError(
                    f"lm.logprobs returned shape {rows.shape} for {len(missing)} contexts, "
                    f"expected ({len(missing)}, {v})"
                )
            if rows.dtype not in (np.float32, np.float64):
                raise ValueError(
                    f"lm.logprobs returned dtype {rows.dtype}, expected float32 or float64"
                )
            self.lm_calls += 1
            self.rows_computed += len(missing)
            for j, i in enumerate(missing):
                row = rows[j]
                out[i] = row
                self._cache[tuple(contexts[i])] = row
                if len(self._cache) > self._cache_rows:
                    self._cache.popitem(last=False)
        dtypes = {r.dtype for r in out}
        return np.stack(out) if len(dtypes) == 1 else np.stack(out).astype(np.float64)

    # ---------------------------------------------------------------- states

    def _prompt_state(
        self, prompt: bytes, before: Sequence[int], absolute: bool
    ) -> _core.ByteState:
        if absolute:
            trunk = [*self._bos, *before]
            region = prompt
        else:
            cut = self.model.stable_cut(prompt)
            trunk = [*self._bos, *before, *self.model.encode(prompt[:cut])]
            region = prompt[cut:]
        return _core.ByteState.from_bytes(self.model, trunk, region, self._fetch)

    def state(self, prompt: bytes | str = b"", *, absolute: bool = False) -> ByteLMState:
        """An incremental state after `prompt`.

        With ``absolute=False`` the tokens of the prompt that every valid
        encoding shares (everything before the last few pre-tokens) are fixed
        and only the rest is covered, so `ByteLMState.log_prefix` is the log
        probability of the prompt *given* that part. With ``absolute=True``
        covers start at the beginning and `log_prefix` is ``log P(prompt)``
        (one LM row per byte of the prompt).
        """
        p = _as_bytes(prompt, "prompt")
        return ByteLMState(self, self._prompt_state(p, (), absolute), p)

    def next_symbol_logprobs(self, prefix: bytes | str) -> npt.NDArray[np.float64]:
        """Next-symbol log-probabilities after `prefix`: shape ``[257 + n_stop]``
        (bytes, end, one entry per stop token), float64, natural log. All
        ``-inf`` if `prefix` has probability 0."""
        return self.state(prefix).symbol_logprobs()

    def next_byte_logprobs(self, prefix: bytes | str) -> npt.NDArray[np.float64]:
        """Next-byte log-probabilities after `prefix`: shape ``[257]`` float64,
        index 256 = end of the text (stop tokens included). All ``-inf`` if
        `prefix` has probability 0 (a byte no token sequence produces)."""
        return self.state(prefix).logprobs()

    def prefix_logprob(self, prefix: bytes | str) -> float:
        """``log P(the text starts with prefix)`` (natural log; ``-inf`` if
        impossible). Sums the probabilities of the covers of `prefix`."""
        return self.state(prefix, absolute=True).log_prefix

    def score(self, text: bytes | str) -> float:
        """``log P(text)`` of the complete text (followed by its end), natural
        log; ``-inf`` for a text the model cannot produce."""
        st = self.state(text, absolute=True)
        lp = st.symbol_logprobs()
        end = _logsumexp(lp[END:])
        return st.log_prefix + end if math.isfinite(end) else -math.inf

    def sample(
        self,
        prompt: bytes | str = b"",
        max_bytes: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[bytes | str] = (),
    ) -> bytes:
        """Sample a continuation of `prompt`, one byte at a time.

        `temperature` and `top_p` act on each next-byte distribution (byte
        level, not token level: a byte temperature of 1 and top_p of 1 give
        exact samples of the model). Stops at the end of the text, at a stop
        token, after `max_bytes`, or when the output ends with one of the
        `stop` strings (not included in the result).
        """
        _check_sampling(max_bytes, temperature, top_p)
        return _generate(self.state(prompt), max_bytes, temperature, top_p, seed, stop)[0]

    def fim(
        self,
        prefix: bytes | str,
        suffix: bytes | str,
        template: str,
        *,
        max_bytes: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[bytes | str] = (),
    ) -> bytes:
        """Fill in the middle between `prefix` and `suffix`.

        `template` holds ``{prefix}``, ``{suffix}`` and the model's special
        tokens by name, e.g. ``"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}
        <|fim_middle|>"`` (prefix-suffix-middle) or
        ``"<|fim_suffix|>{suffix}<|fim_prefix|>{prefix}"`` (suffix-prefix:
        the middle continues the prefix's bytes directly, which may end inside
        a token). Text segments between special tokens are encoded separately;
        covers start after the last special token. Generation stops at the
        end of the text or a stop token (pass the end-of-middle token in
        ``ByteLM(stop_tokens=...)``), after `max_bytes`, or at a `stop`
        string. Returns the middle.

        Raises:
            ValueError: a template without ``{prefix}`` and ``{suffix}``, or
                naming an unknown special token.
        """
        _check_sampling(max_bytes, temperature, top_p)
        st = self.fim_state(prefix, suffix, template)
        return _generate(st, max_bytes, temperature, top_p, seed, stop)[0]

    def fim_state(self, prefix: bytes | str, suffix: bytes | str, template: str) -> ByteLMState:
        """The state `fim` generates from: the template's tokens up to its
        last special token are the fixed context, the text after it (for a
        suffix-prefix template, the prefix) is covered byte by byte."""
        parts = _parse_template(template, self.spec.special_tokens)
        pre, suf = _as_bytes(prefix, "prefix"), _as_bytes(suffix, "suffix")
        before: list[int] = []
        region = b""
        for kind, value in parts:
            if kind == "special":
                before += [*self.model.encode(region), int(value)]  # type: ignore[call-overload]
                region = b""
            elif kind == "prefix":
                region += pre
            elif kind == "suffix":
                region += suf
            else:
                region += str(value).encode("utf-8")
        return ByteLMState(self, self._prompt_state(region, before, False), region)


def _parse_template(template: str, specials: Mapping[str, int]) -> list[tuple[str, object]]:
    """Split a FIM template into ("text"|"prefix"|"suffix"|"special", value) parts."""
    if not isinstance(template, str):
        raise TypeError(f"template must be a str, got {type(template).__name__}")
    if "{prefix}" not in template or "{suffix}" not in template:
        raise ValueError("template must contain {prefix} and {suffix}")
    names = sorted(specials, key=len, reverse=True)
    out: list[tuple[str, object]] = []
    i, text = 0, ""
    while i < len(template):
        if template.startswith("{prefix}", i):
            out += [("text", text), ("prefix", None)]
            text, i = "", i + len("{prefix}")
            continue
        if template.startswith("{suffix}", i):
            out += [("text", text), ("suffix", None)]
            text, i = "", i + len("{suffix}")
            continue
        for name in names:
            if template.startswith(name, i):
                out += [("text", text), ("special", specials[name])]
                text, i = "", i + len(name)
                break
        else:
            text += template[i]
            i += 1
    out.append(("text", text))
    unknown = [m for m in _angle_names(template) if m not in specials]
    if unknown:
        raise ValueError(f"template names unknown special tokens: {unknown}")
    return [(k, v) for k, v in out if not (k == "text" and v == "")]


def _angle_names(template: str) -> list[str]:
    import re

    return re.findall(r"<\|[^|<>]*\|>", template)


def _generate(
    st: ByteLMState | EnsembleState,
    max_bytes: int,
    temperature: float,
    top_p: float,
    seed: int | None,
    stop: Sequence[bytes | str],
) -> tuple[bytes, int | None]:
    """Sample bytes from `st`; returns (bytes, index of the stop symbol or None)."""
    rng = np.random.default_rng(seed)
    stops = [_as_bytes(s, "stop") for s in stop]
    if any(not s for s in stops):
        raise ValueError("stop strings must not be empty")
    out = bytearray()
    for _ in range(max_bytes):
        lp = st.symbol_logprobs()
        if not np.isfinite(lp).any():
            return bytes(out), None
        k = _choose(lp, temperature, top_p, rng)
        if k >= END:
            return bytes(out), k
        out.append(k)
        st.advance(k)
        for s in stops:
            if out.endswith(s):
                return bytes(out[: len(out) - len(s)]), None
    return bytes(out), None


class ByteLMState:
    """Incremental byte-level state of a `ByteLM` (not thread-safe).

    Attributes:
        data: the bytes so far (prompt and advanced bytes).
        logprob: sum of the natural-log probabilities of the bytes advanced
            since the state was made (``-inf`` once an impossible byte came).
    """

    def __init__(self, owner: ByteLM, core: _core.ByteState, prompt: bytes) -> None:
        self.owner = owner
        self._core = core
        self.data = prompt
        self.logprob = 0.0
        self._symbols: npt.NDArray[np.float64] | None = None

    def symbol_logprobs(self) -> npt.NDArray[np.float64]:
        """Next-symbol log-probabilities ``[257 + n_stop]`` (see `ByteLM`)."""
        if self._symbols is None:
            self._symbols, _ = self._core.next(self.owner._fetch)
        return self._symbols

    def logprobs(self) -> npt.NDArray[np.float64]:
        """Next-byte log-probabilities ``[257]`` (index 256: end, stops included)."""
        return _to_257(self.symbol_logprobs())

    @property
    def log_prefix(self) -> float:
        """Log of the total probability of the covers of `data` given the
        state's fixed tokens (``log P(data)`` for ``absolute`` states)."""
        return float(self._core.log_cover())

    @property
    def rows_fetched(self) -> int:
        """LM rows this state asked for (cached or not)."""
        return int(self._core.rows_fetched)

    def advance(self, data: int | bytes | str) -> None:
        """Append one byte (an int 0..255) or several (bytes/str)."""
        if isinstance(data, (int, np.integer)) and not isinstance(data, bool):
            if not 0 <= int(data) <= 255:
                raise ValueError(f"byte must be in 0..255, got {data}")
            seq = bytes([int(data)])
        else:
            seq = _as_bytes(data, "data")  # type: ignore[arg-type]
        for b in seq:
            self.logprob += float(self.logprobs()[b])
            self._core.advance(b, self.owner._fetch)
            self._symbols = None
            self.data += bytes([b])

    def copy(self) -> ByteLMState:
        """An independent copy (LM rows and the cache are shared)."""
        c = ByteLMState(self.owner, self._core.copy(), self.data)
        c.logprob = self.logprob
        c._symbols = self._symbols
        return c


Mode = Literal["mixture", "average", "product"]


class ByteEnsemble:
    """Byte-level ensemble of models with possibly different tokenizers.

    Modes (named so that they cannot be confused):

    * ``"mixture"``: the byte-level distribution of the mixture model
      ``Σ_i w_i P_i(text)``: member ``i`` is weighted by ``w_i · P_i(prefix)``
      at every step, so members that explain the prefix better count more.
      Exact; needs each member's probability of the whole prompt (one LM row
      per prompt byte per member).
    * ``"average"``: per-step average of the members' next-byte
      distributions with fixed weights ``w_i`` (the rule evaluated by Phan et
      al.); not the distribution of any mixture model.
    * ``"product"``: normalized product of experts ``∝ Π_i P_i(b | prefix)^w_i``.

    Args:
        members: the `ByteLM` s.
        weights: positive weights (prior probabilities for "mixture" and
            "average", normalized; exponents for "product"), default equal.
        mode: one of the above.

    Raises:
        ValueError: unknown mode, empty member list, bad weights.
    """

    def __init__(
        self,
        members: Sequence[ByteLM],
        weights: Sequence[float] | None = None,
        mode: Mode = "mixture",
    ) -> None:
        if mode not in ("mixture", "average", "product"):
            raise ValueError(f"mode must be 'mixture', 'average' or 'product', got {mode!r}")
        members = list(members)
        if not members or not all(isinstance(m, ByteLM) for m in members):
            raise ValueError("members must be a non-empty sequence of ByteLM")
        w = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(members),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(
                f"weights must be {len(members)} positive finite numbers, got {weights!r}"
            )
        self.members = members
        self.mode: Mode = mode
        self.weights = w if mode == "product" else w / w.sum()

    def state(self, prompt: bytes | str = b"") -> EnsembleState:
        """An incremental ensemble state after `prompt`."""
        p = _as_bytes(prompt, "prompt")
        absolute = self.mode == "mixture"
        return EnsembleState(self, [m.state(p, absolute=absolute) for m in self.members])

    def next_byte_logprobs(self, prefix: bytes | str) -> npt.NDArray[np.float64]:
        """Ensemble next-byte log-probabilities ``[257]`` (index 256: end)."""
        return self.state(prefix).logprobs()

    def sample(
        self,
        prompt: bytes | str = b"",
        max_bytes: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[bytes | str] = (),
    ) -> bytes:
        """Sample a continuation of `prompt` from the ensemble (as `ByteLM.sample`)."""
        _check_sampling(max_bytes, temperature, top_p)
        return _generate(self.state(prompt), max_bytes, temperature, top_p, seed, stop)[0]


class EnsembleState:
    """Incremental state of a `ByteEnsemble`."""

    def __init__(self, owner: ByteEnsemble, members: list[ByteLMState]) -> None:
        self.owner = owner
        self.members = members
        # log w_i P_i(prefix) for "mixture".
        self._logw = np.log(owner.weights) + np.array(
            [m.log_prefix for m in members] if owner.mode == "mixture" else [0.0] * len(members)
        )
        self._cached: npt.NDArray[np.float64] | None = None

    def symbol_logprobs(self) -> npt.NDArray[np.float64]:
        """Next-byte log-probabilities ``[257]`` (the ensemble has no separate stop entries)."""
        return self.logprobs()

    def logprobs(self) -> npt.NDArray[np.float64]:
        """Next-byte log-probabilities ``[257]`` (index 256: end)."""
        if self._cached is not None:
            return self._cached
        lps = np.stack([m.logprobs() for m in self.members])
        mode = self.owner.mode
        with np.errstate(invalid="ignore"):
            if mode == "mixture":
                w = self._logw - _logsumexp(self._logw)
                out = _logsumexp(w[:, None] + lps, axis=0)[0]
            elif mode == "average":
                out = _logsumexp(np.log(self.owner.weights)[:, None] + lps, axis=0)[0]
            else:
                s = np.sum(self.owner.weights[:, None] * lps, axis=0)
                out = s - _logsumexp(s)
        out = np.where(np.isnan(out), -np.inf, out)
        self._cached = out
        return out

    def advance(self, byte: int) -> None:
        """Append one byte (0..255) to every member."""
        if self.owner.mode == "mixture":
            self._logw = self._logw + np.array([m.logprobs()[byte] for m in self.members])
        for m in self.members:
            m.advance(byte)
        self._cached = None
