//! Covers of a byte prefix: the from-scratch lattice, the incremental
//! update and the next-byte distribution.

use std::ops::Range;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::chunks::{Status, WindowStatus};
use super::model::{check_row, log_add, log_sum, ByteModel, Follow, RowMask, END_BIN};
use super::pairs::NONE;
use crate::error::{Error, Result};

/// One next-token row handed over by a [`RowSource`].
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// `float32` log-probabilities.
    F32(&'a [f32]),
    /// `float64` log-probabilities.
    F64(&'a [f64]),
}

/// The language model seen from the core: next-token log-probabilities
/// (length `n_vocab`, end-of-sequence included) for a batch of contexts.
pub trait RowSource {
    /// Call `sink(i, row)` once for every context `contexts[i]` (full token
    /// sequences, trunk included).
    ///
    /// # Errors
    /// Whatever the model or `sink` reports.
    fn fetch(
        &mut self,
        contexts: &[Vec<u32>],
        sink: &mut dyn FnMut(usize, Row<'_>) -> Result<()>,
    ) -> Result<()>;
}

/// The root node: the empty cover at the region start.
const ROOT: u32 = 0;

#[derive(Debug, Clone)]
struct RowData {
    logp: Vec<f64>,
    /// Log of the allowed mass of the row (the row is renormalized by it).
    norm: f64,
    /// Allowed mass per bin (log, not normalized).
    bins: Vec<f64>,
}

#[derive(Debug, Clone)]
struct Node {
    token: u32,
    parent: u32,
    start: usize,
    end: usize,
    /// Log-probability of the token sequence given the trunk.
    lp: f64,
    row: Option<Arc<RowData>>,
}

/// The straddling covers that extend one exact cover `parent` (ending at
/// `start`) by the tokens `sorted[range]`, which all start with
/// `x[start..]` and run past the end.
#[derive(Debug, Clone)]
struct Group {
    parent: u32,
    start: usize,
    range: Range<usize>,
}

/// Pre-token boundary statuses of the region as its bytes arrive.
#[derive(Debug, Clone)]
struct Track {
    start: Status,
    /// Final statuses of the positions before `frozen`.
    resolved: Vec<Status>,
    frozen: usize,
    /// Statuses of the positions `frozen..=len`.
    window: Arc<WindowStatus>,
}

/// Which status vector of the window a view reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Base,
    End,
    Given(u8),
}

#[derive(Clone, Copy)]
struct View<'a> {
    start: Status,
    resolved: &'a [Status],
    frozen: usize,
    win: &'a [Status],
}

impl View<'_> {
    #[inline]
    fn get(&self, q: usize) -> Status {
        if q == 0 {
            self.start
        } else if q < self.frozen {
            self.resolved[q]
        } else {
            self.win
                .get(q - self.frozen)
                .copied()
                .unwrap_or(Status::Open)
        }
    }
}

impl Track {
    fn new(model: &ByteModel, start: Status) -> Result<Self> {
        let window = match &model.chunker {
            Some(c) => c.statuses(&[])?,
            None => Arc::new(WindowStatus::whole_text(0, start)),
        };
        Ok(Self {
            start,
            resolved: Vec::new(),
            frozen: 0,
            window,
        })
    }

