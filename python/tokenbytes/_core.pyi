"""Type stubs of the private extension module `tokenbytes._core` (Rust, PyO3)."""

import os
from collections.abc import Callable, Iterable, Sequence
from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "ByteModel",
    "ByteState",
    "CoreBpe",
    "__version__",
    "default_threads",
    "dynamic_merge_ids",
    "dynamic_merge_texts",
]

__version__: str

def default_threads() -> int: ...

@final
class CoreBpe:
    """The compiled encoder: vocabulary, special tokens and pre-tokenizer."""

    def __new__(
        cls, mergeable_ranks: dict[bytes, int], special_tokens: dict[str, int], pattern: str
    ) -> CoreBpe: ...
    @staticmethod
    def from_tiktoken_bytes(
        data: bytes, special_tokens: dict[str, int], pattern: str
    ) -> CoreBpe: ...
    @property
    def pattern(self) -> str: ...
    @property
    def rank_bound(self) -> int: ...
    @property
    def n_mergeable(self) -> int: ...
    def special_tokens(self) -> dict[str, int]: ...
    def mergeable_ranks(self) -> dict[bytes, int]: ...
    def encode_ordinary(self, text: str) -> list[int]: ...
    def encode(
        self,
        text: str,
        allowed_special: Iterable[str] | str | None,
        disallowed_special: Iterable[str] | str | None,
    ) -> list[int]: ...
    def encode_with_unstable(
        self,
        text: str,
        allowed_special: Iterable[str] | str | None,
        disallowed_special: Iterable[str] | str | None,
    ) -> tuple[list[int], list[list[int]]]: ...
    def encode_to_numpy(
        self,
        text: str,
        allowed_special: Iterable[str] | str | None,
        disallowed_special: Iterable[str] | str | None,
    ) -> npt.NDArray[np.uint32]: ...
    def count(
        self,
        text: str,
        allowed_special: Iterable[str] | str | None,
        disallowed_special: Iterable[str] | str | None,
    ) -> int: ...
    def encode_ordinary_batch(self, texts: Sequence[str], num_threads: int) -> list[list[int]]: ...
    def encode_batch(
        self,
        texts: Sequence[str],
        num_threads: int,
        allowed_special: Iterable[str] | str | None,
        disallowed_special: Iterable[str] | str | None,
    ) -> list[list[int]]: ...
    def encode_bytes(self, data: bytes) -> list[int]: ...
    def encode_single_piece(self, piece: bytes) -> list[int]: ...
    def encode_single_token(self, piece: bytes) -> int: ...
    def decode_bytes(self, tokens: Iterable[int]) -> bytes: ...
    def decode_bytes_batch(self, batch: Iterable[Iterable[int]]) -> list[bytes]: ...
    def decode_single_token_bytes(self, token: int) -> bytes: ...
    def decode_tokens_bytes(self, tokens: Iterable[int]) -> list[bytes]: ...
    def decode_with_offsets(self, tokens: Iterable[int]) -> tuple[bytes, list[int]]: ...
    def token_byte_values(self) -> list[bytes]: ...
    def pretokenize(self, text: str) -> list[str]: ...

# Batch-level dynamic token merging (wrapped by tokenbytes.dynamic). Both
# return a dict of numpy arrays: ids, seq_starts, spans, vocab_parts,
# vocab_starts, vocab_part_n_bytes, merge_left, merge_right, merge_counts,
# token_left, token_right, lengths_before, lengths_after, and the int
# word_level_length.
def dynamic_merge_texts(
    core: CoreBpe,
    texts: Iterable[str],
    boundary: str,
    max_merges: int | None,
    target_length: int | None,
    gap_fraction: float | None,
    allowed_special: Iterable[str] | str | None,
    disallowed_special: Iterable[str] | str | None,
) -> dict[str, npt.NDArray[np.generic] | int]: ...
def dynamic_merge_ids(
    core: CoreBpe,
    batch: Iterable[Iterable[int] | npt.NDArray[np.uint32]],
    boundary: str,
    max_merges: int | None,
    target_length: int | None,
    gap_fraction: float | None,
) -> dict[str, npt.NDArray[np.generic] | int]: ...

