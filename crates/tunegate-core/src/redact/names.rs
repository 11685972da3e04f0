//! Best-effort PERSON and POSTAL_ADDRESS detection without a network model.
//!
//! Names: a gazetteer of US first names and surnames (the US Census Bureau's 1990 name frequency
//! files, a US government work in the public domain; the most frequent 1,000 male, 2,000 female
//! first names and 6,000 surnames, lower-cased, in `data/`), 18,200 international first names
//! (from Jörg Michael's `nam_dict.txt`, GFDL; those that are also common words are ambiguous),
//! context cues (greetings, sign-offs,
//! "my name is", honorifics) and capitalisation. Words that are also ordinary English words
//! (Will, Grace, Mark, Brown, months) only count with a cue or next to an unambiguous name part.
//!
//! Addresses: house number + capitalised street name + street type (US/UK), compound street names
//! and a number (DE/NL), number + rue/avenue... (FR), Calle/Avenida... + number (ES), each optionally
//! extended over a unit, the town, the postcode and the lines that continue it; PO boxes and UK
//! postcodes (of a real postcode area) also alone.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use super::{ENT_PERSON, ENT_POSTAL_ADDRESS, Finding};

const F_FIRST: u8 = 1;
const F_LAST: u8 = 2;
const F_AMBIGUOUS: u8 = 4;
const F_STOP: u8 = 8;
/// An international given name (`data/given_names_intl*.txt`): a larger list, with more rare
/// words and brands among its entries (`Tokio`, `Miri`), so alone it counts as ambiguous; in a
/// run with a second name-shaped word (`Matti Mäkinen`) it is a known given name.
const F_WEAK: u8 = 16;
/// A common Chinese family name in pinyin (`CN_SURNAMES`): a name only beside a pinyin given
/// name (`pinyin_given`).
const F_CN: u8 = 32;

/// Every word list of the name rules in one table: lower-case word -> flags. A capitalised word
/// costs one lookup over its bytes (lower-cased on the stack), never an allocation.
struct Lexicon {
    map: HashMap<&'static [u8], u8, BuildHasherDefault<WordHasher>>,
    max_len: usize,
}

/// FxHash-style hasher for short byte strings (the table is fixed, so no DoS concern).
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut tail = 0u64;
        for (i, &c) in chunks.remainder().iter().enumerate() {
            tail |= u64::from(c) << (8 * i);
        }
        self.0 = (self.0.rotate_left(5) ^ tail).wrapping_mul(K);
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        let mut map: HashMap<&'static [u8], u8, BuildHasherDefault<WordHasher>> =
            HashMap::default();
        let data = |text: &'static str| text.lines().filter(|l| !l.starts_with('#'));
        let lists: [(&mut dyn Iterator<Item = &'static str>, u8); 7] = [
            (&mut include_str!("data/first_names.txt").lines(), F_FIRST),
            (
                &mut data(include_str!("data/given_names_intl.txt")),
                F_FIRST | F_WEAK,
            ),
            (
                &mut data(include_str!("data/given_names_intl_ambiguous.txt")),
                F_FIRST | F_AMBIGUOUS,
            ),
            (&mut include_str!("data/surnames.txt").lines(), F_LAST),
            (&mut AMBIGUOUS.iter().copied(), F_AMBIGUOUS),
            (
                &mut CN_SURNAMES
                    .iter()
                    .filter_map(|w| std::str::from_utf8(w).ok()),
                F_CN,
            ),
            (&mut STOP.iter().copied(), F_STOP),
        ];
        for (words, flag) in lists {
            for w in words {
                *map.entry(w.as_bytes()).or_default() |= flag;
            }
        }
        let max_len = map.keys().map(|k| k.len()).max().unwrap_or(0);
        Lexicon { map, max_len }
    })
}

impl Lexicon {
    /// Flags of `word`, compared lower-cased (Unicode lower case, as `str::to_lowercase`).
    fn flags(&self, word: &str) -> u8 {
        if word.is_ascii() {
            if word.len() > self.max_len {
                return 0;
            }
            let mut buf = [0u8; 64];
            if word.len() > buf.len() {
                return self.get(word.to_ascii_lowercase().as_bytes());
            }
            let l = &mut buf[..word.len()];
            l.copy_from_slice(word.as_bytes());
            l.make_ascii_lowercase();
            self.get(l)
        } else {
            self.get(word.to_lowercase().as_bytes())
        }
    }

    // Always inlined: as a call of its own (which edits elsewhere in the file can cause) it
    // cost 1.7 M instructions on the dense bench (three passes over 1 MB).
    #[inline(always)]
    fn get(&self, lower: &[u8]) -> u8 {
        self.map.get(lower).copied().unwrap_or(0)
    }
}

/// A part of a full name found with its context that stands for the person alone when it
/// recurs (see `echo`): capitalised, three letters or more, and neither a common word that is
/// also a name (`Will`, `Grace`, `Mark`) nor a stop word.
pub(crate) fn echo_part(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase)
        && chars.all(char::is_alphabetic)
        && word.chars().count() >= 3
        && lexicon().flags(word) & (F_AMBIGUOUS | F_STOP) == 0
}

/// `raw` lower-cased is one of `list` (lower-case entries). No allocation for ASCII words.
/// `filter` is `list_filter(list)`.
fn in_list_ci(raw: &str, list: &[&str], filter: u128) -> bool {
    if raw.is_ascii() {
        in_list_ascii(raw.as_bytes(), list, filter)
    } else {
        let l = raw.to_lowercase();
        list.contains(&l.as_str())
    }
}

/// `in_list_ci` for an ASCII word given as bytes.
fn in_list_ascii(raw: &[u8], list: &[&str], filter: u128) -> bool {
    // Most words are in no list: reject those whose (length, first letter) no entry has before
    // comparing with every entry.
    filter & filter_bit(raw) != 0
        && list
            .iter()
            .any(|w| w.len() == raw.len() && w.as_bytes().eq_ignore_ascii_case(raw))
}

/// The filter bits (`filter_bit`) of the street-type lists' entries.
const STREET_FILTER: u128 = list_filter(STREET_TYPES);
const FR_FILTER: u128 = list_filter(FR_TYPES);
const ES_FILTER: u128 = list_filter(ES_TYPES);

/// One of 128 bits for an ASCII word: its length and lower-cased first byte, folded. Equal
/// words (ignoring ASCII case) get the same bit.
const fn filter_bit(w: &[u8]) -> u128 {
    let first = if w.is_empty() {
        0
    } else {
        w[0].to_ascii_lowercase()
    };
    1u128 << ((w.len() % 16) * 8 + (first as usize % 8))
}

const fn list_filter(list: &[&str]) -> u128 {
    let mut f = 0u128;
    let mut k = 0;
    while k < list.len() {
        f |= filter_bit(list[k].as_bytes());
        k += 1;
    }
    f
}

/// Names that are also common words, places, brands or months: never a name on their own.
const AMBIGUOUS: &[&str] = &[
    "will",
    "grace",
    "mark",
    "brown",
    "may",
    "june",
    "april",
    "august",
    "bill",
    "rose",
    "hope",
    "joy",
    "faith",
    "summer",
    "dawn",
    "art",
    "frank",
    "guy",
    "pat",
    "sue",
    "chase",
    "hunter",
    "rich",
    "sterling",
    "penny",
    "ruby",
    "amber",
    "crystal",
    "heather",
    "holly",
    "iris",
    "ivy",
    "jade",
    "lily",
    "daisy",
    "violet",
    "autumn",
    "winter",
    "sky",
    "river",
    "christian",
    "royal",
    "king",
    "young",
    "white",
    "black",
    "green",
    "gray",
    "grey",
    "long",
    "little",
    "rice",
    "hill",
    "wood",
    "stone",
    "price",
    "bell",
    "banks",
    "house",
    "field",
    "ford",
    "lane",
    "page",
    "day",
    "case",
    "new",
    "park",
    "major",
    "cook",
    "baker",
    "love",
    "sharp",
    "strong",
    "short",
    "wise",
    "noble",
    "gold",
    "silver",
    "north",
    "west",
    "south",
    "east",
    "church",
    "cross",
    "hall",
    "march",
    "english",
    "french",
    "german",
    "paris",
    // Places that are also surnames in the gazetteer (`from London`, `from Berlin`); places
    // that are common given names (Charlotte, Madison, Sofia) stay names.
    "angeles",
    "berlin",
    "birmingham",
    "boston",
    "brazil",
    "bristol",
    "canada",
    "cleveland",
    "denver",
    "derby",
    "dover",
    "durham",
    "england",
    "france",
    "geneva",
    "glasgow",
    "hamilton",
    "hartford",
    "holland",
    "hull",
    "ireland",
    "israel",
    "kingston",
    "lancaster",
    "london",
    "lyon",
    "madrid",
    "montgomery",
    "oxford",
    "poland",
    "richmond",
    "rome",
    "sheffield",
    "spain",
    "trenton",
    "valencia",
    "wales",
    "washington",
    "york",
    "georgia",
    "virginia",
    "florida",
    "carolina",
    "dakota",
    "austin",
    "dallas",
    "houston",
    "phoenix",
    "chelsea",
    "victoria",
    "sydney",
    "china",
    "india",
    "asia",
    "america",
    "apple",
    "amazon",
    "windows",
    "office",
    "word",
    "chrome",
    "edge",
    "safari",
    "swift",
    "java",
    "rust",
    "pearl",
    "ginger",
    "candy",
    "honey",
    "cherry",
    "olive",
    "berry",
    "sandy",
    "misty",
    "rocky",
    "sunny",
    "angel",
    "destiny",
    "harmony",
    "melody",
    "charity",
    "patience",
    "trinity",
    "unity",
    "justice",
    "liberty",
    "mercy",
    "queen",
    "duke",
    "earl",
    "prince",
    "bishop",
    "early",
    "rock",
    "best",
    "good",
    "said",
    "case",
    "key",
    "street",
    "road",
    "way",
    "price",
    "sale",
    "post",
    "power",
    "joy",
    "can",
    "don",
    "van",
    "ray",
    "ben",
    "sol",
    "max",
    "sky",
    "dean",
    "chance",
    "lord",
    "sun",
    "moon",
    "star",
    "snow",
    "rain",
    "storm",
    "blue",
    "red",
    "golden",
    "miles",
    "wells",
    "mills",
    "fields",
    "woods",
    "hills",
    "rivers",
    "lucky",
    "happy",
    "merry",
    "jolly",
    "bright",
    "well",
    "mac",
    "pro",
    "air",
    "max",
    "plus",
    "mini",
    "echo",
    "alexa",
    "siri",
    "cortana",
    "galaxy",
    "pixel",
    "surface",
    "kindle",
    "fire",
    "tesla",
    "lincoln",
    "mercedes",
    "porsche",
    "jaguar",
    "dodge",
    "chevy",
    "jeep",
    "ram",
    "fiat",
    "mini",
    "polo",
    "golf",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "july",
    "september",
    "october",
    "november",
    "december",
    "christmas",
    "easter",
    "god",
    "jesus",
    "allah",
    "buddha",
    "lord",
    "bible",
    "thanks",
    "hello",
    "dear",
    "please",
    "sorry",
    "sure",
    "okay",
    "yes",
    "hi",
    "hey",
    "team",
    "support",
    "customer",
    "sir",
    "madam",
    "all",
    "everyone",
    "there",
    "again",
    "friend",
    "user",
    "admin",
    "guest",
    "client",
    "manager",
    "agent",
];

/// Words after a cue that are never a name (Dear Customer, Hi Team, Thanks Again).
const STOP: &[&str] = &[
    "team",
    "all",
    "everyone",
    "there",
    "customer",
    "sir",
    "madam",
    "support",
    "again",
    "guys",
    "folks",
    "friend",
    "friends",
    "user",
    "the",
    "a",
    "an",
    "and",
    "for",
    "so",
    "very",
    "in",
    "it",
    "this",
    "that",
    "you",
    "your",
    "we",
    "our",
    "i",
    "me",
    "my",
    "not",
    "no",
    "yes",
    "of",
    "to",
    "is",
    "am",
    "are",
    "was",
    "be",
    "on",
    "at",
    "by",
    "with",
    "from",
    "as",
    "or",
    "but",
    "if",
    "just",
    "also",
    "here",
    "now",
    "again",
    "much",
    "lot",
    "sure",
    "okay",
    "ok",
    "hello",
    "hi",
    "regards",
    "thanks",
    "cheers",
    "best",
    "sincerely",
    "again",
    "everybody",
    "admin",
    "sales",
    "billing",
    "service",
    "services",
    "account",
    "accounts",
    "help",
    "desk",
    "info",
    "mr",
    "mrs",
    "ms",
    "dr",
    "miss",
    "prof",
    "mx",
    // Organisation and product words: `Hello Acme Corp,`, `Hi Microsoft Teams,`.
    "corp",
    "inc",
    "ltd",
    "llc",
    "gmbh",
    "company",
    "group",
    "hotel",
    "bank",
    "assistant",
    "teams",
    "cloud",
    "app",
    "store",
    "shop",
    "office",
    "club",
    "school",
    "university",
    "hospital",
    "airlines",
    "insurance",
    "center",
    "centre",
    "studio",
    "labs",
    "systems",
    "solutions",
    "network",
    "foundation",
    "institute",
    "department",
    "agency",
    "restaurant",
    "market",
    "world",
    // First words of place names (`San Francisco said`, `Fort Worth`, `Lake Tahoe`).
    "san",
    "santa",
    "saint",
    "fort",
    "port",
    "lake",
    "mount",
    "cape",
    "new",
    "north",
    "south",
    "east",
    "upper",
    "lower",
    "great",
    // Type and value names of programming languages (`name: String,`, `Some(x)`).
    "string",
    "option",
    "some",
    "none",
    "self",
    "vec",
    "box",
    "cow",
    "result",
    "ok",
    "err",
    "null",
    "nan",
    "ident",
    "symbol",
    "bool",
    "object",
    "array",
    "void",
    // Possessives and articles that start sentences in other languages (Mi Número, Mein Konto).
    "mi",
    "mein",
    "meine",
    "mon",
    "mes",
    "mijn",
    "il",
    "los",
    "las",
    "der",
    "die",
    "das",
    "un",
    "una",
    "ein",
    "eine",
    "het",
    "een",
    "tu",
    "ton",
    "votre",
    "ihr",
    "ihre",
    "unser",
    "unsere",
    "nuestro",
    "nuestra",
];

/// (lower-case cue ending, strong): a strong cue makes any capitalised word after it a name.
const CUES: &[(&str, bool)] = &[
    ("my name is ", true),
    ("name is ", true),
    ("my name's ", true),
    ("name: ", true),
    ("names are ", true),
    ("call me ", true),
    ("myself ", true),
    ("dear ", true),
    ("mr. ", true),
    ("mrs. ", true),
    ("ms. ", true),
    ("dr. ", true),
    ("mr ", true),
    ("mrs ", true),
    ("ms ", true),
    ("miss ", true),
    ("prof. ", true),
    ("sincerely, ", true),
    ("regards, ", true),
    ("regards ", true),
    ("thanks, ", true),
    ("thank you, ", true),
    ("cheers, ", true),
    ("best, ", true),
    ("cordialement, ", true),
    ("mit freundlichen grüßen, ", true),
    ("je m'appelle ", true),
    ("i am called ", true),
    ("i'm called ", true),
    ("ich heiße ", true),
    ("me llamo ", true),
    ("mi nombre es ", true),
    // Introductions and sign-offs in the other languages of support chats.
    ("je m’appelle ", true),
    ("mon nom est ", true),
    ("mein name ist ", true),
    ("mein name lautet ", true),
    ("ich heisse ", true),
    ("mijn naam is ", true),
    ("ik heet ", true),
    ("mi chiamo ", true),
    ("il mio nome è ", true),
    ("meu nome é ", true),
    ("me chamo ", true),
    ("benim adım ", true),
    ("mă numesc ", true),
    ("ma numesc ", true),
    ("numele meu este ", true),
    ("a nevem ", true),
    ("nazywam się ", true),
    ("mam na imię ", true),
    ("jmenuji se ", true),
    ("mitt namn är ", true),
    ("jeg heter ", true),
    ("mit navn er ", true),
    ("minun nimeni on ", true),
    ("viele grüße, ", true),
    ("liebe grüße, ", true),
    ("beste grüße, ", true),
    ("saludos, ", true),
    ("atentamente, ", true),
    ("met vriendelijke groet, ", true),
    ("cordiali saluti, ", true),
    ("atenciosamente, ", true),
    ("soy ", true),
    ("je suis ", false),
    ("ich bin ", false),
    ("i am ", false),
    ("i'm ", false),
    ("this is ", true),
    ("hi ", false),
    ("hello ", false),
    ("hey ", false),
    ("hi, ", false),
    ("hello, ", false),
    ("thanks ", false),
    ("from ", false),
    ("with ", false),
    ("and ", false),
    ("contact ", false),
    ("spoke to ", true),
    ("speak to ", true),
    ("speak with ", true),
    ("talk to ", true),
    ("talk with ", true),
    ("transfer me to ", true),
    ("connect me to ", true),
    ("connect me with ", true),
    ("assigned to ", true),
    ("spoke with ", true),
    ("talked to ", true),
    ("ask for ", true),
    // Who saw, treated or referred a patient (`seen by A. Visser`, Dutch `gezien door`).
    ("seen by ", true),
    ("treated by ", true),
    ("examined by ", true),
    ("referred by ", true),
    ("prescribed by ", true),
    ("gezien door ", true),
    ("behandeld door ", true),
    ("verwezen door ", true),
    // Titles in other languages (`Mevrouw Visser`, `Herr Weber`, `Sra. Gómez`). `Dr` without
    // its period is in `cue_before`: it is also a street type. Not `Sr.` (`Sr. Software
    // Engineer`), nor `judge`, `mayor`, `doctor`, which are also a verb, an adjective and a
    // noun before a capitalised word (`I can't judge Python`); cues are compared in lower case.
    ("mevrouw ", true),
    ("mevr. ", true),
    ("mw. ", true),
    ("mijnheer ", true),
    ("meneer ", true),
    ("dhr. ", true),
    ("herr ", true),
    ("frau ", true),
    ("monsieur ", true),
    ("madame ", true),
    ("mme ", true),
    ("mme. ", true),
    ("señor ", true),
    ("señora ", true),
    ("sra. ", true),
    ("srta. ", true),
    ("dra. ", true),
    ("prof ", true),
    ("professor ", true),
    // Who did something to a ticket, a document or a request.
    ("signed by ", true),
    ("received by ", false),
    ("emergency contact: ", true),
    ("contact person: ", true),
    ("attn: ", true),
    ("attention: ", true),
    ("contact: ", false),
    // Titles of honour and office before a name (`Sir Gerald`, `Senator Edmonds`).
    ("sir ", true),
    ("dame ", true),
    ("hon. ", true),
    ("senator ", true),
    ("rev. ", true),
    ("rev ", true),
    ("reported by ", true),
    ("submitted by ", true),
    ("opened by ", true),
    ("approved by ", true),
    ("requested by ", true),
    ("authored by ", true),
    ("customer ", false),
    ("agent ", false),
    ("user ", false),
    ("traveler ", false),
    ("traveller ", false),
    ("owner ", false),
    // A person named by a role or a relation (`our new hire, Salman Avestimehr,`, `my colleague
    // Anna Berg`). Weak but the appositive: title-case headings put other words after the noun
    // (`Colleague Survey Results`, `my son Minecraft server`).
    ("new hire, ", true),
    ("new hire ", false),
    ("colleague ", false),
    ("colleague, ", false),
    ("coworker ", false),
    ("co-worker ", false),
    ("my manager ", false),
    ("my boss ", false),
    ("my wife ", false),
    ("my husband ", false),
    ("my partner ", false),
    ("my son ", false),
    ("my daughter ", false),
    ("my mother ", false),
    ("my father ", false),
    ("my brother ", false),
    ("my sister ", false),
    ("my friend ", false),
    // Form-field labels. Not transcript speaker labels (`Customer:`, `Caller:`): a transcript
    // line starts with its text (`Customer: Apple Watch is broken`) far more often than a name.
    ("patient: ", false),
    ("passenger: ", false),
    ("applicant: ", false),
    ("cardholder: ", false),
    ("account holder: ", false),
    ("recipient: ", false),
    ("- ", false),
    ("— ", false),
];

/// A capitalised word: its byte span.
#[derive(Clone, Copy)]
struct Word {
    s: usize,
    e: usize,
}

/// An ASCII capital or the lead byte of a non-ASCII letter (`c >= 0xC3`), except lead bytes
/// whose characters are never upper case (`NO_UPPER_LEADS`): CJK, kana and Hangul text would
/// otherwise decode every character to find it is not a capital.
static CAP_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_uppercase()
            || (b >= 0xC3
                && !(b >= NO_UPPER_LEADS[0].0 && b <= NO_UPPER_LEADS[0].1)
                && !(b >= NO_UPPER_LEADS[1].0 && b <= NO_UPPER_LEADS[1].1));
        c += 1;
    }
    t
};

