"""`Tokenizer`: Hugging Face `tokenizers`-style API over the Rust tokenizer.json engine.

Load a byte-level BPE tokenizer from local files (never from a model hub)::

    from tokenbytes import Tokenizer
    tok = Tokenizer.from_file("tokenizer.json")        # or from_pretrained(local_dir),
    enc = tok.encode("Hello world")                     #    from_gguf, from_tekken, from_str
    enc.ids, enc.tokens, enc.offsets                    # like tokenizers.Encoding
    tok.decode(enc.ids)

The methods, argument names, defaults and results follow `tokenizers` 0.23.3 (the
reference every test compares with): ids, tokens, character offsets, masks, type ids,
truncation and padding are identical. `Tokenizer.as_encoding()` gives the same vocabulary
behind tiktoken's `tokenbytes.Encoding` API (`encode(text, allowed_special=...)`).

Supported pipelines: byte-level BPE (`model.type == "BPE"` over the GPT-2 byte alphabet)
with the normalizers, pre-tokenizers, post-processors and decoders listed in the README.
Anything else (WordPiece, Unigram, other components) raises NotImplementedError at load
time, naming the component; nothing is approximated.

Dimensions used in docstrings: T = number of tokens of one encoding, B = batch size.
Offsets are ``(start, end)`` character (code point) positions in the input string.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tokenbytes import _core
from tokenbytes.core import AllowedSpecial, _check_threads

if TYPE_CHECKING:
    from tokenbytes.bytelm import TokenizerSpec

__all__ = ["Tokenizer", "TokenizerEncoding"]

StrPath = str | os.PathLike[str]
Direction = Literal["left", "right"]
Strategy = Literal["longest_first", "only_first", "only_second"]
InputSequence = str | tuple[str, str] | list[str]

_DIRECTIONS = ("left", "right")
_STRATEGIES = ("longest_first", "only_first", "only_second")
#: Config keys (tokenizer_config.json / special_tokens_map.json) naming special tokens.
_NAMED_SPECIALS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)
#: EOS candidates for `TokenizerEncoding.eot_token` when no config names one.
_EOS_GUESSES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<|im_end|>", "<eos>")


def _type_error(name: str, expected: str, value: object) -> TypeError:
    return TypeError(f"{name} must be {expected}, got {type(value).__name__}")


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _type_error(name, "a bool", value)
    return value


def _check_opt_int(name: str, value: object, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "an int or None", value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise _type_error(name, "a str", value)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"unknown {name} {value!r}: use one of {allowed}")
    return value


def _read_text(path: Path, what: str) -> str:
    """The UTF-8 text of `path`; ValueError naming the file if it is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: {what} is not valid UTF-8 ({e})") from None


def _load_json_file(path: Path, what: str) -> Any:
    """Parse a small JSON file; duplicate keys and syntax errors raise ValueError naming it."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"{path}: {what} has the key {key!r} twice")
            out[key] = value
        return out

    try:
        return json.loads(_read_text(path, what), object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: {what} is not valid JSON: {e}") from None


# ------------------------------------------------------------------ truncation / padding


def _truncation_to_json(t: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if t is None:
        return None
    strategy = {"longest_first": "LongestFirst", "only_first": "OnlyFirst"}.get(
        t["strategy"], "OnlySecond"
    )
    return {
        "direction": t["direction"].capitalize(),
        "max_length": t["max_length"],
        "strategy": strategy,
        "stride": t["stride"],
    }


def _padding_to_json(p: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "strategy": "BatchLongest" if p["length"] is None else {"Fixed": p["length"]},
        "direction": p["direction"].capitalize(),
        "pad_to_multiple_of": p["pad_to_multiple_of"],
        "pad_id": p["pad_id"],
        "pad_type_id": p["pad_type_id"],
        "pad_token": p["pad_token"],
    }


# ------------------------------------------------------------------ vocab.json + merges.txt


def _with_template_ids(tok: Tokenizer) -> Tokenizer:
    """`tok` with each TemplateProcessing special token's ids set to the id the token has
    (the GPT-2-style conversion writes a placeholder for a BOS token that only the
    config's added tokens define); `tok` itself when they already agree."""
    data = json.loads(tok._json)
    post = data.get("post_processor") or {}
    if post.get("type") != "TemplateProcessing":
        return tok
    changed = False
    for name, entry in post.get("special_tokens", {}).items():
        ids = [tok.token_to_id(t) for t in entry.get("tokens", [])]
        if None in ids:
            raise ValueError(f"{tok.source}: the BOS token {name!r} is not a token")
        if ids != entry.get("ids"):
            entry["ids"] = ids
            changed = True
    return Tokenizer(json.dumps(data, ensure_ascii=False), source=tok.source) if changed else tok


def _gpt2_style_json(folder: Path, config: Mapping[str, Any]) -> str:
    """The tokenizer.json of a GPT-2-style folder (``vocab.json`` + ``merges.txt``).

    Built as `tokenizers`' ``ByteLevelBPETokenizer`` and transformers' GPT-2 conversion
    both build it: byte-level BPE over the two files (no unk token, no dropout), a
    ByteLevel pre-tokenizer with the GPT-2 regex (``add_prefix_space`` from
    tokenizer_config.json, default false), a ByteLevel decoder and a ByteLevel
    post-processor with ``trim_offsets=False``. If the config sets ``add_bos_token``,
    a TemplateProcessing post-processor puts the BOS token first, as transformers does.
    Special tokens named in the config files are added afterwards by the caller.
    """
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab = _load_json_file(vocab_path, "vocab.json")
    if not isinstance(vocab, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in vocab.items()
    ):
        raise ValueError(f"{vocab_path}: vocab.json must be an object of token -> int id")
    seen: dict[int, str] = {}
    for token, i in vocab.items():
        if i < 0:
            raise ValueError(f"{vocab_path}: token {token!r} has a negative id {i}")
        if i in seen:
            raise ValueError(f"{vocab_path}: id {i} is given to {seen[i]!r} and {token!r}")
        seen[i] = token
    merges = []
    # The merges.txt rules of tokenizers' BPE.from_file: lines starting with "#version"
    # are skipped, every other line is exactly two tokens separated by one space.
    for number, line in enumerate(_read_text(merges_path, "merges.txt").splitlines(), 1):
        if line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise ValueError(
                f"{merges_path}: line {number} is not two tokens separated by a space: {line!r}"
            )
        merges.append(parts)
    add_prefix_space = bool(config.get("add_prefix_space", False))
    post_processor: dict[str, Any] = {
        "type": "ByteLevel",
        "add_prefix_space": True,
        "trim_offsets": False,
        "use_regex": True,
    }
    if config.get("add_bos_token"):
        bos = _token_content(config.get("bos_token"))
        if bos is None:
            raise ValueError(f"{folder}: tokenizer_config.json sets add_bos_token but no bos_token")
        post_processor = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, _seq("A", 0)],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, _seq("A", 0), _seq("B", 1)],
            # A BOS token that is not in vocab.json is added with the other special
            # tokens of the config (as transformers does); `from_pretrained` then puts
            # its id here, in place of this placeholder.
            "special_tokens": {bos: {"id": bos, "ids": [vocab.get(bos, 0)], "tokens": [bos]}},
        }
    data: dict[str, Any] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": add_prefix_space,
            "trim_offsets": True,
            "use_regex": True,
        },
        "post_processor": post_processor,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }
    return json.dumps(data, ensure_ascii=False)