# Exact byte-level probabilities (wrapped by tokenbytes.bytelm). An LM is a
# callable (contexts: list[list[int]]) -> ndarray[B, n_vocab] of float32 or
# float64 next-token log-probabilities.
@final
class ByteModel:
    """Tokenizer side of a byte-level model (token bytes, merges, pre-tokenizer)."""

    def __new__(
        cls,
        tokens: Sequence[bytes | None],
        n_vocab: int,
        merges: Sequence[tuple[int, int]] | None,
        ignore_merges: bool,
        pattern: str | None,
        end_ids: Sequence[int],
        stop_ids: Sequence[int],
    ) -> ByteModel: ...
    @property
    def n_vocab(self) -> int: ...
    @property
    def n_bins(self) -> int: ...
    @property
    def max_token_len(self) -> int: ...
    @property
    def has_pretokenizer(self) -> bool: ...
    @property
    def ignore_merges(self) -> bool: ...
    @property
    def end_ids(self) -> list[int]: ...
    @property
    def stop_ids(self) -> list[int]: ...
    def encode(self, data: bytes) -> list[int]: ...
    def pair_valid(self, left: int, right: int) -> bool: ...
    def unreachable(self) -> list[int]: ...
    def stable_cut(self, data: bytes) -> int: ...
    def boundary_statuses(self, window: bytes) -> tuple[str, str]: ...
    def scatter(
        self,
        row: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        left: int | None = None,
        end_ok: bool = True,
    ) -> npt.NDArray[np.float64]: ...

@final
class ByteState:
    """Covers of a byte prefix after a trunk of tokens."""

    def __new__(
        cls, model: ByteModel, trunk: Sequence[int], left: int | None = None
    ) -> ByteState: ...
    @staticmethod
    def from_bytes(
        model: ByteModel,
        trunk: Sequence[int],
        data: bytes,
        lm: Callable[[list[list[int]]], npt.NDArray[np.floating]],
        left: int | None = None,
    ) -> ByteState: ...
    def advance(
        self, byte: int, lm: Callable[[list[list[int]]], npt.NDArray[np.floating]]
    ) -> None: ...
    def next(
        self, lm: Callable[[list[list[int]]], npt.NDArray[np.floating]]
    ) -> tuple[npt.NDArray[np.float64], float]: ...
    def log_cover(self) -> float: ...
    def covers(
        self,
    ) -> tuple[list[tuple[list[int], float]], list[tuple[list[int], float, bytes]]]: ...
    def copy(self) -> ByteState: ...
    @property
    def data(self) -> bytes: ...
    @property
    def trunk(self) -> list[int]: ...
    @property
    def rows_fetched(self) -> int: ...
    @property
    def is_dead(self) -> bool: ...
    @property
    def sizes(self) -> tuple[int, int]: ...

# --- Hugging Face tokenizer.json pipelines (rust/tokenbytes-py/src/hf.rs) ---

__all__ += ["HfEncoding", "HfTokenizer"]

@final
class HfEncoding:
    """One encoded input, like ``tokenizers.Encoding``."""

    @property
    def ids(self) -> list[int]: ...
    @property
    def type_ids(self) -> list[int]: ...
    @property
    def tokens(self) -> list[str]: ...
    @property
    def offsets(self) -> list[tuple[int, int]]: ...
    @property
    def attention_mask(self) -> list[int]: ...
    @property
    def special_tokens_mask(self) -> list[int]: ...
    @property
    def word_ids(self) -> list[int | None]: ...
    @property
    def overflowing(self) -> list[HfEncoding]: ...
    def __len__(self) -> int: ...
    def pad(
        self,
        length: int,
        direction: str = "right",
        pad_id: int = 0,
        pad_type_id: int = 0,
        pad_token: str = "[PAD]",
    ) -> None: ...
    def truncate(self, max_length: int, stride: int = 0, direction: str = "right") -> None: ...

