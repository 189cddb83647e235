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
//! of its own bytes run in isolation (the merges inside its span happen in
//! the same order as they would alone, and none crosses its borders). Call
//! a token *reachable* if the isolated pair-rank BPE of its bytes gives the
//! token itself, and let `m(t)` be the index of the merge that forms it
//! last. Give every reachable token the rank `256 + m(t)` and run
//! tiktoken-style BPE ([`CoreBpe`]: merge the adjacent pair whose
//! concatenation is a token of lowest rank, leftmost first, over the
//! vocabulary of single bytes and reachable tokens). If, for every
//! reachable token, that BPE of its bytes also ends with the same final
//! pair, both algorithms take the same step from any common state: the
//! step each takes is a merge that forms a reachable token from its
//! canonical final pair, which the other one considers too, at the same
//! priority `m(t)`. The check runs at load time (in parallel); when it
//! fails for any token, every word uses the exact pair-rank encoder.
//! Words that contain a byte with no token, and (with `ignore_merges`)
//! words that are tokens, never take the fast path.

use std::cell::RefCell;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use super::bytemap;
use crate::error::{Error, Result};
use crate::pretokenize::{PreTokenizer, R50K_PATTERN};
use crate::special::SpecialTokens;
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
    rank_to_id: Vec<u32>,
}

/// Why the fast path is off (reported by `fast_path_status`).
#[derive(Debug, Clone)]
pub(crate) enum FastStatus {
    On,
    Off(String),
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
    /// Token string → id.
    vocab: FxHashMap<Box<str>, u32>,
    /// Id → token string (ids may have gaps).
    id_to_token: Vec<Option<Box<str>>>,
    /// Id → bytes of byte-level tokens (as the ByteLevel decoder gives
    /// them; `None` for ids that are not tokens).
    token_bytes: Vec<Option<Box<[u8]>>>,
    /// Bytes → id of every token whose string is a byte-level string.
    bytes_to_id: FxHashMap<Box<[u8]>, u32>,
    /// Id of each single byte (`NONE` if the vocabulary has no such token).
    byte_id: [u32; 256],
    any_missing: bool,
    /// `(left, right)` ids → `(merge index, new id)`.
    merge_map: FxHashMap<u64, (u32, u32)>,
    /// The merges as id pairs, by index.
    merges: Vec<(u32, u32)>,
    ignore_merges: bool,
    unk: Option<u32>,
    fuse_unk: bool,
    fast: Option<Fast>,
    fast_status: FastStatus,
    /// Identifies this model's entries in the per-thread caches.
    uid: u64,
}

impl std::fmt::Debug for BpeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpeModel")
            .field("vocab", &self.vocab.len())
            .field("merges", &self.merges.len())
            .field("ignore_merges", &self.ignore_merges)
            .field("fast_path", &self.fast.is_some())
            .finish_non_exhaustive()
    }
}

