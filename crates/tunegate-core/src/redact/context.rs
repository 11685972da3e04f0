//! Identifiers that only a context word makes personal: passport numbers, driver's licences and
//! dates of birth. One case-insensitive automaton finds the cue words; the value right after a cue
//! (skipping "number", "no.", "#", ":", "is") is checked for the type's shape.
//! The same automaton finds the names of short numeric credentials (PIN, OTP, CVV; `codes.rs`).
//! In a chat, the cue can sit in the message before: a question that asks for the value
//! (`asks_for`, `answer`), or any question when the reply is nothing but an identifier
//! (`lone_identifier`).

use super::ids;
use super::structured::{Enabled, is_word};
use super::{
    ENT_DATE_OF_BIRTH, ENT_DE_TAX_ID, ENT_DRIVER_LICENSE, ENT_PASSPORT, ENT_PERSON, ENT_PHONE,
    ENT_POSTAL_ADDRESS, ENT_SECRET, ENT_SSN, ENT_US_BANK_ROUTING, ENT_US_ITIN, Finding,
};

const CUES: &[(&str, u16)] = &[
    ("passport", ENT_PASSPORT),
    ("passeport", ENT_PASSPORT),
    ("pasaporte", ENT_PASSPORT),
    ("reisepass", ENT_PASSPORT),
    ("passaporto", ENT_PASSPORT),
    ("paspoort", ENT_PASSPORT),
    ("travel document", ENT_PASSPORT),
    ("pass-nr", ENT_PASSPORT),
    ("pass-nr.", ENT_PASSPORT),
    ("passnummer", ENT_PASSPORT),
    ("passaporte", ENT_PASSPORT),
    ("paszport", ENT_PASSPORT),
    // Identity cards carry a document number of the same shape; it is reported as a passport
    // number (`Personalausweis: L01X00T44`).
    ("personalausweis", ENT_PASSPORT),
    ("ausweisnummer", ENT_PASSPORT),
    ("ausweis nr", ENT_PASSPORT),
    ("id card", ENT_PASSPORT),
    ("identity card", ENT_PASSPORT),
    ("carte d'identité", ENT_PASSPORT),
    ("carta d'identità", ENT_PASSPORT),
    ("identiteitskaart", ENT_PASSPORT),
    ("license", ENT_DRIVER_LICENSE),
    ("licence", ENT_DRIVER_LICENSE),
    ("patente di guida", ENT_DRIVER_LICENSE),
    ("driver's license", ENT_DRIVER_LICENSE),
    ("driver's licence", ENT_DRIVER_LICENSE),
    ("drivers license", ENT_DRIVER_LICENSE),
    ("drivers licence", ENT_DRIVER_LICENSE),
    ("driver license", ENT_DRIVER_LICENSE),
    ("driver licence", ENT_DRIVER_LICENSE),
    ("driving licence", ENT_DRIVER_LICENSE),
    ("driving license", ENT_DRIVER_LICENSE),
    ("license number", ENT_DRIVER_LICENSE),
    ("licence number", ENT_DRIVER_LICENSE),
    ("dl#", ENT_DRIVER_LICENSE),
    ("dl #", ENT_DRIVER_LICENSE),
    ("dl no", ENT_DRIVER_LICENSE),
    ("dl no.", ENT_DRIVER_LICENSE),
    ("dl:", ENT_DRIVER_LICENSE),
    ("dl number", ENT_DRIVER_LICENSE),
    ("driver's lic", ENT_DRIVER_LICENSE),
    ("drivers lic", ENT_DRIVER_LICENSE),
    ("driver lic", ENT_DRIVER_LICENSE),
    ("driver's lic.", ENT_DRIVER_LICENSE),
    ("drivers lic.", ENT_DRIVER_LICENSE),
    ("licencia de conducir", ENT_DRIVER_LICENSE),
    ("licencia de manejo", ENT_DRIVER_LICENSE),
    ("numero patente", ENT_DRIVER_LICENSE),
    ("rijbewijs", ENT_DRIVER_LICENSE),
    ("rijbewijsnummer", ENT_DRIVER_LICENSE),
    ("carta de condução", ENT_DRIVER_LICENSE),
    ("carteira de motorista", ENT_DRIVER_LICENSE),
    ("führerschein", ENT_DRIVER_LICENSE),
    ("permis de conduire", ENT_DRIVER_LICENSE),
    ("carnet de conducir", ENT_DRIVER_LICENSE),
    ("date of birth", ENT_DATE_OF_BIRTH),
    ("birth date", ENT_DATE_OF_BIRTH),
    ("birthdate", ENT_DATE_OF_BIRTH),
    ("birthday", ENT_DATE_OF_BIRTH),
    ("dob", ENT_DATE_OF_BIRTH),
    ("d.o.b", ENT_DATE_OF_BIRTH),
    ("born on", ENT_DATE_OF_BIRTH),
    ("born", ENT_DATE_OF_BIRTH),
    ("geburtsdatum", ENT_DATE_OF_BIRTH),
    ("geboren am", ENT_DATE_OF_BIRTH),
    ("date de naissance", ENT_DATE_OF_BIRTH),
    ("né le", ENT_DATE_OF_BIRTH),
    ("née le", ENT_DATE_OF_BIRTH),
    ("fecha de nacimiento", ENT_DATE_OF_BIRTH),
    ("geboortedatum", ENT_DATE_OF_BIRTH),
    ("geboren op", ENT_DATE_OF_BIRTH),
    ("geb.", ENT_DATE_OF_BIRTH),
    ("data di nascita", ENT_DATE_OF_BIRTH),
    ("nato il", ENT_DATE_OF_BIRTH),
    ("nata il", ENT_DATE_OF_BIRTH),
    ("data de nascimento", ENT_DATE_OF_BIRTH),
    ("geburtstag", ENT_DATE_OF_BIRTH),
    ("nacido el", ENT_DATE_OF_BIRTH),
    ("nacida el", ENT_DATE_OF_BIRTH),
    ("nascido em", ENT_DATE_OF_BIRTH),
    ("nascida em", ENT_DATE_OF_BIRTH),
    ("data urodzenia", ENT_DATE_OF_BIRTH),
    ("urodzony", ENT_DATE_OF_BIRTH),
    ("urodzona", ENT_DATE_OF_BIRTH),
    // Only asked for (`asks_for`): in the same text, the SSN and name rules read their own
    // context.
    ("ssn", ENT_SSN),
    ("social security", ENT_SSN),
    ("your name", ENT_PERSON),
    ("full name", ENT_PERSON),
    ("first name", ENT_PERSON),
    ("last name", ENT_PERSON),
    ("surname", ENT_PERSON),
    ("name on the account", ENT_PERSON),
    ("name on the card", ENT_PERSON),
    // A UK or Canadian postcode names a street or a building; a US ZIP code alone stays.
    ("postcode", ENT_POSTAL_ADDRESS),
    ("post code", ENT_POSTAL_ADDRESS),
    ("postal code", ENT_POSTAL_ADDRESS),
];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "januar",
    "februar",
    "märz",
    "mai",
    "juni",
    "juli",
    "oktober",
    "dezember",
    "janvier",
    "février",
    "mars",
    "avril",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