@final
class HfTokenizer:
    """A byte-level BPE ``tokenizer.json``, encoding exactly as ``tokenizers`` 0.23.3."""

    @staticmethod
    def from_str(json: str | bytes, source: str) -> HfTokenizer: ...
    def encode(
        self,
        text: str,
        pair: str | None = None,
        add_special_tokens: bool = True,
        split_special_tokens: bool = False,
    ) -> HfEncoding: ...
    def encode_batch(
        self,
        inputs: Sequence[str | tuple[str, str]],
        add_special_tokens: bool = True,
        split_special_tokens: bool = False,
        num_threads: int = 0,
    ) -> list[HfEncoding]: ...
    def encode_ids(
        self, text: str, add_special_tokens: bool = True, split_special_tokens: bool = False
    ) -> list[int]: ...
    def encode_ids_batch(
        self,
        texts: Sequence[str],
        add_special_tokens: bool = True,
        split_special_tokens: bool = False,
        num_threads: int = 0,
    ) -> list[list[int]]: ...
    def set_truncation(
        self,
        max_length: int | None,
        stride: int = 0,
        strategy: str = "longest_first",
        direction: str = "right",
    ) -> None: ...
    def set_padding(
        self,
        direction: str = "right",
        pad_id: int = 0,
        pad_type_id: int = 0,
        pad_token: str = "[PAD]",
        length: int | None = None,
        pad_to_multiple_of: int | None = None,
    ) -> None: ...
    def no_padding(self) -> None: ...
    def no_truncation(self) -> None: ...
    @property
    def truncation(self) -> dict[str, int | str] | None: ...
    @property
    def padding(self) -> dict[str, int | str | None] | None: ...
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str: ...
    def decode_batch(
        self, batch: Sequence[Sequence[int]], skip_special_tokens: bool = False
    ) -> list[str]: ...
    def token_to_id(self, token: str) -> int | None: ...
    def id_to_token(self, id: int) -> str | None: ...
    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]: ...
    def get_vocab_size(self, with_added_tokens: bool = True) -> int: ...
    def added_tokens(self) -> list[tuple[int, str, bool]]: ...
    def token_bytes(self, id: int) -> bytes: ...
    def encode_tiktoken(
        self,
        text: str,
        allowed_special: Iterable[str] | str | None,
        disallowed_special: Iterable[str] | str | None,
    ) -> list[int]: ...
    def encode_ordinary(self, text: str) -> list[int]: ...
    def decode_bytes(self, ids: Sequence[int]) -> bytes: ...
    def merges(self) -> list[tuple[int, int]]: ...
    @property
    def ignore_merges(self) -> bool: ...
    @property
    def uses_fast_path(self) -> bool: ...
    @property
    def fast_path_reason(self) -> str | None: ...
    def set_fast_path(self, on: bool) -> None: ...
    def num_special_tokens_to_add(self, is_pair: bool = False) -> int: ...

# Other vocabulary formats as Hugging Face tokenizer.json text
# (tokenbytes_core::formats). NotImplementedError: a tokenizer kind or GGUF
# pre-tokenizer that is not byte-level BPE or not supported; ValueError
# (naming the file): a malformed file.

__all__ += [
    "gguf_metadata",
    "gguf_tokenizer_json",
    "merges_from_ranks",
    "merges_from_ranks_report",
    "tekken_tokenizer_json",
    "tiktoken_tokenizer_json",
]

def gguf_tokenizer_json(path: str | os.PathLike[str]) -> str: ...
def gguf_metadata(
    path: str | os.PathLike[str],
) -> dict[str, int | float | bool | str | dict[str, int | str]]: ...
def tekken_tokenizer_json(data: bytes, source: str) -> str: ...
def merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[int, int]]: ...
def merges_from_ranks_report(
    ranks: dict[bytes, int],
) -> tuple[list[tuple[int, int, int]], list[int], list[tuple[int, int, int]]]: ...
def tiktoken_tokenizer_json(
    ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int]
) -> str: ...
