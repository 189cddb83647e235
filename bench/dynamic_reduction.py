#!/usr/bin/env python3
"""Sequence-length reduction of batch-level dynamic merging, per language.

For each encoding (o200k_base, cl100k_base) and each UDHR language, the
language's paragraphs (non-empty lines of ``shared/corpus/udhr/<lang>.txt``)
are cut into consecutive batches of 32 (the remainder is dropped) and merged
with ``tokenbytes.dynamic.merge_batch`` (boundary "pretoken" unless
``--boundary`` says otherwise):

* L0: tokens before merging (the encoder's output, summed over the batches);
* L(0.5): tokens at gap fraction 0.5 (half-way to the word level);
* Lw: tokens at the word-level limit (no stop rule: one token per pre-token);
* the % reduction 100·(L0 − L)/L0 of each, and the mean over languages.

Prints the table, writes it between markers into
``README.md`` and draws ``bench/dynamic_reduction.png``
(grouped bars; needs matplotlib). Deterministic: the numbers depend only on
the corpus and the vocabularies.

Usage::

    python bench/dynamic_reduction.py
    python bench/dynamic_reduction.py --boundary word --no-write
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import _readme  # bench/_readme.py: this folder is on sys.path when run as a script

import tokenbytes
from tokenbytes.dynamic import merge_batch

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TOKENBYTES_SHARED", REPO.parent / "shared"))
SECTION = REPO / "README.md"
PNG = REPO / "bench" / "dynamic_reduction.png"
ENCODINGS = ("o200k_base", "cl100k_base")
BATCH = 32
# (code shown, UDHR file, script): 18 languages, 11 scripts.
LANGUAGES = [
    ("ar", "ar", "Arabic"),
    ("bg", "bg", "Cyrillic"),
    ("de", "de-1996", "Latin"),
    ("el", "el-monoton", "Greek"),
    ("en", "en", "Latin"),
    ("es", "es", "Latin"),
    ("fr", "fr", "Latin"),
    ("he", "he", "Hebrew"),
    ("hi", "hi", "Devanagari"),
    ("ja", "ja", "Kana/Han"),
    ("ko", "ko", "Hangul"),
    ("ru", "ru", "Cyrillic"),
    ("sw", "sw", "Latin"),
    ("th", "th", "Thai"),
    ("tr", "tr", "Latin"),
    ("ur", "ur", "Arabic (Urdu)"),
    ("vi", "vi", "Latin (Vietnamese)"),
    ("zh", "zh", "Han"),
]
START, END = "<!-- dynamic-reduction:start -->", "<!-- dynamic-reduction:end -->"


def batches(udhr_file: str) -> list[list[str]]:
    text = (SHARED / "corpus" / "udhr" / f"{udhr_file}.txt").read_text(encoding="utf-8")
    paras = [p for p in text.splitlines() if p.strip()]
    return [paras[i : i + BATCH] for i in range(0, len(paras) - BATCH + 1, BATCH)]


def measure(name: str, boundary: str) -> list[dict]:
    enc = tokenbytes.get_encoding(name)
    rows = []
    for code, udhr_file, script in LANGUAGES:
        l0 = lh = lw = merges_h = merges_w = 0
        bs = batches(udhr_file)
        for batch in bs:
            half = merge_batch(enc, batch, boundary=boundary, gap_fraction=0.5)
            full = merge_batch(enc, batch, boundary=boundary)
            assert full.total_after == full.word_level_length
            l0 += half.total_before
            lh += half.total_after
            lw += full.total_after
            merges_h += half.n_merges
            merges_w += full.n_merges
        rows.append(
            {
                "lang": code, "script": script, "batches": len(bs), "l0": l0, "lh": lh, "lw": lw,
                "red_h": 100 * (l0 - lh) / l0, "red_w": 100 * (l0 - lw) / l0,
                "merges_h": merges_h / len(bs), "merges_w": merges_w / len(bs),
            }
        )  # fmt: skip
    return rows


def table(results: dict[str, list[dict]], boundary: str) -> str:
    lines = [
        f"Boundary `{boundary}`; batches of {BATCH} UDHR paragraphs (consecutive non-empty "
        "lines; 2 full batches per language); token counts summed over the batches; "
        "reduction = 100·(L0 − L)/L0; merges = mean per batch.",
        "",
        "| lang | script | "
        + " | ".join(f"{n}: L0 | L(0.5) | red. | Lw | red. | merges to Lw" for n in results)
        + " |",
        "|---|---|" + "---:|" * (6 * len(results)),
    ]
    names = list(results)
    for i, (code, _, script) in enumerate(LANGUAGES):
        cells = []
        for n in names:
            r = results[n][i]
            cells += [
                f"{r['l0']:,}", f"{r['lh']:,}", f"{r['red_h']:.1f} %",
                f"{r['lw']:,}", f"{r['red_w']:.1f} %", f"{r['merges_w']:.0f}",
            ]  # fmt: skip
        lines.append(f"| {code} | {script} | " + " | ".join(cells) + " |")
    mean_cells = []
    for n in names:
        rs = results[n]
        mean_h = sum(r["red_h"] for r in rs) / len(rs)
        mean_w = sum(r["red_w"] for r in rs) / len(rs)
        mean_cells += ["", "", f"**{mean_h:.1f} %**", "", f"**{mean_w:.1f} %**", ""]
    lines.append(f"| **mean** ({len(LANGUAGES)} languages) | | " + " | ".join(mean_cells) + " |")
    return "\n".join(lines)


def chart(results: dict[str, list[dict]], boundary: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = [code for code, _, _ in LANGUAGES]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.38
    colors = {"o200k_base": ("#9ecae1", "#3182bd"), "cl100k_base": ("#fdae6b", "#e6550d")}
    for k, (name, rows) in enumerate(results.items()):
        light, dark = colors.get(name, ("#cccccc", "#666666"))
        xs = [i + (k - (len(results) - 1) / 2) * width for i in range(len(langs))]
        ax.bar(xs, [r["red_w"] for r in rows], width, color=light, label=f"{name}: word level")
        ax.bar(xs, [r["red_h"] for r in rows], width, color=dark, label=f"{name}: gap 0.5")
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel("sequence-length reduction (%)")
    ax.set_title(
        f"Batch-level dynamic merging, UDHR, batches of {BATCH} paragraphs, boundary {boundary!r}"
    )
    ax.legend(ncol=2, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_section(block: str) -> None:
    _readme.write_section(SECTION, START, END, block)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--boundary", default="pretoken", choices=["pretoken", "word", "word_hyphen", "none"]
    )
    ap.add_argument("--no-write", action="store_true", help="only print the table")
    args = ap.parse_args(argv)
    results = {name: measure(name, args.boundary) for name in ENCODINGS}
    md = table(results, args.boundary)
    print(md)
    if not args.no_write:
        cmd = "python bench/dynamic_reduction.py" + (
            f" --boundary {args.boundary}" if args.boundary != "pretoken" else ""
        )
        block = (
            f"### Sequence-length reduction per language\n\n{md}\n\n"
            f"Reproduce with `{cmd}` (deterministic; also draws `bench/dynamic_reduction.png`). "
            f"tokenbytes {tokenbytes.__version__}."
        )
        write_section(block)
        try:
            chart(results, args.boundary, PNG)
            print(f"wrote {SECTION.relative_to(REPO)} and {PNG.relative_to(REPO)}")
        except ImportError:
            print(f"wrote {SECTION.relative_to(REPO)} (no matplotlib: no chart)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
