//! Which tokens may follow which inside one pre-token: the pairwise BPE
//! validity test, without re-encoding.
//!
//! BPE of a piece starts from single bytes and repeatedly merges the adjacent
//! pair of lowest rank (leftmost first on equal ranks). A token sequence is
//! the BPE of its own bytes exactly when every adjacent pair `(l, r)` is, so
//! everything reduces to the pair test.
//!
//! Each reachable token has an *isolated run*: BPE of its own bytes, which
//! ends in that token. Its *left spine* is the chain of pieces that contain
//! its first byte during that run (first byte, …, the token); its *right
//! spine* the same for the last byte. When BPE runs on `β(l)β(r)` and no merge
//! crosses the boundary, both halves evolve exactly as in their isolated runs,
//! and the only merges that could cross join the current right-spine piece of
//! `l` with the current left-spine piece of `r`.
//!
//! Events are ordered by a key `4·(rank+1) + class`, where class 0 is an
//! event of the left half, class 2 one of the right half and 1 a merge across
//! the boundary (equal ranks fire left to right). A crossing pair `(a, b)` of
//! rank `m` exists from the later of the events that formed `a` and `b`
//! (key `A`) until one of them is consumed by its own spine's next merge; it
//! fires at key `max(A + 1, 4(m+1) + 1)` — at its rank, or at once when it
//! only appears after its rank has passed (possible in tiktoken vocabularies,
//! where any two tokens whose concatenation is a token merge). The pair
//! `(l, r)` is invalid exactly when some crossing pair fires before both of
//! its pieces are consumed. This needs every isolated run to fire its merges
//! in non-decreasing rank order, which the constructor checks (it holds for
//! trained merge lists and the OpenAI vocabularies).
//!
//! For a fixed left token the set of invalid right tokens is a union of
//! intervals of a preorder of the *left-spine forest* (each token's parent is
//! the left half of the last merge of its run), with the children of a node
//! ordered by decreasing rank of that merge: the tokens whose left spine
//! passes through a piece `u` and leaves it at a rank above a threshold are
//! `u` and a prefix of its children, one interval.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use super::index::VocabIndex;
use crate::error::{Error, Result};

/// How adjacent pieces merge.
#[derive(Debug, Clone)]
pub enum MergeRule {
    /// tiktoken: two adjacent pieces merge when their concatenation is a
    /// token; the rank of the merge is that token's id.
    Concat,
    /// An explicit merge list (Hugging Face): `(left, right)` token ids in
    /// priority order; the rank of a merge is its index.
    List(Vec<(u32, u32)>),
}

/// "Never" / "not formed by a merge" marker for ranks.
const INF: u64 = u64::MAX;
/// No token.
pub(crate) const NONE: u32 = u32::MAX;

/// Bit set over token ids.
#[derive(Debug, Clone)]
pub struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }
    /// An empty set over `n` ids.
    pub(crate) fn new_empty(n: usize) -> Self {
        Self::new(n)
    }
    #[inline]
    fn set(&mut self, i: u32) {
        self.0[(i >> 6) as usize] |= 1 << (i & 63);
    }
    /// Whether bit `i` is set.
    #[inline]
    #[must_use]
    pub fn get(&self, i: u32) -> bool {
        self.0
            .get((i >> 6) as usize)
            .is_some_and(|w| w & (1 << (i & 63)) != 0)
    }
}

/// Pairwise validity data of a merge list.
#[derive(Debug)]
pub struct PairRules {
    /// Rank of the merge of each adjacent pair `(a, b)` (key `a << 32 | b`).
    pair_rank: FxHashMap<u64, u32>,
    /// Key (`rank + 1`) of the merge that forms each token in its isolated
    /// run: 0 for single bytes, `INF` for unreachable tokens and ids without
    /// bytes.
    form: Vec<u64>,
    /// Left and right halves of the last merge of each token's run (`NONE`
    /// for single bytes and unreachable tokens).
    top: Vec<(u32, u32)>,
    /// Merges `(a, b)` by left piece `a`: `(b, rank)`, in CSR form.
    partner_start: Vec<u32>,
    partners: Vec<(u32, u32)>,
    /// Preorder position, subtree size and children (sorted by decreasing
    /// formation rank) in the left-spine forest.
    pre: Vec<u32>,
    size: Vec<u32>,
    kid_start: Vec<u32>,
    kids: Vec<u32>,
    /// Token id at each preorder position.
    order: Vec<u32>,
    /// Primary tokens with bytes that BPE cannot build from their bytes.
    unreachable: Vec<u32>,
    unreachable_bits: Arc<Bits>,
    ignore_merges: bool,
    n_vocab: usize,
    /// Invalid right tokens per left token (bounded cache).
    masks: Mutex<FxHashMap<u32, Arc<Bits>>>,
    mask_cap: usize,
}

