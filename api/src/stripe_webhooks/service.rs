//! Processing Stripe events: verified deliveries, replays and catch-up all go through [`process`], which
//! claims the event id (so it applies once), applies it to the mirror in one transaction with its audit
//! entry, and records the outcome. A failure rolls everything back, is recorded, and answers 5xx so that
//! Stripe delivers again.

use chrono::Utc;

use super::events::{self, Claim, IncomingEvent, Outcome};
use crate::audit::model::{ActorType, AuditActor, AuditEvent};
use crate::billing::mirror::{self, Applied};
use crate::billing::model::{CheckoutStatus, InvoiceStatus, SubscriptionStatus};
use crate::billing::store as billing_store;
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::events::model::EventType;
use crate::ids::CompanyId;
use crate::stripe::StripeSetup;
use crate::stripe::objects::{StripeInvoice, StripeSubscription};

/// What a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Receipt {
    Processed,
    Ignored,
    /// Seen before: acknowledged, not applied again.
    Duplicate,
}

/// What a handler did.
struct Handled {
    outcome: Outcome,
    company: Option<CompanyId>,
    /// A subscription to read from Stripe after the commit, when this event could not be ordered against
    /// another of the same second.
    refetch: Option<String>,
    /// Two subscriptions of the company that may both be live: checked at Stripe after the commit.
    rivals: Vec<String>,
    /// Whether the card on file may have changed: read from Stripe after the commit.
    card: bool,
}

impl Handled {
    fn ignored(company: Option<CompanyId>) -> Self {
        Self { outcome: Outcome::Ignored, company, refetch: None, rivals: Vec::new(), card: false }
    }

    fn processed(company: CompanyId) -> Self {
        Self { outcome: Outcome::Processed, company: Some(company), refetch: None, rivals: Vec::new(), card: false }
    }

    fn card_changed(company: CompanyId) -> Self {
        Self { card: true, ..Self::processed(company) }
    }
}

fn stripe_actor(company: &CompanyId, event: &IncomingEvent) -> AuditActor {
    AuditActor {
        company_id: Some(company.clone()),
        actor_type: ActorType::Stripe,
        actor_id: Some(event.id.clone()),
        client_ip: None,
        request_id: crate::request_id::current(),
    }
}

/// Processes one event exactly once.
pub async fn process(pool: &DbPool, setup: &StripeSetup, event: IncomingEvent) -> Result<Receipt, ApiError> {
    let (setup_for_tx, event_for_tx) = (setup.clone(), event.clone());
    let outcome = db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            let now = crate::db::now();
            if events::claim(conn, &event_for_tx, now)? == Claim::Duplicate {
                return Ok((Receipt::Duplicate, None));
            }
            let handled = handle(conn, &setup_for_tx, &event_for_tx)?;
            events::finish(conn, &event_for_tx.id, handled.outcome, handled.company.as_ref(), now)?;
            let receipt = match handled.outcome {
                Outcome::Ignored => Receipt::Ignored,
                _ => Receipt::Processed,
            };
            Ok((receipt, handled.company.map(|company| (company, handled.refetch, handled.rivals, handled.card))))
        })
    })
    .await;
    if let Ok((_, Some((company, refetch, rivals, card)))) = &outcome {
        // After the commit, never inside it or under the lock. The answer waits for these few calls to
        // Stripe: should they outlast Stripe's patience, the redelivery is acknowledged as a duplicate.
        if let Some(subscription) = refetch {
            refetch_subscription(pool, setup, company, subscription).await;
        }
        if !rivals.is_empty() {
            check_duplicates(pool, setup, company, rivals).await;
        }
        if *card {
            refresh_card(pool, setup, company).await;
        }
    }
    let outcome = outcome.map(|(receipt, _)| receipt);
    if let Err(error) = &outcome {
        log::error!("Stripe event {} ({}) failed: {error}", event.id, event.event_type);
        let description = format!("{}: {}", error.code(), error.problem().detail);
        let recorded = db::run(pool, move |conn| {
            let company = company_named_by(conn, &event.object);
            Ok(events::record_failure(conn, &event, company.as_ref(), &description, crate::db::now())?)
        })
        .await;
        if let Err(not_recorded) = recorded {
            log::error!("the failure could not be recorded either: {not_recorded}");
        }
    }
    outcome
}

