//! Pre-tokenizers of `tokenizer.json` (`Split`, `Digits`, `ByteLevel`,
//! `Sequence`), with `tokenizers`' semantics.
//!
//! A *split* is a part of a normalized text segment that later reaches the
//! model as one word. It is a byte range of the segment plus, after a
//! `ByteLevel` pre-tokenizer with `add_prefix_space`, a virtual leading
//! space (aligned, like `tokenizers`' `prepend`, to the first character of
//! the split). Pre-tokenizers that run after `ByteLevel` see the byte-level
//! string of the split (one character per byte), as in `tokenizers`.
//!
//! Patterns follow `tokenizers`' regex engine (Oniguruma, Ruby syntax):
//! `^` and `$` are line anchors, and after an empty match the search
//! resumes one character later. Regular expressions run on `fancy-regex`
//! with the anchors rewritten, except the Llama-3, Qwen2 and o200k patterns and
//! the GPT-2 pattern of `ByteLevel`, which use the hand-written splitters
//! of [`crate::pretokenize`] (same matches, checked against `tokenizers`
//! by the tests).

use crate::error::{Error, Result};
use crate::pretokenize::{
    PreTokenizer, LLAMA3_PATTERN, O200K_PATTERN, QWEN2_PATTERN, R50K_PATTERN,
};

use super::bytemap;

/// The pattern of `tokenizers`' `ByteLevel` pre-tokenizer (GPT-2's).
pub(crate) const BYTELEVEL_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// What a pre-tokenizer splits on.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// A hand-written splitter: its pieces tile the text.
    Fast(PreTokenizer),
    /// A general regular expression (Oniguruma semantics emulated).
    Regex(fancy_regex::Regex),
    /// A literal string.
    Literal(String),
    /// One numeric character (`char::is_numeric`, as `Digits`).
    Numeric,
}

/// `tokenizers`' `SplitDelimiterBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behavior {
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

impl Behavior {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Removed" => Self::Removed,
            "Isolated" => Self::Isolated,
            "MergedWithPrevious" => Self::MergedWithPrevious,
            "MergedWithNext" => Self::MergedWithNext,
            "Contiguous" => Self::Contiguous,
            _ => return None,
        })
    }
}

/// One pre-tokenization step (a `Sequence` is flattened into its steps).
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Split {
        pattern: Pattern,
        behavior: Behavior,
        invert: bool,
    },
    ByteLevel {
        add_prefix_space: bool,
        /// The GPT-2 pattern when `use_regex`.
        regex: Option<Pattern>,
    },
}

impl Pattern {
    /// The pattern of a `Split` with a `Regex`.
    pub(crate) fn regex(pattern: &str) -> Result<Self> {
        // Patterns whose hand-written splitter has exactly the matches of
        // the Oniguruma pattern (no anchors).
        let fast = match pattern {
            LLAMA3_PATTERN | O200K_PATTERN | QWEN2_PATTERN => Some(PreTokenizer::new(pattern)?),
            BYTELEVEL_PATTERN => Some(PreTokenizer::new(R50K_PATTERN)?),
            _ => None,
        };
        if let Some(p) = fast {
            return Ok(Self::Fast(p));
        }
        let translated = translate_onig(pattern);
        let regex = fancy_regex::RegexBuilder::new(&translated)
            .backtrack_limit(10_000_000)
            .build()
            .map_err(|e| {
                Error::NotImplemented(format!(
                    "pre-tokenizer regex {pattern:?} is not supported by the regex engine: {e}"
                ))
            })?;
        Ok(Self::Regex(regex))
    }

    /// The pattern of `ByteLevel` with `use_regex`.
    pub(crate) fn bytelevel() -> Result<Self> {
        Ok(Self::Fast(PreTokenizer::new(R50K_PATTERN)?))
    }

