//! National identifiers, bank routing numbers and crypto wallet addresses: each has a checksum or a
//! fixed structure, which is what separates it from an order number of the same length. The
//! validators take digits (or upper-case alphanumerics) without separators.

use sha2::{Digest, Sha256};

use super::validate::luhn;

fn dv(c: u8) -> u32 {
    u32::from(c.wrapping_sub(b'0'))
}

fn all_digits(d: &[u8]) -> bool {
    d.iter().all(u8::is_ascii_digit)
}

fn all_same(d: &[u8]) -> bool {
    d.iter().all(|&c| c == d[0])
}

/// UK National Insurance number `AB123456C` (HMRC prefix rules).
pub(crate) fn nino_ok(t: &[u8]) -> bool {
    if t.len() != 9 && t.len() != 8 {
        return false;
    }
    let (a, b) = (t[0], t[1]);
    if !a.is_ascii_uppercase() || !b.is_ascii_uppercase() || !all_digits(&t[2..8]) {
        return false;
    }
    if t.len() == 9 && !(b'A'..=b'D').contains(&t[8]) {
        return false;
    }
    if b"DFIQUV".contains(&a) || b"DFIOQUV".contains(&b) {
        return false;
    }
    !matches!(
        &t[..2],
        b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
    )
}

/// UK (DVLA) driving licence number: five surname characters (padded with 9), the birth date
/// as decade digit, month (+50 for women), day and year digit, two initials (padded with 9), an
/// arbitrary digit and two check characters.
pub(crate) fn uk_driving_licence_ok(t: &[u8]) -> bool {
    if t.len() != 16 {
        return false;
    }
    let surname = &t[..5];
    if !surname.iter().all(|c| c.is_ascii_uppercase() || *c == b'9')
        || !surname[0].is_ascii_uppercase()
        // Padding only at the end of the surname.
        || surname.windows(2).any(|w| w[0] == b'9' && w[1] != b'9')
        || !all_digits(&t[5..11])
        || !t[11..13].iter().all(|c| c.is_ascii_uppercase() || *c == b'9')
        || !t[11].is_ascii_uppercase()
        || !t[13].is_ascii_digit()
        || !t[14..16].iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let month = dv(t[6]) * 10 + dv(t[7]);
    let day = dv(t[8]) * 10 + dv(t[9]);
    let month = if month > 50 { month - 50 } else { month };
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// NHS number: mod-11 over weights 10..2.
pub(crate) fn nhs_ok(d: &[u8]) -> bool {
    if d.len() != 10 || !all_digits(d) || all_same(d) {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, &c)| dv(c) * (10 - i as u32))
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == dv(d[9])
}

/// German Steuer-ID: 11 digits, no leading zero, one digit repeated (2 or 3 times) in the first
/// ten, ISO 7064 MOD 11,10 check digit.
pub(crate) fn steuer_id_ok(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) || d[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &c in &d[..10] {
        counts[dv(c) as usize] += 1;
    }
    let repeated = counts.iter().filter(|&&c| c >= 2).count();
    if repeated != 1 || counts.iter().any(|&c| c > 3) {
        return false;
    }
    steuer_check_digit_ok(d)
}

