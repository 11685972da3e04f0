//! OpenAI fine-tuning format rules for Chat, Completion, Preference (DPO) and Reinforcement
//! examples.
//!
//! Shapes follow the per-line training schemas `FineTuneChatRequestInput`,
//! `FineTuneCompletionRequestInput`, `FineTunePreferenceRequestInput` and
//! `FineTuneReinforcementRequestInput` of OpenAI's OpenAPI spec (2025-04-29), with the current DPO
//! key names `preferred_output` / `non_preferred_output` from OpenAI's preference fine-tuning
//! guide, and Azure OpenAI's reinforcement rule that the last message is the user's. Every problem
//! is a stable code; content is never echoed.

use serde_json::{Map, Value};

use tunegate_api::DatasetFormat;

/// A stable format error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FormatCode {
    /// Read errors from the JSONL reader.
    BlankLine,
    InvalidUtf8,
    LineTooLong,
    /// The line is not JSON.
    InvalidJson,
    /// An object repeats a key (parsers disagree on which copy counts).
    DuplicateKey,
    /// The example is not a JSON object.
    DataType,
    /// A key that the format does not define.
    UnrecognizedKey,
    MissingMessagesList,
    /// A message is not a JSON object.
    MessageDataType,
    MissingRole,
    UnrecognizedRole,
    MissingContent,
    InvalidContent,
    InvalidName,
    ExampleMissingAssistantMessage,
    InvalidWeight,
    InvalidToolCalls,
    InvalidFunctionCall,
    MissingToolCallId,
    InvalidTools,
    InvalidParallelToolCalls,
    InvalidFunctions,
    MissingInput,
    MissingPreferredOutput,
    MissingNonPreferredOutput,
    InvalidPreferredOutput,
    InvalidNonPreferredOutput,
    MissingPrompt,
    MissingCompletion,
    /// Reinforcement: the prompt's last message is not the user's (the model answers it).
    LastMessageNotUser,
    TooManyTokens,
    TooFewExamples,
}

impl FormatCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BlankLine => "blank_line",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::LineTooLong => "line_too_long",
            Self::InvalidJson => "invalid_json",
            Self::DuplicateKey => "duplicate_key",
            Self::DataType => "data_type",
            Self::UnrecognizedKey => "unrecognized_key",
            Self::MissingMessagesList => "missing_messages_list",
            Self::MessageDataType => "message_data_type",
            Self::MissingRole => "missing_role",
            Self::UnrecognizedRole => "unrecognized_role",
            Self::MissingContent => "missing_content",
            Self::InvalidContent => "invalid_content",
            Self::InvalidName => "invalid_name",
            Self::ExampleMissingAssistantMessage => "example_missing_assistant_message",
            Self::InvalidWeight => "invalid_weight",
            Self::InvalidToolCalls => "invalid_tool_calls",
            Self::InvalidFunctionCall => "invalid_function_call",
            Self::MissingToolCallId => "missing_tool_call_id",
            Self::InvalidTools => "invalid_tools",
            Self::InvalidParallelToolCalls => "invalid_parallel_tool_calls",
            Self::InvalidFunctions => "invalid_functions",
            Self::MissingInput => "missing_input",
            Self::MissingPreferredOutput => "missing_preferred_output",
            Self::MissingNonPreferredOutput => "missing_non_preferred_output",
            Self::InvalidPreferredOutput => "invalid_preferred_output",
            Self::InvalidNonPreferredOutput => "invalid_non_preferred_output",
            Self::MissingPrompt => "missing_prompt",
            Self::MissingCompletion => "missing_completion",
            Self::LastMessageNotUser => "last_message_not_user",
            Self::TooManyTokens => "too_many_tokens",
            Self::TooFewExamples => "too_few_examples",
        }
    }

    /// The code of a JSONL read error.
    pub fn from_read_error(err: &super::jsonl::ReadError) -> Option<Self> {
        use super::jsonl::ReadErrorKind;
        match err.kind {
            ReadErrorKind::BlankLine => Some(Self::BlankLine),
            ReadErrorKind::InvalidUtf8 => Some(Self::InvalidUtf8),
            ReadErrorKind::LineTooLong { .. } => Some(Self::LineTooLong),
            ReadErrorKind::Io(_) => None,
        }
    }
}

