//! Unit tests: the incremental merger against a naive re-count per step.

use rustc_hash::FxHashMap;

use super::segment::is_single_pretoken;
use super::*;
use crate::pretokenize::{PreTokenizer, R50K_PATTERN};
use crate::special::{Selection, SpecialTokens};
use crate::vocab::Vocab;

const SPECIAL: Rank = 1000;

fn toy() -> CoreBpe {
    let mut pairs: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
    let extra = [
        "ab", " a", " b", "aa", "aaa", " ab", "ba", "a b", "b.", ".a", "-a", " aa", "\n\n", "é",
    ];
    for (i, t) in extra.iter().enumerate() {
        pairs.push((t.as_bytes().to_vec(), 256 + i as Rank));
    }
    CoreBpe::new(
        Vocab::new(pairs).unwrap(),
        SpecialTokens::new(vec![("<|e|>".to_owned(), SPECIAL)]).unwrap(),
        PreTokenizer::new(R50K_PATTERN).unwrap(),
    )
    .unwrap()
}

fn allow_all() -> SpecialPolicy {
    SpecialPolicy {
        allowed: Selection::All,
        disallowed: Selection::All,
    }
}

/// Token identity in the naive version: bytes, or the id for specials.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Tok {
    Bytes(Vec<u8>),
    Special(Rank),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Naive {
    seqs: Vec<Vec<(Tok, usize, usize)>>, // token, span start, span end
    merges: Vec<(Vec<u8>, Vec<u8>, u32)>,
}

/// The reference semantics, written as plainly as possible: re-count all
/// pairs every step.
fn naive(bpe: &CoreBpe, layout: &Layout, stop: &StopRule) -> Naive {
    let mut seqs: Vec<Vec<(Tok, usize, usize, usize)>> = Vec::new(); // + unit id
    let mut unit = 0;
    for b in 0..layout.n_sequences() {
        let mut s = Vec::new();
        for i in layout.seq_starts[b]..layout.seq_starts[b + 1] {
            if layout.starts_unit[i] {
                unit += 1;
            }
            let id = layout.tokens[i];
            let tok = if layout.special[i] {
                Tok::Special(id)
            } else {
                Tok::Bytes(bpe.token_bytes(id).unwrap().to_vec())
            };
            let local = i - layout.seq_starts[b];
            s.push((tok, local, local + 1, unit));
        }
        seqs.push(s);
    }
    let l0: usize = seqs.iter().map(Vec::len).sum();
    let lw = layout.n_units();
    let mut merges = Vec::new();
    loop {
        let length: usize = seqs.iter().map(Vec::len).sum();
        if stop.max_merges.is_some_and(|m| merges.len() >= m)
            || stop.target_length.is_some_and(|t| length <= t)
            || stop
                .gap_fraction
                .is_some_and(|f| (l0 - length) as f64 >= f * (l0 - lw) as f64)
        {
            break;
        }
        let mut order: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut counts: FxHashMap<(Vec<u8>, Vec<u8>), u32> = FxHashMap::default();
        for s in &seqs {
            for w in s.windows(2) {
                if let ((Tok::Bytes(a), .., ua), (Tok::Bytes(b), .., ub)) = (&w[0], &w[1]) {
                    let joined = [a.as_slice(), b.as_slice()].concat();
                    if ua == ub
                        && (!layout.single_pretoken_pairs
                            || is_single_pretoken(bpe.pretokenizer(), &joined, &mut Vec::new())
                                .unwrap())
                    {
                        let k = (a.clone(), b.clone());
                        let c = counts.entry(k.clone()).or_insert(0);
                        if *c == 0 {
                            order.push(k);
                        }
                        *c += 1;
                    }
                }
            }
        }
        let Some(best) = order
            .iter()
            .fold(None::<&(Vec<u8>, Vec<u8>)>, |acc, k| match acc {
                Some(b) if counts[b] >= counts[k] => Some(b),
                _ => Some(k),
            })
        else {
            break;
        };
        let best = best.clone();
        merges.push((best.0.clone(), best.1.clone(), counts[&best]));
        let joined: Vec<u8> = [best.0.clone(), best.1.clone()].concat();
        for s in &mut seqs {
            let mut out = Vec::with_capacity(s.len());
            let mut i = 0;
            while i < s.len() {
                if i + 1 < s.len() && s[i].3 == s[i + 1].3 {
                    if let (Tok::Bytes(a), Tok::Bytes(b)) = (&s[i].0, &s[i + 1].0) {
                        if *a == best.0 && *b == best.1 {
                            out.push((Tok::Bytes(joined.clone()), s[i].1, s[i + 1].2, s[i].3));
                            i += 2;
                            continue;
                        }
                    }
                }
                out.push(s[i].clone());
                i += 1;
            }
            *s = out;
        }
    }
    Naive {
        seqs: seqs
            .into_iter()
            .map(|s| s.into_iter().map(|(t, a, b, _)| (t, a, b)).collect())
            .collect(),
        merges,
    }
}