/// Lead-byte ranges of U+3000..=U+9FFF (CJK punctuation, kana, CJK ideographs) and
/// U+B000..=U+DFFF (Hangul syllables): no character there is upper case (tested).
const NO_UPPER_LEADS: [(u8, u8); 2] = [(0xE3, 0xE9), (0xEB, 0xED)];

/// `CAP_START` eight bytes at a time.
#[inline(always)]
fn cap_start_mask(x: u64) -> u64 {
    use super::swar::{at_least_high, in_high_range, in_range};
    let [(a0, a1), (b0, b1)] = NO_UPPER_LEADS;
    in_range(x, b'A', b'Z')
        | (at_least_high(x, 0xC3) & !in_high_range(x, a0, a1) & !in_high_range(x, b0, b1))
}

/// The end of the run from `i` of bytes after which no name starts (the bytes that make
/// `next_cap_word`'s boundary test fail: ASCII letters and digits, non-ASCII, `_`, `@`).
#[inline]
fn glued_run_end(b: &[u8], i: usize) -> usize {
    use super::swar::{eq, in_range};
    super::swar::find(
        b,
        i,
        |x| {
            let glued = in_range(x, b'0', b'9')
                | in_range(x, b'A', b'Z')
                | in_range(x, b'a', b'z')
                | eq(x, b'_')
                | eq(x, b'@');
            !glued & !x & 0x8080_8080_8080_8080
        },
        |c| !(c.is_ascii_alphanumeric() || c >= 0x80 || c == b'_' || c == b'@'),
    )
}

fn next_cap_word(t: &str, from: usize) -> Option<Word> {
    let b = t.as_bytes();
    let mut i = from;
    while i < b.len() {
        // Only an ASCII capital or the lead byte of a non-ASCII letter can start a name: skip
        // the rest with one table lookup per byte.
        i = super::swar::find(b, i, cap_start_mask, |c| CAP_START[c as usize]);
        let Some(&c) = b.get(i) else {
            break;
        };
        let boundary = i == 0 || {
            let p = b[i - 1];
            !(p.is_ascii_alphanumeric()
                || p >= 0x80
                || p == b'_'
                || p == b'@'
                || p == b'.' && i >= 2 && b[i - 2].is_ascii_alphanumeric())
        };
        if !boundary {
            // Inside an identifier or a token (`sk-proj-d78YgeyNdgx…`): `c`, a capital or a
            // non-ASCII byte, fails the boundary test of the byte after it, and so does every
            // byte of the glued run that follows, so none of them starts a name.
            i = glued_run_end(b, i + 1);
            continue;
        }
        if c.is_ascii_uppercase() || (c >= 0xC3 && starts_upper(t, i)) {
            let e = word_end(t, i);
            if e > i + 1 {
                return Some(Word { s: i, e });
            }
            i = e.max(i + 1);
            continue;
        }
        i += 1;
    }
    None
}

/// A capitalised word starting exactly at `p` (never scans ahead: callers stay linear).
fn cap_word_at(t: &str, p: usize) -> Option<Word> {
    let b = t.as_bytes();
    let c = *b.get(p)?;
    if !(c.is_ascii_uppercase() || (c >= 0xC3 && starts_upper(t, p))) {
        return None;
    }
    let e = word_end(t, p);
    (e > p + 1).then_some(Word { s: p, e })
}

fn starts_upper(t: &str, i: usize) -> bool {
    t.get(i..)
        .and_then(|r| r.chars().next())
        .is_some_and(char::is_uppercase)
}

/// End of a name word: letters, with inner apostrophes or hyphens (O'Brien, Smith-Jones). Words
/// with digits or inner capitals after the second letter (iPhone, McDonald stays) are accepted as
/// letters only.
fn word_end(t: &str, s: usize) -> usize {
    let b = t.as_bytes();
    let mut e = s;
    let mut prev_letter = false;
    let mut k = s;
    while k < b.len() {
        let c = b[k];
        // ASCII bytes are decided in place (an ASCII char is alphabetic exactly when it is an
        // ASCII letter); only non-ASCII chars are decoded.
        let (letter, joiner, len) = if c < 0x80 {
            (c.is_ascii_alphabetic(), c == b'\'' || c == b'-', 1)
        } else {
            let Some(ch) = t.get(k..).and_then(|r| r.chars().next()) else {
                break;
            };
            (ch.is_alphabetic(), ch == '’', ch.len_utf8())
        };
        if letter {
            prev_letter = true;
            e = k + len;
        } else if joiner && prev_letter {
            prev_letter = false;
        } else {
            break;
        }
        k += len;
    }
    // A digit or underscore glued to the word makes it an identifier, not a name.
    if let Some(&n) = t.as_bytes().get(e)
        && (n.is_ascii_digit() || n == b'_')
    {
        return s;
    }
    e
}

fn is_name_shape(w: &str) -> bool {
    // All caps (ACME, NASA) or camel-case products (iPhone, YouTube, GitHub) are not names.
    let mut chars = w.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !first.is_uppercase() {
        return false;
    }
    let (mut rest, mut all_upper, mut inner_caps) = (0usize, true, 0usize);
    for (k, c) in chars.enumerate() {
        let up = c.is_uppercase();
        rest += 1;
        all_upper &= up;
        if k >= 2 && up {
            inner_caps += 1;
        }
    }
    if rest == 0 || all_upper {
        return false;
    }
    // Mc/Mac/O' prefixes may have an inner capital.
    inner_caps == 0
        || w.starts_with("Mc")
        || w.starts_with("Mac")
        || w.contains('\'')
        || w.contains('-')
}

