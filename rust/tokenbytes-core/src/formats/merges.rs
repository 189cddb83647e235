//! Merges of a tiktoken rank table, and its `tokenizer.json`.
//!
//! A tiktoken vocabulary has no merge list: encoding merges the adjacent
//! pair whose *concatenation* has the lowest rank. A `tokenizer.json` BPE
//! model needs ranked merge pairs instead. For each multi-byte token `c`, in
//! rank order, [`merges_from_ranks`] runs that concatenation BPE on the bytes
//! of `c` alone, with only the tokens ranked below `c` available; when it ends
//! in exactly two parts `x`, `y`, then `(x, y)` is the merge that builds `c`
//! (it gets the position of `c` in the merge list). Otherwise `c` cannot be
//! built by merges of lower-ranked tokens ("unreachable").
//!
//! For a `tokenizer.json` that encodes exactly as tiktoken, the merge of a
//! token is the last merge of the concatenation BPE of its bytes with *every*
//! other token available: in tiktoken, the parts inside one piece are always
//! the isolated BPE of their own bytes, so a token forms inside a piece only
//! from that split. For tokens reachable from lower ranks both rules give the
//! same merge; for the others ([`RankMerges::late`]) only the second finds
//! it (when it exists). A token neither rule builds appears only as a whole
//! piece, which `ignore_merges` (a piece that is a token is emitted whole,
//! tiktoken's rule) handles. Merges ordered by the product's rank then give
//! `tokenizers`' pair-rank BPE the same choices as tiktoken's
//! lowest-concatenation-rank rule, leftmost first on ties in both.

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
    /// Multi-byte tokens no merge of lower-ranked tokens builds, in rank
    /// order.
    pub unreachable: Vec<Rank>,
    /// For unreachable tokens that tiktoken still builds inside longer
    /// pieces, `(left, right, product)`: the last merge of the concatenation
    /// BPE of the token's bytes with every other token available (the parts
    /// rank after the product: a vocabulary whose ranks are not a merge
    /// order, as Llama-3's additions to cl100k). By product rank.
    pub late: Vec<(Rank, Rank, Rank)>,
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
    bpe_with(bytes, |s| table.get(s).copied().filter(|&r| r < limit))
}

/// Concatenation BPE of `bytes` with every token except `rank` (the bytes
/// themselves): the boundaries of the final parts.
fn bpe_below_except(table: &FxHashMap<&[u8], Rank>, bytes: &[u8], rank: Rank) -> Vec<usize> {
    bpe_with(bytes, |s| table.get(s).copied().filter(|&r| r != rank))
}

/// Concatenation BPE of `bytes` where `rank_of` gives the usable tokens.
fn bpe_with(bytes: &[u8], rank_of: impl Fn(&[u8]) -> Option<Rank>) -> Vec<usize> {
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
    #[allow(clippy::type_complexity)]
    let found: Vec<(Option<(Rank, Rank, Rank)>, Option<(Rank, Rank, Rank)>)> = multi
        .par_iter()
        .with_min_len(256)
        .map(|&(bytes, rank)| {
            let split = |b: &[usize]| -> Option<(Rank, Rank, Rank)> {
                if b.len() != 3 {
                    return None;
                }
                match (table.get(&bytes[..b[1]]), table.get(&bytes[b[1]..])) {
                    (Some(&x), Some(&y)) => Some((x, y, rank)),
                    _ => None,
                }
            };
            match split(&bpe_below(&table, bytes, rank)) {
                Some(m) => (Some(m), None),
                // Every token except this one (the whole span).
                None => (None, split(&bpe_below_except(&table, bytes, rank))),
            }
        })
        .collect();
    let mut out = RankMerges::default();
    for ((m, late), &(_, rank)) in found.into_iter().zip(&multi) {
        match m {
            Some(m) => out.merges.push(m),
            None => {
                out.unreachable.push(rank);
                out.late.extend(late);
            }
        }
    }
    Ok(out)
}

