//! Special tokens (`<|endoftext|>` and friends): their table, and finding them
//! in text under tiktoken's `allowed_special` / `disallowed_special` policy.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};
use crate::Rank;

/// Which special tokens a policy argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every special token of the encoding (tiktoken's `"all"`).
    All,
    /// Exactly these strings (they need not be special tokens).
    Set(FxHashSet<String>),
}

impl Selection {
    /// The empty selection.
    #[must_use]
    pub fn none() -> Self {
        Self::Set(FxHashSet::default())
    }

    fn is_empty_set(&self) -> bool {
        matches!(self, Self::Set(s) if s.is_empty())
    }
}

/// tiktoken's special-token policy for one `encode` call.
///
/// A special token found in the text is emitted as its id if it is allowed;
/// the call fails if the text contains a disallowed string; otherwise the
/// text is encoded as ordinary text. With `disallowed = All`, every special
/// token that is not allowed is disallowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialPolicy {
    /// Special tokens to emit as their own id.
    pub allowed: Selection,
    /// Strings whose presence in the text is an error.
    pub disallowed: Selection,
}

impl Default for SpecialPolicy {
    fn default() -> Self {
        Self {
            allowed: Selection::none(),
            disallowed: Selection::All,
        }
    }
}

/// The special-token table of an encoding.
#[derive(Debug, Clone)]
pub struct SpecialTokens {
    encoder: FxHashMap<String, Rank>,
    decoder: FxHashMap<Rank, String>,
    /// Patterns in `names` order; `None` when there are no special tokens.
    matcher: Option<AhoCorasick>,
    names: Vec<String>,
}

impl SpecialTokens {
    /// Build the table.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] for an empty special token or a name given
    /// twice. Two names may share an id; the id decodes to the first.
    pub fn new(tokens: Vec<(String, Rank)>) -> Result<Self> {
        let mut encoder = FxHashMap::default();
        let mut decoder: FxHashMap<Rank, String> = FxHashMap::default();
        let mut names = Vec::with_capacity(tokens.len());
        for (name, rank) in tokens {
            if name.is_empty() {
                return Err(Error::InvalidVocab(format!(
                    "special token with id {rank} is the empty string"
                )));
            }
            // Two names may share an id (tiktoken's o200k_harmony has
            // `<|endofprompt|>` and `<|reserved_200018|>`): both encode to
            // it, and it decodes to the first name given.
            decoder.entry(rank).or_insert_with(|| name.clone());
            if encoder.insert(name.clone(), rank).is_some() {
                return Err(Error::InvalidVocab(format!(
                    "special token {name:?} is given twice"
                )));
            }
            names.push(name);
        }
        let matcher = if names.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(&names)
                    .map_err(|e| Error::InvalidVocab(format!("special tokens: {e}")))?,
            )
        };
        Ok(Self {
            encoder,
            decoder,
            matcher,
            names,
        })
    }

    /// Number of special tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Id of a special token.
    #[must_use]
    pub fn rank(&self, name: &str) -> Option<Rank> {
        self.encoder.get(name).copied()
    }

    /// Text of a special token id.
    #[must_use]
    pub fn name(&self, rank: Rank) -> Option<&str> {
        self.decoder.get(&rank).map(String::as_str)
    }

    /// `(name, id)` pairs in construction order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Rank)> + '_ {
        self.names.iter().map(|n| (n.as_str(), self.encoder[n]))
    }

    fn is_allowed(&self, policy: &SpecialPolicy, name: &str) -> bool {
        match &policy.allowed {
            Selection::All => true,
            Selection::Set(s) => s.contains(name),
        }
    }

    /// Fail if `text` contains a string the policy disallows; report the
    /// leftmost one (longest among those starting at the same byte).
    ///
    /// # Errors
    /// [`Error::DisallowedSpecial`] naming the string.
    pub fn check_disallowed(&self, text: &str, policy: &SpecialPolicy) -> Result<()> {
        let found = match &policy.disallowed {
            Selection::Set(s) if s.is_empty() => None,
            Selection::All => {
                if matches!(policy.allowed, Selection::All) {
                    return Ok(());
                }
                self.matcher.as_ref().and_then(|m| {
                    leftmost_longest(m.find_overlapping_iter(text).filter(|mat| {
                        !self.is_allowed(policy, &self.names[mat.pattern().as_usize()])
                    }))
                    .map(|(s, e)| text[s..e].to_owned())
                })
            }
            Selection::Set(s) => {
                let pats: Vec<&String> = s.iter().filter(|p| !p.is_empty()).collect();
                if pats.is_empty() {
                    None
                } else {
                    let m = AhoCorasick::new(&pats)
                        .map_err(|e| Error::InvalidArgument(format!("disallowed_special: {e}")))?;
                    leftmost_longest(m.find_overlapping_iter(text))
                        .map(|(s, e)| text[s..e].to_owned())
                }
            }
        };
        match found {
            Some(token) => Err(Error::DisallowedSpecial { token }),
            None => Ok(()),
        }
    }

    /// Allowed special tokens in `text`, as non-overlapping `(start, end,
    /// id)` byte ranges, left to right: at each step the leftmost match,
    /// the longest one among matches starting at the same byte.
    #[must_use]
    pub fn find_allowed(&self, text: &str, policy: &SpecialPolicy) -> Vec<(usize, usize, Rank)> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        if policy.allowed.is_empty_set() {
            return Vec::new();
        }
        let mut all: Vec<(usize, usize, Rank)> = matcher
            .find_overlapping_iter(text)
            .filter_map(|m| {
                let name = &self.names[m.pattern().as_usize()];
                self.is_allowed(policy, name)
                    .then(|| (m.start(), m.end(), self.encoder[name]))
            })
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out: Vec<(usize, usize, Rank)> = Vec::with_capacity(all.len());
        let mut pos = 0;
        for m in all {
            if m.0 >= pos {
                pos = m.1;
                out.push(m);
            }
        }
        out
    }
}

fn leftmost_longest(it: impl Iterator<Item = aho_corasick::Match>) -> Option<(usize, usize)> {
    it.map(|m| (m.start(), m.end()))
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
}