impl std::fmt::Display for FormatCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format error at a line. `line` 0 means the dataset as a whole (e.g. `too_few_examples`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {code}")]
pub struct LineError {
    pub line: u64,
    pub code: FormatCode,
}

/// Shape facts about a valid example, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExampleShape {
    /// Messages in the example (Chat: `messages`; Preference: input messages plus both outputs;
    /// Completion: 0).
    pub messages: u32,
    /// Assistant messages (including DPO outputs).
    pub assistant_messages: u32,
    /// Whether the example defines tools or functions.
    pub has_tools: bool,
}

type Check<T = ()> = Result<T, FormatCode>;

/// Parses one JSONL line and checks it against `format`. Returns the parsed value for reuse.
pub fn validate_line(
    format: DatasetFormat,
    text: &str,
) -> Result<(Value, ExampleShape), FormatCode> {
    let value: Value = serde_json::from_str(text).map_err(|_| FormatCode::InvalidJson)?;
    // serde_json keeps the last of two equal keys, other parsers the first: refuse the ambiguity
    // so that what is validated is what every consumer reads.
    if crate::redact::first_duplicate_key(text).is_some() {
        return Err(FormatCode::DuplicateKey);
    }
    let shape = validate_example(format, &value)?;
    Ok((value, shape))
}

/// Checks one parsed example against `format`.
pub fn validate_example(format: DatasetFormat, value: &Value) -> Check<ExampleShape> {
    let obj = value.as_object().ok_or(FormatCode::DataType)?;
    match format {
        DatasetFormat::Chat => validate_chat(obj),
        DatasetFormat::Completion => validate_completion(obj),
        DatasetFormat::Preference => validate_preference(obj),
        DatasetFormat::Reinforcement => validate_reinforcement(obj),
    }
}

fn validate_chat(obj: &Map<String, Value>) -> Check<ExampleShape> {
    only_keys(
        obj,
        &["messages", "tools", "parallel_tool_calls", "functions"],
    )?;
    let messages = non_empty_array(obj.get("messages")).ok_or(FormatCode::MissingMessagesList)?;
    let mut shape = ExampleShape::default();
    check_messages(messages, true, &mut shape)?;
    if shape.assistant_messages == 0 {
        return Err(FormatCode::ExampleMissingAssistantMessage);
    }
    check_tool_settings(obj, &mut shape)?;
    Ok(shape)
}

fn validate_completion(obj: &Map<String, Value>) -> Check<ExampleShape> {
    only_keys(obj, &["prompt", "completion"])?;
    if !obj.get("prompt").is_some_and(Value::is_string) {
        return Err(FormatCode::MissingPrompt);
    }
    if !obj.get("completion").is_some_and(Value::is_string) {
        return Err(FormatCode::MissingCompletion);
    }
    Ok(ExampleShape::default())
}

fn validate_preference(obj: &Map<String, Value>) -> Check<ExampleShape> {
    only_keys(obj, &["input", "preferred_output", "non_preferred_output"])?;
    let input = obj
        .get("input")
        .and_then(Value::as_object)
        .ok_or(FormatCode::MissingInput)?;
    only_keys(
        input,
        &["messages", "tools", "parallel_tool_calls", "functions"],
    )?;
    let messages = non_empty_array(input.get("messages")).ok_or(FormatCode::MissingMessagesList)?;
    let mut shape = ExampleShape::default();
    check_messages(messages, true, &mut shape)?;
    check_tool_settings(input, &mut shape)?;
    check_preference_output(
        obj.get("preferred_output"),
        FormatCode::MissingPreferredOutput,
        FormatCode::InvalidPreferredOutput,
    )?;
    check_preference_output(
        obj.get("non_preferred_output"),
        FormatCode::MissingNonPreferredOutput,
        FormatCode::InvalidNonPreferredOutput,
    )?;
    shape.messages += 2;
    shape.assistant_messages += 2;
    Ok(shape)
}

/// A reinforcement prompt. `messages` and the tool settings are reserved; every other top-level
/// key is data the grader reads (`{{item.<key>}}`), so any key is allowed.
fn validate_reinforcement(obj: &Map<String, Value>) -> Check<ExampleShape> {
    let messages = non_empty_array(obj.get("messages")).ok_or(FormatCode::MissingMessagesList)?;
    let mut shape = ExampleShape::default();
    check_messages(messages, false, &mut shape)?;
    let last_role = messages
        .last()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str);
    if last_role != Some("user") {
        return Err(FormatCode::LastMessageNotUser);
    }
    check_tool_settings(obj, &mut shape)?;
    Ok(shape)
}