pub(crate) struct ContextScanner {
    dfa: super::walk::Dfa,
}

impl ContextScanner {
    pub(crate) fn new() -> Result<Self, String> {
        // Case-insensitive, leftmost-longest; walked by `Engine::find_with` beside the secret
        // scanner's DFA (see `walk`).
        let dfa = super::walk::build(cue_words(), true)?;
        Ok(Self { dfa })
    }

    pub(crate) fn dfa(&self) -> &super::walk::Dfa {
        &self.dfa
    }

    /// Checks the value after (or before) one cue match `m`.
    #[inline]
    pub(crate) fn cue(
        en: &super::structured::Enabled,
        b: &[u8],
        m: super::walk::Hit,
        out: &mut Vec<Finding>,
    ) {
        // Past the type cues come the short-code names (`codes.rs`), all SECRET.
        let ent = CUES.get(m.pattern).map_or(ENT_SECRET, |c| c.1);
        if !en.on(ent) || (m.start > 0 && is_word(b[m.start - 1])) {
            return;
        }
        if matches!(ent, ENT_SSN | ENT_PERSON) {
            return;
        }
        if m.pattern >= CUES.len() {
            if let Some((s, e)) = super::codes::value_after(b, m.end) {
                out.push(Finding::new(s, e, ENT_SECRET));
            }
            return;
        }
        let p = skip_fillers(b, m.end);
        if ent == ENT_POSTAL_ADDRESS {
            if let Some(e) = super::names::postcode_loose(b, p) {
                out.push(Finding::new(p, e, ent));
            }
            return;
        }
        let found = match ent {
            ENT_DATE_OF_BIRTH => date_at(b, p),
            _ => id_at(b, p, ent == ENT_PASSPORT),
        };
        if let Some(mut e) = found {
            out.push(Finding::new(p, e, ent));
            // A list after one cue: `passports: AB1234567 and XY9876543`.
            for _ in 0..3 {
                let q = list_next(b, e);
                match (q != e).then(|| id_at(b, q, ent == ENT_PASSPORT)).flatten() {
                    Some(e2) => {
                        out.push(Finding::new(q, e2, ent));
                        e = e2;
                    }
                    None => break,
                }
            }
        } else if ent == ENT_DATE_OF_BIRTH {
            // The date before its cue: `1985-01-01 is my birthday`.
            if let Some(s0) = date_before(b, m.start) {
                let e0 = date_at(b, s0).unwrap_or(s0);
                out.push(Finding::new(s0, e0, ent));
            } else if CUES[m.pattern].0 == "born"
                && let Some((s0, e0)) = date_later_in_clause(b, m.end)
            {
                // `born in a land far away on 22/11/1972`: the date later in the same clause.
                out.push(Finding::new(s0, e0, ent));
            }
        } else if let Some((s0, e0)) = id_before(b, m.start, ent == ENT_PASSPORT) {
            // The value before its cue: `AAA123456 es mi número de pasaporte`.
            out.push(Finding::new(s0, e0, ent));
        }
    }

