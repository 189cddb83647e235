//! Token tables: mergeable ranks (token bytes ↔ rank) and their validation.
//!
//! A byte-level BPE vocabulary maps byte strings to ranks. The rank is both
//! the token id and the merge priority. Every one of the 256 single bytes
//! must be a token, or some inputs could not be encoded at all.

use base64::Engine;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::Rank;

/// Largest id we accept: ids index dense tables, so an absurd id would
/// allocate gigabytes. 2^28 leaves room for any real vocabulary.
pub const MAX_TOKEN_ID: Rank = 1 << 28;

/// Parse the content of a `.tiktoken` rank file: one `base64 rank` pair per
/// line. Blank lines are skipped (tiktoken does the same).
///
/// # Errors
/// [`Error::VocabLine`] naming the 1-based line for bad base64, a bad rank,
/// an empty token, a duplicate token or a duplicate rank.
pub fn parse_tiktoken(data: &[u8]) -> Result<Vec<(Vec<u8>, Rank)>> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out: Vec<(Vec<u8>, Rank)> = Vec::with_capacity(data.len() / 12);
    let mut seen_tokens: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
    let mut seen_ranks: FxHashMap<Rank, usize> = FxHashMap::default();
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let err = |message: String| Error::VocabLine {
            line: line_no,
            message,
        };
        let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
        let (Some(tok), Some(rank), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err(format!(
                "expected '<base64 token> <rank>', got {:?}",
                String::from_utf8_lossy(line)
            )));
        };
        let bytes = engine.decode(tok).map_err(|e| {
            err(format!(
                "bad base64 {:?}: {e}",
                String::from_utf8_lossy(tok)
            ))
        })?;
        if bytes.is_empty() {
            return Err(err("empty token".to_owned()));
        }
        let rank: Rank = std::str::from_utf8(rank)
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&r| r < MAX_TOKEN_ID)
            .ok_or_else(|| {
                err(format!(
                    "bad rank {:?} (must be an integer in 0..{MAX_TOKEN_ID})",
                    String::from_utf8_lossy(rank)
                ))
            })?;
        if let Some(prev) = seen_ranks.insert(rank, line_no) {
            return Err(err(format!("duplicate rank {rank} (first on line {prev})")));
        }
        if let Some(prev) = seen_tokens.insert(bytes.clone(), line_no) {
            return Err(err(format!(
                "duplicate token {:?} (first on line {prev})",
                String::from_utf8_lossy(&bytes)
            )));
        }
        out.push((bytes, rank));
    }
    Ok(out)
}

/// The mergeable part of a vocabulary: byte strings with unique ranks.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Token bytes → rank.
    encoder: FxHashMap<Vec<u8>, Rank>,
    /// Concatenated token bytes, indexed through `offsets`.
    arena: Vec<u8>,
    /// `offsets[r]..offsets[r + 1]` is the byte range of rank `r` in `arena`;
    /// an empty range means no token has that rank.
    offsets: Vec<u32>,
    /// Rank of each single byte (all 256 exist, checked at construction).
    byte_ranks: [Rank; 256],
}

impl Vocab {
    /// Build from `(bytes, rank)` pairs.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] on an empty token, a duplicate token or rank,
    /// a rank ≥ [`MAX_TOKEN_ID`], or a single byte with no token.
    pub fn new(pairs: Vec<(Vec<u8>, Rank)>) -> Result<Self> {
        let mut encoder: FxHashMap<Vec<u8>, Rank> = FxHashMap::default();
        encoder.reserve(pairs.len());
        let mut max_rank: Option<Rank> = None;
        for (bytes, rank) in pairs {
            if bytes.is_empty() {
                return Err(Error::InvalidVocab(format!(
                    "rank {rank} has an empty byte string"
                )));
            }
            if rank >= MAX_TOKEN_ID {
                return Err(Error::InvalidVocab(format!(
                    "rank {rank} is too large (limit {MAX_TOKEN_ID})"
                )));
            }
            max_rank = Some(max_rank.map_or(rank, |m| m.max(rank)));
            if let Some(prev) = encoder.insert(bytes.clone(), rank) {
                return Err(Error::InvalidVocab(format!(
                    "token {:?} appears twice (ranks {prev} and {rank})",
                    String::from_utf8_lossy(&bytes)
                )));
            }
        }
        let n_slots = max_rank.map_or(0, |m| m as usize + 1);
        let mut slots: Vec<Option<&[u8]>> = vec![None; n_slots];
        for (bytes, &rank) in &encoder {
            let slot = &mut slots[rank as usize];
            if slot.is_some() {
                return Err(Error::InvalidVocab(format!(
                    "rank {rank} is given to two different tokens"
                )));
            }
            *slot = Some(bytes.as_slice());
        }
        let total: usize = encoder.keys().map(Vec::len).sum();
        if u32::try_from(total).is_err() {
            return Err(Error::InvalidVocab("vocabulary larger than 4 GiB".into()));
        }
        let mut arena = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(n_slots + 1);
        offsets.push(0u32);
        for slot in &slots {
            if let Some(b) = slot {
                arena.extend_from_slice(b);
            }
            offsets.push(arena.len() as u32);
        }
        let mut byte_ranks = [0; 256];
        let mut missing = Vec::new();
        for b in 0..=255u8 {
            match encoder.get(&[b][..]) {
                Some(&r) => byte_ranks[b as usize] = r,
                None => missing.push(b),
            }
        }
        if !missing.is_empty() {
            let shown: Vec<String> = missing
                .iter()
                .take(8)
                .map(|b| format!("0x{b:02x}"))
                .collect();
            return Err(Error::InvalidVocab(format!(
                "{} single byte(s) have no token ({}{}); a byte-level BPE vocabulary needs all 256",
                missing.len(),
                shown.join(", "),
                if missing.len() > 8 { ", ..." } else { "" }
            )));
        }
        drop(slots);
        Ok(Self {
            encoder,
            arena,
            offsets,
            byte_ranks,
        })
    }