#[inline]
fn key(a: u32, b: u32) -> u64 {
    u64::from(a) << 32 | u64::from(b)
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

impl BpeModel {
    /// Build the model.
    ///
    /// # Errors
    /// [`Error::InvalidVocab`] for an id used twice, an id that is too
    /// large, or a merge naming a token (or producing a concatenation)
    /// that is not in the vocabulary, or an unknown token that is not in
    /// the vocabulary.
    pub(crate) fn new(spec: ModelSpec<'_>) -> Result<Self> {
        let n = spec.vocab.len();
        let mut max_id = 0u32;
        for (tok, id) in &spec.vocab {
            if *id >= MAX_TOKEN_ID {
                return Err(Error::InvalidVocab(format!(
                    "model.vocab: token {tok:?} has id {id}, which is too large (limit {MAX_TOKEN_ID})"
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
        let mut id_to_token: Vec<Option<Box<str>>> = vec![None; slots];
        let mut token_bytes: Vec<Option<Box<[u8]>>> = vec![None; slots];
        let mut vocab: FxHashMap<Box<str>, u32> =
            FxHashMap::with_capacity_and_hasher(n, Default::default());
        let mut bytes_to_id: FxHashMap<Box<[u8]>, u32> =
            FxHashMap::with_capacity_and_hasher(n, Default::default());
        let mut byte_id = [NONE; 256];
        for (tok, id) in spec.vocab {
            let slot = &mut id_to_token[id as usize];
            if let Some(prev) = slot {
                return Err(Error::InvalidVocab(format!(
                    "model.vocab: id {id} is given to two tokens: {prev:?} and {tok:?}"
                )));
            }
            let tok: Box<str> = tok.into();
            let bytes = bytemap::decode_str(&tok);
            if let Some(b) = &bytes {
                if b.len() == 1 {
                    byte_id[b[0] as usize] = id;
                }
                bytes_to_id.insert(b.clone().into_boxed_slice(), id);
            }
            token_bytes[id as usize] = Some(
                bytes
                    .unwrap_or_else(|| tok.as_bytes().to_vec())
                    .into_boxed_slice(),
            );
            *slot = Some(tok.clone());
            vocab.insert(tok, id);
        }
        // Merges: ids of both sides and of the concatenation. A pair listed
        // twice keeps its last index (as `tokenizers`' map does).
        let mut merges = Vec::with_capacity(spec.merges.len());
        let mut merge_map: FxHashMap<u64, (u32, u32)> =
            FxHashMap::with_capacity_and_hasher(spec.merges.len(), Default::default());
        let mut buf = String::new();
        for (i, (a, b)) in spec.merges.iter().enumerate() {
            let find = |t: &str| {
                vocab.get(t).copied().ok_or_else(|| {
                    Error::InvalidVocab(format!(
                        "model.merges[{i}]: token {t:?} is not in the vocabulary"
                    ))
                })
            };
            let ia = find(a)?;
            let ib = find(b)?;
            buf.clear();
            buf.push_str(a);
            buf.push_str(b);
            let new_id = find(&buf)?;
            merges.push((ia, ib));
            merge_map.insert(key(ia, ib), (i as u32, new_id));
        }
        let any_missing = byte_id.contains(&NONE);
        // The unknown token and byte fallback only matter for bytes that
        // have no token.
        let unk = match &spec.unk_token {
            Some(u) if any_missing => Some(vocab.get(u.as_str()).copied().ok_or_else(|| {
                Error::InvalidVocab(format!("model.unk_token {u:?} is not in the vocabulary"))
            })?),
            _ => None,
        };
        if spec.byte_fallback && any_missing {
            return Err(Error::NotImplemented(
                "BPE byte_fallback with bytes that have no token is not supported".into(),
            ));
        }
        let mut model = Self {
            vocab,
            id_to_token,
            token_bytes,
            bytes_to_id,
            byte_id,
            any_missing,
            merge_map,
            merges,
            ignore_merges: spec.ignore_merges,
            unk,
            fuse_unk: spec.fuse_unk,
            fast: None,
            fast_status: FastStatus::Off("not checked".into()),
            uid: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
        };
        match model.build_fast() {
            Ok(fast) => {
                model.fast = Some(fast);
                model.fast_status = FastStatus::On;
            }
            Err(why) => model.fast_status = FastStatus::Off(why),
        }
        Ok(model)
    }

    /// Number of entries of the vocabulary.
    pub(crate) fn vocab_len(&self) -> usize {
        self.vocab.len()
    }

    pub(crate) fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    pub(crate) fn id_to_token(&self, id: u32) -> Option<&str> {
        self.id_to_token.get(id as usize)?.as_deref()
    }

    /// Bytes of a model token (byte-level strings decoded, others as UTF-8).
    pub(crate) fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.token_bytes.get(id as usize)?.as_deref()
    }

    /// Id of the token whose bytes are `bytes`, if any.
    pub(crate) fn id_of_bytes(&self, bytes: &[u8]) -> Option<u32> {
        self.bytes_to_id.get(bytes).copied()
    }

    pub(crate) fn vocab_iter(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.vocab.iter().map(|(k, &v)| (&**k, v))
    }

    pub(crate) fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    pub(crate) fn ignore_merges(&self) -> bool {
        self.ignore_merges
    }

    pub(crate) fn fast_status(&self) -> &FastStatus {
        &self.fast_status
    }

    /// Whether byte `b` has a token.
    pub(crate) fn has_byte(&self, b: u8) -> bool {
        self.byte_id[b as usize] != NONE
    }

    /// Whether some byte of `word` has no token.
    #[inline]
    pub(crate) fn has_missing(&self, word: &[u8]) -> bool {
        self.any_missing && word.iter().any(|&b| self.byte_id[b as usize] == NONE)
    }

    /// Token ids of one word (its bytes), appended to `out`.
    pub(crate) fn encode_word_ids(&self, word: &[u8], out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if self.ignore_merges && word.len() > 1 {
            if let Some(id) = self.id_of_bytes(word) {
                out.push(id);
                return;
            }
        }
        if let Some(fast) = &self.fast {
            if !self.has_missing(word) {
                let start = out.len();
                fast.bpe.encode_piece_into(word, out);
                for r in &mut out[start..] {
                    *r = fast.rank_to_id[*r as usize];
                }
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
            self.merge_exact(word, |p| out.push(p.id));
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
        self.merge_exact(word, |p| out.push(p.id));
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
        if self.ignore_merges && word.len() > 1 {
            if let Some(id) = self.id_of_bytes(word) {
                let mapped_len = word.iter().map(|&x| bytemap::mapped_len(x) as u32).sum();
                out.push(Piece { id, mapped_len });
                return;
            }
        }
        self.merge_exact(word, |p| out.push(p));
    }

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
            self.merge_map.get(&key(syms[i].id, syms[j].id)).copied()
        };
        if n <= 24 {
            // Scan: lowest merge index, leftmost first.
            loop {
                let mut best: Option<(u32, u32, usize)> = None;
                let mut i = 0usize;
                while i < n {
                    if let Some((rank, new_id)) = pair(syms, i) {
                        if best.is_none_or(|(r, _, _)| rank < r) {
                            best = Some((rank, new_id, i));
                        }
                    }
                    i = syms[i].next as usize;
                }
                let Some((rank, new_id, i)) = best else { break };
                let j = syms[i].next as usize;
                if let Some(l) = last.as_deref_mut() {
                    *l = (rank, j as u32);
                }
                self.join(syms, i, j, new_id);
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
            match self.merge_map.get(&key(syms[i].id, syms[j].id)) {
                Some(&(_, nid)) if nid == new_id => {}
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

    /// Pair-rank BPE of `bytes` alone; `Some((merge index of the last
    /// merge, byte length of its left part))` if it ends as one token.
    fn isolated_final_merge(&self, bytes: &[u8]) -> Option<(u32, usize)> {
        let mut syms = self.initial_symbols(bytes);
        if syms.len() != bytes.len() {
            return None;
        }
        let mut last = (NONE, 0u32);
        self.merge_symbols(&mut syms, Some(&mut last));
        let alive = syms.iter().filter(|s| s.alive).count();
        (alive == 1 && last.0 != NONE).then_some((last.0, last.1 as usize))
    }

    /// Build the fast path, or say why it would not be exact.
    fn build_fast(&self) -> std::result::Result<Fast, String> {
        use rayon::prelude::*;
        // Multi-byte byte-level tokens, by id.
        let candidates: Vec<(u32, &[u8])> = self
            .bytes_to_id
            .iter()
            .filter(|(b, _)| b.len() > 1)
            .map(|(b, &id)| (id, &**b))
            .collect();
        let check = |&(id, bytes): &(u32, &[u8])| -> Option<(u32, u32, usize)> {
            self.isolated_final_merge(bytes).and_then(|(rank, left)| {
                // Reachable only if the last merge forms this very token.
                let (a, b) = self.merges[rank as usize];
                let ok = self
                    .merge_map
                    .get(&key(a, b))
                    .is_some_and(|&(_, n)| n == id);
                ok.then_some((id, rank, left))
            })
        };
        let reachable: Vec<(u32, u32, usize)> = if candidates.len() > 4096 {
            crate::parallel::pool(crate::parallel::default_threads())
                .map_err(|e| e.to_string())?
                .install(|| candidates.par_iter().filter_map(check).collect())
        } else {
            candidates.iter().filter_map(check).collect()
        };
        // tiktoken vocabulary: bytes 0..=255 at ranks 0..=255, reachable
        // tokens at 256 + merge index.
        let mut pairs: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], u32::from(b))).collect();
        let mut rank_to_id = vec![NONE; 256 + self.merges.len()];
        rank_to_id[..256].copy_from_slice(&self.byte_id);
        for &(id, rank, _) in &reachable {
            let bytes = self.token_bytes(id).unwrap_or_default();
            pairs.push((bytes.to_vec(), 256 + rank));
            rank_to_id[256 + rank as usize] = id;
        }
        let vocab = Vocab::new(pairs).map_err(|e| e.to_string())?;
        let bpe = CoreBpe::new(
            vocab,
            SpecialTokens::new(Vec::new()).map_err(|e| e.to_string())?,
            PreTokenizer::new(R50K_PATTERN).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        // Every reachable token must come out of tiktoken-style BPE of its
        // own bytes by the same final pair.
        let verify = |&(id, rank, left): &(u32, u32, usize)| -> Option<String> {
            let bytes = self.token_bytes(id).unwrap_or_default();
            match concat_final_merge(bpe.vocab(), bytes) {
                Some((r, l)) if r == 256 + rank && l == left => None,
                _ => Some(format!(
                    "token {:?} (id {id}) is formed differently by rank-ordered BPE",
                    self.id_to_token(id).unwrap_or_default()
                )),
            }
        };
        let bad: Option<String> = if reachable.len() > 4096 {
            crate::parallel::pool(crate::parallel::default_threads())
                .map_err(|e| e.to_string())?
                .install(|| reachable.par_iter().find_map_any(verify))
        } else {
            reachable.iter().find_map(verify)
        };
        if let Some(why) = bad {
            return Err(why);
        }
        Ok(Fast { bpe, rank_to_id })
    }
}

/// tiktoken-style BPE of `bytes` alone (no whole-piece shortcut) over
/// `vocab`; `Some((rank of the last merge, byte length of its left part))`
/// if it ends as one token.
fn concat_final_merge(vocab: &Vocab, bytes: &[u8]) -> Option<(u32, usize)> {
    // Part boundaries; part i is bytes[bounds[i]..bounds[i + 1]].
    let mut bounds: Vec<usize> = (0..=bytes.len()).collect();
    let mut last = None;
    while bounds.len() > 2 {
        let mut best: Option<(u32, usize)> = None;
        for i in 0..bounds.len() - 2 {
            if let Some(r) = vocab.rank(&bytes[bounds[i]..bounds[i + 2]]) {
                if best.is_none_or(|(b, _)| r < b) {
                    best = Some((r, i));
                }
            }
        }
        let (r, i) = best?;
        last = Some((r, bounds[i + 1] - bounds[i]));
        bounds.remove(i + 1);
    }
    last
}
