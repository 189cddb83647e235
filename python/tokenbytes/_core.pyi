"""Type stubs of the private extension module `tokenbytes._core` (Rust, PyO3)."""

import os
from collections.abc import Iterable, Sequence
from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CoreBpe",
    "__version__",
    "default_threads",
    "dynamic_merge_ids",
    "dynamic_merge_texts",
    "gguf_metadata",
    "gguf_tokenizer_json",
    "merges_from_ranks",
    "merges_from_ranks_report",
    "tekken_tokenizer_json",
    "tiktoken_tokenizer_json",
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

# Other vocabulary formats as Hugging Face tokenizer.json text
# (tokenbytes_core::formats). NotImplementedError: a tokenizer kind or GGUF
# pre-tokenizer that is not byte-level BPE or not supported; ValueError
# (naming the file): a malformed file.
def gguf_tokenizer_json(path: str | os.PathLike[str]) -> str: ...
def gguf_metadata(
    path: str | os.PathLike[str],
) -> dict[str, int | float | bool | str | dict[str, int | str]]: ...
def tekken_tokenizer_json(data: bytes, source: str) -> str: ...
def merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[int, int]]: ...
def merges_from_ranks_report(
    ranks: dict[bytes, int],
) -> tuple[list[tuple[int, int, int]], list[int]]: ...
def tiktoken_tokenizer_json(
    ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int]
) -> str: ...
