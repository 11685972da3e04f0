//! The values of a Kubernetes Secret written as YAML (`kind: Secret`, then `data:` or
//! `stringData:`): every value there is secret material whatever its key is called
//! (`username`, `.dockercfg`, `tls.key`), base64 in `data`, plain in `stringData`.

use super::{ENT_SECRET, Finding};

static SECRET_KIND: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"kind: Secret"));

/// Longest value (one line, or a whole block scalar) taken as one finding; a longer one is
/// masked up to here and the rest stays in the next finding.
const MAX_VALUE: usize = 64 * 1024;

/// Pushes the value spans of every Secret document's `data:`/`stringData:` map in `text`.
pub(crate) fn scan(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    // A manifest has more than one line: one memchr spares most texts the search.
    if memchr::memchr(b'\n', b).is_none() || SECRET_KIND.find(b).is_none() {
        return;
    }
    let mut doc_start = 0;
    while doc_start < b.len() {
        let doc_end = document_end(b, doc_start);
        if is_secret_document(&b[doc_start..doc_end]) {
            scan_document(b, doc_start, doc_end, out);
        }
        doc_start = doc_end;
    }
}

/// The end of the YAML document starting at `s`: the start of the next `---` line, or the end.
fn document_end(b: &[u8], s: usize) -> usize {
    let mut p = s;
    while let Some(k) = memchr::memchr(b'\n', &b[p..]) {
        let line = p + k + 1;
        if b[line..].starts_with(b"---") {
            return line;
        }
        p = line;
    }
    b.len()
}

/// `kind: Secret` on a line of its own at the top level (not `SecretStore`, not nested).
fn is_secret_document(doc: &[u8]) -> bool {
    lines(doc).any(|(_, l)| {
        let l = trim_end(l);
        l == b"kind: Secret" || l == b"kind: \"Secret\"" || l == b"kind: 'Secret'"
    })
}

fn scan_document(b: &[u8], start: usize, end: usize, out: &mut Vec<Finding>) {
    let doc = &b[start..end];
    let mut it = lines(doc).peekable();
    while let Some((_, line)) = it.next() {
        let indent = indent_of(line);
        let body = trim_end(&line[indent..]);
        let plain = match body {
            b"data:" => false,
            b"stringData:" => true,
            _ => continue,
        };
        // The map's entries: lines indented deeper than `data:`, until one that is not.
        while let Some(&(eoff, entry)) = it.peek() {
            let ei = indent_of(entry);
            if trim_end(entry).len() <= ei {
                it.next();
                continue;
            }
            if ei <= indent {
                break;
            }
            it.next();
            let Some(colon) = entry_colon(entry, ei) else {
                continue;
            };
            let mut v = colon + 1;
            while v < entry.len() && entry[v] == b' ' {
                v += 1;
            }
            let value = trim_end(&entry[v..]);
            if value.is_empty() {
                continue;
            }
            if matches!(value, b"|" | b"|-" | b"|+" | b">" | b">-" | b">+") {
                // A block scalar: the lines indented deeper than the key are the value.
                let mut first: Option<usize> = None;
                let mut last = 0;
                while let Some(&(boff, bl)) = it.peek() {
                    let bi = indent_of(bl);
                    let content = trim_end(bl);
                    if content.len() > bi && bi <= ei {
                        break;
                    }
                    it.next();
                    if content.len() > bi {
                        first.get_or_insert(start + boff + bi);
                        last = start + boff + content.len();
                    }
                }
                if let Some(f) = first {
                    push(b, out, f, last);
                }
                continue;
            }
            let (mut s, mut e) = (start + eoff + v, start + eoff + v + value.len());
            if value.len() >= 2
                && matches!(value[0], b'"' | b'\'')
                && value[value.len() - 1] == value[0]
            {
                s += 1;
                e -= 1;
            }
            if e > s && (plain || base64ish(&b[s..e])) {
                push(b, out, s, e);
            }
        }
    }
}

