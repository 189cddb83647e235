"""Language models as `tokenbytes.bytelm` sees them.

An LM is any object with

* ``tokenizer``: the tokenizer it was trained with (a `tokenbytes.Encoding`,
  a `tokenbytes.bytelm.TokenizerSpec`, or another tokenizer the byte-level
  layer understands);
* ``logprobs(prefixes) -> numpy.ndarray`` of shape ``[B, V]`` (float32 or
  float64): for each token-id context (a sequence of ints, possibly empty),
  the natural-log probabilities of the next token over the whole vocabulary,
  end-of-sequence included;
* optionally ``eos_token_id`` (the token that ends a text), ``bos_token_id``
  and ``add_bos`` (prepend it to every context), ``n_vocab`` (``V``).

Adapters: `CallableLM` (a plain function), `XLlamaCppLM` (``xllamacpp``, a
prebuilt CPU wheel of llama.cpp), `TransformersLM` (``torch`` +
``transformers``) and `LlamaCppLM` (``llama-cpp-python``, built from source).
The runtimes are optional and imported only when an adapter is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["LM", "CallableLM", "LlamaCppLM", "TransformersLM", "XLlamaCppLM", "log_softmax"]


@runtime_checkable
class LM(Protocol):
    """What `tokenbytes.bytelm.ByteLM` needs from a language model."""

    tokenizer: Any

    def logprobs(self, prefixes: Sequence[Sequence[int]]) -> npt.NDArray[np.floating]:
        """Next-token log-probabilities, shape ``[len(prefixes), V]``."""
        ...


def log_softmax(logits: npt.NDArray[np.floating], axis: int = -1) -> npt.NDArray[np.float64]:
    """Natural-log softmax in float64 (numerically stable: shifted by the max)."""
    x = np.asarray(logits, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


class CallableLM:
    """A function ``fn(prefixes) -> ndarray[B, V]`` of log-probabilities as an LM.

    Args:
        fn: the model; called with a list of token-id lists.
        tokenizer: the tokenizer the ids belong to.
        eos_token_id: the id that ends a text (``None``: the tokenizer's).
        bos_token_id: an id to prepend to every context when ``add_bos``.
        add_bos: whether the byte-level layer prepends ``bos_token_id``.
        n_vocab: row length ``V`` (``None``: taken from the first answer or
            the tokenizer).
    """

    def __init__(
        self,
        fn: Callable[[list[list[int]]], npt.NDArray[np.floating]],
        tokenizer: Any,
        *,
        eos_token_id: int | None = None,
        bos_token_id: int | None = None,
        add_bos: bool = False,
        n_vocab: int | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.tokenizer = tokenizer
        self.eos_token_id = eos_token_id
        self.bos_token_id = bos_token_id
        self.add_bos = add_bos
        self.n_vocab = n_vocab

    def logprobs(self, prefixes: Sequence[Sequence[int]]) -> npt.NDArray[np.floating]:
        """``fn([list(p) for p in prefixes])``."""
        return self.fn([list(p) for p in prefixes])


class TransformersLM:
    """A Hugging Face ``transformers`` causal LM (CPU by default).

    Contexts of one call run as one right-padded batch; the key/value cache
    of the longest previously seen context that is a prefix of a new one is
    reused (a small LRU), so extending a context by a token costs one
    position. Needs ``torch`` and ``transformers`` (and ``gguf`` for
    ``gguf_file``).

    Args:
        model: a ``transformers`` causal LM.
        tokenizer: the tokenizer the byte-level layer should use (e.g.
            ``tokenbytes.Tokenizer.from_gguf(path)``).
        eos_token_id, bos_token_id, add_bos: as in `CallableLM` (defaults
            from the model's config).
        cache_size: number of contexts whose key/value cache is kept.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        eos_token_id: int | None = None,
        bos_token_id: int | None = None,
        add_bos: bool | None = None,
        cache_size: int = 8,
    ) -> None:
        import torch

        self._torch = torch
        self.model = model.eval()
        self.tokenizer = tokenizer
        cfg = model.config
        self.eos_token_id = eos_token_id if eos_token_id is not None else cfg.eos_token_id
        self.bos_token_id = bos_token_id if bos_token_id is not None else cfg.bos_token_id
        self.add_bos = bool(self.bos_token_id is not None) if add_bos is None else add_bos
        self.n_vocab = int(cfg.vocab_size)
        self._cache: dict[tuple[int, ...], Any] = {}
        self._cache_size = cache_size

    @classmethod
    def from_pretrained(
        cls,
        path: str,
        *,
        tokenizer: Any,
        gguf_file: str | None = None,
        dtype: str = "float32",
        **kwargs: Any,
    ) -> TransformersLM:
        """Load with ``AutoModelForCausalLM.from_pretrained`` (CPU, no download
        beyond what ``path`` names)."""
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(
            path, gguf_file=gguf_file, torch_dtype=getattr(torch, dtype), **kwargs
        )
        return cls(model, tokenizer)

    def _run(self, ids: list[int]) -> npt.NDArray[np.float64]:
        torch = self._torch
        best: tuple[int, ...] = ()
        for k in self._cache:
            if len(k) > len(best) and len(k) < len(ids) and tuple(ids[: len(k)]) == k:
                best = k
        past = None
        if best:
            import copy

            past = copy.deepcopy(self._cache[best])
        new = ids[len(best) :]
        with torch.no_grad():
            out = self.model(
                input_ids=torch.tensor([new], dtype=torch.long),
                past_key_values=past,
                use_cache=True,
            )
        key = tuple(ids)
        self._cache[key] = out.past_key_values
        while len(self._cache) > self._cache_size:
            self._cache.pop(next(iter(self._cache)))
        logits = out.logits[0, -1].float().numpy()
        return log_softmax(logits)

    def logprobs(self, prefixes: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
        """Log-softmax of the last position's logits for each context."""
        rows = []
        for p in prefixes:
            ids = list(p)
            if not ids:
                raise ValueError(
                    "TransformersLM needs a non-empty context (set add_bos or give a prompt)"
                )
            rows.append(self._run(ids))
        return np.stack(rows)


class LlamaCppLM:
    """A GGUF model run by ``llama-cpp-python`` (CPU).

    The runtime keeps one sequence in its key/value cache; a context that
    shares a prefix with the previous one only evaluates the tokens after the
    shared part.

    Args:
        model_path: the ``.gguf`` file.
        tokenizer: the tokenizer the byte-level layer should use.
        n_ctx: context window.
        n_threads: CPU threads (``None``: the runtime's default).
    """

    def __init__(
        self,
        model_path: str,
        tokenizer: Any,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        eos_token_id: int | None = None,
        bos_token_id: int | None = None,
        add_bos: bool | None = None,
    ) -> None:
        from llama_cpp import Llama

        self.llm = Llama(
            model_path=model_path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            logits_all=False,
            verbose=False,
        )
        self.tokenizer = tokenizer
        self.eos_token_id = self.llm.token_eos() if eos_token_id is None else eos_token_id
        self.bos_token_id = self.llm.token_bos() if bos_token_id is None else bos_token_id
        self.add_bos = bool(self.llm.metadata.get("tokenizer.ggml.add_bos_token") == "true")
        if add_bos is not None:
            self.add_bos = add_bos
        self.n_vocab = int(self.llm.n_vocab())
        self._seq: list[int] = []

    def _run(self, ids: list[int]) -> npt.NDArray[np.float64]:
        common = 0
        for a, b in zip(self._seq, ids, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(ids) - 1)
        self.llm.n_tokens = common
        self.llm._ctx.kv_cache_seq_rm(-1, common, -1)
        self.llm.eval(ids[common:])
        self._seq = list(ids)
        logits = np.array(self.llm.scores[self.llm.n_tokens - 1], dtype=np.float64)
        return log_softmax(logits)

    def logprobs(self, prefixes: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
        """Log-softmax of the next-token logits for each context."""
        rows = []
        for p in prefixes:
            ids = list(p)
            if not ids:
                raise ValueError(
                    "LlamaCppLM needs a non-empty context (set add_bos or give a prompt)"
                )
            rows.append(self._run(ids))
        return np.stack(rows)


class XLlamaCppLM:
    """A GGUF model run by ``xllamacpp`` (llama.cpp's server engine, prebuilt
    CPU wheel on PyPI).

    Its Python API has no raw logits; each row is read from a one-token
    completion of the context with ``n_probs`` = the vocabulary size and
    probabilities taken before sampling, i.e. the model's full next-token
    distribution (renormalized in float64: the server rounds the values).
    That costs a sort and a JSON list of the whole vocabulary per row, so it
    is slow (about a second per row on two busy cores for a 49k vocabulary).
    The server keeps the previous context in its cache and only evaluates
    the tokens after the shared prefix.

    Args:
        model_path: the ``.gguf`` file.
        tokenizer: the tokenizer the byte-level layer should use.
        n_ctx: context window.
        n_threads: CPU threads (``None``: the runtime's default).
        eos_token_id, bos_token_id, add_bos: as in `CallableLM`.
        verbosity: llama.cpp's log level (``None``: its default, which logs
            the model loading to stderr; ``-1``: silent).
    """

    def __init__(
        self,
        model_path: str,
        tokenizer: Any,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_vocab: int | None = None,
        eos_token_id: int | None = None,
        bos_token_id: int | None = None,
        add_bos: bool = False,
        verbosity: int | None = None,
    ) -> None:
        import xllamacpp

        p = xllamacpp.CommonParams()
        p.model.path = str(model_path)
        p.n_ctx = n_ctx
        p.n_parallel = 1
        if n_threads is not None:
            p.cpuparams.n_threads = n_threads
        if verbosity is not None:
            p.verbosity = verbosity
        self.server = xllamacpp.Server(p)
        self.tokenizer = tokenizer
        self.eos_token_id = eos_token_id
        self.bos_token_id = bos_token_id
        self.add_bos = add_bos
        if n_vocab is None:
            tokens = getattr(tokenizer, "tokens", None)
            n_vocab = len(tokens) if tokens is not None else None
        if n_vocab is None:
            raise ValueError("n_vocab is needed (the tokenizer does not tell it)")
        self.n_vocab = int(n_vocab)

    def _row(self, ids: list[int]) -> npt.NDArray[np.float64]:
        r = self.server.handle_completions(
            {
                "prompt": ids,
                "max_tokens": 1,
                "n_probs": self.n_vocab,
                "post_sampling_probs": False,
                "temperature": 0.0,
                "cache_prompt": True,
            }
        )
        if isinstance(r, str):
            import json

            r = json.loads(r)
        if "error" in r:
            raise RuntimeError(f"xllamacpp: {r['error']}")
        top = r["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        row = np.full(self.n_vocab, -np.inf)
        ids_ = np.fromiter((e["id"] for e in top), dtype=np.int64, count=len(top))
        vals = np.fromiter((e["logprob"] for e in top), dtype=np.float64, count=len(top))
        row[ids_] = vals
        finite = np.isfinite(row)
        row[finite] -= np.logaddexp.reduce(row[finite])
        return row

    def logprobs(self, prefixes: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
        """The full next-token distribution (log) of each context."""
        rows = []
        for p in prefixes:
            ids = [int(t) for t in p]
            if not ids:
                raise ValueError(
                    "XLlamaCppLM needs a non-empty context (set a BOS token or give a prompt)"
                )
            rows.append(self._row(ids))
        return np.stack(rows)
