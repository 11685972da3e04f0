//! Short numeric credentials named right before them: `my PIN is 4821`, `OTP: 482913`,
//! `CVV 123`, `verification code: 905 112`.
//!
//! Support chats carry them ("read me the code we sent"). Alone they are any small number, so
//! only a qualified name counts (`code` alone is an error, status or zip code), followed by a
//! separator (`:`, `=`, `#`, `is`, `was`, a space) and 3-8 digits standing as a word.

/// The names, lower case: cue words of the context automaton (`context.rs`), which finds them
/// in the walk it already makes, so numbers without a name cost nothing here.
pub(crate) const NAMES: &[&str] = &[
    "one-time password",
    "one time password",
    "verification code",
    "confirmation code",
    "security code",
    "one-time code",
    "one time code",
    "access code",
    "login code",
    "sms code",
    "2fa code",
    "mfa code",
    "auth code",
    "pin code",
    "otp code",
    "pin number",
    "passcode",
    "otp",
    "pin",
    "cvv2",
    "cvv",
    "cvc2",
    "cvc",
];

/// Words allowed between a name and its digits (`the code we sent you is 905 112`).
const FILLER: &[&[u8]] = &[
    b"is", b"was", b"are", b"we", b"sent", b"you", b"your", b"my", b"the", b"new",
];

/// The 3-8 digit value after a name that ends at `p` (the caller checked the name starts a
/// word): separators and at most four filler words, then digits standing as a word, optionally
/// in two groups split by one space or `-` (`905 112`).
pub(crate) fn value_after(b: &[u8], mut p: usize) -> Option<(usize, usize)> {
    let n = b.len();
    if b.get(p).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    for _ in 0..5 {
        let mut k = 0;
        while p < n
            && k < 4
            && matches!(
                b[p],
                b' ' | b':' | b'=' | b'#' | b'-' | b'\t' | b'"' | b'\''
            )
        {
            p += 1;
            k += 1;
        }
        if b.get(p).is_some_and(u8::is_ascii_digit) {
            return digits_at(b, p);
        }
        let mut w = p;
        while w < n && w - p <= 4 && b[w].is_ascii_alphabetic() {
            w += 1;
        }
        let word = &b[p..w];
        if word.is_empty()
            || b.get(w).is_some_and(u8::is_ascii_alphanumeric)
            || !FILLER.iter().any(|f| word.eq_ignore_ascii_case(f))
        {
            return None;
        }
        p = w;
    }
    None
}

/// A code's 3-8 digits at `s`, optionally in two groups (`905 112`), standing as a word.
pub(crate) fn digits_at(b: &[u8], s: usize) -> Option<(usize, usize)> {
    let n = b.len();
    let mut i = s;
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
    let digits = b[s..e].iter().filter(|c| c.is_ascii_digit()).count();
    // Not part of a longer word or a decimal (`cvv 123.45`).
    let word_end = e == n
        || !(b[e].is_ascii_alphanumeric()
            || (b[e] == b'.' && b.get(e + 1).is_some_and(u8::is_ascii_digit)));
    ((3..=8).contains(&digits) && word_end).then_some((s, e))
}

#[cfg(test)]
mod tests {
    /// The SECRET findings of the engine's real walk (the cue automaton, then `value_after`).
    fn found(text: &str) -> Vec<&str> {
        let engine = super::super::engine::Engine::new(&super::super::RedactionPolicy::default())
            .expect("default policy");
        let mut out = Vec::new();
        assert!(engine.find(text, &mut out, usize::MAX));
        out.iter()
            .filter(|f| f.entity == super::super::ENT_SECRET)
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
