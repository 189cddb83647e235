//! Per-thread memos for the merge loop: a cache of whole pieces (their
//! merged ranks) and a set-associative memo of pair joins. Both are exact
//! memos of pure functions of one encoder, so a hit returns exactly what
//! computing would; they are emptied when the thread switches encoders.

use crate::table::hash_bytes;
use crate::Rank;

use super::NO_RANK;

/// log2 of the number of 64-byte sets of the pair memo (4 ways each).
const MEMO_SET_BITS: u32 = 14;
const WAYS: usize = 4;

/// One cache line: four `(left, right)` keys and the ranks of their joins.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Set {
    keys: [u64; WAYS],
    ranks: [Rank; WAYS],
}

const EMPTY_SET: Set = Set {
    keys: [u64::MAX; WAYS],
    ranks: [NO_RANK; WAYS],
};

/// Set-associative memo of `(left rank, right rank) → rank of the join`
/// (`NO_RANK` when the join is not a token). Keys and values share a cache
/// line, so a hit costs one memory access.
pub(super) struct PairMemo {
    sets: Box<[Set]>,
}

impl Default for PairMemo {
    fn default() -> Self {
        Self {
            sets: vec![EMPTY_SET; 1 << MEMO_SET_BITS].into_boxed_slice(),
        }
    }
}

impl PairMemo {
    pub(super) fn clear(&mut self) {
        self.sets.fill(EMPTY_SET);
    }

    /// The memoized join of `left` and `right`, or `compute()` remembered.
    #[inline(always)]
    pub(super) fn get_or(
        &mut self,
        left: Rank,
        right: Rank,
        compute: impl FnOnce() -> Rank,
    ) -> Rank {
        // Ranks are below 2^28, so no real key equals the empty marker.
        let key = u64::from(left) << 32 | u64::from(right);
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let idx = (h >> (64 - MEMO_SET_BITS)) as usize & (self.sets.len() - 1);
        let set = &mut self.sets[idx];
        for w in 0..WAYS {
            if set.keys[w] == key {
                return set.ranks[w];
            }
        }
        let r = compute();
        // Newest first; the oldest way is dropped.
        for w in (1..WAYS).rev() {
            set.keys[w] = set.keys[w - 1];
            set.ranks[w] = set.ranks[w - 1];
        }
        set.keys[0] = key;
        set.ranks[0] = r;
        r
    }
}

/// log2 of the number of entries of the compatibility memo.
const VALID_BITS: u32 = 15;

/// Direct-mapped memo of `(left rank, right rank) → bool` (whether the two
/// tokens can be neighbours, see `backtrack`). One `u64` per entry: both
/// ranks (below 2^28), the answer and a used bit, so it stays small enough
/// for the L2 cache.
pub(super) struct ValidMemo {
    entries: Box<[u64]>,
}

impl Default for ValidMemo {
    fn default() -> Self {
        Self {
            entries: vec![0; 1 << VALID_BITS].into_boxed_slice(),
        }
    }
}

impl ValidMemo {
    const USED: u64 = 1 << 63;
    const YES: u64 = 1 << 62;

    pub(super) fn clear(&mut self) {
        self.entries.fill(0);
    }