/// Reads a subscription from Stripe and applies it, when two events of one second left its state in doubt
/// or Checkout just created it. The read is stamped with the time taken before the request and applied
/// under the company lock, so an event applied while the read was in flight is never overwritten by it. A
/// failure only delays the repair to the next event or resync.
async fn refetch_subscription(pool: &DbPool, setup: &StripeSetup, company: &CompanyId, subscription: &str) {
    let Ok(gateway) = setup.gateway() else { return };
    let read_at = Utc::now().timestamp();
    let fetched = match gateway.retrieve_subscription(subscription).await {
        Ok(fetched) => fetched,
        Err(error) => {
            log::warn!("could not re-read subscription {subscription} from Stripe: {error}");
            return;
        }
    };
    let (setup_for_tx, company_for_tx) = (setup.clone(), company.clone());
    let applied = db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            crate::db::lock_company(conn, &company_for_tx)?;
            let rival = mirror::rival(conn, &setup_for_tx, &company_for_tx, &fetched)?;
            mirror::apply_subscription(conn, &setup_for_tx, &company_for_tx, &fetched, read_at, mirror::News::Fetched)?;
            Ok::<_, ApiError>(rival.map(|rival| vec![rival, fetched.id.clone()]))
        })
    })
    .await;
    match applied {
        Ok(Some(rivals)) => check_duplicates(pool, setup, company, &rivals).await,
        Ok(None) => {}
        Err(error) => log::warn!("could not apply subscription {subscription} read from Stripe: {error}"),
    }
}

/// Reads the card on file from Stripe (see `billing::card`). A failure only delays it to the next event or
/// resync.
async fn refresh_card(pool: &DbPool, setup: &StripeSetup, company: &CompanyId) {
    let Ok(gateway) = setup.gateway() else { return };
    if let Err(error) = crate::billing::card::refresh(pool, gateway, company).await {
        log::warn!("could not read company {company}'s card on file from Stripe: {error}");
    }
}

/// Keeps one live subscription of `rivals` (see `billing::duplicates`). A failure is repaired by the next
/// event of the losing subscription or by the resync.
async fn check_duplicates(pool: &DbPool, setup: &StripeSetup, company: &CompanyId, rivals: &[String]) {
    if let Err(error) = crate::billing::duplicates::resolve(pool, setup, company, rivals).await {
        log::warn!("could not check subscriptions {rivals:?} of company {company} for duplicates: {error}");
    }
}

/// The company an object belongs to: through its linked customer, else through the company id Vigil put in
/// its metadata (or Checkout's `client_reference_id`), which also links the customer. The company is locked
/// for the rest of the transaction: Stripe sends several events about one change at once, and applying them
/// one after the other is what keeps two first sightings of one invoice from both inserting it.
fn company_of(conn: &mut DbConn, customer: Option<&str>, claimed: Option<&str>) -> Result<Option<CompanyId>, ApiError> {
    let company = resolve_company(conn, customer, claimed)?;
    if let Some(company) = &company {
        crate::db::lock_company(conn, company)?;
    }
    Ok(company)
}

fn resolve_company(
    conn: &mut DbConn,
    customer: Option<&str>,
    claimed: Option<&str>,
) -> Result<Option<CompanyId>, ApiError> {
    if let Some(customer) = customer
        && let Some(company) = billing_store::company_of_customer(conn, customer)?
    {
        return Ok(Some(company));
    }
    let Some(company) = claimed.and_then(CompanyId::parse) else { return Ok(None) };
    if crate::accounts::store::find_company(conn, &company).is_err() {
        return Ok(None);
    }
    if let Some(customer) = customer {
        billing_store::link_customer(conn, &company, customer)?;
    }
    Ok(Some(company))
}

