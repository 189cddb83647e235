//! Token tables: mergeable ranks (token bytes ↔ rank) and their validation.
//!
//! A byte-level BPE vocabulary maps byte strings to ranks. The rank is both
//! the token id and the merge priority. Every one of the 256 single bytes
//! must be a token, or some inputs could not be encoded at all.

use base64::Engine;

use crate::error::{Error, Result};
use crate::table::TokenTable;
use crate::Rank;

/// Largest id we accept: ids index dense tables, so an absurd id would
/// allocate gigabytes. 2^28 leaves room for any real vocabulary.
pub const MAX_TOKEN_ID: Rank = 1 << 28;

/// Parse a `.tiktoken` rank file into `(bytes, rank)` pairs in rank order.
///
/// # Errors
/// As [`Vocab::from_tiktoken`].
pub fn parse_tiktoken(data: &[u8]) -> Result<Vec<(Vec<u8>, Rank)>> {
    Ok(Vocab::from_tiktoken(data)?
        .iter()
        .map(|(b, r)| (b.to_vec(), r))
        .collect())
}

/// Ranks may have gaps, but not absurd ones: tables are indexed by rank, so
/// the largest rank may be at most this factor times the number of tokens
/// (plus a constant) before the vocabulary is rejected.
const MAX_SPARSITY: usize = 16;

/// One token while a vocabulary is being built.
struct Entry {
    start: u32,
    len: u32,
    rank: Rank,
    /// 1-based line in the source file, 0 when not from a file.
    line: usize,
}

fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!("line {line}: ")
    }
}

/// The mergeable part of a vocabulary: byte strings with unique ranks.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Token bytes → rank.
    table: TokenTable,
    /// Token bytes in rank order, indexed through `offsets`.
    arena: Vec<u8>,
    /// `offsets[r]..offsets[r + 1]` is the byte range of rank `r` in `arena`;
    /// an empty range means no token has that rank.
    offsets: Vec<u32>,
    /// Rank of each single byte (all 256 exist, checked at construction).
    byte_ranks: [Rank; 256],
    len: usize,
    max_token_len: usize,
}

impl Vocab {
    /// Build from `(bytes, rank)` pairs.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] on an empty token, a duplicate token or rank,
    /// a rank ≥ [`MAX_TOKEN_ID`], ranks far sparser than the token count, or
    /// a single byte with no token.
    pub fn new(pairs: Vec<(Vec<u8>, Rank)>) -> Result<Self> {
        let total: usize = pairs.iter().map(|(b, _)| b.len()).sum();
        let mut src = Vec::with_capacity(total);
        let mut entries = Vec::with_capacity(pairs.len());
        for (bytes, rank) in &pairs {
            let start = u32::try_from(src.len())
                .map_err(|_| Error::InvalidVocab("vocabulary larger than 4 GiB".into()))?;
            src.extend_from_slice(bytes);
            entries.push(Entry {
                start,
                len: bytes.len() as u32,
                rank: *rank,
                line: 0,
            });
        }
        Self::build(&src, entries)
    }

