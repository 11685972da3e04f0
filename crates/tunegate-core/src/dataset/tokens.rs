//! Per-example token counting, the way OpenAI counts chat messages, and per-model limits.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use bpe_openai::Tokenizer;
use serde_json::Value;

use tunegate_api::DatasetFormat;

/// A tiktoken encoding (counted with `bpe-openai`, whose counts equal tiktoken's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// gpt-4o family and newer (gpt-4.1, o-series).
    O200kBase,
    /// gpt-3.5-turbo and gpt-4.
    Cl100kBase,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::O200kBase => "o200k_base",
            Self::Cl100kBase => "cl100k_base",
        }
    }
}

/// Tokenizer and per-example token limit of a model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLimits {
    /// The family the model name matched, e.g. `gpt-4o-mini`.
    pub family: &'static str,
    pub encoding: Encoding,
    /// Most tokens one training example may hold.
    pub max_example_tokens: u64,
}

/// Model-name prefixes, most specific first, with their tokenizer and per-example limit.
///
/// Sources of the limits:
/// - gpt-4o, gpt-4o-mini: 65,536 tokens per training example. OpenAI fine-tuning guide, "Token
///   limits"; Azure OpenAI "fine-tune models" table ("Training example context length: 65,536",
///   MicrosoftDocs/azure-ai-docs articles/ai-foundry/openai/includes/fine-tune-models.md).
/// - gpt-4.1, gpt-4.1-mini, gpt-4.1-nano: 65,536, same Azure table (2025-04-14 models).
/// - o-series (o1, o3, o4-mini) and gpt-5: not published for supervised data; we assume the
///   65,536 of the gpt-4.1 generation they share the o200k tokenizer with.
/// - gpt-4 (gpt-4-0613): 8,192, the model's context length (OpenAI models page; Azure table).
/// - gpt-3.5-turbo-1106 and -0125: 16,385 (OpenAI fine-tuning guide, "Token limits"; the
///   cookbook's chat fine-tuning data-prep notebook, openai/openai-cookbook PR #1413).
/// - gpt-3.5-turbo-0613: 4,096 (OpenAI fine-tuning guide, "Token limits").
/// - babbage-002, davinci-002 (completion format): 16,384, their context length (OpenAI
///   models page); they use cl100k_base.
const MODEL_TABLE: &[(&str, ModelLimits)] = &[
    (
        "gpt-4o-mini",
        limits("gpt-4o-mini", Encoding::O200kBase, 65_536),
    ),
    ("gpt-4o", limits("gpt-4o", Encoding::O200kBase, 65_536)),
    (
        "gpt-4.1-nano",
        limits("gpt-4.1-nano", Encoding::O200kBase, 65_536),
    ),
    (
        "gpt-4.1-mini",
        limits("gpt-4.1-mini", Encoding::O200kBase, 65_536),
    ),
    ("gpt-4.1", limits("gpt-4.1", Encoding::O200kBase, 65_536)),
    ("gpt-5", limits("gpt-5", Encoding::O200kBase, 65_536)),
    ("o1", limits("o-series", Encoding::O200kBase, 65_536)),
    ("o3", limits("o-series", Encoding::O200kBase, 65_536)),
    ("o4", limits("o-series", Encoding::O200kBase, 65_536)),
    ("gpt-4", limits("gpt-4", Encoding::Cl100kBase, 8_192)),
    (
        "gpt-3.5-turbo-0613",
        limits("gpt-3.5-turbo-0613", Encoding::Cl100kBase, 4_096),
    ),
    (
        "gpt-3.5-turbo",
        limits("gpt-3.5-turbo", Encoding::Cl100kBase, 16_385),
    ),
    (
        "babbage-002",
        limits("babbage-002", Encoding::Cl100kBase, 16_384),
    ),
    (
        "davinci-002",
        limits("davinci-002", Encoding::Cl100kBase, 16_384),
    ),
];

const fn limits(family: &'static str, encoding: Encoding, max: u64) -> ModelLimits {
    ModelLimits {
        family,
        encoding,
        max_example_tokens: max,
    }
}

/// The default when no model is named: the gpt-4o-mini family (see `ValidationSpec::model`).
pub const DEFAULT_LIMITS: ModelLimits = limits("gpt-4o-mini", Encoding::O200kBase, 65_536);

