//! Changes of the customer at Stripe that Vigil stores first: the billing email and the tax id (with the
//! auto-renewal switch of the settings). Each is recorded and audited under the company lock, then Stripe's
//! customer is brought to what is stored (`customer_sync`); should Stripe fail, the change is undone, and
//! the undo audited too.

use super::changes::{BillingActor, cancel, ensure_customer, no_subscription, operation_key, resume, subscription_row};
use super::customer_sync::{self, ConvergeFailure};
use super::model::{BillingDashboard, BillingSettingsRequest, TaxId};
use super::store::WantedCustomer;
use super::{service, store};
use crate::audit::model::AuditEvent;
use crate::db::{self, DbPool, write_transaction};
use crate::error::ApiError;
use crate::http::precondition::{IfMatch, Tagged};
use crate::ids::CompanyId;
use crate::stripe::{StripeFailure, StripeSetup};

/// Auto-renewal and the billing email; the email is changed at Stripe first when a customer exists.
///
/// `If-Match` is compared before anything is sent to Stripe, and again under the company's lock when the
/// email is written, so a change made meanwhile is refused rather than overwritten (Stripe's customer then
/// has the refused email until the next change; the lock is never held across a call to Stripe). The
/// renewal flag is Stripe's to keep: it is checked before the call only.
pub async fn update_settings(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: &BillingActor,
    request: BillingSettingsRequest,
    if_match: IfMatch,
) -> Result<Tagged<BillingDashboard>, ApiError> {
    let (company, expected) = (actor.company.clone(), if_match.clone());
    db::run(pool, move |conn| expected.check(&service::settings(conn, &company)?.etag)).await?;
    // Refuse what cannot be done before changing anything.
    if request.auto_renewal.is_some() {
        setup.gateway()?;
        if !subscription_row(pool, &actor.company).await?.has_live_stripe_subscription() {
            return Err(no_subscription());
        }
    }
    if let Some(email) = request.billing_email.as_deref().map(crate::ids::normalize_email) {
        // The email is recorded first, under the lock and against If-Match, and Stripe's customer is then
        // brought to what is stored (`customer_sync`), so changes that race end with Stripe holding the one
        // Vigil shows. Should Stripe fail, the change is undone and the sweep puts back whatever reached it.
        let (company, stored, audit) = (actor.company.clone(), email, actor.audit.clone());
        let (before, version) = db::run(pool, move |conn| {
            write_transaction(conn, |conn| {
                crate::db::lock_company(conn, &company)?;
                if_match.check(&service::settings(conn, &company)?.etag)?;
                let before = store::find_wanted_customer(conn, &company)?;
                let version = store::set_billing_email(conn, &company, Some(&stored), crate::db::now())?;
                // Audited with the record, under the lock: changes that race are logged in the order they
                // were recorded, the one that stands last.
                let event =
                    AuditEvent::new("billing.email_changed").details(serde_json::json!({"billing_email": stored}));
                crate::audit::record(conn, &audit.in_company(&company), event)?;
                Ok::<_, ApiError>((before, version))
            })
        })
        .await?;
        if let Err(failure) = bring_customer_to_stored(pool, setup, &actor.company).await {
            undo_customer_change(pool, actor, version, before, Undo::Email).await?;
            return Err(failure.into());
        }
    }
    match request.auto_renewal {
        Some(true) => drop(resume(pool, setup, actor).await?),
        Some(false) => drop(cancel(pool, setup, actor).await?),
        None => {}
    }
    let (company, configured, hold) = (actor.company.clone(), setup.is_configured(), setup.retention_hold_days);
    db::run(pool, move |conn| {
        let dashboard = service::dashboard(conn, &company, configured, hold)?;
        Ok(service::settings(conn, &company)?.map(|_| dashboard))
    })
    .await
}

/// Sets the company's tax id, replacing any previous one. Stripe validates the type and the number, so the
/// tax id is first created at Stripe (a value it refuses is a 422 on `value`, and nothing is recorded: a
/// refused value is never wanted, so no later convergence trips over it). Then it is recorded, and Stripe's
/// customer is brought to what is stored (`customer_sync`), which keeps the one created (matched by value)
/// and deletes every other.
pub async fn set_tax_id(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: &BillingActor,
    tax_id: TaxId,
) -> Result<TaxId, ApiError> {
    let gateway = setup.gateway()?;
    let customer = ensure_customer(pool, setup, actor).await?;
    let kind = tax_id.kind.trim().to_ascii_lowercase();
    let value = tax_id.value.trim().to_owned();
    // Should the process stop between the creation and the record, the sweep brings Stripe back to what is
    // stored, deleting the tax id this left there.
    let company = actor.company.clone();
    db::run(pool, move |conn| Ok(store::mark_customer_in_doubt(conn, &company)?)).await?;
    let created = match gateway.create_tax_id(&customer, &kind, &value, &operation_key("tax-id", &actor.company)).await
    {
        Ok(created) => created,
        Err(StripeFailure::Rejected { status: 400, message }) => return Err(ApiError::invalid_field("value", message)),
        Err(other) => return Err(other.into()),
    };
    let details = serde_json::json!({"type": kind, "value": value});
    let event = AuditEvent::new("billing.tax_id_set").details(details);
    let recorded = record_tax_id(pool, actor, Some((kind.clone(), value.clone())), event).await;
    let (before, version) = match recorded {
        Ok(recorded) => recorded,
        Err(error) => {
            // Not recorded: the tax id just created must not stay on the invoices.
            let key = operation_key("tax-id-delete", &actor.company);
            if let Err(failure) = gateway.delete_tax_id(&customer, &created, &key).await {
                log::warn!("tax id {created} created but not recorded, and not deleted at Stripe: {failure}");
            }
            return Err(error);
        }
    };
    if let Err(failure) = bring_customer_to_stored(pool, setup, &actor.company).await {
        undo_customer_change(pool, actor, version, before, Undo::TaxId).await?;
        return Err(failure.into());
    }
    Ok(TaxId { kind, value })
}

