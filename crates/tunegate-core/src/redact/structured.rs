//! Detectors for structured identifiers: e-mail, phone, payment card, SSN, IBAN, IPv4/IPv6, MAC.
//!
//! One byte loop finds trigger bytes (digits, `+`, `(`, `@`, `:`, `-`) through a lookup table and
//! skips everything else, so prose costs about one table lookup per byte whatever its script.
//! Candidates are isolated with ASCII boundary rules (never Unicode `\b`) and then validated.

use std::net::Ipv6Addr;

use aho_corasick::automaton::Automaton;
use std::str::FromStr;

use super::ids;

use super::validate::{card_brand_ok, iban_length, iban_mod97, luhn, ssn_ok};
use super::*;

const T_DIGIT: u8 = 1;
const T_PLUS: u8 = 2;
const T_PAREN: u8 = 3;
const T_AT: u8 = 4;
const T_COLON: u8 = 5;
const T_DASH: u8 = 6;
const T_DOT: u8 = 7;

static TRIGGER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = T_DIGIT;
        c += 1;
    }
    t[b'+' as usize] = T_PLUS;
    t[b'(' as usize] = T_PAREN;
    t[b'@' as usize] = T_AT;
    t[b':' as usize] = T_COLON;
    t[b'-' as usize] = T_DASH;
    t[b'.' as usize] = T_DOT;
    t
};

/// Bit 0: ASCII letter or digit; bit 1: that or `_`. One lookup instead of a chain of range
/// tests, whose branches mispredict on identifiers that mix letters and digits.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] = 3;
        } else if b == b'_' {
            t[c] = 2;
        }
        c += 1;
    }
    t
};

#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    CLASS[b as usize] & 2 != 0
}

/// `u8::is_ascii_alphanumeric` by table (see `CLASS`).
#[inline]
pub(crate) fn is_alnum(b: u8) -> bool {
    CLASS[b as usize] & 1 != 0
}

#[inline]
fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Which detectors run: bit `k` is entity index `k`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Enabled(pub u64);

impl Enabled {
    #[inline]
    pub(crate) fn on(&self, ent: u16) -> bool {
        ent < 64 && self.0 & (1 << ent) != 0
    }
    fn numeric(&self) -> bool {
        self.0 & !((1 << ENT_EMAIL) | (1 << ENT_SECRET) | (1 << ENT_PERSON)) != 0
    }
    fn any(&self) -> bool {
        self.numeric() || self.on(ENT_EMAIL)
    }
}

/// Scans `text` and appends findings (possibly overlapping; the caller resolves overlaps).
/// Out of line: inlined into `Engine::find_with`, its size made the compiler keep the DFA walk's
/// position in memory there (+2% instructions on dense data when four ID types were added).
#[inline(never)]
pub(crate) fn scan(en: &Enabled, text: &str, out: &mut Vec<Finding>) {
    if !en.any() {
        return;
    }
    let b = text.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        // Tight skip over bytes that cannot start anything.
        i = super::swar::find(
            b,
            i,
            |x| {
                use super::swar::{eq, in_range};
                in_range(x, b'0', b':')
                    | eq(x, b'+')
                    | eq(x, b'(')
                    | eq(x, b'@')
                    | eq(x, b'-')
                    | eq(x, b'.')
            },
            |c| TRIGGER[c as usize] != 0,
        );
        if i >= n {
            break;
        }
        let next = match TRIGGER[b[i] as usize] {
            T_DIGIT if en.numeric() => numeric(en, b, i, out),
            T_PAREN
                if en.on(ENT_IP)
                    && i + 1 < n
                    && b[i + 1].is_ascii_digit()
                    && let Some(e) = ipv4_at(b, i + 1) =>
            {
                out.push(Finding::new(i + 1, e, ENT_IP));
                e
            }
            T_PLUS | T_PAREN if en.on(ENT_PHONE) && i + 1 < n && b[i + 1].is_ascii_digit() => {
                numeric(en, b, i, out)
            }
            T_AT if en.on(ENT_EMAIL) => email(b, i, out),
            T_COLON if en.on(ENT_IP) || en.on(ENT_MAC) => colon_token(en, b, i, out),
            T_DASH if en.on(ENT_MAC) => {
                if i >= 2
                    && let Some(e) = mac_at(b, i - 2)
                {
                    if !mac_reserved(&b[i - 2..e]) {
                        out.push(Finding::new(i - 2, e, ENT_MAC));
                    }
                    e
                } else {
                    i + 1
                }
            }
            // A dotted MAC whose first group holds no digit (`aabb.ccdd.eeff`): the digit path
            // finds the others.
            T_DOT
                if en.on(ENT_MAC)
                    && i >= 4
                    && b[i - 1].is_ascii_alphabetic()
                    && let Some((s, e, real)) = mac_dotted_at(b, i - 4) =>
            {
                if real {
                    out.push(Finding::new(s, e, ENT_MAC));
                }
                e
            }
            _ => i + 1,
        };
        i = next.max(i + 1);
    }
}

// ---------------------------------------------------------------------------------------------
// E-mail

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b >= 0x80
}