fn push(b: &[u8], out: &mut Vec<Finding>, s: usize, e: usize) {
    // Already masked (a second pass over redacted text): nothing left to find.
    if !only_masks(&b[s..e]) {
        out.push(Finding::new(
            s,
            e.min(s.saturating_add(MAX_VALUE)),
            ENT_SECRET,
        ));
    }
}

/// Nothing but mask tags (`[SECRET]`, `[SECRET_1a2b3c4d]`) and white space.
fn only_masks(v: &[u8]) -> bool {
    let mut p = 0;
    while p < v.len() {
        match v[p] {
            b' ' | b'\n' | b'\r' | b'\t' => p += 1,
            b'[' => {
                let Some(k) = memchr::memchr(b']', &v[p..]) else {
                    return false;
                };
                let inner = &v[p + 1..p + k];
                if inner.is_empty()
                    || !inner
                        .iter()
                        .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return false;
                }
                p += k + 1;
            }
            _ => return false,
        }
    }
    true
}

/// The `:` that ends a map key at `indent` (`tls.key: …`, `"a b": …`): the first `: ` or a
/// final `:`.
fn entry_colon(line: &[u8], indent: usize) -> Option<usize> {
    let l = trim_end(line);
    let rel = l[indent..]
        .windows(2)
        .position(|w| w == b": ")
        .or_else(|| (l.last() == Some(&b':')).then(|| l.len() - indent - 1))?;
    Some(indent + rel)
}

/// Base64 as `data:` holds it (standard alphabet, padding), four characters or more.
fn base64ish(v: &[u8]) -> bool {
    v.len() >= 4
        && v.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
}

/// Lines of `doc` with their offsets, without the line break.
fn lines(doc: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut p = 0;
    std::iter::from_fn(move || {
        if p >= doc.len() {
            return None;
        }
        let s = p;
        let e = memchr::memchr(b'\n', &doc[p..]).map_or(doc.len(), |k| p + k);
        p = e + 1;
        Some((s, &doc[s..e]))
    })
}

fn indent_of(line: &[u8]) -> usize {
    line.iter().take_while(|&&c| c == b' ').count()
}

fn trim_end(l: &[u8]) -> &[u8] {
    let n = l
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t' | b'\r'))
        .map_or(0, |k| k + 1);
    &l[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.iter()
            .map(|f| &text[f.start as usize..f.end as usize])
            .collect()
    }

    #[test]
    fn every_value_of_a_secret_goes_and_nothing_else() {
        let t = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  labels:\n    tier: db\ntype: Opaque\ndata:\n  username: YWRtaW4=\n  tls.key: \"LS0tLS1CRUdJTg==\"\n  .dockercfg: |\n    eyJhdXRocyI6e30K\n    eyJtb3JlIjoxfQo=\n\nstringData:\n  config.yaml: |-\n    token: abc\n    url: https://x\n  note: plain words here\nimmutable: true\n";
        assert_eq!(
            found(t),
            [
                "YWRtaW4=",
                "LS0tLS1CRUdJTg==",
                "eyJhdXRocyI6e30K\n    eyJtb3JlIjoxfQo=",
                "token: abc\n    url: https://x",
                "plain words here"
            ]
        );
    }

    #[test]
    fn other_kinds_and_other_documents_keep_their_data() {
        let t = "kind: ConfigMap\ndata:\n  mode: fast\n---\nkind: SecretStore\ndata:\n  a: YWJj\n---\nkind: Secret\ndata:\n  b: YWJj\n";
        assert_eq!(found(t), ["YWJj"]);
        assert!(found("kind: ConfigMap\ndata:\n  a: YWJj\n").is_empty());
        // Not base64 under `data:`: a comment or a reference, not a value.
        assert!(found("kind: Secret\ndata:\n  a: <set me>\n").is_empty());
        // Masked already: a second pass finds nothing.
        assert!(
            found("kind: Secret\nstringData:\n  a: [SECRET]\n  b: |\n    [SECRET_0a1b2c3d]\n")
                .is_empty()
        );
    }
}
