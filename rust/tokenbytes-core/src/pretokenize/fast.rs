//! Hand-written splitters for the OpenAI / Llama-3 patterns.
//!
//! Each splitter computes, for a start position `i`, the end of the match that
//! the regex engine's leftmost-first (backtracking-priority) semantics would
//! produce there. Every character can start a match in all four patterns, so
//! the pieces tile the text and the next match starts where the last one
//! ended. Every decision looks at a bounded number of characters plus maximal
//! runs that are consumed by the piece (or, for the white-space rules, by this
//! piece and the next one), so the total work is linear in the text length.
//!
//! Notation: `L` = `\p{L}`, `N` = `\p{N}`, `S` = `\s`, `O` = `[^\s\p{L}\p{N}]`,
//! `P` = `[^\r\n\p{L}\p{N}]`, `U` = `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`,
//! `W` = `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
//!
//! How the alternatives resolve (derivations in the comments of each
//! function):
//!
//! * a white-space run `i..j` (maximal) that is not claimed by a word or
//!   punctuation rule becomes, depending on the pattern, the whole run if it
//!   reaches the end of the text (`\s++$`), the run up to and including its
//!   last `\r`/`\n` (`\s*[\r\n]`, `\s*[\r\n]+`), the run minus its last
//!   character (`\s+(?!\S)`, if it has at least two characters), or its single
//!   character (`\s`, `\s+`);
//! * o200k's word rules backtrack: see [`o200k_a1`].
//!
//! Points where the regex semantics are easy to get wrong:
//!
//! * `$` (without `m`) is the end of the text only, not "before a final
//!   `\n`" as in PCRE/Python: `"a \n"` ends in the piece `" \n"` (cl100k).
//! * `(?i:s)` also matches U+017F LATIN SMALL LETTER LONG S, so `'ſ` is a
//!   contraction for cl100k, o200k and Llama-3 (not for r50k, which is case
//!   sensitive); the other contraction letters fold only within ASCII.
//! * The optional prefix `[^\r\n\p{L}\p{N}]?` is any character but a letter,
//!   digit, `\r` or `\n`: white space (tab, NBSP, U+3000), apostrophes and
//!   combining marks included, so `"\ta"` and `"'x"` are single pieces.
//! * o200k: a combining mark is in P, U and W at once; when nothing but
//!   upper-case letters follow it, the mark alone is a piece (`"\u{301}AB"` →
//!   `"\u{301}"`, `"AB"`), and `U*` backs off to the last Lm/Lo/M character
//!   of an upper-case run (`"Aʰ"` + `"B"` for `"AʰB"`).
//! * The possessive `?+`, `++` of cl100k and r50k never change a match: each
//!   possessive item is followed by something that cannot match its last
//!   character (or by nothing), so backtracking into it would fail anyway.

use super::tables::{decode, Tables, F_L, F_N, F_NL, F_O, F_P, F_S, F_U, F_W};

/// Which hand-written splitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    R50k,
    Cl100k,
    O200k,
    Llama3,
    Qwen2,
}

impl Kind {
    /// Call `f` with every piece of `text`.
    #[inline]
    pub(crate) fn split<'a, F: FnMut(&'a str)>(self, text: &'a str, f: F) {
        let t = Tables::get();
        match self {
            Kind::R50k => drive::<R50k, F>(t, text, f),
            Kind::Cl100k => drive::<Cl100k, F>(t, text, f),
            Kind::O200k => drive::<O200k, F>(t, text, f),
            Kind::Llama3 => drive::<Llama3, F>(t, text, f),
            Kind::Qwen2 => drive::<Qwen2, F>(t, text, f),
        }
    }
}

/// One splitter: the end of the piece that starts at `i` (`i < b.len()`).
trait Next {
    fn next(t: &Tables, b: &[u8], i: usize) -> usize;
}

macro_rules! splitter {
    ($name:ident, $f:ident) => {
        struct $name;
        impl Next for $name {
            #[inline(always)]
            fn next(t: &Tables, b: &[u8], i: usize) -> usize {
                $f(t, b, i)
            }
        }
    };
}
splitter!(R50k, r50k_next);
splitter!(Cl100k, cl100k_next);
splitter!(O200k, o200k_next);
splitter!(Llama3, llama3_next);
splitter!(Qwen2, qwen2_next);

