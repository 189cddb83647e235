//! One merge method over the corpus pieces that are not tokens, for
//! instruction counts that do not depend on machine load:
//! `valgrind --tool=callgrind target/release/examples/merge_cost RANKS PATTERN FILE METHOD [MIN MAX [LIMIT]]`
//! with METHOD one of `scan`, `heap`, `backtrack`, `piece` (the cached path
//! `encode_piece` takes) or `encode` (whole texts), pieces of MIN..MAX bytes
//! (default all), at most LIMIT bytes of text (default all).
#![allow(clippy::unwrap_used)]
mod common;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bpe = common::bpe(&args[1], &args[2]);
    let method = args[4].as_str();
    let lo: usize = args.get(5).map_or(2, |s| s.parse().unwrap());
    let hi: usize = args.get(6).map_or(usize::MAX, |s| s.parse().unwrap());
    let limit: usize = args.get(7).map_or(usize::MAX, |s| s.parse().unwrap());
    let mut texts: Vec<String> = Vec::new();
    let mut total = 0;
    for l in std::fs::read_to_string(&args[3]).unwrap().lines() {
        let t = serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
            .as_str()
            .unwrap()
            .to_owned();
        total += t.len();
        texts.push(t);
        if total >= limit {
            break;
        }
    }
    if method == "encode" {
        let n: usize = texts
            .iter()
            .map(|x| bpe.encode_ordinary(x).unwrap().len())
            .sum();
        println!("{total} bytes, {n} tokens");
        return;
    }
    let mut pieces: Vec<&[u8]> = Vec::new();
    for x in &texts {
        bpe.pretokenizer()
            .split(x, |p| {
                let p = p.as_bytes();
                if p.len() >= lo && p.len() < hi && bpe.vocab().rank(p).is_none() {
                    pieces.push(p);
                }
            })
            .unwrap();
    }
    let mut out = Vec::new();
    let mut n = 0;
    for p in &pieces {
        out.clear();
        match method {
            "scan" => bpe.merge_by_scan(p, &mut out),
            "heap" => bpe.merge_by_heap(p, &mut out),
            "backtrack" => bpe.merge_by_backtracking(p, &mut out),
            "piece" => bpe.encode_piece_into(p, &mut out),
            _ => {}
        }
        n += out.len();
    }
    let bytes: usize = pieces.iter().map(|p| p.len()).sum();
    println!("{} pieces, {bytes} bytes, {n} tokens", pieces.len());
}