fn email(b: &[u8], at: usize, out: &mut Vec<Finding>) -> usize {
    // Local part: ASCII, and letters of other alphabets anywhere in it (müller@, josé.garcía@).
    // Not CJK: those scripts write no spaces, so the run would swallow the sentence before it.
    let mut s = at;
    while s > 0 && at - s < 64 {
        if is_local(b[s - 1]) {
            s -= 1;
        } else if b[s - 1] >= 0x80
            && let Some((c, start)) = char_before(b, s)
            && email_letter(c)
        {
            s = start;
        } else {
            break;
        }
    }
    while s < at && matches!(b[s], b'.' | b'\'' | b'-') {
        s += 1;
    }
    // `$USER@host`, `https://$TOKEN@git.example.org`: a shell variable, not a mailbox.
    if s == at || (s > 0 && b[s - 1] == b'$') {
        return at + 1;
    }
    // `scheme://user:password@host`: the part before '@' is a password (SECRET), not a mailbox.
    if s > 0 && b[s - 1] == b':' {
        let mut u = s - 1;
        while u > 0 && s - u < 256 && !matches!(b[u - 1], b'/' | b' ' | b'@' | b'"' | b'\'') {
            u -= 1;
        }
        if u >= 2 && b[u - 1] == b'/' && b[u - 2] == b'/' {
            return at + 1;
        }
    }
    let mut e = at + 1;
    while e < b.len() && e - at < 255 && is_domain(b[e]) {
        if b[e] >= 0x80 {
            // Letters only: stop at CJK text, fullwidth or general punctuation.
            let ch = std::str::from_utf8(&b[e..(e + 4).min(b.len())])
                .ok()
                .or_else(|| std::str::from_utf8(&b[e..(e + 3).min(b.len())]).ok())
                .or_else(|| std::str::from_utf8(&b[e..(e + 2).min(b.len())]).ok())
                .and_then(|x| x.chars().next());
            match ch {
                Some(c) if email_letter(c) => e += c.len_utf8(),
                _ => break,
            }
            continue;
        }
        e += 1;
    }
    while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = &b[at + 1..e];
    if domain.is_empty() {
        return at + 1;
    }
    if !valid_domain(domain) {
        // Digits glued to the top-level domain start the next token (`john@acme.com123-45-6789`,
        // text pasted from a form without its separator): the address ends at the letters.
        let dot = memchr::memrchr(b'.', domain).map_or(0, |k| k + 1);
        let letters = domain[dot..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let cut = at + 1 + dot + letters;
        if dot == 0
            || letters < 2
            || !b.get(cut).is_some_and(u8::is_ascii_digit)
            || !valid_domain(&b[at + 1..cut])
        {
            return at + 1;
        }
        out.push(Finding::new(s, cut, ENT_EMAIL));
        return cut;
    }
    out.push(Finding::new(s, e, ENT_EMAIL));
    e
}

/// The character that ends at `end` and where it starts, when `b[..end]` ends with a whole UTF-8
/// sequence.
fn char_before(b: &[u8], end: usize) -> Option<(char, usize)> {
    let mut start = end.checked_sub(1)?;
    while start > 0 && end - start < 4 && (b[start] & 0xC0) == 0x80 {
        start -= 1;
    }
    let c = std::str::from_utf8(&b[start..end]).ok()?.chars().next()?;
    Some((c, start))
}

/// A non-ASCII character of an address: a letter outside the CJK scripts, or a sign of the
/// Indic scripts (a virama or vowel sign, as in `माइक्रोसॉफ्ट`; not the danda that ends a
/// sentence) or a combining accent, which `is_alphabetic` does not all cover.
fn email_letter(c: char) -> bool {
    let u = c as u32;
    (c.is_alphabetic()
        || (0x0300..=0x036F).contains(&u)
        || (0x0900..=0x0DFF).contains(&u) && !(0x0964..=0x0965).contains(&u))
        && !is_cjk(c)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

fn valid_domain(d: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in d.split(|&c| c == b'.') {
        if label.is_empty() || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
        last = label;
    }
    // A Unicode TLD, its punycode form (xn--p1ai), or ASCII letters.
    let tld_ok = last.iter().all(|&c| c.is_ascii_alphabetic() || c >= 0x80)
        || (last.starts_with(b"xn--")
            && last.len() > 5
            && last.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-'));
    // Two characters or more, counted as characters: `.क` is one letter in three bytes.
    let tld_chars = last.iter().filter(|&&c| c & 0xC0 != 0x80).count();
    labels >= 2 && tld_chars >= 2 && tld_ok
}

// ---------------------------------------------------------------------------------------------
// Digit clusters: phones, cards, SSNs, IPv4, plus IBAN and dash-MAC which start near digits.

#[derive(Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
    dstart: usize,
    ndig: usize,
    /// Separator before this group: 0 none, or b' ', b'-', b'.'.
    sep: u8,
    paren: bool,
}

const MAX_GROUPS: usize = 12;

fn numeric(en: &Enabled, b: &[u8], i: usize, out: &mut Vec<Finding>) -> usize {
    let n = b.len();
    // Alphanumeric identifiers that contain this digit: NINO, DNI/NIE, codice fiscale, wallets.
    if b[i].is_ascii_digit()
        && let Some((s, e, ent)) = alnum_id(en, b, i)
    {
        out.push(Finding::new(s, e, ent));
        return e;
    }
    // IBAN: two uppercase letters right before the first digit.
    if en.on(ENT_IBAN)
        && b[i].is_ascii_digit()
        && i >= 2
        && b[i - 1].is_ascii_uppercase()
        && b[i - 2].is_ascii_uppercase()
        && (i == 2 || !is_word(b[i - 3]))
        && let Some((e, valid)) = iban_at(b, i - 2)
    {
        if valid {
            out.push(Finding::new(i - 2, e, ENT_IBAN));
        }
        return e;
    }
    // IBAN written `ES 58 0049 ...`: a space between the country code and the check digits.
    if en.on(ENT_IBAN)
        && b[i].is_ascii_digit()
        && i >= 3
        && b[i - 1] == b' '
        && b[i - 2].is_ascii_uppercase()
        && b[i - 3].is_ascii_uppercase()
        && (i == 3 || !is_word(b[i - 4]))
        && let Some((e, valid)) = iban_at(b, i - 3)
    {
        if valid {
            out.push(Finding::new(i - 3, e, ENT_IBAN));
        }
        return e;
    }
    // A French NIR of someone born in Corsica, grouped as the card prints it (`2 53 07 2B 073
    // 004 70`): the `2A`/`2B` department breaks the digit groups.
    if en.on(ENT_FR_NIR)
        && matches!(b[i], b'1' | b'2')
        && matches!(b.get(i + 9), Some(b'A' | b'B' | b'a' | b'b'))
        && let Some(e) = spaced_corsican_nir(b, i)
    {
        out.push(Finding::new(i, e, ENT_FR_NIR));
        return e;
    }
    // Finnish and Swedish personal identity numbers: a birth date and a check character or digit.
    if en.on(ENT_FI_HETU)
        && let Some(e) = hetu_at(b, i)
    {
        out.push(Finding::new(i, e, ENT_FI_HETU));
        return e;
    }
    if en.on(ENT_SE_PERSONNUMMER)
        && (i == 0 || !is_word(b[i - 1]) || b[i - 1].is_ascii_lowercase())
        && let Some(e) = personnummer_at(b, i)
    {
        out.push(Finding::new(i, e, ENT_SE_PERSONNUMMER));
        return e;
    }
    // Aadhaar written with colons (`3123:4567:8909`): a time has two-digit groups, an IPv6
    // address goes on past the third group.
    if en.on(ENT_IN_AADHAAR)
        && (i == 0 || !is_word(b[i - 1]))
        && let Some(e) = aadhaar_colons(b, i)
    {
        out.push(Finding::new(i, e, ENT_IN_AADHAAR));
        return e;
    }
    // MAC with dashes starting with a digit (00-1A-2B-...).
    if en.on(ENT_MAC)
        && b[i].is_ascii_digit()
        && (i == 0 || !is_word(b[i - 1]))
        && let Some(e) = mac_at(b, i)
    {
        if !mac_reserved(&b[i..e]) {
            out.push(Finding::new(i, e, ENT_MAC));
        }
        return e;
    }
    if en.on(ENT_IP)
        && b[i].is_ascii_digit()
        && let Some(e) = ipv4_at(b, i)
    {
        out.push(Finding::new(i, e, ENT_IP));
        return e;
    }
    if en.on(ENT_MAC)
        && let Some((s, e, real)) = mac_dotted(b, i)
    {
        if real {
            out.push(Finding::new(s, e, ENT_MAC));
        }
        return e;
    }
    if en.on(ENT_UK_NINO)
        && let Some((s, e)) = nino_spaced(b, i)
    {
        out.push(Finding::new(s, e, ENT_UK_NINO));
        return e;
    }
    if en.on(ENT_DRIVER_LICENSE)
        && let Some((s, e)) = dvla_spaced(b, i)
    {
        out.push(Finding::new(s, e, ENT_DRIVER_LICENSE));
        return e;
    }
    // Left boundary: inside a word or an identifier like `ORD-123`, `v1.2`, `a/12` -> skip the run.
    if i > 0 {
        let p = b[i - 1];
        // An area code in parentheses after a dash (`Bob-(312) 456-7890`) opens a number: no
        // identifier holds a `(`.
        // Right after an e-mail address the scanner cut at its letters (see `email`).
        let after_email = || {
            out.last()
                .is_some_and(|f| f.entity == ENT_EMAIL && f.end as usize == i)
        };
        let ident = is_word(p) && !after_email()
            || (matches!(p, b'-' | b'.' | b'/' | b'#' | b'$' | b'\\')
                && i >= 2
                && is_word(b[i - 2])
                && !(p == b'-' && b[i] == b'('))
            || matches!(p, b'#' | b'$' | b'/' | b'\\');
        if ident {
            if en.on(ENT_PHONE)
                && let Some(e) = glued_nanp(b, i)
            {
                out.push(Finding::new(i, e, ENT_PHONE));
                return e;
            }
            let mut e = i;
            while e < n && (is_word(b[e]) || b[e] == b'.' && e + 1 < n && is_word(b[e + 1])) {
                e += 1;
            }
            return e;
        }
    }
    let mut groups = [Group::default(); MAX_GROUPS];
    let mut ng = 0;
    let mut p = i;
    let plus = b[p] == b'+';
    if plus {
        p += 1;
    }
    let mut sep = 0u8;
    let mut truncated = false;
    // `(+55)…`: the finding takes the opening parenthesis too.
    let mut cc_paren = false;
    loop {
        let gstart = p;
        let paren = p < n && b[p] == b'(';
        if paren {
            p += 1;
        }
        let dstart = p;
        while p < n && b[p].is_ascii_digit() {
            p += 1;
        }
        if p == dstart {
            p = gstart;
            break;
        }
        let ndig = p - dstart;
        if paren {
            if p < n && b[p] == b')' {
                p += 1;
            } else {
                p = dstart;
                break;
            }
        }
        if ng == MAX_GROUPS {
            truncated = true;
            break;
        }
        groups[ng] = Group {
            start: gstart,
            end: p,
            dstart,
            ndig,
            sep,
            paren,
        };
        ng += 1;
        // Separator to the next group.
        let mut r = p;
        let mut s = 0u8;
        // A slash only after a trunk-prefixed area code (`030/12345678`, German style); dates
        // and fractions never start with 0 and a 2-5 digit group followed by a long one.
        // Also after a country code (`+49 176/12345678`), and a North American area code before
        // the 3-4 local number (`506/312-4312`).
        let after_slash = || b[r + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let area_slash = r < n
            && b[r] == b'/'
            && (((ng == 1 && !plus && b[dstart] == b'0') || (ng == 2 && plus))
                && (2..=5).contains(&ndig)
                && after_slash() >= 5
                || ng == 1
                    && !plus
                    && ndig == 3
                    && b[dstart] >= b'2'
                    && after_slash() == 3
                    && matches!(b.get(r + 4), Some(b'-' | b' '))
                    && b.get(r + 5..r + 9)
                        .is_some_and(|g| g.iter().all(u8::is_ascii_digit))
                    && b.get(r + 9).is_none_or(|c| !c.is_ascii_digit()));
        if r + 1 < n && b[r] == b' ' && b[r + 1] == b'-' && !plus {
            // A dash with spaces around it or before it (`030 - 5555555`, `0176 -12345678`).
            s = b'-';
            r += 2;
            if r < n && b[r] == b' ' {
                r += 1;
            }
        } else if r + 2 < n && b[r] == b'-' && b[r + 1] == b' ' && b[r + 2].is_ascii_digit() {
            // A dash with a space after it (`0176- 12345678`).
            s = b'-';
            r += 2;
        } else if ng == 1
            && !plus
            && b[dstart] == b'0'
            && (3..=5).contains(&ndig)
            && b[r..].starts_with(b" / ")
            && b[r + 3..]
                .iter()
                .take(16)
                .take_while(|c| c.is_ascii_digit() || **c == b' ')
                .filter(|c| c.is_ascii_digit())
                .count()
                >= 5
        {
            // A trunk-prefixed area code and a slash between spaces (`030 / 12 34 56`, the
            // older German layout).
            s = b'/';
            r += 3;
        } else if r < n && (matches!(b[r], b' ' | b'-' | b'.') || area_slash) {
            s = b[r];
            r += 1;
        } else if ng == 1
            && r < n
            && b[r] == b'('
            && (plus && ndig <= 3 || !plus && ndig == 1 && b[dstart] == b'1')
        {
            // `+49(89)123456`, `+44(0)1134960009`, `1(123)456-7890`: a country code glued to
            // the area code in parentheses reads as if a space were there.
            s = b' ';
        } else if ng == 1 && plus && ndig <= 3 && r < n && b[r] == b')' && i > 0 && b[i - 1] == b'('
        {
            // `(+55)1537027523`: the country code in parentheses, then the number.
            s = b' ';
            r += 1;
            cc_paren = true;
        } else if !paren {
            break;
        }
        let more = r < n
            && (b[r].is_ascii_digit() || (b[r] == b'(' && r + 1 < n && b[r + 1].is_ascii_digit()));
        if !more {
            break;
        }
        sep = s;
        p = r;
    }
    let cluster_end = p;
    if ng == 0 || truncated {
        // Not a number after all (`(` without digits) or an absurdly long run: skip it.
        let mut e = cluster_end.max(i + 1);
        while e < n && (b[e].is_ascii_digit() || matches!(b[e], b' ' | b'-' | b'.')) {
            e += 1;
        }
        return e;
    }
    let total: usize = groups[..ng].iter().map(|g| g.ndig).sum();
    // Short unseparated numbers are phone numbers only after a phone word (`phone: 08000700`,
    // Danish and Norwegian numbers have eight digits): the context is read only for them.
    if ng == 1
        && total < 9
        && !plus
        && !(total >= 7 && en.on(ENT_PHONE) && Ctx::new(b, groups[0].start).phone_cue())
    {
        return cluster_end;
    }
    // Right boundary of the cluster; a phone extension may follow (`x623`, ` ext. 623`).
    let ext_end = phone_extension(b, cluster_end);
    let right_ok = cluster_end >= n
        || ext_end.is_some()
        || !(is_word(b[cluster_end])
            || (matches!(b[cluster_end], b'.' | b'-' | b'/' | b'@')
                && cluster_end + 1 < n
                && is_word(b[cluster_end + 1])));
    let ctx_start = if plus { i } else { groups[0].start };
    // Right after a phone number and a list joiner (`, `, ` and `, ` or `, ` / `).
    let listed_phone = out.last().is_some_and(|f| {
        f.entity == ENT_PHONE
            && b.get(f.end as usize..ctx_start).is_some_and(|gap| {
                matches!(
                    gap,
                    b", " | b" and " | b" or " | b" / " | b", and " | b", or "
                )
            })
    });
    let mut a = 0;
    while a < ng {
        if a > 0 && groups[a].sep != b' ' {
            a += 1;
            continue;
        }
        let mut matched = None;
        let mut z = ng;
        let mut cx = Ctx::new(b, if a == 0 { ctx_start } else { groups[a].start });
        cx.listed_phone = listed_phone;
        while z > a {
            let ends_ok = if z == ng {
                right_ok
            } else {
                groups[z].sep == b' '
            };
            if ends_ok {
                let start = match a {
                    0 if cc_paren => ctx_start - 1,
                    0 => ctx_start,
                    _ => groups[a].start,
                };
                // A card is never a slice of a longer 4-4-4-4 run (order numbers, references).
                // A neighbour belongs to the run only when it is joined the same way as the
                // card's own groups (several cards on one line, each grouped its own way).
                let inner = if z - a >= 2 { groups[a + 1].sep } else { b' ' };
                let left_run = a > 0
                    && groups[a - 1].ndig == 4
                    && groups[a].sep == inner
                    && (a == 1 || groups[a - 1].sep == inner);
                let right_run = z < ng
                    && groups[z].ndig == 4
                    && groups[z].sep == inner
                    && (z + 1 >= ng || groups[z + 1].sep == inner);
                let inside_run = left_run || right_run;
                if let Some(ent) = classify(
                    en,
                    b,
                    &groups[a..z],
                    plus && a == 0,
                    a == 0,
                    inside_run,
                    &cx,
                ) {
                    matched = Some((start, groups[z - 1].end, ent));
                    break;
                }
            }
            z -= 1;
        }
        if let Some((s, e, ent)) = matched {
            let e = match ext_end {
                Some(x) if ent == ENT_PHONE && z == ng => x,
                _ => e,
            };
            out.push(Finding::new(s, e, ent));
            a = z;
        } else {
            a += 1;
        }
    }
    cluster_end
}

/// A phone extension right after a number: `x623`, `EXT623`, ` ext. 623`, ` x 12`,
/// ` extension 4411`; the end of its digits.
fn phone_extension(b: &[u8], p: usize) -> Option<usize> {
    let mut q = p;
    if b.get(q) == Some(&b' ') {
        q += 1;
    }
    let r = &b[q.min(b.len())..];
    let word = [&b"extension"[..], b"ext", b"x"]
        .into_iter()
        .find(|w| r.len() > w.len() && r[..w.len()].eq_ignore_ascii_case(w))?;
    q += word.len();
    if b.get(q) == Some(&b'.') {
        q += 1;
    }
    if b.get(q) == Some(&b' ') {
        q += 1;
    }
    let d = b[q..]
        .iter()
        .take(7)
        .take_while(|c| c.is_ascii_digit())
        .count();
    let e = q + d;
    ((1..=6).contains(&d) && (e >= b.len() || !is_word(b[e]))).then_some(e)
}

fn digits_of(b: &[u8], gs: &[Group], buf: &mut [u8; 24]) -> usize {
    let mut k = 0;
    for g in gs {
        for &d in &b[g.dstart..g.dstart + g.ndig] {
            if k < buf.len() {
                buf[k] = d;
                k += 1;
            }
        }
    }
    k
}

fn num(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |a, &d| {
        a.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    })
}

/// Words before `start` that make a number a phone number or an SSN even without separators.
/// Words inside `[...]` do not count: mask tokens such as `[PHONE_NUMBER]` or `[US_SSN]` must not
/// turn the next number into a finding on a second run (idempotence).
#[allow(dead_code)]
fn context_before(b: &[u8], start: usize, words: &[&[u8]]) -> bool {
    Ctx::new(b, start).has(words)
}

/// The context of one number: which context words occur in the 32 bytes before it, found once
/// (on first use) by one automaton over every registered word list, and shared by every list a
/// classification asks about. Same rule as `context_before`.
struct Ctx<'a> {
    b: &'a [u8],
    start: usize,
    found: std::cell::OnceCell<Window>,
    /// The number follows a phone number in a list (`… 9024354311 and 3684234567`): the phone
    /// word before the first one holds for it too.
    listed_phone: bool,
}

struct Window {
    /// Bit `k`: word `k` of `CONTEXT_LISTS` (flattened) occurs outside `[...]`.
    words: u128,
    /// Bit `k`: such an occurrence also starts a word (or the window).
    word_starts: u128,
    /// Bit `k`: position `k` of the window is not inside an unclosed `[` (of a mask token).
    free: u64,
}

/// The word lists `Ctx::has` answers from one automaton pass. A list missing here still works
/// (it is scanned directly); adding it here makes it free.
const CONTEXT_LISTS: &[&[&[u8]]] = &[
    PHONE_CONTEXT,
    SSN_CONTEXT,
    ITIN_CONTEXT,
    ROUTING_CONTEXT,
    BSN_CONTEXT,
    SIN_CONTEXT,
    TFN_CONTEXT,
    NHS_CONTEXT,
    PESEL_CONTEXT,
    STEUER_CONTEXT,
    AADHAAR_CONTEXT,
    NOT_PII_CONTEXT,
    NPI_CONTEXT,
    TCKN_CONTEXT,
    RRN_CONTEXT,
];

struct ContextMatcher {
    /// Walked byte by byte over each 32-byte window: the same matches as an overlapping
    /// `AhoCorasick` search, without setting up a search per number.
    dfa: aho_corasick::dfa::DFA,
    start: aho_corasick::automaton::StateID,
    /// Per list: the bits of its words.
    masks: Vec<Option<u128>>,
}

fn context_matcher() -> &'static ContextMatcher {
    static M: std::sync::OnceLock<ContextMatcher> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let mut words: Vec<&[u8]> = Vec::new();
        let mut masks = Vec::new();
        for list in CONTEXT_LISTS {
            // A list that does not fit in the 128 bits is scanned directly instead.
            if words.len() + list.len() > 128 {
                masks.push(None);
                continue;
            }
            let mut mask = 0u128;
            for w in *list {
                mask |= 1 << words.len();
                words.push(w);
            }
            masks.push(Some(mask));
        }
        let dfa = aho_corasick::dfa::DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(&words)
            .expect("context words build");
        let start = dfa
            .start_state(aho_corasick::Anchored::No)
            .expect("unanchored start state");
        ContextMatcher { dfa, start, masks }
    })
}

