//! A byte-level BPE vocabulary stored in a GGUF file, as a `tokenizer.json`.
//!
//! What is read (the `tokenizer.ggml.*` keys, as llama.cpp's
//! `llama_vocab::impl::load` reads them):
//! * `model` must be `"gpt2"` (byte-level BPE); the other tokenizer models
//!   (SentencePiece `"llama"`, WordPiece `"bert"`, Unigram `"t5"`, ...) are
//!   [`Error::NotImplemented`].
//! * `tokens` (the vocabulary in id order, byte-level strings) and
//!   `token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
//!   6 byte). Control and unknown tokens become special added tokens, which
//!   llama.cpp matches in the text only with `parse_special` (in `tokenizers`:
//!   always, unless `split_special_tokens`); user-defined tokens become
//!   non-special added tokens, matched in the text before BPE in both. Like
//!   llama.cpp, tokens whose text marks an end of generation (`<|im_end|>`,
//!   `<|eot_id|>`, `</s>`, ...) or a fill-in-the-middle role are made control
//!   tokens, and the gpt-oss markers `<|channel|>` ... user-defined.
//! * `merges` (`"left right"`, best first), `pre` (the pre-tokenizer, see
//!   [`super::pretable`]), `bos_token_id`, `eos_token_id`, `add_bos_token`,
//!   `add_eos_token` (a `TemplateProcessing` post-processor adds them).
//!
//! Not represented: `add_sep_token` (llama.cpp's embedding callers use it, not
//! its tokenizer), `clean_spaces` (a decoding option of `transformers`).

use std::path::Path;

use rustc_hash::{FxHashMap, FxHashSet};

use super::gguf::{self, Array, Metadata, Value};
use super::json::{AddedToken, TokenizerSpec};
use super::pretable;
use crate::error::{Error, Result};
use crate::vocab::MAX_TOKEN_ID;
use crate::Rank;

/// llama.cpp token types (`llama_token_type`).
const TYPE_UNKNOWN: i32 = 2;
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;

/// Token texts llama.cpp always treats as end-of-generation, hence control.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// Fill-in-the-middle token texts llama.cpp makes control when the file does
/// not name that role's token id: (keys naming the role, texts).
const FIM_TEXTS: &[(&[&str], &[&str])] = &[
    (
        &[
            "tokenizer.ggml.fim_pre_token_id",
            "tokenizer.ggml.prefix_token_id",
        ],
        &[
            "<|fim_prefix|>",
            "<fim-prefix>",
            "<fim_prefix>",
            "<｜fim▁begin｜>",
            "<PRE>",
            "▁<PRE>",
            "<|code_prefix|>",
            "<|prefix|>",
        ],
    ),
    (
        &[
            "tokenizer.ggml.fim_suf_token_id",
            "tokenizer.ggml.suffix_token_id",
        ],
        &[
            "<|fim_suffix|>",
            "<fim-suffix>",
            "<fim_suffix>",
            "<｜fim▁hole｜>",
            "<SUF>",
            "▁<SUF>",
            "<|code_suffix|>",
            "<|suffix|>",
        ],
    ),
    (
        &[
            "tokenizer.ggml.fim_mid_token_id",
            "tokenizer.ggml.middle_token_id",
        ],
        &[
            "<|fim_middle|>",
            "<fim-middle>",
            "<fim_middle>",
            "<｜fim▁end｜>",
            "<MID>",
            "▁<MID>",
            "<|code_middle|>",
            "<|middle|>",
        ],
    ),
    (
        &["tokenizer.ggml.fim_pad_token_id"],
        &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
    ),
    (
        &["tokenizer.ggml.fim_rep_token_id"],
        &[
            "<|fim_repo|>",
            "<|repo_name|>",
            "<fim-repo>",
            "<REPO>",
            "<reponame>",
        ],
    ),
    (&["tokenizer.ggml.fim_sep_token_id"], &["<|file_sep|>"]),
];