    /// Parse and build from the content of a `.tiktoken` rank file (one
    /// `base64 rank` pair per line; blank lines are skipped).
    ///
    /// # Errors
    /// [`Error::VocabLine`] naming the 1-based line for bad base64, a bad
    /// rank, an empty token, a duplicate token or a duplicate rank;
    /// [`Error::InvalidVocab`] for problems of the whole file.
    pub fn from_tiktoken(data: &[u8]) -> Result<Self> {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut src: Vec<u8> = Vec::with_capacity(data.len());
        let mut entries = Vec::with_capacity(data.len() / 12);
        let mut buf = vec![0u8; 64];
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
            let (tok, rank) = split_line(line).ok_or_else(|| {
                err(format!(
                    "expected '<base64 token> <rank>', got {:?}",
                    String::from_utf8_lossy(line)
                ))
            })?;
            let need = tok.len() / 4 * 3 + 3;
            if buf.len() < need {
                buf.resize(need, 0);
            }
            let n = engine.decode_slice(tok, &mut buf).map_err(|e| {
                err(format!(
                    "bad base64 {:?}: {e}",
                    String::from_utf8_lossy(tok)
                ))
            })?;
            if n == 0 {
                return Err(err("empty token".to_owned()));
            }
            let rank = parse_rank(rank).ok_or_else(|| {
                err(format!(
                    "bad rank {:?} (must be an integer in 0..{MAX_TOKEN_ID})",
                    String::from_utf8_lossy(rank)
                ))
            })?;
            let start = u32::try_from(src.len())
                .map_err(|_| Error::InvalidVocab("vocabulary larger than 4 GiB".into()))?;
            src.extend_from_slice(&buf[..n]);
            entries.push(Entry {
                start,
                len: n as u32,
                rank,
                line: line_no,
            });
        }
        Self::build(&src, entries)
    }

    fn build(src: &[u8], mut entries: Vec<Entry>) -> Result<Self> {
        let bytes_of = |e: &Entry| &src[e.start as usize..(e.start + e.len) as usize];
        for e in &entries {
            if e.len == 0 {
                return Err(Error::InvalidVocab(format!(
                    "{}rank {} has an empty byte string",
                    at_line(e.line),
                    e.rank
                )));
            }
            if e.rank >= MAX_TOKEN_ID {
                return Err(Error::InvalidVocab(format!(
                    "{}rank {} is too large (limit {MAX_TOKEN_ID})",
                    at_line(e.line),
                    e.rank
                )));
            }
        }
        // Duplicate ranks: sort by (rank, position) and compare neighbours.
        entries.sort_by_key(|e| (e.rank, e.line, e.start));
        for w in entries.windows(2) {
            if w[0].rank == w[1].rank {
                let (a, b) = (&w[0], &w[1]);
                return Err(match b.line {
                    0 => Error::InvalidVocab(format!(
                        "rank {} is given to two tokens: {:?} and {:?}",
                        a.rank,
                        String::from_utf8_lossy(bytes_of(a)),
                        String::from_utf8_lossy(bytes_of(b))
                    )),
                    line => Error::VocabLine {
                        line,
                        message: format!("duplicate rank {} (first on line {})", a.rank, a.line),
                    },
                });
            }
        }
        let n = entries.len();
        let max_rank = entries.last().map_or(0, |e| e.rank as usize);
        if max_rank >= MAX_SPARSITY * (n + 4096) {
            return Err(Error::InvalidVocab(format!(
                "largest rank {max_rank} is implausible for a vocabulary of {n} tokens"
            )));
        }
        let n_slots = if n == 0 { 0 } else { max_rank + 1 };
        // Arena and offsets in rank order.
        let mut arena = Vec::with_capacity(src.len());
        let mut offsets = Vec::with_capacity(n_slots + 1);
        offsets.push(0u32);
        let mut it = entries.iter().peekable();
        for r in 0..n_slots {
            if let Some(e) = it.next_if(|e| e.rank as usize == r) {
                arena.extend_from_slice(bytes_of(e));
            }
            offsets.push(arena.len() as u32);
        }
        let tail = |rank: Rank| -> &[u8] {
            let (a, b) = (
                offsets[rank as usize] as usize,
                offsets[rank as usize + 1] as usize,
            );
            &arena[(a + 8).min(b)..b]
        };
        let mut table = TokenTable::with_capacity(n);
        let mut max_token_len = 1;
        // Insert in file order so a duplicate token reports its second line.
        let mut order: Vec<&Entry> = entries.iter().collect();
        order.sort_by_key(|e| (e.line, e.start));
        for e in order {
            let bytes = bytes_of(e);
            max_token_len = max_token_len.max(bytes.len());
            if let Some(prev) = table.insert(bytes, e.rank, tail) {
                let shown = String::from_utf8_lossy(bytes);
                return Err(match e.line {
                    0 => Error::InvalidVocab(format!(
                        "token {shown:?} appears twice (ranks {prev} and {})",
                        e.rank
                    )),
                    line => Error::VocabLine {
                        line,
                        message: format!("duplicate token {shown:?} (also rank {prev})"),
                    },
                });
            }
        }
        let mut vocab = Self {
            table,
            arena,
            offsets,
            byte_ranks: [0; 256],
            len: n,
            max_token_len,
        };
        let mut missing = Vec::new();
        for b in 0..=255u8 {
            match vocab.rank(&[b]) {
                Some(r) => vocab.byte_ranks[b as usize] = r,
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
        Ok(vocab)
    }

    /// Number of mergeable tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the vocabulary is empty (never true for a valid one).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Length in bytes of the longest token.
    #[must_use]
    pub fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// One more than the largest rank.
    #[must_use]
    pub fn rank_bound(&self) -> Rank {
        (self.offsets.len().saturating_sub(1)) as Rank
    }

    /// The rank of a byte string, if it is a token.
    #[inline]
    #[must_use]
    pub fn rank(&self, bytes: &[u8]) -> Option<Rank> {
        self.table.get(bytes, &self.arena, &self.offsets)
    }

    /// The rank of the token made of the `len` (1 to 8) low bytes of `word`
    /// (little endian, higher bytes zero), if there is one.
    #[inline]
    #[must_use]
    pub fn rank_word(&self, word: u64, len: usize) -> Option<Rank> {
        self.table.get_word(word, len)
    }

    /// The rank of the token of `len` (9 to 12) bytes whose first eight are
    /// `word` and the rest the low bytes of `tail`, if there is one.
    #[inline]
    #[must_use]
    pub fn rank_words(&self, word: u64, tail: u64, len: usize) -> Option<Rank> {
        self.table.get_words(word, tail, len)
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

fn split_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), None) => Some((a, b)),
        _ => None,
    }
}