/// The bits of `list`'s words in a `Window`, when it is one of `CONTEXT_LISTS` that fit.
fn list_mask(list: &[&[u8]]) -> Option<u128> {
    let k = CONTEXT_LISTS.iter().position(|l| std::ptr::eq(*l, list))?;
    context_matcher().masks[k]
}

fn bracket_free(raw: &[u8]) -> u64 {
    let (mut open, mut close) = (None, None);
    let mut free = 0u64;
    for k in 0..=raw.len() {
        let ok = match (open, close) {
            (Some(o), Some(c)) => c > o,
            (Some(_), None) => false,
            _ => true,
        };
        if ok {
            free |= 1 << k;
        }
        match raw.get(k) {
            Some(b'[') => open = Some(k),
            Some(b']') => close = Some(k),
            _ => {}
        }
    }
    free
}

impl<'a> Ctx<'a> {
    fn new(b: &'a [u8], start: usize) -> Self {
        Self {
            b,
            start,
            found: std::cell::OnceCell::new(),
            listed_phone: false,
        }
    }

    /// A phone word before the number (starting a word), or a phone number listed before it.
    fn phone_cue(&self) -> bool {
        self.listed_phone || self.has_word_start(PHONE_CONTEXT)
    }

    fn raw(&self) -> &'a [u8] {
        &self.b[self.start.saturating_sub(32)..self.start]
    }

    fn window(&self) -> &Window {
        self.found.get_or_init(|| {
            let raw = self.raw();
            // Without a `[` every position is free (what `bracket_free` computes then).
            let free = if memchr::memchr(b'[', raw).is_some() {
                bracket_free(raw)
            } else {
                u64::MAX >> (63 - raw.len())
            };
            let cm = context_matcher();
            let mut words = 0u128;
            let mut word_starts = 0u128;
            let mut sid = cm.start;
            for (p, &c) in raw.iter().enumerate() {
                sid = cm.dfa.next_state(aho_corasick::Anchored::No, sid, c);
                if cm.dfa.is_special(sid) {
                    if cm.dfa.is_dead(sid) {
                        break;
                    }
                    if !cm.dfa.is_match(sid) {
                        continue;
                    }
                    // Every word ending here (overlapping semantics), with its start.
                    for k in 0..cm.dfa.match_len(sid) {
                        let pid = cm.dfa.match_pattern(sid, k);
                        let start = (p + 1).saturating_sub(cm.dfa.pattern_len(pid));
                        if free >> start & 1 == 1 {
                            words |= 1 << pid.as_usize();
                            if start == 0 || !raw[start - 1].is_ascii_alphabetic() {
                                word_starts |= 1 << pid.as_usize();
                            }
                        }
                    }
                }
            }
            Window {
                words,
                word_starts,
                free,
            }
        })
    }

    /// `has`, where the word must also start a word (`tel`, not `hotel` or `intel`).
    fn has_word_start(&self, list: &[&[u8]]) -> bool {
        match list_mask(list) {
            Some(mask) => self.window().word_starts & mask != 0,
            None => self.scan_for(list, true),
        }
    }

    fn has(&self, list: &[&[u8]]) -> bool {
        match list_mask(list) {
            Some(mask) => self.window().words & mask != 0,
            None => self.scan_for(list, false),
        }
    }

    /// A word of `list` outside `[...]` in the window, found directly; with `word_start`, only
    /// one that starts a word.
    fn scan_for(&self, list: &[&[u8]], word_start: bool) -> bool {
        let w = self.window();
        let hay = self.raw();
        list.iter().any(|word| {
            !word.is_empty()
                && word.len() <= hay.len()
                && (0..=hay.len() - word.len()).any(|k| {
                    w.free >> k & 1 == 1
                        && (!word_start || k == 0 || !hay[k - 1].is_ascii_alphabetic())
                        && hay[k..k + word.len()].eq_ignore_ascii_case(word)
                })
        })
    }
}

/// Right before `s`, after spaces, an optional `:` and an optional `is`/`are`/`son`/`es`: a
/// phone word and an optional `number`/`no.`/`#` (`phone number is `, `Tel.: `, `teléfonos
/// son `). Reads at most 40 bytes back.
fn phone_label_before(b: &[u8], s: usize) -> bool {
    let from = s.saturating_sub(40);
    let mut buf = [0u8; 40];
    let w = &mut buf[..s - from];
    w.copy_from_slice(&b[from..s]);
    w.make_ascii_lowercase();
    let mut t: &[u8] = w.trim_ascii_end();
    t = t.strip_suffix(b":").unwrap_or(t).trim_ascii_end();
    for verb in [&b" is"[..], b" are", b" son", b" es", b" was"] {
        if let Some(r) = t.strip_suffix(verb) {
            t = r.trim_ascii_end();
            break;
        }
    }
    t = t.strip_suffix(b":").unwrap_or(t).trim_ascii_end();
    for noun in [&b" number"[..], b" no.", b" no", b" #", b" nr."] {
        if let Some(r) = t.strip_suffix(noun) {
            t = r.trim_ascii_end();
            break;
        }
    }
    const WORDS: &[&[u8]] = &[
        b"phone",
        b"telephone",
        b"tel",
        b"tel.",
        b"mobile",
        b"cell",
        b"my number",
        b"phones",
        b"tel\xc3\xa9fono",
        b"tel\xc3\xa9fonos",
    ];
    WORDS.iter().any(|word| {
        t.ends_with(word)
            && t.len()
                .checked_sub(word.len() + 1)
                .is_none_or(|k| !t[k].is_ascii_alphanumeric())
    })
}

const ZIP_CONTEXT: &[&[u8]] = &[b"zip", b"postal", b"postcode"];