    /// The cue words, for tests that compare `walk` with `AhoCorasick`.
    #[cfg(test)]
    pub(crate) fn patterns() -> Vec<&'static str> {
        cue_words().collect()
    }
}

/// How much of a message's end `asks_for` reads: the question that closes it.
const ASK_TAIL: usize = 160;
/// How far into a reply `answer` looks for the value asked for.
const ANSWER_HEAD: usize = 96;

impl ContextScanner {
    /// The type a message asks for: a cue word (passport, licence, date of birth, SSN, a
    /// one-time code) standing as a word in the sentence that asks, within the message's last
    /// `ASK_TAIL` bytes: the last question, a closing colon, or the last sentence with `please`
    /// ("Could you confirm your date of birth?", "Your passport number:"). The last enabled cue
    /// wins. Support agents ask this way, and the reply (`answer`) then carries the value
    /// without any cue of its own.
    pub(crate) fn asks_for(&self, en: &Enabled, text: &str) -> Option<u16> {
        let b = text.as_bytes();
        let tail = &b[b.len().saturating_sub(ASK_TAIL)..];
        // The asking sentence: the last question, a closing colon, or the last `please`.
        let at = memchr::memrchr(b'?', tail)
            .or_else(|| {
                let n = tail.trim_ascii_end().len();
                (n > 0 && tail[n - 1] == b':').then(|| n - 1)
            })
            .or_else(|| {
                memchr::memrchr2_iter(b'p', b'P', tail)
                    .find(|&k| tail[k + 1..].starts_with(b"lease"))
            })?;
        let ends_sentence = |c: &u8| matches!(c, b'.' | b'!' | b'?' | b'\n');
        let start = tail[..at]
            .iter()
            .rposition(ends_sentence)
            .map_or(0, |k| k + 1);
        let end = tail[at..]
            .iter()
            .skip(1)
            .position(ends_sentence)
            .map_or(tail.len(), |k| at + 1 + k);
        let t = &tail[start..end];
        let mut walk = self.dfa.walk();
        let mut asked = None;
        loop {
            match walk.step(t) {
                super::walk::Step::More => {}
                super::walk::Step::Hit(m) => {
                    let starts = m.start == 0 || !is_word(t[m.start - 1]);
                    let ends = t.get(m.end).is_none_or(|c| !c.is_ascii_alphanumeric());
                    // `pin` is also a verb ("can you pin this?"): the noun is `PIN` or has
                    // `your`/`the` before it.
                    let word = &t[m.start..m.end];
                    let noun = !word.eq_ignore_ascii_case(b"pin")
                        || word == b"PIN"
                        || t[..m.start].ends_with(b"your ")
                        || t[..m.start].ends_with(b"the ");
                    let ent = CUES.get(m.pattern).map_or(ENT_SECRET, |c| c.1);
                    if starts && ends && noun && en.on(ent) {
                        asked = Some(ent);
                    }
                }
                super::walk::Step::Done => break,
            }
        }
        asked
    }
}

