//! Batch-level dynamic token merging (Feher, Vulić, Minixhofer 2024,
//! "Retrofitting (Large) Language Models with Dynamic Tokenization",
//! arXiv 2411.18553, §3).
//!
//! # Definitions
//!
//! A *batch* is a list of base-token sequences (the tokenizer's output).
//! The boundary mode ([`Boundary`]) cuts every sequence into *units*:
//! pre-tokens, words, or everything between special tokens. Special tokens
//! are units of their own and never merge.
//!
//! A *merge step* counts every adjacent pair of tokens inside a unit, over
//! the whole batch (overlapping occurrences count twice: `a a a` counts
//! `(a, a)` twice), takes the pair with the largest count — on ties the
//! pair whose first occurrence comes first in batch order (sequence by
//! sequence, left to right) — and replaces its non-overlapping occurrences
//! left to right in every sequence by one token. Tokens are identified by
//! their bytes (two merge paths to the same bytes give one token, and a
//! merge that spells a vocabulary token *is* that token); special tokens
//! are identified by their id.
//!
//! Steps repeat until a [`StopRule`] fires or no pair is left. With no
//! rule the batch reaches the *word-level limit*: one token per unit.
//!
//! # Properties
//! * Decoding a merged sequence through the batch vocabulary gives back the
//!   bytes of the original sequence.
//! * Lengths never increase; at the word-level limit the batch length is
//!   [`Merged::word_level_length`].
//! * The output is a function of the batch alone (deterministic, no
//!   threads).
//!
//! # Algorithm
//! See [`merge`](fn@merge) (module `merge`): deduplicated units, an exact incremental
//! pair count, a pair → occurrences index and a lazy max-heap re-validated
//! on pop; O((N + M) log N) for N tokens and M merges instead of the
//! reference's O(N·M).
//!
//! # Worked example
//! `["a a a", "a a"]` with single-letter tokens `a` and ` a` and pre-token
//! units `a`, ` a`, ` a`, `a`, ` a` has no pair at all: every pre-token is
//! one token. With boundary `"none"` the pairs are `(a, ␣a)` ×2 (first at
//! position 0) and `(␣a, ␣a)` ×1; the first merge is `a␣a`, giving
//! `[a␣a, ␣a]` and `[a␣a]`; the second merges `(a␣a, ␣a)`. This example
//! is checked by the unit test `worked_example`.

mod layout;
mod merge;
mod segment;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use layout::Layout;
pub use merge::{max_token_len, merge, Merged, StopRule};
pub use segment::{is_letter_mark_number, Boundary};

use crate::bpe::CoreBpe;
use crate::error::Result;
use crate::special::SpecialPolicy;
use crate::Rank;

/// Encode `texts` (special tokens under `policy`, as [`CoreBpe::encode`])
/// and merge the batch (`max_token_len` as in [`merge`](fn@merge)).
///
/// # Errors
/// [`crate::Error::DisallowedSpecial`] as `encode`;
/// [`crate::Error::InvalidArgument`] for a bad stop rule.
pub fn merge_texts(
    bpe: &CoreBpe,
    texts: &[&str],
    policy: &SpecialPolicy,
    mode: Boundary,
    stop: &StopRule,
    max_token_len: Option<usize>,
) -> Result<Merged> {
    stop.validate()?;
    let layout = Layout::from_texts(bpe, texts, policy, mode)?;
    merge(bpe, &layout, stop, max_token_len)
}

/// Merge a batch of token-id sequences (`max_token_len` as in
/// [`merge`](fn@merge)).
///
/// # Errors
/// [`crate::Error::InvalidArgument`] for an id that is not a token (the
/// message names `batch[i][j]`) or a bad stop rule.
pub fn merge_ids(
    bpe: &CoreBpe,
    seqs: &[Vec<Rank>],
    mode: Boundary,
    stop: &StopRule,
    max_token_len: Option<usize>,
) -> Result<Merged> {
    stop.validate()?;
    let layout = Layout::from_ids(bpe, seqs, mode)?;
    merge(bpe, &layout, stop, max_token_len)
}
