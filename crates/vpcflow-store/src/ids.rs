//! Ids that must come out the same after a restart (object names, request ids, record ids):
//! the one stable hash every crate derives them with, and AWS's GUID shape.

/// A 64-bit FNV-1a hash of `parts`, each followed by a separator (so that ("ab", "c") and
/// ("a", "bc") differ): stable across runs and builds.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A GUID-shaped id (`8-4-4-4-12` hex digits) from the hash of `parts`, and a second hash of
/// that one with `salt` for the last 64 bits.
pub fn guid(parts: &[&[u8]], salt: &[u8]) -> String {
    let a = stable_hash(parts);
    let b = stable_hash(&[&a.to_le_bytes(), salt]);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_guids_are_stable_and_separate_their_parts() {
        // FNV-1a of the empty input with the separator alone.
        assert_eq!(stable_hash(&[]), 0xcbf2_9ce4_8422_2325);
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        let g = guid(&[b"stream", &7u64.to_le_bytes()], b"request-id");
        assert_eq!(g, guid(&[b"stream", &7u64.to_le_bytes()], b"request-id"));
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
        assert_ne!(g, guid(&[b"stream", &8u64.to_le_bytes()], b"request-id"));
    }
}