    /// `(start, end, is_match)` segments covering `s` in order, as
    /// `tokenizers`' `Pattern::find_matches`.
    fn find_matches(&self, s: &str, out: &mut Vec<(usize, usize, bool)>) -> Result<()> {
        out.clear();
        if s.is_empty() {
            out.push((0, 0, false));
            return Ok(());
        }
        let mut prev = 0;
        let mut push_match = |out: &mut Vec<(usize, usize, bool)>, a: usize, b: usize| {
            if prev != a {
                out.push((prev, a, false));
            }
            out.push((a, b, true));
            prev = b;
        };
        match self {
            Self::Fast(p) => {
                let base = s.as_ptr() as usize;
                p.split(s, |piece| {
                    let a = piece.as_ptr() as usize - base;
                    push_match(out, a, a + piece.len());
                })?;
            }
            Self::Regex(re) => {
                // Oniguruma's iteration (as the `onig` crate's
                // `find_iter`): an empty match right where the previous
                // match ended is skipped by moving on one character.
                let mut pos = 0usize;
                let mut last_end: Option<usize> = None;
                while pos <= s.len() {
                    let m = re
                        .find_from_pos(s, pos)
                        .map_err(|e| Error::RegexRuntime(e.to_string()))?;
                    let Some(m) = m else { break };
                    let (a, b) = (m.start(), m.end());
                    if a == b && last_end == Some(b) {
                        pos += s[pos..].chars().next().map_or(1, char::len_utf8);
                        continue;
                    }
                    push_match(out, a, b);
                    pos = b;
                    last_end = Some(b);
                }
            }
            Self::Literal(lit) => {
                for (a, _) in s.match_indices(lit.as_str()) {
                    push_match(out, a, a + lit.len());
                }
            }
            Self::Numeric => {
                for (a, c) in s.char_indices() {
                    if c.is_numeric() {
                        push_match(out, a, a + c.len_utf8());
                    }
                }
            }
        }
        if prev != s.len() {
            out.push((prev, s.len(), false));
        }
        Ok(())
    }
}

/// Rewrite the Oniguruma (Ruby syntax) constructs whose meaning differs in
/// `fancy-regex`: the line anchors `^` and `$` (outside classes) become
/// `(?m:^)` / `(?m:$)`, and an interval followed by `+` (`X{1,3}+`, which
/// Ruby syntax reads as `(?:X{1,3})+`, not as a possessive interval) gets
/// its group.
fn translate_onig(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    // Start (in `out`) of the last atom, and of the open groups.
    let mut atom: Option<usize> = None;
    let mut groups: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let start = out.len();
                out.push(c);
                i += 1;
                if let Some(&n) = chars.get(i) {
                    out.push(n);
                    i += 1;
                    if matches!(n, 'p' | 'P' | 'x' | 'o') && chars.get(i) == Some(&'{') {
                        while i < chars.len() {
                            out.push(chars[i]);
                            i += 1;
                            if chars[i - 1] == '}' {
                                break;
                            }
                        }
                    }
                    atom = (!matches!(n, 'A' | 'z' | 'Z' | 'b' | 'B' | 'G')).then_some(start);
                }
                continue;
            }
            '[' => {
                let start = out.len();
                let mut depth = 0usize;
                let mut first = true;
                while i < chars.len() {
                    let k = chars[i];
                    out.push(k);
                    i += 1;
                    match k {
                        '\\' => {
                            if let Some(&n) = chars.get(i) {
                                out.push(n);
                                i += 1;
                            }
                        }
                        '[' => depth += 1,
                        ']' if !first => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    // A `]` right after `[` or `[^` is literal.
                    first = k == '[' || (k == '^' && out.ends_with("[^"));
                }
                atom = Some(start);
                continue;
            }
            '(' => {
                groups.push(out.len());
                out.push(c);
                atom = None;
            }
            ')' => {
                out.push(c);
                atom = groups.pop();
            }
            '|' => {
                out.push(c);
                atom = None;
            }
            '^' => {
                out.push_str("(?m:^)");
                atom = None;
            }
            '$' => {
                out.push_str("(?m:$)");
                atom = None;
            }
            '{' => {
                // An interval quantifier: {n}, {n,}, {,m}, {n,m}.
                let mut j = i + 1;
                let mut body = String::new();
                while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == ',') {
                    body.push(chars[j]);
                    j += 1;
                }
                let valid = j < chars.len()
                    && chars[j] == '}'
                    && !body.is_empty()
                    && body != ","
                    && body.matches(',').count() <= 1;
                if !valid {
                    out.push_str("\\{");
                    atom = Some(out.len() - 2);
                    i += 1;
                    continue;
                }
                let body = if body.starts_with(',') {
                    format!("0{body}")
                } else {
                    body
                };
                // `j` is at the closing brace; the loop's `i += 1` steps past it.
                i = j;
                if chars.get(j + 1) == Some(&'+') {
                    if let Some(a) = atom {
                        out.insert_str(a, "(?:");
                        out.push('{');
                        out.push_str(&body);
                        out.push_str("})+");
                        i = j + 2;
                        continue;
                    }
                }
                out.push('{');
                out.push_str(&body);
                out.push('}');
            }
            '*' | '+' | '?' => out.push(c),
            _ => {
                atom = Some(out.len());
                out.push(c);
            }
        }
        i += 1;
    }
    out
}