fn cue_before(t: &str, s: usize) -> Option<bool> {
    let b = t.as_bytes();
    if glued_dash(b, s) {
        return Some(false);
    }
    // Sign-offs on their own line: "Thanks,\nSarah".
    let mut end = s;
    while end > 0 && matches!(b[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let from = end.saturating_sub(28);
    let mut from = from;
    while !t.is_char_boundary(from) {
        from += 1;
    }
    let window = &b[from..end];
    if !window.is_ascii() {
        return cue_before_unicode(t, from, end, s);
    }
    // ASCII: lower-cased on the stack (28 bytes and the space a line break turns into).
    let mut buf = [0u8; 32];
    let mut n = window.len();
    buf[..n].copy_from_slice(window);
    buf[..n].make_ascii_lowercase();
    if end < s {
        while n > 0 && (buf[n - 1] as char).is_whitespace() {
            n -= 1;
        }
        buf[n] = b' ';
        n += 1;
    }
    let before = &buf[..n];
    cue_strength(before).or_else(|| dr_title(window, before).then_some(true))
}

/// `Dr ` without its period ends `before` (`window` lower-cased) as a title, not the street
/// type of `12 Oak Dr Springfield`: no capitalised word before it, unless that word is a cue
/// itself (`Dear Dr Visser`, `Hi Dr Smith`).
fn dr_title(window: &[u8], before: &[u8]) -> bool {
    let Some(k) = before.len().checked_sub(3) else {
        return false;
    };
    if &before[k..] != b"dr " || (k > 0 && before[k - 1].is_ascii_alphanumeric()) {
        return false;
    }
    let prev = window.get(..k).unwrap_or_default().trim_ascii_end();
    match prev.last() {
        Some(c) if c.is_ascii_alphanumeric() => {
            let w = prev
                .iter()
                .rposition(|c| !c.is_ascii_alphanumeric())
                .map_or(0, |i| i + 1);
            prev[w].is_ascii_lowercase() || cue_strength(&before[..k]).is_some()
        }
        _ => true,
    }
}

/// The strongest cue `before` (lower case) ends with, where the cue starts a word.
fn cue_strength(before: &[u8]) -> Option<bool> {
    let &last = before.last()?;
    // Most cues end with a space, as does most text before a capitalised word, so the last
    // byte alone rarely rejects: the two bytes before it pick the candidates.
    let n = before.len();
    let index = cue_index();
    let bucket: &[u8] = match n.checked_sub(3) {
        Some(k) => &index.by_tail[tail_key(before[k], before[k + 1])],
        None => &[],
    };
    index
        .short
        .iter()
        .chain(bucket)
        .map(|&k| CUES[k as usize])
        .filter(|(c, _)| {
            let c = c.as_bytes();
            c.last() == Some(&last) && before.ends_with(c) && {
                // The cue starts a word.
                let k = before.len() - c.len();
                k == 0 || !before[k - 1].is_ascii_alphanumeric()
            }
        })
        .map(|(_, strong)| strong)
        .max()
}

const TAIL_BUCKETS: usize = 1024;

/// The bucket of the two bytes before a cue's last.
fn tail_key(a: u8, b: u8) -> usize {
    (usize::from(a) * 31 + usize::from(b)) % TAIL_BUCKETS
}

/// `CUES` indices grouped by the two bytes before their last.
struct CueIndex {
    by_tail: Vec<Vec<u8>>,
    /// Cues shorter than three bytes (`- `).
    short: Vec<u8>,
}

// Indices are bytes.
const _: () = assert!(CUES.len() <= 256);

fn cue_index() -> &'static CueIndex {
    static I: OnceLock<CueIndex> = OnceLock::new();
    I.get_or_init(|| {
        let mut index = CueIndex {
            by_tail: vec![Vec::new(); TAIL_BUCKETS],
            short: Vec::new(),
        };
        for (k, (c, _)) in CUES.iter().enumerate() {
            let k = k as u8;
            let c = c.as_bytes();
            match c.len().checked_sub(3) {
                Some(j) => index.by_tail[tail_key(c[j], c[j + 1])].push(k),
                None => index.short.push(k),
            }
        }
        index
    })
}

fn cue_before_unicode(t: &str, from: usize, end: usize, s: usize) -> Option<bool> {
    let before = t[from..end].to_lowercase();
    let before = if end < s {
        format!("{} ", before.trim_end())
    } else {
        before
    };
    // `Dr ` as a title, as in ASCII text (`gezien door dr Visser`): only where lower-casing kept
    // the byte length, so the original case can be read at the same offsets.
    let window = &t.as_bytes()[from..end];
    cue_strength(before.as_bytes()).or_else(|| {
        (end == s && window.len() == before.len() && dr_title(window, before.as_bytes()))
            .then_some(true)
    })
}

// Out of line: inlined into `Engine::find_with`, the scanners' code generation there costs ~1.5%
// of the dense bench (instruction counts).
#[inline(never)]
/// `ascii`: whether `text` is ASCII only (the caller knows).
pub(crate) fn scan_people(
    text: &str,
    ascii: bool,
    cue_ends: Option<&[usize]>,
    out: &mut Vec<Finding>,
) {
    let lex = lexicon();
    let b = text.as_bytes();
    lower_case_introductions(text, out);
    match cue_ends {
        Some(ends) => ends.iter().for_each(|&s| cued_name(text, s, out)),
        None => lower_case_cues(b)
            .into_iter()
            .for_each(|s| cued_name(text, s, out)),
    }
    if !ascii {
        uncased_introductions(text, out);
    }
    let mut pos = 0;
    while let Some(w) = next_cap_word(text, pos) {
        // A run of up to four capitalised words separated by single spaces.
        let mut run = [w; 4];
        let mut nw = 1;
        while nw < 4 && b.get(run[nw - 1].e) == Some(&b' ') {
            // Middle initials sit inside the run: `Michael B. Hagearty`, `DAVID W FLYNN`.
            match cap_word_at(text, initials_end(b, run[nw - 1].e + 1)) {
                Some(n) => {
                    run[nw] = n;
                    nw += 1;
                }
                None => break,
            }
        }
        let words = &run[..nw];
        if let Some(e) = caps_name(text, words) {
            out.push(Finding::new(words[0].s, e, ENT_PERSON));
            pos = e;
            continue;
        }
        let mut kinds_buf = [(false, false, false, false); 4];
        let mut flags_buf = [0u8; 4];
        let mut weak_prev = false;
        for (k, w) in words.iter().enumerate() {
            let raw = &text[w.s..w.e];
            // A word not shaped like a name (`IBAN`, `iPhone`) is a stop word, and no rule below
            // reads the other flags of a stop word to a different end (the one look-ahead that
            // does, at the first word without a cue, can only make a one-word name, which needs
            // a cue): skip its lexicon lookup.
            let shape = is_name_shape(raw) && !street_before_number(text, *w);
            let f = if shape { lex.flags(raw) } else { 0 };
            flags_buf[k] = f;
            let stop = f & F_STOP != 0 || !shape || (k > 0 && institution_word(raw));
            kinds_buf[k] = (
                stop,
                f & F_AMBIGUOUS != 0,
                f & F_FIRST != 0,
                f & F_LAST != 0,
            );
            // A weak given name is only as good as the name-shaped word (or the surname
            // particles, `Wout van 't Zand`) after it.
            if k > 0 && weak_prev {
                kinds_buf[k - 1].1 |= stop;
            }
            weak_prev = f & F_WEAK != 0;
            if weak_prev && k + 1 == nw && particles_after(text, w.e).is_none() {
                kinds_buf[k].1 = true;
            }
        }
        // A Chinese name in pinyin, either order: the pair counts as a known given name and
        // family name.
        for k in 1..nw {
            let (fa, fz) = (flags_buf[k - 1], flags_buf[k]);
            if (fa | fz) & F_CN == 0 || kinds_buf[k - 1].0 || kinds_buf[k].0 {
                continue;
            }
            let (a, z) = (
                &text[words[k - 1].s..words[k - 1].e],
                &text[words[k].s..words[k].e],
            );
            if fz & F_CN != 0 && pinyin_given(a, fa) {
                kinds_buf[k - 1] = (false, false, true, false);
                kinds_buf[k] = (false, false, false, true);
            } else if fa & F_CN != 0 && pinyin_given(z, fz) {
                kinds_buf[k - 1] = (false, false, true, true);
                kinds_buf[k] = (false, false, true, false);
            }
        }
        // After a strong cue, surname particles written with capitals open the surname (`seen by
        // Van Der Sluis`): they count as name words when a word that is no particle follows.
        if nw >= 2 && particle_any_case(&b[words[0].s..words[0].e]) {
            let last_particle = (0..nw)
                .take_while(|&k| particle_any_case(&b[words[k].s..words[k].e]))
                .last();
            if let Some(lp) = last_particle
                && lp + 1 < nw
                && !kinds_buf[lp + 1].0
                && cue_before(text, words[0].s) == Some(true)
            {
                for kind in &mut kinds_buf[..=lp] {
                    *kind = (false, false, false, false);
                }
            }
        }
        let kinds = &kinds_buf[..nw];
        // Initials before the first word (`J. Smith`, `A.B. Visser`): the name starts there,
        // its first word is a surname, and the cue sits before the initials.
        let lead = if kinds[0].0 {
            None
        } else {
            initials_before(b, words[0].s)
        };
        // A stop word first ends the run whatever the cue: only look for a cue otherwise.
        let cue = if kinds[0].0 {
            None
        } else {
            cue_before(text, lead.map_or(words[0].s, |l| l.0))
        };
        // Initials without periods (`A Visser`) only after a strong cue: `A Smith` may open a
        // sentence with the article.
        let lead = lead.filter(|&(_, dotted)| dotted || cue == Some(true));
        // How many leading words form the name.
        let mut n = 0;
        for (k, &(stop, amb, first, last)) in kinds.iter().enumerate() {
            if stop {
                break;
            }
            let known = (first || last) && !amb;
            // After a weak cue (Hello, from), an unknown given name is taken when a known,
            // unambiguous surname follows it: `Hello Milica Hoffmann`.
            let before_surname = k == 0
                && !amb
                && kinds
                    .get(1)
                    .is_some_and(|&(stop, amb2, _, last2)| !stop && !amb2 && last2);
            let ok = match cue {
                Some(true) => !(k == 0 && amb && !(first || last)),
                Some(false) => known || (k > 0 && n > 0) || (amb && k == 0) || before_surname,
                None => {
                    if let (0, Some((l, _))) = (k, lead) {
                        // After initials, a known surname opening a sentence or before a
                        // reporting verb: `J. Smith called` (`see appendix B. Johnson` stays).
                        last && !amb
                            && (sentence_start(b, l) || reporting_verb_after(b, words[k].e))
                    } else if k == 0 {
                        // Needs a second word: checked below.
                        first && (!amb || kinds.get(1).is_some_and(|x| !x.1 && x.3))
                    } else {
                        n > 0 && (last || !amb)
                    }
                }
            };
            if !ok {
                break;
            }
            n = k + 1;
        }
        // No cue before, but a reporting verb after: `Anni Rudolph called about the invoice`.
        // Two to four name-shaped words, none a stop word, the first not an ordinary word or a
        // place (`New York said`), one a known unambiguous name.
        // One word will do when it is a known, unambiguous given name (`John spoke with Doug`,
        // `Alan can be reached at ...`).
        // A known, unambiguous given name before surname particles and a surname is a name of two
        // parts without a cue (`Andre van der Hoek`).
        let particle_surname = cue.is_none()
            && n == 1
            && lead.is_none()
            && kinds[0].2
            && !kinds[0].1
            && b.get(words[0].e + 1).is_some_and(u8::is_ascii_lowercase)
            && particles_after(text, words[0].e).is_some();
        if cue.is_none() && n < 2 && lead.is_none() && !particle_surname {
            n = (1..=nw)
                .rev()
                .find(|&m| {
                    let ks = &kinds[..m];
                    let e = words[m - 1].e;
                    ks.iter().all(|k| !k.0)
                        && !ks[0].1
                        && ks.iter().any(|k| (k.2 || k.3) && !k.1)
                        && (m > 1 || ks[0].2 && sentence_start(b, words[0].s))
                        // The verb may follow surname particles and the surname (`Anna de
                        // Vries called`); particles start lower case.
                        && (reporting_verb_after(b, e)
                            || b.get(e + 1).is_some_and(u8::is_ascii_lowercase)
                                && particles_after(text, e)
                                    .is_some_and(|w| reporting_verb_after(b, w.e)))
                })
                .unwrap_or(0);
        }
        // A weak cue with an ambiguous single word (from Grace, with Rust) still needs a second,
        // known part. (A vocative "Hi Will," is a name: the word stands alone before
        // punctuation right after a greeting or a thank-you.)
        // Only after a greeting or a thank-you: `from Rust` at the end of a line is not one.
        let vocative = text
            .as_bytes()
            .get(words[0].e)
            .is_none_or(|c| matches!(c, b',' | b'!' | b'\n'))
            && addressed_before(b, words[0].s);
        if cue == Some(false) && n == 1 && kinds[0].1 && !vocative {
            n = 0;
        }
        // Addressed by a greeting: `Hello Radmila Hendriks,` / `Hi Amin van 't Houteveen!`.
        // Two name-shaped words (or one and a particle surname) between the greeting and a
        // comma, `!` or the end of the line are a name even when neither is in the gazetteer.
        // Introduced with where they are from: `I'm Chidi Okafor from billing`, `this is Ngozi
        // Adeyemi here` (two name-shaped words, then `from` or `here`; `I'm Super Excited!`
        // stays).
        if n < 2
            && cue.is_some()
            && nw == 2
            && !kinds[0].0
            && !kinds[0].1
            && !kinds[1].0
            && !kinds[1].1
            && word_before(&b[..words[0].s], &[b"i'm ", b"i am ", b"this is "])
            && {
                let r = &b[words[1].e..];
                r.starts_with(b" from ") || r.starts_with(b" here")
            }
        {
            out.push(Finding::new(words[0].s, words[1].e, ENT_PERSON));
            pos = words[1].e;
            continue;
        }
        if n < 2
            && cue == Some(false)
            && !kinds[0].0
            && !kinds[0].1
            && greeting_before(b, words[0].s)
        {
            let second = if nw == 2 && !kinds[1].0 && !kinds[1].1 {
                Some(words[1].e)
            } else if nw == 1 {
                particles_after(text, words[0].e).map(|w| w.e)
            } else {
                None
            };
            if let Some(e) = second
                && b.get(e).is_none_or(|c| matches!(c, b',' | b'!' | b'\n'))
            {
                out.push(Finding::new(words[0].s, e, ENT_PERSON));
                pos = e;
                continue;
            }
        }
        // `Mr. van Santen`: a strong cue, surname particles, then the capitalised surname.
        let mut start = lead.map_or(words[0].s, |l| l.0);
        // With initials before them (`A. van der Sluis`), the particles need no cue.
        if n == 0
            && !kinds[0].0
            && let Some(p) = particles_before(b, words[0].s)
            && let lead = initials_before(b, p)
            && (lead.is_some_and(|l| l.1)
                || cue_before(text, lead.map_or(p, |l| l.0)) == Some(true))
        {
            n = 1;
            start = lead.map_or(p, |l| l.0);
        }
        // A dash signs off only at the end of a line (`- Sarah`): `- Fix typo in ...` and
        // `- Mark as deprecated` are list items. Code puts a type, not a name, where a word is
        // glued to `<`, `::`, `(`, `{`, `[` or a macro's `!(` (`name: Option<String>`,
        // `Rust::new()`); `Thanks Maria!` stays a name.
        if n > 0 {
            let end = words[n - 1].e;
            let rest = &b[end..];
            let code = matches!(rest.first(), Some(b'<' | b'(' | b'{' | b'['))
                || rest.starts_with(b"::")
                || (rest.first() == Some(&b'!') && matches!(rest.get(1), Some(b'(' | b'[' | b'{')));
            let line_ends = b[initials_tail(b, end)..]
                .iter()
                .take_while(|&&c| c != b'\n')
                .all(|c| c.is_ascii_whitespace() || matches!(c, b'.' | b',' | b'!'));
            // Words outside the gazetteer before an organisation word (`Dear Finance Team`,
            // `ask for Google Cloud support`): the words name the organisation.
            // Unless a strong cue says a person follows, known names before an institution
            // word name the institution (`Mayo Clinic approved`).
            let institution =
                n < nw && cue != Some(true) && institution_word(&text[words[n].s..words[n].e]);
            let org = n < nw
                && kinds[n].0
                && is_name_shape(&text[words[n].s..words[n].e])
                && (institution || kinds[..n].iter().all(|k| !(k.2 || k.3) || k.1));
            if code
                || org
                || (cue == Some(false)
                    && (dash_before(b, start) || glued_dash(b, start))
                    && !line_ends)
            {
                n = 0;
            }
        }
        if n > 0 {
            // Surname particles and the rest of the surname: `Merel van der Heiden`,
            // `Amin van 't Houteveen`, `María de la Cruz`.
            let mut end = words[n - 1].e;
            if let Some(w) = particles_after(text, end) {
                end = w.e;
            }
            // A middle initial and the surname after it: `Jerome K. Jerome`, `John F. Kennedy`.
            if let [b' ', i, b'.', b' ', ..] = b.get(end..).unwrap_or_default()
                && i.is_ascii_uppercase()
                && let Some(w) = cap_word_at(text, end + 4)
                && text
                    .get(w.s..w.e)
                    .is_some_and(|r| is_name_shape(r) && lex.flags(r) & (F_STOP | F_AMBIGUOUS) == 0)
            {
                end = w.e;
            }
            // Surname first, then the given name: `Stern, Eve`, `Okafor, Chidi A.`.
            if let Some(e) = comma_given(text, end, cue == Some(true)) {
                end = e;
            }
            out.push(Finding::new(start, end, ENT_PERSON));
            pos = end;
        } else {
            // The next word may start a name of its own (Hi Will, Thanks Jennifer).
            pos = words[0].e;
        }
    }
}

/// After a name, `, ` and a known given name that ends the name (no capitalised word after it;
/// a trailing initial is taken): the end past it. An ambiguous given name (`Eve`, `Grace`) only
/// after a strong cue.
fn comma_given(t: &str, e: usize, strong: bool) -> Option<usize> {
    let b = t.as_bytes();
    if b.get(e..e + 2) != Some(b", ") {
        return None;
    }
    let g = cap_word_at(t, e + 2)?;
    let w = &t[g.s..g.e];
    let f = lexicon().flags(w);
    let ok = is_name_shape(w)
        && f & F_FIRST != 0
        && f & F_STOP == 0
        && (strong || f & (F_AMBIGUOUS | F_WEAK) == 0);
    let end = initials_tail(b, g.e);
    let next_cap = b.get(end) == Some(&b' ') && cap_word_at(t, end + 1).is_some();
    (ok && !next_cap).then_some(end)
}

/// Pinyin syllables (Hanyu Pinyin without tones; `lv`, `nv` for `lü`, `nü`).
const PINYIN: &[&[u8]] = &[
    b"a", b"ai", b"an", b"ang", b"ao", b"ba", b"bai", b"ban", b"bang", b"bao", b"bei", b"ben",
    b"beng", b"bi", b"bian", b"biao", b"bie", b"bin", b"bing", b"bo", b"bu", b"ca", b"cai", b"can",
    b"cang", b"cao", b"ce", b"cen", b"ceng", b"cha", b"chai", b"chan", b"chang", b"chao", b"che",
    b"chen", b"cheng", b"chi", b"chong", b"chou", b"chu", b"chua", b"chuai", b"chuan", b"chuang",
    b"chui", b"chun", b"chuo", b"ci", b"cong", b"cou", b"cu", b"cuan", b"cui", b"cun", b"cuo",
    b"da", b"dai", b"dan", b"dang", b"dao", b"de", b"dei", b"den", b"deng", b"di", b"dian",
    b"diao", b"die", b"ding", b"diu", b"dong", b"dou", b"du", b"duan", b"dui", b"dun", b"duo",
    b"e", b"ei", b"en", b"eng", b"er", b"fa", b"fan", b"fang", b"fei", b"fen", b"feng", b"fo",
    b"fou", b"fu", b"ga", b"gai", b"gan", b"gang", b"gao", b"ge", b"gei", b"gen", b"geng", b"gong",
    b"gou", b"gu", b"gua", b"guai", b"guan", b"guang", b"gui", b"gun", b"guo", b"ha", b"hai",
    b"han", b"hang", b"hao", b"he", b"hei", b"hen", b"heng", b"hong", b"hou", b"hu", b"hua",
    b"huai", b"huan", b"huang", b"hui", b"hun", b"huo", b"ji", b"jia", b"jian", b"jiang", b"jiao",
    b"jie", b"jin", b"jing", b"jiong", b"jiu", b"ju", b"juan", b"jue", b"jun", b"ka", b"kai",
    b"kan", b"kang", b"kao", b"ke", b"ken", b"keng", b"kong", b"kou", b"ku", b"kua", b"kuai",
    b"kuan", b"kuang", b"kui", b"kun", b"kuo", b"la", b"lai", b"lan", b"lang", b"lao", b"le",
    b"lei", b"leng", b"li", b"lia", b"lian", b"liang", b"liao", b"lie", b"lin", b"ling", b"liu",
    b"long", b"lou", b"lu", b"luan", b"lun", b"luo", b"lv", b"lve", b"ma", b"mai", b"man", b"mang",
    b"mao", b"me", b"mei", b"men", b"meng", b"mi", b"mian", b"miao", b"mie", b"min", b"ming",
    b"miu", b"mo", b"mou", b"mu", b"na", b"nai", b"nan", b"nang", b"nao", b"ne", b"nei", b"nen",
    b"neng", b"ni", b"nian", b"niang", b"niao", b"nie", b"nin", b"ning", b"niu", b"nong", b"nou",
    b"nu", b"nuan", b"nuo", b"nv", b"nve", b"o", b"ou", b"pa", b"pai", b"pan", b"pang", b"pao",
    b"pei", b"pen", b"peng", b"pi", b"pian", b"piao", b"pie", b"pin", b"ping", b"po", b"pou",
    b"pu", b"qi", b"qia", b"qian", b"qiang", b"qiao", b"qie", b"qin", b"qing", b"qiong", b"qiu",
    b"qu", b"quan", b"que", b"qun", b"ran", b"rang", b"rao", b"re", b"ren", b"reng", b"ri",
    b"rong", b"rou", b"ru", b"ruan", b"rui", b"run", b"ruo", b"sa", b"sai", b"san", b"sang",
    b"sao", b"se", b"sen", b"seng", b"sha", b"shai", b"shan", b"shang", b"shao", b"she", b"shei",
    b"shen", b"sheng", b"shi", b"shou", b"shu", b"shua", b"shuai", b"shuan", b"shuang", b"shui",
    b"shun", b"shuo", b"si", b"song", b"sou", b"su", b"suan", b"sui", b"sun", b"suo", b"ta",
    b"tai", b"tan", b"tang", b"tao", b"te", b"teng", b"ti", b"tian", b"tiao", b"tie", b"ting",
    b"tong", b"tou", b"tu", b"tuan", b"tui", b"tun", b"tuo", b"wa", b"wai", b"wan", b"wang",
    b"wei", b"wen", b"weng", b"wo", b"wu", b"xi", b"xia", b"xian", b"xiang", b"xiao", b"xie",
    b"xin", b"xing", b"xiong", b"xiu", b"xu", b"xuan", b"xue", b"xun", b"ya", b"yan", b"yang",
    b"yao", b"ye", b"yi", b"yin", b"ying", b"yo", b"yong", b"you", b"yu", b"yuan", b"yue", b"yun",
    b"za", b"zai", b"zan", b"zang", b"zao", b"ze", b"zei", b"zen", b"zeng", b"zha", b"zhai",
    b"zhan", b"zhang", b"zhao", b"zhe", b"zhei", b"zhen", b"zheng", b"zhi", b"zhong", b"zhou",
    b"zhu", b"zhua", b"zhuai", b"zhuan", b"zhuang", b"zhui", b"zhun", b"zhuo", b"zi", b"zong",
    b"zou", b"zu", b"zuan", b"zui", b"zun", b"zuo",
];

/// Common Chinese family names in pinyin (not `he` or `ye`, which are English words).
const CN_SURNAMES: &[&[u8]] = &[
    b"wang", b"li", b"zhang", b"liu", b"chen", b"yang", b"huang", b"zhao", b"wu", b"zhou", b"xu",
    b"sun", b"ma", b"zhu", b"hu", b"guo", b"gao", b"lin", b"luo", b"zheng", b"liang", b"xie",
    b"song", b"tang", b"han", b"feng", b"deng", b"cao", b"peng", b"zeng", b"xiao", b"tian",
    b"dong", b"pan", b"yuan", b"cai", b"jiang", b"du", b"cheng", b"wei", b"su", b"lu", b"ding",
    b"ren", b"shen", b"yao", b"fu", b"zhong", b"cui", b"tan", b"liao", b"fan", b"jin", b"shi",
    b"jia", b"xia", b"fang", b"zou", b"xiong", b"bai", b"meng", b"qin", b"qiu", b"hou", b"yin",
    b"xue", b"yan", b"duan", b"lei", b"long", b"tao", b"mao", b"hao", b"gu", b"gong", b"shao",
    b"wan", b"qian", b"dai", b"kong", b"xiang", b"chai", b"qiao", b"lai", b"wen", b"kang",
];

/// A Chinese given name in pinyin (`Xianfeng` in `Xianfeng Gu`, `Xiaoming` in `Wang
/// Xiaoming`): a word of exactly two pinyin syllables outside the gazetteer (`flags` is its
/// lexicon flags). Asked only beside a family name of `CN_SURNAMES`.
fn pinyin_given(given: &str, flags: u8) -> bool {
    let n = given.len();
    let mut buf = [0u8; 12];
    if flags & !F_CN != 0 || !(4..=buf.len()).contains(&n) || !given.is_ascii() {
        return false;
    }
    buf[..n].copy_from_slice(given.as_bytes());
    buf[..n].make_ascii_lowercase();
    let g = &buf[..n];
    // Sorted (checked by a test): at most eleven splits, each two binary searches.
    let syllable = |x: &[u8]| x.len() <= 6 && PINYIN.binary_search(&x).is_ok();
    (1..n).any(|k| syllable(&g[..k]) && syllable(&g[k..]))
}

/// A word that names an institution after a name (`Mayo Clinic`, `Johns Hopkins Hospital`).
/// Not `Church` or `Temple`, which are also surnames (`Mary Church called`).
fn institution_word(w: &str) -> bool {
    const INSTITUTIONS: &[&str] = &[
        "clinic",
        "hospital",
        "university",
        "college",
        "school",
        "foundation",
        "institute",
        "cathedral",
        "chapel",
        "mosque",
        "synagogue",
        "academy",
        "museum",
        "library",
    ];
    w.len() >= 6 && INSTITUTIONS.iter().any(|x| w.eq_ignore_ascii_case(x))
}

/// Past up to two middle initials or a nickname at `p` (`B. `, `R. B. `, `W `, `"Mack" `, `(Jack) `
/// before a capital): where the next word of a name would start, or `p` itself. A lone `I` is
/// the pronoun.
fn initials_end(b: &[u8], p: usize) -> usize {
    let mut q = p;
    for _ in 0..2 {
        let Some(&c) = b.get(q) else { break };
        // A nickname in quotes or parentheses: `James "Mack" Henderson`, `John (Jack) Sampson`.
        if let Some(close) = match c {
            b'"' | b'\'' => Some(c),
            b'(' => Some(b')'),
            _ => None,
        } {
            let inner = b.get(q + 1..).unwrap_or_default();
            let len = inner
                .iter()
                .take(16)
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            let next = q + 1 + len;
            if len >= 2
                && inner[0].is_ascii_uppercase()
                && b.get(next) == Some(&close)
                && b.get(next + 1) == Some(&b' ')
                && b.get(next + 2).is_some_and(u8::is_ascii_uppercase)
            {
                q = next + 2;
                continue;
            }
            break;
        }
        if !c.is_ascii_uppercase() {
            break;
        }
        let next = match b.get(q + 1..q + 3) {
            Some([b'.', b' ']) => q + 3,
            Some([b' ', _]) if c != b'I' => q + 2,
            _ => break,
        };
        if !b.get(next).is_some_and(u8::is_ascii_uppercase) {
            break;
        }
        q = next;
    }
    q
}

/// Initials written before a surname (`J. `, `A.B.C. `, `J. Th. `, `U. S. `, `A `), ending with
/// the space right before `s`: their start, and whether each had its period. Up to six, each a
/// capital or a Dutch abbreviation (`Th.`, `Chr.`); `Dr.` and `St.` are no initials.
fn initials_before(b: &[u8], s: usize) -> Option<(usize, bool)> {
    const ABBREVIATED: &[&[u8]] = &[b"Th", b"Ph", b"Chr", b"Ch", b"Wm", b"Jos", b"Joh"];
    if s < 2 || b[s - 1] != b' ' || !(b[s - 2] == b'.' || b[s - 2].is_ascii_uppercase()) {
        return None;
    }
    let (mut start, mut dotted, mut end) = (None, true, s - 1);
    for _ in 0..6 {
        let dot = end > 0 && b[end - 1] == b'.';
        let letters_end = end - usize::from(dot);
        let mut q = letters_end;
        while q > 0 && letters_end - q < 2 && b[q - 1].is_ascii_lowercase() {
            q -= 1;
        }
        if q == 0 || !b[q - 1].is_ascii_uppercase() {
            break;
        }
        let g = q - 1;
        if (q < letters_end && !(dot && ABBREVIATED.contains(&&b[g..letters_end])))
            || (!dot && b[g] == b'I')
            || (g > 0 && b[g - 1].is_ascii_alphanumeric())
        {
            break;
        }
        start = Some(g);
        dotted &= dot;
        match g.checked_sub(1).map(|k| b[k]) {
            Some(b'.') => end = g,
            Some(b' ') => end = g - 1,
            _ => break,
        }
    }
    start.map(|p| (p, dotted))
}

/// A name written in capitals (`ALEXANDER TREJO called`, `Dear IAN GERRARD`, `TOWEY, BRIAN F`):
/// its end. Capitals hide the shape that tells a name from a word, so the gazetteer decides:
/// without a cue, a known given name and then a known given name or surname, none of them
/// ambiguous; after a strong cue (`Dear`, `Ms`, `name:`), any words outside the stop list,
/// with one known name among them. Surname first, then a comma and the given name, needs both
/// known, or a strong cue and the given name known.
fn caps_name(t: &str, words: &[Word]) -> Option<usize> {
    let b = t.as_bytes();
    let caps = |w: &Word| {
        let r = &b[w.s..w.e];
        r.len() >= 2
            && r.iter()
                .all(|c| c.is_ascii_uppercase() || matches!(c, b'\'' | b'-'))
    };
    if !caps(words.first()?) {
        return None;
    }
    let lex = lexicon();
    let flags = |w: &Word| lex.flags(&t[w.s..w.e]);
    let s0 = words[0].s;
    let mut words: &[Word] = words;
    // A title in capitals opens the name (`MS KEITHA M ARNOLD`, `MR SMITH`).
    let mut title = word_before(
        &b[..s0],
        &[
            b"mr ", b"mrs ", b"ms ", b"miss ", b"dr ", b"mr. ", b"mrs. ", b"ms. ", b"dr. ",
        ],
    );
    // Written `Miss`, `Dr` (not `DR SITE`, `MS OFFICE`): the words after it name a person
    // even when the gazetteer knows none of them (`Dear Dr OLAMIDE AKHUMERE`).
    let (title_cased, title_in_caps) = if title {
        let before = b[..s0].trim_ascii_end();
        let k = before
            .iter()
            .rposition(|c| !(c.is_ascii_alphabetic() || *c == b'.'))
            .map_or(0, |k| k + 1);
        let up = |k: usize| before.get(k).is_some_and(u8::is_ascii_uppercase);
        (
            up(k) && before.get(k + 1).is_some_and(u8::is_ascii_lowercase),
            up(k) && up(k + 1),
        )
    } else {
        (false, false)
    };
    // A title in capitals inside the run (`DR SITE`, `MR SMITH`): a name only if known.
    let mut caps_title = title_in_caps;
    if words.len() > 1
        && [&b"mr"[..], b"mrs", b"ms", b"miss", b"dr", b"prof"]
            .iter()
            .any(|x| b[words[0].s..words[0].e].eq_ignore_ascii_case(x))
    {
        words = &words[1..];
        title = true;
        caps_title = true;
    }
    let n = words.iter().take_while(|w| caps(w)).count();
    let words = &words[..n];
    let name = |f: u8| f & (F_FIRST | F_LAST) != 0 && f & (F_AMBIGUOUS | F_STOP) == 0;
    let given = |f: u8| f & F_FIRST != 0 && f & (F_AMBIGUOUS | F_STOP | F_WEAK) == 0;
    // The cue is looked up last: most words in capitals (`JIRA`, `ACME`) fail the gazetteer.
    let strong = || title || cue_before(t, s0) == Some(true);
    // Surname, given name: `TOWEY, BRIAN F`, `SMITH SR, DONALD L`, `MC BRIDE, RAYMOND`,
    // `PUENTE KILLIAN, CHRISTINE E`.
    let sur_end = words.last()?.e;
    if words.len() <= 2
        && let Some(after) = b.get(sur_end..).filter(|r| r.starts_with(b", "))
        && let Some(g) = cap_word_at(t, sur_end + 2).filter(|g| caps(g) && after.len() > 2)
        && let gf = flags(&g)
        // A trailing initial (`ROLON, RICHARD A`) marks a roster entry: an ambiguous given
        // name will do then, or after a strong cue.
        && let initial = initials_tail(b, g.e) > g.e
        && (given(gf) || gf & F_FIRST != 0 && gf & F_STOP == 0 && (initial || strong()))
    {
        let word = |w: &Word| &b[w.s..w.e];
        let known = |f: u8| f & F_LAST != 0 && f & (F_AMBIGUOUS | F_STOP) == 0;
        // Of two words, one is the surname and the other a suffix (`SR`), a prefix (`MC`) or a
        // second surname.
        let (sf, extra) = match words {
            [w] => (flags(w), true),
            [w, x] if SUFFIXES.iter().any(|s| word(x).eq_ignore_ascii_case(s)) => (flags(w), true),
            [p, w]
                if SURNAME_PREFIXES
                    .iter()
                    .any(|s| word(p).eq_ignore_ascii_case(s)) =>
            {
                (flags(w), true)
            }
            [w, x] => {
                let (fw, fx) = (flags(w), flags(x));
                (fw | fx, (fw | fx) & F_STOP == 0 && (known(fw) || known(fx)))
            }
            _ => (F_STOP, false),
        };
        // An unknown surname needs a strong cue, a trailing initial, or a weak cue other than a
        // bare preposition before a known, unambiguous given name (`received by BREITBART,
        // TODD`; `from ACME, JOHN` stays).
        let weak_cue = || {
            cue_before(t, s0).is_some()
                && !word_before(b[..s0].trim_ascii_end(), &[b"from", b"with", b"and"])
        };
        if extra
            && (known(sf) || sf & F_STOP == 0 && (strong() || given(gf) && (initial || weak_cue())))
        {
            return Some(initials_tail(b, g.e));
        }
    }
    let mut buf = [0u8; 4];
    for (f, w) in buf.iter_mut().zip(words) {
        *f = flags(w);
    }
    let fs = &buf[..words.len().min(4)];
    // How many words form the name: without a cue, a known given name and a known name; after
    // a strong cue, the words up to a stop word.
    let plain = match fs {
        [f0, f1, rest @ ..] if given(*f0) && name(*f1) => {
            2 + rest.iter().take_while(|&&f| name(f)).count()
        }
        _ => 0,
    };
    let cued = || match fs {
        [f] if caps_title => usize::from(f & F_STOP == 0 && f & (F_FIRST | F_LAST) != 0),
        [f] if title => {
            usize::from(f & F_STOP == 0 && (f & F_AMBIGUOUS == 0 || f & (F_FIRST | F_LAST) != 0))
        }
        [f] => usize::from(given(*f)),
        fs => {
            let n = fs.iter().take_while(|&&f| f & F_STOP == 0).count();
            let fs = &fs[..n];
            if fs.iter().any(|&f| name(f)) && fs.iter().any(|&f| f & F_AMBIGUOUS == 0)
                || title_cased && n <= 3
            {
                n
            } else {
                0
            }
        }
    };
    let could_cue = fs.iter().any(|&f| f & (F_FIRST | F_LAST) != 0) || title;
    let n = if plain < fs.len() && could_cue && strong() {
        plain.max(cued())
    } else {
        plain
    };
    // After a weak cue (`received by`, `contact`), a known given name and any word outside the
    // stop list: `received by STEVE REBER`.
    let n = match fs {
        [f0, f1, ..]
            if n == 0
                && given(*f0)
                && f1 & (F_STOP | F_AMBIGUOUS) == 0
                && cue_before(t, s0) == Some(false) =>
        {
            2
        }
        _ => n,
    };
    (n > 0).then(|| initials_tail(b, words[n - 1].e))
}

/// Generational suffixes after a surname (`SMITH SR, DONALD`).
const SUFFIXES: &[&[u8]] = &[b"jr", b"sr", b"ii", b"iii", b"iv"];

/// Surname prefixes written apart in capitals (`MC BRIDE`, `DE LA`, `VAN DYKE`).
const SURNAME_PREFIXES: &[&[u8]] = &[
    b"mc", b"mac", b"de", b"di", b"da", b"du", b"del", b"la", b"le", b"van", b"von", b"st",
];

/// After a name in capitals, a trailing initial (`BRIAN F`, `LUIS R.`): the end past it.
fn initials_tail(b: &[u8], e: usize) -> usize {
    match b.get(e..).unwrap_or_default() {
        [b' ', c, rest @ ..] if c.is_ascii_uppercase() => match rest {
            [b'.', ..] => e + 3,
            [] => e + 2,
            [d, ..] if !d.is_ascii_alphanumeric() => e + 2,
            _ => e,
        },
        _ => e,
    }
}

/// A greeting or a thank-you right before `s` (`Hi `, `Thanks `, `Dear `), lower or Title case.
fn addressed_before(b: &[u8], s: usize) -> bool {
    word_before(
        &b[..s],
        &[
            b"hi ",
            b"hello ",
            b"hey ",
            b"hi, ",
            b"hello, ",
            b"thanks ",
            b"thank you ",
            b"dear ",
        ],
    )
}

/// `before` ends with one of `words` (any ASCII case), which starts a word there.
fn word_before(before: &[u8], words: &[&[u8]]) -> bool {
    words.iter().any(|w| {
        before.len() >= w.len()
            && before[before.len() - w.len()..].eq_ignore_ascii_case(w)
            && (before.len() == w.len()
                || !before[before.len() - w.len() - 1].is_ascii_alphanumeric())
    })
}

/// A verb of speaking or contacting right after `e` (` called`, ` said`, ` wrote`, ...): what
/// a person, named at the start of a sentence, did.
fn reporting_verb_after(b: &[u8], e: usize) -> bool {
    const VERBS: &[&[u8]] = &[
        b" called",
        b" said",
        b" says",
        b" wrote",
        b" writes",
        b" asked",
        b" emailed",
        b" e-mailed",
        b" phoned",
        b" texted",
        b" replied",
        b" mentioned",
        b" complained",
        b" requested",
        b" confirmed",
        b" approved",
        b" reported",
        b" told",
        b" contacted",
        b" messaged",
        b" spoke",
        b" speaks",
        b" can be reached",
        b" will call",
        b" will email",
        b" submitted",
        b" signed",
        b" joined",
        b" shared",
        b" sent",
        b" paid",
        b" booked",
        b" ordered",
    ];
    let rest = &b[e..];
    VERBS
        .iter()
        .any(|v| rest.starts_with(v) && rest.get(v.len()).is_none_or(|c| !c.is_ascii_alphabetic()))
}

/// `s` starts the text, a line or a sentence (after `. `, `! `, `? `).
fn sentence_start(b: &[u8], s: usize) -> bool {
    let mut k = s;
    while k > 0 && b[k - 1] == b' ' {
        k -= 1;
    }
    k == 0 || matches!(b[k - 1], b'\n' | b'\r') || k < s && matches!(b[k - 1], b'.' | b'!' | b'?')
}

/// One or two dashes glued to `s` after a space or a line start (`-John`, `--Meg C.`): a
/// sign-off when the line ends after the name.
fn glued_dash(b: &[u8], s: usize) -> bool {
    let mut k = s;
    while k > 0 && s - k < 2 && b[k - 1] == b'-' {
        k -= 1;
    }
    k < s && (k == 0 || matches!(b[k - 1], b' ' | b'\n' | b'\r' | b'\t'))
}

/// A `- ` or `— ` right before `s` (after optional line breaks): the sign-off cue.
fn dash_before(b: &[u8], s: usize) -> bool {
    let mut k = s;
    while k > 0 && matches!(b[k - 1], b'\n' | b'\r') {
        k -= 1;
    }
    let before = &b[..k];
    before.ends_with(b"- ") || before.ends_with("— ".as_bytes())
}

/// Whether `v`, the whole value under a person-name JSON key, is a name: one to six words of
/// letters (with `'`, `-`, `.`), none a stop word. Under the generic key `name` (which also names
/// tools, products and files) every word must be capitalised and one must be a known,
/// unambiguous given name or surname (an international given name only with a second word).
pub(crate) fn person_value(v: &str, generic: bool) -> bool {
    let lex = lexicon();
    let mut words = 0;
    let (mut known, mut weak) = (false, false);
    for w in v.split_whitespace() {
        words += 1;
        if words > 6
            || !w.chars().any(char::is_alphabetic)
            || !w
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, '\'' | '-' | '.' | '’'))
        {
            return false;
        }
        let f = lex.flags(w.trim_end_matches('.'));
        if f & F_STOP != 0 {
            return false;
        }
        if generic && !w.chars().next().is_some_and(char::is_uppercase) {
            return false;
        }
        known |= f & (F_FIRST | F_LAST) != 0 && f & F_AMBIGUOUS == 0 && f & F_WEAK == 0;
        weak |= f & F_WEAK != 0 && f & F_AMBIGUOUS == 0;
    }
    // A weak given name alone is ambiguous here too (`{"name": "Tokio"}`, a crate's name).
    words > 0 && (!generic || known || weak && words >= 2)
}

