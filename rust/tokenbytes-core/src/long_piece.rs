//! Merging very long pieces (a million `a`s, a run of spaces, a line of
//! `^`) in near-linear time.
//!
//! A binary heap over every adjacent pair is O(n log n) but cache-hostile
//! once n is in the millions. In vocabularies trained by BPE, a token's rank
//! is larger than the ranks of the tokens it is made from, so once pairs of
//! rank `r` are being merged, every pair that a merge creates has a rank
//! above `r`: the keys `(rank, position)` popped never decrease. That allows
//! a radix heap (a monotone priority queue: 65 buckets by the highest bit in
//! which a key differs from the last key popped; amortised O(1) pushes,
//! O(log C) pops, and only sequential memory access). The order is exactly
//! the heap's — lowest rank first, leftmost first among equal ranks —
//! because no pair of rank `r` can appear once pairs of rank `r` are being
//! merged.
//!
//! If a merge ever creates a pair whose rank is below the bucket being
//! processed (possible in hand-made vocabularies), the function reports it
//! and the caller merges the piece with the general heap algorithm instead.

use crate::Rank;

const NO_RANK: Rank = Rank::MAX;
const NONE: u32 = u32::MAX;

/// Monotone priority queue of `(rank, position)` entries packed as
/// `rank << 32 | position`: every rank pushed must be at least the last
/// rank popped. Buckets are chosen by rank only; the entries of the current
/// lowest rank are sorted by position once, when that rank is reached, so
/// they pop leftmost first.
struct RadixHeap {
    last: Rank,
    buckets: [Vec<u64>; 33],
}

impl RadixHeap {
    fn new() -> Self {
        Self {
            last: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }

    #[inline]
    fn slot(&self, rank: Rank) -> usize {
        32 - (rank ^ self.last).leading_zeros() as usize
    }

    /// Push an entry; `false` (and nothing pushed) if its rank is not above
    /// the last rank popped (only hand-made vocabularies do that).
    #[inline]
    fn push(&mut self, entry: u64) -> bool {
        let rank = (entry >> 32) as Rank;
        if rank <= self.last && !self.buckets[0].is_empty() || rank < self.last {
            return false;
        }
        let i = self.slot(rank);
        self.buckets[i].push(entry);
        true
    }

    fn pop(&mut self) -> Option<u64> {
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let mut moved = std::mem::take(&mut self.buckets[i]);
            self.last = moved.iter().map(|&e| (e >> 32) as Rank).min()?;
            for &e in &moved {
                let j = self.slot((e >> 32) as Rank);
                self.buckets[j].push(e);
            }
            moved.clear();
            if self.buckets[i].is_empty() {
                self.buckets[i] = moved;
            }
            // Same rank everywhere in bucket 0: pop() takes from the end,
            // so sort by position, descending.
            self.buckets[0].sort_unstable_by(|a, b| b.cmp(a));
        }
        self.buckets[0].pop()
    }
}

#[inline]
fn key(rank: Rank, pos: usize) -> u64 {
    u64::from(rank) << 32 | pos as u64
}

