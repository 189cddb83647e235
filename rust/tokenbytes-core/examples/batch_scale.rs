//! Scaling of encoding over threads in pure Rust (no Python lists): one
//! thread encodes every text, then `THREADS` threads share the texts
//! through a counter, alternately, and the best passes are compared.
//! `cargo run --release --example batch_scale -- RANKS.tiktoken PATTERN_NAME FILE.jsonl [REPS]`
#![allow(clippy::unwrap_used)]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

mod common;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = args.get(4).map_or(10, |s| s.parse().unwrap());
    let threads: usize = std::env::var("THREADS").map_or(2, |s| s.parse().unwrap());
    let bpe = common::bpe(&args[1], &args[2]);
    let texts = common::texts(&args[3]);
    let mb = texts.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    let single = || {
        let t = Instant::now();
        for x in &texts {
            std::hint::black_box(bpe.encode_ordinary(x).unwrap());
        }
        t.elapsed().as_secs_f64()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let batch = || {
        let next = AtomicUsize::new(0);
        let t = Instant::now();
        pool.scope(|s| {
            for _ in 0..threads {
                s.spawn(|_| {
                    while let Some(x) = texts.get(next.fetch_add(1, Ordering::Relaxed)) {
                        std::hint::black_box(bpe.encode_ordinary(x).unwrap());
                    }
                });
            }
        });
        t.elapsed().as_secs_f64()
    };
    single();
    batch();
    let (mut s, mut b) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        s.push(single());
        b.push(batch());
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "single {:.1} MB/s, {threads} threads {:.1} MB/s, ratio {:.2}",
        mb / best(&s),
        mb / best(&b),
        best(&s) / best(&b)
    );
}
