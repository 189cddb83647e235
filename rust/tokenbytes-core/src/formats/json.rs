//! Writing a Hugging Face `tokenizer.json` (the schema of `tokenizers` 0.23)
//! for a byte-level BPE model.
//!
//! The output is built as text, vocabulary in id order, with
//! `serde_json` doing the string escaping: a 200k-token vocabulary takes a
//! few tens of milliseconds and no intermediate JSON tree.

use crate::error::{Error, Result};
use crate::Rank;

/// The GPT-2 byte ↔ character table of byte-level BPE: printable Latin-1
/// bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves, the other 68
/// bytes map to U+0100.. in byte order.
pub fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 0x100u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let printable = matches!(b, 0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff);
        let code = if printable {
            b as u32
        } else {
            let c = next;
            next += 1;
            c
        };
        // Every code here is below 0x144: a valid scalar value.
        *slot = char::from_u32(code).unwrap_or('\0');
    }
    table
}

/// The byte-level string of `bytes` (each byte as its table character).
pub fn bytes_to_level(table: &[char; 256], bytes: &[u8]) -> String {
    bytes.iter().map(|&b| table[b as usize]).collect()
}

/// One pre-tokenizer of the generated pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreStep {
    /// `Split` with a regex, behaviour `Isolated`, not inverted.
    Split(String),
    /// `ByteLevel` splitting with the GPT-2 regex (`use_regex: true`).
    ByteLevelRegex,
    /// `Digits` with `individual_digits`.
    Digits(bool),
}

/// An entry of `added_tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedToken {
    pub id: Rank,
    pub content: String,
    pub special: bool,
}

/// Everything a byte-level BPE `tokenizer.json` holds.
#[derive(Debug, Clone, Default)]
pub struct TokenizerSpec {
    /// Model vocabulary: (byte-level string, id), any order. Added tokens
    /// missing from it are added to it by [`Self::to_json`].
    pub vocab: Vec<(String, Rank)>,
    /// Ranked merges as byte-level strings, best first.
    pub merges: Vec<(String, String)>,
    pub added: Vec<AddedToken>,
    /// Pre-tokenizers before the final byte-level mapping. A final
    /// `ByteLevel(use_regex=false)` is appended unless a step already is
    /// `ByteLevelRegex`.
    pub pre: Vec<PreStep>,
    pub ignore_merges: bool,
    /// Tokens added around each sequence (`TemplateProcessing`): (id, content).
    pub bos: Option<(Rank, String)>,
    pub eos: Option<(Rank, String)>,
}

