//! Character classes of the hand-written splitters.
//!
//! Every class is taken from `regex-syntax` (the parser behind the `regex`
//! crate and therefore behind `fancy-regex`), so the splitters classify every
//! Unicode scalar value exactly as the regex engine does. The tables are built
//! once, at first use:
//!
//! * ASCII: a 128-entry table of class flags;
//! * everything else: a two-level table (code point >> 7 → block number,
//!   block → 128 flag bytes); identical blocks are stored once, so the whole
//!   table is a few tens of kilobytes.
//!
//! The case-insensitive contraction letters (`(?i:[sdmt]|ll|ve|re)` etc.) are
//! also taken from `regex-syntax`: besides the ASCII pair, `(?i:s)` matches
//! U+017F LATIN SMALL LETTER LONG S.

use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};

/// `\p{L}`.
pub(crate) const F_L: u8 = 1;
/// `\p{N}`.
pub(crate) const F_N: u8 = 2;
/// `\s` (Unicode `White_Space`).
pub(crate) const F_S: u8 = 4;
/// o200k's "upper" class `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
pub(crate) const F_U: u8 = 8;
/// o200k's "lower" class `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
pub(crate) const F_W: u8 = 16;
/// `[^\s\p{L}\p{N}]` ("other": punctuation, symbols, marks, controls, ...).
pub(crate) const F_O: u8 = 32;
/// `[^\r\n\p{L}\p{N}]` (the optional one-character prefix of a word).
pub(crate) const F_P: u8 = 64;
/// `[\r\n]`.
pub(crate) const F_NL: u8 = 128;

const SHIFT: u32 = 7;
const BLOCK: usize = 1 << SHIFT;
/// Enough blocks for any value a 4-byte UTF-8 sequence can encode (21 bits),
/// so that indexing needs no bounds check.
const INDEX_LEN: usize = 1 << (21 - SHIFT);

/// The class tables (see the module documentation).
pub(crate) struct Tables {
    ascii: [u8; 128],
    index: Box<[u16; INDEX_LEN]>,
    blocks: Box<[u8]>,
    /// Non-ASCII characters that `(?i:x)` matches, with the ASCII lower-case
    /// letter `x` they fold to (only for the contraction letters).
    folds: Box<[(u32, u8)]>,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables")
            .field("blocks", &(self.blocks.len() / BLOCK))
            .field("folds", &self.folds)
            .finish()
    }
}

/// The classes as regex patterns, in the order of the flag bits above.
const CLASS_PATTERNS: [(&str, u8); 8] = [
    (r"\p{L}", F_L),
    (r"\p{N}", F_N),
    (r"\s", F_S),
    (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", F_U),
    (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", F_W),
    (r"[^\s\p{L}\p{N}]", F_O),
    (r"[^\r\n\p{L}\p{N}]", F_P),
    (r"[\r\n]", F_NL),
];

/// The letters that occur in the case-insensitive contractions.
const FOLD_LETTERS: &[u8] = b"sdmtlver";

/// The ranges of a single-character-class pattern, parsed by `regex-syntax`
/// with default (Unicode) settings.
pub(crate) fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("built-in character class must parse");
    match hir.kind() {
        HirKind::Class(Class::Unicode(cls)) => cls
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        // A class that matches a single character is simplified to a literal.
        HirKind::Literal(lit) => std::str::from_utf8(&lit.0)
            .ok()
            .and_then(|s| {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Some(vec![(u32::from(c), u32::from(c))]),
                    _ => None,
                }
            })
            .expect("built-in character class must be a single character"),
        other => panic!("built-in character class parsed to {other:?}"),
    }
}

