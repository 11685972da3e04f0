//! SECRET detection: provider key prefixes, JWTs, PEM private keys, passwords in URLs, and
//! high-entropy values right after words such as key, token, secret or password.
//!
//! One case-sensitive Aho-Corasick searcher finds every anchor (prefixes and keywords) in a single
//! pass; each anchor then gets a small hand-written check. Keywords are listed in lower, Title and
//! UPPER case rather than matched case-insensitively: that keeps the pattern set small enough for
//! the SIMD (Teddy) prefilter, which is several times faster than an automaton over every byte.

use super::structured::is_word;
use super::validate::{is_uuid, shannon_entropy};
use super::{ENT_SECRET, Finding};

#[derive(Clone, Copy, Debug)]
enum Anchor {
    /// A literal prefix followed by a body of `min..=max` bytes from `class`.
    Prefix {
        min: usize,
        max: usize,
        class: BodyClass,
        needs_digit: bool,
    },
    Jwt,
    Pem,
    UrlCreds,
    Keyword {
        password: bool,
    },
    /// A hand-written shape check for formats a prefix and one class cannot describe.
    Custom(Check),
    /// A name ending in `pass` or `pw` ([`pass_name`]): like a keyword, the value it refused is
    /// remembered, so a run of `pw=pw=pw=…` is not scanned again from each name.
    PassName,
    /// A webhook URL whose path is the credential (Slack, Teams, Discord): the whole URL goes.
    Webhook,
    /// A bracketed `at` or a spelled dot of a written-out e-mail address (`obfuscated`): found
    /// by this walk, which steps every byte anyway, and reported as EMAIL_ADDRESS.
    Obfuscated,
    /// A cue before a lower-case name (`spoke with `, `dear `): its end is handed to the name
    /// scanner (`names::LOWER_CASE_CUES`), which has no walk of its own.
    PersonCue,
}

/// `(bytes, anchor start, anchor end) -> span`.
type Check = fn(&[u8], usize, usize) -> Option<(usize, usize)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyClass {
    /// `[A-Za-z0-9]`
    Alnum,
    /// `[A-Z0-9]`
    UpperAlnum,
    /// `[a-z0-9]`
    LowerAlnum,
    /// `[A-Za-z0-9_-]`
    UrlSafe,
    /// `[A-Za-z0-9_]`
    Word,
    /// `[A-Za-z0-9-]`
    AlnumDash,
    /// `[0-9a-fA-F]`
    Hex,
    /// `[A-Za-z0-9_.=-]`
    UrlSafeDot,
    /// `[A-Za-z0-9+/=]`
    Base64,
    /// The bech32 alphabet in upper case (age keys).
    Bech32Upper,
    /// `[A-Za-z0-9+/=_-]`: standard and URL-safe base64 together.
    Base64Any,
}

impl BodyClass {
    fn accepts(self, c: u8) -> bool {
        match self {
            BodyClass::Alnum => c.is_ascii_alphanumeric(),
            BodyClass::UpperAlnum => c.is_ascii_uppercase() || c.is_ascii_digit(),
            BodyClass::LowerAlnum => c.is_ascii_lowercase() || c.is_ascii_digit(),
            BodyClass::UrlSafe => c.is_ascii_alphanumeric() || c == b'_' || c == b'-',
            BodyClass::Word => c.is_ascii_alphanumeric() || c == b'_',
            BodyClass::AlnumDash => c.is_ascii_alphanumeric() || c == b'-',
            BodyClass::Hex => c.is_ascii_hexdigit(),
            BodyClass::UrlSafeDot => {
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'=')
            }
            BodyClass::Base64 => c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='),
            BodyClass::Bech32Upper => b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".contains(&c),
            BodyClass::Base64Any => {
                c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'_' | b'-')
            }
        }
    }
}

const fn prefix(min: usize, max: usize, class: BodyClass, needs_digit: bool) -> Anchor {
    Anchor::Prefix {
        min,
        max,
        class,
        needs_digit,
    }
}

const ANCHORS: &[(&str, Anchor)] = &[
    // OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-...).
    ("sk-", prefix(20, 256, BodyClass::UrlSafe, true)),
    // Stripe secret, restricted and webhook-signing keys.
    ("sk_live_", prefix(16, 256, BodyClass::Alnum, false)),
    ("sk_test_", prefix(16, 256, BodyClass::Alnum, false)),
    ("sk_prod_", prefix(16, 256, BodyClass::Alnum, false)),
    ("rk_live_", prefix(16, 256, BodyClass::Alnum, false)),
    ("rk_test_", prefix(16, 256, BodyClass::Alnum, false)),
    ("rk_prod_", prefix(16, 256, BodyClass::Alnum, false)),
    ("whsec_", prefix(24, 128, BodyClass::Base64, false)),
    // AWS access key ids and other IAM unique-id prefixes that are credentials.
    ("AKIA", prefix(16, 16, BodyClass::UpperAlnum, false)),
    ("ASIA", prefix(16, 16, BodyClass::UpperAlnum, false)),
    ("ABIA", prefix(16, 16, BodyClass::UpperAlnum, false)),
    ("ACCA", prefix(16, 16, BodyClass::UpperAlnum, false)),
    ("A3T", prefix(17, 17, BodyClass::UpperAlnum, false)),
    // GitHub tokens.
    ("ghp_", prefix(30, 255, BodyClass::Alnum, false)),
    ("gho_", prefix(30, 255, BodyClass::Alnum, false)),
    ("ghu_", prefix(30, 255, BodyClass::Alnum, false)),
    ("ghs_", Anchor::Custom(github_server)),
    ("ghr_", prefix(30, 255, BodyClass::Alnum, false)),
    ("github_pat_", prefix(22, 255, BodyClass::Word, false)),
    // GitLab tokens (personal, deploy, pipeline trigger, runner, OAuth, feed, CI job, ...).
    ("glpat-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("gldt-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glptt-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glrt-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glrtr-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glsoat-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glcbt-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glft-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glimt-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("glagent-", prefix(40, 128, BodyClass::UrlSafeDot, false)),
    ("gloas-", prefix(40, 128, BodyClass::UrlSafeDot, false)),
    ("glffct-", prefix(20, 128, BodyClass::UrlSafeDot, false)),
    ("GR1348941", prefix(20, 64, BodyClass::UrlSafe, false)),
    // Slack tokens.
    ("xoxb-", prefix(20, 255, BodyClass::AlnumDash, true)),
    // Legacy workspace tokens may be all digits (`xoxa-2-511111111`).
    ("xoxa-", prefix(8, 255, BodyClass::AlnumDash, false)),
    ("xoxp-", prefix(20, 255, BodyClass::AlnumDash, true)),
    ("xoxr-", prefix(8, 255, BodyClass::AlnumDash, false)),
    ("xoxs-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxe-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxo-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxc-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxe.xox", prefix(12, 255, BodyClass::AlnumDash, true)),
    ("xapp-", prefix(20, 255, BodyClass::AlnumDash, true)),
    ("xwfp-", prefix(20, 255, BodyClass::AlnumDash, true)),
    // Google: API keys, OAuth client secrets, access and refresh tokens.
    ("AIza", prefix(35, 35, BodyClass::UrlSafe, false)),
    ("GOCSPX-", prefix(24, 40, BodyClass::UrlSafe, false)),
    ("ya29.", prefix(20, 2048, BodyClass::UrlSafe, false)),
    ("1//0", prefix(30, 512, BodyClass::UrlSafe, false)),
    // Hugging Face user and organisation tokens.
    ("hf_", prefix(30, 40, BodyClass::Alnum, false)),
    ("api_org_", prefix(30, 40, BodyClass::Alnum, false)),
    // Package registries: npm, PyPI (macaroon header), RubyGems, Clojars.
    ("npm_", prefix(36, 36, BodyClass::Alnum, false)),
    (
        "pypi-AgEIcHlwaS5vcmc",
        prefix(40, 512, BodyClass::UrlSafe, false),
    ),
    (
        "pypi-AgENdGVzdC5weXBpLm9yZw",
        prefix(40, 512, BodyClass::UrlSafe, false),
    ),
    ("rubygems_", prefix(48, 48, BodyClass::Hex, false)),
    ("CLOJARS_", prefix(60, 60, BodyClass::Alnum, false)),
    // SendGrid: SG.<22>.<43>.
    ("SG.", Anchor::Custom(sendgrid)),
    // Shopify access, custom-app, private-app tokens and shared secrets: 32 hex first, longer
    // and mixed-case since Shopify lengthened them.
    ("shpat_", prefix(32, 64, BodyClass::Alnum, false)),
    // Amazon MWS auth tokens: `amzn.mws.` and a UUID.
    ("amzn.mws.", Anchor::Custom(amazon_mws)),
    // Onfido API tokens: `api_live.` / `api_sandbox.` (optionally `_ca`/`_us`), 11 and 32
    // base64url characters joined by a dot.
    ("api_live.", Anchor::Custom(onfido)),
    ("api_live_ca.", Anchor::Custom(onfido)),
    ("api_live_us.", Anchor::Custom(onfido)),
    ("api_sandbox.", Anchor::Custom(onfido)),
    ("api_sandbox_ca.", Anchor::Custom(onfido)),
    ("api_sandbox_us.", Anchor::Custom(onfido)),
    // Braintree access tokens: `access_token$production$<16>$<32>`.
    ("access_token$production$", Anchor::Custom(braintree)),
    ("access_token$sandbox$", Anchor::Custom(braintree)),
    ("shpca_", prefix(32, 64, BodyClass::Alnum, false)),
    ("shppa_", prefix(32, 64, BodyClass::Alnum, false)),
    ("shpss_", prefix(32, 64, BodyClass::Alnum, false)),
    // Vercel personal, integration, app, refresh and other tokens.
    ("vcp_", prefix(24, 128, BodyClass::Alnum, true)),
    ("vci_", prefix(24, 128, BodyClass::Alnum, true)),
    ("vca_", prefix(24, 128, BodyClass::Alnum, true)),
    ("vcr_", prefix(24, 128, BodyClass::Alnum, true)),
    ("vck_", prefix(24, 128, BodyClass::Alnum, true)),
    // Cloudflare account and user API tokens and global keys: 40 characters and 8 hex.
    ("cfat_", prefix(40, 64, BodyClass::Alnum, true)),
    ("cfut_", prefix(40, 64, BodyClass::Alnum, true)),
    ("cfk_", prefix(40, 64, BodyClass::Alnum, true)),
    // Docker personal and organisation access tokens.
    ("dckr_pat_", prefix(24, 64, BodyClass::UrlSafe, false)),
    ("dckr_oat_", prefix(24, 64, BodyClass::UrlSafe, false)),
    // HashiCorp Vault service, batch and recovery tokens; Terraform Cloud.
    ("hvs.", prefix(24, 256, BodyClass::UrlSafe, false)),
    // Aiven service passwords and tokens.
    ("AVNS_", prefix(8, 64, BodyClass::UrlSafe, false)),
    ("hvb.", prefix(24, 512, BodyClass::UrlSafe, false)),
    ("hvr.", prefix(24, 256, BodyClass::UrlSafe, false)),
    (".atlasv1.", Anchor::Custom(terraform)),
    // DigitalOcean personal, OAuth and refresh tokens.
    ("dop_v1_", prefix(64, 64, BodyClass::Hex, false)),
    ("doo_v1_", prefix(64, 64, BodyClass::Hex, false)),
    ("dor_v1_", prefix(64, 64, BodyClass::Hex, false)),
    // Telegram bot tokens `<bot id>:<35 chars starting with A>`.
    (":A", Anchor::Custom(telegram)),
    // Airtable OAuth access tokens `<id>.v1.<payload>.<hex signature>`.
    (".v1.", Anchor::Custom(airtable_oauth)),
    // LaunchDarkly SDK and API access tokens.
    ("sdk-", Anchor::Custom(launchdarkly)),
    ("api-", Anchor::Custom(launchdarkly)),
    // A user and a password as the two string arguments of a credential constructor or a
    // login call (`new NetworkCredential("u", "p")`, `PasswordAuthentication("u",
    // "p".toCharArray())`, `smtp.login("u", "p")`).
    ("Credential(", Anchor::Custom(credential_call)),
    ("Credentials(", Anchor::Custom(credential_call)),
    ("Authentication(", Anchor::Custom(credential_call)),
    (".login(", Anchor::Custom(credential_call)),
    // Azure AD (Entra) client secrets: `xxx8Q~...`.
    ("Q~", Anchor::Custom(azure_ad)),
    // Dropbox short-lived tokens.
    ("sl.", prefix(120, 1400, BodyClass::UrlSafeDot, true)),
    // Notion integration tokens (new and legacy).
    ("ntn_", prefix(40, 50, BodyClass::Alnum, false)),
    ("secret_", prefix(43, 43, BodyClass::Alnum, true)),
    // 1Password service-account tokens and account secret keys.
    ("ops_eyJ", prefix(100, 4096, BodyClass::Base64, false)),
    ("A3-", Anchor::Custom(onepassword_secret_key)),
    // age secret keys.
    (
        "AGE-SECRET-KEY-1",
        prefix(58, 58, BodyClass::Bech32Upper, false),
    ),
    // Twilio API keys.
    ("SK", prefix(32, 32, BodyClass::Hex, true)),
    // Mailgun private and public keys: `key-` and 32 lower-case letters and digits (not only
    // hex: `key-3ax6xnjp29jd6fds4gc373sgvjxteol0`).
    ("key-", prefix(32, 32, BodyClass::LowerAlnum, true)),
    ("pubkey-", prefix(32, 32, BodyClass::Hex, true)),
    // Other providers with a fixed prefix.
    ("dapi", prefix(32, 34, BodyClass::AlnumDash, true)),
    ("ATATT3", prefix(150, 300, BodyClass::UrlSafeDot, false)),
    ("glc_", prefix(32, 400, BodyClass::Base64, false)),
    ("glsa_", prefix(40, 41, BodyClass::Word, false)),
    ("lin_api_", prefix(40, 40, BodyClass::Alnum, false)),
    ("PMAK-", prefix(59, 59, BodyClass::AlnumDash, true)),
    ("pul-", prefix(40, 40, BodyClass::Hex, false)),
    ("sntrys_eyJ", prefix(50, 512, BodyClass::Base64Any, false)),
    ("sntryu_", prefix(64, 64, BodyClass::Hex, false)),
    ("sq0atp-", prefix(22, 22, BodyClass::UrlSafe, false)),
    ("sq0csp-", prefix(43, 64, BodyClass::UrlSafe, false)),
    ("EAAA", prefix(22, 60, BodyClass::UrlSafe, true)),
    ("EAAC", prefix(100, 512, BodyClass::Alnum, true)),
    ("EAAG", prefix(100, 512, BodyClass::Alnum, true)),
    ("EAAM", prefix(100, 512, BodyClass::Alnum, true)),
    ("HRKU-AA", prefix(58, 58, BodyClass::UrlSafe, false)),
    ("NRAK-", prefix(27, 27, BodyClass::Alnum, false)),
    ("NRJS-", prefix(19, 19, BodyClass::Hex, false)),
    ("NRII-", prefix(32, 32, BodyClass::UrlSafe, false)),
    ("fio-u-", prefix(64, 64, BodyClass::UrlSafeDot, false)),
    ("pscale_tkn_", prefix(32, 64, BodyClass::UrlSafeDot, false)),
    ("pscale_pw_", prefix(32, 64, BodyClass::UrlSafeDot, false)),
    (
        "pscale_oauth_",
        prefix(32, 64, BodyClass::UrlSafeDot, false),
    ),
    ("pnu_", prefix(36, 36, BodyClass::Alnum, false)),
    ("rdme_", prefix(70, 70, BodyClass::Alnum, false)),
    ("tk-us-", prefix(48, 48, BodyClass::UrlSafe, false)),
    ("shippo_live_", prefix(40, 40, BodyClass::Hex, false)),
    ("shippo_test_", prefix(40, 40, BodyClass::Hex, false)),
    ("tfp_", prefix(59, 59, BodyClass::UrlSafeDot, false)),
    ("CFPAT-", prefix(43, 43, BodyClass::UrlSafe, false)),
    // LangSmith personal and service keys `lsv2_pt_`/`lsv2_sk_` + 32 hex + `_` + 10 hex.
    ("lsv2_pt_", prefix(43, 43, BodyClass::Word, true)),
    ("lsv2_sk_", prefix(43, 43, BodyClass::Word, true)),
    // Rootly API keys: 64 hex.
    ("rootly_", prefix(64, 64, BodyClass::Hex, true)),
    // Pinecone keys `pcsk_` + a short id + `_` + the secret.
    ("pcsk_", prefix(60, 80, BodyClass::Word, true)),
    // Bitbucket Data Center HTTP access tokens (base64 after `BBDC-`).
    ("BBDC-", prefix(40, 50, BodyClass::Base64Any, true)),
    // Atlassian app passwords.
    ("ATBB", prefix(24, 64, BodyClass::UrlSafeDot, true)),
    ("duffel_test_", prefix(43, 43, BodyClass::UrlSafeDot, false)),
    ("duffel_live_", prefix(43, 43, BodyClass::UrlSafeDot, false)),
    ("dt0c01.", prefix(89, 89, BodyClass::UrlSafeDot, false)),
    ("EZAK", prefix(54, 54, BodyClass::Alnum, false)),
    ("EZTK", prefix(54, 54, BodyClass::Alnum, false)),
    ("fo1_", prefix(43, 43, BodyClass::UrlSafe, false)),
    ("FlyV1 fm", prefix(60, 4096, BodyClass::Base64Any, false)),
    ("LTAI", prefix(20, 24, BodyClass::Alnum, false)),
    ("v1.0-", prefix(171, 171, BodyClass::AlnumDash, false)),
    ("AKCp", prefix(69, 69, BodyClass::Alnum, false)),
    // Artifactory reference tokens: base64 of `reftkn:01:...`.
    ("cmVmd", prefix(55, 70, BodyClass::Alnum, false)),
    ("sha256~", prefix(43, 43, BodyClass::UrlSafe, false)),
    ("pplx-", prefix(48, 48, BodyClass::Alnum, false)),
    ("xai-", prefix(70, 90, BodyClass::Word, false)),
    ("gsk_", prefix(52, 52, BodyClass::Alnum, false)),
    ("r8_", prefix(37, 37, BodyClass::Alnum, false)),
    ("ico-", prefix(32, 32, BodyClass::Alnum, true)),
    ("s-s4t2ud-", prefix(64, 64, BodyClass::Hex, false)),
    ("s-s4t2af-", prefix(64, 64, BodyClass::Hex, false)),
    ("sk.eyJ", prefix(60, 512, BodyClass::UrlSafeDot, false)),
    ("dp.pt.", prefix(43, 43, BodyClass::Alnum, false)),
    ("dp.st.", prefix(43, 64, BodyClass::UrlSafeDot, false)),
    ("dp.sa.", prefix(43, 43, BodyClass::Alnum, false)),
    ("dp.ct.", prefix(43, 43, BodyClass::Alnum, false)),
    ("p8e-", prefix(32, 32, BodyClass::Alnum, true)),
    ("FLWSECK_TEST-", prefix(12, 34, BodyClass::AlnumDash, false)),
    ("FLWPUBK_TEST-", prefix(34, 34, BodyClass::AlnumDash, false)),
    ("FLWPUBK-", prefix(34, 34, BodyClass::AlnumDash, false)),
    ("FLWSECK-", prefix(34, 34, BodyClass::AlnumDash, false)),
    ("pat-na1-", prefix(36, 36, BodyClass::AlnumDash, false)),
    ("pat-eu1-", prefix(36, 36, BodyClass::AlnumDash, false)),
    // AWS Bedrock long-lived and short-lived API keys.
    ("ABSK", prefix(100, 272, BodyClass::Base64, false)),
    (
        "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t",
        prefix(0, 4096, BodyClass::Base64Any, false),
    ),
    ("4b1d", prefix(38, 38, BodyClass::Alnum, false)),
    ("fm1a_", prefix(100, 4096, BodyClass::Base64, false)),
    ("fm1r_", prefix(100, 4096, BodyClass::Base64, false)),
    ("fm2_", prefix(100, 4096, BodyClass::Base64, false)),
    ("_gitlab_session=", prefix(32, 32, BodyClass::Alnum, false)),
    ("eyJrIjoi", prefix(70, 400, BodyClass::Base64, false)),
    ("API-", Anchor::Custom(octopus_key)),
    // AWS AppSync API keys, pganalyze read keys, SpectralOps user tokens, BestTime private keys.
    ("da2-", prefix(26, 26, BodyClass::LowerAlnum, false)),
    ("pgar_", prefix(27, 27, BodyClass::Alnum, false)),
    ("spu-", prefix(32, 32, BodyClass::LowerAlnum, false)),
    ("pri_", prefix(32, 32, BodyClass::Hex, true)),
    // Password hashes in modular crypt form (md5crypt, bcrypt, sha256/512-crypt, Cisco type
    // 8/9, scrypt, yescrypt, Apache MD5, phpass, Argon2, PBKDF2, Django) and Kerberos
    // AS-REP/TGS hashes: offline-crackable, so a credential.
    ("$1$", Anchor::Custom(crypt_hash)),
    ("$2a$", Anchor::Custom(crypt_hash)),
    ("$2b$", Anchor::Custom(crypt_hash)),
    ("$2x$", Anchor::Custom(crypt_hash)),
    ("$2y$", Anchor::Custom(crypt_hash)),
    ("$5$", Anchor::Custom(crypt_hash)),
    ("$6$", Anchor::Custom(crypt_hash)),
    ("$7$", Anchor::Custom(crypt_hash)),
    ("$8$", Anchor::Custom(crypt_hash)),
    ("$9$", Anchor::Custom(crypt_hash)),
    ("$y$", Anchor::Custom(crypt_hash)),
    ("$gy$", Anchor::Custom(crypt_hash)),
    ("$apr1$", Anchor::Custom(crypt_hash)),
    ("$P$", Anchor::Custom(crypt_hash)),
    ("$H$", Anchor::Custom(crypt_hash)),
    ("$argon2", Anchor::Custom(crypt_hash)),
    ("$pbkdf2", Anchor::Custom(crypt_hash)),
    ("$scrypt$", Anchor::Custom(crypt_hash)),
    ("pbkdf2_sha256$", Anchor::Custom(crypt_hash)),
    ("pbkdf2_sha1$", Anchor::Custom(crypt_hash)),
    ("$krb5asrep$", Anchor::Custom(crypt_hash)),
    ("$krb5tgs$", Anchor::Custom(crypt_hash)),
    // LDAP `userPassword` schemes: `{SSHA}` and base64.
    ("{SSHA}", Anchor::Custom(ldap_hash)),
    ("{SHA}", Anchor::Custom(ldap_hash)),
    ("{SSHA256}", Anchor::Custom(ldap_hash)),
    ("{SSHA512}", Anchor::Custom(ldap_hash)),
    ("{SHA256}", Anchor::Custom(ldap_hash)),
    ("{SHA512}", Anchor::Custom(ldap_hash)),
    ("{SMD5}", Anchor::Custom(ldap_hash)),
    ("{MD5}", Anchor::Custom(ldap_hash)),
    // Supabase (personal and new secret keys), Buildkite, NVIDIA, Tailscale, Figma, Nightfall,
    // PubNub publish/subscribe keys, Teamwork, Flexport, Fleetbase, Ubidots, Pagar.me.
    ("sbp_", prefix(40, 40, BodyClass::Alnum, true)),
    ("sb_secret_", prefix(24, 64, BodyClass::UrlSafe, false)),
    ("bkua_", prefix(40, 40, BodyClass::Alnum, true)),
    ("nvapi-", prefix(64, 72, BodyClass::UrlSafe, false)),
    ("tskey-", prefix(16, 128, BodyClass::AlnumDash, true)),
    ("figd_", prefix(36, 48, BodyClass::UrlSafe, true)),
    ("NF-", Anchor::Custom(nightfall)),
    ("pub-c-", prefix(36, 36, BodyClass::AlnumDash, true)),
    ("sub-c-", prefix(36, 36, BodyClass::AlnumDash, true)),
    ("tkn.v1_", prefix(40, 128, BodyClass::Base64Any, false)),
    ("shltm_", prefix(40, 40, BodyClass::UrlSafe, true)),
    ("flb_live_", prefix(20, 20, BodyClass::Alnum, true)),
    ("BBFF-", prefix(30, 30, BodyClass::Alnum, true)),
    ("ak_live_", prefix(30, 30, BodyClass::Alnum, true)),
    ("ak_test_", prefix(30, 30, BodyClass::Alnum, true)),
    // ElevenLabs (`sk_` and 48 hex), ClickUp (`pk_<user id>_<32>`), Salesforce session and
    // access tokens (`<15-character org id>!<token>`).
    ("sk_", Anchor::Custom(elevenlabs)),
    ("pk_", Anchor::Custom(clickup)),
    ("00D", Anchor::Custom(salesforce_session)),
    ("xkeysib-", prefix(81, 81, BodyClass::AlnumDash, false)),
    ("sm_aat_", prefix(16, 16, BodyClass::Alnum, false)),
    ("sm_pat_", prefix(16, 16, BodyClass::Alnum, false)),
    ("sm_sat_", prefix(16, 16, BodyClass::Alnum, false)),
    ("sgp_", prefix(40, 64, BodyClass::Word, true)),
    ("squ_", prefix(40, 40, BodyClass::UrlSafe, false)),
    ("sqp_", prefix(40, 40, BodyClass::UrlSafe, false)),
    ("sqa_", prefix(40, 40, BodyClass::UrlSafe, false)),
    (
        "access-sandbox-",
        prefix(36, 36, BodyClass::AlnumDash, false),
    ),
    (
        "access-development-",
        prefix(36, 36, BodyClass::AlnumDash, false),
    ),
    (
        "access-production-",
        prefix(36, 36, BodyClass::AlnumDash, false),
    ),
    ("AQVN", prefix(35, 38, BodyClass::UrlSafe, false)),
    ("dnkey-", prefix(79, 79, BodyClass::UrlSafeDot, false)),
    ("test_pub_", prefix(31, 31, BodyClass::Hex, false)),
    ("live_pub_", prefix(31, 31, BodyClass::Hex, false)),
    // Airtable `pat<14>.<64 hex>` and Harness `pat.`/`sat.` tokens.
    ("pat", Anchor::Custom(pat_token)),
    ("sat.", Anchor::Custom(pat_token)),
    // Mapbox `pk.<60>.<22>`, MaxMind `<6>_<29>_mmk`, Mailchimp `<32 hex>-us<dc>`, Authress.
    ("pk.", Anchor::Custom(mapbox)),
    ("_mmk", Anchor::Custom(maxmind)),
    ("-us", Anchor::Custom(mailchimp)),
    (".acc_", Anchor::Custom(authress)),
    (".acc-", Anchor::Custom(authress)),
    ("AAAAAAAAAAAAAAAAAAAA", Anchor::Custom(twitter_bearer)),
    ("PuTTY-User-Key-File-", Anchor::Custom(putty)),
    ("ZXlK", Anchor::Custom(b64_jwt)),
    // A base64-encoded PEM private key (`LS0tLS1CRUdJTi` is base64 of `-----BEGIN`), as in a
    // kubeconfig's `client-key-data` or a `PRIVATE_KEY_B64` variable.
    ("LS0tLS1CRUdJTi", Anchor::Custom(b64_pem_private)),
    // Discord bot tokens: base64 of the bot's numeric id (`MT...` = "1..."), `.`, 6, `.`, 27+.
    ("MT", Anchor::Custom(discord_bot)),
    ("Mj", Anchor::Custom(discord_bot)),
    ("Mz", Anchor::Custom(discord_bot)),
    ("ND", Anchor::Custom(discord_bot)),
    ("NT", Anchor::Custom(discord_bot)),
    ("Nj", Anchor::Custom(discord_bot)),
    ("Nz", Anchor::Custom(discord_bot)),
    ("OD", Anchor::Custom(discord_bot)),
    ("OT", Anchor::Custom(discord_bot)),
    // Facebook app access tokens `<app id>|<app secret or client token>`.
    ("|", Anchor::Custom(facebook_app_token)),
    // Sidekiq Enterprise/Pro gem credentials in Bundler's environment variables.
    ("__CONTRIBSYS__COM", Anchor::Custom(sidekiq)),
    ("Basic ", Anchor::Custom(basic_auth)),
    ("basic ", Anchor::Custom(basic_auth)),
    ("BASIC ", Anchor::Custom(basic_auth)),
    ("-u ", Anchor::Custom(curl_user)),
    ("-p", Anchor::Custom(short_password_flag)),
    ("--user ", Anchor::Custom(curl_user)),
    ("--proxy-user ", Anchor::Custom(curl_user)),
    ("sig=", Anchor::Custom(sas_signature)),
    ("hooks.slack.com/", Anchor::Webhook),
    ("discord.com/api/webhooks/", Anchor::Webhook),
    ("discordapp.com/api/webhooks/", Anchor::Webhook),
    (".webhook.office.com/", Anchor::Webhook),
    ("outlook.office.com/webhook", Anchor::Webhook),
    ("hooks.zapier.com/hooks/catch/", Anchor::Webhook),
    // AWS account ids under their names (`aws_account_id = 287139315271`, `"AccountId":
    // "…"`): not credentials, but they name the infrastructure, and masking one costs nothing.
    ("ccount_id", Anchor::Custom(account_id)),
    ("ccountId", Anchor::Custom(account_id)),
    ("ccountID", Anchor::Custom(account_id)),
    ("CCOUNT_ID", Anchor::Custom(account_id)),
    ("ccount-id", Anchor::Custom(account_id)),
    // Sumo Logic access ids (`su` and 12 letters or digits) under a name that says `sumo`.
    ("sumo", Anchor::Custom(sumologic_id)),
    ("Sumo", Anchor::Custom(sumologic_id)),
    ("SUMO", Anchor::Custom(sumologic_id)),
    // Google OAuth client ids: not secrets alone, but they name the app a client secret
    // belongs to, and their shape is fixed.
    (
        ".apps.googleusercontent.com",
        Anchor::Custom(google_client_id),
    ),
    ("eyJ", Anchor::Jwt),
    ("-----BEGIN", Anchor::Pem),
    ("://", Anchor::UrlCreds),
    ("password", Anchor::Keyword { password: true }),
    ("passwd", Anchor::Keyword { password: true }),
    ("passphrase", Anchor::Keyword { password: true }),
    ("pwd", Anchor::Keyword { password: true }),
    ("pword", Anchor::Keyword { password: true }),
    // The word for a password in the languages of the PII rules and other common ones, so a
    // customer writing in their own language (`Mein Passwort ist …`) is covered too. Words
    // that also mean something else (Italian `parola`, French `parole`) are left out; words
    // written with letters outside ASCII are in `FOREIGN_PASSWORD_WORDS`.
    ("passwort", Anchor::Keyword { password: true }),
    ("kennwort", Anchor::Keyword { password: true }),
    ("mot de passe", Anchor::Keyword { password: true }),
    ("mot_de_passe", Anchor::Keyword { password: true }),
    ("motdepasse", Anchor::Keyword { password: true }),
    ("contrasena", Anchor::Keyword { password: true }),
    ("contrasenya", Anchor::Keyword { password: true }),
    ("senha", Anchor::Keyword { password: true }),
    ("wachtwoord", Anchor::Keyword { password: true }),
    ("haslo", Anchor::Keyword { password: true }),
    ("heslo", Anchor::Keyword { password: true }),
    ("jelszo", Anchor::Keyword { password: true }),
    ("salasana", Anchor::Keyword { password: true }),
    ("losenord", Anchor::Keyword { password: true }),
    ("passord", Anchor::Keyword { password: true }),
    ("adgangskode", Anchor::Keyword { password: true }),
    ("sifre", Anchor::Keyword { password: true }),
    ("kata sandi", Anchor::Keyword { password: true }),
    ("kata laluan", Anchor::Keyword { password: true }),
    // `DB_PASS=...`, `smtpPass: ...` (not `bypass`, `boarding pass 12`).
    ("pass", Anchor::PassName),
    ("Pass", Anchor::PassName),
    ("PASS", Anchor::PassName),
    // `DB_PW=...`, `adminPw: ...` (a whole name part, so not `pwm` or `upward`).
    ("pw", Anchor::PassName),
    ("Pw", Anchor::PassName),
    ("PW", Anchor::PassName),
    // `DB_CREDS=…` (a whole name part); `cred` itself: see `CRED_ENDS`.
    ("creds", Anchor::PassName),
    ("Creds", Anchor::PassName),
    ("CREDS", Anchor::PassName),
    ("secret", Anchor::Keyword { password: false }),
    ("token", Anchor::Keyword { password: false }),
    ("key", Anchor::Keyword { password: false }),
    ("bearer", Anchor::Keyword { password: false }),
    ("credential", Anchor::Keyword { password: false }),
    ("auth", Anchor::Keyword { password: false }),
    // `apiMetrics := "..."`: only random values count under a name that is not a credential
    // name (the weak rule at the end of `keyword_value`).
    ("api", Anchor::Keyword { password: false }),
];

const KEYWORD_FALLBACK: &[(&str, bool)] = &[
    ("key", false),
    ("secret", false),
    ("token", false),
    ("password", true),
    ("passwd", true),
    ("auth", false),
];

/// What one walk over a string carries from anchor to anchor.
#[derive(Default)]
pub(crate) struct WalkState {
    /// End of the last finding or failed JWT run: anchors before it are inside it.
    skip_to: usize,
    /// End of the last keyword value that was scanned and refused: keywords inside it are not
    /// looked at again. Each of them would scan a suffix of the same run, which made a line of
    /// `token='token=token=...'` quadratic (15 s per MB).
    kw_until: usize,
    /// Whether the text holds a comparison (`==`, `!=`) at all, once a keyword asked.
    compares: Option<bool>,
    /// Ends of person cues (`PersonCue`), in text order: at most one per three bytes.
    pub(crate) person_cues: Vec<usize>,
}

/// `lit` in lower case, with its first letter capitalised, and in upper case, without repeats
/// (Unicode case: `пароль`, `Пароль`, `ПАРОЛЬ`).
fn three_cases(lit: &str) -> Vec<String> {
    let title = match lit.char_indices().find(|(_, c)| c.is_alphabetic()) {
        Some((k, c)) => format!(
            "{}{}{}",
            &lit[..k],
            c.to_uppercase(),
            &lit[k + c.len_utf8()..]
        ),
        None => lit.to_string(),
    };
    let mut v = vec![lit.to_string(), title, lit.to_uppercase()];
    v.dedup();
    v
}

/// The word for a password written with letters outside ASCII (`contraseña`, `пароль`,
/// `密码`), matched in lower, Title and UPPER case. They are searched apart from `ANCHORS`,
/// and only in text that holds a byte outside ASCII: their bytes in the anchor DFA would more
/// than double its byte classes, and so its table (1.9 to 4.3 MB) and build time.
const FOREIGN_PASSWORD_WORDS: &[&str] = &[
    "contraseña",
    "hasło",
    "jelszó",
    "lösenord",
    "şifre",
    "пароль",
    "密码",
    "密碼",
    "パスワード",
    "비밀번호",
    "mật khẩu",
    "סיסמה",
    "كلمة المرور",
    "पासवर्ड",
];

pub(crate) struct SecretScanner {
    dfa: super::walk::Dfa,
    kinds: Vec<Anchor>,
    foreign: aho_corasick::AhoCorasick,
}

impl SecretScanner {
    /// The scanner; with `emails`, its walk also finds written-out e-mail addresses.
    pub(crate) fn new(emails: bool, people: bool) -> Result<Self, String> {
        let (pats, kinds) = Self::patterns(emails, people);
        // A DFA: the pattern set is too large for the SIMD prefilter, and a DFA takes one table
        // step per byte where the default (a contiguous NFA) may follow failure links. Walked
        // by `Engine::find_with` beside the context scanner's (see `walk`).
        let dfa = super::walk::build(&pats, false)?;
        let foreign = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(FOREIGN_PASSWORD_WORDS.iter().flat_map(|w| three_cases(w)))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            dfa,
            kinds,
            foreign,
        })
    }

    /// The values after the non-ASCII words for a password (`Пароль: …`, `密码是…`); the
    /// caller skips ASCII text.
    pub(crate) fn foreign_keywords(&self, b: &[u8], out: &mut Vec<Finding>) {
        // Past a finding, or past a long value already refused (as `kw_until` in the walk):
        // `пароль=пароль=…` is read once, not once per word.
        let mut after = 0;
        for m in self.foreign.find_iter(b) {
            if m.start() < after {
                continue;
            }
            let mut scanned = 0;
            if let Some((s, e)) = keyword_scan(b, m.end(), true, &mut scanned) {
                out.push(Finding::new(s, e, ENT_SECRET));
                after = e;
            }
            after = after.max(scanned);
        }
    }

    pub(crate) fn dfa(&self) -> &super::walk::Dfa {
        &self.dfa
    }

    /// The anchor literals (keywords in lower, Title and UPPER case) and their kinds; with
    /// `emails`, also the markers of written-out e-mail addresses in the same three cases.
    fn patterns(emails: bool, people: bool) -> (Vec<String>, Vec<Anchor>) {
        let mut pats = Vec::new();
        let mut kinds = Vec::new();
        for (lit, anchor) in ANCHORS {
            if let Anchor::Keyword { .. } = anchor {
                for v in three_cases(lit) {
                    pats.push(v);
                    kinds.push(*anchor);
                }
            } else {
                pats.push(lit.to_string());
                kinds.push(*anchor);
            }
        }
        for lit in VENDORS {
            for v in three_cases(lit) {
                pats.push(v);
                kinds.push(Anchor::Custom(vendor_value));
            }
        }
        for v in three_cases("cred") {
            for end in CRED_ENDS {
                pats.push(format!("{v}{end}"));
                kinds.push(Anchor::PassName);
            }
        }
        for name in SINK_CALLS.iter().map(|(name, _)| *name).chain(["connect"]) {
            pats.push(format!("{name}("));
            kinds.push(Anchor::Custom(sink_call));
        }
        if emails {
            for lit in super::obfuscated::MARKERS {
                for v in three_cases(lit) {
                    pats.push(v);
                    kinds.push(Anchor::Obfuscated);
                }
            }
        }
        if people {
            for lit in super::names::LOWER_CASE_CUES {
                for v in three_cases(lit) {
                    pats.push(v);
                    kinds.push(Anchor::PersonCue);
                }
            }
        }
        (pats, kinds)
    }

    /// The anchor literals, for tests that compare `walk` with `AhoCorasick`.
    #[cfg(test)]
    pub(crate) fn literals() -> Vec<String> {
        Self::patterns(true, true).0
    }

    /// Every finding in `text` (the anchors found by a walk of `dfa()` alone).
    #[cfg(test)]
    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        let b = text.as_bytes();
        let from = out.len();
        let mut state = WalkState::default();
        let mut w = self.dfa.walk();
        loop {
            match w.step(b) {
                super::walk::Step::More => {}
                super::walk::Step::Hit(m) => w.resume_at(self.anchor(b, m, &mut state, out)),
                super::walk::Step::Done => break,
            }
        }
        if !b.is_ascii() {
            self.foreign_keywords(b, out);
        }
        super::random_token::scan(b, out, from);
    }

    /// Checks one anchor match `m` (in text order); `state` carries what earlier anchors of the
    /// same walk found. Returns where the walk goes on: past the finding (or skipped run), or
    /// one byte after the start of a literal that was not a secret.
    // Out of line: inlined into `Engine::find_with`, its size decides how the walk loop there
    // is compiled (25 M more instructions per dense MB after one small rule was added).
    #[inline(never)]
    pub(crate) fn anchor(
        &self,
        b: &[u8],
        m: super::walk::Hit,
        state: &mut WalkState,
        out: &mut Vec<Finding>,
    ) -> usize {
        let skip_to = &mut state.skip_to;
        if m.start < *skip_to {
            return (*skip_to).max(m.end);
        }
        if let Anchor::Keyword { password } = self.kinds[m.pattern] {
            if m.start < state.kw_until {
                return m.start + 1;
            }
            let mut scanned = m.end;
            if let Some((s, e)) = keyword_scan(b, m.end, password, &mut scanned) {
                out.push(Finding::new(s, e, ENT_SECRET));
                *skip_to = e;
                return e.max(m.end);
            }
            // `if ("s3cr3t" == password)`: the literal is before the name. Findings stay in
            // text order: it must not reach back over one already pushed.
            let compares = *state.compares.get_or_insert_with(|| {
                memchr::memchr_iter(b'=', b).any(|k| k > 0 && matches!(b[k - 1], b'=' | b'!'))
            });
            if let Some((s, e)) = compares
                .then(|| compared_literal(b, m.end, password))
                .flatten()
                .or_else(|| equals_literal(b, m.end, password))
                && s >= *skip_to
            {
                out.push(Finding::new(s, e, ENT_SECRET));
                *skip_to = e;
            }
            state.kw_until = state.kw_until.max(scanned);
            return m.start + 1;
        }
        if let Anchor::PersonCue = self.kinds[m.pattern] {
            if let Some(e) = super::names::lower_case_cue_end(b, m.start, m.end) {
                state.person_cues.push(e);
            }
            // Anchors starting inside the cue are still found.
            return m.start + 1;
        }
        if let Anchor::Obfuscated = self.kinds[m.pattern] {
            return match super::obfuscated::at_marker(b, m.start, m.end) {
                Some((s, e)) => {
                    out.push(Finding::new(s, e, super::ENT_EMAIL));
                    *skip_to = e;
                    e.max(m.end)
                }
                None => m.start + 1,
            };
        }
        let found = match self.kinds[m.pattern] {
            Anchor::Prefix {
                min,
                max,
                class,
                needs_digit,
            } => prefixed(b, m.start, m.end, min, max, class, needs_digit),
            Anchor::Jwt => match jwt(b, m.start) {
                Ok(found) => Some(found),
                Err(run_end) => {
                    // Every later `eyJ` in the same run fails the same way: skip it (linear).
                    *skip_to = run_end;
                    None
                }
            },
            Anchor::Pem => pem(b, m.start),
            Anchor::UrlCreds => url_password(b, m.start),
            Anchor::Keyword { .. } => None,
            Anchor::Custom(check) => check(b, m.start, m.end),
            Anchor::Webhook => webhook(b, m.start, m.end),
            Anchor::PassName if m.start < state.kw_until => None,
            Anchor::PassName => {
                // The name without the byte matched after it (`cred=`).
                let e = if b[m.end - 1].is_ascii_alphabetic() {
                    m.end
                } else {
                    m.end - 1
                };
                let mut scanned = e;
                let found = pass_name(b, m.start, e, &mut scanned);
                state.kw_until = state.kw_until.max(scanned);
                found
            }
            Anchor::Obfuscated | Anchor::PersonCue => None,
        };
        // A failed literal that begins with a keyword (`key-`, `secret_`) or overlaps one
        // (`SK` in `ACCESSKEY`, which hides the `KEY` match) still gets the keyword rule.
        let found = found.or_else(|| {
            if matches!(self.kinds[m.pattern], Anchor::Keyword { .. }) {
                return None;
            }
            (m.start..m.end).find_map(|p| {
                KEYWORD_FALLBACK.iter().find_map(|(kw, pw)| {
                    let k = kw.len();
                    let here = b.len() >= p + k && b[p..p + k].eq_ignore_ascii_case(kw.as_bytes());
                    (here && (p > m.start || m.end - m.start > k))
                        .then(|| keyword_value(b, p + k, *pw))
                        .flatten()
                })
            })
        });
        if let Some((s, e)) = found {
            // Shaped tokens whose body is a documented placeholder (`ghp_xxxx...`,
            // `AKIAIOSFODNN7EXAMPLE`, `hvs.XXXX`) stay; keyword values have their own rule.
            // Other filler (`shippo_live_1111...`, `da2-abcdefghij...`) goes: under a vendor's
            // prefix it is as likely a real test key as a dummy, and a masked dummy costs
            // nothing.
            // A `pass` name is a keyword too (`.pass=randomStringGoesHere` is a typed-in
            // password, not a documented placeholder of a token format).
            let shaped = !matches!(
                self.kinds[m.pattern],
                Anchor::Keyword { .. } | Anchor::Pem | Anchor::UrlCreds | Anchor::PassName
            );
            // The body after the anchor literal (a literal such as Twitter's run of `A`s is
            // not filler).
            let body = &b[m.end.clamp(s, e)..e];
            // JWT bodies are base64 of JSON, whose repeats are not filler.
            let jwt = matches!(self.kinds[m.pattern], Anchor::Jwt);
            // A body of letters that repeats a unit of two to four throughout (`ghp_abab…`) is
            // a typed-in dummy; repeated digits (`glc_7878…`) are kept with the filler above.
            // A token glued to `==` is a piece of a longer base64 blob.
            if shaped
                && ((!jwt && (documented_placeholder(body) || letter_filler(body)))
                    || asset_name(b, s, e)
                    || masked_tail(b, e)
                    || b[e..].starts_with(b"=="))
            {
                *skip_to = e;
                return e.max(m.end);
            }
            out.push(Finding::new(s, e, ENT_SECRET));
            *skip_to = e;
            return e.max(m.end);
        }
        if m.start < *skip_to {
            // A failed JWT run: every later `eyJ` in it fails the same way.
            return (*skip_to).max(m.end);
        }
        m.start + 1
    }
}

