//! The batch as base tokens cut into units (the input of the merger).

use crate::bpe::CoreBpe;
use crate::error::{Error, Result};
use crate::special::SpecialPolicy;
use crate::Rank;

use super::segment::{cuts, Boundary};

/// A batch of base-token sequences, each cut into units.
///
/// Invariants: `starts_unit`, `special` and `tokens` have one entry per
/// token; the first token of every sequence, every special token and the
/// token after a special token start a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Base token ids of all sequences, concatenated.
    pub tokens: Vec<Rank>,
    /// Sequence `b` is `tokens[seq_starts[b]..seq_starts[b + 1]]`.
    pub seq_starts: Vec<usize>,
    /// Whether a token starts a new unit (merges never cross into it).
    pub starts_unit: Vec<bool>,
    /// Whether a token is a special token (never merged).
    pub special: Vec<bool>,
    /// Whether a pair may merge only if its joined bytes are a single
    /// pre-token on their own (boundary mode `"pretoken"`).
    pub single_pretoken_pairs: bool,
}

impl Layout {
    fn new() -> Self {
        Self {
            seq_starts: vec![0],
            ..Self::default()
        }
    }

    /// Number of sequences.
    #[must_use]
    pub fn n_sequences(&self) -> usize {
        self.seq_starts.len() - 1
    }

    /// Number of units: the batch length at the word-level limit.
    #[must_use]
    pub fn n_units(&self) -> usize {
        self.starts_unit.iter().filter(|&&s| s).count()
    }

    fn push(&mut self, token: Rank, starts_unit: bool, special: bool) {
        self.tokens.push(token);
        self.starts_unit.push(starts_unit || special);
        self.special.push(special);
    }

    fn end_sequence(&mut self) {
        self.seq_starts.push(self.tokens.len());
    }

    /// Encode texts with `bpe` under the special-token `policy` (as
    /// [`CoreBpe::encode`]) and cut them into units for `mode`.
    ///
    /// # Errors
    /// [`Error::DisallowedSpecial`] as `encode`; regex failures.
    pub fn from_texts(
        bpe: &CoreBpe,
        texts: &[&str],
        policy: &SpecialPolicy,
        mode: Boundary,
    ) -> Result<Self> {
        let mut out = Self::new();
        out.single_pretoken_pairs = mode == Boundary::PreToken;
        let mut scratch = Scratch::default();
        for text in texts {
            bpe.specials().check_disallowed(text, policy)?;
            let mut pos = 0;
            for (start, end, id) in bpe.specials().find_allowed(text, policy) {
                out.encode_segment(bpe, &text[pos..start], mode, &mut scratch)?;
                out.push(id, true, true);
                pos = end;
            }
            out.encode_segment(bpe, &text[pos..], mode, &mut scratch)?;
            out.end_sequence();
        }
        out.check_size()?;
        Ok(out)
    }

    fn encode_segment(
        &mut self,
        bpe: &CoreBpe,
        seg: &str,
        mode: Boundary,
        s: &mut Scratch,
    ) -> Result<()> {
        if seg.is_empty() {
            return Ok(());
        }
        if mode == Boundary::PreToken {
            // Units are the pieces themselves.
            let mut ids = std::mem::take(&mut s.ids);
            bpe.pretokenizer().split(seg, |piece| {
                ids.clear();
                bpe.encode_piece_into(piece.as_bytes(), &mut ids);
                for (i, &id) in ids.iter().enumerate() {
                    self.push(id, i == 0, false);
                }
            })?;
            s.ids = ids;
            return Ok(());
        }
        s.ids.clear();
        bpe.encode_ordinary_into(seg, &mut s.ids)?;
        s.offsets.clear();
        let mut off = 0;
        for &id in &s.ids {
            s.offsets.push(off);
            off += bpe.token_bytes(id).map_or(0, <[u8]>::len);
        }
        self.push_cut(bpe, seg.as_bytes(), mode, s)
    }

    /// Push `s.ids` (starting at byte offsets `s.offsets` of `seg`), cut
    /// into units for `mode`.
    fn push_cut(
        &mut self,
        bpe: &CoreBpe,
        seg: &[u8],
        mode: Boundary,
        s: &mut Scratch,
    ) -> Result<()> {
        s.cuts.clear();
        cuts(mode, bpe.pretokenizer(), seg, &mut s.cuts)?;
        let mut c = 0;
        for (i, (&id, &off)) in s.ids.iter().zip(&s.offsets).enumerate() {
            while c < s.cuts.len() && s.cuts[c] < off {
                c += 1;
            }
            let cut_here = c < s.cuts.len() && s.cuts[c] == off;
            self.push(id, i == 0 || cut_here, false);
        }
        Ok(())
    }

    /// Validate token-id sequences against `bpe` and cut them into units for
    /// `mode` (cuts computed on the decoded bytes).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `batch[i][j]` for an id that is
    /// neither a mergeable rank nor a special token; regex failures.
    pub fn from_ids(bpe: &CoreBpe, seqs: &[Vec<Rank>], mode: Boundary) -> Result<Self> {
        let mut out = Self::new();
        out.single_pretoken_pairs = mode == Boundary::PreToken;
        let mut s = Scratch::default();
        for (b, seq) in seqs.iter().enumerate() {
            s.ids.clear();
            s.offsets.clear();
            s.bytes.clear();
            for (j, &id) in seq.iter().enumerate() {
                if let Some(bytes) = bpe.vocab().token_bytes(id) {
                    s.ids.push(id);
                    s.offsets.push(s.bytes.len());
                    s.bytes.extend_from_slice(bytes);
                } else if bpe.specials().name(id).is_some() {
                    out.flush_ids(bpe, mode, &mut s)?;
                    out.push(id, true, true);
                } else {
                    return Err(Error::InvalidArgument(format!(
                        "batch[{b}][{j}]: token id {id} is neither a mergeable token (ids < {}) nor a special token",
                        bpe.vocab().rank_bound()
                    )));
                }
            }
            out.flush_ids(bpe, mode, &mut s)?;
            out.end_sequence();
        }
        out.check_size()?;
        Ok(out)
    }

    fn flush_ids(&mut self, bpe: &CoreBpe, mode: Boundary, s: &mut Scratch) -> Result<()> {
        let seg = std::mem::take(&mut s.bytes);
        let r = self.push_cut(bpe, &seg, mode, s);
        s.bytes = seg;
        s.bytes.clear();
        s.ids.clear();
        s.offsets.clear();
        r
    }

    fn check_size(&self) -> Result<()> {
        if self.tokens.len() >= (u32::MAX / 2) as usize {
            return Err(Error::InvalidArgument(format!(
                "batch: {} tokens in total is too many for one batch (limit {})",
                self.tokens.len(),
                u32::MAX / 2
            )));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Scratch {
    ids: Vec<Rank>,
    offsets: Vec<usize>,
    cuts: Vec<usize>,
    bytes: Vec<u8>,
}
