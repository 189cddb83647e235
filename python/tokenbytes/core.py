"""The `Encoding` class: tiktoken's API over the Rust core.

Dimensions used in docstrings: T = number of tokens, N = number of bytes.
Token ids are Python ints (or `uint32` in numpy results). Offsets are in
characters (Unicode code points) of the decoded text unless named `byte_`.
"""

from __future__ import annotations

import functools
import operator
import os
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Literal

from tokenbytes import _core

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Encoding"]

AllowedSpecial = Literal["all"] | Collection[str]


#: Batch calls never start more worker threads than this.
MAX_THREADS = 256


def _default_threads() -> int:
    env = os.environ.get("TOKENBYTES_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"TOKENBYTES_NUM_THREADS must be a positive integer, got {env!r}")
        return min(n, MAX_THREADS)
    return _core.default_threads()


def _check_threads(num_threads: int | None) -> int:
    """Validate `num_threads`; values above `MAX_THREADS` use `MAX_THREADS`."""
    if num_threads is None:
        return _default_threads()
    if isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise TypeError(f"num_threads must be an int, got {type(num_threads).__name__}")
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    return min(num_threads, MAX_THREADS)


class Encoding:
    """A byte-level BPE encoding with tiktoken's semantics and API.

    Build one with `tokenbytes.get_encoding(name)` for the shipped encodings,
    or directly from a pattern, ranks and special tokens, as in tiktoken::

        enc = Encoding("my_enc", pat_str=..., mergeable_ranks={b"a": 0, ...},
                       special_tokens={"<|endoftext|>": 50256})

    The encoder never changes after construction, so an instance is safe to share
    between threads (its Python attributes are plain ones, as in tiktoken: assigning
    to them changes only what they report); the Rust core releases the GIL for every
    call that does real work.

    Raises (constructor):
        TypeError: wrong argument types.
        ValueError: an unusable vocabulary (duplicate rank or token, a single
            byte with no token, an empty special token, a special token id
            that is also a mergeable rank, an `explicit_n_vocab` that does not
            match) or a pattern that does not compile.
    """

    def __init__(
        self,
        name: str,
        *,
        pat_str: str,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if not isinstance(pat_str, str):
            raise TypeError(f"pat_str must be a str, got {type(pat_str).__name__}")
        if not isinstance(mergeable_ranks, dict):
            raise TypeError(f"mergeable_ranks must be a dict, got {type(mergeable_ranks).__name__}")
        if not isinstance(special_tokens, dict):
            raise TypeError(f"special_tokens must be a dict, got {type(special_tokens).__name__}")
        ranks = list(mergeable_ranks.values())
        if len(set(ranks)) != len(ranks):
            seen: dict[int, bytes] = {}
            for tok, r in mergeable_ranks.items():
                if r in seen:
                    raise ValueError(
                        f"mergeable_ranks gives rank {r} to two tokens: {seen[r]!r} and {tok!r}"
                    )
                seen[r] = tok
        core = _core.CoreBpe(mergeable_ranks, special_tokens, pat_str)
        self._init(name, core, pat_str, dict(special_tokens), explicit_n_vocab)
        self.__dict__["_mergeable_ranks"] = mergeable_ranks

    @classmethod
    def _from_core(
        cls,
        name: str,
        core: _core.CoreBpe,
        *,
        pat_str: str,
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
    ) -> Encoding:
        self = cls.__new__(cls)
        self._init(name, core, pat_str, dict(special_tokens), explicit_n_vocab)
        return self

    def _init(
        self,
        name: str,
        core: _core.CoreBpe,
        pat_str: str,
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None,
    ) -> None:
        self.name = name
        self._pat_str = pat_str
        self._special_tokens = special_tokens
        self._core = core
        self.max_token_value = max([core.rank_bound - 1, *special_tokens.values()])
        if explicit_n_vocab is not None:
            if isinstance(explicit_n_vocab, bool) or not isinstance(explicit_n_vocab, int):
                raise TypeError(
                    f"explicit_n_vocab must be an int, got {type(explicit_n_vocab).__name__}"
                )
            n = core.n_mergeable + len(special_tokens)
            if n != explicit_n_vocab:
                raise ValueError(
                    f"{name}: explicit_n_vocab is {explicit_n_vocab} "
                    f"but the encoding has {n} tokens"
                )
            if self.max_token_value != explicit_n_vocab - 1:
                raise ValueError(
                    f"{name}: explicit_n_vocab is {explicit_n_vocab} but the largest id is "
                    f"{self.max_token_value}"
                )

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # ------------------------------------------------------------------ metadata

    @functools.cached_property
    def _mergeable_ranks(self) -> dict[bytes, int]:
        """``{token bytes: rank}`` (built on first access; 200k entries for o200k)."""
        return self._core.mergeable_ranks()

    @property
    def n_vocab(self) -> int:
        """One more than the largest token id (ids may have gaps)."""
        return self.max_token_value + 1

    @property
    def eot_token(self) -> int:
        """Id of ``<|endoftext|>``. Raises KeyError if the encoding has none."""
        return self._special_tokens["<|endoftext|>"]

    @functools.cached_property
    def special_tokens_set(self) -> set[str]:
        """The special token strings."""
        return set(self._special_tokens)

    def is_special_token(self, token: int) -> bool:
        """Whether `token` is the id of a special token."""
        try:
            token = operator.index(token)
        except TypeError:
            raise TypeError(f"token must be an int, got {type(token).__name__}") from None
        return token in self._special_ids

    @functools.cached_property
    def _special_ids(self) -> frozenset[int]:
        return frozenset(self._special_tokens.values())

    # ------------------------------------------------------------------ encoding

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode `text`, treating special-token strings as ordinary text.

        Returns:
            list[int] of length T.

        Raises:
            TypeError: `text` is not a str.
        """
        return self._core.encode_ordinary(text)

    def encode(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> list[int]:
        """Encode `text` into token ids (tiktoken semantics).

        Special tokens in `text` are encoded as their ids only when listed in
        `allowed_special` ("all" for every one). By default any other special
        token string in `text` raises, because user text that contains
        ``<|endoftext|>`` is usually a prompt-injection or a data bug; pass
        `disallowed_special=()` to encode such strings as ordinary text.

        Lone UTF-16 surrogates are replaced by U+FFFD and surrogate pairs
        joined, as tiktoken does.

        Returns:
            list[int] of length T.

        Raises:
            ValueError: `text` contains a disallowed special token (the
                message names it and both keyword arguments).
            TypeError: wrong argument types.
        """
        return self._core.encode(text, allowed_special, disallowed_special)

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> tuple[list[int], list[list[int]]]:
        """Stable tokens of `text` and the token sequences that may continue them.

        The tokens of the last piece can change when text is appended, so
        they are left out of the first list; the second lists every token
        sequence that could encode those bytes plus a continuation (single
        tokens that extend them, re-encodings with a token that straddles
        their end, and a split before trailing whitespace). The semantics are
        tiktoken's, whose docstring marks this API as unstable; completions
        come back sorted. Unlike tiktoken 0.14, odd `str` input (lone
        surrogates) is repaired instead of raising.

        Raises:
            ValueError: `text` contains a disallowed special token.
        """
        return self._core.encode_with_unstable(text, allowed_special, disallowed_special)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> npt.NDArray[np.uint32]:
        """Like `encode`, returning a numpy array of shape (T,), dtype uint32.

        The array takes ownership of the ids computed in Rust (no copy).
        """
        return self._core.encode_to_numpy(text, allowed_special, disallowed_special)

    def count(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> int:
        """Number of tokens `encode` returns, without building a Python list."""
        return self._core.count(text, allowed_special, disallowed_special)

    def encode_ordinary_batch(
        self, text: list[str], *, num_threads: int | None = None
    ) -> list[list[int]]:
        """`encode_ordinary` of every string, in parallel on `num_threads` threads.

        Args:
            text: list of B strings.
            num_threads: worker threads (default: env TOKENBYTES_NUM_THREADS,
                else all cores). The GIL is released for the whole batch.

        Returns:
            list of B lists of ids, in input order; equal to encoding one by one.
        """
        n = _check_threads(num_threads)
        return self._core.encode_ordinary_batch(text, n)

    def encode_batch(
        self,
        text: list[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> list[list[int]]:
        """`encode` of every string, in parallel (see `encode_ordinary_batch`).

        Raises:
            ValueError: any string contains a disallowed special token.
        """
        n = _check_threads(num_threads)
        return self._core.encode_batch(text, n, allowed_special, disallowed_special)

    def encode_bytes(self, data: bytes) -> list[int]:
        """Encode arbitrary bytes, valid UTF-8 or not.

        Maximal runs of valid UTF-8 are pre-tokenized as text; each maximal
        run of invalid bytes is BPE-encoded as one piece. For valid UTF-8,
        ``encode_bytes(s.encode()) == encode_ordinary(s)``, and always
        ``decode_bytes(encode_bytes(b)) == b``.
        """
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        return self._core.encode_bytes(data)

    def _encode_bytes(self, text: bytes) -> list[int]:
        """tiktoken's private name (and parameter name) for `encode_bytes`."""
        return self.encode_bytes(text)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of a string or byte string that is exactly one token.

        Raises:
            KeyError: it is not a single token.
            UnicodeEncodeError: a str holding a lone surrogate, which has no UTF-8 bytes
                (as in tiktoken; pass bytes to look up any byte string).
        """
        if isinstance(text_or_bytes, str):
            text_or_bytes = text_or_bytes.encode("utf-8")
        if not isinstance(text_or_bytes, (bytes, bytearray)):
            raise TypeError(f"expected str or bytes, got {type(text_or_bytes).__name__}")
        return self._core.encode_single_token(bytes(text_or_bytes))

    def _encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        """BPE of one piece, skipping pre-tokenization (a str is UTF-8 encoded strictly)."""
        if isinstance(text_or_bytes, str):
            text_or_bytes = text_or_bytes.encode("utf-8")
        return self._core.encode_single_piece(bytes(text_or_bytes))

    def _encode_only_native_bpe(self, text: str) -> list[int]:
        """Pre-tokenize and BPE without the whole-piece fast path (same ids)."""
        return self.encode_ordinary(text)

    # ------------------------------------------------------------------ decoding

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Concatenated bytes of `tokens` (T ids → N bytes).

        Raises:
            KeyError: an id is neither a mergeable nor a special token (the
                message names it).
            TypeError: `tokens` is not a sequence of ints.
        """
        return self._core.decode_bytes(tokens)

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """Decode ids to text.

        Bytes that are not valid UTF-8 (a token sequence that ends inside a
        character, for instance) become U+FFFD with the default
        ``errors="replace"``; pass ``errors="strict"`` to raise
        UnicodeDecodeError instead.
        """
        return self._core.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """Raw bytes of one token (never U+FFFD-substituted).

        Raises:
            KeyError: unknown id.
        """
        return self._core.decode_single_token_bytes(token)

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        """Raw bytes of each token (list of length T)."""
        return self._core.decode_tokens_bytes(tokens)

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """Decoded text and, per token, the character offset where it starts.

        A token that starts in the middle of a multi-byte character gets the
        offset of that character (tiktoken's convention).

        Raises:
            UnicodeDecodeError: the bytes are not valid UTF-8.
        """
        data, offsets = self._core.decode_with_offsets(tokens)
        return data.decode("utf-8", errors="strict"), offsets

    def decode_batch(
        self,
        batch: Sequence[Sequence[int]],
        *,
        errors: str = "replace",
        num_threads: int | None = None,
    ) -> list[str]:
        """`decode` of every sequence."""
        _check_threads(num_threads)
        return [b.decode("utf-8", errors=errors) for b in self._core.decode_bytes_batch(batch)]

    def decode_bytes_batch(
        self, batch: Sequence[Sequence[int]], *, num_threads: int | None = None
    ) -> list[bytes]:
        """`decode_bytes` of every sequence."""
        _check_threads(num_threads)
        return self._core.decode_bytes_batch(batch)

    # ------------------------------------------------------------------ misc

    def token_byte_values(self) -> list[bytes]:
        """Bytes of every mergeable token, sorted bytewise (as tiktoken)."""
        return self._core.token_byte_values()

    def pretokenize(self, text: str) -> list[str]:
        """The pieces the pre-tokenizer splits `text` into (BPE never crosses them)."""
        return self._core.pretokenize(text)

    def __reduce__(self) -> tuple[Any, ...]:
        from tokenbytes.registry import ENCODINGS

        if ENCODINGS.get(self.name) is self:
            from tokenbytes.registry import get_encoding

            return (get_encoding, (self.name,))
        return (
            _rebuild,
            (self.name, self._pat_str, self._mergeable_ranks, self._special_tokens),
        )


def _rebuild(
    name: str, pat_str: str, mergeable_ranks: dict[bytes, int], special_tokens: dict[str, int]
) -> Encoding:
    return Encoding(
        name, pat_str=pat_str, mergeable_ranks=mergeable_ranks, special_tokens=special_tokens
    )