#[inline(always)]
fn drive<'a, N: Next, F: FnMut(&'a str)>(t: &Tables, text: &'a str, mut f: F) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let e = N::next(t, b, i);
        debug_assert!(e > i && e <= b.len() && text.is_char_boundary(e));
        // SAFETY: every splitter returns an end `e` with `i < e <= len` that
        // lies on a character boundary: positions only ever advance by whole
        // characters (single ASCII bytes, or the length of the UTF-8
        // sequence decoded from its lead byte) and are clamped to `len`
        // (`skip`); `i` is the previous end (or 0). Checked by the
        // `debug_assert!` above in the (debug-build) differential tests.
        f(unsafe { text.get_unchecked(i..e) });
        i = e;
    }
}

// ---------------------------------------------------------------------------
// ASCII runs, 8 bytes at a time (SWAR on a u64).
// ---------------------------------------------------------------------------

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes at `b[i..]`, padded past the end with `0x80` (not ASCII, so
/// in none of the classes below: runs stop there).
#[inline(always)]
fn load8(b: &[u8], i: usize) -> u64 {
    if let Some(a) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        u64::from_le_bytes(*a)
    } else {
        let mut a = [0x80u8; 8];
        let rest = b.get(i..).unwrap_or_default();
        a[..rest.len()].copy_from_slice(rest);
        u64::from_le_bytes(a)
    }
}

/// `0x80` in each byte of `x` that is an ASCII byte in `lo..=hi`
/// (`0 < lo <= hi < 0x80`), `0` in the others.
#[inline(always)]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let y = x & !HI;
    let ge = y + LO * u64::from(0x80 - lo);
    let gt = y + LO * u64::from(0x7F - hi);
    ge & !gt & !x & HI
}

#[inline(always)]
fn swar_alpha(x: u64) -> u64 {
    in_range(x | (LO * 0x20), b'a', b'z')
}

#[inline(always)]
fn swar_lower(x: u64) -> u64 {
    in_range(x, b'a', b'z')
}

#[inline(always)]
fn swar_upper(x: u64) -> u64 {
    in_range(x, b'A', b'Z')
}

#[inline(always)]
fn swar_space(x: u64) -> u64 {
    // Bytes equal to 0x20 are zero after the xor; adding 0x7F sets the high
    // bit of every non-zero 7-bit value, so its complement marks the zeros.
    // The original high bit must be clear (0xA0 also xors to 0x80).
    let y = (x ^ (LO * 0x20)) & !HI;
    !(y + LO * 0x7F) & !x & HI
}

/// Skip bytes of `b` from `i` while `class` marks them.
#[inline(always)]
fn skip<C: Fn(u64) -> u64>(b: &[u8], mut i: usize, class: C) -> usize {
    loop {
        let m = class(load8(b, i));
        if m != HI {
            return (i + ((!m & HI).trailing_zeros() / 8) as usize).min(b.len());
        }
        i += 8;
    }
}

/// End of the maximal run of characters whose flags intersect `mask`,
/// starting at `i`. `swar` must mark exactly the ASCII bytes with `mask`.
#[inline(always)]
fn run_swar<C: Fn(u64) -> u64>(t: &Tables, b: &[u8], mut i: usize, mask: u8, swar: C) -> usize {
    loop {
        i = skip(b, i, &swar);
        // `b[i]` is not an ASCII byte of the class.
        match b.get(i) {
            Some(&c) if c >= 0x80 => {}
            _ => return i,
        }
        loop {
            let (cp, l) = decode(b, i);
            if t.non_ascii(cp) & mask == 0 {
                return i;
            }
            i += l;
            match b.get(i) {
                None => return i,
                Some(&c) if c < 0x80 => break,
                Some(_) => {}
            }
        }
        if t.ascii(b[i]) & mask == 0 {
            return i;
        }
    }
}

/// End of the `\p{L}` run from `i`.
#[inline(always)]
fn run_l(t: &Tables, b: &[u8], i: usize) -> usize {
    run_swar(t, b, i, F_L, swar_alpha)
}

