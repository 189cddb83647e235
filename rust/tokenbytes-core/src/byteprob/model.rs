//! The tokenizer side of a byte-level model: vocabulary index, pair rules,
//! pre-token boundaries, special-token bins, the scatter of a next-token row
//! into byte bins, and the canonical encoder the rules describe.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::chunks::{Chunker, Status};
use super::index::VocabIndex;
use super::pairs::{Bits, MergeRule, PairRules, NONE};
use crate::error::{Error, Result};

/// Bin of the end of the text (end-of-sequence) in a next-byte vector.
pub const END_BIN: usize = 256;

/// `bin_of` value of ids that never get probability (aliases, specials
/// that are neither end nor stop tokens).
const SKIP: u16 = u16::MAX;

/// Everything needed to build a [`ByteModel`].
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Length of a model row (number of token ids the model scores).
    pub n_vocab: usize,
    /// Bytes of each id (`None` for special and unused ids).
    pub tokens: Vec<Option<Vec<u8>>>,
    /// How adjacent pieces merge.
    pub merges: MergeRule,
    /// A pre-token that is a token is emitted whole.
    pub ignore_merges: bool,
    /// Pre-tokenizer pattern (`None`: no pre-tokenizer, BPE on the whole text).
    pub pattern: Option<String>,
    /// Ids that end the text (their probability goes to [`END_BIN`]).
    pub end_ids: Vec<u32>,
    /// Special ids that end the text with their own bin (`257 + k`).
    pub stop_ids: Vec<u32>,
}

/// What may follow an exact cover, per first byte of the next token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Nothing: the cover is not valid if the text continues with this byte.
    Nothing,
    /// The next token continues the pre-token: the pair test applies.
    Pair,
    /// The next token may start a new pre-token: no pair test.
    Free,
}

/// A validity mask for the scatter of one row.
#[derive(Debug, Clone)]
pub struct RowMask {
    /// Per first byte of the next token.
    pub follow: [Follow; 256],
    /// Left token of the pair test (`None`: no pair test anywhere).
    pub left: Option<u32>,
    /// Whether the text may end here (end and stop bins).
    pub end_ok: bool,
}

impl RowMask {
    /// Every token allowed (no pair test), end allowed.
    #[must_use]
    pub fn free() -> Self {
        Self {
            follow: [Follow::Free; 256],
            left: None,
            end_ok: true,
        }
    }
}

/// The tokenizer side of a byte-level model. Immutable and shared.
#[derive(Debug)]
pub struct ByteModel {
    pub(crate) index: VocabIndex,
    pub(crate) pairs: PairRules,
    pub(crate) chunker: Option<Chunker>,
    /// Bin of each id: first byte, [`END_BIN`], `257 + k` for stop ids, or
    /// `SKIP`.
    bin_of: Vec<u16>,
    n_bins: usize,
    end_ids: Vec<u32>,
    stop_ids: Vec<u32>,
    /// Tokens excluded where no pair test applies (unreachable ones unless
    /// `ignore_merges`).
    free_skip: Arc<Bits>,
    empty_bits: Arc<Bits>,
}

impl ByteModel {
    /// Build the model.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for inconsistent inputs (ids out of range,
    /// an end or stop id with bytes, a bad merge list), [`Error::Pattern`]
    /// for a pattern that does not compile.
    pub fn new(spec: ModelSpec) -> Result<Self> {
        let n = spec.n_vocab;
        let index = VocabIndex::new(spec.tokens, n)?;
        if index.sorted().is_empty() {
            return Err(Error::InvalidArgument(
                "the vocabulary has no token with bytes".to_owned(),
            ));
        }
        let pairs = PairRules::new(&index, spec.merges, spec.ignore_merges)?;
        let chunker = spec.pattern.as_deref().map(Chunker::new).transpose()?;
        let mut bin_of: Vec<u16> = (0..n as u32)
            .map(|id| {
                if index.is_primary(id) {
                    index.first_bytes()[id as usize]
                } else {
                    SKIP
                }
            })
            .collect();
        for &id in &spec.end_ids {
            Self::special_bin(&index, &mut bin_of, id, END_BIN as u16, "end id")?;
        }
        for (k, &id) in spec.stop_ids.iter().enumerate() {
            let bin = u16::try_from(257 + k)
                .map_err(|_| Error::InvalidArgument("too many stop ids".to_owned()))?;
            Self::special_bin(&index, &mut bin_of, id, bin, "stop id")?;
        }
        let free_skip = if spec.ignore_merges {
            Arc::new(Bits::new_empty(n))
        } else {
            pairs.unreachable_bits().clone()
        };
        Ok(Self {
            index,
            pairs,
            chunker,
            bin_of,
            n_bins: 257 + spec.stop_ids.len(),
            end_ids: spec.end_ids,
            stop_ids: spec.stop_ids,
            free_skip,
            empty_bits: Arc::new(Bits::new_empty(n)),
        })
    }