/// Removes the company's tax id: recorded first, then deleted at Stripe (with any other found there).
pub async fn remove_tax_id(pool: &DbPool, setup: &StripeSetup, actor: &BillingActor) -> Result<(), ApiError> {
    let company = actor.company.clone();
    let row = db::run(pool, move |conn| Ok(crate::companies::find_company(conn, &company)?)).await?;
    if row.tax_id_value.is_none() && row.stripe_tax_id.is_none() {
        return Ok(());
    }
    let event = AuditEvent::new("billing.tax_id_removed");
    let (before, version) = record_tax_id(pool, actor, None, event).await?;
    if let Err(failure) = bring_customer_to_stored(pool, setup, &actor.company).await {
        undo_customer_change(pool, actor, version, before, Undo::TaxId).await?;
        return Err(failure.into());
    }
    Ok(())
}

/// Records the wanted tax id under the company's lock, and audits it with the record (changes that race are
/// logged in the order they were recorded); returns what it replaced and the new version.
async fn record_tax_id(
    pool: &DbPool,
    actor: &BillingActor,
    tax_id: Option<(String, String)>,
    event: AuditEvent<'static>,
) -> Result<(WantedCustomer, i64), ApiError> {
    let (company, audit) = (actor.company.clone(), actor.audit.clone());
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            crate::db::lock_company(conn, &company)?;
            let before = store::find_wanted_customer(conn, &company)?;
            let wanted = tax_id.as_ref().map(|(kind, value)| (kind.as_str(), value.as_str()));
            let version = store::set_tax_id(conn, &company, wanted, crate::db::now())?;
            crate::audit::record(conn, &audit.in_company(&company), event)?;
            Ok((before, version))
        })
    })
    .await
}

/// Brings Stripe's customer to what is stored, when Stripe is configured; without keys there is no customer
/// to bring, and what is stored waits for the sweep.
async fn bring_customer_to_stored(
    pool: &DbPool,
    setup: &StripeSetup,
    company: &CompanyId,
) -> Result<(), ConvergeFailure> {
    let Ok(gateway) = setup.gateway() else { return Ok(()) };
    customer_sync::converge(pool, gateway, company).await.map(drop)
}

/// Which part of the customer a failed change touched, and so what its undo puts back.
#[derive(Clone, Copy)]
enum Undo {
    Email,
    TaxId,
}

/// Undoes a recorded email or tax id change whose call to Stripe failed, unless a later change was recorded
/// meanwhile (that one stands). The undo is a change of its own: the sweep brings Stripe back to it, whatever
/// of the failed change reached Stripe. Only the field the change touched is put back, so a failed tax id
/// change leaves the settings' ETag alone.
async fn undo_customer_change(
    pool: &DbPool,
    actor: &BillingActor,
    version: i64,
    before: WantedCustomer,
    undo: Undo,
) -> Result<(), ApiError> {
    let (company, audit) = (actor.company.clone(), actor.audit.clone());
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            crate::db::lock_company(conn, &company)?;
            if store::find_wanted_customer(conn, &company)?.customer_version != version {
                return Ok(());
            }
            let now = crate::db::now();
            let action = match undo {
                Undo::Email => {
                    store::set_billing_email(conn, &company, before.billing_email.as_deref(), now)?;
                    "billing.email_change_undone"
                }
                Undo::TaxId => {
                    let tax_id = before.tax_id_type.as_deref().zip(before.tax_id_value.as_deref());
                    store::set_tax_id(conn, &company, tax_id, now)?;
                    "billing.tax_id_change_undone"
                }
            };
            // The change was audited when recorded; that Stripe refused it, and what stands again, is too.
            crate::audit::record(
                conn,
                &audit.in_company(&company),
                AuditEvent::new(action).details(undone(&before, undo)),
            )?;
            Ok(())
        })
    })
    .await
}

/// What an undo put back, for its audit entry.
fn undone(before: &WantedCustomer, undo: Undo) -> serde_json::Value {
    match undo {
        Undo::Email => serde_json::json!({"billing_email": before.billing_email}),
        Undo::TaxId => serde_json::json!({"type": before.tax_id_type, "value": before.tax_id_value}),
    }
}
