//! The format rules of `validate.rs`, applied to the line's text in place instead of a
//! `serde_json::Value` (see `rawjson`): the same codes in the same order of precedence, with
//! memory that does not grow with the number of objects in the line. `validate_line` stays as the
//! reference; a differential test keeps the two in agreement.

use super::rawjson::{Kind, Raw, has_duplicate_key, syntax_ok};
use super::validate::{ExampleShape, FormatCode};
use tunegate_api::DatasetFormat;

type Check<T = ()> = Result<T, FormatCode>;

/// Keys any rule looks at. Every other key is "unknown".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    Messages,
    Tools,
    ParallelToolCalls,
    Functions,
    Prompt,
    Completion,
    Input,
    PreferredOutput,
    NonPreferredOutput,
    Role,
    Content,
    Name,
    ToolCallId,
    Weight,
    ToolCalls,
    FunctionCall,
    Refusal,
    Id,
    Type,
    Function,
    Arguments,
    Description,
    Parameters,
    Strict,
    Text,
    ImageUrl,
    Url,
    Detail,
}

const KEYS: [(&str, K); 28] = [
    ("messages", K::Messages),
    ("tools", K::Tools),
    ("parallel_tool_calls", K::ParallelToolCalls),
    ("functions", K::Functions),
    ("prompt", K::Prompt),
    ("completion", K::Completion),
    ("input", K::Input),
    ("preferred_output", K::PreferredOutput),
    ("non_preferred_output", K::NonPreferredOutput),
    ("role", K::Role),
    ("content", K::Content),
    ("name", K::Name),
    ("tool_call_id", K::ToolCallId),
    ("weight", K::Weight),
    ("tool_calls", K::ToolCalls),
    ("function_call", K::FunctionCall),
    ("refusal", K::Refusal),
    ("id", K::Id),
    ("type", K::Type),
    ("function", K::Function),
    ("arguments", K::Arguments),
    ("description", K::Description),
    ("parameters", K::Parameters),
    ("strict", K::Strict),
    ("text", K::Text),
    ("image_url", K::ImageUrl),
    ("url", K::Url),
    ("detail", K::Detail),
];

const ABSENT: usize = usize::MAX;

/// One object's members, by known key (keys are unique: duplicates were refused before).
struct View {
    at: [usize; KEYS.len()],
    len: usize,
    unknown: bool,
}

impl View {
    fn of(raw: &Raw<'_>, p: usize) -> Option<View> {
        if raw.kind(p) != Kind::Object {
            return None;
        }
        let mut view = View {
            at: [ABSENT; KEYS.len()],
            len: 0,
            unknown: false,
        };
        for (k, v) in raw.members(p) {
            view.len += 1;
            let key = raw.str(k);
            match key
                .as_deref()
                .and_then(|key| KEYS.iter().position(|(name, _)| *name == key))
            {
                Some(i) => view.at[i] = v,
                None => view.unknown = true,
            }
        }
        Some(view)
    }

    fn get(&self, k: K) -> Option<usize> {
        Some(self.at[k as usize]).filter(|&p| p != ABSENT)
    }

    fn has(&self, k: K) -> bool {
        self.get(k).is_some()
    }

    /// Every key is one of `allowed`.
    fn only(&self, allowed: &[K]) -> bool {
        !self.unknown
            && KEYS
                .iter()
                .all(|(_, k)| !self.has(*k) || allowed.contains(k))
    }
}

/// Parses one JSONL line and checks it against `format`, like `validate::validate_line` (same
/// codes, same precedence) without building a tree.
pub fn validate_line_raw(format: DatasetFormat, text: &str) -> Result<ExampleShape, FormatCode> {
    if !syntax_ok(text) {
        return Err(FormatCode::InvalidJson);
    }
    if has_duplicate_key(text) {
        return Err(FormatCode::DuplicateKey);
    }
    let r = Rules {
        raw: Raw::new(text),
    };
    let obj = View::of(&r.raw, r.raw.root()).ok_or(FormatCode::DataType)?;
    match format {
        DatasetFormat::Chat => r.chat(&obj),
        DatasetFormat::Completion => r.completion(&obj),
        DatasetFormat::Preference => r.preference(&obj),
        DatasetFormat::Reinforcement => r.reinforcement(&obj),
    }
}