    /// The memoized answer for `(left, right)`, or `compute()` remembered.
    #[inline(always)]
    pub(super) fn get_or(
        &mut self,
        left: Rank,
        right: Rank,
        compute: impl FnOnce() -> bool,
    ) -> bool {
        let key = Self::USED | u64::from(left) << 28 | u64::from(right);
        let h = (u64::from(left) << 32 | u64::from(right)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let idx = (h >> (64 - VALID_BITS)) as usize & (self.entries.len() - 1);
        let Some(e) = self.entries.get_mut(idx) else {
            return compute();
        };
        if *e & !Self::YES == key {
            return *e & Self::YES != 0;
        }
        let yes = compute();
        *e = key | if yes { Self::YES } else { 0 };
        yes
    }
}

/// The piece cache's hit rate is judged over this many lookups...
const WINDOW: u32 = 1024;
/// ...and when fewer than a quarter hit, this many pieces skip the cache
/// (a miss costs a lookup and an insert; a hit saves a merge of a short
/// piece, worth a few misses). It is tried again afterwards.
const BYPASS: u32 = 16 * 1024;

/// The cache is judged only once it holds this many pieces.
const WARM_ENTRIES: usize = 8 * 1024;

/// log2 of the number of index slots of the piece cache. Slots go in
/// pairs (buckets of two, in one cache line): a piece may sit in either
/// slot of its bucket, so two frequent pieces whose hashes meet do not
/// keep evicting each other, as they would with one slot each.
const PIECE_SLOT_BITS: u32 = 18;
/// The piece cache is emptied when it holds this many live pieces.
const PIECE_MAX_ENTRIES: usize = 1 << 17;
/// Words of the arena, reserved once and never reallocated (no copy
/// doubles its memory for a moment). When it is full, the records of
/// evicted pieces are squeezed out ([`PieceCache::compact`]); only if live
/// records still fill three quarters of it is the cache emptied.
const ARENA_WORDS: usize = 6 * PIECE_MAX_ENTRIES;
/// A slot holds `tag << OFFSET_BITS | (word offset of the record + 1)`, 0
/// when empty; the tag (hash bits the bucket index does not use) rules out
/// most non-matching records without reading them.
const OFFSET_BITS: u32 = 20;
const OFFSET_MASK: u32 = (1 << OFFSET_BITS) - 1;
const _: () = assert!(ARENA_WORDS < OFFSET_MASK as usize);

use crate::table::prefix as word;

/// Cache of pieces → merged ranks. Each piece is one record in an arena
/// of words, `[hash, len | n << 32, bytes (little endian, zero padded,
/// eight per word)..., ranks (two per word)...]`, so a hit reads the index
/// bucket and then one record (one or two cache lines). Records are stored
/// in insertion order (compaction keeps it): the frequent pieces, met
/// first, sit close together.
pub(super) struct PieceCache {
    /// Encoder whose results the memos hold.
    pub(super) owner: u64,
    /// Buckets of two slots, each a tag and the word offset of a record in
    /// `arena` plus one (see [`OFFSET_BITS`]); 0 for an empty slot. The
    /// first slot of a bucket holds the newer piece.
    slots: Box<[u32]>,
    arena: Vec<u64>,
    /// Live records: those a slot points to.
    entries: usize,
    pub(super) pairs: PairMemo,
    /// Compatibility of token pairs for the backtracking merge.
    pub(super) valid: ValidMemo,
    /// Scratch of the backtracking merge.
    pub(super) scratch: super::backtrack::Scratch,
    /// Lookups and hits in the current window, pieces left to bypass.
    window: (u32, u32),
    bypass: u32,
}

impl Default for PieceCache {
    fn default() -> Self {
        Self {
            owner: 0,
            slots: vec![0; 1 << PIECE_SLOT_BITS].into_boxed_slice(),
            // Reserved address space; the OS backs it as it is written.
            arena: Vec::with_capacity(ARENA_WORDS),
            entries: 0,
            pairs: PairMemo::default(),
            valid: ValidMemo::default(),
            scratch: Default::default(),
            window: (0, 0),
            bypass: 0,
        }
    }
}

impl PieceCache {
    /// The cache of encoder `owner` among a thread's `caches` (most
    /// recently used first, at most `keep` of them), moved to the front: an
    /// existing one, a new one while there are fewer than `keep`, else the
    /// least recently used one emptied for `owner`.
    pub(super) fn of(caches: &mut Vec<PieceCache>, owner: u64, keep: usize) -> &mut PieceCache {
        match caches.iter().position(|c| c.owner == owner) {
            Some(i) => caches[..=i].rotate_right(1),
            None if caches.len() < keep.max(1) => {
                caches.insert(
                    0,
                    PieceCache {
                        owner,
                        ..PieceCache::default()
                    },
                );
            }
            None => {
                caches.rotate_right(1);
                caches[0].reset(owner);
            }
        }
        // Not empty: every branch above leaves `owner`'s cache first.
        &mut caches[0]
    }

