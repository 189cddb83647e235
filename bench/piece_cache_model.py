"""Misses per pass of the piece cache, old and new index, replaying one corpus category.

A model, not the cache itself: it feeds the pieces that the encoder looks up in its
per-thread piece cache (pieces that are not tokens, at most 64 bytes, not starting with a
character of three or more bytes) through two index policies with the real sizes (2^18 slots,
at most 2^17 live pieces, an arena of 6 * 2^17 words, records of 2 + ceil(len/8) +
ceil(ranks/2) words) and random hashes, pass after pass over the same documents, as
``bench/encode.py`` does:

* ``one slot`` (before 1325b88): one slot per hash; a colliding insert replaces the slot and
  adds a record; the cache is emptied when the records number 2^17 or the arena is full.
* ``bucket of two + compaction`` (since 1325b88): the two newest pieces of a bucket are kept;
  a full arena drops the dead records; the cache is emptied when live pieces number 2^17 or
  fill three quarters of the arena.

Usage: ``python bench/piece_cache_model.py --encoding o200k_base --category multi_eu``
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import tokenbytes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode import DEFAULT_CORPUS, load_category  # bench/encode.py

SLOT_BITS = 18
MAX_ENTRIES = 1 << 17
ARENA_WORDS = 6 * MAX_ENTRIES
MAX_PIECE = 64


def cacheable_pieces(encoding: str, category: str, corpus: Path) -> tuple[list[int], list[int]]:
    """Piece ids in lookup order, and the arena words of each distinct piece."""
    enc = tokenbytes.get_encoding(encoding)
    ranks = enc._mergeable_ranks
    ids: dict[bytes, int] = {}
    words: list[int] = []
    order: list[int] = []
    for text in load_category(corpus, category, quick=False):
        for piece in enc.pretokenize(text):
            p = piece if isinstance(piece, bytes) else piece.encode()
            if p in ranks or len(p) > MAX_PIECE:
                continue
            lead = p[1] if p[0] < 0x80 and len(p) > 1 else p[0]
            if lead >= 0xE0:
                continue
            if p not in ids:
                ids[p] = len(ids)
                n_ranks = len(enc.encode_bytes(p))
                words.append(2 + (len(p) + 7) // 8 + (n_ranks + 1) // 2)
            order.append(ids[p])
    return order, words


def one_slot(order: list[int], words: list[int], hashes: list[int], passes: int) -> list[int]:
    slots: dict[int, int] = {}
    entries = arena = 0
    misses = []
    for _ in range(passes):
        miss = 0
        for k in order:
            if slots.get(hashes[k]) == k:
                continue
            miss += 1
            if entries >= MAX_ENTRIES or arena + words[k] > ARENA_WORDS:
                slots.clear()
                entries = arena = 0
            slots[hashes[k]] = k
            entries += 1
            arena += words[k]
        misses.append(miss)
    return misses


def buckets_of_two(order: list[int], words: list[int], hashes: list[int], passes: int) -> list[int]:
    buckets: dict[int, list[int | None]] = {}
    live: dict[int, int] = {}  # piece -> words of its live record
    arena = 0
    misses = []
    for _ in range(passes):
        miss = 0
        for k in order:
            b = hashes[k] >> 1
            if k in buckets.get(b, ()):
                continue
            miss += 1
            if len(live) >= MAX_ENTRIES:
                buckets.clear()
                live.clear()
                arena = 0
            if arena + words[k] > ARENA_WORDS:
                arena = sum(live.values())  # compaction
                if arena + words[k] > ARENA_WORDS // 4 * 3:
                    buckets.clear()
                    live.clear()
                    arena = 0
            bucket = buckets.setdefault(b, [None, None])
            if bucket[1] is not None:
                del live[bucket[1]]
            bucket[1], bucket[0] = bucket[0], k
            live[k] = words[k]
            arena += words[k]
        misses.append(miss)
    return misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoding", default="o200k_base")
    parser.add_argument("--category", default="multi_eu")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--passes", type=int, default=9)
    args = parser.parse_args()
    order, words = cacheable_pieces(args.encoding, args.category, args.corpus)
    rng = random.Random(1)
    hashes = [rng.getrandbits(SLOT_BITS) for _ in words]
    print(f"{args.encoding} {args.category}: {len(order)} lookups per pass, {len(words)} distinct")
    print("one slot:                  ", one_slot(order, words, hashes, args.passes))
    print("bucket of two + compaction:", buckets_of_two(order, words, hashes, args.passes))


if __name__ == "__main__":
    main()
