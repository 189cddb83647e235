//! Byte-pair encoding and decoding with tiktoken's semantics.
//!
//! Text is split into pieces by the encoding's pre-tokenizer. A piece that is
//! itself a token is emitted directly (this is also what Hugging Face calls
//! `ignore_merges`). Otherwise the piece starts as single bytes and the
//! adjacent pair whose concatenation has the lowest rank is merged, leftmost
//! first on ties, until no adjacent pair is a token.
//!
//! Two implementations give identical output: a scan over a small vector for
//! short pieces (cache friendly, O(n·m) for n bytes and m merges) and a
//! binary heap over a linked list for long pieces (O(n log n)), so no input
//! is quadratic.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::pretokenize::PreTokenizer;
use crate::special::{SpecialPolicy, SpecialTokens};
use crate::vocab::Vocab;
use crate::Rank;

/// Pieces of at least this many bytes use the heap merge (measured on the
/// shared corpus: the scan, allocation-free, is as fast up to 64 bytes).
pub const LARGE_PIECE: usize = 64;

/// Pieces up to this long that need merging are remembered per thread.
const CACHE_MAX_PIECE: usize = 64;
/// The per-thread piece cache is emptied when it holds this many pieces.
const CACHE_MAX_ENTRIES: usize = 1 << 16;

static NEXT_ENCODER_ID: AtomicU64 = AtomicU64::new(1);

/// Per-thread memo of recent pieces that needed merging, for one encoder
/// at a time (text repeats its words; BPE of a piece is pure, so a hit
/// returns exactly what merging would).
#[derive(Default)]
struct PieceCache {
    owner: u64,
    map: FxHashMap<Box<[u8]>, Box<[Rank]>>,
    pairs: PairMemo,
}

/// log2 of the number of entries of the per-thread pair memo.
const PAIR_MEMO_BITS: u32 = 16;

/// Direct-mapped memo of `(left rank, right rank) → rank of the join`,
/// filled from the token table on a miss. Small enough to stay in L2.
struct PairMemo {
    keys: Box<[u64]>,
    ranks: Box<[Rank]>,
}

impl Default for PairMemo {
    fn default() -> Self {
        Self {
            keys: vec![u64::MAX; 1 << PAIR_MEMO_BITS].into_boxed_slice(),
            ranks: vec![NO_RANK; 1 << PAIR_MEMO_BITS].into_boxed_slice(),
        }
    }
}

impl PairMemo {
    fn clear(&mut self) {
        self.keys.fill(u64::MAX);
    }

    #[inline(always)]
    fn get_or(&mut self, left: Rank, right: Rank, compute: impl FnOnce() -> Rank) -> Rank {
        let key = u64::from(left) << 32 | u64::from(right);
        let slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - PAIR_MEMO_BITS)) as usize;
        if self.keys[slot] == key {
            return self.ranks[slot];
        }
        let r = compute();
        self.keys[slot] = key;
        self.ranks[slot] = r;
        r
    }
}

thread_local! {
    static PIECE_CACHE: RefCell<PieceCache> = RefCell::new(PieceCache::default());
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
        if b - a > self.max_token_len {
            return NO_RANK;
        }
        self.vocab.rank(&piece[a..b]).unwrap_or(NO_RANK)
    }

    /// BPE of one piece (no pre-tokenization), appended to `out`.
    pub fn encode_piece_into(&self, piece: &[u8], out: &mut Vec<Rank>) {
        match piece.len() {
            0 => {}
            1 => out.push(self.vocab.byte_rank(piece[0])),
            _ => {
                if piece.len() <= self.max_token_len {
                    if let Some(r) = self.vocab.rank(piece) {
                        out.push(r);
                        return;
                    }
                }
                if piece.len() <= CACHE_MAX_PIECE {
                    self.merge_cached(piece, out);
                } else {
                    self.merge_by_heap(piece, out);
                }
            }
        }
    }

    /// Merge a piece that is not a token, through the per-thread cache.
    fn merge_cached(&self, piece: &[u8], out: &mut Vec<Rank>) {
        PIECE_CACHE.with(|cell| {
            let Ok(mut cache) = cell.try_borrow_mut() else {
                self.merge(piece, out);
                return;
            };
            if cache.owner != self.id {
                cache.owner = self.id;
                cache.map.clear();
                cache.pairs.clear();
            }
            if let Some(ids) = cache.map.get(piece) {
                out.extend_from_slice(ids);
                return;
            }
            let start = out.len();
            let memo = &mut cache.pairs;
            self.scan_with(piece, out, |l, r, a, b| {
                memo.get_or(l, r, || self.span_rank(piece, a, b))
            });
            if cache.map.len() >= CACHE_MAX_ENTRIES {
                cache.map.clear();
            }
            cache.map.insert(piece.into(), out[start..].into());
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

    /// Vector-scan merge for short pieces (fewer than [`LARGE_PIECE`]
    /// bytes; longer pieces are handed to [`Self::merge_by_heap`]).
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
        if n >= LARGE_PIECE {
            self.heap_with(piece, out, lookup);
            return;
        }
        let mut starts = [0u8; LARGE_PIECE + 1];
        let mut ranks = [0 as Rank; LARGE_PIECE];
        let mut pair = [NO_RANK; LARGE_PIECE];
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
        self.pretokenizer
            .split(text, |piece| self.encode_piece_into(piece.as_bytes(), out))
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
        self.specials.check_disallowed(text, policy)?;
        let found = self.specials.find_allowed(text, policy);
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut pos = 0;
        for (start, end, id) in found {
            self.encode_ordinary_into(&text[pos..start], &mut out)?;
            out.push(id);
            pos = end;
        }
        self.encode_ordinary_into(&text[pos..], &mut out)?;
        Ok(out)
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
        let mut seed = 12345u64;
        for len in 2..300 {
            let piece: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"abcd"[(seed >> 33) as usize % 4]
                })
                .collect();
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
