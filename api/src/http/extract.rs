//! Extractors and their configuration: JSON bodies that are parsed, size-limited and validated, and path
//! and query errors reported as problem+json.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::error::ApiError;

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// A JSON body that has been parsed and then checked with its `Validate` rules.
///
/// Malformed JSON → 400 `malformed_json`; a field of the wrong type or a missing field → 422 naming that
/// field; a failed rule → 422 with every field's messages; a body over the limit → 413.
#[derive(Debug)]
pub struct ValidatedJson<T>(pub T);

impl<T> ValidatedJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for ValidatedJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidatedJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = body.await?.into_inner();
            if let Some(field) = field_with_nul(&value, "") {
                return Err(ApiError::invalid_field(&field, "must not contain NUL characters").into());
            }
            let parsed: T = serde_path_to_error::deserialize(value).map_err(shape_error)?;
            parsed.validate().map_err(ApiError::from)?;
            Ok(Self(parsed))
        })
    }
}

impl<T: utoipa::ToSchema> utoipa::PartialSchema for ValidatedJson<T> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        T::schema()
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for ValidatedJson<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        T::name()
    }
}

/// The path of the first string (or key) holding a NUL character, which PostgreSQL cannot store in text.
fn field_with_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    let here = || if path.is_empty() { "body".to_owned() } else { path.to_owned() };
    match value {
        serde_json::Value::String(text) => text.contains('\0').then(here),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, item)| field_with_nul(item, &format!("{path}[{index}]")))
        }
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if key.contains('\0') { Some(here()) } else { field_with_nul(item, &child) }
        }),
        _ => None,
    }
}

/// A JSON body that may be absent: no body (or an empty one) is `None`; anything else must be valid JSON of
/// the right shape, exactly as with [`ValidatedJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let declared_empty =
            headers.get(actix_web::http::header::CONTENT_LENGTH).is_none_or(|length| length.as_bytes() == b"0");
        if declared_empty && !headers.contains_key(actix_web::http::header::TRANSFER_ENCODING) {
            return Box::pin(async { Ok(Self(None)) });
        }
        let body = ValidatedJson::<T>::from_request(req, payload);
        Box::pin(async move { Ok(Self(Some(body.await?.into_inner()))) })
    }
}

/// A well-formed JSON document that does not fit the expected shape: report the field it concerns.
fn shape_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let message = error.inner().to_string();
    let mut field = error.path().to_string();
    // serde reports a missing field at its parent, with the name only in the message.
    if let Some(missing) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        field = if field == "." { missing.to_owned() } else { format!("{field}.{missing}") };
        return ApiError::invalid_field(&field, "is required");
    }
    let readable = message.split(" at line ").next().unwrap_or(&message).to_owned();
    if field == "." {
        field = "body".to_owned();
    }
    ApiError::invalid_field(&field, readable)
}

/// JSON extraction settings: the body limit and problem+json errors.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(BODY_LIMIT_BYTES).error_handler(|error, _req| json_error(error).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::PayloadTooLarge { limit_bytes: BODY_LIMIT_BYTES }
        }
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.".to_owned())
        }
        JsonPayloadError::Deserialize(inner) if inner.is_data() => ApiError::invalid_field("body", inner.to_string()),
        JsonPayloadError::Deserialize(inner) => {
            ApiError::MalformedJson(format!("The body is not valid JSON: {inner}."))
        }
        other => ApiError::BadRequest(format!("The request body could not be read: {other}.")),
    }
}

/// Raw body settings (webhooks read raw bytes): the same limit.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(BODY_LIMIT_BYTES)
}

/// Path parameter errors (e.g. an id of the wrong form) as problem+json.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error: PathError, _req| {
        ApiError::BadRequest(format!("A path parameter is invalid: {error}.")).into()
    })
}

/// Query string errors as 422 problem+json naming the parameter when possible.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _req| {
        let QueryPayloadError::Deserialize(inner) = &error else {
            return ApiError::BadRequest(format!("The query string is invalid: {error}.")).into();
        };
        ApiError::invalid_field("query", inner.to_string()).into()
    })
}

/// For `Option<Option<T>>` fields with `#[serde(default)]`: absent → `None` (leave as is), `null` →
/// `Some(None)` (clear), a value → `Some(Some(value))`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A query string parsed into `T` and checked with its `Validate` rules, with errors naming the parameter:
/// `?date=+262142-12-31` → 422 `{"errors": {"date": ["must be a day …"]}}`.
#[derive(Debug)]
pub struct ValidatedQuery<T>(pub T);

impl<T> ValidatedQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Validate> FromRequest for ValidatedQuery<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Self).map_err(Into::into))
    }
}

fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let parsed: T = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." { "query".to_owned() } else { field };
        ApiError::invalid_field(&field, error.inner().to_string())
    })?;
    parsed.validate()?;
    Ok(parsed)
}
