//! Sending one event to one endpoint: the outbox handler of `webhook.deliver`. Each attempt is signed
//! afresh (a new `webhook-timestamp`, the same `webhook-id`), recorded in the delivery log, and ends in a
//! retry on Svix's schedule, success, or giving up. Nothing here holds a transaction or the company lock
//! while the request is in flight.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::address::{self, PublicOnlyResolver};
use super::model::{AttemptRow, EndpointRow};
use super::{signing, store};
use crate::alerts::model::{AlertType, NewAlert};
use crate::config::WebhookConfig;
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::outbox::store::{Claimed, Outcome};

/// How much of an answer the delivery log keeps.
const RESPONSE_KEPT_BYTES: usize = 1024;
/// The longest wait a `Retry-After` can ask for.
const MAX_RETRY_AFTER_SECS: i64 = 24 * 3600;
/// An endpoint that has failed every delivery for this long is disabled.
const DISABLE_AFTER_DAYS: i64 = 5;

/// Sends deliveries: one HTTP client (its connection pool shared by every delivery) and the operator's
/// rules.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    config: WebhookConfig,
}

/// What one attempt came to, before it is recorded.
struct Answer {
    status: Option<u16>,
    latency_ms: i32,
    body: Option<String>,
    error: Option<String>,
    retry_after: Option<i64>,
}

impl Answer {
    fn none(error: String, latency_ms: i32) -> Self {
        Self { status: None, latency_ms, body: None, error: Some(error), retry_after: None }
    }

    fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| (200..300).contains(&status))
    }
}

impl Deliverer {
    pub fn new(config: WebhookConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .dns_resolver(PublicOnlyResolver::shared(config.allow_private))
            // A redirect could lead anywhere, inside included: a 3xx is a failed attempt.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("Vigil-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, config })
    }

    /// The outbox handler: one attempt at one delivery.
    pub async fn deliver(&self, pool: DbPool, claimed: Claimed) -> Outcome {
        let Some((event_id, endpoint_id)) = parse_payload(&claimed.payload) else {
            return Outcome::GiveUp("the delivery's payload is unreadable".to_owned());
        };
        let company = CompanyId::from_db(claimed.company_id.clone());
        let found = {
            let (company, event_id, endpoint_id) = (company.clone(), event_id.clone(), endpoint_id.clone());
            db::run(&pool, move |conn| {
                let endpoint = store::find_endpoint(conn, &company, &endpoint_id)?;
                let event = crate::events::store::find(conn, &company, &event_id)?;
                Ok((endpoint, event))
            })
            .await
        };
        let (endpoint, event) = match found {
            Ok((Some(endpoint), Some(event))) => (endpoint, event),
            Ok((None, _)) => return Outcome::GiveUp("the endpoint was deleted".to_owned()),
            Ok((_, None)) => return Outcome::GiveUp("the event is no longer kept".to_owned()),
            Err(error) => return retry_soon(format!("could not read the delivery: {error}")),
        };
        if !endpoint.enabled {
            return Outcome::GiveUp("the endpoint is disabled".to_owned());
        }
        if !endpoint.is_meant(&event) {
            return Outcome::GiveUp("the endpoint no longer subscribes to this event".to_owned());
        }
        let answer = self.send(&endpoint, &event.id, event.payload.into_bytes()).await;
        let attempts = claimed.attempts;
        let schedule = self.config.retry_schedule.clone();
        let accepted = answer.succeeded();
        let recorded =
            db::run(&pool, move |conn| record(conn, &company, &endpoint, &event_id, &answer, attempts, &schedule))
                .await;
        match recorded {
            Ok(outcome) => outcome,
            // The receiver has it: sending it again for want of a log line would be worse than the gap.
            Err(error) if accepted => {
                log::warn!("a webhook delivery succeeded but its attempt could not be recorded: {error}");
                Outcome::Done
            }
            Err(error) => retry_soon(format!("could not record the attempt: {error}")),
        }
    }

    async fn send(&self, endpoint: &EndpointRow, message_id: &str, body: Vec<u8>) -> Answer {
        let started = Instant::now();
        let elapsed = || i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let url = match url::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(error) => return Answer::none(format!("the URL is invalid: {error}"), 0),
        };
        if let Some(problem) = address::url_problem(&url, self.config.allow_http, self.config.allow_private) {
            return Answer::none(format!("not sent: the URL {problem}"), 0);
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signing::signature_header(&endpoint.signing_secrets(db::now()), message_id, timestamp, &body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return Answer::none(describe_send_error(error), elapsed()),
        };
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get("retry-after").and_then(|value| value.to_str().ok()).and_then(parse_retry_after);
        let mut kept = Vec::new();
        while kept.len() < RESPONSE_KEPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        kept.truncate(RESPONSE_KEPT_BYTES);
        let error = match status {
            200..=299 => None,
            300..=399 => Some("a redirect is not followed: answer the endpoint's URL itself with a 2xx".to_owned()),
            410 => Some("the endpoint answered 410 Gone, which disables it".to_owned()),
            _ => Some(format!("the endpoint answered {status}")),
        };
        Answer {
            status: Some(status),
            latency_ms: elapsed(),
            // PostgreSQL's text holds no NUL, which an endpoint may well answer with.
            body: Some(String::from_utf8_lossy(&kept).replace('\0', "\u{FFFD}")),
            error,
            retry_after,
        }
    }
}

fn parse_payload(payload: &str) -> Option<(String, crate::ids::WebhookEndpointId)> {
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    let event = value.get("event_id")?.as_str()?.to_owned();
    let endpoint = crate::ids::WebhookEndpointId::parse(value.get("endpoint_id")?.as_str()?)?;
    Some((event, endpoint))
}