/// The value a reply gives to a message that asked for `ent` (`ContextScanner::asks_for`): the
/// first word in its first `ANSWER_HEAD` bytes with that type's shape (a date, a passport or
/// licence number, an SSN or its last four digits, a 3-8 digit code): `Sure, it's 03/14/1988`,
/// `AB1234567`, `482913`.
pub(crate) fn answer(text: &str, ent: u16) -> Option<(usize, usize)> {
    if ent == ENT_PERSON {
        return super::names::answered_name(text);
    }
    let b = text.as_bytes();
    for p in 0..b.len().min(ANSWER_HEAD) {
        if !b[p].is_ascii_alphanumeric() || (p > 0 && is_word(b[p - 1])) {
            continue;
        }
        let end = match ent {
            ENT_DATE_OF_BIRTH => date_at(b, p),
            ENT_PASSPORT | ENT_DRIVER_LICENSE => id_at(b, p, ent == ENT_PASSPORT),
            ENT_SECRET if b[p].is_ascii_digit() => super::codes::digits_at(b, p).map(|(_, e)| e),
            ENT_SSN => ssn_answer(b, p),
            ENT_POSTAL_ADDRESS => super::names::postcode_loose(b, p),
            _ => None,
        };
        if let Some(e) = end {
            return Some((p, e));
        }
    }
    None
}

/// An SSN given as an answer: nine digits (3-2-4, with one kind of separator or none) or its
/// last four, standing as a word.
fn ssn_answer(b: &[u8], s: usize) -> Option<usize> {
    let (e, _) = digits(b, s, 3, 9)?;
    let e = match e - s {
        4 | 9 => e,
        3 => {
            let sep = *b.get(e)?;
            if !matches!(sep, b'-' | b' ' | b'.') {
                return None;
            }
            let (e2, _) = digits(b, e + 1, 2, 2)?;
            if b.get(e2) != Some(&sep) {
                return None;
            }
            digits(b, e2 + 1, 4, 4)?.0
        }
        _ => return None,
    };
    b.get(e)
        .is_none_or(|c| !c.is_ascii_alphanumeric())
        .then_some(e)
}

/// Longest message `lone_identifier` looks at. Below the clean-string memory's shortest string
/// (`CleanCache::MIN_LEN`), so a string remembered clean is never one this rule masks.
pub(crate) const LONE_MAX_LEN: usize = 31;