/// Limits for a model name such as `gpt-4o-mini-2024-07-18` or a fine-tuned
/// `ft:gpt-4o-mini-2024-07-18:org::id`. Unknown names get `None`.
pub fn limits_for_model(model: &str) -> Option<ModelLimits> {
    let name = model.strip_prefix("ft:").unwrap_or(model);
    MODEL_TABLE
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, l)| *l)
}

/// Tokenizer data failed to load (the vocabularies are compiled in; this should not happen).
#[derive(Debug, thiserror::Error)]
#[error("cannot load the {encoding} tokenizer")]
pub struct TokenizerError {
    pub encoding: &'static str,
}

/// The process-wide tokenizer for `encoding`, loaded once and shared by every user (the redaction
/// report included): each vocabulary costs tens of MB, so there must be one copy of it.
///
/// `bpe-openai` counts exactly what tiktoken counts (compared on every line and every string of
/// the dense, sparse and non-ASCII bench corpora, and by `counts_equal_tiktoken` below) at a
/// fraction of the cost. Its vocabularies are compiled in, so loading cannot fail.
pub(crate) fn load(encoding: Encoding) -> Result<&'static Tokenizer, TokenizerError> {
    let (tok, rule) = match encoding {
        Encoding::O200kBase => (bpe_openai::o200k_base(), super::pretok::Rule::O200k),
        Encoding::Cl100kBase => (bpe_openai::cl100k_base(), super::pretok::Rule::Cl100k),
    };
    // Lets `count_chunked` split this tokenizer's text by hand (see `pretok`).
    super::pretok::register(tok, rule);
    Ok(tok)
}

/// Chat framing overhead, as in OpenAI's cookbook ("How to count tokens with tiktoken"): every
/// message costs 3 tokens plus its fields, a `name` one more, and the reply is primed with 3.
const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_PER_NAME: u64 = 1;
const REPLY_PRIMING: u64 = 3;
/// Per tool/function call, as tiktoken-rs's `num_tokens_from_messages` counts it.
const TOKENS_PER_CALL: u64 = 1;
/// An image part's size is unknown here; count the low-detail base cost of the gpt-4o family
/// (85 tokens), a lower bound.
const TOKENS_PER_IMAGE: u64 = 85;

/// Counts tokens of examples with one encoding.
#[derive(Clone, Copy)]
pub struct TokenCounter {
    bpe: &'static Tokenizer,
    encoding: Encoding,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("encoding", &self.encoding)
            .finish()
    }
}

impl TokenCounter {
    /// Loads the encoding once per process.
    pub fn new(encoding: Encoding) -> Result<Self, TokenizerError> {
        Ok(Self {
            bpe: load(encoding)?,
            encoding,
        })
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Tokens of plain text; special-token strings in data count as ordinary text.
    pub fn text(&self, text: &str) -> u64 {
        count_chunked(self.bpe, text, CHUNK_BYTES, u64::MAX)
    }

    /// Tokens of one example of `format` (already validated).
    pub fn example(&self, format: DatasetFormat, value: &Value) -> u64 {
        self.example_cached(format, value, &mut CountCache::disabled())
    }

    /// Like `example`, remembering counts of long strings that repeat (system prompts, tool
    /// definitions) in `cache`. Counts are identical with or without the cache.
    pub fn example_cached(
        &self,
        format: DatasetFormat,
        value: &Value,
        cache: &mut CountCache,
    ) -> u64 {
        Walk {
            bpe: self.bpe,
            cache,
        }
        .example(format, value)
    }

    /// Chat messages: per-message overhead plus fields, then the reply priming.
    pub fn messages(&self, messages: Option<&Value>) -> u64 {
        Walk {
            bpe: self.bpe,
            cache: &mut CountCache::disabled(),
        }
        .messages(messages)
    }
}

/// Walks one example, counting its strings.
struct Walk<'a> {
    bpe: &'static Tokenizer,
    cache: &'a mut CountCache,
}

