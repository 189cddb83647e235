//! The byte-level BPE model of a `tokenizer.json`, with `tokenizers`' exact
//! merge semantics, and a fast path through [`CoreBpe`] when it provably
//! gives the same result.
//!
//! # Semantics (`tokenizers`' `BPE` model)
//!
//! A word reaches the model as the byte-level string of its bytes (see
//! [`super::bytemap`]). With `ignore_merges`, a word that is a token is
//! emitted whole. Otherwise every character that is a token becomes a
//! symbol (a character that is not is dropped, or becomes the unknown token
//! when the model has one), and then, repeatedly, the adjacent pair of
//! symbols listed in `merges` with the lowest merge index (leftmost on
//! ties) is replaced by the token of their concatenation, until no adjacent
//! pair is listed. This is *pair-rank* BPE: unlike tiktoken, the priority
//! belongs to the pair, and a concatenation that is a token but not a
//! listed pair is never formed.
//!
//! # Fast path
//!
//! Inside one word, every symbol that is ever formed is the pair-rank BPE
//! of its own bytes run alone: the merges inside its span happen in the
//! same order as they would alone (each was the lowest pair of the word,
//! so the lowest inside the span), and none crosses its borders. Call a
//! token *reachable* if the pair-rank BPE of its bytes alone gives the
//! token itself; its *canonical pair* is the pair of that run's last merge
//! and `m(t)` the index of that merge.
//!
//! Give every reachable token the rank `256 + m(t)` and run tiktoken-style
//! BPE ([`CoreBpe`]: merge the adjacent pair whose concatenation is a
//! token of lowest rank, leftmost first) over the vocabulary of the single
//! bytes and the reachable tokens only. Both algorithms then take the same
//! step from any common state, by induction on token length:
//!
//! * the pair-rank step forms a token `t'` from its canonical pair (by the
//!   span argument above), which tiktoken-style BPE sees too, at rank
//!   `256 + m(t')`;
//! * the tiktoken-style step forms a reachable token `t*`; by the same span
//!   argument its two parts are the state that tiktoken-style BPE of
//!   `t*`'s bytes alone reaches before its last merge, which for a token
//!   shorter than the word is (induction) the state pair-rank BPE reaches,
//!   i.e. the canonical pair; so pair-rank BPE sees it at index `m(t*)`;
//!   and when `t*` spans the whole word, the common state has two parts,
//!   which pair-rank BPE merges too (it ends as `t*`);
//! * each picks its minimum, so `m(t*) <= m(t')` and `m(t') <= m(t*)`: the
//!   same merge (a merge index names one pair), and leftmost first in both.
//!
//! Unreachable tokens are left out of the tiktoken vocabulary (pair-rank
//! BPE never forms them inside a word). The load-time work is therefore
//! one pair-rank BPE of each token's bytes, done in parallel on a
//! background thread; words use the exact encoder until it is done. Words
//! that contain a byte with no token never take the fast path, and with
//! `ignore_merges` a word that is a token is looked up first (as
//! `tokenizers` does).

use std::cell::RefCell;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rustc_hash::FxHashMap;

use super::bytemap;
use crate::error::{Error, Result};
use crate::pretokenize::{PreTokenizer, R50K_PATTERN};
use crate::special::SpecialTokens;
use crate::table::TokenTable;
use crate::vocab::{Vocab, MAX_TOKEN_ID};
use crate::CoreBpe;

const NONE: u32 = u32::MAX;

/// What the model needs from `tokenizer.json` (already checked for
/// unsupported options).
pub(crate) struct ModelSpec<'a> {
    pub vocab: Vec<(std::borrow::Cow<'a, str>, u32)>,
    pub merges: Vec<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    pub ignore_merges: bool,
    pub unk_token: Option<String>,
    pub fuse_unk: bool,
    pub byte_fallback: bool,
}

/// A model token as the encoder emits it, for offsets: its id and how many
/// bytes of the word's byte-level string it covers (`tokenizers` counts the
/// UTF-8 bytes of the byte-level characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub id: u32,
    pub mapped_len: u32,
}

/// The fast path: tiktoken-style BPE over reachable tokens ranked by
/// merge index, and the id of each rank.
struct Fast {
    bpe: CoreBpe,
    /// Empty when `bpe`'s ranks are the ids.
    rank_to_id: Vec<u32>,
    /// Multi-byte tokens that pair-rank BPE never forms (so `bpe` does not
    /// know them), by their bytes, behind a one-hash Bloom filter of
    /// [`UNREACHABLE_FILTER_BITS`] bits keyed by [`unreachable_key`] (a
    /// few hundred tokens in Llama-3; most words never reach the map).
    unreachable: FxHashMap<Box<[u8]>, u32>,
    unreachable_filter: Box<[u64]>,
    /// Whether a word that is a token is emitted whole exactly when `bpe`
    /// has it: without `ignore_merges` (BPE forms a token from its own
    /// bytes only if it is reachable), or when every token is reachable.
    whole_is_bpe: bool,
}

