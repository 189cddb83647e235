//! Vocabulary index over token bytes: tokens that start with a byte string
//! (a range of the vocabulary sorted by bytes) and tokens that are prefixes
//! of a byte string (a hash lookup per length).

use std::ops::Range;

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

/// Marks "no first byte" (a token without bytes) in [`VocabIndex::first_byte`].
pub const NO_BYTE: u16 = 256;

/// Token ids by bytes and bytes by token id.
#[derive(Debug, Clone)]
pub struct VocabIndex {
    /// Bytes of every id (`None` for special and unused ids).
    bytes: Vec<Option<Box<[u8]>>>,
    /// The id of each byte string. When two ids share bytes, the lower id
    /// is the one a tokenizer produces; the other is an alias.
    by_bytes: FxHashMap<Box<[u8]>, u32>,
    /// Ids with bytes (aliases excluded), sorted by bytes.
    sorted: Vec<u32>,
    /// First byte of every id, or [`NO_BYTE`].
    first_byte: Vec<u16>,
    /// Whether the id is the canonical holder of its bytes.
    primary: Vec<bool>,
    max_len: usize,
}

impl VocabIndex {
    /// Index `tokens` (the bytes of each id, `None` for ids without bytes)
    /// for a model whose rows have `n_vocab` entries.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if there are more tokens than `n_vocab` or a
    /// token is empty.
    pub fn new(tokens: Vec<Option<Vec<u8>>>, n_vocab: usize) -> Result<Self> {
        if tokens.len() > n_vocab {
            return Err(Error::InvalidArgument(format!(
                "tokens has {} entries but the model's rows have only {n_vocab}",
                tokens.len()
            )));
        }
        if n_vocab > u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "n_vocab {n_vocab} does not fit token ids (u32)"
            )));
        }
        let mut bytes: Vec<Option<Box<[u8]>>> = Vec::with_capacity(n_vocab);
        let mut by_bytes: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        let mut first_byte = vec![NO_BYTE; n_vocab];
        let mut primary = vec![false; n_vocab];
        let mut max_len = 0;
        for (id, tok) in tokens.into_iter().enumerate() {
            match tok {
                Some(b) if b.is_empty() => {
                    return Err(Error::InvalidArgument(format!(
                        "token id {id} has empty bytes (use None for tokens without bytes)"
                    )))
                }
                Some(b) => {
                    let b: Box<[u8]> = b.into_boxed_slice();
                    max_len = max_len.max(b.len());
                    first_byte[id] = u16::from(b[0]);
                    if !by_bytes.contains_key(&b) {
                        by_bytes.insert(b.clone(), id as u32);
                        primary[id] = true;
                    }
                    bytes.push(Some(b));
                }
                None => bytes.push(None),
            }
        }
        bytes.resize(n_vocab, None);
        let mut sorted: Vec<u32> = by_bytes.values().copied().collect();
        sorted.sort_unstable_by(|&a, &b| bytes[a as usize].cmp(&bytes[b as usize]));
        Ok(Self {
            bytes,
            by_bytes,
            sorted,
            first_byte,
            primary,
            max_len,
        })
    }

    /// Number of ids (the length of a model row).
    #[must_use]
    pub fn n_vocab(&self) -> usize {
        self.bytes.len()
    }

    /// Length of the longest token in bytes.
    #[must_use]
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Bytes of `id` (`None` for special, unused or out-of-range ids).
    #[inline]
    #[must_use]
    pub fn bytes(&self, id: u32) -> Option<&[u8]> {
        self.bytes.get(id as usize).and_then(|b| b.as_deref())
    }

    /// Byte length of `id` (0 without bytes).
    #[inline]
    #[must_use]
    pub fn len_of(&self, id: u32) -> usize {
        self.bytes(id).map_or(0, <[u8]>::len)
    }

    /// The id whose bytes are exactly `bytes`.
    #[inline]
    #[must_use]
    pub fn id(&self, bytes: &[u8]) -> Option<u32> {
        if bytes.len() > self.max_len {
            return None;
        }
        self.by_bytes.get(bytes).copied()
    }

    /// First byte of every id ([`NO_BYTE`] without bytes).
    #[must_use]
    pub fn first_bytes(&self) -> &[u16] {
        &self.first_byte
    }

    /// Whether `id` is the id a tokenizer produces for its bytes (false for
    /// ids without bytes and for a second id with the same bytes).
    #[inline]
    #[must_use]
    pub fn is_primary(&self, id: u32) -> bool {
        self.primary.get(id as usize).copied().unwrap_or(false)
    }

    /// Ids with bytes, sorted by bytes (aliases excluded).
    #[must_use]
    pub fn sorted(&self) -> &[u32] {
        &self.sorted
    }

    /// The range of [`VocabIndex::sorted`] holding the tokens whose bytes
    /// start with `prefix` (all tokens for an empty prefix). The token equal
    /// to `prefix`, if any, comes first.
    #[must_use]
    pub fn starting_with(&self, prefix: &[u8]) -> Range<usize> {
        self.narrow(0..self.sorted.len(), 0, prefix)
    }

    /// Narrow `range` — tokens that all start with some `p` of length
    /// `depth` — to the tokens that start with `p` followed by `more`.
    #[must_use]
    pub fn narrow(&self, range: Range<usize>, depth: usize, more: &[u8]) -> Range<usize> {
        let slice = &self.sorted[range.clone()];
        let key = |id: u32| -> &[u8] {
            let b = self.bytes(id).unwrap_or(&[]);
            &b[depth.min(b.len())..]
        };
        // Tokens in the range compare by their bytes after `depth`; the
        // ones starting with `more` form one run.
        let lo = slice.partition_point(|&id| key(id) < more);
        let hi = lo
            + slice[lo..].partition_point(|&id| {
                let k = key(id);
                k.len() >= more.len() && &k[..more.len()] == more
            });
        range.start + lo..range.start + hi
    }

    /// Call `f(id, len)` for each token that is a prefix of `s`, shortest first.
    pub fn prefixes_of(&self, s: &[u8], mut f: impl FnMut(u32, usize)) {
        for len in 1..=s.len().min(self.max_len) {
            if let Some(id) = self.by_bytes.get(&s[..len]) {
                f(*id, len);
            }
        }
    }
}
