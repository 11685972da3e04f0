//! Provider errors: parsing the two error body shapes (OpenAI's and Azure's), and classifying
//! every failure as terminal or recoverable.

use std::time::Duration;

use serde_json::Value;

use super::metrics::Operation;
use super::sanitize::{MAX_TEXT_BYTES, MAX_WORD_BYTES, sanitize};

/// An error body as the provider sent it, from either
/// `{"error":{"message","type","param","code"}}` (OpenAI, and Azure OpenAI with an optional
/// `innererror`/`inner_error`) or Azure's gateway shape `{"statusCode": 401, "message": "..."}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiError {
    /// The human-readable message, sanitized (see [`sanitize`]) to at most 1000 bytes. Every
    /// field is sanitized: they reach conditions, Events and logs.
    pub message: Option<String>,
    /// OpenAI's error `type`, e.g. `invalid_request_error`.
    pub kind: Option<String>,
    /// The parameter the error is about.
    pub param: Option<String>,
    /// The machine-readable code, e.g. `invalid_n_examples`, `insufficient_quota`, `429`.
    pub code: Option<String>,
    /// Azure's nested `innererror.code`, e.g. `ResponsibleAIPolicyViolation`.
    pub inner_code: Option<String>,
}

impl ApiError {
    /// Parses an error body. Never fails: an unparseable body gives an empty `ApiError` (the body
    /// itself is not kept: a proxy's HTML page is of no use in a condition).
    pub fn parse(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        match value.get("error") {
            Some(Value::Object(obj)) => {
                let inner = obj.get("innererror").or_else(|| obj.get("inner_error"));
                Self {
                    message: message(obj.get("message")),
                    kind: word(obj.get("type")),
                    param: word(obj.get("param")),
                    code: word(obj.get("code")),
                    inner_code: inner.and_then(|i| word(i.get("code"))),
                }
            }
            Some(Value::String(message)) => Self {
                message: Some(sanitize(message, MAX_TEXT_BYTES)).filter(|m| !m.is_empty()),
                ..Self::default()
            },
            _ => Self {
                // Azure API Management / gateway shape, and bare `{code, message}`.
                message: message(value.get("message")),
                code: word(value.get("code")),
                ..Self::default()
            },
        }
    }
}

/// A string field that may arrive as a string or a number (Azure sends `"code": 429` at times).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn message(value: Option<&Value>) -> Option<String> {
    text(value)
        .map(|s| sanitize(&s, MAX_TEXT_BYTES))
        .filter(|s| !s.is_empty())
}

fn word(value: Option<&Value>) -> Option<String> {
    text(value)
        .map(|s| sanitize(&s, MAX_WORD_BYTES))
        .filter(|s| !s.is_empty())
}

/// Terminal or recoverable, for an HTTP status and the provider's error code. Pure; the retry
/// loop and the controller both use it.
pub fn is_recoverable_status(status: u16, code: Option<&str>) -> bool {
    match status {
        // A 429 for an empty balance is not going to clear up by waiting.
        429 => !matches!(
            code,
            Some("insufficient_quota" | "billing_hard_limit_reached" | "billing_not_active")
        ),
        // 408 request timeout; 409 is OpenAI's "lock timeout, try again" (its SDKs retry it).
        408 | 409 => true,
        500..=599 => true,
        _ => false,
    }
}

/// Error codes meaning "this organisation or this base model cannot be fine-tuned here", from
/// OpenAI (`model_not_available`, `model_not_found`, `model_deprecated`, `unsupported_model`,
/// `fine_tuning_not_available`) and Azure OpenAI (`ModelNotSupported`, `InvalidModel`,
/// `FineTuningNotSupported`, `ModelDeprecated`). Compared case-insensitively.
fn is_refusal_code(code: &str) -> bool {
    const CODES: [&str; 9] = [
        "model_not_available",
        "model_not_found",
        "model_deprecated",
        "unsupported_model",
        "fine_tuning_not_available",
        "modelnotsupported",
        "invalidmodel",
        "finetuningnotsupported",
        "modeldeprecated",
    ];
    CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
}

/// The class of a transport failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// Could not connect (DNS, refused, TLS handshake): the request was not sent.
    Connect,
    /// The connect or request timeout elapsed.
    Timeout,
    /// The connection broke while sending or receiving.
    Connection,
}

impl TransportKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect error",
            Self::Timeout => "timeout",
            Self::Connection => "connection error",
        }
    }
}

