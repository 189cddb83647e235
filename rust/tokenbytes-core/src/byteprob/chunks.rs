//! Pre-token boundaries near the end of the known bytes.
//!
//! A regex pre-tokenizer splits text into pre-tokens; tokens never cross a
//! boundary between two of them. Near the end of a byte prefix, where those
//! boundaries lie depends on bytes not seen yet. For a *window* of known
//! bytes that starts at a boundary every continuation keeps (the regex then
//! restarts there), each position gets a [`Status`]:
//! [`Status::Forced`] (a boundary whatever follows), [`Status::Never`] (a
//! boundary for no continuation) or [`Status::Open`].
//!
//! The statuses come from splitting the window followed by *probe*
//! continuations: the end of the text, and every string of one or two
//! characters drawn from representatives of the character classes the
//! patterns of real tokenizers distinguish (letters by case and the letters
//! of English contractions, digits, space, other white space, line breaks,
//! apostrophe, slash, other punctuation, and non-ASCII letters, marks,
//! numbers, spaces, symbols). Two characters of lookahead are enough for the
//! contractions (`'ll`, `'ve`, `'re`), `\s+(?!\S)` and possessive runs of
//! these patterns. For a pattern that is not one of the known ones, ASCII
//! characters that split differently from their representative in a set of
//! test contexts get their own representative.
//!
//! Statuses are also given conditionally on the class of the next
//! character (so the scatter of a next-token row can apply the pair test to
//! tokens that continue a pre-token and skip it for tokens that start a new
//! one), and for the end of the text (end-of-sequence).

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use crate::error::Result;
use crate::pretokenize::{self, PreTokenizer};

/// Whether a position is a pre-token boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A boundary for no continuation.
    Never,
    /// A boundary for every continuation.
    Forced,
    /// Depends on bytes not known yet.
    Open,
}

impl Status {
    fn from_seen(boundary: bool, not_boundary: bool) -> Self {
        match (boundary, not_boundary) {
            (true, false) => Status::Forced,
            (false, true) => Status::Never,
            _ => Status::Open,
        }
    }
}

/// Statuses of the positions `0..=len` of one window (position 0, its
/// start, is always forced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowStatus {
    /// Over every continuation.
    pub base: Arc<[Status]>,
    /// When the text ends after the window.
    pub end: Arc<[Status]>,
    /// Whether the text may end here at all (not inside a character).
    pub end_possible: bool,
    /// Given the next byte: index into [`WindowStatus::given`] for each byte
    /// value.
    pub class_of_byte: [u8; 256],
    /// Status vectors conditional on the next character's class.
    pub given: Vec<Arc<[Status]>>,
}

impl WindowStatus {
    /// Statuses for a pre-token that never ends before the text does (no
    /// pre-tokenizer): position `len` is open, every other one never a
    /// boundary (position 0 as given).
    #[must_use]
    pub fn whole_text(len: usize, start: Status) -> Self {
        let mut base = vec![Status::Never; len + 1];
        base[0] = start;
        let mut given = base.clone();
        let mut end = base.clone();
        if len > 0 {
            base[len] = Status::Open;
            given[len] = Status::Never;
            end[len] = Status::Forced;
        }
        Self {
            base: base.into(),
            end: end.into(),
            end_possible: true,
            class_of_byte: [0; 256],
            given: vec![given.into()],
        }
    }

    /// The one position at the end of a text without pre-tokenizer: open,
    /// never a boundary if the text goes on, forced if it ends.
    #[must_use]
    pub fn text_end() -> Self {
        Self {
            base: vec![Status::Open].into(),
            end: vec![Status::Forced].into(),
            end_possible: true,
            class_of_byte: [0; 256],
            given: vec![vec![Status::Never].into()],
        }
    }

    /// The statuses of the window that starts `k` positions later (position
    /// `k` must be forced).
    #[must_use]
    pub fn shift(&self, k: usize) -> Self {
        let cut = |v: &Arc<[Status]>| -> Arc<[Status]> {
            let mut w = v[k..].to_vec();
            w[0] = Status::Forced;
            w.into()
        };
        Self {
            base: cut(&self.base),
            end: cut(&self.end),
            end_possible: self.end_possible,
            class_of_byte: self.class_of_byte,
            given: self.given.iter().map(cut).collect(),
        }
    }

    /// Status vector given that the next byte is `b`.
    #[inline]
    #[must_use]
    pub fn given_byte(&self, b: u8) -> &Arc<[Status]> {
        &self.given[usize::from(self.class_of_byte[usize::from(b)])]
    }
}