impl Tables {
    /// The shared tables, built at first use.
    #[inline]
    pub(crate) fn get() -> &'static Tables {
        static TABLES: OnceLock<Tables> = OnceLock::new();
        TABLES.get_or_init(Tables::build)
    }

    fn build() -> Tables {
        // Flat flags for every code point (surrogates stay 0; they never occur
        // in a `str`).
        let mut flat = vec![0u8; 0x11_0000];
        for (pattern, flag) in CLASS_PATTERNS {
            for (lo, hi) in class_ranges(pattern) {
                for cp in lo..=hi {
                    flat[cp as usize] |= flag;
                }
            }
        }
        let mut ascii = [0u8; 128];
        ascii.copy_from_slice(&flat[..128]);

        let mut index = Box::new([0u16; INDEX_LEN]);
        let mut blocks: Vec<u8> = Vec::new();
        let mut seen: std::collections::HashMap<&[u8], u16> = std::collections::HashMap::new();
        for (bi, chunk) in flat.chunks(BLOCK).enumerate() {
            let id = *seen.entry(chunk).or_insert_with(|| {
                let id = blocks.len() / BLOCK;
                blocks.extend_from_slice(chunk);
                u16::try_from(id).expect("fewer than 65536 distinct blocks")
            });
            index[bi] = id;
        }
        // Code points above U+10FFFF cannot occur; point them at block 0.

        let mut folds = Vec::new();
        for &letter in FOLD_LETTERS {
            let pattern = format!("(?i:{})", char::from(letter));
            for (lo, hi) in class_ranges(&pattern) {
                for cp in lo..=hi {
                    if cp >= 0x80 {
                        folds.push((cp, letter));
                    }
                }
            }
        }

        Tables {
            ascii,
            index,
            blocks: blocks.into_boxed_slice(),
            folds: folds.into_boxed_slice(),
        }
    }

    /// Flags of an ASCII byte (`b < 0x80`).
    #[inline(always)]
    pub(crate) fn ascii(&self, b: u8) -> u8 {
        self.ascii[usize::from(b & 0x7f)]
    }

    /// Flags of a code point.
    #[inline(always)]
    pub(crate) fn non_ascii(&self, cp: u32) -> u8 {
        let block = usize::from(self.index[(cp >> SHIFT) as usize & (INDEX_LEN - 1)]);
        self.blocks[(block << SHIFT) | (cp as usize & (BLOCK - 1))]
    }

    /// Flags of any character (for tests and tools).
    #[cfg(test)]
    pub(crate) fn of_char(&self, c: char) -> u8 {
        if c.is_ascii() {
            self.ascii(c as u8)
        } else {
            self.non_ascii(u32::from(c))
        }
    }

    /// Flags and UTF-8 length of the character starting at `b[i]`.
    #[inline(always)]
    pub(crate) fn class_at(&self, b: &[u8], i: usize) -> (u8, usize) {
        let c = b[i];
        if c < 0x80 {
            (self.ascii(c), 1)
        } else {
            let (cp, len) = decode(b, i);
            (self.non_ascii(cp), len)
        }
    }

    /// If the character at `b[i]` (if any) is one of the contraction letters
    /// or case-folds to one, that ASCII lower-case letter and the character's
    /// length. Other ASCII bytes give `b | 0x20`, which the caller compares
    /// with the contraction letters only.
    #[inline(always)]
    pub(crate) fn fold_letter(&self, b: &[u8], i: usize) -> Option<(u8, usize)> {
        let c = *b.get(i)?;
        if c < 0x80 {
            // Only 'X' and 'x' map to 'x' (for the letters we compare with).
            Some((c | 0x20, 1))
        } else {
            let (cp, len) = decode(b, i);
            self.folds
                .iter()
                .find(|&&(f, _)| f == cp)
                .map(|&(_, letter)| (letter, len))
        }
    }

    /// The non-ASCII case-fold table (for tests).
    #[cfg(test)]
    pub(crate) fn folds(&self) -> &[(u32, u8)] {
        &self.folds
    }
}

/// Decode the non-ASCII UTF-8 sequence starting at `b[i]`: code point and
/// length. `b` must be valid UTF-8 (it comes from a `str`) and `b[i]` a lead
/// byte `>= 0xC0`.
#[inline(always)]
pub(crate) fn decode(b: &[u8], i: usize) -> (u32, usize) {
    let b0 = u32::from(b[i]);
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (u32::from(b[i + 1]) & 0x3F), 2)
    } else if b0 < 0xF0 {
        (
            ((b0 & 0x0F) << 12)
                | ((u32::from(b[i + 1]) & 0x3F) << 6)
                | (u32::from(b[i + 2]) & 0x3F),
            3,
        )
    } else {
        (
            ((b0 & 0x07) << 18)
                | ((u32::from(b[i + 1]) & 0x3F) << 12)
                | ((u32::from(b[i + 2]) & 0x3F) << 6)
                | (u32::from(b[i + 3]) & 0x3F),
            4,
        )
    }
}
