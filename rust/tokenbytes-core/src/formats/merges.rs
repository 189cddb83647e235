//! Merges of a tiktoken rank table, and its `tokenizer.json`.
//!
//! A tiktoken vocabulary has no merge list: encoding merges the adjacent
//! pair whose *concatenation* has the lowest rank. A `tokenizer.json` BPE
//! model needs ranked merge pairs instead. For each multi-byte token `c`, in
//! rank order, [`merges_from_ranks`] runs that concatenation BPE on the bytes
//! of `c` alone, with only the tokens ranked below `c` available; when it ends
//! in exactly two parts `x`, `y`, then `(x, y)` is the merge that builds `c`
//! (it gets the position of `c` in the merge list). Otherwise `c` cannot be
//! built by any merge ("unreachable"); with `ignore_merges` a piece that is
//! exactly `c` still becomes `c`, as in tiktoken.

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::json::{byte_to_char_table, bytes_to_level, AddedToken, PreStep, TokenizerSpec};
use crate::error::{Error, Result};
use crate::Rank;

/// The merges of a rank table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RankMerges {
    /// `(left, right, product)` for every multi-byte token that merges
    /// build, ordered by the product's rank (the merge priority).
    pub merges: Vec<(Rank, Rank, Rank)>,
    /// Multi-byte tokens no merge builds, in rank order.
    pub unreachable: Vec<Rank>,
}

/// Check a rank table: non-empty tokens, unique byte strings, unique ranks.
fn index(ranks: &[(Vec<u8>, Rank)]) -> Result<FxHashMap<&[u8], Rank>> {
    let mut by_bytes: FxHashMap<&[u8], Rank> = FxHashMap::default();
    by_bytes.reserve(ranks.len());
    let mut seen_ranks: FxHashSet<Rank> = FxHashSet::default();
    seen_ranks.reserve(ranks.len());
    for (bytes, rank) in ranks {
        if bytes.is_empty() {
            return Err(Error::InvalidVocab(format!(
                "rank {rank} is given to an empty byte string"
            )));
        }
        if let Some(prev) = by_bytes.insert(bytes, *rank) {
            return Err(Error::InvalidVocab(format!(
                "byte string {bytes:?} has two ranks ({prev} and {rank})"
            )));
        }
        if !seen_ranks.insert(*rank) {
            return Err(Error::InvalidVocab(format!(
                "rank {rank} is given to two byte strings"
            )));
        }
    }
    Ok(by_bytes)
}

/// Concatenation BPE of `bytes` with the tokens ranked below `limit`: the
/// boundaries of the final parts (`bounds[i]..bounds[i + 1]`).
fn bpe_below(table: &FxHashMap<&[u8], Rank>, bytes: &[u8], limit: Rank) -> Vec<usize> {
    let rank_of = |s: &[u8]| table.get(s).copied().filter(|&r| r < limit);
    let mut bounds: Vec<usize> = (0..=bytes.len()).collect();
    // pair[i]: rank of parts i and i + 1 joined.
    let mut pair: Vec<Option<Rank>> = (0..bytes.len().saturating_sub(1))
        .map(|i| rank_of(&bytes[i..i + 2]))
        .collect();
    loop {
        let mut best: Option<(Rank, usize)> = None;
        for (i, r) in pair.iter().enumerate() {
            if let Some(r) = *r {
                if best.is_none_or(|(b, _)| r < b) {
                    best = Some((r, i));
                }
            }
        }
        let Some((_, i)) = best else { break };
        // Join parts i and i + 1: drop boundary i + 1.
        bounds.remove(i + 1);
        pair.remove(i);
        if i < pair.len() {
            pair[i] = rank_of(&bytes[bounds[i]..bounds[i + 2]]);
        }
        if i > 0 {
            pair[i - 1] = rank_of(&bytes[bounds[i - 1]..bounds[i + 1]]);
        }
    }
    bounds
}

