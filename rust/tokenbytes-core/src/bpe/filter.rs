//! A blocked Bloom filter over the vocabulary's byte strings: it answers
//! "certainly not a token" from one cache line of a table small enough to
//! stay in the L2 cache (about 20 bits per token), before the token table
//! (16 bytes per slot at load 1/2, megabytes) is touched. Most lookups made
//! while merging are misses (a candidate that is not a token), and on large
//! or random inputs each miss in the token table is a trip to memory.
//!
//! Exact by construction: a "no" is always right (every token's bits are
//! set), a "maybe" is decided by the token table.

use crate::vocab::Vocab;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Multiply into 128 bits and fold: every input bit reaches every output bit.
#[inline(always)]
fn mix(x: u64) -> u64 {
    let m = u128::from(x) * u128::from(K);
    (m as u64) ^ ((m >> 64) as u64)
}

/// The first `min(8, b.len())` bytes of `b`, little endian, zero padded.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    match b.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => b
            .iter()
            .rev()
            .fold(0u64, |w, &byte| w << 8 | u64::from(byte)),
    }
}

/// Hash of a string of `len` (1 to 8) bytes held, zero padded, in `w`.
#[inline(always)]
pub(super) fn hash_word(w: u64, len: usize) -> u64 {
    mix(w ^ (len as u64).rotate_right(8))
}

/// Hash of a string of `len` (9 to 16) bytes: the first eight in `w`, the
/// rest zero padded in `tail`.
#[inline(always)]
pub(super) fn hash_words(w: u64, tail: u64, len: usize) -> u64 {
    mix(hash_word(w, len) ^ tail)
}

/// Hash of the key "some token of six or more bytes starts with these six
/// bytes" (held, with two zero bytes above them, in `w`): distinct from
/// every string's hash by its length tag.
#[inline(always)]
pub(super) fn hash_prefix6(w: u64) -> u64 {
    hash_word(w, 0x106)
}

/// Hash of any byte string (same values as [`hash_word`] and
/// [`hash_words`] for their lengths).
#[inline]
pub(super) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = hash_word(word(b), b.len());
    let mut rest = b.get(8..).unwrap_or_default();
    while !rest.is_empty() {
        h = mix(h ^ word(rest));
        rest = rest.get(8..).unwrap_or_default();
    }
    h
}

/// The filter: blocks of one cache line, four bits per token in one block.
#[derive(Clone)]
pub(super) struct TokenFilter {
    blocks: Box<[[u64; 8]]>,
    shift: u32,
}

impl std::fmt::Debug for TokenFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFilter")
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl TokenFilter {
    /// The filter of every token of `vocab` (a few milliseconds for
    /// 200,000 tokens).
    pub(super) fn new(vocab: &Vocab) -> Self {
        // Keys: every token, and the first six bytes of every token of six
        // or more ([`hash_prefix6`]). About 20 bits per key.
        let keys = vocab.len() + vocab.iter().filter(|(b, _)| b.len() >= 6).count();
        let n = (keys / 24).next_power_of_two().max(64);
        let mut filter = Self {
            blocks: vec![[0u64; 8]; n].into_boxed_slice(),
            shift: 64 - n.trailing_zeros(),
        };
        for (bytes, _) in vocab.iter() {
            filter.insert(hash_bytes(bytes));
            if let Some(six) = bytes.get(..6) {
                filter.insert(hash_prefix6(word(six)));
            }
        }
        filter
    }

    fn insert(&mut self, h: u64) {
        let i = (h >> self.shift) as usize;
        if let Some(block) = self.blocks.get_mut(i) {
            for k in 0..4 {
                let bit = (h >> (9 * k)) as usize & 511;
                block[bit / 64] |= 1 << (bit % 64);
            }
        }
    }

    /// Whether the string of hash `h` may be a token (false: certainly
    /// not).
    #[inline(always)]
    pub(super) fn may_contain(&self, h: u64) -> bool {
        let Some(block) = self.blocks.get((h >> self.shift) as usize) else {
            return true;
        };
        (0..4).all(|k| {
            let bit = (h >> (9 * k)) as usize & 511;
            block[bit / 64] >> (bit % 64) & 1 != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_agree_and_tokens_pass() {
        let mut pairs: Vec<(Vec<u8>, crate::Rank)> = (0..=255u8)
            .map(|b| (vec![b], crate::Rank::from(b)))
            .collect();
        let mut rng = crate::testing::Lcg(9);
        for len in 2..40usize {
            for _ in 0..50 {
                let t = rng.piece(b"abcdefgh", len);
                if !pairs.iter().any(|(b, _)| *b == t) {
                    let r = pairs.len() as crate::Rank;
                    pairs.push((t, r));
                }
            }
        }
        let vocab = Vocab::new(pairs.clone()).unwrap();
        let filter = TokenFilter::new(&vocab);
        for (t, _) in &pairs {
            assert!(filter.may_contain(hash_bytes(t)), "{t:?}");
            if t.len() <= 8 {
                assert_eq!(hash_word(word(t), t.len()), hash_bytes(t));
            } else if t.len() <= 16 {
                assert_eq!(hash_words(word(t), word(&t[8..]), t.len()), hash_bytes(t));
            }
        }
        // Most non-tokens are rejected.
        let rejected = (0..2000)
            .map(|_| rng.piece(b"ijklmnop", 6))
            .filter(|p| !filter.may_contain(hash_bytes(p)))
            .count();
        assert!(rejected > 1900, "{rejected}");
    }
}