/// Merge `piece` (at least 2 bytes, fewer than 2^32) and append the ranks
/// to `out`. `byte_rank(b)` is the rank of a single byte, `pair(l, r, a, b)`
/// the rank of `piece[a..b]` made of parts of ranks `l` and `r` (or
/// `Rank::MAX`). Returns `false`, leaving `out` untouched, if the ranks are
/// not monotone along this piece.
pub fn merge_by_buckets(
    piece: &[u8],
    byte_rank: impl Fn(u8) -> Rank,
    mut pair: impl FnMut(Rank, Rank, usize, usize) -> Rank,
    out: &mut Vec<Rank>,
) -> bool {
    let n = piece.len();
    debug_assert!(n >= 2 && u32::try_from(n).is_ok());
    // Parts are identified by their first byte; `next[i]`/`prev[i]` link
    // the live parts, `rank[i]` is the part's rank and `pair_rank[i]` the
    // rank of the part joined with the following one.
    let mut next: Vec<u32> = (1..=n as u32).collect();
    let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
    let mut rank: Vec<Rank> = piece.iter().map(|&b| byte_rank(b)).collect();
    let mut pair_rank: Vec<Rank> = vec![NO_RANK; n];
    let mut alive: Vec<bool> = vec![true; n];
    let mut queue = RadixHeap::new();
    for i in 0..n - 1 {
        let r = pair(rank[i], rank[i + 1], i, i + 2);
        pair_rank[i] = r;
        if r != NO_RANK {
            queue.push(key(r, i));
        }
    }
    while let Some(k) = queue.pop() {
        let (r, i) = ((k >> 32) as Rank, (k & 0xFFFF_FFFF) as usize);
        if !alive[i] || pair_rank[i] != r {
            continue;
        }
        let j = next[i] as usize;
        alive[j] = false;
        rank[i] = r;
        let k = next[j] as usize;
        next[i] = k as u32;
        if k < n {
            prev[k] = i as u32;
            let nr = pair(r, rank[k], i, next[k] as usize);
            pair_rank[i] = nr;
            if nr != NO_RANK && !queue.push(key(nr, i)) {
                return false;
            }
        } else {
            pair_rank[i] = NO_RANK;
        }
        let pv = prev[i];
        if pv != NONE {
            let pv = pv as usize;
            let nr = pair(rank[pv], r, pv, k);
            pair_rank[pv] = nr;
            if nr != NO_RANK && !queue.push(key(nr, pv)) {
                return false;
            }
        }
    }
    let mut i = 0;
    while i < n {
        out.push(rank[i]);
        i = next[i] as usize;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocab;

    /// Plain tiktoken-style merge: the reference.
    fn reference(vocab: &Vocab, piece: &[u8]) -> Vec<Rank> {
        let mut parts: Vec<Vec<u8>> = piece.iter().map(|&b| vec![b]).collect();
        loop {
            let best = (0..parts.len().saturating_sub(1))
                .filter_map(|i| {
                    let joined = [parts[i].as_slice(), parts[i + 1].as_slice()].concat();
                    vocab.rank(&joined).map(|r| (r, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let right = parts.remove(i + 1);
            parts[i].extend_from_slice(&right);
        }
        parts.iter().map(|p| vocab.rank(p).unwrap()).collect()
    }

    fn run(vocab: &Vocab, piece: &[u8]) -> Option<Vec<Rank>> {
        let mut out = Vec::new();
        merge_by_buckets(
            piece,
            |b| vocab.byte_rank(b),
            |_, _, a, b| vocab.rank(&piece[a..b]).unwrap_or(NO_RANK),
            &mut out,
        )
        .then_some(out)
    }

    fn vocab(extra: &[&str]) -> Vocab {
        let mut pairs: Vec<(Vec<u8>, Rank)> =
            (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
        for (i, t) in extra.iter().enumerate() {
            pairs.push((t.as_bytes().to_vec(), 256 + i as Rank));
        }
        Vocab::new(pairs).unwrap()
    }

    #[test]
    fn matches_reference_on_random_pieces() {
        // A BPE-like vocabulary: every token's parts have lower ranks.
        let v = vocab(&[
            "aa", "ab", "ba", "aaaa", "aab", "abab", "bb", "aaaaaaaa", "bab", "abb",
        ]);
        let mut rng = crate::testing::Lcg(7);
        for len in 2..400 {
            let piece = rng.piece(b"aab", len);
            assert_eq!(run(&v, &piece), Some(reference(&v, &piece)), "{piece:?}");
        }
        let long = vec![b'a'; 10_001];
        assert_eq!(run(&v, &long), Some(reference(&v, &long)));
    }

    #[test]
    fn non_monotone_vocabulary_is_reported() {
        // "abc" (rank 256) is cheaper than its part "ab" (rank 258): after
        // merging "ab", the pair ("ab", "c") has a lower rank.
        let v = vocab(&["abc", "xy", "ab"]);
        assert_eq!(run(&v, b"abc"), None);
        assert_eq!(run(&v, b"abab"), Some(reference(&v, b"abab")));
    }
}