impl Walk<'_> {
    /// Tokens of one example of `format` (already validated).
    fn example(&mut self, format: DatasetFormat, value: &Value) -> u64 {
        match format {
            // A reinforcement prompt is counted like a chat example (the grader's fields are not
            // model input).
            DatasetFormat::Chat | DatasetFormat::Reinforcement => {
                let mut n = self.messages(value.get("messages"));
                n += self.tool_definitions(value);
                n
            }
            DatasetFormat::Completion => {
                self.str_field(value, "prompt") + self.str_field(value, "completion")
            }
            DatasetFormat::Preference => {
                let input = value.get("input");
                let mut n = self.messages(input.and_then(|i| i.get("messages")));
                if let Some(input) = input {
                    n += self.tool_definitions(input);
                }
                // Both outputs are trained against the same input.
                for key in ["preferred_output", "non_preferred_output"] {
                    if let Some(Value::Array(msgs)) = value.get(key) {
                        n += msgs.iter().map(|m| self.message(m)).sum::<u64>();
                    }
                }
                n
            }
        }
    }

    /// Chat messages: per-message overhead plus fields, then the reply priming.
    fn messages(&mut self, messages: Option<&Value>) -> u64 {
        let Some(Value::Array(messages)) = messages else {
            return 0;
        };
        messages.iter().map(|m| self.message(m)).sum::<u64>() + REPLY_PRIMING
    }

    fn message(&mut self, message: &Value) -> u64 {
        let Some(msg) = message.as_object() else {
            return 0;
        };
        let mut n = TOKENS_PER_MESSAGE;
        for (key, value) in msg {
            match key.as_str() {
                "role" | "refusal" | "tool_call_id" => n += self.string(value),
                "content" => n += self.content(value),
                "name" => n += self.string(value) + TOKENS_PER_NAME,
                "function_call" => n += self.call(value),
                "tool_calls" => {
                    if let Value::Array(calls) = value {
                        n += calls
                            .iter()
                            .map(|c| c.get("function").map_or(0, |f| self.call(f)))
                            .sum::<u64>();
                    }
                }
                // `weight` steers training; it is not text the model sees.
                _ => {}
            }
        }
        n
    }

    fn call(&mut self, call: &Value) -> u64 {
        call.get("name").map_or(0, |v| self.string(v))
            + call.get("arguments").map_or(0, |v| self.string(v))
            + TOKENS_PER_CALL
    }

    fn content(&mut self, content: &Value) -> u64 {
        match content {
            Value::String(s) => self.text(s),
            Value::Array(parts) => parts
                .iter()
                .map(|part| match part.get("type").and_then(Value::as_str) {
                    Some("text") => part.get("text").map_or(0, |t| self.string(t)),
                    Some("refusal") => part.get("refusal").map_or(0, |t| self.string(t)),
                    Some("image_url") => TOKENS_PER_IMAGE,
                    _ => 0,
                })
                .sum(),
            _ => 0,
        }
    }

    /// Tool and function definitions are part of the prompt; OpenAI does not publish their exact
    /// rendering, so count their compact JSON.
    fn tool_definitions(&mut self, obj: &Value) -> u64 {
        ["tools", "functions"]
            .iter()
            .filter_map(|key| obj.get(*key))
            .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            .map(|v| self.text(&v.to_string()))
            .sum()
    }

    fn string(&mut self, value: &Value) -> u64 {
        value.as_str().map_or(0, |s| self.text(s))
    }

    fn text(&mut self, text: &str) -> u64 {
        let bpe = self.bpe;
        self.cache
            .count(text, |t| count_chunked(bpe, t, CHUNK_BYTES, u64::MAX))
    }

    fn str_field(&mut self, value: &Value, key: &str) -> u64 {
        value.get(key).map_or(0, |v| self.string(v))
    }
}

/// Longest text handed to the tokenizer at once. BPE needs about 56 bytes of state per byte of
/// one pre-tokenized piece (tiktoken's heap merge), so a 50 MB string without spaces would need
/// 2.8 GB; longer texts are counted in parts (see [`count_chunked`]).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Tokens of `text`, tokenized at most `chunk` bytes at a time, stopping once the count passes
/// `stop_above`. Parts end just before a space that follows a non-space ASCII character: no
/// pre-tokenizer piece of o200k_base or cl100k_base crosses that point (a piece contains a
/// space only as its first character, or in a run of whitespace), so the count is exactly that of
/// the whole text. Only a stretch of more than `chunk / 2` bytes without such a space is cut
/// elsewhere (at a character boundary), where the count may differ by a token or so per cut.
pub fn count_chunked(bpe: &Tokenizer, text: &str, chunk: usize, stop_above: u64) -> u64 {
    let chunk = chunk.max(8);
    let mut total = 0u64;
    let mut rest = text;
    while rest.len() > chunk && total <= stop_above {
        let cut = split_point(rest, chunk);
        total += super::pretok::count(bpe, &rest[..cut]) as u64;
        rest = &rest[cut..];
    }
    if total <= stop_above {
        total += super::pretok::count(bpe, rest) as u64;
    }
    total
}

