//! The compiled policy: every detector, plus the allow-list and the mask guard, over one decoded
//! string value.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::secrets::SecretScanner;
use super::structured::{self, Enabled, is_word};
use super::{EntityType, Finding, PolicyError, RedactionPolicy};

pub(crate) struct Engine {
    enabled: Enabled,
    secrets: Option<SecretScanner>,
    context: Option<super::context::ContextScanner>,
    custom: Vec<(u16, regex::Regex)>,
    deny: Option<(AhoCorasick, Vec<u16>)>,
    allow: Option<AhoCorasick>,
    /// Entity names in index order: the 8 built-ins, then custom patterns, then deny lists.
    pub(crate) names: Vec<String>,
    /// Names that a mask token may carry; text inside such a token is never a finding again.
    mask_names: AhoCorasick,
}

impl Engine {
    pub(crate) fn new(policy: &RedactionPolicy) -> Result<Self, PolicyError> {
        let has = |e: EntityType| policy.entities.contains(&e);
        let mut enabled = Enabled(0);
        for (k, e) in EntityType::ALL.iter().enumerate() {
            if has(*e) {
                enabled.0 |= 1 << k;
            }
        }
        let secrets = if has(EntityType::Secret) {
            Some(
                SecretScanner::new(has(EntityType::EmailAddress), has(EntityType::Person))
                    .map_err(PolicyError::Matcher)?,
            )
        } else {
            None
        };
        // The cue automaton also finds the names of short numeric credentials (PIN, OTP, CVV).
        let context = if has(EntityType::Passport)
            || has(EntityType::DriverLicense)
            || has(EntityType::DateOfBirth)
            || has(EntityType::PostalAddress)
            || has(EntityType::Secret)
        {
            Some(super::context::ContextScanner::new().map_err(PolicyError::Matcher)?)
        } else {
            None
        };
        let mut names: Vec<String> = EntityType::ALL
            .iter()
            .map(|e| e.as_str().to_string())
            .collect();
        let intern = |name: &str, names: &mut Vec<String>| -> Result<u16, PolicyError> {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
                || !name.as_bytes()[0].is_ascii_uppercase()
            {
                return Err(PolicyError::InvalidName(name.to_string()));
            }
            if let Some(k) = names.iter().position(|n| n == name) {
                return Ok(k as u16);
            }
            if names.len() >= u16::MAX as usize {
                return Err(PolicyError::TooMany);
            }
            names.push(name.to_string());
            Ok((names.len() - 1) as u16)
        };
        use super::limits;
        let over = |limit: &'static str, max: usize| PolicyError::LimitExceeded { limit, max };
        if policy.custom_patterns.len() > limits::CUSTOM_PATTERNS {
            return Err(over("customPatterns", limits::CUSTOM_PATTERNS));
        }
        if policy.deny_list.len() > limits::DENY_LISTS {
            return Err(over("denyList", limits::DENY_LISTS));
        }
        let terms_total: usize = policy.deny_list.iter().map(|d| d.terms.len()).sum();
        if terms_total > limits::TERMS {
            return Err(over("denyListTerms", limits::TERMS));
        }
        if policy.allow_list.len() > limits::TERMS {
            return Err(over("allowList", limits::TERMS));
        }
        let long_term = policy
            .deny_list
            .iter()
            .flat_map(|d| d.terms.iter())
            .chain(policy.allow_list.iter())
            .any(|t| t.len() > limits::TERM_BYTES);
        if long_term {
            return Err(over("termBytes", limits::TERM_BYTES));
        }
        let regex_bytes: usize = policy.custom_patterns.iter().map(|c| c.regex.len()).sum();
        if regex_bytes > limits::REGEX_BYTES {
            return Err(over("regexBytes", limits::REGEX_BYTES));
        }
        let mut custom = Vec::new();
        for cp in &policy.custom_patterns {
            let id = intern(&cp.name, &mut names)?;
            let re = regex::RegexBuilder::new(&cp.regex)
                .size_limit(limits::REGEX_COMPILED)
                .dfa_size_limit(limits::REGEX_COMPILED)
                .build()
                .map_err(|e| match e {
                    regex::Error::CompiledTooBig(_) => {
                        over("regexCompiledSize", limits::REGEX_COMPILED)
                    }
                    e => PolicyError::InvalidPattern {
                        name: cp.name.clone(),
                        reason: e.to_string(),
                    },
                })?;

            if re.is_match("") {
                return Err(PolicyError::EmptyMatch {
                    name: cp.name.clone(),
                });
            }
            custom.push((id, re));
        }
        let mut terms = Vec::new();
        let mut term_ids = Vec::new();
        for dl in &policy.deny_list {
            let id = intern(&dl.name, &mut names)?;
            for t in &dl.terms {
                if t.trim().is_empty() {
                    return Err(PolicyError::EmptyDenyTerm {
                        name: dl.name.clone(),
                    });
                }
                terms.push(t.clone());
                term_ids.push(id);
            }
        }
        let ci = |pats: &[String], kind: MatchKind| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(kind)
                .build(pats)
                .map_err(|e| PolicyError::Matcher(e.to_string()))
        };
        let deny = if terms.is_empty() {
            None
        } else {
            Some((ci(&terms, MatchKind::LeftmostLongest)?, term_ids))
        };
        let allow_terms: Vec<String> = policy
            .allow_list
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect();
        let allow = if allow_terms.is_empty() {
            None
        } else {
            Some(ci(&allow_terms, MatchKind::LeftmostLongest)?)
        };
        let bracketed: Vec<String> = names.iter().map(|n| format!("[{n}")).collect();
        let mask_names = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&bracketed)
            .map_err(|e| PolicyError::Matcher(e.to_string()))?;
        Ok(Self {
            enabled,
            secrets,
            context,
            custom,
            deny,
            allow,
            names,
            mask_names,
        })
    }

    pub(crate) fn secrets_on(&self) -> bool {
        self.secrets.is_some()
    }

    pub(crate) fn entity_on(&self, ent: u16) -> bool {
        self.enabled.on(ent)
    }

    /// Findings in a string under a key that names a personal-data type (`phone`, `dob`,
    /// `full_name`): what the detectors find, or else the whole value as `ent` when it has that
    /// type's shape (`keyed::value_fits`). Same contract as [`Engine::find`].
    #[must_use]
    pub(crate) fn find_pii_keyed(
        &self,
        text: &str,
        ent: u16,
        generic: bool,
        out: &mut Vec<Finding>,
        cap: usize,
    ) -> bool {
        if !self.find_with(text, None, true, out, cap) {
            return false;
        }
        if out.is_empty() && super::keyed::value_fits(ent, text, generic) {
            let s = text.len() - text.trim_start().len();
            let e = text.trim_end().len();
            if s < e {
                out.push(Finding::new(s, e, ent));
                self.drop_protected(text, out);
            }
        }
        true
    }

    /// Findings in a chat message's text: what the detectors find; the whole message when it
    /// is nothing but an identifier that elsewhere needs a context word
    /// (`context::lone_identifier`); and the value of type `asked` that the previous message
    /// asked for (`context::answer`). Same contract as [`Engine::find`].
    #[must_use]
    pub(crate) fn find_message(
        &self,
        text: &str,
        asked: Option<u16>,
        out: &mut Vec<Finding>,
        cap: usize,
    ) -> bool {
        if !self.find_with(text, None, true, out, cap) {
            return false;
        }
        let before = out.len();
        if out.is_empty()
            && let Some(f) = super::context::lone_identifier(&self.enabled, text)
        {
            out.push(f);
        }
        if let Some(ent) = asked
            && let Some((s, e)) = super::context::answer(text, ent)
            && !out
                .iter()
                .any(|f| (f.start as usize) < e && s < f.end as usize)
        {
            let at = out.partition_point(|f| (f.start as usize) < s);
            out.insert(at, Finding::new(s, e, ent));
        }
        if out.len() != before {
            self.drop_protected(text, out);
        }
        true
    }

    /// The type of value `text` asks for, which the next message then answers
    /// (`ContextScanner::asks_for`).
    pub(crate) fn asks_for(&self, text: &str) -> Option<u16> {
        self.context.as_ref()?.asks_for(&self.enabled, text)
    }

    /// Findings in a string that sits under a secret-ish JSON key. Under a credential name
    /// (`api_key`, `password`, ...) the whole value is a secret unless it is a reference or a
    /// placeholder, whatever its shape; under a name that only `hints` at one (`cosmosKey`), when
    /// it looks random on its own. `false` when the string has more candidate findings than
    /// [`max_findings`] or `cap` allow (`out` is then empty).
    #[must_use]
    pub(crate) fn find_keyed(
        &self,
        text: &str,
        hints: bool,
        out: &mut Vec<Finding>,
        cap: usize,
    ) -> bool {
        let whole = match (&self.secrets, hints) {
            (None, _) => None,
            (Some(_), false) => super::secrets::json_secret_value(text),
            (Some(_), true) => super::secrets::json_hinted_secret_value(text),
        };
        self.find_with(text, whole, true, out, cap)
    }

    /// Findings in `text`, sorted, non-overlapping, minus allow-listed values and mask tokens;
    /// `false` when there are more candidates than [`max_findings`] of `text` or `cap` allow
    /// (`out` is then empty).
    #[must_use]
    pub(crate) fn find(&self, text: &str, out: &mut Vec<Finding>, cap: usize) -> bool {
        self.find_with(text, None, true, out, cap)
    }

    /// Findings in a generated identifier (`tool_call_id`, a tool call's `id`): as [`Engine::find`]
    /// without the random-token rule. Such ids are random by design and link a call to its result;
    /// a mask would break the link, and personal data or a shaped key in one is still found.
    #[must_use]
    pub(crate) fn find_generated_id(&self, text: &str, out: &mut Vec<Finding>, cap: usize) -> bool {
        self.find_with(text, None, false, out, cap)
    }

    fn find_with(
        &self,
        text: &str,
        extra: Option<(usize, usize)>,
        random_tokens: bool,
        out: &mut Vec<Finding>,
        cap: usize,
    ) -> bool {
        out.clear();
        let cap = max_findings(text.len()).min(cap);
        let over = |out: &mut Vec<Finding>| {
            if out.len() > cap {
                out.clear();
                true
            } else {
                false
            }
        };
        if let Some((s, e)) = extra {
            out.push(Finding::new(s, e, super::ENT_SECRET));
        }
        structured::scan(&self.enabled, text, out);
        if over(out) {
            return false;
        }
        // Every passport, licence and date value and every postal address holds an ASCII digit
        // (a house number): text without one skips those passes.
        let digits = text.bytes().any(|c| c.is_ascii_digit());
        let context = self.context.as_ref().filter(|_| digits);
        // Asked by the non-ASCII password words and the uncased name introductions: once here.
        let ascii = text.is_ascii();
        let person_cues = self.walk_anchors(text.as_bytes(), ascii, context, random_tokens, out);
        if self.secrets.is_some() {
            super::manifest::scan(text, out);
        }
        if over(out) {
            return false;
        }
        if self.enabled.on(super::ENT_PERSON) {
            // The secret walk found the lower-case name cues; without it, the name scanner
            // looks for them itself.
            let cues = self.secrets.as_ref().map(|_| &person_cues[..]);
            super::names::scan_people(text, ascii, cues, out);
        }
        // Written-out e-mail addresses are anchors of the secret walk; without it, one search.
        if self.secrets.is_none() && self.enabled.on(super::ENT_EMAIL) {
            super::obfuscated::scan(text, out);
        }
        if digits && self.enabled.on(super::ENT_POSTAL_ADDRESS) {
            super::names::scan_addresses(text, out);
        }
        if over(out) {
            return false;
        }
        for (id, re) in &self.custom {
            for m in re.find_iter(text) {
                if m.end() > m.start() {
                    out.push(Finding::new(m.start(), m.end(), *id));
                    if out.len() > cap {
                        out.clear();
                        return false;
                    }
                }
            }
        }
        if let Some((ac, ids)) = &self.deny {
            let b = text.as_bytes();
            for m in ac.find_iter(b) {
                if out.len() > cap {
                    out.clear();
                    return false;
                }
                let left_ok =
                    m.start() == 0 || !is_word(b[m.start()]) || !is_word(b[m.start() - 1]);
                let right_ok =
                    m.end() == b.len() || !is_word(b[m.end() - 1]) || !is_word(b[m.end()]);
                if left_ok && right_ok {
                    out.push(Finding::new(
                        m.start(),
                        m.end(),
                        ids[m.pattern().as_usize()],
                    ));
                }
            }
        }
        if over(out) {
            return false;
        }
        if out.is_empty() {
            return true;
        }
        out.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        self.drop_protected(text, out);
        resolve_overlaps(out);
        true
    }

    /// The secret scanner's anchors and the context scanner's cues, both found by walking their
    /// DFAs in one loop (see `walk`); returns the ends of the lower-case name cues the secret
    /// walk passed. Findings are pushed in the order of separate scans: every
    /// secret, then every context value (ties in `resolve_overlaps` keep the first pushed).
    fn walk_anchors(
        &self,
        b: &[u8],
        ascii: bool,
        context: Option<&super::context::ContextScanner>,
        random_tokens: bool,
        out: &mut Vec<Finding>,
    ) -> Vec<usize> {
        use super::walk::Step;
        let from = out.len();
        let mut state = super::secrets::WalkState::default();
        // Cue matches wait here until every secret is pushed; at most one per byte of `b`.
        let mut cues: Vec<super::walk::Hit> = Vec::new();
        match (&self.secrets, context) {
            (Some(s), Some(c)) => {
                let (mut ws, mut wc) = (s.dfa().walk(), c.dfa().walk());
                let (mut s_done, mut c_done) = (false, false);
                while !(s_done && c_done) {
                    match ws.step(b) {
                        Step::More => {}
                        Step::Hit(m) => ws.resume_at(s.anchor(b, m, &mut state, out)),
                        Step::Done => s_done = true,
                    }
                    match wc.step(b) {
                        Step::More => {}
                        Step::Hit(m) => cues.push(m),
                        Step::Done => c_done = true,
                    }
                }
            }
            (Some(s), None) => {
                let mut ws = s.dfa().walk();
                loop {
                    match ws.step(b) {
                        Step::More => {}
                        Step::Hit(m) => ws.resume_at(s.anchor(b, m, &mut state, out)),
                        Step::Done => break,
                    }
                }
            }
            (None, Some(c)) => {
                let mut wc = c.dfa().walk();
                loop {
                    match wc.step(b) {
                        Step::More => {}
                        Step::Hit(m) => cues.push(m),
                        Step::Done => break,
                    }
                }
            }
            (None, None) => {}
        }
        if let Some(s) = &self.secrets
            && !ascii
        {
            s.foreign_keywords(b, out);
        }
        // Random tokens outside the shaped ones (which are pushed from `from` on).
        if random_tokens && self.secrets.is_some() {
            super::random_token::scan(b, out, from);
        }
        for m in cues {
            super::context::ContextScanner::cue(&self.enabled, b, m, out);
        }
        state.person_cues
    }

    /// Drops findings that overlap a mask token or lie inside an allow-listed value. Linear: both
    /// the findings and the protected ranges are sorted by start.
    fn drop_protected(&self, text: &str, out: &mut Vec<Finding>) {
        let b = text.as_bytes();
        // Mask tokens from an earlier pass: `[NAME]` or `[NAME_xxxxxxxx]`.
        if memchr::memchr(b'[', b).is_some() {
            let masks = self
                .mask_names
                .find_iter(b)
                .filter_map(|m| mask_token_end(b, m.end()).map(|e| (m.start() as u32, e as u32)));
            sweep(out, masks, |f, (s, e)| s < f.end && f.start < e);
        }
        if let Some(allow) = &self.allow {
            let ranges = allow
                .find_iter(b)
                .map(|m| (m.start() as u32, m.end() as u32));
            sweep(out, ranges, |f, (s, e)| s <= f.start && f.end <= e);
        }
    }
}

