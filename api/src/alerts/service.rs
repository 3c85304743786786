//! The one alert service every part of Vigil calls to raise or resolve alerts, inside the transaction of the
//! change that caused them, and the recipients' operations (read, resolve, tickets).

use chrono::Duration;

use super::model::{Alert, AlertFilter, AlertRow, AlertType, MarkedRead, NewAlert, StreamTicket, UnreadCount};
use super::store;
use crate::db::{DbConn, notify};
use crate::error::ApiError;
use crate::events::model::EventType;
use crate::events::service as events;
use crate::http::pagination::{ListRequest, Page};
use crate::ids::{AlertId, CompanyId, UserId};

/// Lifetime of a stream ticket.
const TICKET_TTL_SECS: i64 = 30;

/// Raises an alert for its recipients, unless its condition is already open for them. Returns how many
/// recipients got a new alert. Call inside the transaction of the change that caused it.
pub fn raise(conn: &mut DbConn, company: &CompanyId, alert: NewAlert) -> Result<usize, ApiError> {
    // A recipient who joined after the condition opened gets it too, but the condition is no news.
    let news = !is_open(conn, company, &alert.dedup_key)?;
    let roles = alert.kind.recipients();
    let now = crate::db::now();
    let mut raised = 0;
    for recipient in store::recipients(conn, company, roles)? {
        let row = AlertRow {
            id: AlertId::generate().to_string(),
            company_id: company.to_string(),
            recipient_user_id: recipient,
            alert_type: alert.kind.as_str().to_owned(),
            severity: alert.kind.severity().as_str().to_owned(),
            title: alert.title.clone(),
            message: alert.message.clone(),
            related_employee_id: alert.employee.clone(),
            related_data: alert.data.to_string(),
            dedup_key: alert.dedup_key.clone(),
            read_at: None,
            resolved_at: None,
            created_at: now,
        };
        if store::insert_unless_open(conn, &row)? {
            raised += 1;
        }
    }
    if raised > 0 {
        notify::alerts_changed(conn, company.as_str())?;
    }
    if raised > 0 && news {
        let data = serde_json::json!({"alert": {
            "type": alert.kind.as_str(),
            "severity": alert.kind.severity().as_str(),
            "title": alert.title,
            "message": alert.message,
            "condition": alert.dedup_key,
            "employee_id": alert.employee,
            "details": alert.data,
            "recipients": raised,
        }});
        events::emit(conn, company, EventType::AlertCreated, data)?;
    }
    Ok(raised)
}

/// Whether a condition is open: raised for someone and not resolved.
pub fn is_open(conn: &mut DbConn, company: &CompanyId, dedup_key: &str) -> Result<bool, ApiError> {
    Ok(store::condition_open(conn, company, dedup_key)?)
}

/// Resolves a condition's open alerts (for every recipient). Returns how many were open.
pub fn resolve(conn: &mut DbConn, company: &CompanyId, dedup_key: &str) -> Result<usize, ApiError> {
    let resolved = store::resolve_condition(conn, company, dedup_key, crate::db::now())?;
    if let Some(kind) = resolved.first() {
        notify::alerts_changed(conn, company.as_str())?;
        let data = serde_json::json!({"alert": {"type": kind, "condition": dedup_key, "recipients": resolved.len()}});
        events::emit(conn, company, EventType::AlertResolved, data)?;
    }
    Ok(resolved.len())
}

/// Resolves every open alert of a type in the company.
pub fn resolve_all_of(conn: &mut DbConn, company: &CompanyId, kind: AlertType) -> Result<usize, ApiError> {
    let mut resolved = 0;
    for key in store::open_conditions(conn, company, kind)? {
        resolved += resolve(conn, company, &key)?;
    }
    Ok(resolved)
}

/// A failed payment: PAYMENT_FAILED for owners and admins, once per invoice (or payment) while open.
pub fn payment_failed(
    conn: &mut DbConn,
    company: &CompanyId,
    reference: &str,
    amount: i64,
    currency: &str,
    reason: Option<&str>,
) -> Result<usize, ApiError> {
    let amount_text = crate::money::format_money(amount, currency);
    raise(
        conn,
        company,
        NewAlert {
            kind: AlertType::PaymentFailed,
            title: "A payment failed".to_owned(),
            message: match reason {
                Some(reason) => format!("A payment of {amount_text} could not be collected: {reason}"),
                None => format!(
                    "A payment of {amount_text} could not be collected. Update the payment method to keep the plan."
                ),
            },
            employee: None,
            data: serde_json::json!({"reference": reference, "amount": amount, "currency": currency}),
            dedup_key: format!("payment_failed:{reference}"),
        },
    )
}