/// Where to end a part of at most `max` bytes of `text` (longer than `max`).
fn split_point(text: &str, max: usize) -> usize {
    let b = text.as_bytes();
    let is_ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let lo = (max / 2).max(1);
    for p in (lo..=max).rev() {
        if b[p] == b' ' && b[p - 1].is_ascii() && !is_ws(b[p - 1]) {
            return p;
        }
    }
    let mut p = max;
    while !text.is_char_boundary(p) {
        p -= 1;
    }
    p.max(1)
}

impl TokenCounter {
    /// Tokens of one example line, read from its JSON text in place (no `serde_json::Value`:
    /// memory stays near the line's length whatever its shape). `None` when the line is not
    /// JSON. Counting stops once the total passes `stop_above` (the caller only needs to know the
    /// example is too long), so the answer is exact up to `stop_above` and some larger number
    /// beyond. Tool definitions count as their compact JSON in the order of the line (the tree
    /// version renders keys sorted; for sorted keys the two agree).
    pub fn line(
        &self,
        format: DatasetFormat,
        text: &str,
        cache: &mut CountCache,
        stop_above: u64,
    ) -> Option<u64> {
        if !super::rawjson::syntax_ok(text) {
            return None;
        }
        Some(self.line_syntax_ok(format, text, cache, stop_above))
    }

    /// `line` for a text that already passed `rawjson::syntax_ok` (the pipeline's unchanged
    /// lines, which validation parsed): the same count without parsing the line a second time.
    pub(crate) fn line_syntax_ok(
        &self,
        format: DatasetFormat,
        text: &str,
        cache: &mut CountCache,
        stop_above: u64,
    ) -> u64 {
        let raw = super::rawjson::Raw::new(text);
        let mut walk = RawWalk {
            bpe: self.bpe,
            cache,
            raw,
            total: 0,
            stop_above,
        };
        walk.example(format, raw.root());
        walk.total
    }
}

/// `Walk` over the text of a line instead of a tree.
struct RawWalk<'a, 'c> {
    bpe: &'static Tokenizer,
    cache: &'c mut CountCache,
    raw: super::rawjson::Raw<'a>,
    total: u64,
    stop_above: u64,
}

impl RawWalk<'_, '_> {
    fn get(&self, obj: Option<usize>, key: &str) -> Option<usize> {
        let obj = obj?;
        self.raw
            .members(obj)
            .find(|&(k, _)| self.raw.str_is(k, key))
            .map(|(_, v)| v)
    }

    fn is_array(&self, p: Option<usize>) -> bool {
        p.is_some_and(|p| self.raw.kind(p) == super::rawjson::Kind::Array)
    }

    fn example(&mut self, format: DatasetFormat, root: usize) {
        match format {
            // A reinforcement prompt is counted like a chat example (the grader's fields are not
            // model input).
            DatasetFormat::Chat | DatasetFormat::Reinforcement => {
                self.messages(self.get(Some(root), "messages"));
                self.tool_definitions(root);
            }
            DatasetFormat::Completion => {
                self.string(self.get(Some(root), "prompt"));
                self.string(self.get(Some(root), "completion"));
            }
            DatasetFormat::Preference => {
                let input = self.get(Some(root), "input");
                self.messages(self.get(input, "messages"));
                if let Some(input) = input {
                    self.tool_definitions(input);
                }
                for key in ["preferred_output", "non_preferred_output"] {
                    let list = self.get(Some(root), key);
                    if self.is_array(list) {
                        for m in self.raw.items(list.unwrap_or_default()) {
                            self.message(m);
                        }
                    }
                }
            }
        }
    }

