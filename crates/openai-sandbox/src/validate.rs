//! Training-file validation as OpenAI performs it in the `validating_files` stage: every line is
//! parsed as JSON and checked against the shape the method expects; too few examples fail the job.
//! Messages name line numbers and a fixed reason only, never content.

use std::io::{self, BufRead};

use serde_json::{Map, Value};

/// The line format a job expects, derived from its method and base model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    Chat,
    Completion,
    Preference,
    Reinforcement,
}

pub const MIN_EXAMPLES: u64 = 10;
const MAX_REPORTED_LINES: usize = 5;

#[derive(Clone, Debug, PartialEq)]
pub struct FormatFailure {
    pub code: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub examples: u64,
    pub bytes: u64,
    /// First failure found (shape errors take precedence over the example count).
    pub failure: Option<FormatFailure>,
}

/// Validate a JSONL stream. `min_examples` is 10 for training files and 1 for validation files.
pub fn analyze<R: BufRead>(
    mut reader: R,
    format: LineFormat,
    min_examples: u64,
) -> io::Result<Analysis> {
    let mut line_no = 0u64;
    let mut examples = 0u64;
    let mut bytes = 0u64;
    let mut bad: Vec<(u64, &'static str)> = Vec::new();
    let mut bad_total = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line_no += 1;
        let trimmed = trim_ascii(&line);
        if trimmed.is_empty() {
            continue;
        }
        let reason = match serde_json::from_slice::<Value>(trimmed) {
            Err(_) => Some("is not valid JSON"),
            Ok(Value::Object(obj)) => check_example(&obj, format),
            Ok(_) => Some("is not a JSON object"),
        };
        match reason {
            None => examples += 1,
            Some(r) => {
                bad_total += 1;
                if bad.len() < MAX_REPORTED_LINES {
                    bad.push((line_no, r));
                }
            }
        }
    }
    let failure = if !bad.is_empty() {
        let mut message = String::from("Invalid file format.");
        for (line, reason) in &bad {
            message.push_str(&format!(" Line {line}: example {reason}."));
        }
        let more = bad_total - bad.len() as u64;
        if more > 0 {
            message.push_str(&format!(" ({more} more invalid line(s))"));
        }
        Some(FormatFailure {
            code: "invalid_file_format",
            message,
        })
    } else if examples < min_examples {
        Some(FormatFailure {
            code: "invalid_n_examples",
            message: format!(
                "Training file has {examples} example(s), but must have at least {min_examples} examples"
            ),
        })
    } else {
        None
    };
    Ok(Analysis {
        examples,
        bytes,
        failure,
    })
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn check_example(obj: &Map<String, Value>, format: LineFormat) -> Option<&'static str> {
    match format {
        LineFormat::Chat => {
            // Like OpenAI's checks, only the messages are inspected; other top-level keys
            // (tools, functions, parallel_tool_calls, ...) are passed through.
            let msgs = obj.get("messages").and_then(Value::as_array);
            let Some(msgs) = msgs else {
                return Some("is missing the messages list");
            };
            check_messages(msgs, true)
        }
        LineFormat::Completion => {
            let ok = obj.get("prompt").is_some_and(Value::is_string)
                && obj.get("completion").is_some_and(Value::is_string);
            if !ok {
                return Some("needs string prompt and completion fields");
            }
            None
        }
        LineFormat::Preference => {
            let input = obj.get("input").and_then(Value::as_object);
            let Some(input) = input else {
                return Some("is missing the input object");
            };
            let Some(msgs) = input.get("messages").and_then(Value::as_array) else {
                return Some("is missing input.messages");
            };
            if let Some(r) = check_messages(msgs, false) {
                return Some(r);
            }
            for (new, legacy) in [
                ("preferred_output", "preferred_completion"),
                ("non_preferred_output", "non_preferred_completion"),
            ] {
                let out = obj
                    .get(new)
                    .or_else(|| obj.get(legacy))
                    .and_then(Value::as_array);
                let Some(out) = out else {
                    return Some("is missing a preferred or non-preferred output");
                };
                if out.is_empty()
                    || out
                        .iter()
                        .any(|m| m.get("role").and_then(Value::as_str) != Some("assistant"))
                {
                    return Some(
                        "has a preferred or non-preferred output that is not an assistant message",
                    );
                }
            }
            None
        }
        LineFormat::Reinforcement => {
            let Some(msgs) = obj.get("messages").and_then(Value::as_array) else {
                return Some("is missing the messages list");
            };
            check_messages(msgs, false)
        }
    }
}