fn retry_soon(why: String) -> Outcome {
    Outcome::RetryAt(db::now() + chrono::Duration::seconds(30), why)
}

/// Says why a request got no answer, without the URL (it is shown next to the attempt anyway).
fn describe_send_error(error: reqwest::Error) -> String {
    let disallowed = std::iter::successors(Some(&error as &dyn std::error::Error), |cause| cause.source())
        .find_map(|cause| cause.downcast_ref::<address::DisallowedAddress>());
    if let Some(disallowed) = disallowed {
        format!("not sent: {disallowed}")
    } else if error.is_timeout() {
        "no answer within the timeout".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        format!("the request failed: {}", error.without_url())
    }
}

/// `Retry-After` in seconds: a number of seconds, or an HTTP date.
fn parse_retry_after(value: &str) -> Option<i64> {
    let value = value.trim();
    let seconds = match value.parse::<i64>() {
        Ok(seconds) => seconds,
        Err(_) => chrono::DateTime::parse_from_rfc2822(value).ok()?.timestamp() - chrono::Utc::now().timestamp(),
    };
    Some(seconds.clamp(0, MAX_RETRY_AFTER_SECS))
}

/// Records the attempt and what it means for the endpoint, and decides what comes next.
fn record(
    conn: &mut DbConn,
    company: &CompanyId,
    endpoint: &EndpointRow,
    event_id: &str,
    answer: &Answer,
    attempts: i32,
    schedule: &[Duration],
) -> Result<Outcome, ApiError> {
    write_transaction(conn, |conn| {
        let now = db::now();
        store::insert_attempt(
            conn,
            &AttemptRow {
                id: uuid::Uuid::now_v7().to_string(),
                company_id: company.to_string(),
                endpoint_id: endpoint.id.clone(),
                event_id: event_id.to_owned(),
                attempted_at: now,
                status_code: answer.status.map(i32::from),
                latency_ms: answer.latency_ms,
                succeeded: answer.succeeded(),
                response_body: answer.body.clone(),
                error: answer.error.clone(),
            },
        )?;
        if answer.succeeded() {
            store::mark_succeeding(conn, company, &endpoint.id)?;
            return Ok(Outcome::Done);
        }
        let why = answer.error.clone().unwrap_or_else(|| "the attempt failed".to_owned());
        if answer.status == Some(410) {
            disable(conn, company, endpoint, "The endpoint answered 410 Gone.")?;
            return Ok(Outcome::GiveUp(why));
        }
        let failing_since = store::mark_failing(conn, company, &endpoint.id, now)?;
        if failing_since <= now - chrono::Duration::days(DISABLE_AFTER_DAYS) {
            disable(conn, company, endpoint, "Every delivery has failed for 5 days.")?;
            return Ok(Outcome::GiveUp(why));
        }
        Ok(match next_attempt(now, attempts, schedule, answer.retry_after) {
            Some(at) => Outcome::RetryAt(at, why),
            None => Outcome::GiveUp(format!("{why}; no retries left after {attempts} attempts")),
        })
    })
}

/// When to try again after the `attempts`-th attempt failed, on the schedule and no sooner than the
/// endpoint asked; `None` when the schedule has run out.
fn next_attempt(
    now: NaiveDateTime,
    attempts: i32,
    schedule: &[Duration],
    retry_after: Option<i64>,
) -> Option<NaiveDateTime> {
    let step = schedule.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let wait = i64::try_from(step.as_secs()).unwrap_or(i64::MAX).max(retry_after.unwrap_or(0));
    Some(now + chrono::Duration::seconds(wait))
}

/// Disables an endpoint Vigil can no longer deliver to, and tells the owners and admins, once.
fn disable(conn: &mut DbConn, company: &CompanyId, endpoint: &EndpointRow, reason: &str) -> Result<(), ApiError> {
    if !store::disable(conn, company, &endpoint.id, reason)? {
        return Ok(());
    }
    // The alert reaches the company's other endpoints too (as `alert.created`): only the origin, since
    // chat webhooks carry their token in the path.
    let shown = url::Url::parse(&endpoint.url).map(|url| url.origin().ascii_serialization()).unwrap_or_default();
    crate::alerts::service::raise(
        conn,
        company,
        NewAlert {
            kind: AlertType::WebhookEndpointDisabled,
            title: "A webhook endpoint was disabled".to_owned(),
            message: format!(
                "{reason} Vigil stopped sending events to {shown}; fix it, then enable it and recover what it missed."
            ),
            employee: None,
            data: serde_json::json!({"endpoint_id": endpoint.id, "url": shown, "reason": reason}),
            dedup_key: super::model::disabled_condition(&endpoint.id),
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_and_honour_a_longer_retry_after() {
        let now = db::now();
        let schedule = [Duration::from_secs(5), Duration::from_secs(300)];
        assert_eq!(next_attempt(now, 1, &schedule, None), Some(now + chrono::Duration::seconds(5)));
        assert_eq!(next_attempt(now, 1, &schedule, Some(60)), Some(now + chrono::Duration::seconds(60)));
        assert_eq!(next_attempt(now, 2, &schedule, Some(1)), Some(now + chrono::Duration::seconds(300)));
        assert_eq!(next_attempt(now, 3, &schedule, None), None);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(parse_retry_after("120"), Some(120));
        assert_eq!(parse_retry_after("999999999"), Some(MAX_RETRY_AFTER_SECS));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        assert!(parse_retry_after(&later).is_some_and(|secs| (85..=90).contains(&secs)));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
