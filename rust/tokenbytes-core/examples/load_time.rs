//! Times the stages of building an encoder from a `.tiktoken` file.
//! `cargo run --release --example load_time -- FILE`
#![allow(clippy::unwrap_used)]
use std::time::Instant;
use tokenbytes_core::{pretokenize::PreTokenizer, special::SpecialTokens, vocab, CoreBpe};

fn main() {
    let path = std::env::args().nth(1).expect("usage: load_time FILE");
    let data = std::fs::read(path).unwrap();
    let t = Instant::now();
    let pairs = vocab::parse_tiktoken(&data).unwrap();
    let t0 = t.elapsed();
    let _direct = vocab::Vocab::from_tiktoken(&data).unwrap();
    println!("from_tiktoken {:?}", t.elapsed() - t0);
    let t1 = t.elapsed();
    let v = vocab::Vocab::new(pairs).unwrap();
    let t2 = t.elapsed();
    let bpe = CoreBpe::new(
        v,
        SpecialTokens::new(vec![]).unwrap(),
        PreTokenizer::new(r"\S+|\s+").unwrap(),
    )
    .unwrap();
    let t3 = t.elapsed();
    println!(
        "parse {t1:?} vocab {:?} core {:?} ({} tokens)",
        t2 - t1,
        t3 - t2,
        bpe.vocab().len()
    );
}