/// log2 of the number of bits of [`Fast`]'s filter of unreachable tokens.
const UNREACHABLE_FILTER_BITS: u32 = 16;

/// Filter position of a word (at least two bytes): from its length and
/// its first and last two bytes, without reading the rest.
#[inline(always)]
fn unreachable_key(word: &[u8]) -> usize {
    let n = word.len();
    let x = (n as u64) << 32
        | u64::from(word[0]) << 24
        | u64::from(word[1]) << 16
        | u64::from(word[n - 2]) << 8
        | u64::from(word[n - 1]);
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - UNREACHABLE_FILTER_BITS)) as usize
}

impl Fast {
    /// The id of `word` (at least two bytes) if it is a token that `bpe`
    /// does not know.
    #[inline]
    fn unreachable_id(&self, word: &[u8]) -> Option<u32> {
        let k = unreachable_key(word);
        if self
            .unreachable_filter
            .get(k / 64)
            .is_none_or(|w| w >> (k % 64) & 1 == 0)
        {
            return None;
        }
        self.unreachable.get(word).copied()
    }

    /// Turn `bpe`'s ranks into the model's ids, in place.
    #[inline]
    fn to_ids(&self, ranks: &mut [u32]) {
        if self.rank_to_id.is_empty() {
            return; // the ranks are the ids
        }
        for r in ranks {
            *r = self.rank_to_id[*r as usize];
        }
    }
}

/// Byte strings by id (an empty range: no such id) and a lookup table of
/// some of them.
struct ById {
    arena: Vec<u8>,
    offsets: Vec<u32>,
    table: TokenTable,
}

impl ById {
    #[inline]
    fn get(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        if i + 1 >= self.offsets.len() {
            return None;
        }
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (a < b).then(|| &self.arena[a..b])
    }

    #[inline]
    fn find(&self, key: &[u8]) -> Option<u32> {
        if key.is_empty() {
            return None;
        }
        self.table.get(key, &self.arena, &self.offsets)
    }
}

/// Merge pairs by left id (compressed rows): for left id `a`, the entries
/// `starts[a]..starts[a + 1]` hold `(right id, merge index, new id)` sorted
/// by right id.
struct PairTable {
    starts: Vec<u32>,
    entries: Vec<(u32, u32, u32)>,
}

impl PairTable {
    /// Index `merges` (`(left, right, new id)` by merge index); a pair
    /// listed twice keeps its last index, as `tokenizers`' map does.
    fn build(slots: usize, merges: &[(u32, u32, u32)]) -> Self {
        let mut counts = vec![0u32; slots + 1];
        for &(a, _, _) in merges {
            counts[a as usize + 1] += 1;
        }
        for i in 0..slots {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut entries = vec![(0u32, 0u32, 0u32); merges.len()];
        for (i, &(a, b, n)) in merges.iter().enumerate() {
            let k = &mut fill[a as usize];
            entries[*k as usize] = (b, i as u32, n);
            *k += 1;
        }
        let mut starts = Vec::with_capacity(slots + 1);
        let mut out = Vec::with_capacity(entries.len());
        starts.push(0u32);
        for a in 0..slots {
            let row = &mut entries[counts[a] as usize..counts[a + 1] as usize];
            row.sort_unstable_by_key(|e| (e.0, e.1));
            for (k, e) in row.iter().enumerate() {
                if row.get(k + 1).is_some_and(|next| next.0 == e.0) {
                    continue;
                }
                out.push(*e);
            }
            starts.push(out.len() as u32);
        }
        Self {
            starts,
            entries: out,
        }
    }

    /// `(merge index, new id)` of the pair `(a, b)`.
    #[inline]
    fn get(&self, a: u32, b: u32) -> Option<(u32, u32)> {
        let a = a as usize;
        if a + 1 >= self.starts.len() {
            return None;
        }
        let row = &self.entries[self.starts[a] as usize..self.starts[a + 1] as usize];
        if row.len() <= 8 {
            row.iter().find(|e| e.0 == b).map(|e| (e.1, e.2))
        } else {
            row.binary_search_by_key(&b, |e| e.0)
                .ok()
                .map(|k| (row[k].1, row[k].2))
        }
    }
}

/// Everything the encoder needs, shared with the thread that builds the
/// fast path.
struct Core {
    n_tokens: usize,
    /// Token strings by id, all of them in the table.
    strs: ById,
    /// Token bytes by id (byte-level strings decoded, other strings as
    /// UTF-8); only byte-level tokens are in the table.
    bytes: ById,
    /// Id of each single byte (`NONE` if the vocabulary has no such token).
    byte_id: [u32; 256],
    any_missing: bool,
    /// `(left, right)` ids → `(merge index, new id)`.
    pairs: PairTable,
    /// The merges as id pairs, by index.
    merges: Vec<(u32, u32)>,
    ignore_merges: bool,
    unk: Option<u32>,
    fuse_unk: bool,
}

static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Per-thread cache of the exact encoder: word bytes → ids.
    static WORD_CACHE: RefCell<WordCache> = RefCell::new(WordCache::default());
}