/// A chat message that is nothing but one identifier of a format that elsewhere needs a context
/// word. Such a message answers a question that asked for it ("What is your passport number?"),
/// so its cue sits in the turn before; and a bare identifier teaches a model nothing worth
/// keeping. The formats: a passport number (one to three letters, then digits to nine
/// characters, or a German one with its check digit), an Italian driving licence, nine digits
/// that are a valid ITIN or ABA routing number, ten digits from 2 (a phone number without its
/// trunk prefix) and a German tax id by its check digit.
/// Words, amounts, dates and numbers of other lengths stay.
pub(crate) fn lone_identifier(en: &Enabled, text: &str) -> Option<Finding> {
    if text.len() > LONE_MAX_LEN {
        return None;
    }
    let s = text.len() - text.trim_start().len();
    let t = text.trim().as_bytes();
    let t = t.strip_suffix(b".").unwrap_or(t);
    if !(8..=11).contains(&t.len()) || !t.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let mut up = [0u8; 11];
    for (k, c) in t.iter().enumerate() {
        up[k] = c.to_ascii_uppercase();
    }
    let u = &up[..t.len()];
    let letters = u.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let digits_after = u[letters..].iter().all(u8::is_ascii_digit);
    let ent = match u.len() {
        // An Indian passport: a capital as written, then seven digits, the first not 0.
        8 if en.on(ENT_PASSPORT)
            && t[0].is_ascii_uppercase()
            && (b'1'..=b'9').contains(&t[1])
            && t[2..].iter().all(u8::is_ascii_digit) =>
        {
            ENT_PASSPORT
        }
        9 if letters == 0 && digits_after => {
            // Not SSNs: most nine-digit numbers have a valid SSN's ranges.
            if en.on(ENT_US_ITIN) && ids::itin_ok(u) {
                ENT_US_ITIN
            } else if en.on(ENT_US_BANK_ROUTING) && ids::aba_ok(u) {
                ENT_US_BANK_ROUTING
            } else {
                return None;
            }
        }
        9 if en.on(ENT_PASSPORT)
            && (((1..=3).contains(&letters) && digits_after) || ids::de_passport_ok(u)) =>
        {
            ENT_PASSPORT
        }
        10 if en.on(ENT_DRIVER_LICENSE) && ids::it_driving_licence_ok(t) => ENT_DRIVER_LICENSE,
        // A national number without its trunk zero (`5321234567`) or a NANP number; from 1, a
        // Unix time or a count.
        10 if en.on(ENT_PHONE) && letters == 0 && digits_after && u[0] >= b'2' => ENT_PHONE,
        11 if en.on(ENT_DE_TAX_ID)
            && letters == 0
            && ten_digits_repeat_at_most_thrice(u)
            && ids::steuer_check_digit_ok(u) =>
        {
            ENT_DE_TAX_ID
        }
        _ => return None,
    };
    Some(Finding::new(s, s + t.len(), ent))
}

/// The Steuer-ID's digit rule without its "one digit repeats" half, which test numbers break
/// (`12345678903`): no digit more than three times in the first ten.
fn ten_digits_repeat_at_most_thrice(d: &[u8]) -> bool {
    let mut counts = [0u8; 10];
    for &c in d.iter().take(10) {
        let k = usize::from(c.wrapping_sub(b'0')).min(9);
        counts[k] = counts[k].saturating_add(1);
    }
    counts.iter().all(|&n| n <= 3)
}

/// The automaton's patterns: the type cues, then the short-code names.
fn cue_words() -> impl Iterator<Item = &'static str> {
    CUES.iter()
        .map(|(c, _)| *c)
        .chain(super::codes::NAMES.iter().copied())
}

/// Skips separators and filler words between a cue and its value.
fn skip_fillers(b: &[u8], mut p: usize) -> usize {
    const FILLERS: &[&[u8]] = &[
        b"number",
        b"numbers",
        b"num",
        b"no.",
        b"no",
        b"nr.",
        b"nr",
        b"nummer",
        "numéro".as_bytes(),
        "n°".as_bytes(),
        b"numero",
        b"n.",
        "n.º".as_bytes(),
        "nº".as_bytes(),
        b"id",
        b"is",
        b"was",
        b"on",
        b"of",
        b"le",
        b"am",
        b"date",
        b"my",
        b"es",
        b"ist",
        b"mi",
        b"de",
        b"the",
        "número".as_bytes(),
    ];
    // Possessive or plural tail of the cue word (passport's, licenses).
    while p < b.len() && (b[p] == b'\'' || b[p] == b's') && p < b.len() {
        p += 1;
        if p < b.len() && !is_word(b[p]) {
            break;
        }
    }
    // The abbreviation's own dot (`d.o.b.`, `geb.`).
    if b.get(p) == Some(&b'.') && b.get(p + 1) == Some(&b' ') {
        p += 1;
    }
    for _ in 0..4 {
        while p < b.len() && matches!(b[p], b' ' | b':' | b'#' | b'=' | b'-' | b'\t' | b'(' | b'"')
        {
            p += 1;
        }
        let lim = (p + 24).min(b.len());
        let w_end = (p..lim)
            .find(|&k| !(is_word(b[k]) || b[k] == b'.' || b[k] >= 0x80))
            .unwrap_or(lim);
        let w = &b[p..w_end];
        if FILLERS.iter().any(|f| f.eq_ignore_ascii_case(w)) {
            p = w_end;
        } else {
            break;
        }
    }
    p
}

