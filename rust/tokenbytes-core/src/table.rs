//! An open-addressing hash table from token bytes to ranks, tuned for the
//! encoder's hot loop: one 16-byte slot per probe holds the token's first
//! eight bytes, its length and its rank, so most lookups (hits on short
//! tokens, and misses) never touch the token bytes themselves.

use crate::Rank;

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Slot {
    /// First `min(8, len)` bytes, little endian, zero padded.
    prefix: u64,
    /// Bytes 8..12 (those present), little endian, zero padded.
    ext: u32,
    /// Rank in the low 28 bits, `min(len, 15)` in the top 4 bits; 0 marks
    /// an empty slot (tokens are never empty).
    rank_len: u32,
}

/// Ranks stored in the table are below 2^28 (see `vocab::MAX_TOKEN_ID`).
const RANK_BITS: u32 = 28;
const RANK_MASK: u32 = (1 << RANK_BITS) - 1;
/// Tokens up to this long are compared entirely within their slot.
const INLINE: usize = 12;

#[inline(always)]
fn len_bits(n: usize) -> u32 {
    (n.min(15) as u32) << RANK_BITS
}

/// Bytes 8..12 of `b` (those present) as a little-endian integer.
#[inline(always)]
fn ext(b: &[u8]) -> u32 {
    if b.len() > 8 {
        prefix(&b[8..b.len().min(INLINE)]) as u32
    } else {
        0
    }
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// First `min(8, b.len())` bytes of `b` as a little-endian integer.
#[inline(always)]
pub(crate) fn prefix(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    } else if n >= 4 {
        let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let hi = u64::from(u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]));
        lo | (hi << ((n - 4) * 8))
    } else if n >= 2 {
        let lo = u64::from(u16::from_le_bytes([b[0], b[1]]));
        let hi = u64::from(b[n - 1]);
        lo | (hi << ((n - 1) * 8))
    } else if n == 1 {
        u64::from(b[0])
    } else {
        0
    }
}

/// Multiply into 128 bits and fold: every input bit reaches every output bit.
#[inline(always)]
fn fold_mul(x: u64, y: u64) -> u64 {
    let m = u128::from(x) * u128::from(y);
    (m as u64) ^ ((m >> 64) as u64)
}

#[inline(always)]
fn hash(b: &[u8], first: u64) -> u64 {
    let mut h = fold_mul(first ^ (b.len() as u64).rotate_right(8), K);
    if b.len() > 8 {
        let mut rest = &b[8..];
        while rest.len() >= 8 {
            h = fold_mul(h ^ prefix(&rest[..8]), K);
            rest = &rest[8..];
        }
        if !rest.is_empty() {
            h = fold_mul(h ^ prefix(rest), K);
        }
    }
    h
}

/// The table's hash of a byte string (also used by the encoder's piece
/// cache).
#[inline(always)]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    hash(b, prefix(b))
}

/// Byte string → rank table. Token bytes beyond the first eight are
/// compared against an arena owned by the caller (the vocabulary).
#[derive(Clone)]
pub struct TokenTable {
    slots: Box<[Slot]>,
    shift: u32,
    mask: usize,
}

impl std::fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenTable")
            .field("capacity", &self.slots.len())
            .finish()
    }
}

impl TokenTable {
    /// An empty table with room for `n` tokens at load factor ≤ 1/2.
    pub fn with_capacity(n: usize) -> Self {
        let cap = (2 * n.max(8)).next_power_of_two();
        Self {
            slots: vec![Slot::default(); cap].into_boxed_slice(),
            shift: 64 - cap.trailing_zeros(),
            mask: cap - 1,
        }
    }

