//! The incremental merger: unique units with counts, a pair → occurrences
//! index and a lazy max-heap.
//!
//! # Why this gives the reference result
//!
//! Merges never cross a unit, so the batch is fully described by its
//! *unique* units (word types), each with its number of instances `cnt` and
//! the flat position `first` of its first instance. A node (token slot) of a
//! unique unit stands for the same slot in every instance; its *global
//! position* is `first + k`, where `k` is the original index in the unit of
//! the first base token it covers. Scan order of the reference is the order
//! of global positions, because instances are disjoint, contiguous and
//! numbered in batch order.
//!
//! * A pair's count is the sum of `cnt` over its occurrences (exact, kept
//!   incrementally: each merged occurrence removes its two neighbouring pairs
//!   and adds two new ones, weighted by `cnt`).
//! * A pair's *first occurrence* is the smallest global position among its
//!   occurrences. The reference takes the largest count and, among equal
//!   counts, the smallest first occurrence (the first key of its ordered
//!   counter). Two different pairs never share a first occurrence.
//! * Heap entries are `(count, first)` snapshots. A snapshot is never worse
//!   than the truth as long as every gain of a pair (new occurrences) pushes
//!   a fresh snapshot: losses only lower the count or move the first
//!   occurrence right. So the top entry, once checked to equal its pair's
//!   true key, is the true maximum. A stale top is re-pushed with the true
//!   key (its count is exact; its first occurrence is recomputed from the
//!   occurrence list, which is compacted on the way).
//! * A merge replaces the occurrences left to right per unit (sorted by
//!   global position, each re-checked just before it is applied), which is
//!   the reference's non-overlapping left-to-right rewrite (`a a a` → `aa a`).
//!
//! # Complexity
//! With `N` tokens, `U` ≤ `N` tokens in unique units and `M` merges: O(N)
//! for deduplication, then O(R log R) for R ≤ U + 4·(merged occurrences)
//! index updates, each costing one heap push and at most one re-validation.
//! Every occurrence record is scanned a bounded number of times between
//! compactions. In practice this is O((N + M) log N).

use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::bpe::CoreBpe;
use crate::error::{Error, Result};
use crate::Rank;

use super::layout::Layout;
use super::segment::is_single_pretoken;

const NONE: u32 = u32::MAX;
const DEAD: u32 = u32::MAX;

/// When to stop merging (the first rule reached wins; no pair left always
/// stops).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StopRule {
    /// Stop after this many merges.
    pub max_merges: Option<usize>,
    /// Stop as soon as the batch has at most this many tokens.
    pub target_length: Option<usize>,
    /// Stop as soon as `L0 − L ≥ f·(L0 − Lw)` (f64 arithmetic), where `L0`
    /// is the length before merging and `Lw` the word-level limit. In
    /// `[0, 1]`.
    pub gap_fraction: Option<f64>,
}

impl StopRule {
    /// Check the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `gap_fraction` if it is not in
    /// `[0, 1]` (or NaN).
    pub fn validate(&self) -> Result<()> {
        if let Some(f) = self.gap_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(Error::InvalidArgument(format!(
                    "gap_fraction must be in [0, 1], got {f}"
                )));
            }
        }
        Ok(())
    }

    fn reached(&self, merges: usize, length: usize, l0: usize, lw: usize) -> bool {
        self.max_merges.is_some_and(|m| merges >= m)
            || self.target_length.is_some_and(|t| length <= t)
            || self
                .gap_fraction
                .is_some_and(|f| (l0 - length) as f64 >= f * (l0 - lw) as f64)
    }
}

