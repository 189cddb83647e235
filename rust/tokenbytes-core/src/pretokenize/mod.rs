//! Pre-tokenization: splitting text into pieces before BPE.
//!
//! Every encoding has a pattern (`pat_str`); BPE runs inside each piece and
//! never across pieces. [`PreTokenizer::new`] recognises the patterns of the
//! OpenAI encodings ([`R50K_PATTERN`], [`CL100K_PATTERN`], [`O200K_PATTERN`]),
//! Llama-3 ([`LLAMA3_PATTERN`]) and Qwen2 ([`QWEN2_PATTERN`]) and uses a
//! hand-written, linear-time splitter for them that produces exactly the matches of the regex engine;
//! any other pattern runs through `fancy-regex` (look-around and possessive
//! quantifiers supported), exactly as tiktoken does.

mod fast;
mod tables;

#[cfg(test)]
mod tests;

use crate::error::{Error, Result};

/// The pattern of `r50k_base`, `p50k_base`, `p50k_edit` and `gpt2`.
pub const R50K_PATTERN: &str =
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";

/// The pattern of `cl100k_base`.
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// The pattern of `o200k_base` (and `o200k_harmony`).
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// The pattern of the Llama-3 tokenizer.
pub const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pattern of the Qwen2 (Qwen2.5, Qwen3) tokenizer: Llama-3's with
/// single digits.
pub const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A compiled pre-tokenizer.
#[derive(Debug, Clone)]
pub struct PreTokenizer {
    pattern: String,
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    /// A hand-written splitter with the exact semantics of the pattern.
    Fast(fast::Kind),
    /// The general regex engine.
    Regex(fancy_regex::Regex),
}

impl PreTokenizer {
    /// Compile `pattern`. The patterns of the known encodings (the `*_PATTERN`
    /// constants of this module, byte for byte) get a hand-written splitter;
    /// any other pattern uses the regex engine.
    ///
    /// # Errors
    /// [`Error::Pattern`] if the pattern does not compile.
    pub fn new(pattern: &str) -> Result<Self> {
        let kind = match pattern {
            R50K_PATTERN => fast::Kind::R50k,
            CL100K_PATTERN => fast::Kind::Cl100k,
            O200K_PATTERN => fast::Kind::O200k,
            LLAMA3_PATTERN => fast::Kind::Llama3,
            QWEN2_PATTERN => fast::Kind::Qwen2,
            _ => return Self::regex(pattern),
        };
        Ok(Self {
            pattern: pattern.to_owned(),
            engine: Engine::Fast(kind),
        })
    }

    /// Compile `pattern` for the general regex engine (`fancy-regex`), even
    /// if a hand-written splitter exists for it (reference for tests and
    /// benchmarks).
    ///
    /// # Errors
    /// [`Error::Pattern`] if the pattern does not compile.
    pub fn regex(pattern: &str) -> Result<Self> {
        let regex = fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(10_000_000)
            .build()
            .map_err(|e| Error::Pattern(e.to_string()))?;
        Ok(Self {
            pattern: pattern.to_owned(),
            engine: Engine::Regex(regex),
        })
    }

    /// The pattern this pre-tokenizer implements.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether this pre-tokenizer uses a hand-written splitter (rather than
    /// the regex engine).
    #[must_use]
    pub fn is_hand_written(&self) -> bool {
        matches!(self.engine, Engine::Fast(_))
    }

    /// Call `f` with every piece of `text`, in order. Pieces are non-empty
    /// and, for the patterns of real encodings, cover `text` completely.
    ///
    /// # Errors
    /// [`Error::RegexRuntime`] if the regex engine gives up (never for the
    /// hand-written splitters).
    #[inline]
    pub fn split<'a, F: FnMut(&'a str)>(&self, text: &'a str, mut f: F) -> Result<()> {
        match &self.engine {
            Engine::Fast(kind) => {
                kind.split(text, f);
                Ok(())
            }
            Engine::Regex(regex) => {
                for m in regex.find_iter(text) {
                    let m = m.map_err(|e| Error::RegexRuntime(e.to_string()))?;
                    if !m.as_str().is_empty() {
                        f(m.as_str());
                    }
                }
                Ok(())
            }
        }
    }

    /// Call `f` with the byte range of every piece of `text` and of every
    /// non-empty stretch before, between and after the pieces (a pattern
    /// that does not match everything leaves such gaps), in order: together
    /// the ranges cover `text` exactly.
    ///
    /// # Errors
    /// As [`PreTokenizer::split`].
    #[inline]
    pub fn split_covering<F: FnMut(usize, usize)>(&self, text: &str, mut f: F) -> Result<()> {
        let base = text.as_ptr() as usize;
        let mut prev = 0usize;
        self.split(text, |piece| {
            let a = piece.as_ptr() as usize - base;
            if a > prev {
                f(prev, a);
            }
            prev = a + piece.len();
            f(a, prev);
        })?;
        if prev < text.len() {
            f(prev, text.len());
        }
        Ok(())
    }

    /// The pieces of `text` as a vector (convenience for tests and tools).
    ///
    /// # Errors
    /// As [`PreTokenizer::split`].
    pub fn pieces<'a>(&self, text: &'a str) -> Result<Vec<&'a str>> {
        let mut out = Vec::new();
        self.split(text, |p| out.push(p))?;
        Ok(out)
    }
}
