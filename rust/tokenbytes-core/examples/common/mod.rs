//! Loading shared by the examples: a tiktoken rank file under one of the
//! OpenAI patterns, and the texts of a corpus `.jsonl` file.
#![allow(dead_code, clippy::unwrap_used)]
use tokenbytes_core::{
    pretokenize, pretokenize::PreTokenizer, special::SpecialTokens, vocab::Vocab, CoreBpe,
};

/// An encoder over the rank file at `ranks` (uncompressed `.tiktoken`) with
/// the pattern named `pattern`: `cl100k`, `o200k`, anything else r50k.
pub fn bpe(ranks: &str, pattern: &str) -> CoreBpe {
    let vocab = Vocab::from_tiktoken(&std::fs::read(ranks).unwrap()).unwrap();
    let pat = match pattern {
        "cl100k" => pretokenize::CL100K_PATTERN,
        "o200k" => pretokenize::O200K_PATTERN,
        _ => pretokenize::R50K_PATTERN,
    };
    CoreBpe::new(
        vocab,
        SpecialTokens::new(vec![]).unwrap(),
        PreTokenizer::new(pat).unwrap(),
    )
    .unwrap()
}

/// The `text` field of each line of a `.jsonl` file.
pub fn texts(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}
