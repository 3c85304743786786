//! The OpenAPI 3.1 document: collected from the registered routes, completed with the error responses
//! every operation can give, and checked against the committed `openapi/openapi.json`.

use std::path::Path;

use actix_web::App;
use serde_json::json;
use utoipa::openapi::Required;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Header, OpenApi as OpenApiDoc, Ref, RefOr};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{PROBLEM_JSON, Problem, problem_type_uri};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil API",
        description = "Billing, alerts and workforce management for Vigil tenants. Errors are RFC 9457 \
            `application/problem+json` documents with a stable `code`; see docs/API.md. Every response under the \
            general rate limit carries `RateLimit-Policy: \"default\";q=<per minute>;w=60` and \
            `RateLimit: \"default\";r=<left>;t=<seconds until whole>` (draft-ietf-httpapi-ratelimit-headers); a \
            429 adds `Retry-After`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem)),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "auth", description = "Sign-up, sessions and the current user"),
        (name = "users", description = "The company's users and their roles"),
        (name = "api-keys", description = "API keys for integrators"),
        (name = "audit", description = "The append-only audit log"),
        (name = "billing", description = "Plans, subscriptions and invoices"),
        (name = "employees", description = "The people a company monitors"),
        (name = "agents", description = "Desktop agents and their enrollment tokens, for admins"),
        (name = "agent", description = "What desktop agents call, with an enrollment token or their agent secret"),
        (name = "policy", description = "The server-driven agent policy"),
        (name = "alerts", description = "Alerts, read state, resolution and the live stream"),
        (name = "stripe", description = "Stripe's webhook deliveries and the log of received events"),
        (name = "webhooks", description = "Endpoints the company's events are sent to (Standard Webhooks), and their delivery log"),
        (name = "events", description = "The company's events of the last 30 days, as its webhooks send them"),
    ),
)]
struct ApiDoc;

/// The complete OpenAPI document of the API whose routes `routes` registers (`app::routes`: this module
/// is fed the route list rather than importing the app, which imports it).
pub fn spec(routes: impl FnOnce(&mut ServiceConfig)) -> OpenApiDoc {
    let (_, mut doc) = App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(routes).split_for_parts();
    add_error_responses(&mut doc);
    doc
}

/// The document as committed: pretty JSON with a final newline.
pub fn spec_json(routes: impl FnOnce(&mut ServiceConfig)) -> anyhow::Result<String> {
    Ok(spec(routes).to_pretty_json()? + "\n")
}

/// Compares a committed snapshot with what the code generates now from `routes`.
pub fn check_snapshot(path: &Path, routes: impl FnOnce(&mut ServiceConfig)) -> anyhow::Result<()> {
    let committed = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}; run `make openapi`", path.display()))?;
    if committed != spec_json(routes)? {
        anyhow::bail!("{} is stale: the API changed; run `make openapi` and commit the result", path.display());
    }
    Ok(())
}

/// A reusable problem response: (component name, status, description, code, example detail).
struct ProblemResponse {
    name: &'static str,
    status: u16,
    description: &'static str,
    code: &'static str,
    detail: &'static str,
}