/// The result of merging one batch.
///
/// Dynamic ids index the batch vocabulary; they are numbered in order of
/// first appearance in the merged batch (sequence by sequence, left to
/// right).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// Dynamic ids of all sequences, concatenated.
    pub ids: Vec<u32>,
    /// Sequence `b` is `ids[seq_starts[b]..seq_starts[b + 1]]`.
    pub seq_starts: Vec<usize>,
    /// For each entry of `ids`, the half-open range `[start, end)` of base
    /// token positions of its sequence that it covers (two entries each).
    pub spans: Vec<u32>,
    /// The base ids spelled by dynamic id `d` are
    /// `vocab_parts[vocab_starts[d]..vocab_starts[d + 1]]`: `(r,)` if the
    /// token's bytes are the mergeable token `r` (or it is the special token
    /// `r`), else the concatenated parts of the two tokens of the merge that
    /// first produced it.
    pub vocab_parts: Vec<Rank>,
    /// See `vocab_parts`.
    pub vocab_starts: Vec<usize>,
    /// Merge `k` joined the tokens `merge_left[k]` and `merge_right[k]`,
    /// indices into the token table `token_left` / `token_right`.
    pub merge_left: Vec<u32>,
    /// See `merge_left`.
    pub merge_right: Vec<u32>,
    /// The token table of the merges, as a tree: token `i` is the base token
    /// `token_right[i]` if `token_left[i] == u32::MAX`, else the
    /// concatenation of tokens `token_left[i]` and `token_right[i]` (both
    /// `< i`). Expanding a merge's sides can take O(length²) space for
    /// long units, which is why they are not stored expanded.
    pub token_left: Vec<u32>,
    /// See `token_left`.
    pub token_right: Vec<u32>,
    /// The pair count of each merge when it was chosen (overlapping
    /// occurrences counted, as in the reference).
    pub merge_counts: Vec<u32>,
    /// Length of each sequence before merging.
    pub lengths_before: Vec<usize>,
    /// Length of each sequence after merging.
    pub lengths_after: Vec<usize>,
    /// Total length at the word-level limit (number of units).
    pub word_level_length: usize,
}

impl Merged {
    /// Number of merges performed.
    #[must_use]
    pub fn n_merges(&self) -> usize {
        self.merge_counts.len()
    }

    /// The base ids of dynamic id `d`.
    #[must_use]
    pub fn parts(&self, d: u32) -> &[Rank] {
        let d = d as usize;
        &self.vocab_parts[self.vocab_starts[d]..self.vocab_starts[d + 1]]
    }

    /// The base ids spelled by entry `i` of the merge token table.
    #[must_use]
    pub fn token_parts(&self, i: u32) -> Vec<Rank> {
        let mut out = Vec::new();
        let mut stack = vec![i];
        while let Some(x) = stack.pop() {
            let (l, r) = (self.token_left[x as usize], self.token_right[x as usize]);
            if l == NONE {
                out.push(r);
            } else {
                stack.push(r);
                stack.push(l);
            }
        }
        out
    }
}

/// A token of one run: a base token (mergeable or special) or the merge of
/// two tokens. Merged tokens are stored as a tree, never as bytes, so a
/// unit merged into one long token costs O(length) memory, not O(length²).
#[derive(Clone, Copy)]
struct Tok {
    /// Left child, or `NONE` for a base token.
    left: u32,
    /// Right child, or the rank of a base token.
    right: u32,
    /// Length in bytes.
    len: usize,
    /// Where the bytes start in `Tokens::arena` (stored for tokens of at
    /// most `LOOKUP_CAP` bytes), or `usize::MAX`.
    off: usize,
    /// Polynomial hash of the bytes modulo 2^61 − 1, and `BASE^len`.
    hash: u64,
    pow: u64,
}

const MOD: u64 = (1 << 61) - 1;
const BASE: u64 = 0x0a5d_1f37_c2b9_4e6d % MOD;
/// Merged tokens up to this length are looked up in the vocabulary
/// directly; longer ones only if the vocabulary has tokens that long.
const LOOKUP_CAP: usize = 256;

#[inline]
fn mulmod(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    let r = ((p >> 61) as u64) + ((p as u64) & MOD);
    if r >= MOD {
        r - MOD
    } else {
        r
    }
}

#[inline]
fn addmod(a: u64, b: u64) -> u64 {
    let r = a + b;
    if r >= MOD {
        r - MOD
    } else {
        r
    }
}

/// The token table of one run: every token (base, special or merged) gets a
/// `TokId`; non-special tokens are identified by their bytes (compared
/// exactly, found through their hash).
struct Tokens<'a> {
    bpe: &'a CoreBpe,
    toks: Vec<Tok>,
    by_rank: FxHashMap<Rank, u32>,
    by_special: FxHashMap<Rank, u32>,
    /// Bytes of the short tokens (see `Tok::off`).
    arena: Vec<u8>,
    /// Merged tokens that are not vocabulary tokens, by hash; tokens with
    /// equal hashes are chained through `same_hash`.
    by_hash: FxHashMap<u64, u32>,
    same_hash: Vec<u32>,
    /// Length of the longest vocabulary token (computed when first needed).
    max_vocab_len: Option<usize>,
    buf: Vec<u8>,
    buf2: Vec<u8>,
    stack: Vec<u32>,
}