fn q(s: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

fn special_ref(content: &str, type_id: u32) -> String {
    format!(
        "{{\"SpecialToken\":{{\"id\":{},\"type_id\":{type_id}}}}}",
        q(content)
    )
}

fn seq_ref(which: &str, type_id: u32) -> String {
    format!("{{\"Sequence\":{{\"id\":\"{which}\",\"type_id\":{type_id}}}}}")
}

impl TokenizerSpec {
    fn post_processor(&self) -> String {
        if self.bos.is_none() && self.eos.is_none() {
            return "null".to_owned();
        }
        let mut single = Vec::new();
        let mut pair = Vec::new();
        // single: [bos] $A [eos]; pair: [bos] $A [eos] [bos] $B [eos], the
        // second half with type id 1 (as the Llama-3 tokenizer.json does).
        for (part, type_id) in [("A", 0u32), ("B", 1)] {
            let mut items = Vec::new();
            if let Some((_, c)) = &self.bos {
                items.push(special_ref(c, type_id));
            }
            items.push(seq_ref(part, type_id));
            if let Some((_, c)) = &self.eos {
                items.push(special_ref(c, type_id));
            }
            if part == "A" {
                single.extend(items.iter().cloned());
            }
            pair.extend(items);
        }
        let mut specials: Vec<&(Rank, String)> = self.bos.iter().chain(self.eos.iter()).collect();
        specials.dedup_by(|a, b| a.1 == b.1);
        let map: Vec<String> = specials
            .iter()
            .map(|(id, c)| {
                format!(
                    "{}:{{\"id\":{},\"ids\":[{id}],\"tokens\":[{}]}}",
                    q(c),
                    q(c),
                    q(c)
                )
            })
            .collect();
        format!(
            "{{\"type\":\"TemplateProcessing\",\"single\":[{}],\"pair\":[{}],\"special_tokens\":{{{}}}}}",
            single.join(","),
            pair.join(","),
            map.join(",")
        )
    }

    fn pre_tokenizer(&self) -> String {
        let mut steps: Vec<String> = self
            .pre
            .iter()
            .map(|s| match s {
                PreStep::Split(re) => format!(
                    "{{\"type\":\"Split\",\"pattern\":{{\"Regex\":{}}},\"behavior\":\"Isolated\",\"invert\":false}}",
                    q(re)
                ),
                PreStep::ByteLevelRegex => "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}".to_owned(),
                PreStep::Digits(individual) => {
                    format!("{{\"type\":\"Digits\",\"individual_digits\":{individual}}}")
                }
            })
            .collect();
        if !self.pre.contains(&PreStep::ByteLevelRegex) {
            steps.push(
                "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}"
                    .to_owned(),
            );
        }
        format!(
            "{{\"type\":\"Sequence\",\"pretokenizers\":[{}]}}",
            steps.join(",")
        )
    }

    /// The `tokenizer.json` text.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] when two vocabulary entries share a string or
    /// an id, or an added token's text is a vocabulary token with another id.
    pub fn to_json(&self) -> Result<String> {
        // `tokenizers` keeps the id of an added token only when the model
        // vocabulary has its text (otherwise it renumbers it after the
        // vocabulary), so every added token is also a vocabulary entry.
        let mut extra: Vec<(String, Rank)> = Vec::new();
        {
            let by_text: rustc_hash::FxHashMap<&str, Rank> =
                self.vocab.iter().map(|(s, r)| (s.as_str(), *r)).collect();
            for a in &self.added {
                match by_text.get(a.content.as_str()) {
                    Some(&id) if id == a.id => {}
                    Some(&id) => {
                        return Err(Error::InvalidVocab(format!(
                            "added token {:?} has id {}, but the vocabulary gives that text id \
                             {id}: a tokenizer.json cannot hold both",
                            a.content, a.id
                        )))
                    }
                    None => extra.push((a.content.clone(), a.id)),
                }
            }
        }
        let mut vocab: Vec<&(String, Rank)> = self.vocab.iter().chain(extra.iter()).collect();
        vocab.sort_unstable_by_key(|(_, id)| *id);
        for w in vocab.windows(2) {
            if w[0].1 == w[1].1 {
                return Err(Error::InvalidVocab(format!(
                    "id {} is given to both {:?} and {:?}",
                    w[0].1, w[0].0, w[1].0
                )));
            }
        }
        let mut seen = rustc_hash::FxHashSet::default();
        for (s, _) in &vocab {
            if !seen.insert(s.as_str()) {
                return Err(Error::InvalidVocab(format!(
                    "token {s:?} appears twice in the vocabulary"
                )));
            }
        }
        let mut out = String::with_capacity(64 * (self.vocab.len() + self.merges.len()) + 4096);
        out.push_str(
            "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[",
        );
        let mut added: Vec<&AddedToken> = self.added.iter().collect();
        added.sort_by_key(|a| a.id);
        for (i, a) in added.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "{{\"id\":{},\"content\":{},\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":{}}}",
                a.id,
                q(&a.content),
                a.special
            ));
        }
        out.push_str("],\"normalizer\":null,\"pre_tokenizer\":");
        out.push_str(&self.pre_tokenizer());
        out.push_str(",\"post_processor\":");
        out.push_str(&self.post_processor());
        out.push_str(
            ",\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true}",
        );
        out.push_str(&format!(
            ",\"model\":{{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":{},\"vocab\":{{",
            self.ignore_merges
        ));
        for (i, (s, id)) in vocab.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&q(s));
            out.push(':');
            out.push_str(&id.to_string());
        }
        out.push_str("},\"merges\":[");
        for (i, (a, b)) in self.merges.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            out.push_str(&q(a));
            out.push(',');
            out.push_str(&q(b));
            out.push(']');
        }
        out.push_str("]}}");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_gpt2s() {
        let t = byte_to_char_table();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[0], 'Ā');
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[0xad], '\u{143}');
        let mut all: Vec<char> = t.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 256);
    }

    #[test]
    fn json_is_valid_and_ordered() {
        let spec = TokenizerSpec {
            vocab: vec![("b".into(), 1), ("a".into(), 0), ("ab".into(), 2)],
            merges: vec![("a".into(), "b".into())],
            added: vec![AddedToken {
                id: 3,
                content: "<s>".into(),
                special: true,
            }],
            pre: vec![PreStep::Split("\\p{N}".into())],
            ignore_merges: true,
            bos: Some((3, "<s>".into())),
            eos: None,
        };
        let text = spec.to_json().expect("valid");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["model"]["vocab"]["ab"], 2);
        assert_eq!(v["model"]["merges"][0][1], "b");
        assert_eq!(v["model"]["ignore_merges"], true);
        assert_eq!(
            v["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"],
            "\\p{N}"
        );
        assert_eq!(v["pre_tokenizer"]["pretokenizers"][1]["use_regex"], false);
        assert_eq!(v["post_processor"]["special_tokens"]["<s>"]["ids"][0], 3);
        assert_eq!(
            v["post_processor"]["pair"].as_array().map(Vec::len),
            Some(4)
        );
        assert!(text.find("\"a\":0").unwrap_or(usize::MAX) < text.find("\"b\":1").unwrap_or(0));

        // The added token joins the model vocabulary with its id.
        assert_eq!(v["model"]["vocab"]["<s>"], 3);
        let mut clash = spec.clone();
        clash.vocab.push(("<s>".into(), 4));
        assert!(clash
            .to_json()
            .is_err_and(|e| e.to_string().contains("cannot hold both")));
        let mut dup = spec.clone();
        dup.vocab.push(("c".into(), 2));
        assert!(dup.to_json().is_err());
        let mut dup = spec;
        dup.vocab.push(("a".into(), 7));
        assert!(dup.to_json().is_err());
    }
}