    /// Number of mergeable tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.encoder.len()
    }

    /// Whether the vocabulary is empty (never true for a valid one).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.encoder.is_empty()
    }

    /// One more than the largest rank.
    #[must_use]
    pub fn rank_bound(&self) -> Rank {
        (self.offsets.len() - 1) as Rank
    }

    /// The rank of a byte string, if it is a token.
    #[inline]
    #[must_use]
    pub fn rank(&self, bytes: &[u8]) -> Option<Rank> {
        self.encoder.get(bytes).copied()
    }

    /// The rank of a single byte (always exists).
    #[inline]
    #[must_use]
    pub fn byte_rank(&self, byte: u8) -> Rank {
        self.byte_ranks[byte as usize]
    }

    /// The bytes of a rank, or `None` if no token has it.
    #[inline]
    #[must_use]
    pub fn token_bytes(&self, rank: Rank) -> Option<&[u8]> {
        let r = rank as usize;
        if r + 1 >= self.offsets.len() {
            return None;
        }
        let (a, b) = (self.offsets[r] as usize, self.offsets[r + 1] as usize);
        (a < b).then(|| &self.arena[a..b])
    }

    /// Iterate over `(bytes, rank)` in rank order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Rank)> + '_ {
        (0..self.rank_bound()).filter_map(move |r| self.token_bytes(r).map(|b| (b, r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_vocab() -> Vec<(Vec<u8>, Rank)> {
        (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect()
    }

    #[test]
    fn parse_reports_lines() {
        let err = parse_tiktoken(b"YQ== 0\n!!! 1\n").unwrap_err();
        assert!(matches!(err, Error::VocabLine { line: 2, .. }), "{err:?}");
        let err = parse_tiktoken(b"YQ== 0\nYg== 0\n").unwrap_err();
        assert!(err.to_string().contains("duplicate rank"), "{err}");
        let err = parse_tiktoken(b"YQ== 0\nYQ== 1\n").unwrap_err();
        assert!(err.to_string().contains("duplicate token"), "{err}");
        let err = parse_tiktoken(b"YQ== x\n").unwrap_err();
        assert!(err.to_string().contains("bad rank"), "{err}");
        assert_eq!(
            parse_tiktoken(b"YQ== 7\n\n").unwrap(),
            vec![(b"a".to_vec(), 7)]
        );
    }

    #[test]
    fn missing_byte_is_rejected() {
        let mut v = bytes_vocab();
        v.retain(|(b, _)| b[0] != b'z');
        let err = Vocab::new(v).unwrap_err();
        assert!(err.to_string().contains("0x7a"), "{err}");
    }

    #[test]
    fn lookup_both_ways() {
        let mut v = bytes_vocab();
        v.push((b"ab".to_vec(), 300));
        let vocab = Vocab::new(v).unwrap();
        assert_eq!(vocab.rank(b"ab"), Some(300));
        assert_eq!(vocab.token_bytes(300), Some(&b"ab"[..]));
        assert_eq!(vocab.token_bytes(299), None);
        assert_eq!(vocab.token_bytes(10_000), None);
        assert_eq!(vocab.rank_bound(), 301);
        assert_eq!(vocab.iter().count(), 257);
    }
}
