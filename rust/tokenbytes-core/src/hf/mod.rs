//! Hugging Face `tokenizer.json` byte-level BPE pipelines (issue 3).
//!
//! [`HfTokenizer::from_json`] reads a `tokenizer.json` and encodes and
//! decodes exactly as the `tokenizers` library (version 0.23.3) does, for
//! the components byte-level BPE models use:
//!
//! * normalizers: none, `NFC`, `Sequence` of those;
//! * pre-tokenizers: `ByteLevel` (exactly one), `Split` (string or regex
//!   pattern, every behavior, `invert`), `Digits`, `Sequence`;
//! * model: `BPE` (pair-rank merges, `ignore_merges`; bytes without a
//!   token are dropped, or become `unk_token`);
//! * added tokens with `special`, `single_word`, `lstrip`, `rstrip`,
//!   `normalized`, and splitting special tokens as text;
//! * post-processors: none, `ByteLevel` (`trim_offsets`),
//!   `TemplateProcessing`, `Sequence` of those;
//! * decoders: none, `ByteLevel`, `Sequence` of those;
//! * truncation and padding, with `tokenizers`' parameters.
//!
//! Anything else is refused with [`Error::NotImplemented`] when the file is
//! loaded; malformed files with [`Error::InvalidVocab`].
//!
//! Offsets are character offsets into the input string, as the Python API
//! of `tokenizers` reports them.

mod added;
mod bytemap;
mod config;
mod encoding;
mod model;
mod normalize;
mod post;
mod pretok;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

pub use encoding::{Direction, Encoding, Padding, Truncation, TruncationStrategy};

use crate::error::{Error, Result};
use crate::special::{Selection, SpecialPolicy, SpecialTokens};
use added::{AddedVocab, Found};
use model::BpeModel;
use post::{DecodeStep, PostStep};
use pretok::{Scratch, Split, Step};

/// Per-call options of [`HfTokenizer::encode`] and friends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Apply the post-processor's template (special tokens).
    pub add_special_tokens: bool,
    /// Treat special added tokens in the text as plain text.
    pub split_special_tokens: bool,
    pub truncation: Option<Truncation>,
    pub padding: Option<Padding>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            add_special_tokens: true,
            split_special_tokens: false,
            truncation: None,
            padding: None,
        }
    }
}

/// A loaded `tokenizer.json`. Immutable: safe to share between threads.
#[derive(Debug)]
pub struct HfTokenizer {
    model: BpeModel,
    nfc: bool,
    pre: Vec<Step>,
    post: Option<Vec<PostStep>>,
    decoder: Option<Vec<DecodeStep>>,
    added: AddedVocab,
    /// The special added tokens, for the tiktoken-style view.
    specials: SpecialTokens,
    /// The splitter, when pre-tokenization is one hand-written splitter and
    /// `ByteLevel` without prefix space (the common case, run directly).
    simple: Option<crate::pretokenize::PreTokenizer>,
    truncation: Option<Truncation>,
    padding: Option<Padding>,
}

/// A normalized segment of an input: its text, where it starts in the
/// input, and the original byte range of each of its bytes (relative to
/// the segment; `None` when the text is the segment itself).
struct Segment<'a> {
    text: Cow<'a, str>,
    base: usize,
    align: Option<Vec<(u32, u32)>>,
}

impl Segment<'_> {
    /// Original byte range (absolute) of byte `p` of the normalized text.
    fn orig(&self, p: usize) -> (usize, usize) {
        match &self.align {
            Some(a) => {
                let (s, e) = a[p];
                (self.base + s as usize, self.base + e as usize)
            }
            None => {
                let t = self.text.as_bytes();
                let mut s = p;
                while s > 0 && (t[s] & 0xC0) == 0x80 {
                    s -= 1;
                }
                let len = match t[s] {
                    b if b < 0x80 => 1,
                    b if b >= 0xF0 => 4,
                    b if b >= 0xE0 => 3,
                    _ => 2,
                };
                (self.base + s, self.base + s + len)
            }
        }
    }
}

/// Receives the units of one encoded sequence.
trait Sink {
    /// An added token found in the text (`value` as it appears there).
    fn added(&mut self, id: u32, value: &str, orig: (usize, usize), word: u32);
    /// The id list, for a sink that collects nothing else (words may then
    /// skip [`Self::word`] and go to it straight from the model).
    fn ids_only(&mut self) -> Option<&mut Vec<u32>> {
        None
    }
    /// A pre-tokenized word that goes through the model.
    fn word(
        &mut self,
        tok: &HfTokenizer,
        seg: &Segment<'_>,
        split: Split,
        bytes: &[u8],
        word: u32,
    ) -> Result<()>;
}