/// The name a reply gives when the message before asked for it (`context::answer`): "What's
/// your full name?" / "jane doe", "Sure, it's Radmila Hendriks.". After a few filler words at its
/// start, one to three words of letters that end the clause (punctuation, a stop word or the end
/// of the text), none a stop word; the first a gazetteer name that is not also a common word, or
/// every word capitalised (`Tomorrow works` and `why do you need it?` stay).
pub(crate) fn answered_name(text: &str) -> Option<(usize, usize)> {
    const FILLERS: &[&str] = &[
        "sure", "yes", "yeah", "ok", "okay", "hi", "hello", "it's", "it’s", "its", "it", "is",
        "i'm", "i’m", "im", "i", "am", "this", "my", "name", "name's", "full", "of", "course",
    ];
    let lex = lexicon();
    let b = text.as_bytes();
    let in_word = |c: char| c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.');
    let (mut first, mut end, mut count, mut capitalised) = (None, 0, 0, true);
    let (mut first_flags, mut stop_after) = (0, false);
    let mut i = 0;
    while i < b.len().min(ANSWER_NAME_HEAD) {
        let rest = text.get(i..)?;
        let c = rest.chars().next()?;
        if c == ' ' || (first.is_none() && matches!(c, ',' | '!' | ':' | '-')) {
            i += c.len_utf8();
            continue;
        }
        let we = i + rest.find(|c: char| !in_word(c)).unwrap_or(rest.len());
        let word = text.get(i..we)?.trim_end_matches('.');
        if word.is_empty() {
            break;
        }
        let we = i + word.len();
        if first.is_none() && FILLERS.iter().any(|f| word.eq_ignore_ascii_case(f)) {
            i = we;
            continue;
        }
        let f = lex.flags(word);
        if f & F_STOP != 0 || !word.chars().any(char::is_alphabetic) {
            stop_after = first.is_some();
            break;
        }
        if first.is_none() {
            first = Some(i);
            first_flags = f;
        }
        capitalised &= word.chars().next().is_some_and(char::is_uppercase);
        count += 1;
        end = we;
        // The name ends the clause: a space goes on to its next word, anything else stops it.
        if count == 3 || b.get(we) != Some(&b' ') {
            break;
        }
        i = we;
    }
    let s = first?;
    // What follows must end the clause or be a stop word (`mike from accounting`), not go on
    // as a sentence.
    let clause_end = b
        .get(end)
        .is_none_or(|&c| !c.is_ascii_alphanumeric() && c != b' ');
    let whole = text.get(end..).is_some_and(|r| {
        r.chars()
            .all(|c| c.is_whitespace() || c.is_ascii_punctuation())
    });
    let known = first_flags & (F_FIRST | F_LAST) != 0 && first_flags & F_AMBIGUOUS == 0;
    // One capitalised word outside the gazetteer (`Kowalczyk`, `Priya,`) is the name asked for,
    // unless it is also a common word (`Will`), which only a reply of that word alone gives.
    let shaped = capitalised && (count >= 2 || first_flags & F_AMBIGUOUS == 0 || whole);
    ((clause_end || stop_after) && (known || shaped)).then_some((s, end))
}

/// How far into a reply `answered_name` looks.
const ANSWER_NAME_HEAD: usize = 64;

/// Names typed in lower case right after `my name is` / `my name's` / `name is`, `call me` and
/// a sentence-opening `myself`: `hi my name is john smith`, `myself pratik jayarao`. Chat users
/// often skip capitals. Gazetteer names that are not also common words are taken after any of
/// these cues (`my name is will` stays). Words outside the gazetteer (`pratik`) are taken only
/// after `my name is`, `call me` or `myself`, when none is a common word (`call me back`) and
/// they end the clause (the text, a punctuation mark or a joining word such as `and` follows):
/// after a bare `name is` (`the file name is config`) they stay.
fn lower_case_introductions(text: &str, out: &mut Vec<Finding>) {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    let b = text.as_bytes();
    // One searcher per cue for every string (building one per call showed in profiles).
    static NAME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"name"));
    // Without their first letter, which may be a capital (`Call me …`, `Myself …`).
    static CALL_ME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"all me "));
    static MYSELF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"yself "));
    let word_start = |at: usize| at == 0 || !b[at - 1].is_ascii_alphanumeric();
    for at in NAME.find_iter(b) {
        let rest = &b[at + 4..];
        let skip = [&b" is "[..], b"'s ", "’s ".as_bytes(), b" ist "]
            .iter()
            .find(|cue| rest.starts_with(cue))
            .map_or(0, |cue| cue.len());
        if !word_start(at) || skip == 0 {
            continue;
        }
        let mine = word_before(&b[..at], &[b"my ", b"mein "]);
        introduced_name(text, at + 4 + skip, mine, out);
    }
    for at in CALL_ME.find_iter(b) {
        if at > 0 && matches!(b[at - 1], b'c' | b'C') && word_start(at - 1) {
            introduced_name(text, at + 7, true, out);
        }
    }
    for at in MYSELF.find_iter(b) {
        if at == 0 || !matches!(b[at - 1], b'm' | b'M') || !word_start(at - 1) {
            continue;
        }
        let at = at - 1;
        // Only opening a sentence: `I did it myself today` is no introduction.
        let opens = b[..at]
            .iter()
            .rev()
            .find(|c| **c != b' ')
            .is_none_or(|c| matches!(c, b'.' | b'!' | b'?' | b'\n' | b','));
        if opens {
            introduced_name(text, at + 7, true, out);
        }
    }
}

/// The cues (lower case) after which a lower-case name is taken (`i spoke with amelia pray`,
/// `dear john`, `account holder: patrick lucansky`): see [`cued_name`]. The secret walk has
/// them as anchors (in three cases) and hands their ends to [`scan_people`]; without it,
/// [`lower_case_cues`] finds them with an automaton of their own.
pub(crate) const LOWER_CASE_CUES: &[&str] = &[
    "spoke with ",
    "spoke to ",
    "speak with ",
    "speak to ",
    "talk to ",
    "talk with ",
    "talked to ",
    "talked with ",
    "talking to ",
    "transfer me to ",
    "assigned to ",
    "signed by ",
    "received by ",
    "seen by ",
    "referred by ",
    "dear ",
    "hi ",
    "hey ",
    "hello ",
    "thanks ",
    "thank you ",
    "attn: ",
    "attention: ",
    "contact: ",
    "holder: ",
    "cardholder: ",
    "patient: ",
    "recipient: ",
    "name: ",
    "contact ",
    "ask for ",
    "new hire, ",
    "colleague ",
    "coworker ",
    "my manager ",
    "my boss ",
    "my wife ",
    "my husband ",
    "my friend ",
    // Introductions in other languages, typed in lower case (`je m'appelle jean dupont`).
    "je m'appelle ",
    "me llamo ",
    "mi chiamo ",
    "me chamo ",
    "ich heisse ",
    "ik heet ",
    "mijn naam is ",
];

/// Where a name may start after a cue of [`LOWER_CASE_CUES`] matched at `s..e`: `e`, when the
/// cue starts a word and a lower-case letter follows it.
pub(crate) fn lower_case_cue_end(b: &[u8], s: usize, e: usize) -> Option<usize> {
    let starts = s == 0 || !b[s - 1].is_ascii_alphanumeric();
    (starts && b.get(e).is_some_and(u8::is_ascii_lowercase)).then_some(e)
}

/// The ends of the cues of [`LOWER_CASE_CUES`] in `b`, for engines without a secret walk.
fn lower_case_cues(b: &[u8]) -> Vec<usize> {
    use aho_corasick::{AhoCorasick, MatchKind};
    static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    let ac = AC.get_or_init(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(LOWER_CASE_CUES)
            .ok()
    });
    ac.as_ref().map_or_else(Vec::new, |ac| {
        ac.find_iter(b)
            .filter_map(|m| lower_case_cue_end(b, m.start(), m.end()))
            .collect()
    })
}

/// Up to three lower-case name words at `s` (see `lower_case_introductions`); `unknown` lets
/// words outside the gazetteer in.
fn introduced_name(text: &str, s: usize, unknown: bool, out: &mut Vec<Finding>) {
    lower_case_name(text, s, unknown, false, out);
}

/// After a cue of [`LOWER_CASE_CUES`]: as [`introduced_name`], but the first word must be a
/// gazetteer given name and only the words after it may be outside the gazetteer.
fn cued_name(text: &str, s: usize, out: &mut Vec<Finding>) {
    lower_case_name(text, s, false, true, out);
}

fn lower_case_name(
    text: &str,
    s: usize,
    unknown: bool,
    unknown_after_first: bool,
    out: &mut Vec<Finding>,
) {
    let b = text.as_bytes();
    let lex = lexicon();
    let (mut e, mut words, mut all_known) = (s, 0, true);
    // The end of the leading gazetteer names, kept when unknown words after them do not end
    // the clause (`spoke with amelia pray this morning`).
    let mut known_end = s;
    // Before a middle initial (`john e. smith`): where the name ends if no word follows it.
    let (mut before_initial, mut initial_last) = (None, false);
    while words < 3 {
        let ws = if words == 0 { s } else { e + 1 };
        if words > 0 && b.get(e) != Some(&b' ') {
            break;
        }
        // One middle initial after the first word, with or without its period (not the
        // pronoun `i` or the article `a` without one).
        if words > 0 && before_initial.is_none() && b.get(ws).is_some_and(u8::is_ascii_lowercase) {
            let dot = b.get(ws + 1) == Some(&b'.');
            let after = ws + 1 + usize::from(dot);
            if (dot || !matches!(b[ws], b'a' | b'i'))
                && b.get(after) == Some(&b' ')
                && b.get(after + 1).is_some_and(u8::is_ascii_lowercase)
            {
                before_initial = Some(e);
                initial_last = true;
                e = after;
                continue;
            }
        }
        let we = word_end(text, ws);
        let Some(w) = text.get(ws..we) else {
            break;
        };
        let lower = w.chars().next().is_some_and(char::is_lowercase);
        let f = lex.flags(w);
        let name = f & (F_FIRST | F_LAST) != 0 && f & (F_AMBIGUOUS | F_STOP) == 0;
        // The first word must be a given name; a second one a given name or surname.
        let known = name && (words > 0 || f & F_FIRST != 0);
        let other = (unknown || unknown_after_first && words > 0)
            && f & !F_CN == 0
            && (2..=24).contains(&w.len())
            && w.chars().all(char::is_alphabetic)
            && !in_list_ci(w, AFTER_INTRODUCTION, AFTER_INTRODUCTION_FILTER)
            // Participles, adverbs and adjectives (`unchanged`, `missing`, `clearly`, `visible`).
            && !["ed", "ing", "ly", "able", "ible", "ful", "less"]
                .iter()
                .any(|x| w.len() > x.len() + 2 && w.ends_with(x));
        if w.is_empty() || !lower || !(known || other) {
            // An initial with no name word after it is not part of the name.
            if let Some(p) = before_initial.take().filter(|_| initial_last) {
                e = p;
            }
            break;
        }
        initial_last = false;
        all_known &= known;
        if all_known {
            known_end = we;
        }
        e = we;
        words += 1;
    }
    if words == 0 {
        return;
    }
    if !all_known {
        let rest = &b[e..];
        let next = rest.strip_prefix(b" ").unwrap_or(rest);
        let joins = [&b"and "[..], b"from ", b"here", b"i ", b"but ", b"with "]
            .iter()
            .any(|w| next.starts_with(w));
        let ends = rest
            .first()
            .is_none_or(|c| matches!(c, b'.' | b',' | b'!' | b'?' | b';' | b'\n'));
        if !(ends || joins) {
            if unknown_after_first && known_end > s {
                out.push(Finding::new(s, known_end, ENT_PERSON));
            }
            return;
        }
    }
    out.push(Finding::new(s, e, ENT_PERSON));
}

/// Common words that follow `my name is`, `call me` or `myself` and are no name (`call me
/// back`, `my name is spelled wrong`, `myself and my wife`).
const AFTER_INTRODUCTION: &[&str] = &[
    "a",
    "about",
    "above",
    "again",
    "alone",
    "already",
    "also",
    "always",
    "am",
    "an",
    "and",
    "anytime",
    "as",
    "asap",
    "at",
    "back",
    "because",
    "before",
    "being",
    "below",
    "blank",
    "but",
    "by",
    "can",
    "confidential",
    "correct",
    "could",
    "crazy",
    "did",
    "different",
    "do",
    "does",
    "done",
    "down",
    "either",
    "else",
    "empty",
    "ever",
    "fine",
    "first",
    "for",
    "from",
    "full",
    "good",
    "great",
    "had",
    "has",
    "have",
    "here",
    "hidden",
    "how",
    "if",
    "important",
    "in",
    "incorrect",
    "instead",
    "into",
    "invalid",
    "irrelevant",
    "is",
    "isnt",
    "it",
    "just",
    "last",
    "later",
    "legal",
    "like",
    "long",
    "maybe",
    "me",
    "middle",
    "mine",
    "misspelt",
    "more",
    "my",
    "na",
    "never",
    "new",
    "next",
    "no",
    "none",
    "not",
    "now",
    "of",
    "off",
    "ok",
    "okay",
    "old",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "please",
    "pls",
    "plz",
    "private",
    "quite",
    "right",
    "same",
    "secret",
    "shown",
    "so",
    "some",
    "someone",
    "sometime",
    "soon",
    "spelt",
    "still",
    "sure",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "then",
    "there",
    "this",
    "to",
    "today",
    "tomorrow",
    "tonight",
    "too",
    "unknown",
    "up",
    "valid",
    "very",
    "was",
    "wasnt",
    "what",
    "whatever",
    "when",
    "whenever",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "without",
    "would",
    "wrong",
    "yes",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
];

const AFTER_INTRODUCTION_FILTER: u128 = list_filter(AFTER_INTRODUCTION);

/// A letter of a script without case (Han, kana, Hangul, Arabic, Hebrew, Devanagari, Thai...):
/// capitalisation cannot mark a name written in it.
fn is_uncased_letter(c: char) -> bool {
    !c.is_ascii() && c.is_alphabetic() && !c.is_uppercase() && !c.is_lowercase()
}

/// Inside a word of an uncased script: letters and their combining signs, not spaces or
/// punctuation (CJK, full-width, general, Arabic and Devanagari punctuation).
fn in_uncased_word(c: char) -> bool {
    !c.is_ascii()
        && !c.is_whitespace()
        && !matches!(c,
            '\u{2000}'..='\u{206F}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FF0F}'
            | '\u{FF1A}'..='\u{FF20}' | '\u{FF3B}'..='\u{FF40}' | '\u{FF5B}'..='\u{FF65}'
            | '\u{060C}' | '\u{061B}' | '\u{061F}' | '\u{06D4}' | '\u{0964}' | '\u{0965}')
}

