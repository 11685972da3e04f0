//! Personal data named by its JSON key: `{"phone": "5321234567"}`, `{"dob": "1985-03-12"}`,
//! `{"full_name": "wei zhang"}` in tool-call arguments and structured messages.
//!
//! The key is the context word that bare values lack: a ten-digit run is an order number in
//! prose but a phone number under `phone`. Each type still checks the value's shape, so a key
//! that holds something else (`{"phone": "unknown"}`, `{"name": "get_weather"}`) stays. Keys
//! are compared normalised (lower-case ASCII letters and digits only: `phone_number`,
//! `phoneNumber` and `Phone-Number` are one key), as for secret keys.

use super::{
    ENT_DATE_OF_BIRTH, ENT_DRIVER_LICENSE, ENT_PASSPORT, ENT_PERSON, ENT_PHONE, ENT_POSTAL_ADDRESS,
    ENT_SSN, ENT_US_BANK_ROUTING,
};

/// The entity a normalised key names, if any.
pub(crate) fn key_entity(norm: &[u8]) -> Option<u16> {
    const PHONE: &[&[u8]] = &[
        b"phone",
        b"phonenumber",
        b"phoneno",
        b"telephone",
        b"tel",
        b"mobile",
        b"mobilenumber",
        b"mobilephone",
        b"cell",
        b"cellphone",
        b"msisdn",
        b"fax",
        b"contactnumber",
        b"homephone",
        b"workphone",
        b"callbacknumber",
    ];
    const SSN: &[&[u8]] = &[
        b"ssn",
        b"socialsecuritynumber",
        b"socialsecurityno",
        b"usssn",
    ];
    const DOB: &[&[u8]] = &[
        b"dob",
        b"dateofbirth",
        b"birthdate",
        b"birthday",
        b"birthdt",
    ];
    const PASSPORT: &[&[u8]] = &[b"passport", b"passportnumber", b"passportno", b"passportid"];
    const LICENCE: &[&[u8]] = &[
        b"driverlicense",
        b"driverslicense",
        b"driverlicence",
        b"driverslicence",
        b"drivinglicense",
        b"drivinglicence",
        b"driverlicensenumber",
        b"driverslicensenumber",
        b"dlnumber",
    ];
    const ROUTING: &[&[u8]] = &[b"routingnumber", b"abanumber", b"abaroutingnumber", b"rtn"];
    const ADDRESS: &[&[u8]] = &[
        b"address",
        b"streetaddress",
        b"street",
        b"addressline",
        b"addressline1",
        b"addressline2",
        b"homeaddress",
        b"billingaddress",
        b"shippingaddress",
        b"mailingaddress",
        b"postaladdress",
        b"residentialaddress",
        b"deliveryaddress",
    ];
    const PERSON: &[&[u8]] = &[
        b"name",
        b"fullname",
        b"firstname",
        b"lastname",
        b"givenname",
        b"familyname",
        b"surname",
        b"middlename",
        b"maidenname",
        b"customername",
        b"contactname",
        b"patientname",
        b"cardholder",
        b"cardholdername",
        b"nameoncard",
        b"accountholder",
        b"accountholdername",
        b"passengername",
        b"recipientname",
        b"sendername",
        b"personname",
        b"billingname",
        b"shippingname",
        b"legalname",
        b"employeename",
        b"guestname",
        // Keys that name a person or a team, an account or a bot: generic, as `name`.
        b"owner",
        b"author",
        b"assignee",
        b"reporter",
        b"requester",
        b"customer",
    ];
    let table: [(&[&[u8]], u16); 8] = [
        (PHONE, ENT_PHONE),
        (SSN, ENT_SSN),
        (DOB, ENT_DATE_OF_BIRTH),
        (PASSPORT, ENT_PASSPORT),
        (LICENCE, ENT_DRIVER_LICENSE),
        (ROUTING, ENT_US_BANK_ROUTING),
        (ADDRESS, ENT_POSTAL_ADDRESS),
        (PERSON, ENT_PERSON),
    ];
    table
        .iter()
        .find(|(keys, _)| keys.contains(&norm))
        .map(|&(_, ent)| ent)
}

/// Person keys that also name things (`name`: tools, files; `owner`, `author`: teams, bots):
/// a gazetteer name must be part of the value.
pub(crate) fn generic_person_key(norm: &[u8]) -> bool {
    matches!(
        norm,
        b"name" | b"owner" | b"author" | b"assignee" | b"reporter" | b"requester" | b"customer"
    )
}