/// Rewrite a tiktoken split pattern (Rust `fancy-regex` syntax) so that it
/// means the same in `tokenizers`' engine (Oniguruma, Ruby syntax) and in
/// fancy-regex:
/// * `X{n,m}+` is possessive in fancy-regex but a repetition of `X{n,m}` in
///   Oniguruma (cl100k's `\p{N}{1,3}+` would take whole digit runs): it
///   becomes the atomic group `(?>X{n,m})`, the same in both;
/// * `$` and `^` outside classes are the text's end and start in
///   fancy-regex but line ends and starts in Oniguruma: they become `\z` and
///   `\A`.
///
/// `*+`, `++`, `?+` (possessive in both) and everything else are kept.
pub fn portable_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    // Byte position in `out` where the last quantifiable atom starts.
    let mut atom: Option<usize> = None;
    let mut groups: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let start = out.len();
                out.push(c);
                i += 1;
                if let Some(&e) = chars.get(i) {
                    out.push(e);
                    i += 1;
                    let braced = matches!(e, 'p' | 'P' | 'x' | 'u') && chars.get(i) == Some(&'{');
                    if braced {
                        while let Some(&d) = chars.get(i) {
                            out.push(d);
                            i += 1;
                            if d == '}' {
                                break;
                            }
                        }
                    } else if matches!(e, 'p' | 'P') {
                        // One-letter class name: \pL.
                        if let Some(&d) = chars.get(i) {
                            out.push(d);
                            i += 1;
                        }
                    }
                }
                atom = Some(start);
            }
            '[' => {
                let start = out.len();
                let mut depth = 0usize;
                let mut first = true;
                while let Some(&d) = chars.get(i) {
                    out.push(d);
                    i += 1;
                    match d {
                        '\\' => {
                            if let Some(&e) = chars.get(i) {
                                out.push(e);
                                i += 1;
                            }
                        }
                        '[' => depth += 1,
                        ']' if !first => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    // A ']' right after '[' or '[^' is a literal.
                    first = d == '[' || (d == '^' && out.ends_with("[^"));
                }
                atom = Some(start);
            }
            '(' => {
                groups.push(out.len());
                out.push(c);
                i += 1;
                atom = None;
            }
            ')' => {
                out.push(c);
                i += 1;
                atom = groups.pop();
            }
            '|' => {
                out.push(c);
                i += 1;
                atom = None;
            }
            '$' => {
                atom = Some(out.len());
                out.push_str("\\z");
                i += 1;
            }
            '^' => {
                atom = Some(out.len());
                out.push_str("\\A");
                i += 1;
            }
            '{' => {
                let close = chars[i..].iter().position(|&d| d == '}').map(|p| i + p);
                let counted = close.is_some_and(|end| {
                    let body: String = chars[i + 1..end].iter().collect();
                    let mut parts = body.splitn(2, ',');
                    let lo = parts.next().unwrap_or("");
                    let hi = parts.next();
                    !lo.is_empty()
                        && lo.chars().all(|d| d.is_ascii_digit())
                        && hi.is_none_or(|h| h.chars().all(|d| d.is_ascii_digit()))
                });
                match (counted, close, atom) {
                    (true, Some(end), Some(start)) if chars.get(end + 1) == Some(&'+') => {
                        let rep: String = chars[i..=end].iter().collect();
                        let inner = out.split_off(start);
                        out.push_str("(?>");
                        out.push_str(&inner);
                        out.push_str(&rep);
                        out.push(')');
                        i = end + 2;
                        atom = None;
                    }
                    (true, Some(end), _) => {
                        out.extend(&chars[i..=end]);
                        i = end + 1;
                    }
                    _ => {
                        atom = Some(out.len());
                        out.push(c);
                        i += 1;
                    }
                }
            }
            '*' | '+' | '?' => {
                out.push(c);
                i += 1;
                if let Some(&m) = chars.get(i) {
                    if m == '+' || m == '?' {
                        out.push(m);
                        i += 1;
                    }
                }
            }
            _ => {
                atom = Some(out.len());
                out.push(c);
                i += 1;
            }
        }
    }
    out
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
    let mut all: Vec<(Rank, Rank, Rank)> = derived.merges;
    all.extend(derived.late);
    all.sort_unstable_by_key(|&(_, _, c)| c);
    let merges = all.iter().map(|&(x, y, _)| (text(x), text(y))).collect();
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
        pre: vec![PreStep::Split(portable_pattern(pattern))],
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
        assert!(m.late.is_empty());
    }

    #[test]
    fn late_merges_use_higher_ranks() {
        // "abc" ranks before "ab": tiktoken still builds it from "ab" + "c"
        // inside a piece (ab first, then the lower-ranked abc).
        let t = table(&[b"abc", b"ab"]);
        let m = merges_from_ranks(&t).expect("valid");
        assert_eq!(m.unreachable, vec![256]);
        assert_eq!(m.late, vec![(257, 99, 256)]);
        assert_eq!(m.merges, vec![(97, 98, 257)]);
        let json = tiktoken_tokenizer_json(&t, "\\S+", &[]).expect("valid");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["model"]["merges"][0], serde_json::json!(["ab", "c"]));
        assert_eq!(v["model"]["merges"][1], serde_json::json!(["a", "b"]));
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

    #[test]
    fn portable_patterns() {
        let cl100k = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
        let p = portable_pattern(cl100k);
        assert_eq!(
            p,
            r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|(?>\p{N}{1,3})| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++\z|\s*[\r\n]|\s+(?!\S)|\s"
        );
        for (from, to) in [
            (r"a{2}+", r"(?>a{2})"),
            (r"(ab){1,}+c", r"(?>(ab){1,})c"),
            (r"[]$^]{1,2}+", r"(?>[]$^]{1,2})"),
            (r"[^]x]$", r"[^]x]\z"),
            (r"\p{L}{2}", r"\p{L}{2}"),
            (r"\pL{2}+", r"(?>\pL{2})"),
            (r"x{,2}+", r"x{,2}+"),
            (r"a*+b?+c{3}?", r"a*+b?+c{3}?"),
            (r"^\$\^", r"\A\$\^"),
            (r"[a-z&&[^x]]{3}+", r"(?>[a-z&&[^x]]{3})"),
        ] {
            assert_eq!(portable_pattern(from), to, "{from}");
        }
        // Same splits in fancy-regex, original and rewritten.
        let o = fancy_regex::Regex::new(cl100k).expect("compiles");
        let n = fancy_regex::Regex::new(&p).expect("compiles");
        let mut rng = crate::testing::Lcg(11);
        for _ in 0..2000 {
            let len = (rng.next() % 12) as usize;
            let text: String = (0..len)
                .map(|_| {
                    ['1', '2', 'a', ' ', '\n', '!', '\'', 's', 'é', '\t'][rng.next() as usize % 10]
                })
                .collect();
            let split = |r: &fancy_regex::Regex| -> Vec<(usize, usize)> {
                r.find_iter(&text)
                    .filter_map(|m| m.ok().map(|m| (m.start(), m.end())))
                    .collect()
            };
            assert_eq!(split(&o), split(&n), "{text:?}");
        }
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