/// gpt-oss markers llama.cpp always renders: user-defined, not control.
const ALWAYS_RENDERED: &[&str] = &["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

/// The tokenizer kinds of `tokenizer.ggml.model` that are not byte-level BPE.
fn model_kind(model: &str) -> Option<&'static str> {
    Some(match model {
        "llama" => "a SentencePiece (LLaMA/Mistral-style) tokenizer",
        "bert" => "a WordPiece (BERT) tokenizer",
        "t5" => "a Unigram (T5) tokenizer",
        "rwkv" => "an RWKV tokenizer",
        "plamo2" => "a PLaMo-2 tokenizer",
        "gemma4" => "a SentencePiece-style BPE on raw UTF-8 (Gemma 4), not byte-level BPE",
        "hybriddna" => "a DNA k-mer tokenizer",
        "whitespace" => "a whitespace-split tokenizer",
        "test" => "llama.cpp's test tokenizer",
        _ => return None,
    })
}

/// Typed access to the metadata, with messages naming the file and key.
struct Keys<'a> {
    meta: &'a Metadata,
    source: &'a str,
}

impl Keys<'_> {
    fn bad(&self, key: &str, expected: &str, value: &Value) -> Error {
        let found = match value {
            Value::Array(a) => format!("an array of {}", a.elem_type().name()),
            v => v.value_type().name().to_owned(),
        };
        Error::InvalidArgument(format!(
            "{}: GGUF key {key:?} should be {expected}, found {found}",
            self.source
        ))
    }

    fn string(&self, key: &str) -> Result<Option<&str>> {
        match self.meta.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.bad(key, "a string", v)),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<&[String]>> {
        match self.meta.get(key) {
            None => Ok(None),
            Some(Value::Array(Array::String(v))) => Ok(Some(v)),
            Some(v) => Err(self.bad(key, "an array of strings", v)),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.meta.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.bad(key, "a bool", v)),
        }
    }

    /// A token id: any integer type; `Ok(None)` when absent or (as llama.cpp
    /// does, with a warning) outside `0..n_tokens`.
    fn token_id(&self, key: &str, n_tokens: usize) -> Result<Option<Rank>> {
        match self.meta.get(key) {
            None => Ok(None),
            Some(v) => match v.as_int() {
                Some(i) if i >= 0 && (i as u128) < n_tokens as u128 => Ok(Some(i as Rank)),
                Some(_) => Ok(None),
                None => Err(self.bad(key, "an integer token id", v)),
            },
        }
    }

    fn token_types(&self, n_tokens: usize) -> Result<Vec<i32>> {
        const KEY: &str = "tokenizer.ggml.token_type";
        match self.meta.get(KEY) {
            None => Ok(vec![1; n_tokens]),
            Some(Value::Array(Array::I32(v))) => {
                if v.len() < n_tokens {
                    return Err(Error::InvalidArgument(format!(
                        "{}: GGUF key {KEY:?} has {} entries for {n_tokens} tokens",
                        self.source,
                        v.len()
                    )));
                }
                Ok(v[..n_tokens].to_vec())
            }
            Some(v) => Err(self.bad(KEY, "an array of int32", v)),
        }
    }
}

/// Per-token flags after llama.cpp's text-based corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Special,
    UserDefined,
}

/// The `tokenizer.json` of a GGUF file's byte-level BPE vocabulary.
///
/// Reads only the file's metadata (buffered; tensor data is never read).
///
/// # Errors
/// * [`Error::InvalidArgument`] naming the file for an unreadable or invalid
///   GGUF file, missing or mistyped `tokenizer.ggml.*` keys, duplicate
///   tokens, merges that are not `"left right"` or name tokens that are not
///   in the vocabulary, or `add_bos_token` without a BOS token;
/// * [`Error::NotImplemented`] for tokenizer models other than `"gpt2"` and
///   for unknown or unsupported `tokenizer.ggml.pre` names.
pub fn gguf_tokenizer_json(path: &Path) -> Result<String> {
    let meta = gguf::read_metadata_file(path, &|key| key.starts_with("tokenizer.ggml."))?;
    tokenizer_json_from_metadata(&meta, &path.display().to_string())
}

/// [`gguf_tokenizer_json`] on metadata already read; `source` names the file
/// in messages.
///
/// # Errors
/// As [`gguf_tokenizer_json`].
pub fn tokenizer_json_from_metadata(meta: &Metadata, source: &str) -> Result<String> {
    spec_from_metadata(meta, source)?.to_json()
}