impl<'a> Tokens<'a> {
    fn new(bpe: &'a CoreBpe, max_token_len: Option<usize>) -> Self {
        Self {
            bpe,
            toks: Vec::new(),
            by_rank: FxHashMap::with_capacity_and_hasher(1024, rustc_hash::FxBuildHasher),
            by_special: FxHashMap::default(),
            arena: Vec::new(),
            by_hash: FxHashMap::default(),
            same_hash: Vec::new(),
            max_vocab_len: max_token_len,
            buf: Vec::new(),
            buf2: Vec::new(),
            stack: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.toks.len()
    }

    fn push(&mut self, tok: Tok) -> u32 {
        self.toks.push(tok);
        self.same_hash.push(NONE);
        (self.toks.len() - 1) as u32
    }

    fn base(&mut self, rank: Rank, special: bool) -> Result<u32> {
        let map = if special {
            &self.by_special
        } else {
            &self.by_rank
        };
        if let Some(&t) = map.get(&rank) {
            return Ok(t);
        }
        let bytes = self.bpe.token_bytes(rank)?;
        let (mut hash, mut pow) = (0, 1);
        for &b in bytes {
            hash = addmod(mulmod(hash, BASE), u64::from(b) + 1);
            pow = mulmod(pow, BASE);
        }
        let off = if bytes.len() <= LOOKUP_CAP {
            self.arena.extend_from_slice(bytes);
            self.arena.len() - bytes.len()
        } else {
            usize::MAX
        };
        let t = self.push(Tok {
            left: NONE,
            right: rank,
            len: bytes.len(),
            off,
            hash,
            pow,
        });
        if special {
            self.by_special.insert(rank, t);
        } else {
            self.by_rank.insert(rank, t);
        }
        Ok(t)
    }

    /// Visit the base tokens of `t`, left to right.
    fn for_each_base(&mut self, t: u32, mut f: impl FnMut(Rank)) {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        stack.push(t);
        while let Some(x) = stack.pop() {
            let tok = self.toks[x as usize];
            if tok.left == NONE {
                f(tok.right);
            } else {
                stack.push(tok.right);
                stack.push(tok.left);
            }
        }
        self.stack = stack;
    }

    /// Append the base ids spelled by `t` (its canonical parts).
    fn write_parts(&mut self, t: u32, out: &mut Vec<Rank>) {
        self.for_each_base(t, |r| out.push(r));
    }

    /// Append the bytes of `t`.
    fn write_bytes(&mut self, t: u32, out: &mut Vec<u8>) {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        stack.push(t);
        while let Some(x) = stack.pop() {
            let tok = self.toks[x as usize];
            if tok.off != usize::MAX {
                out.extend_from_slice(&self.arena[tok.off..tok.off + tok.len]);
            } else if tok.left == NONE {
                out.extend_from_slice(self.bpe.token_bytes(tok.right).unwrap_or_default());
            } else {
                stack.push(tok.right);
                stack.push(tok.left);
            }
        }
        self.stack = stack;
    }

    fn max_vocab_len(&mut self) -> usize {
        let bpe = self.bpe;
        *self.max_vocab_len.get_or_insert_with(|| max_token_len(bpe))
    }

    /// The token spelled by `a` followed by `b`.
    fn concat(&mut self, a: u32, b: u32) -> Result<u32> {
        let (ta, tb) = (self.toks[a as usize], self.toks[b as usize]);
        let len = ta.len + tb.len;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut have_bytes = false;
        if len <= LOOKUP_CAP || len <= self.max_vocab_len() {
            self.write_bytes(a, &mut buf);
            self.write_bytes(b, &mut buf);
            have_bytes = true;
            if let Some(r) = self.bpe.vocab().rank(&buf) {
                self.buf = buf;
                return self.base(r, false);
            }
        }
        let hash = addmod(mulmod(ta.hash, tb.pow), tb.hash);
        let key = hash ^ (len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let head = self.by_hash.get(&key).copied().unwrap_or(NONE);
        let mut found = head;
        while found != NONE {
            let c = self.toks[found as usize];
            if c.len == len && c.hash == hash {
                if !have_bytes {
                    self.write_bytes(a, &mut buf);
                    self.write_bytes(b, &mut buf);
                    have_bytes = true;
                }
                let mut other = std::mem::take(&mut self.buf2);
                other.clear();
                self.write_bytes(found, &mut other);
                let equal = other == buf;
                self.buf2 = other;
                if equal {
                    break;
                }
            }
            found = self.same_hash[found as usize];
        }
        if found == NONE {
            let off = if have_bytes && len <= LOOKUP_CAP {
                self.arena.extend_from_slice(&buf);
                self.arena.len() - len
            } else {
                usize::MAX
            };
            found = self.push(Tok {
                left: a,
                right: b,
                len,
                off,
                hash,
                pow: mulmod(ta.pow, tb.pow),
            });
            self.same_hash[found as usize] = head;
            self.by_hash.insert(key, found);
        }
        self.buf = buf;
        Ok(found)
    }
}

#[derive(Clone, Copy)]
struct Pair {
    left: u32,
    right: u32,
    /// Exact count over the batch.
    count: u32,
    /// A lower bound of the first occurrence (exact after `refresh`).
    first_hint: u32,
    /// Head of this pair's occurrence list in the arena (`NONE` if empty).
    head: u32,
    /// The pair may never merge (its joined bytes are not one pre-token);
    /// it is no longer counted.
    banned: bool,
}

/// The mutable state of one run.
struct Merger<'a> {
    tokens: Tokens<'a>,
    // Unique units.
    unit_base: Vec<u32>,
    unit_len: Vec<u32>,
    unit_cnt: Vec<u32>,
    unit_first: Vec<u32>,
    // Nodes (token slots of unique units).
    tok: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    node_unit: Vec<u32>,
    // Pairs and their occurrence lists (one arena of singly linked lists).
    pair_ids: FxHashMap<u64, u32>,
    pairs: Vec<Pair>,
    occ_node: Vec<u32>,
    occ_next: Vec<u32>,
    heap: BinaryHeap<u128>,
    touched: Vec<u32>,
    touched_mark: Vec<bool>,
    scratch: Vec<u64>,
    /// Number of pairs with a positive count.
    live: usize,
    /// Boundary mode `"pretoken"`: a pair merges only if its joined bytes
    /// are one pre-token on their own.
    single_pretoken: bool,
    join_buf: Vec<u8>,
    cut_buf: Vec<usize>,
}

/// Heap entry: larger count first, then smaller first occurrence; the
/// pair id in the low bits only makes entries distinct.
#[inline]
fn heap_entry(count: u32, first: u32, pair: u32) -> u128 {
    (u128::from(count) << 64) | (u128::from(u32::MAX - first) << 32) | u128::from(pair)
}

#[inline]
fn entry_count(e: u128) -> u32 {
    (e >> 64) as u32
}

#[inline]
fn entry_pair(e: u128) -> u32 {
    e as u32
}

#[inline]
fn pair_key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

impl Merger<'_> {
    #[inline]
    fn gpos(&self, node: u32) -> u32 {
        let u = self.node_unit[node as usize] as usize;
        self.unit_first[u] + (node - self.unit_base[u])
    }