fn parse_rank(s: &[u8]) -> Option<Rank> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    (v < u64::from(MAX_TOKEN_ID)).then_some(v as Rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_vocab() -> Vec<(Vec<u8>, Rank)> {
        (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect()
    }

    fn file(extra: &str) -> Vec<u8> {
        use base64::Engine;
        let mut out = String::new();
        for b in 0..=255u8 {
            let tok = base64::engine::general_purpose::STANDARD.encode([b]);
            out.push_str(&format!("{tok} {b}\n"));
        }
        out.push_str(extra);
        out.into_bytes()
    }

    #[test]
    fn parse_reports_lines() {
        let err = Vocab::from_tiktoken(&file("YWI= 300\n!!! 301\n")).unwrap_err();
        assert!(matches!(err, Error::VocabLine { line: 258, .. }), "{err:?}");
        let err = Vocab::from_tiktoken(&file("YWI= 300\nYWM= 300\n")).unwrap_err();
        assert!(matches!(err, Error::VocabLine { line: 258, .. }), "{err:?}");
        assert!(err.to_string().contains("duplicate rank"), "{err}");
        let err = Vocab::from_tiktoken(&file("YQ== 300\n")).unwrap_err();
        assert!(matches!(err, Error::VocabLine { line: 257, .. }), "{err:?}");
        assert!(err.to_string().contains("duplicate token"), "{err}");
        let err = Vocab::from_tiktoken(&file("YWI= x\n")).unwrap_err();
        assert!(err.to_string().contains("bad rank"), "{err}");
        let v = Vocab::from_tiktoken(&file("YWI= 300\n\n")).unwrap();
        assert_eq!(v.rank(b"ab"), Some(300));
        assert_eq!(parse_tiktoken(&file("")).unwrap().len(), 256);
    }

    #[test]
    fn sparse_ranks_are_rejected() {
        let mut v = bytes_vocab();
        v.push((b"ab".to_vec(), 100_000_000));
        assert!(Vocab::new(v).is_err());
    }

    #[test]
    fn long_tokens_compare_all_bytes() {
        let mut v = bytes_vocab();
        v.push((b"abcdefghij".to_vec(), 300));
        v.push((b"abcdefghik".to_vec(), 301));
        v.push((b"abcdefgh".to_vec(), 302));
        let vocab = Vocab::new(v).unwrap();
        assert_eq!(vocab.rank(b"abcdefghij"), Some(300));
        assert_eq!(vocab.rank(b"abcdefghik"), Some(301));
        assert_eq!(vocab.rank(b"abcdefgh"), Some(302));
        assert_eq!(vocab.rank(b"abcdefghix"), None);
        assert_eq!(vocab.rank(b"abcdefghi"), None);
        assert_eq!(vocab.max_token_len(), 10);
        // Lengths around the twelve bytes kept in a table slot.
        let mut v = bytes_vocab();
        let mut want = Vec::new();
        for len in 9..=20usize {
            for last in [b'x', b'y'] {
                let mut t: Vec<u8> = (0..len as u8).map(|i| b'a' + i).collect();
                t[len - 1] = last;
                want.push((t.clone(), 300 + want.len() as Rank));
                v.push((t, 300 + want.len() as Rank - 1));
            }
        }
        let vocab = Vocab::new(v).unwrap();
        for (t, r) in &want {
            assert_eq!(vocab.rank(t), Some(*r), "{t:?}");
            let mut z = t.clone();
            *z.last_mut().unwrap() = b'z';
            assert_eq!(vocab.rank(&z), None, "{z:?}");
            assert_eq!(vocab.rank(&t[..t.len() - 1]), None);
        }
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