/// Collects ids only.
struct IdsSink<'o> {
    out: &'o mut Vec<u32>,
    /// Refuse bytes that have no token (tiktoken view).
    strict: bool,
}

impl Sink for IdsSink<'_> {
    fn added(&mut self, id: u32, _: &str, _: (usize, usize), _: u32) {
        self.out.push(id);
    }
    fn ids_only(&mut self) -> Option<&mut Vec<u32>> {
        // The strict check is on bytes without a token, which the model's
        // one-pass encoder declines anyway.
        Some(self.out)
    }
    fn word(
        &mut self,
        tok: &HfTokenizer,
        _: &Segment<'_>,
        _: Split,
        bytes: &[u8],
        _: u32,
    ) -> Result<()> {
        if self.strict {
            if let Some(&b) = bytes.iter().find(|&&b| !tok.model.has_byte(b)) {
                return Err(Error::InvalidArgument(format!(
                    "the text contains byte 0x{b:02X}, which has no token in this vocabulary \
                     (tokenizers would drop it silently)"
                )));
            }
        }
        tok.model.encode_word_ids(bytes, self.out);
        Ok(())
    }
}

/// Builds a full [`Encoding`] (byte offsets; converted to characters at the
/// end).
struct FullSink {
    enc: Encoding,
    type_id: u32,
    pieces: Vec<model::Piece>,
}

impl Sink for FullSink {
    fn added(&mut self, id: u32, value: &str, orig: (usize, usize), word: u32) {
        self.enc
            .push(id, value.to_owned(), orig, Some(word), self.type_id);
    }

    fn word(
        &mut self,
        tok: &HfTokenizer,
        seg: &Segment<'_>,
        split: Split,
        bytes: &[u8],
        word: u32,
    ) -> Result<()> {
        self.pieces.clear();
        tok.model.encode_word_pieces(bytes, &mut self.pieces);
        // Normalized byte of virtual byte `v` of the split.
        let norm = |v: usize| -> usize {
            if split.prefix {
                split.start + v.saturating_sub(1)
            } else {
                split.start + v
            }
        };
        let exact = !tok.model.has_missing(bytes);
        // Where each virtual byte starts in the byte-level string (only
        // needed when some byte was dropped: `tokenizers` then reports
        // offsets that ignore the dropped characters).
        let layout: Vec<usize> = if exact {
            Vec::new()
        } else {
            let mut acc = 0;
            let mut v = Vec::with_capacity(bytes.len() + 1);
            for &b in bytes {
                v.push(acc);
                acc += bytemap::mapped_len(b);
            }
            v.push(acc);
            v
        };
        let vbyte_of_mapped =
            |m: usize| -> usize { layout.partition_point(|&x| x <= m).saturating_sub(1) };
        let mut v = 0usize; // virtual byte (exact) or byte-level offset
        for p in &self.pieces {
            let (first, last) = if exact {
                let n = tok.model.token_bytes(p.id).map_or(1, <[u8]>::len).max(1);
                let r = (v, v + n - 1);
                v += n;
                r
            } else {
                let ms = v;
                let me = v + p.mapped_len as usize;
                v = me;
                (vbyte_of_mapped(ms), vbyte_of_mapped(me.saturating_sub(1)))
            };
            let first = first.min(bytes.len() - 1);
            let last = last.min(bytes.len() - 1);
            let orig = (seg.orig(norm(first)).0, seg.orig(norm(last)).1);
            let token = tok.model.id_to_token(p.id).unwrap_or_default().to_owned();
            self.enc.push(p.id, token, orig, Some(word), self.type_id);
        }
        Ok(())
    }
}

/// `tokenizers`' conversion of byte offsets into character offsets.
fn to_char_offsets(text: &str, offsets: &mut [(usize, usize)]) {
    if text.is_ascii() {
        return;
    }
    // Character index of each byte.
    let mut char_of = vec![0u32; text.len()];
    for (i, (b, c)) in text.char_indices().enumerate() {
        for slot in &mut char_of[b..b + c.len_utf8()] {
            *slot = i as u32;
        }
    }
    for o in offsets {
        let (s, e) = *o;
        if s >= text.len() {
            continue;
        }
        let start = char_of[s] as usize;
        let end = if e < text.len() {
            char_of[e] as usize
        } else {
            char_of[e - 1] as usize + 1
        };
        *o = (start, end);
    }
}