    /// Forget everything and remember results for encoder `owner`.
    pub(super) fn reset(&mut self, owner: u64) {
        self.owner = owner;
        self.window = (0, 0);
        self.bypass = 0;
        self.clear_pieces();
        self.pairs.clear();
        self.valid.clear();
    }

    /// Whether to use the cache for the next piece (false while bypassing
    /// it after a window of poor hits).
    #[inline]
    pub(super) fn enabled(&mut self) -> bool {
        if self.bypass > 0 {
            self.bypass -= 1;
            return false;
        }
        true
    }

    /// Count one lookup; start bypassing after a poor window.
    #[inline]
    pub(super) fn record(&mut self, hit: bool) {
        self.window.0 += 1;
        self.window.1 += u32::from(hit);
        if self.window.0 >= WINDOW {
            // A cache still filling up (just created or cleared) is not
            // judged: its misses say nothing yet.
            if self.entries >= WARM_ENTRIES && self.window.1 * 4 < self.window.0 {
                self.bypass = BYPASS;
            }
            self.window = (0, 0);
        }
    }

    fn clear_pieces(&mut self) {
        self.slots.fill(0);
        self.arena.clear();
        self.entries = 0;
    }

    /// Index of the first slot of the bucket of `hash`.
    #[inline(always)]
    fn bucket(&self, hash: u64) -> usize {
        (hash >> (64 - PIECE_SLOT_BITS)) as usize & (self.slots.len() - 1) & !1
    }

    /// The tag bits of a slot for `hash`.
    #[inline(always)]
    fn tag(hash: u64) -> u32 {
        (hash as u32) << OFFSET_BITS
    }

    /// The slot value of a record of `hash` at word offset `at`.
    #[inline(always)]
    fn slot_value(hash: u64, at: usize) -> u32 {
        Self::tag(hash) | (at as u32 + 1)
    }

    /// Hash of a piece for [`Self::get_into`] and [`Self::insert`].
    #[inline(always)]
    pub(super) fn hash(piece: &[u8]) -> u64 {
        hash_bytes(piece)
    }

    /// Append the remembered ranks of `piece` (whose hash is `hash`) to
    /// `out`; false (nothing appended) if it is not remembered.
    #[inline]
    pub(super) fn get_into(&self, piece: &[u8], hash: u64, out: &mut Vec<Rank>) -> bool {
        let b = self.bucket(hash);
        let Some(&[first, second]) = self.slots.get(b..b + 2) else {
            return false;
        };
        let tag = Self::tag(hash);
        for s in [first, second] {
            if s != 0
                && s & !OFFSET_MASK == tag
                && self.record_into((s & OFFSET_MASK) as usize - 1, piece, hash, out)
            {
                return true;
            }
        }
        false
    }

    /// Append the ranks of the record at word offset `at` to `out` if it is
    /// the record of `piece`; false (nothing appended) otherwise.
    #[inline]
    fn record_into(&self, at: usize, piece: &[u8], hash: u64, out: &mut Vec<Rank>) -> bool {
        let Some(&[h, meta]) = self.arena.get(at..at + 2) else {
            return false;
        };
        if h != hash || meta as u32 as usize != piece.len() {
            return false;
        }
        let n = (meta >> 32) as usize;
        let bytes_at = at + 2;
        let ranks_at = bytes_at + piece.len().div_ceil(8);
        let Some(words) = self.arena.get(bytes_at..ranks_at + n.div_ceil(2)) else {
            return false;
        };
        let (bytes, ranks) = words.split_at(ranks_at - bytes_at);
        if !piece
            .chunks(8)
            .zip(bytes)
            .all(|(chunk, &w)| word(chunk) == w)
        {
            return false;
        }
        for k in 0..n {
            out.push((ranks[k / 2] >> (32 * (k % 2))) as Rank);
        }
        true
    }