/// Removes every finding for which `hit(finding, range)` holds for the first range ending after
/// the finding's start. `out` is sorted by start; `ranges` are sorted and non-overlapping.
fn sweep(
    out: &mut Vec<Finding>,
    ranges: impl Iterator<Item = (u32, u32)>,
    hit: impl Fn(&Finding, (u32, u32)) -> bool,
) {
    let mut ranges = ranges.peekable();
    out.retain(|f| {
        while let Some(&(_, e)) = ranges.peek() {
            if e <= f.start {
                ranges.next();
            } else {
                break;
            }
        }
        !ranges.peek().is_some_and(|&r| hit(f, r))
    });
}

/// After `[NAME`, accept `]` or `_` + 8 lowercase hex + `]`.
fn mask_token_end(b: &[u8], p: usize) -> Option<usize> {
    if b.get(p) == Some(&b']') {
        return Some(p + 1);
    }
    if b.get(p) == Some(&b'_')
        && b.len() > p + 9
        && b[p + 1..p + 9]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        && b[p + 9] == b']'
    {
        return Some(p + 10);
    }
    None
}

/// Most candidate findings (before overlaps are resolved) in one string of `len` bytes: one per
/// `limits::BYTES_PER_FINDING` bytes, plus a few. Each costs 12 bytes of memory, and a policy
/// whose patterns match (almost) every byte would otherwise hold many times the string's length;
/// past this the line fails with `redaction_too_many_findings`.
pub(crate) fn max_findings(len: usize) -> usize {
    len / super::limits::BYTES_PER_FINDING + 64
}

/// Earliest start wins; at equal starts the longest wins (`v` is sorted that way).
pub(crate) fn resolve_overlaps(v: &mut Vec<Finding>) {
    let mut last_end = 0u32;
    let mut first = true;
    v.retain(|f| {
        if first || f.start >= last_end {
            first = false;
            last_end = f.end;
            true
        } else {
            false
        }
    });
}