    fn pair_id(&mut self, a: u32, b: u32, first: u32) -> u32 {
        let key = pair_key(a, b);
        if let Some(&p) = self.pair_ids.get(&key) {
            return p;
        }
        let p = self.pairs.len() as u32;
        self.pairs.push(Pair {
            left: a,
            right: b,
            count: 0,
            first_hint: first,
            head: NONE,
            banned: false,
        });
        self.touched_mark.push(false);
        self.pair_ids.insert(key, p);
        p
    }

    /// Add `c` occurrences-worth of pair `(a, b)` at `node`.
    fn inc(&mut self, a: u32, b: u32, c: u32, node: u32) {
        let g = self.gpos(node);
        let p = self.pair_id(a, b, g);
        let pair = &mut self.pairs[p as usize];
        if pair.banned {
            return;
        }
        if pair.count == 0 {
            self.live += 1;
        }
        pair.count += c;
        pair.first_hint = pair.first_hint.min(g);
        self.occ_node.push(node);
        self.occ_next.push(pair.head);
        pair.head = (self.occ_node.len() - 1) as u32;
        if !self.touched_mark[p as usize] {
            self.touched_mark[p as usize] = true;
            self.touched.push(p);
        }
    }

    fn dec(&mut self, a: u32, b: u32, c: u32) {
        if let Some(&p) = self.pair_ids.get(&pair_key(a, b)) {
            let pair = &mut self.pairs[p as usize];
            if pair.banned {
                return;
            }
            debug_assert!(pair.count >= c, "pair count underflow");
            pair.count = pair.count.saturating_sub(c);
            if pair.count == 0 {
                self.live -= 1;
            }
        }
    }

