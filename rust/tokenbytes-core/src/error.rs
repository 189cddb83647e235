//! The single error type of the core crate.

use crate::Rank;

/// Everything that can go wrong in the core. Each variant carries the data a
/// caller needs to write a precise message; the bindings map them to Python
/// exception types (`ValueError`, `KeyError`, ...).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A line of a `.tiktoken` rank file could not be parsed.
    #[error("line {line}: {message}")]
    VocabLine { line: usize, message: String },

    /// The vocabulary as a whole is unusable (duplicates, missing bytes, ...).
    #[error("{0}")]
    InvalidVocab(String),

    /// The pre-tokenizer pattern does not compile.
    #[error("invalid pre-tokenizer pattern: {0}")]
    Pattern(String),

    /// The regex engine gave up while splitting the text (backtracking limit).
    #[error("pre-tokenizer regex failed on the input: {0}")]
    RegexRuntime(String),

    /// Text contains a special token that the caller did not allow.
    #[error("disallowed special token {token:?} found in the text")]
    DisallowedSpecial { token: String },

    /// A token id that is neither a mergeable rank nor a special token.
    #[error("invalid token id {0} for decoding")]
    UnknownTokenId(Rank),

    /// Byte string that is not a single token of the vocabulary.
    #[error("byte string is not a single token")]
    NotAToken(Vec<u8>),

    /// An argument out of its accepted range.
    #[error("{0}")]
    InvalidArgument(String),

    /// A component or option that is recognised but not supported.
    #[error("{0}")]
    NotImplemented(String),
}

/// Result alias of the core crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
