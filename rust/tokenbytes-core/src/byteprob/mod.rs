//! Exact byte-level probabilities from tokenized language models (issue 4).
//!
//! A language model over tokens defines, through its tokenizer, a
//! distribution over byte strings. This module computes that byte-level
//! distribution exactly, one byte at a time, so that a prompt may end
//! anywhere — in the middle of a token, of a word or of a UTF-8 character —
//! without the usual "tokenization bias" of reading the next token's first
//! byte from the canonical encoding of the prompt.
//!
//! Sources of the method: Phan, Amos, Gat, Havasi, Muckley, Ullrich, "Exact
//! Byte-Level Probabilities from Tokenized Language Models for FIM-Tasks and
//! Model Ensembles" (arXiv 2410.09303; the Byte-Token Representation Lemma
//! and cover encodings); Hayase et al., "Sampling from Your Language Model
//! One Byte at a Time" (arXiv 2506.14123; validity of token sequences and
//! pre-tokenizer branches); Vieira et al. (arXiv 2412.03719; the
//! character-level view). The text and code here are our own.
//!
//! # The objects
//!
//! * A token `v` has a byte string `β(v)` (special tokens such as
//!   end-of-sequence have none). A token sequence `T = t₁…t_k` decodes to
//!   `β(t₁)…β(t_k)`.
//! * The tokenizer maps every text `y` to one token sequence `enc(y)`. A
//!   token sequence is **valid** when it is a prefix of `enc(y)` for at least
//!   one text `y`. A model trained on tokenized text only ever sees valid
//!   sequences, so an exact model gives probability 0 to every invalid one.
//! * The token-level model gives `P_T(T)`, the probability that the encoding
//!   of the (random) text starts with `T`, as the product of its next-token
//!   probabilities; `P_T(EOS | T)` ends the text.
//!
//! # Covers
//!
//! For a byte prefix `x` of length `n`, `cover(x)` is the set of valid
//! token sequences `T = t₁…t_k` such that
//! * `t₁…t_{k-1}` decodes to a *proper* prefix of `x` (every token but the
//!   last ends strictly before byte `n`), and
//! * `x` is a prefix of the decoding of `T` (the last token reaches or passes
//!   byte `n`).
//!
//! A cover is **exact** when it decodes to exactly `x` (its last token ends
//! at `n`); the set of exact covers is `E(x)`. It is **straddling** when its
//! last token runs past `n`; the bytes of that token after `n` are the
//! cover's *remaining bytes*, and the set is `S(x)`.
//!
//! **Representation lemma.** `P(text starts with x) = Σ_{T ∈ cover(x)}
//! P_T(T)`. Every text `y` that starts with `x` has one encoding; the
//! shortest prefix of that encoding whose decoding reaches `n` bytes is a
//! cover of `x`, and it is the only cover that is a prefix of `enc(y)` (a
//! longer one would have a second-to-last token ending at or after `n`, a
//! shorter one would not reach `n`). So the events "`enc(y)` starts with
//! `T`", `T ∈ cover(x)`, split the event "`y` starts with `x`" into disjoint
//! pieces, and their probabilities add up.
//!
//! # The next byte
//!
//! Extending `x` by a byte `b` either continues a straddling cover (its next
//! remaining byte is `b`) or starts a new token right after an exact cover
//! (a token whose first byte is `b`):
//!
//! ```text
//! P(x·b)   = Σ_{T ∈ S(x), rem(T)[0] = b} P_T(T)
//!          + Σ_{T ∈ E(x)} P_T(T) · Σ_{v : β(v)[0] = b, T·v valid} P_T(v | T)
//! P(x·end) = Σ_{T ∈ E(x)} P_T(T) · P_T(EOS | T)
//! P(b | x) = P(x·b) / P(x)
//! ```
//!
//! So each exact cover needs one next-token row of the model, which is
//! *scattered* into 256 byte bins by each token's first byte, one
//! end-of-text bin and one bin per special token that may end the text (a
//! FIM end-of-middle marker, say); the straddling covers need no model call.
//! The scatter runs in log space with `f64` accumulation whatever the dtype
//! of the row.
//!
//! # Incremental update
//!
//! After appending byte `b`:
//!
//! ```text
//! cover(x·b) = { T ∈ S(x) : rem(T)[0] = b }
//!            ∪ { T·v : T ∈ E(x), β(v)[0] = b, T·v valid }
//! ```
//!
//! with `P_T(T·v) = P_T(T) · P_T(v | T)` read from the row already fetched for
//! `T`. Straddling covers whose remaining bytes run out become exact. The
//! new exact covers are the only contexts that need a model row, so
//! generation costs about one row per byte. The straddling covers that come
//! from one exact cover `T` at byte offset `i` are all the valid tokens that
//! start with `x[i..]`: they are kept as one *group* (a range of the
//! vocabulary sorted by bytes, narrowed at each byte) rather than one by one.
//!
//! Computing the covers of a prompt from scratch is the same lattice over
//! byte positions: the exact covers of position `i` each extend by the
//! tokens that are prefixes of `x[i..]` (new exact covers further on) or
//! that start with `x[i..]` and run past the end (straddling covers).
//!
//! # Validity
//!
//! With an exact model, invalid sequences have probability 0 and the
//! formulas hold without any check. Real models leak some probability onto
//! invalid sequences; restricting the covers (and the scatter) to valid ones
//! gives the byte-level model of the *canonical* token process, and keeps
//! the number of exact covers, hence of model rows, near one.
//!
//! * **BPE pairs.** Inside one pre-token, a token sequence is valid exactly
//!   when every adjacent pair `(l, r)` is, i.e. BPE of `β(l)β(r)` gives back
//!   `[l, r]`. The pair test needs no re-encoding: when BPE runs on
//!   `β(l)β(r)`, the only merges that can cross the boundary join the piece
//!   of `l` currently touching the boundary (a step of `l`'s *right spine*,
//!   the chain of merges that built `l`'s last byte into `l`) with the piece
//!   of `r` touching it (a step of `r`'s *left spine*). With merge ranks that
//!   grow along every merge tree (true of trained merge lists), merges fire
//!   in rank order, so the pair is invalid exactly when some merge
//!   `(lᵢ, rⱼ)` of rank `m` exists with `m` below the rank of `l`'s next
//!   right-spine step and not above the rank of `r`'s next left-spine step
//!   (equal ranks fire left to right). A token that BPE cannot build from its
//!   own bytes is *unreachable*: it is never valid, except as a whole
//!   pre-token under `ignore_merges` (tiktoken's rule: a piece that is a
//!   token is emitted whole), where a multi-token pre-token must also not be
//!   a token itself.
//! * **Pre-tokenizer boundaries.** Tokens never cross a pre-token boundary,
//!   and there is no pair test across one. Where the boundaries lie near the
//!   end of the known bytes depends on bytes not seen yet (whitespace
//!   lookahead `\s+(?!\S)`, contractions, a word that may continue), so each
//!   position is *forced* (a boundary for every continuation), *never* a
//!   boundary, or *open*. Several exact covers can then be valid at once
//!   (two spaces may be `["  "]` or `[" ", " "]`, the second one continuing
//!   as `" "`, `" aa"`). Covers are checked against forced and never
//!   positions only, and re-checked as later bytes settle open positions, so
//!   no valid cover is ever dropped. Everything before the last forced
//!   boundary is encoded in exactly one way and becomes the common *trunk*.
//! * **Special tokens** are boundaries too: covers start after the last
//!   special token of the context (FIM).
//!
//! Bytes that no token can produce (some vocabularies lack a few byte
//! values) simply have no cover: their probability is 0.

mod chunks;
mod index;
mod model;
mod pairs;
mod state;
#[cfg(test)]
mod tests;

pub use chunks::{Chunker, Status, WindowStatus};
pub use index::VocabIndex;
pub use model::{check_row, log_add, log_sum, ByteModel, Follow, ModelSpec, RowMask, END_BIN};
pub use pairs::{MergeRule, PairRules};
pub use state::{Next, Row, RowSource, State};