/// End of the maximal run of characters whose flags intersect `mask`,
/// starting at `i`, one character at a time (for classes whose runs are
/// short: there a byte loop beats the 8-byte steps).
#[inline(always)]
fn run_tab(t: &Tables, b: &[u8], mut i: usize, mask: u8) -> usize {
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            if t.ascii(c) & mask == 0 {
                return i;
            }
            i += 1;
        } else {
            let (cp, len) = decode(b, i);
            if t.non_ascii(cp) & mask == 0 {
                return i;
            }
            i += len;
        }
    }
    i
}

/// End of the `[^\s\p{L}\p{N}]` run from `i`.
#[inline(always)]
fn run_o(t: &Tables, b: &[u8], i: usize) -> usize {
    run_tab(t, b, i, F_O)
}

/// End of the `\p{N}` run from `i`.
#[inline(always)]
fn run_n(t: &Tables, b: &[u8], i: usize) -> usize {
    run_tab(t, b, i, F_N)
}

/// End of the `W` run from `i`.
#[inline(always)]
fn run_w(t: &Tables, b: &[u8], i: usize) -> usize {
    run_swar(t, b, i, F_W, swar_lower)
}

/// If `b[i]` (= `c`) is an ASCII letter, or a space followed by one, the
/// position after that letter.
#[inline(always)]
fn ascii_word(b: &[u8], i: usize, c: u8) -> Option<usize> {
    let s = i + usize::from(c == b' ');
    b.get(s)
        .is_some_and(u8::is_ascii_alphabetic)
        .then_some(s + 1)
}

/// End of `'(?:[sdmt]|ll|ve|re)` (case-sensitive) at `i` (`b[i] == b'\''`).
#[inline(always)]
fn contraction_cs(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i + 1)? {
        b's' | b'd' | b'm' | b't' => Some(i + 2),
        b'l' if b.get(i + 2) == Some(&b'l') => Some(i + 3),
        b'v' | b'r' if b.get(i + 2) == Some(&b'e') => Some(i + 3),
        _ => None,
    }
}

/// End of `'(?i:[sdmt]|ll|ve|re)` at `i` (`b[i] == b'\''`). The same
/// language as `(?i:'s|'t|'re|'ve|'m|'ll|'d)`.
#[inline(always)]
fn contraction_ci(t: &Tables, b: &[u8], i: usize) -> Option<usize> {
    let (c1, l1) = t.fold_letter(b, i + 1)?;
    let p = i + 1 + l1;
    match c1 {
        b's' | b'd' | b'm' | b't' => Some(p),
        b'l' | b'v' | b'r' => {
            let (c2, l2) = t.fold_letter(b, p)?;
            let want = if c1 == b'l' { b'l' } else { b'e' };
            (c2 == want).then_some(p + l2)
        }
        _ => None,
    }
}

/// `e` extended by an optional case-insensitive contraction.
#[inline(always)]
fn opt_contraction(t: &Tables, b: &[u8], e: usize) -> usize {
    if e < b.len() && b[e] == b'\'' {
        if let Some(x) = contraction_ci(t, b, e) {
            return x;
        }
    }
    e
}

/// End of `\p{N}{1,3}` at `i`, where the first `N` character ends at `e`.
#[inline(always)]
fn digits3(t: &Tables, b: &[u8], mut e: usize) -> usize {
    for _ in 0..2 {
        if e >= b.len() {
            break;
        }
        let (g, l) = t.class_at(b, e);
        if g & F_N == 0 {
            break;
        }
        e += l;
    }
    e
}

/// End of `[\r\n]*` at `e`.
#[inline(always)]
fn nl_run(b: &[u8], mut e: usize) -> usize {
    while e < b.len() && (b[e] == b'\n' || b[e] == b'\r') {
        e += 1;
    }
    e
}

/// End of `[\r\n/]*` at `e`.
#[inline(always)]
fn nl_slash_run(b: &[u8], mut e: usize) -> usize {
    while e < b.len() && matches!(b[e], b'\n' | b'\r' | b'/') {
        e += 1;
    }
    e
}

