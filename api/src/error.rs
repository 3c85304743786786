//! The one error type of the API. Every failure a client can see is an [`ApiError`]; it renders as an
//! RFC 9457 `application/problem+json` document with a stable machine `code`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait before retrying when a dependency is unavailable.
const RETRY_AFTER_SECS: u32 = 2;

/// Field name → human-readable messages, for 422 answers.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Everything that can go wrong in a request, as the client will see it.
///
/// Variants carry what the client may learn; internal causes are logged (with the request id) and never
/// sent. The `code` of each variant is part of the public API: never rename one.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request is malformed: {0}")]
    BadRequest(String),
    #[error("the request body failed validation")]
    Validation(FieldErrors),
    #[error("authentication is required")]
    Unauthenticated(String),
    #[error("{detail}")]
    CredentialRejected { code: &'static str, detail: String },
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{}", .0.detail)]
    PlanLimitReached(PlanLimit),
    #[error("storage limit reached")]
    StorageLimitReached(PlanLimit),
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    #[error("{detail}")]
    FeatureNotInPlan { detail: String, errors: FieldErrors },
    /// A well-formed request that cannot be processed as it stands, with a code of its own (422).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no route matches this path")]
    RouteNotFound,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the resource has changed since it was read")]
    PreconditionFailed,
    #[error("the request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    #[error("billing is not configured")]
    BillingNotConfigured,
    #[error("{0}")]
    PaymentFailed(String),
    /// A change that is granted only once its invoice is paid, which it is not yet (Stripe's pending
    /// updates): nothing changed; the customer pays on the invoice's page.
    #[error("{detail}")]
    PaymentRequired { detail: String, hosted_invoice_url: Option<String> },
    #[error("Stripe is unavailable")]
    StripeUnavailable(#[source] anyhow::Error),
    #[error("Stripe refused the request")]
    StripeRejected(#[source] anyhow::Error),
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] anyhow::Error),
    #[error("the object store is unavailable")]
    ObjectStoreUnavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(anyhow::Error),
}

/// An unexpected failure is a 500, unless somewhere in its chain the database or the object store went
/// away: then it is the outage it really is (503 with `Retry-After`), whichever layer wrapped it. The blob
/// store's keys are our own and a missing blob is not an error there, so whatever else the object store
/// answers means it cannot serve us now (unreachable, refusing, out of space).
impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        let outage = error.chain().any(|cause| {
            cause.downcast_ref::<diesel::r2d2::PoolError>().is_some()
                || cause.downcast_ref::<diesel::result::Error>().is_some_and(is_database_outage)
        });
        let object_store = error.chain().any(|cause| cause.downcast_ref::<object_store::Error>().is_some());
        if outage {
            Self::DatabaseUnavailable(error)
        } else if object_store {
            Self::ObjectStoreUnavailable(error)
        } else {
            Self::Internal(error)
        }
    }
}

/// Whether a diesel error means the database (or the connection to it) is gone rather than the query
/// being wrong: a connection that died mid-query, a transaction that could not be rolled back because of
/// that, a server that is restarting.
fn is_database_outage(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) | Error::BrokenTransactionManager => true,
        Error::DatabaseError(_, info) => is_unavailability_message(info.message()),
        Error::RollbackErrorOnCommit { commit_error, rollback_error } => {
            is_database_outage(commit_error) || is_database_outage(rollback_error)
        }
        other => is_unavailability_message(&other.to_string()),
    }
}

/// Whether a database error message means "the server went away" rather than "the query was wrong".
fn is_unavailability_message(message: &str) -> bool {
    const SIGNS: [&str; 13] = [
        "server closed the connection",
        "connection refused",
        "connection reset",
        "could not connect",
        "could not receive data from server",
        "could not send data to server",
        "connection to server was lost",
        "ssl connection has been closed unexpectedly",
        "broken pipe",
        "terminating connection",
        "the database system is shutting down",
        "no connection to the server",
        "database is locked",
    ];
    let message = message.to_ascii_lowercase();
    SIGNS.iter().any(|sign| message.contains(sign))
}