#[inline]
fn key(a: u32, b: u32) -> u64 {
    u64::from(a) << 32 | u64::from(b)
}

impl PairRules {
    /// Build the tables. `ignore_merges`: a pre-token that is a token is
    /// emitted whole (tiktoken always does this).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a merge naming an id without bytes or
    /// whose result is not a token, and when some token's isolated run does
    /// not fire its merges in rank order (the pair test would not be exact).
    pub fn new(index: &VocabIndex, rule: MergeRule, ignore_merges: bool) -> Result<Self> {
        let n = index.n_vocab();
        let mut pair_rank: FxHashMap<u64, u32> = FxHashMap::default();
        match rule {
            MergeRule::Concat => {
                for &t in index.sorted() {
                    let b = index.bytes(t).unwrap_or(&[]);
                    for k in 1..b.len() {
                        if let (Some(l), Some(r)) = (index.id(&b[..k]), index.id(&b[k..])) {
                            pair_rank.entry(key(l, r)).or_insert(t);
                        }
                    }
                }
            }
            MergeRule::List(list) => {
                let mut joined = Vec::new();
                for (i, &(l, r)) in list.iter().enumerate() {
                    let (Some(lb), Some(rb)) = (index.bytes(l), index.bytes(r)) else {
                        return Err(Error::InvalidArgument(format!(
                            "merge #{i} ({l}, {r}) names a token id without bytes"
                        )));
                    };
                    joined.clear();
                    joined.extend_from_slice(lb);
                    joined.extend_from_slice(rb);
                    if index.id(&joined).is_none() {
                        return Err(Error::InvalidArgument(format!(
                            "merge #{i} ({l}, {r}) gives {joined:?}, which is not a token"
                        )));
                    }
                    let rank = u32::try_from(i)
                        .map_err(|_| Error::InvalidArgument("more than 2^32 merges".to_owned()))?;
                    pair_rank.entry(key(l, r)).or_insert(rank);
                }
            }
        }
        let mut rules = Self {
            pair_rank,
            form: vec![INF; n],
            top: vec![(NONE, NONE); n],
            partner_start: Vec::new(),
            partners: Vec::new(),
            pre: vec![NONE; n],
            size: vec![0; n],
            kid_start: Vec::new(),
            kids: Vec::new(),
            order: Vec::new(),
            unreachable: Vec::new(),
            unreachable_bits: Arc::new(Bits::new(n)),
            ignore_merges,
            n_vocab: n,
            masks: Mutex::new(FxHashMap::default()),
            mask_cap: (64 << 20) / n.div_ceil(8).max(1),
        };
        rules.runs(index)?;
        rules.forest(index);
        rules.partner_lists();
        Ok(rules)
    }