def _seq(which: str, type_id: int) -> dict[str, Any]:
    return {"Sequence": {"id": which, "type_id": type_id}}


def _token_content(value: object) -> str | None:
    """A special token as config files write it: a str or an AddedToken dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _config_specials(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(tokenizer_config.json, the special tokens its files declare).

    Each declared token is a dict with ``content`` and, where the files give them,
    ``id``, ``special``, ``lstrip``, ``rstrip``, ``single_word`` and ``normalized``.
    Sources, in order: tokenizer_config.json's ``added_tokens_decoder`` (with ids),
    then the named tokens (``bos_token`` ... ``mask_token``) and
    ``additional_special_tokens`` of special_tokens_map.json and tokenizer_config.json.
    """
    config: dict[str, Any] = {}
    declared: list[dict[str, Any]] = []
    config_path = folder / "tokenizer_config.json"
    if config_path.is_file():
        loaded = _load_json_file(config_path, "tokenizer_config.json")
        if not isinstance(loaded, dict):
            raise ValueError(f"{config_path}: tokenizer_config.json must be a JSON object")
        config = loaded
        decoder = config.get("added_tokens_decoder") or {}
        if not isinstance(decoder, dict):
            raise ValueError(f"{config_path}: added_tokens_decoder must be an object")
        for key, entry in decoder.items():
            content = _token_content(entry)
            if content is None or not str(key).isdigit():
                raise ValueError(
                    f"{config_path}: added_tokens_decoder entry {key!r} is not id -> token"
                )
            item = dict(entry) if isinstance(entry, dict) else {}
            item.update(content=content, id=int(key))
            declared.append(item)
    sources: list[tuple[Path, Mapping[str, Any]]] = []
    map_path = folder / "special_tokens_map.json"
    if map_path.is_file():
        loaded = _load_json_file(map_path, "special_tokens_map.json")
        if not isinstance(loaded, dict):
            raise ValueError(f"{map_path}: special_tokens_map.json must be a JSON object")
        sources.append((map_path, loaded))
    sources.append((config_path, config))
    for path, source in sources:
        values: list[object] = [source.get(key) for key in _NAMED_SPECIALS]
        extra = source.get("additional_special_tokens") or []
        if not isinstance(extra, list):
            raise ValueError(f"{path}: additional_special_tokens must be a list")
        values.extend(extra)
        for value in values:
            if value is None:
                continue
            content = _token_content(value)
            if content is None:
                raise ValueError(f"{path}: a special token is neither a str nor an object")
            item = dict(value) if isinstance(value, dict) else {}
            item.update(content=content, special=True)
            declared.append(item)
    return config, declared