/// A DPO output: a list of exactly one assistant message, without `weight`.
fn check_preference_output(
    value: Option<&Value>,
    missing: FormatCode,
    invalid: FormatCode,
) -> Check {
    let list = non_empty_array(value).ok_or(missing)?;
    if list.len() != 1 {
        return Err(invalid);
    }
    let msg = list[0].as_object().ok_or(invalid)?;
    if msg.get("role").and_then(Value::as_str) != Some("assistant") || msg.contains_key("weight") {
        return Err(invalid);
    }
    let mut shape = ExampleShape::default();
    check_message(msg, false, &mut shape)
}

fn check_messages(messages: &[Value], allow_weight: bool, shape: &mut ExampleShape) -> Check {
    for message in messages {
        let msg = message.as_object().ok_or(FormatCode::MessageDataType)?;
        check_message(msg, allow_weight, shape)?;
    }
    Ok(())
}

fn check_message(msg: &Map<String, Value>, allow_weight: bool, shape: &mut ExampleShape) -> Check {
    let role = match msg.get("role") {
        None | Some(Value::Null) => return Err(FormatCode::MissingRole),
        Some(Value::String(role)) => role.as_str(),
        Some(_) => return Err(FormatCode::UnrecognizedRole),
    };
    shape.messages += 1;
    match role {
        "system" | "developer" => {
            only_keys(msg, &["role", "content", "name"])?;
            check_name(msg, false)?;
            check_text_content(msg.get("content"), TEXT_PARTS)?;
        }
        "user" => {
            only_keys(msg, &["role", "content", "name"])?;
            check_name(msg, false)?;
            check_text_content(msg.get("content"), USER_PARTS)?;
        }
        "tool" => {
            only_keys(msg, &["role", "content", "tool_call_id"])?;
            if !msg.get("tool_call_id").is_some_and(Value::is_string) {
                return Err(FormatCode::MissingToolCallId);
            }
            check_text_content(msg.get("content"), TEXT_PARTS)?;
        }
        "function" => {
            only_keys(msg, &["role", "content", "name"])?;
            check_name(msg, true)?;
            match msg.get("content") {
                None => return Err(FormatCode::MissingContent),
                Some(Value::String(_) | Value::Null) => {}
                Some(_) => return Err(FormatCode::InvalidContent),
            }
        }
        "assistant" => {
            shape.assistant_messages += 1;
            only_keys(
                msg,
                &[
                    "role",
                    "content",
                    "name",
                    "weight",
                    "tool_calls",
                    "function_call",
                    "refusal",
                ],
            )?;
            check_name(msg, false)?;
            check_assistant(msg, allow_weight)?;
        }
        _ => return Err(FormatCode::UnrecognizedRole),
    }
    Ok(())
}

fn check_assistant(msg: &Map<String, Value>, allow_weight: bool) -> Check {
    if let Some(weight) = msg.get("weight") {
        let ok = allow_weight && matches!(weight.as_u64(), Some(0 | 1));
        if !ok {
            return Err(FormatCode::InvalidWeight);
        }
    }
    let has_tool_calls = match msg.get("tool_calls") {
        None | Some(Value::Null) => false,
        Some(calls) => {
            check_tool_calls(calls)?;
            true
        }
    };
    let has_function_call = match msg.get("function_call") {
        None | Some(Value::Null) => false,
        Some(call) => {
            check_function_call(call)?;
            true
        }
    };
    if let Some(refusal) = msg.get("refusal")
        && !(refusal.is_string() || refusal.is_null())
    {
        return Err(FormatCode::InvalidContent);
    }
    match msg.get("content") {
        None | Some(Value::Null) if has_tool_calls || has_function_call => Ok(()),
        content => check_text_content(content, ASSISTANT_PARTS),
    }
}