/// Vendors whose API keys are plain hex, UUIDs or random runs, often stored under the vendor's
/// name alone (`SONARQUBE=5eee…`, `API_SNYK='…'`, `softlayer: abcd…`). Vendors with their own
/// prefix (GitHub, Stripe, Slack) have shaped rules, and names common in prose are left out.
/// Matched in lower, Title and UPPER case.
const VENDORS: &[&str] = &[
    "sonar",
    "softlayer",
    "snyk",
    "artifactory",
    "jfrog",
    "messagebird",
    "heroku",
    "mailchimp",
    "mailgun",
    "sendinblue",
    "twilio",
    "pagerduty",
    "datadog",
    "newrelic",
    "dynatrace",
    "algolia",
    "contentful",
    "launchdarkly",
    "mapbox",
    "netlify",
    "hubspot",
    "intercom",
    "zendesk",
    "pulumi",
    "doppler",
    "fastly",
    "cloudflare",
    "digitalocean",
    "facebook",
    "twitter",
    "dropbox",
    "asana",
    "airtable",
    "typeform",
    "yandex",
    "atlassian",
    "trello",
    "vercel",
    "coinbase",
    "finnhub",
    "gitter",
    "mattermost",
    "rapidapi",
    "sendbird",
    "shippo",
    "easypost",
    "freshbooks",
    "bittrex",
    "kucoin",
    "databricks",
    "gocardless",
    "adafruit",
    "codecov",
    "confluent",
    "cloudant",
    "cloudsmith",
    "onesignal",
    "railway",
    "loggly",
    "websitepulse",
    "freshworks",
];

/// A key assigned to a name that holds a vendor's name at `s..e` (up to 40 more name bytes, as
/// `SONARQUBE`, `API_SNYK`, `softlayer_user_key`), or quoted after it and a space: 32, 40 or 64
/// hex digits (Mailchimp's with its `-us12` data centre), a UUID, or a random run of 20 to 100
/// letters and digits. A name that says what else it holds (`…_id`, `…_sha`, `…_version`,
/// `trace`, `commit`, `url`) keeps its value.
fn vendor_value(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if !starts_name_part(b, s) {
        return None;
    }
    let mut id_start = s;
    while id_start > 0 && s - id_start < 40 && (is_word(b[id_start - 1]) || b[id_start - 1] == b'-')
    {
        id_start -= 1;
    }
    let name_end = name_rest_end(b, e);
    let (buf, len) = stack_normalised(&b[id_start..name_end]);
    let norm = &buf[..len];
    const NOT: &[&[u8]] = &[
        b"trace",
        b"span",
        b"request",
        b"event",
        b"commit",
        b"build",
        b"release",
        b"user",
        b"url",
        b"uri",
        b"host",
        b"region",
        b"org",
        b"project",
        b"channel",
        b"team",
        b"page",
        b"account",
        b"tenant",
        b"domain",
        b"endpoint",
        b"email",
        b"session",
    ];
    if names_no_secret(norm) || NOT.iter().any(|w| norm.windows(w.len()).any(|x| x == *w)) {
        return None;
    }
    // `websitepulse '3bda…'`: a quoted value after a space reads as assigned.
    let p = value_after_assignment(b, name_end).or_else(|| {
        let q = name_end
            + b[name_end..]
                .iter()
                .take(4)
                .take_while(|&&c| c == b' ')
                .count();
        (q > name_end && matches!(b.get(q), Some(b'"' | b'\''))).then_some(q + 1)
    })?;
    let run = b[p..]
        .iter()
        .take(101)
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-')
        .count();
    let v = &b[p..p + run];
    // Mailchimp appends its data centre (`…-us12`).
    let dc = v.len() > 32
        && v[32..].starts_with(b"-us")
        && v.len() <= 37
        && v[35..].iter().all(u8::is_ascii_digit);
    let hex_part = if dc { &v[..32] } else { v };
    let hex = matches!(hex_part.len(), 32 | 40 | 64)
        && hex_part.iter().all(u8::is_ascii_hexdigit)
        && hex_part.iter().any(u8::is_ascii_digit)
        && hex_part.iter().any(u8::is_ascii_alphabetic);
    let uuid = is_uuid(v) && v.iter().any(|&c| c != b'0' && c != b'-');
    let random = (20..=100).contains(&v.len()) && !v.contains(&b'-') && random_value(v);
    ((hex || uuid || random) && b.get(p + run).is_none_or(|&c| !is_word(c) && c != b'.'))
        .then_some((p, p + run))
}

/// A Google OAuth client id: 10 to 20 digits, `-`, 32 letters, digits or `_`, then
/// `.apps.googleusercontent.com` at `s`. The whole id goes.
fn google_client_id(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let body = s.checked_sub(32)?;
    let dash = body.checked_sub(1)?;
    if b[dash] != b'-'
        || !b[body..s]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
    {
        return None;
    }
    let digits = b[..dash]
        .iter()
        .rev()
        .take(21)
        .take_while(|c| c.is_ascii_digit())
        .count();
    let start = dash - digits;
    ((10..=20).contains(&digits) && (start == 0 || !is_word(b[start - 1]))).then_some((start, e))
}

/// Twelve digits assigned to a name ending in `account_id` (any case; `s..e` is the name's end
/// after its `a`): an assignment between (`=`, `:`, `": "`, `=>`), quotes allowed around the
/// digits.
fn account_id(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if s == 0 || !b[s - 1].eq_ignore_ascii_case(&b'a') || b.get(e).is_some_and(|&c| is_word(c)) {
        return None;
    }
    let p = value_after_assignment(b, e)?;
    let digits = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
    (digits == 12 && b.get(p + 12).is_none_or(|&c| !is_word(c) && c != b'.')).then_some((p, p + 12))
}