def _with_added_tokens(
    tok: Tokenizer, declared: Sequence[Mapping[str, Any]], where: Path
) -> str | None:
    """`tok`'s tokenizer.json with the declared tokens it lacks added, or None if none
    lacks (then its text is not read: a file loaded as bytes stays undecoded).

    A declared token that is already an added token is left as the tokenizer.json has it.
    One that is a vocabulary token becomes an added token with that id; one with an id
    from added_tokens_decoder keeps that id; any other gets the next free id.
    """
    core = tok._core
    present = {content for _, content, _ in core.added_tokens()}
    missing: dict[str, Mapping[str, Any]] = {}
    for item in declared:
        if item["content"] not in present:
            missing.setdefault(item["content"], item)
    if not missing:
        return None
    data = json.loads(tok._json)
    next_id = core.get_vocab_size(with_added_tokens=True)
    for content, item in missing.items():
        token_id = core.token_to_id(content)
        if token_id is None:
            token_id = item.get("id")
        if token_id is None:
            token_id = next_id
        if not isinstance(token_id, int) or token_id < 0:
            raise ValueError(f"{where}: special token {content!r} has an invalid id {token_id!r}")
        next_id = max(next_id, token_id + 1)
        special = bool(item.get("special", True))
        data["added_tokens"].append(
            {
                "id": token_id,
                "content": content,
                "single_word": bool(item.get("single_word", False)),
                "lstrip": bool(item.get("lstrip", False)),
                "rstrip": bool(item.get("rstrip", False)),
                "normalized": bool(item.get("normalized", not special)),
                "special": special,
            }
        )
    return json.dumps(data, ensure_ascii=False)


# ------------------------------------------------------------------ the facade


