//! Post-processors (`ByteLevel`, `TemplateProcessing`, `Sequence`) and
//! decoders (`ByteLevel`, `Sequence`) with `tokenizers`' semantics.

use rustc_hash::FxHashMap;

use super::bytemap;
use super::encoding::Encoding;

/// Which input a template piece stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seq {
    A,
    B,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Sequence { id: Seq, type_id: u32 },
    Special { id: String, type_id: u32 },
}

/// A special token of a template: its ids and token strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateToken {
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
}

/// One post-processing step (a `Sequence` is flattened).
#[derive(Debug, Clone)]
pub(crate) enum PostStep {
    ByteLevel {
        trim_offsets: bool,
        add_prefix_space: bool,
    },
    Template {
        single: Vec<Piece>,
        pair: Vec<Piece>,
        tokens: FxHashMap<String, TemplateToken>,
    },
}

impl PostStep {
    /// Special tokens this step adds.
    pub(crate) fn added_tokens(&self, is_pair: bool) -> usize {
        match self {
            PostStep::ByteLevel { .. } => 0,
            PostStep::Template {
                single,
                pair,
                tokens,
            } => {
                let t = if is_pair { pair } else { single };
                t.iter()
                    .map(|p| match p {
                        Piece::Sequence { .. } => 0,
                        Piece::Special { id, .. } => tokens.get(id).map_or(0, |s| s.ids.len()),
                    })
                    .sum()
            }
        }
    }

    fn process(&self, encodings: Vec<Encoding>, add_special_tokens: bool) -> Vec<Encoding> {
        match self {
            PostStep::ByteLevel {
                trim_offsets,
                add_prefix_space,
            } => {
                let mut encodings = encodings;
                if *trim_offsets {
                    for e in &mut encodings {
                        trim(e, *add_prefix_space);
                        for o in &mut e.overflowing {
                            trim(o, *add_prefix_space);
                        }
                    }
                }
                encodings
            }
            PostStep::Template {
                single,
                pair,
                tokens,
            } => {
                let template = if encodings.len() == 2 { pair } else { single };
                let mut out = Vec::with_capacity(template.len());
                for piece in template {
                    match piece {
                        Piece::Sequence { id, type_id } => {
                            let i = usize::from(*id == Seq::B);
                            if let Some(e) = encodings.get(i) {
                                let mut e = e.clone();
                                e.type_ids = vec![*type_id; e.len()];
                                out.push(e);
                            }
                        }
                        Piece::Special { id, type_id } => {
                            if !add_special_tokens {
                                continue;
                            }
                            if let Some(t) = tokens.get(id) {
                                let n = t.ids.len();
                                out.push(Encoding {
                                    ids: t.ids.clone(),
                                    type_ids: vec![*type_id; n],
                                    tokens: t.tokens.clone(),
                                    words: vec![None; n],
                                    offsets: vec![(0, 0); n],
                                    special_tokens_mask: vec![1; n],
                                    attention_mask: vec![1; n],
                                    overflowing: Vec::new(),
                                });
                            }
                        }
                    }
                }
                out
            }
        }
    }
}

/// The whole post-processor (`None` in `tokenizer.json` = no steps, which
/// behaves differently for type ids: see [`post_process`]).
pub(crate) fn added_tokens(steps: Option<&[PostStep]>, is_pair: bool) -> usize {
    steps.map_or(0, |s| s.iter().map(|p| p.added_tokens(is_pair)).sum())
}

/// Combine a sequence and its optional pair into the final encoding.
pub(crate) fn post_process(
    steps: Option<&[PostStep]>,
    first: Encoding,
    second: Option<Encoding>,
    add_special_tokens: bool,
) -> Encoding {
    let mut encodings = vec![first];
    encodings.extend(second);
    let Some(steps) = steps else {
        return Encoding::merge(encodings);
    };
    for (i, e) in encodings.iter_mut().enumerate() {
        e.type_ids = vec![i as u32; e.len()];
    }
    for step in steps {
        encodings = step.process(encodings, add_special_tokens);
    }
    Encoding::merge(encodings)
}

/// Ids only: what [`post_process`] does to the ids.
pub(crate) fn post_process_ids(
    steps: Option<&[PostStep]>,
    first: Vec<u32>,
    second: Option<Vec<u32>>,
    add_special_tokens: bool,
) -> Vec<u32> {
    let mut parts = vec![first];
    parts.extend(second);
    if let Some(steps) = steps {
        for step in steps {
            if let PostStep::Template {
                single,
                pair,
                tokens,
            } = step
            {
                let template = if parts.len() == 2 { pair } else { single };
                let mut out = Vec::with_capacity(template.len());
                for piece in template {
                    match piece {
                        Piece::Sequence { id, .. } => {
                            if let Some(p) = parts.get(usize::from(*id == Seq::B)) {
                                out.push(p.clone());
                            }
                        }
                        Piece::Special { id, .. } => {
                            if add_special_tokens {
                                if let Some(t) = tokens.get(id) {
                                    out.push(t.ids.clone());
                                }
                            }
                        }
                    }
                }
                parts = out;
            }
        }
    }
    parts.concat()
}

/// `tokenizers`' ByteLevel `process_offsets`: move offsets past leading and
/// trailing spaces of each token (character offsets).
fn trim(e: &mut Encoding, add_prefix_space: bool) {
    let is_space = |c: char| c == 'Ġ' || c.is_whitespace();
    for (i, (token, offsets)) in e.tokens.iter().zip(e.offsets.iter_mut()).enumerate() {
        let mut leading = token.chars().take_while(|&c| is_space(c)).count();
        let trailing = token.chars().rev().take_while(|&c| is_space(c)).count();
        if leading == 0 && trailing == 0 {
            continue;
        }
        if leading > 0 {
            let is_first = i == 0 || offsets.0 == 0;
            if is_first && add_prefix_space && leading == 1 {
                leading = 0;
            }
            offsets.0 = (offsets.0 + leading).min(offsets.1);
        }
        if trailing > 0 && offsets.1 >= trailing {
            offsets.1 = (offsets.1 - trailing).max(offsets.0);
        }
    }
}

/// A decoding step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeStep {
    ByteLevel,
}

/// `tokenizers`' decoding of token strings: each step rewrites the list;
/// the result is joined (with spaces when there is no decoder).
pub(crate) fn decode(steps: Option<&[DecodeStep]>, tokens: Vec<&str>) -> String {
    let Some(steps) = steps else {
        return tokens.join(" ");
    };
    let mut parts: Vec<String> = tokens.into_iter().map(str::to_owned).collect();
    for step in steps {
        match step {
            DecodeStep::ByteLevel => {
                let mut bytes = Vec::new();
                for t in &parts {
                    match bytemap::decode_str(t) {
                        Some(b) => bytes.extend_from_slice(&b),
                        None => bytes.extend_from_slice(t.as_bytes()),
                    }
                }
                parts = vec![String::from_utf8_lossy(&bytes).into_owned()];
            }
        }
    }
    parts.concat()
}