/// The company an event's object names, found without writing anything: for recording a failed event
/// (after its processing rolled back) where that company's admins will see it.
fn company_named_by(conn: &mut DbConn, object: &serde_json::Value) -> Option<CompanyId> {
    let customer = match object["object"].as_str() {
        Some("customer") => object["id"].as_str(),
        _ => object["customer"].as_str().or_else(|| object["customer"]["id"].as_str()),
    };
    if let Some(customer) = customer
        && let Ok(Some(company)) = billing_store::company_of_customer(conn, customer)
    {
        return Some(company);
    }
    let claimed = object["client_reference_id"]
        .as_str()
        .or_else(|| object["metadata"]["company_id"].as_str())
        .and_then(CompanyId::parse)?;
    crate::accounts::store::find_company(conn, &claimed).ok().map(|_| claimed)
}

fn handle(conn: &mut DbConn, setup: &StripeSetup, event: &IncomingEvent) -> Result<Handled, ApiError> {
    match event.event_type.as_str() {
        "checkout.session.completed" => checkout_completed(conn, event),
        "checkout.session.expired" => checkout_expired(conn, event),
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.pending_update_applied"
        | "customer.subscription.pending_update_expired" => subscription_changed(conn, setup, event),
        t if t.starts_with("invoice.") => invoice_changed(conn, setup, event),
        "payment_intent.succeeded" | "payment_intent.payment_failed" => payment_intent(conn, event),
        "customer.updated" => customer_updated(conn, event),
        "payment_method.attached"
        | "payment_method.detached"
        | "payment_method.updated"
        | "payment_method.automatically_updated" => payment_method_changed(conn, event),
        _ => Ok(Handled::ignored(None)),
    }
}

/// The customer's invoice default or default source may have changed: the card on file is read again.
fn customer_updated(conn: &mut DbConn, event: &IncomingEvent) -> Result<Handled, ApiError> {
    let customer = &event.object;
    let claimed = customer["metadata"]["company_id"].as_str();
    let Some(company) = company_of(conn, customer["id"].as_str(), claimed)? else {
        return Ok(Handled::ignored(None));
    };
    Ok(Handled::card_changed(company))
}

/// A card was added, removed, or renewed by the bank (`automatically_updated`): the card on file is read
/// again. A detached payment method no longer names its customer; the event's `previous_attributes` does.
fn payment_method_changed(conn: &mut DbConn, event: &IncomingEvent) -> Result<Handled, ApiError> {
    let previous: Option<String> = serde_json::from_str::<serde_json::Value>(&event.payload)
        .ok()
        .and_then(|payload| payload["data"]["previous_attributes"]["customer"].as_str().map(str::to_owned));
    let customer = event.object["customer"].as_str().map(str::to_owned).or(previous);
    let Some(company) = company_of(conn, customer.as_deref(), None)? else { return Ok(Handled::ignored(None)) };
    Ok(Handled::card_changed(company))
}

fn checkout_completed(conn: &mut DbConn, event: &IncomingEvent) -> Result<Handled, ApiError> {
    let session = &event.object;
    let customer = session["customer"].as_str();
    let claimed = session["client_reference_id"].as_str().or_else(|| session["metadata"]["company_id"].as_str());
    let Some(company) = company_of(conn, customer, claimed)? else { return Ok(Handled::ignored(None)) };
    crate::audit::record(
        conn,
        &stripe_actor(&company, event),
        AuditEvent::new("stripe.checkout_completed")
            .target("checkout_session", session["id"].as_str().unwrap_or_default())
            .details(serde_json::json!({
                "customer": customer,
                "subscription": session["subscription"],
            })),
    )?;
    if let Some(id) = session["id"].as_str() {
        billing_store::close_checkout_session(conn, &company, id, CheckoutStatus::Complete, crate::db::now())?;
    }
    // The subscription Checkout created is read from Stripe right after, so the company shows its new plan
    // even before (or without) the subscription's own event; then the card it saved.
    let subscription = session["subscription"].as_str().filter(|id| !id.is_empty()).map(str::to_owned);
    Ok(Handled { refetch: subscription, ..Handled::card_changed(company) })
}