/// Apply a delimiter behavior to the segments of `find_matches` (flags
/// already inverted if asked): the byte ranges of the resulting splits
/// (possibly empty; the caller drops empty ones).
fn apply_behavior(
    segs: &[(usize, usize, bool)],
    behavior: Behavior,
    out: &mut Vec<(usize, usize)>,
) {
    out.clear();
    match behavior {
        Behavior::Isolated => out.extend(segs.iter().map(|&(a, b, _)| (a, b))),
        Behavior::Removed => out.extend(segs.iter().filter(|s| !s.2).map(|&(a, b, _)| (a, b))),
        Behavior::Contiguous => {
            let mut previous = false;
            for &(a, b, m) in segs {
                match out.last_mut() {
                    Some(last) if m == previous => last.1 = b,
                    _ => out.push((a, b)),
                }
                previous = m;
            }
        }
        Behavior::MergedWithPrevious => {
            let mut previous = false;
            for &(a, b, m) in segs {
                match out.last_mut() {
                    Some(last) if m && !previous => last.1 = b,
                    _ => out.push((a, b)),
                }
                previous = m;
            }
        }
        Behavior::MergedWithNext => {
            let mut previous = false;
            for &(a, b, m) in segs.iter().rev() {
                match out.last_mut() {
                    Some(last) if m && !previous => last.0 = a,
                    _ => out.push((a, b)),
                }
                previous = m;
            }
            out.reverse();
        }
    }
}

/// A split of a normalized segment (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    /// A virtual space precedes `start..end`.
    pub prefix: bool,
    pub start: usize,
    pub end: usize,
}

impl Split {
    /// Length in bytes, the virtual space included.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start + usize::from(self.prefix)
    }

    /// The bytes of the split, the virtual space included.
    pub(crate) fn bytes<'a>(&self, text: &'a str, buf: &'a mut Vec<u8>) -> &'a [u8] {
        if self.prefix {
            buf.clear();
            buf.push(b' ');
            buf.extend_from_slice(&text.as_bytes()[self.start..self.end]);
            buf
        } else {
            &text.as_bytes()[self.start..self.end]
        }
    }

    /// The sub-split for the virtual byte range `a..b` of this split.
    fn sub(&self, a: usize, b: usize) -> Split {
        let p = usize::from(self.prefix);
        Split {
            prefix: self.prefix && a == 0 && b > 0,
            start: self.start + a.max(p) - p,
            end: self.start + b.max(p) - p,
        }
    }
}

/// Scratch buffers of one pre-tokenization.
#[derive(Default)]
pub(crate) struct Scratch {
    segs: Vec<Vec<(usize, usize, bool)>>,
    ranges: Vec<Vec<(usize, usize)>>,
}

/// Run `steps` over `split` of `text`, calling `emit` with every final
/// non-empty split in order.
pub(crate) fn run(
    steps: &[Step],
    text: &str,
    split: Split,
    scratch: &mut Scratch,
    emit: &mut dyn FnMut(Split) -> Result<()>,
) -> Result<()> {
    run_from(steps, 0, false, text, split, scratch, emit)
}

