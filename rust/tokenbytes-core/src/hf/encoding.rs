//! The result of encoding ([`Encoding`], like `tokenizers.Encoding`) and
//! the truncation and padding applied to it, with `tokenizers`' semantics.

use crate::error::{Error, Result};

/// Which end loses (truncation) or gains (padding) tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    Left,
    #[default]
    Right,
}

impl Direction {
    /// Parse `"left"` / `"right"` (any case).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `what`.
    pub fn parse(s: &str, what: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "left" => Ok(Self::Left),
            "right" => Ok(Self::Right),
            _ => Err(Error::InvalidArgument(format!(
                "{what} must be 'left' or 'right', got {s:?}"
            ))),
        }
    }
}

/// How a pair of sequences shares the truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncationStrategy {
    #[default]
    LongestFirst,
    OnlyFirst,
    OnlySecond,
}

impl TruncationStrategy {
    /// Parse `longest_first`, `only_first`, `only_second` (also the
    /// `tokenizer.json` spellings `LongestFirst`, ...).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`].
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "longest_first" | "LongestFirst" => Ok(Self::LongestFirst),
            "only_first" | "OnlyFirst" => Ok(Self::OnlyFirst),
            "only_second" | "OnlySecond" => Ok(Self::OnlySecond),
            _ => Err(Error::InvalidArgument(format!(
                "truncation strategy must be 'longest_first', 'only_first' or 'only_second', got {s:?}"
            ))),
        }
    }
}

/// Truncation settings (`tokenizers`' `TruncationParams`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub max_length: usize,
    pub stride: usize,
    pub strategy: TruncationStrategy,
    pub direction: Direction,
}

/// Padding settings (`tokenizers`' `PaddingParams`); `length: None` pads a
/// batch to its longest encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Padding {
    pub length: Option<usize>,
    pub direction: Direction,
    pub pad_to_multiple_of: Option<usize>,
    pub pad_id: u32,
    pub pad_type_id: u32,
    pub pad_token: String,
}

/// The longest sequence padding may produce, in tokens (2^26): an
/// [`Encoding`] of that length already takes a few GB, and a larger
/// setting (a typo, a value meant as bytes) would end the process when the
/// allocation fails rather than raise an error.
pub const MAX_PAD_LENGTH: usize = 1 << 26;

impl Padding {
    /// Check `length` and `pad_to_multiple_of` against [`MAX_PAD_LENGTH`]
    /// (`what` names the setting in the message).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the value that is too large.
    pub fn check(&self, what: &str) -> Result<()> {
        for (name, v) in [
            ("length", self.length),
            ("pad_to_multiple_of", self.pad_to_multiple_of),
        ] {
            if let Some(v) = v.filter(|&v| v > MAX_PAD_LENGTH) {
                return Err(Error::InvalidArgument(format!(
                    "{what}{name} = {v} is larger than the longest padded sequence \
                     supported ({MAX_PAD_LENGTH} tokens)"
                )));
            }
        }
        Ok(())
    }
}

impl Default for Padding {
    fn default() -> Self {
        Self {
            length: None,
            direction: Direction::Right,
            pad_to_multiple_of: None,
            pad_id: 0,
            pad_type_id: 0,
            pad_token: "[PAD]".into(),
        }
    }
}

/// One encoded input: parallel per-token arrays, plus the windows cut off
/// by truncation (`overflowing`). Offsets are `(start, end)` character
/// offsets into the original input string (of the sequence the token comes
/// from); tokens added by the post-processor or padding have `(0, 0)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoding {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// Index of the pre-tokenized word each token comes from.
    pub words: Vec<Option<u32>>,
    pub offsets: Vec<(usize, usize)>,
    pub special_tokens_mask: Vec<u32>,
    pub attention_mask: Vec<u32>,
    pub overflowing: Vec<Encoding>,
}