    #[inline(always)]
    fn start(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    /// Insert `bytes` (non-empty) with `rank` (below 2^28; higher bits are
    /// dropped). Returns the rank already stored if the same bytes are
    /// present (nothing is changed then). `tail_of(rank)` gives the bytes of
    /// a stored token from its ninth byte on.
    pub fn insert<'a>(
        &mut self,
        bytes: &[u8],
        rank: Rank,
        tail_of: impl Fn(Rank) -> &'a [u8],
    ) -> Option<Rank> {
        let first = prefix(bytes);
        let ext = ext(bytes);
        let lb = len_bits(bytes.len());
        let mut i = self.start(hash(bytes, first));
        loop {
            let s = self.slots[i];
            if s.rank_len == 0 {
                self.slots[i] = Slot {
                    prefix: first,
                    ext,
                    rank_len: lb | (rank & RANK_MASK),
                };
                return None;
            }
            let r = s.rank_len & RANK_MASK;
            if s.rank_len & !RANK_MASK == lb
                && s.prefix == first
                && s.ext == ext
                && (bytes.len() <= 8 || tail_of(r) == &bytes[8..])
            {
                return Some(r);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The rank of the token made of the `len` (1 to 8) low bytes of `word`
    /// (little endian, higher bytes zero), if present: [`Self::get`] for
    /// short strings already loaded into a register.
    #[inline(always)]
    pub fn get_word(&self, word: u64, len: usize) -> Option<Rank> {
        let lb = len_bits(len);
        let mut i = self.start(fold_mul(word ^ (len as u64).rotate_right(8), K));
        loop {
            let s = *self.slots.get(i)?;
            if s.rank_len == 0 {
                return None;
            }
            if s.rank_len & !RANK_MASK == lb && s.prefix == word {
                return Some(s.rank_len & RANK_MASK);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The rank of the token of `len` (9 to 12) bytes whose first eight are
    /// `word` and the rest the low bytes of `tail` (little endian, higher
    /// bytes zero), if present.
    #[inline(always)]
    pub fn get_words(&self, word: u64, tail: u64, len: usize) -> Option<Rank> {
        let lb = len_bits(len);
        let h = fold_mul(word ^ (len as u64).rotate_right(8), K);
        let mut i = self.start(fold_mul(h ^ tail, K));
        loop {
            let s = *self.slots.get(i)?;
            if s.rank_len == 0 {
                return None;
            }
            if s.rank_len & !RANK_MASK == lb && s.prefix == word && u64::from(s.ext) == tail {
                return Some(s.rank_len & RANK_MASK);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The rank of `bytes`, if present. `arena`/`offsets` are the owning
    /// vocabulary's token bytes by rank. Tokens of at most twelve bytes
    /// are decided by their slot alone.
    #[inline]
    pub fn get(&self, bytes: &[u8], arena: &[u8], offsets: &[u32]) -> Option<Rank> {
        let n = bytes.len();
        let first = prefix(bytes);
        let ext = ext(bytes);
        let lb = len_bits(n);
        let mut i = self.start(hash(bytes, first));
        loop {
            let s = self.slots[i];
            if s.rank_len == 0 {
                return None;
            }
            if s.rank_len & !RANK_MASK == lb && s.prefix == first && s.ext == ext {
                let r = s.rank_len & RANK_MASK;
                if n <= INLINE {
                    return Some(r);
                }
                let start = offsets[r as usize] as usize;
                let end = offsets[r as usize + 1] as usize;
                if end - start == n && arena[start + INLINE..end] == bytes[INLINE..] {
                    return Some(r);
                }
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lookup_agrees() {
        let tokens: Vec<Vec<u8>> = (1..=12u8)
            .flat_map(|n| [(1..=n).collect::<Vec<u8>>(), (0..n).collect()])
            .collect();
        let mut arena = Vec::new();
        let mut offsets = vec![0u32];
        for t in &tokens {
            arena.extend_from_slice(t);
            offsets.push(arena.len() as u32);
        }
        let mut table = TokenTable::with_capacity(tokens.len());
        for (r, t) in tokens.iter().enumerate() {
            let tail = |r: Rank| {
                let (a, b) = (
                    offsets[r as usize] as usize,
                    offsets[r as usize + 1] as usize,
                );
                &arena[(a + 8).min(b)..b]
            };
            table.insert(t, r as Rank, tail);
        }
        for n in 9..=12usize {
            for t in [(1..=n as u8).collect::<Vec<u8>>(), (0..n as u8).collect()] {
                let mut w = [0u8; 16];
                w[..n].copy_from_slice(&t);
                let word = u64::from_le_bytes(w[..8].try_into().unwrap());
                let tail = u64::from_le_bytes(w[8..].try_into().unwrap());
                assert_eq!(
                    table.get_words(word, tail, n),
                    table.get(&t, &arena, &offsets)
                );
                assert!(table.get_words(word, tail, n).is_some());
                assert_eq!(table.get_words(word, tail ^ 1, n), None);
            }
        }
        for n in 1..=8usize {
            for t in [(1..=n as u8).collect::<Vec<u8>>(), (0..n as u8).collect()] {
                let mut w = [0u8; 8];
                w[..n].copy_from_slice(&t);
                let word = u64::from_le_bytes(w);
                assert_eq!(table.get_word(word, n), table.get(&t, &arena, &offsets));
                assert!(table.get_word(word, n).is_some());
                // A shorter length over the same word is another string.
                if n > 1 {
                    let short = word & ((1u64 << (8 * (n - 1))) - 1);
                    assert_eq!(
                        table.get_word(short, n - 1),
                        table.get(&t[..n - 1], &arena, &offsets)
                    );
                }
            }
        }
    }

    #[test]
    fn prefix_is_zero_padded() {
        for n in 0..12 {
            let b: Vec<u8> = (1..=n as u8).collect();
            let mut buf = [0u8; 8];
            let k = n.min(8);
            buf[..k].copy_from_slice(&b[..k]);
            assert_eq!(prefix(&b), u64::from_le_bytes(buf), "n = {n}");
        }
    }
}
