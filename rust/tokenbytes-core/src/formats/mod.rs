//! Other tokenizer file formats (GGUF, Mistral Tekken, tiktoken rank files),
//! converted to the Hugging Face `tokenizer.json` schema (issue 3).
//!
//! * [`gguf`]: a reader for the metadata of GGUF files (never the weights).
//! * [`gguf_tokenizer_json`]: a byte-level BPE GGUF vocabulary
//!   (`tokenizer.ggml.model == "gpt2"`) as a `tokenizer.json`, with the
//!   pre-tokenizer chosen by `tokenizer.ggml.pre` ([`pretable`]).
//! * [`tekken_tokenizer_json`]: a Mistral Tekken JSON file as a
//!   `tokenizer.json`.
//! * [`merges_from_ranks`] and [`tiktoken_tokenizer_json`]: merges derived
//!   from a tiktoken rank table, and the `tokenizer.json` of such a table.

pub mod gguf;
pub mod gguf_convert;
pub mod json;
pub mod pretable;

pub use gguf_convert::gguf_tokenizer_json;
pub mod merges;

pub use merges::{merges_from_ranks, tiktoken_tokenizer_json, RankMerges};
pub mod tekken;

pub use tekken::tekken_tokenizer_json;
