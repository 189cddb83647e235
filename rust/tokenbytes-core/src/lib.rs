//! # tokenbytes-core
//!
//! Pure-Rust core of `tokenbytes` (no Python dependency):
//!
//! * [`vocab`]: token tables (rank ↔ bytes), `.tiktoken` rank-file parsing with
//!   validation, special tokens.
//! * [`pretokenize`]: splitting text into pieces with an encoding's pattern,
//!   hand-written fast splitters for the known OpenAI patterns and a general
//!   regex fallback with identical semantics.
//! * [`bpe`]: the byte-pair encoder and decoder ([`bpe::CoreBpe`]).
//! * [`parallel`]: the owned thread pool used by batch calls.
//!
//! Token ids are [`Rank`]s (`u32`), as in tiktoken: a lower rank merges first.

pub mod bpe;
pub mod byteprob;
pub mod dynamic;
pub mod error;
pub mod formats;
pub mod hf;
pub mod long_piece;
pub mod parallel;
pub mod pretokenize;
pub mod special;
pub mod table;
#[cfg(test)]
mod testing;
pub mod vocab;

pub use bpe::CoreBpe;
pub use error::{Error, Result};

/// Ask the CPU to start loading the cache line at `p`, to be read or
/// written soon (no effect on architectures without a prefetch
/// instruction). A hint only: it never faults, whatever `p` is.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never dereferences `p` architecturally.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A token id; for mergeable tokens, the merge priority (lower merges first).
pub type Rank = u32;