/// The fast result in the naive representation.
fn as_naive(bpe: &CoreBpe, m: &Merged) -> Naive {
    let spell = |parts: &[Rank]| -> Vec<u8> {
        parts
            .iter()
            .flat_map(|&r| bpe.token_bytes(r).unwrap().to_vec())
            .collect()
    };
    let mut seqs = Vec::new();
    for b in 0..m.seq_starts.len() - 1 {
        let mut s = Vec::new();
        for i in m.seq_starts[b]..m.seq_starts[b + 1] {
            let parts = m.parts(m.ids[i]);
            let tok = if parts.len() == 1 && bpe.vocab().token_bytes(parts[0]).is_none() {
                Tok::Special(parts[0])
            } else {
                Tok::Bytes(spell(parts))
            };
            s.push((tok, m.spans[2 * i] as usize, m.spans[2 * i + 1] as usize));
        }
        seqs.push(s);
    }
    let merges = (0..m.n_merges())
        .map(|k| {
            (
                spell(&m.token_parts(m.merge_left[k])),
                spell(&m.token_parts(m.merge_right[k])),
                m.merge_counts[k],
            )
        })
        .collect();
    Naive { seqs, merges }
}

/// Deterministic xorshift generator (no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_text(rng: &mut Rng) -> String {
    const ATOMS: [&str; 12] = [
        "a", "b", " ", "a", " a", "b", ".", "-", "\n", "<|e|>", "é", "ab",
    ];
    let n = rng.below(24);
    (0..n).map(|_| ATOMS[rng.below(ATOMS.len())]).collect()
}

fn stops(rng: &mut Rng) -> Vec<StopRule> {
    vec![
        StopRule::default(),
        StopRule {
            max_merges: Some(rng.below(6)),
            ..StopRule::default()
        },
        StopRule {
            target_length: Some(rng.below(40)),
            ..StopRule::default()
        },
        StopRule {
            gap_fraction: Some([0.0, 0.3, 0.5, 1.0][rng.below(4)]),
            ..StopRule::default()
        },
    ]
}

fn check(bpe: &CoreBpe, layout: &Layout, stop: &StopRule) {
    let fast = merge(bpe, layout, stop, None).unwrap();
    let slow = naive(bpe, layout, stop);
    assert_eq!(
        as_naive(bpe, &fast),
        slow,
        "layout {layout:?} stop {stop:?}"
    );
    // Round trip: the parts spell the original ids' bytes.
    for b in 0..layout.n_sequences() {
        let orig = bpe
            .decode_bytes(&layout.tokens[layout.seq_starts[b]..layout.seq_starts[b + 1]])
            .unwrap();
        let parts: Vec<Rank> = fast.ids[fast.seq_starts[b]..fast.seq_starts[b + 1]]
            .iter()
            .flat_map(|&d| fast.parts(d).to_vec())
            .collect();
        assert_eq!(bpe.decode_bytes(&parts).unwrap(), orig);
    }
    // With no stop rule the word-level limit is reached, except in
    // "pretoken" mode where a unit may keep two tokens whose join is not
    // a single pre-token (the naive comparison above covers that case).
    if *stop == StopRule::default() && !layout.single_pretoken_pairs {
        assert_eq!(fast.ids.len(), fast.word_level_length);
    }
}

#[test]
fn matches_naive_on_random_texts() {
    let bpe = toy();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let texts: Vec<String> = (0..1 + rng.below(5))
            .map(|_| random_text(&mut rng))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for (_, mode) in Boundary::ALL {
            let layout = Layout::from_texts(&bpe, &refs, &allow_all(), mode).unwrap();
            for stop in stops(&mut rng) {
                check(&bpe, &layout, &stop);
            }
        }
    }
}

