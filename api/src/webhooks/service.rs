//! Webhook endpoint rules: public https URLs, secrets shown once and rotated with an overlap, a test event,
//! the delivery log, and sending again what failed.

use chrono::Duration;

use super::address;
use super::model::{
    CreateWebhookEndpointRequest, CreatedWebhookEndpoint, DeliveriesQueued, EndpointRow, RotatedSecret,
    TestEventQueued, UpdateWebhookEndpointRequest, WebhookAttempt, WebhookEndpoint,
};
use super::{signing, store};
use crate::audit::model::{AuditActor, AuditEvent};
use crate::config::WebhookConfig;
use crate::db::{DbConn, write_transaction};
use crate::error::ApiError;
use crate::events::model::EventType;
use crate::http::pagination::{CursorRequest, Page};
use crate::ids::{CompanyId, EventId, WebhookEndpointId};

/// How long the secret before a rotation still signs deliveries.
const ROTATION_OVERLAP_HOURS: i64 = 24;
/// Endpoints a company may have.
const MAX_ENDPOINTS: i64 = 20;
/// Events one recovery sends again at most; `has_more` says to call again.
const MAX_RECOVERED: i64 = 1_000;
/// The longest endpoint URL, as stored.
const MAX_URL_LEN: usize = 2048;
/// How long the delivery log is kept.
pub const ATTEMPTS_KEPT_DAYS: i64 = 30;

/// Checks an endpoint URL against the operator's rules; the problem is a field error on `url`.
fn checked_url(config: &WebhookConfig, text: &str) -> Result<String, ApiError> {
    let url = url::Url::parse(text.trim()).map_err(|_| ApiError::invalid_field("url", "must be an absolute URL"))?;
    if let Some(problem) = address::url_problem(&url, config.allow_http, config.allow_private) {
        return Err(ApiError::invalid_field("url", problem));
    }
    // Normalising (punycode, percent-encoding) can lengthen it.
    if url.as_str().len() > MAX_URL_LEN {
        return Err(ApiError::invalid_field("url", format!("must be at most {MAX_URL_LEN} characters long")));
    }
    Ok(url.to_string())
}

