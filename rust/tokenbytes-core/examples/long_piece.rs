//! Times merging adversarial long pieces: bucket queue, binary heap,
//! backtracking and the path `encode_piece` takes.
//! `cargo run --release --example long_piece -- RANKS.tiktoken`
#![allow(clippy::unwrap_used)]
use std::time::Instant;
use tokenbytes_core::{
    long_piece::merge_by_buckets, pretokenize::PreTokenizer, special::SpecialTokens, vocab::Vocab,
    CoreBpe,
};

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let bpe = CoreBpe::new(
        Vocab::from_tiktoken(&std::fs::read(path).unwrap()).unwrap(),
        SpecialTokens::new(vec![]).unwrap(),
        PreTokenizer::new(r"\S+|\s+").unwrap(),
    )
    .unwrap();
    let mut seed = 1u64;
    let mut rnd = |alphabet: &[u8]| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        alphabet[(seed >> 33) as usize % alphabet.len()]
    };
    for n in [100_000usize, 1_000_000] {
        let inputs: Vec<(&str, Vec<u8>)> = vec![
            ("a", vec![b'a'; n]),
            ("space", vec![b' '; n]),
            ("^", vec![b'^'; n]),
            (
                "letters",
                (0..n)
                    .map(|_| rnd(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
                    .collect(),
            ),
            ("digits", (0..n).map(|_| rnd(b"0123456789")).collect()),
        ];
        for (name, piece) in &inputs {
            let v = bpe.vocab();
            let t = Instant::now();
            let mut a = Vec::new();
            let ok = merge_by_buckets(
                piece,
                |b| v.byte_rank(b),
                |_, _, x, y| {
                    if y - x > v.max_token_len() {
                        u32::MAX
                    } else {
                        v.rank(&piece[x..y]).unwrap_or(u32::MAX)
                    }
                },
                &mut a,
            );
            let tb = t.elapsed();
            let t = Instant::now();
            let mut b = Vec::new();
            bpe.merge_by_heap(piece, &mut b);
            let th = t.elapsed();
            let t = Instant::now();
            let mut c = Vec::new();
            bpe.merge_by_backtracking(piece, &mut c);
            let tc = t.elapsed();
            let t = Instant::now();
            let d = bpe.encode_piece(piece);
            let td = t.elapsed();
            println!(
                "{n:>8} {name:8} buckets {tb:>10.2?} (ok {ok}) heap {th:>10.2?} backtrack {tc:>10.2?} encode_piece {td:>10.2?} same {}",
                a == b && b == c && c == d
            );
        }
    }
}