const PHONE_CONTEXT: &[&[u8]] = &[
    b"phone",
    b"call",
    b"tel",
    // `mobil` also covers German, Turkish and Scandinavian `Mobil`; `handy` is German for a
    // mobile phone.
    b"mobil",
    b"handy",
    b"cell",
    b"fax",
    b"text me",
    b"whatsapp",
    b"sms",
    b"my number",
    b"reach me",
    b"celular",
    b"movil",
    b"m\xc3\xb3vil",
    // Spanish `Tf.` and `llamar`, Scandinavian `tlf.`.
    b"tf. ",
    b"llam",
    b"tlf",
];
const SSN_CONTEXT: &[&[u8]] = &[
    b"ssn",
    b"social security",
    b"ss#",
    b"ss #",
    b"social sec",
    b"ssa number",
];
const ITIN_CONTEXT: &[&[u8]] = &[b"itin", b"taxpayer id", b"individual taxpayer"];
const ROUTING_CONTEXT: &[&[u8]] = &[b"routing", b"aba", b"rtn", b"transit number", b"bank code"];
const BSN_CONTEXT: &[&[u8]] = &[b"bsn", b"burgerservice", b"sofinummer", b"sofi"];
const SIN_CONTEXT: &[&[u8]] = &[b"sin", b"social insurance", b"nas", b"assurance sociale"];
const TFN_CONTEXT: &[&[u8]] = &[b"tfn", b"tax file"];
const NHS_CONTEXT: &[&[u8]] = &[b"nhs", b"health service", b"chi number"];
const PESEL_CONTEXT: &[&[u8]] = &[b"pesel"];
const STEUER_CONTEXT: &[&[u8]] = &[
    b"steuer",
    b"steuer-id",
    b"tax id",
    b"idnr",
    b"identifikationsnummer",
    b"tin",
    b"id-nr",
];
const AADHAAR_CONTEXT: &[&[u8]] = &[b"aadhaar", b"aadhar", b"uidai", b"uid"];
const NPI_CONTEXT: &[&[u8]] = &[b"npi", b"national provider", b"provider", b"prescriber"];
const TCKN_CONTEXT: &[&[u8]] = &[
    b"kimlik",
    b"tckn",
    b"tc no",
    b"t.c.",
    b"n\xc3\xbcfus",
    b"turkish id",
    b"national id",
];
const RRN_CONTEXT: &[&[u8]] = &[
    b"rrn",
    b"resident registration",
    b"registration number",
    b"jumin",
    // 주민등록 (resident registration)
    b"\xec\xa3\xbc\xeb\xaf\xbc\xeb\x93\xb1\xeb\xa1\x9d",
];
const VERSION_WORDS: &[&[u8]] = &[
    b"version",
    b"release",
    b"build",
    b"ver",
    b"v",
    b"firmware",
    b"kernel",
];

/// True when the word right before `start` (skipping spaces and `:`) names a version.
fn version_word_before(b: &[u8], start: usize) -> bool {
    let mut e = start;
    while e > 0 && matches!(b[e - 1], b' ' | b':' | b'\t') {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && b[s - 1].is_ascii_alphabetic() {
        s -= 1;
    }
    let w = &b[s..e];
    VERSION_WORDS.iter().any(|v| v.eq_ignore_ascii_case(w))
}

fn classify(
    en: &Enabled,
    b: &[u8],
    gs: &[Group],
    plus: bool,
    at_start: bool,
    inside_run: bool,
    cx: &Ctx<'_>,
) -> Option<u16> {
    let start = cx.start;
    let ng = gs.len();
    let total: usize = gs.iter().map(|g| g.ndig).sum();
    let any_paren = gs.iter().any(|g| g.paren);
    let seps_same = gs[1..]
        .iter()
        .all(|g| g.sep == gs.get(1).map_or(0, |x| x.sep));
    let sep1 = gs.get(1).map_or(0, |g| g.sep);
    let mut digits = [0u8; 24];
    let nd = digits_of(b, gs, &mut digits);
    let d = &digits[..nd];

    // IPv4
    if en.on(ENT_IP) && !plus && ng == 4 && !any_paren && gs[1..].iter().all(|g| g.sep == b'.') {
        let ok = gs.iter().all(|g| {
            let s = &b[g.dstart..g.dstart + g.ndig];
            g.ndig <= 3 && num(s) <= 255 && (g.ndig == 1 || s[0] != b'0')
        });
        if ok && !version_word_before(b, start) {
            return Some(ENT_IP);
        }
        // Not an address; only the dotted 3-3-2-2 phone shape (`532.123.45.67`) and a NANP
        // number with its `1` (`1.234.567.8900`) go on.
        let phone_shape = gs.iter().map(|g| g.ndig).eq([3, 3, 2, 2])
            || gs.iter().map(|g| g.ndig).eq([1, 3, 3, 4]) && d[0] == b'1';
        if ok || !phone_shape {
            return None;
        }
    }
    if let Some(ent) = national_id(en, gs, d, plus || any_paren, cx) {
        return Some(ent);
    }
    if gs[1..].iter().any(|g| g.sep == b'.') && !en.on(ENT_PHONE) && !en.on(ENT_SSN) {
        return None;
    }
    // SSN
    if en.on(ENT_SSN) && !plus && !any_paren {
        if ng == 3
            && seps_same
            && matches!(sep1, b'-' | b' ' | b'.')
            && gs[0].ndig == 3
            && gs[1].ndig == 2
            && gs[2].ndig == 4
            && ssn_ok(num(&d[..3]), num(&d[3..5]), num(&d[5..9]))
        {
            return Some(ENT_SSN);
        }
        if ng == 1
            && total == 9
            && ssn_ok(num(&d[..3]), num(&d[3..5]), num(&d[5..9]))
            && cx.has(SSN_CONTEXT)
        {
            return Some(ENT_SSN);
        }
    }
    // Payment card
    if en.on(ENT_CARD) && !plus && !any_paren && !inside_run && (12..=19).contains(&total) {
        let shape_ok = ng == 1
            || (seps_same
                && matches!(sep1, b' ' | b'-')
                && ((ng >= 3
                    && gs[..ng - 1].iter().all(|g| g.ndig == 4)
                    && (1..=4).contains(&gs[ng - 1].ndig))
                    || (ng == 3
                        && gs[0].ndig == 4
                        && gs[1].ndig == 6
                        && matches!(gs[2].ndig, 4 | 5))));
        if shape_ok && luhn(d) && card_brand_ok(d) {
            return Some(ENT_CARD);
        }
    }
    // Phone (not when a context word says the number is an NHS number that failed its check).
    // Every rule below ends in yes or no, so the veto, which needs the context window, is asked
    // last: only of a number that is a phone number otherwise.
    if !en.on(ENT_PHONE) {
        return None;
    }
    let phone = 'phone: {
        let seps_phone = gs[1..]
            .iter()
            .all(|g| matches!(g.sep, b' ' | b'-' | b'.' | b'/') || gs_prev_paren(gs, g));
        if !seps_phone || (sep1 == b'/' && cx.has_word_start(NOT_PII_CONTEXT)) {
            break 'phone false;
        }
        if plus {
            break 'phone (8..=15).contains(&total) && gs[0].ndig <= 15;
        }
        // A decimal fraction (`0.000000012`), not a number set apart.
        if ng == 2 && gs[0].ndig == 1 && sep1 == b'.' {
            break 'phone false;
        }
        // 00 international prefix unseparated, with a phone word: `my number is 004917612345678`.
        if ng == 1
            && (11..=15).contains(&total)
            && d.starts_with(b"00")
            && d.get(2).is_some_and(|&c| c != b'0')
            && cx.phone_cue()
        {
            break 'phone true;
        }
        // 00 international prefix
        if at_start
            && ng >= 2
            && d.starts_with(b"00")
            && gs[0].ndig <= 4
            && (10..=17).contains(&total)
        {
            break 'phone true;
        }
        let lens: [usize; 4] = core::array::from_fn(|k| gs.get(k).map_or(0, |g| g.ndig));
        // NANP: (NXX) NXX-XXXX, NXX-NXX-XXXX, 1-NXX-NXX-XXXX
        let nanp = |off: usize| -> bool {
            d.len() == off + 10
                && (b'2'..=b'9').contains(&d[off])
                && (b'2'..=b'9').contains(&d[off + 3])
        };
        // Also the made-up numbers of forms and examples (`(123) 456-7890`, `555-123-4567`):
        // set apart like a phone number, they stand for one.
        if ng == 3
            && lens[..3] == [3, 3, 4]
            && (nanp(0)
                || (gs[0].paren || seps_same)
                    && !cx.has_word_start(NOT_PII_CONTEXT)
                    && !cx.has(SSN_CONTEXT))
        {
            break 'phone true;
        }
        if ng == 4 && lens == [1, 3, 3, 4] && d[0] == b'1' && nanp(1) {
            break 'phone true;
        }
        // A toll-free code written with its `1` (`1800 555-5555`, `1-888 555 0199`).
        if ng == 3
            && lens[..3] == [4, 3, 4]
            && d[0] == b'1'
            && d[1] == b'8'
            && d[2] == d[3]
            && matches!(d[2], b'0' | b'3' | b'4' | b'5' | b'6' | b'7' | b'8')
            && (b'2'..=b'9').contains(&d[4])
        {
            break 'phone true;
        }
        // A country code written without its `+` before a NANP-shaped number, all groups set
        // apart alike: `91-415-555-0132`, `44 212 555 0199`.
        if ng == 4
            && (2..=3).contains(&lens[0])
            && lens[1..] == [3, 3, 4]
            && d[0] != b'0'
            && nanp(lens[0])
            && matches!(gs[1].sep, b'-' | b' ' | b'.')
            && gs[2..].iter().all(|g| g.sep == gs[1].sep)
            && !cx.has_word_start(NOT_PII_CONTEXT)
        {
            break 'phone true;
        }
        if ng == 2 && any_paren && gs[0].paren && lens[..2] == [3, 7] && nanp(0) {
            break 'phone true;
        }
        // Trunk-prefixed national numbers (UK 020 7946 0958, FR 06 12 34 56 78, DE 030 1234567),
        // also with the trunk 0 set apart (TR `0 532 123 45 67`, `0 (532) 1234567`).
        let trunk_apart = gs[0].ndig == 1 && ng >= 3 && total == 11;
        if at_start
            && ng >= 2
            && d[0] == b'0'
            && (9..=11).contains(&total)
            && (gs.iter().all(|g| g.ndig >= 2) || trunk_apart)
            && !(sep1 == b'.' && ng == 3)
            && !(total == 9 && gs.iter().any(|g| g.ndig == 4) && ng == 3)
        {
            break 'phone true;
        }
        // Ten digits grouped 3-3-2-2 (TR mobiles `532 123 45 67`, one separator kind).
        if ng == 4 && lens == [3, 3, 2, 2] && seps_same && !any_paren && d[0] != b'0' {
            break 'phone true;
        }
        // Unseparated mobile numbers in national format: CN 1[3-9]x (11 digits), trunk-prefixed
        // 0x mobiles (PH 09171234567, FR 0612345678, UK 07700900123, TR 05321234567).
        if ng == 1
            && ((total == 11 && d[0] == b'1' && (b'3'..=b'9').contains(&d[1]))
                || ((10..=11).contains(&total) && d[0] == b'0' && d[1] != b'0'))
            && !cx.has_word_start(NOT_PII_CONTEXT)
        {
            break 'phone true;
        }
        // Local 7-digit numbers: 555-0199 (not `ticket 555-0100`).
        if ng == 2
            && lens[..2] == [3, 4]
            && sep1 == b'-'
            && d[0] >= b'2'
            && !any_paren
            && !cx.has_word_start(NOT_PII_CONTEXT)
        {
            break 'phone true;
        }
        // Unseparated numbers only with a phone word nearby.
        // Ten digits with a phone word: NANP, or other national numbers not starting with 1
        // (Unix timestamps do) and not named as references.
        let eleven = total == 11 && d[0] == b'1' && nanp(1);
        if ng == 1 && (total == 10 || eleven) {
            // A number starting with 1 may be a Unix time, unless a phone label stands right
            // before it (`phone number is 1302231221`, `teléfonos son 1112345678`).
            let ten = total == 10
                && (nanp(0)
                    || (d[0] >= b'2' || phone_label_before(cx.b, cx.start))
                        && !cx.has_word_start(NOT_PII_CONTEXT));
            // The phone word must start a word: `tel`, not `hotel` or `intel`.
            // An extension after it says phone as well as a phone word before it does
            // (`Desk: 5551234567 ext 9`).
            if (ten || eleven) && (cx.phone_cue() || phone_extension(b, gs[ng - 1].end).is_some()) {
                break 'phone true;
            }
        }
        // Indian mobiles written 5-5 (`98765 43210`), with a phone word.
        if ng == 2 && lens[..2] == [5, 5] && d[0] >= b'6' && cx.phone_cue() {
            break 'phone true;
        }
        // Any national grouping with a phone word nearby: most countries' numbers have 7-13
        // digits in groups of two or more (`call me at 22 21 23 45`, `tel 701 2345`, `mobile
        // 8 0152 45-09-11` with a one-digit trunk first).
        let groups_ok = gs.iter().all(|g| g.ndig >= 2) || (ng >= 3 && gs[0].ndig == 1);
        // Dates (`2024-01-31`, also with a time after) and Unix times (`1712654216`, ms too).
        let date = ng >= 3
            && (lens[..3] == [4, 2, 2] || lens[..3] == [2, 2, 4])
            && gs[1].sep != b' '
            && gs[2].sep != b' ';
        let epoch = ng == 1
            && ((d[0] == b'1' && (total == 10 || total == 13))
                || (total == 8 && (d.starts_with(b"19") || d.starts_with(b"20"))));
        (7..=13).contains(&total)
            && groups_ok
            && !date
            && !epoch
            && cx.phone_cue()
            && !cx.has_word_start(NOT_PII_CONTEXT)
    };
    (phone && !(total == 10 && cx.has(NHS_CONTEXT))).then_some(ENT_PHONE)
}

