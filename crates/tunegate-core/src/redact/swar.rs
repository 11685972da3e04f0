//! Finding the next byte of a small class eight bytes at a time (SWAR: plain `u64` arithmetic, no
//! `unsafe`). The detectors' skip loops (to the next digit, capital or trigger byte) went one
//! byte per iteration with a table lookup; on prose the runs between candidates are long.
//!
//! Each mask function sets the high bit of exactly the bytes of its class (no false positives:
//! every byte is computed on its low seven bits, so no carry crosses into the next byte).

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HI: u64 = 0x8080_8080_8080_8080;

const fn rep(c: u8) -> u64 {
    0x0101_0101_0101_0101 * c as u64
}

/// Bytes in `lo..=hi` (both below 0x80).
#[inline(always)]
pub(crate) const fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let l = x & LO7;
    // High bit of `l + (0x80 - lo)`: `l >= lo`; of `l + (0x7f - hi)`: `l > hi`; `!x`: ASCII.
    (l + rep(0x80 - lo)) & !(l + rep(0x7f - hi)) & !x & HI
}

/// Bytes equal to `c`.
#[inline(always)]
pub(crate) const fn eq(x: u64, c: u8) -> u64 {
    let t = x ^ rep(c);
    !(((t & LO7) + LO7) | t) & HI
}

/// Bytes at or above `c` (`c >= 0x80`).
#[inline(always)]
pub(crate) const fn at_least_high(x: u64, c: u8) -> u64 {
    ((x & LO7) + rep(0x80 - (c & 0x7f))) & x & HI
}

/// Bytes in `lo..=hi` (both at or above 0x80).
#[inline(always)]
pub(crate) const fn in_high_range(x: u64, lo: u8, hi: u8) -> u64 {
    let l = x & LO7;
    (l + rep(0x80 - (lo & 0x7f))) & !(l + rep(0x7f - (hi & 0x7f))) & x & HI
}

/// Bytes tested one at a time before `find` switches to eight at a time.
const HEAD: usize = 4;

/// The first position at or after `i` whose byte is in the class: `mask` marks the class's bytes
/// of eight (high bit), `byte` decides one byte (the tail). `b.len()` when there is none.
#[inline(always)]
pub(crate) fn find(
    b: &[u8],
    mut i: usize,
    mask: impl Fn(u64) -> u64,
    byte: impl Fn(u8) -> bool,
) -> usize {
    // Runs between candidates are short in dense text: byte by byte first, where the class is
    // one lookup; eight at a time once the run proves long (prose).
    for _ in 0..HEAD {
        match b.get(i) {
            Some(&c) if !byte(c) => i += 1,
            _ => return i,
        }
    }
    while let Some(w) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let m = mask(u64::from_le_bytes(*w));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if byte(c) {
            return i;
        }
        i += 1;
    }
    b.len().max(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value in every lane, beside every other value class, against the byte test.
    fn exact(mask: impl Fn(u64) -> u64, byte: impl Fn(u8) -> bool) {
        for fill in [0u8, 0x20, 0x41, 0x7f, 0x80, 0xc3, 0xff] {
            for lane in 0..8 {
                for v in 0..=255u8 {
                    let mut w = [fill; 8];
                    w[lane] = v;
                    let m = mask(u64::from_le_bytes(w));
                    for (k, &c) in w.iter().enumerate() {
                        assert_eq!(m >> (8 * k + 7) & 1 == 1, byte(c), "{w:?} lane {k}");
                        assert_eq!(m >> (8 * k) & 0x7f, 0, "only high bits");
                    }
                }
            }
        }
    }

    #[test]
    fn masks_are_exact() {
        exact(|x| in_range(x, b'0', b'9'), |c| c.is_ascii_digit());
        exact(|x| in_range(x, b'A', b'Z'), |c| c.is_ascii_uppercase());
        exact(|x| in_range(x, 0, 0x7f), |c| c < 0x80);
        exact(|x| eq(x, b'@'), |c| c == b'@');
        exact(|x| eq(x, 0), |c| c == 0);
        exact(|x| eq(x, 0xff), |c| c == 0xff);
        exact(|x| at_least_high(x, 0xC3), |c| c >= 0xC3);
        exact(|x| at_least_high(x, 0x80), |c| c >= 0x80);
        exact(
            |x| in_high_range(x, 0xE3, 0xE9),
            |c| (0xE3..=0xE9).contains(&c),
        );
        exact(|x| in_high_range(x, 0x80, 0xFF), |c| c >= 0x80);
        exact(|x| in_range(x, b'0', b':'), |c| (b'0'..=b':').contains(&c));
        exact(|x| in_range(x, 0, 0x1f), |c| c < 0x20);
        exact(|x| eq(x, b'\\'), |c| c == b'\\');
    }

    #[test]
    fn find_is_the_first_byte_of_the_class() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut b = Vec::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly lower-case letters, sometimes anything.
                let c = if seed.is_multiple_of(5) {
                    (seed >> 8) as u8
                } else {
                    b'a' + (seed >> 8) as u8 % 26
                };
                b.push(c);
            }
            for i in 0..=b.len() + 1 {
                let want = (i..b.len())
                    .find(|&k| b[k].is_ascii_digit())
                    .unwrap_or(b.len().max(i));
                let got = find(&b, i, |x| in_range(x, b'0', b'9'), |c| c.is_ascii_digit());
                assert_eq!(got, want, "{b:?} from {i}");
            }
        }
    }
}