impl Encoding {
    /// Number of tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub(crate) fn push(
        &mut self,
        id: u32,
        token: String,
        offsets: (usize, usize),
        word: Option<u32>,
        type_id: u32,
    ) {
        self.ids.push(id);
        self.type_ids.push(type_id);
        self.tokens.push(token);
        self.words.push(word);
        self.offsets.push(offsets);
        self.special_tokens_mask.push(0);
        self.attention_mask.push(1);
    }

    fn slice(&self, a: usize, b: usize) -> Encoding {
        Encoding {
            ids: self.ids[a..b].to_vec(),
            type_ids: self.type_ids[a..b].to_vec(),
            tokens: self.tokens[a..b].to_vec(),
            words: self.words[a..b].to_vec(),
            offsets: self.offsets[a..b].to_vec(),
            special_tokens_mask: self.special_tokens_mask[a..b].to_vec(),
            attention_mask: self.attention_mask[a..b].to_vec(),
            overflowing: Vec::new(),
        }
    }

    /// Keep `max_length` tokens (from `direction`'s opposite end); the rest
    /// becomes `overflowing`, in windows of `max_length` tokens that overlap
    /// by `stride` (`tokenizers`' `Encoding::truncate`). Any previous
    /// overflowing windows are dropped.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if truncation is needed and `stride >=
    /// max_length`.
    pub fn truncate(
        &mut self,
        max_length: usize,
        stride: usize,
        direction: Direction,
    ) -> Result<()> {
        let n = self.len();
        if max_length >= n {
            return Ok(());
        }
        if max_length == 0 {
            let all = std::mem::take(self);
            self.overflowing.push(all);
            return Ok(());
        }
        if stride >= max_length {
            return Err(Error::InvalidArgument(format!(
                "stride ({stride}) must be strictly less than max_length ({max_length}); \
                 max_length may already be reduced by the special tokens the post-processor adds"
            )));
        }
        let step = max_length - stride;
        let mut parts: Vec<(usize, usize)> = Vec::new();
        match direction {
            Direction::Right => {
                let mut start = 0;
                loop {
                    let stop = (start + max_length).min(n);
                    parts.push((start, stop));
                    if stop == n {
                        break;
                    }
                    start += step;
                }
            }
            Direction::Left => {
                // Windows ending at n, n - step, ... (as long as they start
                // before their end), until one starts at 0.
                let mut stop_m1 = n - 1;
                loop {
                    let stop = stop_m1 + 1;
                    let start = stop.saturating_sub(max_length);
                    parts.push((start, stop));
                    if start == 0 || stop_m1 < step {
                        break;
                    }
                    stop_m1 -= step;
                }
            }
        }
        let mut first = self.slice(parts[0].0, parts[0].1);
        first.overflowing = parts[1..].iter().map(|&(a, b)| self.slice(a, b)).collect();
        *self = first;
        Ok(())
    }

    /// Append `other` (and combine the overflowing windows of both, as
    /// `tokenizers`' `merge_with` does).
    pub(crate) fn merge_with(&mut self, other: Encoding) {
        let mut overflowings = Vec::new();
        for mine in &self.overflowing {
            let mut e = mine.clone();
            e.merge_with(other.clone());
            overflowings.push(e);
            for theirs in &other.overflowing {
                let mut e = mine.clone();
                e.merge_with(theirs.clone());
                overflowings.push(e);
            }
        }
        for theirs in &other.overflowing {
            let mut e = self.clone();
            e.merge_with(theirs.clone());
            overflowings.push(e);
        }
        self.ids.extend(other.ids);
        self.type_ids.extend(other.type_ids);
        self.tokens.extend(other.tokens);
        self.words.extend(other.words);
        self.offsets.extend(other.offsets);
        self.special_tokens_mask.extend(other.special_tokens_mask);
        self.attention_mask.extend(other.attention_mask);
        self.overflowing = overflowings;
    }

    /// Concatenate encodings (`tokenizers`' `Encoding::merge`).
    pub(crate) fn merge(parts: Vec<Encoding>) -> Encoding {
        let mut out = Encoding::default();
        for p in parts {
            out.merge_with(p);
        }
        out
    }

    /// Pad to `length` tokens (and every overflowing window too); nothing
    /// happens to an encoding that is already that long.
    pub fn pad(
        &mut self,
        length: usize,
        pad_id: u32,
        pad_type_id: u32,
        pad_token: &str,
        direction: Direction,
    ) {
        for o in &mut self.overflowing {
            o.pad(length, pad_id, pad_type_id, pad_token, direction);
        }
        let n = self.len();
        if n >= length {
            return;
        }
        let k = length - n;
        fn fill<T: Clone>(v: &mut Vec<T>, k: usize, x: T, left: bool) {
            if left {
                v.splice(0..0, std::iter::repeat_n(x, k));
            } else {
                v.extend(std::iter::repeat_n(x, k));
            }
        }
        let left = direction == Direction::Left;
        fill(&mut self.ids, k, pad_id, left);
        fill(&mut self.type_ids, k, pad_type_id, left);
        fill(&mut self.tokens, k, pad_token.to_owned(), left);
        fill(&mut self.words, k, None, left);
        fill(&mut self.attention_mask, k, 0, left);
        fill(&mut self.special_tokens_mask, k, 1, left);
        fill(&mut self.offsets, k, (0, 0), left);
    }
}

/// The length a batch is padded to (`tokenizers`' `pad_encodings`).
pub(crate) fn pad_length(lengths: impl Iterator<Item = usize>, p: &Padding) -> usize {
    let mut n = match p.length {
        Some(n) => n,
        None => lengths.max().unwrap_or(0),
    };
    if let Some(m) = p.pad_to_multiple_of {
        if m > 0 && n % m > 0 {
            n += m - n % m;
        }
    }
    n
}

/// Pad every encoding of a batch.
pub(crate) fn pad_all(encodings: &mut [Encoding], p: &Padding) {
    if encodings.is_empty() {
        return;
    }
    let n = pad_length(encodings.iter().map(Encoding::len), p);
    for e in encodings {
        e.pad(n, p.pad_id, p.pad_type_id, &p.pad_token, p.direction);
    }
}

