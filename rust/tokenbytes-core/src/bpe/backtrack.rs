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
//!
//! Shortcuts, each exact:
//! * If `a + b` is itself a token they are never neighbours (once both are
//!   formed, that join is available). Whether it is a token is known without
//!   a lookup: the search tried every longer token at `a`'s start and keeps
//!   the set of lengths it found.
//! * Every crossing span contains the two bytes around the boundary. A
//!   table of byte pairs that occur inside tokens that are not valid UTF-8
//!   tells when only whole-character spans can be tokens; spans cut inside
//!   a character are then skipped, and two single characters are
//!   neighbours exactly when their join is not a token.
//! * Results are memoized per thread (`ValidMemo`).
//!
//! # Finding the candidates
//!
//! At each position the tokens that start there are tried longest first. A
//! table keyed by the first three bytes gives the three-byte token and
//! which lengths 4 and 5 exist, and whether longer ones do; a table keyed by
//! the first six bytes gives the six-byte token and the lengths 7 to 69 (then
//! each length is looked up). A Bloom filter (`filter`) answers most
//! lookups of strings that are not tokens, and of six-byte prefixes that
//! start no token, without touching the big tables.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

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

/// `flags` bits (a compact copy of what the search loop reads per token):
/// computed, reachable, exactly one UTF-8 character.
const F_COMPUTED: u8 = 1;
const F_REACHABLE: u8 = 2;
const F_CHAR: u8 = 4;

/// Bit of a three-byte prefix mask meaning "some token of six or more
/// bytes starts here" (the six-byte table tells which).
const LONG6: u64 = 1 << 6;

/// Six-byte prefix masks hold lengths 7 to this (bit `len - 6`); bit 0
/// means some token with that prefix is longer.
const MASK6_MAX: usize = 69;

/// One slot of the three-byte prefix table: the tokens of at least three
/// bytes that start with the same three bytes.
#[derive(Clone, Copy, Default)]
struct Prefix {
    /// The three bytes, little endian, with bit 24 set (0: empty slot).
    key: u32,
    /// Rank of the three-byte token, `NO_RANK` if there is none.
    rank: Rank,
    /// Bit `len` for each length 3, 4, 5 of such a token; [`LONG6`].
    lens: u64,
}

/// One slot of the six-byte prefix table: the tokens of at least six bytes
/// that start with the same six bytes.
#[derive(Clone, Copy, Default)]
struct Prefix6 {
    /// The six bytes, little endian, with bit 48 set (0: empty slot).
    key: u64,
    /// Bit `len - 6` for each length 7..=69 of such a token; bit 0 for
    /// longer ones.
    lens: u64,
    /// Rank of the six-byte token, `NO_RANK` if there is none.
    rank: Rank,
}

/// Slot count (a power of two, load at most 3/4) and hash shift for
/// `distinct` keys.
fn table_size(distinct: usize) -> (usize, u32) {
    let cap = (distinct * 4 / 3 + 1).next_power_of_two().max(1024);
    (cap, 64 - cap.trailing_zeros())
}

/// Lazily built tables of the backtracking encoder, shared by all threads.
pub(super) struct Backtracker {
    /// Per rank: split and flags, 0 until first needed.
    info: Box<[AtomicU64]>,
    /// Per rank: `F_*` flags, 0 until first needed.
    flags: Box<[AtomicU8]>,
    /// Open-addressing table of three-byte prefixes.
    prefixes: Box<[Prefix]>,
    prefix_shift: u32,
    /// Open-addressing table of six-byte prefixes.
    prefixes6: Box<[Prefix6]>,
    prefix6_shift: u32,
    /// Bit `x << 8 | y` set if some token that is not valid UTF-8 contains
    /// the bytes `x`, `y` next to each other: only then can a token cross
    /// the boundary between two characters other than at their ends.
    crossing: Box<[u64]>,
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
            flags: self
                .flags
                .iter()
                .map(|a| AtomicU8::new(a.load(Ordering::Relaxed)))
                .collect(),
            prefixes: self.prefixes.clone(),
            prefix_shift: self.prefix_shift,
            prefixes6: self.prefixes6.clone(),
            prefix6_shift: self.prefix6_shift,
            crossing: self.crossing.clone(),
        }
    }
}

