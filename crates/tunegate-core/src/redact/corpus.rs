//! A labelled synthetic corpus for measuring recall and look-alike keep rate, generated
//! deterministically (fixed seed, no network). Used by `tests/redact_quality.rs` and the benchmark
//! generator; not part of the redaction path.

use serde_json::json;

use super::EntityType;

/// The entity types this generator writes values for (the original structured set).
pub const ENTITIES: [EntityType; 8] = [
    EntityType::EmailAddress,
    EntityType::PhoneNumber,
    EntityType::CreditCard,
    EntityType::UsSsn,
    EntityType::IbanCode,
    EntityType::IpAddress,
    EntityType::MacAddress,
    EntityType::Secret,
];

/// A tiny deterministic PRNG (SplitMix64): stable across platforms and crate versions.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| char::from(*self.pick(alphabet))).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const FIRST: &[&str] = &[
    "jane", "john", "maria", "li", "olga", "ahmed", "chloe", "sven", "priya", "tomás",
];
const LAST: &[&str] = &[
    "doe", "smith", "garcia", "wang", "ivanova", "khan", "martin", "berg", "patel", "lopez",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "acme-corp.io",
    "corp.example.co.uk",
    "uni.example.edu",
];

/// A value the redactor must remove, or a look-alike it must keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Entity type name (`EMAIL_ADDRESS`, ...) or look-alike kind (`uuid`, `order_number`, ...).
    pub kind: String,
    /// The decoded value as it appears in the text.
    pub value: String,
}

/// One JSONL line with what it contains.
#[derive(Clone, Debug)]
pub struct LabelledExample {
    /// The JSONL line (no terminator).
    pub line: String,
    /// Values that must not survive redaction.
    pub entities: Vec<Label>,
    /// Values that must survive redaction.
    pub lookalikes: Vec<Label>,
}

fn luhn_complete(mut digits: Vec<u8>) -> Vec<u8> {
    digits.push(0);
    for check in 0..10u8 {
        let last = digits.len() - 1;
        digits[last] = check;
        let ascii: Vec<u8> = digits.iter().map(|d| d + b'0').collect();
        if super::validate::luhn(&ascii) {
            break;
        }
    }
    digits
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut p = 0;
    for &n in sizes {
        if p >= s.len() {
            break;
        }
        let e = (p + n).min(s.len());
        out.push(&s[p..e]);
        p = e;
    }
    if p < s.len() {
        out.push(&s[p..]);
    }
    out.join(sep)
}