fn check_tool_calls(calls: &Value) -> Check {
    let calls = non_empty_array(Some(calls)).ok_or(FormatCode::InvalidToolCalls)?;
    for call in calls {
        let call = call.as_object().ok_or(FormatCode::InvalidToolCalls)?;
        let shape_ok = call
            .keys()
            .all(|k| matches!(k.as_str(), "id" | "type" | "function"))
            && call.get("id").is_some_and(Value::is_string)
            && call.get("type").and_then(Value::as_str) == Some("function");
        if !shape_ok {
            return Err(FormatCode::InvalidToolCalls);
        }
        let function = call.get("function").ok_or(FormatCode::InvalidToolCalls)?;
        check_function_call(function).map_err(|_| FormatCode::InvalidToolCalls)?;
    }
    Ok(())
}

/// `{name: non-empty string, arguments: string}`.
fn check_function_call(call: &Value) -> Check {
    let call = call.as_object().ok_or(FormatCode::InvalidFunctionCall)?;
    let ok = call
        .keys()
        .all(|k| matches!(k.as_str(), "name" | "arguments"))
        && call
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        && call.get("arguments").is_some_and(Value::is_string);
    if ok {
        Ok(())
    } else {
        Err(FormatCode::InvalidFunctionCall)
    }
}

fn check_tool_settings(obj: &Map<String, Value>, shape: &mut ExampleShape) -> Check {
    if let Some(tools) = obj.get("tools") {
        let tools = tools.as_array().ok_or(FormatCode::InvalidTools)?;
        for tool in tools {
            let tool = tool.as_object().ok_or(FormatCode::InvalidTools)?;
            let ok = tool
                .keys()
                .all(|k| matches!(k.as_str(), "type" | "function"))
                && tool.get("type").and_then(Value::as_str) == Some("function")
                && tool.get("function").is_some_and(is_function_definition);
            if !ok {
                return Err(FormatCode::InvalidTools);
            }
        }
        shape.has_tools |= !tools.is_empty();
    }
    if let Some(functions) = obj.get("functions") {
        let functions = non_empty_array(Some(functions)).ok_or(FormatCode::InvalidFunctions)?;
        // The spec caps legacy `functions` at 128 entries.
        if functions.len() > 128 || !functions.iter().all(is_function_definition) {
            return Err(FormatCode::InvalidFunctions);
        }
        shape.has_tools = true;
    }
    if let Some(parallel) = obj.get("parallel_tool_calls")
        && !parallel.is_boolean()
    {
        return Err(FormatCode::InvalidParallelToolCalls);
    }
    Ok(())
}

/// `FunctionObject`: `name` required; optional `description`, `parameters` (object), `strict`.
fn is_function_definition(value: &Value) -> bool {
    let Some(f) = value.as_object() else {
        return false;
    };
    f.keys()
        .all(|k| matches!(k.as_str(), "name" | "description" | "parameters" | "strict"))
        && f.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        && f.get("description").is_none_or(Value::is_string)
        && f.get("parameters").is_none_or(Value::is_object)
        && f.get("strict")
            .is_none_or(|s| s.is_boolean() || s.is_null())
}

fn check_name(msg: &Map<String, Value>, required: bool) -> Check {
    match msg.get("name") {
        None if required => Err(FormatCode::InvalidName),
        None => Ok(()),
        Some(Value::String(name)) if !name.is_empty() => Ok(()),
        Some(_) => Err(FormatCode::InvalidName),
    }
}

/// Content part types allowed per role (OpenAI's content part schemas).
const TEXT_PARTS: &[&str] = &["text"];
const USER_PARTS: &[&str] = &["text", "image_url"];
const ASSISTANT_PARTS: &[&str] = &["text", "refusal"];

/// Content is a string or a non-empty array of typed parts.
fn check_text_content(content: Option<&Value>, part_types: &[&str]) -> Check {
    match content {
        None | Some(Value::Null) => Err(FormatCode::MissingContent),
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(parts)) if !parts.is_empty() => {
            if parts.iter().all(|p| is_content_part(p, part_types)) {
                Ok(())
            } else {
                Err(FormatCode::InvalidContent)
            }
        }
        Some(_) => Err(FormatCode::InvalidContent),
    }
}

