//! Exact BPE of long pieces by walking token boundaries left to right,
//! backtracking when needed, instead of running the merges.
//!
//! # Why it is exact
//!
//! Write `M(s)` for the result of the merge loop on the bytes `s` (no
//! whole-piece shortcut): start from single bytes and repeatedly join the
//! adjacent pair whose concatenation has the lowest rank, leftmost first.
//! Call a token `t` *reachable* if `M(bytes(t)) = [t]`, and two tokens `a`,
//! `b` *compatible* if `M(bytes(a) + bytes(b)) = [a, b]`. Then, for every
//! vocabulary (no assumption on how ranks were assigned):
//!
//! 1. Every token of `M(s)` is reachable and every adjacent pair of it is
//!    compatible. Inside the span of a final token (or of two adjacent final
//!    tokens) the merge loop never joins across the span's border, and each
//!    merge it makes inside is the lowest inside pair at that moment, so the
//!    merges inside are exactly those of the loop run on the span alone.
//! 2. Conversely, a sequence of reachable tokens whose adjacent pairs are all
//!    compatible is `M` of its concatenation. By induction over the merge
//!    loop on the whole string: restricted to two adjacent tokens' spans, the
//!    steps taken are those of the loop on the pair alone (a step is the
//!    global minimum, hence the minimum of the pair's region), and the pair
//!    loop never joins across the boundary, so the global loop does not
//!    either; each token's span ends as that token.
//!
//! Hence `M(s)` is the *only* cover of `s` by reachable tokens with all
//! adjacent pairs compatible, and any search that finds such a cover is
//! exact. Moreover the encoding of a prefix of `s` that ends on a boundary of
//! such a cover is unique, so if no cover continues from a position after the
//! (unique) tokens before it, none ever will: that position can be marked
//! dead for good. The search below takes, at each position, the longest
//! token first, then shorter ones, and backs up one token when a position is
//! dead; every position is entered at most once, so the work is linear in the
//! piece length times the number of token lengths tried per position.
//!
//! # Deciding compatibility
//!
//! For each token the loop on its own bytes ends with one join of a
//! `(left, right)` pair (its *split*, computed on first use and shared by all
//! threads). The tree of splits is the token's merge history. When ranks
//! grow towards the root of both trees (true for every token of the OpenAI
//! vocabularies, checked per token), the pair loop runs both histories in
//! rank order, and the only pair that crosses the boundary is formed by the
//! rightmost part of the left token (a node of its right spine) and the
//! leftmost part of the right token (a node of its left spine). Walking both
//! spines upwards in that order, a crossing pair of rank `c` is joined — so
//! the tokens are incompatible — exactly when `c` is below the rank of the
//! join that consumes its left part, or at most the rank of the join that
//! consumes its right part, whichever comes first (ties: the leftmost pair
//! wins). Tokens whose trees are not rank-ordered are checked by running the
//! merge loop on the two tokens' bytes.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{CoreBpe, NO_RANK};
use crate::vocab::Vocab;
use crate::Rank;

/// `info` bits: the entry has been computed.
const COMPUTED: u64 = 1 << 63;
/// The token is the merge result of its own bytes.
const REACHABLE: u64 = 1 << 62;
/// Every join in the token's merge history has a higher rank than the joins
/// below it.
const MONOTONE: u64 = 1 << 61;
/// A single byte (no split).
const LEAF: u64 = 1 << 60;
const ID_BITS: u32 = 28;
const ID_MASK: u64 = (1 << ID_BITS) - 1;

/// log2 of the number of slots of the prefix → token lengths table.
const PREFIX_BITS: u32 = 16;
/// Token lengths up to this are kept as bits of the prefix masks; bit 0 of
/// a mask means some token with that prefix is at least this long.
const MASK_LEN: usize = 128;

/// Lazily built tables of the backtracking encoder, shared by all threads.
pub(super) struct Backtracker {
    /// Per rank: split and flags, 0 until first needed.
    info: Box<[AtomicU64]>,
    /// Hash of a token's first three bytes → bit `len` set for each length
    /// (3..128) of a token with those first bytes (bit 0: a longer one).
    lens: Box<[u128]>,
}