    #[inline]
    fn occurs_at(&self, p: &Pair, node: u32) -> bool {
        let n = node as usize;
        self.tok[n] == p.left && self.next[n] != NONE && self.tok[self.next[n] as usize] == p.right
    }

    /// Compact pair `p`'s occurrence list, leave its valid occurrences in
    /// `scratch` as `(global position << 32) | node`, and return the first
    /// occurrence (or `None` if there is none).
    fn refresh(&mut self, p: u32) -> Option<u32> {
        let pair = self.pairs[p as usize];
        self.scratch.clear();
        let mut head = NONE;
        let mut tail = NONE;
        let mut o = pair.head;
        let mut first = u32::MAX;
        while o != NONE {
            let nxt = self.occ_next[o as usize];
            let node = self.occ_node[o as usize];
            if self.occurs_at(&pair, node) {
                let g = self.gpos(node);
                first = first.min(g);
                self.scratch.push((u64::from(g) << 32) | u64::from(node));
                if tail == NONE {
                    head = o;
                } else {
                    self.occ_next[tail as usize] = o;
                }
                tail = o;
            }
            o = nxt;
        }
        if tail != NONE {
            self.occ_next[tail as usize] = NONE;
        }
        let pair = &mut self.pairs[p as usize];
        pair.head = head;
        if first == u32::MAX {
            return None;
        }
        pair.first_hint = first;
        Some(first)
    }

    /// Pop the best pair (its valid occurrences are left in `scratch`).
    /// In `"pretoken"` mode a pair whose joined bytes are not one pre-token
    /// is banned when it comes out on top (the predicate depends on the
    /// pair alone, so this equals never counting it).
    fn pop_best(&mut self) -> Result<Option<u32>> {
        if self.live == 0 {
            return Ok(None); // no pair left: skip draining stale entries
        }
        while let Some(entry) = self.heap.pop() {
            let p = entry_pair(entry);
            let pair = self.pairs[p as usize];
            if pair.count == 0 {
                continue;
            }
            if entry_count(entry) != pair.count {
                self.heap.push(heap_entry(pair.count, pair.first_hint, p));
                continue;
            }
            let Some(first) = self.refresh(p) else {
                // Cannot happen (a positive count has occurrences); drop it.
                debug_assert!(false, "pair with a count but no occurrence");
                self.pairs[p as usize].count = 0;
                self.live -= 1;
                continue;
            };
            let fresh = heap_entry(pair.count, first, p);
            if fresh == entry {
                if self.single_pretoken && !self.joins_into_one_pretoken(pair.left, pair.right)? {
                    let banned = &mut self.pairs[p as usize];
                    banned.count = 0;
                    banned.banned = true;
                    banned.head = NONE;
                    self.live -= 1;
                    continue;
                }
                return Ok(Some(p));
            }
            self.heap.push(fresh);
        }
        Ok(None)
    }

    /// Whether tokens `a` and `b` joined are a single pre-token on their own.
    fn joins_into_one_pretoken(&mut self, a: u32, b: u32) -> Result<bool> {
        let mut buf = std::mem::take(&mut self.join_buf);
        buf.clear();
        self.tokens.write_bytes(a, &mut buf);
        self.tokens.write_bytes(b, &mut buf);
        let one = is_single_pretoken(self.tokens.bpe.pretokenizer(), &buf, &mut self.cut_buf);
        self.join_buf = buf;
        one
    }