#[derive(Default)]
struct WordCache {
    owner: u64,
    map: FxHashMap<Box<[u8]>, Box<[u32]>>,
}

const CACHE_MAX_WORD: usize = 64;
const CACHE_MAX_ENTRIES: usize = 1 << 16;

/// The byte-level BPE model.
pub(crate) struct BpeModel {
    core: Arc<Core>,
    /// The fast path, once its check is done (`Err`: why it is off).
    fast: Arc<OnceLock<std::result::Result<Fast, String>>>,
    /// The thread running the check, until someone waits for it. It is
    /// started by the first encode (or [`Self::fast_status`]), not at load,
    /// so loading does not share the cores with it.
    builder: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Whether the builder was started.
    builder_started: AtomicBool,
    /// The process that loaded the model: only it starts or waits for the
    /// builder (a child after `fork()` has no such thread, and a check the
    /// parent was finishing at the fork could never finish in the child).
    builder_pid: u32,
    /// Tests can turn the fast path off.
    fast_enabled: AtomicBool,
    /// Identifies this model's entries in the per-thread caches.
    uid: u64,
}

impl std::fmt::Debug for BpeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpeModel")
            .field("vocab", &self.core.n_tokens)
            .field("merges", &self.core.merges.len())
            .field("ignore_merges", &self.core.ignore_merges)
            .finish_non_exhaustive()
    }
}

/// A symbol of the exact encoder.
#[derive(Clone, Copy)]
struct Sym {
    id: u32,
    mapped_len: u32,
    prev: u32,
    next: u32,
    alive: bool,
}

/// Lay out `items` (id, bytes) by id and index them (only those for which
/// `index` is true).
fn by_id<'a>(
    slots: usize,
    items: impl Iterator<Item = (u32, &'a [u8], bool)> + Clone,
    what: &str,
) -> Result<ById> {
    let mut lens = vec![0u32; slots];
    let mut count = 0usize;
    for (id, b, _) in items.clone() {
        lens[id as usize] = b.len() as u32;
        count += 1;
    }
    let mut offsets = Vec::with_capacity(slots + 1);
    let mut acc = 0u32;
    offsets.push(0);
    for l in &lens {
        acc = acc
            .checked_add(*l)
            .ok_or_else(|| Error::InvalidVocab("vocabulary larger than 4 GiB".into()))?;
        offsets.push(acc);
    }
    let mut arena = vec![0u8; acc as usize];
    for (id, b, _) in items.clone() {
        let a = offsets[id as usize] as usize;
        arena[a..a + b.len()].copy_from_slice(b);
    }
    let mut table = TokenTable::with_capacity(count);
    {
        let tail = |r: u32| -> &[u8] {
            let (a, b) = (
                offsets[r as usize] as usize,
                offsets[r as usize + 1] as usize,
            );
            &arena[(a + 8).min(b)..b]
        };
        for (id, b, index) in items {
            if index {
                if let Some(prev) = table.insert(b, id, tail) {
                    return Err(Error::InvalidVocab(format!(
                        "model.vocab: {what} {:?} appears twice (ids {prev} and {id})",
                        String::from_utf8_lossy(b)
                    )));
                }
            }
        }
    }
    Ok(ById {
        arena,
        offsets,
        table,
    })
}

