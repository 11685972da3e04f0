//! Checksums and structural rules that separate real identifiers from look-alikes. They run only on
//! candidates the scanner already isolated, so they can afford to be exact.

/// Luhn checksum over ASCII digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn prefix_num(digits: &[u8], n: usize) -> u32 {
    digits[..n.min(digits.len())]
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
}

/// Issuer ranges (IIN) with the lengths each brand issues. Unknown ranges are not cards, which keeps
/// Luhn-passing order numbers out.
pub(crate) fn card_brand_ok(digits: &[u8]) -> bool {
    let len = digits.len();
    let p1 = prefix_num(digits, 1);
    let p2 = prefix_num(digits, 2);
    let p3 = prefix_num(digits, 3);
    let p4 = prefix_num(digits, 4);
    let p6 = prefix_num(digits, 6);
    // Visa
    if p1 == 4 && matches!(len, 13 | 16 | 19) {
        return true;
    }
    // UATP (airline cards): 1 + 14 digits.
    if p1 == 1 && len == 15 {
        return true;
    }
    // Mastercard, including the 2-series (2221-2720)
    if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16 {
        return true;
    }
    // American Express
    if (p2 == 34 || p2 == 37) && len == 15 {
        return true;
    }
    // Discover
    if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
        && (16..=19).contains(&len)
    {
        return true;
    }
    // Diners Club
    if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&len) {
        return true;
    }
    // JCB
    if (3528..=3589).contains(&p4) && (16..=19).contains(&len) {
        return true;
    }
    // UnionPay
    if p2 == 62 && (16..=19).contains(&len) {
        return true;
    }
    // Maestro
    if (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&len) {
        return true;
    }
    false
}

/// US SSN rules: area 001-899 except 666, group 01-99, serial 0001-9999, and the two numbers
/// printed in advertising (078-05-1120, 219-09-9999). `123-45-6789`, never issued, is masked:
/// it is the number people and forms type as an SSN, and masking a placeholder loses nothing.
pub(crate) fn ssn_ok(area: u32, group: u32, serial: u32) -> bool {
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    !matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999))
}

/// IBAN length per country (SWIFT IBAN registry).
pub(crate) fn iban_length(cc: [u8; 2]) -> Option<usize> {
    let len = match &cc {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"LY" => 25,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NL" => 18,
        b"NO" => 15,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"SA" => 24,
        b"SC" => 31,
        b"SD" => 18,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        // Newer members of the registry.
        b"BI" | b"DJ" => 27,
        b"FK" => 18,
        b"HN" | b"NI" => 28,
        b"MN" => 20,
        b"OM" | b"SO" => 23,
        b"RU" => 33,
        b"YE" => 30,
        // Territories whose banks use their parent's format under their own country code
        // (France's overseas departments and collectivities, the Crown Dependencies, Åland).
        b"GF" | b"GP" | b"MQ" | b"RE" | b"NC" | b"PF" | b"PM" | b"TF" | b"WF" | b"YT" | b"BL"
        | b"MF" => 27,
        b"GG" | b"IM" | b"JE" => 22,
        b"AX" => 18,
        _ => return None,
    };
    Some(len)
}

/// ISO 13616 mod-97 check over an IBAN without separators (uppercase letters and digits).
pub(crate) fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    let rotated = iban[4..].iter().chain(iban[..4].iter());
    for &c in rotated {
        match c {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// Shannon entropy in bits per byte.
pub(crate) fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// True for `8-4-4-4-12` hex strings: UUIDs are identifiers, not secrets.
pub(crate) fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"378282246310005"));
        assert!(!luhn(b"4111111111111112"));
    }

    #[test]
    fn brands() {
        assert!(card_brand_ok(b"4111111111111111"));
        assert!(card_brand_ok(b"2223003122003222"));
        assert!(card_brand_ok(b"5555555555554444"));
        assert!(card_brand_ok(b"378282246310005"));
        assert!(card_brand_ok(b"6011111111111117"));
        assert!(card_brand_ok(b"3530111333300000"));
        assert!(!card_brand_ok(b"1234567812345670"));
        assert!(!card_brand_ok(b"2721000000000000"));
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn_ok(536, 22, 1234));
        assert!(!ssn_ok(0, 22, 1234));
        assert!(!ssn_ok(666, 22, 1234));
        assert!(!ssn_ok(912, 22, 1234));
        assert!(!ssn_ok(536, 0, 1234));
        assert!(!ssn_ok(536, 22, 0));
        assert!(!ssn_ok(78, 5, 1120));
        assert!(ssn_ok(123, 45, 6789));
    }

    #[test]
    fn iban_checks() {
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
        assert_eq!(iban_length(*b"DE"), Some(22));
        assert_eq!(iban_length(*b"ZZ"), None);
    }

    #[test]
    fn entropy_and_uuid() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.1);
        assert!(shannon_entropy(b"Xk9#pQ2z") > 2.9);
        assert!(is_uuid(b"550e8400-e29b-41d4-a716-446655440000"));
        assert!(!is_uuid(b"550e8400e29b41d4a716446655440000"));
    }
}