/// The problem+json body. `errors` appears only on validation failures.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "https://docs.vigil.dev/problems/validation_failed",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "The request body failed validation.",
    "code": "validation_failed",
    "errors": {"email": ["must be a valid email address"]},
    "request_id": "0b9c3f1e-5d1c-4f7e-9f3a-7f5d8e2c1a00"
}))]
pub struct Problem {
    /// A URI naming the problem type; stable per `code`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A human-readable explanation of this occurrence.
    pub detail: String,
    /// A stable machine-readable code, e.g. `validation_failed`, `plan_limit_reached`.
    pub code: String,
    /// Per-field messages, present on `validation_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<FieldErrors>,
    /// On `plan_limit_reached` and `storage_limit_reached`: which limit, the usage, and the tier that would
    /// allow more. For `max_storage_gb`, `max` and `current_usage` are in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_limit: Option<PlanLimit>,
    /// On `payment_required`: Stripe's page where the customer pays the invoice the change waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_invoice_url: Option<String>,
    /// The id of the request, also in the `X-Request-Id` header; quote it when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The details of a `plan_limit_reached` problem.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({"limit": "max_employees", "max": 5, "current_usage": 5, "tier": "FREE", "upgrade_tier": "PRO"}))]
pub struct PlanLimit {
    pub limit: crate::plans::LimitKind,
    /// The tier's value of the limit.
    pub max: i64,
    pub current_usage: i64,
    /// The tier whose limits apply now.
    pub tier: crate::plans::TierCode,
    /// The cheapest tier that would allow the request, if any.
    pub upgrade_tier: Option<crate::plans::TierCode>,
    #[serde(skip)]
    pub detail: String,
}

impl ApiError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::BadRequest(_) => "bad_request",
            Self::Validation(_) => "validation_failed",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::CredentialRejected { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::PlanLimitReached(_) => "plan_limit_reached",
            Self::StorageLimitReached(_) => "storage_limit_reached",
            Self::Refused { code, .. } => code,
            Self::Unprocessable { code, .. } => code,
            Self::FeatureNotInPlan { .. } => "feature_not_in_plan",
            Self::NotFound(_) => "not_found",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict { code, .. } => code,
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::DatabaseUnavailable(_) => "database_unavailable",
            Self::ObjectStoreUnavailable(_) => "object_store_unavailable",
            Self::NotReady(_) => "not_ready",
            Self::BillingNotConfigured => "billing_not_configured",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::PaymentFailed(_) => "payment_failed",
            Self::PaymentRequired { .. } => "payment_required",
            Self::StripeUnavailable(_) => "stripe_unavailable",
            Self::StripeRejected(_) => "stripe_error",
            Self::Internal(_) => "internal_error",
        }
    }

    /// One validation error on one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::from([(field.to_owned(), vec![message.into()])]))
    }

    /// What the client is told. Internal causes are replaced by a generic sentence.
    fn detail(&self) -> String {
        match self {
            Self::Validation(_) => "The request body failed validation.".to_owned(),
            Self::DatabaseUnavailable(_) => "The service is temporarily unavailable. Please retry shortly.".to_owned(),
            Self::ObjectStoreUnavailable(_) => {
                "The image store cannot be reached right now; nothing was changed. Please retry shortly.".to_owned()
            }
            Self::BillingNotConfigured => "Billing is not configured on this server: set STRIPE_SECRET_KEY, \
                STRIPE_PRICE_PRO and STRIPE_PRICE_ENTERPRISE (and STRIPE_WEBHOOK_SECRET for webhooks)."
                .to_owned(),
            Self::PaymentFailed(message) => message.clone(),
            Self::InvalidSignature(reason) => format!("The Stripe-Signature header does not verify: {reason}."),
            Self::StripeUnavailable(_) => "Stripe cannot be reached right now; nothing was changed. Please retry shortly.".to_owned(),
            Self::StripeRejected(_) => {
                "Stripe refused the request; nothing was changed. It has been logged; quote the request id when reporting it."
                    .to_owned()
            }
            Self::PreconditionFailed => "The resource has changed since you read it: its ETag no longer matches If-Match. \
                Read it again, reapply your change and retry."
                .to_owned(),
            Self::Internal(_) => {
                "An unexpected error occurred. It has been logged; quote the request id when reporting it.".to_owned()
            }
            Self::Unauthenticated(detail)
            | Self::Forbidden(detail)
            | Self::MalformedJson(detail)
            | Self::BadRequest(detail)
            | Self::UnsupportedMediaType(detail)
            | Self::NotReady(detail) => detail.clone(),
            Self::Conflict { detail, .. }
            | Self::FeatureNotInPlan { detail, .. }
            | Self::Refused { detail, .. }
            | Self::Unprocessable { detail, .. }
            | Self::PaymentRequired { detail, .. }
            | Self::CredentialRejected { detail, .. } => detail.clone(),
            Self::PlanLimitReached(limit) | Self::StorageLimitReached(limit) => limit.detail.clone(),
            other => {
                let mut text = other.to_string();
                if let Some(first) = text.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                text + "."
            }
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        Problem {
            problem_type: problem_type_uri(self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code().to_owned(),
            errors: match self {
                Self::Validation(fields) | Self::FeatureNotInPlan { errors: fields, .. } => Some(fields.clone()),
                _ => None,
            },
            plan_limit: match self {
                Self::PlanLimitReached(limit) | Self::StorageLimitReached(limit) => Some(limit.clone()),
                _ => None,
            },
            hosted_invoice_url: match self {
                Self::PaymentRequired { hosted_invoice_url, .. } => hosted_invoice_url.clone(),
                _ => None,
            },
            request_id: crate::request_id::current(),
        }
    }
}

/// The `type` URI for a problem code.
pub fn problem_type_uri(code: &str) -> String {
    format!("https://docs.vigil.dev/problems/{code}")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BadRequest(_) | Self::InvalidSignature(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) | Self::InvalidCredentials | Self::CredentialRejected { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_)
            | Self::PlanLimitReached(_)
            | Self::StorageLimitReached(_)
            | Self::Refused { .. }
            | Self::FeatureNotInPlan { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::DatabaseUnavailable(_)
            | Self::ObjectStoreUnavailable(_)
            | Self::NotReady(_)
            | Self::BillingNotConfigured
            | Self::StripeUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::PaymentFailed(_) | Self::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::StripeRejected(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => log::error!("internal error: {cause:#}"),
            Self::DatabaseUnavailable(cause) => log::warn!("database unavailable: {cause:#}"),
            Self::ObjectStoreUnavailable(cause) => log::warn!("object store unavailable: {cause:#}"),
            Self::StripeUnavailable(cause) => log::warn!("Stripe unavailable: {cause:#}"),
            Self::StripeRejected(cause) => log::error!("Stripe refused a request: {cause:#}"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            Self::DatabaseUnavailable(_)
            | Self::ObjectStoreUnavailable(_)
            | Self::NotReady(_)
            | Self::StripeUnavailable(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
            }
            Self::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, *retry_after_secs));
            }
            Self::Unauthenticated(_) | Self::InvalidCredentials | Self::CredentialRejected { .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => Self::NotFound("resource"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info) => {
                Self::Internal(anyhow::anyhow!("unexpected unique violation: {}", info.message()))
            }
            // PostgreSQL cannot store NUL in text (SQLite can); input that slipped past the body check, e.g. in
            // a query string, is the client's mistake, not ours.
            Error::DatabaseError(_, ref info) if info.message().contains("0x00") => {
                Self::BadRequest("Text must not contain NUL characters.".to_owned())
            }
            ref outage if is_database_outage(outage) => Self::DatabaseUnavailable(anyhow::Error::new(error)),
            other => Self::Internal(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        Self::Validation(field_errors(&errors))
    }
}

/// Flattens nested validation errors into `field` / `parent.child` / `list[0].field` keys.
fn field_errors(errors: &validator::ValidationErrors) -> FieldErrors {
    let mut fields = FieldErrors::new();
    collect(errors, "", &mut fields);
    fields
}

fn collect(errors: &validator::ValidationErrors, prefix: &str, out: &mut FieldErrors) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            validator::ValidationErrorsKind::Field(list) => {
                let messages = out.entry(path).or_default();
                messages.extend(list.iter().map(|error| match &error.message {
                    Some(message) => message.to_string(),
                    None => default_message(error),
                }));
            }
            validator::ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            validator::ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// A readable sentence for validator's built-in codes, so a rule without a custom message still explains
/// itself.
fn default_message(error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(ToString::to_string);
    match error.code.as_ref() {
        "email" => "must be a valid email address".to_owned(),
        "url" => "must be a valid URL".to_owned(),
        "required" => "is required".to_owned(),
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max} characters long"),
            (Some(min), None) => format!("must be at least {min} characters long"),
            (None, Some(max)) => format!("must be at most {max} characters long"),
            (None, None) => "has an invalid length".to_owned(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            (None, None) => "is out of range".to_owned(),
        },
        other => format!("is invalid ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error};

    use super::ApiError;

    struct Message(&'static str);

    impl DatabaseErrorInformation for Message {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn database_error(kind: DatabaseErrorKind, message: &'static str) -> Error {
        Error::DatabaseError(kind, Box::new(Message(message)))
    }

    #[test]
    fn a_connection_that_dies_mid_query_is_an_outage_not_a_bug() {
        let died = || {
            database_error(
                DatabaseErrorKind::Unknown,
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
            )
        };
        let lost =
            database_error(DatabaseErrorKind::Unknown, "could not receive data from server: Connection reset by peer");
        let cases = [
            died(),
            lost,
            database_error(DatabaseErrorKind::ClosedConnection, "connection closed"),
            Error::BrokenTransactionManager,
            Error::RollbackErrorOnCommit { commit_error: Box::new(died()), rollback_error: Box::new(died()) },
        ];
        for error in cases {
            let shown = format!("{error:?}");
            assert_eq!(ApiError::from(error).status_code().as_u16(), 503, "{shown}");
        }
        let wrapped = anyhow::Error::new(died()).context("Failed to record the event");
        assert_eq!(ApiError::from(wrapped).code(), "database_unavailable");
    }

    #[test]
    fn a_wrong_query_stays_a_500() {
        let wrong = database_error(DatabaseErrorKind::Unknown, "column \"nope\" does not exist");
        assert_eq!(ApiError::from(wrong).status_code().as_u16(), 500);
        assert_eq!(ApiError::from(anyhow::anyhow!("a bug")).code(), "internal_error");
    }
}
