"""Which encoding each OpenAI model name uses (tiktoken's `encoding_for_model`)."""

from __future__ import annotations

from tokenbytes.core import Encoding
from tokenbytes.registry import get_encoding

__all__ = ["encoding_for_model", "encoding_name_for_model"]

_O200K = "o200k_base"
_CL100K = "cl100k_base"
_P50K = "p50k_base"
_R50K = "r50k_base"

# Exact model names.
MODEL_TO_ENCODING: dict[str, str] = {
    **dict.fromkeys(["o1", "o3", "o4-mini", "gpt-5", "gpt-4.1", "gpt-4o"], _O200K),
    **dict.fromkeys(
        [
            "gpt-4", "gpt-3.5-turbo", "gpt-3.5", "gpt-35-turbo", "davinci-002", "babbage-002",
            "text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large",
        ],
        _CL100K,
    ),
    **dict.fromkeys(
        [
            "text-davinci-003", "text-davinci-002", "code-davinci-002", "code-davinci-001",
            "code-cushman-002", "code-cushman-001", "davinci-codex", "cushman-codex",
        ],
        _P50K,
    ),
    **dict.fromkeys(["text-davinci-edit-001", "code-davinci-edit-001"], "p50k_edit"),
    **dict.fromkeys(
        [
            "text-davinci-001", "text-curie-001", "text-babbage-001", "text-ada-001",
            "davinci", "curie", "babbage", "ada",
            "text-similarity-davinci-001", "text-similarity-curie-001",
            "text-similarity-babbage-001", "text-similarity-ada-001",
            "text-search-davinci-doc-001", "text-search-curie-doc-001",
            "text-search-babbage-doc-001", "text-search-ada-doc-001",
            "code-search-babbage-code-001", "code-search-ada-code-001",
        ],
        _R50K,
    ),
    "gpt2": "gpt2",
    "gpt-2": "gpt2",
}  # fmt: skip

# Name prefixes (dated snapshots, fine-tunes), checked in this order.
MODEL_PREFIX_TO_ENCODING: dict[str, str] = {
    "o1-": _O200K,
    "o3-": _O200K,
    "o4-mini-": _O200K,
    "gpt-5": _O200K,
    "gpt-4.5-": _O200K,
    "gpt-4.1-": _O200K,
    "chatgpt-4o-": _O200K,
    "gpt-4o-": _O200K,
    "gpt-4-": _CL100K,
    "gpt-3.5-turbo-": _CL100K,
    "gpt-35-turbo-": _CL100K,
    "gpt-oss-": "o200k_harmony",
    "ft:gpt-4o": _O200K,
    "ft:gpt-4": _CL100K,
    "ft:gpt-3.5-turbo": _CL100K,
    "ft:davinci-002": _CL100K,
    "ft:babbage-002": _CL100K,
}


def encoding_name_for_model(model_name: str) -> str:
    """The encoding name of an OpenAI model.

    Raises:
        KeyError: the model is not known (same as tiktoken).
    """
    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a str, got {type(model_name).__name__}")
    if model_name in MODEL_TO_ENCODING:
        return MODEL_TO_ENCODING[model_name]
    for prefix, name in MODEL_PREFIX_TO_ENCODING.items():
        if model_name.startswith(prefix):
            return name
    raise KeyError(
        f"Could not automatically map {model_name!r} to a tokeniser. "
        "Please use `tokenbytes.get_encoding` to explicitly get the tokeniser you expect."
    )


def encoding_for_model(model_name: str) -> Encoding:
    """The `Encoding` of an OpenAI model (see `encoding_name_for_model`)."""
    return get_encoding(encoding_name_for_model(model_name))
