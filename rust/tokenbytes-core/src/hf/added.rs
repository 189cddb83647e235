//! Added tokens (`added_tokens` of `tokenizer.json`) with `tokenizers`'
//! semantics.
//!
//! * Ids are assigned as `tokenizers` does when it loads a file (the `id`
//!   fields of the file are not used): a token whose content is already a
//!   token keeps that id, any other gets the next id from the size of the
//!   model vocabulary up.
//! * Tokens with `normalized: false` are found in the raw text; those with
//!   `normalized: true` in each normalized remaining segment, as their own
//!   normalized form. Both searches take, left to right, the longest token
//!   starting at the leftmost position (non-overlapping), then drop the
//!   matches that fail `single_word` (a word character right before or after
//!   the match) or that are special tokens while special tokens are split.
//!   `lstrip` / `rstrip` extend a kept match over the white space before /
//!   after it.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};

use super::model::BpeModel;
use super::normalize;

/// An entry of `added_tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddedSpec {
    /// The `id` written in the file, if any (checked, not used to assign).
    pub id: Option<u64>,
    pub content: String,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
    pub normalized: bool,
    pub special: bool,
}

#[derive(Debug, Clone)]
struct Matcher {
    ac: AhoCorasick,
    ids: Vec<u32>,
}

/// A piece of a text found by [`AddedVocab::find`]: a byte range and the
/// added token it is, if any.
pub(crate) type Found = (Option<u32>, usize, usize);

/// The added vocabulary.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddedVocab {
    by_content: FxHashMap<String, u32>,
    by_id: FxHashMap<u32, AddedSpec>,
    /// Normalized content of normalized tokens, when it differs.
    normalized: FxHashMap<u32, String>,
    special: FxHashSet<String>,
    raw: Option<Matcher>,
    norm: Option<Matcher>,
}

fn word_ranges() -> &'static [(u32, u32)] {
    static RANGES: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    RANGES.get_or_init(|| {
        let mut out = Vec::new();
        if let Ok(hir) = regex_syntax::Parser::new().parse(r"\w") {
            if let regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(cls)) =
                hir.kind()
            {
                out.extend(
                    cls.ranges()
                        .iter()
                        .map(|r| (r.start() as u32, r.end() as u32)),
                );
            }
        }
        out
    })
}

/// `\w` of the `regex` crate (Unicode word character).
fn is_word_char(c: char) -> bool {
    let u = c as u32;
    let r = word_ranges();
    let i = r.partition_point(|&(_, end)| end < u);
    i < r.len() && r[i].0 <= u
}

impl AddedVocab {
    /// Register `tokens` in order, as `tokenizers`' `add_tokens`.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] if two tokens would be searched for as the
    /// same string.
    pub(crate) fn new(tokens: Vec<AddedSpec>, model: &BpeModel, nfc: bool) -> Result<Self> {
        let mut v = Self::default();
        let mut next_id = model.vocab_len() as u32;
        for t in tokens {
            if t.content.is_empty() {
                continue;
            }
            if let Some(id) = v.by_content.get(&t.content) {
                if v.by_id.get(id) == Some(&t) {
                    continue;
                }
            }
            let id = match v
                .by_content
                .get(&t.content)
                .copied()
                .or_else(|| model.token_to_id(&t.content))
            {
                Some(id) => id,
                None => {
                    let id = next_id;
                    next_id += 1;
                    // `tokenizers` numbers new tokens from the vocabulary's
                    // size, so a vocabulary with gaps in its ids can hand
                    // out an id that a model token already has: two tokens
                    // with one id, which it accepts silently.
                    if let Some(other) = model.id_to_token(id) {
                        return Err(Error::InvalidVocab(format!(
                            "added token {:?} would get id {id}, which is already the id of \
                             model token {other:?} (the vocabulary has gaps in its ids)",
                            t.content
                        )));
                    }
                    id
                }
            };
            // The file's own `id` must be the one the token gets: a
            // different one would mean silently renumbering the token.
            if let Some(file_id) = t.id {
                if file_id != u64::from(id) {
                    return Err(Error::InvalidVocab(format!(
                        "added token {:?} has id {file_id} in the file, but it is token {id} \
                         (ids are given by the vocabulary first, then in order from its size)",
                        t.content
                    )));
                }
            }
            if t.normalized && nfc {
                let n = normalize::nfc(&t.content, false).text;
                if n != t.content {
                    v.normalized.insert(id, n.into_owned());
                }
            }
            v.by_content.insert(t.content.clone(), id);
            if t.special {
                v.special.insert(t.content.clone());
            }
            v.by_id.insert(id, t);
        }
        v.raw = v.matcher(false)?;
        v.norm = v.matcher(true)?;
        Ok(v)
    }