impl std::fmt::Debug for Backtracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backtracker")
            .field("ranks", &self.info.len())
            .finish()
    }
}

impl Clone for Backtracker {
    fn clone(&self) -> Self {
        Self {
            info: self
                .info
                .iter()
                .map(|a| AtomicU64::new(a.load(Ordering::Relaxed)))
                .collect(),
            lens: self.lens.clone(),
        }
    }
}

#[inline(always)]
fn prefix_slot(b: &[u8]) -> usize {
    let k = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
    (k.wrapping_mul(0x9E37_79B1) >> (32 - PREFIX_BITS)) as usize
}

impl Backtracker {
    /// Tables for `vocab` (a few milliseconds for 200,000 tokens; splits
    /// are computed later, per token, on first use).
    pub(super) fn new(vocab: &Vocab) -> Self {
        let info = (0..vocab.rank_bound()).map(|_| AtomicU64::new(0)).collect();
        let mut lens = vec![0u128; 1 << PREFIX_BITS].into_boxed_slice();
        for (bytes, _) in vocab.iter() {
            if bytes.len() >= 3 {
                let bit = if bytes.len() < MASK_LEN {
                    1u128 << bytes.len()
                } else {
                    1
                };
                lens[prefix_slot(bytes)] |= bit;
            }
        }
        Self { info, lens }
    }

    /// Whether `t` is reachable and its merge history is rank-ordered
    /// (the spine walk decides its pairs).
    #[cfg(test)]
    pub(super) fn is_monotone(&self, bpe: &CoreBpe, t: Rank) -> bool {
        self.info(bpe, t) & MONOTONE != 0
    }

    /// Whether `t` is the merge result of its own bytes.
    #[cfg(test)]
    pub(super) fn is_reachable(&self, bpe: &CoreBpe, t: Rank) -> bool {
        self.info(bpe, t) & REACHABLE != 0
    }

    /// Split and flags of `t` (computed on first use).
    #[inline(always)]
    fn info(&self, bpe: &CoreBpe, t: Rank) -> u64 {
        match self.info.get(t as usize) {
            Some(a) => {
                let v = a.load(Ordering::Relaxed);
                if v & COMPUTED != 0 {
                    v
                } else {
                    self.compute(bpe, t)
                }
            }
            None => COMPUTED,
        }
    }

    #[cold]
    #[inline(never)]
    fn compute(&self, bpe: &CoreBpe, t: Rank) -> u64 {
        let v = match bpe.vocab.token_bytes(t) {
            None => COMPUTED,
            Some(b) if b.len() == 1 => COMPUTED | REACHABLE | MONOTONE | LEAF,
            Some(b) => match split_of(&bpe.vocab, b) {
                None => COMPUTED,
                Some((l, r)) => {
                    let both = self.info(bpe, l) & self.info(bpe, r);
                    let mono = t > l && t > r && both & MONOTONE != 0;
                    COMPUTED
                        | REACHABLE
                        | if mono { MONOTONE } else { 0 }
                        | u64::from(l)
                        | u64::from(r) << ID_BITS
                }
            },
        };
        if let Some(a) = self.info.get(t as usize) {
            a.store(v, Ordering::Relaxed);
        }
        v
    }
}

/// The last join of the merge loop on `bytes` (a token of at least two
/// bytes): the ranks of the two parts it joined, or `None` if the loop stops
/// with more than two parts (the token is not reachable). Plain O(n²) loop:
/// it runs once per token.
fn split_of(vocab: &Vocab, bytes: &[u8]) -> Option<(Rank, Rank)> {
    let mut bounds: Vec<usize> = (0..=bytes.len()).collect();
    while bounds.len() > 3 {
        let mut best: Option<(Rank, usize)> = None;
        for i in 0..bounds.len() - 2 {
            if let Some(r) = vocab.rank(&bytes[bounds[i]..bounds[i + 2]]) {
                if best.is_none_or(|(b, _)| r < b) {
                    best = Some((r, i));
                }
            }
        }
        let (_, i) = best?;
        bounds.remove(i + 1);
    }
    // Two parts whose concatenation is the token: the last join.
    Some((
        vocab.rank(&bytes[..bounds[1]])?,
        vocab.rank(&bytes[bounds[1]..])?,
    ))
}