/// `tokenizers`' `truncate_encodings`, on lengths: the length each of a
/// sequence (`n1` tokens) and its optional pair (`n2`) is to be truncated
/// to (its own length when it stays whole).
///
/// # Errors
/// [`Error::InvalidArgument`] for `only_second` without a pair, a sequence
/// too short to remove enough tokens from, or a stride too large for the
/// resulting length.
pub(crate) fn truncation_targets(
    n1: usize,
    n2: Option<usize>,
    t: &Truncation,
) -> Result<(usize, Option<usize>)> {
    let (a, b) = targets(n1, n2, t)?;
    check_stride(n1, a, t.stride)?;
    if let (Some(n), Some(b)) = (n2, b) {
        check_stride(n, b, t.stride)?;
    }
    Ok((a, b))
}

fn check_stride(len: usize, target: usize, stride: usize) -> Result<()> {
    if target > 0 && target < len && stride >= target {
        return Err(Error::InvalidArgument(format!(
            "stride ({stride}) must be strictly less than max_length ({target}); \
             max_length may already be reduced by the special tokens the post-processor adds"
        )));
    }
    Ok(())
}

fn targets(n1: usize, n2: Option<usize>, t: &Truncation) -> Result<(usize, Option<usize>)> {
    if t.max_length == 0 {
        return Ok((0, n2.map(|_| 0)));
    }
    let total = n1 + n2.unwrap_or(0);
    if total <= t.max_length {
        return Ok((n1, n2));
    }
    let to_remove = total - t.max_length;
    let too_short = || {
        Error::InvalidArgument(
            "Truncation error: Sequence to truncate too short to respect the provided max_length"
                .into(),
        )
    };
    match t.strategy {
        TruncationStrategy::LongestFirst => match n2 {
            Some(len2) => {
                let (mut a, mut b) = (n1, len2);
                let swap = a > b;
                if swap {
                    std::mem::swap(&mut a, &mut b);
                }
                if a > t.max_length {
                    b = a;
                } else {
                    b = a.max(t.max_length - a);
                }
                if a + b > t.max_length {
                    a = t.max_length / 2;
                    b = a + t.max_length % 2;
                }
                if swap {
                    std::mem::swap(&mut a, &mut b);
                }
                Ok((a, Some(b)))
            }
            None => Ok((total - to_remove, None)),
        },
        TruncationStrategy::OnlyFirst => {
            if n1 > to_remove {
                Ok((n1 - to_remove, n2))
            } else {
                Err(too_short())
            }
        }
        TruncationStrategy::OnlySecond => match n2 {
            None => Err(Error::InvalidArgument(
                "Truncation error: Second sequence not provided".into(),
            )),
            Some(len2) if len2 > to_remove => Ok((n1, Some(len2 - to_remove))),
            Some(_) => Err(too_short()),
        },
    }
}

/// Truncate a sequence (and its pair) to `t.max_length` tokens in total
/// (`tokenizers`' `truncate_encodings`).
///
/// # Errors
/// As [`truncation_targets`].
pub(crate) fn truncate_pair(
    first: &mut Encoding,
    second: Option<&mut Encoding>,
    t: &Truncation,
) -> Result<()> {
    let (a, b) = targets(first.len(), second.as_ref().map(|s| s.len()), t)?;
    first.truncate(a, t.stride, t.direction)?;
    if let (Some(s), Some(b)) = (second, b) {
        s.truncate(b, t.stride, t.direction)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(n: u32) -> Encoding {
        let mut e = Encoding::default();
        for i in 0..n {
            e.push(i, format!("t{i}"), (i as usize, i as usize + 1), Some(i), 0);
        }
        e
    }

    #[test]
    fn truncate_right_and_left_with_stride() {
        let mut e = enc(10);
        e.truncate(4, 1, Direction::Right).unwrap();
        assert_eq!(e.ids, vec![0, 1, 2, 3]);
        let o: Vec<Vec<u32>> = e.overflowing.iter().map(|o| o.ids.clone()).collect();
        assert_eq!(o, vec![vec![3, 4, 5, 6], vec![6, 7, 8, 9]]);
        let mut e = enc(10);
        e.truncate(4, 1, Direction::Left).unwrap();
        assert_eq!(e.ids, vec![6, 7, 8, 9]);
        let o: Vec<Vec<u32>> = e.overflowing.iter().map(|o| o.ids.clone()).collect();
        assert_eq!(o, vec![vec![3, 4, 5, 6], vec![0, 1, 2, 3]]);
        let mut e = enc(3);
        assert!(e.truncate(2, 2, Direction::Right).is_err());
    }

    #[test]
    fn pad_both_sides() {
        let mut e = enc(2);
        e.pad(4, 9, 1, "<pad>", Direction::Left);
        assert_eq!(e.ids, vec![9, 9, 0, 1]);
        assert_eq!(e.attention_mask, vec![0, 0, 1, 1]);
        assert_eq!(e.special_tokens_mask, vec![1, 1, 0, 0]);
        assert_eq!(e.type_ids, vec![1, 1, 0, 0]);
        assert_eq!(e.offsets[0], (0, 0));
    }
}
