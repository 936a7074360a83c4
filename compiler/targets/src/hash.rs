//! A small stable hash for content fingerprints (`plinth.dev/spec-hash`) and name
//! suffixes. FNV-1a 64: fixed constants, no seed, the same value on every machine and
//! every Rust version, unlike `std`'s `DefaultHasher`.

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(OFFSET_BASIS, |acc, b| {
        (acc ^ u64::from(*b)).wrapping_mul(PRIME)
    })
}

/// FNV-1a 64 as 16 lowercase hex digits.
pub fn fnv1a64_hex(bytes: &[u8]) -> String {
    hex(fnv1a64(bytes))
}

/// How many inputs [`fnv1a64_lanes`] hashes side by side.
pub const LANES: usize = 4;

/// FNV-1a 64 of [`LANES`] inputs at once, each the same as [`fnv1a64`] of it.
///
/// One FNV-1a hash is a chain of dependent steps (an xor and a multiply, about four
/// cycles a byte) that the CPU cannot overlap; the chains of independent inputs it can.
/// Hashed side by side over their common length, four inputs cost about as much as one.
pub fn fnv1a64_lanes(inputs: [&[u8]; LANES]) -> [u64; LANES] {
    let common = inputs.iter().map(|b| b.len()).min().unwrap_or(0);
    let [a, b, c, d] = inputs.map(|bytes| bytes.split_at_checked(common).unwrap_or_default());
    let step = |acc: u64, byte: &u8| (acc ^ u64::from(*byte)).wrapping_mul(PRIME);
    let mut lanes = [OFFSET_BASIS; LANES];
    for (((a, b), c), d) in a.0.iter().zip(b.0).zip(c.0).zip(d.0) {
        let [ha, hb, hc, hd] = &mut lanes;
        *ha = step(*ha, a);
        *hb = step(*hb, b);
        *hc = step(*hc, c);
        *hd = step(*hd, d);
    }
    // The rest of each longer input, one after the other.
    for (hash, rest) in lanes.iter_mut().zip([a.1, b.1, c.1, d.1]) {
        *hash = rest.iter().fold(*hash, step);
    }
    lanes
}

/// A hash as 16 lowercase hex digits.
pub fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// FNV-1a 64 as an `io::Write` sink, so a value can be hashed as it is serialized,
/// without building its bytes first. Gives the same hash as [`fnv1a64`] of the bytes.
pub struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64(OFFSET_BASIS)
    }
}

impl Fnv1a64 {
    /// The hash as 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        hex(self.0)
    }
}

impl std::io::Write for Fnv1a64 {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = bytes
            .iter()
            .fold(self.0, |acc, b| (acc ^ u64::from(*b)).wrapping_mul(PRIME));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streaming_hash_equals_the_hash_of_the_bytes() {
        use std::io::Write;
        let mut h = Fnv1a64::default();
        h.write_all(b"foo").unwrap();
        h.write_all(b"bar").unwrap();
        assert_eq!(h.hex(), fnv1a64_hex(b"foobar"));
    }

    #[test]
    fn hashing_side_by_side_equals_hashing_each() {
        let inputs: [&[u8]; LANES] = [b"foobar", b"", b"a longer input than the others", b"foo"];
        assert_eq!(fnv1a64_lanes(inputs), inputs.map(fnv1a64));
        let same: [&[u8]; LANES] = [b"abc"; LANES];
        assert_eq!(fnv1a64_lanes(same), [fnv1a64(b"abc"); LANES]);
    }

    #[test]
    fn matches_the_published_test_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a64_hex(b"a"), "af63dc4c8601ec8c");
    }
}
