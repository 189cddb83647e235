#!/usr/bin/env python3
"""tokenbytes' batch / single-thread ratio alone, over many paired passes.

``encode.py`` reports, per row, the median over its rounds of the single-thread pass
time over the batch pass time taken next to it; with nine rounds and every other encoder
in between, one slow pass moves that median. This script times only tokenbytes, the
same way (one ``encode_ordinary`` call per document, then ``encode_ordinary_batch``
with ``--threads`` threads; results kept and freed outside the timed region; the garbage
collector off during a pass; the order alternating each pair), for ``--pairs`` pairs,
and prints the median and quartiles of the paired ratio, the wall and CPU time of each
kind of pass, and how many cores the batch kept busy. Nothing here asserts.

Usage::

    python bench/batch_pairs.py --encoding o200k_base --category en_prose --pairs 40
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode import CATEGORIES, DEFAULT_CORPUS, load_category, time_once


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--encoding", default="o200k_base")
    p.add_argument("--category", default="en_prose", choices=CATEGORIES)
    p.add_argument("--pairs", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = p.parse_args(argv)

    import tokenbytes

    enc = tokenbytes.get_encoding(args.encoding)
    docs = load_category(args.corpus, args.category, False)

    def single() -> list[list[int]]:
        return [enc.encode_ordinary(doc) for doc in docs]

    def batch() -> list[list[int]]:
        return enc.encode_ordinary_batch(docs, num_threads=args.threads)

    if single() != batch():
        print("batch ids differ from one-by-one ids")
        return 1
    walls: dict[str, list[float]] = {"single": [], "batch": []}
    cpus: dict[str, list[float]] = {"single": [], "batch": []}
    for i in range(args.pairs):
        order = ("single", "batch") if i % 2 == 0 else ("batch", "single")
        for kind in order:
            timing = time_once(single if kind == "single" else batch)
            walls[kind].append(timing.wall)
            cpus[kind].append(timing.cpu)
    ratios = [s / b for s, b in zip(walls["single"], walls["batch"], strict=True)]
    q1, med, q3 = statistics.quantiles(ratios, n=4)
    print(
        f"{args.encoding} {args.category}, {args.pairs} pairs, {args.threads} threads: "
        f"batch / 1 thread median {med:.2f} (quartiles {q1:.2f}-{q3:.2f}), "
        f"best / best {min(walls['single']) / min(walls['batch']):.2f}"
    )
    for kind in ("single", "batch"):
        wall, cpu = statistics.median(walls[kind]), statistics.median(cpus[kind])
        print(
            f"  {kind:6s} pass: median wall {wall * 1000:.1f} ms, CPU {cpu * 1000:.1f} ms "
            f"({cpu / wall:.2f} cores), walls {min(walls[kind]) * 1000:.0f}-"
            f"{max(walls[kind]) * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
