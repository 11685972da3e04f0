//! Identifier generation. Seeded, so that a run with the same seed and the same requests produces
//! the same ids (handy when comparing logs between runs).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Base62 in ASCII order, so that ids built from a zero-padded counter sort like the counter.
const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub struct IdGen {
    rng: StdRng,
    seq: u64,
}

impl IdGen {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            seq: 0,
        }
    }

    /// `n` random base62 characters.
    pub fn random(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| B62[self.rng.random_range(0..B62.len())] as char)
            .collect()
    }

    /// `n` random lowercase hex characters.
    pub fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        (0..n)
            .map(|_| HEX[self.rng.random_range(0..16)] as char)
            .collect()
    }

    /// A monotonically increasing sequence number (insertion order for stable sorting).
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// An id whose first 8 characters encode a global counter, so ids sort in creation order
    /// (OpenAI's event ids increase; clients may compare them).
    pub fn ordered(&mut self, prefix: &str, random_tail: usize) -> String {
        let seq = self.next_seq();
        let mut head = [b'0'; 8];
        let mut v = seq;
        for slot in head.iter_mut().rev() {
            *slot = B62[(v % 62) as usize];
            v /= 62;
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        format!("{prefix}{head}{}", self.random(random_tail))
    }

    pub fn seed_value(&mut self) -> i64 {
        self.rng.random_range(0..=2_147_483_647)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_ids_sort_by_creation() {
        let mut g = IdGen::new(7);
        let ids: Vec<String> = (0..200).map(|_| g.ordered("ftevent-", 16)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids[0].len(), "ftevent-".len() + 24);
    }

    #[test]
    fn same_seed_same_ids() {
        let mut a = IdGen::new(1);
        let mut b = IdGen::new(1);
        assert_eq!(a.random(24), b.random(24));
        assert_ne!(IdGen::new(2).random(24), IdGen::new(3).random(24));
    }
}