/// A later payment succeeded: resolves the open PAYMENT_FAILED of that invoice and says so.
pub fn payment_recovered(
    conn: &mut DbConn,
    company: &CompanyId,
    reference: &str,
    amount: i64,
    currency: &str,
) -> Result<(), ApiError> {
    if resolve(conn, company, &format!("payment_failed:{reference}"))? == 0 {
        return Ok(());
    }
    raise(
        conn,
        company,
        NewAlert {
            kind: AlertType::PaymentRecovered,
            title: "The payment went through".to_owned(),
            message: format!(
                "The payment of {} succeeded after an earlier failure.",
                crate::money::format_money(amount, currency)
            ),
            employee: None,
            data: serde_json::json!({"reference": reference, "amount": amount, "currency": currency}),
            dedup_key: format!("payment_recovered:{reference}"),
        },
    )
    .map(drop)
}

pub fn list(
    conn: &mut DbConn,
    company: &CompanyId,
    user: &UserId,
    filter: &AlertFilter,
    list: &ListRequest,
) -> Result<Page<Alert>, ApiError> {
    let slice = list.slice(|id| Ok(store::created_at_of(conn, company, user, id)?))?;
    let (rows, total) = store::list(conn, company, user, filter, &slice)?;
    Ok(list.page(rows.into_iter().map(Into::into).collect(), total))
}

pub fn unread_count(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> Result<UnreadCount, ApiError> {
    Ok(UnreadCount { unread: store::unread_count(conn, company, user)? })
}

fn find(conn: &mut DbConn, company: &CompanyId, user: &UserId, id: &AlertId) -> Result<AlertRow, ApiError> {
    store::find(conn, company, user, id)?.ok_or(ApiError::NotFound("alert"))
}

/// Marks one of the user's alerts read (a second time changes nothing).
pub fn mark_read(conn: &mut DbConn, company: &CompanyId, user: &UserId, id: &AlertId) -> Result<Alert, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        find(conn, company, user, id)?;
        if store::mark_read(conn, company, user, Some(id), crate::db::now())? > 0 {
            notify::alerts_changed(conn, company.as_str())?;
        }
        Ok(find(conn, company, user, id)?.into())
    })
}

pub fn mark_all_read(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> Result<MarkedRead, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let marked = store::mark_read(conn, company, user, None, crate::db::now())?;
        if marked > 0 {
            notify::alerts_changed(conn, company.as_str())?;
        }
        Ok(MarkedRead { marked: i64::try_from(marked).unwrap_or(i64::MAX) })
    })
}

/// Resolves the condition of one of the user's alerts, for everyone it was raised for.
pub fn resolve_alert(conn: &mut DbConn, company: &CompanyId, user: &UserId, id: &AlertId) -> Result<Alert, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let row = find(conn, company, user, id)?;
        resolve(conn, company, &row.dedup_key)?;
        Ok(find(conn, company, user, id)?.into())
    })
}

/// A single-use ticket for the alert stream.
pub fn issue_ticket(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> Result<StreamTicket, ApiError> {
    let ticket = format!("vigil_st_{}", crate::crypto::random_token(40));
    store::insert_ticket(
        conn,
        company,
        user,
        &crate::crypto::sha256_hex(&ticket),
        crate::db::now() + Duration::seconds(TICKET_TTL_SECS),
    )?;
    Ok(StreamTicket { ticket, expires_in: TICKET_TTL_SECS })
}

/// Trades a ticket for the stream's owner.
pub fn redeem_ticket(conn: &mut DbConn, ticket: &str) -> Result<(CompanyId, UserId), ApiError> {
    let (company, user) = store::redeem_ticket(conn, &crate::crypto::sha256_hex(ticket), crate::db::now())?
        .ok_or_else(|| {
            ApiError::Unauthenticated("The stream ticket is unknown, used or expired; ask for a new one.".to_owned())
        })?;
    Ok((CompanyId::from_db(company), UserId::from_db(user)))
}

/// Resolves an agent's AGENT_OFFLINE alert (raised by the offline sweep) when it is heard from again.
pub fn agent_back(conn: &mut DbConn, company: &CompanyId, agent: &str) -> Result<(), ApiError> {
    resolve(conn, company, &format!("agent_offline:{agent}")).map(drop)
}