const PROBLEMS: [ProblemResponse; 12] = [
    ProblemResponse {
        name: "Unauthenticated",
        status: 401,
        description: "No valid access token or API key (`account_disabled` for the token of a user disabled since)",
        code: "unauthenticated",
        detail: "The access token is invalid or has expired.",
    },
    ProblemResponse {
        name: "Forbidden",
        status: 403,
        description: "The caller's role or API key scope does not allow this",
        code: "forbidden",
        detail: "This action needs the OWNER or ADMIN role.",
    },
    ProblemResponse {
        name: "MalformedRequest",
        status: 400,
        description: "The body is not valid JSON, or a parameter is malformed",
        code: "malformed_json",
        detail: "The body is not valid JSON: EOF while parsing an object at line 1 column 10.",
    },
    ProblemResponse {
        name: "NotFound",
        status: 404,
        description: "No such object in the caller's company",
        code: "not_found",
        detail: "Resource not found.",
    },
    ProblemResponse {
        name: "PayloadTooLarge",
        status: 413,
        description: "The body is larger than 1 MiB",
        code: "payload_too_large",
        detail: "The request body is larger than 1048576 bytes.",
    },
    ProblemResponse {
        name: "UnsupportedMediaType",
        status: 415,
        description: "The body is not sent as application/json",
        code: "unsupported_media_type",
        detail: "Send the body as JSON with Content-Type: application/json.",
    },
    ProblemResponse {
        name: "ValidationFailed",
        status: 422,
        description: "The body failed validation; `errors` names each field",
        code: "validation_failed",
        detail: "The request body failed validation.",
    },
    ProblemResponse {
        name: "IdempotencyKeyInUse",
        status: 409,
        description: "A request with the same `Idempotency-Key` is still running (`idempotency_key_in_use`)",
        code: "idempotency_key_in_use",
        detail: "A request with this Idempotency-Key is still running; retry after it ends.",
    },
    ProblemResponse {
        name: "IdempotencyKeyReused",
        status: 422,
        description: "The `Idempotency-Key` was used with another request (`idempotency_key_reused`)",
        code: "idempotency_key_reused",
        detail: "This Idempotency-Key was used with another request; use a new key for a new request.",
    },
    ProblemResponse {
        name: "RateLimited",
        status: 429,
        description: "Too many requests from this client (`RATE_LIMIT_PER_MINUTE`); retry after `Retry-After` seconds",
        code: "rate_limited",
        detail: "Too many requests.",
    },
    ProblemResponse {
        name: "InternalError",
        status: 500,
        description: "An unexpected error; it is logged with the request id",
        code: "internal_error",
        detail: "An unexpected error occurred. It has been logged; quote the request id when reporting it.",
    },
    ProblemResponse {
        name: "ServiceUnavailable",
        status: 503,
        description: "The database is unreachable or busy; retry after `Retry-After` seconds",
        code: "database_unavailable",
        detail: "The service is temporarily unavailable. Please retry shortly.",
    },
];

/// The fields of draft-ietf-httpapi-ratelimit-headers on every rate-limited response (see
/// `crate::http::rate_limit`).
const RATE_LIMIT_FIELDS: [(&str, &str); 2] = [
    ("RateLimit-Policy", "The quota per client and its window in seconds, e.g. `\"default\";q=600;w=60`"),
    ("RateLimit", "Requests left and the seconds until the budget is whole again, e.g. `\"default\";r=0;t=58`"),
];

fn problem_response(problem: &ProblemResponse) -> Response {
    let mut example = json!({
        "type": problem_type_uri(problem.code),
        "title": actix_web::http::StatusCode::from_u16(problem.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error"),
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        "request_id": "0b9c3f1e-5d1c-4f7e-9f3a-7f5d8e2c1a00",
    });
    if problem.status == 422 {
        example["errors"] = json!({"email": ["must be a valid email address"]});
    }
    let content =
        ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name()))).example(Some(example)).build();
    let mut response = ResponseBuilder::new().description(problem.description).content(PROBLEM_JSON, content);
    if problem.status == 503 || problem.status == 429 {
        response = response.header("Retry-After", Header::new(u32::schema()));
    }
    if problem.status == 429 {
        for (name, description) in RATE_LIMIT_FIELDS {
            response = response.header(
                name,
                HeaderBuilder::new().schema(Some(String::schema())).description(Some(description)).build(),
            );
        }
    }
    response.build()
}

/// The `{name}` segments of a path template.
fn path_parameter_names(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}')).collect()
}

/// Declares every path parameter (all are UUIDs) on the operations of a templated path, unless the route
/// declared it itself.
fn add_path_parameters(path: &str, operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for name in path_parameter_names(path) {
        let declared = parameters
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if p.name == name && p.parameter_in == ParameterIn::Path));
        if declared {
            continue;
        }
        let described = name.trim_end_matches("_id").replace('_', " ");
        parameters.push(RefOr::T(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(format!("The id of the {described}")))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::Custom("uuid".to_owned()))),
                ))
                .build(),
        ));
    }
}