/// What must follow a name in a script without case after a cue (`PERSON_CUES`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// Nothing: the cue introduces a person and little else.
    Any,
    /// ` from `, ` here` or ` speaking`: `this is` also precedes products (`this is 新製品`).
    Introduction,
    /// A comma: a greeting also precedes other words (`Hello 世界!`).
    Comma,
}

/// Cues before a name no gazetteer or capital confirms, with what must follow it.
const PERSON_CUES: &[(&[u8], After)] = &[
    (b"my name is ", After::Any),
    (b"name is ", After::Any),
    (b"my name's ", After::Any),
    (b"name: ", After::Any),
    (b"names are ", After::Any),
    (b"dear ", After::Any),
    (b"mr. ", After::Any),
    (b"mrs. ", After::Any),
    (b"ms. ", After::Any),
    (b"dr. ", After::Any),
    (b"mr ", After::Any),
    (b"mrs ", After::Any),
    (b"ms ", After::Any),
    (b"miss ", After::Any),
    (b"prof. ", After::Any),
    (b"sincerely, ", After::Any),
    (b"regards, ", After::Any),
    (b"regards ", After::Any),
    (b"thanks, ", After::Any),
    (b"thank you, ", After::Any),
    (b"cheers, ", After::Any),
    (b"best, ", After::Any),
    (b"spoke with ", After::Any),
    (b"spoke to ", After::Any),
    (b"speak with ", After::Any),
    (b"speak to ", After::Any),
    (b"talk to ", After::Any),
    (b"talked to ", After::Any),
    (b"transfer me to ", After::Any),
    (b"connect me with ", After::Any),
    (b"ask for ", After::Any),
    (b"this is ", After::Introduction),
    (b"hello ", After::Comma),
    (b"hi ", After::Comma),
    (b"hey ", After::Comma),
];

/// The `PERSON_CUES` entry that ends right before `s` (any ASCII case, starting a word), as what
/// must follow the name. A sign-off may end its line (`Thanks,\n陽子`): then the cue without its
/// final space ends where the line breaks begin.
fn person_cue_before(b: &[u8], s: usize) -> Option<After> {
    let mut end = s;
    while end > 0 && matches!(b[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    PERSON_CUES
        .iter()
        .find(|(cue, _)| {
            let cue = if end < s {
                cue.strip_suffix(b" ").unwrap_or(cue)
            } else {
                cue
            };
            word_before(&b[..end], &[cue])
        })
        .map(|&(_, after)| after)
}

/// Names in a script without case after a strong cue: `my name is 王伟`, `Dear 田中様`,
/// `Thanks, محمد العلي`, `Mr. शर्मा`. Up to three words (a name of Han characters has no
/// spaces; 24 characters at most per word, so a run-on sentence is not taken whole).
fn uncased_introductions(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Word starts only: a non-ASCII lead byte after ASCII or at the start.
        if b[i] < 0xC0 || (i > 0 && b[i - 1] >= 0x80) {
            i += 1;
            continue;
        }
        let Some(c) = text.get(i..).and_then(|r| r.chars().next()) else {
            i += 1;
            continue;
        };
        let after = if is_uncased_letter(c) {
            person_cue_before(b, i)
        } else {
            None
        };
        let Some(after) = after else {
            i += c.len_utf8();
            continue;
        };
        let mut e = i;
        let mut words = 0;
        while words < 3 {
            let ws = if words == 0 { i } else { e + 1 };
            if words > 0
                && (b.get(e) != Some(&b' ')
                    || !text
                        .get(ws..)
                        .and_then(|r| r.chars().next())
                        .is_some_and(is_uncased_letter))
            {
                break;
            }
            let mut we = ws;
            for (n, ch) in text[ws..].chars().enumerate() {
                if n >= 24 || !in_uncased_word(ch) {
                    break;
                }
                we += ch.len_utf8();
            }
            if we == ws {
                break;
            }
            e = we;
            words += 1;
        }
        let rest = &b[e..];
        let confirmed = match after {
            After::Any => true,
            After::Introduction => [&b" from "[..], b" here", b" speaking"]
                .iter()
                .any(|w| rest.starts_with(w)),
            After::Comma => rest.starts_with(b","),
        };
        if confirmed {
            out.push(Finding::new(i, e, ENT_PERSON));
        }
        i = e.max(i + 1);
    }
}

/// `hello `, `hi `, `hey ` (optionally with a comma) right before `s`, starting a word.
fn greeting_before(b: &[u8], s: usize) -> bool {
    word_before(
        &b[..s],
        &[b"hello ", b"hi ", b"hey ", b"hello, ", b"hi, ", b"hey, "],
    )
}

/// Lower-case surname particles (Dutch, German, French, Spanish, Italian, Portuguese). A
/// `match` on the bytes: this runs for the word before every capitalised word.
/// [`is_particle`] in any letter case (`Van`, `DER`), lower-cased on the stack.
fn particle_any_case(w: &[u8]) -> bool {
    // Every particle starts with one of these (most capitalised words do not).
    if !w.first().is_some_and(|c| {
        matches!(
            c.to_ascii_lowercase(),
            b'v' | b'd' | b't' | b'z' | b'l' | b'\''
        )
    }) {
        return false;
    }
    let mut buf = [0u8; 6];
    let Some(l) = buf.get_mut(..w.len()) else {
        return false;
    };
    l.copy_from_slice(w);
    l.make_ascii_lowercase();
    is_particle(l)
}

fn is_particle(w: &[u8]) -> bool {
    matches!(
        w,
        b"van"
            | b"v/d"
            | b"v.d."
            | b"von"
            | b"de"
            | b"der"
            | b"den"
            | b"des"
            | b"du"
            | b"da"
            | b"di"
            | b"del"
            | b"della"
            | b"dos"
            | b"das"
            | b"do"
            | b"ten"
            | b"ter"
            | b"te"
            | b"'t"
            | b"zu"
            | b"zur"
            | b"la"
            | b"le"
    )
}

/// A byte of a particle: lower case, or the `'`, `/`, `.` of `'t`, `v/d`, `v.d.`.
fn particle_byte(c: u8) -> bool {
    c.is_ascii_lowercase() || matches!(c, b'\'' | b'/' | b'.')
}

/// Up to three particles after `e` (` van der `) and the capitalised word after them.
fn particles_after(t: &str, e: usize) -> Option<Word> {
    let b = t.as_bytes();
    let mut p = e;
    let mut seen = 0;
    while seen < 3 && b.get(p) == Some(&b' ') {
        let s = p + 1;
        let mut q = s;
        while q < b.len() && q - s < 6 && particle_byte(b[q]) {
            q += 1;
        }
        if b.get(q) != Some(&b' ') || !is_particle(&b[s..q]) {
            break;
        }
        p = q;
        seen += 1;
    }
    if seen == 0 || b.get(p) != Some(&b' ') {
        return None;
    }
    let w = cap_word_at(t, p + 1)?;
    is_name_shape(&t[w.s..w.e]).then_some(w)
}

/// The start of one to three particles right before `s` (`van de ` in `Mr. van de Pol`).
fn particles_before(b: &[u8], s: usize) -> Option<usize> {
    let mut p = s;
    let mut seen = 0;
    while seen < 3 && p >= 2 && b[p - 1] == b' ' {
        let e = p - 1;
        let mut q = e;
        while q > 0 && e - q < 6 && particle_byte(b[q - 1]) {
            q -= 1;
        }
        if q == e || !is_particle(&b[q..e]) || (q > 0 && b[q - 1] != b' ') {
            break;
        }
        p = q;
        seen += 1;
    }
    (seen > 0).then_some(p)
}

const STREET_TYPES: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "lane",
    "ln",
    "drive",
    "dr",
    "boulevard",
    "blvd",
    "court",
    "ct",
    "way",
    "place",
    "pl",
    "close",
    "crescent",
    "terrace",
    "parkway",
    "pkwy",
    "square",
    "sq",
    "gardens",
    "grove",
    "mews",
    "row",
    "highway",
    "hwy",
    "circle",
    "cir",
    "trail",
    "path",
    "walk",
    "hill",
    "expressway",
    "expy",
    "freeway",
    "fwy",
    "turnpike",
    "plaza",
    "crt",
    "cres",
    "parade",
    "esplanade",
    "alley",
    "loop",
    "ridge",
    "wharf",
    "quay",
    "causeway",
    "pike",
];
/// Where a street named after a person starts: up to three capitalised words on the same line
/// right before the compound at `i` (`Jan Erasmusstraat`, `Karl Marx Allee`), not before
/// `floor`.
fn named_street_start(t: &str, i: usize, floor: usize) -> usize {
    let b = t.as_bytes();
    let mut s = i;
    for _ in 0..3 {
        if s < 2 || s - 1 <= floor || b[s - 1] != b' ' {
            break;
        }
        let e = s - 1;
        let mut k = e;
        while k > 0 && e - k < 24 && (b[k - 1].is_ascii_alphabetic() || b[k - 1] >= 0x80) {
            k -= 1;
        }
        if k == e
            || k < floor
            || (k > 0 && !matches!(b[k - 1], b' ' | b'\n' | b'\t'))
            || !t.is_char_boundary(k)
            || cap_word_at(t, k).is_none_or(|w| w.e != e)
            || lexicon().flags(&t[k..e]) & F_STOP != 0
        {
            break;
        }
        s = k;
    }
    s
}

/// The word `w` is a compound street name before its house number (`Jan Erasmusstraat 14`,
/// `Anna-Müller-Straße 3`): an address, not part of a name.
fn street_before_number(t: &str, w: Word) -> bool {
    const STREETS: &[&str] = &[
        "straße", "strasse", "straat", "gracht", "laan", "plein", "kade", "singel", "dreef",
        "steeg", "gasse", "allee", "platz", "weg",
    ];
    let b = t.as_bytes();
    b.get(w.e) == Some(&b' ')
        && b.get(w.e + 1).is_some_and(u8::is_ascii_digit)
        && t.get(w.s..w.e).is_some_and(|word| {
            STREETS.iter().any(|suf| {
                word.len() > suf.len() + 2
                    && word.is_char_boundary(word.len() - suf.len())
                    && word[word.len() - suf.len()..].eq_ignore_ascii_case(suf)
            })
        })
}

const COMPOUND_SUFFIXES: &[&str] = &[
    "straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "ring", "damm", "ufer",
    "straat", "laan", "gracht", "plein", "kade", "singel", "dreef", "steeg",
];
const FR_TYPES: &[&str] = &[
    "rue",
    "avenue",
    "av.",
    "boulevard",
    "bd",
    "place",
    "impasse",
    "allée",
    "chemin",
    "quai",
    "cours",
    "route",
];
const ES_TYPES: &[&str] = &[
    "calle",
    "c/",
    "avenida",
    "avda.",
    "av.",
    "plaza",
    "paseo",
    "camino",
    "carrer",
    "ronda",
    "travesía",
    "calle de",
    "rúa",
];
const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC",
];

/// The US states and DC written out, lower case.
const US_STATE_NAMES: &[&[u8]] = &[
    b"alabama",
    b"alaska",
    b"arizona",
    b"arkansas",
    b"california",
    b"colorado",
    b"connecticut",
    b"delaware",
    b"florida",
    b"georgia",
    b"hawaii",
    b"idaho",
    b"illinois",
    b"indiana",
    b"iowa",
    b"kansas",
    b"kentucky",
    b"louisiana",
    b"maine",
    b"maryland",
    b"massachusetts",
    b"michigan",
    b"minnesota",
    b"mississippi",
    b"missouri",
    b"montana",
    b"nebraska",
    b"nevada",
    b"new hampshire",
    b"new jersey",
    b"new mexico",
    b"new york",
    b"north carolina",
    b"north dakota",
    b"ohio",
    b"oklahoma",
    b"oregon",
    b"pennsylvania",
    b"rhode island",
    b"south carolina",
    b"south dakota",
    b"tennessee",
    b"texas",
    b"utah",
    b"vermont",
    b"virginia",
    b"washington",
    b"west virginia",
    b"wisconsin",
    b"wyoming",
    b"district of columbia",
];

/// A US state written out at `p` (`Arizona`, `SOUTH CAROLINA`) before a space and a digit: its
/// end.
fn state_name_at(b: &[u8], p: usize) -> Option<usize> {
    let r = b.get(p..)?;
    // Cheap first: a word of four letters or more (`Iowa`; not `, I updated order 12…`), only
    // letters and spaces, then a space and a digit (the ZIP), within 22 bytes.
    if r.iter()
        .take(4)
        .take_while(|c| c.is_ascii_alphabetic())
        .count()
        < 4
    {
        return None;
    }
    let words = r
        .iter()
        .take(22)
        .take_while(|c| c.is_ascii_alphabetic() || **c == b' ')
        .count();
    if !(words >= 5 && r[words - 1] == b' ' && r.get(words).is_some_and(u8::is_ascii_digit)) {
        return None;
    }
    US_STATE_NAMES
        .iter()
        .filter(|n| r.len() >= n.len() && r[..n.len()].eq_ignore_ascii_case(n))
        .map(|n| p + n.len())
        .filter(|&e| b.get(e).is_none_or(|c| !c.is_ascii_alphanumeric()))
        .max()
}

const CA_PROVINCES: &[&str] = &[
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

fn house_number(b: &[u8], s: usize) -> Option<usize> {
    let mut e = s;
    while e < b.len() && e - s < 6 && b[e].is_ascii_digit() {
        e += 1;
    }
    if e == s {
        return None;
    }
    if e < b.len()
        && b[e].is_ascii_alphabetic()
        && (e + 1 >= b.len() || !b[e + 1].is_ascii_alphanumeric())
    {
        e += 1;
    }
    // Ranges and suffixes: 12-14, 5/2, 7bis.
    if e + 1 < b.len() && matches!(b[e], b'-' | b'/') && b[e + 1].is_ascii_digit() {
        e += 1;
        while e < b.len() && b[e].is_ascii_digit() {
            e += 1;
        }
    }
    // A half lot: `2615 1/2 Gary Avenue`.
    if b.get(e..e + 5) == Some(b" 1/2 ") {
        e += 4;
    }
    (e >= b.len() || !b[e].is_ascii_alphanumeric()).then_some(e)
}

/// After `p`, an optional comma and a space (`, ` or ` `): where the next part starts.
/// ` - `, ` – ` or ` — ` at `p`: the end.
fn dash_space(b: &[u8], p: usize) -> Option<usize> {
    let r = b.get(p..)?;
    [" – ", " — ", " - "]
        .iter()
        .find(|d| r.starts_with(d.as_bytes()))
        .map(|d| p + d.len())
}

fn comma_space(b: &[u8], p: usize) -> Option<usize> {
    let p = p + usize::from(b.get(p) == Some(&b','));
    (b.get(p) == Some(&b' ')).then_some(p + 1)
}

/// Extends an address over `, Town`, a US state + ZIP, a UK postcode or a 4-5 digit postcode.
fn extend_tail(t: &str, mut e: usize) -> usize {
    let b = t.as_bytes();
    for _ in 0..3 {
        // A dash between the street and the postcode (`Lindenstr. 7 – 80331 München`) joins
        // only a postcode.
        let dash = dash_space(b, e);
        let Some(p) = dash.or_else(|| comma_space(b, e)) else {
            break;
        };
        // ZIP / postcode (DE/FR/ES 5 digits, NL 1234 AB, US 12345-6789, CA A1A 1A1)
        if let Some(z) = postcode(b, p)
            .or_else(|| ca_postcode(b, p))
            .or_else(|| postcode_loose(b, p))
        {
            e = z;
            // Town after the postcode (a second word: see `second_town_word`).
            if b.get(e) == Some(&b' ')
                && let Some(w) = cap_word_at(t, e + 1)
            {
                e = second_town_word(t, w.e).unwrap_or(w.e);
            }
            continue;
        }
        if dash.is_some() {
            break;
        }
        // A ZIP without its leading zero right after the state the address ended with.
        if let Some(z) = e
            .checked_sub(2)
            .filter(|&st| st > 0 && b[st - 1] == b' ')
            .and_then(|st| stripped_zip(b, st, p))
        {
            e = z;
            continue;
        }
        // US state or Canadian province + ZIP or postal code
        if let Some(se) = state_code_at(b, p) {
            e = se;
            if b.get(e) == Some(&b' ')
                && let Some(z) = postcode(b, e + 1)
                    .or_else(|| ca_postcode(b, e + 1))
                    .or_else(|| stripped_zip(b, p, e + 1))
            {
                e = z;
            }
            continue;
        }
        // A UK outward code alone after the town (`64 Melbourne Road, London, E10`).
        if e > 0
            && b[..e].last().is_some_and(u8::is_ascii_alphabetic)
            && let Some(z) = uk_outward_at(b, p)
        {
            e = z;
            break;
        }
        // Town: one or two capitalised words.
        match cap_word_at(t, p) {
            Some(w) => {
                e = w.e;
                if b.get(e) == Some(&b' ')
                    && let Some(w2) = cap_word_at(t, e + 1)
                    && b.get(w2.e).is_none_or(|c| matches!(c, b',' | b' ' | b'.'))
                    && uk_postcode(b, w2.s).is_none()
                {
                    e = w2.e;
                }
                if let Some(z) = b
                    .get(e)
                    .filter(|c| **c == b' ')
                    .and_then(|_| postcode(b, e + 1).or_else(|| postcode_loose(b, e + 1)))
                {
                    e = z;
                } else if b.get(e) == Some(&b' ')
                    && let Some(se) = state_code_at(b, e + 1)
                    && b.get(se) == Some(&b' ')
                    && let Some(z) = postcode(b, se + 1).or_else(|| stripped_zip(b, e + 1, se + 1))
                {
                    // `Washington D.C. 20500`: the state and ZIP after the town, no comma.
                    e = z;
                }
            }
            _ => break,
        }
    }
    e
}

/// A ZIP that lost its leading zero (`Abington MA 2351`: a spreadsheet read it as a number)
/// at `p`, after the state code at `state`: four digits standing alone, for the states whose
/// ZIPs start with 0 (New England, New Jersey, Puerto Rico, the Virgin Islands).
fn stripped_zip(b: &[u8], state: usize, p: usize) -> Option<usize> {
    let code = b.get(state..state + 2)?;
    if !matches!(
        code,
        b"CT" | b"MA" | b"ME" | b"NH" | b"NJ" | b"RI" | b"VT" | b"PR" | b"VI"
    ) {
        return None;
    }
    let digits = b
        .get(p..)?
        .iter()
        .take(5)
        .take_while(|c| c.is_ascii_digit())
        .count();
    (digits == 4 && b.get(p + 4).is_none_or(|c| !c.is_ascii_alphanumeric())).then_some(p + 4)
}

/// A US state or Canadian province code at `p` (`NY`, `NY.`, `N.Y.`, `D.C`): its end.
fn state_code_at(b: &[u8], p: usize) -> Option<usize> {
    let r = b.get(p..)?;
    let (code, mut e) = match r {
        [x, b'.', y, ..] if x.is_ascii_uppercase() && y.is_ascii_uppercase() => ([*x, *y], p + 3),
        [x, y, ..] => ([*x, *y], p + 2),
        _ => return None,
    };
    if !US_STATES
        .iter()
        .chain(CA_PROVINCES)
        .any(|s| s.as_bytes() == code)
        || b.get(e).is_some_and(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    if b.get(e) == Some(&b'.') {
        e += 1;
    }
    Some(e)
}

fn postcode(b: &[u8], p: usize) -> Option<usize> {
    if let Some(e) = uk_postcode(b, p) {
        return Some(e);
    }
    let mut e = p;
    while e < b.len() && e - p < 6 && b[e].is_ascii_digit() {
        e += 1;
    }
    let n = e - p;
    if n == 5 {
        return zip(b, p);
    }
    // NL: 1234 AB, 1234AB
    let gap = usize::from(b.get(e) == Some(&b' '));
    let l = e + gap;
    if n == 4
        && l + 2 <= b.len()
        && b[l].is_ascii_uppercase()
        && b[l + 1].is_ascii_uppercase()
        && (l + 2 == b.len() || !b[l + 2].is_ascii_alphanumeric())
    {
        return Some(l + 2);
    }
    None
}

/// UK postcode: `SW1A 1AA`, `M1 1AE`, `EC1A 1BB`.
fn uk_postcode(b: &[u8], p: usize) -> Option<usize> {
    let mut e = p;
    let mut letters = 0;
    while e < b.len() && letters < 2 && b[e].is_ascii_uppercase() {
        e += 1;
        letters += 1;
    }
    if letters == 0 || e >= b.len() || !b[e].is_ascii_digit() {
        return None;
    }
    e += 1;
    if e < b.len() && (b[e].is_ascii_digit() || b[e].is_ascii_uppercase()) {
        e += 1;
    }
    if b.get(e) != Some(&b' ') {
        return None;
    }
    e += 1;
    if e + 3 <= b.len()
        && b[e].is_ascii_digit()
        && b[e + 1].is_ascii_uppercase()
        && b[e + 2].is_ascii_uppercase()
        && (e + 3 == b.len() || !b[e + 3].is_ascii_alphanumeric())
    {
        Some(e + 3)
    } else {
        None
    }
}

/// Bytes that can start an address: an ASCII digit or capital, or the lead byte of a non-ASCII
/// letter (`c >= 0xC3`).
static ADDR_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_uppercase() || b.is_ascii_digit() || b >= 0xC3;
        c += 1;
    }
    t
};