type TypedId = (u16, &'static [&'static [u8]], fn(&[u8]) -> bool);

/// National identifiers that are all digits. A checksum must hold; context words pick the type
/// where several formats share a length, and words such as "order" or "invoice" keep a number
/// that merely passes a checksum.
/// Out of line for the same reason as `scan`.
#[inline(never)]
fn national_id(en: &Enabled, gs: &[Group], d: &[u8], decorated: bool, cx: &Ctx<'_>) -> Option<u16> {
    if decorated || gs.is_empty() {
        return None;
    }
    let ng = gs.len();
    let mut lens_buf = [0usize; MAX_GROUPS];
    for (k, g) in gs.iter().enumerate() {
        lens_buf[k] = g.ndig;
    }
    let lens = &lens_buf[..ng];
    let sep1 = gs.get(1).map_or(0, |g| g.sep);
    let seps_same = gs[1..].iter().all(|g| g.sep == sep1);
    let grouped = |want: &[usize]| lens == want && seps_same && matches!(sep1, b' ' | b'-' | b'.');
    let ctx = |w: &[&[u8]]| cx.has(w);
    // Asked only where a length needs it: the context window is computed on first use, and
    // most numbers (cards, phones, other lengths) never need it. `has` is pure, so asking
    // later gives the same answer.
    let neg = || cx.has(NOT_PII_CONTEXT);
    match d.len() {
        9 => {
            let ssn_shape = grouped(&[3, 2, 4]);
            // ABA routing numbers printed 4-4-1 (`0711-0130-7`): the shape is theirs alone.
            if grouped(&[4, 4, 1]) {
                return (en.on(ENT_US_BANK_ROUTING) && ids::aba_ok(d) && !neg())
                    .then_some(ENT_US_BANK_ROUTING);
            }
            // An ITIN with one hyphen out of place (`911-701234`, `91170-1234`): its ranges are
            // narrow enough to stand without the other. Five and four digits are also a ZIP+4
            // code (`WA 98052-6399`), which a state or a ZIP word before it gives away.
            let zip4 = || {
                let t = cx.raw().trim_ascii_end();
                let state = match t {
                    [.., a, b1, c] => {
                        !a.is_ascii_alphanumeric() && [b1, c].iter().all(|x| x.is_ascii_uppercase())
                    }
                    [b1, c] => b1.is_ascii_uppercase() && c.is_ascii_uppercase(),
                    _ => false,
                };
                state || cx.scan_for(ZIP_CONTEXT, true)
            };
            if sep1 == b'-'
                && (grouped(&[3, 6]) || (grouped(&[5, 4]) && !zip4()))
                && en.on(ENT_US_ITIN)
                && ids::itin_ok(d)
                && !neg()
            {
                return Some(ENT_US_ITIN);
            }
            if !(ng == 1 || grouped(&[3, 3, 3]) || ssn_shape || grouped(&[4, 2, 3])) {
                return None;
            }
            let itin_shape = ssn_shape || ng == 1;
            if en.on(ENT_US_ITIN)
                && itin_shape
                && ids::itin_ok(d)
                && (ssn_shape || ctx(ITIN_CONTEXT) || !neg())
            {
                return Some(ENT_US_ITIN);
            }
            let typed: [TypedId; 4] = [
                (ENT_US_BANK_ROUTING, ROUTING_CONTEXT, ids::aba_sum_ok),
                (ENT_NL_BSN, BSN_CONTEXT, ids::bsn_ok),
                (ENT_CA_SIN, SIN_CONTEXT, ids::sin_ok),
                (ENT_AU_TFN, TFN_CONTEXT, ids::tfn_ok),
            ];
            // Checksums before context words: most numbers pass none and need no window.
            for (ent, words, ok) in typed {
                if en.on(ent) && ok(d) && ctx(words) {
                    return Some(ent);
                }
            }
            // Without a context word, the checksums alone (routing numbers need their word: a
            // 3-7-1 sum is too weak on its own).
            let plain = typed[1..]
                .iter()
                .find(|(ent, _, ok)| en.on(*ent) && ok(d))
                .map(|t| t.0);
            if plain.is_none() || ssn_shape || neg() || ctx(SSN_CONTEXT) || ctx(PHONE_CONTEXT) {
                return None;
            }
            plain
        }
        10 => {
            let npi = en.on(ENT_US_NPI) && (ng == 1 || grouped(&[4, 3, 3])) && ids::npi_ok(d);
            if npi && cx.has_word_start(NPI_CONTEXT) {
                return Some(ENT_US_NPI);
            }
            // 4-3-3 is no phone or date layout. Ten bare digits starting with 1 or 2 are Unix
            // times far more often, so those need the word.
            if npi && ng == 3 && !neg() {
                return Some(ENT_US_NPI);
            }
            if !(en.on(ENT_UK_NHS) && (ng == 1 || grouped(&[3, 3, 4])) && ids::nhs_ok(d)) {
                return None;
            }
            if ctx(NHS_CONTEXT) {
                return Some(ENT_UK_NHS);
            }
            let nanp = (b'2'..=b'9').contains(&d[0]) && (b'2'..=b'9').contains(&d[3]);
            // Unix timestamps in seconds (2001-2039) are ten unseparated digits too.
            let epoch = ng == 1 && (b"1".contains(&d[0]) || (d[0] == b'2' && d[1] <= b'1'));
            if epoch
                || neg()
                || ctx(PHONE_CONTEXT)
                || (nanp && ng == 3 && sep1 != b' ')
                || (ng == 1 && nanp)
            {
                return None;
            }
            Some(ENT_UK_NHS)
        }
        11 => {
            let tckn = en.on(ENT_TR_NATIONAL_ID) && ng == 1 && ids::tckn_ok(d);
            if tckn && ctx(TCKN_CONTEXT) {
                return Some(ENT_TR_NATIONAL_ID);
            }
            let pesel = en.on(ENT_PL_PESEL) && ng == 1 && ids::pesel_ok(d);
            let steuer =
                en.on(ENT_DE_TAX_ID) && (ng == 1 || grouped(&[2, 3, 3, 3])) && ids::steuer_id_ok(d);
            if pesel && ctx(PESEL_CONTEXT) {
                return Some(ENT_PL_PESEL);
            }
            if steuer && ctx(STEUER_CONTEXT) {
                return Some(ENT_DE_TAX_ID);
            }
            // Test and older numbers break the digit-repetition rule; with the word, the
            // ISO 7064 check digit is enough.
            if en.on(ENT_DE_TAX_ID)
                && (ng == 1 || grouped(&[2, 3, 3, 3]))
                && ids::steuer_check_digit_ok(d)
                && ctx(STEUER_CONTEXT)
            {
                return Some(ENT_DE_TAX_ID);
            }
            if !(pesel || steuer || tckn) || neg() || ctx(PHONE_CONTEXT) {
                return None;
            }
            if pesel {
                return Some(ENT_PL_PESEL);
            }
            if steuer {
                return Some(ENT_DE_TAX_ID);
            }
            // Without its word, a Chinese mobile number (`1[3-9]…`) that happens to pass both
            // check digits stays a phone number.
            let cn_mobile = d[0] == b'1' && (b'3'..=b'9').contains(&d[1]);
            (!cn_mobile).then_some(ENT_TR_NATIONAL_ID)
        }
        12 => {
            let ok =
                en.on(ENT_IN_AADHAAR) && (ng == 1 || grouped(&[4, 4, 4])) && ids::aadhaar_ok(d);
            (ok && (ctx(AADHAAR_CONTEXT) || !neg())).then_some(ENT_IN_AADHAAR)
        }
        13 => {
            // `YYMMDD-GNNNNNN` or thirteen digits, with a valid birth date.
            let shape = ng == 1 || (grouped(&[6, 7]) && sep1 == b'-');
            if !(en.on(ENT_KR_RRN) && shape && ids::kr_rrn_date_ok(d)) {
                return None;
            }
            if ctx(RRN_CONTEXT) {
                return Some(ENT_KR_RRN);
            }
            // Without the word: citizens' numbers only (7th digit 1-4), and thirteen bare digits
            // need the pre-2020 check digit and must not start with 1 (milliseconds since 1970).
            let citizen = matches!(d[6], b'1'..=b'4');
            let bare_ok = ng == 2 || (d[0] != b'1' && ids::kr_rrn_check_ok(d));
            (citizen && bare_ok && !neg()).then_some(ENT_KR_RRN)
        }
        15 => {
            // Grouped as the card prints it (1 2 2 2 3 3 2), it is nobody's reference number.
            let card = seps_same && sep1 == b' ' && lens == [1, 2, 2, 2, 3, 3, 2];
            let ok = en.on(ENT_FR_NIR)
                && (ng == 1 || card || (seps_same && sep1 == b' ' && lens == [13, 2]))
                && ids::nir_ok(d);
            (ok && (card || !neg())).then_some(ENT_FR_NIR)
        }
        _ => None,
    }
}

/// `S YY MM 2A CCC KKK CC` at `i` (groups of 1, 2, 2, 2, 3, 3, 2 split by single spaces, the
/// fourth `2A` or `2B`) whose NIR check holds: the end.
fn spaced_corsican_nir(b: &[u8], i: usize) -> Option<usize> {
    const LENS: [usize; 7] = [1, 2, 2, 2, 3, 3, 2];
    if i > 0 && is_word(b[i - 1]) {
        return None;
    }
    let mut u = [0u8; 15];
    let (mut p, mut k) = (i, 0);
    for (g, &len) in LENS.iter().enumerate() {
        if g > 0 {
            if b.get(p) != Some(&b' ') {
                return None;
            }
            p += 1;
        }
        let group = b.get(p..p + len)?;
        for (j, &c) in group.iter().enumerate() {
            let letter = g == 3 && j == 1 && matches!(c.to_ascii_uppercase(), b'A' | b'B');
            if !(c.is_ascii_digit() || letter) {
                return None;
            }
            u[k] = c.to_ascii_uppercase();
            k += 1;
        }
        p += len;
    }
    (u[5] == b'2' && b.get(p).is_none_or(|&c| !is_word(c)) && ids::nir_ok(&u)).then_some(p)
}