/// Past the separator of an assignment at `p`: up to 8 spaces, quotes, `:`, `=` and `>`, with
/// a `:` or `=` among them (` = "`, `": "`, ` => '`). Where the value starts.
fn value_after_assignment(b: &[u8], mut p: usize) -> Option<usize> {
    let start = p;
    let mut assign = false;
    while p < b.len() && p - start < 8 && matches!(b[p], b' ' | b'"' | b'\'' | b':' | b'=' | b'>') {
        assign |= matches!(b[p], b':' | b'=');
        p += 1;
    }
    assign.then_some(p)
}

/// The part of a name at `s` starts a word or a camel-case hump (`mySumoId`, `API_SNYK`; not
/// `consumo`).
fn starts_name_part(b: &[u8], s: usize) -> bool {
    s == 0
        || !b[s - 1].is_ascii_alphanumeric()
        || b[s].is_ascii_uppercase() && b[s - 1].is_ascii_lowercase()
}

/// The end of the rest of a name from `e`: up to 40 word characters, dots and dashes
/// (`SONAR|QUBE_TOKEN`, `sumo|.access-id`).
fn name_rest_end(b: &[u8], e: usize) -> usize {
    e + b[e..]
        .iter()
        .take(40)
        .take_while(|&&c| is_word(c) || matches!(c, b'.' | b'-'))
        .count()
}

/// The rest of a name that holds `sumo` at `s..e` (up to 40 name bytes), an assignment, then
/// `su` and 12 letters or digits: `SUMO_ACCESS_ID = "suGyI5imvADdvU"`.
fn sumologic_id(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if !starts_name_part(b, s) {
        return None;
    }
    let p = value_after_assignment(b, name_rest_end(b, e))?;
    let end = p + 14;
    let v = b.get(p..end)?;
    (v.starts_with(b"su")
        && v[2..].iter().all(u8::is_ascii_alphanumeric)
        && mixed(&v[2..])
        && b.get(end).is_none_or(|&c| !is_word(c)))
    .then_some((p, end))
}

/// Octopus Deploy API keys: `API-` and 26 upper-case letters and digits in the oldest, up to 34
/// now. Thirty-two upper-case hex digits are a page or object id (`notion.site/API-BD80F5…`).
fn octopus_key(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let (s, end) = prefixed(b, s, e, 26, 34, BodyClass::UpperAlnum, true)?;
    let body = &b[e..end];
    (!(body.len() == 32 && body.iter().all(u8::is_ascii_hexdigit))).then_some((s, end))
}

/// A password hash in modular crypt form: `$id$[params$]salt$hash`. The last `$` field is the
/// hash: 16 or more characters of the crypt alphabet (`./A-Za-z0-9`, with `+=` for Argon2 and
/// PBKDF2), with a digit. Kerberos hashes carry `user@realm:` or `*user$realm$spn*` in their fields.
fn crypt_hash(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if s > 0 && (is_word(b[s - 1]) || b[s - 1] == b'$') {
        return None;
    }
    // phpass (`$P$`, `$H$`): one field of exactly 31 (a cost character, 8 of salt and 22 of
    // hash), so a sentence's dot after it is not read as part of it.
    if matches!(&b[s..e], b"$P$" | b"$H$") {
        let body = b.get(e..e + 31)?;
        let crypt = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/');
        return (body.iter().all(crypt)
            && body.iter().any(u8::is_ascii_digit)
            && b.get(e + 31).is_none_or(|c| !is_word(*c) && *c != b'/'))
        .then_some((s, e + 31));
    }
    let kerberos = b[s..e].starts_with(b"$krb5");
    let mut p = e;
    let mut last = e;
    // Bounded by fields as well as bytes, so a run of `$1$.$1$.…` is not walked again from
    // each anchor in it.
    let mut fields = 0;
    while p < b.len() && p - s < 8192 {
        let c = b[p];
        if c == b'$' {
            fields += 1;
            if fields > 8 {
                break;
            }
        }
        let ok = c.is_ascii_alphanumeric()
            || matches!(c, b'.' | b'/' | b'+' | b'=' | b',' | b'-' | b'_')
            || kerberos && matches!(c, b'*' | b'@' | b':');
        if c == b'$' {
            last = p + 1;
        } else if !ok {
            break;
        }
        p += 1;
    }
    let hash = &b[last.max(e)..p];
    let dollars = b[s..p].iter().filter(|&&c| c == b'$').count();
    (dollars >= 3
        && hash.len() >= 16
        && hash
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/' | b'+' | b'='))
        && hash.iter().any(u8::is_ascii_digit)
        && (p >= b.len() || !is_word(b[p])))
    .then_some((s, p))
}

/// An LDAP password scheme and its base64 digest (`{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=`).
fn ldap_hash(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let (_, end) = prefixed(b, e, e, 16, 512, BodyClass::Base64, false)?;
    (s == 0 || !is_word(b[s - 1])).then_some((s, end))
}

/// ElevenLabs keys, `sk_` and 48 hex digits. A custom check, not a prefix rule: a prefix rule
/// would claim every `sk_…` token, and other random `sk_` tokens must still reach the
/// random-token rule.
fn elevenlabs(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    prefixed(b, s, e, 48, 48, BodyClass::Hex, true)
}

/// Nightfall API keys, `NF-` and 32 letters and digits (a custom check for the reason above).
fn nightfall(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    prefixed(b, s, e, 32, 32, BodyClass::Alnum, true)
}

/// ClickUp personal tokens: `pk_`, the user's numeric id, `_`, 32 upper-case letters and
/// digits. Stripe's publishable `pk_live_`/`pk_test_` keys are public and do not match.
fn clickup(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let d = e + b[e..]
        .iter()
        .take(13)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if d - e < 4 || b.get(d) != Some(&b'_') {
        return None;
    }
    prefixed(b, s, d + 1, 32, 32, BodyClass::UpperAlnum, true)
}

/// A Salesforce session or access token: the org id (`00D` and 12 letters and digits) then `!`
/// and the token proper.
fn salesforce_session(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let id = run(b, e, BodyClass::Alnum, 13);
    if id - e != 12 || b.get(id) != Some(&b'!') || (s > 0 && is_word(b[s - 1])) {
        return None;
    }
    let mut p = id + 1;
    while p < b.len()
        && p - id < 200
        && (b[p].is_ascii_alphanumeric() || matches!(b[p], b'.' | b'_'))
    {
        p += 1;
    }
    (p - id > 80 && (p >= b.len() || !is_word(b[p]))).then_some((s, p))
}

fn prefixed(
    b: &[u8],
    s: usize,
    body: usize,
    min: usize,
    max: usize,
    class: BodyClass,
    needs_digit: bool,
) -> Option<(usize, usize)> {
    if s > 0 && is_word(b[s - 1]) {
        return None;
    }
    let mut e = body;
    while e < b.len() && e - body < max + 1 && class.accepts(b[e]) {
        e += 1;
    }
    let len = e - body;
    if len < min || len > max || (e < b.len() && is_word(b[e])) {
        return None;
    }
    let tail = &b[body..e];
    if needs_digit
        && !(tail.iter().any(u8::is_ascii_digit) && tail.iter().any(u8::is_ascii_alphabetic))
    {
        return None;
    }
    Some((s, e))
}

/// A GitHub App installation token: `ghs_` and 30+ letters and digits, or (the newer form)
/// `ghs_<installation id>_<JWT>`.
fn github_server(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut d = e;
    while d < b.len() && d - e < 20 && b[d].is_ascii_digit() {
        d += 1;
    }
    if d > e && b.get(d) == Some(&b'_') && b[d + 1..].starts_with(b"eyJ") {
        if s > 0 && is_word(b[s - 1]) {
            return None;
        }
        // The JWT starts after a `_`, which its own rule takes for a word it is inside of.
        if let Ok((_, end)) = jwt(&b[d + 1..], 0) {
            return Some((s, d + 1 + end));
        }
    }
    prefixed(b, s, e, 30, 255, BodyClass::Alnum, false)
}

/// The second of two string literals that open a credential call's arguments at `e` (after
/// its `(`): the password. A reference (`"${PASS}"`) or a short string stays.
fn credential_call(b: &[u8], _s: usize, e: usize) -> Option<(usize, usize)> {
    let skip_ws = |mut p: usize| {
        while p < b.len() && p - e < 64 && matches!(b[p], b' ' | b'\t' | b'\n' | b'\r') {
            p += 1;
        }
        p
    };
    let literal = |p: usize| one_line_literal(b, p, b"\"'", MAX_VALUE);
    let (_, user_end) = literal(skip_ws(e))?;
    let p = skip_ws(user_end + 1);
    if b.get(p) != Some(&b',') {
        return None;
    }
    let (s, end) = literal(skip_ws(p + 1))?;
    let v = &b[s..end];
    (v.len() >= 4 && !v.contains(&b'\\') && !is_literal_reference(v)).then_some((s, end))
}

/// `cred = …`, `cred: …` (a whole name part, so not `credit` or `incredible`): `cred` is an
/// anchor with the byte after it, or the walk would stop at every `credit`.
const CRED_ENDS: &[char] = &[' ', '=', ':', '"', '\''];

/// Calls that take a password or a signing key as a positional argument (the anchor is the
/// name and its `(`), and the argument's index. `connect(` is an anchor too, for the
/// `…_connect(` of PHP's and Python's database drivers: see `DRIVERS`.
const SINK_CALLS: &[(&str, usize)] = &[
    ("ldap_bind", 2),
    ("ldap_exop_passwd", 3),
    ("imap_open", 2),
    ("ftp_login", 2),
    ("ssh2_auth_password", 2),
    ("new PDO", 2),
    ("new mysqli", 2),
    ("new maxdb", 2),
    ("maxdb_change_user", 2),
    ("getConnection", 2),
    ("DeriveBytes", 0),
    ("PasswordEncoder", 0),
    ("jwt.sign", 1),
    ("JWT.sign", 1),
    ("jwt.encode", 1),
    ("jwt.decode", 1),
    ("HMAC256", 0),
    ("HMAC384", 0),
    ("HMAC512", 0),
    ("hmac.new", 0),
    ("BasicAuth", 1),
    ("DigestAuth", 1),
    ("auth=", 1),
];

/// The database drivers whose `connect(` takes a password (the text right before `connect`),
/// and its index.
const DRIVERS: &[(&[u8], usize)] = &[
    (b"cubrid_", 4),
    (b"dbx_", 4),
    (b"oci_", 1),
    (b"mysqli_", 2),
    (b"mysql_", 2),
    (b"mysql_p", 2),
    (b"mssql_", 2),
    (b"odbc_", 2),
    (b"db2_", 2),
    (b"maxdb_", 2),
    (b"ifx_", 2),
    (b"fbsql_", 2),
    (b"fbsql_p", 2),
    (b"pymysql.", 2),
    (b"MySQLdb.", 2),
    (b"pgdb.", 2),
];

/// The literal at a credential argument of a call in `SINK_CALLS` (the anchor `b[s..e]` ends at
/// its `(`): the arguments before it may be anything but a bracket or another string holding a
/// comma is read as the language would (depth and quotes), on one line, within 256 bytes.
fn sink_call(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let head = &b[s..e - 1];
    let index = if head == b"connect" {
        // `connect(` must end a driver's name (`mysqli_connect`, `pymysql.connect`), not a word
        // (`reconnect(`) or a bare call (`connect(a, b, c)` in prose about code).
        let mut k = s;
        while k > 0 && s - k < 24 && (is_word(b[k - 1]) || b[k - 1] == b'.') {
            k -= 1;
        }
        let driver = &b[k..s];
        DRIVERS.iter().find(|(d, _)| driver.ends_with(d))?.1
    } else {
        SINK_CALLS
            .iter()
            .find(|(name, _)| head == name.as_bytes())?
            .1
    };
    let end = b.len().min(e + 256);
    let (mut p, mut arg, mut depth) = (e, 0, 0u32);
    while p < end {
        match b[p] {
            b'\n' => return None,
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return None,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => arg += 1,
            c @ (b'"' | b'\'') => {
                let (ls, le) = one_line_literal(b, p, &[c], end - p)?;
                if arg == index && depth == 0 {
                    // Only the whole argument: a literal followed by `,` or `)`, a prefix
                    // (`b"…"`, `@"…"`) before it at most.
                    let mut k = p;
                    if k > 0 && matches!(b[k - 1], b'b' | b'@' | b'r' | b'u') {
                        k -= 1;
                    }
                    let mut j = k;
                    while j > e && matches!(b[j - 1], b' ' | b'\t') {
                        j -= 1;
                    }
                    let mut a = le + 1;
                    while a < end && matches!(b[a], b' ' | b'\t') {
                        a += 1;
                    }
                    let whole =
                        matches!(b[j - 1], b'(' | b',') && matches!(b.get(a), Some(b',' | b')'));
                    let v = &b[ls..le];
                    return (whole
                        && v.len() >= 4
                        && !names_password(v)
                        && !v.contains(&b'\\')
                        && !is_literal_reference(v)
                        && !env_name(v))
                    .then_some((ls, le));
                }
                p = le;
            }
            _ => {}
        }
        if arg > index {
            return None;
        }
        p += 1;
    }
    None
}

/// A string literal opened at `p` by one of `quotes` and closed by the same quote on the same
/// line within `max` bytes: the span of its inside.
fn one_line_literal(b: &[u8], p: usize, quotes: &[u8], max: usize) -> Option<(usize, usize)> {
    let q = *b.get(p)?;
    if !quotes.contains(&q) {
        return None;
    }
    let body = &b[p + 1..b.len().min(p + 1 + max)];
    let end = p + 1 + body.iter().position(|&c| c == q || c == b'\n')?;
    (b[end] == q).then_some((p + 1, end))
}

fn b64url_run(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_' || b[p] == b'-') {
        p += 1;
    }
    p
}

/// `header.payload.signature`; on failure, the end of the header run.
fn jwt(b: &[u8], s: usize) -> Result<(usize, usize), usize> {
    let h = b64url_run(b, s);
    if s > 0 && is_word(b[s - 1]) {
        return Err(s + 3);
    }
    if h - s < 10 || h >= b.len() || b[h] != b'.' {
        return Err(h);
    }
    let p = b64url_run(b, h + 1);
    if p - h - 1 < 10 || !json_object_b64(&b[s..h]) {
        return Err(h);
    }
    if p >= b.len() || b[p] != b'.' {
        // An unsigned token (`alg: none`): header and a JSON payload, no signature part.
        return if b[h + 1..].starts_with(b"eyJ") && (p >= b.len() || !is_word(b[p])) {
            Ok((s, p))
        } else {
            Err(h)
        };
    }
    Ok((s, b64url_run(b, p + 1)))
}

/// A JWT header segment decodes to a JSON object: `{` first, `}` last, and mostly printable
/// text (a byte or two garbled in a copy is tolerated). Headers that decode to binary
/// (`eyJhbasdGci...`) or stop before their closing brace are hand-made look-alikes.
fn json_object_b64(seg: &[u8]) -> bool {
    let mut dec = [0u8; 96];
    let mut n = 0;
    let (mut acc, mut bits) = (0u32, 0);
    for &c in seg.iter().take(128) {
        let Some(v) = b64_val(c) else {
            return false;
        };
        acc = ((acc << 6) | v) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n < dec.len() {
                dec[n] = (acc >> bits) as u8;
                n += 1;
            }
        }
    }
    let d = &dec[..n];
    // Long headers (embedded keys) are cut at 96 bytes: then only the start is checked.
    let closed = seg.len() > 128 || d.trim_ascii_end().ends_with(b"}");
    let binary = d
        .iter()
        .filter(|&&c| !(c.is_ascii_graphic() || c.is_ascii_whitespace()))
        .count();
    d.first() == Some(&b'{') && closed && binary * 4 <= d.len()
}

fn pem(b: &[u8], s: usize) -> Option<(usize, usize)> {
    if !b[s..].starts_with(b"-----BEGIN ") {
        return None;
    }
    let head_end = memchr::memmem::find(&b[s + 11..(s + 80).min(b.len())], b"-----")? + s + 11;
    let label = &b[s + 11..head_end];
    if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
        return None;
    }
    let body = head_end + 5;
    // Any body goes, a made-up one included (`super secret key here`): a redactor loses nothing
    // by masking a placeholder key, and a key pasted in part is still a key. Two bodies stay: one
    // masked already (over half of its first 4 KB is `*`) and a typed-in unit repeated (`abab…`).
    let shown = &b[body..b.len().min(body + 4096)];
    let shown = &shown[..memchr::memmem::find(shown, b"-----END ").unwrap_or(shown.len())];
    let stars = shown.iter().filter(|&&c| c == b'*').count();
    let key: Vec<u8> = shown
        .iter()
        .copied()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/'))
        .take(64)
        .collect();
    if stars > shown.len() / 2 || periodic(&key) {
        return None;
    }
    let Some(end) = memchr::memmem::find(&b[body..], b"-----END ") else {
        // Truncated key: everything after the header goes.
        return Some((s, b.len()));
    };
    let key_chars = b[body..body + end]
        .iter()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/'))
        .count();
    if key_chars < 12 {
        return None;
    }
    let end = body + end + 9;
    match memchr::memmem::find(&b[end..(end + 80).min(b.len())], b"-----") {
        Some(k) => Some((s, end + k + 5)),
        None => Some((s, b.len())),
    }
}

/// The string literal an expression at `from` falls back to, on the same line within 160 bytes:
/// `env["PASS"] ?: "s3cret"` (Kotlin, Groovy), `process.env.PASS || "s3cret"`, `?? "s3cret"`
/// (C#, JavaScript), `os.getenv("PASS") or "s3cret"` (Python). Under a password name it may be
/// a word; under another credential name it must not read as words. A placeholder stays.
fn fallback_literal(b: &[u8], from: usize, password: bool) -> Option<(usize, usize)> {
    let end = b.len().min(from.saturating_add(160));
    let line = &b[from..end];
    let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
    let (k, op) = [&b"?:"[..], b"||", b"??", b" or "]
        .iter()
        .filter_map(|op| memchr::memmem::find(line, op).map(|k| (k, op.len())))
        .min()?;
    let mut p = from + k + op;
    while p < end && b[p] == b' ' {
        p += 1;
    }
    let (s, e) = one_line_literal(b, p, b"\"'", MAX_VALUE)?;
    let v = &b[s..e];
    (v.len() >= 4
        && !v.contains(&b' ')
        && !is_literal_reference(v)
        && !names_a_credential(v)
        && !env_name(v)
        && !scalar_or_type(v)
        && (password || !wordy(v)))
    .then_some((s, e))
}

/// `scheme://user:password@host`: only the password goes.
fn url_password(b: &[u8], colon_slash: usize) -> Option<(usize, usize)> {
    // Scheme must be letters right before "://".
    if colon_slash == 0 || !b[colon_slash - 1].is_ascii_alphabetic() {
        return None;
    }
    let stop = |c: u8| {
        c.is_ascii_whitespace()
            || matches!(c, b'/' | b'@' | b'"' | b'\'' | b'<' | b'>' | b'?' | b'#')
    };
    let mut p = colon_slash + 3;
    while p < b.len() && !stop(b[p]) && b[p] != b':' {
        p += 1;
    }
    if p >= b.len() || b[p] != b':' {
        return None;
    }
    let pw_start = p + 1;
    let mut q = pw_start;
    while q < b.len() && !stop(b[q]) {
        q += 1;
    }
    if q == pw_start
        || q >= b.len()
        || b[q] != b'@'
        || q + 1 >= b.len()
        || !b[q + 1].is_ascii_alphanumeric()
        || is_reference(&b[pw_start..q])
    {
        return None;
    }
    // `https://<token>:x-oauth-basic@github.com`: GitHub's fixed password, the user is the
    // token.
    if b[pw_start..q].eq_ignore_ascii_case(b"x-oauth-basic") {
        let user = colon_slash + 3;
        return (pw_start - 1 > user).then_some((user, pw_start - 1));
    }
    Some((pw_start, q))
}

fn token_char(c: u8, password: bool) -> bool {
    if password {
        c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b',' | b';' | b'`' | b'<')
    } else {
        c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
    }
}

/// Identifier names whose value is a credential, compared on lower-case alphanumerics only, so
/// `api_key`, `API-KEY`, `apiKey` and `X_API_KEY` are one name.
pub(crate) fn is_secret_name(norm: &[u8]) -> bool {
    const ENDS: &[&[u8]] = &[
        b"apikey",
        b"apitoken",
        b"apisecret",
        b"accesskey",
        b"accesstoken",
        b"secretkey",
        b"secret",
        b"privatekey",
        b"token",
        b"password",
        b"passwd",
        b"pwd",
        b"pw",
        b"pword",
        b"passphrase",
        b"authorization",
        b"auth",
        b"credential",
        b"credentials",
        b"creds",
        b"signingkey",
        b"encryptionkey",
        b"masterkey",
        b"accountkey",
        b"sharedkey",
        b"clientkey",
        b"appkey",
        b"licensekey",
        b"bearer",
        b"passcode",
        // A Vault AppRole's `secret_id` is the credential itself (its `role_id` is not).
        b"secretid",
        b"sessionkey",
        b"cookie",
        b"xapikey",
        // Lists of credentials (`api_tokens`, `passwords`); not `tokens` (counts of model
        // tokens) or `secrets` (sections and references).
        b"passwords",
        b"apikeys",
        b"apitokens",
        b"accesstokens",
        b"accesskeys",
        b"secretkeys",
        b"privatekeys",
    ];
    const NOT: &[&[u8]] = &[b"author", b"oauthurl", b"tokenizer"];
    // Most keys (`content`, `role`, `messages`) end in two bytes that no name ends in: one
    // table lookup instead of a comparison per name.
    const LAST2: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut k = 0;
        while k < ENDS.len() {
            let e = ENDS[k];
            // Every name has at least two bytes (a shorter one fails to compile here).
            let (a, b) = (e[e.len() - 2], e[e.len() - 1]);
            t[b as usize] |= 1 << (a % 32);
            k += 1;
        }
        t
    };
    let Some(&[a, b]) = norm.last_chunk::<2>() else {
        return false;
    };
    if LAST2[b as usize] & (1 << (a % 32)) == 0 {
        return false;
    }
    !NOT.contains(&norm) && ENDS.iter().any(|e| norm.ends_with(e))
}

/// Most bytes of a normalised key name.
const NAME_NORM_MAX: usize = 64;

/// A key name as the name lists compare it: letters and digits only, lower-cased, at most
/// [`NAME_NORM_MAX`] of them (`X-Api_Key` is `xapikey`).
fn normalised(name: &[u8]) -> impl Iterator<Item = u8> + '_ {
    name.iter()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .take(NAME_NORM_MAX)
}

pub(crate) fn normalise_name(name: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(normalised(name));
}

const SEP: fn(u8) -> bool = |c| {
    matches!(
        c,
        b' ' | b'\t'
            | b'"'
            | b'\''
            | b'`'
            | b':'
            | b'='
            | b'>'
            | b'.'
            | b'?'
            | b'|'
            | b'+'
            | b'!'
            | b'&'
            | b','
    )
};

/// A type name for integers or floats in the common languages (`u32`, `usize`, `int64`,
/// `Long`, `double`).
fn numeric_type(ty: &[u8]) -> bool {
    const TYPES: &[&[u8]] = &[
        b"u8", b"u16", b"u32", b"u64", b"u128", b"usize", b"i8", b"i16", b"i32", b"i64", b"i128",
        b"isize", b"f32", b"f64", b"int", b"uint", b"long", b"ulong", b"short", b"ushort", b"int8",
        b"int16", b"int32", b"int64", b"uint8", b"uint16", b"uint32", b"uint64", b"integer",
        b"float", b"double", b"byte", b"number",
    ];
    ty.len() <= 7 && TYPES.iter().any(|t| t.eq_ignore_ascii_case(ty))
}

/// `v` starts with a whole decimal or `0x` hex number (`_` separators and a `u`/`l` suffix
/// allowed) that ends there: `2183164128;`, `0x8008_6F02u`.
fn numeric_literal(v: &[u8]) -> bool {
    let hex = v.len() > 2 && v[0] == b'0' && matches!(v[1], b'x' | b'X');
    let body = if hex { &v[2..] } else { v };
    let digits = body
        .iter()
        .take_while(|&&c| {
            c == b'_'
                || if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
        })
        .count();
    let suffix = body[digits..]
        .iter()
        .take_while(|&&c| matches!(c, b'u' | b'U' | b'l' | b'L'))
        .count();
    digits > 0
        && body[0] != b'_'
        && body
            .get(digits + suffix)
            .is_none_or(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
}

/// `pass` (or `pw`) at `s..e` ending a name that starts a word there (`pass`, `DB_PASS`,
/// `smtp-pass`, `dbPass`, `admin_pw`; not `bypass`, `passenger` or `upward`), with an assignment
/// right after it: then its value is a password. Prose (`boarding pass 1234`, `pass the test`)
/// has no assignment.
fn pass_name(b: &[u8], s: usize, e: usize, scanned: &mut usize) -> Option<(usize, usize)> {
    if b.get(e)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
    {
        return None;
    }
    let starts_word = pass_starts_part(s.checked_sub(1).map(|k| b[k]), b[s]);
    // A query parameter (`?user=admin&userpass=…`, `;dbpass=…`) names a password even glued,
    // unless it is a word that ends in `pass`.
    let query_param = || {
        let mut k = s;
        while k > 0 && s - k < 12 && b[k - 1].is_ascii_alphanumeric() {
            k -= 1;
        }
        k > 0
            && matches!(b[k - 1], b'?' | b'&' | b';')
            && b.get(e) == Some(&b'=')
            && ![
                &b"bypass"[..],
                b"compass",
                b"surpass",
                b"trespass",
                b"overpass",
                b"underpass",
            ]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(&b[k..e]))
    };
    if !starts_word && !query_param() {
        return None;
    }
    // The name of a name/value pair (`key: PASS` / `value: …`, `<key>PASS</key>`).
    if pair_value_at(b, s, e).is_some() || xml_pair_value_at(b, s, e).is_some() {
        return keyword_scan(b, e, true, scanned);
    }
    let mut p = e;
    while p < b.len() && p - e < 4 && matches!(b[p], b' ' | b'\t' | b'"' | b'\'') {
        p += 1;
    }
    match (b.get(p), b.get(p + 1)) {
        // A comparison with a string literal (`db_pass != "…"`) holds the password too.
        (Some(b'=' | b'!'), Some(b'=')) => {
            let mut r = p + 2;
            while r < b.len() && r - p < 6 && matches!(b[r], b'=' | b' ') {
                r += 1;
            }
            matches!(b.get(r), Some(b'"' | b'\''))
                .then(|| keyword_scan(b, e, true, scanned))
                .flatten()
        }
        (Some(b':'), Some(b':')) => None,
        (Some(b'=' | b':'), _) => keyword_scan(b, e, true, scanned),
        // Setter arguments (`'pass' ,"x"`, `pass ,"x"`): a quote or a space between the name
        // and the comma, a quote right after it. In prose the comma follows the word.
        (Some(b','), Some(b'"' | b'\'')) if p > e => keyword_scan(b, e, true, scanned),
        // An XML element (`<pass data="1">x</pass>`) or a symbol key (`:pass x`).
        _ if s > 0 && matches!(b[s - 1], b'<' | b':') => keyword_scan(b, e, true, scanned),
        _ => None,
    }
}