    fn matcher(&self, normalized: bool) -> Result<Option<Matcher>> {
        let mut pats: Vec<(&str, u32)> = self
            .by_id
            .iter()
            .filter(|(_, t)| t.normalized == normalized)
            .map(|(&id, t)| {
                let p = self
                    .normalized
                    .get(&id)
                    .map_or(t.content.as_str(), String::as_str);
                (p, id)
            })
            .collect();
        if pats.is_empty() {
            return Ok(None);
        }
        pats.sort_unstable();
        for w in pats.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(Error::InvalidVocab(format!(
                    "added_tokens: ids {} and {} would both match the text {:?}",
                    w[0].1, w[1].1, w[0].0
                )));
            }
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(pats.iter().map(|p| p.0))
            .map_err(|e| Error::InvalidVocab(format!("added_tokens: {e}")))?;
        Ok(Some(Matcher {
            ac,
            ids: pats.iter().map(|p| p.1).collect(),
        }))
    }

    /// Number of added tokens (distinct contents).
    pub(crate) fn len(&self) -> usize {
        self.by_content.len()
    }

    pub(crate) fn id_of(&self, content: &str) -> Option<u32> {
        self.by_content.get(content).copied()
    }

    /// The text `decode` shows for an added token id.
    pub(crate) fn text_of(&self, id: u32) -> Option<&str> {
        let t = self.by_id.get(&id)?;
        Some(
            self.normalized
                .get(&id)
                .map_or(t.content.as_str(), String::as_str),
        )
    }

    pub(crate) fn get(&self, id: u32) -> Option<&AddedSpec> {
        self.by_id.get(&id)
    }

    pub(crate) fn is_special_text(&self, text: &str) -> bool {
        self.special.contains(text)
    }

    /// Whether the added token `id` is special.
    pub(crate) fn is_special_id(&self, id: u32) -> bool {
        self.by_id
            .get(&id)
            .is_some_and(|t| self.special.contains(&t.content))
    }

    /// `(content, id)` of every added token.
    pub(crate) fn contents(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.by_content.iter().map(|(c, &id)| (c.as_str(), id))
    }

    /// `(id, content, special)` sorted by id.
    pub(crate) fn list(&self) -> Vec<(u32, &str, bool)> {
        let mut v: Vec<(u32, &str, bool)> = self
            .by_id
            .iter()
            .map(|(&id, t)| (id, t.content.as_str(), t.special))
            .collect();
        v.sort_unstable_by_key(|x| x.0);
        v
    }

    /// Whether some added token must be searched for in raw / normalized
    /// text.
    pub(crate) fn has_raw(&self) -> bool {
        self.raw.is_some()
    }

    pub(crate) fn has_normalized(&self) -> bool {
        self.norm.is_some()
    }

    /// Split `sentence` on the added tokens of one kind (raw or
    /// normalized), `tokenizers`' `find_matches`. `skip(id)` tells whether
    /// a match of a special token is to be ignored (text stays text).
    pub(crate) fn find(
        &self,
        sentence: &str,
        normalized: bool,
        skip: &dyn Fn(u32) -> bool,
        out: &mut Vec<Found>,
    ) {
        out.clear();
        if sentence.is_empty() {
            return;
        }
        let Some(m) = (if normalized { &self.norm } else { &self.raw }) else {
            out.push((None, 0, sentence.len()));
            return;
        };
        let mut start_offset = 0usize;
        for mat in m.ac.find_iter(sentence) {
            let (mut start, mut stop) = (mat.start(), mat.end());
            let id = m.ids[mat.pattern().as_usize()];
            let Some(tok) = self.by_id.get(&id) else {
                continue;
            };
            if self.special.contains(&tok.content) && skip(id) {
                continue;
            }
            if tok.single_word {
                let start_space = start == 0
                    || !sentence[..start]
                        .chars()
                        .next_back()
                        .is_some_and(is_word_char);
                let stop_space = stop == sentence.len()
                    || !sentence[stop..].chars().next().is_some_and(is_word_char);
                if !start_space || !stop_space {
                    continue;
                }
            }
            if tok.lstrip {
                let before = &sentence[..start];
                let trimmed = before.trim_end_matches(char::is_whitespace).len();
                start = trimmed.max(start_offset);
            }
            if tok.rstrip {
                let after = &sentence[stop..];
                stop += after.len() - after.trim_start_matches(char::is_whitespace).len();
            }
            if start_offset < start {
                out.push((None, start_offset, start));
            }
            out.push((Some(id), start, stop));
            start_offset = stop;
        }
        if start_offset != sentence.len() {
            out.push((None, start_offset, sentence.len()));
        }
    }
}
