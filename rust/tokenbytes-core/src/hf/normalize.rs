//! Unicode NFC with the character alignments `tokenizers` reports.
//!
//! `tokenizers` normalizes with the `unicode-normalization-alignments` crate
//! (Unicode 9.0 data): it decomposes canonically, reorders each run of
//! combining marks by canonical combining class (stable sort), recomposes,
//! and tags every output character with a *change*: `0` when it replaces one
//! input character, `1` when it is inserted after the previous one, `-n`
//! when it replaces one character and removes the `n` following. The
//! alignment of each output byte (the original byte range it came from) is
//! derived from those tags. This module reimplements that algorithm from its
//! observable behaviour, on the character data of `unicode-normalization`
//! restricted to the characters assigned in Unicode 9.0 (normalization data
//! of assigned characters never changes between versions; characters
//! assigned later are, for Unicode 9.0, unassigned: class 0, no
//! decomposition, no composition).

use std::borrow::Cow;
use std::sync::OnceLock;

use unicode_normalization::char::{canonical_combining_class, compose, decompose_canonical};

/// Code point ranges assigned in Unicode 9.0 or earlier, sorted.
fn unicode9_ranges() -> &'static [(u32, u32)] {
    static RANGES: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    RANGES.get_or_init(|| {
        let parsed = regex_syntax::Parser::new().parse(r"\p{Age=9.0}");
        let mut out = Vec::new();
        if let Ok(hir) = parsed {
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

/// Whether `c` was assigned in Unicode 9.0.
fn in_unicode9(c: char) -> bool {
    let u = c as u32;
    if u < 0x0860 {
        // Everything assigned below U+0860 was assigned by 9.0; the gaps are
        // unassigned in every version and have no normalization data.
        return true;
    }
    let ranges = unicode9_ranges();
    let i = ranges.partition_point(|&(_, end)| end < u);
    i < ranges.len() && ranges[i].0 <= u
}

fn ccc9(c: char) -> u8 {
    if in_unicode9(c) {
        canonical_combining_class(c)
    } else {
        0
    }
}

fn compose9(a: char, b: char) -> Option<char> {
    if !in_unicode9(a) || !in_unicode9(b) {
        return None;
    }
    compose(a, b).filter(|&r| in_unicode9(r))
}

/// Canonical decomposition with canonical ordering; each item is
/// `(char, change)` as described in the module documentation.
fn decompose_tagged(s: &str, out: &mut Vec<(char, isize)>) {
    // Start of the pending run of non-starters (reordered when it ends).
    let mut pending = 0usize;
    let mut classes: Vec<u8> = Vec::new();
    let flush = |out: &mut Vec<(char, isize)>, classes: &mut Vec<u8>, pending: &mut usize| {
        let run = &mut out[*pending..];
        if run.len() > 1 {
            let mut items: Vec<(u8, char, isize)> = run
                .iter()
                .zip(classes.iter())
                .map(|(&(c, ch), &k)| (k, c, ch))
                .collect();
            items.sort_by_key(|x| x.0);
            for (slot, (_, c, ch)) in run.iter_mut().zip(items) {
                *slot = (c, ch);
            }
        }
        *pending = out.len();
        classes.clear();
    };
    for ch in s.chars() {
        let mut first = true;
        let mut push = |d: char| {
            let class = ccc9(d);
            if class == 0 {
                flush(out, &mut classes, &mut pending);
            }
            out.push((d, if first { 0 } else { 1 }));
            classes.push(class);
            first = false;
        };
        if in_unicode9(ch) {
            decompose_canonical(ch, &mut push);
        } else {
            push(ch);
        }
    }
    flush(out, &mut classes, &mut pending);
}

/// Canonical recomposition of a tagged decomposition (the composition step
/// of NFC), combining the change tags of merged characters.
fn recompose_tagged(input: &[(char, isize)], out: &mut Vec<(char, isize)>) {
    let mut composee: Option<(char, isize)> = None;
    let mut last_ccc: Option<u8> = None;
    let mut buffer: Vec<(char, isize)> = Vec::new();
    for &(ch, change) in input {
        let class = ccc9(ch);
        let Some(k) = composee else {
            if class != 0 {
                out.push((ch, change));
            } else {
                composee = Some((ch, change));
            }
            continue;
        };
        match last_ccc {
            None => match compose9(k.0, ch) {
                Some(r) => composee = Some((r, k.1 + change - 1)),
                None => {
                    if class == 0 {
                        composee = Some((ch, change));
                        out.push(k);
                    } else {
                        buffer.push((ch, change));
                        last_ccc = Some(class);
                    }
                }
            },
            Some(last) => {
                if last >= class {
                    if class == 0 {
                        composee = Some((ch, change));
                        last_ccc = None;
                        out.push(k);
                        out.append(&mut buffer);
                    } else {
                        buffer.push((ch, change));
                        last_ccc = Some(class);
                    }
                    continue;
                }
                match compose9(k.0, ch) {
                    Some(r) => composee = Some((r, k.1 + change - 1)),
                    None => {
                        buffer.push((ch, change));
                        last_ccc = Some(class);
                    }
                }
            }
        }
    }
    if let Some(k) = composee {
        out.push(k);
    }
    out.append(&mut buffer);
}

/// A normalized text and, when asked for, the original byte range of each
/// of its bytes (relative to the input of the normalizer).
#[derive(Debug, Clone)]
pub(crate) struct Normalized<'a> {
    pub text: Cow<'a, str>,
    /// `None`: the text is the input itself (identity alignment).
    pub align: Option<Vec<(u32, u32)>>,
}

/// `tokenizers`' NFC of `s`, with alignments if `want_align`.
pub(crate) fn nfc(s: &str, want_align: bool) -> Normalized<'_> {
    // Nothing below U+00C0 decomposes or combines; bytes from 0xC3 up only
    // start characters from U+00C0 up.
    if s.bytes().all(|b| b < 0xC3) {
        return Normalized {
            text: Cow::Borrowed(s),
            align: None,
        };
    }
    let mut decomposed = Vec::with_capacity(s.len() + 8);
    decompose_tagged(s, &mut decomposed);
    let mut composed = Vec::with_capacity(decomposed.len());
    recompose_tagged(&decomposed, &mut composed);
    let identity = composed.iter().all(|&(_, ch)| ch == 0) && {
        let mut it = s.chars();
        composed.iter().all(|&(c, _)| it.next() == Some(c)) && it.next().is_none()
    };
    if identity {
        return Normalized {
            text: Cow::Borrowed(s),
            align: None,
        };
    }
    let text: String = composed.iter().map(|&(c, _)| c).collect();
    let align = want_align.then(|| transform_alignments(s, &composed));
    Normalized {
        text: Cow::Owned(text),
        align,
    }
}

/// The alignments `tokenizers`' `NormalizedString::transform` computes when
/// the tagged characters `dest` replace the whole of `s` (whose alignments
/// are the identity).
pub(crate) fn transform_alignments(s: &str, dest: &[(char, isize)]) -> Vec<(u32, u32)> {
    let bytes = s.as_bytes();
    let char_range = |idx: usize| -> (u32, u32) {
        if idx >= bytes.len() {
            let n = bytes.len() as u32;
            return (n, n);
        }
        let mut start = idx;
        while start > 0 && !s.is_char_boundary(start) {
            start -= 1;
        }
        let len = s[start..].chars().next().map_or(1, char::len_utf8);
        (start as u32, (start + len) as u32)
    };
    let mut source = s.chars();
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(s.len() + 8);
    for &(c, change) in dest {
        let align = if change > 0 {
            if offset < 1 {
                (0, 0)
            } else {
                char_range(offset - 1)
            }
        } else {
            char_range(offset)
        };
        if change <= 0 {
            offset += source.next().map_or(0, char::len_utf8);
        }
        if change < 0 {
            for _ in 0..change.unsigned_abs() {
                offset += source.next().map_or(0, char::len_utf8);
            }
        }
        out.extend(std::iter::repeat_n(align, c.len_utf8()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode9_membership() {
        assert!(in_unicode9('a'));
        assert!(in_unicode9('\u{1F600}')); // 6.1
        assert!(!in_unicode9('\u{1F97A}')); // 11.0
        assert!(!in_unicode9('\u{0860}')); // 10.0
        assert!(in_unicode9('\u{AC00}'));
    }

    #[test]
    fn composes_and_aligns() {
        let n = nfc("e\u{301}x", true);
        assert_eq!(n.text, "\u{e9}x");
        // As in `tokenizers`, é replaces the `e` and removes the accent:
        // it is aligned to the `e` only.
        assert_eq!(n.align.unwrap(), vec![(0, 1), (0, 1), (3, 4)]);
        let n = nfc("abc", true);
        assert!(matches!(n.text, Cow::Borrowed(_)) && n.align.is_none());
        // Already composed: identity.
        let n = nfc("caf\u{e9}", true);
        assert!(n.align.is_none());
        // Hangul jamo compose.
        let n = nfc("\u{1100}\u{1161}", true);
        assert_eq!(n.text, "\u{AC00}");
        // Singleton decomposition (compatibility ideograph).
        let n = nfc("\u{F900}", true);
        assert_eq!(n.text, "\u{8C48}");
        assert_eq!(n.align.unwrap(), vec![(0, 3); 3]);
    }

    #[test]
    fn reorders_marks() {
        // ccc 230 (acute) before ccc 220 (dot below): reordered, then the
        // dot below composes with the base.
        let n = nfc("a\u{301}\u{323}", true);
        assert_eq!(n.text, "\u{1EA1}\u{301}");
    }
}
