//! Mistral's Tekken tokenizer files (`tekken*.json`, from `mistral-common`)
//! as a `tokenizer.json`.
//!
//! A Tekken file is a tiktoken encoding in JSON: `config.pattern` (the split
//! regex), `vocab` (`{"rank", "token_bytes" (base64), "token_str"}` in rank
//! order), optionally `special_tokens` (`{"rank", "token_str",
//! "is_control"}`), `config.default_vocab_size` and
//! `config.default_num_special_tokens`. As `mistral-common`'s `Tekkenizer`
//! (1.13) reads it: the special tokens take ids `0..num_special` (the file's
//! list, or, for files of version ≤ v7 without one, the 20 tokens `<unk>`,
//! `<s>`, `</s>`, `[INST]`, ...; the rest are fillers `<SPECIAL_{id}>`), the
//! vocabulary is cut to its first `default_vocab_size - num_special` ranks,
//! and token id = rank + num_special. Encoding is tiktoken's (merges derived
//! with [`super::merges_from_ranks`], `ignore_merges`). The post-processor
//! adds `<s>` (as `Tekkenizer.encode(text, bos=True, eos=False)` does).

use base64::Engine;
use serde::Deserialize;

use super::json::{AddedToken, TokenizerSpec};
use super::merges::tiktoken_spec;
use crate::error::{Error, Result};
use crate::vocab::MAX_TOKEN_ID;
use crate::Rank;

#[derive(Deserialize)]
struct Config {
    pattern: String,
    default_vocab_size: u64,
    default_num_special_tokens: u64,
    version: String,
}

#[derive(Deserialize)]
struct TokenInfo {
    rank: u64,
    token_bytes: String,
}

#[derive(Deserialize)]
struct SpecialInfo {
    rank: u64,
    token_str: String,
}

#[derive(Deserialize)]
struct File {
    config: Config,
    vocab: Vec<TokenInfo>,
    special_tokens: Option<Vec<SpecialInfo>>,
}

/// The special tokens of Tekken files without a `special_tokens` list
/// (`Tekkenizer.DEPRECATED_SPECIAL_TOKENS`), ids 0..20.
const DEPRECATED_SPECIALS: &[&str] = &[
    "<unk>",
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[TOOL_CALLS]",
    "[IMG]",
    "<pad>",
    "[IMG_BREAK]",
    "[IMG_END]",
    "[PREFIX]",
    "[MIDDLE]",
    "[SUFFIX]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]",
];

/// Tekken versions `mistral-common` 1.13 knows.
const VERSIONS: &[u32] = &[1, 2, 3, 7, 11, 13, 15];

