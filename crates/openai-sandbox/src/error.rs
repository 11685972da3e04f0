//! API errors. Handlers return an [`ApiError`]; the front-door middleware renders it in the
//! flavour of the request: OpenAI's `{error:{message,type,param,code}}` or Azure's
//! `{error:{code,message,...}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    OpenAI,
    Azure,
}

/// Boxed so that `Result<_, ApiError>` stays small.
#[derive(Clone, Debug)]
pub struct ApiError(Box<ApiErrorBody>);

impl std::ops::Deref for ApiError {
    type Target = ApiErrorBody;
    fn deref(&self) -> &ApiErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorBody {
        &mut self.0
    }
}

#[derive(Clone, Debug)]
pub struct ApiErrorBody {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<String>,
    /// Azure's `error.code` (Azure uses codes where OpenAI uses types).
    pub azure_code: Option<String>,
    pub extra_headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(ApiErrorBody {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            azure_code: None,
            extra_headers: Vec::new(),
        }))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
    }

    pub fn param(mut self, p: &str) -> Self {
        self.param = Some(p.to_owned());
        self
    }

    pub fn code(mut self, c: &str) -> Self {
        self.code = Some(c.to_owned());
        self
    }

    pub fn azure(mut self, c: &str) -> Self {
        self.azure_code = Some(c.to_owned());
        self
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.extra_headers.push((name, value));
        self
    }

    pub fn body(&self, flavor: Flavor) -> serde_json::Value {
        match flavor {
            Flavor::OpenAI => json!({"error": {
                "message": self.message, "type": self.kind, "param": self.param, "code": self.code,
            }}),
            Flavor::Azure => {
                let code = self
                    .azure_code
                    .clone()
                    .unwrap_or_else(|| azure_default_code(self.status).to_owned());
                json!({"error": {
                    "code": code, "message": self.message, "param": self.param, "type": self.kind,
                    "inner_error": self.code.as_ref().map(|c| json!({"code": c})),
                }})
            }
        }
    }

    pub fn render(&self, flavor: Flavor) -> Response {
        let mut resp = (self.status, axum::Json(self.body(flavor))).into_response();
        for (name, value) in &self.extra_headers {
            if let Ok(v) = value.parse() {
                resp.headers_mut().insert(*name, v);
            }
        }
        resp
    }
}

fn azure_default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalidPayload",
        401 => "401",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "conflict",
        429 => "429",
        503 => "ServiceUnavailable",
        _ => "InternalServerError",
    }
}

/// Handlers return the error in an extension; the middleware renders it for the right flavour.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.render(Flavor::OpenAI);
        resp.extensions_mut().insert(self);
        resp
    }
}