    /// Apply pair `p` (occurrences in `scratch`); return the tokens saved.
    fn apply(&mut self, p: u32, out: &mut Merged) -> Result<usize> {
        let Pair {
            left: a,
            right: b,
            count,
            ..
        } = self.pairs[p as usize];
        let t = self.tokens.concat(a, b)?;
        out.merge_left.push(a);
        out.merge_right.push(b);
        out.merge_counts.push(count);

        let mut occ = std::mem::take(&mut self.scratch);
        occ.sort_unstable();
        occ.dedup();
        let mut saved = 0usize;
        for &packed in &occ {
            let x = (packed & u64::from(u32::MAX)) as u32;
            let xi = x as usize;
            let y = self.next[xi];
            if self.tok[xi] != a || y == NONE || self.tok[y as usize] != b {
                continue; // consumed by the previous (overlapping) occurrence
            }
            let c = self.unit_cnt[self.node_unit[xi] as usize];
            let w = self.prev[xi];
            let z = self.next[y as usize];
            if w != NONE {
                let tw = self.tok[w as usize];
                self.dec(tw, a, c);
                self.inc(tw, t, c, w);
            }
            if z != NONE {
                let tz = self.tok[z as usize];
                self.dec(b, tz, c);
                self.inc(t, tz, c, x);
            }
            let pair = &mut self.pairs[p as usize];
            debug_assert!(pair.count >= c, "pair count underflow");
            pair.count = pair.count.saturating_sub(c);
            if pair.count == 0 {
                self.live -= 1;
            }
            self.tok[xi] = t;
            self.tok[y as usize] = DEAD;
            self.next[xi] = z;
            if z != NONE {
                self.prev[z as usize] = x;
            }
            saved += c as usize;
        }
        self.scratch = occ;
        debug_assert_eq!(self.pairs[p as usize].count, 0);
        self.pairs[p as usize].head = NONE;
        for i in 0..self.touched.len() {
            let q = self.touched[i];
            self.touched_mark[q as usize] = false;
            let pair = self.pairs[q as usize];
            if pair.count > 0 {
                self.heap.push(heap_entry(pair.count, pair.first_hint, q));
            }
        }
        self.touched.clear();
        Ok(saved)
    }
}

/// One instance of a unit in the batch, in order.
enum Instance {
    Special(u32),
    Unit(u32),
}

/// Length in bytes of the longest mergeable token of `bpe` (O(V): compute
/// it once per encoder and pass it to [`merge`]).
#[must_use]
pub fn max_token_len(bpe: &CoreBpe) -> usize {
    bpe.vocab().iter().map(|(b, _)| b.len()).max().unwrap_or(0)
}