/// Non-ASCII representatives: lowercase, uppercase, titlecase, modifier and
/// other letters, a long s (case-folds to `s`), nonspacing and spacing
/// marks, decimal, other and letter numbers, no-break space, line
/// separator, next line (white space), currency, punctuation, a format
/// character and a private-use character.
const NON_ASCII_REPS: &[char] = &[
    'é', 'É', 'ǅ', 'ʰ', '中', 'ſ', '\u{301}', '\u{903}', '٣', '²', 'Ⅳ', '\u{a0}', '\u{2028}',
    '\u{85}', '€', '…', '\u{200b}', '\u{e000}',
];

/// The ASCII representative of each ASCII character.
fn ascii_rep(c: u8) -> u8 {
    match c {
        b's' | b't' | b'd' | b'm' | b'l' | b'v' | b'e' | b'r' => c,
        b'S' | b'T' | b'D' | b'M' | b'L' | b'V' | b'E' | b'R' => c,
        b'a'..=b'z' => b'a',
        b'A'..=b'Z' => b'A',
        b'0'..=b'9' => b'0',
        b' ' | b'\n' | b'\r' | b'\'' | b'/' => c,
        b'\t' | 0x0b | 0x0c => b'\t',
        _ => b'.',
    }
}

/// Computes window statuses with a pre-tokenizer.
#[derive(Debug)]
pub struct Chunker {
    pretok: PreTokenizer,
    /// Probe characters: one per class of characters the pattern splits
    /// alike.
    reps: Vec<char>,
    /// Index into `reps` of each ASCII character's class.
    ascii_class: [u8; 128],
    /// Classes that hold non-ASCII characters.
    non_ascii: Vec<usize>,
    cache: Mutex<FxHashMap<Box<[u8]>, Arc<WindowStatus>>>,
}

/// Windows remembered per chunker.
const CACHE_CAP: usize = 1 << 14;

impl Chunker {
    /// A chunker for `pattern` (compiled as [`PreTokenizer::new`] does).
    ///
    /// # Errors
    /// [`crate::Error::Pattern`] if the pattern does not compile.
    pub fn new(pattern: &str) -> Result<Self> {
        let pretok = PreTokenizer::new(pattern)?;
        let known = [
            pretokenize::R50K_PATTERN,
            pretokenize::CL100K_PATTERN,
            pretokenize::O200K_PATTERN,
            pretokenize::LLAMA3_PATTERN,
        ]
        .contains(&pattern);
        let mut ascii_reps: Vec<u8> = Vec::new();
        let mut ascii_class = [0u8; 128];
        for c in 0..128u8 {
            let keep = known || c == ascii_rep(c) || Self::same_splits(&pretok, c, ascii_rep(c))?;
            let rep = if keep { ascii_rep(c) } else { c };
            let k = match ascii_reps.iter().position(|&r| r == rep) {
                Some(k) => k,
                None => {
                    ascii_reps.push(rep);
                    ascii_reps.len() - 1
                }
            };
            ascii_class[usize::from(c)] = k as u8;
        }
        let mut all: Vec<char> = ascii_reps.into_iter().map(char::from).collect();
        let n_ascii = all.len();
        all.extend_from_slice(NON_ASCII_REPS);
        // Merge representatives that split alike in every context of one
        // character before and after (fewer probes: each probe window is
        // split once per pair of classes). Only generic characters merge:
        // letters the pattern names (contractions, in either case, and the
        // long s that case-folds to s) and ASCII non-letters keep their own
        // class, since they may matter two characters away ("'ve").
        let named = named_letters(pattern);
        let mergeable = |c: char| -> bool {
            if c.is_ascii() {
                c.is_ascii_alphabetic() && !named.contains(&c.to_ascii_lowercase())
            } else {
                c != 'ſ' || !named.contains(&'s')
            }
        };
        let mut prints: Vec<Vec<Vec<usize>>> = Vec::with_capacity(all.len());
        let ctx: Vec<Option<char>> = std::iter::once(None)
            .chain(all.iter().copied().map(Some))
            .collect();
        let mut text = String::new();
        for &r in &all {
            let mut fp = Vec::with_capacity(ctx.len() * ctx.len());
            for &a in &ctx {
                for &b in &ctx {
                    text.clear();
                    text.extend(a);
                    text.push(r);
                    text.extend(b);
                    fp.push(boundaries(&pretok, &text)?);
                }
            }
            prints.push(fp);
        }
        let mut reps: Vec<char> = Vec::new();
        let mut group_of: Vec<usize> = Vec::with_capacity(all.len());
        let mut firsts: Vec<usize> = Vec::new();
        for i in 0..all.len() {
            let same = if mergeable(all[i]) {
                firsts.iter().position(|&j| prints[j] == prints[i])
            } else {
                None
            };
            match same {
                Some(g) => group_of.push(g),
                None => {
                    firsts.push(i);
                    reps.push(all[i]);
                    group_of.push(reps.len() - 1);
                }
            }
        }
        for k in &mut ascii_class {
            *k = group_of[usize::from(*k)] as u8;
        }
        let mut non_ascii: Vec<usize> = group_of[n_ascii..].to_vec();
        non_ascii.sort_unstable();
        non_ascii.dedup();
        Ok(Self {
            pretok,
            reps,
            ascii_class,
            non_ascii,
            cache: Mutex::new(FxHashMap::default()),
        })
    }

