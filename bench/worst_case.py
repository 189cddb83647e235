#!/usr/bin/env python3
"""Encode time of tokenbytes and tiktoken on adversarial inputs.

Inputs (N = 100_000 and 1_000_000 characters): ``'a' * N``, ``' ' * N + 'a'``,
``'^' * N``, N random ASCII letters without whitespace (fixed seed) and N random
digits (fixed seed), for cl100k_base and o200k_base. Prints the seconds of one
``encode_ordinary`` call (best of a few while they are fast) and time(1M) / time(100K):
about 10 for a linear encoder, about 100 for a quadratic one.

Every call runs in its own subprocess, so a crash (a regex stack overflow, say) is
reported instead of ending the run, and a tiktoken call that has not returned after
10 s is stopped and noted as skipped. Nothing here asserts.

Usage::

    python bench/worst_case.py
    python bench/worst_case.py --encodings o200k_base --sizes 100000
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import queue
import random
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode import (
    DEFAULT_VOCAB_DIR,
    ENCODINGS,
    HF_ENCODINGS,
    machine_info,
    prepare_assets,
    tokenbytes_build,
    version_of,
)

SIZES = (100_000, 1_000_000)
#: The registered encodings both libraries load by name (Llama-3 / Qwen2 are encode.py only).
WORST_ENCODINGS = tuple(e for e in ENCODINGS if e not in HF_ENCODINGS)
LIBRARIES = ("tokenbytes", "tiktoken")
# A call slower than this is stopped (tiktoken), or reported as too slow (tokenbytes).
TIME_LIMIT_S = {"tiktoken": 10.0, "tokenbytes": 120.0}
LOAD_LIMIT_S = 120.0
REPEAT_WHILE_UNDER_S = 2.0  # repeat a call (best of up to MAX_REPS) while the total is below this
MAX_REPS = 5


def _random_text(alphabet: str, seed: int) -> Callable[[int], str]:
    return lambda n: "".join(random.Random(seed).choices(alphabet, k=n))


INPUTS: dict[str, Callable[[int], str]] = {
    "'a'*N": lambda n: "a" * n,
    "' '*N+'a'": lambda n: " " * n + "a",
    "'^'*N": lambda n: "^" * n,
    "letters": _random_text(string.ascii_letters, seed=1),
    "digits": _random_text(string.digits, seed=2),
}


# --------------------------------------------------------------------------------------
# Worker: one library, one encoding, one input; prints one JSON line per call
# --------------------------------------------------------------------------------------


def worker_main(library: str, encoding: str, kind: str, n: int) -> int:
    module = importlib.import_module(library)
    enc = module.get_encoding(encoding)
    text = INPUTS[kind](n)
    print(json.dumps({"ready": True}), flush=True)
    spent = 0.0
    for _ in range(MAX_REPS):
        started = time.perf_counter()
        ids = enc.encode_ordinary(text)
        seconds = time.perf_counter() - started
        spent += seconds
        digest = hashlib.sha256(b"".join(i.to_bytes(4, "little") for i in ids)).hexdigest()
        print(json.dumps({"s": seconds, "tokens": len(ids), "sha256": digest}), flush=True)
        if spent >= REPEAT_WHILE_UNDER_S:
            break
    return 0


# --------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float | None = None
    tokens: int | None = None
    sha256: str | None = None
    note: str = ""


def _lines(stream: IO[str], out: queue.Queue[str | None]) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def run_one(library: str, encoding: str, kind: str, n: int, env: dict[str, str]) -> Outcome:
    """Run one worker; stop it if it does not load or answer in time."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        library,
        encoding,
        kind,
        str(n),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    outcome = Outcome()
    limit = TIME_LIMIT_S[library]
    timeout = LOAD_LIMIT_S  # the first line ("ready") comes after load
    try:
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                if outcome.seconds is None:
                    what = "load" if timeout == LOAD_LIMIT_S else "encode"
                    outcome.note = f"skipped: {what} took > {timeout:.0f} s"
                break
            if line is None:
                break
            record = json.loads(line)
            if record.get("ready"):
                timeout = limit
                continue
            if outcome.seconds is None or record["s"] < outcome.seconds:
                outcome.seconds = record["s"]
            outcome.tokens, outcome.sha256 = record["tokens"], record["sha256"]
            timeout = limit + REPEAT_WHILE_UNDER_S
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if outcome.seconds is None and not outcome.note:
        stderr = proc.stderr.read() if proc.stderr else ""
        tail = (stderr.strip().splitlines() or [""])[-1][:160]
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        outcome.note = f"failed ({how}): {tail}"
    if proc.stderr:
        proc.stderr.close()
    return outcome