impl HfTokenizer {
    /// Load a `tokenizer.json`.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] for malformed JSON or inconsistent content
    /// (merges naming unknown tokens, ids used twice, ...), with the JSON
    /// path of the problem; [`Error::NotImplemented`] for components or
    /// options that are not supported.
    pub fn from_json(data: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(data).map_err(|e| {
            Error::InvalidVocab(format!("not a valid tokenizer.json: not UTF-8 ({e})"))
        })?;
        Self::from_json_str(text)
    }

    /// [`Self::from_json`] for text already known to be UTF-8.
    ///
    /// # Errors
    /// As [`Self::from_json`].
    pub fn from_json_str(data: &str) -> Result<Self> {
        let cfg = config::parse(data)?;
        let model = BpeModel::new(cfg.model)?;
        let added = AddedVocab::new(cfg.added, &model, cfg.nfc)?;
        let specials = SpecialTokens::new(
            added
                .list()
                .into_iter()
                .filter(|t| t.2)
                .map(|(id, c, _)| (c.to_owned(), id))
                .collect(),
        )?;
        let simple = match cfg.pre.as_slice() {
            [Step::Split {
                pattern: pretok::Pattern::Fast(p),
                behavior: pretok::Behavior::Isolated,
                invert: false,
            }, Step::ByteLevel {
                add_prefix_space: false,
                regex: None,
            }]
            | [Step::ByteLevel {
                add_prefix_space: false,
                regex: Some(pretok::Pattern::Fast(p)),
            }] => Some(p.clone()),
            _ => None,
        };
        Ok(Self {
            simple,
            model,
            nfc: cfg.nfc,
            pre: cfg.pre,
            post: cfg.post,
            decoder: cfg.decoder,
            added,
            specials,
            truncation: cfg.truncation,
            padding: cfg.padding,
        })
    }

    /// The truncation settings of the file (`None` if it has none).
    #[must_use]
    pub fn file_truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// The padding settings of the file (`None` if it has none).
    #[must_use]
    pub fn file_padding(&self) -> Option<&Padding> {
        self.padding.as_ref()
    }

    /// Whether the model emits a word that is a token as that token.
    #[must_use]
    pub fn ignore_merges(&self) -> bool {
        self.model.ignore_merges()
    }

    /// Whether words go through the fast tiktoken-style encoder (see the
    /// `model` module documentation), and if not, why. Waits for the
    /// load-time check, which runs on a background thread (words use the
    /// exact encoder until it is done).
    pub fn fast_path(&self) -> std::result::Result<(), String> {
        self.model.fast_status()
    }

    /// Use the fast encoder when it is available (`true`, the default) or
    /// always the exact pair-rank encoder (for tests and benchmarks).
    pub fn set_fast_path(&self, on: bool) {
        self.model.set_fast_enabled(on);
    }

    /// The merges as ranked `(left id, right id)` pairs.
    #[must_use]
    pub fn merges(&self) -> &[(u32, u32)] {
        self.model.merges()
    }