/// The first date after `from` that starts a word within the same clause (no `.`, `!`, `?`,
/// `;`, `,`, a parenthesis, `:`, `and`, `but` or line break before it), at most 64 bytes on:
/// its start and end.
fn date_later_in_clause(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let lim = (from + 64).min(b.len());
    for k in from..lim {
        let r = &b[k..];
        if matches!(b[k], b'!' | b'?' | b';' | b',' | b'(' | b')' | b':' | b'\n')
            || b[k] == b'.' && b.get(k + 1).is_none_or(|c| !c.is_ascii_digit())
            || r.starts_with(b" and ")
            || r.starts_with(b" but ")
        {
            return None;
        }
        if k > 0
            && b[k - 1] == b' '
            && (b[k].is_ascii_digit() || b[k].is_ascii_uppercase())
            && let Some(e) = date_at(b, k)
        {
            return Some((k, e));
        }
    }
    None
}

/// After a value, the start of the next one in a list (`, `, ` and `, ` y `, ` & `), or `e`.
fn list_next(b: &[u8], e: usize) -> usize {
    for sep in [
        &b", "[..],
        b" and ",
        b" y ",
        b" & ",
        b" et ",
        b" und ",
        b", and ",
    ] {
        if b[e..].starts_with(sep) {
            return e + sep.len();
        }
    }
    e
}

/// The identifier right before a cue, across a few filler words (`es mi número de`, `is my`).
fn id_before(b: &[u8], cue: usize, passport: bool) -> Option<(usize, usize)> {
    const BACK_FILLERS: &[&[u8]] = &[
        b"es", b"mi", b"my", b"is", b"de", b"the", b"su", b"your", b"ist", b"mein", b"meine",
        b"number", b"no", b"nr", b"numero",
    ];
    let mut p = cue;
    for _ in 0..5 {
        while p > 0 && matches!(b[p - 1], b' ' | b':' | b',') {
            p -= 1;
        }
        let mut w = p;
        while w > 0 && (b[w - 1].is_ascii_alphanumeric() || b[w - 1] >= 0x80) && p - w < 24 {
            w -= 1;
        }
        if w == p {
            return None;
        }
        let word = &b[w..p];
        let filler = BACK_FILLERS.iter().any(|f| f.eq_ignore_ascii_case(word))
            || word.eq_ignore_ascii_case("número".as_bytes());
        if filler {
            p = w;
            continue;
        }
        if w > 0 && is_word(b[w - 1]) {
            return None;
        }
        return id_at(b, w, passport).filter(|&e| e == p).map(|e| (w, e));
    }
    None
}

/// Passport (6-9) or licence (5-16) number: letters and digits with at least one digit, and
/// in licences single hyphens between groups (`D123-456-78-901-0`), which do not count.
fn id_at(b: &[u8], s: usize, passport: bool) -> Option<usize> {
    let (min, max) = if passport { (6, 9) } else { (5, 16) };
    let mut e = s;
    let mut alnum = 0;
    while e < b.len() && alnum <= max {
        let group_hyphen = !passport && b[e] == b'-' && e > s && b[e - 1] != b'-';
        if b[e].is_ascii_alphanumeric() {
            alnum += 1;
        } else if !group_hyphen {
            break;
        }
        e += 1;
    }
    while e > s && b[e - 1] == b'-' {
        e -= 1;
    }
    let v = &b[s..e];
    let digits = v.iter().filter(|c| c.is_ascii_digit()).count();
    // Lower case only with many digits (`aaa123456`): words with a digit or two stay.
    let lower = v.iter().any(u8::is_ascii_lowercase) && digits < 4;
    let ok =
        (min..=max).contains(&alnum) && digits >= 2 && !lower && (e >= b.len() || !is_word(b[e]));
    ok.then_some(e)
}

fn digits(b: &[u8], p: usize, min: usize, max: usize) -> Option<(usize, u32)> {
    let mut e = p;
    while e < b.len() && e - p < max && b[e].is_ascii_digit() {
        e += 1;
    }
    if e - p < min || (e < b.len() && b[e].is_ascii_digit()) {
        return None;
    }
    let v = b[p..e]
        .iter()
        .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    Some((e, v))
}