/// An expired session can no longer be paid: the next Checkout opens a new one.
fn checkout_expired(conn: &mut DbConn, event: &IncomingEvent) -> Result<Handled, ApiError> {
    let session = &event.object;
    let claimed = session["client_reference_id"].as_str().or_else(|| session["metadata"]["company_id"].as_str());
    let Some(company) = company_of(conn, session["customer"].as_str(), claimed)? else {
        return Ok(Handled::ignored(None));
    };
    if let Some(id) = session["id"].as_str() {
        billing_store::close_checkout_session(conn, &company, id, CheckoutStatus::Expired, crate::db::now())?;
    }
    Ok(Handled::processed(company))
}

fn subscription_changed(conn: &mut DbConn, setup: &StripeSetup, event: &IncomingEvent) -> Result<Handled, ApiError> {
    let Some(subscription) = StripeSubscription::from_json(&event.object) else { return Ok(Handled::ignored(None)) };
    let claimed = subscription.metadata.get("company_id").map(String::as_str);
    let Some(company) = company_of(conn, subscription.customer.as_deref(), claimed)? else {
        return Ok(Handled::ignored(None));
    };
    let news = match event.event_type.as_str() {
        "customer.subscription.created" => mirror::News::Created,
        "customer.subscription.deleted" => mirror::News::Deleted,
        _ => mirror::News::Updated,
    };
    let doubt = news == mirror::News::Updated && mirror::in_doubt(conn, &company, &subscription.id, event.created)?;
    let rivals: Vec<String> =
        mirror::rival(conn, setup, &company, &subscription)?.into_iter().chain([subscription.id.clone()]).collect();
    let rivals = if rivals.len() == 2 { rivals } else { Vec::new() };
    let Applied::Changed { before, after } =
        mirror::apply_subscription(conn, setup, &company, &subscription, event.created, news)?
    else {
        return Ok(Handled { rivals, ..Handled::ignored(Some(company)) });
    };
    let was_cancelled = before.as_ref().is_some_and(|b| {
        b.status == SubscriptionStatus::Cancelled.as_str() && b.stripe_subscription_id == after.stripe_subscription_id
    });
    // The subscription's default payment method is the card Stripe charges first.
    let card = subscription.default_payment_method.is_some()
        && before.as_ref().is_none_or(|b| b.default_payment_method != subscription.default_payment_method);
    crate::audit::record(
        conn,
        &stripe_actor(&company, event),
        AuditEvent::new("stripe.subscription_synced").target("subscription", &subscription.id).details(
            serde_json::json!({
                "event": event.event_type,
                "from": before.map(|b| serde_json::json!({"tier": b.tier_code, "status": b.status})),
                "to": {"tier": after.tier_code, "status": after.status, "auto_renew": after.auto_renew},
            }),
        ),
    )?;
    subscription_alerts(conn, &company, &subscription, was_cancelled, &after)?;
    Ok(Handled { refetch: doubt.then(|| subscription.id.clone()), rivals, card, ..Handled::processed(company) })
}

/// The alerts a subscription change raises or resolves: SUBSCRIPTION_CANCELLED when it ends, the end of
/// SUBSCRIPTION_EXPIRING when it renews again. (Usage against the tier that now applies is checked by the
/// mirror, on every path that changes it.)
fn subscription_alerts(
    conn: &mut DbConn,
    company: &CompanyId,
    subscription: &StripeSubscription,
    was_cancelled: bool,
    after: &crate::billing::model::SubscriptionRow,
) -> Result<(), ApiError> {
    use crate::alerts::model::{AlertType, NewAlert};
    if after.status == SubscriptionStatus::Cancelled.as_str() && !was_cancelled {
        crate::alerts::service::raise(
            conn,
            company,
            NewAlert {
                kind: AlertType::SubscriptionCancelled,
                title: "The subscription was cancelled".to_owned(),
                message: format!("The {} subscription has ended; the Free plan's limits apply now.", after.tier_code),
                employee: None,
                data: serde_json::json!({"subscription_id": subscription.id, "tier": after.tier_code}),
                dedup_key: format!("subscription_cancelled:{}", subscription.id),
            },
        )?;
    }
    if after.auto_renew || after.status == SubscriptionStatus::Cancelled.as_str() {
        crate::alerts::service::resolve_all_of(conn, company, AlertType::SubscriptionExpiring)?;
    }
    Ok(())
}