class Tokenizer:
    """A byte-level BPE tokenizer with the API of `tokenizers.Tokenizer`.

    Build one with `from_file`, `from_str`, `from_buffer`, `from_pretrained` (a local
    folder), `from_gguf` or `from_tekken`. ``Tokenizer(json)`` equals
    ``Tokenizer.from_str(json)``.

    Results equal `tokenizers` 0.23.3 on the same tokenizer.json: ids, tokens,
    character offsets, type ids, attention and special-token masks, overflowing parts,
    truncation and padding. Encoding and decoding run in Rust; batch calls release the
    GIL and use `num_threads` threads.

    Attributes:
        split_special_tokens: when True, special added tokens are not matched in the
            input: their strings are encoded as ordinary text (for untrusted text).
            Default False, as in `tokenizers` (there: ``encode_special_tokens``).
            Non-special added tokens are still matched, as in `tokenizers`.
        num_threads: threads of the batch calls; None (default) = env
            ``TOKENBYTES_NUM_THREADS`` or all cores.
        source: the file (or ``"<string>"``) the tokenizer was loaded from; errors name it.

    Raises (every constructor):
        ValueError: malformed input, naming the file: invalid JSON, a merge naming an
            unknown token, duplicate ids, a file that is not a GGUF, ...
        NotImplementedError: a model or component other than byte-level BPE (WordPiece,
            Unigram, an unsupported normalizer or pre-tokenizer ...), naming it.
        FileNotFoundError: a path that does not exist.
    """

    def __init__(
        self,
        json: str,
        *,
        source: str = "<string>",
        split_special_tokens: bool = False,
        num_threads: int | None = None,
    ) -> None:
        if not isinstance(json, str):
            raise _type_error("json", "a str", json)
        if not isinstance(source, str):
            raise _type_error("source", "a str", source)
        self._setup(json, source, split_special_tokens, num_threads)

    def _setup(
        self,
        json: str | bytes,
        source: str,
        split_special_tokens: bool,
        num_threads: int | None,
    ) -> None:
        # The Rust parser reads UTF-8 bytes as they are (and reports bytes that are not
        # UTF-8, naming `source`); the text is decoded only if it is asked for.
        self._core = _core.HfTokenizer.from_str(json, source)
        self._json_data = json
        self.source = source
        self.split_special_tokens = split_special_tokens
        self.num_threads = num_threads
        self._eos: Callable[[], str | None] = lambda: None

    @classmethod
    def _from_utf8(cls, data: bytes, source: str, split_special_tokens: bool) -> Tokenizer:
        """A tokenizer from the UTF-8 bytes of a tokenizer.json, never decoded to str
        unless needed (a 9 MB file: saves a decode and a re-encode on load)."""
        tok = cls.__new__(cls)
        tok._setup(data, source, split_special_tokens, None)
        return tok

    @property
    def _json(self) -> str:
        """The tokenizer.json text this tokenizer was loaded from."""
        if isinstance(self._json_data, bytes):
            self._json_data = self._json_data.decode("utf-8")
        return self._json_data

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_str(
        cls, json: str, *, split_special_tokens: bool = False, source: str = "<string>"
    ) -> Tokenizer:
        """Load a tokenizer from the text of a tokenizer.json."""
        return cls(json, source=source, split_special_tokens=split_special_tokens)

    @classmethod
    def from_buffer(cls, buffer: bytes, *, split_special_tokens: bool = False) -> Tokenizer:
        """Load a tokenizer from the UTF-8 bytes of a tokenizer.json."""
        if not isinstance(buffer, (bytes, bytearray, memoryview)):
            raise _type_error("buffer", "bytes", buffer)
        return cls._from_utf8(bytes(buffer), "<buffer>", split_special_tokens)

    @classmethod
    def from_file(cls, path: StrPath, *, split_special_tokens: bool = False) -> Tokenizer:
        """Load a local tokenizer.json file.

        Raises:
            FileNotFoundError: no such file.
            ValueError / NotImplementedError: see the class docstring.
        """
        p = Path(path)
        return cls._from_utf8(p.read_bytes(), str(p), split_special_tokens)

    @classmethod
    def from_pretrained(
        cls, local_dir: StrPath, *, split_special_tokens: bool = False
    ) -> Tokenizer:
        """Load the tokenizer saved in a local folder (never downloads anything).

        The folder is read the way transformers reads a saved tokenizer:

        1. ``tokenizer.json`` if present; else
        2. ``tekken.json`` (Mistral) if present; else
        3. ``vocab.json`` + ``merges.txt`` (GPT-2 style), turned into the tokenizer.json
           that `tokenizers`' ``ByteLevelBPETokenizer`` would build (see
           `_gpt2_style_json`: ByteLevel pre-tokenizer, decoder and post-processor with
           ``trim_offsets=False``; ``add_prefix_space`` and ``add_bos_token`` from
           tokenizer_config.json).

        Then the special tokens that ``tokenizer_config.json`` (``added_tokens_decoder``,
        ``bos_token`` ... ``mask_token``, ``additional_special_tokens``) and
        ``special_tokens_map.json`` declare are added as special added tokens, unless the
        tokenizer already has them as added tokens. A token that is in the vocabulary
        keeps its id; others get the id from ``added_tokens_decoder`` or the next free id.
        This is what makes ``<|endoftext|>`` special for GPT-2 when its config names it;
        without config files, a vocab.json + merges.txt folder has no special tokens
        (as with ``ByteLevelBPETokenizer``).

        Raises:
            FileNotFoundError: `local_dir` is not a folder (a hub model id is not looked
                up), or it holds none of the files above.
            NotImplementedError: the folder holds only a SentencePiece ``tokenizer.model``
                or a WordPiece ``vocab.txt``.
            ValueError: malformed files, naming the file.
        """
        folder = Path(local_dir)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder}: not a local folder (tokenbytes reads local files only and never "
                "downloads from a model hub)"
            )
        config, declared = _config_specials(folder)
        gpt2_style = False
        if (folder / "tokenizer.json").is_file():
            tok = cls.from_file(folder / "tokenizer.json")
        elif (folder / "tekken.json").is_file():
            tok = cls.from_tekken(folder / "tekken.json")
        elif (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
            source = f"{folder / 'vocab.json'} + merges.txt"
            tok = cls(_gpt2_style_json(folder, config), source=source)
            gpt2_style = True
        elif (folder / "tokenizer.model").is_file() or (folder / "vocab.txt").is_file():
            found = "tokenizer.model" if (folder / "tokenizer.model").is_file() else "vocab.txt"
            raise NotImplementedError(
                f"{folder / found}: only byte-level BPE tokenizers are supported "
                "(SentencePiece tokenizer.model and WordPiece vocab.txt are not)"
            )
        else:
            raise FileNotFoundError(
                f"{folder}: no tokenizer.json, tekken.json, or vocab.json + merges.txt"
            )
        patched = _with_added_tokens(tok, declared, folder)
        if patched is not None:
            tok = cls(patched, source=tok.source)
        if gpt2_style:
            tok = _with_template_ids(tok)
        tok.split_special_tokens = _check_bool("split_special_tokens", split_special_tokens)
        eos = _token_content(config.get("eos_token"))
        if eos is not None:
            tok._eos = lambda: eos
        return tok

    @classmethod
    def from_gguf(cls, path: StrPath, *, split_special_tokens: bool = False) -> Tokenizer:
        """Load the tokenizer stored in a GGUF model file (llama.cpp).

        Only the metadata is read (not the weights): the ``tokenizer.ggml.*`` keys of a
        byte-level BPE model (``tokenizer.ggml.model == "gpt2"``) are converted into a
        tokenizer.json (`tokenbytes._core.gguf_tokenizer_json`: vocabulary, merges,
        added tokens from the token types, BOS/EOS template, and the pre-tokenizer
        llama.cpp uses for ``tokenizer.ggml.pre``), which is then loaded.

        Raises:
            ValueError: not a GGUF file, truncated or malformed, naming the file.
            NotImplementedError: a non-BPE model (SentencePiece "llama", WordPiece "bert",
                ...) or an unknown pre-tokenizer name.
        """
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such GGUF file")
        tok = cls(_core.gguf_tokenizer_json(str(p)), source=str(p))
        tok.split_special_tokens = _check_bool("split_special_tokens", split_special_tokens)

        def eos() -> str | None:
            eos_id = _core.gguf_metadata(str(p)).get("tokenizer.ggml.eos_token_id")
            return tok.id_to_token(eos_id) if isinstance(eos_id, int) else None

        tok._eos = eos
        return tok

    @classmethod
    def from_tekken(cls, path: StrPath, *, split_special_tokens: bool = False) -> Tokenizer:
        """Load a Mistral Tekken tokenizer (``tekken.json``, as mistral-common reads it).

        The file is converted to a tokenizer.json by `_core.tekken_tokenizer_json`: ids
        are rank + number of special tokens, the vocabulary is cut to the file's default
        size as mistral-common does, and the special tokens are special added tokens.
        Note that mistral-common itself never matches special-token strings in text;
        use ``split_special_tokens=True`` to get its behaviour.

        Raises:
            ValueError: malformed file, naming it.
        """
        p = Path(path)
        tok = cls(_core.tekken_tokenizer_json(p.read_bytes(), str(p)), source=str(p))
        tok.split_special_tokens = _check_bool("split_special_tokens", split_special_tokens)
        tok._eos = lambda: "</s>" if tok.token_to_id("</s>") is not None else None
        return tok

    def byte_level_spec(self) -> TokenizerSpec:
        """The tokenizer as the byte-level layer needs it (token bytes, merges,
        pre-tokenizer regex, special tokens): `tokenbytes.bytelm.spec_from_tokenizer_json`
        of this tokenizer's JSON. Lets a `Tokenizer` be passed to `tokenbytes.ByteLM`.

        Raises:
            NotImplementedError: a normalizer or pre-tokenizer the byte-level layer does not
                handle.
        """
        from tokenbytes.bytelm import spec_from_tokenizer_json

        return spec_from_tokenizer_json(self._json, hf=self._core)

    # ------------------------------------------------------------------ settings

    @property
    def split_special_tokens(self) -> bool:
        """Whether special-token strings in the input are encoded as plain text."""
        return self._split_special_tokens

    @split_special_tokens.setter
    def split_special_tokens(self, value: bool) -> None:
        self._split_special_tokens = _check_bool("split_special_tokens", value)

    @property
    def encode_special_tokens(self) -> bool:
        """`tokenizers`' name for `split_special_tokens`."""
        return self._split_special_tokens

    @encode_special_tokens.setter
    def encode_special_tokens(self, value: bool) -> None:
        self.split_special_tokens = value

    @property
    def num_threads(self) -> int | None:
        """Threads of the batch calls (None: env TOKENBYTES_NUM_THREADS, else all cores)."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value: int | None) -> None:
        if value is not None:
            _check_threads(value)
        self._num_threads = value

    def _threads(self) -> int:
        return _check_threads(self._num_threads)

    def enable_truncation(
        self,
        max_length: int,
        stride: int = 0,
        strategy: Strategy = "longest_first",
        direction: Direction = "right",
    ) -> None:
        """Truncate every encoding to at most `max_length` tokens (as `tokenizers`).

        Truncation happens before the post-processor, leaving room for the special tokens
        it adds. The tokens cut off are returned in `Encoding.overflowing`, in windows that
        repeat the last `stride` tokens of the previous one.

        Args:
            max_length: the most tokens an encoding keeps, special tokens included.
            stride: tokens shared by consecutive overflowing windows.
            strategy: for a pair, ``"longest_first"`` (cut the longer one, token by
                token), ``"only_first"`` or ``"only_second"``.
            direction: ``"right"`` (drop the end) or ``"left"`` (drop the start).

        Raises:
            ValueError: unknown strategy or direction; `stride` not smaller than
                `max_length` minus the special tokens the post-processor adds.
        """
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise _type_error("max_length", "an int", max_length)
        if max_length < 0:
            raise ValueError(f"max_length must be >= 0, got {max_length}")
        stride = _check_opt_int("stride", stride, 0) or 0
        strategy = _check_choice("strategy", strategy, _STRATEGIES)  # type: ignore[assignment]
        direction = _check_choice("direction", direction, _DIRECTIONS)  # type: ignore[assignment]
        self._core.set_truncation(max_length, stride, strategy, direction)

    def no_truncation(self) -> None:
        """Turn truncation off (the default)."""
        self._core.no_truncation()

    @property
    def truncation(self) -> dict[str, Any] | None:
        """The truncation settings as `tokenizers` reports them, or None when off.

        Keys: ``max_length``, ``stride``, ``strategy``, ``direction``.
        """
        return self._core.truncation

    def enable_padding(
        self,
        direction: Direction = "right",
        pad_id: int = 0,
        pad_type_id: int = 0,
        pad_token: str = "[PAD]",
        length: int | None = None,
        pad_to_multiple_of: int | None = None,
    ) -> None:
        """Pad encodings (as `tokenizers`).

        With `length` None, `encode_batch` pads every encoding to the longest of the
        batch (a single `encode` is then not padded); otherwise each encoding is padded
        to `length`. Either length is then rounded up to a multiple of
        `pad_to_multiple_of`. Padding tokens get `pad_id`, `pad_token`, `pad_type_id`,
        attention mask 0 and special-tokens mask 1; their offsets are ``(0, 0)``.

        Raises:
            ValueError: unknown direction, or a negative length.
        """
        direction = _check_choice("direction", direction, _DIRECTIONS)  # type: ignore[assignment]
        for name, value in (("pad_id", pad_id), ("pad_type_id", pad_type_id)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(name, "an int", value)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not isinstance(pad_token, str):
            raise _type_error("pad_token", "a str", pad_token)
        length = _check_opt_int("length", length, 0)
        pad_to_multiple_of = _check_opt_int("pad_to_multiple_of", pad_to_multiple_of, 0)
        self._core.set_padding(
            direction, pad_id, pad_type_id, pad_token, length, pad_to_multiple_of
        )

    def no_padding(self) -> None:
        """Turn padding off (the default)."""
        self._core.no_padding()

    @property
    def padding(self) -> dict[str, Any] | None:
        """The padding settings as `tokenizers` reports them, or None when off.

        Keys: ``length``, ``pad_to_multiple_of``, ``pad_id``, ``pad_token``,
        ``pad_type_id``, ``direction``.
        """
        return self._core.padding

    # ------------------------------------------------------------------ encoding

    def encode(
        self,
        sequence: str,
        pair: str | None = None,
        is_pretokenized: bool = False,
        add_special_tokens: bool = True,
    ) -> _core.HfEncoding:
        """Encode one text (or a pair of texts) with everything `tokenizers` returns.

        Args:
            sequence: the text.
            pair: an optional second text (type id 1 in templates that say so).
            is_pretokenized: must be False (pre-split input is not supported).
            add_special_tokens: apply the post-processor's template (BOS etc.).

        Returns:
            An `Encoding` with ``ids``, ``tokens``, ``offsets`` (character positions in
            `sequence`, or in `pair` for its tokens), ``type_ids``, ``attention_mask``,
            ``special_tokens_mask`` (lists of length T) and ``overflowing`` (the parts
            truncation cut off).

        Raises:
            TypeError: `sequence` or `pair` is not a str.
            NotImplementedError: `is_pretokenized=True`.
            ValueError: truncation cannot be applied (for instance ``only_second`` with
                no pair).
        """
        if is_pretokenized:
            raise NotImplementedError("is_pretokenized=True is not supported by tokenbytes")
        return self._core.encode(sequence, pair, add_special_tokens, self._split_special_tokens)

    def encode_batch(
        self,
        input: Sequence[InputSequence],
        is_pretokenized: bool = False,
        add_special_tokens: bool = True,
    ) -> list[_core.HfEncoding]:
        """`encode` of every item, in parallel with the GIL released.

        Args:
            input: B items, each a str or a pair ``(text, pair)`` (tuple or 2-list).
            is_pretokenized: must be False.
            add_special_tokens: as in `encode`.

        Returns:
            B encodings in input order; with padding on and no fixed length, all padded
            to the longest one.
        """
        if is_pretokenized:
            raise NotImplementedError("is_pretokenized=True is not supported by tokenbytes")
        if isinstance(input, str):
            raise _type_error("input", "a list of str or (str, str)", input)
        items: list[Any] = [tuple(x) if isinstance(x, list) else x for x in input]
        return self._core.encode_batch(
            items, add_special_tokens, self._split_special_tokens, self._threads()
        )

    def encode_batch_fast(
        self,
        input: Sequence[InputSequence],
        is_pretokenized: bool = False,
        add_special_tokens: bool = True,
    ) -> list[_core.HfEncoding]:
        """Same as `encode_batch` (`tokenizers` has it as a faster variant without offsets;
        here offsets cost little, and are computed)."""
        return self.encode_batch(input, is_pretokenized, add_special_tokens)

    def encode_ids(self, sequence: str, add_special_tokens: bool = True) -> list[int]:
        """Only the ids of `encode(sequence).ids` (faster: no tokens, offsets or masks).

        Truncation and padding settings apply, as in `encode`.
        """
        return self._core.encode_ids(sequence, add_special_tokens, self._split_special_tokens)

    def encode_ids_batch(
        self, texts: Sequence[str], add_special_tokens: bool = True
    ) -> list[list[int]]:
        """`encode_ids` of B texts, in parallel with the GIL released."""
        return self._core.encode_ids_batch(
            texts, add_special_tokens, self._split_special_tokens, self._threads()
        )

    # ------------------------------------------------------------------ decoding

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of `ids`, through the tokenizer's decoder (as `tokenizers`).

        The default ``skip_special_tokens=True`` is `tokenizers`' default: special added
        tokens are left out. Byte sequences that are not valid UTF-8 become U+FFFD.
        """
        return self._core.decode(ids, skip_special_tokens)

    def decode_batch(
        self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True
    ) -> list[str]:
        """`decode` of every sequence (B sequences -> B strings)."""
        return self._core.decode_batch(sequences, skip_special_tokens)

    # ------------------------------------------------------------------ vocabulary

    def token_to_id(self, token: str) -> int | None:
        """Id of a token string (byte-level form, e.g. ``"Ġthe"``), or None."""
        return self._core.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        """Token string of an id, or None."""
        return self._core.id_to_token(id)

    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]:
        """``{token string: id}``."""
        return self._core.get_vocab(with_added_tokens)

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        """Number of tokens (as `tokenizers`: with added tokens, ids may leave gaps)."""
        return self._core.get_vocab_size(with_added_tokens)

    def added_tokens(self) -> list[tuple[int, str, bool]]:
        """The added tokens as ``(id, content, special)``, by id."""
        return self._core.added_tokens()

    def num_special_tokens_to_add(self, is_pair: bool) -> int:
        """How many tokens the post-processor adds to a single text or to a pair."""
        return self._core.num_special_tokens_to_add(_check_bool("is_pair", is_pair))

    # ------------------------------------------------------------------ JSON, pickling

    def to_str(self, pretty: bool = False) -> str:
        """The tokenizer.json text, with the current truncation and padding settings."""
        data = json.loads(self._json)
        data["truncation"] = _truncation_to_json(self.truncation)
        data["padding"] = _padding_to_json(self.padding)
        return json.dumps(data, ensure_ascii=False, indent=2 if pretty else None)

    def save(self, path: StrPath, pretty: bool = True) -> None:
        """Write `to_str(pretty)` to `path` (UTF-8)."""
        Path(path).write_text(self.to_str(pretty), encoding="utf-8")

    def __reduce__(self) -> tuple[Any, ...]:
        state = {
            "split_special_tokens": self._split_special_tokens,
            "num_threads": self._num_threads,
            "truncation": self.truncation,
            "padding": self.padding,
            "eos": self._eos(),
        }
        return (_rebuild, (self._json, self.source, state))

    def __repr__(self) -> str:
        return (
            f"Tokenizer(source={self.source!r}, vocab_size={self.get_vocab_size()}, "
            f"added_tokens={len(self.added_tokens())}, "
            f"split_special_tokens={self._split_special_tokens}, "
            f"truncation={self.truncation}, padding={self.padding})"
        )

    # ------------------------------------------------------------------ tiktoken view

    def as_encoding(self) -> TokenizerEncoding:
        """This tokenizer behind the tiktoken-style `tokenbytes.Encoding` API.

        The view shares the Rust tokenizer. Its special tokens are the special added
        tokens; ``encode`` follows tiktoken's `allowed_special` / `disallowed_special`
        rules; no post-processor template (BOS) is applied, and truncation/padding do
        not apply. Unlike `Tokenizer.encode`, a character whose bytes the vocabulary
        cannot represent raises ValueError instead of being dropped.
        """
        return self._encoding_view

    @cached_property
    def _encoding_view(self) -> TokenizerEncoding:
        return TokenizerEncoding(self)