    fn view(&self, kind: Kind) -> View<'_> {
        let win: &[Status] = match kind {
            Kind::Base => &self.window.base,
            Kind::End => &self.window.end,
            Kind::Given(k) => &self.window.given[usize::from(k)],
        };
        View {
            start: self.start,
            resolved: &self.resolved,
            frozen: self.frozen,
            win,
        }
    }

    /// Take in `x`, which grew by one byte. Returns the lowest position whose
    /// status may have changed, minus one.
    fn push(&mut self, model: &ByteModel, x: &[u8]) -> Result<usize> {
        let lower = self.frozen.saturating_sub(1);
        let Some(chunker) = &model.chunker else {
            // One pre-token: every position before the end is never a
            // boundary, the end is open.
            let q = x.len() - 1;
            self.resolved
                .push(if q == 0 { self.start } else { Status::Never });
            self.frozen = x.len();
            self.window = Arc::new(WindowStatus::text_end());
            return Ok(lower);
        };
        let window = chunker.statuses(&x[self.frozen..])?;
        // The last forced position with everything before it settled.
        let mut new_frozen = self.frozen;
        for (i, &s) in window.base.iter().enumerate().skip(1) {
            match s {
                Status::Forced => new_frozen = self.frozen + i,
                Status::Never => {}
                Status::Open => break,
            }
        }
        if new_frozen > self.frozen {
            let k = new_frozen - self.frozen;
            self.resolved.extend_from_slice(&window.base[..k]);
            if self.frozen == 0 {
                self.resolved[0] = self.start;
            }
            self.window = Arc::new(window.shift(k));
            self.frozen = new_frozen;
        } else {
            self.window = window;
        }
        Ok(lower)
    }
}

/// The covers of a byte prefix (the *region*: bytes after a trunk of
/// tokens that every valid encoding shares).
#[derive(Debug, Clone)]
pub struct State {
    model: Arc<ByteModel>,
    trunk: Vec<u32>,
    /// Token before the region for the pair test at position 0 (`NONE`).
    left: u32,
    x: Vec<u8>,
    track: Track,
    nodes: Vec<Node>,
    exact: Vec<u32>,
    groups: Vec<Group>,
    rows_fetched: usize,
    /// Nodes that hold a row.
    with_rows: Vec<u32>,
    memo: FxHashMap<(u32, Kind), bool>,
}

/// A next-symbol distribution.
#[derive(Debug, Clone)]
pub struct Next {
    /// Normalized log-probabilities: bytes `0..256`, the end at 256, stop
    /// ids from 257 (all `-inf` when the prefix has probability 0).
    pub logp: Vec<f64>,
    /// Log of the total mass of the bins (= log P(prefix) given the trunk).
    pub log_z: f64,
}