    fn messages(&mut self, messages: Option<usize>) {
        if !self.is_array(messages) {
            return;
        }
        for m in self.raw.items(messages.unwrap_or_default()) {
            self.message(m);
        }
        self.total += REPLY_PRIMING;
    }

    fn message(&mut self, p: usize) {
        if self.raw.kind(p) != super::rawjson::Kind::Object {
            return;
        }
        self.total += TOKENS_PER_MESSAGE;
        for (k, v) in self.raw.members(p) {
            let Some(key) = self.raw.str(k) else { continue };
            match &*key {
                "role" | "refusal" | "tool_call_id" => self.string(Some(v)),
                "content" => self.content(v),
                "name" => {
                    self.string(Some(v));
                    self.total += TOKENS_PER_NAME;
                }
                "function_call" => self.call(Some(v)),
                "tool_calls" if self.is_array(Some(v)) => {
                    for c in self.raw.items(v) {
                        let f = self.get(Some(c), "function");
                        if f.is_some() {
                            self.call(f);
                        }
                    }
                }
                // `weight` steers training; it is not text the model sees.
                _ => {}
            }
        }
    }

    fn call(&mut self, call: Option<usize>) {
        self.string(self.get(call, "name"));
        self.string(self.get(call, "arguments"));
        self.total += TOKENS_PER_CALL;
    }