    fn special_bin(
        index: &VocabIndex,
        bin_of: &mut [u16],
        id: u32,
        bin: u16,
        what: &str,
    ) -> Result<()> {
        let slot = bin_of.get_mut(id as usize).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{what} {id} is out of range (n_vocab {})",
                index.n_vocab()
            ))
        })?;
        if index.bytes(id).is_some() {
            return Err(Error::InvalidArgument(format!(
                "{what} {id} has bytes; end and stop tokens must be special tokens"
            )));
        }
        if *slot != SKIP {
            return Err(Error::InvalidArgument(format!(
                "{what} {id} is listed twice"
            )));
        }
        *slot = bin;
        Ok(())
    }

    /// Length of a model row.
    #[must_use]
    pub fn n_vocab(&self) -> usize {
        self.index.n_vocab()
    }

    /// Number of bins of a next-symbol vector: 256 bytes, the end, then one
    /// per stop id.
    #[must_use]
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// The vocabulary index.
    #[must_use]
    pub fn index(&self) -> &VocabIndex {
        &self.index
    }

    /// The pair rules.
    #[must_use]
    pub fn pairs(&self) -> &PairRules {
        &self.pairs
    }

    /// Whether a pre-tokenizer splits the text.
    #[must_use]
    pub fn has_pretokenizer(&self) -> bool {
        self.chunker.is_some()
    }

    /// The pre-token boundary oracle (`None` without pre-tokenizer).
    #[must_use]
    pub fn chunker(&self) -> Option<&Chunker> {
        self.chunker.as_ref()
    }

    /// End ids.
    #[must_use]
    pub fn end_ids(&self) -> &[u32] {
        &self.end_ids
    }

    /// Stop ids (bins `257..`).
    #[must_use]
    pub fn stop_ids(&self) -> &[u32] {
        &self.stop_ids
    }

    /// Whether `id` may follow an exact cover whose next pre-token boundary
    /// status and left token give `follow` and `left`.
    #[inline]
    pub(crate) fn allowed(&self, id: u32, follow: Follow, invalid: &Bits) -> bool {
        match follow {
            Follow::Nothing => false,
            Follow::Pair => !invalid.get(id),
            Follow::Free => !self.free_skip.get(id),
        }
    }

    /// Bit set of tokens that may not follow `left` inside a pre-token (an
    /// empty set without a left token).
    pub(crate) fn invalid_after(&self, left: Option<u32>) -> Arc<Bits> {
        match left {
            Some(l) if l != NONE => self.pairs.invalid_after(l),
            _ => self.empty_bits.clone(),
        }
    }

    /// Scatter a next-token row (log-probabilities, length `n_vocab`) into
    /// bins: `out[b]` for `b < 256` is the log of the total probability of
    /// the allowed tokens whose first byte is `b`, `out[256]` that of the end
    /// ids, `out[257 + k]` that of stop id `k` (end and stops only when
    /// `mask.end_ok`). Log space, `f64` accumulation with a per-bin maximum.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the row has the wrong length or holds
    /// NaN or `+inf`.
    pub fn scatter<T: Copy + Into<f64>>(
        &self,
        row: &[T],
        mask: &RowMask,
        out: &mut [f64],
    ) -> Result<()> {
        check_row(row, self.n_vocab())?;
        self.scatter_checked(row, mask, out);
        Ok(())
    }

    /// [`ByteModel::scatter`] of a row already checked. One pass: each bin
    /// keeps its running maximum `m` and `Σ exp(v - m)`, rescaled when the
    /// maximum grows.
    pub(crate) fn scatter_checked<T: Copy + Into<f64>>(
        &self,
        row: &[T],
        mask: &RowMask,
        out: &mut [f64],
    ) {
        const SKIP_BIN: u8 = 0;
        const FREE: u8 = 1;
        const PAIR: u8 = 2;
        const ALL: u8 = 3;
        let invalid = self.invalid_after(mask.left);
        let nb = self.n_bins;
        // What each bin needs checked.
        let mut code = vec![SKIP_BIN; nb];
        for (b, c) in code.iter_mut().enumerate() {
            *c = if b >= END_BIN {
                if mask.end_ok {
                    ALL
                } else {
                    SKIP_BIN
                }
            } else {
                match mask.follow[b] {
                    Follow::Nothing => SKIP_BIN,
                    Follow::Pair => PAIR,
                    Follow::Free if self.pairs.ignore_merges() => ALL,
                    Follow::Free => FREE,
                }
            };
        }
        let mut m = vec![f64::NEG_INFINITY; nb];
        let mut sum = vec![0.0f64; nb];
        for (id, (&v, &bin)) in row.iter().zip(&self.bin_of).enumerate() {
            if bin == SKIP {
                continue;
            }
            let v: f64 = v.into();
            let b = usize::from(bin);
            let ok = match code[b] {
                ALL => true,
                SKIP_BIN => false,
                FREE => !self.free_skip.get(id as u32),
                _ => !invalid.get(id as u32),
            };
            if !ok || v == f64::NEG_INFINITY {
                continue;
            }
            if v > m[b] {
                sum[b] = sum[b] * (m[b] - v).exp() + 1.0;
                m[b] = v;
            } else {
                sum[b] += (v - m[b]).exp();
            }
        }
        for ((o, s), mx) in out[..nb].iter_mut().zip(sum).zip(m) {
            *o = if s > 0.0 {
                mx + s.ln()
            } else {
                f64::NEG_INFINITY
            };
        }
    }

    /// Pre-token pieces of `bytes` as `(start, end)` byte ranges (one piece
    /// without a pre-tokenizer). Bytes that are not UTF-8 stay in the piece
    /// before them.
    ///
    /// # Errors
    /// [`Error::RegexRuntime`] if the regex engine gives up.
    pub fn pieces(&self, bytes: &[u8]) -> Result<Vec<(usize, usize)>> {
        let Some(chunker) = &self.chunker else {
            return Ok(if bytes.is_empty() {
                vec![]
            } else {
                vec![(0, bytes.len())]
            });
        };
        let mut out: Vec<(usize, usize)> = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let (valid, bad) = match std::str::from_utf8(&bytes[pos..]) {
                Ok(_) => (bytes.len() - pos, 0),
                Err(e) => (
                    e.valid_up_to(),
                    e.error_len().unwrap_or(bytes.len() - pos - e.valid_up_to()),
                ),
            };
            let text = std::str::from_utf8(&bytes[pos..pos + valid]).unwrap_or("");
            for (s, e) in chunker.split_ranges(text)? {
                out.push((pos + s, pos + e));
            }
            if bad > 0 {
                let (s, e) = (pos + valid, pos + valid + bad);
                match out.last_mut() {
                    Some(last) if last.1 == s => last.1 = e,
                    _ => out.push((s, e)),
                }
            }
            pos += valid + bad;
        }
        Ok(out)
    }

    /// The canonical encoding of `bytes` under these rules: pre-tokenize,
    /// then each piece is one token if it is a token and `ignore_merges`,
    /// else BPE with the merge ranks (lowest rank first, leftmost on ties).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a byte has no token;
    /// [`Error::RegexRuntime`] if the regex engine gives up.
    pub fn encode(&self, bytes: &[u8]) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for (s, e) in self.pieces(bytes)? {
            self.encode_piece(&bytes[s..e], &mut out)?;
        }
        Ok(out)
    }

    /// BPE of one piece, appended to `out`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a byte has no token.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) -> Result<()> {
        if self.pairs.ignore_merges() {
            if let Some(id) = self.index.id(piece) {
                out.push(id);
                return Ok(());
            }
        }
        let n = piece.len();
        let mut ids: Vec<u32> = Vec::with_capacity(n);
        for &b in piece {
            ids.push(
                self.index
                    .id(&[b])
                    .ok_or_else(|| Error::InvalidArgument(format!("byte {b:#04x} has no token")))?,
            );
        }
        // Linked list over positions, heap of (rank, position).
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap: BinaryHeap<Reverse<(u32, usize, u32, u32)>> = BinaryHeap::new();
        let push = |heap: &mut BinaryHeap<_>, i: usize, a: u32, b: u32| {
            if let Some(r) = self.pairs.merge_rank(a, b) {
                heap.push(Reverse((r, i, a, b)));
            }
        };
        for i in 0..n.saturating_sub(1) {
            push(&mut heap, i, ids[i], ids[i + 1]);
        }
        while let Some(Reverse((_, i, a, b))) = heap.pop() {
            let j = next[i];
            // Stale entry: the pair at `i` changed since it was pushed.
            if !alive[i] || j >= n || ids[i] != a || ids[j] != b {
                continue;
            }
            let mut joined = self.index.bytes(a).unwrap_or(&[]).to_vec();
            joined.extend_from_slice(self.index.bytes(b).unwrap_or(&[]));
            let Some(c) = self.index.id(&joined) else {
                continue;
            };
            ids[i] = c;
            alive[j] = false;
            next[i] = next[j];
            if next[j] < n {
                prev[next[j]] = i;
            }
            if prev[i] < n {
                push(&mut heap, prev[i], ids[prev[i]], c);
            }
            if next[i] < n {
                push(&mut heap, i, c, ids[next[i]]);
            }
        }
        let mut i = 0;
        while i < n {
            out.push(ids[i]);
            i = next[i];
        }
        Ok(())
    }

    /// A position before which every valid encoding of `bytes` (followed by
    /// anything) has the same tokens: the start of the third-last pre-token
    /// for the patterns of [`crate::pretokenize`] with a hand-written
    /// splitter (their matches look at most two characters past their end),
    /// of the fourth-last for other patterns (assumed to look ahead no
    /// further than the next pre-token: true of the patterns of real
    /// tokenizers, not of a pattern such as right-aligned digit groups), 0
    /// without pre-tokenizer (every position may still change). Bytes after
    /// it are the region of covers.
    ///
    /// # Errors
    /// [`Error::RegexRuntime`] if the regex engine gives up.
    pub fn stable_cut(&self, bytes: &[u8]) -> Result<usize> {
        let Some(c) = &self.chunker else {
            return Ok(0);
        };
        let back = if c.is_hand_written() { 3 } else { 4 };
        let pieces = self.pieces(bytes)?;
        Ok(if pieces.len() >= back {
            pieces[pieces.len() - back].0
        } else {
            0
        })
    }

    /// The status of a region start: forced (after a special token or at the
    /// beginning of the text).
    #[must_use]
    pub fn start_status(&self) -> Status {
        Status::Forced
    }
}

/// Check a row's length and values.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the problem.
pub fn check_row<T: Copy + Into<f64>>(row: &[T], n_vocab: usize) -> Result<()> {
    if row.len() != n_vocab {
        return Err(Error::InvalidArgument(format!(
            "row has {} entries, expected n_vocab = {n_vocab}",
            row.len()
        )));
    }
    // Fast path: every value below +inf (NaN compares false).
    if row.iter().all(|&v| v.into() < f64::INFINITY) {
        return Ok(());
    }
    for (id, &v) in row.iter().enumerate() {
        let v: f64 = v.into();
        if v.is_nan() {
            return Err(Error::InvalidArgument(format!(
                "row holds NaN (at token id {id})"
            )));
        }
        if v == f64::INFINITY {
            return Err(Error::InvalidArgument(format!(
                "row holds +inf (at token id {id}); expected log-probabilities"
            )));
        }
    }
    Ok(())
}

/// `ln(e^a + e^b)`, exact for infinities.
#[inline]
#[must_use]
pub fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// `ln Σ e^v` over `values`.
#[must_use]
pub fn log_sum(values: &[f64]) -> f64 {
    let m = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + values.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}
