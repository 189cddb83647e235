//! Parsing `tokenizer.json`: the model part with borrowed strings (the big
//! part: vocabulary and merges), the rest as JSON values, checked against
//! the supported components.

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashMap;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

use super::added::AddedSpec;
use super::encoding::{Direction, Padding, Truncation, TruncationStrategy};
use super::model::ModelSpec;
use super::post::{DecodeStep, Piece, PostStep, Seq, TemplateToken};
use super::pretok::{Behavior, Pattern, Step};

thread_local! {
    /// Expected number of entries of the big lists, from the file size.
    static CAPACITY_HINT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn capacity_hint() -> usize {
    CAPACITY_HINT.with(std::cell::Cell::get)
}

/// `model.merges` as token pairs (`"a b"` strings split at their space;
/// `#version` lines skipped).
struct MergesField<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for MergesField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MergesField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of merges")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(s.size_hint().unwrap_or_else(capacity_hint));
                while let Some(m) = s.next_element::<MergeEntry<'de>>()? {
                    match m {
                        MergeEntry::Pair(a, b) => out.push((a, b)),
                        MergeEntry::Legacy(s) => {
                            if s.starts_with("#version") {
                                continue;
                            }
                            let bytes = s.as_bytes();
                            let split = bytes.iter().position(|&c| c == b' ');
                            let Some(k) = split.filter(|&k| !bytes[k + 1..].contains(&b' ')) else {
                                return Err(de::Error::custom(format!(
                                    "model.merges[{}]: {s:?} is not two tokens separated by one space",
                                    out.len()
                                )));
                            };
                            out.push(match s {
                                Cow::Borrowed(full) => {
                                    (Cow::Borrowed(&full[..k]), Cow::Borrowed(&full[k + 1..]))
                                }
                                Cow::Owned(full) => (
                                    Cow::Owned(full[..k].to_owned()),
                                    Cow::Owned(full[k + 1..].to_owned()),
                                ),
                            });
                        }
                    }
                }
                Ok(MergesField(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `model.vocab`: the entries in file order, or `None` when it is not a
/// JSON object (another model type).
struct VocabField<'a>(Option<Vec<(Cow<'a, str>, u64)>>);

impl<'de: 'a, 'a> Deserialize<'de> for VocabField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VocabField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from token to id")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out =
                    Vec::with_capacity(m.size_hint().unwrap_or_else(|| capacity_hint() / 2));
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    let id: u64 = m.next_value()?;
                    out.push((k, id));
                }
                Ok(VocabField(Some(out)))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(VocabField(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// One merge: `"a b"` or `["a", "b"]`.
enum MergeEntry<'a> {
    Legacy(Cow<'a, str>),
    Pair(Cow<'a, str>, Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for MergeEntry<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MergeEntry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a merge: \"a b\" or [\"a\", \"b\"]")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(MergeEntry::Legacy(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(MergeEntry::Legacy(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Self::Value, E> {
                Ok(MergeEntry::Legacy(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let a: Cow<'de, str> = s
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &"two tokens"))?;
                let b: Cow<'de, str> = s
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &"two tokens"))?;
                if s.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &"two tokens"));
                }
                Ok(MergeEntry::Pair(a, b))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct RawModel<'a> {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    dropout: Option<f64>,
    #[serde(default)]
    unk_token: Option<String>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    fuse_unk: Option<bool>,
    #[serde(default)]
    byte_fallback: Option<bool>,
    #[serde(default)]
    ignore_merges: Option<bool>,
    #[serde(borrow, default)]
    vocab: Option<VocabField<'a>>,
    #[serde(borrow, default)]
    merges: Option<MergesField<'a>>,
}

#[derive(Deserialize)]
struct RawTokenizer<'a> {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    truncation: Value,
    #[serde(default)]
    padding: Value,
    #[serde(default)]
    added_tokens: Value,
    #[serde(default)]
    normalizer: Value,
    #[serde(default)]
    pre_tokenizer: Value,
    #[serde(default)]
    post_processor: Value,
    #[serde(default)]
    decoder: Value,
    #[serde(borrow)]
    model: Option<RawModel<'a>>,
}