impl State {
    /// The state of the empty region after `trunk`. `left` is the token
    /// before the region when position 0 is not a forced boundary (`start`
    /// is then [`Status::Never`] and the first token must pass the pair
    /// test with it).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for ids out of range or a `Never` start
    /// without a left token.
    pub fn new(
        model: Arc<ByteModel>,
        trunk: Vec<u32>,
        left: Option<u32>,
        start: Status,
    ) -> Result<Self> {
        let n_vocab = model.n_vocab();
        if let Some(&bad) = trunk.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(Error::InvalidArgument(format!(
                "trunk token {bad} is out of range (n_vocab {n_vocab})"
            )));
        }
        let left = match left {
            Some(l) if model.index().bytes(l).is_none() => {
                return Err(Error::InvalidArgument(format!(
                    "left token {l} has no bytes"
                )))
            }
            Some(l) => l,
            None => NONE,
        };
        if start == Status::Never && left == NONE {
            return Err(Error::InvalidArgument(
                "a region that continues a pre-token needs the token before it".to_owned(),
            ));
        }
        let track = Track::new(&model, start)?;
        Ok(Self {
            model,
            trunk,
            left,
            x: Vec::new(),
            track,
            nodes: vec![Node {
                token: NONE,
                parent: ROOT,
                start: 0,
                end: 0,
                lp: 0.0,
                row: None,
            }],
            exact: vec![ROOT],
            groups: Vec::new(),
            rows_fetched: 0,
            with_rows: Vec::new(),
            memo: FxHashMap::default(),
        })
    }

    /// The region's bytes so far.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.x
    }

    /// The trunk.
    #[must_use]
    pub fn trunk(&self) -> &[u32] {
        &self.trunk
    }

    /// The model.
    #[must_use]
    pub fn model(&self) -> &Arc<ByteModel> {
        &self.model
    }

    /// Number of model rows fetched so far.
    #[must_use]
    pub fn rows_fetched(&self) -> usize {
        self.rows_fetched
    }

    /// Whether no cover is left (the prefix has probability 0).
    #[must_use]
    pub fn is_dead(&self) -> bool {
        self.exact.is_empty() && self.groups.is_empty()
    }

    fn left_of(&self, node: u32) -> u32 {
        if node == ROOT {
            self.left
        } else {
            self.nodes[node as usize].token
        }
    }

    /// Full context (trunk + tokens) of a node.
    fn context(&self, node: u32) -> Vec<u32> {
        let mut toks = Vec::new();
        let mut n = node;
        while n != ROOT {
            toks.push(self.nodes[n as usize].token);
            n = self.nodes[n as usize].parent;
        }
        let mut out = self.trunk.clone();
        out.extend(toks.into_iter().rev());
        out
    }

    /// Tokens of a node (region only).
    fn tokens(&self, node: u32) -> Vec<u32> {
        let ctx = self.context(node);
        ctx[self.trunk.len()..].to_vec()
    }

    /// Whether the token sequence ending in `leaf` is consistent with the
    /// statuses of `view`, checking the tokens that end after `lower`
    /// (earlier ones were checked when their statuses settled) and the
    /// whole-pre-token rule of `ignore_merges` wherever it may still apply.
    fn chain_ok(&self, leaf: u32, view: &View<'_>, lower: usize) -> bool {
        let pairs = &self.model.pairs;
        let index = &self.model.index;
        let max_len = index.max_len();
        let ignore = pairs.ignore_merges();
        let mut node = leaf;
        let e0 = self.nodes[leaf as usize].end;
        let mut chunk_end = (view.get(e0) == Status::Forced).then_some(e0);
        let mut chunk_tokens = 0usize;
        while node != ROOT {
            let nd = &self.nodes[node as usize];
            let (t, s, e) = (nd.token, nd.start, nd.end);
            if e <= lower && !(ignore && chunk_end.is_some()) {
                break;
            }
            if e > lower {
                for q in (s + 1).max(lower + 1)..e {
                    if view.get(q) == Status::Forced {
                        return false;
                    }
                }
                if !pairs.reachable(t)
                    && (!ignore || view.get(s) == Status::Never || view.get(e) == Status::Never)
                {
                    return false;
                }
                if view.get(s) == Status::Never {
                    let l = self.left_of(nd.parent);
                    if l == NONE || !pairs.pair_valid(l, t) {
                        return false;
                    }
                }
            }
            chunk_tokens += 1;
            match view.get(s) {
                Status::Forced => {
                    if let Some(ce) = chunk_end {
                        if ignore
                            && chunk_tokens > 1
                            && ce - s <= max_len
                            && index.id(&self.x[s..ce]).is_some()
                        {
                            return false;
                        }
                    }
                    chunk_end = Some(s);
                    chunk_tokens = 0;
                }
                Status::Open => {
                    chunk_end = None;
                    chunk_tokens = 0;
                }
                Status::Never => {}
            }
            if chunk_end.is_some_and(|ce| ce - s > max_len) {
                chunk_end = None;
            }
            node = nd.parent;
        }
        true
    }

    fn chain_ok_memo(&mut self, leaf: u32, kind: Kind, lower: usize) -> bool {
        if let Some(&ok) = self.memo.get(&(leaf, kind)) {
            return ok;
        }
        let ok = self.chain_ok(leaf, &self.track.view(kind), lower);
        self.memo.insert((leaf, kind), ok);
        ok
    }

    /// Whether the covers of group `g` are consistent with `kind` for their
    /// common part: the parent's chain, and no forced boundary strictly
    /// inside the bytes `x[start..upto]` they all contain.
    fn group_ok(&mut self, g: &Group, kind: Kind, upto: usize, lower: usize) -> bool {
        if !self.chain_ok_memo(g.parent, kind, lower) {
            return false;
        }
        let view = self.track.view(kind);
        ((g.start + 1)..=upto).all(|q| view.get(q) != Status::Forced)
    }

    /// The follow mode after a boundary of status `s` with left token `left`.
    fn follow(s: Status, left: u32) -> (Follow, Option<u32>) {
        match s {
            Status::Never if left != NONE => (Follow::Pair, Some(left)),
            Status::Never => (Follow::Nothing, None),
            _ => (Follow::Free, None),
        }
    }

    /// The validity mask of the row of exact cover `node` (which ends at
    /// the current end), from the statuses given the next byte's class.
    fn row_mask(&mut self, node: u32) -> RowMask {
        let n = self.x.len();
        let lower = self.track.frozen.saturating_sub(1);
        let left = self.left_of(node);
        let window = self.track.window.clone();
        let mut per_class: Vec<Follow> = Vec::with_capacity(window.given.len());
        for k in 0..window.given.len() {
            let kind = Kind::Given(k as u8);
            let f = if self.chain_ok_memo(node, kind, lower) {
                Self::follow(self.track.view(kind).get(n), left).0
            } else {
                Follow::Nothing
            };
            per_class.push(f);
        }
        let mut follow = [Follow::Nothing; 256];
        for (c, f) in follow.iter_mut().enumerate() {
            *f = per_class[usize::from(window.class_of_byte[c])];
        }
        let end_ok = window.end_possible && self.chain_ok_memo(node, Kind::End, lower);
        RowMask {
            follow,
            left: (left != NONE).then_some(left),
            end_ok,
        }
    }

    fn make_row(model: &ByteModel, row: Row<'_>, mask: &RowMask) -> Result<RowData> {
        let logp: Vec<f64> = match row {
            Row::F32(r) => {
                check_row(r, model.n_vocab())?;
                r.iter().map(|&v| f64::from(v)).collect()
            }
            Row::F64(r) => {
                check_row(r, model.n_vocab())?;
                r.to_vec()
            }
        };
        let mut bins = vec![f64::NEG_INFINITY; model.n_bins()];
        model.scatter_checked(&logp, mask, &mut bins);
        let norm = log_sum(&bins);
        Ok(RowData { logp, norm, bins })
    }

    /// Fetch the rows of `nodes` (exact covers at the current end) that have
    /// none yet.
    fn fetch_rows(&mut self, nodes: &[u32], src: &mut dyn RowSource) -> Result<()> {
        let need: Vec<u32> = nodes
            .iter()
            .copied()
            .filter(|&e| self.nodes[e as usize].row.is_none())
            .collect();
        if need.is_empty() {
            return Ok(());
        }
        let contexts: Vec<Vec<u32>> = need.iter().map(|&e| self.context(e)).collect();
        let masks: Vec<RowMask> = need.iter().map(|&e| self.row_mask(e)).collect();
        let mut rows: Vec<Option<RowData>> = vec![None; need.len()];
        let model = self.model.clone();
        src.fetch(&contexts, &mut |i, row| {
            let slot = rows
                .get_mut(i)
                .ok_or_else(|| Error::InvalidArgument(format!("row index {i} out of range")))?;
            *slot = Some(
                Self::make_row(&model, row, &masks[i])
                    .map_err(|e| Error::InvalidArgument(format!("LM row {i}: {e}")))?,
            );
            Ok(())
        })?;
        for (&e, r) in need.iter().zip(rows) {
            let r = r.ok_or_else(|| {
                Error::InvalidArgument("the LM returned fewer rows than contexts".to_owned())
            })?;
            self.nodes[e as usize].row = Some(Arc::new(r));
            self.with_rows.push(e);
        }
        self.rows_fetched += need.len();
        Ok(())
    }

    fn row(&self, node: u32) -> Result<&Arc<RowData>> {
        self.nodes[node as usize]
            .row
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("internal error: missing row".to_owned()))
    }

    /// Fetch the rows of the exact covers.
    ///
    /// # Errors
    /// Errors of the row source, and rows of the wrong length or with NaN
    /// or `+inf`.
    pub fn ensure_rows(&mut self, src: &mut dyn RowSource) -> Result<()> {
        let exact = self.exact.clone();
        self.fetch_rows(&exact, src)
    }

    /// The next-symbol distribution of the current prefix.
    ///
    /// # Errors
    /// As [`State::ensure_rows`].
    pub fn next(&mut self, src: &mut dyn RowSource) -> Result<Next> {
        self.ensure_rows(src)?;
        let nb = self.model.n_bins();
        let mut acc = vec![f64::NEG_INFINITY; nb];
        for &e in &self.exact {
            let rd = self.row(e)?;
            let lp = self.nodes[e as usize].lp - rd.norm;
            for (a, &b) in acc.iter_mut().zip(&rd.bins) {
                *a = log_add(*a, lp + b);
            }
        }
        let groups = self.groups.clone();
        for g in &groups {
            self.group_bins(g, &mut acc)?;
        }
        let log_z = log_sum(&acc);
        let logp = if log_z == f64::NEG_INFINITY {
            vec![f64::NEG_INFINITY; nb]
        } else {
            acc.iter().map(|a| a - log_z).collect()
        };
        Ok(Next { logp, log_z })
    }

    /// The members of group `g` by next byte: `(byte, members, follow mode,
    /// left token)` for each run of members that share their next byte and
    /// are consistent with the statuses given that byte.
    #[allow(clippy::type_complexity)]
    fn group_runs(&mut self, g: &Group) -> Vec<(u8, Range<usize>, Follow, Option<u32>)> {
        let n = self.x.len();
        let d = n - g.start;
        let lower = self.track.frozen.saturating_sub(1);
        let left = self.left_of(g.parent);
        let model = self.model.clone();
        let index = &model.index;
        let sorted = index.sorted();
        let window = self.track.window.clone();
        let mut out = Vec::new();
        let mut k = g.range.start;
        while k < g.range.end {
            let c = index.bytes(sorted[k]).map_or(0, |b| b[d]);
            let run = index.narrow(k..g.range.end, d, &[c]);
            k = run.end;
            let kind = Kind::Given(window.class_of_byte[usize::from(c)]);
            if !self.group_ok(g, kind, n, lower) {
                continue;
            }
            let (follow, l) = Self::follow(self.track.view(kind).get(g.start), left);
            out.push((c, run, follow, l));
        }
        out
    }

    /// Add the mass of group `g` to the bins of each member's next byte.
    fn group_bins(&mut self, g: &Group, acc: &mut [f64]) -> Result<()> {
        let rd = self.row(g.parent)?.clone();
        let base = self.nodes[g.parent as usize].lp - rd.norm;
        let model = self.model.clone();
        let sorted = model.index.sorted();
        for (c, run, follow, l) in self.group_runs(g) {
            let invalid = model.invalid_after(l);
            let vals = sorted[run]
                .iter()
                .filter(|&&v| model.allowed(v, follow, &invalid))
                .map(|&v| rd.logp[v as usize]);
            acc[usize::from(c)] = log_add(acc[usize::from(c)], base + log_sum_iter(vals));
        }
        Ok(())
    }

    /// Append byte `b`: the covers of the longer prefix.
    ///
    /// # Errors
    /// As [`State::ensure_rows`]; [`Error::RegexRuntime`] from the
    /// pre-tokenizer.
    pub fn advance(&mut self, b: u8, src: &mut dyn RowSource) -> Result<()> {
        self.ensure_rows(src)?;
        let n = self.x.len();
        let all = 0..self.model.index.sorted().len();
        for &e in &self.exact {
            self.groups.push(Group {
                parent: e,
                start: n,
                range: all.clone(),
            });
        }
        self.x.push(b);
        let model = self.model.clone();
        let lower = self.track.push(&model, &self.x)?;
        self.memo.clear();
        let sorted = model.index.sorted();
        let mut exact = Vec::new();
        let mut groups = Vec::new();
        for g in std::mem::take(&mut self.groups) {
            if !self.group_ok(&g, Kind::Base, n, lower) {
                continue;
            }
            let d = n - g.start;
            let mut range = model.index.narrow(g.range.clone(), d, &[b]);
            if range.is_empty() {
                continue;
            }
            let first = sorted[range.start];
            if model.index.len_of(first) == d + 1 {
                range.start += 1;
                let (follow, l) = Self::follow(
                    self.track.view(Kind::Base).get(g.start),
                    self.left_of(g.parent),
                );
                let rd = self.row(g.parent)?;
                let v = rd.logp[first as usize];
                if v > f64::NEG_INFINITY && model.allowed(first, follow, &model.invalid_after(l)) {
                    let lp = self.nodes[g.parent as usize].lp - rd.norm + v;
                    let id = self.push_node(first, g.parent, g.start, n + 1, lp);
                    if self.chain_ok(id, &self.track.view(Kind::Base), lower) {
                        exact.push(id);
                    }
                }
            }
            if !range.is_empty() {
                groups.push(Group { range, ..g });
            }
        }
        self.exact = exact;
        self.groups = groups;
        self.release_rows();
        Ok(())
    }

    fn push_node(&mut self, token: u32, parent: u32, start: usize, end: usize, lp: f64) -> u32 {
        self.nodes.push(Node {
            token,
            parent,
            start,
            end,
            lp,
            row: None,
        });
        (self.nodes.len() - 1) as u32
    }

    /// Drop the rows no cover needs any more.
    fn release_rows(&mut self) {
        let mut keep: Vec<u32> = self.groups.iter().map(|g| g.parent).collect();
        keep.extend_from_slice(&self.exact);
        keep.sort_unstable();
        keep.dedup();
        let nodes = &mut self.nodes;
        self.with_rows.retain(|&i| {
            let needed = keep.binary_search(&i).is_ok();
            if !needed {
                nodes[i as usize].row = None;
            }
            needed
        });
    }

    /// The covers of `x` from scratch: a lattice over the byte positions of
    /// the region (exact covers at each position extend by the tokens that
    /// are prefixes of the remaining bytes, or that start with all of them
    /// and run past the end).
    ///
    /// # Errors
    /// As [`State::new`] and [`State::ensure_rows`].
    pub fn from_bytes(
        model: Arc<ByteModel>,
        trunk: Vec<u32>,
        left: Option<u32>,
        start: Status,
        x: &[u8],
        src: &mut dyn RowSource,
    ) -> Result<Self> {
        let mut st = Self::new(model.clone(), trunk, left, start)?;
        // Statuses as known after each prefix (row masks), and final.
        let mut snaps: Vec<Track> = vec![st.track.clone()];
        for &b in x {
            st.x.push(b);
            st.track.push(&model, &st.x)?;
            snaps.push(st.track.clone());
        }
        let n = x.len();
        let fin = st.track.clone();
        let index = &model.index;
        let sorted = index.sorted();
        let mut at: Vec<Vec<u32>> = vec![Vec::new(); n + 1];
        at[0].push(ROOT);
        let mut groups = Vec::new();
        for i in 0..n {
            let live: Vec<u32> = std::mem::take(&mut at[i])
                .into_iter()
                .filter(|&t| st.chain_ok(t, &fin.view(Kind::Base), 0))
                .collect();
            if live.is_empty() {
                continue;
            }
            // Rows as they would be fetched with the prefix x[..i] known.
            st.track = snaps[i].clone();
            let saved = std::mem::replace(&mut st.x, x[..i].to_vec());
            st.memo.clear();
            st.fetch_rows(&live, src)?;
            st.x = saved;
            st.track = fin.clone();
            st.memo.clear();
            for &t in &live {
                let rd = st.row(t)?.clone();
                let base = st.nodes[t as usize].lp - rd.norm;
                let (follow, l) = Self::follow(fin.view(Kind::Base).get(i), st.left_of(t));
                let invalid = model.invalid_after(l);
                let mut found: Vec<(u32, usize)> = Vec::new();
                index.prefixes_of(&x[i..], |v, len| found.push((v, len)));
                for (v, len) in found {
                    let lv = rd.logp[v as usize];
                    if lv == f64::NEG_INFINITY || !model.allowed(v, follow, &invalid) {
                        continue;
                    }
                    let id = st.push_node(v, t, i, i + len, base + lv);
                    if st.chain_ok(id, &fin.view(Kind::Base), i) {
                        at[i + len].push(id);
                    }
                }
                let mut range = index.starting_with(&x[i..]);
                if !range.is_empty() && index.len_of(sorted[range.start]) == n - i {
                    range.start += 1;
                }
                let g = Group {
                    parent: t,
                    start: i,
                    range,
                };
                if !g.range.is_empty() && st.group_ok(&g, Kind::Base, n, 0) {
                    groups.push(g);
                }
            }
        }
        st.exact = std::mem::take(&mut at[n])
            .into_iter()
            .filter(|&t| st.chain_ok(t, &fin.view(Kind::Base), 0))
            .collect();
        st.groups = groups;
        st.release_rows();
        Ok(st)
    }

    /// Log of the total probability of the covers (given the trunk): the
    /// representation lemma's `log P(prefix)`. Needs no model call.
    /// Straddling covers count when they are valid given their own next
    /// byte, as in [`State::next`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if rows of straddling covers are missing
    /// (never after [`State::advance`] or [`State::from_bytes`]).
    pub fn log_cover(&mut self) -> Result<f64> {
        let mut total = f64::NEG_INFINITY;
        for &e in &self.exact {
            total = log_add(total, self.nodes[e as usize].lp);
        }
        let mut acc = vec![f64::NEG_INFINITY; self.model.n_bins()];
        for g in self.groups.clone() {
            self.group_bins(&g, &mut acc)?;
        }
        Ok(log_add(total, log_sum(&acc)))
    }

    /// The covers: exact ones as `(tokens, log-probability)`, straddling
    /// ones as `(tokens, log-probability, remaining bytes)` (members of zero
    /// probability left out).
    ///
    /// # Errors
    /// As [`State::log_cover`].
    #[allow(clippy::type_complexity)]
    pub fn covers(&mut self) -> Result<(Vec<(Vec<u32>, f64)>, Vec<(Vec<u32>, f64, Vec<u8>)>)> {
        let exact = self
            .exact
            .iter()
            .map(|&e| (self.tokens(e), self.nodes[e as usize].lp))
            .collect();
        let mut strad = Vec::new();
        let n = self.x.len();
        let model = self.model.clone();
        for g in self.groups.clone() {
            let rd = self.row(g.parent)?.clone();
            let base = self.nodes[g.parent as usize].lp - rd.norm;
            let toks = self.tokens(g.parent);
            for (_, run, follow, l) in self.group_runs(&g) {
                let invalid = model.invalid_after(l);
                for &v in &model.index.sorted()[run] {
                    let lv = rd.logp[v as usize];
                    if lv == f64::NEG_INFINITY || !model.allowed(v, follow, &invalid) {
                        continue;
                    }
                    let mut t = toks.clone();
                    t.push(v);
                    let rem = model.index.bytes(v).unwrap_or(&[])[n - g.start..].to_vec();
                    strad.push((t, base + lv, rem));
                }
            }
        }
        Ok((exact, strad))
    }

    /// Number of exact covers and of straddling groups.
    #[must_use]
    pub fn sizes(&self) -> (usize, usize) {
        (self.exact.len(), self.groups.len())
    }

    /// Index of the end bin.
    #[must_use]
    pub fn end_bin() -> usize {
        END_BIN
    }
}

/// `ln Σ e^v` over an iterator in one pass (running maximum, rescaled sum),
/// exact for `-inf` values.
fn log_sum_iter(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut m, mut s) = (f64::NEG_INFINITY, 0.0f64);
    for v in vals {
        if v == f64::NEG_INFINITY {
            continue;
        }
        if v > m {
            s = s * (m - v).exp() + 1.0;
            m = v;
        } else {
            s += (v - m).exp();
        }
    }
    if s > 0.0 {
        m + s.ln()
    } else {
        f64::NEG_INFINITY
    }
}