/// The `tokenizer.json` of a Tekken file's content; `source` names it in
/// messages.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `source` for malformed JSON, missing
/// fields, an unknown version, base64 that does not decode, ranks out of
/// order, a first 256 ranks that are not the single bytes, duplicate
/// tokens, more special tokens than `default_num_special_tokens`, or a
/// `default_vocab_size` the file cannot fill.
pub fn tekken_tokenizer_json(data: &[u8], source: &str) -> Result<String> {
    let bad = |m: String| Error::InvalidArgument(format!("{source}: {m}"));
    let file: File = serde_json::from_slice(data)
        .map_err(|e| bad(format!("not a Tekken tokenizer file: {e}")))?;
    let version = file
        .config
        .version
        .strip_prefix('v')
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|v| VERSIONS.contains(v))
        .ok_or_else(|| {
            bad(format!(
                "unknown Tekken version {:?} (known: v1, v2, v3, v7, v11, v13, v15)",
                file.config.version
            ))
        })?;
    let num_special = file.config.default_num_special_tokens;
    let vocab_size = file.config.default_vocab_size;
    if num_special > vocab_size || vocab_size > u64::from(MAX_TOKEN_ID) {
        return Err(bad(format!(
            "config: default_vocab_size {vocab_size} and default_num_special_tokens \
             {num_special} are inconsistent"
        )));
    }
    let inner = (vocab_size - num_special) as usize;
    if inner > file.vocab.len() {
        return Err(bad(format!(
            "config.default_vocab_size {vocab_size} needs {inner} ordinary tokens, the file has {}",
            file.vocab.len()
        )));
    }

    let mut specials: Vec<String> = match &file.special_tokens {
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, t) in list.iter().enumerate() {
                if t.rank != i as u64 {
                    return Err(bad(format!(
                        "special_tokens[{i}] ({:?}) has rank {}, expected {i}",
                        t.token_str, t.rank
                    )));
                }
                out.push(t.token_str.clone());
            }
            out
        }
        None if version > 7 => {
            return Err(bad(format!(
                "version v{version} files must list their special_tokens"
            )))
        }
        None => DEPRECATED_SPECIALS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    };
    if specials.len() as u64 > num_special {
        return Err(bad(format!(
            "{} special tokens, but config.default_num_special_tokens is {num_special}",
            specials.len()
        )));
    }
    for i in specials.len() as u64..num_special {
        specials.push(format!("<SPECIAL_{i}>"));
    }
    let mut unique = rustc_hash::FxHashSet::default();
    for s in &specials {
        if !unique.insert(s.as_str()) {
            return Err(bad(format!("special token {s:?} appears twice")));
        }
    }

    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ranks: Vec<(Vec<u8>, Rank)> = Vec::with_capacity(inner);
    for (i, t) in file.vocab.iter().take(inner).enumerate() {
        if t.rank != i as u64 {
            return Err(bad(format!("vocab[{i}] has rank {}, expected {i}", t.rank)));
        }
        let bytes = b64
            .decode(&t.token_bytes)
            .map_err(|e| bad(format!("vocab[{i}].token_bytes is not base64: {e}")))?;
        if i < 256 && bytes != [i as u8] {
            return Err(bad(format!(
                "vocab[{i}] must be the single byte {i}, found {bytes:?}"
            )));
        }
        ranks.push((bytes, i as Rank));
    }
    let offset = num_special as Rank;
    let special_ids: Vec<(String, Rank)> = Vec::new();
    let mut spec: TokenizerSpec = tiktoken_spec(&ranks, &file.config.pattern, &special_ids)
        .map_err(|e| bad(e.to_string()))?;
    for (_, id) in &mut spec.vocab {
        *id += offset;
    }
    spec.added = specials
        .iter()
        .enumerate()
        .map(|(i, s)| AddedToken {
            id: i as Rank,
            content: s.clone(),
            special: true,
        })
        .collect();
    spec.bos = specials
        .iter()
        .position(|s| s == "<s>")
        .map(|i| (i as Rank, "<s>".to_owned()));
    spec.to_json().map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(extra_vocab: &[&[u8]], specials: Option<&str>, version: &str, size: u64) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut vocab: Vec<String> = (0..=255u8)
            .map(|b| {
                format!(
                    "{{\"rank\":{b},\"token_bytes\":\"{}\",\"token_str\":null}}",
                    b64.encode([b])
                )
            })
            .collect();
        for (i, t) in extra_vocab.iter().enumerate() {
            vocab.push(format!(
                "{{\"rank\":{},\"token_bytes\":\"{}\",\"token_str\":null}}",
                256 + i,
                b64.encode(t)
            ));
        }
        let specials = specials.map_or(String::new(), |s| format!(",\"special_tokens\":{s}"));
        format!(
            "{{\"config\":{{\"pattern\":\"\\\\S+|\\\\s+\",\"num_vocab_tokens\":{},\"default_vocab_size\":{size},\"default_num_special_tokens\":30,\"version\":\"{version}\"}},\"vocab\":[{}]{specials}}}",
            vocab.len(),
            vocab.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn ids_are_ranks_after_the_specials_and_vocab_is_cut() {
        let data = file(&[b"ab", b"abc", b"zz"], None, "v3", 30 + 258);
        let json = tekken_tokenizer_json(&data, "t.json").expect("valid");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["model"]["vocab"]["a"], 97 + 30);
        assert_eq!(v["model"]["vocab"]["abc"], 257 + 30);
        assert!(v["model"]["vocab"].get("zz").is_none());
        assert_eq!(v["added_tokens"][1]["content"], "<s>");
        assert_eq!(v["added_tokens"][20]["content"], "<SPECIAL_20>");
        assert_eq!(v["added_tokens"].as_array().map(Vec::len), Some(30));
        assert_eq!(
            v["post_processor"]["single"][0]["SpecialToken"]["id"],
            "<s>"
        );
        assert_eq!(v["model"]["merges"][1], serde_json::json!(["ab", "c"]));
    }

    #[test]
    fn bad_files_name_the_source() {
        for (data, what) in [
            (b"{".to_vec(), "not a Tekken tokenizer file"),
            (file(&[], None, "v9", 286), "unknown Tekken version"),
            (file(&[], None, "v13", 286), "must list their special_tokens"),
            (file(&[], None, "v3", 300), "needs 270 ordinary tokens"),
            (
                file(&[], Some("[{\"rank\":1,\"token_str\":\"<s>\",\"is_control\":true}]"), "v13", 286),
                "has rank 1, expected 0",
            ),
            (
                file(
                    &[],
                    Some("[{\"rank\":0,\"token_str\":\"<s>\",\"is_control\":true},{\"rank\":1,\"token_str\":\"<s>\",\"is_control\":true}]"),
                    "v13",
                    286,
                ),
                "appears twice",
            ),
        ] {
            let e = tekken_tokenizer_json(&data, "t.json").expect_err(what);
            assert!(e.to_string().starts_with("t.json: "), "{e}");
            assert!(e.to_string().contains(what), "{e}");
        }
    }
}
