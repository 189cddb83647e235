"""Batch-level dynamic token merging, with embeddings for the new tokens.

Implements the batch-level merging of Feher, Vulić and Minixhofer,
"Retrofitting (Large) Language Models with Dynamic Tokenization"
(arXiv 2411.18553, §3 "Dynamic tokenization"): start from the batch's
subword tokenization and run BPE-style merges over the whole batch, so
frequent words and word pieces become single tokens for that batch only.
The new tokens get embeddings from their parts (§3.2: the mean of the
constituents, "FVT", or a hypernetwork as in Minixhofer et al., Zero-Shot
Tokenizer Transfer).

Dimensions used in docstrings: B = number of sequences in the batch,
T = tokens of one sequence before merging, T' = after merging, K = size of
the batch vocabulary (``len(merged.vocab)``), V = rows of the base embedding
matrix, d = embedding width, P = ``maxlen`` of a hypernetwork.

Semantics, exactly (the tests compare token for token with a slow
reference):

* Each sequence is cut into *units* by the boundary mode; tokens merge
  only inside a unit. ``"pretoken"``: the tokenizer's own pre-tokens, and
  a pair merges only if its joined string is itself a single pre-token
  when pre-tokenized on its own (o200k splits ``" don'"`` into ``" don"``
  and ``"'"``, so ``(" don", "'")`` never merges, while ``("'", "t")``
  and then ``(" don", "'t")`` may; in rare units this leaves two tokens
  at the end, above the word-level limit).
  ``"word"``: whitespace-delimited words, each owning the one whitespace
  character before it (as GPT-style tokens do; the rest of a whitespace
  run is a unit of its own), so punctuation may join a word.
  ``"word_hyphen"``: words cut further where letters, marks, digits and
  ``-`` meet any other character, so punctuation joins a word only if it
  is ``-``. ``"none"``: everything between special tokens. Special tokens
  never merge. Units are cut on the decoded bytes; a cut inside a token is
  ignored. So a merged token is always a piece of one pre-token (or word).
* A step counts every adjacent pair inside units over the whole batch
  (``a a a`` counts ``(a, a)`` twice), takes the most frequent pair (ties:
  the pair seen first in batch order) and replaces its non-overlapping
  occurrences left to right in every sequence. Tokens are identified by
  their bytes: two merge paths to the same bytes give one token, and a
  merge that spells a vocabulary token is that token.
* Steps stop at ``max_merges``, at ``target_length`` total tokens, at
  ``gap_fraction`` of the way from the subword length L0 to the word-level
  limit Lw, or when no pair is left (the first rule reached wins). With no
  rule the batch ends at the word-level limit, one token per unit.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tokenbytes import _core

__all__ = ["Boundary", "MergedBatch", "embed", "merge_batch"]

Boundary = Literal["pretoken", "word", "word_hyphen", "none"]
_BOUNDARIES = ("pretoken", "word", "word_hyphen", "none")
_NONE = 0xFFFFFFFF  # "no child" in the merge token tree

#: A hypernetwork: ``(surface_ids [n, P] int64, attention_mask [n, P] bool)``
#: to embeddings ``[n, d]`` (numpy, or anything ``np.asarray`` accepts, such
#: as a CPU torch tensor).
Hypernetwork = Callable[[npt.NDArray[np.int64], npt.NDArray[np.bool_]], Any]


class MergedBatch:
    """The result of `merge_batch`: merged sequences and their batch vocabulary.

    Dynamic ids index the batch vocabulary ``vocab``; they are numbered in
    order of first appearance in the merged batch (sequence by sequence,
    left to right). Instances are immutable.

    Attributes:
        boundary: the boundary mode used.
        word_level_length: int, Lw: total tokens at the word-level limit
            (number of units, special tokens included).
    """

    def __init__(self, raw: dict[str, Any], core: Any, boundary: str) -> None:
        self._raw = raw
        self._core = core
        self.boundary = boundary
        self.word_level_length: int = int(raw["word_level_length"])

    # ------------------------------------------------------------ sequences

    def __len__(self) -> int:
        """B, the number of sequences."""
        return len(self._raw["lengths_before"])

    def __repr__(self) -> str:
        return (
            f"<MergedBatch B={len(self)} tokens {self.total_before}->{self.total_after} "
            f"(word level {self.word_level_length}) merges={self.n_merges} "
            f"vocab={len(self._raw['vocab_starts']) - 1} boundary={self.boundary!r}>"
        )

    @functools.cached_property
    def ids(self) -> list[npt.NDArray[np.uint32]]:
        """Dynamic ids, one array of shape (T',), dtype uint32, per sequence.

        Values index `vocab` (and the rows of `embed`'s result). Cast with
        ``.astype(np.int64)`` for frameworks that need int64 indices.
        """
        starts = self._raw["seq_starts"]
        return np.split(self._raw["ids"], starts[1:-1]) if len(starts) > 1 else []

    @functools.cached_property
    def spans(self) -> list[npt.NDArray[np.int64]]:
        """Per sequence, an int64 array of shape (T', 2): for each merged token
        the half-open range ``[start, end)`` of original token positions it
        covers (for aligning labels). Ranges tile ``0..T`` in order."""
        starts = self._raw["seq_starts"]
        flat = self._raw["spans"].reshape(-1, 2)
        return np.split(flat, starts[1:-1]) if len(starts) > 1 else []

    @functools.cached_property
    def vocab(self) -> list[tuple[int, ...]]:
        """The batch vocabulary: for each dynamic id, the base token ids it spells.

        ``(r,)`` if the token's bytes are the base token ``r`` (unmerged
        tokens, special tokens, and merges that spell a vocabulary token);
        otherwise the parts of the two tokens of the merge that first
        produced it, concatenated (length >= 2).
        """
        parts = self._raw["vocab_parts"].tolist()
        starts = self._raw["vocab_starts"].tolist()
        return [tuple(parts[a:b]) for a, b in itertools.pairwise(starts)]

    @functools.cached_property
    def merges(self) -> list[tuple[tuple[int, ...], tuple[int, ...], int]]:
        """The merges in order: ``(left, right, count)``, where left and right are
        the merged tokens as base-id tuples and count is the pair's count in
        the batch when it was chosen (overlapping occurrences counted).

        Built on first access from a compact tree. Its size is the sum of the
        merged tokens' lengths, which is quadratic in the unit length when a
        long unit is merged into one token (``boundary="none"`` on long
        sequences); `n_merges` and `merge_counts` are always cheap.
        """
        left = self._raw["token_left"].tolist()
        right = self._raw["token_right"].tolist()
        memo: dict[int, tuple[int, ...]] = {}

        def parts(i: int) -> tuple[int, ...]:
            # Children always precede their parent, so fill the memo upwards.
            stack = [i]
            while stack:
                x = stack[-1]
                if x in memo:
                    stack.pop()
                elif left[x] == _NONE:
                    memo[x] = (right[x],)
                    stack.pop()
                elif left[x] in memo and right[x] in memo:
                    memo[x] = memo[left[x]] + memo[right[x]]
                    stack.pop()
                else:
                    stack += [c for c in (left[x], right[x]) if c not in memo]
            return memo[i]

        return [
            (parts(a), parts(b), c)
            for a, b, c in zip(
                self._raw["merge_left"].tolist(),
                self._raw["merge_right"].tolist(),
                self._raw["merge_counts"].tolist(),
                strict=True,
            )
        ]

    @property
    def merge_counts(self) -> npt.NDArray[np.int64]:
        """Array of shape (M,), int64: the count of each merge when it was chosen."""
        return self._raw["merge_counts"]

    @property
    def n_merges(self) -> int:
        """Number of merges performed."""
        return len(self._raw["merge_counts"])

    @property
    def lengths_before(self) -> npt.NDArray[np.int64]:
        """Array of shape (B,), int64: tokens per sequence before merging (T)."""
        return self._raw["lengths_before"]

    @property
    def lengths_after(self) -> npt.NDArray[np.int64]:
        """Array of shape (B,), int64: tokens per sequence after merging (T')."""
        return self._raw["lengths_after"]

    @property
    def total_before(self) -> int:
        """L0: total tokens before merging."""
        return int(self._raw["lengths_before"].sum())

    @property
    def total_after(self) -> int:
        """L: total tokens after merging."""
        return int(self._raw["lengths_after"].sum())

    @property
    def reduction(self) -> float:
        """Fraction of tokens removed, ``(L0 - L) / L0`` in [0, 1) (0.0 for an empty batch)."""
        l0 = self.total_before
        return (l0 - self.total_after) / l0 if l0 else 0.0

    @property
    def gap_reduction(self) -> float:
        """Fraction of the subword-to-word gap closed, ``(L0 - L) / (L0 - Lw)``
        in [0, 1]; the paper's "reduction %" divided by 100 (1.0 if L0 == Lw)."""
        gap = self.total_before - self.word_level_length
        return (self.total_before - self.total_after) / gap if gap else 1.0

    @functools.cached_property
    def new_token_mask(self) -> npt.NDArray[np.bool_]:
        """Array of shape (K,), bool: which dynamic ids spell two or more base tokens."""
        return np.diff(self._raw["vocab_starts"]) > 1

    # ------------------------------------------------------------- decoding

    def token_bytes(self, dynamic_id: int) -> bytes:
        """The bytes of one dynamic token.

        Raises:
            IndexError: `dynamic_id` is not in ``range(len(vocab))``.
        """
        if not 0 <= dynamic_id < len(self._raw["vocab_starts"]) - 1:
            raise IndexError(f"dynamic_id {dynamic_id} is out of range")
        a, b = self._raw["vocab_starts"][dynamic_id : dynamic_id + 2]
        return self._core.decode_bytes(self._raw["vocab_parts"][a:b])

    def base_ids(self, i: int) -> list[int]:
        """The base token ids of sequence `i` (the input tokenization), spelled
        out through `vocab`."""
        vocab = self.vocab
        return [r for d in self.ids[i].tolist() for r in vocab[d]]

    def decode_bytes(self, i: int) -> bytes:
        """The bytes of sequence `i`, decoded through the batch vocabulary."""
        return self._core.decode_bytes(self.base_ids(i))

    def decode(self, i: int, errors: str = "replace") -> str:
        """The text of sequence `i`, decoded through the batch vocabulary (lossy:
        invalid UTF-8 becomes U+FFFD unless `errors` says otherwise).

        Equals the input text for string input (and for ids that spell
        valid UTF-8). `errors` is passed to ``bytes.decode``.
        """
        return self.decode_bytes(i).decode("utf-8", errors=errors)

    def padded(self, pad_id: int = 0) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Dynamic ids right-padded to the longest sequence, with a mask.

        Returns:
            ``(ids, mask)``: int64 array of shape (B, max T') filled with
            `pad_id` after each sequence's end, and a bool array of the same
            shape, True on real tokens.
        """
        lengths = self.lengths_after
        width = int(lengths.max()) if len(lengths) else 0
        out = np.full((len(lengths), width), pad_id, dtype=np.int64)
        mask = np.arange(width)[None, :] < lengths[:, None]
        out[mask] = self._raw["ids"]
        return out, mask


def _check_count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    # Budgets past 2^63 - 1 cannot be reached: the same stop as that bound.
    return min(int(value), 2**63 - 1)


def _check_fraction(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"gap_fraction must be a float in [0, 1] or None, got {type(value).__name__}"
        )
    f = float(value)
    if math.isnan(f) or not 0.0 <= f <= 1.0:
        raise ValueError(f"gap_fraction must be in [0, 1], got {value!r}")
    return f


def _ids_item(item: Any, i: int) -> Any:
    if isinstance(item, (bytes, bytearray)):
        raise TypeError(f"batch[{i}] must be a str or a sequence of int token ids, got bytes")
    if isinstance(item, np.ndarray):
        if item.ndim != 1:
            raise ValueError(f"batch[{i}] must be 1-dimensional, got shape {item.shape}")
        if item.dtype.kind not in "iu":
            raise TypeError(f"batch[{i}] must hold integer token ids, got dtype {item.dtype}")
        if item.size and (int(item.min()) < 0 or int(item.max()) > 0xFFFFFFFF):
            bad = int(item.min()) if int(item.min()) < 0 else int(item.max())
            raise ValueError(f"batch[{i}]: token id {bad} is out of range")
        return np.ascontiguousarray(item, dtype=np.uint32)
    return item


def merge_batch(
    tokenizer: Any,
    batch: Sequence[str] | Sequence[Sequence[int]],
    *,
    boundary: Boundary = "pretoken",
    max_merges: int | None = None,
    target_length: int | None = None,
    gap_fraction: float | None = None,
    allowed_special: Literal["all"] | Sequence[str] | frozenset[str] = frozenset(),
    disallowed_special: Literal["all"] | Sequence[str] | frozenset[str] = "all",
) -> MergedBatch:
    """Merge the most frequent adjacent token pairs across a batch (paper §3.1).

    Args:
        tokenizer: a `tokenbytes.Encoding` (from `tokenbytes.get_encoding`).
        batch: B strings (encoded here, special tokens under
            `allowed_special` / `disallowed_special` as in ``Encoding.encode``),
            or B sequences of int token ids (lists, tuples or 1-D integer
            numpy arrays; special-token ids allowed). Not a mix of both.
        boundary: where merges may not cross: ``"pretoken"`` (default, the
            tokenizer's own pre-tokens), ``"word"``, ``"word_hyphen"`` or
            ``"none"``; see the module docstring.
        max_merges: stop after this many merges (>= 0).
        target_length: stop once the batch has at most this many tokens in
            total (>= 0). A merge shortens every sequence at once, so the
            result may be shorter than the target.
        gap_fraction: f in [0, 1]: stop once ``L0 - L >= f * (L0 - Lw)``
            (float arithmetic), i.e. after closing fraction f of the gap
            between the subword length L0 and the word-level limit Lw. 0.5
            is the paper's "50 % reduction".
        allowed_special: special tokens to encode as their id in string
            input ("all" for every one).
        disallowed_special: special-token strings that raise if found in
            string input ("all" for every one not allowed).

    Returns:
        A `MergedBatch`: ``ids`` (B arrays of shape (T',), uint32, dynamic
        ids), ``vocab`` (K tuples of base ids), ``merges``, ``spans`` (B
        int64 arrays of shape (T', 2)), ``lengths_before`` /
        ``lengths_after`` (int64, shape (B,)), ``reduction``. Decoding a
        sequence through ``vocab`` gives back its input exactly.

    Raises:
        TypeError: `tokenizer` is not an Encoding; `batch` is not a list of
            str or of int sequences, or mixes the two (the message names
            ``batch[i]``); a stop argument has the wrong type.
        ValueError: an unknown `boundary`; a negative `max_merges` or
            `target_length`; `gap_fraction` outside [0, 1]; a token id that
            is not in the vocabulary (the message names ``batch[i][j]``);
            string input with a disallowed special token.

    Notes:
        O((N + M) log N) for N tokens and M merges: units are deduplicated
        and pair counts kept incrementally with a lazily re-validated heap;
        the naive algorithm re-counts all pairs per merge, O(N·M). Runs in
        Rust with the GIL released, on the calling thread (no pool);
        deterministic.

    Example:
        >>> import tokenbytes
        >>> from tokenbytes.dynamic import merge_batch
        >>> enc = tokenbytes.get_encoding("cl100k_base")
        >>> m = merge_batch(enc, ["unbelievable unbelievable", "unbelievable"])
        >>> [len(x) for x in m.ids], m.lengths_before.tolist()
        ([2, 1], [4, 3])
        >>> m.decode(0)
        'unbelievable unbelievable'
    """
    core = getattr(tokenizer, "_core", tokenizer)
    if not isinstance(core, _core.CoreBpe):
        raise TypeError(f"tokenizer must be a tokenbytes.Encoding, got {type(tokenizer).__name__}")
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be a str, got {type(boundary).__name__}")
    if boundary not in _BOUNDARIES:
        raise ValueError(
            f"boundary must be one of {', '.join(map(repr, _BOUNDARIES))}; got {boundary!r}"
        )
    stops = (
        _check_count(max_merges, "max_merges"),
        _check_count(target_length, "target_length"),
        _check_fraction(gap_fraction),
    )
    if isinstance(batch, (str, bytes)) or not isinstance(batch, (Sequence, np.ndarray)):
        raise TypeError(
            f"batch must be a list of str or of token-id sequences, got {type(batch).__name__}"
        )
    items: list[Any] = list(batch)
    kinds = {isinstance(x, str) for x in items}
    if kinds == {True, False}:
        first_str = next(i for i, x in enumerate(items) if isinstance(x, str))
        first_ids = next(i for i, x in enumerate(items) if not isinstance(x, str))
        raise TypeError(
            f"batch mixes strings (batch[{first_str}]) and token-id sequences "
            f"(batch[{first_ids}]); pass one kind"
        )
    if kinds == {False}:
        raw = _core.dynamic_merge_ids(
            core, [_ids_item(x, i) for i, x in enumerate(items)], boundary, *stops
        )
    else:
        # Lone surrogates are repaired in the extension, as Encoding.encode does.
        raw = _core.dynamic_merge_texts(
            core, items, boundary, *stops, allowed_special, disallowed_special
        )
    return MergedBatch(raw, core, boundary)


def embed(
    merged: MergedBatch,
    embeddings: Any,
    method: Literal["mean", "weighted"] | Hypernetwork = "mean",
    *,
    maxlen: int = 7,
    pad_id: int = 0,
    predict_all: bool = False,
) -> np.ndarray:
    """Embeddings for the batch vocabulary of `merged` (paper §3.2).

    Args:
        merged: the result of `merge_batch`.
        embeddings: array of shape (V, d), floating dtype: the model's input
            (or output) embedding matrix, indexed by base token id; V must
            exceed every base id in the batch (special tokens included).
            Anything ``np.asarray`` accepts (e.g. a CPU torch tensor).
        method: how to embed a token made of base tokens r1..rk:
            ``"mean"``: the mean of their rows (FVT, Gee et al. 2022; the
            paper's baseline). ``"weighted"``: the mean weighted by each
            part's length in bytes. A callable: a hypernetwork (ZeTT,
            Minixhofer et al. 2024) called once as ``method(surface_ids,
            attention_mask)`` with ``surface_ids`` an int64 array of shape
            (n, P) holding each token's base ids, truncated to the first P =
            `maxlen` and right-padded with `pad_id`, and ``attention_mask``
            a bool array of the same shape; it returns n embeddings of width
            d (anything ``np.asarray`` accepts).
        maxlen: P, the hypernetwork's surface-form length (>= 1; ZeTT's
            published hypernetworks use 7).
        pad_id: padding id of the hypernetwork input.
        predict_all: with a callable, embed every token of the batch
            vocabulary with it (the paper's setup) instead of only the new
            ones (tokens of one base id then copy their row).

    Returns:
        Array of shape (K, d) with the dtype of `embeddings` (K =
        ``len(merged.vocab)``): row i embeds dynamic id i, so
        ``out[merged.ids[b]]`` is sequence b's input. A token of one base id
        gets exactly that id's row (except under ``predict_all``). Means are
        accumulated in float64.

    Raises:
        TypeError: `merged` is not a MergedBatch; `embeddings` is not a numeric 2-D
            array of floating dtype;
            `method` is neither "mean", "weighted" nor callable.
        ValueError: `embeddings` has too few rows for the batch's ids; bad
            `maxlen`; the hypernetwork returns the wrong shape.

    Notes:
        O(sum of parts · d) with numpy, no Python loop over tokens.
    """
    if not isinstance(merged, MergedBatch):
        raise TypeError(f"merged must be a MergedBatch, got {type(merged).__name__}")
    emb = np.asarray(embeddings)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must have shape (V, d), got shape {emb.shape}")
    if emb.dtype.kind != "f":
        raise TypeError(f"embeddings must have a floating dtype, got {emb.dtype}")
    parts = merged._raw["vocab_parts"].astype(np.int64)
    starts = merged._raw["vocab_starts"]
    n_parts = np.diff(starts)
    k, d = len(n_parts), emb.shape[1]
    if parts.size and int(parts.max()) >= emb.shape[0]:
        raise ValueError(
            f"embeddings has {emb.shape[0]} rows but the batch uses base id {int(parts.max())}"
        )
    if k == 0:
        return np.zeros((0, d), dtype=emb.dtype)

    if isinstance(method, str):
        if method == "mean":
            weights = np.ones(len(parts), dtype=np.float64)
        elif method == "weighted":
            weights = merged._raw["vocab_part_n_bytes"].astype(np.float64)
        else:
            raise ValueError(f'method must be "mean", "weighted" or a callable, got {method!r}')
        rows = emb[parts].astype(np.float64) * weights[:, None]
        sums = np.add.reduceat(rows, starts[:-1], axis=0)
        totals = np.add.reduceat(weights, starts[:-1])
        return (sums / totals[:, None]).astype(emb.dtype)
    if not callable(method):
        raise TypeError(
            f"method must be 'mean', 'weighted' or a callable, got {type(method).__name__}"
        )

    if isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 1:
        raise ValueError(f"maxlen must be an int >= 1, got {maxlen!r}")
    out = np.empty((k, d), dtype=emb.dtype)
    predict = np.ones(k, dtype=bool) if predict_all else n_parts > 1
    single = ~predict
    out[single] = emb[parts[starts[:-1][single]]]
    which = np.flatnonzero(predict)
    if which.size == 0:
        return out
    lens = np.minimum(n_parts[which], maxlen)
    mask = np.arange(maxlen)[None, :] < lens[:, None]
    surface = np.full((which.size, maxlen), pad_id, dtype=np.int64)
    # Position j of row i is parts[starts[which[i]] + j] for j < lens[i].
    src = (starts[:-1][which][:, None] + np.arange(maxlen)[None, :])[mask]
    surface[mask] = parts[src]
    result = method(surface, mask)
    if hasattr(result, "detach"):  # torch tensors: no grad, on the CPU
        result = result.detach().cpu()
    pred = np.asarray(result)
    if pred.shape != (which.size, d):
        raise ValueError(
            f"the hypernetwork returned shape {pred.shape}, expected {(which.size, d)}"
        )
    out[which] = pred
    return out
