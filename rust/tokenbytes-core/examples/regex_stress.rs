//! Splits adversarial inputs with the general regex engine and reports time.
//! `cargo run --release --example regex_stress -- PATTERN_NAME`
#![allow(clippy::unwrap_used)]
use std::time::Instant;
use tokenbytes_core::pretokenize::PreTokenizer;
fn main() {
    let o200k = [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}", r" ?[^\s\p{L}\p{N}]+[\r\n/]*", r"\s*[\r\n]+", r"\s+(?!\S)", r"\s+",
    ].join("|");
    let cl = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
    for (name, pat) in [("o200k", o200k.as_str()), ("cl100k", cl)] {
        let p = PreTokenizer::regex(pat).unwrap();
        for (what, text) in [
            ("^", "^".repeat(1_000_000)),
            ("a", "a".repeat(1_000_000)),
            ("sp", " ".repeat(1_000_000) + "a"),
            ("digits", "7".repeat(1_000_000)),
        ] {
            let t = Instant::now();
            let r = p.pieces(&text).map(|v| v.len());
            println!("{name} {what}: {:?} {:?}", r, t.elapsed());
        }
    }
}