#[inline(always)]
fn prefix_key(b: &[u8]) -> u32 {
    1 << 24 | u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

#[inline(always)]
fn prefix6_key(b: &[u8]) -> u64 {
    b[..6]
        .iter()
        .rev()
        .fold(1u64, |k, &byte| k << 8 | u64::from(byte))
}

#[inline(always)]
fn slot_of(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

/// The search state of one token of the current path.
#[derive(Clone, Copy)]
pub(super) struct Step {
    /// Bit `len` for each token length (below 32) found at the token's
    /// start, from the longest down to the token's own.
    found: u32,
    len: u32,
    flags: u8,
}

impl Backtracker {
    /// Tables for `vocab` (a few milliseconds for 200,000 tokens; splits
    /// are computed later, per token, on first use).
    pub(super) fn new(vocab: &Vocab) -> Self {
        let n = vocab.rank_bound() as usize;
        let info = (0..n).map(|_| AtomicU64::new(0)).collect();
        let flags = (0..n).map(|_| AtomicU8::new(0)).collect();
        let mut crossing = vec![0u64; 1 << 10].into_boxed_slice();
        let mut keys = Vec::with_capacity(vocab.len());
        let mut keys6 = Vec::with_capacity(vocab.len());
        for (bytes, _) in vocab.iter() {
            if bytes.len() >= 3 {
                keys.push(prefix_key(bytes));
            }
            if bytes.len() >= 6 {
                keys6.push(prefix6_key(bytes));
            }
            if std::str::from_utf8(bytes).is_err() {
                for w in bytes.windows(2) {
                    let i = usize::from(w[0]) << 8 | usize::from(w[1]);
                    crossing[i / 64] |= 1 << (i % 64);
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys6.sort_unstable();
        keys6.dedup();
        let (cap, prefix_shift) = table_size(keys.len());
        let mut prefixes = vec![Prefix::default(); cap].into_boxed_slice();
        let (cap6, prefix6_shift) = table_size(keys6.len());
        let mut prefixes6 = vec![Prefix6::default(); cap6].into_boxed_slice();
        for (bytes, rank) in vocab.iter() {
            if bytes.len() < 3 {
                continue;
            }
            let key = prefix_key(bytes);
            let mut i = slot_of(u64::from(key), prefix_shift);
            while prefixes[i].key != key && prefixes[i].key != 0 {
                i = (i + 1) & (cap - 1);
            }
            let p = &mut prefixes[i];
            if p.key == 0 {
                *p = Prefix {
                    key,
                    rank: NO_RANK,
                    lens: 0,
                };
            }
            match bytes.len() {
                3 => {
                    p.rank = rank;
                    p.lens |= 1 << 3;
                }
                n @ (4 | 5) => p.lens |= 1 << n,
                _ => p.lens |= LONG6,
            }
            if bytes.len() < 6 {
                continue;
            }
            let key = prefix6_key(bytes);
            let mut i = slot_of(key, prefix6_shift);
            while prefixes6[i].key != key && prefixes6[i].key != 0 {
                i = (i + 1) & (cap6 - 1);
            }
            let p = &mut prefixes6[i];
            if p.key == 0 {
                *p = Prefix6 {
                    key,
                    lens: 0,
                    rank: NO_RANK,
                };
            }
            match bytes.len() {
                6 => p.rank = rank,
                n if n <= MASK6_MAX => p.lens |= 1 << (n - 6),
                _ => p.lens |= 1,
            }
        }
        Self {
            info,
            flags,
            prefixes,
            prefix_shift,
            prefixes6,
            prefix6_shift,
            crossing,
        }
    }

    /// The prefix slot of the first three bytes of `b` (at least three):
    /// the rank of that three-byte token and the lengths of tokens that
    /// start with them.
    #[inline(always)]
    fn prefix(&self, b: &[u8]) -> (Rank, u64) {
        let key = prefix_key(b);
        let mask = self.prefixes.len() - 1;
        let mut i = slot_of(u64::from(key), self.prefix_shift);
        loop {
            match self.prefixes.get(i) {
                Some(p) if p.key == key => return (p.rank, p.lens),
                Some(p) if p.key != 0 => i = (i + 1) & mask,
                _ => return (NO_RANK, 0),
            }
        }
    }

    /// The same for the first six bytes of `b` (at least six).
    #[inline(always)]
    fn prefix6(&self, b: &[u8]) -> (Rank, u64) {
        let key = prefix6_key(b);
        let mask = self.prefixes6.len() - 1;
        let mut i = slot_of(key, self.prefix6_shift);
        loop {
            match self.prefixes6.get(i) {
                Some(p) if p.key == key => return (p.rank, p.lens),
                Some(p) if p.key != 0 => i = (i + 1) & mask,
                _ => return (NO_RANK, 0),
            }
        }
    }

    /// Whether some token that is not valid UTF-8 has bytes `x`, `y` next
    /// to each other.
    #[inline(always)]
    fn crosses(&self, x: u8, y: u8) -> bool {
        let i = usize::from(x) << 8 | usize::from(y);
        self.crossing
            .get(i / 64)
            .is_some_and(|w| w >> (i % 64) & 1 != 0)
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

    /// The `F_*` flags of `t` (computed on first use).
    #[inline(always)]
    fn flags(&self, bpe: &CoreBpe, t: Rank) -> u8 {
        match self.flags.get(t as usize) {
            Some(a) => {
                let v = a.load(Ordering::Relaxed);
                if v & F_COMPUTED != 0 {
                    v
                } else {
                    self.compute(bpe, t);
                    a.load(Ordering::Relaxed)
                }
            }
            None => F_COMPUTED,
        }
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
        let bytes = bpe.vocab.token_bytes(t);
        let v = match bytes {
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
        let one_char = bytes
            .and_then(|b| std::str::from_utf8(b).ok())
            .is_some_and(|s| s.chars().count() == 1);
        let f = F_COMPUTED
            | if v & REACHABLE != 0 { F_REACHABLE } else { 0 }
            | if one_char { F_CHAR } else { 0 };
        if let Some(a) = self.info.get(t as usize) {
            a.store(v, Ordering::Relaxed);
        }
        if let Some(a) = self.flags.get(t as usize) {
            a.store(f, Ordering::Relaxed);
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

/// The first `min(8, b.len())` bytes of `b`, little endian, zero padded.
#[inline(always)]
fn load_word(b: &[u8]) -> u64 {
    match b.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => b
            .iter()
            .rev()
            .fold(0u64, |w, &byte| w << 8 | u64::from(byte)),
    }
}

/// Whether `s` starts and ends on UTF-8 character boundaries: it does not
/// start with a continuation byte and its last character has exactly the
/// bytes its first byte announces. (Valid UTF-8 has both properties.)
#[inline]
fn whole_chars(s: &[u8]) -> bool {
    let Some(&first) = s.first() else {
        return false;
    };
    if first & 0xC0 == 0x80 {
        return false;
    }
    // Back over at most three continuation bytes to the last lead byte.
    let mut i = s.len() - 1;
    while i > 0 && s.len() - i < 4 && s[i] & 0xC0 == 0x80 {
        i -= 1;
    }
    let need = match s[i] {
        0..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => return false,
    };
    s.len() - i == need
}

/// The `len` (1 to 8) low bytes of `w`.
#[inline(always)]
fn low_bytes(w: u64, len: usize) -> u64 {
    if len >= 8 {
        w
    } else {
        w & ((1u64 << (8 * len)) - 1)
    }
}

/// Reusable buffers of the backtracking search.
#[derive(Default)]
pub(super) struct Scratch {
    /// The search state of each token taken so far.
    steps: Vec<Step>,
    /// Bit set of dead positions.
    dead: Vec<u64>,
}

#[inline(always)]
fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 != 0)
}

#[inline(always)]
fn set_bit(bits: &mut [u64], i: usize) {
    if let Some(w) = bits.get_mut(i / 64) {
        *w |= 1 << (i % 64);
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

    /// The token equal to `span` (not empty), if any, from the smallest
    /// table that can tell: two-byte and three-byte strings have their own.
    #[inline]
    fn span_token(&self, bt: &Backtracker, span: &[u8]) -> Option<Rank> {
        let r = match span.len() {
            1 => self.vocab.byte_rank(span[0]),
            2 => self.byte_pair_rank(span[0], span[1]),
            3 => bt.prefix(span).0,
            n @ 4..=8 => return self.lookup_word(load_word(span), n),
            _ => return self.lookup(span),
        };
        (r != NO_RANK).then_some(r)
    }

    /// BPE of `piece` (merge loop semantics, no whole-piece shortcut) by
    /// backtracking, appended to `out`. Same result as
    /// [`Self::merge_by_scan`]; linear time.
    pub fn merge_by_backtracking(&self, piece: &[u8], out: &mut Vec<Rank>) {
        let mut scratch = Scratch::default();
        self.backtrack_with(piece, out, &mut scratch, false, |l, r, at, absent| {
            self.compatible(l, r, piece, at, absent)
        });
    }

    /// [`Self::merge_by_backtracking`] with caller-supplied scratch and
    /// compatibility test `compatible(left, right, at, joined_absent)` of
    /// two reachable tokens meeting at byte `at` of the piece (see
    /// [`Self::compatible`]). With `whole`, a piece that
    /// is itself a token is that token, reachable or not (tiktoken's rule
    /// for whole pieces).
    pub(super) fn backtrack_with(
        &self,
        piece: &[u8],
        out: &mut Vec<Rank>,
        scratch: &mut Scratch,
        whole: bool,
        mut compatible: impl FnMut(Rank, Rank, usize, bool) -> bool,
    ) {
        let n = piece.len();
        let bt = self.backtracker();
        let filter = self.filter();
        let base = out.len();
        let steps = &mut scratch.steps;
        steps.clear();
        let dead = &mut scratch.dead;
        dead.clear();
        dead.resize(n / 64 + 1, 0);
        let mut pos = 0;
        // Only tokens shorter than this are tried at `pos` (after backing
        // up to `pos`, shorter than the token that failed).
        let mut limit = usize::MAX;
        // Lengths of the tokens found at `pos` so far.
        let mut found = 0u32;
        // Take token `t` of `len` bytes at `pos` if the rest can still be
        // covered from its end (as far as known), it is reachable and it
        // can follow the previous token.
        macro_rules! try_token {
            ($next:lifetime, $t:expr, $len:expr) => {{
                let (t, len): (Rank, usize) = ($t, $len);
                if len < 32 {
                    found |= 1 << len;
                }
                let end = pos + len;
                if whole && len == n {
                    out.push(t);
                    return;
                }
                if end == n || !bit(dead, end) {
                    let f = bt.flags(self, t);
                    let ok = f & F_REACHABLE != 0
                        && match steps.last() {
                            None => true,
                            // Two single characters with no token across
                            // their boundary but possibly both joined: they
                            // fit iff the joined string is not a token.
                            Some(prev)
                                if prev.flags & f & F_CHAR != 0
                                    && !bt.crosses(piece[pos - 1], piece[pos]) =>
                            {
                                prev.found >> (prev.len as usize + len) & 1 == 0
                            }
                            // The two joined are a token (known from the
                            // lengths found at the previous start): never
                            // neighbours.
                            Some(prev) if (prev.len as usize + len) < 32 => {
                                prev.found >> (prev.len as usize + len) & 1 == 0
                                    && compatible(out[out.len() - 1], t, pos, true)
                            }
                            Some(_) => compatible(out[out.len() - 1], t, pos, false),
                        };
                    if ok {
                        out.push(t);
                        steps.push(Step {
                            found,
                            len: len as u32,
                            flags: f,
                        });
                        pos = end;
                        limit = usize::MAX;
                        found = 0;
                        continue $next;
                    }
                }
            }};
        }
        'next: while pos < n {
            let rest = &piece[pos..];
            let max = limit
                .saturating_sub(1)
                .min(rest.len())
                .min(self.max_token_len);
            if max >= 3 {
                let (rank3, mask3) = bt.prefix(rest);
                let word = load_word(rest);
                if max >= 6
                    && mask3 & LONG6 != 0
                    && filter.may_contain(super::filter::hash_prefix6(low_bytes(word, 6)))
                {
                    let (rank6, mask6) = bt.prefix6(rest);
                    if max > MASK6_MAX && mask6 & 1 != 0 {
                        for len in (MASK6_MAX + 1..=max).rev() {
                            if let Some(t) = self.lookup(&rest[..len]) {
                                try_token!('next, t, len);
                            }
                        }
                    }
                    let mut mask = mask6 & (u64::MAX >> (63 - (max - 6).min(63))) & !1;
                    while mask != 0 {
                        let len = 6 + 63 - mask.leading_zeros() as usize;
                        mask &= !(1u64 << (len - 6));
                        let found = match len {
                            7 | 8 => self.lookup_word(low_bytes(word, len), len),
                            9..=12 => {
                                let tail = low_bytes(load_word(&rest[8..]), len - 8);
                                self.lookup_words(word, tail, len)
                            }
                            _ => self.lookup(&rest[..len]),
                        };
                        if let Some(t) = found {
                            try_token!('next, t, len);
                        }
                    }
                    if rank6 != NO_RANK {
                        try_token!('next, rank6, 6);
                    }
                }
                for len in [5, 4] {
                    if len <= max && mask3 & 1 << len != 0 {
                        if let Some(t) = self.lookup_word(low_bytes(word, len), len) {
                            try_token!('next, t, len);
                        }
                    }
                }
                if rank3 != NO_RANK {
                    try_token!('next, rank3, 3);
                }
            }
            if max >= 2 {
                let t = self.byte_pair_rank(rest[0], rest[1]);
                if t != NO_RANK {
                    try_token!('next, t, 2);
                }
            }
            if max >= 1 {
                try_token!('next, self.vocab.byte_rank(rest[0]), 1);
            }
            // Nothing continues from here: back up one token.
            set_bit(dead, pos);
            let Some(step) = steps.pop() else {
                // Impossible (single bytes always cover the piece); merge
                // the slow way rather than fail.
                debug_assert!(false, "backtracking found no encoding");
                out.truncate(base);
                self.merge_by_heap(piece, out);
                return;
            };
            out.pop();
            limit = step.len as usize;
            pos -= limit;
            found = step.found;
        }
    }

    /// Whether `left` followed by `right` (meeting at byte `at` of `piece`)
    /// is the merge result of their concatenation. See the module notes.
    /// `joined_absent` says the caller knows `left` + `right` is not a
    /// token (saves a lookup).
    pub(super) fn compatible(
        &self,
        left: Rank,
        right: Rank,
        piece: &[u8],
        at: usize,
        joined_absent: bool,
    ) -> bool {
        let bt = self.backtracker();
        let li = bt.info(self, left);
        let ri = bt.info(self, right);
        if li & ri & MONOTONE != 0 {
            if let Some(ok) = self.compatible_by_spines(bt, left, right, piece, at, joined_absent) {
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
        joined_absent: bool,
    ) -> Option<bool> {
        // (x, y): the crossing pair; a, b: ranks of the joins that consume
        // x and y (u64::MAX: never); xi, yi: their infos; lx, ly: lengths.
        let (mut x, mut y) = (left, right);
        let (mut a, mut b) = (u64::MAX, u64::MAX);
        let (mut xi, mut yi) = (bt.info(self, x), bt.info(self, y));
        let (mut lx, mut ly) = (self.token_len(x), self.token_len(y));
        let mut top = joined_absent;
        // Every crossing span contains the two bytes at the boundary; when
        // no token that is not valid UTF-8 contains them, a span cut inside
        // a character cannot be a token.
        let utf8_only = at > 0 && at < piece.len() && !bt.crosses(piece[at - 1], piece[at]);
        loop {
            let from = at.checked_sub(lx)?;
            let span = piece.get(from..at + ly)?;
            let c = if top || (utf8_only && !whole_chars(span)) {
                top = false;
                u64::MAX
            } else {
                self.span_token(bt, span).map_or(u64::MAX, u64::from)
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

#[cfg(test)]
mod tests {
    use super::whole_chars;

    #[test]
    fn whole_chars_matches_utf8_edges() {
        // Every short byte string that is valid UTF-8 passes; cut
        // characters do not.
        let text = "a中é😀b文";
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for j in i + 1..=bytes.len() {
                let s = &bytes[i..j];
                let valid = std::str::from_utf8(s).is_ok();
                assert_eq!(whole_chars(s), valid, "{s:?}");
            }
        }
        assert!(!whole_chars(b""));
        assert!(!whole_chars(b"\x80"));
        assert!(!whole_chars(b"a\xe4\xb8"));
    }
}