fn check_messages(msgs: &[Value], need_assistant: bool) -> Option<&'static str> {
    if msgs.is_empty() {
        return Some("has an empty messages list");
    }
    let mut has_assistant = false;
    for m in msgs {
        let Some(m) = m.as_object() else {
            return Some("has a message that is not an object");
        };
        if m.keys().any(|k| {
            !matches!(
                k.as_str(),
                "role"
                    | "content"
                    | "name"
                    | "weight"
                    | "function_call"
                    | "tool_calls"
                    | "tool_call_id"
                    | "refusal"
            )
        }) {
            return Some("has a message with an unrecognized key");
        }
        let role = m.get("role").and_then(Value::as_str);
        let Some(role) = role else {
            return Some("has a message without a role");
        };
        if !matches!(
            role,
            "system" | "developer" | "user" | "assistant" | "tool" | "function"
        ) {
            return Some("has a message with an invalid role");
        }
        let calls = m.contains_key("tool_calls") || m.contains_key("function_call");
        match m.get("content") {
            Some(Value::String(_)) => {}
            Some(Value::Array(parts)) => {
                if parts
                    .iter()
                    .any(|p| p.get("type").and_then(Value::as_str).is_none())
                {
                    return Some("has a content part without a type");
                }
            }
            Some(Value::Null) | None if role == "assistant" && calls => {}
            _ => return Some("has a message with missing or invalid content"),
        }
        if let Some(w) = m.get("weight")
            && (role != "assistant" || !(w == 0 || w == 1))
        {
            return Some("has an invalid weight (only 0 or 1, on assistant messages)");
        }
        if role == "assistant" {
            has_assistant = true;
        }
    }
    if need_assistant && !has_assistant {
        return Some("has no assistant message");
    }
    None
}

/// First line (1-based) that is not valid JSON, ignoring blank lines: Azure's import check, which
/// puts a file in status `error` before any job sees it.
pub fn first_invalid_json_line<R: BufRead>(mut reader: R) -> io::Result<Option<u64>> {
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        line_no += 1;
        let t = trim_ascii(&line);
        if !t.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(t).is_err() {
            return Ok(Some(line_no));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_line(i: usize) -> String {
        format!(
            r#"{{"messages":[{{"role":"user","content":"q{i}"}},{{"role":"assistant","content":"a{i}"}}]}}"#
        )
    }

    #[test]
    fn ten_good_chat_examples_pass() {
        let data: String = (0..10).map(|i| chat_line(i) + "\n").collect();
        let a = analyze(data.as_bytes(), LineFormat::Chat, MIN_EXAMPLES).unwrap();
        assert_eq!(a.examples, 10);
        assert_eq!(a.failure, None);
        assert_eq!(a.bytes, data.len() as u64);
    }

    #[test]
    fn five_examples_fail_with_n_examples() {
        let data: String = (0..5).map(|i| chat_line(i) + "\n").collect();
        let a = analyze(data.as_bytes(), LineFormat::Chat, MIN_EXAMPLES).unwrap();
        let f = a.failure.unwrap();
        assert_eq!(f.code, "invalid_n_examples");
        assert!(f.message.contains("5 example(s)"));
    }

    #[test]
    fn bad_lines_name_line_numbers_not_content() {
        let mut lines: Vec<String> = (0..12).map(chat_line).collect();
        lines[2] = "{not json secret@example.com".into();
        lines[6] =
            r#"{"messages":[{"role":"user","content":"only user secret@example.com"}]}"#.into();
        let data = lines.join("\n");
        let f = analyze(data.as_bytes(), LineFormat::Chat, MIN_EXAMPLES)
            .unwrap()
            .failure
            .unwrap();
        assert_eq!(f.code, "invalid_file_format");
        assert!(
            f.message.contains("Line 3:") && f.message.contains("Line 7:"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("secret"));
    }

    #[test]
    fn preference_and_completion_shapes() {
        let pref = r#"{"input":{"messages":[{"role":"user","content":"hi"}]},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"b"}]}"#;
        let data = format!("{pref}\n").repeat(10);
        assert_eq!(
            analyze(data.as_bytes(), LineFormat::Preference, 10)
                .unwrap()
                .failure,
            None
        );
        let chat_as_pref = (0..10).map(|i| chat_line(i) + "\n").collect::<String>();
        assert!(
            analyze(chat_as_pref.as_bytes(), LineFormat::Preference, 10)
                .unwrap()
                .failure
                .is_some()
        );
        let comp = r#"{"prompt":"p","completion":"c"}"#.to_owned() + "\n";
        assert_eq!(
            analyze(comp.repeat(10).as_bytes(), LineFormat::Completion, 10)
                .unwrap()
                .failure,
            None
        );
    }

    #[test]
    fn assistant_tool_call_without_content_is_valid() {
        let line = r#"{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"},{"role":"assistant","content":"done","weight":1}],"tools":[]}"#;
        let data = format!("{line}\n").repeat(10);
        assert_eq!(
            analyze(data.as_bytes(), LineFormat::Chat, 10)
                .unwrap()
                .failure,
            None
        );
    }
}