    /// Number of special tokens the post-processor adds.
    #[must_use]
    pub fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
        post::added_tokens(self.post.as_deref(), is_pair)
    }

    /// Run the pipeline on one input string, feeding `sink`.
    fn run(
        &self,
        text: &str,
        skip: &dyn Fn(u32) -> bool,
        sink: &mut dyn Sink,
        want_align: bool,
    ) -> Result<()> {
        let mut found: Vec<Found> = Vec::new();
        if self.added.has_raw() {
            self.added.find(text, false, skip, &mut found);
        } else if !text.is_empty() {
            found.push((None, 0, text.len()));
        }
        let mut word = 0u32;
        let mut found2: Vec<Found> = Vec::new();
        let mut scratch = Scratch::default();
        let mut buf: Vec<u8> = Vec::new();
        for &(id, a, b) in &found {
            if a >= b {
                continue;
            }
            if let Some(id) = id {
                sink.added(id, &text[a..b], (a, b), word);
                word += 1;
                continue;
            }
            let raw = &text[a..b];
            let seg = if self.nfc {
                let n = normalize::nfc(raw, want_align);
                Segment {
                    text: n.text,
                    base: a,
                    align: n.align,
                }
            } else {
                Segment {
                    text: Cow::Borrowed(raw),
                    base: a,
                    align: None,
                }
            };
            if self.added.has_normalized() {
                self.added.find(&seg.text, true, skip, &mut found2);
            } else {
                found2.clear();
                found2.push((None, 0, seg.text.len()));
            }
            for &(id2, c, d) in &found2 {
                if c >= d {
                    continue;
                }
                if let Some(id2) = id2 {
                    let orig = (seg.orig(c).0, seg.orig(d - 1).1);
                    sink.added(id2, &seg.text[c..d], orig, word);
                    word += 1;
                    continue;
                }
                let split = Split {
                    prefix: false,
                    start: c,
                    end: d,
                };
                let seg_ref = &seg;
                if let Some(p) = &self.simple {
                    // One hand-written splitter, then ByteLevel: the pieces
                    // (and any gap between them) are the words.
                    let s = &seg.text[c..d];
                    if let Some(out) = sink.ids_only() {
                        if let Some(r) = self.model.encode_text_ids(p, s, out) {
                            r?;
                            continue;
                        }
                    }
                    let mut result = Ok(());
                    p.split_covering(s, |a, b| {
                        if result.is_ok() {
                            let sp = Split {
                                prefix: false,
                                start: c + a,
                                end: c + b,
                            };
                            result = sink.word(self, seg_ref, sp, &s.as_bytes()[a..b], word);
                            word += 1;
                        }
                    })?;
                    result?;
                    continue;
                }
                pretok::run(
                    &self.pre,
                    &seg.text,
                    split,
                    &mut scratch,
                    &mut |s: Split| {
                        let bytes = s.bytes(&seg_ref.text, &mut buf);
                        let r = sink.word(self, seg_ref, s, bytes, word);
                        word += 1;
                        r
                    },
                )?;
            }
        }
        Ok(())
    }

    fn skip_fn(split_special_tokens: bool) -> impl Fn(u32) -> bool {
        move |_| split_special_tokens
    }

    /// Encode one sequence without post-processing.
    fn encode_sequence(&self, text: &str, type_id: u32, split_special: bool) -> Result<Encoding> {
        let mut sink = FullSink {
            enc: Encoding::default(),
            type_id,
            pieces: Vec::new(),
        };
        self.run(text, &Self::skip_fn(split_special), &mut sink, true)?;
        let mut enc = sink.enc;
        to_char_offsets(text, &mut enc.offsets);
        Ok(enc)
    }

    /// The ids of one sequence without post-processing.
    fn sequence_ids(&self, text: &str, split_special: bool) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 4);
        let mut sink = IdsSink {
            out: &mut out,
            strict: false,
        };
        self.run(text, &Self::skip_fn(split_special), &mut sink, false)?;
        Ok(out)
    }

    /// The truncation `post_process` applies: room is left for the special
    /// tokens of the template (`tokenizers` subtracts without a check, so
    /// a `max_length` below their number wraps around and truncates
    /// nothing).
    fn effective_truncation(&self, t: &Truncation, is_pair: bool, add_special: bool) -> Truncation {
        let n = self.num_special_tokens_to_add(is_pair);
        let mut t = t.clone();
        if add_special && n > 0 {
            t.max_length = t.max_length.wrapping_sub(n);
        }
        t
    }

    /// Encode `text` (and `pair`) into a full [`Encoding`]: added tokens,
    /// normalization, pre-tokenization, model, truncation,
    /// post-processing, padding (`tokenizers`' `encode`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for impossible truncation settings;
    /// [`Error::RegexRuntime`] if a general pre-tokenizer regex gives up.
    pub fn encode(&self, text: &str, pair: Option<&str>, opts: &EncodeOptions) -> Result<Encoding> {
        let mut first = self.encode_sequence(text, 0, opts.split_special_tokens)?;
        let mut second = match pair {
            Some(p) => Some(self.encode_sequence(p, 1, opts.split_special_tokens)?),
            None => None,
        };
        if let Some(t) = &opts.truncation {
            let t = self.effective_truncation(t, second.is_some(), opts.add_special_tokens);
            encoding::truncate_pair(&mut first, second.as_mut(), &t)?;
        }
        let mut enc =
            post::post_process(self.post.as_deref(), first, second, opts.add_special_tokens);
        if let Some(p) = &opts.padding {
            encoding::pad_all(std::slice::from_mut(&mut enc), p);
        }
        Ok(enc)
    }

    /// The ids [`Self::encode`] would give, without building the rest.
    ///
    /// # Errors
    /// As [`Self::encode`].
    pub fn encode_ids(
        &self,
        text: &str,
        pair: Option<&str>,
        opts: &EncodeOptions,
    ) -> Result<Vec<u32>> {
        let mut first = self.sequence_ids(text, opts.split_special_tokens)?;
        let mut second = match pair {
            Some(p) => Some(self.sequence_ids(p, opts.split_special_tokens)?),
            None => None,
        };
        if let Some(t) = &opts.truncation {
            let t = self.effective_truncation(t, second.is_some(), opts.add_special_tokens);
            let (n1, n2) =
                encoding::truncation_targets(first.len(), second.as_ref().map(Vec::len), &t)?;
            cut(&mut first, n1, t.direction);
            if let (Some(s), Some(n)) = (second.as_mut(), n2) {
                cut(s, n, t.direction);
            }
        }
        let mut ids =
            post::post_process_ids(self.post.as_deref(), first, second, opts.add_special_tokens);
        if let Some(p) = &opts.padding {
            let n = encoding::pad_length(std::iter::once(ids.len()), p);
            pad_ids(&mut ids, n, p);
        }
        Ok(ids)
    }

    /// Encode many inputs on `threads` workers (0: all cores); padding
    /// (if any) then pads the batch to its longest encoding or the fixed
    /// length.
    ///
    /// # Errors
    /// The first error of any input.
    pub fn encode_batch(
        &self,
        inputs: &[(&str, Option<&str>)],
        opts: &EncodeOptions,
        threads: usize,
    ) -> Result<Vec<Encoding>> {
        let threads = if threads == 0 {
            crate::parallel::default_threads()
        } else {
            threads
        };
        let mut out = crate::parallel::map(inputs, threads, |(t, p)| self.encode(t, *p, opts))?;
        if let Some(p) = &opts.padding {
            encoding::pad_all(&mut out, p);
        }
        Ok(out)
    }

    /// The ids of many inputs (as [`Self::encode_batch`]).
    ///
    /// # Errors
    /// The first error of any input.
    pub fn encode_ids_batch(
        &self,
        inputs: &[(&str, Option<&str>)],
        opts: &EncodeOptions,
        threads: usize,
    ) -> Result<Vec<Vec<u32>>> {
        let threads = if threads == 0 {
            crate::parallel::default_threads()
        } else {
            threads
        };
        let mut out = crate::parallel::map(inputs, threads, |(t, p)| self.encode_ids(t, *p, opts))?;
        if let Some(p) = &opts.padding {
            let n = encoding::pad_length(out.iter().map(Vec::len), p);
            for ids in &mut out {
                pad_ids(ids, n, p);
            }
        }
        Ok(out)
    }

    /// `tokenizers`' `decode`: ids that are neither model nor added tokens
    /// are skipped, special tokens too if `skip_special_tokens`; the token
    /// strings go through the decoder (joined with spaces without one).
    #[must_use]
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> String {
        if matches!(self.decoder.as_deref(), Some([DecodeStep::ByteLevel])) {
            // The usual decoder, without a string per token: a model token's
            // bytes are precomputed; an added token's content goes through
            // the byte map as `ByteLevel` does (as UTF-8 if it cannot).
            let mut bytes = Vec::with_capacity(ids.len() * 4);
            for &id in ids {
                if let Some(t) = self.added.text_of(id) {
                    if skip_special_tokens && self.added.is_special_text(t) {
                        continue;
                    }
                    match bytemap::decode_str(t) {
                        Some(b) => bytes.extend_from_slice(&b),
                        None => bytes.extend_from_slice(t.as_bytes()),
                    }
                } else if let Some(b) = self.model.token_bytes(id) {
                    bytes.extend_from_slice(b);
                }
            }
            return match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
        }
        let tokens: Vec<&str> = ids
            .iter()
            .filter_map(|&id| {
                self.added
                    .text_of(id)
                    .or_else(|| self.model.id_to_token(id))
            })
            .filter(|t| !skip_special_tokens || !self.added.is_special_text(t))
            .collect();
        post::decode(self.decoder.as_deref(), tokens)
    }

    /// Id of a token string (added tokens first, then the model's).
    #[must_use]
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.added
            .id_of(token)
            .or_else(|| self.model.token_to_id(token))
    }

    /// Token string of an id (added tokens first, then the model's).
    #[must_use]
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.added
            .text_of(id)
            .or_else(|| self.model.id_to_token(id))
    }

    /// `(token, id)` of the model vocabulary, and of the added tokens if
    /// `with_added_tokens` (an added token overrides a model token of the
    /// same string).
    #[must_use]
    pub fn vocab(&self, with_added_tokens: bool) -> Vec<(&str, u32)> {
        let mut map: rustc_hash::FxHashMap<&str, u32> = self.model.vocab_iter().collect();
        if with_added_tokens {
            for (c, id) in self.added.contents() {
                map.insert(c, id);
            }
        }
        map.into_iter().collect()
    }

    /// Size of the vocabulary (added tokens that are model tokens counted
    /// once).
    #[must_use]
    pub fn vocab_size(&self, with_added_tokens: bool) -> usize {
        let base = self.model.vocab_len();
        if !with_added_tokens {
            return base;
        }
        let overlap = self
            .added
            .contents()
            .filter(|(c, _)| self.model.token_to_id(c).is_some())
            .count();
        base + self.added.len() - overlap
    }

    /// `(id, content, special)` of the added tokens, by id.
    #[must_use]
    pub fn added_tokens(&self) -> Vec<(u32, &str, bool)> {
        self.added.list()
    }

    /// The bytes of a token: an added token's content as UTF-8, a model
    /// token's bytes (its byte-level string decoded).
    ///
    /// # Errors
    /// [`Error::UnknownTokenId`].
    pub fn token_bytes(&self, id: u32) -> Result<&[u8]> {
        if let Some(t) = self.added.get(id) {
            return Ok(t.content.as_bytes());
        }
        self.model.token_bytes(id).ok_or(Error::UnknownTokenId(id))
    }

    /// Concatenated bytes of tokens.
    ///
    /// # Errors
    /// [`Error::UnknownTokenId`] for the first id that is not a token.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            out.extend_from_slice(self.token_bytes(id)?);
        }
        Ok(out)
    }

    /// The special-token table of the tiktoken-style view (added tokens
    /// marked special).
    #[must_use]
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.specials
    }

    /// tiktoken-style encoding: no post-processor template, special added
    /// tokens are tokens only if `policy` allows them (text otherwise, and
    /// an error if it disallows them); non-special added tokens are always
    /// tokens (as in `tokenizers`).
    ///
    /// # Errors
    /// [`Error::DisallowedSpecial`]; [`Error::InvalidArgument`] if the text
    /// contains a byte that has no token (`tokenizers` would drop it).
    pub fn encode_tiktoken(&self, text: &str, policy: &SpecialPolicy) -> Result<Vec<u32>> {
        self.specials.check_disallowed(text, policy)?;
        let allowed = &policy.allowed;
        let skip = |id: u32| -> bool {
            match allowed {
                Selection::All => false,
                Selection::Set(s) => self.added.get(id).is_none_or(|t| !s.contains(&t.content)),
            }
        };
        let mut out = Vec::with_capacity(text.len() / 3 + 4);
        let mut sink = IdsSink {
            out: &mut out,
            strict: true,
        };
        self.run(text, &skip, &mut sink, false)?;
        Ok(out)
    }

    /// [`Self::encode_tiktoken`] with every special token as text.
    ///
    /// # Errors
    /// As [`Self::encode_tiktoken`].
    pub fn encode_ordinary(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_tiktoken(
            text,
            &SpecialPolicy {
                allowed: Selection::none(),
                disallowed: Selection::none(),
            },
        )
    }

    /// Whether `id` is an added token marked special.
    #[must_use]
    pub fn is_special_id(&self, id: u32) -> bool {
        self.added.is_special_id(id)
    }
}

/// Keep `n` ids (the first ones, or the last ones when truncating on the
/// left).
fn cut(ids: &mut Vec<u32>, n: usize, direction: Direction) {
    if ids.len() <= n {
        return;
    }
    match direction {
        Direction::Right => ids.truncate(n),
        Direction::Left => {
            ids.drain(..ids.len() - n);
        }
    }
}

fn pad_ids(ids: &mut Vec<u32>, n: usize, p: &Padding) {
    if ids.len() >= n {
        return;
    }
    let k = n - ids.len();
    match p.direction {
        Direction::Right => ids.extend(std::iter::repeat_n(p.pad_id, k)),
        Direction::Left => {
            ids.splice(0..0, std::iter::repeat_n(p.pad_id, k));
        }
    }
}