/// Everything `tokenizer.json` says, checked.
pub(crate) struct Config<'a> {
    pub model: ModelSpec<'a>,
    pub nfc: bool,
    pub pre: Vec<Step>,
    pub post: Option<Vec<PostStep>>,
    pub decoder: Option<Vec<DecodeStep>>,
    pub added: Vec<AddedSpec>,
    pub truncation: Option<Truncation>,
    pub padding: Option<Padding>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidVocab(msg.into())
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::NotImplemented(msg.into())
}

fn type_of<'v>(v: &'v Value, what: &str) -> Result<&'v str> {
    v.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what}: missing \"type\" in {}", short(v))))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        let mut end = 117;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

fn get_bool(v: &Value, key: &str, default: bool, what: &str) -> Result<bool> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(invalid(format!(
            "{what}.{key} must be a boolean, got {}",
            short(other)
        ))),
    }
}

fn get_u64(v: &Value, key: &str, what: &str) -> Result<u64> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid(format!("{what}.{key} must be a non-negative integer")))
}

/// Parse and check the whole file.
pub(crate) fn parse(data: &str) -> Result<Config<'_>> {
    CAPACITY_HINT.with(|c| c.set(data.len() / 24));
    let raw: RawTokenizer<'_> = serde_json::from_str(data)
        .map_err(|e| invalid(format!("not a valid tokenizer.json: {e}")))?;
    if let Some(v) = &raw.version {
        if v != "1.0" {
            return Err(invalid(format!(
                "unknown tokenizer.json version {v:?} (expected \"1.0\")"
            )));
        }
    }
    let model = raw.model.ok_or_else(|| invalid("no \"model\""))?;
    let model = parse_model(model)?;
    let nfc = parse_normalizer(&raw.normalizer, "normalizer")?;
    let mut pre = Vec::new();
    parse_pre(&raw.pre_tokenizer, "pre_tokenizer", &mut pre)?;
    let n_bytelevel = pre
        .iter()
        .filter(|s| matches!(s, Step::ByteLevel { .. }))
        .count();
    if n_bytelevel != 1 {
        return Err(unsupported(format!(
            "only byte-level BPE is supported: the pre_tokenizer must contain exactly one \
             ByteLevel (found {n_bytelevel})"
        )));
    }
    let post = if raw.post_processor.is_null() {
        None
    } else {
        let mut steps = Vec::new();
        parse_post(&raw.post_processor, "post_processor", &mut steps)?;
        Some(steps)
    };
    let decoder = if raw.decoder.is_null() {
        None
    } else {
        let mut steps = Vec::new();
        parse_decoder(&raw.decoder, "decoder", &mut steps)?;
        Some(steps)
    };
    let added = parse_added(&raw.added_tokens)?;
    let truncation = parse_truncation(&raw.truncation)?;
    let padding = parse_padding(&raw.padding)?;
    Ok(Config {
        model,
        nfc,
        pre,
        post,
        decoder,
        added,
        truncation,
        padding,
    })
}