#[test]
fn matches_naive_on_random_ids() {
    // Arbitrary id sequences: tokens straddle cuts, bytes are not valid UTF-8.
    let bpe = toy();
    let ids: Vec<Rank> = [
        0x61, 0x62, 0x20, 0x2e, 0x2d, 0x0a, 0xc3, 0xa9, 256, 257, 258, 263, 264, 265, 266, 268, 269,
    ]
    .into_iter()
    .chain([SPECIAL])
    .collect();
    let mut rng = Rng(12345);
    for _ in 0..300 {
        let seqs: Vec<Vec<Rank>> = (0..1 + rng.below(5))
            .map(|_| {
                (0..rng.below(20))
                    .map(|_| ids[rng.below(ids.len())])
                    .collect()
            })
            .collect();
        for (_, mode) in Boundary::ALL {
            let layout = Layout::from_ids(&bpe, &seqs, mode).unwrap();
            for stop in stops(&mut rng) {
                check(&bpe, &layout, &stop);
            }
        }
    }
}

#[test]
fn texts_and_their_ids_give_the_same_layout() {
    let bpe = toy();
    let mut rng = Rng(777);
    for _ in 0..200 {
        let texts: Vec<String> = (0..1 + rng.below(4))
            .map(|_| random_text(&mut rng))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let seqs: Vec<Vec<Rank>> = refs
            .iter()
            .map(|t| bpe.encode(t, &allow_all()).unwrap())
            .collect();
        for (_, mode) in Boundary::ALL {
            let a = Layout::from_texts(&bpe, &refs, &allow_all(), mode).unwrap();
            let b = Layout::from_ids(&bpe, &seqs, mode).unwrap();
            assert_eq!(a, b, "{texts:?} {mode:?}");
        }
    }
}

#[test]
fn overlapping_pairs_count_twice_and_merge_left_to_right() {
    let bpe = toy();
    // Five single-byte "a" tokens in one unit (ids, boundary none).
    let m = merge_ids(
        &bpe,
        &[vec![0x61; 5]],
        Boundary::None,
        &StopRule {
            max_merges: Some(1),
            ..StopRule::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(m.merge_counts, [4]);
    // "aa" is a vocabulary token (rank 259): pooled, so its parts are (259,).
    let parts: Vec<Vec<Rank>> = m.ids.iter().map(|&d| m.parts(d).to_vec()).collect();
    assert_eq!(parts, [vec![259], vec![259], vec![0x61]]);
    assert_eq!(m.spans, [0, 2, 2, 4, 4, 5]);
}

#[test]
fn worked_example() {
    let bpe = toy();
    let seqs = vec![vec![0x61, 257, 257], vec![0x61, 257]]; // "a a a", "a a"
    let pre = merge_ids(&bpe, &seqs, Boundary::PreToken, &StopRule::default(), None).unwrap();
    assert_eq!(pre.n_merges(), 0);
    let m = merge_ids(&bpe, &seqs, Boundary::None, &StopRule::default(), None).unwrap();
    let spelled: Vec<Vec<u8>> = m
        .ids
        .iter()
        .map(|&d| bpe.decode_bytes(m.parts(d)).unwrap())
        .collect();
    assert_eq!(spelled, [b"a a a".to_vec(), b"a a".to_vec()]);
    assert_eq!(m.merge_counts, [2, 1]);
    // Not vocabulary tokens: the parts are the merged constituents.
    assert_eq!(m.parts(m.ids[1]), [0x61, 257]);
    assert_eq!(m.parts(m.ids[0]), [0x61, 257, 257]);
    // "a" + " b" spells the vocabulary token "a b" (263): pooled.
    let m = merge_ids(
        &bpe,
        &[vec![0x61, 258]],
        Boundary::None,
        &StopRule::default(),
        None,
    )
    .unwrap();
    assert_eq!(m.parts(m.ids[0]), [263]);
}

#[test]
fn empty_and_special_only() {
    let bpe = toy();
    let m = merge_ids(&bpe, &[], Boundary::PreToken, &StopRule::default(), None).unwrap();
    assert_eq!(m.seq_starts, [0]);
    assert_eq!(m.word_level_length, 0);
    let m = merge_ids(
        &bpe,
        &[vec![], vec![SPECIAL, SPECIAL], vec![0x61]],
        Boundary::None,
        &StopRule::default(),
        None,
    )
    .unwrap();
    assert_eq!(m.seq_starts, [0, 0, 2, 3]);
    assert_eq!(m.ids, [0, 0, 1]);
    assert_eq!(m.parts(0), [SPECIAL]);
}

#[test]
fn special_bytes_never_pool_with_merged_text() {
    let bpe = toy();
    // "<|e|>" as ordinary text (boundary none merges it to one token) next
    // to the special token itself.
    let policy = SpecialPolicy {
        allowed: Selection::none(),
        disallowed: Selection::none(),
    };
    let text_ids = bpe.encode("<|e|>", &policy).unwrap();
    let mut seq = text_ids.clone();
    seq.push(SPECIAL);
    let m = merge_ids(&bpe, &[seq], Boundary::None, &StopRule::default(), None).unwrap();
    assert_eq!(m.ids.len(), 2);
    assert_ne!(m.ids[0], m.ids[1]);
    assert_eq!(m.parts(m.ids[1]), [SPECIAL]);
}

#[test]
fn bad_input() {
    let bpe = toy();
    let err = merge_ids(
        &bpe,
        &[vec![0x61], vec![0x61, 5000]],
        Boundary::None,
        &StopRule::default(),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("batch[1][1]"), "{err}");
    for f in [-0.1, 1.5, f64::NAN] {
        let stop = StopRule {
            gap_fraction: Some(f),
            ..StopRule::default()
        };
        let err = merge_ids(&bpe, &[vec![0x61]], Boundary::None, &stop, None).unwrap_err();
        assert!(err.to_string().contains("gap_fraction"), "{err}");
    }
}

#[test]
fn long_units_use_linear_memory() {
    // One unit of 200k tokens merged into one token (boundary none): the
    // merge chain would need O(n²) bytes if tokens were stored expanded.
    let bpe = toy();
    let seq: Vec<Rank> = (0..200_000u32)
        .map(|i| [0x61, 0x62, 0x2e][(i * 7 % 3) as usize])
        .collect();
    let m = merge_ids(
        &bpe,
        std::slice::from_ref(&seq),
        Boundary::None,
        &StopRule::default(),
        None,
    )
    .unwrap();
    assert_eq!(m.ids.len(), 1);
    assert_eq!(
        bpe.decode_bytes(m.parts(m.ids[0])).unwrap(),
        bpe.decode_bytes(&seq).unwrap()
    );
    assert!(m.token_left.len() < 2 * seq.len());
}

#[test]
fn long_merges_pool_with_long_vocabulary_tokens() {
    // A vocabulary token of 300 bytes: merges longer than the direct-lookup
    // cap must still find it.
    let mut pairs: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], Rank::from(b))).collect();
    let long = vec![b'x'; 300];
    pairs.push((long.clone(), 256));
    let bpe = CoreBpe::new(
        Vocab::new(pairs).unwrap(),
        SpecialTokens::new(vec![]).unwrap(),
        PreTokenizer::new(R50K_PATTERN).unwrap(),
    )
    .unwrap();
    let seq = vec![Rank::from(b'x'); 300];
    for hint in [None, Some(max_token_len(&bpe))] {
        let m = merge_ids(
            &bpe,
            std::slice::from_ref(&seq),
            Boundary::None,
            &StopRule::default(),
            hint,
        )
        .unwrap();
        assert_eq!(m.ids.len(), 1);
        assert_eq!(m.parts(m.ids[0]), [256]);
    }
    assert_eq!(max_token_len(&bpe), 300);
}