fn gs_prev_paren(gs: &[Group], g: &Group) -> bool {
    // A group right after `(NNN)` may follow without separator: (555)123-4567.
    g.sep == 0 && gs.iter().any(|x| x.paren && x.end == g.start)
}

/// The alphanumeric token around the digit at `i`, tested against the letter-bearing identifier
/// formats. Returns the span and entity.
fn alnum_id(en: &Enabled, b: &[u8], i: usize) -> Option<(usize, usize, u16)> {
    let n = b.len();
    let mut s = i;
    let mut digit_before = false;
    while s > 0 && i - s < 48 && is_alnum(b[s - 1]) {
        s -= 1;
        digit_before |= b[s].is_ascii_digit();
    }
    // Only tokens whose first digit is this one are tested (see `first_digit` below): a digit
    // before it in the token answers that without the scan to the token's end.
    if digit_before || (s > 0 && (b[s - 1] == b'_' || (b[s - 1] >= 0x80 && b[s - 1] != 0xC2))) {
        return None;
    }
    let mut e = i;
    while e < n && e - s < 96 && is_alnum(b[e]) {
        e += 1;
    }
    if e < n
        && (b[e] == b'_'
            || b[e] >= 0x80 && b[e] != 0xC2 && b[e] != 0xE2 && b[e] != 0xE3 && b[e] != 0xEF)
    {
        return None;
    }
    let t = &b[s..e];
    // Only tokens that start here (or at a letter before here) are tested once.
    let first_digit = t.iter().position(u8::is_ascii_digit).map(|k| s + k);
    if first_digit != Some(i) {
        return None;
    }
    // A Spanish ID glued to its label (`DNI34657934-Q`, `NIEX1234567L`): the label is no part
    // of it.
    let glued_label = t.len() > 3
        && [&b"DNI"[..], b"NIE", b"NIF"]
            .iter()
            .any(|l| t[..3].eq_ignore_ascii_case(l))
        && matches!(t[3], b'0'..=b'9' | b'X' | b'Y' | b'Z' | b'x' | b'y' | b'z');
    let (s, t) = if glued_label && en.on(ENT_ES_NIF) {
        (s + 3, &b[s + 3..e])
    } else {
        (s, t)
    };
    let letters = t.iter().any(u8::is_ascii_alphabetic);
    if en.on(ENT_US_MBI)
        && letters
        && matches!(t.len(), 4 | 11)
        && let Some(end) = mbi_at(b, s, e)
    {
        return Some((s, end, ENT_US_MBI));
    }
    // DNI/NIE with a dash before the letter: 12345678-Z, Y8063915-Z, 1111111-G (seven digits,
    // the leading zero left out).
    if en.on(ENT_ES_NIF)
        && (7..=8).contains(&t.len())
        && e + 2 <= n
        && b[e] == b'-'
        && b[e + 1].is_ascii_alphabetic()
        && (e + 2 == n || !is_word(b[e + 2]))
    {
        let mut buf = [b'0'; 9];
        buf[9 - 1 - t.len()..8].copy_from_slice(t);
        buf[8] = b[e + 1].to_ascii_uppercase();
        buf[0] = buf[0].to_ascii_uppercase();
        if ids::es_nif_ok(&buf) {
            return Some((s, e + 2, ENT_ES_NIF));
        }
    }
    if !letters || t.len() < 8 {
        return None;
    }
    // The letter-bearing formats are also written in lower case (`tw987654a`, `12345678z`);
    // mixed case is left alone (identifiers, hashes).
    let mut up = [0u8; 16];
    let one_case = t.len() <= 16
        && (!t.iter().any(u8::is_ascii_lowercase) || !t.iter().any(u8::is_ascii_uppercase));
    let u: &[u8] = if one_case {
        for (k, c) in t.iter().enumerate() {
            up[k] = c.to_ascii_uppercase();
        }
        &up[..t.len()]
    } else {
        t
    };
    if en.on(ENT_UK_NINO) && u.len() == 9 && ids::nino_ok(u) {
        return Some((s, e, ENT_UK_NINO));
    }
    if en.on(ENT_ES_NIF) && u.len() == 9 && ids::es_nif_ok(u) {
        return Some((s, e, ENT_ES_NIF));
    }
    if en.on(ENT_ES_NIF) && u.len() == 8 && u[..7].iter().all(u8::is_ascii_digit) {
        let mut buf = [b'0'; 9];
        buf[1..].copy_from_slice(u);
        if ids::es_nif_ok(&buf) {
            return Some((s, e, ENT_ES_NIF));
        }
    }
    // A French NIR of someone born in Corsica: `2A`/`2B` for the department.
    if en.on(ENT_FR_NIR) && u.len() == 15 && ids::nir_ok(u) {
        return Some((s, e, ENT_FR_NIR));
    }
    if en.on(ENT_IT_FISCAL_CODE) && u.len() == 16 && ids::codice_fiscale_shape_ok(u) {
        return Some((s, e, ENT_IT_FISCAL_CODE));
    }
    if en.on(ENT_DRIVER_LICENSE) && u.len() == 16 && ids::uk_driving_licence_ok(u) {
        // With its issue number after a space (`MORGA753116SM91J 01`; the run ended at `e`, so
        // an attached one is the 18-character case below).
        return Some((s, dvla_issue(b, e).unwrap_or(e), ENT_DRIVER_LICENSE));
    }
    // The licence's two-digit issue number, attached (`MORGA753116SM91J01`).
    if en.on(ENT_DRIVER_LICENSE)
        && u.len() == 18
        && u[16..].iter().all(u8::is_ascii_digit)
        && ids::uk_driving_licence_ok(&u[..16])
    {
        return Some((s, e, ENT_DRIVER_LICENSE));
    }
    if en.on(ENT_CRYPTO_WALLET) {
        let ok = match t[0] {
            b'1' | b'3' | b'L' | b'M' | b'D' => ids::base58check_ok(t),
            b'0' => ids::eth_ok(t),
            b'b' | b'B' | b't' | b'l' => ids::bech32_ok(t),
            _ => false,
        };
        if ok {
            return Some((s, e, ENT_CRYPTO_WALLET));
        }
    }
    None
}

/// A Medicare Beneficiary Identifier in the token `b[s..e]`: eleven upper-case characters, or
/// printed `1EG4-TE5-MK73` in either case (one case throughout). Returns its end. Out of line:
/// few tokens get here.
#[inline(never)]
fn mbi_at(b: &[u8], s: usize, e: usize) -> Option<usize> {
    if e - s == 11 {
        return ids::mbi_ok(&b[s..e]).then_some(e);
    }
    let end = s + 13;
    if e - s != 4 || end > b.len() || b[s + 4] != b'-' || b[s + 8] != b'-' {
        return None;
    }
    if end < b.len() && (is_word(b[end]) || b[end] == b'-') {
        return None;
    }
    let raw = &b[s..end];
    if raw.iter().any(u8::is_ascii_lowercase) && raw.iter().any(u8::is_ascii_uppercase) {
        return None;
    }
    // The groups 4-3-4 around the two dashes; `mbi_ok` checks every character's class.
    let mut buf = [0u8; 11];
    let groups = raw[..4].iter().chain(&raw[5..8]).chain(&raw[9..]);
    for (slot, c) in buf.iter_mut().zip(groups) {
        *slot = c.to_ascii_uppercase();
    }
    ids::mbi_ok(&buf).then_some(end)
}

/// A UK driving licence written in groups (`MORGA 753116 SM91J 01`, `MORGA 753 116 SM91J01`),
/// found at its first digit: five surname characters, six digits (or three and three), five
/// characters, and the issue number if it follows.
fn dvla_spaced(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let s = letters_before(b, i, 5)?;
    let mut buf = [0u8; 16];
    buf[..5].copy_from_slice(&b[s..s + 5]);
    let mut p = i;
    let mut k = 5;
    while k < 11 {
        match b.get(p) {
            Some(c) if c.is_ascii_digit() => {
                buf[k] = *c;
                k += 1;
                p += 1;
            }
            Some(b' ') if k == 8 => p += 1,
            _ => return None,
        }
    }
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    let tail = b.get(p..p + 5)?;
    buf[11..].copy_from_slice(tail);
    p += 5;
    if !ids::uk_driving_licence_ok(&buf) {
        return None;
    }
    if let Some(e) = dvla_issue(b, p) {
        return Some((s, e));
    }
    b.get(p).is_none_or(|c| !is_word(*c)).then_some((s, p))
}

/// A UK driving licence's two-digit issue number at `p`, attached or after a space: its end.
fn dvla_issue(b: &[u8], p: usize) -> Option<usize> {
    let q = if b.get(p) == Some(&b' ') { p + 1 } else { p };
    (b.get(q..q + 2)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && b.get(q + 2).is_none_or(|c| !is_word(*c)))
    .then_some(q + 2)
}

/// The start of `n` characters and a space right before `i` (the letters of an id written
/// apart from its digits), at a word boundary.
fn letters_before(b: &[u8], i: usize, n: usize) -> Option<usize> {
    let s = i.checked_sub(n + 1)?;
    (b[i - 1] == b' ' && (s == 0 || !is_word(b[s - 1]))).then_some(s)
}

/// UK NINO written in pairs: `AB 12 34 56 C`.
fn nino_spaced(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let s = letters_before(b, i, 2)?;
    let mut buf = [0u8; 9];
    buf[0] = b[s].to_ascii_uppercase();
    buf[1] = b[s + 1].to_ascii_uppercase();
    let mut p = i;
    // `PR 123612C` / `PR 123612 C`: the six digits together.
    if i + 7 <= b.len() && b[i..i + 6].iter().all(u8::is_ascii_digit) {
        buf[2..8].copy_from_slice(&b[i..i + 6]);
        let mut q = i + 6;
        // A detached suffix only in upper case (`to 123456 a day` is no NINO).
        if b.get(q) == Some(&b' ') && b[s].is_ascii_uppercase() {
            q += 1;
        }
        let &suffix = b.get(q)?;
        buf[8] = suffix.to_ascii_uppercase();
        if q + 1 < b.len() && is_word(b[q + 1]) {
            return None;
        }
        return ids::nino_ok(&buf).then_some((s, q + 1));
    }
    // `AZ 123 456 A`: three and three, upper case only.
    if b[s].is_ascii_uppercase()
        && i + 9 <= b.len()
        && b[i..i + 3].iter().all(u8::is_ascii_digit)
        && b[i + 3] == b' '
        && b[i + 4..i + 7].iter().all(u8::is_ascii_digit)
        && b[i + 7] == b' '
        && b[i + 8].is_ascii_uppercase()
        && (i + 9 == b.len() || !is_word(b[i + 9]))
    {
        buf[2..5].copy_from_slice(&b[i..i + 3]);
        buf[5..8].copy_from_slice(&b[i + 4..i + 7]);
        buf[8] = b[i + 8];
        return ids::nino_ok(&buf).then_some((s, i + 9));
    }
    for k in 0..3 {
        if p + 2 > b.len() || !b[p].is_ascii_digit() || !b[p + 1].is_ascii_digit() {
            return None;
        }
        buf[2 + 2 * k] = b[p];
        buf[3 + 2 * k] = b[p + 1];
        p += 2;
        if b.get(p) == Some(&b' ') {
            p += 1;
        } else if k < 2 {
            return None;
        }
    }
    let &suffix = b.get(p)?;
    buf[8] = suffix.to_ascii_uppercase();
    if p + 1 < b.len() && is_word(b[p + 1]) {
        return None;
    }
    ids::nino_ok(&buf).then_some((s, p + 1))
}

