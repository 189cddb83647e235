//! Boundary modes: where in a text merges may never cross.
//!
//! Every mode cuts the text between special tokens into *units*; two
//! adjacent tokens may merge only if they lie in the same unit. The cut is
//! computed on the decoded bytes, so a token-id sequence and the text it
//! spells give the same units. A cut that falls strictly inside a token is
//! ignored (the token joins the units it touches), so every unit is a whole
//! number of tokens.
//!
//! Bytes that are not part of valid UTF-8 (a sequence truncated inside a
//! character) count as letters in the word modes; in the pre-token mode each
//! maximal run of them is a piece of its own, as in
//! [`crate::CoreBpe::encode_bytes`].

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::pretokenize::PreTokenizer;

/// Which adjacent tokens may merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Boundary {
    /// Only inside one pre-token of the tokenizer's own pre-tokenizer, and
    /// only if the joined bytes are a single pre-token on their own.
    PreToken,
    /// Only inside one whitespace-delimited word (a word owns the single
    /// whitespace character before it, as GPT-style tokens do; the rest of a
    /// whitespace run is a unit of its own). Punctuation may join a word.
    Word,
    /// Like [`Boundary::Word`], but inside a word, runs of letters, marks,
    /// digits and `-` are cut from runs of any other character, so
    /// punctuation joins a word only if it is `-`.
    WordHyphen,
    /// Anywhere except next to a special token.
    None,
}

impl Boundary {
    /// Every mode with its Python name.
    pub const ALL: [(&'static str, Self); 4] = [
        ("pretoken", Self::PreToken),
        ("word", Self::Word),
        ("word_hyphen", Self::WordHyphen),
        ("none", Self::None),
    ];

    /// Parse the Python name of a mode.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown name.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "boundary must be one of \"pretoken\", \"word\", \"word_hyphen\", \"none\"; got {name:?}"
                ))
            })
    }

    /// The Python name of the mode.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("?", |(n, _)| n)
    }
}

/// Append to `out` the byte offsets (increasing, possibly repeated, `0` and
/// `seg.len()` allowed) where `mode` cuts the segment `seg`.
///
/// # Errors
/// Only if the pre-tokenizer's regex engine gives up.
pub fn cuts(mode: Boundary, pretok: &PreTokenizer, seg: &[u8], out: &mut Vec<usize>) -> Result<()> {
    match mode {
        Boundary::None => Ok(()),
        Boundary::PreToken => pretoken_cuts(pretok, seg, out),
        Boundary::Word => {
            word_cuts(seg, false, out);
            Ok(())
        }
        Boundary::WordHyphen => {
            word_cuts(seg, true, out);
            Ok(())
        }
    }
}

/// Whether `bytes` is exactly one pre-token of `pretok` on its own (valid
/// UTF-8 runs split by the pattern, each run of invalid bytes one piece, as
/// for unit cuts). `scratch` is reused between calls.
///
/// # Errors
/// Regex failures (backtrack limit).
pub fn is_single_pretoken(
    pretok: &PreTokenizer,
    bytes: &[u8],
    scratch: &mut Vec<usize>,
) -> Result<bool> {
    scratch.clear();
    pretoken_cuts(pretok, bytes, scratch)?;
    Ok(scratch.iter().all(|&c| c == 0 || c == bytes.len()))
}

fn pretoken_cuts(pretok: &PreTokenizer, seg: &[u8], out: &mut Vec<usize>) -> Result<()> {
    let mut pos = 0;
    let mut in_invalid = false;
    for chunk in seg.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.is_empty() {
            if in_invalid {
                out.push(pos);
                in_invalid = false;
            }
            let base = valid.as_ptr() as usize;
            pretok.split(valid, |piece| {
                let start = pos + (piece.as_ptr() as usize - base);
                out.push(start);
                out.push(start + piece.len());
            })?;
            pos += valid.len();
        }
        let invalid = chunk.invalid();
        if !invalid.is_empty() {
            if !in_invalid {
                out.push(pos);
                in_invalid = true;
            }
            pos += invalid.len();
        }
    }
    Ok(())
}

/// Character class for the word modes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Space,
    /// Letters, marks, digits, `-` and bytes that are not valid UTF-8.
    Join,
    /// Everything else (punctuation, symbols, controls).
    Other,
}

fn classify(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if c == '-' || is_letter_mark_number(c) {
        Class::Join
    } else {
        Class::Other
    }
}