/// Completes every operation from its shape, so that no route can forget it: its path parameters, and the
/// error responses that follow from them. Every `/api/v1` operation may fail with 429 (but Stripe's webhook),
/// 500 and 503; one with a
/// body, path or query parameters with 400; one with a body with 413, 415 and 422; one with query parameters
/// with 422; one that needs credentials with 401 and 403; one with path parameters with 404.
fn add_error_responses(doc: &mut OpenApiDoc) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".to_owned(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An access token from /api/v1/auth/login, or an API key (`vigil_sk_…`)"))
                .build(),
        )),
    );
    components.security_schemes.insert(
        "agent_secret".to_owned(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A desktop agent's secret (`vigil_ag_…`) from /api/v1/agent/enroll"))
                .build(),
        )),
    );
    for problem in &PROBLEMS {
        components.responses.insert(problem.name.to_owned(), RefOr::T(problem_response(problem)));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        // The legacy webhook path sits outside /api/v1 but records events like the current one.
        let uses_database =
            (path.starts_with("/api/v1/") && path != "/api/v1/openapi.json") || path.starts_with("/api/stripe/");
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            add_path_parameters(path, operation);
            let mut wanted = Vec::new();
            if operation.request_body.is_some() {
                wanted.extend(["MalformedRequest", "PayloadTooLarge", "UnsupportedMediaType", "ValidationFailed"]);
            }
            let has_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
            if has_query {
                // A value of the wrong type is 422; a NUL character anywhere in the query string is 400.
                wanted.extend(["ValidationFailed", "MalformedRequest"]);
            }
            if operation.security.as_ref().is_some_and(|requirements| !requirements.is_empty()) {
                wanted.extend(["Unauthenticated", "Forbidden"]);
            }
            if path.contains('{') {
                wanted.extend(["MalformedRequest", "NotFound"]);
            }
            if uses_database {
                wanted.extend(["InternalError", "ServiceUnavailable"]);
            }
            if path.starts_with("/api/v1/") && !crate::http::rate_limit::is_exempt(path) {
                wanted.push("RateLimited");
            }
            add_responses(operation, &wanted);
        }
        if path.starts_with("/api/v1/") {
            let writes = [&mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            // Without credentials there is no one the key could belong to (sign-up, sign-in, enrolment).
            let authenticated = |operation: &&mut Operation| {
                operation.security.as_ref().is_some_and(|requirements| !requirements.is_empty())
                    && !path.starts_with("/api/v1/auth/")
            };
            for operation in writes.into_iter().flatten().filter(authenticated) {
                add_idempotency_key(operation);
            }
        }
    }
}

/// The `Idempotency-Key` header every write takes (see `crate::http::idempotency`), and what it can answer.
fn add_idempotency_key(operation: &mut Operation) {
    operation.parameters.get_or_insert_with(Vec::new).push(RefOr::T(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe: the first answer to this key (per company, or per agent) is kept for 24 hours \
                 and given again, with `Idempotent-Replayed: true`, to a retry of the same request, which changes \
                 nothing. Another request under the key is 422 `idempotency_key_reused`; a retry while the first \
                 still runs is 409 `idempotency_key_in_use`. The key belongs to the caller (a user with their \
                 role, an API key, an agent); only answers of a handler that ran are kept (not a 5xx, 401, 403, \
                 413, 415 or 429). A kept answer that can no longer be read (the server secret changed) is 422 \
                 `idempotency_answer_unavailable`. Ignored on multipart uploads.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(crate::http::idempotency::MAX_KEY_LEN)),
            ))
            .build(),
    ));
    add_responses(operation, &["MalformedRequest", "IdempotencyKeyInUse", "IdempotencyKeyReused"]);
}

fn add_responses(operation: &mut Operation, names: &[&str]) {
    for name in names {
        let Some(problem) = PROBLEMS.iter().find(|p| p.name == *name) else { continue };
        operation
            .responses
            .responses
            .entry(problem.status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(problem.name)));
    }
}