fn run_from(
    steps: &[Step],
    depth: usize,
    mapped: bool,
    text: &str,
    split: Split,
    scratch: &mut Scratch,
    emit: &mut dyn FnMut(Split) -> Result<()>,
) -> Result<()> {
    if split.len() == 0 {
        return Ok(());
    }
    let Some(step) = steps.first() else {
        return emit(split);
    };
    let rest = &steps[1..];
    if scratch.segs.len() <= depth {
        scratch.segs.resize_with(depth + 1, Vec::new);
        scratch.ranges.resize_with(depth + 1, Vec::new);
    }
    match step {
        Step::ByteLevel {
            add_prefix_space,
            regex,
        } => {
            let mut split = split;
            let starts_with_space = if split.prefix {
                true
            } else {
                text.as_bytes()[split.start] == b' '
            };
            if *add_prefix_space && !starts_with_space {
                split.prefix = true;
            }
            let Some(regex) = regex else {
                return run_from(rest, depth + 1, true, text, split, scratch, emit);
            };
            let mut owned = String::new();
            let s: &str = if split.prefix {
                owned.push(' ');
                owned.push_str(&text[split.start..split.end]);
                &owned
            } else {
                &text[split.start..split.end]
            };
            if let Pattern::Fast(p) = regex {
                // Streamed: the pieces tile the text.
                let base = s.as_ptr() as usize;
                let mut prev = 0usize;
                let mut result = Ok(());
                let mut visit = |a: usize,
                                 b: usize,
                                 scratch: &mut Scratch,
                                 result: &mut Result<()>| {
                    if result.is_ok() && a < b {
                        *result =
                            run_from(rest, depth + 1, true, text, split.sub(a, b), scratch, emit);
                    }
                };
                p.split(s, |piece| {
                    let a = piece.as_ptr() as usize - base;
                    visit(prev, a, scratch, &mut result);
                    visit(a, a + piece.len(), scratch, &mut result);
                    prev = a + piece.len();
                })?;
                visit(prev, s.len(), scratch, &mut result);
                return result;
            }
            let mut segs = std::mem::take(&mut scratch.segs[depth]);
            if let Err(e) = regex.find_matches(s, &mut segs) {
                scratch.segs[depth] = segs;
                return Err(e);
            }
            let mut result = Ok(());
            for &(a, b, _) in &segs {
                if a < b {
                    result = run_from(rest, depth + 1, true, text, split.sub(a, b), scratch, emit);
                    if result.is_err() {
                        break;
                    }
                }
            }
            scratch.segs[depth] = segs;
            result
        }
        Step::Split {
            pattern: Pattern::Fast(p),
            behavior: Behavior::Isolated,
            invert: false,
        } if !mapped && !split.prefix => {
            // Streamed: the pieces (and any gap between them) in order.
            let s = &text[split.start..split.end];
            let base = s.as_ptr() as usize;
            let mut prev = 0usize;
            let mut result = Ok(());
            let mut visit = |a: usize, b: usize, scratch: &mut Scratch, result: &mut Result<()>| {
                if result.is_ok() && a < b {
                    let sub = Split {
                        prefix: false,
                        start: split.start + a,
                        end: split.start + b,
                    };
                    *result = run_from(rest, depth + 1, mapped, text, sub, scratch, emit);
                }
            };
            p.split(s, |piece| {
                let a = piece.as_ptr() as usize - base;
                visit(prev, a, scratch, &mut result);
                visit(a, a + piece.len(), scratch, &mut result);
                prev = a + piece.len();
            })?;
            visit(prev, s.len(), scratch, &mut result);
            result
        }
        Step::Split {
            pattern,
            behavior,
            invert,
        } => {
            let mut segs = std::mem::take(&mut scratch.segs[depth]);
            let mut ranges = std::mem::take(&mut scratch.ranges[depth]);
            let result = (|| -> Result<()> {
                if mapped {
                    // The byte-level string, and the byte of each of its
                    // character boundaries.
                    let mut buf = Vec::new();
                    let bytes = split.bytes(text, &mut buf);
                    let s = bytemap::encode(bytes);
                    pattern.find_matches(&s, &mut segs)?;
                    let mut to_byte = vec![0usize; s.len() + 1];
                    let mut i = 0;
                    for (k, c) in s.char_indices() {
                        to_byte[k] = i;
                        let _ = c;
                        i += 1;
                    }
                    to_byte[s.len()] = i;
                    for seg in segs.iter_mut() {
                        seg.0 = to_byte[seg.0];
                        seg.1 = to_byte[seg.1];
                    }
                } else {
                    let s = if split.prefix {
                        // Only after ByteLevel, which makes the text mapped.
                        return Err(Error::InvalidArgument(
                            "internal error: prefixed split before ByteLevel".into(),
                        ));
                    } else {
                        &text[split.start..split.end]
                    };
                    pattern.find_matches(s, &mut segs)?;
                }
                if *invert {
                    for seg in segs.iter_mut() {
                        seg.2 = !seg.2;
                    }
                }
                apply_behavior(&segs, *behavior, &mut ranges);
                Ok(())
            })();
            if let Err(e) = result {
                scratch.segs[depth] = segs;
                scratch.ranges[depth] = ranges;
                return Err(e);
            }
            let mut result = Ok(());
            for &(a, b) in &ranges {
                if a < b {
                    result = run_from(
                        rest,
                        depth + 1,
                        mapped,
                        text,
                        split.sub(a, b),
                        scratch,
                        emit,
                    );
                    if result.is_err() {
                        break;
                    }
                }
            }
            scratch.segs[depth] = segs;
            scratch.ranges[depth] = ranges;
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splits(steps: &[Step], text: &str) -> Vec<String> {
        split_bytes(steps, text)
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect()
    }

    fn split_bytes(steps: &[Step], text: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        run(
            steps,
            text,
            Split {
                prefix: false,
                start: 0,
                end: text.len(),
            },
            &mut scratch,
            &mut |s| {
                let mut buf = Vec::new();
                out.push(s.bytes(text, &mut buf).to_vec());
                Ok(())
            },
        )
        .unwrap();
        out
    }

    fn split_step(pattern: Pattern, behavior: Behavior, invert: bool) -> Step {
        Step::Split {
            pattern,
            behavior,
            invert,
        }
    }

    #[test]
    fn behaviors_as_documented_by_tokenizers() {
        let text = "the-final--countdown";
        let lit = || Pattern::Literal("-".into());
        let cases = [
            (Behavior::Removed, vec!["the", "final", "countdown"]),
            (
                Behavior::Isolated,
                vec!["the", "-", "final", "-", "-", "countdown"],
            ),
            (
                Behavior::MergedWithPrevious,
                vec!["the-", "final-", "-", "countdown"],
            ),
            (
                Behavior::MergedWithNext,
                vec!["the", "-final", "-", "-countdown"],
            ),
            (
                Behavior::Contiguous,
                vec!["the", "-", "final", "--", "countdown"],
            ),
        ];
        for (b, want) in cases {
            assert_eq!(splits(&[split_step(lit(), b, false)], text), want, "{b:?}");
        }
        // Inverted: the words are the delimiters.
        assert_eq!(
            splits(
                &[split_step(
                    Pattern::regex(r"\w+").unwrap(),
                    Behavior::Removed,
                    true
                )],
                "a, b"
            ),
            vec!["a", "b"]
        );
    }

    #[test]
    fn bytelevel_prefix_and_regex() {
        let steps = [Step::ByteLevel {
            add_prefix_space: true,
            regex: Some(Pattern::bytelevel().unwrap()),
        }];
        assert_eq!(splits(&steps, "Hello world"), vec![" Hello", " world"]);
        assert_eq!(splits(&steps, " x"), vec![" x"]);
        assert_eq!(splits(&steps, "\nab"), vec![" ", "\n", "ab"]);
    }

    #[test]
    fn anchors_are_line_anchors() {
        assert_eq!(translate_onig(r"a$|^b[$^]\$"), r"a(?m:$)|(?m:^)b[$^]\$");
        assert_eq!(
            translate_onig(r"\p{N}{1,3}+|[a]{2}+x{,2}"),
            r"(?:\p{N}{1,3})+|(?:[a]{2})+x{0,2}"
        );
        assert_eq!(translate_onig(r"(ab){3}+[]x]"), r"(?:(ab){3})+[]x]");
        // The character right after an interval is kept (a skipped `(`,
        // `)` or `|` once broke these patterns).
        assert_eq!(
            translate_onig(r"\s{4}(?!\S)|((A|B){1,4})Z|\d{1,3}(?=(?:\d{3})*\b)|x{2}|y"),
            r"\s{4}(?!\S)|((A|B){1,4})Z|\d{1,3}(?=(?:\d{3})*\b)|x{2}|y"
        );
        let p = Pattern::regex(r"a$").unwrap();
        let mut segs = Vec::new();
        p.find_matches("a\nb a", &mut segs).unwrap();
        assert_eq!(segs, vec![(0, 1, true), (1, 4, false), (4, 5, true)]);
    }

    #[test]
    fn empty_matches_follow_oniguruma() {
        let p = Pattern::regex(r"x*").unwrap();
        let mut segs = Vec::new();
        p.find_matches("abxxc", &mut segs).unwrap();
        assert_eq!(
            segs,
            vec![
                (0, 0, true),
                (0, 1, false),
                (1, 1, true),
                (1, 2, false),
                (2, 4, true),
                (4, 5, false),
                (5, 5, true)
            ]
        );
    }

    #[test]
    fn digits_after_bytelevel_see_mapped_characters() {
        // Byte 0xB2 is shown as '²', which is numeric.
        let steps = [
            Step::ByteLevel {
                add_prefix_space: false,
                regex: None,
            },
            split_step(Pattern::Numeric, Behavior::Isolated, false),
        ];
        let got = split_bytes(&steps, "a\u{b2}1b");
        let want: Vec<&[u8]> = vec![b"a\xc2", b"\xb2", b"1", b"b"];
        assert_eq!(got, want);
    }
}