    /// Number of character classes probed.
    #[must_use]
    pub fn n_classes(&self) -> usize {
        self.reps.len()
    }

    /// Whether the pre-tokenizer is a hand-written splitter (one of the
    /// patterns of [`crate::pretokenize`]).
    #[must_use]
    pub fn is_hand_written(&self) -> bool {
        self.pretok.is_hand_written()
    }

    /// Pre-token byte ranges of `text`, gaps between matches included as
    /// pieces of their own.
    ///
    /// # Errors
    /// [`crate::Error::RegexRuntime`] if the regex engine gives up.
    pub fn split_ranges(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        let base = text.as_ptr() as usize;
        let mut pos = 0;
        self.pretok.split(text, |p| {
            let s = p.as_ptr() as usize - base;
            if s > pos {
                out.push((pos, s));
            }
            out.push((s, s + p.len()));
            pos = s + p.len();
        })?;
        if pos < text.len() {
            out.push((pos, text.len()));
        }
        Ok(out)
    }

    /// Whether `c` and `rep` give the same boundaries in every test context.
    fn same_splits(pretok: &PreTokenizer, c: u8, rep: u8) -> Result<bool> {
        const CONTEXTS: &[&str] = &[
            "", "a", "A", " ", "  ", "1", "12", ".", "'", "\n", "s", "ab", "a ", " a", "\t",
        ];
        let (c, rep) = (char::from(c), char::from(rep));
        let mut t1 = String::new();
        let mut t2 = String::new();
        for pre in CONTEXTS {
            for post in CONTEXTS {
                t1.clear();
                t2.clear();
                t1.push_str(pre);
                t1.push(c);
                t1.push_str(post);
                t2.push_str(pre);
                t2.push(rep);
                t2.push_str(post);
                if boundaries(pretok, &t1)? != boundaries(pretok, &t2)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Statuses of `window` (bytes starting at a forced boundary). Cached.
    ///
    /// # Errors
    /// [`crate::Error::RegexRuntime`] if the regex engine gives up.
    pub fn statuses(&self, window: &[u8]) -> Result<Arc<WindowStatus>> {
        if let Ok(cache) = self.cache.lock() {
            if let Some(s) = cache.get(window) {
                return Ok(s.clone());
            }
        }
        let s = Arc::new(self.compute(window)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAP {
                cache.clear();
            }
            cache.insert(window.into(), s.clone());
        }
        Ok(s)
    }

    fn compute(&self, window: &[u8]) -> Result<WindowStatus> {
        let len = window.len();
        let (valid, tail) = match std::str::from_utf8(window) {
            Ok(_) => (len, Tail::Complete),
            Err(e) if e.error_len().is_none() => (e.valid_up_to(), Tail::Incomplete),
            Err(e) => (e.valid_up_to(), Tail::Invalid),
        };
        let text = std::str::from_utf8(&window[..valid]).unwrap_or("");
        let n_reps = self.reps.len();
        // seen[first][q] = (boundary seen, non-boundary seen); first = n_reps
        // stands for the end of the text.
        let mut seen = vec![vec![(false, false); len + 1]; n_reps + 1];
        let firsts: Vec<usize> = match tail {
            Tail::Complete => (0..=n_reps).collect(),
            // The next character is some non-ASCII one.
            Tail::Incomplete => self.non_ascii.clone(),
            Tail::Invalid => (0..n_reps).collect(),
        };
        let mut probe = String::with_capacity(valid + 8);
        let mut bounds: Vec<bool> = Vec::new();
        for &f in &firsts {
            let seconds: Vec<Option<char>> = if f == n_reps {
                vec![None]
            } else {
                std::iter::once(None)
                    .chain(self.reps.iter().copied().map(Some))
                    .collect()
            };
            for s in seconds {
                probe.clear();
                probe.push_str(text);
                if f < n_reps {
                    probe.push(self.reps[f]);
                }
                if let Some(s) = s {
                    probe.push(s);
                }
                boundary_flags(&self.pretok, &probe, valid, &mut bounds)?;
                let row = &mut seen[f];
                for q in 1..=valid {
                    if bounds[q] {
                        row[q].0 = true;
                    } else {
                        row[q].1 = true;
                    }
                }
            }
        }
        // Positions after the valid text: inside a character (incomplete
        // tail), or glued to the pre-token before them (bytes that are not
        // UTF-8 cannot be pre-tokenized; they are treated as continuing it).
        let to_status = |row: &[(bool, bool)], last: Status| -> Arc<[Status]> {
            let mut v: Vec<Status> = row
                .iter()
                .map(|&(b, nb)| Status::from_seen(b, nb))
                .collect();
            v[0] = Status::Forced;
            for s in &mut v[valid + 1..] {
                *s = Status::Never;
            }
            if tail == Tail::Invalid && len > valid {
                v[len] = last;
            }
            v.into()
        };
        let merge = |rows: &mut dyn Iterator<Item = usize>| -> Vec<(bool, bool)> {
            let mut acc = vec![(false, false); len + 1];
            for f in rows {
                for (a, s) in acc.iter_mut().zip(&seen[f]) {
                    a.0 |= s.0;
                    a.1 |= s.1;
                }
            }
            acc
        };
        let base = to_status(&merge(&mut firsts.iter().copied()), Status::Open);
        if tail != Tail::Complete {
            let given = to_status(&merge(&mut firsts.iter().copied()), Status::Never);
            return Ok(WindowStatus {
                base,
                end: to_status(&merge(&mut firsts.iter().copied()), Status::Forced),
                end_possible: tail == Tail::Invalid,
                class_of_byte: [0; 256],
                given: vec![given],
            });
        }
        let end = to_status(&seen[n_reps], Status::Forced);
        let mut given: Vec<Arc<[Status]>> = Vec::new();
        let mut index: FxHashMap<Arc<[Status]>, u8> = FxHashMap::default();
        let mut intern = |v: Arc<[Status]>, given: &mut Vec<Arc<[Status]>>| -> u8 {
            *index.entry(v.clone()).or_insert_with(|| {
                given.push(v);
                (given.len() - 1) as u8
            })
        };
        let mut class_of_byte = [0u8; 256];
        let mut rep_class = vec![0u8; n_reps];
        for (f, rc) in rep_class.iter_mut().enumerate() {
            *rc = intern(to_status(&seen[f], Status::Never), &mut given);
        }
        for c in 0..128usize {
            class_of_byte[c] = rep_class[usize::from(self.ascii_class[c])];
        }
        // A lead byte starts some non-ASCII character. A continuation or
        // invalid byte makes the text invalid UTF-8: it is glued to the
        // current pre-token.
        let non_ascii = intern(
            to_status(&merge(&mut self.non_ascii.iter().copied()), Status::Never),
            &mut given,
        );
        let mut glued: Vec<Status> = base.to_vec();
        if len > 0 {
            glued[len] = Status::Never;
        }
        let broken = intern(glued.into(), &mut given);
        for (c, k) in class_of_byte.iter_mut().enumerate().skip(128) {
            *k = if (0xc2..=0xf4).contains(&c) {
                non_ascii
            } else {
                broken
            };
        }
        Ok(WindowStatus {
            base,
            end,
            end_possible: true,
            class_of_byte,
            given,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    Complete,
    Incomplete,
    Invalid,
}

/// Lowercase ASCII letters that `pattern` names literally (anywhere except
/// right after a backslash or inside `\p{..}`); over-collecting is safe.
fn named_letters(pattern: &str) -> Vec<char> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(e) = chars.next() {
                if (e == 'p' || e == 'P') && chars.peek() == Some(&'{') {
                    for d in chars.by_ref() {
                        if d == '}' {
                            break;
                        }
                    }
                }
            }
            continue;
        }
        if c.is_ascii_alphabetic() {
            out.push(c.to_ascii_lowercase());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Byte offsets of the pre-token boundaries of `text`.
fn boundaries(pretok: &PreTokenizer, text: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    let base = text.as_ptr() as usize;
    pretok.split(text, |p| {
        let s = p.as_ptr() as usize - base;
        out.push(s);
        out.push(s + p.len());
    })?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `flags[q]` for `q` in `0..=upto`: whether byte offset `q` of `text` is a
/// pre-token boundary (start or end of a pre-token; the end of the text
/// counts).
fn boundary_flags(
    pretok: &PreTokenizer,
    text: &str,
    upto: usize,
    flags: &mut Vec<bool>,
) -> Result<()> {
    flags.clear();
    flags.resize(upto + 1, false);
    let base = text.as_ptr() as usize;
    pretok.split(text, |p| {
        let s = p.as_ptr() as usize - base;
        if s <= upto {
            flags[s] = true;
        }
        let e = s + p.len();
        if e <= upto {
            flags[e] = true;
        }
    })?;
    if text.len() <= upto {
        flags[text.len()] = true;
    }
    Ok(())
}
