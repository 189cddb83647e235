"""tokenbytes.bytelm against genlm-bytes (PyPI) on the same LM and texts.

Both turn a token-level LM over o200k_base (V = 200,019) into next-byte
distributions. This script feeds a text one byte at a time, reading the
next-byte distribution before each byte (what sampling does), with each
library, and prints side by side: LM rows per byte, bytes per second and
the conversion's own CPU time per byte (process CPU time minus the time
spent inside the LM function; torch's threads count as CPU time).

Equal exactness. tokenbytes computes the byte-level model of the
*canonical* token process (rows masked to the token sequences the tokenizer
can produce). genlm-bytes sums over *all* token sequences that spell the
bytes, pruned by a beam (``K``, ``prune_threshold``). The two agree exactly
when the LM gives no mass to non-canonical sequences, and genlm-bytes runs
unpruned (``K`` = 10**9, ``prune_threshold`` = 0, ``heal`` off). So the
equal-exactness comparison uses such an LM:

* ``text-oracle``: the exact token-level LM of a small distribution over
  strings built on the benchmark text ``T``: at each byte position ``k`` the
  string stops (``T[:k]``, probability 0.004), branches off into a short
  fixed-per-position chunk and stops (``T[:k] + chunk``, 0.006), or goes on.
  Its rows are ``P(next token | context)`` of o200k_base encodings of those
  strings (dense float64 rows of 200,019 entries, ``-inf`` off the support),
  so it puts no mass on non-canonical sequences, and the true next-byte
  distribution is known in closed form. Before timing, both libraries'
  next-byte probabilities are checked against it and against each other at
  every position of the first ``--check-bytes`` bytes (max abs difference).

* ``synthetic`` (the random-row LM of bench/byte_lm.py: one of 16 random
  rows by a hash of the context): it gives mass to every token sequence, so
  unpruned genlm-bytes tracks every segmentation of the text into tokens
  and its beam grows exponentially; the script shows that growth over the
  first ``--exact-bytes`` bytes, then times genlm-bytes with the README's
  beam (``K`` = 5, ``prune_threshold`` = 0.05), which is *not* exact and
  not the same target (figures labelled ``approx``).

Setup (genlm-bytes needs genlm-backend -> torch, transformers, ...; PyPI's
torch for Linux x86_64 is the CUDA build, ~6.4 GB with its nvidia wheels, so
it gets its own venv; it runs on CPU here)::

    python -m venv /work/venv-genlm
    /work/venv-genlm/bin/pip install genlm-bytes==0.2.0 numpy maturin
    CARGO_TARGET_DIR=/work/target-genlm /work/venv-genlm/bin/pip install \\
        --no-deps --no-build-isolation .          # tokenbytes, from the repo root
    /work/venv-genlm/bin/python bench/byte_lm_genlm.py [--bytes 500] [--json out.json]

Nothing here asserts; it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

import tokenbytes
from tokenbytes.bytelm import ByteLM
from tokenbytes.lm import CallableLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from byte_lm import Timed, per_byte, run, synthetic_lm, texts

BOS = 199998  # an unused o200k id: genlm-bytes starts every context with a BOS; it is dropped
EOS = 199999  # <|endoftext|>
EXACT = {"K": 10**9, "prune_threshold": 0.0, "heal": False}
APPROX = {"K": 5, "prune_threshold": 0.05}


# ---------------------------------------------------------------- the exact LM


class TextOracle:
    """Exact token-level LM of a distribution over strings built on `text`.

    At position k < len(text) the string stops (probability `stop`), takes a
    branch ``text[:k] + chunk_k`` and stops (`branch`), or goes on; at the
    end it stops. `encode(bytes) -> ids` is the tokenizer; rows are
    log P(next token | context) for contexts in the support, uniform
    otherwise (never used with weight > 0). Callable as an LM function.
    """

    def __init__(self, text: bytes, encode, n_vocab: int, eos: int, stop=0.004, branch=0.006):
        rng = np.random.default_rng(1)
        chunks = [b"e", b" ", b"\n", b"ing", b" the", b"\xc3\xa9", b"s,", b"()", b"1"]
        self.strings: dict[bytes, float] = {}
        go = 1.0
        for k in range(len(text) + 1):
            if k == len(text):
                self.strings[text] = self.strings.get(text, 0.0) + go
                break
            self.strings[text[:k]] = self.strings.get(text[:k], 0.0) + go * stop
            s = text[:k] + chunks[int(rng.integers(len(chunks)))]
            self.strings[s] = self.strings.get(s, 0.0) + go * branch
            go *= 1.0 - stop - branch
        # Trie of the encodings: node -> {token: child}, prefix mass, end mass.
        self.children: list[dict[int, int]] = [{}]
        self.mass = [0.0]
        self.end = [0.0]
        for s, p in self.strings.items():
            node = 0
            self.mass[0] += p
            for t in encode(s):
                nxt = self.children[node].get(t)
                if nxt is None:
                    nxt = len(self.mass)
                    self.children[node][t] = nxt
                    self.children.append({})
                    self.mass.append(0.0)
                    self.end.append(0.0)
                node = nxt
                self.mass[node] += p
            self.end[node] += p
        self.n_vocab = n_vocab
        self.eos = eos
        self.uniform = np.full(n_vocab, -np.log(n_vocab))

    def row(self, context) -> np.ndarray:
        node = 0
        for t in context:
            node = self.children[node].get(t, -1)
            if node < 0:
                return self.uniform
        m = self.mass[node]
        out = np.full(self.n_vocab, -np.inf)
        kids = self.children[node]
        if kids:
            out[np.fromiter(kids.keys(), np.int64)] = np.log(
                np.fromiter((self.mass[c] for c in kids.values()), float) / m
            )
        if self.end[node] > 0:
            out[self.eos] = np.log(self.end[node] / m)
        return out

    def __call__(self, contexts) -> np.ndarray:
        return np.stack([self.row(c) for c in contexts])

    def next_probs(self, x: bytes) -> np.ndarray:
        """True P(next byte | x): 256 bytes and the end (index 256)."""
        out = np.zeros(257)
        for s, p in self.strings.items():
            if s.startswith(x):
                out[256 if len(s) == len(x) else s[len(x)]] += p
        return out / out.sum()


# ------------------------------------------------------------- genlm-bytes side


class GenlmLM:
    """The LM function as genlm-bytes wants it (the subset of genlm.backend.AsyncLM
    it uses): ``byte_vocab`` (Token per id), ``tokenizer.bos_token_id`` and
    ``async next_token_logprobs(context) -> torch tensor``. Counts rows and
    times the LM function; ids with no bytes in tokenbytes (specials other
    than <|endoftext|>, unused ids) get -inf, as tokenbytes masks them."""

    def __init__(self, timed: Timed, tokens, n_vocab: int):
        import torch
        from genlm.backend.tokenization import Token

        self.torch = torch
        self.timed = timed
        self.byte_vocab = []
        self.dead = []
        for i in range(n_vocab):
            b = tokens[i] if i < len(tokens) else None
            if i == EOS:
                b = b"<|endoftext|>"
            elif b is None:
                b = b"<|no bytes %d|>" % i
                self.dead.append(i)
            self.byte_vocab.append(Token(i, b))
        self.dead_idx = np.array(self.dead, np.int64)
        self.tokenizer = type("Tok", (), {"bos_token_id": BOS})()
        self.rows = 0

    async def next_token_logprobs(self, context):
        assert context[0] == BOS
        row = np.array(self.timed([list(context[1:])])[0], dtype=np.float64)
        row[self.dead_idx] = -np.inf
        self.rows += 1
        return self.torch.from_numpy(row)


def genlm_257(lp) -> np.ndarray:
    """genlm-bytes' 258 log-probs (256 bytes, end-of-token, EOS) as tokenbytes' 257."""
    ps = np.asarray(lp.ps, dtype=np.float64)
    return np.concatenate([ps[:256], ps[257:258]])


async def genlm_initial(lm: GenlmLM, params: dict):
    """`ByteBeamState.initial`, with the trie built once per vocabulary."""
    from genlm.bytes import AsyncTokenByteTrie, BeamParams, ByteBeamState, LazyTrieState
    from genlm.bytes.trie import TrieMode

    bp = BeamParams(eos_byte_strings=[b"<|endoftext|>"], **params)
    if getattr(lm, "trie", None) is None:
        lm.trie = AsyncTokenByteTrie.from_vocab(lm.byte_vocab, eos_byte_strings=bp.eos_byte_strings)
    state = LazyTrieState.initial(lm, lm.trie, mode=TrieMode.WITH_EOS)
    return ByteBeamState([await state.materialize()], bp)


async def genlm_run(lm: GenlmLM, timed: Timed, params: dict, text: bytes) -> dict[str, float]:
    state = await genlm_initial(lm, params)
    rows0 = lm.rows
    w1, c1 = time.perf_counter(), time.process_time()
    lw1, lc1 = timed.wall, timed.cpu
    beam = 0
    for b in text:
        await state.logp_next()
        state = await (state.prune() << b)
        beam = max(beam, len(state))
    await state.logp_next()
    w2, c2 = time.perf_counter(), time.process_time()
    await state.cleanup()
    n = len(text)
    return {
        **per_byte(n, lm.rows - rows0, w2 - w1, c2 - c1, timed.wall - lw1, timed.cpu - lc1),
        "max_beam": beam,
    }


async def exactness(blm: ByteLM, lm: GenlmLM, oracle: TextOracle, text: bytes) -> dict[str, float]:
    """Max abs differences of next-byte probabilities at every position of `text`."""
    st = blm.state(b"")
    g = await genlm_initial(lm, EXACT)
    d_tg = d_tt = d_gt = 0.0
    for i in range(len(text) + 1):
        p_t = np.exp(st.logprobs())
        p_g = np.exp(genlm_257(await g.logp_next()))
        truth = oracle.next_probs(text[:i])
        d_tg = max(d_tg, float(np.abs(p_t - p_g).max()))
        d_tt = max(d_tt, float(np.abs(p_t - truth).max()))
        d_gt = max(d_gt, float(np.abs(p_g - truth).max()))
        if i < len(text):
            st.advance(text[i])
            g = await (g.prune() << text[i])
    await g.cleanup()
    return {
        "positions": len(text) + 1,
        "tokenbytes_vs_genlm": d_tg,
        "tokenbytes_vs_truth": d_tt,
        "genlm_vs_truth": d_gt,
    }


async def exact_growth(lm: GenlmLM, text: bytes, max_states: int) -> list[int]:
    """Beam sizes of unpruned genlm-bytes after each byte (stops past max_states)."""
    g = await genlm_initial(lm, EXACT)
    sizes = []
    for b in text:
        await g.logp_next()
        g = await (g.prune() << b)
        sizes.append(len(g))
        if len(g) > max_states:
            break
    await g.cleanup()
    return sizes


# ----------------------------------------------------------------------- main


def row_line(name: str, r_t: dict, r_g: dict) -> str:
    return (
        f"| {name} | {r_t['rows_per_byte']:.2f} | {r_g['rows_per_byte']:.2f} "
        f"| {r_t['bytes_per_s']:.1f} | {r_g['bytes_per_s']:.2f} "
        f"| {r_t['bytes_per_s'] / r_g['bytes_per_s']:.1f}x "
        f"| {r_t['conversion_cpu_ms_per_byte']:.2f} | {r_g['conversion_cpu_ms_per_byte']:.1f} "
        f"| {r_g['conversion_cpu_ms_per_byte'] / r_t['conversion_cpu_ms_per_byte']:.0f}x |"
    )


async def amain(args) -> int:
    import genlm.bytes  # noqa: F401  (fail early)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    enc = tokenbytes.get_encoding("o200k_base")
    results: dict = {"args": vars(args), "torch_threads": torch.get_num_threads()}
    lines = [
        "| LM / text | rows/byte tokenbytes | rows/byte genlm | bytes/s tokenbytes "
        "| bytes/s genlm | bytes/s ratio | conv. CPU ms/byte tokenbytes "
        "| conv. CPU ms/byte genlm | CPU ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    t0 = time.perf_counter()
    encoder = ByteLM(CallableLM(lambda c: None, enc), bos=None)  # its BPE, for the oracle
    t = time.perf_counter()
    glm = GenlmLM(Timed(lambda c: None), encoder.spec.tokens, enc.n_vocab)
    from genlm.bytes import AsyncTokenByteTrie

    glm.trie = AsyncTokenByteTrie.from_vocab(glm.byte_vocab, eos_byte_strings={b"<|endoftext|>"})
    results["genlm_trie_build_s"] = time.perf_counter() - t
    print(f"genlm-bytes trie over o200k built in {results['genlm_trie_build_s']:.1f} s", flush=True)
    for name, text in texts(args.bytes).items():
        # Exact LM: exactness check, then timing.
        oracle = TextOracle(text, encoder.model.encode, enc.n_vocab, EOS)
        timed = Timed(oracle)
        blm = ByteLM(CallableLM(timed, enc), bos=None)
        glm.timed = timed
        chk = await exactness(blm, glm, oracle, text[: args.check_bytes])
        results[f"exactness/{name}"] = chk
        print(f"exactness text-oracle {name}: {json.dumps(chk)}", flush=True)
        blm = ByteLM(CallableLM(timed, enc), bos=None)  # fresh row cache
        r_t = run(blm, timed, text)
        r_g = await genlm_run(glm, timed, EXACT, text)
        results[f"text-oracle/{name}"] = {"tokenbytes": r_t, "genlm": r_g}
        print(f"text-oracle {name}: tokenbytes {json.dumps(r_t)}", flush=True)
        print(f"text-oracle {name}: genlm-exact {json.dumps(r_g)}", flush=True)
        lines.append(row_line(f"text-oracle (exact both) / {name}", r_t, r_g))
    # The random-row LM of bench/byte_lm.py.
    timed = Timed(synthetic_lm(enc.n_vocab))
    blm = ByteLM(CallableLM(timed, enc), bos=None)
    glm.timed = timed
    growth = await exact_growth(glm, texts(64)["udhr-en"], args.max_states)
    results["synthetic/exact_beam_sizes"] = growth
    print(f"synthetic: unpruned genlm-bytes beam size after each byte: {growth}", flush=True)
    for name, text in texts(args.approx_bytes).items():
        r_t = run(blm, timed, text)
        r_g = await genlm_run(glm, timed, APPROX, text)
        results[f"synthetic/{name}"] = {"tokenbytes": r_t, "genlm_approx": r_g}
        print(f"synthetic {name}: tokenbytes {json.dumps(r_t)}", flush=True)
        print(f"synthetic {name}: genlm-approx {json.dumps(r_g)}", flush=True)
        lines.append(row_line(f"synthetic (genlm approx K=5, p=0.05) / {name}", r_t, r_g))
    print()
    print("\n".join(lines))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bytes", type=int, default=500, help="bytes of each text, exact LM")
    ap.add_argument("--check-bytes", type=int, default=150, help="positions checked for exactness")
    ap.add_argument(
        "--approx-bytes", type=int, default=300, help="bytes of each text, synthetic LM"
    )
    ap.add_argument("--max-states", type=int, default=300, help="stop the growth run past this")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    ap.add_argument("--json", help="write every figure there")
    return asyncio.run(amain(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
