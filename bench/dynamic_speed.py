#!/usr/bin/env python3
"""Throughput of batch-level dynamic merging against the slow reference.

A batch is 32 sequences of 128 tokens: a source text is encoded, cut into
consecutive 128-token windows, and the first 32 windows are merged to the
word level (boundary "pretoken", no stop rule). Sources: the four bench
corpus files and UDHR languages with at least 4,096 tokens in the encoding
(others are skipped and listed).

Per encoding × source it reports:

* ``merge_batch`` on the token ids (what a data loader passes): best and
  median wall time of ``--reps`` calls, in ms per batch, including argument
  conversion, pre-tokenization of the decoded bytes and building the result;
* ``merge_batch`` on the decoded texts (encoding included);
* the slow reference (tests/dynamic_reference.py) on the same ids, run
  ``--ref-reps`` times in the same process, and the speed-up ratio
  (reference / merge_batch on ids, best against best);
* whether both results are identical.

The process is pinned to one CPU (``os.sched_setaffinity``) where possible;
merge_batch runs on the calling thread anyway. Writes its table between
markers into ``README.md`` unless ``--no-write``.

Usage::

    python bench/dynamic_speed.py                # ~2 minutes (the reference is slow)
    python bench/dynamic_speed.py --quick        # 3 sources, 1 encoding
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import _readme  # bench/_readme.py: this folder is on sys.path when run as a script
import numpy as np

import tokenbytes
from tokenbytes.dynamic import merge_batch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from dynamic_reference import reference_merge  # noqa: E402

SHARED = Path(os.environ.get("TOKENBYTES_SHARED", REPO.parent / "shared"))
SECTION = REPO / "README.md"
SOURCES = [
    "bench/en_prose", "bench/multi_eu", "bench/code", "bench/cjk",
    "udhr/de-1996", "udhr/ru", "udhr/tr", "udhr/el-monoton", "udhr/hi", "udhr/ar", "udhr/th",
    "udhr/vi", "udhr/ja",
]  # fmt: skip
B, T = 32, 128
START, END = "<!-- dynamic-speed:start -->", "<!-- dynamic-speed:end -->"


def source_text(source: str) -> str:
    kind, name = source.split("/")
    if kind == "udhr":
        return (SHARED / "corpus" / "udhr" / f"{name}.txt").read_text(encoding="utf-8")
    with (SHARED / "corpus" / "bench" / f"{name}.jsonl").open(encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f if line.strip()]
    return "\n\n".join(docs[:200])


def windows(enc: tokenbytes.Encoding, source: str) -> list[list[int]] | None:
    ids = enc.encode_ordinary(source_text(source))
    if len(ids) < B * T:
        return None
    return [ids[i * T : (i + 1) * T] for i in range(B)]


def timed(fn, reps: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def same(m, ref) -> bool:
    return (
        [x.tolist() for x in m.ids] == ref.ids
        and m.vocab == ref.vocab
        and m.merges == ref.merges
        and [[tuple(r) for r in s.tolist()] for s in m.spans] == ref.spans
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--ref-reps", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = "pinned to one CPU"
    except (AttributeError, OSError):
        pinned = "not pinned"
    encodings = ["o200k_base"] if args.quick else ["o200k_base", "cl100k_base"]
    sources = SOURCES[:3] if args.quick else SOURCES
    rows, skipped = [], []
    for name in encodings:
        enc = tokenbytes.get_encoding(name)
        for source in sources:
            batch = windows(enc, source)
            if batch is None:
                skipped.append(f"{source} ({name})")
                continue
            texts = [enc.decode(w) for w in batch]
            arrays = [np.array(w, dtype=np.uint32) for w in batch]
            merge_batch(enc, batch)  # warm-up
            best, med, m = timed(lambda e=enc, b=batch: merge_batch(e, b), args.reps)
            best_np, _, _ = timed(lambda e=enc, a=arrays: merge_batch(e, a), args.reps)
            best_txt, _, _ = timed(lambda e=enc, t=texts: merge_batch(e, t), args.reps)
            ref_best, _, ref = timed(lambda e=enc, b=batch: reference_merge(e, b), args.ref_reps)
            row = {
                "encoding": name, "source": source, "l0": m.total_before, "lw": m.total_after,
                "merges": m.n_merges, "best_ms": best * 1e3, "median_ms": med * 1e3,
                "numpy_ms": best_np * 1e3, "text_ms": best_txt * 1e3, "ref_s": ref_best,
                "speedup": ref_best / best, "identical": same(m, ref),
            }  # fmt: skip
            rows.append(row)
            print(
                f"{name:12} {source:16} L0={row['l0']:5} Lw={row['lw']:5} M={row['merges']:5} "
                f"ids {row['best_ms']:.3f}/{row['median_ms']:.3f} ms  np {row['numpy_ms']:.3f} ms  "
                f"text {row['text_ms']:.3f} ms  ref {row['ref_s']:.2f} s  "
                f"x{row['speedup']:,.0f}  identical={row['identical']}",
                flush=True,
            )
    md = table(rows, skipped, pinned, args)
    print()
    print(md)
    if not args.no_write:
        write_section(md)
        print(f"wrote {SECTION.relative_to(REPO)}")
    return 0 if all(r["identical"] for r in rows) else 1


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(rows: list[dict], skipped: list[str], pinned: str, args: argparse.Namespace) -> str:
    lines = [
        "### Speed: one batch of 32 × 128 tokens merged to the word level",
        "",
        "| encoding | source | L0 | Lw | merges | merge_batch(ids) best / median | "
        "ids as numpy | texts (incl. encoding) | slow reference | speed-up | identical |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['encoding']} | {r['source']} | {r['l0']:,} | {r['lw']:,} | {r['merges']:,} | "
            f"{r['best_ms']:.3f} / {r['median_ms']:.3f} ms | {r['numpy_ms']:.3f} ms | "
            f"{r['text_ms']:.3f} ms | {r['ref_s']:.2f} s | {r['speedup']:,.0f}× | "
            f"{'yes' if r['identical'] else '**NO**'} |"
        )
    best = [r["best_ms"] for r in rows]
    speedups = [r["speedup"] for r in rows]
    if rows:
        lines += [
            "",
            f"merge_batch on ids: {min(best):.3f}–{max(best):.3f} ms per batch "
            f"(median of the best times {statistics.median(best):.3f} ms); "
            f"speed-up over the reference {min(speedups):,.0f}×–{max(speedups):,.0f}×.",
        ]
    if skipped:
        lines += ["", "Skipped (fewer than 4,096 tokens): " + ", ".join(skipped) + "."]
    cmd = "python bench/dynamic_speed.py" + (" --quick" if args.quick else "")
    lines += [
        "",
        f"Conditions: {cpu_name()}, {os.cpu_count()} logical CPUs, process {pinned}, "
        f"load average {os.getloadavg()[0]:.1f} at the end; Python {platform.python_version()}, "
        f"numpy {np.__version__}, tokenbytes {tokenbytes.__version__} (release build, fat LTO). "
        f"Best and median of {args.reps} calls; reference: best of {args.ref_reps}. "
        "Times include the Python call, argument conversion, pre-tokenizing the decoded "
        "bytes and building the result arrays. Reproduce with "
        f"`{cmd}`.",
    ]
    return "\n".join(lines)


def write_section(block: str) -> None:
    _readme.write_section(SECTION, START, END, block)


if __name__ == "__main__":
    raise SystemExit(main())
