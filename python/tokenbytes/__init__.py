"""tokenbytes: exact, fast byte-level BPE tokenization with a Rust core.

A drop-in replacement for tiktoken (``import tokenbytes as tiktoken``)::

    import tokenbytes
    enc = tokenbytes.get_encoding("o200k_base")
    ids = enc.encode("hello world")
    assert enc.decode(ids) == "hello world"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenbytes._core import __version__
from tokenbytes.core import Encoding
from tokenbytes.load import load_tiktoken_bpe
from tokenbytes.model import encoding_for_model, encoding_name_for_model
from tokenbytes.registry import get_encoding, list_encoding_names
from tokenbytes.tokenizer import Tokenizer

if TYPE_CHECKING:
    from tokenbytes import dynamic
    from tokenbytes.bytelm import ByteEnsemble, ByteLM

# Imported on first use (PEP 562): they need numpy, whose import takes
# longer than the rest of the package and starts BLAS threads, which the
# tiktoken-compatible encoder never needs.
_LAZY = {
    "dynamic": "tokenbytes.dynamic",
    "ByteEnsemble": "tokenbytes.bytelm",
    "ByteLM": "tokenbytes.bytelm",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenbytes' has no attribute {name!r}")
    import importlib

    mod = importlib.import_module(module)
    value = mod if module.endswith(name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ByteEnsemble",
    "ByteLM",
    "Encoding",
    "Tokenizer",
    "__version__",
    "dynamic",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "list_encoding_names",
    "load_tiktoken_bpe",
]