    /// Words of the record of a piece of `len` bytes with `n` ranks.
    #[inline(always)]
    fn record_words(len: usize, n: usize) -> usize {
        2 + len.div_ceil(8) + n.div_ceil(2)
    }

    /// Remember `ranks` for `piece` (whose hash is `hash`) in the first slot
    /// of its bucket; the piece there moves to the second slot, and the one
    /// in the second slot, if any, is evicted.
    pub(super) fn insert(&mut self, piece: &[u8], hash: u64, ranks: &[Rank]) {
        let words = Self::record_words(piece.len(), ranks.len());
        if words > ARENA_WORDS / 4 {
            return;
        }
        if self.entries >= PIECE_MAX_ENTRIES {
            self.clear_pieces();
        }
        if self.arena.len() + words > ARENA_WORDS {
            self.compact();
            if self.arena.len() + words > ARENA_WORDS / 4 * 3 {
                self.clear_pieces();
            }
        }
        let at = self.arena.len();
        self.arena.push(hash);
        self.arena
            .push(piece.len() as u64 | (ranks.len() as u64) << 32);
        self.arena.extend(piece.chunks(8).map(word));
        self.arena.extend(
            ranks
                .chunks(2)
                .map(|p| u64::from(p[0]) | p.get(1).map_or(0, |&r| u64::from(r) << 32)),
        );
        let b = self.bucket(hash);
        let Some(bucket) = self.slots.get_mut(b..b + 2) else {
            return;
        };
        if bucket[1] != 0 {
            // Evicted; its record stays in the arena until a compaction.
            self.entries -= 1;
        }
        bucket[1] = bucket[0];
        bucket[0] = Self::slot_value(hash, at);
        self.entries += 1;
    }

