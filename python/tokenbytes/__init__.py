"""tokenbytes: exact, fast byte-level BPE tokenization with a Rust core.

A drop-in replacement for tiktoken (``import tokenbytes as tiktoken``)::

    import tokenbytes
    enc = tokenbytes.get_encoding("o200k_base")
    ids = enc.encode("hello world")
    assert enc.decode(ids) == "hello world"
"""

from tokenbytes import dynamic
from tokenbytes._core import __version__
from tokenbytes.bytelm import ByteEnsemble, ByteLM
from tokenbytes.core import Encoding
from tokenbytes.load import load_tiktoken_bpe
from tokenbytes.model import encoding_for_model, encoding_name_for_model
from tokenbytes.registry import get_encoding, list_encoding_names
from tokenbytes.tokenizer import Tokenizer

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