/// The maximal white-space run starting at `i`: `(end, start of its last
/// character, end of its last \r or \n or 0)`.
#[inline(always)]
fn ws_scan(t: &Tables, b: &[u8], i: usize) -> (usize, usize, usize) {
    let mut j = i;
    let mut last = i;
    let mut nl_end = 0;
    while j < b.len() {
        if b[j] == b' ' {
            j = skip(b, j + 1, swar_space);
            last = j - 1;
            continue;
        }
        let (g, l) = t.class_at(b, j);
        if g & F_S == 0 {
            break;
        }
        last = j;
        j += l;
        if g & F_NL != 0 {
            nl_end = j;
        }
    }
    (j, last, nl_end)
}

// ---------------------------------------------------------------------------
// r50k / p50k / gpt2:
// '(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s
// ---------------------------------------------------------------------------

#[inline(always)]
fn r50k_next(t: &Tables, b: &[u8], i: usize) -> usize {
    let c = b[i];
    if let Some(e) = ascii_word(b, i, c) {
        return run_l(t, b, e);
    }
    if c < 0x80 {
        let f = t.ascii(c);
        if f & F_L != 0 {
            return run_l(t, b, i + 1);
        }
        if c == b' ' && i + 1 < b.len() {
            // ` ?X++`: the space is taken only if an X follows; the runs are
            // possessive, but nothing after them in the branch can fail.
            let (g, l) = t.class_at(b, i + 1);
            if g & F_L != 0 {
                return run_l(t, b, i + 1 + l);
            }
            if g & F_N != 0 {
                return run_n(t, b, i + 1 + l);
            }
            if g & F_O != 0 {
                return run_o(t, b, i + 1 + l);
            }
        }
        if c == b'\'' {
            if let Some(e) = contraction_cs(b, i) {
                return e;
            }
        }
        if f & F_N != 0 {
            return run_n(t, b, i + 1);
        }
        if f & F_O != 0 {
            return run_o(t, b, i + 1);
        }
    } else {
        let (f, l) = t.class_at(b, i);
        if f & F_L != 0 {
            return run_l(t, b, i + l);
        }
        if f & F_N != 0 {
            return run_n(t, b, i + l);
        }
        if f & F_O != 0 {
            return run_o(t, b, i + l);
        }
    }
    // White space. `\s++$`: the run reaches the end. `\s+(?!\S)`: the run
    // minus its last character (a run of one character followed by a
    // non-space fails). `\s`: one character.
    let (j, last, _) = ws_scan(t, b, i);
    if j == b.len() {
        j
    } else if last > i {
        last
    } else {
        j
    }
}

// ---------------------------------------------------------------------------
// cl100k_base:
// '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|
//  ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
// ---------------------------------------------------------------------------

#[inline(always)]
fn cl100k_next(t: &Tables, b: &[u8], i: usize) -> usize {
    let c = b[i];
    // Fast path: an ASCII letter, or a space and an ASCII letter.
    if let Some(e) = ascii_word(b, i, c) {
        return run_l(t, b, e);
    }
    if c == b'\'' {
        if let Some(e) = contraction_ci(t, b, i) {
            return e;
        }
    }
    let (f, len) = t.class_at(b, i);
    if f & F_L != 0 {
        return run_l(t, b, i + len);
    }
    if f & F_N != 0 {
        return digits3(t, b, i + len);
    }
    let s1 = i + len;
    // `P?+\p{L}++`: P and L are disjoint, so the possessive `?+` behaves
    // like `?`: the prefix is taken iff a letter follows.
    if f & F_P != 0 && s1 < b.len() {
        let (g, l) = t.class_at(b, s1);
        if g & F_L != 0 {
            return run_l(t, b, s1 + l);
        }
        if c == b' ' && g & F_O != 0 {
            return nl_run(b, run_o(t, b, s1 + l));
        }
    }
    if f & F_O != 0 {
        return nl_run(b, run_o(t, b, s1));
    }
    // White space: `\s++$`, then `\s*[\r\n]` (greedy `\s*` backs off to the
    // last \r or \n of the run), then `\s+(?!\S)`, then `\s`.
    let (j, last, nl_end) = ws_scan(t, b, i);
    if j == b.len() {
        j
    } else if nl_end != 0 {
        nl_end
    } else if last > i {
        last
    } else {
        j
    }
}

