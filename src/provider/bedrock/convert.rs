//! Converting redacted OpenAI-format JSONL into the record format a Bedrock base model trains on,
//! one line at a time as the bytes stream. Pure: no I/O, unit-tested directly.
//!
//! Formats, from Amazon Bedrock's user guide ("Prepare data for fine-tuning text-to-text
//! models", docs.aws.amazon.com/bedrock/latest/userguide/preparing-text-data.html):
//! - [`BedrockFormat::Conversation`]: the Converse schema, `{"schemaVersion":
//!   "bedrock-conversation-2024", "system": [{"text"}], "messages": [{"role", "content":
//!   [{"text"}]}]}` (Amazon Nova and other Converse-schema models).
//! - [`BedrockFormat::ClaudeMessages`]: Claude 3 Haiku's `{"system": "...", "messages":
//!   [{"role", "content": "..."}]}`: first message `user`, last `assistant`, alternating, no
//!   other keys.
//! - [`BedrockFormat::PromptCompletion`]: `{"prompt", "completion"}` (non-conversational).
//!
//! Errors name the line and a stable code, never the content.

use serde_json::{Map, Value, json};

/// The record format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BedrockFormat {
    /// `bedrock-conversation-2024` (Converse schema).
    Conversation,
    /// Claude 3 Haiku's messages format.
    ClaudeMessages,
    /// `{"prompt","completion"}`.
    PromptCompletion,
}

/// The schema version string of the Converse training format.
pub const CONVERSATION_SCHEMA: &str = "bedrock-conversation-2024";

/// Longest line accepted (the same bound as the dataset reader's, so a line the pipeline let
/// through always fits).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Why a line cannot be converted. Carries the 1-based line number and a stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: cannot convert to the Bedrock format: {code}")]
pub struct ConvertError {
    /// 1-based line number in the redacted file.
    pub line: u64,
    /// A stable code (`invalid_json`, `unsupported_role`, `not_alternating`, ...).
    pub code: &'static str,
}

/// Streaming converter: feed bytes with [`push`](Self::push), get whole converted lines back;
/// [`finish`](Self::finish) flushes a last line without a newline. Holds at most one line.
#[derive(Debug)]
pub struct Converter {
    format: BedrockFormat,
    pending: Vec<u8>,
    line: u64,
    records: u64,
}

impl Converter {
    /// A converter writing `format`.
    pub fn new(format: BedrockFormat) -> Self {
        Self {
            format,
            pending: Vec::new(),
            line: 0,
            records: 0,
        }
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Converts every complete line in `chunk` (plus what was pending), appending the output
    /// to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), ConvertError> {
        let mut rest = chunk;
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(pos);
            rest = tail.get(1..).unwrap_or_default();
            if self.pending.is_empty() {
                self.convert_line(head, out)?;
            } else {
                self.grow(head)?;
                let line = std::mem::take(&mut self.pending);
                self.convert_line(&line, out)?;
            }
        }
        self.grow(rest)
    }

    /// Converts the last line if the input did not end with a newline.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), ConvertError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.pending);
        self.convert_line(&line, out)
    }

    fn grow(&mut self, bytes: &[u8]) -> Result<(), ConvertError> {
        if self.pending.len().saturating_add(bytes.len()) > MAX_LINE_BYTES {
            return Err(ConvertError {
                line: self.line.saturating_add(1),
                code: "line_too_long",
            });
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn convert_line(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Result<(), ConvertError> {
        self.line = self.line.saturating_add(1);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            // The pipeline never emits blank lines; skipping one here loses nothing.
            return Ok(());
        }
        let line = self.line;
        let err = |code| ConvertError { line, code };
        let value: Value = serde_json::from_slice(raw).map_err(|_| err("invalid_json"))?;
        let record = convert_example(self.format, &value).map_err(err)?;
        serde_json::to_writer(&mut *out, &record).map_err(|_| err("encode_failed"))?;
        out.push(b'\n');
        self.records = self.records.saturating_add(1);
        Ok(())
    }
}

/// Converts one OpenAI-format example (Chat or Completion) into `format`.
pub fn convert_example(format: BedrockFormat, value: &Value) -> Result<Value, &'static str> {
    let obj = value.as_object().ok_or("data_type")?;
    match format {
        BedrockFormat::PromptCompletion => prompt_completion(obj),
        BedrockFormat::Conversation | BedrockFormat::ClaudeMessages => {
            let chat = chat_turns(obj)?;
            Ok(match format {
                BedrockFormat::Conversation => conversation(chat),
                _ => claude(chat),
            })
        }
    }
}