def _rebuild(json: str, source: str, state: Mapping[str, Any]) -> Tokenizer:
    tok = Tokenizer(json, source=source)
    tok.split_special_tokens = state["split_special_tokens"]
    tok.num_threads = state["num_threads"]
    if state["truncation"] is None:
        tok.no_truncation()
    else:
        tok.enable_truncation(**state["truncation"])
    if state["padding"] is None:
        tok.no_padding()
    else:
        tok.enable_padding(**state["padding"])
    eos = state["eos"]
    tok._eos = lambda: eos
    return tok


class TokenizerEncoding:
    """A `Tokenizer` behind tiktoken's `Encoding` API (see `Tokenizer.as_encoding`).

    Has the methods and attributes of `tokenbytes.Encoding` that the rest of the library
    and tiktoken users call: ``name``, ``n_vocab``, ``max_token_value``, ``eot_token``,
    ``special_tokens_set``, ``encode``, ``encode_ordinary``, ``encode_batch``,
    ``encode_ordinary_batch``, ``count``, ``decode``, ``decode_bytes``,
    ``decode_single_token_bytes``, ``decode_tokens_bytes``, ``decode_batch``,
    ``encode_single_token``, ``token_byte_values``, ``is_special_token``.

    Ordinary tokens are the vocabulary's tokens and the non-special added tokens;
    special tokens are the special added tokens.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._core = tokenizer._core
        self.name = Path(tokenizer.source).name or tokenizer.source
        added = self._core.added_tokens()
        self._special_tokens = {content: i for i, content, special in added if special}
        self.max_token_value = self._core.get_vocab_size(True) - 1
        all_ids = [*self._core.get_vocab(True).values()]
        if all_ids:
            self.max_token_value = max(all_ids)

    def __repr__(self) -> str:
        return f"<TokenizerEncoding {self.name!r}>"

    # ------------------------------------------------------------------ metadata

    @property
    def n_vocab(self) -> int:
        """One more than the largest token id."""
        return self.max_token_value + 1

    @property
    def eot_token(self) -> int:
        """Id of the end-of-text token.

        Taken from the source when it names one (tokenizer_config.json's ``eos_token``,
        GGUF ``tokenizer.ggml.eos_token_id``, Tekken ``</s>``), else the first special
        token among ``<|endoftext|>``, ``<|end_of_text|>``, ``</s>``, ``<|im_end|>``,
        ``<eos>``.

        Raises:
            KeyError: no end-of-text token is known.
        """
        eos = self._tokenizer._eos()
        if eos is not None and (i := self._core.token_to_id(eos)) is not None:
            return i
        for guess in _EOS_GUESSES:
            if guess in self._special_tokens:
                return self._special_tokens[guess]
        raise KeyError(f"{self.name}: no end-of-text token is known")

    @cached_property
    def special_tokens_set(self) -> set[str]:
        """The special token strings."""
        return set(self._special_tokens)

    @cached_property
    def _special_ids(self) -> frozenset[int]:
        return frozenset(self._special_tokens.values())

    def is_special_token(self, token: int) -> bool:
        """Whether `token` is the id of a special token."""
        try:
            token = operator.index(token)
        except TypeError:
            raise _type_error("token", "an int", token) from None
        return token in self._special_ids

    # ------------------------------------------------------------------ encoding

    def encode_ordinary(self, text: str) -> list[int]:
        """Ids of `text`, special-token strings encoded as ordinary text (list of T ids).

        Raises:
            ValueError: `text` has a character whose bytes are not all in the vocabulary.
        """
        return self._core.encode_ordinary(text)

    def encode(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> list[int]:
        """Ids of `text` with tiktoken's special-token rules (see `tokenbytes.Encoding.encode`).

        Raises:
            ValueError: a disallowed special token occurs in `text` (the message names it),
                or a character's bytes are not in the vocabulary.
        """
        return self._core.encode_tiktoken(text, allowed_special, disallowed_special)

    def count(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> int:
        """``len(encode(text, ...))``."""
        return len(self._core.encode_tiktoken(text, allowed_special, disallowed_special))

    def _map(self, fn: Callable[[str], list[int]], texts: Sequence[str], n: int) -> list[list[int]]:
        if isinstance(texts, str):
            raise _type_error("text", "a list of str", texts)
        texts = list(texts)
        if n <= 1 or len(texts) < 2:
            return [fn(t) for t in texts]
        # Each call releases the GIL for inputs of 4 KiB and more; Python threads then
        # run the Rust encoder in parallel.
        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(fn, texts, chunksize=max(1, len(texts) // (4 * n))))

    def encode_ordinary_batch(
        self, text: Sequence[str], *, num_threads: int | None = None
    ) -> list[list[int]]:
        """`encode_ordinary` of B texts on `num_threads` threads (default: all cores)."""
        return self._map(self._core.encode_ordinary, text, _check_threads(num_threads))

    def encode_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> list[list[int]]:
        """`encode` of B texts on `num_threads` threads (default: all cores)."""
        n = _check_threads(num_threads)
        allowed: Any = allowed_special if isinstance(allowed_special, str) else set(allowed_special)
        disallowed: Any = (
            disallowed_special if isinstance(disallowed_special, str) else set(disallowed_special)
        )
        return self._map(lambda t: self._core.encode_tiktoken(t, allowed, disallowed), text, n)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """Id of a string or bytes that is exactly one token (special tokens included).

        Raises:
            KeyError: it is not one token.
            UnicodeEncodeError: a str holding a lone surrogate (as in tiktoken).
        """
        if isinstance(text_or_bytes, str):
            if text_or_bytes in self._special_tokens:
                return self._special_tokens[text_or_bytes]
            text_or_bytes = text_or_bytes.encode("utf-8")
        if not isinstance(text_or_bytes, (bytes, bytearray)):
            raise _type_error("text_or_bytes", "str or bytes", text_or_bytes)
        key = bytes(text_or_bytes)
        found = self._ids_by_bytes.get(key)
        if found is None:
            raise KeyError(key)
        return found

    @cached_property
    def _bytes_by_id(self) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for i in self._core.get_vocab(True).values():
            if i not in self._special_ids:
                out[i] = self._core.token_bytes(i)
        return out

    @cached_property
    def _ids_by_bytes(self) -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        for i, b in sorted(self._bytes_by_id.items()):
            out.setdefault(b, i)
        return out

    # ------------------------------------------------------------------ decoding

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Concatenated bytes of `tokens` (special tokens give their content's UTF-8).

        Raises:
            KeyError: an unknown id, negative or too large ones included (the message
                names it), as `Encoding.decode_bytes` raises.
            TypeError: an item that is not an int.
        """
        try:
            return self._core.decode_bytes(tokens)
        except OverflowError as e:  # the Tokenizer's own error for ids outside 0..2**32
            raise KeyError(str(e)) from None

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """Text of `tokens`; invalid UTF-8 becomes U+FFFD (``errors="replace"``).

        Raises:
            KeyError, TypeError: as `decode_bytes`.
        """
        return self.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """Raw bytes of one token. Raises KeyError for an unknown id."""
        return self._core.token_bytes(token)

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        """Raw bytes of each token (list of length T)."""
        return [self._core.token_bytes(t) for t in tokens]

    def decode_batch(
        self,
        batch: Sequence[Sequence[int]],
        *,
        errors: str = "replace",
        num_threads: int | None = None,
    ) -> list[str]:
        """`decode` of every sequence."""
        _check_threads(num_threads)
        return [self.decode(seq, errors=errors) for seq in batch]

    def token_byte_values(self) -> list[bytes]:
        """Bytes of every ordinary (non-special) token, sorted bytewise."""
        return sorted(set(self._bytes_by_id.values()))