/// The name at `id_start` opens a table cell (line start or `|` before it, spaces aside) and the
/// separator `sep_start..q` after it is one pipe between spaces: the next cell is its value.
fn table_cell(b: &[u8], id_start: usize, sep_start: usize, q: usize) -> bool {
    let sep = &b[sep_start..q];
    if sep.iter().filter(|&&c| c == b'|').count() != 1
        || !sep.iter().all(|&c| matches!(c, b'|' | b' ' | b'\t'))
        || matches!(b.get(q), None | Some(b'|' | b'\n' | b'\r'))
    {
        return false;
    }
    let mut k = id_start;
    while k > 0 && matches!(b[k - 1], b' ' | b'\t') {
        k -= 1;
    }
    k == 0 || matches!(b[k - 1], b'|' | b'\n')
}

/// Keys that name a setting whose value a sibling key holds: Kubernetes and ECS environment
/// variables (`name`/`value`), Postman variables (`key`/`value`), CloudFormation parameters
/// (`ParameterKey`/`ParameterValue`).
pub(crate) const PAIR_NAME_KEYS: &[&[u8]] = &[b"name", b"key", b"parameterkey", b"parametername"];
pub(crate) const PAIR_VALUE_KEYS: &[&[u8]] = &[b"value", b"parametervalue"];

/// A JSON key or pair name whose last part is `pass` or `pw` (`pass`, `DB_PASS`, `smtp-pass`,
/// `dbPass`, `admin_pw`; not `bypass`, `compass` or `upward`): it names a password.
pub(crate) fn pass_part_name(raw: &[u8]) -> bool {
    [&b"pass"[..], b"pw"].iter().any(|suffix| {
        let k = raw.len().saturating_sub(suffix.len());
        raw.len() >= suffix.len()
            && raw[k..].eq_ignore_ascii_case(suffix)
            && pass_starts_part(raw[..k].last().copied(), raw[k])
    })
}

/// `pass`/`pw` whose first byte is `first` starts a part of a name after the byte `before`
/// (`None`: the name's start): after `_`, `-`, `.` or any other non-alphanumeric byte, or as
/// a camelCase part (`dbPass`); not inside a word (`bypass`, `upward`, `DBPASS`).
fn pass_starts_part(before: Option<u8>, first: u8) -> bool {
    match before {
        None | Some(b'_' | b'-' | b'.') => true,
        Some(c) if c.is_ascii_lowercase() => first.is_ascii_uppercase(),
        Some(c) => !c.is_ascii_alphanumeric(),
    }
}

/// In a multiple assignment on one line (`a, b = "x", "y"`, `const a, b string = "x", "y"`,
/// `a, b := "x", "y"`), the string literal that the name at `id_start..id_end` receives: its
/// inside. Only string literals on the right, as many as the names, within 256 bytes.
fn multi_assign_value(b: &[u8], id_start: usize, id_end: usize) -> Option<(usize, usize)> {
    let ident = |c: u8| is_word(c) || c == b'.';
    // Names before this one: `[decl] name, name, ` back to the line start.
    let mut k = id_start;
    let mut index = 0;
    loop {
        let mut j = k;
        while j > 0 && k - j < 4 && b[j - 1] == b' ' {
            j -= 1;
        }
        if j == 0 || b[j - 1] != b',' {
            break;
        }
        j -= 1;
        while j > 0 && k - j < 8 && b[j - 1] == b' ' {
            j -= 1;
        }
        let name_end = j;
        while j > 0 && name_end - j < 64 && ident(b[j - 1]) {
            j -= 1;
        }
        if j == name_end || index == 8 {
            return None;
        }
        index += 1;
        k = j;
    }
    let mut j = k;
    while j > 0 && k - j < 16 && matches!(b[j - 1], b' ' | b'\t') {
        j -= 1;
    }
    // What comes before the names: the line start or a declaration keyword.
    let mut w = j;
    while w > 0 && j - w < 8 && b[w - 1].is_ascii_alphabetic() {
        w -= 1;
    }
    let decl = matches!(
        &b[w..j],
        b"var" | b"const" | b"let" | b"local" | b"my" | b"our"
    );
    let head = if decl { w } else { j };
    if !(head == 0 || matches!(b[head - 1], b'\n' | b'\r' | b'\t' | b' ' | b';' | b'{')) {
        return None;
    }
    if head > 0 && b[head - 1] == b' ' {
        // Only indentation (at most 64 bytes) may come before: a space after text is prose.
        let mut ls = head;
        while ls > 0 && head - ls < 64 && matches!(b[ls - 1], b' ' | b'\t') {
            ls -= 1;
        }
        if ls > 0 && !matches!(b[ls - 1], b'\n' | b'\r') {
            return None;
        }
    }
    // Names after this one, an optional type, then `=` or `:=`.
    let mut p = id_end;
    let mut total = index + 1;
    loop {
        while p < b.len() && p - id_end < 256 && b[p] == b' ' {
            p += 1;
        }
        if b.get(p) != Some(&b',') {
            break;
        }
        p += 1;
        while p < b.len() && p - id_end < 256 && b[p] == b' ' {
            p += 1;
        }
        let n0 = p;
        while p < b.len() && p - n0 < 64 && ident(b[p]) {
            p += 1;
        }
        if p == n0 || total == 9 {
            return None;
        }
        total += 1;
    }
    if total < 2 {
        return None;
    }
    // An optional type (`string`), then the operator.
    if b.get(p).is_some_and(|&c| c.is_ascii_alphabetic()) {
        let t0 = p;
        while p < b.len() && p - t0 < 32 && ident(b[p]) {
            p += 1;
        }
        while p < b.len() && b[p] == b' ' && p - t0 < 40 {
            p += 1;
        }
    }
    if b.get(p) == Some(&b':') {
        p += 1;
    }
    if b.get(p) != Some(&b'=') || b.get(p + 1) == Some(&b'=') {
        return None;
    }
    p += 1;
    let mut found = None;
    for n in 0..total {
        while p < b.len() && p - id_end < 256 && b[p] == b' ' {
            p += 1;
        }
        let (s, end) = one_line_literal(b, p, b"\"'`", 256)?;
        if b[s..end].contains(&b'\\') {
            return None;
        }
        if n == index {
            found = Some((s, end));
        }
        p = end + 1;
        if n + 1 < total {
            while p < b.len() && p - id_end < 256 && b[p] == b' ' {
                p += 1;
            }
            if b.get(p) != Some(&b',') {
                return None;
            }
            p += 1;
        }
    }
    found
}

/// The name `id_start..name_end` is the whole value of a pair's name key (`name: DB_PASSWORD`,
/// `"key": "api_token"`, `ParameterKey=DbPassword`) and the pair's value key follows it in the
/// same object or list item (`\n  value: …`, `, "value": "…"`, `,ParameterValue=…`): where the
/// value starts (after its opening quote, if any) and that quote.
fn pair_value_at(b: &[u8], id_start: usize, name_end: usize) -> Option<(usize, u8)> {
    let is_quote = |c: u8| matches!(c, b'"' | b'\'');
    // Before the name: an optional quote, the assignment, the name key (optionally quoted). A
    // dotted name is one name (`key: business.password`).
    let mut k = dotted_start(b, id_start);
    let name_quote = k.checked_sub(1).map(|j| b[j]).filter(|&c| is_quote(c));
    if name_quote.is_some() {
        k -= 1;
    }
    let name_start = k;
    while k > 0 && name_start - k < 8 && b[k - 1] == b' ' {
        k -= 1;
    }
    if k == 0 || !matches!(b[k - 1], b':' | b'=') {
        return None;
    }
    k -= 1;
    let op_start = k;
    while k > 0 && op_start - k < 8 && b[k - 1] == b' ' {
        k -= 1;
    }
    if k > 0 && is_quote(b[k - 1]) {
        k -= 1;
    }
    let key_end = k;
    while k > 0 && key_end - k < 16 && b[k - 1].is_ascii_alphabetic() {
        k -= 1;
    }
    if k > 0 && (b[k - 1].is_ascii_alphanumeric() || b[k - 1] == b'_') {
        return None;
    }
    if !in_ci_list(&b[k..key_end], PAIR_NAME_KEYS) {
        return None;
    }
    // After the name: its closing quote, then a separator (a comma or a line break) to the value
    // key, nothing else: a `}` or a `{` would mean another object.
    let mut p = name_end;
    if let Some(c) = name_quote {
        if b.get(p) != Some(&c) {
            return None;
        }
        p += 1;
    }
    let gap = p;
    let mut separated = false;
    while p < b.len() && p - gap < 48 && matches!(b[p], b' ' | b'\t' | b',' | b'\r' | b'\n') {
        separated |= matches!(b[p], b',' | b'\n');
        p += 1;
    }
    if !separated {
        return None;
    }
    let value_quote = b.get(p).copied().filter(|&c| is_quote(c));
    if value_quote.is_some() {
        p += 1;
    }
    let vk = p;
    while p < b.len() && p - vk < 16 && b[p].is_ascii_alphabetic() {
        p += 1;
    }
    // `valueFrom:` (a reference to a Secret) is not the value.
    if !in_ci_list(&b[vk..p], PAIR_VALUE_KEYS) || b.get(p).is_some_and(|&c| is_word(c)) {
        return None;
    }
    if let Some(c) = value_quote {
        if b.get(p) != Some(&c) {
            return None;
        }
        p += 1;
    }
    let value_key_end = p;
    while p < b.len() && p - value_key_end < 8 && b[p] == b' ' {
        p += 1;
    }
    if !matches!(b.get(p), Some(b':' | b'=')) || b.get(p + 1) == Some(&b':') {
        return None;
    }
    p += 1;
    let op_end = p;
    while p < b.len() && p - op_end < 8 && b[p] == b' ' {
        p += 1;
    }
    match b.get(p) {
        Some(&c) if is_quote(c) => Some((p + 1, c)),
        _ => Some((p, 0)),
    }
}

/// The start of the dotted name that ends in the identifier at `id_start`
/// (`javax.jdo.option.ConnectionPassword`), at most 64 bytes back.
fn dotted_start(b: &[u8], id_start: usize) -> usize {
    let mut k = id_start;
    while k > 0 && id_start - k < 64 && (is_word(b[k - 1]) || matches!(b[k - 1], b'.' | b'-')) {
        k -= 1;
    }
    // Only dots joining words count: a leading dot belongs to something else.
    while k < id_start && !is_word(b[k]) {
        k += 1;
    }
    k
}

/// The XML forms of a name/value pair: a `<name>` or `<key>` element holding the credential's
/// name, then its `<value>` or `<string>` element (Hadoop and Hive configuration, property
/// lists), or a `key` or `name` attribute with the value as the element's content (`<entry
/// key="db.password">…</entry>`). Where the value starts, with `>` as its opening.
fn xml_pair_value_at(b: &[u8], id_start: usize, name_end: usize) -> Option<(usize, u8)> {
    let k = dotted_start(b, id_start);
    let before = &b[..k];
    if before.last().is_some_and(|&c| matches!(c, b'"' | b'\'')) {
        // `<entry key="db.password">value</entry>`, Android's `<string
        // name="api_key">value</string>`, `<add name = 'the_password' value="…"/>`: the
        // element's content or a `value` attribute after the name.
        named_attribute(b, id_start, name_end)?;
        // The rest of the start tag, quotes skipped: a `value` attribute, or the `>` that
        // opens the content (`/>` closes an empty element).
        let end = b.len().min(name_end + 200);
        let mut quote = 0u8;
        for k in name_end + 1..end {
            let c = b[k];
            if quote != 0 {
                if c == quote {
                    quote = 0;
                }
                continue;
            }
            match c {
                b'"' | b'\'' => quote = c,
                b'>' => return (b[k - 1] != b'/').then_some((k + 1, b'>')),
                b'<' | b'\n' => return None,
                b' ' => {
                    if let Some(found) = value_attribute(b, k + 1) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        return None;
    }
    let tag = [b"<name>".as_slice(), b"<key>"].into_iter().find(|t| {
        before.len() >= t.len() && before[before.len() - t.len()..].eq_ignore_ascii_case(t)
    })?;
    let close_len = tag.len() + 1;
    let close = b.get(name_end..name_end + close_len)?;
    if close[..2] != *b"</" || !close[2..].eq_ignore_ascii_case(&tag[1..]) {
        return None;
    }
    let mut p = name_end + close_len;
    let gap = p;
    while p < b.len() && p - gap < 48 && b[p].is_ascii_whitespace() {
        p += 1;
    }
    let r = &b[p..];
    [b"<value>".as_slice(), b"<string>"]
        .into_iter()
        .find(|t| r.len() >= t.len() && r[..t.len()].eq_ignore_ascii_case(t))
        .map(|t| (p + t.len(), b'>'))
}

/// The name at `id_start..name_end` is the quoted value of a `key` or `name` attribute
/// (`name="the_password"`, `key = 'db.password'`): where that attribute starts.
fn named_attribute(b: &[u8], id_start: usize, name_end: usize) -> Option<usize> {
    let before = &b[..dotted_start(b, id_start)];
    let quote = *before.last().filter(|&&c| matches!(c, b'"' | b'\''))?;
    let attr = before[..before.len() - 1].trim_ascii_end();
    let attr = attr.strip_suffix(b"=")?.trim_ascii_end();
    let a = [&b" key"[..], b" name"]
        .into_iter()
        .find(|a| attr.len() >= a.len() && attr[attr.len() - a.len()..].eq_ignore_ascii_case(a))?;
    (b.get(name_end) == Some(&quote)).then_some(attr.len() - a.len() + 1)
}

/// A `value="…"` attribute before a `name` or `key` attribute that names a credential, in the
/// same start tag (`<add value="s3cret" name="the_password"/>`): the span of its text. The tag
/// opens at most 200 bytes back, with no `>` or line break outside quotes between.
fn value_attribute_before(b: &[u8], id_start: usize, name_end: usize) -> Option<(usize, usize)> {
    let attr = named_attribute(b, id_start, name_end)?;
    let from = attr.saturating_sub(200);
    let mut lt = None;
    let mut quote = 0u8;
    for k in (from..attr).rev() {
        let c = b[k];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if matches!(c, b'"' | b'\'') {
            quote = c;
        } else if c == b'<' {
            lt = Some(k);
            break;
        } else if matches!(c, b'>' | b'\n') {
            return None;
        }
    }
    let mut q = lt?;
    while let Some(i) = memchr::memmem::find(&b[q..attr], b" value") {
        if let Some((s, quote)) = value_attribute(b, q + i + 1) {
            let len = b
                .get(s..attr)?
                .iter()
                .position(|&c| c == quote || c == b'\n')?;
            return (b[s + len] == quote).then_some((s, s + len));
        }
        q += i + 1;
    }
    None
}

/// A `value="…"` attribute at `p` (any case, spaces around `=`): where its text starts, and its
/// quote.
fn value_attribute(b: &[u8], p: usize) -> Option<(usize, u8)> {
    if !b.get(p..p + 5)?.eq_ignore_ascii_case(b"value") {
        return None;
    }
    let mut q = p + 5;
    while b.get(q) == Some(&b' ') && q - p < 12 {
        q += 1;
    }
    if b.get(q) != Some(&b'=') {
        return None;
    }
    q += 1;
    while b.get(q) == Some(&b' ') && q - p < 20 {
        q += 1;
    }
    let quote = *b.get(q).filter(|c| matches!(c, b'"' | b'\''))?;
    Some((q + 1, quote))
}

fn in_ci_list(w: &[u8], list: &[&[u8]]) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(w))
}

/// The default of a `${NAME:-default}` expansion (also `:=`, `-`, `=`) whose name is at
/// `name_end`, when it looks like a credential rather than a word (`unset`) or a reference.
fn expansion_default(b: &[u8], name_end: usize, credential: bool) -> Option<(usize, usize)> {
    let mut s = name_end;
    if b.get(s) == Some(&b':') {
        s += 1;
    }
    if !matches!(b.get(s), Some(b'-' | b'=')) {
        return None;
    }
    s += 1;
    let e = s + b[s..]
        .iter()
        .take(MAX_VALUE + 1)
        .position(|&c| c == b'}' || c == b'\n' || c == b'$')?;
    if b.get(e) != Some(&b'}') {
        return None;
    }
    let v = &b[s..e];
    let ok = credential
        && v.len() >= 6
        && !v.contains(&b' ')
        && !is_reference(v)
        && !filler_pattern(v)
        && !wordy(v)
        && v.iter().any(u8::is_ascii_digit);
    ok.then_some((s, e))
}

/// A lower-case name of two or three parts whose last part is a credential word: the name of
/// a key or a Secret (`secretKey: api-key`, `password: db-password`), not a value.
fn names_a_credential(v: &[u8]) -> bool {
    const LAST: &[&[u8]] = &[
        b"key",
        b"password",
        b"passwd",
        b"token",
        b"secret",
        b"credentials",
        b"creds",
        b"apikey",
    ];
    // Every credential word ends in one of these letters: most values stop here.
    if v.len() > 40
        || !matches!(v.last(), Some(b'y' | b'd' | b'n' | b't' | b's'))
        || !v.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
    {
        return false;
    }
    let mut parts = v.split(|&c| matches!(c, b'-' | b'_' | b'.'));
    let n = parts.clone().count();
    (2..=3).contains(&n)
        && parts
            .clone()
            .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_alphabetic))
        && parts.next_back().is_some_and(|p| LAST.contains(&p))
}

/// [`normalised`] on the stack, for names read at every keyword in a text.
fn stack_normalised(id: &[u8]) -> ([u8; NAME_NORM_MAX], usize) {
    let mut buf = [0u8; NAME_NORM_MAX];
    let mut len = 0;
    for (slot, c) in buf.iter_mut().zip(normalised(id)) {
        *slot = c;
        len += 1;
    }
    (buf, len)
}

/// A string literal compared with a credential name written after it (`if ("s3cr3t" ==
/// password)`, `"k3y" !== apiKey`): a value written into the code.
fn compared_literal(b: &[u8], kw_end: usize, password: bool) -> Option<(usize, usize)> {
    let mut id_start = kw_end;
    while id_start > 0 && kw_end - id_start < 48 && is_word(b[id_start - 1]) {
        id_start -= 1;
    }
    // The operator first: most keywords are not compared with anything.
    let mut k = id_start;
    while k > 0 && id_start - k < 8 && b[k - 1] == b' ' {
        k -= 1;
    }
    if k < 2 || !matches!(&b[k - 2..k], b"==" | b"!=") {
        return None;
    }
    let mut id_end = kw_end;
    while id_end < b.len() && id_end - kw_end < 32 && is_word(b[id_end]) {
        id_end += 1;
    }
    // `"x" == password.length`, `"x" == getPassword()`: not the credential itself.
    if matches!(b.get(id_end), Some(b'(' | b'.' | b'[')) {
        return None;
    }
    let (buf, len) = stack_normalised(&b[id_start..id_end]);
    if !(password || is_secret_name(&buf[..len])) {
        return None;
    }
    k -= 2;
    if k > 0 && matches!(b[k - 1], b'=' | b'!') {
        k -= 1;
    }
    let op_start = k;
    while k > 0 && op_start - k < 8 && b[k - 1] == b' ' {
        k -= 1;
    }
    let (s, e) = literal_closed_at(b, k.checked_sub(1)?)?;
    if s > 1 && is_word(b[s - 2]) {
        return None;
    }
    compared_value_ok(&b[s..e], password).then_some((s, e))
}

/// The string literal whose closing quote (`"` or `'`) is at `close`, on one line and at most
/// `MAX_QUOTED_VALUE` bytes long: the span of its inside.
fn literal_closed_at(b: &[u8], close: usize) -> Option<(usize, usize)> {
    let quote = *b.get(close)?;
    if !matches!(quote, b'"' | b'\'') {
        return None;
    }
    let s = close
        - b[..close]
            .iter()
            .rev()
            .take(MAX_QUOTED_VALUE + 1)
            .position(|&c| c == quote || c == b'\n')?;
    (s > 0 && b[s - 1] == quote).then_some((s, close))
}

/// A literal compared with a credential is its value: long enough, not a reference, an
/// environment variable's name or filler, and (unless the name is a password's) no words.
fn compared_value_ok(v: &[u8], password: bool) -> bool {
    v.len() >= 4
        && (password || !v.contains(&b' '))
        && !is_literal_reference(v)
        && !env_name(v)
        && !filler_pattern(v)
        && (password || !wordy(v))
}

/// A literal that holds the word `password` or `passwd` (`"password-1234"`,
/// `"whateverpassword"`): a made-up stand-in, as the placeholder rule reads one.
fn names_password(v: &[u8]) -> bool {
    v.windows(6).any(|w| w.eq_ignore_ascii_case(b"passwd"))
        || v.windows(8).any(|w| w.eq_ignore_ascii_case(b"password"))
}

/// A literal compared with a credential by a method (`password.equals("x")`,
/// `"x".equals(password)`, `string.Equals("x", authToken)`, `equalsIgnoreCase`).
fn equals_literal(b: &[u8], kw_end: usize, password: bool) -> Option<(usize, usize)> {
    let mut id_end = kw_end;
    while id_end < b.len() && id_end - kw_end < 32 && is_word(b[id_end]) {
        id_end += 1;
    }
    let mut id_start = kw_end;
    while id_start > 0 && kw_end - id_start < 48 && is_word(b[id_start - 1]) {
        id_start -= 1;
    }
    // Most keywords are followed by neither `.` nor `)`, nor preceded by `(` or a space.
    let after = b.get(id_end).copied();
    let before = id_start.checked_sub(1).map(|k| b[k]);
    if !matches!(after, Some(b'.' | b')')) && !matches!(before, Some(b'(' | b' ')) {
        return None;
    }
    // `.equals(` / `.Equals(` / `.equalsIgnoreCase(` at `p`: its end.
    let method_at = |p: usize| -> Option<usize> {
        let rest = b.get(p..)?;
        if rest.len() < 8 || rest[0] != b'.' || !rest[1..7].eq_ignore_ascii_case(b"equals") {
            return None;
        }
        let mut k = p + 7;
        if b.get(k..k + 10).is_some_and(|w| w == b"IgnoreCase") {
            k += 10;
        }
        (b.get(k) == Some(&b'(')).then_some(k + 1)
    };
    // `.equals(` ending at `end` (its `(` at `end - 1`): its start.
    let method_before = |end: usize| -> Option<usize> {
        let t = &b[end.saturating_sub(18)..end];
        [&b".equals("[..], b".Equals(", b".equalsIgnoreCase("]
            .iter()
            .find(|m| t.ends_with(m))
            .map(|m| end - m.len())
    };
    let skip = |mut p: usize| {
        while p < b.len() && b[p] == b' ' {
            p += 1;
        }
        p
    };
    let span = if let Some(p) = method_at(id_end) {
        // `password.equals("x")`
        let q = skip(p);
        let (s, e) = one_line_literal(b, q, b"\"'", MAX_QUOTED_VALUE)?;
        (b.get(skip(e + 1)) == Some(&b')')).then_some((s, e))?
    } else if before == Some(b'(') && after == Some(b')') {
        // `"x".equals(password)`
        let m = method_before(id_start)?;
        literal_closed_at(b, m.checked_sub(1)?)?
    } else if after == Some(b')') {
        // `Equals("x", authToken)`
        let mut k = id_start;
        while k > 0 && b[k - 1] == b' ' {
            k -= 1;
        }
        if k == 0 || b[k - 1] != b',' {
            return None;
        }
        let mut j = k - 1;
        while j > 0 && b[j - 1] == b' ' {
            j -= 1;
        }
        let (s, e) = literal_closed_at(b, j.checked_sub(1)?)?;
        let open = s.checked_sub(2)?;
        (b[open] == b'(' && b[open.saturating_sub(6)..open].eq_ignore_ascii_case(b"equals"))
            .then_some((s, e))?
    } else {
        return None;
    };
    let (buf, len) = stack_normalised(&b[id_start..id_end]);
    if !(password || is_secret_name(&buf[..len])) {
        return None;
    }
    let v = &b[span.0..span.1];
    (!names_password(v) && compared_value_ok(v, password)).then_some(span)
}