/// Bit set of dead positions: on the stack for pieces up to 1 KiB.
enum Bits {
    Stack([u64; 16]),
    Heap(Vec<u64>),
}

impl Bits {
    fn new(n: usize) -> Self {
        let words = n / 64 + 1;
        if words <= 16 {
            Bits::Stack([0; 16])
        } else {
            Bits::Heap(vec![0; words])
        }
    }

    #[inline(always)]
    fn words(&mut self) -> &mut [u64] {
        match self {
            Bits::Stack(a) => a,
            Bits::Heap(v) => v,
        }
    }

    #[inline(always)]
    fn get(&mut self, i: usize) -> bool {
        self.words()
            .get(i / 64)
            .is_some_and(|w| w >> (i % 64) & 1 != 0)
    }

    #[inline(always)]
    fn set(&mut self, i: usize) {
        if let Some(w) = self.words().get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
}

impl CoreBpe {
    /// The backtracking tables, built on first use.
    #[inline]
    pub(super) fn backtracker(&self) -> &Backtracker {
        self.backtrack.get_or_init(|| Backtracker::new(&self.vocab))
    }

    /// Length in bytes of token `t` (0 if no token has that rank).
    #[inline(always)]
    fn token_len(&self, t: Rank) -> usize {
        self.vocab.token_bytes(t).map_or(0, <[u8]>::len)
    }

    /// The longest token that `piece[pos..]` starts with and that is shorter
    /// than `limit` bytes, with its length.
    #[inline]
    fn prefix_token(
        &self,
        bt: &Backtracker,
        piece: &[u8],
        pos: usize,
        limit: usize,
    ) -> Option<(Rank, usize)> {
        let rest = piece.get(pos..)?;
        let max = limit
            .saturating_sub(1)
            .min(rest.len())
            .min(self.max_token_len);
        if max >= 3 {
            let mut mask = bt.lens[prefix_slot(rest)];
            if max >= MASK_LEN && mask & 1 != 0 {
                for len in (MASK_LEN..=max).rev() {
                    if let Some(r) = self.vocab.rank(&rest[..len]) {
                        return Some((r, len));
                    }
                }
            }
            let top = max.min(MASK_LEN - 1);
            mask &= (u128::MAX >> (127 - top)) & !7;
            while mask != 0 {
                let len = 127 - mask.leading_zeros() as usize;
                if let Some(r) = self.vocab.rank(&rest[..len]) {
                    return Some((r, len));
                }
                mask &= !(1u128 << len);
            }
        }
        if max >= 2 {
            let r = self.byte_pair_rank(rest[0], rest[1]);
            if r != NO_RANK {
                return Some((r, 2));
            }
        }
        if max >= 1 {
            return Some((self.vocab.byte_rank(rest[0]), 1));
        }
        None
    }

    /// BPE of `piece` (merge loop semantics, no whole-piece shortcut) by
    /// backtracking, appended to `out`. Same result as
    /// [`Self::merge_by_scan`]; linear time.
    pub fn merge_by_backtracking(&self, piece: &[u8], out: &mut Vec<Rank>) {
        self.backtrack_with(piece, out, |l, r, at| self.compatible(l, r, piece, at));
    }