/// Derive the merge list of a tiktoken rank table (see the module docs).
///
/// `ranks` are `(token bytes, rank)` pairs in any order; single bytes need
/// not all be present (a token containing a byte that is no token is
/// unreachable). Runs on the rayon pool.
///
/// # Errors
/// [`Error::InvalidVocab`] for an empty token, a byte string with two ranks
/// or a rank given twice.
pub fn merges_from_ranks(ranks: &[(Vec<u8>, Rank)]) -> Result<RankMerges> {
    let table = index(ranks)?;
    let mut multi: Vec<(&[u8], Rank)> = ranks
        .iter()
        .filter(|(b, _)| b.len() >= 2)
        .map(|(b, r)| (b.as_slice(), *r))
        .collect();
    multi.sort_unstable_by_key(|&(_, r)| r);
    let found: Vec<std::result::Result<(Rank, Rank, Rank), Rank>> = multi
        .par_iter()
        .with_min_len(256)
        .map(|&(bytes, rank)| {
            let b = bpe_below(&table, bytes, rank);
            if b.len() == 3 {
                match (table.get(&bytes[..b[1]]), table.get(&bytes[b[1]..])) {
                    (Some(&x), Some(&y)) => Ok((x, y, rank)),
                    _ => Err(rank),
                }
            } else {
                Err(rank)
            }
        })
        .collect();
    let mut out = RankMerges::default();
    for f in found {
        match f {
            Ok(m) => out.merges.push(m),
            Err(r) => out.unreachable.push(r),
        }
    }
    Ok(out)
}

/// A `tokenizer.json` for a tiktoken encoding: its rank table (ids =
/// ranks), its split pattern (one `Split` regex, then byte-level mapping),
/// its special tokens (special added tokens) and the merges of
/// [`merges_from_ranks`], with `ignore_merges` (a piece that is a token is
/// emitted whole, as in tiktoken). No normalizer, no post-processor.
///
/// # Errors
/// [`Error::InvalidVocab`] as [`merges_from_ranks`], or when a special token
/// shares an id with a rank; [`Error::Pattern`] when `pattern` is empty.
pub fn tiktoken_tokenizer_json(
    ranks: &[(Vec<u8>, Rank)],
    pattern: &str,
    special_tokens: &[(String, Rank)],
) -> Result<String> {
    tiktoken_spec(ranks, pattern, special_tokens)?.to_json()
}