    fn content(&mut self, p: usize) {
        use super::rawjson::Kind;
        match self.raw.kind(p) {
            Kind::String => self.string(Some(p)),
            Kind::Array => {
                for part in self.raw.items(p) {
                    let kind = self.get(Some(part), "type").and_then(|t| self.raw.str(t));
                    match kind.as_deref() {
                        Some("text") => self.string(self.get(Some(part), "text")),
                        Some("refusal") => self.string(self.get(Some(part), "refusal")),
                        Some("image_url") => self.total += TOKENS_PER_IMAGE,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn tool_definitions(&mut self, obj: usize) {
        // Both keys in one walk over the object (the first of each, as `get` finds it): a miss
        // has to step over every value, `messages` included.
        let (mut tools, mut functions) = (None, None);
        for (k, v) in self.raw.members(obj) {
            if tools.is_none() && self.raw.str_is(k, "tools") {
                tools = Some(v);
            } else if functions.is_none() && self.raw.str_is(k, "functions") {
                functions = Some(v);
            }
        }
        for v in [tools, functions] {
            let Some(v) = v else {
                continue;
            };
            if self.is_array(Some(v)) && self.raw.items(v).next().is_some() {
                // Rendered and counted in parts: a huge definition is never held whole (its
                // rendering has no spaces to cut at, so parts past 128 KiB are approximate).
                let raw = self.raw;
                let mut rendered = String::new();
                super::rawjson::compact_with(&raw, v, &mut rendered, 2 * CHUNK_BYTES, &mut |buf| {
                    let cut = split_point(buf, CHUNK_BYTES);
                    self.text(&buf[..cut]);
                    buf.drain(..cut);
                });
                self.text(&rendered);
            }
        }
    }

    fn string(&mut self, p: Option<usize>) {
        if let Some(s) = p.and_then(|p| self.raw.str(p)) {
            self.text(&s);
        }
    }

    fn text(&mut self, text: &str) {
        if self.total > self.stop_above {
            return;
        }
        let bpe = self.bpe;
        let n = if text.len() <= MAX_CACHED_BYTES / 8 {
            self.cache
                .count(text, |t| count_chunked(bpe, t, CHUNK_BYTES, u64::MAX))
        } else {
            let left = self.stop_above - self.total;
            count_chunked(bpe, text, CHUNK_BYTES, left)
        };
        self.total = self.total.saturating_add(n);
    }
}

/// Remembers token counts of long strings seen at least twice. Bounded: it forgets everything
/// when it grows past its limits.
#[derive(Debug, Default)]
pub struct CountCache {
    enabled: bool,
    seen: HashSet<u64>,
    counts: HashMap<Box<str>, u64>,
    bytes: usize,
}

/// Shorter strings are cheaper to count than to look up.
const MIN_CACHED_LEN: usize = 128;
const MAX_CACHED_BYTES: usize = 8 * 1024 * 1024;
const MAX_SEEN: usize = 1 << 16;

impl CountCache {
    pub fn new() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// A cache that never stores anything.
    pub fn disabled() -> Self {
        Self::default()
    }

    fn count(&mut self, text: &str, count: impl FnOnce(&str) -> u64) -> u64 {
        if !self.enabled || text.len() < MIN_CACHED_LEN || text.len() > MAX_CACHED_BYTES / 8 {
            return count(text);
        }
        if let Some(&n) = self.counts.get(text) {
            return n;
        }
        let n = count(text);
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        if !self.seen.insert(hasher.finish()) {
            if self.bytes + text.len() > MAX_CACHED_BYTES {
                self.counts.clear();
                self.bytes = 0;
            }
            self.bytes += text.len();
            self.counts.insert(text.into(), n);
        } else if self.seen.len() > MAX_SEEN {
            self.seen.clear();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cookbook_messages() -> Value {
        // The example from OpenAI's cookbook "How to count tokens with tiktoken", whose
        // published counts are 129 (gpt-3.5-turbo / gpt-4, cl100k_base) and 124 (gpt-4o, o200k_base).
        json!([
            {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
            {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
            {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
            {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
            {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
            {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
        ])
    }

    #[test]
    fn chat_counts_match_openai_cookbook() {
        let messages = cookbook_messages();
        let cl100k = TokenCounter::new(Encoding::Cl100kBase).unwrap();
        let o200k = TokenCounter::new(Encoding::O200kBase).unwrap();
        assert_eq!(cl100k.messages(Some(&messages)), 129);
        assert_eq!(o200k.messages(Some(&messages)), 124);
        let example = json!({"messages": messages});
        assert_eq!(o200k.example(DatasetFormat::Chat, &example), 124);
    }

    #[test]
    fn text_counts_known_values() {
        let cl100k = TokenCounter::new(Encoding::Cl100kBase).unwrap();
        // tiktoken's README example: "tiktoken is great!" -> [83, 1609, 5963, 374, 2294, 0].
        assert_eq!(cl100k.text("tiktoken is great!"), 6);
        assert_eq!(cl100k.text("hello world"), 2);
        assert_eq!(cl100k.text(""), 0);
        // Special-token text in data is ordinary text, not a control token.
        assert!(cl100k.text("<|endoftext|>") > 1);
    }

    #[test]
    fn completion_and_preference_counts() {
        let c = TokenCounter::new(Encoding::Cl100kBase).unwrap();
        let completion = json!({"prompt": "hello world", "completion": "tiktoken is great!"});
        assert_eq!(c.example(DatasetFormat::Completion, &completion), 8);
        let pref = json!({
            "input": {"messages": [{"role": "user", "content": "hello world"}]},
            "preferred_output": [{"role": "assistant", "content": "hello world"}],
            "non_preferred_output": [{"role": "assistant", "content": "tiktoken is great!"}]
        });
        // input: 3 + role(1) + 2, + priming 3 = 9; outputs: (3+1+2) + (3+1+6) = 16.
        assert_eq!(c.text("user"), 1);
        assert_eq!(c.text("assistant"), 1);
        assert_eq!(c.example(DatasetFormat::Preference, &pref), 25);
    }

    #[test]
    fn tool_calls_and_weight_are_counted_as_documented() {
        let c = TokenCounter::new(Encoding::Cl100kBase).unwrap();
        let plain = json!([{"role": "assistant", "content": "hello world"}]);
        let weighted = json!([{"role": "assistant", "content": "hello world", "weight": 0}]);
        assert_eq!(c.messages(Some(&plain)), c.messages(Some(&weighted)));
        let call = json!([{"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "hello", "arguments": "hello world"}}
        ]}]);
        // 3 + role(1) + name(1) + arguments(2) + call overhead(1) + priming 3.
        assert_eq!(c.messages(Some(&call)), 11);
    }

    #[test]
    fn cache_gives_identical_counts() {
        let c = TokenCounter::new(Encoding::O200kBase).unwrap();
        let system = "You are a careful assistant. ".repeat(20);
        let mut cache = CountCache::new();
        for i in 0..50 {
            let example = json!({"messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": format!("question number {i} ").repeat(10)},
                {"role": "assistant", "content": "ok"}
            ], "tools": [{"type": "function", "function": {"name": "f", "description": system}}]});
            assert_eq!(
                c.example_cached(DatasetFormat::Chat, &example, &mut cache),
                c.example(DatasetFormat::Chat, &example)
            );
        }
        // The repeated system prompt and tool definitions are cached, unique texts are not.
        assert_eq!(cache.counts.len(), 2);
    }

    /// bpe-openai against tiktoken-rs (the reference) on generated text: entity values,
    /// look-alikes, prose in several scripts, whitespace and line-break runs, contractions.
    #[test]
    fn counts_equal_tiktoken() {
        use crate::redact::corpus::{ENTITIES, LOOKALIKE_KINDS, Rng, entity_value, lookalike};
        let pieces = [
            "Hello",
            "world",
            "I'm",
            "they'll",
            "DON'T",
            "you've",
            "naïve",
            "café",
            "Straße",
            "заказ",
            "订单已经发货",
            "ありがとう",
            "😊👍🏽",
            "  ",
            "\n",
            "\r\n",
            "\t",
            "   \n  ",
            "1234567",
            "3.14159",
            "$4,847.63",
            "https://example.com/a?b=c",
            "(c)",
            "--",
            "...",
            "x_y",
            "CamelCase",
            "ABCdef",
            "\u{200b}",
            "é\u{301}",
            "Ǆ",
            "\"quoted\"",
            "a/b/c",
        ];
        let mut rng = Rng::new(0x70C);
        let counters = [
            (
                TokenCounter::new(Encoding::O200kBase).unwrap(),
                tiktoken_rs::o200k_base().unwrap(),
            ),
            (
                TokenCounter::new(Encoding::Cl100kBase).unwrap(),
                tiktoken_rs::cl100k_base().unwrap(),
            ),
        ];
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..rng.range(1, 24) {
                match rng.below(4) {
                    0 => {
                        let t = *rng.pick(&ENTITIES);
                        text.push_str(&entity_value(&mut rng, t));
                    }
                    1 => {
                        let k = *rng.pick(LOOKALIKE_KINDS);
                        text.push_str(&lookalike(&mut rng, k));
                    }
                    _ => text.push_str(rng.pick::<&str>(&pieces)),
                }
                if rng.chance(0.7) {
                    text.push(' ');
                }
            }
            for (ours, reference) in &counters {
                assert_eq!(
                    ours.text(&text),
                    reference.encode_ordinary(&text).len() as u64,
                    "{:?}: {text:?}",
                    ours.encoding()
                );
            }
        }
    }

    #[test]
    fn model_table() {
        let l = limits_for_model("gpt-4o-mini-2024-07-18").unwrap();
        assert_eq!(
            (l.family, l.encoding, l.max_example_tokens),
            ("gpt-4o-mini", Encoding::O200kBase, 65_536)
        );
        assert_eq!(
            limits_for_model("gpt-4.1-2025-04-14").unwrap().family,
            "gpt-4.1"
        );
        assert_eq!(
            limits_for_model("gpt-4.1-mini-2025-04-14").unwrap().family,
            "gpt-4.1-mini"
        );
        assert_eq!(
            limits_for_model("ft:gpt-4o-2024-08-06:acme::abc")
                .unwrap()
                .family,
            "gpt-4o"
        );
        assert_eq!(
            limits_for_model("o4-mini-2025-04-16").unwrap().encoding,
            Encoding::O200kBase
        );
        let g35 = limits_for_model("gpt-3.5-turbo-0125").unwrap();
        assert_eq!(
            (g35.encoding, g35.max_example_tokens),
            (Encoding::Cl100kBase, 16_385)
        );
        assert_eq!(
            limits_for_model("gpt-3.5-turbo-0613")
                .unwrap()
                .max_example_tokens,
            4_096
        );
        assert_eq!(
            limits_for_model("gpt-4-0613").unwrap().max_example_tokens,
            8_192
        );
        assert_eq!(limits_for_model("llama-3"), None);
    }

    #[test]
    fn counting_the_line_text_agrees_with_the_tree() {
        let cl100k = TokenCounter::new(Encoding::Cl100kBase).unwrap();
        let o200k = TokenCounter::new(Encoding::O200kBase).unwrap();
        let examples = [
            (
                DatasetFormat::Chat,
                json!({"messages": cookbook_messages()}),
            ),
            (
                DatasetFormat::Chat,
                json!({"messages": [
                    {"role": "user", "content": [{"type": "text", "text": "what is \u{e9} here"},
                        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                    {"content": null, "role": "assistant", "tool_calls": [{"function": {"arguments": "{\"a\":1}", "name": "f"}, "id": "c", "type": "function"}]},
                    {"role": "tool", "tool_call_id": "c", "content": "42"},
                    {"role": "assistant", "name": "bot", "content": "done", "weight": 1}
                ], "tools": [{"function": {"description": "adds\nnumbers", "name": "f", "parameters": {"minimum": 1.5, "type": "object"}}, "type": "function"}]}),
            ),
            (
                DatasetFormat::Completion,
                json!({"prompt": "hello world", "completion": "tiktoken is great!"}),
            ),
            (
                DatasetFormat::Preference,
                json!({
                    "input": {"messages": [{"role": "user", "content": "hello world"}]},
                    "preferred_output": [{"role": "assistant", "content": "hello world"}],
                    "non_preferred_output": [{"role": "assistant", "content": "tiktoken is great!"}]
                }),
            ),
        ];
        for (format, example) in examples {
            // Keys sorted (as `to_string` writes them) and pretty-printed: both give the tree's count.
            for text in [
                example.to_string(),
                serde_json::to_string_pretty(&example).unwrap(),
            ] {
                for c in [cl100k, o200k] {
                    assert_eq!(
                        c.line(format, &text, &mut CountCache::new(), u64::MAX),
                        Some(c.example(format, &example)),
                        "{text}"
                    );
                }
            }
        }
        assert_eq!(
            o200k.line(
                DatasetFormat::Chat,
                "{nope",
                &mut CountCache::new(),
                u64::MAX
            ),
            None
        );
    }

    #[test]
    fn long_texts_are_counted_in_parts_with_the_same_total() {
        let o200k = TokenCounter::new(Encoding::O200kBase).unwrap();
        let text =
            "Ünïcode words, numbers 12345 and   spaces;\tpunctuation!! (brackets) ".repeat(200);
        let whole = o200k.bpe.count(&text) as u64;
        for chunk in [64, 100, 1000, 4096] {
            assert_eq!(
                count_chunked(o200k.bpe, &text, chunk, u64::MAX),
                whole,
                "{chunk}"
            );
        }
        // Counting stops early once past the bound.
        let stopped = count_chunked(o200k.bpe, &text, 100, 10);
        assert!(stopped > 10 && stopped < whole, "{stopped}");
    }

    #[test]
    fn a_huge_string_without_spaces_is_counted_in_bounded_memory() {
        // One 8 MB piece would need ~450 MB of BPE state at once; in 64 KiB parts it needs ~4 MB.
        let o200k = TokenCounter::new(Encoding::O200kBase).unwrap();
        let text = "x".repeat(8 * 1024 * 1024);
        let line = format!(r#"{{"prompt":"{text}","completion":"y"}}"#);
        let n = o200k
            .line(
                DatasetFormat::Completion,
                &line,
                &mut CountCache::new(),
                65_536,
            )
            .unwrap();
        assert!(n > 65_536, "{n}");
    }

    proptest::proptest! {
        #[test]
        fn parts_never_change_the_count_of_spaced_text(
            words in proptest::collection::vec("é?[a-zA-Z0-9.,!'\\-]{1,12}", 0..200),
            chunk in 8usize..200,
        ) {
            let o200k = TokenCounter::new(Encoding::O200kBase).unwrap();
            let cl100k = TokenCounter::new(Encoding::Cl100kBase).unwrap();
            // Words no longer than chunk/2 - 1, separated by single spaces: every part ends at a space.
            let text: String = words
                .iter()
                .map(|w| {
                    // The last characters: ASCII (words end before a splittable space).
                    let c: Vec<char> = w.chars().collect();
                    c[c.len().saturating_sub(chunk / 2 - 2)..].iter().collect::<String>()
                })
                .collect::<Vec<_>>()
                .join(" ");
            for c in [o200k, cl100k] {
                let whole = c.bpe.count(&text) as u64;
                proptest::prop_assert_eq!(count_chunked(c.bpe, &text, chunk, u64::MAX), whole);
            }
        }
    }
}