fn checked_types(types: &[EventType]) -> Result<String, ApiError> {
    if types.contains(&EventType::Ping) {
        return Err(ApiError::invalid_field("event_types", "ping is sent by the test action only"));
    }
    let mut names: Vec<&str> = types.iter().map(|kind| kind.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    serde_json::to_string(&names).map_err(|error| ApiError::Internal(error.into()))
}

fn find(conn: &mut DbConn, company: &CompanyId, id: &WebhookEndpointId) -> Result<EndpointRow, ApiError> {
    store::find_endpoint(conn, company, id)?.ok_or(ApiError::NotFound("webhook endpoint"))
}

/// The endpoint, locked for a change in the caller's transaction.
fn lock(conn: &mut DbConn, company: &CompanyId, id: &WebhookEndpointId) -> Result<EndpointRow, ApiError> {
    store::lock_endpoint(conn, company, id)?.ok_or(ApiError::NotFound("webhook endpoint"))
}

pub fn create(
    conn: &mut DbConn,
    config: &WebhookConfig,
    actor: &AuditActor,
    company: &CompanyId,
    request: &CreateWebhookEndpointRequest,
) -> Result<CreatedWebhookEndpoint, ApiError> {
    let url = checked_url(config, &request.url)?;
    let event_types = checked_types(&request.event_types)?;
    let now = crate::db::now();
    let row = EndpointRow {
        id: WebhookEndpointId::generate().to_string(),
        company_id: company.to_string(),
        url,
        description: request.description.trim().to_owned(),
        event_types,
        enabled: request.enabled.unwrap_or(true),
        disabled_reason: None,
        secret: signing::generate_secret(),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    write_transaction(conn, |conn| {
        crate::db::lock_company(conn, company)?;
        if store::count_endpoints(conn, company)? >= MAX_ENDPOINTS {
            return Err(ApiError::Conflict {
                code: "too_many_webhook_endpoints",
                detail: format!("A company can have {MAX_ENDPOINTS} webhook endpoints; delete one first."),
            });
        }
        store::insert_endpoint(conn, &row)?;
        audit(conn, actor, "webhook_endpoint.created", &row)
    })?;
    let secret = row.secret.clone();
    Ok(CreatedWebhookEndpoint { endpoint: row.into(), secret })
}

fn audit(conn: &mut DbConn, actor: &AuditActor, action: &str, row: &EndpointRow) -> Result<(), ApiError> {
    crate::audit::record(
        conn,
        actor,
        AuditEvent::new(action).target("webhook_endpoint", &row.id).details(serde_json::json!({
            "url": row.url, "event_types": row.wanted_types(), "enabled": row.enabled,
        })),
    )?;
    Ok(())
}

pub fn list(conn: &mut DbConn, company: &CompanyId, cursor: &CursorRequest) -> Result<Page<WebhookEndpoint>, ApiError> {
    let anchor = cursor.anchor(|id| Ok(store::endpoint_created_at(conn, company, id)?))?;
    let rows = store::list_endpoints(conn, company, anchor, cursor.fetch())?;
    Ok(cursor.page(rows.into_iter().map(Into::into).collect()))
}

pub fn get(conn: &mut DbConn, company: &CompanyId, id: &WebhookEndpointId) -> Result<WebhookEndpoint, ApiError> {
    Ok(find(conn, company, id)?.into())
}

pub fn update(
    conn: &mut DbConn,
    config: &WebhookConfig,
    actor: &AuditActor,
    company: &CompanyId,
    id: &WebhookEndpointId,
    request: &UpdateWebhookEndpointRequest,
) -> Result<WebhookEndpoint, ApiError> {
    let url = request.url.as_deref().map(|url| checked_url(config, url)).transpose()?;
    let event_types = request.event_types.as_deref().map(checked_types).transpose()?;
    write_transaction(conn, |conn| {
        let mut row = lock(conn, company, id)?;
        if let Some(url) = url.filter(|url| *url != row.url) {
            // Failures of another URL say nothing of this one.
            row.url = url;
            row.failing_since = None;
        }
        if let Some(types) = event_types {
            row.event_types = types;
        }
        if let Some(description) = &request.description {
            description.trim().clone_into(&mut row.description);
        }
        if let Some(enabled) = request.enabled {
            if enabled && !row.enabled {
                // A fresh start: the failures that disabled it are behind it, and so is its alert.
                row.disabled_reason = None;
                row.failing_since = None;
                crate::alerts::service::resolve(conn, company, &super::model::disabled_condition(&row.id))?;
            }
            row.enabled = enabled;
        }
        row.updated_at = crate::db::now();
        store::save_endpoint(conn, company, &row)?;
        audit(conn, actor, "webhook_endpoint.updated", &row)?;
        Ok(row.into())
    })
}

pub fn delete(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &WebhookEndpointId,
) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let row = lock(conn, company, id)?;
        store::delete_endpoint(conn, company, id)?;
        crate::alerts::service::resolve(conn, company, &super::model::disabled_condition(&row.id))?;
        audit(conn, actor, "webhook_endpoint.deleted", &row)
    })
}

/// A new secret, shown once; the old one keeps signing (beside it) for 24 hours, so that receivers can
/// switch without missing a delivery. A second rotation within the overlap ends the oldest secret.
pub fn rotate_secret(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &WebhookEndpointId,
) -> Result<RotatedSecret, ApiError> {
    write_transaction(conn, |conn| {
        let mut row = lock(conn, company, id)?;
        let now = crate::db::now();
        let expires = now + Duration::hours(ROTATION_OVERLAP_HOURS);
        row.previous_secret = Some(std::mem::replace(&mut row.secret, signing::generate_secret()));
        row.previous_secret_expires_at = Some(expires);
        row.updated_at = now;
        store::save_endpoint(conn, company, &row)?;
        audit(conn, actor, "webhook_endpoint.secret_rotated", &row)?;
        Ok(RotatedSecret { secret: row.secret, previous_secret_expires_at: expires.and_utc() })
    })
}

/// Sends the endpoint a `ping` event, whether or not it subscribes to anything.
pub fn send_test(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &WebhookEndpointId,
) -> Result<TestEventQueued, ApiError> {
    write_transaction(conn, |conn| {
        let row = find(conn, company, id)?;
        audit(conn, actor, "webhook_endpoint.tested", &row)?;
        if !row.enabled {
            return Err(disabled());
        }
        let event_id = crate::events::service::emit_to(
            conn,
            company,
            id,
            EventType::Ping,
            serde_json::json!({"endpoint_id": row.id, "message": "A test event from Vigil."}),
        )?;
        Ok(TestEventQueued { event_id })
    })
}