/// The [`TokenizerSpec`] behind [`tiktoken_tokenizer_json`].
///
/// # Errors
/// As [`tiktoken_tokenizer_json`].
pub fn tiktoken_spec(
    ranks: &[(Vec<u8>, Rank)],
    pattern: &str,
    special_tokens: &[(String, Rank)],
) -> Result<TokenizerSpec> {
    if pattern.is_empty() {
        return Err(Error::Pattern("the split pattern is empty".to_owned()));
    }
    let derived = merges_from_ranks(ranks)?;
    let table = byte_to_char_table();
    let mut level_of: FxHashMap<Rank, String> = FxHashMap::default();
    level_of.reserve(ranks.len());
    for (bytes, rank) in ranks {
        level_of.insert(*rank, bytes_to_level(&table, bytes));
    }
    for (content, id) in special_tokens {
        if level_of.contains_key(id) {
            return Err(Error::InvalidVocab(format!(
                "special token {content:?} has id {id}, which is also a rank of the vocabulary"
            )));
        }
    }
    let text = |r: Rank| level_of.get(&r).cloned().unwrap_or_default();
    let merges = derived
        .merges
        .iter()
        .map(|&(x, y, _)| (text(x), text(y)))
        .collect();
    let mut vocab: Vec<(String, Rank)> = level_of.into_iter().map(|(r, s)| (s, r)).collect();
    vocab.sort_unstable_by_key(|&(_, r)| r);
    Ok(TokenizerSpec {
        vocab,
        merges,
        added: special_tokens
            .iter()
            .map(|(content, id)| AddedToken {
                id: *id,
                content: content.clone(),
                special: true,
            })
            .collect(),
        pre: vec![PreStep::Split(pattern.to_owned())],
        ignore_merges: true,
        bos: None,
        eos: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(tokens: &[&[u8]]) -> Vec<(Vec<u8>, Rank)> {
        let mut out: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
        for (i, t) in tokens.iter().enumerate() {
            out.push((t.to_vec(), 256 + i as Rank));
        }
        out
    }

    #[test]
    fn derives_merges_in_rank_order() {
        // "ab" < "bc" < "abc" (built as ab + c, the lower-ranked first merge)
        // < "bcd"; "xyz" cannot be built: "xy" and "yz" do not exist.
        let t = table(&[b"ab", b"bc", b"abc", b"bcd", b"xyz", b"cd"]);
        let m = merges_from_ranks(&t).expect("valid");
        let ab = 256;
        let bc = 257;
        assert_eq!(
            m.merges,
            vec![
                (97, 98, ab),
                (98, 99, bc),
                (ab, 99, 258),
                (bc, 100, 259),
                (99, 100, 261)
            ]
        );
        assert_eq!(m.unreachable, vec![260]);
    }

    #[test]
    fn only_lower_ranks_are_used() {
        // "abc" ranks before "bc": its BPE may not use "bc", so a + bc is not
        // its merge even though both parts exist.
        let t = table(&[b"ab", b"abc", b"bc"]);
        let m = merges_from_ranks(&t).expect("valid");
        assert_eq!(m.merges[1], (256, 99, 257));
        // A byte that is not a token makes its tokens unreachable.
        let t = vec![(b"a".to_vec(), 0), (b"ab".to_vec(), 1)];
        let m = merges_from_ranks(&t).expect("valid");
        assert_eq!(m.unreachable, vec![1]);
    }

    #[test]
    fn invalid_tables_are_errors() {
        assert!(merges_from_ranks(&[(vec![], 0)]).is_err());
        assert!(merges_from_ranks(&[(b"a".to_vec(), 0), (b"a".to_vec(), 1)]).is_err());
        assert!(merges_from_ranks(&[(b"a".to_vec(), 0), (b"b".to_vec(), 0)]).is_err());
        let t = table(&[]);
        assert!(tiktoken_tokenizer_json(&t, "", &[]).is_err());
        assert!(tiktoken_tokenizer_json(&t, "x", &[("<s>".into(), 3)]).is_err());
    }

    /// A slow, obviously correct version: try every split point of every
    /// multi-byte token whose parts are lower-ranked tokens, and check the
    /// derived merge is the result of plain, unoptimised concat BPE.
    #[test]
    fn matches_a_naive_derivation_on_random_tables() {
        let mut rng = crate::testing::Lcg(7);
        for _ in 0..30 {
            let mut toks: Vec<Vec<u8>> = Vec::new();
            let mut seen = FxHashSet::default();
            while toks.len() < 60 {
                let len = 2 + (rng.next() % 5) as usize;
                let t: Vec<u8> = (0..len).map(|_| b'a' + (rng.next() % 3) as u8).collect();
                if seen.insert(t.clone()) {
                    toks.push(t);
                }
            }
            let refs: Vec<&[u8]> = toks.iter().map(Vec::as_slice).collect();
            let t = table(&refs);
            let m = merges_from_ranks(&t).expect("valid");
            let map: FxHashMap<&[u8], Rank> = t.iter().map(|(b, r)| (b.as_slice(), *r)).collect();
            let mut reach = 0;
            for (bytes, rank) in t.iter().filter(|(b, _)| b.len() >= 2) {
                let mut parts: Vec<Vec<u8>> = bytes.iter().map(|&b| vec![b]).collect();
                loop {
                    let mut best: Option<(Rank, usize)> = None;
                    for i in 0..parts.len().saturating_sub(1) {
                        let joined = [parts[i].as_slice(), parts[i + 1].as_slice()].concat();
                        if let Some(&r) = map.get(joined.as_slice()) {
                            if r < *rank && best.is_none_or(|(b, _)| r < b) {
                                best = Some((r, i));
                            }
                        }
                    }
                    let Some((_, i)) = best else { break };
                    let right = parts.remove(i + 1);
                    parts[i].extend(right);
                }
                if parts.len() == 2 {
                    reach += 1;
                    let x = map[parts[0].as_slice()];
                    let y = map[parts[1].as_slice()];
                    assert!(m.merges.contains(&(x, y, *rank)));
                } else {
                    assert!(m.unreachable.contains(rank));
                }
            }
            assert_eq!(m.merges.len(), reach);
        }
    }
}