/// A value right after a keyword (`api_key = "..."`, `token: ...`, `password is ...`,
/// `var xToken string = "..."`, `<password>...</password>`, `setProperty("X_TOKEN", "...")`).
fn keyword_value(b: &[u8], kw_end: usize, password: bool) -> Option<(usize, usize)> {
    keyword_scan(b, kw_end, password, &mut 0)
}

/// `keyword_value`, also telling where the value it looked at ended (`scanned`, when it was 64
/// bytes or longer), found or not.
fn keyword_scan(
    b: &[u8],
    kw_end: usize,
    password: bool,
    scanned: &mut usize,
) -> Option<(usize, usize)> {
    let n = b.len();
    // The whole identifier around the keyword decides how strict the value rule is.
    let mut id_start = kw_end;
    while id_start > 0
        && kw_end - id_start < 48
        && (is_word(b[id_start - 1]) || b[id_start - 1] == b'-')
    {
        id_start -= 1;
    }
    let mut p = kw_end;
    let mut k = 0;
    while p < n && k < 32 && (b[p].is_ascii_alphanumeric() || b[p] == b'_' || b[p] == b'-') {
        p += 1;
        k += 1;
    }
    let kw_sep = p;
    let (buf, len) = stack_normalised(&b[id_start..p]);
    let norm = &buf[..len];
    let strong = is_secret_name(norm);
    // `.npmrc` credentials (`//registry.example/:_authToken=…`, `_auth=…`, `_password=…`):
    // the file holds literals only, words included.
    let npmrc = b.get(id_start) == Some(&b'_')
        && (id_start == 0 || matches!(b[id_start - 1], b':' | b'\n'))
        && b.get(p) == Some(&b'=')
        && matches!(norm, b"auth" | b"authtoken" | b"password");
    let password = password || npmrc;
    // A credential parameter of a URL query (`?key=…`, `&access_token=…`): the request carries
    // it, whatever its shape (a UUID, letters only).
    let url_param = id_start > 0
        && matches!(b[id_start - 1], b'?' | b'&')
        && b.get(p) == Some(&b'=')
        && (strong || norm == b"key" || norm.ends_with(b"pass"));
    // `publicToken`, `publishableKey`: made to be shown; other structural names only when the
    // name is not a credential name itself.
    if ((!strong || norm.starts_with(b"public")) && names_no_secret(norm))
        || anti_forgery(norm)
        || inside_arn(b, id_start)
    {
        return None;
    }
    // Separator: quotes, whitespace, assignment operators (`=`, `:`, `:=`, `.=`, `?=`, `||=`,
    // `=>`), a closing `>` of an XML tag, or `", "` between call arguments.
    // A quoted name (`'DB_PASSWORD'`): the quote right after it closes the name.
    let name_quote = id_start
        .checked_sub(1)
        .map(|k| b[k])
        .filter(|c| matches!(c, b'"' | b'\'' | b'`'));
    let sep = |mut p: usize| -> (usize, bool, bool, u8) {
        let s0 = p;
        let (mut assign, mut weak, mut open) = (false, false, 0u8);
        // A full-width colon (`密码：…`) or a copula glued to the name (`密码是…`, `パスワードは…`).
        for w in ["：", "是", "为", "為", "は"] {
            if b[p..].starts_with(w.as_bytes()) {
                assign = true;
                p += w.len();
                break;
            }
        }
        // Up to 12 separator bytes, not counting alignment spaces (`apiKey:      "…"`), at
        // most 48 in all.
        let mut spaces = 0;
        while p < n && p - s0 - spaces < 12 && p - s0 < 48 && SEP(b[p]) {
            spaces += usize::from(b[p] == b' ' && p > s0 && b[p - 1] == b' ');
            match b[p] {
                b':' | b'=' => assign = true,
                b'.' | b'?' | b'|' | b'+' | b'!' | b'&' => weak = true,
                // `'password', "x"` and `'password' ,"x"`: the arguments of a setter. So is a
                // bare name with a space before the comma and a quote right after it
                // (`password ,"x"`); in prose the comma follows the word (`password, "x"`).
                b',' if b[s0..p].iter().any(|c| matches!(c, b'"' | b'\''))
                    || p == s0 + 1
                        && b[s0] == b' '
                        && matches!(b.get(p + 1), Some(b'"' | b'\'')) =>
                {
                    assign = true
                }
                b',' => weak = true,
                _ => {}
            }
            // `=>` is an arrow (`'password' => ...`), not the end of an opening tag.
            let closes_name = p == kw_sep && Some(b[p]) == name_quote;
            if (matches!(b[p], b'"' | b'\'' | b'`') && !closes_name)
                || b[p] == b'>' && !(p > s0 && b[p - 1] == b'=')
            {
                open = b[p];
            }
            p += 1;
        }
        (p, assign, weak && !assign, open)
    };
    // `user, password = "admin", "s3cret"` (Python), `a, db_pass string = "x", "y"` (Go): the
    // literal at this name's place in the list.
    if (strong || password)
        && let Some((s, e)) = multi_assign_value(b, id_start, kw_sep)
    {
        let v = &b[s..e];
        return (v.len() >= 4 && !is_literal_reference(v) && !v.contains(&b'{')).then_some((s, e));
    }
    // `$apikey[] = "…"`: PHP appends to an array.
    if b[p..].starts_with(b"[]") {
        p += 2;
    }
    let sep_start = p;
    // `Token::Open`: a path (Rust, C++, PHP), not an assignment.
    if b[p..].starts_with(b"::") {
        return None;
    }
    // `<add value="s3cret" name="DB_PASSWORD"/>`: the value attribute came first.
    if (strong || password)
        && let Some((s, e)) = value_attribute_before(b, id_start, kw_sep)
    {
        let v = &b[s..e];
        return (v.len() >= 4 && !is_literal_reference(v)).then_some((s, e));
    }
    // `${DB_PASSWORD:-default}`: a shell or compose expansion; only its default can be a value.
    if id_start >= 2 && &b[id_start - 2..id_start] == b"${" {
        return expansion_default(b, p, password || strong);
    }
    // `name: DB_PASSWORD` then `value: …`: the value of the pair is the credential's.
    let pair =
        pair_value_at(b, id_start, kw_sep).or_else(|| xml_pair_value_at(b, id_start, kw_sep));
    // A markup attribute that names the credential (`<field name="password" type="text"/>`)
    // has its value only in a `value` attribute or the element's content.
    if pair.is_none() && named_attribute(b, id_start, kw_sep).is_some() {
        return None;
    }
    // The name opens an XML element (`<password>`, `<secret data="x">`): its content may be
    // spaced off from the tags.
    // Spaces inside the brackets (`< the_password > … </the_password>`) only with a closing
    // tag ahead: `if n < token_len` is a comparison.
    let element = id_start > 0 && b[id_start - 1] == b'<'
        || id_start > 1 && b[id_start - 1] == b' ' && {
            let mut k = id_start - 1;
            while k > 0 && id_start - k < 4 && b[k - 1] == b' ' {
                k -= 1;
            }
            k > 0
                && b[k - 1] == b'<'
                && memchr::memmem::find(&b[id_start..b.len().min(id_start + 200)], b"</").is_some()
        };
    let (mut q, mut assign, mut weak, mut open) = match pair {
        Some((q0, o)) => (q0, true, false, o),
        None => match element.then(|| element_attributes_end(b, kw_sep)).flatten() {
            Some(gt) => (gt + 1, false, false, b'>'),
            None => sep(p),
        },
    };
    // A symbol key and its value with only spaces between (`{:password "s3cret"}` in Clojure or
    // EDN, `:password s3cret` in a Ruby or Lisp option list) is a pair.
    let symbol_key = pair.is_none()
        && !assign
        && (strong || password)
        && id_start > 0
        && b[id_start - 1] == b':'
        && (id_start == 1 || !(is_word(b[id_start - 2]) || b[id_start - 2] == b':'))
        && q > sep_start
        && b[sep_start..q - 1].iter().all(|&c| c == b' ')
        && matches!(b[q - 1], b' ' | b'"');
    if symbol_key {
        assign = true;
    }
    // A quote opens the value only when the value follows it: in `"Password:",next` or
    // `"Password: " + getPassword()` or `$password="",$timeout` the quote closed a string, and
    // what follows is code.
    if pair.is_none() && matches!(open, b'"' | b'\'' | b'`') && b[q - 1] != open {
        // `$password="",$timeout="0"`: an empty string was the value.
        if b[p..q].windows(2).any(|w| w[0] == w[1] && w[0] == open) {
            return None;
        }
        open = 0;
    }
    // A C# verbatim string: `password = @"…"`.
    if assign && open == 0 && b.get(q) == Some(&b'@') && b.get(q + 1) == Some(&b'"') {
        (q, open) = (q + 2, b'"');
    }
    // A Python string prefix: `password == f"…"`, `key = b'…'`. An f-string with a field is a
    // template.
    let mut fstring = false;
    if assign
        && open == 0
        && matches!(b.get(q), Some(b'f' | b'r' | b'b' | b'u'))
        && matches!(b.get(q + 1), Some(b'"' | b'\''))
    {
        fstring = b[q] == b'f';
        (q, open) = (q + 2, b[q + 1]);
    }
    // A table row: `| password | s3cret |`, `apiKey |e9e0...` (a cell, one pipe, the next cell).
    if weak && table_cell(b, id_start, sep_start, q) {
        (assign, weak) = (true, false);
    }
    // A dash between spaces before a quoted value reads as a colon: `token - 'k3y...'`.
    if q == sep_start + 1
        && b[sep_start] == b' '
        && b[q..].starts_with(b"- ")
        && matches!(b.get(q + 2), Some(b'\'' | b'"'))
    {
        (q, assign, open) = (q + 3, true, b[q + 2]);
    }
    if (q == sep_start || weak || (open == b'>' && q - sep_start > 1 && !assign && !element))
        && !(open == b'>' && q - sep_start == 1)
    {
        return None;
    }
    // `io.jsonwebtoken:jjwt-api`: a dotted package name glued to a colon is a Maven or Gradle
    // coordinate (`group:artifact:version`), not an assignment.
    if pair.is_none()
        && id_start > 0
        && b[id_start - 1] == b'.'
        && q == sep_start + 1
        && b[sep_start] == b':'
    {
        return None;
    }
    // A comparison (`password == token_type`) holds a value only when it is a string literal.
    let compared = b[sep_start..q].windows(2).any(|w| w == b"==" || w == b"!=");
    if pair.is_none() && open == 0 && compared {
        return None;
    }
    // XML attribute form: key="ApiToken" value="...".
    if !assign && q + 6 < n && b[q..q + 6].eq_ignore_ascii_case(b"value=") {
        let (q2, _, _, o2) = sep(q + 5);
        q = q2;
        open = o2;
        assign = true;
    }
    // A type between name and assignment: `xToken string = "..."`, `token: String = "..."`.
    let mut t = q;
    while pair.is_none()
        && t < n
        && t - q < 16
        // A reference type's `&` only leads (`&str`): inside, it joins query pairs.
        && (b[t].is_ascii_alphanumeric() || matches!(b[t], b'[' | b']') || b[t] == b'&' && t == q)
    {
        t += 1;
    }
    if t > q && t < n && matches!(b[t], b' ' | b'=' | b':') {
        let (t2, a2, w2, o2) = sep(t);
        let op = &b[t..t2];
        // Something must follow the `=`: `password: cGFzc3dvcmQxMjM=` ends in base64 padding.
        if a2
            && !w2
            && op.contains(&b'=')
            && !op.ends_with(b"==")
            && t2 < n
            && !matches!(b[t2], b'\n' | b'\r' | b',' | b';')
        {
            // A number declared with a number type is a constant (`IOC_SET_PW: u32 =
            // 2183164128`, an ioctl code), not a PIN.
            if numeric_type(&b[q..t]) && numeric_literal(&b[t2..]) {
                return None;
            }
            q = t2;
            open = o2;
            assign = true;
        }
    }
    let mut p = q;
    if !assign && open == 0 {
        // The copula in other languages too (`Passwort ist …`, `mot de passe est …`,
        // `contraseña es …`, `senha é …`, `lösenord är …`, `heslo je …`).
        for w in [
            &b"is "[..],
            b"is:",
            b"are ",
            b"was ",
            b"of ",
            b"ist ",
            b"est ",
            b"es ",
            "é ".as_bytes(),
            "è ".as_bytes(),
            "är ".as_bytes(),
            b"je ",
        ] {
            if b[p..].starts_with(w) {
                p += w.len();
                while p < n && matches!(b[p], b' ' | b'"' | b'\'' | b':') {
                    // `the password is 'blooberry'`: a quoted value in a sentence is a literal.
                    if password && matches!(b[p], b'"' | b'\'') {
                        (open, assign) = (b[p], true);
                    }
                    p += 1;
                }
                break;
            }
        }
    }
    // A quote escaped inside a string (`$password = \"goodspec\";`, code pasted into JSON or a
    // shell string) opens the value as the quote itself would.
    let mut escaped_open = false;
    if assign && open == 0 && b.get(p) == Some(&b'\\') && matches!(b.get(p + 1), Some(b'"' | b'\''))
    {
        (open, escaped_open) = (b[p + 1], true);
        p += 2;
    }
    // An auth scheme in front of the value (`Authorization: Bearer ...`).
    for scheme in [
        &b"Bearer "[..],
        b"bearer ",
        b"Token ",
        b"token ",
        b"Bot ",
        b"Api-Token ",
        b"Api-Key ",
        b"ApiKey ",
        b"Key ",
        b"SSWS ",
        b"GenieKey ",
    ] {
        if b[p..].starts_with(scheme) {
            p += scheme.len();
            break;
        }
    }
    // XML element content on its own lines: `<apiToken>\n    value\n</apiToken>`.
    if open == b'>' {
        while p < n && p - q < 64 && matches!(b[p], b'\n' | b'\r' | b' ' | b'\t') {
            p += 1;
        }
    }
    let s = p;
    if open == b'>'
        && (strong || password)
        && let Some(span) = element_with_token(b, s)
    {
        return Some(span);
    }
    let close = match open {
        b'>' => b'<',
        0 => 0,
        c => c,
    };
    let delimited_scan = close != 0 && (strong || password);
    let limit = if delimited_scan {
        MAX_QUOTED_VALUE
    } else {
        MAX_VALUE
    };
    // An env line under a credential name (`API_KEY=WAgP6m4g%HnjW…`): the value is everything
    // up to the next space (or `&`, which joins query parameters), whatever its characters, so
    // no part of it is left behind.
    let whole_word = close == 0
        && (strong || password)
        && assign
        && &b[sep_start..q] == b"="
        && line_name(b, id_start, sep_start, q);
    // An unquoted value that opens with a bracket and holds brackets that close nothing or
    // another kind (`apikey: {{h}o)p${e]nob(ody[…`) is a typed-in secret, not an object, a
    // list or a template: read it to the next space like an env line's.
    let bracket_word = close == 0
        && !whole_word
        && (strong || password)
        && assign
        && matches!(b.get(s), Some(b'{' | b'[' | b'('))
        && {
            let end = (s + MAX_VALUE).min(n);
            let end = b[s..end]
                .iter()
                .position(|c| !c.is_ascii_graphic() || matches!(c, b'"' | b'\'' | b'`'))
                .map_or(end, |k| s + k);
            brackets(&b[s..end]) == Brackets::Mismatched
        };
    while p < n && p - s <= limit {
        let c = b[p];
        let ok = if delimited_scan {
            c != close && c != b'\n' && (c != b' ' || password)
        } else if whole_word || bracket_word {
            c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b'`' | b'&')
        } else {
            // `password=x&user=y`: the next pair of a query string ends a bare password.
            token_char(c, password) && !(c == b'&' && password && assign && pair_at(b, p + 1))
        };
        if !ok {
            break;
        }
        p += 1;
    }
    if whole_word {
        while p > s && matches!(b[p - 1], b',' | b';') {
            p -= 1;
        }
    }
    // Only a long refused value shadows the keywords inside it: short ones cost little to look
    // at again, and the next keyword often is the "value" a keyword saw (`apikey token = ...`).
    if p - s >= 64 {
        *scanned = p;
    }
    let mut after = p;
    if close == b'<' {
        while after < n && after - p < 64 && b[after].is_ascii_whitespace() {
            after += 1;
        }
    }
    let delimited = close != 0 && b.get(after) == Some(&close);
    // A directive and its quoted argument (`apikey "k3y";`, nginx style): the semicolon after
    // the closing quote makes the pair a statement.
    if !assign
        && delimited
        && matches!(close, b'"' | b'\'')
        && b.get(after + 1) == Some(&b';')
        && b[sep_start..q].iter().all(|&c| c == b' ' || c == close)
    {
        assign = true;
    }
    if !delimited {
        // A sentence-ending dot is not part of the value.
        while p > s && matches!(b[p - 1], b'.' | b'-') {
            p -= 1;
        }
    }
    if escaped_open && p > s && b[p - 1] == b'\\' {
        p -= 1;
    }
    // `{"old": old, "password": password}`: the object's closing brace ends the value.
    if close == 0 && !whole_word && p > s && b[p - 1] == b'}' && !b[s..p].contains(&b'{') {
        while p > s && b[p - 1] == b'}' {
            p -= 1;
        }
    }
    // `connect(user=user, password=passwd)`: the call's closing parenthesis ends the value.
    if password && close == 0 && p > s && b[p - 1] == b')' && !b[s..p].contains(&b'(') && {
        let from = id_start.saturating_sub(256);
        let line = memchr::memrchr(b'\n', &b[from..id_start]).map_or(from, |k| from + k + 1);
        let opened = b[line..id_start].iter().filter(|&&c| c == b'(').count();
        opened > b[line..id_start].iter().filter(|&&c| c == b')').count()
    } {
        while p > s && b[p - 1] == b')' {
            p -= 1;
        }
    }
    // Element content spaced off from its closing tag (`<password> s3cret </password>`).
    if delimited && close == b'<' {
        while p > s && b[p - 1].is_ascii_whitespace() {
            p -= 1;
        }
    }
    let v = &b[s..p];
    // A PEM block after a name (`"private_key": "-----BEGIN …`): the PEM rule judges it whole.
    if v.starts_with(b"-----") {
        return None;
    }
    // Quoted values may be long (OAuth refresh tokens, signed JWT-like tokens run to 1-2 KB);
    // an unclosed run that long is not one value.
    if v.len() > MAX_VALUE && !delimited {
        return None;
    }
    // After `>`, only element content closed by a tag is a value (`<password>@host` is a
    // placeholder followed by the rest of a URL, `cmd > file` a redirect).
    let open_tag_unclosed = open == b'>' && !delimited;
    // A call (`SecretStr("x")`, `getToken()`) or a URL (`https://...`) is not the value itself.
    let call = b.get(p) == Some(&b'(');
    // Code, not a value: a type or a path (`token: Option<Token![*]>`, `Literal::new`), a
    // macro (`parenthesized!(`), a struct literal (`yaml_token_t{`), a reference or pointer
    // type (`secret: &OkmBlock`, `password: *const c_char`), or a type name (`token:
    // ParsingToken,`: a capital, letters only, not random).
    let ident = |w: &[u8]| {
        !w.is_empty()
            && w.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
    };
    // `SECRET=foobar`, `export CLIENT_SECRET=UnsafeString`: an env or properties line under a
    // credential name holds a literal, word-shaped or not (`auth=basic` names a scheme).
    let env_line = strong
        && !password
        && !delimited
        && norm != b"auth"
        && matches!(&b[sep_start..q], b"=" | b":")
        && line_value(b, id_start, sep_start, q, p);
    // A secret is typed in like a password and may be built from words: a quoted value under
    // any name that holds `secret` (`aws_secret_access_key= "Laverne"`, `<secret>…`), or a
    // bare one under a name ending in it after a plain `=`, a symbol key or a quoted key
    // (`jwt.secret=…`, `"SERVER_SECRET" : …`). After the colon of a bare name a type may follow
    // (`STABLE_SECRET: _bindgen_ty_3 = …`), and in prose (`secret sauce`) a word stays a word.
    // A value that holds the word itself names it (`("Secret", "secrets")`) or is a variable
    // (`"client_secret": ClientSecret`).
    let typed_secret = strong
        && (delimited && norm.windows(6).any(|w| w == b"secret")
            || norm.ends_with(b"secret")
                && (symbol_key || name_quote.is_some() || &b[sep_start..q] == b"="))
        && !v.windows(6).any(|w| w.eq_ignore_ascii_case(b"secret"));
    let code = !delimited
        && !env_line
        && (ident(v)
            && (matches!(b.get(p), Some(b'<' | b'!' | b'{')) && !b[p..].starts_with(b"</")
                || b[p..].starts_with(b"::"))
            || matches!(v.first(), Some(b'&' | b'*')) && ident(&v[1..])
            || s > 0 && matches!(b[s - 1], b'&' | b'*') && ident(v)
            || !(password || typed_secret)
                && v.first().is_some_and(u8::is_ascii_uppercase)
                && v.iter().all(u8::is_ascii_alphabetic)
                && !letters_random(v)
            // A variable that is the credential's word itself (`"previousPassword": password}`).
            || ident(v) && v.len() <= 16 && {
                let (vb, vl) = stack_normalised(v);
                matches!(
                    &vb[..vl],
                    b"password" | b"passwd" | b"pwd" | b"pass" | b"secret" | b"token" | b"apikey"
                )
            }
            // A variable named for a credential, in camel or snake case (`apactaSecret` in
            // `Header.Set("Authorization", apactaSecret)`); a password may be words like that.
            || !password && ident(v) && v.len() <= 40 && {
                let hump = v.contains(&b'_')
                    || v.windows(2).any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
                let (vb, vl) = stack_normalised(v);
                hump && [&b"secret"[..], b"token", b"apikey", b"password"]
                    .iter()
                    .any(|w| vb[..vl].ends_with(w))
            });
    let url = memchr::memmem::find(v, b"://").is_some();
    // A quoted string followed by a colon, or a bare word ending in one, is the next key of an
    // object, not a value: `"name": "registry-password", "value": "…"` (the pair rule reads
    // that form), `"registry-password", tokenRef: …`.
    // After a comparison (`if password == "x":`), a colon ends the statement, not a key.
    let next_key = delimited && !compared && matches!(close, b'"' | b'\'') && {
        let mut k = after + 1;
        while k < n && b[k] == b' ' {
            k += 1;
        }
        b.get(k) == Some(&b':') && b.get(k + 1) != Some(&b':')
    } || !delimited
        && v.len() > 1
        && v.ends_with(b":")
        && v[..v.len() - 1].iter().all(|&c| is_word(c));
    // Quoted only: a `>` that opened the value may close a generic type (`Option<Credentials>`),
    // not an XML tag.
    let reference = if delimited && close != b'<' {
        is_literal_reference(v) || fstring && v.contains(&b'{')
    } else {
        // `\$_POST[...]`: a variable written inside an escaped string.
        is_reference(v) || v.starts_with(b"\\$") && (is_reference(&v[1..]) || call_head(&v[1..]))
    };
    // A literal joined to more with `+` is a fragment of a computed string (`'network_' +
    // String(name)`); only a random one is a key on its own.
    let fragment = delimited && {
        let mut k = after + 1;
        while k < n && k - after < 8 && b[k] == b' ' {
            k += 1;
        }
        b.get(k) == Some(&b'+') && b.get(k + 1) != Some(&b'=')
    };
    // A decimal number (`"lastModifiedSecret": 1556312220.133`) is a time or a measure.
    let decimal = {
        let dot = v.iter().position(|&c| c == b'.');
        dot.is_some_and(|d| {
            d > 0
                && d + 1 < v.len()
                && v.iter()
                    .enumerate()
                    .all(|(k, c)| k == d || c.is_ascii_digit())
        })
    };
    // A CSS selector or id that names the credential field (`"#add-password"`).
    let selector = matches!(v.first(), Some(b'#' | b'.')) && names_a_credential(&v[1..]);
    if v.len() > limit
        || reference
        || env_name(v)
        || masked_tail(b, p)
        || open_tag_unclosed
        || call
        || code
        || url
        || next_key
        || names_a_credential(v)
        || selector
        || public_client_token(v)
        || (!password && (typed_sequence(v) || letter_filler(last_part(v))))
        || (!password && (decimal || fragment && !random_value(v)))
        || (!(password || env_line || typed_secret)
            && wordy(v)
            && !(strong && letters_unlike_words(v)))
    {
        // `password = env["PASS"] ?: "s3cret"`: the expression was no value, its default is.
        return if assign && !delimited && !compared {
            fallback_literal(b, s, password)
        } else {
            None
        };
    }
    let lower = v.iter().any(u8::is_ascii_lowercase) as u8;
    let upper = v.iter().any(u8::is_ascii_uppercase) as u8;
    let digit = v.iter().any(u8::is_ascii_digit) as u8;
    let other = v.iter().any(|c| !c.is_ascii_alphanumeric()) as u8;
    let classes = lower + upper + digit;
    // A short run of letters (`"token:"`, `"Bearer"`) under a key name is a word; keys and
    // tokens carry digits or run long. Passwords may be words.
    let short_word = v.len() < 12
        && v.strip_suffix(b":")
            .unwrap_or(v)
            .iter()
            .all(u8::is_ascii_alphabetic);
    let ok = if url_param && !delimited {
        // A bare `key` may also name a stored object (`?key=uploads/a.png`).
        v.len() >= 8 && (strong || !v.contains(&b'/'))
    } else if (strong || password) && delimited && assign_or_tag(assign, open) {
        v.len() >= 4 && !v.contains(&b' ') && (password || typed_secret || !short_word)
            || (password && v.len() >= 6)
    } else if password && !assign && !delimited && netrc_value(b, id_start, sep_start, q, p) {
        // `machine host login bob password pass123`: a .netrc entry's values are literals.
        v.len() >= 4
    } else if password && assign && !delimited && conn_string_value(b, id_start, sep_start, q, p) {
        // `Server=db;User Id=app;Password=secrat;`: a connection string's values are literals.
        v.len() >= 4 && !scalar_or_type(v)
    } else if password && pair.is_some() {
        // `- name: DB_PASSWORD` / `value: whiteduke`: the value member of a pair is a literal.
        v.len() >= 4 && !scalar_or_type(v)
    } else if env_line {
        // A number is a count, a port or a time; 24 digits or more are none of these
        // (`API_KEY=1234567890…`).
        v.len() >= 4 && !scalar_or_type(v) && (v.len() >= 24 || !v.iter().all(u8::is_ascii_digit))
    } else if password && assign && !delimited && line_value(b, id_start, sep_start, q, p) {
        // `DB_PASSWORD=whiteduke` in an env file, `password: whiteduke` in YAML: the syntax makes
        // the value a literal, and a password may be a plain word.
        v.len() >= 4 && !scalar_or_type(v)
    } else if (strong || password) && assign {
        // A UUID assigned with `=` to a credential name is its value (`app.secret=<uuid>`, as
        // under a JSON key). After a bare `token:` or `secret:` label it may be an id in prose;
        // a bare `auth` may name a scheme or a flag's id.
        let equals = b[sep_start..q].contains(&b'=');
        v.len() >= 6
            && (classes + other >= 2 || v.len() >= 12)
            && (!is_uuid(v)
                || (strong && !matches!(norm, b"token" | b"secret" | b"auth")
                    || equals && norm != b"auth"))
            || password && v.len() >= 8 && digit + other >= 1
    } else if password {
        // After a command-line flag (`--http-password hopenobodyfinds…`) a long run of letters
        // is the value too; a short word may be prose about the flag.
        let flag = b[id_start..].starts_with(b"--");
        // Sentence punctuation after a word is not part of it (`Password forgotten? Click`).
        let mut core = v;
        while let [rest @ .., b'?' | b'!' | b',' | b';' | b':' | b')'] = core {
            core = rest;
        }
        let other = core.iter().any(|c| !c.is_ascii_alphanumeric()) as u8;
        v.len() >= 8 && (classes + other) >= 2 && digit + other >= 1
            || flag && v.len() >= 12 && v.iter().all(u8::is_ascii_alphanumeric)
    } else if assign_or_tag(assign, open) && vendor_key_name(norm) {
        // `snyk_key = <uuid>`, `powrbot_key = abcdefghij…`: a name ending in `key` after a
        // vendor or product holds that vendor's API key, UUID-shaped or typed-in as it may be.
        random_value(v)
            || is_uuid(v) && v.iter().any(|&c| c != b'0' && c != b'-')
            || v.len() >= 16
                && v.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
                && (v.len() >= 20 || !v.iter().all(u8::is_ascii_digit))
                && !v.windows(10).any(|w| w.iter().all(|&c| c == w[0]))
                && !wordy(v)
                && !dotted_number(v)
    } else if strong && !assign && open == 0 && b[sep_start..q].iter().all(|&c| c == b' ') {
        // A label and its value (`vatlayer SECRET abcdefghijklmnopqrstuvwxyz`, `client secret
        // 1234567890123456789012`): a long unbroken run after a credential name is the value,
        // random-looking or not, unless it reads as words or an id.
        random_value(v)
            || v.len() >= 20
                && !wordy(v)
                && !dotted_number(v)
                && (!is_uuid(v) || !matches!(norm, b"token" | b"secret" | b"auth"))
    } else {
        // A file name (`ami-1234567890abcdef0.bin`) is not a key.
        random_value(v) && !file_name(v)
    };
    ok.then_some((s, p))
}