/// The end of the run from `i` of ASCII letters, digits and non-ASCII bytes: no address starts
/// right after one of them.
#[inline]
fn alnum_run_end(b: &[u8], i: usize) -> usize {
    use super::swar::in_range;
    super::swar::find(
        b,
        i,
        |x| {
            let alnum = in_range(x, b'0', b'9') | in_range(x, b'A', b'Z') | in_range(x, b'a', b'z');
            !alnum & !x & 0x8080_8080_8080_8080
        },
        |c| !(c.is_ascii_alphanumeric() || c >= 0x80),
    )
}

#[inline(never)]
pub(crate) fn scan_addresses(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    // The end of the last address: the lines before a postcode are not followed back past it.
    let mut floor = 0;
    while i < b.len() {
        // Addresses start at a house number or a capitalised word: skip everything else, one
        // table lookup per byte (a chain of range tests here mispredicted on prose).
        i = super::swar::find(
            b,
            i,
            |x| {
                use super::swar::{at_least_high, in_range};
                in_range(x, b'A', b'Z') | in_range(x, b'0', b'9') | at_least_high(x, 0xC3)
            },
            |c| ADDR_START[c as usize],
        );
        let Some(&c) = b.get(i) else {
            break;
        };
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] >= 0x80);
        if !boundary {
            // Inside a word or token: `c` fails the boundary test of the byte after it, and so
            // does every byte of the run that follows.
            i = alnum_run_end(b, i + 1);
            continue;
        }
        if c.is_ascii_digit() {
            if let Some(s) = po_box_before(b, i).filter(|&s| s >= floor && b[s] != b'P')
                && let Some(e) = po_box(b, s)
            {
                let e = line_tail(text, extend_tail(text, e));
                out.push(Finding::new(s, e, ENT_POSTAL_ADDRESS));
                floor = e;
                i = e;
                continue;
            }
            // `… ft payne al 35967`: a ZIP after a state code in any case ends an address that
            // starts at a house number and a street type.
            if i >= 3
                && b[i - 1] == b' '
                && state_code_ci(b[i - 3], b[i - 2])
                && (i == 3 || !b[i - 4].is_ascii_alphanumeric())
                && let Some(z) = zip_after(b, i - 1)
                && let Some(s) = address_before_state(b, i - 3, floor)
            {
                out.push(Finding::new(s, z, ENT_POSTAL_ADDRESS));
                floor = z;
                i = z;
                continue;
            }
            if number_before(b, i, floor)
                && let Some(e) = postcode_town(text, i)
                && let s = head_before(text, i, floor)
                && s < i
            {
                // `Am Falkpl. 5, 10437 Berlin`: a house number, then a postcode and its town.
                let e = line_tail(text, e);
                out.push(Finding::new(s, e, ENT_POSTAL_ADDRESS));
                floor = e;
                i = e;
                continue;
            }
            // `Billing address: 4450 camrose court cumming 30041`, a line of its own that runs
            // from a house number to a state and ZIP: the street needs no type word.
            // Only a line start or the last byte of a cue's last word (`is`, `at`, `to`, `:`,
            // `-`) before the space calls it: numbers follow a space everywhere.
            let cue_shape = i >= 4
                && b[i - 1] == b' '
                && matches!(b[i - 2] | 0x20, b's' | b't' | b'o' | b':' | b'-');
            if (i == 0 || b[i - 1] == b'\n' || cue_shape)
                && let Some(e) = cued_us_address(text, i)
            {
                out.push(Finding::new(i, e, ENT_POSTAL_ADDRESS));
                floor = e;
                i = e;
                continue;
            }
            if let Some(e) = us_fr_address(text, i) {
                let mut e = e;
                for _ in 0..2 {
                    match unit_tail(b, e) {
                        Some(u) => e = u,
                        None => break,
                    }
                }
                let e = line_tail(text, extend_tail(text, e));
                let s = unit_before(b, i, floor).unwrap_or(i);
                out.push(Finding::new(s, e, ENT_POSTAL_ADDRESS));
                floor = e;
                i = e;
                continue;
            }
        } else if c == b'P'
            && let Some(e) = po_box(b, i)
        {
            let e = line_tail(text, extend_tail(text, e));
            out.push(Finding::new(i, e, ENT_POSTAL_ADDRESS));
            floor = e;
            i = e;
            continue;
        } else if c.is_ascii_uppercase()
            && (b.get(i + 1).is_some_and(u8::is_ascii_digit)
                || b.get(i + 2).is_some_and(u8::is_ascii_digit))
            && let Some(e) = uk_postcode_alone(b, i).or_else(|| ca_postcode_alone(b, i))
        {
            // A UK or Canadian postcode alone, with the lines and words before it that read
            // as address parts.
            let e = country_after(b, e);
            out.push(Finding::new(
                head_before(text, i, floor),
                e,
                ENT_POSTAL_ADDRESS,
            ));
            floor = e;
            i = e;
            continue;
        } else if c.is_ascii_uppercase()
            && b[..i].ends_with(b", ")
            && let Some(se) = state_name_at(b, i)
            && let Some(z) = zip_after(b, se)
            && let s = head_before(text, i, floor)
            && s < i
            && b[s..i].iter().any(u8::is_ascii_digit)
        {
            // `9221 E. Via de Ventura Scottsdale, Arizona 85258`: a state written out and its
            // ZIP end an address with a house number.
            let e = country_after(b, z);
            out.push(Finding::new(s, e, ENT_POSTAL_ADDRESS));
            floor = e;
            i = e;
            continue;
        } else if c.is_ascii_uppercase()
            && b.get(i + 1).is_some_and(u8::is_ascii_uppercase)
            && matches!(b.get(i + 2), Some(b' ' | b'.'))
            && let Some(e) = state_zip(b, i)
            && let s = head_before(text, i, floor)
            && s < i
            && (b[..i].ends_with(b", ") || b[s..i].iter().any(u8::is_ascii_digit))
        {
            // `1585 Broadway, New York, NY 10036`: the state and ZIP end an address whose street
            // has no type word. A town alone before them needs its comma (`Austin, TX 78703`).
            let e = country_after(b, e);
            out.push(Finding::new(s, e, ENT_POSTAL_ADDRESS));
            floor = e;
            i = e;
            continue;
        } else if (c.is_ascii_uppercase() || c >= 0xC3)
            && let Some(e) = compound_or_es(text, i)
        {
            let e = line_tail(text, extend_tail(text, e));
            let s = named_street_start(text, i, floor);
            out.push(Finding::new(s, e, ENT_POSTAL_ADDRESS));
            floor = e;
            i = e;
            continue;
        }
        i += 1;
    }
}

/// `221B Baker Street`, `1600 Pennsylvania Ave NW`, `12, rue de la Paix`.
fn us_fr_address(t: &str, s: usize) -> Option<usize> {
    let b = t.as_bytes();
    let p = comma_space(b, house_number(b, s)?)?;
    // FR: number + street type in lower case + name.
    let lim = (p + 16).min(b.len());
    let lw_end = (p..lim).find(|&k| b[k] == b' ').unwrap_or(lim);
    if !t.is_char_boundary(lw_end) {
        return None;
    }
    if in_list_ci(&t[p..lw_end], FR_TYPES, FR_FILTER)
        && t[p..].starts_with(|c: char| c.is_lowercase() || c.is_uppercase())
    {
        let mut e = lw_end;
        let mut named = false;
        for _ in 0..5 {
            if b.get(e) != Some(&b' ') {
                break;
            }
            let ws = e + 1;
            let lim = (ws + 40).min(b.len());
            let we = (ws..lim)
                .find(|&k| {
                    !(b[k].is_ascii_alphabetic() || b[k] >= 0x80 || b[k] == b'\'' || b[k] == b'-')
                })
                .unwrap_or(lim);
            if we == ws || !t.is_char_boundary(we) {
                break;
            }
            let w = &t[ws..we];
            let particle = matches!(w, "de" | "la" | "du" | "des" | "le" | "les" | "l'" | "d'");
            if w.starts_with(|c: char| c.is_uppercase()) {
                named = true;
                e = we;
            } else if particle || w.starts_with("l'") || w.starts_with("d'") {
                e = we;
            } else {
                break;
            }
        }
        return named.then_some(e);
    }
    // US/UK: capitalised words then a street type, after an optional direction (`N Ensign
    // St`, `E. Western Ave`); an ordinal counts as a word (`W 47th St`, `30th Ave`).
    let mut e = direction_at(b, p).unwrap_or(p);
    let mut words = 0;
    while words < 5 {
        let w = match cap_word_at(t, e) {
            Some(w) => w,
            // A middle initial inside a name (`Harry S Truman Parkway`).
            None if words > 0
                && b.get(e).is_some_and(u8::is_ascii_uppercase)
                && b.get(e + 1) == Some(&b' ') =>
            {
                Word { s: e, e: e + 1 }
            }
            None => ordinal_at(b, e)?,
        };
        if words > 0 && in_list_ci(&t[w.s..w.e], STREET_TYPES, STREET_FILTER) {
            let mut end = w.e;
            if b.get(end) == Some(&b'.') {
                end += 1;
            }
            // Directional suffix: NW, SE.
            if b.get(end) == Some(&b' ')
                && end + 3 <= b.len()
                && matches!(&b[end + 1..end + 3], b"NW" | b"NE" | b"SW" | b"SE")
                && (end + 3 == b.len() || !b[end + 3].is_ascii_alphanumeric())
            {
                end += 3;
            }
            return Some(end);
        }
        words += 1;
        if b.get(w.e) != Some(&b' ') {
            return None;
        }
        e = w.e + 1;
    }
    None
}

/// Whether two letters, in any case, are a US state code.
fn state_code_ci(a: u8, b: u8) -> bool {
    static CODES: [bool; 676] = {
        let mut t = [false; 676];
        let mut k = 0;
        while k < US_STATES.len() {
            let c = US_STATES[k].as_bytes();
            t[(c[0] - b'A') as usize * 26 + (c[1] - b'A') as usize] = true;
            k += 1;
        }
        t
    };
    let (a, b) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
    a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && CODES[(a - b'A') as usize * 26 + (b - b'A') as usize]
}

/// Where a US address that ends at the state code at `state` starts, in any case (`100 alabama
/// avenue nw ft payne al 35967`, `1950 n stemmons fwy ste 5010 dallas tx 75207`): the earliest
/// house number, at most 14 words and 120 bytes back and not before `floor`, with a street type
/// among the six words after it. Words are joined by a space or a comma and a space.
#[inline(never)]
fn address_before_state(b: &[u8], state: usize, floor: usize) -> Option<usize> {
    let lo = floor.max(state.saturating_sub(120));
    // Word spans, nearest first.
    let mut words = [(0usize, 0usize); 14];
    let mut n = 0;
    let mut p = state;
    while n < words.len() {
        // The separator before `p`: one space, after an optional comma.
        if p <= lo || b[p - 1] != b' ' {
            break;
        }
        let mut we = p - 1;
        if we > lo && b[we - 1] == b',' {
            we -= 1;
        }
        let mut ws = we;
        while ws > lo
            && (b[ws - 1].is_ascii_alphanumeric() || matches!(b[ws - 1], b'#' | b'.' | b'\''))
        {
            ws -= 1;
        }
        if ws == we || (ws > 0 && !matches!(b[ws - 1], b' ' | b'\n' | b'\t' | b'(' | b'"')) {
            break;
        }
        words[n] = (ws, we);
        n += 1;
        p = ws;
    }
    let street_type = |w: &[u8]| {
        let w = w.strip_suffix(b".").unwrap_or(w);
        w.len() > 1 && in_list_ascii(w, STREET_TYPES, STREET_FILTER)
    };
    // The farthest house number first: `110 8th street, west hall, room 311 troy ny`.
    (0..n).rev().find_map(|j| {
        let (ws, we) = words[j];
        let house = house_number(b, ws).is_some_and(|e| e == we);
        let typed = (j.saturating_sub(6)..j).any(|k| street_type(&b[words[k].0..words[k].1]));
        (house && typed).then_some(ws)
    })
}

/// The words that introduce an address right before its house number (lower case), by the
/// word they end with: only the cues of that word are compared.
const ADDRESS_CUES_IS: &[&[u8]] = &[b"address is "];
const ADDRESS_CUES_AT: &[&[u8]] = &[b"lives at ", b"live at ", b"located at "];
const ADDRESS_CUES_TO: &[&[u8]] = &[
    b"ship it to ",
    b"ship to ",
    b"shipped to ",
    b"send it to ",
    b"sent to ",
    b"mail it to ",
    b"mailed to ",
    b"moved to ",
    b"deliver it to ",
    b"deliver to ",
    b"delivered to ",
    b"package to ",
    b"contract to ",
];
const ADDRESS_CUES_LABEL: &[&[u8]] = &[b"address: ", b"address - "];

/// The address cue (`ADDRESS_CUES_*`) that ends right before `s`: `Some(true)` for the cues
/// that name an address (`address:`, `lives at`), `Some(false)` for sending something to a
/// place (`ship to`), which may also go to people or numbers.
fn address_cue_before(b: &[u8], s: usize) -> Option<bool> {
    if s < 4 || b[s - 1] != b' ' {
        return None;
    }
    let (cues, strong) = match [b[s - 3].to_ascii_lowercase(), b[s - 2].to_ascii_lowercase()] {
        [b'i', b's'] => (ADDRESS_CUES_IS, true),
        [b'a', b't'] => (ADDRESS_CUES_AT, true),
        [b't', b'o'] => (ADDRESS_CUES_TO, false),
        [b's', b':' | b'-'] | [b' ', b'-'] => (ADDRESS_CUES_LABEL, true),
        _ => return None,
    };
    word_before(&b[..s], cues).then_some(strong)
}

/// An address from the house number at `s` to a US ZIP or state code (any case), when an
/// address cue comes right before it or the address is its line: up to 14 words and 120 bytes
/// on one line, joined by a space or a comma and a space. After a cue it ends at the first ZIP
/// (`4450 camrose court cumming 30041`) or at a state code that ends the clause (`8725 nw 18th
/// ter ste 106 doral fl,`); a line of its own must end with a state code and ZIP.
// Out of line: inlined, it changed how the address scanner's byte loop compiled (+0.8% on the
// dense bench).
#[inline(never)]
fn cued_us_address(t: &str, s: usize) -> Option<usize> {
    let b = t.as_bytes();
    let cue = address_cue_before(b, s);
    let line = s == 0 || b[s - 1] == b'\n';
    if cue.is_none() && !line {
        return None;
    }
    let mut p = house_number(b, s)?;
    let mut prev_state = false;
    // After a cue of sending (`ship to`), a street type word must be among the words.
    let (mut typed, mut unit_prev) = (false, false);
    for words in 1..14 {
        // The separator: a space, or a comma and a space.
        let q = p + usize::from(b.get(p) == Some(&b','));
        if b.get(q) != Some(&b' ') || q + 1 - s > 120 {
            return None;
        }
        let ws = q + 1;
        let mut we = ws;
        while we < b.len()
            && we - ws < 24
            && (b[we].is_ascii_alphanumeric() || matches!(b[we], b'#' | b'\'' | b'-'))
        {
            we += 1;
        }
        // A period after an abbreviation (`st.`) stays inside the address.
        let dot = b.get(we) == Some(&b'.')
            && we - ws <= 4
            && b[ws..we].iter().all(u8::is_ascii_alphabetic);
        if we == ws {
            return None;
        }
        let w = &b[ws..we];
        // Five digits after `#` or a unit word are the unit (`st # 25366`, `unit 17771`).
        if words >= 2
            && !unit_prev
            && let Some(z) = zip(b, ws)
        {
            let ok = match cue {
                Some(true) => true,
                Some(false) => typed,
                None => prev_state,
            };
            // A European postcode and its town (`75007 Paris`), or a US ZIP and a country.
            return ok.then(|| match country_after(b, z) {
                c if c > z => c,
                _ => country_after(b, postcode_town(t, ws).map_or(z, |e| line_tail(t, e))),
            });
        }
        let state = w.len() == 2 && state_code_ci(w[0], w[1]);
        // A period ends the clause only before the end, a line break or a capital: `3rd fl.
        // west palm beach` goes on.
        let clause_end = match b.get(we) {
            None => true,
            Some(b'.') => {
                b.get(we + 1).is_none_or(|c| *c != b' ')
                    || b.get(we + 2).is_none_or(|c| !c.is_ascii_lowercase())
            }
            Some(c) => matches!(c, b',' | b';' | b'!' | b'?' | b'\n' | b'\r'),
        };
        if state && words >= 3 && clause_end && (cue == Some(true) || cue.is_some() && typed) {
            // A ZIP after the state and its comma: `Rochester, NY, 14612`.
            let after = we + usize::from(b.get(we) == Some(&b','));
            return Some(zip_after(b, after).map_or(we, |z| country_after(b, z)));
        }
        typed |= w.len() > 1 && in_list_ascii(w, STREET_TYPES, STREET_FILTER);
        unit_prev = w == b"#"
            || [
                &b"apt"[..],
                b"unit",
                b"ste",
                b"suite",
                b"spc",
                b"room",
                b"box",
                b"lockbox",
            ]
            .iter()
            .any(|u| w.eq_ignore_ascii_case(u));
        prev_state = state && words >= 3;
        p = we + usize::from(dot);
    }
    None
}

/// A space and a ZIP (`35967`, `91786-0000`) at `p`: its end.
fn zip_after(b: &[u8], p: usize) -> Option<usize> {
    (b.get(p) == Some(&b' ')).then(|| zip(b, p + 1)).flatten()
}

/// A 5-digit ZIP or postcode at `p`, with an optional `-1234` (ZIP+4), standing alone: its end.
fn zip(b: &[u8], p: usize) -> Option<usize> {
    let digits = b[p.min(b.len())..]
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits != 5 {
        return None;
    }
    let mut e = p + 5;
    if b.get(e) == Some(&b'-') && b.len() >= e + 5 && b[e + 1..e + 5].iter().all(u8::is_ascii_digit)
    {
        e += 5;
    }
    b.get(e)
        .is_none_or(|c| !c.is_ascii_alphanumeric())
        .then_some(e)
}

/// A one-letter compass direction (or `NE`/`NW`/`SE`/`SW`) and the space after it: the end.
fn direction_at(b: &[u8], p: usize) -> Option<usize> {
    let one = matches!(b.get(p), Some(b'N' | b'S' | b'E' | b'W'));
    if !one {
        return None;
    }
    match (b.get(p + 1), b.get(p + 2)) {
        (Some(b' '), _) => Some(p + 2),
        (Some(b'.'), Some(b' ')) => Some(p + 3),
        (Some(b'E' | b'W'), Some(b' ')) if matches!(b[p], b'N' | b'S') => Some(p + 3),
        _ => None,
    }
}

/// An ordinal street name: `47th`, `3rd`, `101st`.
fn ordinal_at(b: &[u8], p: usize) -> Option<Word> {
    let d = b[p.min(b.len())..]
        .iter()
        .take(5)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if d == 0 || d > 4 || p + d + 2 > b.len() {
        return None;
    }
    let suffix = &b[p + d..p + d + 2];
    let ok = [&b"st"[..], b"nd", b"rd", b"th"]
        .iter()
        .any(|x| suffix.eq_ignore_ascii_case(x));
    let e = p + d + 2;
    (ok && (e >= b.len() || !b[e].is_ascii_alphanumeric())).then_some(Word { s: p, e })
}