/// Whether `v` (the whole string value under a key naming `ent`) has that type's shape. `generic`
/// is true for the key `name`, which also names products, tools and files: there a gazetteer
/// name must be part of the value.
pub(crate) fn value_fits(ent: u16, v: &str, generic: bool) -> bool {
    let v = v.trim();
    // A mask token of an earlier pass (`[PERSON]`, `[POSTAL_ADDRESS_7f3a9c1e]`) is never data.
    if v.is_empty() || v.len() > 200 || v.contains('[') {
        return false;
    }
    let b = v.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    match ent {
        ENT_PHONE => {
            (7..=15).contains(&digits)
                && b.iter().all(|c| {
                    c.is_ascii_digit()
                        || matches!(c, b' ' | b'+' | b'-' | b'(' | b')' | b'.' | b'/')
                })
        }
        ENT_SSN => {
            digits == 9
                && b.iter()
                    .all(|c| c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.'))
                && ssn_valid(b)
        }
        ENT_DATE_OF_BIRTH => date_like(v, digits),
        ENT_PASSPORT => id_like(b, digits, 6, 9),
        ENT_DRIVER_LICENSE => id_like(b, digits, 5, 16),
        ENT_US_BANK_ROUTING => {
            digits == 9 && b.iter().all(|c| c.is_ascii_digit() || c == &b'-') && aba_valid(b)
        }
        // A house number or postcode and a word: `221B Baker Street`, `Hauptstraße 5`.
        ENT_POSTAL_ADDRESS => digits > 0 && v.chars().any(char::is_alphabetic) && !v.contains('@'),
        ENT_PERSON => super::names::person_value(v, generic),
        _ => false,
    }
}

/// The nine ASCII digits of `b` (other bytes skipped), if it holds exactly nine.
fn nine_digits(b: &[u8]) -> Option<[u8; 9]> {
    let mut d = [0u8; 9];
    let mut n = 0;
    for &c in b.iter().filter(|c| c.is_ascii_digit()) {
        *d.get_mut(n)? = c;
        n += 1;
    }
    (n == 9).then_some(d)
}

/// The SSN rules the text detector applies (`validate::ssn_ok`).
fn ssn_valid(b: &[u8]) -> bool {
    nine_digits(b).is_some_and(|d| {
        let v = |r: std::ops::Range<usize>| {
            d[r].iter()
                .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
        };
        super::validate::ssn_ok(v(0..3), v(3..5), v(5..9))
    })
}

/// The ABA 3-7-1 checksum: the key names the number, so any prefix (`ids::aba_sum_ok`).
fn aba_valid(b: &[u8]) -> bool {
    nine_digits(b).is_some_and(|d| super::ids::aba_sum_ok(&d))
}

/// Passport and licence numbers: letters, digits and at most three separators, with a digit.
fn id_like(b: &[u8], digits: usize, min: usize, max: usize) -> bool {
    let alnum = b.iter().filter(|c| c.is_ascii_alphanumeric()).count();
    let seps = b
        .iter()
        .filter(|c| matches!(c, b' ' | b'-' | b'.' | b'/'))
        .count();
    digits > 0 && (min..=max).contains(&alnum) && seps <= 3 && alnum + seps == b.len()
}

/// A date: 4-8 digits, separators, and at most three words (month names, `of`, ordinals).
fn date_like(v: &str, digits: usize) -> bool {
    if !(4..=8).contains(&digits) || v.len() > 40 {
        return false;
    }
    let mut words = 0;
    for w in v
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        words += 1;
        if words > 3 || w.chars().count() > 10 {
            return false;
        }
    }
    v.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '/' | '.' | ',' | '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(key: &str, v: &str) -> bool {
        let mut norm = Vec::new();
        super::super::secrets::normalise_name(key.as_bytes(), &mut norm);
        key_entity(&norm).is_some_and(|e| value_fits(e, v, generic_person_key(&norm)))
    }

    #[test]
    fn keyed_values_of_the_right_shape() {
        for (k, v) in [
            ("phone", "5321234567"),
            ("phoneNumber", "+1 (212) 555-0143"),
            ("Mobile-Number", "07700 900123"),
            ("ssn", "536228714"),
            ("social_security_number", "536-22-8714"),
            ("dob", "1985-03-12"),
            ("dateOfBirth", "12/03/1985"),
            ("birthdate", "March 12, 1985"),
            ("passport_number", "C01234565"),
            ("driver_license", "D123-4567-8901"),
            ("routing_number", "121000358"),
            ("address", "221B Baker Street"),
            ("shipping_address", "Hauptstraße 5, 10115 Berlin"),
            ("full_name", "wei zhang"),
            ("customer_name", "josé garcía"),
            ("first_name", "Priya"),
            ("last_name", "O'Brien-Smith"),
            ("name", "Sarah Connor"),
            ("name", "Jennifer"),
            ("owner", "Sarah Connor"),
            ("assignee", "Priya Patel"),
        ] {
            assert!(fits(k, v), "{k}: {v}");
        }
    }

    #[test]
    fn keyed_values_of_another_shape_stay() {
        for (k, v) in [
            ("phone", "unknown"),
            ("phone", "123"),
            // Generic person keys also hold teams, bots and accounts.
            ("owner", "platform-team"),
            ("author", "Dependabot"),
            ("assignee", "octocat"),
            ("ssn", "078-05-0000"),
            ("ssn", "666-12-3456"),
            ("dob", "unknown"),
            ("dob", "in the spring of the year nineteen"),
            ("passport", "lost"),
            ("routing_number", "421042111"),
            ("address", "see above"),
            ("address", "ops@example.com 1"),
            ("full_name", "R2-D2 unit"),
            ("name", "get_weather"),
            ("name", "Premium plan"),
            ("name", "Acme Corporation"),
            ("name", "[PERSON]"),
            ("address", "[POSTAL_ADDRESS_7f3a9c1e]"),
            ("product_name", "Jennifer"),
            ("username", "jdoe42"),
            ("order_id", "5321234567"),
        ] {
            assert!(!fits(k, v), "{k}: {v}");
        }
    }
}