/// Words that say a number is something else (order numbers, tickets, invoices).
const NOT_PII_CONTEXT: &[&[u8]] = &[
    b"order",
    b"invoice",
    b"ticket",
    b"tracking",
    b"ref",
    b"case",
    b"sku",
    b"item",
    b"po ",
    b"serial",
    b"build",
    b"version",
    b"commit",
    b"issue",
    b"pr ",
    b"bug",
    b"job",
    b"port",
    b"isbn",
    b"ean",
    b"upc",
    b"#",
];

/// An IBAN at `s` (country code) written in one of the national ways: its end, and whether its
/// mod-97 check holds. One with the country's length and layout whose check fails is a made-up
/// or mistyped example: validators beat shape, so it is kept whole rather than masked in pieces
/// by the digit rules (`AL47 2121 1009 0000 0002 3569 8740` lost two groups to other types).
fn iban_at(b: &[u8], s: usize) -> Option<(usize, bool)> {
    let len = iban_length([b[s], b[s + 1]])?;
    let mut buf = [0u8; 34];
    let mut k = 0;
    let mut p = s;
    // One separator kind (space, dash or dot) between groups of any size, as national formats
    // print them (`NO 44 1850.05.14562`, `ES72 2013-0692-81-...`); mod-97 and the country
    // length keep this strict.
    let mut sep = 0u8;
    while p < b.len() && k < len {
        let c = b[p];
        if c.is_ascii_digit() || c.is_ascii_uppercase() {
            buf[k] = c;
            k += 1;
            p += 1;
        } else if matches!(c, b' ' | b'-' | b'.')
            && k >= 2
            && (c == b' ' || sep == 0 || sep == c)
            && p + 1 < b.len()
            && b[p + 1].is_ascii_alphanumeric()
            && b[p - 1].is_ascii_alphanumeric()
        {
            if c != b' ' {
                sep = c;
            }
            p += 1;
        } else {
            break;
        }
    }
    if k != len || !buf[2].is_ascii_digit() || !buf[3].is_ascii_digit() {
        return None;
    }
    if p < b.len() && is_word(b[p]) {
        return None;
    }
    Some((p, iban_mod97(&buf[..k])))
}

/// Dotted-quad IPv4 at `s`, with an optional CIDR suffix (`10.0.0.0/8`); not a version number
/// and not part of a longer dotted run.
fn ipv4_at(b: &[u8], s: usize) -> Option<usize> {
    let n = b.len();
    if s > 0
        && (is_word(b[s - 1])
            || b[s - 1] == b'.'
            || (b[s - 1] == b'-' && s >= 2 && is_word(b[s - 2])))
    {
        return None;
    }
    let mut p = s;
    for k in 0..4 {
        let d0 = p;
        while p < n && p - d0 < 4 && b[p].is_ascii_digit() {
            p += 1;
        }
        let len = p - d0;
        if len == 0 || len > 3 || (len > 1 && b[d0] == b'0') || num(&b[d0..p]) > 255 {
            return None;
        }
        if k < 3 {
            if b.get(p) != Some(&b'.') {
                return None;
            }
            p += 1;
        }
    }
    if p < n && (is_word(b[p]) || (b[p] == b'.' && p + 1 < n && b[p + 1].is_ascii_digit())) {
        return None;
    }
    if version_word_before(b, s) {
        return None;
    }
    if p + 1 < n && b[p] == b'/' && b[p + 1].is_ascii_digit() {
        let q0 = p + 1;
        let mut q = q0;
        while q < n && q - q0 < 3 && b[q].is_ascii_digit() {
            q += 1;
        }
        if num(&b[q0..q]) <= 32 && (q >= n || !is_word(b[q])) {
            return Some(q);
        }
        return None;
    }
    Some(p)
}

/// A North American number written `415-555-0132` (or with dots) at `i`, glued to a short
/// lower-case word before it (`is415-555-0132`, a lost space): the end of the number. A longer
/// word or any capital or digit before it makes an identifier (`ORD415-555-0132`).
fn glued_nanp(b: &[u8], i: usize) -> Option<usize> {
    let mut s = i;
    while s > 0 && i - s <= 4 && b[s - 1].is_ascii_lowercase() {
        s -= 1;
    }
    let word = i - s;
    if !(2..=4).contains(&word) || (s > 0 && (is_word(b[s - 1]) || b[s - 1] >= 0x80)) {
        return None;
    }
    let t = b.get(i..i + 12)?;
    let sep = t[3];
    let shaped = matches!(sep, b'-' | b'.')
        && t[7] == sep
        && t.iter()
            .enumerate()
            .all(|(k, c)| k == 3 || k == 7 || c.is_ascii_digit());
    if !shaped || t[0] < b'2' || t[4] < b'2' {
        return None;
    }
    let e = i + 12;
    let ends = match b.get(e) {
        None => true,
        Some(&c) => {
            !(is_word(c)
                || (matches!(c, b'-' | b'.') && b.get(e + 1).is_some_and(|d| d.is_ascii_digit())))
        }
    };
    ends.then_some(e)
}

/// The end of a Finnish personal identity code at `i` (`131052-308T`). Its check character makes
/// a chance match rare enough to take one glued to a lower-case word (`code is030594W903B`).
fn hetu_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && is_word(b[i - 1]) && !b[i - 1].is_ascii_lowercase() {
        return None;
    }
    let e = i + 11;
    let t = b.get(i..e)?;
    (ids::hetu_ok(t) && b.get(e).is_none_or(|&c| !is_word(c))).then_some(e)
}

/// The end of a Swedish personnummer at `i`: `YYYYMMDDNNNC`, `YYYYMMDD-NNNC` or `YYMMDD-NNNC`
/// (`+` for a person of 100 or more). Ten digits alone are as likely a phone number: not taken.
fn personnummer_at(b: &[u8], i: usize) -> Option<usize> {
    let run = |from: usize| {
        b.get(from..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
    };
    let n = run(i);
    // Glued to a short lower-case word (`is199003052397`, a lost space): only the full
    // twelve-digit form, whose century and check digit leave little to chance. Longer words
    // (`order202401151234`) hold identifiers.
    if i > 0 && is_word(b[i - 1]) {
        let word = b[..i]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_lowercase())
            .count();
        let word_starts = i - word == 0 || !is_word(b[i - word - 1]);
        if n != 12 || word > 3 || !word_starts {
            return None;
        }
    }
    let mut ten = [0u8; 10];
    let (year, e) = match n {
        12 => {
            ten.copy_from_slice(&b[i + 2..i + 12]);
            (Some(&b[i..i + 4]), i + 12)
        }
        8 | 6 if matches!(b.get(i + n), Some(b'-') | Some(b'+')) && run(i + n + 1) == 4 => {
            if n == 8 && b[i + n] == b'+' {
                return None;
            }
            ten[..6].copy_from_slice(&b[i + n - 6..i + n]);
            ten[6..].copy_from_slice(&b[i + n + 1..i + n + 5]);
            ((n == 8).then(|| &b[i..i + 4]), i + n + 5)
        }
        _ => return None,
    };
    let year = year.map(num);
    if year.is_some_and(|y| !(1800..2100).contains(&y)) {
        return None;
    }
    let ends = b
        .get(e)
        .is_none_or(|&c| !(is_word(c) || (matches!(c, b'-' | b'.') && run(e + 1) > 0)));
    (ends && ids::personnummer_ok(&ten, year)).then_some(e)
}

/// The end of `dddd:dddd:dddd` at `i` when its twelve digits pass the Aadhaar check.
fn aadhaar_colons(b: &[u8], i: usize) -> Option<usize> {
    let t = b.get(i..i + 14)?;
    let shaped = t.iter().enumerate().all(|(k, &c)| {
        if k == 4 || k == 9 {
            c == b':'
        } else {
            c.is_ascii_digit()
        }
    });
    if !shaped {
        return None;
    }
    let e = i + 14;
    if b.get(e).is_some_and(|&c| {
        is_word(c) || c == b':' || c == b'.' && b.get(e + 1).is_some_and(u8::is_ascii_digit)
    }) {
        return None;
    }
    let mut d = [0u8; 12];
    for (k, c) in t.iter().filter(|c| c.is_ascii_digit()).enumerate() {
        d[k] = *c;
    }
    ids::aadhaar_ok(&d).then_some(e)
}

/// Broadcast and all-zero MACs are protocol constants, not device identifiers.
fn mac_reserved(span: &[u8]) -> bool {
    let hex = span.iter().filter(|c| c.is_ascii_hexdigit());
    let mut all0 = true;
    let mut allf = true;
    for &c in hex {
        all0 &= c == b'0';
        allf &= c == b'f' || c == b'F';
    }
    all0 || allf
}

/// Cisco dotted MAC `0012.3456.789a` containing the digit at `i`. Returns the span and whether it
/// is a real (not broadcast or all-zero) address.
fn mac_dotted(b: &[u8], i: usize) -> Option<(usize, usize, bool)> {
    let mut s = i;
    while s > 0 && i - s < 4 && is_hex(b[s - 1]) {
        s -= 1;
    }
    mac_dotted_at(b, s)
}

/// `mac_dotted` for the address starting exactly at `s`.
fn mac_dotted_at(b: &[u8], s: usize) -> Option<(usize, usize, bool)> {
    if s > 0 && (is_word(b[s - 1]) || b[s - 1] == b'.') || s + 14 > b.len() {
        return None;
    }
    for k in 0..3 {
        let o = s + k * 5;
        if !b[o..o + 4].iter().all(|&c| is_hex(c)) || (k < 2 && b[o + 4] != b'.') {
            return None;
        }
    }
    let e = s + 14;
    if e < b.len() && (is_word(b[e]) || (b[e] == b'.' && e + 1 < b.len() && is_hex(b[e + 1]))) {
        return None;
    }
    let t = &b[s..e];
    // Three dotted groups of four decimal digits are more often versions or dates than MACs.
    if !t.iter().any(|c| c.is_ascii_alphabetic()) && !t.starts_with(b"00") {
        return None;
    }
    Some((s, e, !mac_reserved(t)))
}

/// `hh:hh:hh:hh:hh:hh` or `hh-hh-hh-hh-hh-hh` starting at `s`.
fn mac_at(b: &[u8], s: usize) -> Option<usize> {
    if s + 17 > b.len() || (s > 0 && is_word(b[s - 1])) {
        return None;
    }
    let sep = b[s + 2];
    if sep != b':' && sep != b'-' {
        return None;
    }
    for k in 0..6 {
        let o = s + k * 3;
        if !is_hex(b[o]) || !is_hex(b[o + 1]) {
            return None;
        }
        if k < 5 && b[o + 2] != sep {
            return None;
        }
    }
    let e = s + 17;
    if e < b.len() && (is_word(b[e]) || b[e] == sep) {
        return None;
    }
    Some(e)
}