/// Generates one value of a built-in entity type, formatted in one of its real-world formats.
pub fn entity_value(rng: &mut Rng, t: EntityType) -> String {
    match t {
        EntityType::EmailAddress => {
            let (f, l) = (rng.pick(FIRST), rng.pick(LAST));
            let local = match rng.below(4) {
                0 => format!("{f}.{l}"),
                1 => format!("{f}_{l}+{}", rng.pick(&["news", "work", "x"])),
                2 => format!("{}{l}{}", &f[..1], rng.range(1, 99)),
                _ => f.to_string(),
            };
            let local = local.replace('á', "a").replace('ó', "o");
            format!("{local}@{}", rng.pick(DOMAINS))
        }
        EntityType::PhoneNumber => {
            let area = format!("{}{}", rng.range(2, 9), rng.digits(2));
            let exch = format!("{}{}", rng.range(2, 9), rng.digits(2));
            let line = rng.digits(4);
            match rng.below(10) {
                0 => format!("+1 {area}-{exch}-{line}"),
                1 => format!("({area}) {exch}-{line}"),
                2 => format!("{area}.{exch}.{line}"),
                3 => format!("{area}-{exch}-{line}"),
                4 => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
                5 => format!("020 {} {}", rng.digits(4), rng.digits(4)),
                6 => format!(
                    "+33 6 {} {} {} {}",
                    rng.digits(2),
                    rng.digits(2),
                    rng.digits(2),
                    rng.digits(2)
                ),
                7 => format!(
                    "06 {} {} {} {}",
                    rng.digits(2),
                    rng.digits(2),
                    rng.digits(2),
                    rng.digits(2)
                ),
                8 => format!("+49 30 {}", rng.digits(7)),
                _ => format!("+1{area}{exch}{line}"),
            }
        }
        EntityType::CreditCard => {
            let (prefix, len): (String, usize) = match rng.below(6) {
                0 => ("4".into(), 16),
                1 => (format!("5{}", rng.range(1, 5)), 16),
                2 => (format!("{}", rng.range(2221, 2720)), 16),
                3 => (rng.pick(&["34", "37"]).to_string(), 15),
                4 => ("6011".into(), 16),
                _ => (format!("{}", rng.range(3528, 3589)), 16),
            };
            let mut d: Vec<u8> = prefix.bytes().map(|c| c - b'0').collect();
            while d.len() < len - 1 {
                d.push(rng.below(10) as u8);
            }
            let s: String = luhn_complete(d)
                .iter()
                .map(|x| char::from(x + b'0'))
                .collect();
            if len == 15 {
                return match rng.below(2) {
                    0 => group(&s, &[4, 6, 5], " "),
                    _ => s,
                };
            }
            match rng.below(3) {
                0 => group(&s, &[4, 4, 4, 4], " "),
                1 => group(&s, &[4, 4, 4, 4], "-"),
                _ => s,
            }
        }
        EntityType::UsSsn => {
            let mut area = rng.range(1, 899);
            if area == 666 {
                area = 665;
            }
            let g = rng.range(1, 99);
            let s = rng.range(1, 9999);
            let sep = rng.pick(&["-", " "]);
            format!("{area:03}{sep}{g:02}{sep}{s:04}")
        }
        EntityType::IbanCode => {
            let (cc, bban) = match rng.below(6) {
                0 => ("DE", rng.digits(18)),
                1 => (
                    "GB",
                    format!("{}{}", rng.pick(&["WEST", "NWBK", "BARC"]), rng.digits(14)),
                ),
                2 => ("FR", rng.digits(23)),
                3 => (
                    "NL",
                    format!("{}{}", rng.pick(&["ABNA", "RABO", "INGB"]), rng.digits(10)),
                ),
                4 => ("ES", rng.digits(20)),
                _ => ("BE", rng.digits(12)),
            };
            let numeric: String = format!("{bban}{cc}00")
                .chars()
                .map(|c| {
                    if c.is_ascii_uppercase() {
                        (c as u32 - 'A' as u32 + 10).to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            let rem = numeric
                .bytes()
                .fold(0u32, |r, c| (r * 10 + u32::from(c - b'0')) % 97);
            let iban = format!("{cc}{:02}{bban}", 98 - rem);
            if rng.chance(0.5) {
                group(&iban, &[4; 9], " ")
            } else {
                iban
            }
        }
        EntityType::IpAddress => match rng.below(3) {
            0 => format!(
                "{}.{}.{}.{}",
                rng.range(1, 223),
                rng.range(0, 255),
                rng.range(0, 255),
                rng.range(1, 254)
            ),
            1 => format!(
                "2001:db8:{:x}:{:x}::{:x}",
                rng.range(1, 0xffff),
                rng.range(0, 0xffff),
                rng.range(1, 0xffff)
            ),
            _ => (0..8)
                .map(|_| format!("{:x}", rng.range(0, 0xffff)))
                .collect::<Vec<_>>()
                .join(":"),
        },
        EntityType::MacAddress => {
            let sep = rng.pick(&[":", "-"]);
            let upper = rng.chance(0.5);
            (0..6)
                .map(|_| {
                    let h = format!("{:02x}", rng.range(0, 255));
                    if upper { h.to_uppercase() } else { h }
                })
                .collect::<Vec<_>>()
                .join(sep)
        }
        EntityType::Secret => match rng.below(10) {
            0 => format!("sk-proj-{}", rng.chars(40, ALNUM)) + &rng.digits(2),
            1 => format!("AKIA{}", rng.chars(16, UPPER_ALNUM)),
            2 => format!("ghp_{}", rng.chars(36, ALNUM)),
            3 => format!(
                "xoxb-{}-{}-{}",
                rng.digits(12),
                rng.digits(13),
                rng.chars(24, ALNUM)
            ),
            4 => format!("sk_live_{}", rng.chars(24, ALNUM)),
            5 => format!("AIza{}", rng.chars(35, ALNUM)),
            6 => format!(
                "eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}",
                rng.chars(30, ALNUM),
                rng.chars(43, ALNUM)
            ),
            7 => format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----",
                rng.chars(64, ALNUM),
                rng.chars(40, ALNUM)
            ),
            8 => format!("github_pat_{}", rng.chars(60, ALNUM)),
            _ => format!("sk-{}{}", rng.chars(46, ALNUM), rng.digits(2)),
        },
        // Not generated here: the per-type sample tables cover the other detectors.
        _ => entity_value(rng, EntityType::EmailAddress),
    }
}

/// A look-alike value of one kind: must never be redacted.
pub fn lookalike(rng: &mut Rng, kind: &str) -> String {
    match kind {
        "order_number" => loop {
            let mut s = format!("4{}", rng.digits(15));
            if !super::validate::luhn(s.as_bytes()) {
                if rng.chance(0.5) {
                    s = group(&s, &[4, 4, 4, 4], " ");
                }
                break s;
            }
        },
        "uuid" => format!(
            "{}-{}-4{}-a{}-{}",
            rng.chars(8, HEX),
            rng.chars(4, HEX),
            rng.chars(3, HEX),
            rng.chars(3, HEX),
            rng.chars(12, HEX)
        ),
        "git_sha" => {
            if rng.chance(0.5) {
                rng.chars(40, HEX)
            } else {
                rng.chars(7, HEX)
            }
        }
        "version" => match rng.below(3) {
            0 => format!(
                "v{}.{}.{}",
                rng.range(0, 20),
                rng.range(0, 40),
                rng.range(0, 99)
            ),
            1 => format!(
                "{}.{}.{}",
                rng.range(0, 20),
                rng.range(0, 40),
                rng.range(0, 99)
            ),
            _ => format!(
                "{}.{}.{}-rc{}",
                rng.range(0, 9),
                rng.range(0, 9),
                rng.range(0, 9),
                rng.range(1, 5)
            ),
        },
        "timestamp" => match rng.below(3) {
            0 => format!(
                "2024-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                rng.range(1, 12),
                rng.range(1, 28),
                rng.range(0, 23),
                rng.range(0, 59),
                rng.range(0, 59)
            ),
            1 => format!(
                "2025-{:02}-{:02} {:02}:{:02}:{:02}",
                rng.range(1, 12),
                rng.range(1, 28),
                rng.range(0, 23),
                rng.range(0, 59),
                rng.range(0, 59)
            ),
            _ => format!("17{}", rng.digits(8)),
        },
        "price" => match rng.below(3) {
            0 => format!(
                "${},{:03}.{:02}",
                rng.range(1, 9),
                rng.range(0, 999),
                rng.range(0, 99)
            ),
            1 => format!("{}.{:02} EUR", rng.range(1, 9999), rng.range(0, 99)),
            _ => format!("€{}.{:02}", rng.range(1, 999), rng.range(0, 99)),
        },
        "ticket_id" => match rng.below(3) {
            0 => format!("JIRA-{}", rng.range(100, 99999)),
            1 => format!("INC{}", rng.digits(7)),
            _ => format!("#{}", rng.range(1000, 999999)),
        },
        "domain" => rng
            .pick(&[
                "example.com",
                "api.acme-corp.io",
                "docs.example.org",
                "status.example.net",
            ])
            .to_string(),
        "handle" => format!(
            "@{}_{}",
            rng.pick(&["jane", "devops", "acme", "sven"]),
            rng.range(1, 999)
        ),
        _ => format!(
            "{}/{:02}/20{:02}",
            rng.range(1, 12),
            rng.range(1, 28),
            rng.range(10, 30)
        ),
    }
}

/// Look-alike kinds in the corpus.
pub const LOOKALIKE_KINDS: &[&str] = &[
    "order_number",
    "uuid",
    "git_sha",
    "version",
    "timestamp",
    "price",
    "ticket_id",
    "domain",
    "handle",
    "date",
];

const LEAD_IN: &[&str] = &[
    "Please update my record:",
    "Hi, my details are",
    "Bonjour, voici mes coordonnées :",
    "Hallo, meine Daten lauten",
    "您好，我的信息是：",
    "こんにちは。連絡先は",
    "Привет! Мои данные:",
    "🙂 quick one —",
];

fn entity_phrase(rng: &mut Rng, t: EntityType, v: &str) -> String {
    let label = match t {
        EntityType::EmailAddress => rng.pick(&["email", "e-mail", "邮箱", "mail"]).to_string(),
        EntityType::PhoneNumber => rng
            .pick(&["phone", "tel.", "电话", "call me on", "Telefon"])
            .to_string(),
        EntityType::CreditCard => rng.pick(&["card", "Karte", "carte", "信用卡"]).to_string(),
        EntityType::UsSsn => "SSN".to_string(),
        EntityType::IbanCode => "IBAN".to_string(),
        EntityType::IpAddress => rng.pick(&["server at", "client IP", "host"]).to_string(),
        EntityType::MacAddress => rng.pick(&["MAC", "device"]).to_string(),
        EntityType::Secret => rng
            .pick(&["here is the key", "token", "credential:", "use"])
            .to_string(),
        other => other.as_str().to_lowercase(),
    };
    match rng.below(6) {
        0 => format!("{label}: {v}."),
        1 => format!("{label} {v}, thanks"),
        2 => format!("{label}\n{v}\n"),
        3 => format!("({label}: {v})"),
        4 => format!("{label}：{v}。"),
        _ => format!("{label} \"{v}\""),
    }
}

fn lookalike_phrase(rng: &mut Rng, kind: &str, v: &str) -> String {
    let label = match kind {
        "order_number" => "Order",
        "uuid" => "request id",
        "git_sha" => "fixed in commit",
        "version" => "running",
        "timestamp" => "logged at",
        "price" => "it cost",
        "ticket_id" => "see ticket",
        "domain" => "visit",
        "handle" => "ping",
        _ => "on",
    };
    match rng.below(3) {
        0 => format!("{label} {v}."),
        1 => format!("{label} {v}, ok?"),
        _ => format!("{label}: {v}\n"),
    }
}

/// `n` labelled chat examples. Hard cases: JSON escapes of `@` and `-`, newlines around values,
/// values inside tool-call `arguments` (JSON in a string), non-ASCII neighbours, every format
/// variant of each entity, and look-alikes of every kind.
pub fn generate(seed: u64, n: usize) -> Vec<LabelledExample> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut entities = Vec::new();
        let mut lookalikes = Vec::new();
        let mut user = rng.pick(LEAD_IN).to_string();
        let t = ENTITIES[i % ENTITIES.len()];
        let v = entity_value(&mut rng, t);
        user.push(' ');
        user.push_str(&entity_phrase(&mut rng, t, &v));
        entities.push(Label {
            kind: t.as_str().to_string(),
            value: v,
        });
        let k = LOOKALIKE_KINDS[(i / 3) % LOOKALIKE_KINDS.len()];
        let lv = lookalike(&mut rng, k);
        user.push(' ');
        user.push_str(&lookalike_phrase(&mut rng, k, &lv));
        lookalikes.push(Label {
            kind: k.to_string(),
            value: lv,
        });
        let mut messages = vec![
            json!({"role": "system", "content": "You are a helpful support agent."}),
            json!({"role": "user", "content": user}),
        ];
        if rng.chance(0.3) {
            // A second value inside tool-call arguments.
            let t2 = *rng.pick(&ENTITIES);
            let v2 = entity_value(&mut rng, t2);
            let k2 = *rng.pick(LOOKALIKE_KINDS);
            let lv2 = lookalike(&mut rng, k2);
            let args =
                json!({"customer": {"contact": v2, "note": format!("ref {lv2}")}, "limit": 5})
                    .to_string();
            messages.push(json!({"role": "assistant", "tool_calls": [{"id": format!("call_{i}"), "type": "function",
                "function": {"name": "update_customer", "arguments": args}}]}));
            messages.push(json!({"role": "tool", "tool_call_id": format!("call_{i}"), "content": "{\"ok\":true}"}));
            entities.push(Label {
                kind: t2.as_str().to_string(),
                value: v2,
            });
            lookalikes.push(Label {
                kind: k2.to_string(),
                value: lv2,
            });
        }
        messages.push(json!({"role": "assistant", "content": "Thanks, I have updated your record.", "weight": 1}));
        let mut line = json!({"messages": messages}).to_string();
        // Escapes that must not hide anything.
        if rng.chance(0.25) {
            line = line.replace('@', "\\u0040");
        }
        if rng.chance(0.15) {
            line = line.replace('-', "\\u002d");
        }
        out.push(LabelledExample {
            line,
            entities,
            lookalikes,
        });
    }
    out
}