fn invoice_changed(conn: &mut DbConn, setup: &StripeSetup, event: &IncomingEvent) -> Result<Handled, ApiError> {
    const MIRRORED: [&str; 8] = [
        "invoice.created",
        "invoice.finalized",
        "invoice.updated",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.voided",
        "invoice.marked_uncollectible",
    ];
    if !MIRRORED.contains(&event.event_type.as_str()) {
        return Ok(Handled::ignored(None));
    }
    let Some(invoice) = StripeInvoice::from_json(&event.object) else { return Ok(Handled::ignored(None)) };
    let Some(company) = company_of(conn, invoice.customer.as_deref(), None)? else { return Ok(Handled::ignored(None)) };
    let applied = mirror::apply_invoice(conn, &company, &invoice, event.created)?;
    let subscription = invoice.subscription_id();
    // The failure alert follows the invoice as mirrored now, not whether this event changed it: a failure
    // redelivered after a later event of the same invoice (a 5xx, then Stripe's retry or a replay) still
    // alerts while the invoice is open, once (the alert is keyed by the invoice); a late failure of an
    // invoice paid, voided or written off meanwhile alarms no one.
    if event.event_type == "invoice.payment_failed" && invoice_is_open(conn, &company, &invoice.id)? {
        // The invoice of a plan change (Vigil makes them with `pending_if_incomplete`) leaves the subscription
        // as it was at Stripe, not past due; when a change was made otherwise and Stripe does make it past
        // due, its `customer.subscription.updated` says so.
        let plan_change = invoice.billing_reason.as_deref() == Some("subscription_update");
        if let (Applied::Changed { .. }, Some(subscription), false) = (&applied, subscription.as_deref(), plan_change) {
            mirror::mark_past_due(conn, setup, &company, subscription, event.created)?;
        }
        let due = invoice.amount_due - invoice.amount_paid;
        let reason = plan_change
            .then_some("it pays for a change of plan, which takes effect once it is paid; the plan is unchanged");
        crate::alerts::service::payment_failed(conn, &company, &invoice.id, due, &invoice.currency, reason)?;
        announce_invoice(conn, &company, EventType::InvoicePaymentFailed, &invoice.id)?;
    }
    // A stale success changes nothing: what it reports was overtaken.
    if let Applied::Changed { .. } = &applied {
        match (event.event_type.as_str(), subscription.as_deref()) {
            ("invoice.paid" | "invoice.payment_succeeded", subscription) => {
                // Paying a plan change's invoice says nothing of the renewal a PAST_DUE subscription still
                // owes (its own `customer.subscription.updated` does): it must not end the grace period.
                let plan_change = invoice.billing_reason.as_deref() == Some("subscription_update");
                if let (Some(subscription), false) = (subscription, plan_change) {
                    mirror::mark_paid_up(conn, setup, &company, subscription, event.created)?;
                }
                crate::alerts::service::payment_recovered(
                    conn,
                    &company,
                    &invoice.id,
                    invoice.amount_paid,
                    &invoice.currency,
                )?;
            }
            // Nothing is owed any more, and nothing was recovered either.
            ("invoice.voided" | "invoice.marked_uncollectible", _) => {
                crate::alerts::service::resolve(conn, &company, &format!("payment_failed:{}", invoice.id))?;
            }
            _ => {}
        }
    }
    if let Applied::Changed { before, after } = &applied {
        crate::audit::record(
            conn,
            &stripe_actor(&company, event),
            AuditEvent::new("stripe.invoice_synced").target("invoice", &invoice.id).details(serde_json::json!({
                "event": event.event_type,
                "from": before.as_ref().map(|b| b.status.clone()),
                "to": after.status,
                "amount_due": after.amount_due,
                "amount_paid": after.amount_paid,
            })),
        )?;
    }
    Ok(if applied.changed() { Handled::processed(company) } else { Handled::ignored(Some(company)) })
}