/// The `>` closing a start tag whose attributes follow the name at `name_end` (`<password
/// encrypted="false">`): one line, at most 160 bytes, no other tag inside; `None` for an empty
/// element (`/>`) or when no attribute follows.
fn element_attributes_end(b: &[u8], name_end: usize) -> Option<usize> {
    if b.get(name_end) != Some(&b' ') {
        return None;
    }
    let end = b.len().min(name_end.saturating_add(160));
    // A `>` inside a quoted attribute value does not end the tag.
    let mut quote = 0u8;
    for k in name_end..end {
        let c = b[k];
        if quote != 0 {
            if c == quote {
                quote = 0;
            } else if c == b'\n' {
                return None;
            }
            continue;
        }
        match c {
            b'"' | b'\'' => quote = c,
            b'>' => return (b[k - 1] != b'/').then_some(k),
            b'<' | b'\n' => return None,
            _ => {}
        }
    }
    None
}

/// A value that ends in a file extension: a dot and one to five lower-case letters or digits,
/// one a letter (`.bin`, `.tar`, `.mp4`).
fn file_name(v: &[u8]) -> bool {
    v.iter().rposition(|&c| c == b'.').is_some_and(|d| {
        let ext = &v[d + 1..];
        d > 0
            && (1..=5).contains(&ext.len())
            && ext
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && ext.iter().any(u8::is_ascii_lowercase)
    })
}

/// The rule for values under names that only hint at a credential (`cloudsmith_key`,
/// `apiMetrics`): the value must look random on its own (16+ bytes, two character classes, and
/// a digit with some entropy or mixed-case letters near the most entropy), and not be a UUID
/// or a version.
fn random_value(v: &[u8]) -> bool {
    let digit = v.iter().any(u8::is_ascii_digit);
    !is_uuid(v)
        && !dotted_number(v)
        && v.len() >= 16
        && mixed(v)
        && (digit && shannon_entropy(v) >= 3.0 || letters_random(v))
        && !camel_words(v)
}

/// Mixed-case letters in runs of four or more on average, a run being a capital and its
/// lower-case letters, or a run of one case: words glued together (`OAuth2ClientCredentials`,
/// `UserProfileCacheV2`). Random strings change case or class every one to three characters.
fn camel_words(v: &[u8]) -> bool {
    let (mut letters, mut runs) = (0usize, 0usize);
    let mut k = 0;
    while k < v.len() {
        let c = v[k];
        let len = if c.is_ascii_uppercase() {
            let upper = v[k..].iter().take_while(|c| c.is_ascii_uppercase()).count();
            let lower = v[k + upper..]
                .iter()
                .take_while(|c| c.is_ascii_lowercase())
                .count();
            // `ABCdef`: `AB` then `Cdef`.
            if lower > 0 && upper > 1 {
                upper - 1
            } else {
                upper + lower
            }
        } else if c.is_ascii_lowercase() {
            v[k..].iter().take_while(|c| c.is_ascii_lowercase()).count()
        } else {
            k += 1;
            continue;
        };
        letters += len;
        runs += 1;
        k += len;
    }
    // One-case strings carry no hump to judge by (`af6dmku2agtwytrdfxxyf3`).
    let both = v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_lowercase);
    both && runs > 0 && letters >= 4 * runs
}

/// A normalised JSON key that only hints at a credential (`azureopenaikey`, `cosmoskey`,
/// `apimetrics`): it holds a credential word, is not a credential name itself
/// ([`is_secret_name`]), and does not name something else (`cachekeyname`, `apiversion`).
pub(crate) fn is_hint_name(norm: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[b"key", b"token", b"secret", b"auth", b"api", b"credential"];
    WORDS
        .iter()
        .any(|w| memchr::memmem::find(norm, w).is_some())
        && !names_no_secret(norm)
        && !anti_forgery(norm)
}

/// The whole trimmed value under a hint key ([`is_hint_name`]) when it looks random
/// ([`random_value`]) and is not a reference, a placeholder or a word.
pub(crate) fn json_hinted_secret_value(v: &str) -> Option<(usize, usize)> {
    let b = v.as_bytes();
    let s = b.len() - v.trim_start().len();
    let e = v.trim_end().len();
    let val = b.get(s..e)?;
    (val.len() <= MAX_QUOTED_VALUE
        && !val.iter().any(u8::is_ascii_whitespace)
        && random_value(val)
        && !is_reference(val)
        && !filler_pattern(val)
        && !wordy(val)
        && !repeated_unit(val)
        && memchr::memmem::find(val, b"://").is_none())
    .then_some((s, e))
}

/// The content of a credential-named XML element that holds more than one word, one of them a
/// token (`<secret>{AQAAABAAA x7Kq...}</secret>`, Jenkins' stored-credential form): the whole
/// content goes, without the braces around it. Prose (`<token>paste it here</token>`) has no
/// token and stays.
fn element_with_token(b: &[u8], s: usize) -> Option<(usize, usize)> {
    let rest = &b[s..b.len().min(s + 513)];
    let lt = memchr::memchr2(b'<', b'\n', rest)?;
    if rest[lt] != b'<' || rest.get(lt + 1) != Some(&b'/') {
        return None;
    }
    let mut e = s + lt;
    while e > s && b[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    let mut s = s;
    if e > s + 1 && b[s] == b'{' && b[e - 1] == b'}' {
        s += 1;
        e -= 1;
    }
    let v = &b[s..e];
    if !v.contains(&b' ') {
        return None;
    }
    let token =
        |w: &[u8]| w.len() >= 12 && mixed(w) && !is_reference(w) && !filler_pattern(w) && !wordy(w);
    v.split(|&c| c == b' ').any(token).then_some((s, e))
}

/// Random mixed-case letters without a digit (`hfCnuVcYOgiRjlDEmAoRbN`): 20+ bytes, both cases,
/// and character entropy near the most that length allows (CamelCase names fall short).
fn letters_random(v: &[u8]) -> bool {
    v.len() >= 20
        && v.iter().any(u8::is_ascii_lowercase)
        && v.iter().any(u8::is_ascii_uppercase)
        && shannon_entropy(v) >= 0.9 * (v.len().min(32) as f64).log2()
}

/// Letters that do not pair like words (8+ pairs, mean weight below -1/2 bit): a made-up value
/// split like an identifier (`ndiawudh1_wdajwoidjajawdeps`), not `struct_X509_pubkey_st`.
fn letters_unlike_words(v: &[u8]) -> bool {
    let (sum, pairs) = super::random_token::letter_pairs(v);
    pairs >= 8 && sum < -2 * i32::from(pairs)
}

/// `1.2` somewhere in the value: a version or build string (`rc0.15.0_20231217-SNAPSHOT`).
/// Base64 and hex have no dot; tokens with dots put them between random runs, rarely digits.
fn dotted_number(v: &[u8]) -> bool {
    v.windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
}

/// Longest value after a keyword, and longest quoted one under a credential name.
const MAX_VALUE: usize = 512;
const MAX_QUOTED_VALUE: usize = 4096;

/// A name that starts its line (after indentation, a list dash, `export`/`set`, or a comment
/// mark), then `=` with no space or `:` and spaces, then a value that ends the line (or comes
/// before a `#` comment): an env file, a shell assignment, a YAML or properties entry.
fn line_value(b: &[u8], id_start: usize, sep_start: usize, q: usize, p: usize) -> bool {
    if !line_name(b, id_start, sep_start, q) {
        return false;
    }
    let mut e = p;
    while e < b.len() && matches!(b[e], b' ' | b'\t') {
        e += 1;
    }
    e >= b.len() || matches!(b[e], b'\n' | b'\r') || e > p && b[e] == b'#'
}

/// A .netrc entry: `password <value>` right after `login <name>`, the value ending the line or
/// followed by a space.
fn netrc_value(b: &[u8], id_start: usize, sep_start: usize, q: usize, p: usize) -> bool {
    if &b[sep_start..q] != b" " || !b[id_start..sep_start].eq_ignore_ascii_case(b"password") {
        return false;
    }
    if !b.get(p).is_none_or(|c| c.is_ascii_whitespace()) {
        return false;
    }
    // The entry may span lines (`machine h\n  login bob\n  password x`).
    let before = &b[id_start.saturating_sub(200)..id_start];
    before.last().is_some_and(u8::is_ascii_whitespace) && {
        let t = before.trim_ascii_end();
        let name_start = t.iter().rposition(|&c| c == b' ').map_or(0, |k| k + 1);
        t[..name_start].trim_ascii_end().ends_with(b"login")
    }
}

/// `Key=Value;` pairs of a connection string: the name follows a `;` and the value ends at one.
fn conn_string_value(b: &[u8], id_start: usize, sep_start: usize, q: usize, p: usize) -> bool {
    // `=`, spaces around it allowed (`Password = x` in .NET connection strings).
    let op = &b[sep_start..q];
    if op.iter().filter(|&&c| c == b'=').count() != 1
        || !op.iter().all(|&c| matches!(c, b'=' | b' '))
    {
        return false;
    }
    // A bind parameter or a format field (`password=@pwd`, `:pwd`, `?`, `%s`, `{0}`).
    if matches!(b.get(q), Some(b'@' | b':' | b'?' | b'$' | b'%' | b'{')) {
        return false;
    }
    let mut k = id_start;
    while k > 0 && b[k - 1] == b' ' {
        k -= 1;
    }
    let before = k.checked_sub(1).map(|k| b[k]);
    let after = b.get(p).copied();
    // The value ends its string (a quote, a line end, the text's end) or the pair (`;`, `&`).
    let ends = matches!(
        after,
        None | Some(b'"' | b'\'' | b';' | b'\n' | b'\r' | b'&' | b' ')
    );
    // The pair starts a string (`"Password=x;…"`) or a line.
    let starts = matches!(before, None | Some(b'"' | b'\'' | b'\n'));
    match (before, after) {
        // `…; Password=x"`, `…;Password=x;`: after another pair of the connection string.
        (Some(b';'), _) => ends && after != Some(b' '),
        // `"Password=x; User=…"`, `"password=x&user=…"`: pairs follow.
        (_, Some(b';' | b'&')) => starts && pair_at(b, p + 1),
        // `"Password=hardcoded"`: a string that is one pair (a connection string's fragment).
        (Some(q @ (b'"' | b'\'')), Some(a)) => q == a,
        // libpq (`host=db port=5432 user=app password=x sslmode=require`): pairs separated by
        // spaces, two before the password or one on either side.
        (Some(_), _) if matches!(after, None | Some(b' ' | b'"' | b'\'' | b'\n' | b'\r')) => {
            let prev = pair_before(b, id_start);
            prev.is_some_and(|j| pair_before(b, j).is_some())
                || prev.is_some() && after == Some(b' ') && pair_at(b, p + 1)
        }
        _ => false,
    }
}

/// A `name=` (letters, digits, `_`, `-`, `.`, spaces inside as in `User Id=`, 1-32 bytes) at
/// `at`, spaces before it skipped: the next pair of a connection or query string.
fn pair_at(b: &[u8], at: usize) -> bool {
    let mut j = at;
    while j < b.len() && j - at < 4 && b[j] == b' ' {
        j += 1;
    }
    let s = j;
    while j < b.len() && j - s < 32 && (is_word(b[j]) || matches!(b[j], b'-' | b'.' | b' ')) {
        j += 1;
    }
    j > s && b[s].is_ascii_alphabetic() && b.get(j) == Some(&b'=') && b[j - 1] != b' '
}

/// The start of a `name=value` pair (no spaces inside, at most 64 bytes) that ends one space
/// before `k`: the pair before this one in a libpq connection string.
fn pair_before(b: &[u8], k: usize) -> Option<usize> {
    if k < 4 || b[k - 1] != b' ' {
        return None;
    }
    let end = k - 1;
    let mut j = end;
    while j > 0 && end - j < 64 && b[j - 1].is_ascii_graphic() && !matches!(b[j - 1], b'"' | b'\'')
    {
        j -= 1;
    }
    let pair = &b[j..end];
    let eq = memchr::memchr(b'=', pair)?;
    (eq > 0
        && eq + 1 < pair.len()
        && (j == 0 || matches!(b[j - 1], b' ' | b'"' | b'\'' | b'\n'))
        && pair[..eq].iter().all(|&c| is_word(c) || c == b'-')
        && pair[0].is_ascii_alphabetic())
    .then_some(j)
}

/// The first half of [`line_value`]: the name starts its line and `=` or `: ` follows it.
fn line_name(b: &[u8], id_start: usize, sep_start: usize, q: usize) -> bool {
    let op = &b[sep_start..q];
    // `password:crickets` (a colon alone) only before a plain letters-and-digits value.
    let bare_colon = op == b":"
        && b[q..]
            .iter()
            .take(MAX_VALUE + 1)
            .take_while(|c| !c.is_ascii_whitespace())
            .all(u8::is_ascii_alphanumeric);
    if !(op == b"="
        || bare_colon
        || op.len() >= 2 && op[0] == b':' && op[1..].iter().all(|&c| c == b' '))
    {
        return false;
    }
    let mut k = id_start;
    while k > 0 && matches!(b[k - 1], b' ' | b'\t') {
        k -= 1;
    }
    for prefix in [&b"export"[..], b"set", b"SET", b"ENV", b"-", b"#", b"REM"] {
        if b[..k].ends_with(prefix) {
            k -= prefix.len();
            while k > 0 && matches!(b[k - 1], b' ' | b'\t' | b'#') {
                k -= 1;
            }
            break;
        }
    }
    k == 0 || b[k - 1] == b'\n'
}

/// A normalised name of the form `<something>key` whose first part is not one of the
/// structural uses of "key" (`idempotency_key`, `cache_key`, `partition_key`, `kms_key`,
/// `site_key`): with a value, most likely a vendor's API key.
fn vendor_key_name(norm: &[u8]) -> bool {
    const NOT: &[&[u8]] = &[
        b"idempotency",
        b"idempotence",
        b"cache",
        b"sort",
        b"partition",
        b"row",
        b"range",
        b"object",
        b"bucket",
        b"dedup",
        b"dedupe",
        b"lookup",
        b"routing",
        b"message",
        b"group",
        b"correlation",
        b"request",
        b"trace",
        b"shard",
        b"sharding",
        b"map",
        b"translation",
        b"i18n",
        b"locale",
        b"kms",
        b"site",
        b"recaptchasite",
        b"unique",
        b"composite",
        b"index",
        b"dict",
        b"entity",
        b"record",
        b"item",
        b"order",
        b"node",
        b"join",
        b"parent",
        b"child",
        b"hot",
        b"primary",
        b"foreign",
        b"public",
        b"publishable",
        b"sortable",
        b"s3",
        b"file",
        b"asset",
        b"storage",
        b"react",
        b"list",
        b"table",
        b"column",
        b"field",
        b"config",
        b"setting",
        b"state",
        b"query",
        b"job",
        b"task",
        b"event",
        b"metric",
        b"feature",
        b"flag",
        b"hash",
        b"search",
        b"schema",
        b"registry",
        b"lock",
        b"queue",
        b"topic",
        b"stream",
        b"channel",
        b"room",
        b"user",
        b"customer",
        b"account",
        b"tenant",
        b"org",
        b"project",
        b"app",
        b"device",
        b"client",
        b"session",
        b"ssh",
        b"gpg",
        b"pgp",
        b"host",
        b"instrumentation",
    ];
    norm.len() > 3
        && norm.ends_with(b"key")
        && !norm.ends_with(b"monkey")
        && !norm.ends_with(b"turkey")
        && !norm.ends_with(b"hockey")
        && !norm.ends_with(b"jockey")
        && !NOT.contains(&&norm[..norm.len() - 3])
}

/// YAML scalars and type names that stand where a value would (`password: null`,
/// `password: string`, `password: str`).
fn scalar_or_type(v: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"string",
        b"str",
        b"number",
        b"int",
        b"integer",
        b"bool",
        b"boolean",
        b"any",
        b"bytes",
        b"text",
        b"true",
        b"false",
        b"null",
        b"none",
        b"nil",
        b"yes",
        b"no",
        b"undefined",
        b"required",
        b"optional",
        b"object",
        b"varchar",
        b"char",
        b"unknown",
        b"empty",
    ];
    WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
}

fn assign_or_tag(assign: bool, open: u8) -> bool {
    assign || open == b'>'
}

fn left_ok(b: &[u8], s: usize) -> bool {
    s == 0 || !is_word(b[s - 1])
}

fn right_ok(b: &[u8], e: usize) -> bool {
    e >= b.len() || !is_word(b[e])
}

fn run(b: &[u8], mut p: usize, class: BodyClass, max: usize) -> usize {
    let s = p;
    while p < b.len() && p - s < max && class.accepts(b[p]) {
        p += 1;
    }
    p
}

/// SendGrid `SG.<22 url-safe>.<43 url-safe>`.
fn sendgrid(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    let p = run(b, e, BodyClass::UrlSafe, 23);
    if p - e == 22 && b.get(p) == Some(&b'.') {
        let q = run(b, p + 1, BodyClass::UrlSafe, 44);
        if q - p - 1 == 43 && right_ok(b, q) {
            return Some((s, q));
        }
    }
    // Keys seen with other splits: 66 characters of `[A-Za-z0-9=_.-]` after `SG.`.
    let q = run(b, e, BodyClass::UrlSafeDot, 67);
    (q - e == 66 && right_ok(b, q) && mixed(&b[e..q])).then_some((s, q))
}

/// Airtable personal access tokens `pat<14 alnum>.<64 hex>`; Harness `pat.`/`sat.` +
/// `<22>.<24>.<20>`.
fn pat_token(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    if b.get(s + 3) == Some(&b'.') {
        let e = s + 4;
        let p = run(b, e, BodyClass::UrlSafe, 23);
        if p - e != 22 || b.get(p) != Some(&b'.') {
            return None;
        }
        let q = run(b, p + 1, BodyClass::Alnum, 25);
        if q - p - 1 != 24 || b.get(q) != Some(&b'.') {
            return None;
        }
        let r = run(b, q + 1, BodyClass::Alnum, 21);
        return (r - q - 1 == 20 && right_ok(b, r)).then_some((s, r));
    }
    let p = run(b, e, BodyClass::Alnum, 15);
    if p - e != 14 || b.get(p) != Some(&b'.') {
        return None;
    }
    let q = run(b, p + 1, BodyClass::Hex, 65);
    (q - p - 1 == 64 && right_ok(b, q)).then_some((s, q))
}

/// Mapbox tokens `pk.<60>.<22>` (public tokens that are really `pk.eyJ...` JWT-like ones too).
fn mapbox(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    let p = run(b, e, BodyClass::UrlSafe, 400);
    if p - e < 50 || b.get(p) != Some(&b'.') {
        return None;
    }
    let q = run(b, p + 1, BodyClass::UrlSafe, 64);
    ((20..=64).contains(&(q - p - 1)) && right_ok(b, q) && mixed(&b[e..p])).then_some((s, q))
}

/// MaxMind license keys `<6 alnum>_<29 alnum>_mmk`.
fn maxmind(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut a = s;
    while a > 0 && s - a < 29 && b[a - 1].is_ascii_alphanumeric() {
        a -= 1;
    }
    if s - a != 29 || a < 7 || b[a - 1] != b'_' {
        return None;
    }
    let a2 = a - 1;
    let mut f = a2;
    while f > 0 && a2 - f < 6 && b[f - 1].is_ascii_alphanumeric() {
        f -= 1;
    }
    (a2 - f == 6 && left_ok(b, f) && right_ok(b, e)).then_some((f, e))
}

/// Mailchimp API keys `<32 hex>-us<1-2 digits>`.
fn mailchimp(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if s < 32 || !b[s - 32..s].iter().all(u8::is_ascii_hexdigit) || !left_ok(b, s - 32) {
        return None;
    }
    let q = run(b, e, BodyClass::Hex, 3);
    let digits = b[e..q].iter().all(u8::is_ascii_digit);
    // Keys are lower-case hex: a mixed-case body is a hand-edited look-alike.
    let key = &b[s - 32..s];
    let one_case =
        !(key.iter().any(u8::is_ascii_lowercase) && key.iter().any(u8::is_ascii_uppercase));
    ((1..=2).contains(&(q - e)) && digits && right_ok(b, q) && mixed(key) && one_case)
        .then_some((s - 32, q))
}

/// Authress keys `(sc|ext|scauth|authress)_<5-30>.<4-6>.acc[_-]<10-32>.<30-120>`.
fn authress(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut a = s;
    while a > 0 && s - a < 7 && b[a - 1].is_ascii_alphanumeric() {
        a -= 1;
    }
    if !(4..=6).contains(&(s - a)) || a < 8 || b[a - 1] != b'.' {
        return None;
    }
    let mut f = a - 1;
    while f > 0 && a - 1 - f < 31 && b[f - 1].is_ascii_alphanumeric() {
        f -= 1;
    }
    if !(5..=30).contains(&(a - 1 - f)) || f == 0 || b[f - 1] != b'_' {
        return None;
    }
    let pre_end = f - 1;
    let ok_prefix = [&b"sc"[..], b"ext", b"scauth", b"authress"]
        .iter()
        .any(|p| b[..pre_end].ends_with(p) && left_ok(b, pre_end - p.len()));
    if !ok_prefix {
        return None;
    }
    let start = [&b"scauth"[..], b"authress", b"ext", b"sc"]
        .iter()
        .find(|p| b[..pre_end].ends_with(p))
        .map(|p| pre_end - p.len())?;
    let p = run(b, e, BodyClass::AlnumDash, 33);
    if !(10..=32).contains(&(p - e)) || b.get(p) != Some(&b'.') {
        return None;
    }
    let q = run(b, p + 1, BodyClass::Base64Any, 121);
    ((30..=120).contains(&(q - p - 1))).then_some((start, q))
}