fn parse_model(m: RawModel<'_>) -> Result<ModelSpec<'_>> {
    match m.kind.as_deref() {
        Some("BPE") | None => {}
        Some(other) => {
            return Err(unsupported(format!(
                "model type {other:?} is not supported (only byte-level BPE)"
            )))
        }
    }
    if let Some(p) = m.dropout {
        if p != 0.0 {
            return Err(unsupported(format!("BPE dropout ({p}) is not supported")));
        }
    }
    if m.continuing_subword_prefix
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(unsupported(
            "BPE continuing_subword_prefix is not supported",
        ));
    }
    if m.end_of_word_suffix
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(unsupported("BPE end_of_word_suffix is not supported"));
    }
    let vocab = match m.vocab {
        Some(VocabField(Some(v))) => v,
        Some(VocabField(None)) => {
            return Err(unsupported("model.vocab is not a map: not a BPE model"));
        }
        None => return Err(invalid("model: missing vocab/merges")),
    };
    let merges = m
        .merges
        .ok_or_else(|| invalid("model: missing vocab/merges"))?;
    let mut vocab_out = Vec::with_capacity(vocab.len());
    for (tok, id) in vocab {
        let id = u32::try_from(id)
            .map_err(|_| invalid(format!("model.vocab: id {id} of {tok:?} is too large")))?;
        vocab_out.push((tok, id));
    }
    let merges_out = merges.0;
    Ok(ModelSpec {
        vocab: vocab_out,
        merges: merges_out,
        ignore_merges: m.ignore_merges.unwrap_or(false),
        unk_token: m.unk_token,
        fuse_unk: m.fuse_unk.unwrap_or(false),
        byte_fallback: m.byte_fallback.unwrap_or(false),
    })
}

fn parse_normalizer(v: &Value, what: &str) -> Result<bool> {
    if v.is_null() {
        return Ok(false);
    }
    match type_of(v, what)? {
        "NFC" => Ok(true),
        "Sequence" => {
            let list = v
                .get("normalizers")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(format!("{what}: Sequence without \"normalizers\"")))?;
            let mut nfc = false;
            for (i, n) in list.iter().enumerate() {
                nfc |= parse_normalizer(n, &format!("{what}.normalizers[{i}]"))?;
            }
            Ok(nfc)
        }
        other => Err(unsupported(format!(
            "{what}: normalizer {other:?} is not supported"
        ))),
    }
}

fn parse_pre(v: &Value, what: &str, out: &mut Vec<Step>) -> Result<()> {
    if v.is_null() {
        return Ok(());
    }
    match type_of(v, what)? {
        "Sequence" => {
            let list = v
                .get("pretokenizers")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(format!("{what}: Sequence without \"pretokenizers\"")))?;
            for (i, p) in list.iter().enumerate() {
                parse_pre(p, &format!("{what}.pretokenizers[{i}]"), out)?;
            }
        }
        "ByteLevel" => {
            let add_prefix_space = get_bool(v, "add_prefix_space", true, what)?;
            let use_regex = get_bool(v, "use_regex", true, what)?;
            out.push(Step::ByteLevel {
                add_prefix_space,
                regex: if use_regex {
                    Some(Pattern::bytelevel()?)
                } else {
                    None
                },
            });
        }
        "Split" => {
            let pattern = match v.get("pattern") {
                Some(Value::Object(p)) => match (p.get("Regex"), p.get("String")) {
                    (Some(Value::String(r)), None) => Pattern::regex(r)?,
                    (None, Some(Value::String(s))) => {
                        if s.is_empty() {
                            return Err(unsupported(format!("{what}: Split on the empty string")));
                        }
                        Pattern::Literal(s.clone())
                    }
                    _ => {
                        return Err(invalid(format!(
                            "{what}.pattern must be {{\"Regex\": ...}} or {{\"String\": ...}}"
                        )))
                    }
                },
                _ => return Err(invalid(format!("{what}: Split without a pattern"))),
            };
            let behavior = v
                .get("behavior")
                .and_then(Value::as_str)
                .and_then(Behavior::parse)
                .ok_or_else(|| {
                    invalid(format!(
                        "{what}.behavior must be one of Removed, Isolated, MergedWithPrevious, \
                         MergedWithNext, Contiguous"
                    ))
                })?;
            let invert = get_bool(v, "invert", false, what)?;
            out.push(Step::Split {
                pattern,
                behavior,
                invert,
            });
        }
        "Digits" => {
            let individual = get_bool(v, "individual_digits", false, what)?;
            out.push(Step::Split {
                pattern: Pattern::Numeric,
                behavior: if individual {
                    Behavior::Isolated
                } else {
                    Behavior::Contiguous
                },
                invert: false,
            });
        }
        other => {
            return Err(unsupported(format!(
                "{what}: pre-tokenizer {other:?} is not supported"
            )))
        }
    }
    Ok(())
}