// ---------------------------------------------------------------------------
// o200k_base:
// A1 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
// A2 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
// A3 \p{N}{1,3}
// A4  ?[^\s\p{L}\p{N}]+[\r\n/]*
// A5 \s*[\r\n]+
// A6 \s+(?!\S)
// A7 \s+
// ---------------------------------------------------------------------------

/// `U*W+` at `s` with backtracking priority (greedy `U*` backs off one
/// character at a time until `W+` can start). Let `s..j` be the maximal
/// `U`-run. If the character at `j` is in `W`, `W+` takes the maximal `W`-run
/// from `j`. Otherwise `U*` backs off to the last `W` character `k` inside
/// the run (`U∩W` = Lm, Lo, M) and `W+` takes exactly that character (the
/// characters after it are `U` but not `W`). `Err(j)` if there is no such
/// character; then `U+W*` at `s` is `s..j` (the `W*` is empty since the
/// character at `j` is not in `W`).
#[inline(always)]
fn o200k_a1(t: &Tables, b: &[u8], s: usize) -> Result<usize, usize> {
    let mut j = s;
    let mut last_w_end = 0;
    while let Some(&c) = b.get(j) {
        if c < 0x80 {
            // ASCII: upper-case letters are U and not W, lower-case letters
            // are W and not U, everything else is neither.
            if c.is_ascii_uppercase() {
                j = skip(b, j + 1, swar_upper);
                continue;
            }
            if c.is_ascii_lowercase() {
                return Ok(run_w(t, b, j + 1));
            }
            break;
        }
        let (cp, l) = decode(b, j);
        let g = t.non_ascii(cp);
        if g & F_U == 0 {
            if g & F_W != 0 {
                return Ok(run_w(t, b, j + l));
            }
            break;
        }
        j += l;
        if g & F_W != 0 {
            last_w_end = j;
        }
    }
    if last_w_end != 0 {
        Ok(last_w_end)
    } else {
        Err(j)
    }
}

#[inline(always)]
fn o200k_next(t: &Tables, b: &[u8], i: usize) -> usize {
    let c = b[i];
    // Fast paths: an ASCII letter, or a space (P) followed by one. For a
    // lower-case letter (W, not U) `U*` is empty and `W+` takes the W-run.
    let s = i + usize::from(c == b' ');
    if let Some(&d) = b.get(s) {
        if d.is_ascii_lowercase() {
            return opt_contraction(t, b, run_w(t, b, s + 1));
        }
        // An ASCII upper-case letter (U, not W), after a space (P) or not:
        // A1, else A2 = the U-run (see `o200k_a1`).
        if d.is_ascii_uppercase() {
            let (Ok(e) | Err(e)) = o200k_a1(t, b, s);
            return opt_contraction(t, b, e);
        }
    }
    let (f, len) = t.class_at(b, i);
    let s1 = i + len;
    // Without a mark at `i` or a letter at `s1` (ASCII non-letters are
    // neither U nor W), A1 and A2 cannot match.
    if f & F_P != 0
        && (f & F_U != 0
            || b.get(s1)
                .is_some_and(|&d| d >= 0x80 || d.is_ascii_alphabetic()))
    {
        // Branch order: A1 with the prefix, A1 without it, A2 with it, A2
        // without it. Without the prefix the first character must be in U or
        // W, i.e. a mark (P contains no letters).
        match o200k_a1(t, b, s1) {
            Ok(e) => return opt_contraction(t, b, e),
            Err(j) => {
                if f & F_U != 0 {
                    // A mark: `U*` = the mark and the U-run after it, backing
                    // off to the mark itself as the only W character.
                    return opt_contraction(t, b, s1);
                }
                if j > s1 {
                    return opt_contraction(t, b, j);
                }
            }
        }
    } else if f & F_L != 0 {
        // A letter is in U or W, so A1 or A2 matches.
        let e = match o200k_a1(t, b, i) {
            Ok(e) | Err(e) => e,
        };
        return opt_contraction(t, b, e);
    } else if f & F_N != 0 {
        return digits3(t, b, s1);
    }
    // A4. A space takes part only if an O character follows.
    if c == b' ' && s1 < b.len() {
        let (g, l) = t.class_at(b, s1);
        if g & F_O != 0 {
            return nl_slash_run(b, run_o(t, b, s1 + l));
        }
    }
    if f & F_O != 0 {
        return nl_slash_run(b, run_o(t, b, s1));
    }
    ws_o200k(t, b, i)
}