/// Terraform Cloud `<14 alnum>.atlasv1.<60-70 url-safe>`.
fn terraform(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut a = s;
    while a > 0 && s - a < 14 && b[a - 1].is_ascii_alphanumeric() {
        a -= 1;
    }
    if s - a != 14 || !left_ok(b, a) {
        return None;
    }
    let q = run(b, e, BodyClass::UrlSafeDot, 80);
    ((60..=80).contains(&(q - e))).then_some((a, q))
}

/// Telegram bot token: `<5-16 digit bot id>:A<34 url-safe>`.
fn telegram(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut a = s;
    while a > 0 && s - a < 17 && b[a - 1].is_ascii_digit() {
        a -= 1;
    }
    if !(5..=16).contains(&(s - a)) || !left_ok(b, a) {
        return None;
    }
    let q = run(b, e, BodyClass::UrlSafe, 36);
    (q - e == 34 && right_ok(b, q) && mixed(&b[e..q])).then_some((a, q))
}

fn amazon_mws(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let q = e.checked_add(36)?;
    (left_ok(b, s) && b.get(e..q).is_some_and(is_uuid) && right_ok(b, q) && b.get(q) != Some(&b'-'))
        .then_some((s, q))
}

fn onfido(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    two_runs(b, s, e, BodyClass::UrlSafe, 11, b'.', 32)
}

fn braintree(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    two_runs(b, s, e, BodyClass::LowerAlnum, 16, b'$', 32)
}

/// A literal at `s..e`, then exactly `n1` characters of `class`, `sep`, and exactly `n2` more.
fn two_runs(
    b: &[u8],
    s: usize,
    e: usize,
    class: BodyClass,
    n1: usize,
    sep: u8,
    n2: usize,
) -> Option<(usize, usize)> {
    let p = run(b, e, class, n1 + 1);
    if p - e != n1 || b.get(p) != Some(&sep) || !left_ok(b, s) {
        return None;
    }
    let q = run(b, p + 1, class, n2 + 1);
    (q - (p + 1) == n2 && right_ok(b, q)).then_some((s, q))
}

/// Airtable OAuth access token: 10+ letters and digits, `.v1.`, a base64url payload of 40+, a
/// dot and a hex signature.
fn airtable_oauth(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut a = s;
    while a > 0 && s - a < 64 && b[a - 1].is_ascii_alphanumeric() {
        a -= 1;
    }
    if s - a < 10 || !left_ok(b, a) {
        return None;
    }
    let p = run(b, e, BodyClass::UrlSafe, 4096);
    if p - e < 40 || b.get(p) != Some(&b'.') {
        return None;
    }
    let q = run(b, p + 1, BodyClass::Hex, 256);
    (q > p + 1 && right_ok(b, q)).then_some((a, q))
}

/// LaunchDarkly access token: `sdk-`/`api-` and a version-4 UUID layout of lower-case letters
/// and digits (`sdk-5gykyl1b-wgrq-41lc-z6q1-h7zn5fdlcybw`).
fn launchdarkly(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let body = b.get(e..e + 36)?;
    let layout = body.iter().enumerate().all(|(k, &c)| match k {
        8 | 13 | 18 | 23 => c == b'-',
        14 => c == b'4',
        _ => c.is_ascii_lowercase() || c.is_ascii_digit(),
    });
    (layout && left_ok(b, s) && right_ok(b, e + 36) && b.get(e + 36) != Some(&b'-'))
        .then_some((s, e + 36))
}

/// Azure AD client secret: `[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}`.
fn azure_ad(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let c = |x: u8| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'~' | b'.');
    if s < 4 || !b[s - 1].is_ascii_digit() || !b[s - 4..s - 1].iter().all(|&x| c(x)) {
        return None;
    }
    let a = s - 4;
    if a > 0 && (c(b[a - 1]) || b[a - 1] == b'-') {
        return None;
    }
    let mut q = e;
    while q < b.len() && q - e < 35 && (c(b[q]) || b[q] == b'-') {
        q += 1;
    }
    ((31..=34).contains(&(q - e)) && right_ok(b, q)).then_some((a, q))
}

/// 1Password secret key `A3-XXXXXX-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX` (groups of upper alnum).
fn onepassword_secret_key(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    let mut p = e;
    let mut groups = 0;
    loop {
        let q = run(b, p, BodyClass::UpperAlnum, 12);
        if q == p {
            return None;
        }
        groups += 1;
        p = q;
        if b.get(p) == Some(&b'-') && groups < 6 {
            p += 1;
        } else {
            break;
        }
    }
    (groups >= 5 && p - e >= 30 && right_ok(b, p)).then_some((s, p))
}

/// Twitter/X app bearer tokens: a long run of `A` then URL-encoded base64.
fn twitter_bearer(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    let mut q = e;
    while q < b.len() && q - e < 200 && (b[q].is_ascii_alphanumeric() || b[q] == b'%') {
        q += 1;
    }
    (q - e >= 30 && right_ok(b, q)).then_some((s, q))
}

/// A PuTTY private key file: everything from the header to the end of the text.
fn putty(b: &[u8], s: usize, _e: usize) -> Option<(usize, usize)> {
    memchr::memmem::find(&b[s..], b"Private-Lines:").map(|_| (s, b.len()))
}

fn b64_val(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decodes (standard or URL-safe) base64 into `out`, at most `max` bytes; false on bad input.
fn b64_decode(src: &[u8], out: &mut Vec<u8>, max: usize) -> bool {
    out.clear();
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in src {
        if c == b'=' {
            break;
        }
        let Some(v) = b64_val(c) else {
            return false;
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            if out.len() >= max {
                break;
            }
        }
    }
    true
}

/// A base64-encoded JWT (`ZXlK` is base64 of `eyJ`).
fn b64_jwt(b: &[u8], s: usize, _e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    let q = run(b, s, BodyClass::Base64, 16384);
    if q - s < 60 || !right_ok(b, q) {
        return None;
    }
    let mut dec = Vec::new();
    if !b64_decode(&b[s..q], &mut dec, 4096) {
        return None;
    }
    (jwt(&dec, 0).is_ok()).then_some((s, q))
}

/// A base64 run that decodes to a PEM header naming a private key; certificates and public
/// keys (`certificate-authority-data`) stay.
fn b64_pem_private(b: &[u8], s: usize, _e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    let q = run(b, s, BodyClass::Base64, 65536);
    if q - s < 60 || !right_ok(b, q) {
        return None;
    }
    let mut dec = Vec::new();
    if !b64_decode(&b[s..s + 60], &mut dec, 45) {
        return None;
    }
    let header = dec.split(|&c| c == b'\n').next().unwrap_or(&[]);
    (memchr::memmem::find(header, b"PRIVATE KEY").is_some()).then_some((s, q))
}

/// Discord bot token `<id>.<timestamp>.<hmac>`: the first part is base64 of the bot's numeric
/// id (17-20 digits, checked by decoding), then 6-7 and 27-40 URL-safe characters.
fn discord_bot(b: &[u8], s: usize, _e: usize) -> Option<(usize, usize)> {
    if !left_ok(b, s) {
        return None;
    }
    let p = run(b, s, BodyClass::UrlSafe, 29);
    if !(23..=28).contains(&(p - s)) || b.get(p) != Some(&b'.') {
        return None;
    }
    let q = run(b, p + 1, BodyClass::UrlSafe, 8);
    if !(6..=7).contains(&(q - p - 1)) || b.get(q) != Some(&b'.') {
        return None;
    }
    let r = run(b, q + 1, BodyClass::UrlSafe, 41);
    if !(27..=40).contains(&(r - q - 1)) || !right_ok(b, r) {
        return None;
    }
    let mut dec = [0u8; 24];
    let (mut n, mut acc, mut bits) = (0usize, 0u32, 0);
    for &c in &b[s..p] {
        acc = ((acc << 6) | b64_val(c)?) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n < dec.len() {
                dec[n] = (acc >> bits) as u8;
                n += 1;
            }
        }
    }
    // Tokens whose id part does not decode to digits (rotated or hand-made samples) still go
    // when every part has Discord's exact length.
    let exact = (24..=26).contains(&(p - s)) && q - p - 1 == 6 && (27..=38).contains(&(r - q - 1));
    ((n >= 17 && dec[..n].iter().all(u8::is_ascii_digit)) || exact).then_some((s, r))
}

/// Facebook app access token: a 15-16 digit app id, `|`, 27 URL-safe characters.
fn facebook_app_token(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut a = s;
    while a > 0 && s - a < 17 && b[a - 1].is_ascii_digit() {
        a -= 1;
    }
    if !(15..=16).contains(&(s - a)) || !left_ok(b, a) {
        return None;
    }
    let q = run(b, e, BodyClass::UrlSafe, 28);
    (q - e == 27 && right_ok(b, q) && mixed(&b[e..q])).then_some((a, q))
}

/// `BUNDLE_ENTERPRISE__CONTRIBSYS__COM=<8 hex>:<8 hex>` (also `: "..."`): the credential.
fn sidekiq(b: &[u8], _s: usize, e: usize) -> Option<(usize, usize)> {
    let mut p = e;
    while p < b.len() && p - e < 6 && matches!(b[p], b' ' | b'=' | b':' | b'"' | b'\'') {
        p += 1;
    }
    let q = run(b, p, BodyClass::Hex, 9);
    if q - p != 8 || b.get(q) != Some(&b':') {
        return None;
    }
    let r = run(b, q + 1, BodyClass::Hex, 9);
    (r - q - 1 == 8 && right_ok(b, r)).then_some((p, r))
}

/// `Basic <base64 of user:password>`.
fn basic_auth(b: &[u8], _s: usize, e: usize) -> Option<(usize, usize)> {
    let q = run(b, e, BodyClass::Base64, 1024);
    // `Basic eyJ...` followed by `.`: a JWT sent under the wrong scheme; the JWT rule takes all
    // three parts.
    if q - e < 8 || !right_ok(b, q) || b.get(q) == Some(&b'.') {
        return None;
    }
    let mut dec = Vec::new();
    if !b64_decode(&b[e..q], &mut dec, 768) {
        return None;
    }
    let colon = dec.iter().position(|&c| c == b':')?;
    // An empty password is allowed when the user is long enough to be a key (`key:`).
    (colon > 0
        && (colon + 1 < dec.len() || colon >= 6)
        && dec.iter().all(|c| c.is_ascii_graphic() || *c == b' '))
    .then_some((e, q))
}

/// The `-p` password flag of a command line: `sshpass -p 'pw'`, `docker login -u bob -p pw`,
/// `az login -u bob -p pw` (after `sshpass`, a `login` subcommand or a user flag on the same
/// line), and MySQL's glued `mysql -u root -ppw` (after a MySQL client). Elsewhere `-p` is a
/// port (`-p 8080:80`, `psql -p 5432`), a path flag (`mkdir -p dir`) or MySQL's prompt
/// (`mysql -p dbname`) or a protocol (`gh auth login -p https`), so the value must hold a letter
/// and something besides lower-case letters, and must not be a flag or a reference.
fn short_password_flag(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if s == 0 || !matches!(b[s - 1], b' ' | b'\t') {
        return None;
    }
    // The value first (cheap, and most `-p` fail here); the command line only then.
    let (vs, glued) = match b.get(e) {
        Some(b' ') => (e + 1, false),
        Some(c) if c.is_ascii_graphic() => (e, true),
        _ => return None,
    };
    let quote = b.get(vs).copied().filter(|c| matches!(c, b'"' | b'\''));
    let ps = vs + usize::from(quote.is_some());
    let mut q = ps;
    while q < b.len() && q - ps < 256 {
        let c = b[q];
        if quote.map_or(c.is_ascii_whitespace() || c == b';', |qc| {
            c == qc || c == b'\n'
        }) {
            break;
        }
        q += 1;
    }
    let v = &b[ps..q];
    let from = s.saturating_sub(160);
    let line_start = memchr::memrchr(b'\n', &b[from..s]).map_or(from, |k| from + k + 1);
    let before = &b[line_start..s];
    // `-u bob -p braksha` (PsExec, docker, az): right after a user flag and its value, `-p` is
    // the password, lower-case letters or not. MySQL's `-p` alone prompts (`mysql -u root -p
    // mydb`), so not there.
    let after_user = {
        let t = before.trim_ascii_end();
        let user = t
            .iter()
            .rposition(|c| c.is_ascii_whitespace())
            .map_or(&b""[..], |k| t[..k].trim_ascii_end());
        [&b" -u"[..], b" --user", b" --username", b" -U"]
            .iter()
            .any(|f| user.ends_with(f))
    };
    // `sshpass -p blah`: sshpass has no other `-p`.
    let sshpass = {
        let t = before.trim_ascii_end();
        t.ends_with(b"sshpass") && (t.len() == 7 || !is_word(t[t.len() - 8]))
    };
    let value_ok = v.len() >= 4
        && v[0] != b'-'
        && v.iter().any(u8::is_ascii_alphabetic)
        && (!v.iter().all(u8::is_ascii_lowercase)
            || (after_user || sshpass) && !glued && !matches!(v, b"https" | b"http" | b"ssh"))
        && !is_reference(v)
        && !v
            .windows(2)
            .any(|w| w[0] == b'%' && matches!(w[1], b's' | b'd' | b'v' | b'q' | b'('))
        && (quote.is_some() || !v.iter().any(|c| matches!(c, b'"' | b'\'')))
        && (quote.is_none() || b.get(q) == quote.as_ref());
    if !value_ok {
        return None;
    }
    let has_word = |w: &[u8]| {
        memchr::memmem::find_iter(before, w).any(|k| {
            (k == 0 || !before[k - 1].is_ascii_alphanumeric())
                && before
                    .get(k + w.len())
                    .is_none_or(|c| !c.is_ascii_alphanumeric())
        })
    };
    let mysql = [
        &b"mysql"[..],
        b"mysqldump",
        b"mysqladmin",
        b"mysqlimport",
        b"mariadb",
    ]
    .iter()
    .any(|w| has_word(w));
    let command = if glued {
        mysql
    } else {
        !mysql
            && [
                &b"sshpass"[..],
                b"login",
                b"-u",
                b"--user",
                b"--username",
                b"-U",
            ]
            .iter()
            .any(|w| has_word(w))
    };
    command.then_some((ps, q))
}

/// `curl -u user:password` / `--user user:password` / `--proxy-user user:password`: the password
/// goes.
fn curl_user(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if s > 0 && !matches!(b[s - 1], b' ' | b'\t' | b'\n') {
        return None;
    }
    let mut p = e;
    while p < b.len() && p - e < 8 && b[p] == b' ' {
        p += 1;
    }
    let quote = matches!(b.get(p), Some(b'"' | b'\''));
    if quote {
        p += 1;
    }
    let stop = |c: u8| c.is_ascii_whitespace() || matches!(c, b'"' | b'\'');
    let us = p;
    while p < b.len() && p - us < 256 && !stop(b[p]) && b[p] != b':' {
        p += 1;
    }
    // `"user":"password"`: the user's closing quote comes before the colon.
    if quote && p < b.len() && matches!(b[p], b'"' | b'\'') {
        p += 1;
    }
    // An empty user is allowed only inside quotes (`-u ":password"`).
    if (p == us && !quote) || b.get(p) != Some(&b':') {
        return None;
    }
    let mut ps = p + 1;
    // `user:'password'`: the password quoted on its own.
    let pw_quote = b.get(ps).copied().filter(|c| matches!(c, b'"' | b'\''));
    if pw_quote.is_some() {
        ps += 1;
    }
    let mut q = ps;
    while q < b.len() && !stop(b[q]) && q - ps < 256 {
        q += 1;
    }
    // `-u test:test`, `-u <user:password>`: the same word twice or a template is no credential.
    let user = b[us..p].strip_suffix(b":").unwrap_or(&b[us..p]);
    let user = user.strip_suffix(b"\"").unwrap_or(user);
    let user = user.strip_suffix(b"'").unwrap_or(user);
    let pw = &b[ps..q];
    let pw_trim = pw.strip_suffix(b">").unwrap_or(pw);
    let templated = user.first() == Some(&b'<') && pw.last() == Some(&b'>');
    // `-u sk_test_4eC3…:` (no password): an API key sent as the user, as Stripe documents.
    if q == ps {
        let keyish = user.len() >= 8
            && user.iter().any(u8::is_ascii_digit)
            && user.iter().any(u8::is_ascii_alphabetic)
            && !is_reference(user)
            && !wordy(user);
        return keyish.then_some((us, us + user.len()));
    }
    (!is_reference(pw_trim) && !templated && !pw.eq_ignore_ascii_case(user)).then_some((ps, q))
}

/// Azure SAS `sig=` (URL-encoded base64 signature).
fn sas_signature(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if s > 0 && !matches!(b[s - 1], b'&' | b'?' | b' ' | b'"' | b'\'') {
        return None;
    }
    let mut q = e;
    while q < b.len()
        && q - e < 256
        && (b[q].is_ascii_alphanumeric() || matches!(b[q], b'%' | b'+' | b'/' | b'='))
    {
        q += 1;
    }
    (q - e >= 30 && mixed(&b[e..q])).then_some((e, q))
}

/// Slack, Teams and Discord webhook URLs: from the scheme to the end of the URL.
fn webhook(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let mut a = s;
    while a > 0
        && s - a < 64
        && (b[a - 1].is_ascii_alphanumeric() || matches!(b[a - 1], b'.' | b'-' | b':' | b'/'))
    {
        a -= 1;
    }
    let url_char = |c: u8| {
        c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b'<' | b'>' | b'`' | b')' | b']')
    };
    let mut q = e;
    while q < b.len() && q - e < 1024 && url_char(b[q]) {
        q += 1;
    }
    while q > e && matches!(b[q - 1], b'.' | b',' | b';') {
        q -= 1;
    }
    // The credential is the path: at least an id and a token after the host.
    let path = &b[e..q];
    (path.len() >= 12
        && path.iter().filter(|&&c| c == b'/').count() >= 1
        && path.iter().any(u8::is_ascii_digit))
    .then_some((a, q))
}

fn mixed(v: &[u8]) -> bool {
    let l = v.iter().any(u8::is_ascii_lowercase) as u8;
    let u = v.iter().any(u8::is_ascii_uppercase) as u8;
    let d = v.iter().any(u8::is_ascii_digit) as u8;
    l + u + d >= 2
}

/// Whether `token` starts with the literal of a shaped rule (`AIza`, `ghp_`, `eyJ`): that rule's
/// length and alphabet checks decide whether it is a key, not its randomness.
pub(crate) fn has_shaped_prefix(token: &[u8]) -> bool {
    ANCHORS.iter().any(|(lit, a)| {
        matches!(a, Anchor::Prefix { .. } | Anchor::Jwt)
            && lit.len() >= 3
            && lit.as_bytes()[0].is_ascii_alphanumeric()
            && token.starts_with(lit.as_bytes())
    })
}

/// A token whose body is filler: a run of 6 identical letters (10 of any character), typed-in
/// sequences ([`filler_pattern`]), or a documented placeholder ([`documented_placeholder`]).
/// Random tokens almost never hold any of these.
pub(crate) fn placeholder_token(t: &[u8]) -> bool {
    let mut run = 1;
    for (k, &c) in t.iter().enumerate() {
        run = if k > 0 && t[k - 1] == c { run + 1 } else { 1 };
        // Numeric ids inside tokens (Slack team ids) may repeat a digit a few times.
        if (run >= 6 && c.is_ascii_alphabetic()) || run >= 10 {
            return true;
        }
    }
    filler_pattern(t) || documented_placeholder(t)
}

/// A body that documentation writes where the key goes: a run of 4 `x`/`X`/`*`/`#`, or a word
/// such as EXAMPLE, PLACEHOLDER or REDACTED.
fn documented_placeholder(t: &[u8]) -> bool {
    let mut xrun = 0;
    for &c in t {
        xrun = if matches!(c, b'x' | b'X' | b'*' | b'#') {
            xrun + 1
        } else {
            0
        };
        if xrun >= 4 {
            return true;
        }
    }
    // Long words only: short ones (`here`, `your`) turn up by chance in long base64 tokens.
    const WORDS: &[&[u8]] = &[
        b"example",
        b"placeholder",
        b"redacted",
        b"randomstring",
        b"tokenhere",
        b"stringhere",
    ];
    // The words start with one of `e p r s t` (checked at compile time): other windows need no
    // comparison.
    const _: () = {
        let mut k = 0;
        while k < WORDS.len() {
            assert!(matches!(WORDS[k][0], b'e' | b'p' | b'r' | b's' | b't'));
            k += 1;
        }
    };
    t.windows(7).any(|w| {
        matches!(w[0].to_ascii_lowercase(), b'e' | b'p' | b'r' | b's' | b't')
            && WORDS.iter().any(|word| {
                w.eq_ignore_ascii_case(&word[..7])
                    && t.windows(word.len()).any(|x| x.eq_ignore_ascii_case(word))
            })
    })
}

/// A value shown with its rest masked out: right after it (past one `-`, `_`, `:` or up to three
/// dots) comes a run of three or more `*`, `#` or `•`, or a `[redacted]`-style marker
/// (`xoxp-5723...-####`, `abc123****`, `ops_eyJzaWdu..[Redacted]`). The visible part is a
/// prefix (ids, a scheme) that a page or a log chose to show.
pub(crate) fn masked_tail(b: &[u8], e: usize) -> bool {
    let mut p = e;
    if p < b.len() && matches!(b[p], b'-' | b'_' | b':') {
        p += 1;
    }
    let mut dots = 0;
    while p < b.len() && b[p] == b'.' && dots < 3 {
        p += 1;
        dots += 1;
    }
    let rest = &b[p..];
    let mut run = 0;
    let mut k = 0;
    while k < rest.len() && run < 3 {
        if matches!(rest[k], b'*' | b'#') {
            k += 1;
        } else if rest[k..].starts_with("•".as_bytes()) {
            k += 3;
        } else {
            break;
        }
        run += 1;
    }
    if run >= 3 {
        return true;
    }
    let opens = matches!(rest.first(), Some(b'[' | b'<' | b'('));
    opens
        && rest.len() >= 9
        && [&b"redacted"[..], b"masked", b"hidden", b"removed"]
            .iter()
            .any(|w| rest[1..].len() >= w.len() && rest[1..1 + w.len()].eq_ignore_ascii_case(w))
}

/// The whole value is one unit of five or more characters written out two or more times
/// (`0123456789abcdef0123456789abcdef`, `Abc12Abc12Abc12`). Shorter units are
/// [`filler_pattern`]'s; a random value never repeats itself. Only unit lengths that divide the
/// value's length are tried, and a unit must start again where it would (cheap first test).
fn repeated_unit(v: &[u8]) -> bool {
    let n = v.len();
    let periodic = |p: usize| v[p..].iter().zip(v).all(|(a, c)| a == c);
    n >= 10
        && (5..=n / 2).any(|p| n.is_multiple_of(p) && v[p] == v[0] && periodic(p))
        && !(1..5).any(|p| n.is_multiple_of(p) && periodic(p))
}

/// `v` (12 bytes or more) repeats one unit of two to four characters from start to end
/// (`abababab…`, `abcabcabc…`), not one character.
fn periodic(v: &[u8]) -> bool {
    v.len() >= 12
        && v.iter().any(|&c| c != v[0])
        && (2..=4).any(|p| v[p..].iter().zip(v).all(|(a, c)| a == c))
}

/// Letters only, repeating one unit of two to four ([`periodic`]).
fn letter_filler(v: &[u8]) -> bool {
    v.iter().all(u8::is_ascii_alphabetic) && periodic(v)
}

/// What follows the last `_` or `-` of `v` (the body after a token's prefix), or all of `v`.
fn last_part(v: &[u8]) -> &[u8] {
    v.iter()
        .rposition(|&c| matches!(c, b'_' | b'-'))
        .map_or(v, |k| &v[k + 1..])
}

/// A browser client token that its vendor publishes in web pages (Datadog RUM: `pub` and 32
/// lower-case hex digits): made to be shown, like a publishable key.
pub(crate) fn public_client_token(v: &[u8]) -> bool {
    v.len() == 35
        && v.starts_with(b"pub")
        && v[3..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Pieces split on `-`, `_` or `.`, two or more, each a typed-in ascending run of three or more
/// digits or letters (`12345-123-abc`): a dummy, not a drawn value.
fn typed_sequence(v: &[u8]) -> bool {
    let mut pieces = 0;
    for piece in v.split(|&c| matches!(c, b'-' | b'_' | b'.')) {
        if piece.len() < 3
            || !piece.windows(2).all(|w| {
                w[0].is_ascii_alphanumeric()
                    && w[1] == w[0].wrapping_add(1)
                    && w[1].is_ascii_alphanumeric()
            })
        {
            return false;
        }
        pieces += 1;
    }
    pieces >= 2
}

/// A token that calls itself an example (`SAMPLEIvYXdz…`, `…EXAMPLEKEY`, `…TESTKEY`): read
/// over the whole base64 token, as its runs split at `/` and `+` each look random.
pub(crate) fn marked_example(t: &[u8]) -> bool {
    t.windows(7).any(|w| {
        w[..6].eq_ignore_ascii_case(b"sample")
            || w[..5].eq_ignore_ascii_case(b"examp")
            || w.eq_ignore_ascii_case(b"testkey")
    })
}

/// A file-system path (`~/.ssh/id_ed25519`, `/var/lib/app/secrets`, `./certs/key.pem`,
/// `C:\keys\app.pfx`): a path prefix, then two or more segments of path characters that do
/// not switch case like base64 does (`/AbX9kQ+...` is a key that happens to start with `/`).
fn file_path(v: &[u8]) -> bool {
    let (rest, sep) = if let Some(r) = v.strip_prefix(b"~/").or_else(|| v.strip_prefix(b"./")) {
        (r, b'/')
    } else if let Some(r) = v.strip_prefix(b"../") {
        (r, b'/')
    } else if v.len() > 3 && v[0].is_ascii_alphabetic() && &v[1..3] == b":\\" {
        (&v[3..], b'\\')
    } else if let Some(r) = v.strip_prefix(b"/") {
        (r, b'/')
    } else {
        return false;
    };
    let mut segs = 0;
    for seg in rest.split(|&c| c == sep) {
        if seg.is_empty() {
            continue;
        }
        let chars_ok = seg
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'@'));
        let ups = seg
            .windows(2)
            .filter(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
            .count();
        if !chars_ok || ups > 1 {
            return false;
        }
        segs += 1;
    }
    segs >= 2 || (segs == 1 && !v.starts_with(b"/"))
}

/// A relative resource path of three or more segments (`projects/42/secrets/db/versions/1`,
/// `secret/data/app/db`), each segment built like a path part (see [`file_path`]) and two of
/// them lower-case words (a password such as `Tq9/Lm2x/Wv8` has none).
fn resource_path(v: &[u8]) -> bool {
    let mut segs = 0;
    let mut words = 0;
    for seg in v.split(|&c| c == b'/') {
        let ups = seg
            .windows(2)
            .filter(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
            .count();
        let ok = !seg.is_empty()
            && ups <= 1
            && seg
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'#'));
        if !ok {
            return false;
        }
        segs += 1;
        words += usize::from(
            seg.len() >= 3
                && seg
                    .iter()
                    .all(|&c| c.is_ascii_lowercase() || c == b'-' || c == b'_'),
        );
    }
    segs >= 3 && words >= 2
}