fn month_word(b: &[u8], p: usize) -> Option<usize> {
    let lim = (p + 16).min(b.len());
    let e = (p..lim)
        .find(|&k| !(b[k].is_ascii_alphabetic() || b[k] >= 0x80))
        .unwrap_or(lim);
    let w = std::str::from_utf8(&b[p..e]).ok()?.to_lowercase();
    let mut end = e;
    if MONTHS.contains(&w.as_str()) {
        if b.get(end) == Some(&b'.') {
            end += 1;
        }
        Some(end)
    } else {
        None
    }
}

/// The start of a numeric date right before `is my `/`was my ` and a cue
/// (`1985-01-01 is my birthday`), when one ends there.
fn date_before(b: &[u8], cue: usize) -> Option<usize> {
    let head = &b[cue.saturating_sub(8)..cue];
    const LINKS: &[&[u8]] = &[b" is my ", b" was my "];
    let link = LINKS.iter().find(|l| head.ends_with(l))?;
    let e = cue - link.len();
    let s = e - b[e.saturating_sub(10)..e]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit() || matches!(c, b'/' | b'-' | b'.'))
        .count();
    (s < e && (s == 0 || !b[s - 1].is_ascii_alphanumeric()) && date_at(b, s) == Some(e))
        .then_some(s)
}

/// A date: `12/03/1985`, `1985-03-12`, `12.03.85`, `12 March 1985`, `March 12, 1985`.
fn date_at(b: &[u8], s: usize) -> Option<usize> {
    if let Some((e1, a)) = digits(b, s, 1, 4) {
        if let Some(&sep) = b.get(e1)
            && matches!(sep, b'/' | b'-' | b'.')
        {
            // 22-nov-1972, 4.Jun.1976
            if e1 - s <= 2
                && (1..=31).contains(&a)
                && let Some(me) = month_word(b, e1 + 1)
            {
                let me = if b.get(me - 1) == Some(&b'.') {
                    me - 1
                } else {
                    me
                };
                if b.get(me) != Some(&sep) {
                    return None;
                }
                return digits(b, me + 1, 2, 4).map(|(e, _)| e);
            }
            let (e2, m) = digits(b, e1 + 1, 1, 2)?;
            if b.get(e2) != Some(&sep) {
                return None;
            }
            let (e3, c) = digits(b, e2 + 1, 2, 4)?;
            let plausible = if e1 - s == 4 {
                (1..=12).contains(&m) && (1..=31).contains(&c)
            } else {
                (1..=31).contains(&a) && (1..=31).contains(&m) && (a <= 12 || m <= 12)
            };
            return plausible.then_some(e3);
        }
        // 12 March 1985 / 12. März 1985 / 15th June 1991
        let mut p = e1;
        if b.get(p) == Some(&b'.') {
            p += 1;
        } else if e1 - s <= 2
            && [&b"st"[..], b"nd", b"rd", b"th"]
                .iter()
                .any(|x| b[p..].starts_with(x))
        {
            p += 2;
            if b[p..].starts_with(b" of") {
                p += 3;
            }
        }
        if b.get(p) == Some(&b' ') && (1..=31).contains(&a) {
            let me = month_word(b, p + 1)?;
            let q = if b.get(me) == Some(&b' ') {
                me + 1
            } else {
                return Some(me);
            };
            return Some(digits(b, q, 4, 4).map_or(me, |(e, _)| e));
        }
        return None;
    }
    // March 12, 1985
    let me = month_word(b, s)?;
    if b.get(me) != Some(&b' ') {
        return None;
    }
    let (e, d) = digits(b, me + 1, 1, 2)?;
    if !(1..=31).contains(&d) {
        return None;
    }
    let mut q = e;
    if b[q..].starts_with(b"st")
        || b[q..].starts_with(b"nd")
        || b[q..].starts_with(b"rd")
        || b[q..].starts_with(b"th")
    {
        q += 2;
    }
    if b.get(q) == Some(&b',') {
        q += 1;
    }
    if b.get(q) == Some(&b' ')
        && let Some((e, _)) = digits(b, q + 1, 4, 4)
    {
        return Some(e);
    }
    Some(e)
}