fn spec_from_metadata(meta: &Metadata, source: &str) -> Result<TokenizerSpec> {
    let keys = Keys { meta, source };
    let model = keys.string("tokenizer.ggml.model")?.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{source}: the GGUF file has no tokenizer (no \"tokenizer.ggml.model\" key)"
        ))
    })?;
    if model == "no_vocab" || model == "none" {
        return Err(Error::InvalidArgument(format!(
            "{source}: the GGUF file has no vocabulary (tokenizer.ggml.model = {model:?})"
        )));
    }
    if model != "gpt2" {
        let what = model_kind(model).unwrap_or("an unknown tokenizer model");
        return Err(Error::NotImplemented(format!(
            "{source}: tokenizer.ggml.model = {model:?} is {what}; only byte-level BPE \
             (\"gpt2\") GGUF vocabularies can be converted"
        )));
    }
    let pre_name = keys.string("tokenizer.ggml.pre")?;
    let pre =
        pretable::lookup(pre_name).map_err(|e| Error::NotImplemented(format!("{source}: {e}")))?;

    let tokens = keys.strings("tokenizer.ggml.tokens")?.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{source}: the GGUF file has no \"tokenizer.ggml.tokens\" key"
        ))
    })?;
    let n = tokens.len();
    if n as u64 > u64::from(MAX_TOKEN_ID) {
        return Err(Error::InvalidArgument(format!(
            "{source}: {n} tokens is more than the {MAX_TOKEN_ID} supported"
        )));
    }
    // llama.cpp renames empty tokens so that every text is unique.
    let texts: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if t.is_empty() {
                format!("[EMPTY_{i}]")
            } else {
                t.clone()
            }
        })
        .collect();
    let mut id_of: FxHashMap<&str, Rank> = FxHashMap::default();
    id_of.reserve(n);
    for (i, t) in texts.iter().enumerate() {
        if let Some(prev) = id_of.insert(t.as_str(), i as Rank) {
            return Err(Error::InvalidArgument(format!(
                "{source}: token {t:?} appears twice in \"tokenizer.ggml.tokens\" (ids {prev} and {i})"
            )));
        }
    }

    let types = keys.token_types(n)?;
    let mut kinds: Vec<Kind> = types
        .iter()
        .map(|&t| match t {
            TYPE_CONTROL | TYPE_UNKNOWN => Kind::Special,
            TYPE_USER_DEFINED => Kind::UserDefined,
            _ => Kind::Normal,
        })
        .collect();
    let find = |text: &str| id_of.get(text).map(|&i| i as usize);
    for text in EOG_TEXTS {
        if let Some(i) = find(text) {
            kinds[i] = Kind::Special;
        }
    }
    for (role_keys, texts) in FIM_TEXTS {
        let mut named = false;
        for key in *role_keys {
            named |= keys.token_id(key, n)?.is_some();
        }
        if !named {
            for text in *texts {
                if let Some(i) = find(text) {
                    kinds[i] = Kind::Special;
                }
            }
        }
    }
    for text in ALWAYS_RENDERED {
        if let Some(i) = find(text) {
            kinds[i] = Kind::UserDefined;
        }
    }
    // o200k_harmony / solar-open: "<|end|>" is not an end of generation there.
    let has = |t: &str| find(t).is_some();
    if has("<|end|>")
        && ((has("<|return|>") && (has("<|call|>") || has("<|calls|>")))
            || ((has("<|call|>") || has("<|calls|>")) && has("<|flush|>")))
    {
        if let Some(i) = find("<|end|>") {
            kinds[i] = Kind::UserDefined;
        }
    }

    // BOS/EOS and whether they are added.
    let mut bos = if pre.no_bos {
        None
    } else {
        Some(11).filter(|&d| d < n as Rank)
    };
    if !pre.no_bos {
        if let Some(id) = keys.token_id("tokenizer.ggml.bos_token_id", n)? {
            bos = Some(id);
        }
    }
    let mut eos = Some(11).filter(|&d| d < n as Rank);
    if let Some(id) = keys.token_id("tokenizer.ggml.eos_token_id", n)? {
        eos = Some(id);
    }
    let add_bos = keys
        .bool("tokenizer.ggml.add_bos_token")?
        .unwrap_or(pre.add_bos_default);
    let add_eos = keys.bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false);
    let with_text = |id: Option<Rank>, what: &str, key: &str| -> Result<(Rank, String)> {
        let id = id.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{source}: {key} is true but the file has no valid {what} token id"
            ))
        })?;
        Ok((id, texts[id as usize].clone()))
    };
    let bos = if add_bos {
        Some(with_text(bos, "BOS", "tokenizer.ggml.add_bos_token")?)
    } else {
        None
    };
    let eos = if add_eos {
        Some(with_text(eos, "EOS", "tokenizer.ggml.add_eos_token")?)
    } else {
        None
    };

    // Merges (every part must be a token, as tokenizers requires).
    let merges_in = keys.strings("tokenizer.ggml.merges")?.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{source}: the GGUF file has no \"tokenizer.ggml.merges\" key (required for BPE)"
        ))
    })?;
    let mut merges = Vec::with_capacity(merges_in.len());
    let mut seen_pairs: FxHashSet<(&str, &str)> = FxHashSet::default();
    for (i, m) in merges_in.iter().enumerate() {
        // As llama.cpp: split at the first space after the first byte.
        // (A space is ASCII, so the byte position is a character boundary.)
        let split = m
            .as_bytes()
            .iter()
            .skip(1)
            .position(|&c| c == b' ')
            .map(|p| p + 1);
        let (a, b) = match split {
            Some(p) => (&m[..p], &m[p + 1..]),
            None => {
                return Err(Error::InvalidArgument(format!(
                    "{source}: merge #{i} {m:?} in \"tokenizer.ggml.merges\" is not \"left right\""
                )))
            }
        };
        let ab = format!("{a}{b}");
        for part in [a, b, ab.as_str()] {
            if !id_of.contains_key(part) {
                return Err(Error::InvalidArgument(format!(
                    "{source}: merge #{i} {m:?} uses {part:?}, which is not in \"tokenizer.ggml.tokens\""
                )));
            }
        }
        // tokenizers keeps the first rank of a repeated pair, as llama.cpp's
        // `emplace` does.
        if seen_pairs.insert((a, b)) {
            merges.push((a.to_owned(), b.to_owned()));
        }
    }

    // Every token is in the model vocabulary (llama.cpp's `token_to_id`
    // holds them all, and `tokenizers` keeps an added token's id only when
    // the vocabulary has it); control and user-defined ones are also added
    // tokens.
    let mut vocab = Vec::with_capacity(n);
    let mut added = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        vocab.push((text.clone(), i as Rank));
        if kinds[i] != Kind::Normal {
            added.push(AddedToken {
                id: i as Rank,
                content: text.clone(),
                special: kinds[i] == Kind::Special,
            });
        }
    }
    Ok(TokenizerSpec {
        vocab,
        merges,
        added,
        pre: pre.steps,
        ignore_merges: pre.ignore_merges,
        bos,
        eos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::gguf::tests::Writer;

    fn meta_of(w: &Writer) -> Metadata {
        gguf::read_metadata(&w.0[..], Some(w.0.len() as u64), "t.gguf", &|_| true)
            .expect("valid gguf")
    }

    fn small(pre: Option<&str>, extra: impl FnOnce(&mut Writer) -> u64) -> Metadata {
        let mut body = Writer(Vec::new());
        let n_extra = extra(&mut body);
        let mut w = Writer::new(0, 4 + u64::from(pre.is_some()) + n_extra);
        w.kv_str("tokenizer.ggml.model", "gpt2");
        if let Some(p) = pre {
            w.kv_str("tokenizer.ggml.pre", p);
        }
        w.kv_strs(
            "tokenizer.ggml.tokens",
            &[
                "a",
                "b",
                "Ġ",
                "ab",
                "Ġab",
                "<|endoftext|>",
                "<|im_end|>",
                "[PAD7]",
            ],
        );
        w.kv_i32s("tokenizer.ggml.token_type", &[1, 1, 1, 1, 1, 3, 1, 4]);
        w.kv_strs("tokenizer.ggml.merges", &["a b", "Ġ ab"]);
        w.0.extend_from_slice(&body.0);
        meta_of(&w)
    }

    #[test]
    fn converts_tokens_merges_and_specials() {
        let meta = small(Some("qwen2"), |w| {
            w.kv_u32("tokenizer.ggml.bos_token_id", 5);
            w.kv_bool("tokenizer.ggml.add_bos_token", true);
            2
        });
        let spec = spec_from_metadata(&meta, "t.gguf").expect("converts");
        assert_eq!(spec.vocab.len(), 8);
        assert_eq!(
            spec.merges,
            vec![("a".into(), "b".into()), ("Ġ".into(), "ab".into())]
        );
        // <|im_end|> is normal in the file but an end-of-generation text.
        let added: Vec<(Rank, &str, bool)> = spec
            .added
            .iter()
            .map(|a| (a.id, a.content.as_str(), a.special))
            .collect();
        assert_eq!(
            added,
            vec![
                (5, "<|endoftext|>", true),
                (6, "<|im_end|>", true),
                (7, "[PAD7]", false)
            ]
        );
        assert_eq!(spec.bos, Some((5, "<|endoftext|>".into())));
        assert_eq!(spec.eos, None);
        assert!(!spec.ignore_merges);
        let json = spec.to_json().expect("json");
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid json");
        assert_eq!(v["model"]["vocab"]["Ġab"], 4);
    }

    #[test]
    fn rejects_what_it_cannot_convert() {
        let meta = small(Some("kimi-k2"), |_| 0);
        let e = spec_from_metadata(&meta, "t.gguf").expect_err("unsupported");
        assert!(
            matches!(e, Error::NotImplemented(ref m) if m.contains("kimi-k2")),
            "{e}"
        );
        let meta = small(Some("nonsense"), |_| 0);
        assert!(matches!(
            spec_from_metadata(&meta, "t.gguf"),
            Err(Error::NotImplemented(_))
        ));
        let meta = small(Some("gpt-2"), |w| {
            w.kv_bool("tokenizer.ggml.add_eos_token", true);
            w.kv_u32("tokenizer.ggml.eos_token_id", 99);
            2
        });
        // eos 99 is out of range: llama.cpp keeps its default 11, also out of
        // range here, so there is no EOS to add.
        let e = spec_from_metadata(&meta, "t.gguf").expect_err("no eos");
        assert!(e.to_string().contains("no valid EOS"), "{e}");

        let mut w = Writer::new(0, 1);
        w.kv_str("tokenizer.ggml.model", "llama");
        let e = spec_from_metadata(&meta_of(&w), "t.gguf").expect_err("spm");
        assert!(matches!(e, Error::NotImplemented(ref m) if m.contains("SentencePiece")));
        let mut w = Writer::new(0, 1);
        w.kv_str("general.name", "x");
        let e = spec_from_metadata(&meta_of(&w), "t.gguf").expect_err("no tokenizer");
        assert!(matches!(e, Error::InvalidArgument(ref m) if m.contains("has no tokenizer")));

        let mut w = Writer::new(0, 3);
        w.kv_str("tokenizer.ggml.model", "gpt2");
        w.kv_strs("tokenizer.ggml.tokens", &["a", "b", "a"]);
        w.kv_strs("tokenizer.ggml.merges", &[]);
        let e = spec_from_metadata(&meta_of(&w), "t.gguf").expect_err("duplicate");
        assert!(e.to_string().contains("appears twice"), "{e}");

        let mut w = Writer::new(0, 3);
        w.kv_str("tokenizer.ggml.model", "gpt2");
        w.kv_strs("tokenizer.ggml.tokens", &["a", "b"]);
        w.kv_strs("tokenizer.ggml.merges", &["a b"]);
        let e = spec_from_metadata(&meta_of(&w), "t.gguf").expect_err("bad merge");
        assert!(
            e.to_string().contains("merge #0") && e.to_string().contains("\"ab\""),
            "{e}"
        );

        let mut w = Writer::new(0, 3);
        w.kv_str("tokenizer.ggml.model", "gpt2");
        w.kv_strs("tokenizer.ggml.tokens", &["a", "b"]);
        w.kv_u32("tokenizer.ggml.merges", 3);
        let e = spec_from_metadata(&meta_of(&w), "t.gguf").expect_err("mistyped");
        assert!(
            e.to_string()
                .contains("should be an array of strings, found uint32"),
            "{e}"
        );
    }
}