fn parse_piece(v: &Value, what: &str) -> Result<Piece> {
    if let Some(s) = v.get("Sequence") {
        let id = match s.get("id").and_then(Value::as_str) {
            Some("A") => Seq::A,
            Some("B") => Seq::B,
            _ => {
                return Err(invalid(format!(
                    "{what}: Sequence id must be \"A\" or \"B\""
                )))
            }
        };
        let type_id = get_u64(s, "type_id", what)? as u32;
        return Ok(Piece::Sequence { id, type_id });
    }
    if let Some(s) = v.get("SpecialToken") {
        let id = s
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{what}: SpecialToken without an id")))?;
        let type_id = get_u64(s, "type_id", what)? as u32;
        return Ok(Piece::Special {
            id: id.to_owned(),
            type_id,
        });
    }
    Err(invalid(format!(
        "{what}: not a template piece: {}",
        short(v)
    )))
}

fn parse_template(v: &Value, key: &str, what: &str) -> Result<Vec<Piece>> {
    let list = v
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{what}: missing \"{key}\" template")))?;
    list.iter()
        .enumerate()
        .map(|(i, p)| parse_piece(p, &format!("{what}.{key}[{i}]")))
        .collect()
}

fn parse_post(v: &Value, what: &str, out: &mut Vec<PostStep>) -> Result<()> {
    match type_of(v, what)? {
        "Sequence" => {
            let list = v
                .get("processors")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(format!("{what}: Sequence without \"processors\"")))?;
            for (i, p) in list.iter().enumerate() {
                parse_post(p, &format!("{what}.processors[{i}]"), out)?;
            }
        }
        "ByteLevel" => out.push(PostStep::ByteLevel {
            trim_offsets: get_bool(v, "trim_offsets", true, what)?,
            add_prefix_space: get_bool(v, "add_prefix_space", true, what)?,
        }),
        "TemplateProcessing" => {
            let single = parse_template(v, "single", what)?;
            let pair = parse_template(v, "pair", what)?;
            let mut tokens = FxHashMap::default();
            if let Some(map) = v.get("special_tokens").and_then(Value::as_object) {
                for (name, t) in map {
                    let ids: Vec<u32> = t
                        .get("ids")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_u64)
                                .map(|x| x as u32)
                                .collect()
                        })
                        .ok_or_else(|| {
                            invalid(format!("{what}.special_tokens.{name}: missing ids"))
                        })?;
                    let toks: Vec<String> = t
                        .get("tokens")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .ok_or_else(|| {
                            invalid(format!("{what}.special_tokens.{name}: missing tokens"))
                        })?;
                    if ids.len() != toks.len() {
                        return Err(invalid(format!(
                            "{what}.special_tokens.{name}: ids and tokens differ in length"
                        )));
                    }
                    tokens.insert(name.clone(), TemplateToken { ids, tokens: toks });
                }
            }
            for p in single.iter().chain(&pair) {
                if let Piece::Special { id, .. } = p {
                    if !tokens.contains_key(id) {
                        return Err(invalid(format!(
                            "{what}: template uses {id:?}, which is not in special_tokens"
                        )));
                    }
                }
            }
            out.push(PostStep::Template {
                single,
                pair,
                tokens,
            });
        }
        other => {
            return Err(unsupported(format!(
                "{what}: post-processor {other:?} is not supported"
            )))
        }
    }
    Ok(())
}

fn parse_decoder(v: &Value, what: &str, out: &mut Vec<DecodeStep>) -> Result<()> {
    match type_of(v, what)? {
        "Sequence" => {
            let list = v
                .get("decoders")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(format!("{what}: Sequence without \"decoders\"")))?;
            for (i, d) in list.iter().enumerate() {
                parse_decoder(d, &format!("{what}.decoders[{i}]"), out)?;
            }
        }
        "ByteLevel" => out.push(DecodeStep::ByteLevel),
        other => {
            return Err(unsupported(format!(
                "{what}: decoder {other:?} is not supported"
            )))
        }
    }
    Ok(())
}

