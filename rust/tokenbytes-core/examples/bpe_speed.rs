//! Where encoding time goes, per corpus file: pre-tokenization alone, then
//! BPE of the pieces by piece length, scan vs heap.
//! `cargo run --release --example bpe_speed -- RANKS.tiktoken PATTERN_NAME FILE.jsonl`
#![allow(clippy::unwrap_used)]
use std::time::Instant;

mod common;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bpe = common::bpe(&args[1], &args[2]);
    let texts = common::texts(&args[3]);
    let only_encode = std::env::var_os("ONLY_ENCODE").is_some();
    let total: usize = texts.iter().map(String::len).sum();
    let mb = total as f64 / 1e6;
    if only_encode {
        // CPU time of this thread (s), less disturbed by other processes
        // than wall time on a shared machine.
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
        }
        let cpu = || -> f64 {
            let mut t = Timespec { sec: 0, nsec: 0 };
            // SAFETY: `t` is a valid out-pointer; 3 is CLOCK_THREAD_CPUTIME_ID.
            let rc = unsafe { clock_gettime(3, &mut t) };
            if rc == 0 {
                t.sec as f64 + t.nsec as f64 / 1e9
            } else {
                f64::NAN
            }
        };
        let mut best = (f64::MAX, f64::MAX);
        let mut n = 0;
        for _ in 0..5 {
            let (t, c) = (Instant::now(), cpu());
            n = texts
                .iter()
                .map(|x| bpe.encode_ordinary(x).unwrap().len())
                .sum();
            best.0 = best.0.min(t.elapsed().as_secs_f64());
            best.1 = best.1.min(cpu() - c);
        }
        println!(
            "encode: {:.1} MB/s wall, {:.1} MB/s cpu ({n} tokens)",
            mb / best.0,
            mb / best.1
        );
        return;
    }
    let t = Instant::now();
    let mut pieces: Vec<&str> = Vec::new();
    for x in &texts {
        bpe.pretokenizer().split(x, |p| pieces.push(p)).unwrap();
    }
    let split = t.elapsed().as_secs_f64();
    println!("split: {:.1} MB/s ({} pieces)", mb / split, pieces.len());
    let t = Instant::now();
    let mut hits = 0;
    for p in &pieces {
        hits += usize::from(bpe.vocab().rank(p.as_bytes()).is_some());
    }
    println!(
        "lookup: {:.1} MB/s ({:.1}% pieces are tokens)",
        mb / t.elapsed().as_secs_f64(),
        100.0 * hits as f64 / pieces.len() as f64
    );
    let misses: Vec<&[u8]> = pieces
        .iter()
        .map(|p| p.as_bytes())
        .filter(|p| bpe.vocab().rank(p).is_none())
        .collect();
    for (lo, hi) in [
        (2, 8),
        (8, 16),
        (16, 32),
        (32, 64),
        (64, 128),
        (128, 100_000),
    ] {
        let group: Vec<&[u8]> = misses
            .iter()
            .copied()
            .filter(|p| p.len() >= lo && p.len() < hi)
            .collect();
        if group.is_empty() {
            continue;
        }
        let bytes: usize = group.iter().map(|p| p.len()).sum();
        let mut out = Vec::new();
        let t = Instant::now();
        for p in &group {
            out.clear();
            bpe.merge_by_scan(p, &mut out);
        }
        let scan = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for p in &group {
            out.clear();
            bpe.merge_by_heap(p, &mut out);
        }
        let heap = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for p in &group {
            out.clear();
            bpe.merge_by_backtracking(p, &mut out);
        }
        let back = t.elapsed().as_secs_f64();
        println!(
            "  len {lo:>3}..{hi:<6} {:>7} pieces {:>9} bytes: scan {:.3}s heap {:.3}s backtrack {:.3}s",
            group.len(),
            bytes,
            scan,
            heap,
            back
        );
    }
    let t = Instant::now();
    let mut n = 0;
    for x in &texts {
        n += bpe.encode_ordinary(x).unwrap().len();
    }
    println!(
        "encode: {:.1} MB/s ({} tokens)",
        mb / t.elapsed().as_secs_f64(),
        n
    );
}
