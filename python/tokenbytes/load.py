"""Reading `.tiktoken` rank files: local paths only, optional gzip, sha256 check.

A `.tiktoken` file has one ``<base64 token bytes> <rank>`` pair per line.
Nothing here downloads: tokenbytes ships its vocabularies in the wheel.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

from tokenbytes import _core

__all__ = ["load_tiktoken_bpe", "read_rank_file", "verify_hash"]


def read_rank_file(path: str | os.PathLike[str], expected_hash: str | None = None) -> bytes:
    """Return the uncompressed bytes of a rank file, checked against a hash.

    Args:
        path: a local `.tiktoken` file, optionally gzip-compressed (`.gz`, or
            detected by its magic bytes).
        expected_hash: hex sha256 of the *uncompressed* content, or None.

    Raises:
        FileNotFoundError: the file does not exist, or `path` is a URL (which
            tiktoken would download; tokenbytes never does).
        ValueError: the content is not valid gzip, or its sha256 differs from
            `expected_hash` (the message names the file and both hashes).
    """
    if expected_hash is not None and not isinstance(expected_hash, str):
        raise TypeError(f"expected_hash must be a hex str, got {type(expected_hash).__name__}")
    if isinstance(path, str) and "://" in path:
        raise FileNotFoundError(
            f"{path}: tokenbytes reads local files only and never downloads; save the file "
            "and pass its path (the built-in encodings need no file: get_encoding(name))"
        )
    p = Path(path)
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{p}: not a valid gzip file: {e}") from e
    if expected_hash is not None:
        verify_hash(raw, expected_hash, str(p))
    return raw


def verify_hash(data: bytes, expected_hash: str, where: str) -> None:
    """Raise ValueError naming `where` unless sha256(data) == expected_hash."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_hash.lower():
        raise ValueError(
            f"{where}: sha256 mismatch: expected {expected_hash}, got {actual}; "
            "the file is corrupt or is not the vocabulary it claims to be"
        )


def load_tiktoken_bpe(
    path: str | os.PathLike[str], expected_hash: str | None = None
) -> dict[bytes, int]:
    """Load a `.tiktoken` file as a ``{token bytes: rank}`` dict (tiktoken's API).

    The file is parsed and validated in Rust, as for `get_encoding`: every
    line must be ``<base64> <rank>``, ranks and tokens unique, and all 256
    single bytes present (or no byte-level BPE encoding can use it).

    Raises:
        TypeError: `expected_hash` is not a str.
        ValueError: bad gzip, hash mismatch, or a malformed file (the message
            names the file and, where there is one, the 1-based line).
    """
    return core_from_rank_file(path, {}, r"\S+|\s+", expected_hash).mergeable_ranks()


def core_from_rank_file(
    path: str | os.PathLike[str],
    special_tokens: dict[str, int],
    pat_str: str,
    expected_hash: str | None = None,
) -> _core.CoreBpe:
    """Build the Rust encoder straight from a rank file (parsed in Rust).

    Raises:
        ValueError: as `read_rank_file`, or a malformed vocabulary; the
            message starts with the file name (and line, where there is one).
    """
    data = read_rank_file(path, expected_hash)
    try:
        return _core.CoreBpe.from_tiktoken_bytes(data, special_tokens, pat_str)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