fn prompt_completion(obj: &Map<String, Value>) -> Result<Value, &'static str> {
    if obj.contains_key("messages") {
        return Err("chat_example_for_completion_format");
    }
    let prompt = obj.get("prompt").and_then(Value::as_str);
    let completion = obj.get("completion").and_then(Value::as_str);
    match (prompt, completion) {
        (Some(p), Some(c)) => Ok(json!({"prompt": p, "completion": c})),
        (None, _) => Err("missing_prompt"),
        (_, None) => Err("missing_completion"),
    }
}

/// The system text blocks and the user/assistant turns of a chat example.
struct Chat {
    system: Vec<String>,
    turns: Vec<(&'static str, String)>,
}

fn chat_turns(obj: &Map<String, Value>) -> Result<Chat, &'static str> {
    if let Some(key) = obj.keys().find(|k| !matches!(k.as_str(), "messages")) {
        // `tools`, `functions`, `parallel_tool_calls` have no Bedrock training equivalent.
        return Err(if matches!(key.as_str(), "tools" | "functions") {
            "tools_unsupported"
        } else {
            "unrecognized_key"
        });
    }
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("missing_messages_list")?;
    let mut chat = Chat {
        system: Vec::new(),
        turns: Vec::new(),
    };
    for m in messages {
        let m = m.as_object().ok_or("message_data_type")?;
        if m.contains_key("tool_calls") || m.contains_key("function_call") {
            return Err("tool_calls_unsupported");
        }
        // OpenAI's `weight: 0` excludes a turn from training; Bedrock has no such switch, so
        // converting it would train on a turn the author excluded.
        match m.get("weight") {
            None => {}
            Some(w) if w.as_u64() == Some(1) => {}
            Some(_) => return Err("weight_unsupported"),
        }
        let text = content_text(m.get("content"))?;
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                if !chat.turns.is_empty() {
                    return Err("system_after_turns");
                }
                chat.system.push(text);
            }
            Some("user") => chat.turns.push(("user", text)),
            Some("assistant") => chat.turns.push(("assistant", text)),
            Some("tool" | "function") => return Err("tool_messages_unsupported"),
            Some(_) => return Err("unsupported_role"),
            None => return Err("missing_role"),
        }
    }
    if chat.turns.len() < 2 {
        return Err("too_few_turns");
    }
    let alternating = chat
        .turns
        .iter()
        .enumerate()
        .all(|(i, (role, _))| *role == if i % 2 == 0 { "user" } else { "assistant" });
    if !alternating {
        return Err("not_alternating");
    }
    if chat.turns.last().map(|(r, _)| *r) != Some("assistant") {
        return Err("last_turn_not_assistant");
    }
    Ok(chat)
}

/// Text of a message's `content`: a string, or an array of `{"type":"text","text"}` parts
/// (joined without separator, as OpenAI concatenates them).
fn content_text(content: Option<&Value>) -> Result<String, &'static str> {
    match content {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for p in parts {
                match (
                    p.get("type").and_then(Value::as_str),
                    p.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    _ => return Err("non_text_content_unsupported"),
                }
            }
            if text.is_empty() {
                Err("missing_content")
            } else {
                Ok(text)
            }
        }
        _ => Err("missing_content"),
    }
}

fn conversation(chat: Chat) -> Value {
    let mut record = Map::new();
    record.insert("schemaVersion".into(), json!(CONVERSATION_SCHEMA));
    if !chat.system.is_empty() {
        let blocks: Vec<Value> = chat
            .system
            .into_iter()
            .map(|t| json!({"text": t}))
            .collect();
        record.insert("system".into(), Value::Array(blocks));
    }
    let messages: Vec<Value> = chat
        .turns
        .into_iter()
        .map(|(role, text)| json!({"role": role, "content": [{"text": text}]}))
        .collect();
    record.insert("messages".into(), Value::Array(messages));
    Value::Object(record)
}