    /// Squeeze the records of evicted pieces out of the arena, keeping the
    /// live ones in order and pointing their slots at their new places. A
    /// record is live when a slot of its bucket points to it. Linear in
    /// the arena's length; in place.
    fn compact(&mut self) {
        let len = self.arena.len();
        let (mut read, mut write) = (0, 0);
        while let Some(&[hash, meta]) = self.arena.get(read..read + 2) {
            let words = Self::record_words(meta as u32 as usize, (meta >> 32) as usize);
            if read + words > len {
                break;
            }
            let b = self.bucket(hash);
            let old = Self::slot_value(hash, read);
            let live = (b..b + 2).find(|&s| self.slots.get(s) == Some(&old));
            if let Some(s) = live {
                self.arena.copy_within(read..read + words, write);
                self.slots[s] = Self::slot_value(hash, write);
                write += words;
            }
            read += words;
        }
        self.arena.truncate(write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_cache_returns_exactly_what_was_stored() {
        let mut cache = PieceCache::default();
        cache.reset(7);
        let mut stored = Vec::new();
        for len in 1..=64usize {
            for n in [1, len.div_ceil(2), len] {
                let piece: Vec<u8> = (0..len).map(|i| (i * 37 + len * 11 + n) as u8).collect();
                let ranks: Vec<Rank> = (0..n as Rank).map(|r| r * 1000 + len as Rank).collect();
                let hash = PieceCache::hash(&piece);
                let mut out = vec![99];
                assert!(!cache.get_into(&piece, hash, &mut out) || out[1..] == ranks[..]);
                cache.insert(&piece, hash, &ranks);
                stored.push((piece, ranks));
            }
        }
        for (piece, ranks) in &stored {
            let mut out = vec![99];
            // A later piece may have taken the slot; a hit must be exact.
            if cache.get_into(piece, PieceCache::hash(piece), &mut out) {
                assert_eq!(out[0], 99);
                assert_eq!(&out[1..], &ranks[..]);
            } else {
                assert_eq!(out, [99]);
            }
        }
        // The last piece stored is found; a piece differing in its last
        // byte, given the same hash, is not.
        let (piece, ranks) = stored.last().unwrap();
        let hash = PieceCache::hash(piece);
        let mut out = Vec::new();
        assert!(cache.get_into(piece, hash, &mut out));
        assert_eq!(&out, ranks);
        let mut other = piece.clone();
        *other.last_mut().unwrap() ^= 1;
        assert!(!cache.get_into(&other, hash, &mut Vec::new()));
        assert!(!cache.get_into(&piece[..piece.len() - 1], hash, &mut Vec::new()));
        cache.reset(8);
        assert!(!cache.get_into(piece, hash, &mut Vec::new()));
    }

    /// A hash whose bucket is `bucket` and whose tag is `tag`.
    fn hash_in(bucket: u64, tag: u64) -> u64 {
        bucket << (64 - PIECE_SLOT_BITS + 1) | tag
    }

    fn found(cache: &PieceCache, piece: &[u8], hash: u64) -> Option<Vec<Rank>> {
        let mut out = Vec::new();
        cache.get_into(piece, hash, &mut out).then_some(out)
    }

    #[test]
    fn a_bucket_keeps_its_two_newest_pieces() {
        let mut cache = PieceCache::default();
        // Same bucket and same tag: only the stored bytes tell them apart.
        let h = hash_in(5, 3);
        cache.insert(b"alpha", h, &[1]);
        cache.insert(b"beta", h, &[2, 3]);
        assert_eq!(found(&cache, b"alpha", h), Some(vec![1]));
        assert_eq!(found(&cache, b"beta", h), Some(vec![2, 3]));
        cache.insert(b"gamma", h, &[4]);
        assert_eq!(found(&cache, b"alpha", h), None);
        assert_eq!(found(&cache, b"beta", h), Some(vec![2, 3]));
        assert_eq!(found(&cache, b"gamma", h), Some(vec![4]));
        assert_eq!(cache.entries, 2);
        // Another bucket is untouched.
        assert_eq!(found(&cache, b"beta", hash_in(6, 3)), None);
    }

    #[test]
    fn a_full_arena_is_compacted_not_emptied() {
        let mut cache = PieceCache::default();
        // A piece in a bucket of its own, stored first and never evicted.
        let lone = hash_in(70_000, 9);
        cache.insert(b"kept from the start", lone, &[42, 43, 44]);
        // Then rounds of pieces over 1000 buckets: each round evicts the
        // one before the last, so most of the arena turns dead.
        let piece = |round: u32, i: u64| format!("{round}:{i}").into_bytes();
        let mut compacted = false;
        for round in 0..400u32 {
            for i in 0..1000u64 {
                let before = cache.arena.len();
                cache.insert(&piece(round, i), hash_in(i, i), &[round, i as Rank]);
                compacted |= cache.arena.len() < before;
            }
        }
        assert!(compacted, "the arena never filled up");
        assert!(cache.arena.len() <= ARENA_WORDS);
        assert_eq!(cache.entries, 2 * 1000 + 1);
        assert_eq!(
            found(&cache, b"kept from the start", lone),
            Some(vec![42, 43, 44])
        );
        for i in 0..1000u64 {
            for round in [398, 399] {
                assert_eq!(
                    found(&cache, &piece(round, i), hash_in(i, i)),
                    Some(vec![round, i as Rank])
                );
            }
            assert_eq!(found(&cache, &piece(397, i), hash_in(i, i)), None);
        }
    }

    #[test]
    fn too_many_live_pieces_empty_the_cache() {
        let mut cache = PieceCache::default();
        let mut n = 0u64;
        while cache.entries < PIECE_MAX_ENTRIES {
            let piece = n.to_le_bytes();
            cache.insert(&piece, PieceCache::hash(&piece), &[n as Rank]);
            n += 1;
            assert!(n < 4 * PIECE_MAX_ENTRIES as u64);
        }
        let piece = n.to_le_bytes();
        cache.insert(&piece, PieceCache::hash(&piece), &[n as Rank]);
        assert_eq!(cache.entries, 1);
        assert_eq!(
            found(&cache, &piece, PieceCache::hash(&piece)),
            Some(vec![n as Rank])
        );
    }
}
