//! Leftmost-longest Aho-Corasick searches stepped one byte at a time by the caller.
//!
//! The secret and context scanners each walk a DFA over the whole string. One DFA step is a table
//! load that depends on the previous one, so a lone walk mostly waits on memory; two walks
//! advanced in the same loop overlap those waits and cost little more than one. `Walk` yields
//! exactly the matches of `AhoCorasick::find_iter` with `MatchKind::LeftmostLongest` over the same
//! patterns (the search loop of `aho_corasick::automaton`, without a prefilter; tested against it).

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// A match: pattern index, start, end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub pattern: usize,
    pub start: usize,
    pub end: usize,
}

/// What one step produced.
pub(crate) enum Step {
    /// Still searching.
    More,
    /// A match; the next search starts at its end.
    Hit(Hit),
    /// No more matches.
    Done,
}

/// A leftmost-longest DFA without a prefilter (its start state must not be special: `Walk` has
/// no prefilter to run there) over non-empty patterns.
pub(crate) fn build<I, P>(patterns: I, case_insensitive: bool) -> Result<Dfa, String>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let dfa = DFA::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(case_insensitive)
        .prefilter(false)
        .build(patterns)
        .map_err(|e| e.to_string())?;
    let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
    // An empty pattern would make the start state a match state, which `Walk` does not handle.
    if dfa.is_special(start) {
        return Err("unexpected special start state".to_string());
    }
    Ok(Dfa { dfa, start })
}

pub(crate) struct Dfa {
    dfa: DFA,
    start: StateID,
}

impl Dfa {
    pub(crate) fn walk(&self) -> Walk<'_> {
        Walk {
            dfa: &self.dfa,
            start: self.start,
            sid: self.start,
            at: 0,
            mat: None,
        }
    }
}

pub(crate) struct Walk<'a> {
    dfa: &'a DFA,
    start: StateID,
    sid: StateID,
    /// Next byte to read.
    at: usize,
    /// Longest match seen since the search (re)started; reported when the DFA dies or the text
    /// ends.
    mat: Option<Hit>,
}

impl Walk<'_> {
    #[inline(always)]
    pub(crate) fn step(&mut self, hay: &[u8]) -> Step {
        let Some(&c) = hay.get(self.at) else {
            return self.report();
        };
        self.sid = self.dfa.next_state(Anchored::No, self.sid, c);
        if self.dfa.is_special(self.sid) {
            if self.dfa.is_dead(self.sid) {
                return self.report();
            }
            // Not dead and not the start (which is not special): a match state.
            let pid = self.dfa.match_pattern(self.sid, 0);
            let end = self.at + 1;
            self.mat = Some(Hit {
                pattern: pid.as_usize(),
                start: end - self.dfa.pattern_len(pid),
                end,
            });
        }
        self.at += 1;
        Step::More
    }

    /// Starts the next search at `at` instead (after a `Hit`, which already reset the state):
    /// past a finding, or just after the start of a literal that turned out not to be one, so
    /// an anchor overlapping it (`AKIA` in `id:AKIA...`, hidden by `:A`) is still seen.
    pub(crate) fn resume_at(&mut self, at: usize) {
        if self.at != usize::MAX {
            self.at = at;
            self.sid = self.start;
            self.mat = None;
        }
    }

    /// The search ended (dead state or end of text): its match, and the next search starts at
    /// the match's end (never empty, so it always moves forward).
    fn report(&mut self) -> Step {
        match self.mat.take() {
            Some(m) => {
                self.at = m.end;
                self.sid = self.start;
                Step::Hit(m)
            }
            None => {
                self.at = usize::MAX;
                Step::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::corpus::Rng;
    use aho_corasick::{AhoCorasick, AhoCorasickKind};

    fn walked(d: &Dfa, hay: &[u8]) -> Vec<Hit> {
        let mut w = d.walk();
        let mut v = Vec::new();
        loop {
            match w.step(hay) {
                Step::More => {}
                Step::Hit(m) => v.push(m),
                Step::Done => return v,
            }
        }
    }

    /// Strings made of pieces of the patterns (prefixes, suffixes, case flips) and separators:
    /// the overlaps where leftmost-longest has to back off and restart.
    fn adversarial(rng: &mut Rng, pats: &[String]) -> String {
        let mut s = String::new();
        for _ in 0..rng.below(24) {
            let p = rng.pick(pats);
            let cut = |rng: &mut Rng| {
                let mut k = rng.below(p.len() + 1);
                while !p.is_char_boundary(k) {
                    k -= 1;
                }
                k
            };
            let piece = match rng.below(4) {
                0 => p.clone(),
                1 => p[..cut(rng)].to_string(),
                2 => p[cut(rng)..].to_string(),
                _ => p.to_ascii_uppercase(),
            };
            s.push_str(&piece);
            if rng.chance(0.3) {
                const SEPS: [&str; 7] = [" ", "-", "_", "é", "1", ":", "k"];
                let sep: &&str = rng.pick(&SEPS);
                s.push_str(sep);
            }
        }
        s
    }

    fn same_as_aho_corasick(pats: &[String], ci: bool) {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(ci)
            .kind(Some(AhoCorasickKind::DFA))
            .build(pats)
            .unwrap();
        let d = build(pats, ci).unwrap();
        let mut rng = Rng::new(7);
        let mut texts: Vec<String> = crate::redact::corpus::generate(11, 300)
            .into_iter()
            .map(|e| e.line)
            .collect();
        for _ in 0..20_000 {
            texts.push(adversarial(&mut rng, pats));
        }
        for t in &texts {
            let want: Vec<Hit> = ac
                .find_iter(t.as_bytes())
                .map(|m| Hit {
                    pattern: m.pattern().as_usize(),
                    start: m.start(),
                    end: m.end(),
                })
                .collect();
            assert_eq!(walked(&d, t.as_bytes()), want, "{t:?}");
        }
    }

    #[test]
    fn secret_anchors_match_aho_corasick() {
        same_as_aho_corasick(&crate::redact::secrets::SecretScanner::literals(), false);
    }

    #[test]
    fn context_cues_match_aho_corasick() {
        let pats: Vec<String> = crate::redact::context::ContextScanner::patterns()
            .into_iter()
            .map(str::to_string)
            .collect();
        same_as_aho_corasick(&pats, true);
    }
}
#[cfg(test)]
mod tmp_mem {
    #[test]
    fn tmp_dfa_memory() {
        use aho_corasick::automaton::Automaton;
        let s = super::super::secrets::SecretScanner::new(true, true).unwrap();
        eprintln!("DFA memory {} states? stride?", s.dfa().dfa.memory_usage());
    }
}
