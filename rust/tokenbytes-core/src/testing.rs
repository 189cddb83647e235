//! Deterministic random inputs shared by the unit tests.

/// A 64-bit linear congruential generator (fixed seed, no dependencies).
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    /// The next 31 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// `len` bytes drawn from `alphabet`.
    pub(crate) fn piece(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[self.next() as usize % alphabet.len()])
            .collect()
    }
}