/// A unit or box after a street (`, Suite 102`, ` Ste. 300`, ` #31A`, ` Apt 4B`, ` P.O. Box
/// 472`): the end of it.
#[inline(never)]
fn unit_tail(b: &[u8], e: usize) -> Option<usize> {
    let p = comma_space(b, e)?;
    let rest = &b[p..];
    // `6th Floor`, `2nd Fl`: an ordinal floor.
    let d = rest
        .iter()
        .take(3)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if d > 0 {
        let r = &rest[d..];
        let ordinal = [&b"st "[..], b"nd ", b"rd ", b"th "]
            .iter()
            .any(|o| r.len() >= 3 && r[..3].eq_ignore_ascii_case(o));
        if ordinal {
            let w = &r[3..];
            const FLOORS: &[&[u8]] = &[b"Floor", b"Fl", b"FLOOR", b"FL"];
            let floor = FLOORS.iter().find(|f| {
                w.starts_with(f) && w.get(f.len()).is_none_or(|c| !c.is_ascii_alphanumeric())
            });
            if let Some(f) = floor {
                return Some(p + d + 3 + f.len());
            }
        }
        return None;
    }
    let mut q = if rest.first() == Some(&b'#') {
        p + 1
    } else if let Some(z) = po_box(b, p) {
        return Some(z);
    } else {
        let w = rest
            .iter()
            .take(10)
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        // Any case (`4 Devonshire Ct apt 222`): a street is already behind it.
        if !UNIT_WORDS
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&rest[..w]))
        {
            return None;
        }
        let mut q = p + w;
        if b.get(q) == Some(&b'.') {
            q += 1;
        }
        if b.get(q) != Some(&b' ') {
            return None;
        }
        // `Apt #3b`
        if b.get(q + 1) == Some(&b'#') {
            q + 2
        } else {
            q + 1
        }
    };
    let s = q;
    while q < b.len() && q - s < 6 && (b[q].is_ascii_alphanumeric() || b[q] == b'-') {
        q += 1;
    }
    // A unit number, or one capital letter (`Suite A`).
    let id = &b[s..q];
    (q > s
        && (id.iter().any(u8::is_ascii_digit) || id.len() == 1 && id[0].is_ascii_uppercase())
        && (q >= b.len() || !b[q].is_ascii_alphanumeric()))
    .then_some(q)
}

/// The heads of a post-office box, compared in any case; a space or none before the number.
/// Besides the post office's own: a bank's lockbox, a rural route, and the Dutch, German and
/// Spanish names (`Postbus 123`, `Postfach 1024`, `Apartado de Correos 45`).
const PO_BOX_HEADS: &[&[u8]] = &[
    b"P.O. Box",
    b"P.O.Box",
    b"PO Box",
    b"P O Box",
    b"POBox",
    b"Lockbox",
    b"Lock Box",
    b"Rural Route",
    b"Postbus",
    b"Postfach",
    b"Apartado de Correos",
];

/// A post-office box: `PO Box 123`, `P.O. Box 472`, `P O Box 9`, `POBox 53485`, `po box108`;
/// the end.
#[inline(never)]
fn po_box(b: &[u8], p: usize) -> Option<usize> {
    let r = &b[p.min(b.len())..];
    // This runs at every capital `P`: a word whose first two letters start no head (`Pl`,
    // `Pe`) is rejected before any head is compared.
    let (&c0, &c1) = (r.first()?, r.get(1)?);
    let (c0, c1) = (c0.to_ascii_uppercase(), c1.to_ascii_uppercase());
    if !matches!(
        (c0, c1),
        (b'P', b'.' | b'O' | b' ') | (b'L', b'O') | (b'R', b'U') | (b'A', b'P')
    ) {
        return None;
    }
    let head = PO_BOX_HEADS
        .iter()
        .find(|h| h[0] == c0 && r.len() > h.len() && r[..h.len()].eq_ignore_ascii_case(h))?;
    let mut s = p + head.len();
    if b.get(s) == Some(&b' ') {
        s += 1;
    }
    let d = b[s..]
        .iter()
        .take(8)
        .take_while(|c| c.is_ascii_digit())
        .count();
    let mut e = s + d;
    if !(1..=7).contains(&d) || e < b.len() && b[e].is_ascii_alphanumeric() {
        return None;
    }
    match head[0] {
        // A lockbox number runs to three digits or more (`lockbox 3` is a thing in software).
        b'L' if d < 3 => return None,
        // A rural route is an address with its box: `Rural Route 1 Box 12`.
        b'R' => {
            if !b
                .get(e..e + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case(b" box "))
            {
                return None;
            }
            let d = b[e + 5..]
                .iter()
                .take(6)
                .take_while(|c| c.is_ascii_digit())
                .count();
            if !(1..=5).contains(&d) || b.get(e + 5 + d).is_some_and(u8::is_ascii_alphanumeric) {
                return None;
            }
            e += 5 + d;
        }
        _ => {}
    }
    // A US town, state and ZIP after the box, in any case (`box 1 louisville il 62858`).
    Some(town_state_zip(b, e).unwrap_or(e))
}

/// A US town, state code and ZIP from `p`, in any case: up to four words of letters, each after
/// one space (a comma before it allowed), then the state and its ZIP. The end of the ZIP.
fn town_state_zip(b: &[u8], mut p: usize) -> Option<usize> {
    for _ in 0..5 {
        if b.get(p) == Some(&b',') {
            p += 1;
        }
        if b.get(p) != Some(&b' ') {
            return None;
        }
        let ws = p + 1;
        let len = b[ws..]
            .iter()
            .take(24)
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if len == 0 {
            return None;
        }
        if len == 2
            && state_code_ci(b[ws], b[ws + 1])
            && let Some(z) = zip_after(b, ws + 2)
        {
            return Some(z);
        }
        p = ws + len;
    }
    None
}

/// The start of a post-office box head in lower case that ends right before the number at `i`
/// (`hey p.o. box 234234`): capitals start one at the `P` already.
fn po_box_before(b: &[u8], i: usize) -> Option<usize> {
    let gap = usize::from(i > 0 && b[i - 1] == b' ');
    let end = i - gap;
    let last = b.get(end.wrapping_sub(1))? | 0x20;
    if !matches!(last, b'x' | b'e' | b's' | b'h') {
        return None;
    }
    // Only the heads that end in these two letters are compared (`the 3`, `has 2` end in
    // `e` and `s`, as `Rural Route` and `Postbus` do).
    let before_last = b.get(end.wrapping_sub(2)).map_or(0, |c| c | 0x20);
    PO_BOX_HEADS.iter().find_map(|h| {
        if h[h.len() - 1] | 0x20 != last || h[h.len() - 2] | 0x20 != before_last {
            return None;
        }
        let s = end.checked_sub(h.len())?;
        (b[s..end].eq_ignore_ascii_case(h) && (s == 0 || !b[s - 1].is_ascii_alphanumeric()))
            .then_some(s)
    })
}

/// The UK postcode areas (the letters that start a postcode).
const UK_AREAS: &[&[u8]] = &[
    b"AB", b"AL", b"B", b"BA", b"BB", b"BD", b"BH", b"BL", b"BN", b"BR", b"BS", b"BT", b"BX",
    b"CA", b"CB", b"CF", b"CH", b"CM", b"CO", b"CR", b"CT", b"CV", b"CW", b"DA", b"DD", b"DE",
    b"DG", b"DH", b"DL", b"DN", b"DT", b"DY", b"E", b"EC", b"EH", b"EN", b"EX", b"FK", b"FY", b"G",
    b"GL", b"GU", b"GY", b"HA", b"HD", b"HG", b"HP", b"HR", b"HS", b"HU", b"HX", b"IG", b"IM",
    b"IP", b"IV", b"JE", b"KA", b"KT", b"KW", b"KY", b"L", b"LA", b"LD", b"LE", b"LL", b"LN",
    b"LS", b"LU", b"M", b"ME", b"MK", b"ML", b"N", b"NE", b"NG", b"NN", b"NP", b"NR", b"NW", b"OL",
    b"OX", b"PA", b"PE", b"PH", b"PL", b"PO", b"PR", b"RG", b"RH", b"RM", b"S", b"SA", b"SE",
    b"SG", b"SK", b"SL", b"SM", b"SN", b"SO", b"SP", b"SR", b"SS", b"ST", b"SW", b"SY", b"TA",
    b"TD", b"TF", b"TN", b"TQ", b"TR", b"TS", b"TW", b"UB", b"W", b"WA", b"WC", b"WD", b"WF",
    b"WN", b"WR", b"WS", b"WV", b"YO", b"ZE",
];

/// A UK outward code alone (`E10`, `SW1A`, `M25`) of a real postcode area, as the last part of
/// an address: its end.
fn uk_outward_at(b: &[u8], p: usize) -> Option<usize> {
    let r = b.get(p..)?;
    let letters = r
        .iter()
        .take(2)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    let digits = r[letters..]
        .iter()
        .take(2)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if letters == 0 || digits == 0 || !UK_AREAS.contains(&&r[..letters]) {
        return None;
    }
    let mut e = p + letters + digits;
    if digits == 1 && b.get(e).is_some_and(u8::is_ascii_uppercase) {
        e += 1;
    }
    b.get(e)
        .is_none_or(|c| !c.is_ascii_alphanumeric())
        .then_some(e)
}

/// A UK postcode standing alone (`BX1 1LT`): upper case with its space, and the area, inward
/// letter and unit rules of [`uk_postcode_loose`].
#[inline(never)]
fn uk_postcode_alone(b: &[u8], p: usize) -> Option<usize> {
    let e = uk_postcode(b, p)?;
    (uk_postcode_loose(b, p) == Some(e)).then_some(e)
}

/// Street suffixes of USPS Publication 28 (Appendix C1), lower case. Many are also ordinary
/// words (`views`, `fall`, `keys`), so they count only in the lines before a postcode.
const USPS_SUFFIXES: &[&str] = &[
    "alley",
    "anex",
    "arcade",
    "avenue",
    "bayou",
    "beach",
    "bend",
    "bluff",
    "bluffs",
    "bottom",
    "boulevard",
    "branch",
    "bridge",
    "brook",
    "brooks",
    "burg",
    "burgs",
    "bypass",
    "camp",
    "canyon",
    "cape",
    "causeway",
    "center",
    "centers",
    "circle",
    "circles",
    "cliff",
    "cliffs",
    "club",
    "common",
    "commons",
    "corner",
    "corners",
    "course",
    "court",
    "courts",
    "cove",
    "coves",
    "creek",
    "crescent",
    "crest",
    "crossing",
    "crossroad",
    "crossroads",
    "curve",
    "dale",
    "dam",
    "divide",
    "drive",
    "drives",
    "estate",
    "estates",
    "expressway",
    "extension",
    "extensions",
    "fall",
    "falls",
    "ferry",
    "field",
    "fields",
    "flat",
    "flats",
    "ford",
    "fords",
    "forest",
    "forge",
    "forges",
    "fork",
    "forks",
    "fort",
    "freeway",
    "garden",
    "gardens",
    "gateway",
    "glen",
    "glens",
    "green",
    "greens",
    "grove",
    "groves",
    "harbor",
    "harbors",
    "haven",
    "heights",
    "highway",
    "hill",
    "hills",
    "hollow",
    "inlet",
    "island",
    "islands",
    "isle",
    "junction",
    "junctions",
    "key",
    "keys",
    "knoll",
    "knolls",
    "lake",
    "lakes",
    "land",
    "landing",
    "lane",
    "light",
    "lights",
    "loaf",
    "lock",
    "locks",
    "lodge",
    "loop",
    "mall",
    "manor",
    "manors",
    "meadow",
    "meadows",
    "mews",
    "mill",
    "mills",
    "mission",
    "motorway",
    "mount",
    "mountain",
    "mountains",
    "neck",
    "orchard",
    "oval",
    "overpass",
    "park",
    "parks",
    "parkway",
    "parkways",
    "pass",
    "passage",
    "path",
    "pike",
    "pine",
    "pines",
    "place",
    "plain",
    "plains",
    "plaza",
    "point",
    "points",
    "port",
    "ports",
    "prairie",
    "radial",
    "ramp",
    "ranch",
    "rapid",
    "rapids",
    "rest",
    "ridge",
    "ridges",
    "river",
    "road",
    "roads",
    "route",
    "row",
    "rue",
    "run",
    "shoal",
    "shoals",
    "shore",
    "shores",
    "skyway",
    "spring",
    "springs",
    "spur",
    "spurs",
    "square",
    "squares",
    "station",
    "stravenue",
    "stream",
    "street",
    "streets",
    "summit",
    "terrace",
    "throughway",
    "trace",
    "track",
    "trafficway",
    "trail",
    "trailer",
    "tunnel",
    "turnpike",
    "underpass",
    "union",
    "unions",
    "valley",
    "valleys",
    "viaduct",
    "view",
    "views",
    "village",
    "villages",
    "ville",
    "vista",
    "walk",
    "walks",
    "wall",
    "way",
    "ways",
    "well",
    "wells",
    "close",
    "gate",
    "side",
    "end",
    "upon",
];
const USPS_FILTER: u128 = list_filter(USPS_SUFFIXES);

/// Capitalised words that lead up to an address without being part of it.
const HEAD_STOP: &[&str] = &[
    "hi",
    "hello",
    "dear",
    "thanks",
    "thank",
    "please",
    "send",
    "ship",
    "deliver",
    "post",
    "mail",
    "address",
    "to",
    "at",
    "in",
    "from",
    "my",
    "our",
    "the",
    "is",
    "i",
    "we",
    "me",
    "us",
    "re",
    "attn",
    "billing",
    "shipping",
    "delivery",
    "and",
    "or",
    "it",
    "this",
    "that",
    "for",
    "of",
    "on",
    "a",
    "an",
    "yes",
    "no",
    "ok",
    "sure",
    "live",
    "lives",
    "moved",
    "near",
    "team",
    "all",
    "everyone",
    "customer",
    "sir",
    "madam",
    "support",
    "guys",
    "folks",
    "regards",
    "cheers",
    "best",
    "sincerely",
    "office",
    "sent",
];
const HEAD_STOP_FILTER: u128 = list_filter(HEAD_STOP);

/// How far the lines before a postcode are followed back, in bytes and words.
const HEAD_MAX_BYTES: usize = 160;
const HEAD_MAX_WORDS: usize = 12;

/// The lines and words before a UK postcode that belong to its address (`4 Paula views\nLake
/// Howardburgh\nN7U 2FQ`, `79 Miller branch, Jordantown, W1F 3LB`): capitalised words, house and
/// flat numbers and street suffixes, back to the first other word, at most
/// [`HEAD_MAX_BYTES`] and never before `floor`. The start, or `s`.
#[inline(never)]
fn head_before(t: &str, s: usize, floor: usize) -> usize {
    let b = t.as_bytes();
    let lo = floor.max(s.saturating_sub(HEAD_MAX_BYTES));
    let mut start = s;
    let mut breaks = 0;
    for _ in 0..HEAD_MAX_WORDS {
        // The separator: one space inside a line; a comma, a line break or both between parts.
        let mut p = start;
        let mut spaces = 0;
        while p > lo && b[p - 1] == b' ' && spaces < 4 {
            p -= 1;
            spaces += 1;
        }
        let mut hard = false;
        if p > lo && b[p - 1] == b'\n' {
            p -= 1;
            hard = true;
            if p > lo && b[p - 1] == b'\r' {
                p -= 1;
            }
            while p > lo && b[p - 1] == b' ' && start - p < 8 {
                p -= 1;
            }
        }
        if p > lo && b[p - 1] == b',' {
            p -= 1;
            hard = true;
        }
        if hard {
            breaks += 1;
            if breaks > 4 {
                break;
            }
        } else if spaces != 1 {
            break;
        }
        // The word before it, which must start after a separator.
        let mut ws = p;
        while ws > lo
            && p - ws < 24
            && (b[ws - 1].is_ascii_alphanumeric()
                || matches!(b[ws - 1], b'\'' | b'-' | b'.' | b'/' | b'#')
                || b[ws - 1] >= 0x80)
        {
            ws -= 1;
        }
        let bounded = ws == 0 || matches!(b[ws - 1], b' ' | b'\n' | b',' | b'\t' | b'\r');
        if ws == p || !bounded || ws < lo || !t.is_char_boundary(ws) {
            break;
        }
        let w = &t[ws..p];
        let w = w.strip_suffix('.').unwrap_or(w);
        if !head_word(w) {
            break;
        }
        start = ws;
    }
    start
}

/// A word that may stand in the lines of an address before its postcode.
fn head_word(w: &str) -> bool {
    let Some(first) = w.chars().next() else {
        return false;
    };
    let number = |r: &str| {
        r.len() <= 8
            && r.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'/')
    };
    if first.is_ascii_digit() {
        // A house or flat number: `4`, `98R`, `11-59`, `1/2`.
        return number(w);
    }
    if let Some(rest) = w.strip_prefix('#') {
        // A unit: `#3b`, `# 2`.
        return number(rest);
    }
    if w.bytes().any(|c| c.is_ascii_digit()) {
        // A grid number (`W210 N16570`): one capital, then digits.
        return first.is_ascii_uppercase()
            && w.len() <= 7
            && w.bytes().skip(1).all(|c| c.is_ascii_digit());
    }
    if w.contains(['/', '#']) {
        return false;
    }
    if first.is_uppercase() {
        return !in_list_ci(w, HEAD_STOP, HEAD_STOP_FILTER);
    }
    // Name particles inside a street name (`Carrer d'Aragó`, `Rua da Prata`, `Am Falkplatz`).
    if let Some(rest) = w.strip_prefix("d'").or_else(|| w.strip_prefix("l'")) {
        return rest.starts_with(|c: char| c.is_uppercase());
    }
    matches!(
        w,
        "de" | "la" | "del" | "der" | "den" | "van" | "von" | "du" | "des" | "da" | "do" | "dos"
    ) || in_list_ci(w, USPS_SUFFIXES, USPS_FILTER)
        || in_list_ci(w, STREET_TYPES, STREET_FILTER)
}

/// A US state or Canadian province code and its ZIP or postal code (`NY 10036`, `BC V3S 8E5`):
/// the end.
fn state_zip(b: &[u8], p: usize) -> Option<usize> {
    let e = state_code_at(b, p)?;
    if b.get(e) != Some(&b' ') {
        return None;
    }
    zip_after(b, e).or_else(|| ca_postcode(b, e + 1))
}

/// A 5-digit or Dutch postcode at `p` and the capitalised town after it (`10437 Berlin`,
/// `1015 CJ Amsterdam`): the end of the town.
fn postcode_town(t: &str, p: usize) -> Option<usize> {
    let b = t.as_bytes();
    let z = postcode(b, p)?;
    if z - p < 5 || b.get(z) != Some(&b' ') {
        return None;
    }
    let w = cap_word_at(t, z + 1)?;
    Some(second_town_word(t, w.e).unwrap_or(w.e))
}

/// A town's second capitalised word after its first (ending at `e`), taken only where the
/// clause ends after it (`90210 Beverly Hills`, not `75007 Paris Merci beaucoup`): its end.
fn second_town_word(t: &str, e: usize) -> Option<usize> {
    let b = t.as_bytes();
    if b.get(e) != Some(&b' ') {
        return None;
    }
    let w = cap_word_at(t, e + 1)?;
    b.get(w.e)
        .is_none_or(|c| matches!(c, b',' | b'.' | b'\n' | b'\r' | b';' | b'!' | b'?'))
        .then_some(w.e)
}

/// A house number right before the postcode at `p` (`5, 10437`, `155 08011`), after `floor`.
fn number_before(b: &[u8], p: usize, floor: usize) -> bool {
    let mut q = p;
    for _ in 0..2 {
        if q > floor && matches!(b[q - 1], b' ' | b',' | b'\n') {
            q -= 1;
        }
    }
    if q == p || q <= floor {
        return false;
    }
    // One letter after the digits (`155a`), then 1-5 digits after a space.
    if b[q - 1].is_ascii_alphabetic() {
        q -= 1;
    }
    let d = b[floor..q]
        .iter()
        .rev()
        .take(6)
        .take_while(|c| c.is_ascii_digit())
        .count();
    (1..=5).contains(&d) && q - d > floor && b[q - d - 1] == b' '
}

/// Countries that may end an address, as written after its postcode.
const COUNTRIES: &[&[u8]] = &[
    b"UK",
    b"GB",
    b"United Kingdom",
    b"Great Britain",
    b"England",
    b"Scotland",
    b"Wales",
    b"Cymru",
    b"Northern Ireland",
    b"USA",
    b"United States",
    b"Canada",
    b"France",
    b"Germany",
    b"Deutschland",
    b"The Netherlands",
    b"Netherlands",
    b"Nederland",
    b"Spain",
    b"Espa\xc3\xb1a",
];

/// A country after a postcode (`, Cymru`, `\nUnited Kingdom`): the end, or `e`.
fn country_after(b: &[u8], e: usize) -> usize {
    let mut p = e;
    if b.get(p) == Some(&b',') {
        p += 1;
    }
    match b.get(p) {
        Some(b' ') => p += 1,
        Some(b'\n') => p += 1,
        Some(b'\r') if b.get(p + 1) == Some(&b'\n') => p += 2,
        _ => return e,
    }
    let r = &b[p..];
    COUNTRIES
        .iter()
        .find(|c| r.starts_with(c) && r.get(c.len()).is_none_or(|n| !n.is_ascii_alphanumeric()))
        .map_or(e, |c| p + c.len())
}

