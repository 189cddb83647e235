//! The byte ↔ character table of byte-level BPE (GPT-2's `bytes_to_unicode`).
//!
//! Every byte is shown as one printable character so that vocabularies can be
//! stored as text: the 188 bytes that are printable Latin-1 (`!`..=`~`,
//! `¡`..=`¬`, `®`..=`ÿ`) stand for themselves, and the 68 others (controls,
//! space, DEL, NBSP, soft hyphen, ...) are given the code points U+0100,
//! U+0101, ... in increasing byte order.

/// Character of each byte.
pub(crate) const BYTE_CHAR: [char; 256] = build_byte_char();

const fn printable(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

const fn build_byte_char() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut next = 0x100u32;
    let mut b = 0usize;
    while b < 256 {
        if printable(b as u8) {
            out[b] = b as u8 as char;
        } else {
            // All values are below U+0144, far from the surrogates.
            out[b] = match char::from_u32(next) {
                Some(c) => c,
                None => '\0',
            };
            next += 1;
        }
        b += 1;
    }
    out
}

/// The byte a character stands for, if it is one of the 256 characters.
#[inline]
pub(crate) fn char_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if u < 0x100 {
        let b = u as u8;
        printable(b).then_some(b)
    } else if u < 0x144 {
        Some(CHAR_OF_EXTRA[(u - 0x100) as usize])
    } else {
        None
    }
}

/// Byte of U+0100 + i for the 68 non-printable bytes.
const CHAR_OF_EXTRA: [u8; 68] = build_extra();

const fn build_extra() -> [u8; 68] {
    let mut out = [0u8; 68];
    let mut i = 0;
    let mut b = 0usize;
    while b < 256 {
        if !printable(b as u8) {
            out[i] = b as u8;
            i += 1;
        }
        b += 1;
    }
    out
}

/// Length in UTF-8 of the character of byte `b` (1 for printable ASCII,
/// 2 otherwise).
#[inline]
pub(crate) fn mapped_len(b: u8) -> usize {
    BYTE_CHAR[b as usize].len_utf8()
}

/// The bytes a byte-level string stands for, or `None` if some character is
/// not one of the 256.
pub(crate) fn decode_str(s: &str) -> Option<Vec<u8>> {
    s.chars().map(char_byte).collect()
}

/// Append the byte-level string of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    out.extend(bytes.iter().map(|&b| BYTE_CHAR[b as usize]));
}

/// The byte-level string of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_a_bijection_with_known_points() {
        let mut seen = std::collections::HashSet::new();
        for b in 0..=255u8 {
            let c = BYTE_CHAR[b as usize];
            assert!(seen.insert(c), "{c:?} used twice");
            assert_eq!(char_byte(c), Some(b));
        }
        // GPT-2's well-known characters.
        assert_eq!(BYTE_CHAR[b' ' as usize], 'Ġ');
        assert_eq!(BYTE_CHAR[b'\n' as usize], 'Ċ');
        assert_eq!(BYTE_CHAR[b'\t' as usize], 'ĉ');
        assert_eq!(BYTE_CHAR[0], '\u{100}');
        assert_eq!(BYTE_CHAR[0xAD], '\u{143}');
        assert_eq!(BYTE_CHAR[b'a' as usize], 'a');
        assert_eq!(BYTE_CHAR[0xE9], 'é');
        assert_eq!(char_byte(' '), None);
        assert_eq!(char_byte('\u{144}'), None);
        assert_eq!(char_byte('中'), None);
        assert_eq!(decode_str("ĠHello").as_deref(), Some(&b" Hello"[..]));
        assert_eq!(encode(b" \xe4\xb8"), "Ġä¸");
    }
}
