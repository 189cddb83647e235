"""A slow, plain-Python reference of batch-level dynamic token merging.

Written for readability, not speed: every step re-counts every pair of the
batch in an insertion-ordered dict and rewrites every sequence, exactly as
the algorithm is stated (and as the paper's reference code does), O(N·M)
for N tokens and M merges. `tokenbytes.dynamic.merge_batch` must give the
same result token for token, ties included. Only tests and benchmarks use
this file.

Independent of the Rust code except for the tokenizer itself: the batch is
encoded with ``Encoding.encode`` (checked against tiktoken elsewhere),
pre-tokens come from the `regex` package with the encoding's pattern, and
the word modes are computed here.
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass
from typing import Any

import regex

# Unicode White_Space, which is what Rust's `char::is_whitespace` tests
# (Python's str.isspace() differs on U+001C..U+001F).
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _is_escaped_byte(c: str) -> bool:
    """A byte that was not valid UTF-8 (decoded with 'surrogateescape')."""
    return "\udc80" <= c <= "\udcff"


def _chars_with_offsets(seg: bytes) -> list[tuple[int, str]]:
    text = seg.decode("utf-8", "surrogateescape")
    out, pos = [], 0
    for c in text:
        out.append((pos, c))
        pos += 1 if _is_escaped_byte(c) else len(c.encode("utf-8"))
    return out


def pretoken_cuts(seg: bytes, pattern: Any) -> set[int]:
    """Byte offsets where pre-tokens of `seg` start or end. Valid UTF-8 runs
    are split by the pattern; each run of invalid bytes is one piece."""
    cuts: set[int] = set()
    chars = _chars_with_offsets(seg)
    i = 0
    while i < len(chars):
        j = i
        bad = _is_escaped_byte(chars[i][1])
        while j < len(chars) and _is_escaped_byte(chars[j][1]) == bad:
            j += 1
        start = chars[i][0]
        end = chars[j][0] if j < len(chars) else len(seg)
        cuts.update((start, end))
        if not bad:
            run = "".join(c for _, c in chars[i:j])
            for m in pattern.finditer(run):
                cuts.add(start + len(run[: m.start()].encode("utf-8")))
                cuts.add(start + len(run[: m.end()].encode("utf-8")))
        i = j
    return cuts


def _word_class(c: str) -> str:
    if c in WHITESPACE:
        return "space"
    if c == "-" or _is_escaped_byte(c) or unicodedata.category(c)[0] in "LMN":
        return "join"
    return "other"


def word_cuts(seg: bytes, hyphen: bool) -> set[int]:
    """Byte offsets where word units start: units match
    ``\\s?\\S+ | \\s+(?!\\S) | \\s+``; with `hyphen`, a word is also cut
    where its characters change between letter/mark/digit/'-' and others."""
    chars = [(off, _word_class(c)) for off, c in _chars_with_offsets(seg)]
    cuts: set[int] = set()
    i, n = 0, len(chars)
    while i < n:
        cuts.add(chars[i][0])
        if chars[i][1] == "space":
            j = i
            while j < n and chars[j][1] == "space":
                j += 1
            if j == n:
                break
            if j - i >= 2:
                cuts.add(chars[j - 1][0])
            i = j
        k = i + 1
        while k < n and chars[k][1] != "space":
            if hyphen and chars[k][1] != chars[k - 1][1]:
                cuts.add(chars[k][0])
            k += 1
        i = k
    return cuts


@dataclass
class Result:
    ids: list[list[int]]
    vocab: list[tuple[int, ...]]
    merges: list[tuple[tuple[int, ...], tuple[int, ...], int]]
    spans: list[list[tuple[int, int]]]
    lengths_before: list[int]
    lengths_after: list[int]
    word_level_length: int


def reference_merge(
    enc: Any,
    batch: list[Any],
    *,
    boundary: str = "pretoken",
    max_merges: int | None = None,
    target_length: int | None = None,
    gap_fraction: float | None = None,
    allowed_special: Any = frozenset(),
) -> Result:
    """The reference algorithm; same arguments and result as ``merge_batch``
    (with plain lists instead of arrays)."""
    specials = {i: s for s, i in enc._special_tokens.items()}
    ranks = enc._mergeable_ranks  # bytes -> rank
    pattern = regex.compile(enc._pat_str)
    seqs_ids = [
        enc.encode(x, allowed_special=allowed_special)
        if isinstance(x, str)
        else [int(i) for i in x]
        for x in batch
    ]

    # Tokens are keyed by their bytes; special tokens by ("special", id).
    def key_of(i: int) -> Any:
        return ("special", i) if i in specials else enc.decode_single_token_bytes(i)

    parts: dict[Any, tuple[int, ...]] = {}
    seqs: list[list[list[Any]]] = []  # per token: [key, span start, span end, unit]
    unit = 0
    for ids in seqs_ids:
        seq: list[list[Any]] = []
        # Segments between special tokens (as (position, id) lists), each cut
        # by the boundary mode on its decoded bytes.
        segments: list[list[tuple[int, int]]] = [[]]
        for p, i in enumerate(ids):
            parts.setdefault(key_of(i), (i,))
            if i in specials:
                segments += [[(p, i)], []]
            else:
                segments[-1].append((p, i))
        for segment in segments:
            if len(segment) == 1 and segment[0][1] in specials:
                unit += 1
                p, i = segment[0]
                seq.append([key_of(i), p, p + 1, unit])
                continue
            data = b"".join(enc.decode_single_token_bytes(i) for _, i in segment)
            if boundary == "pretoken":
                cuts = pretoken_cuts(data, pattern)
            elif boundary in ("word", "word_hyphen"):
                cuts = word_cuts(data, boundary == "word_hyphen")
            else:
                cuts = set()
            off = 0
            for n, (p, i) in enumerate(segment):
                if n == 0 or off in cuts:
                    unit += 1
                seq.append([key_of(i), p, p + 1, unit])
                off += len(enc.decode_single_token_bytes(i))
        seqs.append(seq)

    lengths_before = [len(s) for s in seqs]
    l0 = sum(lengths_before)
    lw = len({t[3] for s in seqs for t in s})
    merges: list[tuple[tuple[int, ...], tuple[int, ...], int]] = []
    while True:
        length = sum(len(s) for s in seqs)
        if max_merges is not None and len(merges) >= max_merges:
            break
        if target_length is not None and length <= target_length:
            break
        if gap_fraction is not None and float(l0 - length) >= gap_fraction * float(l0 - lw):
            break
        counts: dict[tuple[Any, Any], int] = {}  # insertion order = first seen
        for s in seqs:
            for x, y in itertools.pairwise(s):
                if x[3] == y[3] and isinstance(x[0], bytes) and isinstance(y[0], bytes):
                    # "pretoken": the joined string must also be a single
                    # pre-token on its own (its only cuts are its two ends).
                    if boundary == "pretoken" and pretoken_cuts(x[0] + y[0], pattern) - {
                        0,
                        len(x[0] + y[0]),
                    }:
                        continue
                    counts[(x[0], y[0])] = counts.get((x[0], y[0]), 0) + 1
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)  # first of the maxima
        a, b = best
        joined = a + b
        if joined not in parts:
            parts[joined] = (ranks[joined],) if joined in ranks else parts[a] + parts[b]
        merges.append((parts[a], parts[b], counts[best]))
        for n, s in enumerate(seqs):
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i][3] == s[i + 1][3] and (s[i][0], s[i + 1][0]) == best:
                    out.append([joined, s[i][1], s[i + 1][2], s[i][3]])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[n] = out

    dyn: dict[Any, int] = {}
    ids_out = [[dyn.setdefault(t[0], len(dyn)) for t in s] for s in seqs]
    return Result(
        ids=ids_out,
        vocab=[parts[k] for k in dyn],
        merges=merges,
        spans=[[(t[1], t[2]) for t in s] for s in seqs],
        lengths_before=lengths_before,
        lengths_after=[len(s) for s in seqs],
        word_level_length=lw,
    )