/// Every error the provider client returns. `code()` is a stable identifier for conditions and
/// metrics; `is_recoverable()` says whether trying again later can help. No variant carries the
/// API key or any uploaded bytes.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The API key in the Secret cannot be used.
    #[error("invalid API key: {0}")]
    InvalidKey(&'static str),
    /// The provider configuration is wrong (base URL, api version).
    #[error("invalid provider configuration: {0}")]
    InvalidConfig(String),
    /// The request was rejected before sending it (client-side validation).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The provider answered with an error status.
    #[error("{operation}: HTTP {status}{}{}{}", code_suffix(.error), message_suffix(.error), request_id_suffix(.request_id))]
    Api {
        /// What was being done.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// The parsed error body (boxed: keeps `Result<_, ProviderError>` small).
        error: Box<ApiError>,
        /// The provider's `x-request-id`, for support tickets.
        request_id: Option<String>,
        /// The server's retry hint, if any (`retry-after-ms`, `Retry-After`).
        retry_after: Option<Duration>,
        /// The server's `x-should-retry` header, if any.
        should_retry: Option<bool>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// No usable HTTP answer: connect error, timeout, broken connection.
    #[error("{operation}: {} after {attempts} attempt(s): {detail}", .kind.as_str())]
    Transport {
        /// What was being done.
        operation: Operation,
        /// The class of failure.
        kind: TransportKind,
        /// How many attempts were made.
        attempts: u32,
        /// The transport's description (no URL query, no headers).
        detail: String,
    },
    /// A success response whose body is not what the API promises.
    #[error("{operation}: unexpected response body: {detail}")]
    Decode {
        /// What was being done.
        operation: Operation,
        /// The decoder's description (no content).
        detail: String,
    },
    /// A success response whose body is larger than the client reads
    /// (`ProviderOptions::max_response_bytes`). Reading stopped at the limit: a provider's answer
    /// can never take more memory than that.
    #[error("{operation}: response body exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// What was being done.
        operation: Operation,
        /// The limit.
        limit: u64,
    },
    /// The caller's upload stream returned an error. The upload was abandoned before the last
    /// byte left this process (single request) or cancelled without completing (Uploads API),
    /// so no file was created.
    #[error("{operation}: upload abandoned because the source stream failed: {source}")]
    StreamAborted {
        /// What was being done.
        operation: Operation,
        /// The stream's error.
        #[source]
        source: std::io::Error,
    },
    /// The upload stream did not produce the declared number of bytes; nothing was created.
    #[error("upload stream length mismatch: declared {declared} bytes, stream produced {actual}")]
    LengthMismatch {
        /// Declared length.
        declared: u64,
        /// Bytes the stream produced (counting stops one chunk past the declared length).
        actual: u64,
    },
    /// The file is larger than the provider accepts (8 GB for the Uploads API).
    #[error("file of {bytes} bytes exceeds the provider limit of {max} bytes")]
    TooLarge {
        /// Size of the file.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// Azure OpenAI finished processing the file with an error; a job cannot use it.
    #[error("file {file_id} failed processing at the provider (status {status})")]
    FileProcessingFailed {
        /// The file.
        file_id: String,
        /// The provider's status word.
        status: String,
    },
    /// The file was not processed within the wait budget; try again later.
    #[error("file {file_id} is still {status} after waiting {waited_secs}s")]
    FileNotReady {
        /// The file.
        file_id: String,
        /// The last status seen.
        status: String,
        /// How long the client waited.
        waited_secs: u64,
    },
    /// Azure OpenAI's data plane has no operation to delete a fine-tuned model.
    #[error(
        "cannot delete model {model}: Azure OpenAI has no data-plane API for deleting a fine-tuned model; delete its deployments and the model in the Azure control plane (portal, ARM or az CLI)"
    )]
    ModelDeletionUnsupported {
        /// The model.
        model: String,
    },
    /// The operation does not exist at this provider.
    #[error("{operation} is not supported by {provider}")]
    Unsupported {
        /// What was asked.
        operation: Operation,
        /// The provider flavour.
        provider: &'static str,
    },
}

fn code_suffix(error: &ApiError) -> String {
    match (&error.code, &error.inner_code) {
        (Some(code), Some(inner)) => format!(" {code} ({inner})"),
        (Some(code), None) => format!(" {code}"),
        (None, Some(inner)) => format!(" {inner}"),
        (None, None) => String::new(),
    }
}