/// White space for o200k and Llama-3: `\s*[\r\n]+` (up to and including the
/// last \r or \n of the run), `\s+(?!\S)` (the whole run at the end of the
/// text, otherwise the run minus its last character), `\s+` (one character
/// remains: a single white-space character before a non-space).
#[inline(always)]
fn ws_o200k(t: &Tables, b: &[u8], i: usize) -> usize {
    let (j, last, nl_end) = ws_scan(t, b, i);
    if nl_end != 0 {
        nl_end
    } else if j == b.len() {
        j
    } else if last > i {
        last
    } else {
        j
    }
}

// ---------------------------------------------------------------------------
// Llama-3:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// ---------------------------------------------------------------------------

#[inline(always)]
fn llama3_next(t: &Tables, b: &[u8], i: usize) -> usize {
    llama3_like::<true>(t, b, i)
}

// ---------------------------------------------------------------------------
// Qwen2 (Llama-3's pattern with single digits):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
//  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// ---------------------------------------------------------------------------

#[inline(always)]
fn qwen2_next(t: &Tables, b: &[u8], i: usize) -> usize {
    llama3_like::<false>(t, b, i)
}

/// Llama-3's splitter; `DIGITS3`: numbers in groups of up to three
/// (`\p{N}{1,3}`), else one by one (`\p{N}`, Qwen2).
#[inline(always)]
fn llama3_like<const DIGITS3: bool>(t: &Tables, b: &[u8], i: usize) -> usize {
    let c = b[i];
    // Fast path: an ASCII letter, or a space and an ASCII letter.
    if let Some(e) = ascii_word(b, i, c) {
        return run_l(t, b, e);
    }
    if c == b'\'' {
        if let Some(e) = contraction_ci(t, b, i) {
            return e;
        }
    }
    let (f, len) = t.class_at(b, i);
    if f & F_L != 0 {
        return run_l(t, b, i + len);
    }
    let s1 = i + len;
    if f & F_P != 0 && s1 < b.len() {
        let (g, l) = t.class_at(b, s1);
        if g & F_L != 0 {
            return run_l(t, b, s1 + l);
        }
        // (A character in P is not in N, so `\p{N}{1,3}` cannot intervene.)
        if c == b' ' && g & F_O != 0 {
            return nl_run(b, run_o(t, b, s1 + l));
        }
    }
    if f & F_N != 0 {
        return if DIGITS3 { digits3(t, b, s1) } else { s1 };
    }
    if f & F_O != 0 {
        return nl_run(b, run_o(t, b, s1));
    }
    ws_o200k(t, b, i)
}

#[cfg(test)]
mod swar_tests {
    use super::*;

    /// Every SWAR class agrees with the class tables on every byte value in
    /// every lane.
    #[test]
    fn swar_classes_match_tables() {
        let t = Tables::get();
        type Swar = fn(u64) -> u64;
        let classes: [(Swar, u8, &str); 4] = [
            (swar_alpha, F_L, "alpha"),
            (swar_lower, F_W, "lower"),
            (swar_upper, F_U, "upper"),
            (swar_space, 0, "space"),
        ];
        for (f, flag, name) in classes {
            for byte in 0..=255u8 {
                for lane in 0..8 {
                    // Surround with bytes of every kind.
                    for fill in [0u8, b' ', b'a', b'Z', b'5', b'!', 0x80, 0xff] {
                        let mut a = [fill; 8];
                        a[lane] = byte;
                        let m = f(u64::from_le_bytes(a));
                        let got = (m >> (lane * 8)) & 0xff;
                        let want = if byte >= 0x80 {
                            false
                        } else if name == "space" {
                            byte == b' '
                        } else {
                            t.ascii(byte) & flag != 0
                        };
                        assert_eq!(
                            got,
                            if want { 0x80 } else { 0 },
                            "{name} {byte:#x} lane {lane}"
                        );
                        // No stray bits.
                        assert_eq!(m & !HI, 0);
                    }
                }
            }
        }
    }
}