fn colon_token(en: &Enabled, b: &[u8], i: usize, out: &mut Vec<Finding>) -> usize {
    let n = b.len();
    let tok = |c: u8| is_hex(c) || c == b':' || c == b'.';
    if !(i + 1 < n && (is_hex(b[i + 1]) || b[i + 1] == b':')) {
        return i + 1;
    }
    let mut s = i;
    while s > 0 && tok(b[s - 1]) && i - s < 45 {
        s -= 1;
    }
    let mut e = i + 1;
    while e < n && tok(b[e]) && e - s < 45 {
        e += 1;
    }
    while e > i + 1 && b[e - 1] == b'.' {
        e -= 1;
    }
    while s < i && b[s] == b'.' {
        s += 1;
    }
    // A label glued to the address by a colon (`addr:fe80::1`, `src::ffff:192.0.2.1`): the
    // colon separates; a single one is dropped, `::` belongs to the address.
    // A word whose last letters are hex (`src::ffff:...`): the address starts at its `::`.
    if s > 0
        && is_word(b[s - 1])
        && b[s] != b':'
        && let Some(k) = b[s..e].windows(2).position(|w| w == b"::")
        && b[s..s + k].iter().all(|c| c.is_ascii_alphanumeric())
    {
        s += k;
    }
    let label = s > 0 && is_word(b[s - 1]) && b[s] == b':';
    if label && s + 1 < e && b[s + 1] != b':' {
        s += 1;
    }
    // Not an address after a word and its colon (`phone:2125550199`, `Tel:212-555-0199`): what
    // follows the colon is scanned on its own. After digits (`07:00:00.123`) it is a time.
    let miss = if i > 0 && b[i - 1].is_ascii_alphabetic() {
        i + 1
    } else {
        e
    };
    // Glued to a word: no address (`e:2125550199` in `phone:2125550199`).
    if (s > 0 && is_word(b[s - 1]) && !label) || (e < n && is_word(b[e])) {
        return miss;
    }
    let t = &b[s..e];
    if en.on(ENT_MAC)
        && let Some(me) = mac_at(b, s)
        && me == e
    {
        if !mac_reserved(&b[s..e]) {
            out.push(Finding::new(s, e, ENT_MAC));
        }
        return e;
    }
    if en.on(ENT_IP) {
        let colons = t.iter().filter(|&&c| c == b':').count();
        let hex = t.iter().filter(|c| c.is_ascii_hexdigit()).count();
        // After a glued label, `Type::add` paths are not addresses: more colons or a digit.
        let label_ok = !label || colons >= 3 || (b[s] != b':' && t.iter().any(u8::is_ascii_digit));
        if colons >= 2
            && hex >= 1
            && label_ok
            && (colons >= 3 || hex >= 4 || t.windows(2).any(|w| w == b"::"))
            && let Ok(txt) = std::str::from_utf8(t)
            && Ipv6Addr::from_str(txt).is_ok()
        {
            let mut end = e;
            // CIDR prefix length: 2001:db8::/32.
            if end + 1 < n && b[end] == b'/' && b[end + 1].is_ascii_digit() {
                let mut q = end + 1;
                while q < n && q - end <= 3 && b[q].is_ascii_digit() {
                    q += 1;
                }
                if q >= n || !is_word(b[q]) {
                    end = q;
                }
            }
            out.push(Finding::new(s, end, ENT_IP));
            return end;
        }
    }
    miss
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-window DFA walk gives the bits an overlapping `AhoCorasick` search over the same
    /// words gives (the previous implementation), and the bracket fast path gives `bracket_free`.
    #[test]
    fn context_window_matches_overlapping_search() {
        let mut words: Vec<&[u8]> = Vec::new();
        for list in CONTEXT_LISTS {
            if words.len() + list.len() <= 128 {
                words.extend_from_slice(list);
            }
        }
        let ac = aho_corasick::AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(&words)
            .unwrap();
        let pieces: &[&str] = &[
            "phone",
            "SSN",
            "ss #",
            "tel",
            "[",
            "]",
            "[PHONE_NUMBER]",
            " ",
            "-",
            "sin",
            "Tin",
            "order",
            "ref",
            "x",
            "12",
            "é",
            "social security",
            "uid",
            "aba",
            "#",
            "invoice",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..3000 {
            let mut t = String::new();
            for _ in 0..12 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                t.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let b = t.as_bytes();
            for start in 0..=b.len() {
                let raw = &b[start.saturating_sub(32)..start];
                let free = bracket_free(raw);
                let mut want = 0u128;
                for m in ac.find_overlapping_iter(raw) {
                    if free >> m.start() & 1 == 1 {
                        want |= 1 << m.pattern().as_usize();
                    }
                }
                let cx = Ctx::new(b, start);
                let w = cx.window();
                assert_eq!((w.words, w.free), (want, free), "{t:?} at {start}");
            }
        }
    }

    fn found(text: &str) -> Vec<(&str, u16)> {
        let en = Enabled(u64::MAX);
        let mut v = Vec::new();
        scan(&en, text, &mut v);
        v.iter()
            .map(|f| (&text[f.start as usize..f.end as usize], f.entity))
            .collect()
    }

    fn one(text: &str, want: &str, ent: u16) {
        assert_eq!(found(text), vec![(want, ent)], "in {text:?}");
    }

    fn none(text: &str) {
        assert_eq!(found(text), vec![], "in {text:?}");
    }

    #[test]
    fn emails() {
        one(
            "mail john.doe+x@example.co.uk now",
            "john.doe+x@example.co.uk",
            ENT_EMAIL,
        );
        one("(a_b@sub.example.com).", "a_b@sub.example.com", ENT_EMAIL);
        one("josé@example.com", "josé@example.com", ENT_EMAIL);
        one("请联系john@example.com谢谢", "john@example.com", ENT_EMAIL);
        // Letters of other alphabets anywhere in the local part: none of it is left behind.
        one("write to müller@bücher.de", "müller@bücher.de", ENT_EMAIL);
        one(
            "contact josé.garcía@correo.es",
            "josé.garcía@correo.es",
            ENT_EMAIL,
        );
        one(
            "почта: иван.петров@пример.рф",
            "иван.петров@пример.рф",
            ENT_EMAIL,
        );
        one("— ünal@example.com", "ünal@example.com", ENT_EMAIL);
        // Indic scripts: viramas and vowel signs are part of the words.
        one("and जॉन@माइक्रोसॉफ्टहै.कॉम.", "जॉन@माइक्रोसॉफ्टहै.कॉम", ENT_EMAIL);
        one("मेल राम@उदाहरण.भारत। धन्यवाद", "राम@उदाहरण.भारत", ENT_EMAIL);
        none("email जॉन@माइक्रोसॉफ्टहै.क");
        none("ping @john_doe on example.com");
        none("user@localhost and a@b");
    }

    #[test]
    fn phones() {
        one("call +1 415-555-2671 now", "+1 415-555-2671", ENT_PHONE);
        one("call (415) 555-2671.", "(415) 555-2671", ENT_PHONE);
        one("call 415.555.2671", "415.555.2671", ENT_PHONE);
        one("tel:+442079460958", "+442079460958", ENT_PHONE);
        one("uk 020 7946 0958 ok", "020 7946 0958", ENT_PHONE);
        one("fr 06 12 34 56 78", "06 12 34 56 78", ENT_PHONE);
        one("+49 30 1234567", "+49 30 1234567", ENT_PHONE);
        one("1-800-555-0199", "1-800-555-0199", ENT_PHONE);
        one("phone: 4155552671", "4155552671", ENT_PHONE);
        one("room 12 415-555-2671", "415-555-2671", ENT_PHONE);
        // Extensions, a toll-free code with its `1`, a dotted NANP number with its `1`.
        one("(523)222-8888x623", "(523)222-8888x623", ENT_PHONE);
        one(
            "call 415-555-2671 ext. 12 now",
            "415-555-2671 ext. 12",
            ENT_PHONE,
        );
        one("tel 523-222-8888EXT623", "523-222-8888EXT623", ENT_PHONE);
        one("1800 555-5555", "1800 555-5555", ENT_PHONE);
        one("call 1.234.567.8900", "1.234.567.8900", ENT_PHONE);
        none("screen 1920x1080, order 555-0100x2, 1700 555-5555, v 1.2.3.4");
        none("[PHONE_NUMBER] 4155552671 and [US_SSN] 536221234");
        none("on 2024-05-01 at 12:30:45 for $1299.99 (v1.2.3) order 4155552671");
    }

    #[test]
    fn cards() {
        one(
            "card 4111 1111 1111 1111 exp",
            "4111 1111 1111 1111",
            ENT_CARD,
        );
        one("card 4111-1111-1111-1111", "4111-1111-1111-1111", ENT_CARD);
        one("2223003122003222", "2223003122003222", ENT_CARD);
        one("amex 3782 822463 10005", "3782 822463 10005", ENT_CARD);
        one(
            "card 4111 1111 1111 1111 2 times",
            "4111 1111 1111 1111",
            ENT_CARD,
        );
        none("order 4111 1111 1111 1112 shipped");
        none("order ORD-4111111111111111");
    }

    #[test]
    fn ssns() {
        one("ssn 536-22-1234.", "536-22-1234", ENT_SSN);
        one("SSN: 536221234", "536221234", ENT_SSN);
        none("ref 666-22-1234 and 900-12-1234 and 536-00-1234 and 536221234");
    }

    #[test]
    fn ibans() {
        one(
            "IBAN DE89 3704 0044 0532 0130 00.",
            "DE89 3704 0044 0532 0130 00",
            ENT_IBAN,
        );
        one(
            "to GB82WEST12345698765432",
            "GB82WEST12345698765432",
            ENT_IBAN,
        );
        none("to DE89370400440532013001 or DE8937040044");
    }

    #[test]
    fn ips_and_macs() {
        one("from 192.168.1.20:8080", "192.168.1.20", ENT_IP);
        one(
            "addr 2001:db8::8a2e:370:7334 up",
            "2001:db8::8a2e:370:7334",
            ENT_IP,
        );
        one(
            "link fe80::1ff:fe23:4567:890a%eth0",
            "fe80::1ff:fe23:4567:890a",
            ENT_IP,
        );
        one("peer addr:fe80::1c2 up", "fe80::1c2", ENT_IP);
        one("from src::ffff:10.9.8.7 ok", "::ffff:10.9.8.7", ENT_IP);
        none("call Self::add and Vec::dedup or ns::beef");
        one("mac 00:1A:2B:3C:4D:5E.", "00:1A:2B:3C:4D:5E", ENT_MAC);
        one("mac aa-bb-cc-dd-ee-ff", "aa-bb-cc-dd-ee-ff", ENT_MAC);
        one("mac 00-1a-2b-3c-4d-5e", "00-1a-2b-3c-4d-5e", ENT_MAC);
        one("server at 10.1.2.3", "10.1.2.3", ENT_IP);
        none("order 4612 0071 9271 6435");
        none(
            "version 1.2.3.4, 12:30:45, std::io, 550e8400-e29b-41d4-a716-446655440000, 1.2.3.4.5, 999.1.1.1",
        );
    }
}