/// The ISO 7064 MOD 11,10 check digit of a Steuer-ID, without the digit-repetition rule.
pub(crate) fn steuer_check_digit_ok(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) || d[0] == b'0' {
        return false;
    }
    let mut product = 10u32;
    for &c in &d[..10] {
        let mut sum = (dv(c) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check == dv(d[10])
}

/// French NIR: sex digit, year, month, department, commune, order, and a mod-97 key. Corsica's
/// departments are `2A` and `2B`, counted as 19 and 18 for the key.
pub(crate) fn nir_ok(d: &[u8]) -> bool {
    if d.len() != 15 || !b"12378".contains(&d[0]) {
        return false;
    }
    let mut digits = [0u8; 15];
    digits.copy_from_slice(d);
    match &d[5..7] {
        b"2A" => digits[5..7].copy_from_slice(b"19"),
        b"2B" => digits[5..7].copy_from_slice(b"18"),
        _ => {}
    }
    let d = &digits;
    if !all_digits(d) {
        return false;
    }
    let month = dv(d[3]) * 10 + dv(d[4]);
    if !((1..=12).contains(&month) || (20..=42).contains(&month) || (50..=99).contains(&month)) {
        return false;
    }
    let n = d[..13].iter().fold(0u64, |a, &c| a * 10 + u64::from(dv(c)));
    let key = u64::from(dv(d[13]) * 10 + dv(d[14]));
    97 - n % 97 == key
}

/// Dutch BSN: the eleven-test (weights 9..2, last digit -1).
pub(crate) fn bsn_ok(d: &[u8]) -> bool {
    if d.len() != 9 || !all_digits(d) || all_same(d) {
        return false;
    }
    let mut sum: i64 = 0;
    for (i, &c) in d[..8].iter().enumerate() {
        sum += i64::from(dv(c)) * (9 - i as i64);
    }
    sum -= i64::from(dv(d[8]));
    sum % 11 == 0
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Spanish DNI `12345678Z` or NIE `X1234567L`: mod-23 control letter.
pub(crate) fn es_nif_ok(t: &[u8]) -> bool {
    if t.len() != 9 {
        return false;
    }
    let letter = t[8];
    let n: u32 = match t[0] {
        b'X' | b'Y' | b'Z' if all_digits(&t[1..8]) => {
            let lead = u32::from(t[0] - b'X');
            t[1..8].iter().fold(lead, |a, &c| a * 10 + dv(c))
        }
        b'0'..=b'9' if all_digits(&t[..8]) => t[..8].iter().fold(0, |a, &c| a * 10 + dv(c)),
        _ => return false,
    };
    DNI_LETTERS[(n % 23) as usize] == letter
}

/// Italian codice fiscale (16 characters, with omocodia substitutions), by its layout: letters
/// and (omocodia) digits in their places, a month letter and a day of birth (1-31, or 41-71 for
/// women). Not by its control letter: a code with a mistyped one still names its holder.
pub(crate) fn codice_fiscale_shape_ok(t: &[u8]) -> bool {
    if t.len() != 16
        || !t
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return false;
    }
    const OMO: &[u8] = b"LMNPQRSTUV";
    let letters = [0, 1, 2, 3, 4, 5, 8, 11, 15];
    let numeric = [6, 7, 9, 10, 12, 13, 14];
    if !letters.iter().all(|&i| t[i].is_ascii_uppercase())
        || !numeric
            .iter()
            .all(|&i| t[i].is_ascii_digit() || OMO.contains(&t[i]))
    {
        return false;
    }
    if !b"ABCDEHLMPRST".contains(&t[8]) {
        return false;
    }
    let digit = |c: u8| match OMO.iter().position(|&o| o == c) {
        Some(k) => k as u32,
        None => dv(c),
    };
    let day = digit(t[9]) * 10 + digit(t[10]);
    (1..=31).contains(&day) || (41..=71).contains(&day)
}

/// German passport (Reisepass) number: nine characters from the consonants `CFGHJKLMNPRTVWXYZ`
/// and digits, the last a digit checked by the ICAO 9303 7-3-1 weights (letters count 10-35).
pub(crate) fn de_passport_ok(t: &[u8]) -> bool {
    const ALPHABET: &[u8] = b"CFGHJKLMNPRTVWXYZ";
    if t.len() != 9 || !ALPHABET.contains(&t[0]) || !t[8].is_ascii_digit() {
        return false;
    }
    let mut sum = 0u32;
    for (k, &c) in t[..8].iter().enumerate() {
        let v = if c.is_ascii_digit() {
            dv(c)
        } else if ALPHABET.contains(&c) {
            u32::from(c - b'A') + 10
        } else {
            return false;
        };
        sum += v * [7, 3, 1][k % 3];
    }
    sum % 10 == dv(t[8])
}

/// Italian driving licence (patente di guida): `AA0123456B` (two letters, seven digits, a letter)
/// or, since 2013, `U1` then seven consonants or digits and a letter.
pub(crate) fn it_driving_licence_ok(t: &[u8]) -> bool {
    const NEW: &[u8] = b"BCDFGHJKLMNPRSTVWXYZ0123456789";
    if t.len() != 10 || !t[9].is_ascii_uppercase() {
        return false;
    }
    let old = t[..2].iter().all(u8::is_ascii_uppercase) && all_digits(&t[2..9]);
    let new = t.starts_with(b"U1") && t[2..9].iter().all(|c| NEW.contains(c));
    old || new
}

/// Polish PESEL: weights 1-3-7-9, and the encoded birth date must exist.
pub(crate) fn pesel_ok(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) || all_same(d) {
        return false;
    }
    const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = d[..10].iter().zip(W).map(|(&c, w)| dv(c) * w).sum();
    if (10 - sum % 10) % 10 != dv(d[10]) {
        return false;
    }
    let month = (dv(d[2]) * 10 + dv(d[3])) % 20;
    let day = dv(d[4]) * 10 + dv(d[5]);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Indian Aadhaar: 12 digits, first digit 2-9, Verhoeff check digit.
pub(crate) fn aadhaar_ok(d: &[u8]) -> bool {
    if d.len() != 12 || !all_digits(d) || d[0] < b'2' || all_same(d) {
        return false;
    }
    let mut c = 0usize;
    for (i, &x) in d.iter().rev().enumerate() {
        c = VERHOEFF_D[c][VERHOEFF_P[i % 8][dv(x) as usize] as usize] as usize;
    }
    c == 0
}

/// The day exists in that month of that year (Gregorian leap years).
fn date_exists(year: u32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Finnish personal identity code `DDMMYYCZZZQ`: a birth date, a century sign (`+` 1800s, `-`
/// and `U`-`Y` 1900s, `A`-`F` 2000s), an individual number and the check character of the nine
/// digits mod 31.
pub(crate) fn hetu_ok(t: &[u8]) -> bool {
    const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    if t.len() != 11 || !all_digits(&t[..6]) || !all_digits(&t[7..10]) {
        return false;
    }
    let century = match t[6] {
        b'+' => 1800,
        b'-' | b'U'..=b'Y' => 1900,
        b'A'..=b'F' => 2000,
        _ => return false,
    };
    let two = |k: usize| dv(t[k]) * 10 + dv(t[k + 1]);
    let (day, month, year) = (two(0), two(2), century + two(4));
    if !date_exists(year, month, day) {
        return false;
    }
    let n = t[..6]
        .iter()
        .chain(&t[7..10])
        .fold(0u32, |acc, &c| acc * 10 + dv(c));
    CHECK.get((n % 31) as usize) == Some(&t[10])
}

/// Swedish personnummer, ten digits `YYMMDDNNNC` without separators: a birth date (the day plus
/// 60 in a coordination number) and the Luhn check digit; `year` when it was written in full.
pub(crate) fn personnummer_ok(d: &[u8], year: Option<u32>) -> bool {
    if d.len() != 10 || !all_digits(d) || all_same(d) {
        return false;
    }
    let two = |k: usize| dv(d[k]) * 10 + dv(d[k + 1]);
    let (month, mut day) = (two(2), two(4));
    if day > 60 {
        day -= 60;
    }
    // Without the century, 29 February counts in any year divisible by four.
    let year = year.unwrap_or(2000 + two(0));
    date_exists(year, month, day) && luhn(d)
}

/// Turkish TC Kimlik No: 11 digits, no leading zero; the tenth digit is seven times the sum of
/// the odd positions minus the sum of the even ones (mod 10), the eleventh the sum of the first
/// ten (mod 10).
pub(crate) fn tckn_ok(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) || d[0] == b'0' || all_same(d) {
        return false;
    }
    let odd: u32 = d[..9].iter().step_by(2).map(|&c| dv(c)).sum();
    let even: u32 = d[1..8].iter().step_by(2).map(|&c| dv(c)).sum();
    // 7 * odd >= 0 and even <= 36: add 40 (a multiple of 10) so the difference stays unsigned.
    let tenth = (7 * odd + 40 - even) % 10;
    let first_ten: u32 = d[..10].iter().map(|&c| dv(c)).sum();
    tenth == dv(d[9]) && first_ten % 10 == dv(d[10])
}

/// South Korean resident registration number `YYMMDDGNNNNNC`: a birth date whose century the
/// seventh digit gives (1-2 and 5-6: 1900s, 3-4 and 7-8: 2000s; 5-8 are foreign residents). The
/// check digit holds only for numbers issued before October 2020: `kr_rrn_check_ok`.
pub(crate) fn kr_rrn_date_ok(d: &[u8]) -> bool {
    if d.len() != 13 || !all_digits(d) {
        return false;
    }
    let century = match d[6] {
        b'1' | b'2' | b'5' | b'6' => 1900,
        b'3' | b'4' | b'7' | b'8' => 2000,
        _ => return false,
    };
    let two = |k: usize| dv(d[k]) * 10 + dv(d[k + 1]);
    let (year, month, day) = (century + two(0), two(2), two(4));
    date_exists(year, month, day)
}

/// The pre-2020 check digit of a resident registration number: weights 2-9, 2-5 over the first
/// twelve digits, `(11 - sum mod 11) mod 10`.
pub(crate) fn kr_rrn_check_ok(d: &[u8]) -> bool {
    const W: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    if d.len() != 13 || !all_digits(d) {
        return false;
    }
    let sum: u32 = d.iter().zip(W).map(|(&c, w)| dv(c) * w).sum();
    (11 - sum % 11) % 10 == dv(d[12])
}

/// US National Provider Identifier: 10 digits starting with 1 or 2, the last a Luhn check digit
/// computed with the card issuer prefix 80840 in front.
pub(crate) fn npi_ok(d: &[u8]) -> bool {
    if d.len() != 10 || !all_digits(d) || !matches!(d[0], b'1' | b'2') || all_same(&d[..9]) {
        return false;
    }
    let mut buf = [0u8; 15];
    buf[..5].copy_from_slice(b"80840");
    buf[5..].copy_from_slice(d);
    luhn(&buf)
}

/// US Medicare Beneficiary Identifier, 11 upper-case characters without dashes: positions 1, 4,
/// 7, 10 and 11 digits (the first not 0), 2, 5, 8 and 9 letters, 3 and 6 either; letters never
/// S, L, O, I, B or Z (CMS).
pub(crate) fn mbi_ok(t: &[u8]) -> bool {
    const LETTER: u8 = 1;
    const DIGIT: u8 = 2;
    const PATTERN: [u8; 11] = [
        DIGIT,
        LETTER,
        LETTER | DIGIT,
        DIGIT,
        LETTER,
        LETTER | DIGIT,
        DIGIT,
        LETTER,
        LETTER,
        DIGIT,
        DIGIT,
    ];
    if t.len() != 11 || t[0] == b'0' {
        return false;
    }
    t.iter().zip(PATTERN).all(|(&c, allowed)| {
        let class = match c {
            b'0'..=b'9' => DIGIT,
            b'S' | b'L' | b'O' | b'I' | b'B' | b'Z' => 0,
            b'A'..=b'Z' => LETTER,
            _ => 0,
        };
        class & allowed != 0
    })
}

/// Canadian SIN: 9 digits, Luhn, first digit never 8 (unassigned).
pub(crate) fn sin_ok(d: &[u8]) -> bool {
    d.len() == 9 && all_digits(d) && d[0] != b'8' && !all_same(d) && luhn(d)
}

/// Australian TFN: weighted sum mod 11 (9 digits, or the older 8).
pub(crate) fn tfn_ok(d: &[u8]) -> bool {
    if !all_digits(d) || all_same(d) {
        return false;
    }
    if !matches!(d.len(), 8 | 9) {
        return false;
    }
    // Older 8-digit numbers use the first eight weights.
    let w: &[u32] = &[1, 4, 3, 7, 5, 8, 6, 9, 10];
    let sum: u32 = d.iter().zip(w).map(|(&c, &w)| dv(c) * w).sum();
    sum.is_multiple_of(11)
}

/// US ITIN: area 9XX and a group in the IRS ranges 50-65, 70-88, 90-92, 94-99.
pub(crate) fn itin_ok(d: &[u8]) -> bool {
    if d.len() != 9 || !all_digits(d) || d[0] != b'9' {
        return false;
    }
    let g = dv(d[3]) * 10 + dv(d[4]);
    (50..=65).contains(&g) || (70..=88).contains(&g) || (90..=92).contains(&g) || g >= 94
}

/// ABA routing transit number: Federal Reserve prefix and the 3-7-1 checksum.
pub(crate) fn aba_ok(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let p = dv(d[0]) * 10 + dv(d[1]);
    (p <= 12 || (21..=32).contains(&p) || (61..=72).contains(&p) || p == 80) && aba_sum_ok(d)
}

/// The 3-7-1 checksum alone, for a number its word (`routing number`, `ABA`) already names:
/// validators accept any prefix, and thrift/electronic prefixes outside the Federal Reserve
/// table are in use.
pub(crate) fn aba_sum_ok(d: &[u8]) -> bool {
    if d.len() != 9 || !all_digits(d) || all_same(d) {
        return false;
    }
    let w = [3, 7, 1, 3, 7, 1, 3, 7, 1];
    let sum: u32 = d.iter().zip(w).map(|(&c, w)| dv(c) * w).sum();
    sum.is_multiple_of(10)
}

const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Bitcoin (and Litecoin/Dogecoin-style) Base58Check addresses: 25 bytes, double-SHA-256 checksum.
pub(crate) fn base58check_ok(t: &[u8]) -> bool {
    if !(25..=35).contains(&t.len()) {
        return false;
    }
    let mut out = [0u8; 25];
    for &c in t {
        let Some(v) = B58.iter().position(|&x| x == c) else {
            return false;
        };
        let mut carry = v as u32;
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    let leading = t.iter().take_while(|&&c| c == b'1').count();
    if out.iter().take_while(|&&c| c == 0).count() < leading {
        return false;
    }
    let h = Sha256::digest(Sha256::digest(&out[..21]));
    h[..4] == out[21..]
}

const BECH32: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Bech32 / Bech32m segwit addresses (`bc1...`, `tb1...`, `ltc1...`), checksum verified.
pub(crate) fn bech32_ok(t: &[u8]) -> bool {
    let lower: Vec<u8> = t.iter().map(u8::to_ascii_lowercase).collect();
    if t.iter().any(u8::is_ascii_lowercase) && t.iter().any(u8::is_ascii_uppercase) {
        return false;
    }
    let Some(sep) = lower.iter().rposition(|&c| c == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if !matches!(hrp, b"bc" | b"tb" | b"ltc") || data.len() < 12 || lower.len() > 90 {
        return false;
    }
    let mut values = Vec::with_capacity(hrp.len() * 2 + 1 + data.len());
    values.extend(hrp.iter().map(|c| c >> 5));
    values.push(0);
    values.extend(hrp.iter().map(|c| c & 31));
    for c in data {
        match BECH32.iter().position(|x| x == c) {
            Some(v) => values.push(v as u8),
            None => return false,
        }
    }
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk == 1 || chk == 0x2bc830a3
}

/// Ethereum `0x` + 40 hex. Mixed case must pass the EIP-55 checksum; single-case addresses carry
/// no checksum and are accepted on shape.
pub(crate) fn eth_ok(t: &[u8]) -> bool {
    if t.len() != 42 || !t.starts_with(b"0x") || !t[2..].iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let hex = &t[2..];
    let has_lower = hex.iter().any(u8::is_ascii_lowercase);
    let has_upper = hex.iter().any(u8::is_ascii_uppercase);
    if all_same(hex) {
        return false;
    }
    if !(has_lower && has_upper) {
        return true;
    }
    let lower: Vec<u8> = hex.iter().map(u8::to_ascii_lowercase).collect();
    let h = keccak256(&lower);
    hex.iter().enumerate().all(|(i, &c)| {
        if c.is_ascii_digit() {
            return true;
        }
        let nib = if i % 2 == 0 {
            h[i / 2] >> 4
        } else {
            h[i / 2] & 0xf
        };
        (nib >= 8) == c.is_ascii_uppercase()
    })
}

/// Keccak-256 (the pre-standard padding Ethereum uses), for EIP-55 only.
fn keccak256(input: &[u8]) -> [u8; 32] {
    const RC: [u64; 24] = [
        0x0000000000000001,
        0x0000000000008082,
        0x800000000000808a,
        0x8000000080008000,
        0x000000000000808b,
        0x0000000080000001,
        0x8000000080008081,
        0x8000000000008009,
        0x000000000000008a,
        0x0000000000000088,
        0x0000000080008009,
        0x000000008000000a,
        0x000000008000808b,
        0x800000000000008b,
        0x8000000000008089,
        0x8000000000008003,
        0x8000000000008002,
        0x8000000000000080,
        0x000000000000800a,
        0x800000008000000a,
        0x8000000080008081,
        0x8000000000008080,
        0x0000000080000001,
        0x8000000080008008,
    ];
    const ROT: [u32; 25] = [
        0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56,
        14,
    ];
    const RATE: usize = 136;
    let mut st = [0u64; 25];
    let mut block = [0u8; RATE];
    let absorb = |st: &mut [u64; 25], block: &[u8; RATE]| {
        for i in 0..RATE / 8 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&block[i * 8..i * 8 + 8]);
            st[i] ^= u64::from_le_bytes(w);
        }
        for rc in RC {
            let mut c = [0u64; 5];
            for x in 0..5 {
                c[x] = st[x] ^ st[x + 5] ^ st[x + 10] ^ st[x + 15] ^ st[x + 20];
            }
            for x in 0..5 {
                let d = c[(x + 4) % 5] ^ c[(x + 1) % 5].rotate_left(1);
                for y in 0..5 {
                    st[x + 5 * y] ^= d;
                }
            }
            let mut b = [0u64; 25];
            for x in 0..5 {
                for y in 0..5 {
                    b[y + 5 * ((2 * x + 3 * y) % 5)] = st[x + 5 * y].rotate_left(ROT[x + 5 * y]);
                }
            }
            for x in 0..5 {
                for y in 0..5 {
                    st[x + 5 * y] =
                        b[x + 5 * y] ^ (!b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
                }
            }
            st[0] ^= rc;
        }
    };
    let mut chunks = input.chunks_exact(RATE);
    for ch in &mut chunks {
        block.copy_from_slice(ch);
        absorb(&mut st, &block);
    }
    let rest = chunks.remainder();
    block = [0u8; RATE];
    block[..rest.len()].copy_from_slice(rest);
    block[rest.len()] ^= 0x01;
    block[RATE - 1] ^= 0x80;
    absorb(&mut st, &block);
    let mut out = [0u8; 32];
    for i in 0..4 {
        out[i * 8..i * 8 + 8].copy_from_slice(&st[i].to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (validator, positives, negatives): positives built from each format's specification,
    /// negatives differ by one digit or break a structural rule.
    #[test]
    fn personnummer_dates_and_luhn() {
        for (d, year) in [
            ("8507099805", None),
            ("6408233234", Some(1964)),
            ("7506712343", None),
            ("0002291235", Some(2000)),
        ] {
            assert!(personnummer_ok(d.as_bytes(), year), "{d}");
        }
        for (d, year) in [
            ("8507099806", None),
            ("0013092393", Some(1900)),
            ("0504422381", Some(2005)),
            ("0002291235", Some(1900)),
            ("1111111111", None),
        ] {
            assert!(!personnummer_ok(d.as_bytes(), year), "{d}");
        }
    }

    #[test]
    fn checksum_tables() {
        type V = fn(&[u8]) -> bool;
        let table: &[(&str, V, &[&str], &[&str])] = &[
            (
                "nino",
                nino_ok,
                &["AB123456C", "JG103759A", "CE123456D"],
                &["BG123456C", "AB123456E", "DA123456A", "AO123456B"],
            ),
            (
                "nhs",
                nhs_ok,
                &["9434765919", "4010232137", "4505577104"],
                &["9434765918", "1111111111", "4010232138"],
            ),
            (
                "steuer",
                steuer_id_ok,
                &["86095742719", "65929970489", "47036892816"],
                &["86095742718", "01234567890", "11111111111", "12345678901"],
            ),
            (
                "de passport",
                de_passport_ok,
                &["C01X00T41", "F12345671", "CZ6311T03", "L01X00T44"],
                &[
                    "C01X00T47",
                    "F12345678",
                    "A12345671",
                    "C0123456",
                    "C012345655",
                ],
            ),
            (
                "fi hetu",
                hetu_ok,
                &["131052-308T", "150385-1230", "290200A4561", "010594Y9032"],
                &[
                    "131052-308U",
                    "310289-211C",
                    "290201A4561",
                    "131052/308T",
                    "13105-2308T",
                ],
            ),
            (
                "it driving licence",
                it_driving_licence_ok,
                &["AA0123456B", "U1H00B000C", "U1K711J11M"],
                &["U1H00A000B", "990123456B", "AA012345BB", "aa0123456b"],
            ),
            (
                "nir",
                nir_ok,
                &["184127645108946", "255081416802538", "269054958815780"],
                &["184127645108947", "384127645108946", "199137645108946"],
            ),
            (
                "bsn",
                bsn_ok,
                &["111222333", "123456782", "010000446"],
                &["123456789", "111222334", "000000000"],
            ),
            (
                "es",
                es_nif_ok,
                &["12345678Z", "X1234567L", "Y0000000Z", "00000000T"],
                &["12345678A", "X1234567A", "W1234567L"],
            ),
            (
                "cf",
                codice_fiscale_shape_ok,
                &[
                    "RSSMRA85T10A562S",
                    "MRTMTT91D08F205J",
                    "BNZVCN32S10E573Z",
                    "RSSMRA85T50A562T",
                    "AAAAAA00B11C333N",
                    "RSSMRAURTMLARSNL",
                ],
                &[
                    "RSSMRA85Z10A562S",
                    "RSSMRA8XT10A562S",
                    "RSSMRA85T32A562S",
                    "RSSMRA85T00A562S",
                    "A55AAA00B11C333N",
                    "rssmra85t10a562s",
                ],
            ),
            (
                "tckn",
                tckn_ok,
                &["10000000146", "44771278268", "26197306992"],
                &["10000000145", "04771278268", "44771278269", "11111111111"],
            ),
            (
                "kr rrn date",
                kr_rrn_date_ok,
                &[
                    "8503142123456",
                    "0307073551204",
                    "0002293000000",
                    "7604135212134",
                ],
                &[
                    "8503140123456",
                    "8513142123456",
                    "0102293000000",
                    "960121912345",
                ],
            ),
            (
                "kr rrn check digit",
                kr_rrn_check_ok,
                &["9601211021413", "9112251048218", "0509122000019"],
                &["9601211234567", "9112251048219", "911225104821"],
            ),
            (
                "npi",
                npi_ok,
                &["1234567893", "1245319599", "2747338939"],
                &[
                    "1234567894",
                    "3234567893",
                    "0234567893",
                    "1111111112",
                    "123456789",
                ],
            ),
            (
                "mbi",
                mbi_ok,
                &["1EG4TE5MK73", "9XX9XX9XX99", "3C05F07HJ89"],
                &[
                    "0EG4TE5MK73",
                    "1SG4TE5MK73",
                    "12G4TE5MK73",
                    "1EG4TE5M773",
                    "1eg4te5mk73",
                    "1EG4TE5MK7",
                ],
            ),
            (
                "pesel",
                pesel_ok,
                &["44051401359", "02070803628", "90090515836"],
                &["44051401358", "44151401359", "00000000000"],
            ),
            (
                "aadhaar",
                aadhaar_ok,
                &["234567890124", "499118665246", "987654321096"],
                &["234567890123", "123456789012", "499118665247"],
            ),
            (
                "sin",
                sin_ok,
                &["046454286", "130692544", "193456787"],
                &["046454287", "812345674", "111111111"],
            ),
            (
                "tfn",
                tfn_ok,
                &["123456782", "876543210", "32547887"],
                &["123456789", "824753557", "111111111"],
            ),
            (
                "itin",
                itin_ok,
                &["912701234", "970881234", "999941234"],
                &["912401234", "812701234", "912931234"],
            ),
            (
                "aba_sum",
                aba_sum_ok,
                &["173509425", "394817268", "011000015"],
                &["173509426", "000000000", "12100035"],
            ),
            (
                "aba",
                aba_ok,
                &["011000015", "121000358", "322271627"],
                &["011000016", "991000015", "121000359"],
            ),
            (
                "b58",
                base58check_ok,
                &[
                    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
                    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
                ],
                &[
                    "1BoatSLRHtKNngkdXEeobR76b53LETtpyU",
                    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNL0",
                ],
            ),
            (
                "bech32",
                bech32_ok,
                &[
                    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                    "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
                ],
                &[
                    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr",
                    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
                ],
            ),
            (
                "eth",
                eth_ok,
                &[
                    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                    "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae",
                ],
                &[
                    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
                    "0x0000000000000000000000000000000000000000",
                    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae",
                ],
            ),
        ];
        for (name, f, pos, neg) in table {
            for p in *pos {
                assert!(f(p.as_bytes()), "{name} should accept {p}");
            }
            for n in *neg {
                assert!(!f(n.as_bytes()), "{name} should reject {n}");
            }
        }
    }
}