    /// [`Self::merge_by_backtracking`] with a caller-supplied compatibility
    /// test `compatible(left, right, at)` of two tokens meeting at byte `at`
    /// of the piece.
    pub(super) fn backtrack_with(
        &self,
        piece: &[u8],
        out: &mut Vec<Rank>,
        mut compatible: impl FnMut(Rank, Rank, usize) -> bool,
    ) {
        let n = piece.len();
        let bt = self.backtracker();
        let base = out.len();
        let mut dead = Bits::new(n);
        let mut pos = 0;
        let mut limit = usize::MAX;
        while pos < n {
            match self.prefix_token(bt, piece, pos, limit) {
                Some((t, len)) => {
                    limit = len;
                    let end = pos + len;
                    if end < n && dead.get(end) {
                        continue;
                    }
                    if len > 1 && bt.info(self, t) & REACHABLE == 0 {
                        continue;
                    }
                    if out.len() > base && !compatible(out[out.len() - 1], t, pos) {
                        continue;
                    }
                    out.push(t);
                    pos = end;
                    limit = usize::MAX;
                }
                None => {
                    // Nothing continues from here: back up one token.
                    dead.set(pos);
                    if out.len() == base {
                        // Impossible (single bytes always cover the
                        // piece); merge the slow way rather than fail.
                        debug_assert!(false, "backtracking found no encoding");
                        out.truncate(base);
                        self.merge_by_heap(piece, out);
                        return;
                    }
                    let t = out.pop().unwrap_or_default();
                    limit = self.token_len(t);
                    pos -= limit;
                }
            }
        }
    }

    /// Whether `left` followed by `right` (meeting at byte `at` of `piece`)
    /// is the merge result of their concatenation. See the module notes.
    pub(super) fn compatible(&self, left: Rank, right: Rank, piece: &[u8], at: usize) -> bool {
        let bt = self.backtracker();
        let li = bt.info(self, left);
        let ri = bt.info(self, right);
        if li & ri & MONOTONE != 0 {
            if let Some(ok) = self.compatible_by_spines(bt, left, right, piece, at) {
                return ok;
            }
        }
        let (a, b) = (at - self.token_len(left), at + self.token_len(right));
        let mut parts = Vec::with_capacity(2);
        self.merge_by_scan(&piece[a..b], &mut parts);
        parts == [left, right]
    }

    /// The spine walk for rank-ordered trees, from the two tokens down to
    /// single bytes (each crossing pair's test is independent of the
    /// others, so the order is free; going down needs no stack). `None` if
    /// a history is broken (never for reachable tokens).
    fn compatible_by_spines(
        &self,
        bt: &Backtracker,
        left: Rank,
        right: Rank,
        piece: &[u8],
        at: usize,
    ) -> Option<bool> {
        // (x, y): the crossing pair; a, b: ranks of the joins that consume
        // x and y (u64::MAX: never); xi, yi: their infos; lx, ly: lengths.
        let (mut x, mut y) = (left, right);
        let (mut a, mut b) = (u64::MAX, u64::MAX);
        let (mut xi, mut yi) = (bt.info(self, x), bt.info(self, y));
        let (mut lx, mut ly) = (self.token_len(x), self.token_len(y));
        loop {
            let c = if lx + ly <= self.max_token_len {
                self.vocab
                    .rank(piece.get(at.checked_sub(lx)?..at + ly)?)
                    .map_or(u64::MAX, u64::from)
            } else {
                u64::MAX
            };
            // The pair lives until the earlier of its parts' consuming
            // joins (ties: the left one, which is leftmost) and is joined
            // if it beats that join.
            if if a <= b { c < a } else { c <= b } {
                return Some(false);
            }
            // Step back in time: undo the later of the joins that made x
            // and y (on equal ranks y's came later).
            let x_leaf = xi & LEAF != 0;
            let y_leaf = yi & LEAF != 0;
            if x_leaf && y_leaf {
                return Some(true);
            }
            if xi & REACHABLE == 0 || yi & REACHABLE == 0 {
                return None;
            }
            if y_leaf || (!x_leaf && x > y) {
                a = u64::from(x);
                x = (xi >> ID_BITS & ID_MASK) as Rank;
                xi = bt.info(self, x);
                lx = self.token_len(x);
            } else {
                b = u64::from(y);
                y = (yi & ID_MASK) as Rank;
                yi = bt.info(self, y);
                ly = self.token_len(y);
            }
        }
    }
}