struct Rules<'a> {
    raw: Raw<'a>,
}

const CHAT_KEYS: &[K] = &[K::Messages, K::Tools, K::ParallelToolCalls, K::Functions];
const TEXT_PARTS: &[&str] = &["text"];
const USER_PARTS: &[&str] = &["text", "image_url"];
const ASSISTANT_PARTS: &[&str] = &["text", "refusal"];

impl Rules<'_> {
    fn kind(&self, p: Option<usize>) -> Option<Kind> {
        p.map(|p| self.raw.kind(p))
    }

    fn is(&self, p: Option<usize>, kind: Kind) -> bool {
        self.kind(p) == Some(kind)
    }

    fn str_is(&self, p: Option<usize>, want: &str) -> bool {
        p.is_some_and(|p| self.raw.str_is(p, want))
    }

    fn non_empty_string(&self, p: Option<usize>) -> bool {
        p.and_then(|p| self.raw.str(p))
            .is_some_and(|s| !s.is_empty())
    }

    /// The array at `p` when it has at least one element.
    fn non_empty_array(&self, p: Option<usize>) -> Option<usize> {
        p.filter(|&p| self.raw.kind(p) == Kind::Array && self.raw.items(p).next().is_some())
    }

    fn chat(&self, obj: &View) -> Check<ExampleShape> {
        if !obj.only(CHAT_KEYS) {
            return Err(FormatCode::UnrecognizedKey);
        }
        let messages = self
            .non_empty_array(obj.get(K::Messages))
            .ok_or(FormatCode::MissingMessagesList)?;
        let mut shape = ExampleShape::default();
        self.messages(messages, true, &mut shape)?;
        if shape.assistant_messages == 0 {
            return Err(FormatCode::ExampleMissingAssistantMessage);
        }
        self.tool_settings(obj, &mut shape)?;
        Ok(shape)
    }

    fn completion(&self, obj: &View) -> Check<ExampleShape> {
        if !obj.only(&[K::Prompt, K::Completion]) {
            return Err(FormatCode::UnrecognizedKey);
        }
        if !self.is(obj.get(K::Prompt), Kind::String) {
            return Err(FormatCode::MissingPrompt);
        }
        if !self.is(obj.get(K::Completion), Kind::String) {
            return Err(FormatCode::MissingCompletion);
        }
        Ok(ExampleShape::default())
    }

    fn preference(&self, obj: &View) -> Check<ExampleShape> {
        if !obj.only(&[K::Input, K::PreferredOutput, K::NonPreferredOutput]) {
            return Err(FormatCode::UnrecognizedKey);
        }
        let input = obj
            .get(K::Input)
            .and_then(|p| View::of(&self.raw, p))
            .ok_or(FormatCode::MissingInput)?;
        if !input.only(CHAT_KEYS) {
            return Err(FormatCode::UnrecognizedKey);
        }
        let messages = self
            .non_empty_array(input.get(K::Messages))
            .ok_or(FormatCode::MissingMessagesList)?;
        let mut shape = ExampleShape::default();
        self.messages(messages, true, &mut shape)?;
        self.tool_settings(&input, &mut shape)?;
        self.preference_output(
            obj.get(K::PreferredOutput),
            FormatCode::MissingPreferredOutput,
            FormatCode::InvalidPreferredOutput,
        )?;
        self.preference_output(
            obj.get(K::NonPreferredOutput),
            FormatCode::MissingNonPreferredOutput,
            FormatCode::InvalidNonPreferredOutput,
        )?;
        shape.messages += 2;
        shape.assistant_messages += 2;
        Ok(shape)
    }

    /// See `validate::validate_reinforcement`: any top-level key besides the reserved ones.
    fn reinforcement(&self, obj: &View) -> Check<ExampleShape> {
        let messages = self
            .non_empty_array(obj.get(K::Messages))
            .ok_or(FormatCode::MissingMessagesList)?;
        let mut shape = ExampleShape::default();
        self.messages(messages, false, &mut shape)?;
        let last = self.raw.items(messages).last();
        let last_is_user = last
            .and_then(|m| View::of(&self.raw, m))
            .is_some_and(|m| self.str_is(m.get(K::Role), "user"));
        if !last_is_user {
            return Err(FormatCode::LastMessageNotUser);
        }
        self.tool_settings(obj, &mut shape)?;
        Ok(shape)
    }

    fn preference_output(
        &self,
        value: Option<usize>,
        missing: FormatCode,
        invalid: FormatCode,
    ) -> Check {
        let list = self.non_empty_array(value).ok_or(missing)?;
        let mut items = self.raw.items(list);
        let first = items.next().ok_or(missing)?;
        if items.next().is_some() {
            return Err(invalid);
        }
        let msg = View::of(&self.raw, first).ok_or(invalid)?;
        if !self.str_is(msg.get(K::Role), "assistant") || msg.has(K::Weight) {
            return Err(invalid);
        }
        let mut shape = ExampleShape::default();
        self.message(&msg, false, &mut shape)
    }

    fn messages(&self, messages: usize, allow_weight: bool, shape: &mut ExampleShape) -> Check {
        for item in self.raw.items(messages) {
            let msg = View::of(&self.raw, item).ok_or(FormatCode::MessageDataType)?;
            self.message(&msg, allow_weight, shape)?;
        }
        Ok(())
    }

    fn message(&self, msg: &View, allow_weight: bool, shape: &mut ExampleShape) -> Check {
        let role = match msg.get(K::Role) {
            None => return Err(FormatCode::MissingRole),
            Some(p) => match self.raw.kind(p) {
                Kind::Null => return Err(FormatCode::MissingRole),
                Kind::String => self.raw.str(p).unwrap_or_default(),
                _ => return Err(FormatCode::UnrecognizedRole),
            },
        };
        shape.messages += 1;
        let content = msg.get(K::Content);
        match &*role {
            "system" | "developer" => {
                self.only(msg, &[K::Role, K::Content, K::Name])?;
                self.name(msg, false)?;
                self.text_content(content, TEXT_PARTS)?;
            }
            "user" => {
                self.only(msg, &[K::Role, K::Content, K::Name])?;
                self.name(msg, false)?;
                self.text_content(content, USER_PARTS)?;
            }
            "tool" => {
                self.only(msg, &[K::Role, K::Content, K::ToolCallId])?;
                if !self.is(msg.get(K::ToolCallId), Kind::String) {
                    return Err(FormatCode::MissingToolCallId);
                }
                self.text_content(content, TEXT_PARTS)?;
            }
            "function" => {
                self.only(msg, &[K::Role, K::Content, K::Name])?;
                self.name(msg, true)?;
                match self.kind(content) {
                    None => return Err(FormatCode::MissingContent),
                    Some(Kind::String | Kind::Null) => {}
                    Some(_) => return Err(FormatCode::InvalidContent),
                }
            }
            "assistant" => {
                shape.assistant_messages += 1;
                self.only(
                    msg,
                    &[
                        K::Role,
                        K::Content,
                        K::Name,
                        K::Weight,
                        K::ToolCalls,
                        K::FunctionCall,
                        K::Refusal,
                    ],
                )?;
                self.name(msg, false)?;
                self.assistant(msg, allow_weight)?;
            }
            _ => return Err(FormatCode::UnrecognizedRole),
        }
        Ok(())
    }

    fn only(&self, obj: &View, allowed: &[K]) -> Check {
        if obj.only(allowed) {
            Ok(())
        } else {
            Err(FormatCode::UnrecognizedKey)
        }
    }

    fn assistant(&self, msg: &View, allow_weight: bool) -> Check {
        if let Some(w) = msg.get(K::Weight) {
            // `Value::as_u64` is 0 or 1 exactly for the number tokens `0` and `1` (`-0`, `1.0`
            // and `1e0` are floats).
            let token = self.raw.slice(w);
            if !(allow_weight && matches!(token, "0" | "1")) {
                return Err(FormatCode::InvalidWeight);
            }
        }
        let has_tool_calls = match self.kind(msg.get(K::ToolCalls)) {
            None | Some(Kind::Null) => false,
            Some(_) => {
                self.tool_calls(msg.get(K::ToolCalls))?;
                true
            }
        };
        let has_function_call = match msg.get(K::FunctionCall) {
            None => false,
            Some(p) if self.raw.kind(p) == Kind::Null => false,
            Some(p) => {
                self.function_call(p)?;
                true
            }
        };
        if let Some(kind) = self.kind(msg.get(K::Refusal))
            && !matches!(kind, Kind::String | Kind::Null)
        {
            return Err(FormatCode::InvalidContent);
        }
        let content = msg.get(K::Content);
        match self.kind(content) {
            None | Some(Kind::Null) if has_tool_calls || has_function_call => Ok(()),
            _ => self.text_content(content, ASSISTANT_PARTS),
        }
    }

    fn tool_calls(&self, calls: Option<usize>) -> Check {
        let calls = self
            .non_empty_array(calls)
            .ok_or(FormatCode::InvalidToolCalls)?;
        for item in self.raw.items(calls) {
            let call = View::of(&self.raw, item).ok_or(FormatCode::InvalidToolCalls)?;
            let shape_ok = call.only(&[K::Id, K::Type, K::Function])
                && self.is(call.get(K::Id), Kind::String)
                && self.str_is(call.get(K::Type), "function");
            if !shape_ok {
                return Err(FormatCode::InvalidToolCalls);
            }
            let function = call.get(K::Function).ok_or(FormatCode::InvalidToolCalls)?;
            self.function_call(function)
                .map_err(|_| FormatCode::InvalidToolCalls)?;
        }
        Ok(())
    }

    /// `{name: non-empty string, arguments: string}`.
    fn function_call(&self, p: usize) -> Check {
        let call = View::of(&self.raw, p).ok_or(FormatCode::InvalidFunctionCall)?;
        let ok = call.only(&[K::Name, K::Arguments])
            && self.non_empty_string(call.get(K::Name))
            && self.is(call.get(K::Arguments), Kind::String);
        if ok {
            Ok(())
        } else {
            Err(FormatCode::InvalidFunctionCall)
        }
    }

    fn tool_settings(&self, obj: &View, shape: &mut ExampleShape) -> Check {
        if let Some(tools) = obj.get(K::Tools) {
            if self.raw.kind(tools) != Kind::Array {
                return Err(FormatCode::InvalidTools);
            }
            let mut any = false;
            for item in self.raw.items(tools) {
                any = true;
                let tool = View::of(&self.raw, item).ok_or(FormatCode::InvalidTools)?;
                let ok = tool.only(&[K::Type, K::Function])
                    && self.str_is(tool.get(K::Type), "function")
                    && tool
                        .get(K::Function)
                        .is_some_and(|f| self.function_definition(f));
                if !ok {
                    return Err(FormatCode::InvalidTools);
                }
            }
            shape.has_tools |= any;
        }
        if let Some(functions) = obj.get(K::Functions) {
            let functions = self
                .non_empty_array(Some(functions))
                .ok_or(FormatCode::InvalidFunctions)?;
            // The spec caps legacy `functions` at 128 entries.
            let mut n = 0usize;
            for item in self.raw.items(functions) {
                n += 1;
                if n > 128 || !self.function_definition(item) {
                    return Err(FormatCode::InvalidFunctions);
                }
            }
            shape.has_tools = true;
        }
        if let Some(kind) = self.kind(obj.get(K::ParallelToolCalls))
            && kind != Kind::Bool
        {
            return Err(FormatCode::InvalidParallelToolCalls);
        }
        Ok(())
    }

    /// `FunctionObject`: `name` required; optional `description`, `parameters` (object), `strict`.
    fn function_definition(&self, p: usize) -> bool {
        let Some(f) = View::of(&self.raw, p) else {
            return false;
        };
        f.only(&[K::Name, K::Description, K::Parameters, K::Strict])
            && self.non_empty_string(f.get(K::Name))
            && self
                .kind(f.get(K::Description))
                .is_none_or(|k| k == Kind::String)
            && self
                .kind(f.get(K::Parameters))
                .is_none_or(|k| k == Kind::Object)
            && self
                .kind(f.get(K::Strict))
                .is_none_or(|k| matches!(k, Kind::Bool | Kind::Null))
    }

    fn name(&self, msg: &View, required: bool) -> Check {
        match msg.get(K::Name) {
            None if required => Err(FormatCode::InvalidName),
            None => Ok(()),
            Some(p) if self.non_empty_string(Some(p)) => Ok(()),
            Some(_) => Err(FormatCode::InvalidName),
        }
    }

    /// Content is a string or a non-empty array of typed parts.
    fn text_content(&self, content: Option<usize>, part_types: &[&str]) -> Check {
        match (content, self.kind(content)) {
            (None, _) | (_, Some(Kind::Null)) => Err(FormatCode::MissingContent),
            (_, Some(Kind::String)) => Ok(()),
            (Some(p), Some(Kind::Array)) if self.raw.items(p).next().is_some() => {
                if self
                    .raw
                    .items(p)
                    .all(|part| self.content_part(part, part_types))
                {
                    Ok(())
                } else {
                    Err(FormatCode::InvalidContent)
                }
            }
            _ => Err(FormatCode::InvalidContent),
        }
    }

    fn content_part(&self, p: usize, part_types: &[&str]) -> bool {
        let Some(part) = View::of(&self.raw, p) else {
            return false;
        };
        let Some(kind) = part.get(K::Type).and_then(|t| self.raw.str(t)) else {
            return false;
        };
        if !part_types.contains(&&*kind) {
            return false;
        }
        match &*kind {
            "text" => part.len == 2 && self.is(part.get(K::Text), Kind::String),
            "refusal" => part.len == 2 && self.is(part.get(K::Refusal), Kind::String),
            "image_url" => {
                part.len == 2
                    && part
                        .get(K::ImageUrl)
                        .and_then(|i| View::of(&self.raw, i))
                        .is_some_and(|img| {
                            img.only(&[K::Url, K::Detail])
                                && self.is(img.get(K::Url), Kind::String)
                                && img.get(K::Detail).is_none_or(|d| {
                                    self.raw
                                        .str(d)
                                        .is_some_and(|d| matches!(&*d, "auto" | "low" | "high"))
                                })
                        })
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::validate::validate_line;
    use DatasetFormat::{Chat, Completion, Preference, Reinforcement};
    use proptest::prelude::*;

    fn reference(format: DatasetFormat, line: &str) -> Result<ExampleShape, FormatCode> {
        validate_line(format, line).map(|(_, shape)| shape)
    }

    /// Lines built from the pieces the rules look at, in every combination proptest finds.
    fn value(depth: u32) -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("0".to_string()),
            Just("1".to_string()),
            Just("1.0".to_string()),
            Just("-0".to_string()),
            Just("2".to_string()),
            Just("\"\"".to_string()),
            Just("\"x\"".to_string()),
            Just("\"function\"".to_string()),
            Just("\"assistant\"".to_string()),
            Just("\"user\"".to_string()),
            Just("\"system\"".to_string()),
            Just("\"tool\"".to_string()),
            Just("\"text\"".to_string()),
            Just("\"refusal\"".to_string()),
            Just("\"image_url\"".to_string()),
            Just("\"low\"".to_string()),
            Just("\"\\u0061ssistant\"".to_string()),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        let key = prop_oneof![
            Just("role"),
            Just("content"),
            Just("name"),
            Just("weight"),
            Just("tool_calls"),
            Just("function_call"),
            Just("refusal"),
            Just("tool_call_id"),
            Just("id"),
            Just("type"),
            Just("function"),
            Just("arguments"),
            Just("text"),
            Just("image_url"),
            Just("url"),
            Just("detail"),
            Just("parameters"),
            Just("description"),
            Just("strict"),
            Just("messages"),
            Just("tools"),
            Just("parallel_tool_calls"),
            Just("functions"),
            Just("input"),
            Just("preferred_output"),
            Just("non_preferred_output"),
            Just("prompt"),
            Just("completion"),
            Just("other"),
            Just("r\\u006fle"),
        ];
        prop_oneof![
            2 => leaf,
            1 => proptest::collection::vec(value(depth - 1), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            2 => proptest::collection::vec((key, value(depth - 1)), 0..5).prop_map(|members| {
                let body: Vec<String> =
                    members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
        .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn agrees_with_the_tree_validator(line in value(5)) {
            for format in [Chat, Completion, Preference, Reinforcement] {
                prop_assert_eq!(validate_line_raw(format, &line), reference(format, &line), "{}", line);
            }
        }

        #[test]
        fn agrees_on_chat_messages(messages in proptest::collection::vec(value(4), 0..4), extra in value(3)) {
            let line = format!(r#"{{"messages":[{}]}}"#, messages.join(","));
            prop_assert_eq!(validate_line_raw(Chat, &line), reference(Chat, &line), "{}", line);
            prop_assert_eq!(validate_line_raw(Reinforcement, &line), reference(Reinforcement, &line), "{}", line);
            let line = format!(r#"{{"messages":[{}],"tools":{extra}}}"#, messages.join(","));
            prop_assert_eq!(validate_line_raw(Chat, &line), reference(Chat, &line), "{}", line);
            prop_assert_eq!(validate_line_raw(Reinforcement, &line), reference(Reinforcement, &line), "{}", line);
            let line = format!(r#"{{"messages":[{}],"reference_answer":{extra}}}"#, messages.join(","));
            prop_assert_eq!(validate_line_raw(Reinforcement, &line), reference(Reinforcement, &line), "{}", line);
            let line = format!(r#"{{"input":{{"messages":[{}]}},"preferred_output":[{extra}],"non_preferred_output":[{}]}}"#,
                messages.join(","), messages.first().cloned().unwrap_or_default());
            prop_assert_eq!(validate_line_raw(Preference, &line), reference(Preference, &line), "{}", line);
        }
    }

    #[test]
    fn the_reference_cases_agree() {
        let lines = [
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}],"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":true}}],"parallel_tool_calls":false}"#,
            r#"{"messages":[{"role":"user","content":[{"type":"text","text":"what"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]},{"role":"assistant","content":"ok"}]}"#,
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"42"},{"role":"assistant","content":"x","weight":1}]}"#,
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok"}],"messages":[]}"#,
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok","weight":-0}]}"#,
            "{not json",
            "[1,2]",
            "1e400",
            r#"{"messages":[{"role":"developer","content":"answer with a number"},{"role":"user","content":"2+2?"}],"reference_answer":{"value":4},"id":"q1"}"#,
            r#"{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}],"reference_answer":"4"}"#,
        ];
        for line in lines {
            for format in [Chat, Completion, Preference, Reinforcement] {
                assert_eq!(
                    validate_line_raw(format, line),
                    reference(format, line),
                    "{line}"
                );
            }
        }
    }
}