fn claude(chat: Chat) -> Value {
    let mut record = Map::new();
    if !chat.system.is_empty() {
        record.insert("system".into(), json!(chat.system.join("\n")));
    }
    let messages: Vec<Value> = chat
        .turns
        .into_iter()
        .map(|(role, text)| json!({"role": role, "content": text}))
        .collect();
    record.insert("messages".into(), Value::Array(messages));
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert_all(
        format: BedrockFormat,
        input: &[u8],
        chunk: usize,
    ) -> Result<String, ConvertError> {
        let mut c = Converter::new(format);
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            c.push(piece, &mut out)?;
        }
        c.finish(&mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    const CHAT: &str = concat!(
        r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi [EMAIL_ADDRESS]"},{"role":"assistant","content":[{"type":"text","text":"Hello"},{"type":"text","text":"!"}]}]}"#,
        "\n",
        r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":1},{"role":"user","content":"c"},{"role":"assistant","content":"d"}]}"#,
        "\n"
    );

    #[test]
    fn chat_to_conversation_schema() {
        let out = convert_all(BedrockFormat::Conversation, CHAT.as_bytes(), 7).unwrap();
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            json!({
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "Be brief."}],
                "messages": [
                    {"role": "user", "content": [{"text": "Hi [EMAIL_ADDRESS]"}]},
                    {"role": "assistant", "content": [{"text": "Hello!"}]}
                ]
            })
        );
        assert!(lines[1].get("system").is_none());
        assert_eq!(lines[1]["messages"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let whole = convert_all(BedrockFormat::Conversation, CHAT.as_bytes(), usize::MAX).unwrap();
        for chunk in [1, 2, 3, 64, 1000] {
            assert_eq!(
                convert_all(BedrockFormat::Conversation, CHAT.as_bytes(), chunk).unwrap(),
                whole
            );
        }
        // No final newline: the last line is still converted.
        let trimmed = CHAT.trim_end();
        assert_eq!(
            convert_all(BedrockFormat::Conversation, trimmed.as_bytes(), 5).unwrap(),
            whole
        );
    }

    #[test]
    fn chat_to_claude_messages() {
        let out = convert_all(BedrockFormat::ClaudeMessages, CHAT.as_bytes(), 9).unwrap();
        let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(
            first,
            json!({"system": "Be brief.", "messages": [
                {"role": "user", "content": "Hi [EMAIL_ADDRESS]"},
                {"role": "assistant", "content": "Hello!"}
            ]})
        );
    }

    #[test]
    fn completion_passthrough_drops_nothing_it_needs() {
        let out = convert_all(
            BedrockFormat::PromptCompletion,
            br#"{"prompt":"p","completion":"c"}"#,
            3,
        )
        .unwrap();
        assert_eq!(out, "{\"completion\":\"c\",\"prompt\":\"p\"}\n");
    }

    #[test]
    fn unconvertible_examples_name_the_line_and_a_code() {
        let cases: &[(&str, &str)] = &[
            ("not json", "invalid_json"),
            (r#"[1]"#, "data_type"),
            (
                r#"{"messages":[{"role":"user","content":"a"}]}"#,
                "too_few_turns",
            ),
            (
                r#"{"messages":[{"role":"assistant","content":"a"},{"role":"user","content":"b"}]}"#,
                "not_alternating",
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#,
                "last_turn_not_assistant",
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":0}]}"#,
                "weight_unsupported",
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[]}]}"#,
                "tool_calls_unsupported",
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"},{"role":"tool","content":"b"}]}"#,
                "tool_messages_unsupported",
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]},{"role":"assistant","content":"b"}]}"#,
                "non_text_content_unsupported",
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"tools":[]}"#,
                "tools_unsupported",
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"},{"role":"system","content":"s"},{"role":"assistant","content":"b"}]}"#,
                "system_after_turns",
            ),
        ];
        for (line, code) in cases {
            let input = format!(
                "{}\n{line}\n",
                r#"{"messages":[{"role":"user","content":"ok"},{"role":"assistant","content":"ok"}]}"#
            );
            let err = convert_all(BedrockFormat::Conversation, input.as_bytes(), 4).unwrap_err();
            assert_eq!((err.line, err.code), (2, *code), "{line}");
            assert!(!err.to_string().contains("ok"), "no content in errors");
        }
        let err =
            convert_all(BedrockFormat::PromptCompletion, br#"{"messages":[]}"#, 4).unwrap_err();
        assert_eq!(err.code, "chat_example_for_completion_format");
    }

    #[test]
    fn a_line_longer_than_the_bound_is_refused_not_buffered() {
        let mut c = Converter::new(BedrockFormat::Conversation);
        let mut out = Vec::new();
        let chunk = vec![b'a'; 1024 * 1024];
        let mut result = Ok(());
        for _ in 0..=MAX_LINE_BYTES / chunk.len() {
            result = c.push(&chunk, &mut out);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err().code, "line_too_long");
        assert!(c.pending.len() <= MAX_LINE_BYTES);
    }
}