/// Lines after an address that continue it: a line that is a postcode, a town then a
/// postcode, or a town followed by a postcode line (`\nEast Finchley London\nN2 8AW`), and a
/// country line after a postcode. The end, or `e`.
#[inline(never)]
fn line_tail(t: &str, mut e: usize) -> usize {
    let b = t.as_bytes();
    let line_end = |p: usize| p >= b.len() || matches!(b[p], b'\n' | b'\r' | b',');
    let next_line = |e: usize| {
        let mut p = e;
        if b.get(p) == Some(&b',') {
            p += 1;
        }
        if b.get(p) == Some(&b'\r') {
            p += 1;
        }
        (b.get(p) == Some(&b'\n')).then(|| {
            let mut q = p + 1;
            while q < b.len() && q - p < 8 && b[q] == b' ' {
                q += 1;
            }
            q
        })
    };
    // A postcode alone on its line, or followed by its town (`75007 Paris`, `1017 CD Amsterdam`).
    let postcode_line = |p: usize| {
        let z = postcode(b, p).or_else(|| ca_postcode(b, p))?;
        if line_end(z) {
            return Some(z);
        }
        let mut q = z;
        for _ in 0..3 {
            let w = (b.get(q) == Some(&b' '))
                .then(|| cap_word_at(t, q + 1))
                .flatten()?;
            q = w.e;
            if line_end(q) {
                return Some(q);
            }
        }
        None
    };
    let mut postcoded = false;
    for _ in 0..3 {
        let Some(p) = next_line(e) else {
            break;
        };
        if let Some(z) = postcode_line(p) {
            e = z;
            postcoded = true;
            continue;
        }
        // A country after the postcode.
        if postcoded {
            if let Some(c) = COUNTRIES
                .iter()
                .find(|c| b[p..].starts_with(c) && line_end(p + c.len()))
            {
                e = p + c.len();
            }
            break;
        }
        // Town words, then a postcode on the same line or the next.
        let mut q = p;
        let mut words = 0;
        while words < 3 {
            let Some(w) = cap_word_at(t, q) else {
                break;
            };
            q = w.e;
            words += 1;
            if b.get(q) != Some(&b' ') || cap_word_at(t, q + 1).is_none() {
                break;
            }
            q += 1;
        }
        if words == 0 {
            break;
        }
        let same_line = b
            .get(q)
            .filter(|c| **c == b' ' || **c == b',')
            .and_then(|_| {
                // `, N2 8AW` or ` N2 8AW`.
                let mut r = q + usize::from(b[q] == b',');
                if b.get(r) == Some(&b' ') {
                    r += 1;
                }
                postcode_line(r)
            });
        if let Some(z) = same_line {
            e = z;
            postcoded = true;
            continue;
        }
        if line_end(q)
            && let Some(z) = next_line(q).and_then(postcode_line)
        {
            e = z;
            postcoded = true;
            continue;
        }
        break;
    }
    e
}

/// A Canadian postal code standing alone (`T2P 1H3`): upper case with its space, and only the
/// letters Canada Post uses ([`ca_postcode_loose`]).
fn ca_postcode_alone(b: &[u8], p: usize) -> Option<usize> {
    let e = ca_postcode(b, p)?;
    (e == p + 7 && ca_postcode_loose(b, p) == Some(e)).then_some(e)
}

/// Words that name a unit of a building (`Suite 200`, `Apt. 4B`, `Flat 3`).
const UNIT_WORDS: &[&[u8]] = &[
    b"Suite",
    b"Ste",
    b"Unit",
    b"Apt",
    b"Apartment",
    b"Bldg",
    b"Building",
    b"Floor",
    b"Fl",
    b"Room",
    b"Rm",
    b"Flat",
    b"SUITE",
    b"STE",
    b"UNIT",
    b"APT",
];

/// A unit written before the street, with its comma (`Apt 4B, 12 High Street`, `Flat 2/1, 45
/// Byres Road`): where it starts, not before `floor`.
fn unit_before(b: &[u8], s: usize, floor: usize) -> Option<usize> {
    let head = b.get(floor..s)?;
    let head = head.strip_suffix(b", ")?;
    let id_len = head
        .iter()
        .rev()
        .take(7)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'/'))
        .count();
    let (rest, id) = head.split_at(head.len() - id_len);
    if !(id.iter().any(u8::is_ascii_digit) || id.len() == 1 && id[0].is_ascii_uppercase())
        || !id.first().is_some_and(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    let rest = rest.strip_suffix(b"#").unwrap_or(rest);
    let rest = rest.strip_suffix(b" ")?;
    let rest = rest.strip_suffix(b".").unwrap_or(rest);
    let word = UNIT_WORDS.iter().find(|w| rest.ends_with(w))?;
    let start = rest.len() - word.len();
    (start == 0 || !rest[start - 1].is_ascii_alphanumeric()).then_some(floor + start)
}

/// A UK or Canadian postcode in any case, its space optional (`sw1a 1aa`, `SW1A1AA`, `M25DB`,
/// `t2p1h3`): only where an address or a postcode cue says one follows. Its end.
pub(crate) fn postcode_loose(b: &[u8], p: usize) -> Option<usize> {
    uk_postcode_loose(b, p).or_else(|| ca_postcode_loose(b, p))
}

fn uk_postcode_loose(b: &[u8], p: usize) -> Option<usize> {
    let r = b.get(p..)?;
    let letters = r
        .iter()
        .take(2)
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let area = [
        r.first()?.to_ascii_uppercase(),
        r.get(1).map_or(0, u8::to_ascii_uppercase),
    ];
    if letters == 0
        || !UK_AREAS.contains(&&area[..letters])
        || !r.get(letters).is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    // The outward code ends after its digit or one more digit or letter; the inward code is a
    // digit and two letters, never C I K M O V; sizes and units (`M2 8GB`, `B1 4TB`) have a
    // postcode's shape.
    let inward = |k: usize| -> Option<usize> {
        let k = if r.get(k) == Some(&b' ') { k + 1 } else { k };
        let w = r.get(k..k + 3)?;
        let ok = w[0].is_ascii_digit()
            && w[1..]
                .iter()
                .all(|c| c.is_ascii_alphabetic() && !b"CIKMOV".contains(&c.to_ascii_uppercase()))
            && !matches!(
                [w[1].to_ascii_uppercase(), w[2].to_ascii_uppercase()],
                [b'G' | b'T' | b'P', b'B'] | [b'H', b'Z']
            )
            && r.get(k + 3).is_none_or(|c| !c.is_ascii_alphanumeric());
        ok.then_some(p + k + 3)
    };
    let d = letters + 1;
    r.get(d)
        .filter(|c| c.is_ascii_alphanumeric())
        .and_then(|_| inward(d + 1))
        .or_else(|| inward(d))
}

/// Canada Post's letters: no D F I O Q U, and no W or Z first.
fn ca_postcode_loose(b: &[u8], p: usize) -> Option<usize> {
    let r = b.get(p..)?;
    let letter = |c: &u8| c.is_ascii_alphabetic() && !b"DFIOQU".contains(&c.to_ascii_uppercase());
    let digit = u8::is_ascii_digit;
    let head = r.get(..3)?;
    if !(letter(&head[0])
        && !matches!(head[0].to_ascii_uppercase(), b'W' | b'Z')
        && digit(&head[1])
        && letter(&head[2]))
    {
        return None;
    }
    let k = if r.get(3) == Some(&b' ') { 4 } else { 3 };
    let w = r.get(k..k + 3)?;
    (digit(&w[0])
        && letter(&w[1])
        && digit(&w[2])
        && r.get(k + 3).is_none_or(|c| !c.is_ascii_alphanumeric()))
    .then_some(p + k + 3)
}

/// A Canadian postal code: `T2P 1H3`, `L1W3E6`.
fn ca_postcode(b: &[u8], p: usize) -> Option<usize> {
    let r = &b[p.min(b.len())..];
    let ok3 = |x: &[u8]| {
        x.len() == 3
            && x[0].is_ascii_uppercase()
            && x[1].is_ascii_digit()
            && x[2].is_ascii_uppercase()
    };
    let ok3b = |x: &[u8]| {
        x.len() == 3 && x[0].is_ascii_digit() && x[1].is_ascii_uppercase() && x[2].is_ascii_digit()
    };
    if r.len() < 6 || !ok3(&r[..3]) {
        return None;
    }
    let s2 = if r[3] == b' ' { 4 } else { 3 };
    let e = s2 + 3;
    (r.len() >= e && ok3b(&r[s2..e]) && (r.len() == e || !r[e].is_ascii_alphanumeric()))
        .then_some(p + e)
}

/// `Hauptstraße 5`, `Keizersgracht 123`, `Calle Mayor 10`, `Avenida de América, 25`.
fn compound_or_es(t: &str, s: usize) -> Option<usize> {
    let b = t.as_bytes();
    let w = cap_word_at(t, s)?;
    let mut we = w.e;
    if b.get(we) == Some(&b'.') {
        we += 1;
    }
    let word = &t[s..we];
    // ES: street type first, then the name, then the number.
    if in_list_ci(word, ES_TYPES, ES_FILTER) || t[s..].starts_with("C/") {
        let mut e = if t[s..].starts_with("C/") { s + 2 } else { we };
        let mut named = false;
        for _ in 0..5 {
            let mut p = e;
            if b.get(p) == Some(&b',') {
                p += 1;
            }
            if b.get(p) != Some(&b' ')
                && !(p == s + 2 && !named && b.get(p).is_some_and(u8::is_ascii_uppercase))
            {
                break;
            }
            if b.get(p) == Some(&b' ') {
                p += 1;
            }
            if named && let Some(n) = house_number(b, p) {
                return Some(n);
            }
            let ws = p;
            let lim = (ws + 40).min(b.len());
            let we2 = (ws..lim)
                .find(|&k| !(b[k].is_ascii_alphabetic() || b[k] >= 0x80))
                .unwrap_or(lim);
            if we2 == ws || !t.is_char_boundary(we2) {
                break;
            }
            let word = &t[ws..we2];
            if word.starts_with(|c: char| c.is_uppercase()) {
                named = true;
            } else if !matches!(word, "de" | "del" | "la" | "los" | "las" | "el") {
                break;
            }
            e = we2;
        }
        return None;
    }
    // DE: a name, then the street word on its own, then the number (`Genter Straße 16a`,
    // `Karl-Marx-Allee`'s spaced form `Karl Marx Allee 12`).
    if b.get(we) == Some(&b' ')
        && let Some(w2) = cap_word_at(t, we + 1)
        && b.get(w2.e) == Some(&b' ')
        && b.get(w2.e + 1).is_some_and(u8::is_ascii_digit)
        && [
            "Straße", "Strasse", "Weg", "Allee", "Platz", "Gasse", "Chaussee", "Damm", "Ufer",
        ]
        .contains(&&t[w2.s..w2.e])
    {
        return house_number(b, w2.e + 1);
    }
    // DE/NL: compound street name + number (which starts with a digit after one space).
    if b.get(we) != Some(&b' ') || !b.get(we + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let compound = if word.is_ascii() {
        COMPOUND_SUFFIXES.iter().any(|suf| {
            word.len() > suf.len() + 2
                && word.as_bytes()[word.len() - suf.len()..].eq_ignore_ascii_case(suf.as_bytes())
        })
    } else {
        let lw = word.to_lowercase();
        COMPOUND_SUFFIXES
            .iter()
            .any(|suf| lw.ends_with(suf) && lw.len() > suf.len() + 2)
    };
    if compound {
        return house_number(b, we + 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinyin_tables_are_sorted_and_lower_case() {
        // `pinyin_given` binary-searches the syllables; the lexicon stores family names as is.
        assert!(PINYIN.windows(2).all(|w| w[0] < w[1]));
        for w in PINYIN.iter().chain(CN_SURNAMES) {
            assert!(w.iter().all(u8::is_ascii_lowercase), "{w:?}");
        }
        assert!(pinyin_given("Xiaoming", 0));
        assert!(pinyin_given("Yusu", F_CN));
        // Not two syllables; too long; a word of the gazetteer.
        assert!(!pinyin_given("Sarah", 0));
        assert!(!pinyin_given("Zhangzhuangzhuang", 0));
        assert!(!pinyin_given("Xiaoming", F_FIRST));
    }

    #[test]
    fn list_filters_keep_every_entry() {
        for (list, f) in [
            (STREET_TYPES, STREET_FILTER),
            (FR_TYPES, FR_FILTER),
            (ES_TYPES, ES_FILTER),
        ] {
            for w in list {
                for v in [w.to_string(), w.to_ascii_uppercase(), {
                    let mut t = w.to_string();
                    t[..1].make_ascii_uppercase();
                    t
                }] {
                    assert!(in_list_ci(&v, list, f), "{v}");
                }
            }
            assert!(!in_list_ci("zzzzzzzzzzzzzzzzzzzz", list, f));
        }
    }

    #[test]
    fn skipped_lead_bytes_start_no_capital() {
        for (lo, hi) in NO_UPPER_LEADS {
            for cp in 0..=0x10FFFFu32 {
                let Some(ch) = char::from_u32(cp) else {
                    continue;
                };
                let mut buf = [0u8; 4];
                let lead = ch.encode_utf8(&mut buf).as_bytes()[0];
                if (lo..=hi).contains(&lead) {
                    assert!(!ch.is_uppercase(), "{cp:#x}");
                }
            }
        }
        for v in 0..=255u8 {
            let mut w = [b'a'; 8];
            w[3] = v;
            let m = cap_start_mask(u64::from_le_bytes(w));
            assert_eq!(m >> 31 & 1 == 1, CAP_START[v as usize], "{v:#x}");
            assert_eq!(m & !(0x80 << 24), 0, "{v:#x}");
        }
    }

    fn people(t: &str) -> Vec<&str> {
        let mut v = Vec::new();
        scan_people(t, t.is_ascii(), None, &mut v);
        v.iter()
            .map(|f| &t[f.start as usize..f.end as usize])
            .collect()
    }

    fn addresses(t: &str) -> Vec<&str> {
        let mut v = Vec::new();
        scan_addresses(t, &mut v);
        v.iter()
            .map(|f| &t[f.start as usize..f.end as usize])
            .collect()
    }

    #[test]
    fn person_table() {
        let pos: &[(&str, &str)] = &[
            (
                "Hi, my name is Sarah Connor and I need help",
                "Sarah Connor",
            ),
            ("Please call Michael Johnson tomorrow", "Michael Johnson"),
            ("Thanks,\nJennifer", "Jennifer"),
            ("Dear Mr. Okonkwo,", "Okonkwo"),
            (
                "I spoke with Priya Raghunathan yesterday",
                "Priya Raghunathan",
            ),
            ("Regards, José García", "José García"),
            ("Mark Thompson opened the ticket", "Mark Thompson"),
            ("Hi Will, thanks", "Will"),
            ("forwarded to Emily O'Brien", "Emily O'Brien"),
            ("Patient: Hans Müller, born 1961", "Hans Müller"),
            ("Cardholder: Maria Rossi", "Maria Rossi"),
            ("hi my name is john smith, order 5", "john smith"),
            ("my name's jennifer", "jennifer"),
        ];
        for (t, want) in pos {
            assert_eq!(people(t), vec![*want], "in {t:?}");
        }
        let neg = [
            "Will Brown be there in May?",
            "The Apple Watch and Microsoft Teams work on Monday",
            "Grace period ends in March",
            "Dear Customer, thanks",
            "We use GitHub Actions and AWS Lambda",
            "Hi Team, the New York office",
            "This is New Berlin.",
            "Mark the ticket as done",
            "Customer: Apple Watch is broken",
            "Recipient: Support Team",
            "my name is will and i need help",
            "the file name is report, the username is admin",
            "hostname is mark-01",
        ];
        for t in neg {
            assert!(people(t).is_empty(), "in {t:?}: {:?}", people(t));
        }
    }

    #[test]
    fn address_table() {
        let pos: &[(&str, &str)] = &[
            (
                "ship to 1600 Pennsylvania Ave NW, Washington, DC 20500 please",
                "1600 Pennsylvania Ave NW, Washington, DC 20500",
            ),
            (
                "I live at 221B Baker Street, London NW1 6XE.",
                "221B Baker Street, London NW1 6XE",
            ),
            (
                "Adresse: Hauptstraße 5, 10115 Berlin",
                "Hauptstraße 5, 10115 Berlin",
            ),
            (
                "12 rue de la Paix, 75002 Paris",
                "12 rue de la Paix, 75002 Paris",
            ),
            (
                "Keizersgracht 123, 1015 CJ Amsterdam",
                "Keizersgracht 123, 1015 CJ Amsterdam",
            ),
            (
                "Calle Mayor 10, 28013 Madrid",
                "Calle Mayor 10, 28013 Madrid",
            ),
            // A direction, an ordinal, a unit, a Canadian province and postal code.
            (
                "office: 810 E Western Ave, Suite 4B, Fresno, CA 93711",
                "810 E Western Ave, Suite 4B, Fresno, CA 93711",
            ),
            ("meet at 1 W 47th St, New York", "1 W 47th St, New York"),
            (
                "1730 McPherson Crt. Unit 35, Pickering, ON L1W 3E6",
                "1730 McPherson Crt. Unit 35, Pickering, ON L1W 3E6",
            ),
            ("50 Harry S Truman Parkway", "50 Harry S Truman Parkway"),
            // A box, alone or after a street; a postcode alone; lines that continue an address.
            ("write to PO Box 53485 please", "PO Box 53485"),
            (
                "354 Eisenhower Parkway P.O. Box 472",
                "354 Eisenhower Parkway P.O. Box 472",
            ),
            ("this is a BX1 1LT test", "BX1 1LT"),
            (
                "11-59 High Road\nEast Finchley London\nN2 8AW\nUK\nThanks",
                "11-59 High Road\nEast Finchley London\nN2 8AW\nUK",
            ),
            (
                "12 High Road\nManchester,M1 1AE\nThanks",
                "12 High Road\nManchester,M1 1AE",
            ),
            // A next line without a postcode is not part of the address.
            ("12 Main Street\nThanks for the help\nBob", "12 Main Street"),
            // The lines before a postcode: street suffixes in any case, flat numbers, a country.
            (
                "Post it to:\n17 Ashby views\nUpper Wroxley\nLS6 2QT\nCheers",
                "17 Ashby views\nUpper Wroxley\nLS6 2QT",
            ),
            (
                "to Flat 3C, 9 Corran fall, Kirkwell, KW15 1AB, Scotland.",
                "Flat 3C, 9 Corran fall, Kirkwell, KW15 1AB, Scotland",
            ),
            (
                "deliver to 12 HOLLIN OVERPASS\nBRAMLEY\nLS13 3JT\nUnited Kingdom",
                "12 HOLLIN OVERPASS\nBRAMLEY\nLS13 3JT\nUnited Kingdom",
            ),
            ("I moved to Leeds LS1 4AP last week", "Leeds LS1 4AP"),
            ("Hi Team,\nLS1 4AP is the depot", "LS1 4AP"),
            // A state and ZIP, or a house number and a postcode with its town, end an address
            // whose street has no type word.
            (
                "see 1585 Broadway, New York, NY 10036 today",
                "1585 Broadway, New York, NY 10036",
            ),
            ("in Austin, TX 78703.", "Austin, TX 78703"),
            (
                "at W210 N16570 Glencoe Ln Jackson, WI 53037, USA.",
                "W210 N16570 Glencoe Ln Jackson, WI 53037, USA",
            ),
            (
                "to Am Falkpl. 5, 10437 Berlin.",
                "Am Falkpl. 5, 10437 Berlin",
            ),
            (
                "en Carrer d'Aragó 155 08011 Barcelona",
                "Carrer d'Aragó 155 08011 Barcelona",
            ),
            (
                "to:\nGontardstraße 7\n10178 Berlin\nGermany\nThanks",
                "Gontardstraße 7\n10178 Berlin\nGermany",
            ),
            (
                "naar Brinkstraat 87, 7512EC Enschede",
                "Brinkstraat 87, 7512EC Enschede",
            ),
            // Any case, when the address runs to its state and ZIP.
            (
                "ship to 100 alabama avenue nw ft payne al 35967 before Monday",
                "100 alabama avenue nw ft payne al 35967",
            ),
            (
                "at 1950 n stemmons fwy ste 5010 lb # 842467 dallas tx 75207.",
                "1950 n stemmons fwy ste 5010 lb # 842467 dallas tx 75207",
            ),
        ];
        for (t, want) in pos {
            assert_eq!(addresses(t), vec![*want], "in {t:?}");
        }
        let neg = [
            "version 2 Street Fighter",
            "on 5 May we ship",
            "Ring 3 is done",
            "3 Main points",
            // Sizes with a postcode's shape, a direction and a word that is no street type, a
            // title with a number, a box without a number.
            "the M2 8GB model and the M3 16GB",
            "turn 2 E Main ways",
            "we saw 2 Jurassic Park films",
            "PO Box rental",
            // A state and ZIP after a lower-case word or a bare capitalised one, a postcode and a
            // capitalised word without a house number before them.
            "the NY 10036 office",
            "Flight CA 12345 departs",
            "Order 12345 Shipped today",
            "buy 12 main st ideas for texas",
        ];
        for t in neg {
            assert!(addresses(t).is_empty(), "in {t:?}: {:?}", addresses(t));
        }
    }
}