/// Whether `c` is in Unicode general category L, M or N.
#[must_use]
pub fn is_letter_mark_number(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    let table = lmn_table();
    if table.is_empty() {
        return c.is_alphanumeric();
    }
    let cp = c as u32;
    match table.binary_search_by(|&(lo, _)| lo.cmp(&cp)) {
        Ok(_) => true,
        Err(0) => false,
        Err(i) => cp <= table[i - 1].1,
    }
}

/// Sorted, disjoint code-point ranges of `[\p{L}\p{M}\p{N}]`, from the
/// Unicode tables of `regex-syntax` (built once).
fn lmn_table() -> &'static [(u32, u32)] {
    static TABLE: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        use regex_syntax::hir::{Class as HirClass, HirKind};
        let Ok(hir) = regex_syntax::ParserBuilder::new()
            .build()
            .parse(r"[\p{L}\p{M}\p{N}]")
        else {
            return Vec::new();
        };
        match hir.kind() {
            HirKind::Class(HirClass::Unicode(cls)) => cls
                .ranges()
                .iter()
                .map(|r| (r.start() as u32, r.end() as u32))
                .collect(),
            _ => Vec::new(),
        }
    })
}

/// Characters of `seg` as `(byte offset, class)`; each invalid byte is one
/// `Join` character.
fn classes(seg: &[u8]) -> Vec<(usize, Class)> {
    let mut out = Vec::with_capacity(seg.len());
    let mut pos = 0;
    for chunk in seg.utf8_chunks() {
        for (i, c) in chunk.valid().char_indices() {
            out.push((pos + i, classify(c)));
        }
        pos += chunk.valid().len();
        for _ in chunk.invalid() {
            out.push((pos, Class::Join));
            pos += 1;
        }
    }
    out
}

/// Units of the word modes: `\s?\S+ | \s+(?!\S) | \s+` (leftmost first),
/// and with `hyphen`, each `\s?\S+` unit is further cut where the class of
/// its non-space characters changes between `Join` and `Other`.
fn word_cuts(seg: &[u8], hyphen: bool, out: &mut Vec<usize>) {
    let chars = classes(seg);
    let n = chars.len();
    let mut i = 0;
    while i < n {
        out.push(chars[i].0);
        if chars[i].1 == Class::Space {
            let mut j = i;
            while j < n && chars[j].1 == Class::Space {
                j += 1;
            }
            if j == n {
                break;
            }
            if j - i >= 2 {
                // The run minus its last character is a unit; the last one
                // starts the word.
                out.push(chars[j - 1].0);
            }
            i = j;
        }
        // A word: non-space characters from `i` (after its optional space).
        let mut prev = chars[i].1;
        let mut k = i + 1;
        while k < n && chars[k].1 != Class::Space {
            if hyphen && chars[k].1 != prev {
                out.push(chars[k].0);
            }
            prev = chars[k].1;
            k += 1;
        }
        i = k;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn units(seg: &str, hyphen: bool) -> Vec<&str> {
        let mut c = Vec::new();
        word_cuts(seg.as_bytes(), hyphen, &mut c);
        c.push(seg.len());
        c.dedup();
        c.windows(2).map(|w| &seg[w[0]..w[1]]).collect()
    }

    #[test]
    fn word_units() {
        assert_eq!(units("hello  world.", false), ["hello", " ", " world."]);
        assert_eq!(units("  a b   ", false), [" ", " a", " b", "   "]);
        assert_eq!(units("\nfoo", false), ["\nfoo"]);
        assert_eq!(units("", false), Vec::<&str>::new());
    }

    #[test]
    fn word_hyphen_units() {
        assert_eq!(
            units(" (state-of-the-art), ok", true),
            [" (", "state-of-the-art", "),", " ok"]
        );
        assert_eq!(units("नमस्ते दुनिया", true), ["नमस्ते", " दुनिया"]);
        assert_eq!(units("don't", true), ["don", "'", "t"]);
    }

    #[test]
    fn lmn() {
        assert!(is_letter_mark_number('é'));
        assert!(is_letter_mark_number('\u{094D}')); // Devanagari virama (Mn)
        assert!(is_letter_mark_number('٣'));
        assert!(!is_letter_mark_number('،'));
        assert!(!is_letter_mark_number('€'));
    }

    #[test]
    fn parse_names() {
        for (name, b) in Boundary::ALL {
            assert_eq!(Boundary::parse(name).unwrap(), b);
            assert_eq!(b.name(), name);
        }
        assert!(Boundary::parse("words").is_err());
    }
}
