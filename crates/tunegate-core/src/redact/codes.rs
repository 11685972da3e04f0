//! Short numeric credentials named right before them: `my PIN is 4821`, `OTP: 482913`,
//! `CVV 123`, `verification code: 905 112`.
//!
//! Support chats carry them ("read me the code we sent"). Alone they are any small number, so
//! only a qualified name counts (`code` alone is an error, status or zip code), followed by a
//! separator (`:`, `=`, `#`, `is`, `was`, a space) and 3-8 digits standing as a word.

use super::{ENT_SECRET, Finding};

/// Names, lower case, longest first where one ends another.
const NAMES: &[&[u8]] = &[
    b"one-time password",
    b"one time password",
    b"verification code",
    b"confirmation code",
    b"security code",
    b"one-time code",
    b"one time code",
    b"access code",
    b"login code",
    b"sms code",
    b"2fa code",
    b"mfa code",
    b"auth code",
    b"pin code",
    b"pin number",
    b"passcode",
    b"otp code",
    b"otp",
    b"pin",
    b"cvv2",
    b"cvv",
    b"cvc2",
    b"cvc",
];

/// Longest text between a name's end and the digits (`code we sent you is `).
const GAP: usize = 24;

/// Appends a SECRET finding for every 3-8 digit value right after a credential name in `b`.
pub(crate) fn scan(b: &[u8], out: &mut Vec<Finding>) {
    let n = b.len();
    let mut i = 0;
    while i < n {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let s = i;
        // Digits, optionally in two groups split by one space or dash (`905 112`).
        while i < n && b[i].is_ascii_digit() {
            i += 1;
        }
        let mut e = i;
        if i + 1 < n && matches!(b[i], b' ' | b'-') && b[i + 1].is_ascii_digit() && i - s <= 4 {
            let mut j = i + 1;
            while j < n && b[j].is_ascii_digit() {
                j += 1;
            }
            if j - i - 1 <= 4 {
                e = j;
            }
        }
        i = e;
        let digits = b[s..e].iter().filter(|c| c.is_ascii_digit()).count();
        let word_start = s == 0 || !b[s - 1].is_ascii_alphanumeric();
        let word_end = e == n
            || !(b[e].is_ascii_alphanumeric()
                || b[e] == b'.' && e + 1 < n && b[e + 1].is_ascii_digit());
        if (3..=8).contains(&digits) && word_start && word_end && named_before(b, s) {
            out.push(Finding::new(s, e, ENT_SECRET));
        }
    }
}

/// A credential name ends within `GAP` bytes before `s`, separated from the digits only by
/// separators and the words `is`, `was`, `are`, `we`, `sent`, `you`, `your`, `my`, `the`.
fn named_before(b: &[u8], s: usize) -> bool {
    let from = s.saturating_sub(GAP + 20);
    let window = &b[from..s];
    let mut lower = [0u8; GAP + 20];
    let Some(lower) = lower.get_mut(..window.len()) else {
        return false;
    };
    lower.copy_from_slice(window);
    lower.make_ascii_lowercase();
    // Walk back over the gap: separators and filler words.
    let mut p = lower.len();
    let mut steps = 0;
    loop {
        while p > 0
            && matches!(
                lower[p - 1],
                b' ' | b':' | b'=' | b'#' | b'-' | b'\t' | b'"' | b'\''
            )
        {
            p -= 1;
        }
        if let Some(name) = NAMES.iter().find(|nm| lower[..p].ends_with(nm)) {
            let k = p - name.len();
            // The name starts a word (`spin 1234` is not a PIN).
            return k == 0 || !lower[k - 1].is_ascii_alphanumeric();
        }
        let mut w = p;
        while w > 0 && lower[w - 1].is_ascii_alphabetic() {
            w -= 1;
        }
        const FILLER: &[&[u8]] = &[
            b"is", b"was", b"are", b"we", b"sent", b"you", b"your", b"my", b"the", b"new",
        ];
        steps += 1;
        if w == p || steps > 4 || !FILLER.contains(&&lower[w..p]) {
            return false;
        }
        p = w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        scan(text.as_bytes(), &mut out);
        out.iter()
            .map(|f| &text[f.start as usize..f.end as usize])
            .collect()
    }

    #[test]
    fn named_codes_are_found() {
        for (text, want) in [
            ("my PIN is 4821", "4821"),
            ("OTP: 482913.", "482913"),
            ("the OTP code is 482913", "482913"),
            ("CVV 123, exp 12/27", "123"),
            ("the verification code we sent you is 905 112", "905 112"),
            ("Security code=7731", "7731"),
            ("one-time password: 12345678", "12345678"),
            ("cvc2 #044", "044"),
        ] {
            assert_eq!(found(text), vec![want], "{text}");
        }
    }

    #[test]
    fn other_numbers_stay() {
        for text in [
            "error code 404",
            "status code: 500",
            "zip code 10115",
            "spin 1234 times",
            "pin 3 of the header",
            "PIN is 12",
            "OTP is 123456789",
            "pinned 4821 messages",
            "the pin was bent in 2019 and again in 2020, code 77",
            "version 1.2345",
            "cvv 123.45",
        ] {
            assert_eq!(found(text), Vec::<&str>::new(), "{text}");
        }
    }
}