#[test]
fn pretoken_pairs_must_join_into_one_pretoken() {
    // R50K splits "'r" into "'" and "r", so in "pretoken" mode the pair
    // ("'", "r") never merges although it is the first and most frequent
    // pair of the unit "'re"; ("r", "e") merges first, then ("'", "re").
    let bpe = toy();
    let ids: Vec<Rank> = b"'re".iter().map(|&b| Rank::from(b)).collect();
    let seqs = vec![ids.clone(), ids];
    let layout = Layout::from_ids(&bpe, &seqs, Boundary::PreToken).unwrap();
    let m = merge(&bpe, &layout, &StopRule::default(), None).unwrap();
    let spelled = |d: u32| bpe.decode_bytes(&m.token_parts(d)).unwrap();
    let merges: Vec<(Vec<u8>, Vec<u8>)> = (0..m.n_merges())
        .map(|i| (spelled(m.merge_left[i]), spelled(m.merge_right[i])))
        .collect();
    assert_eq!(
        merges,
        [
            (b"r".to_vec(), b"e".to_vec()),
            (b"'".to_vec(), b"re".to_vec())
        ]
    );
    let none = merge_ids(&bpe, &seqs, Boundary::None, &StopRule::default(), None).unwrap();
    assert_eq!(spelled_first(&bpe, &none), b"'r");
}

fn spelled_first(bpe: &CoreBpe, m: &Merged) -> Vec<u8> {
    bpe.decode_bytes(&m.token_parts(m.merge_left[0]))
        .unwrap()
        .into_iter()
        .chain(bpe.decode_bytes(&m.token_parts(m.merge_right[0])).unwrap())
        .collect()
}