    /// Run BPE on every token's bytes: formation keys, last merges,
    /// reachability, rank-order check.
    fn runs(&mut self, index: &VocabIndex) -> Result<()> {
        let mut parts: Vec<u32> = Vec::new();
        let mut unreachable_bits = Bits::new(self.n_vocab);
        for &t in index.sorted() {
            let bytes = index.bytes(t).unwrap_or(&[]);
            parts.clear();
            let mut ok = true;
            for &b in bytes {
                match index.id(&[b]) {
                    Some(id) => parts.push(id),
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                self.unreachable.push(t);
                unreachable_bits.set(t);
                continue;
            }
            if parts.len() == 1 {
                self.form[t as usize] = 0;
                continue;
            }
            let mut last_rank: Option<u32> = None;
            let mut last_pair = (NONE, NONE);
            loop {
                let mut best: Option<(u32, usize)> = None;
                for i in 0..parts.len() - 1 {
                    if let Some(&r) = self.pair_rank.get(&key(parts[i], parts[i + 1])) {
                        if best.is_none_or(|(br, _)| r < br) {
                            best = Some((r, i));
                        }
                    }
                }
                let Some((r, i)) = best else { break };
                if last_rank.is_some_and(|lr| r < lr) {
                    return Err(Error::InvalidArgument(format!(
                        "the merges that build token {t} ({bytes:?}) from its bytes do not \
                         fire in rank order; the pairwise validity test needs rank-monotone \
                         merges"
                    )));
                }
                last_rank = Some(r);
                last_pair = (parts[i], parts[i + 1]);
                let joined = self.joined(index, parts[i], parts[i + 1]);
                parts[i] = joined;
                parts.remove(i + 1);
            }
            if parts.len() == 1 && parts[0] == t {
                self.form[t as usize] = u64::from(last_rank.unwrap_or(0)) + 1;
                self.top[t as usize] = last_pair;
            } else {
                self.unreachable.push(t);
                unreachable_bits.set(t);
            }
        }
        self.unreachable.sort_unstable();
        self.unreachable_bits = Arc::new(unreachable_bits);
        Ok(())
    }

    /// The token made of `a`'s bytes followed by `b`'s (it exists for every
    /// pair in `pair_rank`).
    fn joined(&self, index: &VocabIndex, a: u32, b: u32) -> u32 {
        let mut j = index.bytes(a).unwrap_or(&[]).to_vec();
        j.extend_from_slice(index.bytes(b).unwrap_or(&[]));
        index.id(&j).unwrap_or(NONE)
    }

    /// Preorder of the left-spine forest, children by decreasing formation
    /// rank, roots in byte order.
    fn forest(&mut self, index: &VocabIndex) {
        let n = self.n_vocab;
        let mut count = vec![0u32; n + 1];
        for t in 0..n {
            let (l, _) = self.top[t];
            if l != NONE {
                count[l as usize] += 1;
            }
        }
        let mut start = vec![0u32; n + 1];
        for t in 0..n {
            start[t + 1] = start[t] + count[t];
        }
        let mut fill = start.clone();
        let mut kids = vec![0u32; start[n] as usize];
        for t in 0..n {
            let (l, _) = self.top[t];
            if l != NONE {
                kids[fill[l as usize] as usize] = t as u32;
                fill[l as usize] += 1;
            }
        }
        for u in 0..n {
            let s = &mut kids[start[u] as usize..start[u + 1] as usize];
            s.sort_unstable_by(|&a, &b| self.form[b as usize].cmp(&self.form[a as usize]));
        }
        // Iterative DFS; subtree sizes filled on the way back up.
        let mut order = Vec::with_capacity(n);
        let mut stack: Vec<(u32, u32)> = Vec::new();
        for b in 0..=255u8 {
            let Some(root) = index.id(&[b]) else { continue };
            stack.push((root, 0));
            self.pre[root as usize] = order.len() as u32;
            order.push(root);
            while let Some(&mut (u, ref mut next)) = stack.last_mut() {
                let (s, e) = (start[u as usize], start[u as usize + 1]);
                if s + *next < e {
                    let w = kids[(s + *next) as usize];
                    *next += 1;
                    self.pre[w as usize] = order.len() as u32;
                    order.push(w);
                    stack.push((w, 0));
                } else {
                    self.size[u as usize] = order.len() as u32 - self.pre[u as usize];
                    stack.pop();
                }
            }
        }
        self.kid_start = start;
        self.kids = kids;
        self.order = order;
    }

    /// Merges grouped by their left piece (reachable pieces only: others
    /// never take part in a merge).
    fn partner_lists(&mut self) {
        let n = self.n_vocab;
        let mut count = vec![0u32; n + 1];
        for &k in self.pair_rank.keys() {
            let (a, b) = ((k >> 32) as usize, (k & 0xffff_ffff) as usize);
            if self.form[a] != INF && self.form[b] != INF {
                count[a] += 1;
            }
        }
        let mut start = vec![0u32; n + 1];
        for t in 0..n {
            start[t + 1] = start[t] + count[t];
        }
        let mut fill = start.clone();
        let mut partners = vec![(0u32, 0u32); start[n] as usize];
        for (&k, &r) in &self.pair_rank {
            let (a, b) = ((k >> 32) as usize, (k & 0xffff_ffff) as u32);
            if self.form[a] != INF && self.form[b as usize] != INF {
                partners[fill[a] as usize] = (b, r);
                fill[a] += 1;
            }
        }
        self.partner_start = start;
        self.partners = partners;
    }

    /// Whether BPE can build `id` from its bytes.
    #[inline]
    #[must_use]
    pub fn reachable(&self, id: u32) -> bool {
        self.form.get(id as usize).is_some_and(|&f| f != INF)
    }

    /// Tokens with bytes that BPE cannot build from their bytes (valid only
    /// as a whole pre-token, and only with `ignore_merges`).
    #[must_use]
    pub fn unreachable(&self) -> &[u32] {
        &self.unreachable
    }

    /// Unreachable tokens as a bit set.
    #[must_use]
    pub fn unreachable_bits(&self) -> &Arc<Bits> {
        &self.unreachable_bits
    }

    /// Whether a pre-token that is a token is emitted whole.
    #[must_use]
    pub fn ignore_merges(&self) -> bool {
        self.ignore_merges
    }

    /// Rank of the merge of the adjacent pair `(a, b)`, if any.
    #[inline]
    #[must_use]
    pub fn merge_rank(&self, a: u32, b: u32) -> Option<u32> {
        self.pair_rank.get(&key(a, b)).copied()
    }

    /// Right spine of `l` from its last byte up: `(piece, formation key,
    /// consumption key)` with keys in the event order of the module docs.
    fn right_spine(&self, l: u32, out: &mut Vec<(u32, u64, u64)>) {
        out.clear();
        let mut t = l;
        let mut consumed = INF;
        loop {
            let f = self.form[t as usize];
            out.push((t, f.saturating_mul(4), consumed));
            let (_, r) = self.top[t as usize];
            if r == NONE {
                break;
            }
            consumed = f.saturating_mul(4);
            t = r;
        }
        out.reverse();
    }

    /// Left spine of `r` from its first byte up: `(piece, formation key,
    /// consumption key)`.
    fn left_spine(&self, r: u32, out: &mut Vec<(u32, u64, u64)>) {
        out.clear();
        let mut t = r;
        let mut consumed = INF;
        loop {
            let f = self.form[t as usize];
            out.push((t, f.saturating_mul(4).saturating_add(2), consumed));
            let (l, _) = self.top[t as usize];
            if l == NONE {
                break;
            }
            consumed = f.saturating_mul(4).saturating_add(2);
            t = l;
        }
        out.reverse();
    }

    /// Key at which the crossing pair of `a` (left, formed at key `fa`) and
    /// `b` (right, formed at key `fb`) merges.
    #[inline]
    fn fire_key(fa: u64, fb: u64, rank: u32) -> u64 {
        (fa.max(fb) + 1).max((u64::from(rank) + 1) * 4 + 1)
    }

    /// Whether `[l, r]` is the BPE of `β(l)β(r)` (both inside one pre-token;
    /// unreachable tokens are never valid here).
    #[must_use]
    pub fn pair_valid(&self, l: u32, r: u32) -> bool {
        if !self.reachable(l) || !self.reachable(r) {
            return false;
        }
        let (mut ls, mut rs) = (Vec::with_capacity(16), Vec::with_capacity(16));
        self.right_spine(l, &mut ls);
        self.left_spine(r, &mut rs);
        let (mut i, mut j) = (0, 0);
        loop {
            let (a, fa, ca) = ls[i];
            let (b, fb, cb) = rs[j];
            if let Some(m) = self.merge_rank(a, b) {
                let fire = Self::fire_key(fa, fb, m);
                if fire < ca && fire < cb {
                    return false;
                }
            }
            if ca == INF && cb == INF {
                return true;
            }
            if ca < cb {
                i += 1;
            } else {
                j += 1;
            }
        }
    }

    /// The tokens that may not follow `l` inside one pre-token (unreachable
    /// tokens included), as a bit set over ids. Cached.
    #[must_use]
    pub fn invalid_after(&self, l: u32) -> Arc<Bits> {
        if let Ok(cache) = self.masks.lock() {
            if let Some(m) = cache.get(&l) {
                return m.clone();
            }
        }
        let bits = Arc::new(self.compute_invalid_after(l));
        if let Ok(mut cache) = self.masks.lock() {
            if cache.len() >= self.mask_cap {
                cache.clear();
            }
            cache.insert(l, bits.clone());
        }
        bits
    }

    fn compute_invalid_after(&self, l: u32) -> Bits {
        let mut bits = (*self.unreachable_bits).clone();
        if !self.reachable(l) {
            // Nothing may follow an unreachable token inside a pre-token.
            bits.0.iter_mut().for_each(|w| *w = u64::MAX);
            return bits;
        }
        let mut spine = Vec::with_capacity(16);
        self.right_spine(l, &mut spine);
        let mut intervals: Vec<(u32, u32)> = Vec::new();
        for &(a, fa, ca) in &spine {
            let s = self.partner_start[a as usize] as usize;
            let e = self.partner_start[a as usize + 1] as usize;
            for &(u, m) in &self.partners[s..e] {
                let fu = self.form[u as usize].saturating_mul(4) + 2;
                let fire = Self::fire_key(fa, fu, m);
                if fire >= ca {
                    continue;
                }
                // `u` itself, and the children that leave `u` at a key above
                // `fire` (a prefix: children sorted by decreasing rank).
                let ks = self.kid_start[u as usize] as usize;
                let ke = self.kid_start[u as usize + 1] as usize;
                let kids = &self.kids[ks..ke];
                let c = kids.partition_point(|&w| {
                    self.form[w as usize].saturating_mul(4).saturating_add(2) > fire
                });
                let lo = self.pre[u as usize];
                let hi = if c < kids.len() {
                    self.pre[kids[c] as usize]
                } else {
                    lo + self.size[u as usize]
                };
                intervals.push((lo, hi));
            }
        }
        intervals.sort_unstable();
        let mut covered = 0u32;
        for (lo, hi) in intervals {
            for k in lo.max(covered)..hi {
                bits.set(self.order[k as usize]);
            }
            covered = covered.max(hi);
        }
        bits
    }
}