/// Tells the company's webhooks about an invoice, as it is mirrored now.
fn announce_invoice(
    conn: &mut DbConn,
    company: &CompanyId,
    kind: EventType,
    stripe_invoice: &str,
) -> Result<(), ApiError> {
    let Some(row) = mirrored_invoice(conn, company, stripe_invoice)? else { return Ok(()) };
    let invoice = serde_json::to_value(crate::billing::model::Invoice::from(row))
        .map_err(|error| ApiError::Internal(error.into()))?;
    crate::events::service::emit(conn, company, kind, serde_json::json!({"invoice": invoice}))?;
    Ok(())
}

/// The company's mirrored invoice with this Stripe id, if it is the company's.
fn mirrored_invoice(
    conn: &mut DbConn,
    company: &CompanyId,
    stripe_invoice: &str,
) -> Result<Option<crate::billing::model::InvoiceRow>, ApiError> {
    Ok(billing_store::find_invoice_by_stripe_id(conn, stripe_invoice)?.filter(|row| row.company_id == company.as_str()))
}

/// Whether the company's mirrored invoice is open (not paid, voided or written off).
fn invoice_is_open(conn: &mut DbConn, company: &CompanyId, stripe_invoice: &str) -> Result<bool, ApiError> {
    Ok(mirrored_invoice(conn, company, stripe_invoice)?.is_some_and(|row| row.status == InvoiceStatus::Open.as_str()))
}

fn payment_intent(conn: &mut DbConn, event: &IncomingEvent) -> Result<Handled, ApiError> {
    let intent = &event.object;
    let Some(company) = company_of(conn, intent["customer"].as_str(), None)? else { return Ok(Handled::ignored(None)) };
    let failed = event.event_type == "payment_intent.payment_failed";
    if !failed {
        // Alerts raised before API version 2025-03-31 was handled were keyed by the payment intent when it
        // named no invoice; its success still resolves them.
        let reference = intent["id"].as_str().unwrap_or_default();
        let amount = intent["amount"].as_i64().unwrap_or_default();
        crate::alerts::service::payment_recovered(
            conn,
            &company,
            reference,
            amount,
            intent["currency"].as_str().unwrap_or("usd"),
        )?;
    }
    if failed && let Some(invoice) = intent["invoice"].as_str() {
        // The invoice's own failure event raises the same condition, keyed by the invoice; whichever comes
        // first raises it once. A failure of an invoice already paid, voided or written off (a later attempt
        // succeeded, and its events came first) raises nothing; one not yet mirrored does.
        let settled =
            mirrored_invoice(conn, &company, invoice)?.is_some_and(|row| row.status != InvoiceStatus::Open.as_str());
        if !settled {
            let amount = intent["amount"].as_i64().unwrap_or_default();
            let currency = intent["currency"].as_str().unwrap_or("usd");
            let reason = intent["last_payment_error"]["message"].as_str();
            crate::alerts::service::payment_failed(conn, &company, invoice, amount, currency, reason)?;
        }
    }
    // Since API version 2025-03-31 (Basil) a PaymentIntent no longer names its invoice. Every payment Vigil
    // takes is an invoice's (Checkout and plan changes bill through invoices), and that invoice's
    // `invoice.payment_failed` raises the alert, so a failure naming no invoice is only audited: raising
    // it as well would alert twice for one failed payment.
    crate::audit::record(
        conn,
        &stripe_actor(&company, event),
        AuditEvent::new(if failed { "stripe.payment_failed" } else { "stripe.payment_succeeded" })
            .target("payment_intent", intent["id"].as_str().unwrap_or_default())
            .details(serde_json::json!({
                "amount": intent["amount"],
                "currency": intent["currency"],
                "invoice": intent["invoice"],
                "failure_message": intent["last_payment_error"]["message"],
            })),
    )?;
    Ok(Handled::processed(company))
}

/// Counts of what a replay or catch-up did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    pub processed: usize,
    pub ignored: usize,
    pub duplicates: usize,
    pub failed: usize,
}

impl RunReport {
    fn count(&mut self, outcome: &Result<Receipt, ApiError>) {
        match outcome {
            Ok(Receipt::Processed) => self.processed += 1,
            Ok(Receipt::Ignored) => self.ignored += 1,
            Ok(Receipt::Duplicate) => self.duplicates += 1,
            Err(_) => self.failed += 1,
        }
    }
}