def _same_ids(
    results: dict[tuple[str, str, str, int], Outcome],
    library: str,
    encoding: str,
    kind: str,
    sizes: Sequence[int],
) -> str:
    """'yes' / 'NO at N=...' where both libraries finished, '-' where nothing to compare."""
    if library == "tiktoken":
        return "-"
    differ, compared = [], 0
    for n in sizes:
        mine, ref = (
            results[library, encoding, kind, n],
            results.get(("tiktoken", encoding, kind, n)),
        )
        if mine.sha256 and ref and ref.sha256:
            compared += 1
            if mine.sha256 != ref.sha256:
                differ.append(f"N={n:,}")
    if differ:
        return "NO at " + ", ".join(differ)
    return "yes" if compared else "-"


def _fmt_s(outcome: Outcome | None) -> str:
    if outcome is None:
        return "-"
    return f"{outcome.seconds:.4f}" if outcome.seconds is not None else "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--encodings", default=",".join(WORST_ENCODINGS))
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--libraries", default=",".join(LIBRARIES))
    p.add_argument("--vocab-dir", type=Path, default=DEFAULT_VOCAB_DIR)
    p.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        library, encoding, kind, n = args.worker
        return worker_main(library, encoding, kind, int(n))

    encodings = args.encodings.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    libraries = []
    for library in filter(None, args.libraries.split(",")):
        try:
            importlib.import_module(library)
        except Exception as exc:  # a missing library is reported, not fatal
            print(f"unavailable: {library}: {type(exc).__name__}: {exc}")
            continue
        libraries.append(library)
    machine = machine_info()
    print(f"# worst-case encode ({machine['date']})")
    print(
        f"cpu: {machine['cpu']}; cores: {machine['usable_cores']}; load average: "
        f"{machine['load_average']}; python {machine['python']}"
    )
    print(
        "versions: "
        + ", ".join(
            f"{lib} {version_of(lib)}" + (f" ({tokenbytes_build()})" if lib == "tokenbytes" else "")
            for lib in libraries
        )
    )

    with tempfile.TemporaryDirectory() as tmp:
        # tiktoken reads its vocabularies from this cache instead of downloading them.
        prepare_assets(Path(tmp), args.vocab_dir, encodings, hf_json=False)
        env = dict(os.environ)
        results: dict[tuple[str, str, str, int], Outcome] = {}
        for encoding in encodings:
            for kind in INPUTS:
                for library in libraries:
                    too_slow = ""
                    for n in sorted(sizes):
                        if too_slow:  # a longer input of a kind that already ran out of time
                            outcome = Outcome(note=f"skipped: {too_slow}")
                        else:
                            outcome = run_one(library, encoding, kind, n, env)
                            if outcome.note.startswith("skipped"):
                                too_slow = f"N={n:,} already took too long"
                        results[library, encoding, kind, n] = outcome
                        print(
                            f"  {encoding} {kind} N={n} {library}: {_fmt_s(outcome)} s "
                            f"{outcome.note}".rstrip(),
                            flush=True,
                        )

    small, large = min(sizes), max(sizes)
    print()
    print(
        f"| encoding | input | library | N={small:,} s | N={large:,} s | ratio "
        "| ids equal tiktoken's | note |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for encoding in encodings:
        for kind in INPUTS:
            for library in libraries:
                row = {n: results[library, encoding, kind, n] for n in sizes}
                lo, hi = row[small], row[large]
                ratio = "-"
                if len(sizes) > 1 and lo.seconds and hi.seconds is not None:
                    ratio = f"{hi.seconds / lo.seconds:.1f}"
                print(
                    f"| {encoding} | {kind} | {library} | {_fmt_s(lo)} | {_fmt_s(hi)} "
                    f"| {ratio} | {_same_ids(results, library, encoding, kind, sizes)} "
                    f"| {'; '.join(f'N={n:,}: {o.note}' for n, o in row.items() if o.note)} |"
                )
    print()
    print(
        f"ratio = time(N={large:,}) / time(N={small:,}): about 10 is linear, about 100 "
        "quadratic. Times are one encode_ordinary call, best of up to "
        f"{MAX_REPS} while under {REPEAT_WHILE_UNDER_S:.0f} s, in a fresh process per input."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