fn message_suffix(error: &ApiError) -> String {
    error
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn request_id_suffix(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

impl ProviderError {
    /// A stable identifier for conditions, events and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidKey(_) => "invalid_api_key",
            Self::InvalidConfig(_) => "invalid_provider_config",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Api { .. } if self.refusal().is_some() => "provider_refused",
            Self::Api { status, error, .. } => match *status {
                400 => "bad_request",
                401 => "authentication_failed",
                403 => "permission_denied",
                404 => "not_found",
                408 => "request_timeout",
                409 => "conflict",
                413 => "payload_too_large",
                422 => "unprocessable_entity",
                300..=399 => "redirect_refused",
                429 if !is_recoverable_status(429, error.code.as_deref()) => "insufficient_quota",
                429 => "rate_limited",
                500..=599 => "server_error",
                _ => "http_error",
            },
            Self::Transport { kind, .. } => match kind {
                TransportKind::Connect => "connect_error",
                TransportKind::Timeout => "timeout",
                TransportKind::Connection => "connection_error",
            },
            Self::Decode { .. } => "unexpected_response",
            Self::ResponseTooLarge { .. } => "response_too_large",
            Self::StreamAborted { .. } => "upload_stream_aborted",
            Self::LengthMismatch { .. } => "upload_length_mismatch",
            Self::TooLarge { .. } => "file_too_large",
            Self::FileProcessingFailed { .. } => "file_processing_failed",
            Self::FileNotReady { .. } => "file_not_ready",
            Self::ModelDeletionUnsupported { .. } => "model_deletion_unsupported",
            Self::Unsupported { .. } => "unsupported_operation",
        }
    }

    /// Whether trying again later can succeed: 429 (except an empty balance), 408, 409, 5xx,
    /// transport failures, and a file still being processed. Validation, auth and not-found
    /// errors are terminal. `x-should-retry` overrides the status, except for a 400 and an auth
    /// rejection (401/403), which are never retried: the same key will be refused again.
    pub fn is_recoverable(&self) -> bool {
        match self {
            Self::Api {
                status,
                error,
                should_retry,
                ..
            } => match (*status, should_retry) {
                (400 | 401 | 403, _) => false,
                _ if self.refusal().is_some() => false,
                (_, Some(hint)) => *hint,
                (status, None) => is_recoverable_status(status, error.code.as_deref()),
            },
            Self::Transport { .. } | Self::FileNotReady { .. } => true,
            _ => false,
        }
    }

    /// The provider refused the credentials (401) or their permissions (403). Distinct from
    /// other terminal errors: nothing about the request is wrong, and the same request can
    /// succeed once the credentials change, so the controller backs off until they do.
    pub fn is_auth_rejected(&self) -> bool {
        matches!(
            self,
            Self::Api {
                status: 401 | 403,
                ..
            }
        )
    }

    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The provider's parsed error, for API errors.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The provider's request id (`x-request-id`), for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The server's retry hint, so a controller can requeue after it.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when the request may have reached the provider and created something although the
    /// client saw a failure (a timeout, a broken connection, or a 5xx other than 503 without
    /// `x-should-retry: true`, on a create).
    /// The caller must look for the object (by upload filename, or by job `metadata`) before
    /// creating it again.
    pub fn outcome_unknown(&self) -> bool {
        let creates = |op: &Operation| op.creates_object();
        match self {
            Self::Transport {
                operation, kind, ..
            } => creates(operation) && *kind != TransportKind::Connect,
            // `x-should-retry: true` is the server saying the request had no effect.
            Self::Api {
                operation,
                status,
                should_retry,
                ..
            } => {
                creates(operation)
                    && matches!(*status, 500..=599 | 408)
                    && *status != 503
                    && *should_retry != Some(true)
            }
            _ => false,
        }
    }

    /// When the provider refused to create a job because fine-tuning is not available to this
    /// organisation or project, or the base model cannot be fine-tuned (retired, never offered),
    /// the provider's error code (or `http_<status>` when it sent none). Terminal: waiting will
    /// not change the answer. OpenAI answers 403 on job creation to organisations that lost
    /// self-serve fine-tuning (since 2026-05-07), and 400/404 with `model_not_available` /
    /// `model_not_found` / `model_deprecated` (param `model`) for a retired base model.
    pub fn refusal(&self) -> Option<String> {
        let Self::Api {
            operation,
            status,
            error,
            ..
        } = self
        else {
            return None;
        };
        if *operation != Operation::CreateJob {
            return None;
        }
        let code = error.code.as_deref().or(error.inner_code.as_deref());
        let refused = match *status {
            403 => true,
            400 | 404 => {
                code.is_some_and(is_refusal_code) || error.param.as_deref() == Some("model")
            }
            _ => false,
        };
        refused.then(|| {
            code.map(str::to_owned)
                .unwrap_or_else(|| format!("http_{status}"))
        })
    }

    pub(crate) fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str, should_retry: Option<bool>) -> ProviderError {
        ProviderError::Api {
            operation: Operation::RetrieveJob,
            status,
            error: Box::new(ApiError::parse(body.as_bytes())),
            request_id: Some("req_123".into()),
            retry_after: None,
            should_retry,
            attempts: 1,
        }
    }

    #[test]
    fn parses_openai_shape() {
        let e = ApiError::parse(
            br#"{"error":{"message":"Training file has 5 examples","type":"invalid_request_error","param":"training_file","code":"invalid_n_examples"}}"#,
        );
        assert_eq!(e.message.as_deref(), Some("Training file has 5 examples"));
        assert_eq!(e.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(e.param.as_deref(), Some("training_file"));
        assert_eq!(e.code.as_deref(), Some("invalid_n_examples"));
        assert_eq!(e.inner_code, None);
    }

    #[test]
    fn parses_openai_shape_with_nulls() {
        let e = ApiError::parse(
            br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":null}}"#,
        );
        assert_eq!(e.code, None);
        assert_eq!(e.param, None);
        assert_eq!(e.message.as_deref(), Some("Incorrect API key provided"));
    }

    #[test]
    fn parses_azure_shapes() {
        let e = ApiError::parse(
            br#"{"error":{"code":"429","message":"Requests to the Fine Tuning API have exceeded call rate limit."}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("429"));
        let e = ApiError::parse(
            br#"{"error":{"code":"content_filter","message":"filtered","param":"prompt","type":null,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("content_filter"));
        assert_eq!(
            e.inner_code.as_deref(),
            Some("ResponsibleAIPolicyViolation")
        );
        let e = ApiError::parse(
            br#"{"statusCode": 401, "message": "Access denied due to invalid subscription key."}"#,
        );
        assert_eq!(
            e.message.as_deref(),
            Some("Access denied due to invalid subscription key.")
        );
        let e = ApiError::parse(br#"{"error":{"code":404,"message":"x"}}"#);
        assert_eq!(e.code.as_deref(), Some("404"));
    }

    #[test]
    fn unparseable_bodies_give_empty_error() {
        assert_eq!(
            ApiError::parse(b"<html>bad gateway</html>"),
            ApiError::default()
        );
        assert_eq!(ApiError::parse(b""), ApiError::default());
        assert_eq!(ApiError::parse(b"[1,2]").message, None);
        let e = ApiError::parse(br#"{"error":"plain words"}"#);
        assert_eq!(e.message.as_deref(), Some("plain words"));
    }

    #[test]
    fn long_messages_are_truncated() {
        let long = "é".repeat(5000);
        let body = serde_json::json!({"error": {"message": long}}).to_string();
        let e = ApiError::parse(body.as_bytes());
        let message = e.message.unwrap();
        assert!(message.len() <= MAX_TEXT_BYTES && message.ends_with('…'));
        let e = ApiError::parse(
            br#"{"error":{"message":"key\r\nX-Injected: 1\u001b[2J","code":"bad\ncode"}}"#,
        );
        assert_eq!(e.message.as_deref(), Some("key X-Injected: 1 [2J"));
        assert_eq!(e.code.as_deref(), Some("bad code"));
    }

    #[test]
    fn classification() {
        for (status, recoverable) in [
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (408, true),
            (409, true),
            (413, false),
            (422, false),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
        ] {
            assert_eq!(
                api(status, "{}", None).is_recoverable(),
                recoverable,
                "{status}"
            );
        }
        let quota = api(
            429,
            r#"{"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}"#,
            None,
        );
        assert!(!quota.is_recoverable());
        assert_eq!(quota.code(), "insufficient_quota");
        assert_eq!(api(429, "{}", None).code(), "rate_limited");
    }

    #[test]
    fn should_retry_header_overrides_except_for_400_and_auth() {
        assert!(!api(500, "{}", Some(false)).is_recoverable());
        assert!(api(404, "{}", Some(true)).is_recoverable());
        assert!(!api(400, "{}", Some(true)).is_recoverable());
        assert!(!api(401, "{}", Some(true)).is_recoverable());
        assert!(!api(403, "{}", Some(true)).is_recoverable());
    }

    #[test]
    fn auth_rejections_are_their_own_class() {
        for status in [401, 403] {
            let e = api(status, "{}", None);
            assert!(e.is_auth_rejected(), "{status}");
            assert!(!e.is_recoverable());
        }
        for status in [400, 404, 422, 429, 500] {
            assert!(!api(status, "{}", None).is_auth_rejected(), "{status}");
        }
        assert_eq!(api(302, "{}", None).code(), "redirect_refused");
        assert!(!api(302, "{}", None).is_recoverable());
    }

    #[test]
    fn transport_errors_are_recoverable() {
        let e = ProviderError::Transport {
            operation: Operation::CreateJob,
            kind: TransportKind::Timeout,
            attempts: 3,
            detail: "operation timed out".into(),
        };
        assert!(e.is_recoverable());
        assert!(e.outcome_unknown());
        assert_eq!(e.code(), "timeout");
        let e = ProviderError::Transport {
            operation: Operation::CreateJob,
            kind: TransportKind::Connect,
            attempts: 3,
            detail: "refused".into(),
        };
        assert!(!e.outcome_unknown());
    }

    #[test]
    fn display_names_code_message_and_request_id() {
        let e = api(
            400,
            r#"{"error":{"message":"bad suffix","code":"invalid_suffix"}}"#,
            None,
        );
        assert_eq!(
            e.to_string(),
            "retrieve_job: HTTP 400 invalid_suffix: bad suffix (request id req_123)"
        );
        assert!(
            ProviderError::ModelDeletionUnsupported { model: "m".into() }
                .to_string()
                .contains("no data-plane API")
        );
    }

    #[test]
    fn outcome_unknown_only_for_creates() {
        let mut e = api(500, "{}", None);
        assert!(!e.outcome_unknown());
        if let ProviderError::Api { operation, .. } = &mut e {
            *operation = Operation::CreateJob;
        }
        assert!(e.outcome_unknown());
        if let ProviderError::Api { should_retry, .. } = &mut e {
            *should_retry = Some(true);
        }
        assert!(!e.outcome_unknown());
        if let ProviderError::Api {
            status,
            should_retry,
            ..
        } = &mut e
        {
            *status = 503;
            *should_retry = None;
        }
        assert!(!e.outcome_unknown());
    }

    fn create(status: u16, body: &str, should_retry: Option<bool>) -> ProviderError {
        let mut e = api(status, body, should_retry);
        if let ProviderError::Api { operation, .. } = &mut e {
            *operation = Operation::CreateJob;
        }
        e
    }

    #[test]
    fn refusals_on_create_are_terminal_and_carry_the_provider_code() {
        // The wind-down answer: 403 on job creation, even with a retry hint.
        let e = create(
            403,
            r#"{"error":{"message":"Fine-tuning is not available for this organization.","type":"invalid_request_error","param":null,"code":"fine_tuning_not_available"}}"#,
            Some(true),
        );
        assert_eq!(e.refusal().as_deref(), Some("fine_tuning_not_available"));
        assert_eq!(e.code(), "provider_refused");
        assert!(!e.is_recoverable());
        // 403 without a code keeps the status.
        assert_eq!(
            create(403, "{}", None).refusal().as_deref(),
            Some("http_403")
        );
        // A retired base model.
        let e = create(
            400,
            r#"{"error":{"message":"Model gpt-3.5-turbo-0613 is not available for fine-tuning or does not exist.","type":"invalid_request_error","param":"model","code":"model_not_available"}}"#,
            None,
        );
        assert_eq!(e.refusal().as_deref(), Some("model_not_available"));
        // Azure's shape, code case-insensitive.
        let e = create(
            400,
            r#"{"error":{"code":"ModelNotSupported","message":"The specified base model does not support fine-tuning."}}"#,
            None,
        );
        assert_eq!(e.refusal().as_deref(), Some("ModelNotSupported"));
    }

    #[test]
    fn other_errors_are_not_refusals() {
        // A validation error on create is terminal but not a refusal.
        let e = create(
            400,
            r#"{"error":{"message":"Training file has 5 examples","type":"invalid_request_error","param":"training_file","code":"invalid_n_examples"}}"#,
            None,
        );
        assert_eq!(e.refusal(), None);
        assert_eq!(e.code(), "bad_request");
        // 403 elsewhere (a file) is a permission problem, not a fine-tuning refusal.
        assert_eq!(api(403, "{}", None).refusal(), None);
        // Rate limits and 5xx on create stay recoverable.
        assert_eq!(create(429, "{}", None).refusal(), None);
        assert!(create(429, "{}", None).is_recoverable());
        assert_eq!(create(500, "{}", None).refusal(), None);
    }
}
