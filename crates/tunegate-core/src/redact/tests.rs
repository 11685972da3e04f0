use super::*;
use tunegate_api::{CustomPattern, DenyList};

fn red(
    policy: &RedactionPolicy,
    key: Option<&[u8]>,
    line: &str,
) -> (Result<LineOutcome, LineError>, String, RedactionReport) {
    let r = Redactor::new(policy, key).unwrap();
    let mut out = String::new();
    let mut rep = RedactionReport::default();
    let o = r.redact_line(line, &mut out, &mut rep);
    (o, out, rep)
}

fn mask(line: &str) -> String {
    let (o, out, _) = red(&RedactionPolicy::default(), None, line);
    o.unwrap();
    out
}

#[test]
fn untouched_bytes_are_verbatim() {
    let line = r#"{ "a" : 1.50e3, "b":[true,false,null,-0], "c":"caf\u00e9 ok", "messages":[] }"#;
    assert_eq!(mask(line), line);
}

#[test]
fn escapes_hide_nothing() {
    assert_eq!(
        mask(r#"{"c":"x jane\u0040example.com y"}"#),
        r#"{"c":"x [EMAIL_ADDRESS] y"}"#
    );
    assert_eq!(
        mask(r#"{"c":"line\njane@example.com\tz"}"#),
        r#"{"c":"line\n[EMAIL_ADDRESS]\tz"}"#
    );
    assert_eq!(
        mask(r#"{"c":"ssn 536\u002d22\u002d1234"}"#),
        r#"{"c":"ssn [US_SSN]"}"#
    );
}

#[test]
fn keys_and_roles_unchanged() {
    let line = r#"{"jane@example.com":"jane@example.com","role":"jane@example.com"}"#;
    assert_eq!(
        mask(line),
        r#"{"jane@example.com":"[EMAIL_ADDRESS]","role":"jane@example.com"}"#
    );
}

#[test]
fn tool_call_arguments_are_redacted_and_reencoded() {
    let line = r#"{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{\"email\": \"jane@example.com\", \"n\": 1.0}"}}]}]}"#;
    let out = mask(line);
    assert_eq!(
        out,
        r#"{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{\"email\": \"[EMAIL_ADDRESS]\", \"n\": 1.0}"}}]}]}"#
    );
    let (_, _, rep) = red(&RedactionPolicy::default(), None, line);
    assert_eq!(rep.findings_by_role["assistant"]["EMAIL_ADDRESS"], 1);
}

#[test]
fn tool_call_ids_keep_linking_calls_to_results() {
    // Tool call ids are random by design: the random-token rule does not judge them, nor masks
    // them as copies of a random token masked elsewhere, so `tool_call_id` still names its call.
    // The same random value in text or arguments is masked, and personal data in an id still is.
    let id = "call_Jc9iRfRI6QIYL2nnPfS6ItQ3";
    let line = format!(
        r#"{{"messages":[{{"role":"assistant","tool_calls":[{{"id":"{id}","type":"function","function":{{"name":"f","arguments":"{{\"ref\": \"{id}\"}}"}}}}]}},{{"role":"tool","tool_call_id":"{id}","content":"done"}},{{"role":"assistant","content":"see {id}"}}]}}"#
    );
    let out = mask(&line);
    assert_eq!(out.matches(id).count(), 2, "{out}");
    assert!(out.contains(&format!(r#""id":"{id}""#)), "{out}");
    assert!(out.contains(&format!(r#""tool_call_id":"{id}""#)), "{out}");
    assert!(out.contains(r#"\"ref\": \"[SECRET]\""#), "{out}");
    assert!(out.contains("see [SECRET]"), "{out}");
    let pii = r#"{"messages":[{"role":"tool","tool_call_id":"jane@example.com","content":"x"}]}"#;
    assert!(mask(pii).contains("[EMAIL_ADDRESS]"));
    // Deeper down (inside arguments) `id` is user data like any other key.
    let args = r#"{"messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"id\": \"Jc9iRfRI6QIYL2nnPfS6ItQ3\"}"}}]}]}"#;
    assert!(
        mask(args).contains(r#"\"id\": \"[SECRET]\""#),
        "{}",
        mask(args)
    );
}

#[test]
fn role_attribution_ignores_key_order() {
    let line = r#"{"messages":[{"content":"call 415-555-2671","role":"user"},{"role":"assistant","content":[{"type":"text","text":"ok 415-555-2671"}]}]}"#;
    let (_, _, rep) = red(&RedactionPolicy::default(), None, line);
    assert_eq!(rep.findings_by_role["user"]["PHONE_NUMBER"], 1);
    assert_eq!(rep.findings_by_role["assistant"]["PHONE_NUMBER"], 1);
    assert_eq!(rep.findings["PHONE_NUMBER"], 2);
}

#[test]
fn non_json_string_that_looks_like_json_is_scanned_as_text() {
    assert_eq!(
        mask(r#"{"c":"{not json jane@example.com"}"#),
        r#"{"c":"{not json [EMAIL_ADDRESS]"}"#
    );
}

#[test]
fn invalid_json_is_an_error_with_code_and_no_content() {
    for bad in [
        "",
        "{",
        r#"{"a":}"#,
        r#"{"a":01}"#,
        "{\"a\":\"x\u{1}\"}",
        r#"{"a":"\x"}"#,
        r#"{"a":1} x"#,
        r#"[1,]"#,
    ] {
        let (o, out, rep) = red(&RedactionPolicy::default(), None, bad);
        let e = o.unwrap_err();
        assert_eq!(e.code, "invalid_json", "{bad:?}");
        assert!(out.is_empty());
        assert_eq!(rep, RedactionReport::default());
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert_eq!(
        red(&RedactionPolicy::default(), None, &deep)
            .0
            .unwrap_err()
            .code,
        "nesting_too_deep"
    );
}

#[test]
fn pseudonymize_is_stable_and_normalised() {
    let p = RedactionPolicy {
        mode: RedactionMode::Pseudonymize,
        ..Default::default()
    };
    let (_, a, _) = red(
        &p,
        Some(b"k1"),
        r#"{"c":"Jane@Example.com and jane@example.com"}"#,
    );
    let tok: Vec<&str> = a
        .split('[')
        .skip(1)
        .map(|s| s.split(']').next().unwrap())
        .collect();
    assert_eq!(tok.len(), 2);
    assert_eq!(tok[0], tok[1]);
    assert!(tok[0].starts_with("EMAIL_ADDRESS_") && tok[0].len() == "EMAIL_ADDRESS_".len() + 8);
    let (_, b, _) = red(
        &p,
        Some(b"k2"),
        r#"{"c":"Jane@Example.com and jane@example.com"}"#,
    );
    assert_ne!(a, b);
    // Documented construction: HMAC-SHA256(key, type \0 normalised value), first 8 hex.
    let mut m = Hmac::<Sha256>::new_from_slice(b"k1").unwrap();
    m.update(b"EMAIL_ADDRESS\0jane@example.com");
    let want = hex::encode(&m.finalize().into_bytes()[..4]);
    assert_eq!(tok[0], format!("EMAIL_ADDRESS_{want}"));
    // Formatting variants of the newer ids share a pseudonym too: digits only, or upper-case
    // letters and digits for the MBI.
    for line in [
        r#"{"c":"NPI 1194-444-679, NPI 1194444679"}"#,
        r#"{"c":"RRN 850314-2123456, RRN 8503142123456"}"#,
        r#"{"c":"MBI 1eg4-te5-mk73, MBI 1EG4TE5MK73"}"#,
    ] {
        let (_, out, _) = red(&p, Some(b"k1"), line);
        let tok: Vec<&str> = out
            .split('[')
            .skip(1)
            .map(|s| s.split(']').next().unwrap())
            .collect();
        assert_eq!(tok.len(), 2, "{out}");
        assert_eq!(tok[0], tok[1], "{out}");
    }
    assert_eq!(
        Redactor::new(&p, None).unwrap_err(),
        PolicyError::MissingKey
    );
    assert_eq!(
        Redactor::new(&p, Some(b"")).unwrap_err(),
        PolicyError::MissingKey
    );
}

#[test]
fn long_integers_are_scanned_like_text() {
    // A card number and a secret-keyed PIN written as JSON numbers (reinforcement grader fields
    // can hold any JSON): the digits go, the number becomes the redacted string.
    let line = r#"{"messages":[],"card":4111111111111111,"pin_code":{"password":928374651},"n":-12,"t":1.5e3,"big":123456}"#;
    let out = mask(line);
    assert!(!out.contains("4111111111111111"), "{out}");
    assert!(!out.contains("928374651"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
    assert!(v["card"].is_string(), "{out}");
    // Short integers, floats and numbers that are nothing stay numbers, byte for byte.
    assert!(out.contains(r#""n":-12,"t":1.5e3,"big":123456"#), "{out}");
    let p = RedactionPolicy {
        mode: RedactionMode::Reject,
        ..Default::default()
    };
    let (o, _, rep) = red(&p, None, r#"{"card":4111111111111111}"#);
    assert_eq!(o.unwrap(), LineOutcome::Rejected);
    assert_eq!(rep.findings.values().sum::<u64>(), 1);
}

#[test]
fn drop_and_reject_modes() {
    let line = r#"{"c":"jane@example.com"}"#;
    let clean = r#"{"c":"hello"}"#;
    for (mode, want) in [
        (RedactionMode::DropExample, LineOutcome::Dropped),
        (RedactionMode::Reject, LineOutcome::Rejected),
    ] {
        let p = RedactionPolicy {
            mode,
            ..Default::default()
        };
        let (o, out, rep) = red(&p, None, line);
        assert_eq!(o.unwrap(), want);
        assert!(out.is_empty());
        assert_eq!(rep.findings["EMAIL_ADDRESS"], 1);
        let (o, out, _) = red(&p, None, clean);
        assert_eq!(o.unwrap(), LineOutcome::Unchanged);
        assert_eq!(out, clean);
    }
}

#[test]
fn custom_deny_allow() {
    let p = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name: "EMPLOYEE_ID".into(),
            regex: r"EMP-\d{6}".into(),
        }],
        deny_list: vec![DenyList {
            name: "CUSTOMER".into(),
            terms: vec!["Globex".into(), "Initech Corp".into()],
        }],
        allow_list: vec!["support@acme.example".into()],
        ..Default::default()
    };
    let (_, out, rep) = red(
        &p,
        None,
        r#"{"c":"EMP-123456 from GLOBEX and initech corp, not Globexian; mail support@acme.example or bob@acme.example"}"#,
    );
    assert_eq!(
        out,
        r#"{"c":"[EMPLOYEE_ID] from [CUSTOMER] and [CUSTOMER], not Globexian; mail support@acme.example or [EMAIL_ADDRESS]"}"#
    );
    assert_eq!(rep.findings["CUSTOMER"], 2);
    let bad = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name: "X".into(),
            regex: "(".into(),
        }],
        ..Default::default()
    };
    assert!(matches!(
        Redactor::new(&bad, None),
        Err(PolicyError::InvalidPattern { .. })
    ));
    let empty = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name: "X".into(),
            regex: "a*".into(),
        }],
        ..Default::default()
    };
    assert!(matches!(
        Redactor::new(&empty, None),
        Err(PolicyError::EmptyMatch { .. })
    ));
}

#[test]
fn mask_tokens_are_never_findings() {
    let p = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name: "WORD".into(),
            regex: r"[A-Z]{4,}".into(),
        }],
        ..Default::default()
    };
    let r = Redactor::new(&p, None).unwrap();
    let mut rep = RedactionReport::default();
    let mut once = String::new();
    r.redact_line(r#"{"c":"HELLO jane@example.com"}"#, &mut once, &mut rep)
        .unwrap();
    assert_eq!(once, r#"{"c":"[WORD] [EMAIL_ADDRESS]"}"#);
    let mut twice = String::new();
    assert_eq!(
        r.redact_line(&once, &mut twice, &mut rep).unwrap(),
        LineOutcome::Unchanged
    );
    assert_eq!(once, twice);
}

#[test]
fn entity_selection() {
    let p = RedactionPolicy {
        entities: vec![EntityType::PhoneNumber],
        ..Default::default()
    };
    let (_, out, _) = red(&p, None, r#"{"c":"jane@example.com 415-555-2671"}"#);
    assert_eq!(out, r#"{"c":"jane@example.com [PHONE_NUMBER]"}"#);
}

#[test]
fn lower_case_name_cues_without_the_secret_walk() {
    // The secret walk hands the name scanner its cues; a policy without secrets finds them
    // with the scanner's own automaton, and both find the same names.
    let people = RedactionPolicy {
        entities: vec![EntityType::Person],
        ..Default::default()
    };
    let both = RedactionPolicy {
        entities: vec![EntityType::Person, EntityType::Secret],
        ..Default::default()
    };
    for text in [
        "I spoke with amelia pray this morning",
        "Account holder: patrick lucansky",
        "thanks john! dear sarah, hi will, talk to you later, signed by hand",
        "Hi john, spoke with sales, cardholder: maria lopez",
    ] {
        let line = serde_json::json!({ "c": text }).to_string();
        let (_, alone, _) = red(&people, None, &line);
        let (_, walked, _) = red(&both, None, &line);
        assert_eq!(alone, walked, "{text}");
        assert_ne!(alone, line, "{text}");
    }
}

#[test]
fn token_change_is_counted() {
    // Off by default (nobody reads it in the pipeline), on when asked for.
    let line = r#"{"c":"write to jane.doe@example.com today"}"#;
    let r = Redactor::new(&RedactionPolicy::default(), None).unwrap();
    let mut rep = RedactionReport::default();
    r.redact_line(line, &mut String::new(), &mut rep).unwrap();
    assert_eq!((rep.tokens_removed, rep.tokens_added), (0, 0));
    let r = r.with_token_report(true);
    let mut rep = RedactionReport::default();
    r.redact_line(line, &mut String::new(), &mut rep).unwrap();
    assert!(rep.tokens_removed > 0 && rep.tokens_added > 0);
    assert_ne!(rep.tokens_removed, rep.tokens_added);
}

#[test]
fn non_ascii_neighbours() {
    assert_eq!(
        mask(r#"{"c":"电话：415-555-2671。邮箱jane@example.com谢谢"}"#),
        r#"{"c":"电话：[PHONE_NUMBER]。邮箱[EMAIL_ADDRESS]谢谢"}"#
    );
}

#[test]
fn redactor_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Redactor>();
}

#[test]
fn pathological_inputs_stay_linear() {
    // Many findings without spaces, many failing JWT anchors, many mask look-alikes. Quadratic
    // behaviour would make this test hang rather than pass.
    let emails = "a@b.co,".repeat(20_000);
    let jwts = "eyJ".repeat(100_000);
    let masks = "[EMAIL_ADDRESS]".repeat(20_000) + &"x@y.io ".repeat(20_000);
    // Keywords inside a long refused value: each used to scan the rest of it again (15 s per
    // MB in release). The bound is loose (a debug build on a busy host); quadratic took minutes.
    let keywords = format!("token='{}'\n", "token=".repeat(700)).repeat(100);
    let dots = "jane dot ".repeat(50_000) + &"a at b dot ".repeat(20_000);
    // Joined text without end: each run used to judge the whole token again (minutes per MB).
    let joined = "1_".repeat(100_000) + &"1/".repeat(100_000) + &"Ab1-".repeat(50_000);
    let base64ish = "Ab1/Cd2+".repeat(30_000) + &"Jc9iRfRI6QIYL2nnPfS6_".repeat(10_000);
    // Many copies of a masked value: each copy used to be checked against every finding
    // (without that fix this case takes 45 s in a debug build, 3.8 s with it).
    let copies = "my name is John Smith, token = 'Zq8vK2mPx7LwR4tNc9' ".to_string()
        + &"John Smith Zq8vK2mPx7LwR4tNc9 ".repeat(80_000);
    // `-p` flags: each looks back along its line, at most 160 bytes.
    let flags = " -p".repeat(100_000) + &" login -p Ab12".repeat(20_000);
    // Runs of `${` and `{{` in quoted values: each placeholder search stops at the next brace.
    let braces = format!("password=\"{}\"\n", "${".repeat(2_000)).repeat(100)
        + &format!("token: '{}'\n", "{{a".repeat(1_300)).repeat(100);
    // Literals before compared names, and pairs, each looking a bounded way around it.
    let compared =
        "\"k3y\" == password ".repeat(50_000) + &"name: DB_PASSWORD\n value: ".repeat(20_000);
    // Names ending in `pass`/`pw`, each with an assignment: a refused value is not scanned again
    // from the next name in it (1 MB took 1 s in release before, 0.07 s now).
    let pass_names = "pw=".repeat(200_000) + &"DB_PASS=".repeat(100_000);
    // Crypt-hash anchors in one run of fields, base64 PEM headers glued together, unquoted
    // passwords closed by a parenthesis on one long line: each looks a bounded way.
    let hashes = "$1$.".repeat(200_000)
        + &"LS0tLS1CRUdJTi".repeat(20_000)
        + &"(password=ab) ".repeat(50_000)
        + &"\npassword:".repeat(50_000)
        + &"password:".repeat(50_000)
        + &"login password ".repeat(50_000);
    // Postcodes, states and towns after long runs of address words (each looks back at most
    // 160 bytes), house numbers and street types without a ZIP (each looks ahead 120 bytes).
    let heads = ("Ab 12 ".repeat(40) + "LS1 4AP ").repeat(2_000)
        + &"Ab, NY 10036 ".repeat(50_000)
        + &"Ab 5, 10437 Berlin ".repeat(30_000)
        + &"1 st ".repeat(200_000)
        // A long run of dollars in a quoted value: one reference check, not one per dollar.
        + &format!("password = \"{}x\"\n", "$".repeat(4_000)).repeat(50);
    // Introduction cues back to back, and after long runs of spaces: each reads at most three
    // words after it and the bytes before it up to the previous non-space.
    let intros = "my name is ".repeat(100_000)
        + &"call me myself ".repeat(50_000)
        + &format!("{}myself ", " ".repeat(2_000)).repeat(200)
        + &"Matti Mäkinen K. ".repeat(50_000)
        // Credential calls whose literals never close, and alignment spaces after names.
        + &format!("Credential(\"a\", \"{}", "b".repeat(600)).repeat(300)
        + &format!("apiKey:{}", " ".repeat(60)).repeat(20_000)
        // Long name lists before an assignment: each name looks at most 9 names around it.
        + &"a, password".repeat(30_000)
        + &format!("{} = {}", "pw, ".repeat(5_000), "\"abcd\", ".repeat(5_000));
    // Names in capitals, nicknames and initials back to back, env lines, listed phone numbers,
    // postcode cues and units before streets, literals joined with `+`: each looks a bounded
    // way around it.
    let round29 = "JOHN SMITH ".repeat(50_000)
        + &"SMITH, JOHN ".repeat(30_000)
        + &"MR ".repeat(100_000)
        + &"John \"Jack\" (Jack) B. ".repeat(30_000)
        + &"SECRET=a\nsecret=\n".repeat(30_000)
        + &"9024354311 and ".repeat(30_000)
        + &"postcode postal code sw1a ".repeat(20_000)
        + &"Apt 4B, ".repeat(50_000)
        + "12 High Street, London SW1A1AA "
        + &"'ab' + ".repeat(50_000);
    // Initials and particles back to back before capitalised words, `Dr` after capitalised
    // words: each looks back at most six initials or three particles.
    let round30 = "seen by J. Th. Ab. ".repeat(50_000)
        + &"A.B.C.D.E.F.G. Ab ".repeat(20_000)
        + &"v.d. v/d van der Ab ".repeat(30_000)
        + &"Elm Dr Ab dr Ab ".repeat(30_000)
        + &"SMITH SR, DONALD Ab, Eve --Ab -".repeat(30_000);
    // Split from `round30` so that each input stays near the others' size: the bound is per
    // input, and a debug build under a full test run's load took 22 s for an 8 MB one.
    let round30_tail = "spoke with john hi dear thanks ".repeat(30_000)
        + &format!("holder: john {}", "zq ".repeat(2_000)).repeat(50)
        + &"phone 1234567 - - 12 -".repeat(30_000)
        + &format!("address: 12 {}", "ab ".repeat(5_000)).repeat(40)
        + &"\n1 a b c d e f g h i j k l m n o p ".repeat(20_000)
        + &"Zhu Zhangzhuang Wang Shuangxiong ".repeat(30_000)
        + &"Dear Dr AB CD, EF, GH I received by JOHN AB ".repeat(20_000);
    // Masked or filler private keys back to back (each header reads at most 4 KB of body),
    // start tags with long attributes, symbol keys, typed-in sequences.
    let round31 = "-----BEGIN PRIVATE KEY-----\n****abab".repeat(30_000)
        + &format!("<password {}", "a=1 ".repeat(60)).repeat(5_000)
        + &":password :secret ".repeat(30_000)
        + &"token = 123-abc-".repeat(30_000)
        + &"SAMPLE/xQ9zLk2Wm8/".repeat(30_000);
    // Vendor names glued in one name (each reads 40 bytes each way), client-id suffixes back to
    // back, fallback operators without a literal after a refused value (each reads 160 bytes),
    // boxes before words that never reach a state (each reads five words), parenthesised
    // country codes, mismatched brackets after a key name (one value read each), digits glued
    // to addresses, setter commas, attributes naming a credential (each reads 200 bytes of its
    // tag).
    let round32_names = "SONAR_SONAR_".repeat(50_000)
        + &"snyk=".repeat(50_000)
        + &"1-.apps.googleusercontent.com".repeat(20_000)
        + &format!("password = env[x] {}\n", "?? || ?: or ".repeat(20)).repeat(5_000);
    let round32_numbers = "rural route 1 box 1 a b c d e ".repeat(30_000)
        + &"lockbox 123 ab cd ef gh ij ".repeat(30_000)
        + &"(+1)(+1)-(1)".repeat(30_000)
        + &"a@b.co1".repeat(50_000);
    let round32_markup = format!("apikey: {}\n", "{(}]".repeat(2_000)).repeat(100)
        + &"apikey: {".repeat(50_000)
        + &"pass ,\"".repeat(50_000)
        + &format!("<a {}>\n", "value=\"x\" name=\"password\" ".repeat(10_000))
        + &"< password ".repeat(50_000)
        + &"name=\"password\" ".repeat(50_000);
    // Password words in other languages, and `cred` names, back to back.
    let round33 = "пароль=".repeat(100_000)
        + &"密码是".repeat(50_000)
        + &format!("contraseña: {}\n", "x".repeat(3_000)).repeat(100)
        + &"cred=cred:".repeat(50_000)
        + &"Passwort ist ".repeat(50_000);
    // Connection and query string pairs, back to back.
    let round33_pairs =
        "a=b ".repeat(100_000) + &"password=x&".repeat(50_000) + &"; Password = ".repeat(50_000);
    // Credential calls with arguments that never end, and method comparisons.
    let round33_calls = format!("mysqli_connect({}\n", "(\"a\", ".repeat(40)).repeat(5_000)
        + &"ldap_bind(".repeat(50_000)
        + &"auth=(\"a\", ".repeat(50_000);
    let round33_equals = "password.equals(".repeat(30_000)
        + &"\"x\".equals(password) ".repeat(30_000)
        + &"Equals(\"abcd\", token) ".repeat(30_000);
    for s in [
        emails,
        jwts,
        masks,
        keywords,
        dots,
        joined,
        base64ish,
        copies,
        flags,
        braces,
        compared,
        pass_names,
        hashes,
        heads,
        intros,
        round29,
        round30,
        round30_tail,
        round31,
        round32_names,
        round32_numbers,
        round32_markup,
        round33,
        round33_pairs,
        round33_calls,
        round33_equals,
    ] {
        let line = serde_json::json!({ "c": s }).to_string();
        let t = std::time::Instant::now();
        let (o, out, _) = red(&RedactionPolicy::default(), None, &line);
        o.unwrap();
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            t.elapsed()
        );
    }
    // One object with many `data` members and its `kind` last: whether it is a Kubernetes Secret
    // is looked up once, not once per member (each lookup reads the rest of the object).
    let line = format!(
        r#"{{"o":{{{}"kind":"Secret"}}}}"#,
        r#""data":{"a":"YWJj"},"#.repeat(50_000)
    );
    let t = std::time::Instant::now();
    let (o, out, _) = red(&RedactionPolicy::default(), None, &line);
    o.unwrap();
    assert!(!out.contains("YWJj"));
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn fuzz_regressions_are_idempotent() {
    // Found by `cargo fuzz` (redact_line): mask tokens used to act as phone context words.
    let line = r#""8888888~---%----------0PHONE_36--------0PHONE_NUMB36-----9607166210 0 0204------0PHONE_36--------0PHONE_NUMB36-----9607166210 0 0204369011%49J&(----9607166210 0 0204369016%4369011%49J&(----9607166210 0 0204369016%491&(+|&""#;
    let chain =
        r#"{"c":"x@y.co-4111111111111111-4111111111111111-4111111111111111-4111111111111111"}"#;
    for l in [line, chain] {
        let once = mask(l);
        assert_eq!(mask(&once), once);
    }
}

#[test]
fn images_reject_drop_keep_and_data_urls_are_never_text() {
    let line = r#"{"messages":[{"role":"user","content":[{"type":"text","text":"mail a@example.com"},{"type":"image_url","image_url":{"url":"data:image/png;base64,c2stcHJvai1BYjNkRWY2aElqOWtMbTJuT3A1cVJzOHRVdjF3WHk0eg=="}}]}]}"#;
    let with = |images| RedactionPolicy {
        images,
        ..RedactionPolicy::default()
    };
    let (o, out, _) = red(&with(ImagePolicy::Reject), None, line);
    let e = o.unwrap_err();
    assert_eq!(e.code, "image_content_rejected");
    assert!(out.is_empty());
    let (o, out, rep) = red(&with(ImagePolicy::Drop), None, line);
    assert_eq!(o.unwrap(), LineOutcome::Dropped);
    assert!(out.is_empty());
    assert_eq!(rep.dropped_examples, 1);
    let (o, out, _) = red(&with(ImagePolicy::Keep), None, line);
    assert_eq!(o.unwrap(), LineOutcome::Redacted);
    // The text part is redacted; the image bytes are copied verbatim, never scanned.
    assert!(out.contains("[EMAIL_ADDRESS]"));
    assert!(out.contains(
        "data:image/png;base64,c2stcHJvai1BYjNkRWY2aElqOWtMbTJuT3A1cVJzOHRVdjF3WHk0eg=="
    ));
    // A data URL outside an image part is not scanned as text either.
    let bare =
        r#"{"messages":[{"role":"user","content":"data:text/plain;base64,YUBleGFtcGxlLmNvbQ=="}]}"#;
    let (o, out, _) = red(&RedactionPolicy::default(), None, bare);
    assert_eq!(o.unwrap(), LineOutcome::Unchanged);
    assert_eq!(out, bare);
    // Lines without images are unaffected by the default Reject.
    let (o, _, _) = red(
        &RedactionPolicy::default(),
        None,
        r#"{"messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(o.unwrap(), LineOutcome::Unchanged);
}

#[test]
fn policy_limits_name_the_limit() {
    let pat = |i: usize, re: &str| CustomPattern {
        name: format!("P{i}"),
        regex: re.to_string(),
    };
    let too_many = RedactionPolicy {
        custom_patterns: (0..33).map(|i| pat(i, "x+y")).collect(),
        ..RedactionPolicy::default()
    };
    assert_eq!(
        Redactor::new(&too_many, None).unwrap_err(),
        PolicyError::LimitExceeded {
            limit: "customPatterns",
            max: 32
        }
    );
    // A small pattern whose compiled form is huge (bounded repetition of a Unicode class).
    let huge = RedactionPolicy {
        custom_patterns: vec![pat(0, r"\w{500}\w{500}")],
        ..RedactionPolicy::default()
    };
    let e = Redactor::new(&huge, None).unwrap_err();
    assert_eq!(
        e,
        PolicyError::LimitExceeded {
            limit: "regexCompiledSize",
            max: 1 << 20
        }
    );
    assert!(e.to_string().contains("regexCompiledSize"));
    let terms = RedactionPolicy {
        deny_list: vec![DenyList {
            name: "T".into(),
            terms: (0..20_001).map(|i| format!("t{i}")).collect(),
        }],
        ..RedactionPolicy::default()
    };
    assert!(matches!(
        Redactor::new(&terms, None).unwrap_err(),
        PolicyError::LimitExceeded {
            limit: "denyListTerms",
            ..
        }
    ));
}

#[test]
fn output_growth_per_line_is_bounded() {
    // A one-letter pattern with a 63-character name would grow a line of `a`s 65 times.
    let name = format!("A{}", "B".repeat(62));
    let p = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name,
            regex: "a".into(),
        }],
        ..RedactionPolicy::default()
    };
    let line = serde_json::json!({ "c": "a ".repeat(5000) }).to_string();
    let (o, out, _) = red(&p, None, &line);
    assert_eq!(o.unwrap_err().code, "redaction_output_too_large");
    assert!(out.is_empty());
    // Ordinary masking stays well inside the bound.
    let (o, _, _) = red(
        &RedactionPolicy::default(),
        None,
        &serde_json::json!({"c": "a@b.co ".repeat(2000)}).to_string(),
    );
    assert_eq!(o.unwrap(), LineOutcome::Redacted);
}

#[test]
fn a_pattern_matching_every_byte_is_refused_before_it_costs_memory() {
    // One finding per byte would hold 12 bytes of state per byte of text (and 32 such patterns,
    // 384): more than one candidate per `BYTES_PER_FINDING` (2) bytes refuses the line.
    let p = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name: "A".into(),
            regex: "a".into(),
        }],
        ..RedactionPolicy::default()
    };
    let line = serde_json::json!({ "c": "a".repeat(100_000) }).to_string();
    let (o, out, _) = red(&p, None, &line);
    assert_eq!(o.unwrap_err().code, "redaction_too_many_findings");
    assert!(out.is_empty());
    // One finding per two bytes is fine.
    let line = serde_json::json!({ "c": "a ".repeat(1000) }).to_string();
    let (o, out, _) = red(&p, None, &line);
    assert_eq!(o.unwrap(), LineOutcome::Redacted);
    assert!(out.contains("[A] [A] "), "{out}");
}

#[test]
fn an_exploding_rewrite_stops_at_the_growth_bound() {
    // A 63-character name for every letter: the rewrite would be 21 times the line, but it
    // stops as soon as it passes 4x (the scratch space never holds the whole blow-up).
    let name = format!("A{}", "B".repeat(62));
    let p = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name,
            regex: "a".into(),
        }],
        ..RedactionPolicy::default()
    };
    let line = serde_json::json!({ "c": "a  ".repeat(100_000) }).to_string();
    let (o, out, _) = red(&p, None, &line);
    assert_eq!(o.unwrap_err().code, "redaction_output_too_large");
    assert!(out.is_empty());
    SCRATCH.with(|s| {
        let s = s.borrow();
        assert!(
            s.red_a.capacity() + s.red_b.capacity() <= 8 * line.len(),
            "{} {}",
            s.red_a.capacity(),
            s.red_b.capacity()
        );
    });
}

#[test]
fn copies_of_personal_data_found_with_context_go() {
    // Neither the unknown name nor the bare number is found without its cue.
    let line = r#"{"messages":[{"role":"user","content":"my name is Zorbek Quintaval, SSN 536221234"},{"role":"assistant","content":"Thanks. Please ask Zorbek Quintaval to confirm 536221234 is right."}]}"#;
    let out = mask(line);
    assert_eq!(
        out,
        r#"{"messages":[{"role":"user","content":"my name is [PERSON], SSN [US_SSN]"},{"role":"assistant","content":"Thanks. Please ask [PERSON] to confirm [US_SSN] is right."}]}"#
    );
    assert_eq!(mask(&out), out);
    // Alone, the second message keeps both.
    let alone = r#"{"c":"Please ask Zorbek Quintaval to confirm 536221234 is right."}"#;
    assert_eq!(mask(alone), alone);
}

#[test]
fn every_copy_of_a_found_secret_goes() {
    // The copy in the earlier message has nothing around it that marks it; the keyword in the
    // later one does. Escapes cannot hide a copy either.
    let line = r#"{"messages":[{"role":"user","content":"it is Zq8vK2mPx7LwR4tNc9 or so"},{"role":"user","content":"my token = 'Zq8vK2mPx7LwR4tNc9' | 'Zq8vK2mPx7LwR4tNc9'"},{"role":"assistant","content":"got \u005aq8vK2mPx7LwR4tNc9, x"}]}"#;
    let (o, out, rep) = red(&RedactionPolicy::default(), None, line);
    assert_eq!(o.unwrap(), LineOutcome::Redacted);
    assert_eq!(
        out,
        r#"{"messages":[{"role":"user","content":"it is [SECRET] or so"},{"role":"user","content":"my token = '[SECRET]' | '[SECRET]'"},{"role":"assistant","content":"got [SECRET], x"}]}"#
    );
    assert_eq!(rep.findings["SECRET"], 4);
    assert_eq!(mask(&out), out);
    // Pseudonyms of copies are the same value's.
    let (_, out, _) = red(
        &RedactionPolicy {
            mode: RedactionMode::Pseudonymize,
            ..RedactionPolicy::default()
        },
        Some(b"k"),
        line,
    );
    let tags: std::collections::BTreeSet<&str> = out
        .match_indices("[SECRET_")
        .map(|(i, _)| &out[i..i + 17])
        .collect();
    assert_eq!(tags.len(), 1, "{out}");
    // Values that occur by chance are not searched for again; a line without a copy is one pass.
    assert_eq!(
        mask(r#"{"c":"pin: 4821, room 4821; password = 'hunter22x' and hunter22x"}"#),
        r#"{"c":"pin: [SECRET], room 4821; password = '[SECRET]' and [SECRET]"}"#
    );
}

#[test]
fn written_out_addresses_follow_the_policy() {
    let line = r#"{"c":"mail jane(at)gmail.com or jane dot doe at gmail dot com"}"#;
    let only = |keep: &[EntityType]| RedactionPolicy {
        entities: keep.to_vec(),
        ..RedactionPolicy::default()
    };
    let masked = r#"{"c":"mail [EMAIL_ADDRESS] or [EMAIL_ADDRESS]"}"#;
    // Found by the secret walk's anchors, and by their own search without SECRET.
    for keep in [
        &[EntityType::EmailAddress, EntityType::Secret][..],
        &[EntityType::EmailAddress],
    ] {
        let (o, out, _) = red(&only(keep), None, line);
        o.unwrap();
        assert_eq!(out, masked, "{keep:?}");
    }
    // Not at all without EMAIL_ADDRESS, even though the secret walk runs.
    let (o, out, _) = red(&only(&[EntityType::Secret]), None, line);
    assert_eq!(o.unwrap(), LineOutcome::Unchanged);
    assert_eq!(out, line);
}

fn msg_line(content: &str) -> String {
    serde_json::json!({"messages": [{"role": "system", "content": content}]}).to_string()
}

#[test]
fn repeated_clean_strings_are_scanned_once_per_redactor() {
    let prompt = "You are Acme's support assistant; answer briefly and politely.";
    let line = msg_line(prompt);
    let r = Redactor::new(&RedactionPolicy::default(), None).unwrap();
    let run = |r: &Redactor, line: &str| {
        let mut out = String::new();
        let mut rep = RedactionReport::default();
        let o = r.redact_line(line, &mut out, &mut rep).unwrap();
        (o, out)
    };
    let cached = || SCRATCH.with(|c| c.borrow().clean.clean.values().any(|t| &**t == prompt));
    // Remembered the second time it is seen clean, then answered from memory.
    assert_eq!(run(&r, &line).0, LineOutcome::Unchanged);
    assert!(!cached());
    for _ in 0..3 {
        assert_eq!(run(&r, &line), (LineOutcome::Unchanged, line.clone()));
        assert!(cached());
    }
    // Another redactor on the same thread does not trust it: its policy may find something.
    let codename = RedactionPolicy {
        custom_patterns: vec![CustomPattern {
            name: "CODENAME".into(),
            regex: "Acme's".into(),
        }],
        ..RedactionPolicy::default()
    };
    let other = Redactor::new(&codename, None).unwrap();
    let (o, out) = run(&other, &line);
    assert_eq!(o, LineOutcome::Redacted);
    assert!(out.contains("[CODENAME] support"), "{out}");
    assert!(!cached());
    // A value under a key is never answered from memory: clean as text, a secret as a password.
    let phrase = "correct-horse-battery-staple-acme-twenty";
    for _ in 0..3 {
        assert_eq!(run(&r, &msg_line(phrase)).1, msg_line(phrase));
    }
    let keyed = format!(r#"{{"password":"{phrase}"}}"#);
    assert_eq!(run(&r, &keyed).1, r#"{"password":"[SECRET]"}"#);
}

#[test]
fn a_remembered_clean_string_still_loses_copies_of_secrets() {
    // Clean on its own (remembered), but a copy of a value this line's key marks as a password.
    let text = "For staging use the login Quartz-Lantern-7741 and nothing else please.";
    let r = Redactor::new(&RedactionPolicy::default(), None).unwrap();
    let mut out = String::new();
    let mut rep = RedactionReport::default();
    for _ in 0..3 {
        out.clear();
        r.redact_line(&msg_line(text), &mut out, &mut rep).unwrap();
        assert_eq!(out, msg_line(text));
    }
    let line = serde_json::json!({"messages": [
        {"role": "system", "content": text},
        {"role": "user", "content": "{\"password\": \"Quartz-Lantern-7741\"}"}
    ]})
    .to_string();
    out.clear();
    r.redact_line(&line, &mut out, &mut rep).unwrap();
    assert!(!out.contains("Quartz"), "{out}");
}

#[test]
fn the_clean_string_memory_is_bounded() {
    let r = Redactor::new(&RedactionPolicy::default(), None).unwrap();
    let mut out = String::new();
    let mut rep = RedactionReport::default();
    let filler = "plain words about shipping and returns ".repeat(200);
    for i in 0..400 {
        let line = msg_line(&format!("{i:04} {filler}"));
        for _ in 0..2 {
            out.clear();
            r.redact_line(&line, &mut out, &mut rep).unwrap();
        }
        SCRATCH.with(|c| {
            let c = c.borrow();
            let held: usize = c.clean.clean.values().map(|t| t.len()).sum();
            assert_eq!(held, c.clean.bytes);
            assert!(held <= CleanCache::MAX_BYTES, "{held}");
            assert!(c.clean.seen.len() <= CleanCache::MAX_SEEN);
        });
    }
    // Clean strings seen once only fill the first-sighting keys, which are forgotten past
    // their bound (reached, not exceeded).
    let mut most = 0;
    for i in 0..CleanCache::MAX_SEEN + 8 {
        let text = format!("a plain sentence with the number {i:05} in it");
        assert!(text.len() >= CleanCache::MIN_LEN);
        out.clear();
        r.redact_line(&msg_line(&text), &mut out, &mut rep).unwrap();
        most = most.max(SCRATCH.with(|c| c.borrow().clean.seen.len()));
    }
    assert_eq!(most, CleanCache::MAX_SEEN);
    // Too long to remember at all.
    let long = msg_line(&"word ".repeat(CleanCache::MAX_LEN / 5 + 1));
    for _ in 0..3 {
        out.clear();
        r.redact_line(&long, &mut out, &mut rep).unwrap();
    }
    SCRATCH.with(|c| {
        assert!(
            c.borrow()
                .clean
                .clean
                .values()
                .all(|t| t.len() <= CleanCache::MAX_LEN)
        )
    });
}

#[test]
fn a_lone_identifier_is_masked_only_as_a_message() {
    // A chat message (or a content part, a prompt) that is nothing but a passport-shaped value
    // answers a question; the same value under any other key, or in tool-call arguments, is data.
    for line in [
        r#"{"messages":[{"role":"user","content":"AB1234567"}]}"#,
        r#"{"messages":[{"role":"user","content":[{"type":"text","text":" AB1234567. "}]}]}"#,
        r#"{"prompt":"AB1234567","completion":"ok"}"#,
    ] {
        let out = mask(line);
        assert!(!out.contains("AB1234567"), "{out}");
        assert!(out.contains("[PASSPORT]"), "{out}");
    }
    for line in [
        r#"{"messages":[{"role":"user","content":"hi"}],"metadata":{"ref":"AB1234567"}}"#,
        r#"{"messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"order\":\"AB1234567\",\"content\":\"AB1234567\"}"}}]}]}"#,
        r#"{"messages":[{"role":"user","content":"ship AB1234567 today"}]}"#,
    ] {
        assert_eq!(mask(line), line);
    }
}

#[test]
fn a_lone_eight_character_passport_has_the_indian_layout() {
    // A capital as written, then seven digits, the first not 0.
    let msg = |v: &str| format!(r#"{{"messages":[{{"role":"user","content":"{v}"}}]}}"#);
    for v in ["A3456781", " J6932157. "] {
        let out = mask(&msg(v));
        assert!(
            out.contains("[PASSPORT]") && !out.contains(v.trim()),
            "{out}"
        );
    }
    for v in [
        "b0097650", "a3456781", "A0123456", "AB345678", "A345678", "12345678",
    ] {
        assert_eq!(mask(&msg(v)), msg(v));
    }
}

#[test]
fn a_reply_gives_the_value_its_question_asked_for() {
    let chat = |turns: &[(&str, &str)]| {
        let messages: Vec<_> = turns
            .iter()
            .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
            .collect();
        serde_json::json!({ "messages": messages }).to_string()
    };
    let contents = |line: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_string())
            .collect()
    };
    // Without the question the date is any date; after it, a date of birth. The reply comes
    // twice first, so it is remembered as clean text, which an answer must not rely on.
    let reply = "Sure, it's 03/14/1988 - anything else you need from me?";
    let out = contents(&mask(&chat(&[
        ("assistant", "How can I help?"),
        ("user", reply),
        ("user", reply),
        ("assistant", "Could you confirm your date of birth?"),
        ("user", reply),
    ])));
    assert_eq!(out[1], reply);
    assert_eq!(out[2], reply);
    assert_eq!(
        out[4],
        "Sure, it's [DATE_OF_BIRTH] - anything else you need from me?"
    );
    for (question, answer, want) in [
        (
            "What is your passport number?",
            "AB1234567, why?",
            "[PASSPORT], why?",
        ),
        ("Please read me the code we sent.", "482913", "482913"),
        (
            "Please read me the verification code we sent.",
            "482913",
            "[SECRET]",
        ),
        ("What's your PIN?", "it is 5521", "it is [SECRET]"),
        ("Can you pin this thread?", "1234 pinned", "1234 pinned"),
        (
            "Your driver's licence number:",
            "D123-456-78-901-0",
            "[DRIVER_LICENSE]",
        ),
        (
            "And the last four of your SSN?",
            "sure, 4821",
            "sure, [US_SSN]",
        ),
        // Nine bare digits are an SSN only because of the question (`078 05 1121` would be
        // one anyway).
        (
            "What is your social security number?",
            "it's 078051121.",
            "it's [US_SSN].",
        ),
        ("What is your SSN?", "no, 12 345", "no, 12 345"),
        (
            "Could I have your full name, please?",
            "jane doe",
            "[PERSON]",
        ),
        ("And your last name?", "Kowalczyk", "[PERSON]"),
        (
            "What's your name?",
            "I'm Priya, and I need help",
            "I'm [PERSON], and I need help",
        ),
        ("What is your first name?", "Will", "[PERSON]"),
        ("What's your name?", "Thursday is fine", "Thursday is fine"),
        (
            "What's your name?",
            "why do you need it?",
            "why do you need it?",
        ),
        ("What's your name?", "Tomorrow works", "Tomorrow works"),
    ] {
        let out = contents(&mask(&chat(&[("assistant", question), ("user", answer)])));
        assert_eq!(out[1], want, "{question} / {answer}");
    }
    // Only the assistant (or a prompt without a role) asks: a user's question is answered by
    // text an assistant wrote, not by personal data it was given.
    // (`chat` writes `content` before `role`, so its questions have no known role yet.)
    let users_question = r#"{"messages":[{"role":"user","content":"What is your passport number?"},{"role":"assistant","content":"it is AB1234567, ok"}]}"#;
    assert_eq!(mask(users_question), users_question);
    let assistants_question = users_question
        .replace(r#""role":"user""#, r#""role":"x""#)
        .replace(r#""role":"assistant""#, r#""role":"user""#)
        .replace(r#""role":"x""#, r#""role":"assistant""#);
    assert!(mask(&assistants_question).contains("it is [PASSPORT], ok"));
    // Only the next message answers.
    let later = chat(&[
        ("assistant", "What is your date of birth?"),
        ("user", "one moment"),
        ("user", "it was 03/14/1988"),
    ]);
    assert_eq!(mask(&later), later);
}

#[test]
fn a_question_asks_only_for_enabled_types() {
    // DATE_OF_BIRTH off: the passport asked for first is still the one the reply gives.
    let policy = RedactionPolicy {
        entities: vec![EntityType::Passport],
        ..RedactionPolicy::default()
    };
    let line = serde_json::json!({"messages": [
        {"role": "assistant", "content": "Your passport number or date of birth?"},
        {"role": "user", "content": "it is AB1234567, born 03/14/1988"},
    ]})
    .to_string();
    let (o, out, _) = red(&policy, None, &line);
    o.unwrap();
    assert!(out.contains("it is [PASSPORT], born 03/14/1988"), "{out}");
}