impl BpeModel {
    /// Build the model; the fast path is checked on a background thread
    /// (words use the exact encoder until it is ready).
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] for an id used twice, an id that is too
    /// large, an empty or repeated token, or a merge naming a token (or
    /// producing a concatenation) that is not in the vocabulary, or an
    /// unknown token that is not in the vocabulary;
    /// [`Error::NotImplemented`] for byte fallback with missing bytes.
    pub(crate) fn new(spec: ModelSpec<'_>) -> Result<Self> {
        let n = spec.vocab.len();
        let mut max_id = 0u32;
        for (tok, id) in &spec.vocab {
            if *id >= MAX_TOKEN_ID {
                return Err(Error::InvalidVocab(format!(
                    "model.vocab: token {tok:?} has id {id}, which is too large (limit {MAX_TOKEN_ID})"
                )));
            }
            if tok.is_empty() {
                return Err(Error::InvalidVocab(format!(
                    "model.vocab: id {id} is the empty string"
                )));
            }
            max_id = max_id.max(*id);
        }
        if n > 0 && max_id as usize >= 16 * (n + 4096) {
            return Err(Error::InvalidVocab(format!(
                "model.vocab: largest id {max_id} is implausible for {n} tokens"
            )));
        }
        let slots = if n == 0 { 0 } else { max_id as usize + 1 };
        // Ids used twice.
        {
            let mut seen = vec![NONE; slots];
            for (i, (tok, id)) in spec.vocab.iter().enumerate() {
                let s = &mut seen[*id as usize];
                if *s != NONE {
                    return Err(Error::InvalidVocab(format!(
                        "model.vocab: id {id} is given to two tokens: {:?} and {tok:?}",
                        spec.vocab[*s as usize].0
                    )));
                }
                *s = i as u32;
            }
        }
        let strs = by_id(
            slots,
            spec.vocab.iter().map(|(t, id)| (*id, t.as_bytes(), true)),
            "token",
        )?;
        // The byte table and the merges are independent: built side by side.
        let build_bytes = || -> Result<ById> {
            // Bytes of every token, decoded when it is a byte-level string (all
            // decoded into one buffer).
            let mut dec: Vec<u8> = Vec::with_capacity(strs.arena.len());
            let mut spans: Vec<(u32, u32, bool)> = Vec::with_capacity(n);
            for (t, _) in &spec.vocab {
                let start = dec.len();
                let ok = t.chars().all(|c| match bytemap::char_byte(c) {
                    Some(b) => {
                        dec.push(b);
                        true
                    }
                    None => false,
                });
                if !ok {
                    dec.truncate(start);
                }
                spans.push((start as u32, (dec.len() - start) as u32, ok));
            }
            by_id(
                slots,
                spans
                    .iter()
                    .zip(&spec.vocab)
                    .map(|(&(a, len, ok), (t, id))| {
                        if ok {
                            (*id, &dec[a as usize..(a + len) as usize], true)
                        } else {
                            (*id, t.as_bytes(), false)
                        }
                    }),
                "byte string",
            )
        };
        let build_merges = || -> Result<(PairTable, Vec<(u32, u32)>)> {
            // Merges: ids of both sides and of the concatenation (resolved in
            // parallel; the first bad merge is reported).
            let resolve = |(a, b): &(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)| {
                let ia = strs.find(a.as_bytes())?;
                let ib = strs.find(b.as_bytes())?;
                let mut buf = [0u8; 256];
                let n = a.len() + b.len();
                let new_id = if n <= buf.len() {
                    buf[..a.len()].copy_from_slice(a.as_bytes());
                    buf[a.len()..n].copy_from_slice(b.as_bytes());
                    strs.find(&buf[..n])?
                } else {
                    strs.find(&[a.as_bytes(), b.as_bytes()].concat())?
                };
                Some((ia, ib, new_id))
            };
            let resolved: Vec<Option<(u32, u32, u32)>> = if spec.merges.len() > 20_000 {
                use rayon::prelude::*;
                match crate::parallel::pool(crate::parallel::default_threads()) {
                    Ok(pool) => pool.install(|| spec.merges.par_iter().map(resolve).collect()),
                    Err(_) => spec.merges.iter().map(resolve).collect(),
                }
            } else {
                spec.merges.iter().map(resolve).collect()
            };
            let mut merges = Vec::with_capacity(resolved.len());
            for (i, r) in resolved.iter().enumerate() {
                match r {
                    Some(t) => merges.push(*t),
                    None => {
                        let (a, b) = &spec.merges[i];
                        let missing = [a.to_string(), b.to_string(), format!("{a}{b}")]
                            .into_iter()
                            .find(|t| strs.find(t.as_bytes()).is_none())
                            .unwrap_or_default();
                        return Err(Error::InvalidVocab(format!(
                        "model.merges[{i}] ({a:?}, {b:?}): token {missing:?} is not in the vocabulary"
                    )));
                    }
                }
            }
            drop(resolved);
            let pairs = PairTable::build(slots, &merges);
            let merges: Vec<(u32, u32)> = merges.into_iter().map(|(a, b, _)| (a, b)).collect();
            Ok((pairs, merges))
        };
        let (bytes, merged) = match crate::parallel::pool(crate::parallel::default_threads()) {
            Ok(pool) if spec.merges.len() > 20_000 => pool.join(build_bytes, build_merges),
            _ => (build_bytes(), build_merges()),
        };
        let bytes = bytes?;
        let (pairs, merges) = merged?;
        let mut byte_id = [NONE; 256];
        for b in 0..=255u8 {
            if let Some(id) = bytes.find(&[b]) {
                byte_id[b as usize] = id;
            }
        }
        let any_missing = byte_id.contains(&NONE);
        // The unknown token and byte fallback only matter for bytes that
        // have no token.
        let unk = match &spec.unk_token {
            Some(u) if any_missing => Some(strs.find(u.as_bytes()).ok_or_else(|| {
                Error::InvalidVocab(format!("model.unk_token {u:?} is not in the vocabulary"))
            })?),
            _ => None,
        };
        if spec.byte_fallback && any_missing {
            return Err(Error::NotImplemented(
                "BPE byte_fallback with bytes that have no token is not supported".into(),
            ));
        }
        let core = Arc::new(Core {
            n_tokens: n,
            strs,
            bytes,
            byte_id,
            any_missing,
            pairs,
            merges,
            ignore_merges: spec.ignore_merges,
            unk,
            fuse_unk: spec.fuse_unk,
        });
        Ok(Self {
            core,
            fast: Arc::new(OnceLock::new()),
            builder: Mutex::new(None),
            builder_started: AtomicBool::new(false),
            builder_pid: std::process::id(),
            fast_enabled: AtomicBool::new(true),
            uid: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Number of entries of the vocabulary.
    pub(crate) fn vocab_len(&self) -> usize {
        self.core.n_tokens
    }

    pub(crate) fn token_to_id(&self, token: &str) -> Option<u32> {
        self.core.strs.find(token.as_bytes())
    }

    pub(crate) fn id_to_token(&self, id: u32) -> Option<&str> {
        self.core
            .strs
            .get(id)
            .map(|b| std::str::from_utf8(b).unwrap_or_default())
    }

    /// Bytes of a model token (byte-level strings decoded, others as UTF-8).
    pub(crate) fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.core.bytes.get(id)
    }

    /// Id of the token whose bytes are `bytes`, if any.
    pub(crate) fn id_of_bytes(&self, bytes: &[u8]) -> Option<u32> {
        self.core.bytes.find(bytes)
    }

    pub(crate) fn vocab_iter(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        (0..self.core.strs.offsets.len().saturating_sub(1) as u32)
            .filter_map(|id| self.id_to_token(id).map(|t| (t, id)))
    }

    pub(crate) fn merges(&self) -> &[(u32, u32)] {
        &self.core.merges
    }

    pub(crate) fn ignore_merges(&self) -> bool {
        self.core.ignore_merges
    }

    /// Wait for the fast-path check; `Ok` if the fast path is in use.
    pub(crate) fn fast_status(&self) -> std::result::Result<(), String> {
        self.start_builder();
        let handle = if std::process::id() == self.builder_pid {
            self.builder
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
        } else {
            None
        };
        if let Some(h) = handle {
            if h.join().is_err() {
                let _ = self.fast.set(Err("the fast-path check failed".into()));
            }
        }
        if !self.fast_enabled.load(Ordering::Relaxed) {
            return Err("turned off".into());
        }
        match self.fast.get() {
            Some(Ok(_)) => Ok(()),
            Some(Err(why)) => Err(why.clone()),
            None => Err("the fast-path check did not finish".into()),
        }
    }

    /// Turn the fast path on or off (for tests and benchmarks).
    pub(crate) fn set_fast_enabled(&self, on: bool) {
        self.fast_enabled.store(on, Ordering::Relaxed);
    }

    /// Whether byte `b` has a token.
    pub(crate) fn has_byte(&self, b: u8) -> bool {
        self.core.byte_id[b as usize] != NONE
    }

    /// Whether some byte of `word` has no token.
    #[inline]
    pub(crate) fn has_missing(&self, word: &[u8]) -> bool {
        self.core.any_missing && word.iter().any(|&b| self.core.byte_id[b as usize] == NONE)
    }

    #[inline]
    fn fast(&self) -> Option<&Fast> {
        match self.fast.get() {
            Some(Ok(f)) if self.fast_enabled.load(Ordering::Relaxed) => Some(f),
            Some(_) => None,
            None => {
                self.start_builder();
                None
            }
        }
    }

    /// Start building the fast path on its own thread (once, and only in
    /// the process that loaded the model); without a thread, build it here.
    #[cold]
    fn start_builder(&self) {
        if self.builder_started.load(Ordering::Acquire) || std::process::id() != self.builder_pid {
            return;
        }
        let mut guard = self
            .builder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.builder_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let (c, f) = (Arc::clone(&self.core), Arc::clone(&self.fast));
        let spawned = std::thread::Builder::new()
            .name("tokenbytes-hf-check".into())
            .spawn(move || {
                let _ = f.set(c.build_fast());
            });
        match spawned {
            Ok(h) => *guard = Some(h),
            Err(_) => {
                let _ = self.fast.set(self.core.build_fast());
            }
        }
    }

    /// Token ids of `text` split into words by `pre` (every piece and any
    /// gap between pieces is a word), appended to `out`, in one pass of the
    /// fast path; `None` (nothing appended) where that pass would not be
    /// exact: the fast path is not (yet) available, a word that is a token
    /// is not always emitted whole by it, or some byte has no token.
    pub(crate) fn encode_text_ids(
        &self,
        pre: &PreTokenizer,
        text: &str,
        out: &mut Vec<u32>,
    ) -> Option<Result<()>> {
        let fast = self.fast().filter(|_| !self.core.any_missing)?;
        if fast.whole_is_bpe {
            let start = out.len();
            let result = fast.bpe.encode_split_into(pre, text, out);
            fast.to_ids(&mut out[start..]);
            return Some(result);
        }
        let bytes = text.as_bytes();
        Some(pre.split_covering(text, |a, b| self.fast_word(fast, &bytes[a..b], out)))
    }

    /// Ids of one word whose bytes all have tokens, by the fast path. With
    /// `whole_is_bpe`, one lookup in `bpe`'s own table decides whether the
    /// word is a token, as in tiktoken-style encoding. Otherwise
    /// (`ignore_merges`, and some tokens are unreachable) a word that is a
    /// token is emitted whole: an unreachable one is looked up in the
    /// fast path's own small table first, a reachable one is found by
    /// `bpe`'s whole-word lookup, as with `whole_is_bpe`.
    #[inline]
    fn fast_word(&self, fast: &Fast, word: &[u8], out: &mut Vec<u32>) {
        if !fast.whole_is_bpe && word.len() > 1 {
            if let Some(id) = fast.unreachable_id(word) {
                out.push(id);
                return;
            }
        }
        let start = out.len();
        fast.bpe.encode_piece_into(word, out);
        fast.to_ids(&mut out[start..]);
    }

    /// Token ids of one word (its bytes), appended to `out`.
    pub(crate) fn encode_word_ids(&self, word: &[u8], out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if let Some(fast) = self.fast() {
            if !self.has_missing(word) {
                self.fast_word(fast, word, out);
                return;
            }
        }
        if self.core.ignore_merges && word.len() > 1 {
            if let Some(id) = self.id_of_bytes(word) {
                out.push(id);
                return;
            }
        }
        if word.len() <= CACHE_MAX_WORD {
            let hit = WORD_CACHE.with(|cell| {
                let Ok(mut cache) = cell.try_borrow_mut() else {
                    return false;
                };
                if cache.owner != self.uid {
                    cache.owner = self.uid;
                    cache.map.clear();
                }
                match cache.map.get(word) {
                    Some(ids) => {
                        out.extend_from_slice(ids);
                        true
                    }
                    None => false,
                }
            });
            if hit {
                return;
            }
            let start = out.len();
            self.core.merge_exact(word, |p| out.push(p.id));
            WORD_CACHE.with(|cell| {
                if let Ok(mut cache) = cell.try_borrow_mut() {
                    if cache.map.len() >= CACHE_MAX_ENTRIES {
                        cache.map.clear();
                    }
                    cache
                        .map
                        .insert(word.to_vec().into_boxed_slice(), out[start..].into());
                }
            });
            return;
        }
        self.core.merge_exact(word, |p| out.push(p.id));
    }

    /// Tokens of one word with the byte-level lengths `tokenizers` reports
    /// for them (differs from the token's own length only around bytes that
    /// have no token).
    pub(crate) fn encode_word_pieces(&self, word: &[u8], out: &mut Vec<Piece>) {
        if word.is_empty() {
            return;
        }
        if !self.has_missing(word) {
            let mut ids = Vec::with_capacity(word.len());
            self.encode_word_ids(word, &mut ids);
            out.extend(ids.into_iter().map(|id| Piece {
                id,
                mapped_len: self.token_bytes(id).map_or(0, |b| {
                    b.iter().map(|&x| bytemap::mapped_len(x) as u32).sum()
                }),
            }));
            return;
        }
        if self.core.ignore_merges && word.len() > 1 {
            if let Some(id) = self.id_of_bytes(word) {
                let mapped_len = word.iter().map(|&x| bytemap::mapped_len(x) as u32).sum();
                out.push(Piece { id, mapped_len });
                return;
            }
        }
        self.core.merge_exact(word, |p| out.push(p));
    }
}

impl Core {
    /// The exact pair-rank encoder (no whole-word shortcut, no cache).
    fn merge_exact(&self, word: &[u8], emit: impl FnMut(Piece)) {
        let mut syms = self.initial_symbols(word);
        self.merge_symbols(&mut syms, None);
        syms.into_iter()
            .filter(|s| s.alive)
            .map(|s| Piece {
                id: s.id,
                mapped_len: s.mapped_len,
            })
            .for_each(emit);
    }

    /// The symbols a word starts as: one per byte that has a token; the
    /// others are dropped, or become the unknown token (consecutive ones
    /// fused when `fuse_unk`).
    fn initial_symbols(&self, word: &[u8]) -> Vec<Sym> {
        let mut syms: Vec<Sym> = Vec::with_capacity(word.len());
        let mut pending_unk: Option<(u32, u32)> = None;
        let push = |syms: &mut Vec<Sym>, id: u32, mapped_len: u32| {
            let i = syms.len() as u32;
            syms.push(Sym {
                id,
                mapped_len,
                prev: i.wrapping_sub(1),
                next: i + 1,
                alive: true,
            });
        };
        for &b in word {
            let len = bytemap::mapped_len(b) as u32;
            let id = self.byte_id[b as usize];
            if id != NONE {
                if let Some((u, l)) = pending_unk.take() {
                    push(&mut syms, u, l);
                }
                push(&mut syms, id, len);
            } else if let Some(unk) = self.unk {
                pending_unk = match pending_unk {
                    Some((u, l)) if self.fuse_unk => Some((u, l + len)),
                    Some((u, l)) => {
                        push(&mut syms, u, l);
                        Some((unk, len))
                    }
                    None => Some((unk, len)),
                };
            }
        }
        if let Some((u, l)) = pending_unk {
            push(&mut syms, u, l);
        }
        syms
    }

    /// Merge `syms` in place (dead symbols stay with `alive == false`).
    /// `last` receives the merge index of every merge done and the position
    /// of its right symbol, so it ends with those of the last merge.
    fn merge_symbols(&self, syms: &mut [Sym], mut last: Option<&mut (u32, u32)>) {
        let n = syms.len();
        if n < 2 {
            return;
        }
        let pair = |syms: &[Sym], i: usize| -> Option<(u32, u32)> {
            let j = syms[i].next as usize;
            if j >= n {
                return None;
            }
            self.pairs.get(syms[i].id, syms[j].id)
        };
        if n <= 24 {
            // Scan over cached pair ranks: lowest merge index, leftmost
            // first.
            let mut ranks = [(NONE, NONE); 24];
            for (i, r) in ranks.iter_mut().enumerate().take(n - 1) {
                *r = pair(syms, i).unwrap_or((NONE, NONE));
            }
            loop {
                let mut best = NONE;
                let mut at = 0usize;
                let mut i = 0usize;
                while i < n {
                    if ranks[i].0 < best {
                        best = ranks[i].0;
                        at = i;
                    }
                    i = syms[i].next as usize;
                }
                if best == NONE {
                    break;
                }
                let j = syms[at].next as usize;
                if let Some(l) = last.as_deref_mut() {
                    *l = (best, j as u32);
                }
                let new_id = ranks[at].1;
                self.join(syms, at, j, new_id);
                ranks[j] = (NONE, NONE);
                ranks[at] = pair(syms, at).unwrap_or((NONE, NONE));
                let p = syms[at].prev as usize;
                if p < n {
                    ranks[p] = pair(syms, p).unwrap_or((NONE, NONE));
                }
            }
            return;
        }
        // Heap of (merge index, left position); an entry is stale when its
        // left symbol is gone or its pair no longer makes the same token.
        let mut heap: BinaryHeap<std::cmp::Reverse<(u32, u32, u32)>> = BinaryHeap::new();
        for i in 0..n - 1 {
            if let Some((rank, new_id)) = pair(syms, i) {
                heap.push(std::cmp::Reverse((rank, i as u32, new_id)));
            }
        }
        while let Some(std::cmp::Reverse((rank, i, new_id))) = heap.pop() {
            let i = i as usize;
            if !syms[i].alive {
                continue;
            }
            let j = syms[i].next as usize;
            if j >= n {
                continue;
            }
            match self.pairs.get(syms[i].id, syms[j].id) {
                Some((_, nid)) if nid == new_id => {}
                _ => continue,
            }
            if let Some(l) = last.as_deref_mut() {
                *l = (rank, j as u32);
            }
            self.join(syms, i, j, new_id);
            let p = syms[i].prev as usize;
            if p < n {
                if let Some((r, nid)) = pair(syms, p) {
                    heap.push(std::cmp::Reverse((r, p as u32, nid)));
                }
            }
            if let Some((r, nid)) = pair(syms, i) {
                heap.push(std::cmp::Reverse((r, i as u32, nid)));
            }
        }
    }

    /// Replace symbol `i` and the following symbol `j` by `new_id`.
    #[inline]
    fn join(&self, syms: &mut [Sym], i: usize, j: usize, new_id: u32) {
        let right = syms[j];
        syms[i].id = new_id;
        syms[i].mapped_len += right.mapped_len;
        syms[i].next = right.next;
        syms[j].alive = false;
        if (right.next as usize) < syms.len() {
            syms[right.next as usize].prev = i as u32;
        }
    }

    /// Pair-rank BPE of `bytes` alone: the index of its last merge if it
    /// ends as one token. `first[b1 << 8 | b2]` is the `(merge index, new
    /// id)` of the byte pair, precomputed.
    fn isolated_final_merge(&self, bytes: &[u8], first: &[(u32, u32)]) -> Option<u32> {
        const CAP: usize = 64;
        let n = bytes.len();
        if n > CAP {
            let mut syms = self.initial_symbols(bytes);
            if syms.len() != n {
                return None;
            }
            let mut last = (NONE, 0u32);
            self.merge_symbols(&mut syms, Some(&mut last));
            let alive = syms.iter().filter(|s| s.alive).count();
            return (alive == 1 && last.0 != NONE).then_some(last.0);
        }
        // Scan over stack arrays: part i is alive while `next` links to it;
        // `rank[i]`/`new[i]` describe the pair of part i and the next one.
        let mut ids = [0u32; CAP];
        let mut next = [0u8; CAP];
        let mut prev = [0u8; CAP];
        let mut rank = [NONE; CAP];
        let mut new = [NONE; CAP];
        for (i, &b) in bytes.iter().enumerate() {
            let id = self.byte_id[b as usize];
            if id == NONE {
                return None;
            }
            ids[i] = id;
            next[i] = (i + 1) as u8;
            prev[i] = i.wrapping_sub(1) as u8;
        }
        for i in 0..n - 1 {
            let (r, t) = first[usize::from(bytes[i]) << 8 | usize::from(bytes[i + 1])];
            rank[i] = r;
            new[i] = t;
        }
        let mut parts = n;
        let mut last = NONE;
        loop {
            let mut best = NONE;
            let mut at = 0usize;
            let mut i = 0usize;
            while i < n {
                if rank[i] < best {
                    best = rank[i];
                    at = i;
                }
                i = usize::from(next[i]);
            }
            if best == NONE {
                break;
            }
            last = best;
            let j = usize::from(next[at]);
            ids[at] = new[at];
            let k = usize::from(next[j]);
            next[at] = k as u8;
            parts -= 1;
            let lookup = |a: u32, b: u32| self.pairs.get(a, b).unwrap_or((NONE, NONE));
            if k < n {
                prev[k] = at as u8;
                (rank[at], new[at]) = lookup(ids[at], ids[k]);
            } else {
                rank[at] = NONE;
            }
            if at > 0 {
                let p = usize::from(prev[at]);
                (rank[p], new[p]) = lookup(ids[p], ids[at]);
            }
        }
        (parts == 1 && last != NONE).then_some(last)
    }

    /// Build the fast path (see the module documentation): find the
    /// reachable tokens and their last merge, and rank them by it.
    fn build_fast(&self) -> std::result::Result<Fast, String> {
        use rayon::prelude::*;
        let slots = self.bytes.offsets.len().saturating_sub(1) as u32;
        let mut first = vec![(NONE, NONE); 1 << 16];
        for (ab, slot) in first.iter_mut().enumerate() {
            let (x, y) = (self.byte_id[ab >> 8], self.byte_id[ab & 0xFF]);
            if x != NONE && y != NONE {
                *slot = self.pairs.get(x, y).unwrap_or((NONE, NONE));
            }
        }
        // Multi-byte byte-level tokens.
        let candidates: Vec<u32> = (0..slots)
            .filter(|&id| {
                self.bytes
                    .get(id)
                    .is_some_and(|b| b.len() > 1 && self.bytes.find(b) == Some(id))
            })
            .collect();
        let check = |&id: &u32| -> Option<(u32, u32)> {
            let bytes = self.bytes.get(id)?;
            self.isolated_final_merge(bytes, &first)
                .map(|rank| (id, rank))
        };
        let reachable: Vec<(u32, u32)> =
            match crate::parallel::pool(crate::parallel::default_threads()) {
                Ok(p) if candidates.len() > 4096 => {
                    p.install(|| candidates.par_iter().filter_map(check).collect())
                }
                _ => candidates.iter().filter_map(check).collect(),
            };
        // tiktoken vocabulary: bytes 0..=255 at ranks 0..=255, reachable
        // tokens at 256 + the index of their last merge. Only the order of
        // the ranks of multi-byte tokens matters to BPE: when the ids are in
        // that order already (vocabularies converted from tiktoken, such as
        // Llama-3's and Qwen2's), the ids themselves serve as ranks and no
        // remap is needed.
        let mut pairs: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], u32::from(b))).collect();
        let mut rank_to_id = vec![NONE; 256 + self.merges.len()];
        rank_to_id[..256].copy_from_slice(&self.byte_id);
        for &(id, rank) in &reachable {
            let bytes = self.bytes.get(id).unwrap_or_default();
            pairs.push((bytes.to_vec(), 256 + rank));
            rank_to_id[256 + rank as usize] = id;
        }
        // (Ids must also be dense enough for a rank table: at least one in
        // eight of them a byte or a reachable token.)
        let mut by_rank = reachable.clone();
        by_rank.sort_unstable_by_key(|&(_, rank)| rank);
        let identity = self.byte_id.iter().all(|&id| id != NONE)
            && by_rank.windows(2).all(|w| w[0].0 < w[1].0)
            && (slots as usize) < 8 * (256 + by_rank.len());
        if identity {
            for pair in &mut pairs {
                pair.1 = rank_to_id[pair.1 as usize];
            }
            rank_to_id = Vec::new();
        }
        let vocab = Vocab::new(pairs).map_err(|e| e.to_string())?;
        let bpe = CoreBpe::new(
            vocab,
            SpecialTokens::new(Vec::new()).map_err(|e| e.to_string())?,
            PreTokenizer::new(R50K_PATTERN).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let mut is_reachable = vec![false; slots as usize];
        for &(id, _) in &reachable {
            is_reachable[id as usize] = true;
        }
        // Candidates are multi-byte tokens, so every key has two bytes.
        let mut unreachable = FxHashMap::default();
        let mut unreachable_filter = vec![0u64; (1 << UNREACHABLE_FILTER_BITS) / 64];
        for &id in candidates.iter().filter(|&&id| !is_reachable[id as usize]) {
            if let Some(bytes) = self.bytes.get(id) {
                let k = unreachable_key(bytes);
                unreachable_filter[k / 64] |= 1 << (k % 64);
                unreachable.insert(bytes.into(), id);
            }
        }
        Ok(Fast {
            bpe,
            rank_to_id,
            unreachable,
            unreachable_filter: unreachable_filter.into_boxed_slice(),
            whole_is_bpe: !self.ignore_merges || reachable.len() == candidates.len(),
        })
    }
}