fn is_content_part(part: &Value, part_types: &[&str]) -> bool {
    let Some(part) = part.as_object() else {
        return false;
    };
    let Some(kind) = part.get("type").and_then(Value::as_str) else {
        return false;
    };
    if !part_types.contains(&kind) {
        return false;
    }
    match kind {
        "text" => part.len() == 2 && part.get("text").is_some_and(Value::is_string),
        "refusal" => part.len() == 2 && part.get("refusal").is_some_and(Value::is_string),
        "image_url" => {
            part.len() == 2
                && part
                    .get("image_url")
                    .and_then(Value::as_object)
                    .is_some_and(|img| {
                        img.keys().all(|k| k == "url" || k == "detail")
                            && img.get("url").is_some_and(Value::is_string)
                            && img
                                .get("detail")
                                .is_none_or(|d| matches!(d.as_str(), Some("auto" | "low" | "high")))
                    })
        }
        _ => false,
    }
}

fn only_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Check {
    if obj.keys().all(|k| allowed.contains(&k.as_str())) {
        Ok(())
    } else {
        Err(FormatCode::UnrecognizedKey)
    }
}

fn non_empty_array(value: Option<&Value>) -> Option<&[Value]> {
    match value {
        Some(Value::Array(items)) if !items.is_empty() => Some(items),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DatasetFormat::{Chat, Completion, Preference, Reinforcement};

    fn code(format: DatasetFormat, line: &str) -> Option<&'static str> {
        validate_line(format, line).err().map(FormatCode::as_str)
    }

    const U: &str = r#"{"role":"user","content":"hi"}"#;
    const A: &str = r#"{"role":"assistant","content":"hello"}"#;

    fn chat(messages: &[&str]) -> String {
        format!(r#"{{"messages":[{}]}}"#, messages.join(","))
    }

    #[test]
    fn valid_chat_examples() {
        for line in [
            chat(&[U, A]),
            chat(&[r#"{"role":"system","content":"be brief","name":"sys"}"#, U, A]),
            chat(&[r#"{"role":"developer","content":[{"type":"text","text":"x"}]}"#, U, A]),
            chat(&[U, r#"{"role":"assistant","content":"a","weight":0}"#, U, r#"{"role":"assistant","content":"b","weight":1}"#]),
            chat(&[r#"{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]}"#, A]),
            chat(&[U, r#"{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}"#,
                r#"{"role":"tool","tool_call_id":"call_1","content":"42"}"#, A]),
            chat(&[U, r#"{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}}"#,
                r#"{"role":"function","name":"f","content":"ok"}"#, A]),
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}],"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":true}}],"parallel_tool_calls":false}"#.to_string(),
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}],"functions":[{"name":"f"}]}"#.to_string(),
        ] {
            assert_eq!(code(Chat, &line), None, "{line}");
        }
    }

    #[test]
    fn reinforcement_examples() {
        let valid = [
            // The grader's fields sit beside the prompt, with any name and any JSON type.
            format!(r#"{{"messages":[{U}],"reference_answer":"4"}}"#),
            format!(
                r#"{{"messages":[{{"role":"developer","content":"answer in JSON"}},{U}],"reference":{{"total":4,"items":["a"]}},"id":7}}"#
            ),
            // Few-shot turns before the final question, tools, and an image in the question.
            format!(
                r#"{{"messages":[{U},{A},{{"role":"user","content":[{{"type":"text","text":"and this?"}},{{"type":"image_url","image_url":{{"url":"https://x/y.png"}}}}]}}],"tools":[{{"type":"function","function":{{"name":"f"}}}}]}}"#
            ),
        ];
        for line in &valid {
            assert_eq!(code(Reinforcement, line), None, "{line}");
        }
        let cases: &[(String, &str)] = &[
            (
                r#"{"reference_answer":"4"}"#.into(),
                "missing_messages_list",
            ),
            (r#"{"messages":[]}"#.into(), "missing_messages_list"),
            // The model answers the last message, so it must be the user's.
            (chat(&[U, A]), "last_message_not_user"),
            (
                r#"{"messages":[{"role":"system","content":"s"}]}"#.to_string(),
                "last_message_not_user",
            ),
            // Prompts carry no training weights.
            (
                format!(r#"{{"messages":[{{"role":"assistant","content":"a","weight":1}},{U}]}}"#),
                "invalid_weight",
            ),
            (
                format!(r#"{{"messages":[{{"role":"critic","content":"x"}},{U}]}}"#),
                "unrecognized_role",
            ),
            (
                format!(r#"{{"messages":[{U}],"tools":"all"}}"#),
                "invalid_tools",
            ),
            (
                format!(r#"{{"messages":[{U}],"answer":1,"answer":2}}"#),
                "duplicate_key",
            ),
        ];
        for (line, want) in cases {
            assert_eq!(code(Reinforcement, line), Some(*want), "{line}");
        }
        // A reinforcement prompt is not a chat example (no assistant answer), and the reverse.
        assert_eq!(
            code(Chat, &valid[0]),
            Some("unrecognized_key"),
            "grader fields are not chat keys"
        );
    }

    #[test]
    fn chat_error_codes() {
        let cases: &[(String, &str)] = &[
            ("{not json".into(), "invalid_json"),
            (
                r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok"}],"messages":[{"role":"assistant","content":"x"}]}"#.into(),
                "duplicate_key",
            ),
            (
                r#"{"messages":[{"role":"user","role":"system","content":"hi"},{"role":"assistant","content":"ok"}]}"#.into(),
                "duplicate_key",
            ),
            ("[1,2]".into(), "data_type"),
            (r#"{"messages":[]}"#.into(), "missing_messages_list"),
            (r#"{"messages":"hi"}"#.into(), "missing_messages_list"),
            (r#"{"prompt":"x"}"#.into(), "unrecognized_key"),
            (
                format!(r#"{{"messages":[{U},{A}],"extra":1}}"#),
                "unrecognized_key",
            ),
            (
                chat(&[U, r#"{"role":"assistant","content":"x","mood":"happy"}"#]),
                "unrecognized_key",
            ),
            (chat(&["3", A]), "message_data_type"),
            (chat(&[r#"{"content":"hi"}"#, A]), "missing_role"),
            (
                chat(&[r#"{"role":"human","content":"hi"}"#, A]),
                "unrecognized_role",
            ),
            (
                chat(&[r#"{"role":7,"content":"hi"}"#, A]),
                "unrecognized_role",
            ),
            (chat(&[r#"{"role":"user"}"#, A]), "missing_content"),
            (chat(&[U, r#"{"role":"assistant"}"#]), "missing_content"),
            (
                chat(&[U, r#"{"role":"assistant","content":null}"#]),
                "missing_content",
            ),
            (
                chat(&[r#"{"role":"user","content":5}"#, A]),
                "invalid_content",
            ),
            (
                chat(&[r#"{"role":"user","content":[]}"#, A]),
                "invalid_content",
            ),
            (
                chat(&[
                    r#"{"role":"system","content":[{"type":"image_url","image_url":{"url":"u"}}]}"#,
                    U,
                    A,
                ]),
                "invalid_content",
            ),
            (
                chat(&[r#"{"role":"user","content":"x","name":3}"#, A]),
                "invalid_name",
            ),
            (
                chat(&[r#"{"role":"function","content":"x"}"#, A]),
                "invalid_name",
            ),
            (chat(&[U]), "example_missing_assistant_message"),
            (
                chat(&[r#"{"role":"system","content":"s"}"#, U]),
                "example_missing_assistant_message",
            ),
            (
                chat(&[U, r#"{"role":"assistant","content":"x","weight":2}"#]),
                "invalid_weight",
            ),
            (
                chat(&[U, r#"{"role":"assistant","content":"x","weight":0.5}"#]),
                "invalid_weight",
            ),
            (
                chat(&[U, r#"{"role":"assistant","content":"x","weight":"1"}"#]),
                "invalid_weight",
            ),
            (
                chat(&[r#"{"role":"user","content":"x","weight":1}"#, A]),
                "unrecognized_key",
            ),
            (
                chat(&[U, r#"{"role":"assistant","tool_calls":[]}"#]),
                "invalid_tool_calls",
            ),
            (
                chat(&[
                    U,
                    r#"{"role":"assistant","tool_calls":[{"id":"c","type":"code","function":{"name":"f","arguments":"{}"}}]}"#,
                ]),
                "invalid_tool_calls",
            ),
            (
                chat(&[
                    U,
                    r#"{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}"#,
                ]),
                "invalid_tool_calls",
            ),
            (
                chat(&[
                    U,
                    r#"{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"a":1}}}]}"#,
                ]),
                "invalid_tool_calls",
            ),
            (
                chat(&[
                    U,
                    r#"{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}"#,
                ]),
                "invalid_tool_calls",
            ),
            (
                chat(&[U, r#"{"role":"assistant","function_call":{"name":"f"}}"#]),
                "invalid_function_call",
            ),
            (
                chat(&[U, r#"{"role":"tool","content":"x"}"#, A]),
                "missing_tool_call_id",
            ),
            (
                format!(r#"{{"messages":[{U},{A}],"tools":{{}}}}"#),
                "invalid_tools",
            ),
            (
                format!(
                    r#"{{"messages":[{U},{A}],"tools":[{{"type":"function","function":{{"description":"no name"}}}}]}}"#
                ),
                "invalid_tools",
            ),
            (
                format!(r#"{{"messages":[{U},{A}],"parallel_tool_calls":"yes"}}"#),
                "invalid_parallel_tool_calls",
            ),
            (
                format!(r#"{{"messages":[{U},{A}],"functions":[]}}"#),
                "invalid_functions",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(code(Chat, line), Some(*expected), "{line}");
        }
    }

    #[test]
    fn completion_rules() {
        assert_eq!(
            code(Completion, r#"{"prompt":"2+2=","completion":" 4"}"#),
            None
        );
        assert_eq!(
            code(Completion, r#"{"completion":" 4"}"#),
            Some("missing_prompt")
        );
        assert_eq!(
            code(Completion, r#"{"prompt":1,"completion":" 4"}"#),
            Some("missing_prompt")
        );
        assert_eq!(
            code(Completion, r#"{"prompt":"x"}"#),
            Some("missing_completion")
        );
        assert_eq!(
            code(Completion, r#"{"prompt":"x","completion":"y","z":1}"#),
            Some("unrecognized_key")
        );
        assert_eq!(code(Completion, &chat(&[U, A])), Some("unrecognized_key"));
    }

    fn dpo(input: &str, preferred: &str, non_preferred: &str) -> String {
        format!(
            r#"{{"input":{input},"preferred_output":{preferred},"non_preferred_output":{non_preferred}}}"#
        )
    }

    #[test]
    fn preference_rules() {
        let input = format!(r#"{{"messages":[{U}]}}"#);
        let good = format!("[{A}]");
        assert_eq!(code(Preference, &dpo(&input, &good, &good)), None);
        let with_tools = format!(
            r#"{{"messages":[{U}],"tools":[{{"type":"function","function":{{"name":"f"}}}}],"parallel_tool_calls":true}}"#
        );
        assert_eq!(code(Preference, &dpo(&with_tools, &good, &good)), None);

        let cases: &[(String, &str)] = &[
            (
                format!(r#"{{"preferred_output":{good},"non_preferred_output":{good}}}"#),
                "missing_input",
            ),
            (dpo(&format!("[{U}]"), &good, &good), "missing_input"),
            (
                dpo(r#"{"messages":[]}"#, &good, &good),
                "missing_messages_list",
            ),
            (
                dpo(&format!(r#"{{"messages":[{U}],"x":1}}"#), &good, &good),
                "unrecognized_key",
            ),
            (
                format!(r#"{{"input":{input},"non_preferred_output":{good}}}"#),
                "missing_preferred_output",
            ),
            (
                format!(r#"{{"input":{input},"preferred_output":{good}}}"#),
                "missing_non_preferred_output",
            ),
            (dpo(&input, "[]", &good), "missing_preferred_output"),
            (
                dpo(&input, &format!("[{U}]"), &good),
                "invalid_preferred_output",
            ),
            (
                dpo(&input, &format!("[{A},{A}]"), &good),
                "invalid_preferred_output",
            ),
            (
                dpo(
                    &input,
                    r#"[{"role":"assistant","content":"x","weight":1}]"#,
                    &good,
                ),
                "invalid_preferred_output",
            ),
            (
                dpo(&input, &good, r#"[{"role":"assistant"}]"#),
                "missing_content",
            ),
            (
                dpo(&input, &good, &format!("[{U}]")),
                "invalid_non_preferred_output",
            ),
            (
                format!(
                    r#"{{"input":{input},"preferred_completion":{good},"non_preferred_completion":{good}}}"#
                ),
                "unrecognized_key",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(code(Preference, line), Some(*expected), "{line}");
        }
    }

    #[test]
    fn shape_counts_messages_and_tools() {
        let line = r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#;
        let (_, shape) = validate_line(Chat, line).unwrap();
        assert_eq!(
            shape,
            ExampleShape {
                messages: 2,
                assistant_messages: 1,
                has_tools: true
            }
        );
    }
}