/// Which recorded events to process again.
pub enum Replay {
    Failed,
    Event(String),
}

/// Re-processes recorded events through the same idempotent path (after a fix, say).
pub async fn replay(pool: &DbPool, setup: &StripeSetup, which: Replay) -> Result<RunReport, ApiError> {
    let ids = match which {
        Replay::Failed => db::run(pool, |conn| Ok(events::failed_event_ids(conn)?)).await?,
        Replay::Event(id) => vec![id],
    };
    let mut report = RunReport::default();
    for id in ids {
        let lookup = id.clone();
        let Some(event) = db::run(pool, move |conn| Ok(events::requeue(conn, &lookup)?)).await? else {
            return Err(ApiError::NotFound("Stripe event"));
        };
        report.count(&process(pool, setup, event).await);
    }
    Ok(report)
}

/// Processes one of the company's failed events again, at an admin's request, and returns it as it stands
/// afterwards: processed, or failed again with the new reason.
pub async fn replay_for_company(
    pool: &DbPool,
    setup: &StripeSetup,
    actor: AuditActor,
    event_id: String,
) -> Result<events::StripeEvent, ApiError> {
    let company = actor.company_id.clone().ok_or(ApiError::NotFound("Stripe event"))?;
    let (scope, id) = (company.clone(), event_id.clone());
    let event = db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            let recorded = events::find(conn, &scope, &id)?.ok_or(ApiError::NotFound("Stripe event"))?;
            if recorded.outcome != Outcome::Failed {
                return Err(ApiError::Conflict {
                    code: "event_not_failed",
                    detail: format!(
                        "Event {id} was {}; only a failed event can be replayed.",
                        recorded.outcome.as_str()
                    ),
                });
            }
            crate::audit::record(
                conn,
                &actor,
                AuditEvent::new("stripe.event_replayed")
                    .target("stripe_event", &id)
                    .details(serde_json::json!({"type": recorded.event_type, "attempts": recorded.attempts})),
            )?;
            // Not requeued: it is failed already, and `process` claims a failed event for exactly one caller,
            // so a second replay racing this one finds it processed instead of processing it again.
            events::load(conn, &id)?.ok_or(ApiError::NotFound("Stripe event"))
        })
    })
    .await?;
    if let Err(error) = process(pool, setup, event).await {
        // Recorded on the event by `process`; the caller sees it in the event's `error`.
        log::warn!("replay of Stripe event {event_id} failed again: {error}");
    }
    db::run(pool, move |conn| events::find(conn, &company, &event_id)?.ok_or(ApiError::NotFound("Stripe event"))).await
}

/// Lists Stripe's events since the newest one recorded and processes those never received.
pub async fn catch_up(pool: &DbPool, setup: &StripeSetup) -> Result<RunReport, ApiError> {
    let gateway = setup.gateway()?;
    // Stripe retries an event for up to three days, so a delivery still pending can be older than the newest
    // event recorded: look that far back (recorded events are skipped).
    const RETRY_WINDOW_SECS: i64 = 3 * 24 * 60 * 60;
    let newest = db::run(pool, |conn| Ok(events::newest_created(conn)?)).await?;
    let since = newest.map(|newest| newest - RETRY_WINDOW_SECS);
    let mut missed = Vec::new();
    let mut starting_after: Option<String> = None;
    loop {
        let page = gateway.list_events(starting_after.as_deref(), since).await?;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        for value in &data {
            let Some(event) = IncomingEvent::parse(&value.to_string()) else { continue };
            let id = event.id.clone();
            if !db::run(pool, move |conn| Ok(events::is_recorded(conn, &id)?)).await? {
                missed.push(event);
            }
        }
        starting_after = data.last().and_then(|last| last["id"].as_str()).map(str::to_owned);
        if !page["has_more"].as_bool().unwrap_or(false) || starting_after.is_none() {
            break;
        }
    }
    // Stripe lists newest first; apply oldest first.
    missed.sort_by_key(|event| event.created);
    let mut report = RunReport::default();
    for event in missed {
        report.count(&process(pool, setup, event).await);
    }
    Ok(report)
}