fn disabled() -> ApiError {
    ApiError::Conflict {
        code: "webhook_endpoint_disabled",
        detail: "The endpoint is disabled; enable it first.".to_owned(),
    }
}

pub fn list_attempts(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &WebhookEndpointId,
    cursor: &CursorRequest,
) -> Result<Page<WebhookAttempt>, ApiError> {
    find(conn, company, id)?;
    let anchor = cursor.anchor(|attempt| Ok(store::attempt_at(conn, company, id.as_str(), attempt)?))?;
    let since = crate::db::now() - Duration::days(ATTEMPTS_KEPT_DAYS);
    let rows = store::list_attempts(conn, company, id.as_str(), since, anchor, cursor.fetch())?;
    Ok(cursor.page(rows.into_iter().map(Into::into).collect()))
}

/// Sends one event to the endpoint again (with the same `webhook-id`), whatever became of it before.
pub fn retry_message(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &WebhookEndpointId,
    event: &EventId,
) -> Result<DeliveriesQueued, ApiError> {
    write_transaction(conn, |conn| {
        let row = find(conn, company, id)?;
        if !row.enabled {
            return Err(disabled());
        }
        let found = crate::events::store::find(conn, company, event.as_str())?.ok_or(ApiError::NotFound("event"))?;
        if !row.is_meant(&found) {
            return Err(ApiError::Conflict {
                code: "event_not_subscribed",
                detail: "The endpoint does not subscribe to this event's type.".to_owned(),
            });
        }
        again(conn, company, id, event)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("webhook_endpoint.message_retried")
                .target("webhook_endpoint", &row.id)
                .details(serde_json::json!({"event_id": event})),
        )?;
        Ok(DeliveriesQueued { queued: 1, has_more: false })
    })
}

fn again(
    conn: &mut DbConn,
    company: &CompanyId,
    endpoint: &WebhookEndpointId,
    event: &EventId,
) -> Result<(), ApiError> {
    let suffix = format!(":again:{}", uuid::Uuid::now_v7().simple());
    crate::events::service::queue_delivery(conn, company, event, endpoint, &suffix)
}

/// Sends again every event since `since` that the endpoint wants and has not received.
pub fn recover(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &WebhookEndpointId,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<DeliveriesQueued, ApiError> {
    let since = since.map_or_else(|| crate::db::now() - Duration::hours(24), |since| since.naive_utc());
    if since < crate::db::now() - Duration::days(crate::events::service::RETENTION_DAYS) {
        return Err(ApiError::invalid_field("since", "must be within the last 30 days: older events are not kept"));
    }
    write_transaction(conn, |conn| {
        let row = lock(conn, company, id)?;
        if !row.enabled {
            return Err(disabled());
        }
        let wanted: Vec<&str> = row.wanted_types().iter().map(|kind| kind.as_str()).collect();
        let found = store::undelivered_events(conn, company, &row, &wanted, since, MAX_RECOVERED + 1)?;
        let has_more = found.len() > MAX_RECOVERED as usize;
        let mut queued = 0;
        for event in found.into_iter().take(MAX_RECOVERED as usize) {
            again(conn, company, id, &EventId::from_db(event))?;
            queued += 1;
        }
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("webhook_endpoint.recovered")
                .target("webhook_endpoint", &row.id)
                .details(serde_json::json!({"since": since.and_utc(), "queued": queued})),
        )?;
        Ok(DeliveriesQueued { queued, has_more })
    })
}

/// Forgets what is older than the events API and the delivery log keep (30 days), and finished outbox
/// rows past it, `batch` rows per transaction. Runs with the retention sweep.
pub fn forget_old(conn: &mut DbConn, batch: i64) -> Result<usize, ApiError> {
    let before = crate::db::now() - Duration::days(ATTEMPTS_KEPT_DAYS);
    let mut forgotten = 0;
    loop {
        let round = store::forget_attempts_before(conn, before, batch)?
            + crate::events::store::forget_before(conn, before, batch)?
            + crate::outbox::store::forget_finished(conn, before, batch)?;
        forgotten += round;
        if round == 0 {
            return Ok(forgotten);
        }
    }
}
