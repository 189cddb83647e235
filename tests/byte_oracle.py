"""An exact oracle for byte-level probabilities, with no neural net.

A byte-level Markov source over a few symbols (a symbol is one UTF-8
character, possibly several bytes) with stop probabilities and a maximum
length, so that every complete string and its probability can be listed. A
tokenizer (any ``encode(bytes) -> list[int]``) turns it into a token process;
`Oracle` is the token-level LM that process induces *exactly*: for a context
``T`` with ``P_T(T) > 0`` the next-token probabilities are
``P_T(T·v) / P_T(T)`` and the end-of-text probability ``P(enc(y) = T) /
P_T(T)``; for a context of probability 0 it returns a random row, so code that
looks at such contexts without multiplying by their probability is caught.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class MarkovSource:
    """First-order Markov chain over `symbols`.

    ``trans[i]`` has one probability per symbol and a last one for stopping
    after symbol ``i``; strings stop at ``max_len`` symbols in any case.
    """

    symbols: list[bytes]
    init: list[float]
    trans: list[list[float]]
    max_len: int
    _strings: dict[bytes, float] = field(default_factory=dict, repr=False)

    def strings(self) -> dict[bytes, float]:
        """Every complete string with its probability."""
        if self._strings:
            return self._strings
        out: dict[bytes, float] = {}
        stack = [(s, p, i, 1) for i, (s, p) in enumerate(zip(self.symbols, self.init, strict=True))]
        while stack:
            s, p, last, n = stack.pop()
            if p == 0.0:
                continue
            if n == self.max_len:
                out[s] = out.get(s, 0.0) + p
                continue
            out[s] = out.get(s, 0.0) + p * self.trans[last][-1]
            for j, sym in enumerate(self.symbols):
                stack.append((s + sym, p * self.trans[last][j], j, n + 1))
        self._strings = out
        return out

    def prefix_prob(self, x: bytes) -> float:
        """P(the string starts with x)."""
        return sum(p for s, p in self.strings().items() if s.startswith(x))

    def next_probs(self, x: bytes) -> np.ndarray:
        """P(next byte | x) for the 256 bytes and the end (index 256)."""
        out = np.zeros(257)
        for s, p in self.strings().items():
            if s.startswith(x):
                out[256 if len(s) == len(x) else s[len(x)]] += p
        total = out.sum()
        return out / total if total > 0 else out

    def prefixes(self, max_len: int) -> list[bytes]:
        """All byte prefixes of length <= max_len with probability > 0."""
        seen = set()
        for s in self.strings():
            for k in range(min(len(s), max_len) + 1):
                seen.add(s[:k])
        return sorted(seen)


def toy_source(max_len: int = 7) -> MarkovSource:
    """The source of the notes: a, b, space."""
    return MarkovSource(
        symbols=[b"a", b"b", b" "],
        init=[0.5, 0.3, 0.2],
        trans=[[0.6, 0.2, 0.1, 0.1], [0.3, 0.3, 0.3, 0.1], [0.5, 0.4, 0.05, 0.05]],
        max_len=max_len,
    )


class Oracle:
    """The exact token-level LM of `source` under `encode`.

    Contexts start with `trunk` (special tokens and so on); the probability
    of the end of the text is put on `end_id`. Callable as an LM function:
    ``oracle(contexts) -> ndarray[B, n_vocab]`` of log-probabilities.
    """

    def __init__(
        self,
        source: MarkovSource,
        encode: Callable[[bytes], list[int]],
        n_vocab: int,
        end_id: int,
        trunk: Sequence[int] = (),
        seed: int = 0,
    ) -> None:
        self.n_vocab = n_vocab
        self.end_id = end_id
        self.trunk = tuple(trunk)
        self.rng = np.random.default_rng(seed)
        mass: dict[tuple[int, ...], float] = {}
        end: dict[tuple[int, ...], float] = {}
        for s, p in source.strings().items():
            enc = tuple(encode(s))
            for k in range(len(enc) + 1):
                mass[enc[:k]] = mass.get(enc[:k], 0.0) + p
            end[enc] = end.get(enc, 0.0) + p
        self.rows: dict[tuple[int, ...], np.ndarray] = {}
        children: dict[tuple[int, ...], list[tuple[int, float]]] = {}
        for t, m in mass.items():
            if t:
                children.setdefault(t[:-1], []).append((t[-1], m))
        for t, m in mass.items():
            row = np.full(n_vocab, -np.inf)
            for v, mv in children.get(t, []):
                row[v] = math.log(mv / m)
            if t in end:
                row[end_id] = math.log(end[t] / m)
            self.rows[t] = row
        self.calls = 0
        self.rows_served = 0

    def row(self, context: Sequence[int]) -> np.ndarray:
        """The row of one context (random for probability-0 contexts)."""
        c = tuple(context)
        if c[: len(self.trunk)] == self.trunk and c[len(self.trunk) :] in self.rows:
            return self.rows[c[len(self.trunk) :]]
        w = self.rng.dirichlet(np.ones(self.n_vocab))
        return np.log(w)

    def __call__(self, contexts: list[list[int]]) -> np.ndarray:
        self.calls += 1
        self.rows_served += len(contexts)
        return np.stack([self.row(c) for c in contexts])


class Mux:
    """Several oracles behind one LM function, chosen by the context's trunk."""

    def __init__(self, oracles: Sequence[Oracle]) -> None:
        self.oracles = sorted(oracles, key=lambda o: -len(o.trunk))
        self.n_vocab = oracles[0].n_vocab

    def __call__(self, contexts: list[list[int]]) -> np.ndarray:
        rows = []
        for c in contexts:
            for o in self.oracles:
                if tuple(c[: len(o.trunk)]) == o.trunk:
                    rows.append(o.row(c))
                    break
            else:
                rows.append(np.log(np.full(self.n_vocab, 1.0 / self.n_vocab)))
        return np.stack(rows)


def chi2_sf(x: float, k: int) -> float:
    """Survival function of the chi-square distribution with k degrees of freedom."""
    a, z = k / 2.0, x / 2.0
    if z <= 0:
        return 1.0
    if z < a + 1:
        # Series for the lower regularized gamma.
        term = total = 1.0 / a
        n = a
        while term > total * 1e-15:
            n += 1
            term *= z / n
            total += term
        return 1.0 - total * math.exp(-z + a * math.log(z) - math.lgamma(a))
    # Continued fraction for the upper one (Lentz).
    tiny = 1e-300
    b = z + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-z + a * math.log(z) - math.lgamma(a)) * h
