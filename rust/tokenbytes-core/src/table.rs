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
    rank: Rank,
    /// Token length in bytes; 0 marks an empty slot.
    len: u32,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// First `min(8, b.len())` bytes of `b` as a little-endian integer.
#[inline(always)]
fn prefix(b: &[u8]) -> u64 {
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

    /// Insert `bytes` (non-empty, at most `u32::MAX` long) with `rank`.
    /// Returns the rank already stored if the same bytes are present
    /// (nothing is changed then). `tail_of(rank)` gives the bytes of a
    /// stored token from its ninth byte on.
    pub fn insert<'a>(
        &mut self,
        bytes: &[u8],
        rank: Rank,
        tail_of: impl Fn(Rank) -> &'a [u8],
    ) -> Option<Rank> {
        let first = prefix(bytes);
        let mut i = self.start(hash(bytes, first));
        loop {
            let s = self.slots[i];
            if s.len == 0 {
                self.slots[i] = Slot {
                    prefix: first,
                    rank,
                    len: bytes.len() as u32,
                };
                return None;
            }
            if s.len as usize == bytes.len()
                && s.prefix == first
                && (bytes.len() <= 8 || tail_of(s.rank) == &bytes[8..])
            {
                return Some(s.rank);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The rank of `bytes`, if present. `arena`/`offsets` are the owning
    /// vocabulary's token bytes by rank.
    #[inline]
    pub fn get(&self, bytes: &[u8], arena: &[u8], offsets: &[u32]) -> Option<Rank> {
        let first = prefix(bytes);
        let mut i = self.start(hash(bytes, first));
        loop {
            let s = self.slots[i];
            if s.len == 0 {
                return None;
            }
            if s.len as usize == bytes.len() && s.prefix == first {
                if bytes.len() <= 8 {
                    return Some(s.rank);
                }
                let start = offsets[s.rank as usize] as usize;
                if arena[start + 8..start + bytes.len()] == bytes[8..] {
                    return Some(s.rank);
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