/// Merge the batch `layout` under `stop`.
///
/// `max_token_len` is [`max_token_len`]`(bpe)` if the caller has it cached
/// (it must not be smaller); with `None` it is computed when a merged token
/// longer than 256 bytes first appears.
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad stop rule; [`Error::UnknownTokenId`]
/// if the layout holds an id that `bpe` does not know (layouts built by
/// [`Layout::from_texts`] / [`Layout::from_ids`] never do).
pub fn merge(
    bpe: &CoreBpe,
    layout: &Layout,
    stop: &StopRule,
    max_token_len: Option<usize>,
) -> Result<Merged> {
    stop.validate()?;
    let n = layout.tokens.len();
    if n >= (u32::MAX / 2) as usize {
        return Err(Error::InvalidArgument("batch: too many tokens".into()));
    }
    let mut m = Merger {
        tokens: Tokens::new(bpe, max_token_len),
        unit_base: Vec::new(),
        unit_len: Vec::new(),
        unit_cnt: Vec::new(),
        unit_first: Vec::new(),
        tok: Vec::with_capacity(n),
        next: Vec::with_capacity(n),
        prev: Vec::with_capacity(n),
        node_unit: Vec::with_capacity(n),
        pair_ids: FxHashMap::with_capacity_and_hasher(n, rustc_hash::FxBuildHasher),
        pairs: Vec::with_capacity(n),
        occ_node: Vec::with_capacity(2 * n),
        occ_next: Vec::with_capacity(2 * n),
        heap: BinaryHeap::new(),
        touched: Vec::new(),
        touched_mark: Vec::new(),
        scratch: Vec::new(),
        live: 0,
        single_pretoken: layout.single_pretoken_pairs,
        join_buf: Vec::new(),
        cut_buf: Vec::new(),
    };

    // 1. Units, deduplicated.
    let mut instances: Vec<Instance> = Vec::new();
    let mut unit_ids: FxHashMap<&[Rank], u32> =
        FxHashMap::with_capacity_and_hasher(n / 2, rustc_hash::FxBuildHasher);
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && !layout.starts_unit[j] {
            j += 1;
        }
        if layout.special[i] {
            instances.push(Instance::Special(m.tokens.base(layout.tokens[i], true)?));
        } else {
            let key = &layout.tokens[i..j];
            let u = if let Some(&u) = unit_ids.get(key) {
                m.unit_cnt[u as usize] += 1;
                u
            } else {
                let u = m.unit_base.len() as u32;
                let base = m.tok.len() as u32;
                m.unit_base.push(base);
                m.unit_len.push((j - i) as u32);
                m.unit_cnt.push(1);
                m.unit_first.push(i as u32);
                for (k, &r) in key.iter().enumerate() {
                    let node = base + k as u32;
                    m.tok.push(m.tokens.base(r, false)?);
                    m.prev.push(if k == 0 { NONE } else { node - 1 });
                    m.next
                        .push(if k + 1 == key.len() { NONE } else { node + 1 });
                    m.node_unit.push(u);
                }
                unit_ids.insert(key, u);
                u
            };
            instances.push(Instance::Unit(u));
        }
        i = j;
    }
    drop(unit_ids);
    let l0 = n;
    let lw = instances.len();

    // 2. Pair index and heap.
    for u in 0..m.unit_base.len() {
        let c = m.unit_cnt[u];
        let base = m.unit_base[u];
        for k in 1..m.unit_len[u] {
            let x = base + k - 1;
            let (a, b) = (m.tok[x as usize], m.tok[x as usize + 1]);
            m.inc(a, b, c, x);
        }
    }
    // Every pair is new here, in `touched` once; heapify in O(P).
    let entries: Vec<u128> = m
        .touched
        .iter()
        .map(|&q| heap_entry(m.pairs[q as usize].count, m.pairs[q as usize].first_hint, q))
        .collect();
    m.heap = BinaryHeap::from(entries);
    for &q in &m.touched {
        m.touched_mark[q as usize] = false;
    }
    m.touched.clear();

    // 3. Merges.
    let mut out = Merged {
        word_level_length: lw,
        ..Merged::default()
    };
    let mut length = l0;
    while !stop.reached(out.n_merges(), length, l0, lw) {
        let Some(p) = m.pop_best()? else { break };
        length -= m.apply(p, &mut out)?;
    }

    // 4. Output.
    let mut dyn_of = vec![NONE; m.tokens.len()];
    out.vocab_starts.push(0);
    out.seq_starts.push(0);
    out.ids.reserve(length);
    out.spans.reserve(2 * length);
    let mut inst = instances.iter();
    for b in 0..layout.n_sequences() {
        let (s0, s1) = (layout.seq_starts[b], layout.seq_starts[b + 1]);
        out.lengths_before.push(s1 - s0);
        let mut pos = s0;
        while pos < s1 {
            let Some(instance) = inst.next() else {
                return Err(Error::InvalidArgument("batch: inconsistent layout".into()));
            };
            let local = (pos - s0) as u32;
            match *instance {
                Instance::Special(t) => {
                    emit(&mut m.tokens, &mut dyn_of, &mut out, t, local, local + 1);
                    pos += 1;
                }
                Instance::Unit(u) => {
                    let base = m.unit_base[u as usize];
                    let len = m.unit_len[u as usize];
                    let mut x = base;
                    while x != NONE {
                        let nx = m.next[x as usize];
                        let end = if nx == NONE { len } else { nx - base };
                        emit(
                            &mut m.tokens,
                            &mut dyn_of,
                            &mut out,
                            m.tok[x as usize],
                            local + (x - base),
                            local + end,
                        );
                        x = nx;
                    }
                    pos += len as usize;
                }
            }
        }
        out.seq_starts.push(out.ids.len());
        out.lengths_after.push(out.ids.len() - out.seq_starts[b]);
    }
    out.token_left = m.tokens.toks.iter().map(|t| t.left).collect();
    out.token_right = m.tokens.toks.iter().map(|t| t.right).collect();
    Ok(out)
}

fn emit(
    tokens: &mut Tokens<'_>,
    dyn_of: &mut [u32],
    out: &mut Merged,
    t: u32,
    start: u32,
    end: u32,
) {
    let d = &mut dyn_of[t as usize];
    if *d == NONE {
        *d = (out.vocab_starts.len() - 1) as u32;
        tokens.write_parts(t, &mut out.vocab_parts);
        out.vocab_starts.push(out.vocab_parts.len());
    }
    out.ids.push(*d);
    out.spans.push(start);
    out.spans.push(end);
}