/// A secret-store reference `scheme:path` (`vault:secret/data/db#password`,
/// `awssm:prod/db`, `ref+sops:...`): a lower-case scheme, `:`, then a path with a `/`.
fn scheme_reference(v: &[u8]) -> bool {
    let Some(colon) = v.iter().take(17).position(|&c| c == b':') else {
        return false;
    };
    let scheme = &v[..colon];
    let rest = &v[colon + 1..];
    scheme.len() >= 2
        && scheme[0].is_ascii_lowercase()
        && scheme
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-'))
        && rest.contains(&b'/')
        && (resource_path(rest) || file_path(rest) || rest.split(|&c| c == b'/').count() == 2)
}

/// The keyword sits inside an AWS resource name (`arn:aws:secretsmanager:...:secret:prod/db`).
fn inside_arn(b: &[u8], id_start: usize) -> bool {
    // ARN parts are joined by `:`; anything else is settled without scanning back.
    if id_start == 0 || b[id_start - 1] != b':' {
        return false;
    }
    let mut a = id_start;
    while a > 0 && id_start - a < 160 && !matches!(b[a - 1], b' ' | b'"' | b'\'' | b'=' | b'\n') {
        a -= 1;
    }
    b[a..id_start].starts_with(b"arn:")
}

/// A fingerprinted file name (`video_box.ico-<hash>.png`, `2018-xoxo-party-1.jpg`): the token
/// is followed by a short lower-case file extension and sits inside a name, not a value.
fn asset_name(b: &[u8], s: usize, e: usize) -> bool {
    if b.get(e) != Some(&b'.') {
        return false;
    }
    let ext = b[e + 1..]
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .count();
    const EXT: &[&[u8]] = &[
        b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"css", b"js", b"map", b"woff",
        b"woff2", b"html", b"pdf", b"mp4",
    ];
    let inside_name = s > 0 && matches!(b[s - 1], b'.' | b'-' | b'/');
    EXT.contains(&&b[e + 1..e + 1 + ext]) && right_ok(b, e + 1 + ext) && inside_name
}

/// Typed-in filler: most of the alphabet in order, one case (`abcdefghijklmnop...`) or a unit of two to
/// four different characters repeated over 12+ characters (`123123123123`, `abababababab`).
/// Random bodies hold neither. Shorter alphabet runs (`ABCDEFH`, `klmnopqrstuvwx`) stay
/// secrets: published test tokens are made of them and must still go.
fn filler_pattern(t: &[u8]) -> bool {
    let mut asc = 1;
    for k in 1..t.len() {
        // Same case only: alternating-case alphabets (`AbCdEf...`) fill published test tokens.
        let (a, c) = (t[k - 1], t[k]);
        asc = if c.is_ascii_alphabetic() && a.is_ascii_alphabetic() && c == a.wrapping_add(1) {
            asc + 1
        } else {
            1
        };
        if asc >= 16 {
            return true;
        }
    }
    (2..=4).any(|period| {
        let mut same = 0;
        for k in period..t.len() {
            // One character repeated (`1111111`) is a run, judged by the callers' run rules.
            same = if t[k] == t[k - period] && t[k] != t[k - 1] {
                same + 1
            } else {
                0
            };
            if same + period >= 12 {
                return true;
            }
        }
        false
    })
}

/// A value built from words, not drawn at random: pieces split on `_ - . :` that are each
/// lower-case, UPPER-case or CamelCase letters with optional trailing digits
/// (`struct_X509_pubkey_st`, `SalesResults-1.2`, `ACCESS_TOKEN`,
/// `SlackAppConfigurationAccessTokenHere`), with vowels and no run of five consonants like
/// language. Random mixed-case or letter-digit bodies fail the shape; random lower-case
/// letters fail the consonant rule. Not used for passwords (passphrases are words).
pub(crate) fn wordy(v: &[u8]) -> bool {
    let (mut letters, mut vowels, mut cons_run, mut pieces, mut humps) = (0usize, 0usize, 0, 0, 0);
    for piece in v.split(|&c| matches!(c, b'_' | b'-' | b'.' | b':')) {
        if piece.is_empty() {
            continue;
        }
        pieces += 1;
        let alpha = piece.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        let (word, digits) = piece.split_at(alpha);
        if !digits.iter().all(u8::is_ascii_digit) || (word.is_empty() && digits.len() > 6) {
            return false;
        }
        let all_upper = word.iter().all(u8::is_ascii_uppercase);
        if !all_upper {
            // CamelCase / lower: every capital starts a hump of two or more lower-case letters.
            let mut k = 0;
            while k < word.len() {
                let start = k;
                if word[k].is_ascii_uppercase() {
                    k += 1;
                }
                let low = word[k..]
                    .iter()
                    .take_while(|c| c.is_ascii_lowercase())
                    .count();
                if low < 2 && !(start == 0 && low == 0 && word.len() == 1) {
                    return false;
                }
                k += low;
                humps += 1;
            }
        }
        for &c in word {
            letters += 1;
            if matches!(
                c.to_ascii_lowercase(),
                b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
            ) {
                vowels += 1;
                cons_run = 0;
            } else {
                cons_run += 1;
                if cons_run >= 5 {
                    return false;
                }
            }
        }
        cons_run = 0;
    }
    letters >= 8 && vowels * 6 >= letters && (pieces >= 2 || humps >= 3)
}

/// Whether a key name says its value is no credential (`public_key`, `credentialId`,
/// `authenticity_token`): the keyword rules refuse such values, and other rules follow them.
pub(crate) fn name_refuses_secret(name: &[u8]) -> bool {
    // On the stack: this runs for values the random-token rule found.
    let mut norm = [0u8; NAME_NORM_MAX];
    let mut n = 0;
    for (slot, c) in norm.iter_mut().zip(normalised(name)) {
        *slot = c;
        n += 1;
    }
    let norm = &norm[..n];
    names_no_secret(norm) || anti_forgery(norm)
}

/// Anti-forgery tokens (`csrf-token`, `authenticity_token`, `X-XSRF-TOKEN`) are per-page
/// nonces that a form or page carries in the clear, not credentials.
fn anti_forgery(norm: &[u8]) -> bool {
    [&b"csrf"[..], b"xsrf", b"authenticity"]
        .iter()
        .any(|w| norm.windows(w.len()).any(|x| x == *w))
}

/// Identifiers that hold a key word but name something public or structural
/// (`public_key`, `primaryKey`, `key_vault_name`, `issuerKeyHash`, `keyStr`).
fn names_no_secret(norm: &[u8]) -> bool {
    const STARTS: &[&[u8]] = &[b"public", b"primary", b"foreign", b"pub", b"secretar"];
    const ENDS: &[&[u8]] = &[
        b"name",
        b"id",
        b"ids",
        b"hash",
        b"event",
        b"chars",
        b"str",
        b"url",
        b"path",
        b"file",
        b"length",
        b"len",
        b"size",
        b"type",
        b"count",
        b"format",
        b"field",
        b"secrets",
        // Settings about a credential, not the credential (`password_policy: min_length=12`).
        b"policy",
        b"strength",
        b"expiry",
        b"expiration",
        b"complexity",
        b"rules",
        b"label",
        // What a build or a release is called, not a credential (`MantleAPI_version=9a03...`).
        b"version",
        b"sha",
        b"digest",
        b"checksum",
        b"revision",
        // A reference to where the credential is kept (`passwordSecretRef`, `tokenRef`).
        b"ref",
        // A public key after a qualifier (`DOTENV_PUBLIC_KEY`, `STRIPE_PUBLISHABLE_KEY`).
        b"publickey",
        b"publishablekey",
        b"pubkey",
    ];
    STARTS.iter().any(|p| norm.starts_with(p)) || ENDS.iter().any(|e| norm.ends_with(e))
}

/// An environment variable's name standing for its value (`ACCESS_TOKEN`, `DB_PASSWORD_2`):
/// upper-case letters, digits and at least one `_`, starting with a letter.
fn env_name(v: &[u8]) -> bool {
    v.len() >= 4
        && v[0].is_ascii_uppercase()
        && v.contains(&b'_')
        && v.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// Every character the same, counted in characters (`••••••`), not bytes.
fn all_one_char(v: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(v) else {
        return false;
    };
    let mut cs = t.chars();
    cs.next()
        .is_some_and(|c0| !c0.is_ascii() && cs.all(|c| c == c0))
}

/// References, expressions and documented placeholders: never secrets by themselves.
pub(crate) fn is_reference(v: &[u8]) -> bool {
    reference(v, false)
}

/// `is_reference` for a value known to be a string literal (quoted after a keyword, or a JSON
/// string): a bracket or `<` inside is then part of the string (`"u@D7G)t>8d(LtH<g="`, a
/// password), and only a call or index (`getenv("X")`, `env["X"]`) or a `<name>` placeholder
/// still reads as a reference. Element content after `>` is not taken as a literal: that `>` may
/// close a generic type.
pub(crate) fn is_literal_reference(v: &[u8]) -> bool {
    reference(v, true)
}

/// A call or an index written in a string: `getenv(X)`, `os.environ['X']`, `secrets[0]`.
fn call_or_index(v: &[u8]) -> bool {
    let head = v
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'$' | b':'))
        .count();
    head > 0
        && (v[0].is_ascii_alphabetic() || matches!(v[0], b'_' | b'$'))
        && matches!(v.get(head), Some(b'(' | b'['))
        && matches!(v.last(), Some(b')' | b']'))
}

/// `ident(` or `ident[` at the start: the head of a call or an index.
fn call_head(v: &[u8]) -> bool {
    let head = v
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'$' | b':'))
        .count();
    head > 0 && matches!(v.get(head), Some(b'(' | b'['))
}

/// How the brackets of a value pair up.
#[derive(PartialEq)]
enum Brackets {
    /// Every bracket closed by its own kind, in order, as in an expression.
    Paired,
    /// Some left open (`hashpw(pw`, a call cut at its first argument), or nested past 32 levels.
    Open,
    /// A closing bracket that closes nothing or another kind (`{{h}o)p${e]…`): brackets a
    /// password holds, not a template's or an expression's.
    Mismatched,
}

fn brackets(v: &[u8]) -> Brackets {
    let mut stack = [0u8; 32];
    let mut depth = 0;
    for &c in v {
        match c {
            b'(' | b'[' | b'{' => {
                let Some(slot) = stack.get_mut(depth) else {
                    return Brackets::Open;
                };
                *slot = c;
                depth += 1;
            }
            b')' | b']' | b'}' => {
                let open = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if depth == 0 || stack[depth - 1] != open {
                    return Brackets::Mismatched;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    if depth == 0 {
        Brackets::Paired
    } else {
        Brackets::Open
    }
}

/// A template placeholder inside the value: `${name}` (also `${name:-default}`) or
/// `{{ anything without braces }}`. A `${` or `{{` that no such closing follows is part of a
/// password (`m{{h}o)p${e]nob(ody…`).
/// A format string's replacement field: `{}` or `{0}`..`{9}` (Python `str.format`, C#, Rust).
fn format_field(v: &[u8]) -> bool {
    memchr::memchr_iter(b'{', v).any(|k| match v.get(k + 1) {
        Some(b'}') => true,
        Some(c) if c.is_ascii_digit() => v.get(k + 2) == Some(&b'}'),
        _ => false,
    })
}

fn has_placeholder(v: &[u8]) -> bool {
    // Each search stops at the next brace or bracket, so a run of `${${${` stays linear.
    let mut from = 0;
    while let Some(k) = memchr::memchr(b'{', &v[from..]) {
        let at = from + k;
        from = at + 1;
        if at > 0 && v[at - 1] == b'$' {
            let inner = &v[at + 1..];
            let stop = inner
                .iter()
                .position(|c| matches!(c, b'{' | b'}' | b'(' | b')' | b'[' | b']' | b'$'));
            if let Some(e) = stop
                && e > 0
                && inner[e] == b'}'
            {
                return true;
            }
        } else if v.get(at + 1) == Some(&b'{') {
            let inner = &v[at + 2..];
            let stop = inner.iter().position(|c| matches!(c, b'{' | b'}'));
            if let Some(e) = stop
                && inner[e..].starts_with(b"}}")
            {
                return true;
            }
        }
    }
    false
}

fn reference(v: &[u8], literal: bool) -> bool {
    if v.is_empty() {
        return true;
    }
    // `$$name`: a dollar escaped for Compose or make, then the reference (one call, whatever
    // the run of dollars: a recursion per dollar would follow a hostile value's length).
    let dollars = v.iter().take_while(|&&c| c == b'$').count();
    if dollars >= 2 && v.len() > dollars {
        return reference(&v[dollars - 1..], literal);
    }
    // A shell expansion of an upper-case variable first (`$PASSWORD`, `$API_URL/$COMMIT`);
    // `$ecret1` (lower-case) may be a real password.
    if v[0] == b'$' {
        let name = v[1..]
            .iter()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'_')
            .count();
        if name >= 2 && v[1].is_ascii_uppercase() {
            return true;
        }
    }
    let first = v[0];
    let last = v[v.len() - 1];
    // ${var}, {{ .Values.x }}, $(cmd), %(name)s, #{x}, <your-key>, [REDACTED], %VAR%. A `#`
    // opens a reference only with its brace: `#gets0m3` is a password.
    if first == b'#' && v.get(1) == Some(&b'{') && last == b'}' {
        return true;
    }
    // Mismatched brackets are a password's (`{{h}o)p${e]nob(ody[…}}`), not a template's.
    let paired = brackets(v) != Brackets::Mismatched;
    if paired
        && matches!(first, b'$' | b'{' | b'<' | b'[' | b'%')
        && (matches!(last, b'}' | b'>' | b']' | b')' | b'%' | b's')
            || v[1..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_'))
    {
        return true;
    }
    if paired && has_placeholder(v) || format_field(v) {
        return true;
    }
    // An ARN names where a secret is stored (`arn:aws:secretsmanager:…:secret:db-XyZ12`).
    if v.starts_with(b"arn:") && v.iter().filter(|&&c| c == b':').count() >= 5 {
        return true;
    }
    // All one character (xxxx, ****, 0000, ••••) or a run of x/X/*/. inside (sk-xxxxxxxx).
    if v.iter().all(|&c| c == first) || (first >= 0x80 && all_one_char(v)) {
        return true;
    }
    // Template markers around a variable name: __TOKEN__, @@DB_PASSWORD@@, !!KEY!!.
    if v.len() >= 6
        && matches!(first, b'_' | b'@' | b'!' | b'^')
        && v[1] == first
        && last == first
        && v[v.len() - 2] == first
    {
        let a = v.iter().take_while(|&&c| c == first).count();
        let z = v.iter().rev().take_while(|&&c| c == first).count();
        let name = v.get(a..v.len().saturating_sub(z)).unwrap_or_default();
        // Words in any case are a name too (`__globPaths__`); random letters are a password.
        if !name.is_empty()
            && (name
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
                || wordy(name)
                || name.iter().all(u8::is_ascii_alphabetic) && camel_words(name))
        {
            return true;
        }
    }
    // Paths and store references hold a `/` (or `X:\`): one memchr gates the three checks.
    let slashy = memchr::memchr(b'/', v).is_some() || v.get(1..3) == Some(&b":\\"[..]);
    if slashy && (file_path(v) || resource_path(v) || scheme_reference(v)) {
        return true;
    }
    if v.windows(5).any(|w| {
        w.iter()
            .all(|&c| matches!(c, b'x' | b'X' | b'*' | b'.' | b'#'))
    }) {
        return true;
    }
    // Dotted or called identifiers: XSalsa20.key_length, os.environ["X"], process.env.TOKEN,
    // config.get('token'), self.password. A long part that mixes upper case, lower case and
    // digits is a token body, not a name (`s.ZC9Ecf4M5g9o34Q6RkzG`, a Vault token).
    let ident = |w: &[u8]| {
        !w.is_empty()
            && (w[0].is_ascii_alphabetic() || w[0] == b'_')
            && w.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            && !(w.len() >= 16
                && w.iter().any(u8::is_ascii_uppercase)
                && w.iter().any(u8::is_ascii_lowercase)
                && w.iter().filter(|c| c.is_ascii_digit()).count() >= 2)
    };
    if v.contains(&b'.')
        && v.split(|&c| c == b'.').all(ident)
        && v.split(|&c| c == b'.').count() >= 2
    {
        return true;
    }
    // Unquoted, a call or an index may be cut at its first argument (`hashpw(pw, salt)` reads
    // as `hashpw(pw`), and a bracket first opens a cast or closes the code before it; brackets
    // that do not pair up, inside, are a password's.
    if (v.contains(&b'(') || v.contains(&b'['))
        && (call_or_index(v)
            || !literal
                && (call_head(v)
                    || brackets(v) == Brackets::Paired
                    || matches!(v[0], b')' | b']' | b'}')
                    || matches!(v[0], b'(' | b'[' | b'{') && paired))
    {
        return true;
    }
    // `Bearer <token>`, `abc<REPLACE>`: in a literal, only a `<` that a `>` closes.
    if let Some(lt) = memchr::memchr(b'<', v)
        && (!literal || memchr::memchr(b'>', &v[lt..]).is_some())
    {
        return true;
    }
    let lower: Vec<u8> = v.iter().map(u8::to_ascii_lowercase).collect();
    const WORDS: &[&[u8]] = &[
        b"your",
        b"example",
        b"placeholder",
        b"replace",
        b"insert",
        b"dummy",
        b"redacted",
        b"changeme",
        b"change_me",
        b"sample",
        b"todo",
        b"fixme",
        b"notreal",
        b"not_real",
        b"fake",
        b"...",
        b"env.",
        b"environ",
        b"getenv",
        b"secretkeyref",
        b"valuefrom",
        b"tokenhere",
        b"keyhere",
        // AWS's documented secret key with its suffix changed (`…bPxRfiCYESATESTKEY`).
        b"testkey",
    ];
    if WORDS
        .iter()
        .any(|w| lower.windows(w.len()).any(|x| x == *w))
    {
        return true;
    }
    const EXACT: &[&[u8]] = &[
        b"true",
        b"false",
        b"null",
        b"none",
        b"nil",
        b"undefined",
        b"n/a",
        b"na",
        b"hidden",
        b"masked",
        b"required",
        b"optional",
        b"string",
        b"str",
        b"password",
        b"secret",
        b"token",
        b"bearer",
        b"basic",
        b"empty",
        b"unset",
        b"default",
        b"pass",
        b"passwd",
        b"test",
        b"user",
        b"username",
        b"admin",
        // Settings of an authentication method, not a credential (`"auth": "enabled"`,
        // `authentication: oauth2`).
        b"enabled",
        b"disabled",
        b"auto",
        b"oauth",
        b"oauth2",
        b"saml",
        b"ldap",
        b"digest",
        b"ntlm",
        b"kerberos",
        b"anonymous",
    ];
    EXACT.contains(&lower.as_slice())
}

/// The value under a secret-ish JSON key: the whole string unless it is a reference or a
/// placeholder. An auth scheme word (`Bearer`, `Basic`, `token`) in front stays.
pub(crate) fn json_secret_value(v: &str) -> Option<(usize, usize)> {
    let b = v.as_bytes();
    let mut s = 0;
    while s < b.len() && b[s].is_ascii_whitespace() {
        s += 1;
    }
    let mut e = b.len();
    while e > s && b[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    let mut scheme_seen = false;
    for scheme in [
        &b"Bearer "[..],
        b"bearer ",
        b"Basic ",
        b"basic ",
        b"Token ",
        b"token ",
        b"Bot ",
    ] {
        if b[s..e].starts_with(scheme) {
            s += scheme.len();
            scheme_seen = true;
            break;
        }
    }
    let val = &b[s..e];
    if val.len() < 4 || val.len() > 8192 || val.iter().any(u8::is_ascii_whitespace) {
        return None;
    }
    // After an auth scheme the value is a credential even when it looks like a dotted name
    // (JWT-like `a.b.c`); placeholders still stay.
    let placeholder = if scheme_seen {
        is_literal_reference(val) && !val.contains(&b'.')
    } else {
        is_literal_reference(val)
    };
    if placeholder {
        return None;
    }
    Some((s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let s = SecretScanner::new(true, true).unwrap();
        let mut v = Vec::new();
        s.scan(text, &mut v);
        v.iter()
            .map(|f| &text[f.start as usize..f.end as usize])
            .collect()
    }

    #[test]
    fn provider_keys() {
        let openai = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z";
        assert_eq!(found(&format!("key {openai} here")), vec![openai]);
        assert_eq!(found("AKIAZ7Q3N4P5R6S7T8U9,"), vec!["AKIAZ7Q3N4P5R6S7T8U9"]);
        // The documented example key and filler bodies are placeholders.
        assert!(found("AKIAIOSFODNN7EXAMPLE, ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").is_empty());
        let gh = "ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0dF3gH6";
        assert_eq!(found(gh), vec![gh]);
        let slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
        assert_eq!(found(slack), vec![slack]);
        let stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
        assert_eq!(found(stripe), vec![stripe]);
        let google = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q";
        assert_eq!(found(google), vec![google]);
    }

    #[test]
    fn structured_secrets() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(found(&format!("Bearer {jwt}")), vec![jwt]);
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
        assert_eq!(found(&format!("x {pem} y")), vec![pem]);
        assert_eq!(
            found("postgres://admin:S3cr3t!@db.internal:5432/app"),
            vec!["S3cr3t!"]
        );
        assert_eq!(
            found("api_key = \"Zx8Qp2Lm9Rt4Vb7Nc1Kd\""),
            vec!["Zx8Qp2Lm9Rt4Vb7Nc1Kd"]
        );
        assert_eq!(found("my password is hunter22!"), vec!["hunter22!"]);
    }

    #[test]
    fn look_alike_helpers() {
        assert!(
            file_path(b"~/.ssh/id_rsa") && file_path(b"/etc/app/keys") && file_path(b"./k.pem")
        );
        assert!(file_path(b"C:\\keys\\app.pfx"));
        // One segment after `/`, or base64 that switches case, is no path.
        assert!(!file_path(b"/Kq2LmN8pXw4") && !file_path(b"/Kq2LmN8pXw4/TbY6cHs1DfG0aK7"));
        assert!(repeated_unit(b"0123456789abcdef0123456789abcdef"));
        assert!(!repeated_unit(b"aaaaaaaaaaaa") && !repeated_unit(b"Zx8Qp2Lm9Rt4Vb7Nc1Kd"));
        assert!(masked_tail(b"ab12-####", 4) && masked_tail(b"ab12..[REDACTED]", 4));
        assert!(masked_tail("ab12••••".as_bytes(), 4));
        assert!(
            !masked_tail(b"ab12", 4) && !masked_tail(b"ab12-#", 4) && !masked_tail(b"ab12 [x", 4)
        );
        assert!(json_object_b64(b"eyJhbGciOiJIUzI1NiJ9"));
        assert!(!json_object_b64(b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ"));
        assert!(!json_object_b64(
            b"eyJhbasdGciOiJIUaddasdasfsasdasdzI1NiIasdsInR5cCI6IkpXVCasdJasd9"
        ));
        assert!(is_reference(b"__API_TOKEN__") && is_reference(b"@@DB_PASS@@"));
        assert!(!is_reference(b"__aB3dE6gH9jK2mN5p__"));
        assert!(is_reference(b"__globPaths__") && is_reference(b"arn:aws:ssm:eu-west-1:1:x"));
        assert!(file_name(b"ami-1234567890abcdef0.bin") && !file_name(b"Xk2Jd8Lq0PzR.4tWv9NbC"));
    }

    #[test]
    fn look_alikes_stay() {
        assert!(found("the task-force met; sk-learn rocks; EURASIA").is_empty());
        assert!(
            found("the key point is clear; token: 550e8400-e29b-41d4-a716-446655440000").is_empty()
        );
        assert!(found("see https://example.com/a:b and -----BEGIN CERTIFICATE-----").is_empty());
        assert!(found("keyboard shortcuts, password reset link").is_empty());
    }
}