fn parse_added(v: &Value) -> Result<Vec<AddedSpec>> {
    if v.is_null() {
        return Ok(Vec::new());
    }
    let list = v
        .as_array()
        .ok_or_else(|| invalid("added_tokens must be a list"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let what = format!("added_tokens[{i}]");
        let content = t
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{what}: missing \"content\"")))?;
        let special = get_bool(t, "special", false, &what)?;
        let id = match t.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|&x| x <= u64::from(u32::MAX))
                    .ok_or_else(|| {
                        invalid(format!(
                            "{what}: \"id\" must be an integer in 0..2^32, got {v}"
                        ))
                    })?,
            ),
        };
        out.push(AddedSpec {
            id,
            content: content.to_owned(),
            single_word: get_bool(t, "single_word", false, &what)?,
            lstrip: get_bool(t, "lstrip", false, &what)?,
            rstrip: get_bool(t, "rstrip", false, &what)?,
            normalized: get_bool(t, "normalized", !special, &what)?,
            special,
        });
    }
    Ok(out)
}

fn parse_truncation(v: &Value) -> Result<Option<Truncation>> {
    if v.is_null() {
        return Ok(None);
    }
    let what = "truncation";
    let max_length = get_u64(v, "max_length", what)? as usize;
    let stride = v.get("stride").and_then(Value::as_u64).unwrap_or(0) as usize;
    let strategy = match v.get("strategy").and_then(Value::as_str) {
        None => TruncationStrategy::LongestFirst,
        Some(s) => TruncationStrategy::parse(s)?,
    };
    let direction = match v.get("direction").and_then(Value::as_str) {
        None => Direction::Right,
        Some(s) => Direction::parse(s, "truncation.direction")?,
    };
    Ok(Some(Truncation {
        max_length,
        stride,
        strategy,
        direction,
    }))
}

fn parse_padding(v: &Value) -> Result<Option<Padding>> {
    if v.is_null() {
        return Ok(None);
    }
    let length = match v.get("strategy") {
        Some(Value::String(s)) if s == "BatchLongest" => None,
        Some(Value::Object(o)) => match o.get("Fixed").and_then(Value::as_u64) {
            Some(n) => Some(n as usize),
            None => {
                return Err(invalid(
                    "padding.strategy must be \"BatchLongest\" or {\"Fixed\": n}",
                ))
            }
        },
        None => None,
        Some(_) => {
            return Err(invalid(
                "padding.strategy must be \"BatchLongest\" or {\"Fixed\": n}",
            ))
        }
    };
    let direction = match v.get("direction").and_then(Value::as_str) {
        None => Direction::Right,
        Some(s) => Direction::parse(s, "padding.direction")?,
    };
    // Numbers as `tokenizers` reads them: absent or null is the default,
    // anything else must be an integer in range (never silently changed).
    let number = |key: &str, max: u64| -> Result<Option<u64>> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x.as_u64().filter(|&n| n <= max).map(Some).ok_or_else(|| {
                invalid(format!(
                    "padding.{key} must be an integer in 0..={max}, got {x}"
                ))
            }),
        }
    };
    let u32_max = u64::from(u32::MAX);
    let padding = Padding {
        length,
        direction,
        pad_to_multiple_of: number("pad_to_multiple_of", u64::MAX)?.map(|x| x as usize),
        pad_id: number("pad_id", u32_max)?.unwrap_or(0) as u32,
        pad_type_id: number("pad_type_id", u32_max)?.unwrap_or(0) as u32,
        pad_token: v
            .get("pad_token")
            .and_then(Value::as_str)
            .unwrap_or("[PAD]")
            .to_owned(),
    };
    padding
        .check("padding.")
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Some(padding))
}
