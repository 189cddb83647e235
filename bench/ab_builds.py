"""In-process A/B comparison of two or more builds of ``tokenbytes._core``.

On a shared machine the speed drifts by 10-40% between process runs, more
than most changes to the encoder are worth. This script loads several
builds' extension modules side by side in ONE process, cuts a corpus
category into chunks of about 256 KB, and times the builds alternately on
each chunk (the order flips every chunk and round); each chunk's time is
the minimum over the rounds, and the sums are compared. Identical builds
read 1.00-1.02 here.

Build each variant into a venv of its own first, for example::

    python -m venv --system-site-packages /tmp/venv-new
    /tmp/venv-new/bin/pip install --no-deps --no-build-isolation .

then::

    python bench/ab_builds.py /tmp/venv-old /tmp/venv-new \\
        --encoding cl100k_base --category en_prose --mode list

Modes: ``list`` (encode_ordinary per document), ``count`` (count per
document), ``batch`` (encode_ordinary_batch per chunk, all cores),
``batchall`` (one encode_ordinary_batch over the whole category).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import tokenbytes

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus" / "bench"
DATA = HERE.parent / "python" / "tokenbytes" / "data"
CHUNK_BYTES = 256 << 10


def load_core(venv: Path) -> ModuleType:
    """The ``tokenbytes._core`` extension module installed in ``venv``."""
    found = sorted(venv.glob("lib/python3*/site-packages/tokenbytes/_core*.so"))
    if not found:
        raise SystemExit(f"no tokenbytes/_core*.so under {venv}")
    spec = importlib.util.spec_from_file_location("tokenbytes._core", found[0])
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {found[0]}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chunked(docs: list[str], mode: str) -> list[list[str]]:
    if mode == "batchall":
        return [docs]
    chunks: list[list[str]] = [[]]
    size = 0
    for doc in docs:
        chunks[-1].append(doc)
        size += len(doc.encode())
        if size >= CHUNK_BYTES:
            chunks.append([])
            size = 0
    return [c for c in chunks if c]


def task(core: Any, mode: str, chunk: list[str], threads: int) -> Callable[[], object]:
    if mode == "list":
        return lambda: [core.encode_ordinary(d) for d in chunk]
    if mode == "count":
        return lambda: [core.count(d, set(), set()) for d in chunk]
    return lambda: core.encode_ordinary_batch(chunk, threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("venvs", nargs="+", type=Path, help="venvs holding the builds; first is A")
    p.add_argument("--encoding", default="cl100k_base")
    p.add_argument("--category", default="en_prose")
    p.add_argument("--mode", choices=["list", "count", "batch", "batchall"], default="list")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=tokenbytes._core.default_threads())
    p.add_argument("--corpus", type=Path, default=CORPUS)
    args = p.parse_args()

    pattern = tokenbytes.get_encoding(args.encoding)._pat_str
    ranks = gzip.decompress((DATA / f"{args.encoding}.tiktoken.gz").read_bytes())
    cores = {
        str(v): load_core(v).CoreBpe.from_tiktoken_bytes(ranks, {}, pattern) for v in args.venvs
    }
    path = args.corpus / f"{args.category}.jsonl"
    docs = [json.loads(line)["text"] for line in path.open() if line.strip()]
    mb = sum(len(d.encode()) for d in docs) / 1e6
    chunks = chunked(docs, args.mode)
    names = list(cores)
    best = {name: [float("inf")] * len(chunks) for name in names}
    for r in range(args.rounds):
        for ci, chunk in enumerate(chunks):
            for name in names if (r + ci) % 2 == 0 else names[::-1]:
                fn = task(cores[name], args.mode, chunk, args.threads)
                gc.disable()
                t0 = time.perf_counter()
                out = fn()
                dt = time.perf_counter() - t0
                gc.enable()
                del out
                best[name][ci] = min(best[name][ci], dt)
    total = {name: sum(v) for name, v in best.items()}
    a = names[0]
    print(f"{args.encoding} {args.category} {args.mode}, best of {args.rounds} per chunk:")
    for name in names:
        print(f"  {mb / total[name]:8.1f} MB/s  x{total[a] / total[name]:.3f} vs A  {name}")


if __name__ == "__main__":
    main()
