//! Queries on tiers, subscriptions, invoices and the company's Stripe links.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::model::{
    CardOnFile, CheckoutSessionRow, CheckoutStatus, InvoiceFilter, InvoiceRow, InvoiceStatus, SubscriptionRow,
    TierCode, TierRow,
};
use crate::db::DbConn;
use crate::db::schema::{
    agents, checkout_sessions, companies, employees, invoice_totals, invoices, subscriptions, tiers,
};
use crate::http::pagination::Slice;
use crate::ids::{CompanyId, InvoiceId};

/// Every company starts on FREE, with an ACTIVE subscription row that the billing flow later upgrades.
pub fn create_free_subscription(conn: &mut DbConn, company: &CompanyId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::id.eq(uuid::Uuid::now_v7().to_string()),
            subscriptions::company_id.eq(company.as_str()),
            subscriptions::tier_code.eq(TierCode::Free.as_str()),
            subscriptions::status.eq("ACTIVE"),
            subscriptions::created_at.eq(now),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn list_tiers(conn: &mut DbConn) -> QueryResult<Vec<TierRow>> {
    tiers::table.order(tiers::display_order.asc()).select(TierRow::as_select()).load(conn)
}

pub fn find_tier(conn: &mut DbConn, code: TierCode) -> QueryResult<TierRow> {
    tiers::table.find(code.as_str()).select(TierRow::as_select()).first(conn)
}

pub fn find_subscription(conn: &mut DbConn, company: &CompanyId) -> QueryResult<SubscriptionRow> {
    subscriptions::table
        .filter(subscriptions::company_id.eq(company.as_str()))
        .select(SubscriptionRow::as_select())
        .first(conn)
}

pub fn save_subscription(conn: &mut DbConn, company: &CompanyId, row: &SubscriptionRow) -> QueryResult<()> {
    diesel::update(subscriptions::table.filter(subscriptions::company_id.eq(company.as_str())))
        .set(row)
        .execute(conn)
        .map(drop)
}

/// The company whose Stripe customer this is (webhooks and resync find companies this way).
pub fn company_of_customer(conn: &mut DbConn, stripe_customer: &str) -> QueryResult<Option<CompanyId>> {
    companies::table
        .filter(companies::stripe_customer_id.eq(stripe_customer))
        .select(companies::id)
        .first::<String>(conn)
        .optional()
        .map(|id| id.map(CompanyId::from_db))
}

/// Links a Stripe customer to the company unless one is linked already; returns the linked one.
pub fn link_customer(conn: &mut DbConn, company: &CompanyId, stripe_customer: &str) -> QueryResult<String> {
    diesel::update(
        companies::table.filter(companies::id.eq(company.as_str())).filter(companies::stripe_customer_id.is_null()),
    )
    .set(companies::stripe_customer_id.eq(stripe_customer))
    .execute(conn)?;
    companies::table
        .find(company.as_str())
        .select(companies::stripe_customer_id)
        .first::<Option<String>>(conn)?
        .ok_or(diesel::result::Error::NotFound)
}

/// The billing email and the version that each change of it increments.
pub fn find_billing_email(conn: &mut DbConn, company: &CompanyId) -> QueryResult<(Option<String>, i64)> {
    companies::table.find(company.as_str()).select((companies::billing_email, companies::billing_version)).first(conn)
}

/// Records the billing email wanted at Stripe; returns the customer version that names it.
pub fn set_billing_email(
    conn: &mut DbConn,
    company: &CompanyId,
    email: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::update(companies::table.find(company.as_str()))
        .set((
            companies::billing_email.eq(email),
            companies::billing_version.eq(companies::billing_version + 1),
            companies::customer_version.eq(companies::customer_version + 1),
            companies::updated_at.eq(now),
        ))
        .returning(companies::customer_version)
        .get_result(conn)
}

/// Records the tax id wanted at Stripe (or none); returns the customer version that names it. Its Stripe
/// id is unknown until the customer is brought to it ([`mark_customer_synced`]).
pub fn set_tax_id(
    conn: &mut DbConn,
    company: &CompanyId,
    tax_id: Option<(&str, &str)>,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let (kind, value) = tax_id.unzip();
    diesel::update(companies::table.find(company.as_str()))
        .set((
            companies::tax_id_type.eq(kind),
            companies::tax_id_value.eq(value),
            companies::stripe_tax_id.eq(None::<String>),
            companies::customer_version.eq(companies::customer_version + 1),
            companies::updated_at.eq(now),
        ))
        .returning(companies::customer_version)
        .get_result(conn)
}

/// What the company's Stripe customer should hold, and how far Stripe has been brought to it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = companies)]
pub struct WantedCustomer {
    pub stripe_customer_id: Option<String>,
    pub billing_email: Option<String>,
    pub tax_id_type: Option<String>,
    pub tax_id_value: Option<String>,
    /// The Stripe id of the wanted tax id, once Stripe was seen to hold it.
    pub stripe_tax_id: Option<String>,
    pub customer_version: i64,
    pub customer_synced_version: i64,
}

pub fn find_wanted_customer(conn: &mut DbConn, company: &CompanyId) -> QueryResult<WantedCustomer> {
    companies::table.find(company.as_str()).select(WantedCustomer::as_select()).first(conn)
}

/// Records that Stripe holds `version` of the customer, unless a later change was recorded meanwhile (then
/// that change is still to be applied, and nothing is written). Returns whether it was recorded.
pub fn mark_customer_synced(
    conn: &mut DbConn,
    company: &CompanyId,
    version: i64,
    stripe_tax_id: Option<&str>,
) -> QueryResult<bool> {
    let updated =
        diesel::update(companies::table.find(company.as_str()).filter(companies::customer_version.eq(version)))
            .set((companies::customer_synced_version.eq(version), companies::stripe_tax_id.eq(stripe_tax_id)))
            .execute(conn)?;
    Ok(updated == 1)
}

/// Marks the company's Stripe customer as in doubt (synced below the version stored), so that the sweep
/// converges it again.
pub fn mark_customer_in_doubt(conn: &mut DbConn, company: &CompanyId) -> QueryResult<()> {
    diesel::update(companies::table.find(company.as_str()))
        .set(companies::customer_synced_version.eq(companies::customer_version - 1))
        .execute(conn)
        .map(drop)
}

/// Companies whose Stripe customer has not yet been brought to what is stored (a change whose call to
/// Stripe failed or was cut short), in random order, so that companies Stripe keeps refusing cannot hold
/// the whole batch.
pub fn companies_with_customer_to_sync(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<String>> {
    companies::table
        .filter(companies::stripe_customer_id.is_not_null())
        .filter(companies::customer_version.gt(companies::customer_synced_version))
        .order(sql::<BigInt>("random()"))
        .select(companies::id)
        .limit(limit)
        .load(conn)
}

pub fn find_invoice(conn: &mut DbConn, company: &CompanyId, id: &InvoiceId) -> QueryResult<Option<InvoiceRow>> {
    invoices::table
        .filter(invoices::company_id.eq(company.as_str()))
        .filter(invoices::id.eq(id.as_str()))
        .select(InvoiceRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_invoice_by_stripe_id(conn: &mut DbConn, stripe_invoice: &str) -> QueryResult<Option<InvoiceRow>> {
    invoices::table
        .filter(invoices::stripe_invoice_id.eq(stripe_invoice))
        .select(InvoiceRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_invoice(conn: &mut DbConn, row: &InvoiceRow) -> QueryResult<()> {
    diesel::insert_into(invoices::table).values(row).execute(conn).map(drop)
}

pub fn update_invoice(conn: &mut DbConn, company: &CompanyId, row: &InvoiceRow) -> QueryResult<()> {
    diesel::update(invoices::table.filter(invoices::company_id.eq(company.as_str())).filter(invoices::id.eq(&row.id)))
        .set(row)
        .execute(conn)
        .map(drop)
}

/// The company's newest invoices, for the dashboard. Unlike [`list_invoices`] it sums nothing: the totals
/// cost a pass over every invoice of the company, and the dashboard shows none.
pub fn recent_invoices(conn: &mut DbConn, company: &CompanyId, limit: i64) -> QueryResult<Vec<InvoiceRow>> {
    invoices::table
        .filter(invoices::company_id.eq(company.as_str()))
        .order((invoices::issued_at.desc(), invoices::id.desc()))
        .limit(limit)
        .select(InvoiceRow::as_select())
        .load(conn)
}

/// The running totals of the company's invoices per status (table `invoice_totals`, kept by triggers on
/// every write of an invoice): (status, count, amount due, amount paid), only the statuses it has.
pub fn invoice_totals(
    conn: &mut DbConn,
    company: &CompanyId,
    status: Option<InvoiceStatus>,
) -> QueryResult<Vec<(String, i64, i64, i64)>> {
    let mut query = invoice_totals::table
        .filter(invoice_totals::company_id.eq(company.as_str()))
        .filter(invoice_totals::invoice_count.gt(0))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(invoice_totals::status.eq(status.as_str()));
    }
    query
        .order(invoice_totals::status.asc())
        .select((
            invoice_totals::status,
            invoice_totals::invoice_count,
            invoice_totals::amount_due,
            invoice_totals::amount_paid,
        ))
        .load(conn)
}

/// When an invoice of the company was issued: where a cursor naming it stands in the list.
pub fn invoice_issued_at(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    invoices::table
        .filter(invoices::company_id.eq(company.as_str()))
        .filter(invoices::id.eq(id))
        .select(invoices::issued_at)
        .first(conn)
        .optional()
}

/// The company's invoices matching the filter, newest first.
pub fn list_invoices(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &InvoiceFilter,
    slice: &Slice,
) -> QueryResult<Vec<InvoiceRow>> {
    let query = || {
        let mut query = invoices::table.filter(invoices::company_id.eq(company.as_str())).into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(invoices::status.eq(status.as_str()));
        }
        query
    };
    crate::load_slice!(conn, query, slice,
        order: (invoices::issued_at.desc(), invoices::id.desc()),
        keyset: (invoices::issued_at, invoices::id),
        select: InvoiceRow::as_select())
}

/// A company as the resync command sees it: its id, Stripe customer and billing email.
pub type ResyncTarget = (CompanyId, Option<String>, Option<String>);

/// Every company (or one) with its Stripe customer and billing email, for the resync command.
pub fn companies_for_resync(conn: &mut DbConn, only: Option<&CompanyId>) -> QueryResult<Vec<ResyncTarget>> {
    let mut query =
        companies::table.select((companies::id, companies::stripe_customer_id, companies::billing_email)).into_boxed();
    if let Some(company) = only {
        query = query.filter(companies::id.eq(company.as_str()));
    }
    Ok(query
        .order(companies::id.asc())
        .load::<(String, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, customer, email)| (CompanyId::from_db(id), customer, email))
        .collect())
}

/// The retention last seen in force for the company, and its hold: `(in force, hold until, held days)`.
/// The retention last seen in force and the holds (days kept, until when), longest first.
pub type StoredRetention = (Option<i32>, [(Option<i32>, Option<NaiveDateTime>); 2]);

pub fn find_retention(conn: &mut DbConn, company: &CompanyId) -> QueryResult<StoredRetention> {
    let (in_force, held, until, held2, until2) = companies::table
        .find(company.as_str())
        .select((
            companies::retention_days_in_force,
            companies::retention_held_days,
            companies::retention_hold_until,
            companies::retention_held2_days,
            companies::retention_hold2_until,
        ))
        .first(conn)?;
    Ok((in_force, [(held, until), (held2, until2)]))
}

pub fn save_retention(
    conn: &mut DbConn,
    company: &CompanyId,
    (in_force, [(held, until), (held2, until2)]): StoredRetention,
) -> QueryResult<()> {
    diesel::update(companies::table.find(company.as_str()))
        .set((
            companies::retention_days_in_force.eq(in_force),
            companies::retention_held_days.eq(held),
            companies::retention_hold_until.eq(until),
            companies::retention_held2_days.eq(held2),
            companies::retention_hold2_until.eq(until2),
        ))
        .execute(conn)
        .map(drop)
}

/// Marks a plan change to `tier` as in flight at Stripe until `until` (`None`: no change in flight).
pub fn set_plan_change(
    conn: &mut DbConn,
    company: &CompanyId,
    change: Option<(TierCode, NaiveDateTime)>,
) -> QueryResult<()> {
    diesel::update(companies::table.find(company.as_str()))
        .set((
            companies::plan_change_tier.eq(change.map(|(tier, _)| tier.as_str())),
            companies::plan_change_until.eq(change.map(|(_, until)| until)),
        ))
        .execute(conn)
        .map(drop)
}

/// Records the downgrade that the subscription schedule `schedule` makes to `tier` at `at`, if the mirrored
/// subscription still has that schedule (an event applied meanwhile may have seen it released).
pub fn set_scheduled_change(
    conn: &mut DbConn,
    company: &CompanyId,
    schedule: &str,
    tier: TierCode,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        subscriptions::table
            .filter(subscriptions::company_id.eq(company.as_str()))
            .filter(subscriptions::stripe_schedule_id.eq(schedule)),
    )
    .set((subscriptions::scheduled_tier_code.eq(tier.as_str()), subscriptions::scheduled_change_at.eq(at)))
    .execute(conn)
    .map(drop)
}

/// The tier of a plan change in flight at `now`, if any.
pub fn plan_change_in_flight(
    conn: &mut DbConn,
    company: &CompanyId,
    now: NaiveDateTime,
) -> QueryResult<Option<TierCode>> {
    let (tier, until) = companies::table
        .find(company.as_str())
        .select((companies::plan_change_tier, companies::plan_change_until))
        .first::<(Option<String>, Option<NaiveDateTime>)>(conn)?;
    Ok(tier.filter(|_| until.is_some_and(|until| until > now)).as_deref().and_then(TierCode::parse))
}

/// The company's Checkout sessions still open at `now`, oldest first.
pub fn open_checkout_sessions(
    conn: &mut DbConn,
    company: &CompanyId,
    now: NaiveDateTime,
) -> QueryResult<Vec<CheckoutSessionRow>> {
    checkout_sessions::table
        .filter(checkout_sessions::company_id.eq(company.as_str()))
        .filter(checkout_sessions::status.eq(CheckoutStatus::Open.as_str()))
        .filter(checkout_sessions::expires_at.gt(now))
        .order((checkout_sessions::created_at.asc(), checkout_sessions::id.asc()))
        .select(CheckoutSessionRow::as_select())
        .load(conn)
}

pub fn insert_checkout_session(conn: &mut DbConn, row: &CheckoutSessionRow) -> QueryResult<()> {
    diesel::insert_into(checkout_sessions::table).values(row).execute(conn).map(drop)
}

/// Records that a session of the company completed or expired (an open one only: both are final).
pub fn close_checkout_session(
    conn: &mut DbConn,
    company: &CompanyId,
    stripe_session: &str,
    status: CheckoutStatus,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        checkout_sessions::table
            .filter(checkout_sessions::company_id.eq(company.as_str()))
            .filter(checkout_sessions::stripe_session_id.eq(stripe_session))
            .filter(checkout_sessions::status.eq(CheckoutStatus::Open.as_str())),
    )
    .set((checkout_sessions::status.eq(status.as_str()), checkout_sessions::updated_at.eq(now)))
    .execute(conn)
    .map(drop)
}

/// The employees that tiers limit: the ACTIVE ones. (Billing counts the workforce tables itself, rather than
/// asking the employees and agents domains, because those domains ask billing for their limits.)
pub fn count_active_employees(conn: &mut DbConn, company: &CompanyId) -> QueryResult<i64> {
    employees::table
        .filter(employees::company_id.eq(company.as_str()))
        .filter(employees::status.eq("ACTIVE"))
        .count()
        .get_result(conn)
}

/// The agents that count against the plan: every one not revoked.
pub fn count_live_agents(conn: &mut DbConn, company: &CompanyId) -> QueryResult<i64> {
    agents::table
        .filter(agents::company_id.eq(company.as_str()))
        .filter(agents::revoked_at.is_null())
        .count()
        .get_result(conn)
}

/// Records the card on file read at `read_at` (or that there is none), unless a newer read was recorded.
/// Returns whether it was recorded.
pub fn save_card(
    conn: &mut DbConn,
    company: &CompanyId,
    card: Option<(&str, &CardOnFile)>,
    read_at: i64,
) -> QueryResult<bool> {
    let updated = diesel::update(
        companies::table
            .find(company.as_str())
            .filter(companies::card_read_at.is_null().or(companies::card_read_at.le(read_at))),
    )
    .set((
        companies::card_brand.eq(card.map(|(_, card)| card.brand.as_str())),
        companies::card_last4.eq(card.map(|(_, card)| card.last4.as_str())),
        companies::card_exp_month.eq(card.map(|(_, card)| card.exp_month)),
        companies::card_exp_year.eq(card.map(|(_, card)| card.exp_year)),
        companies::card_payment_method.eq(card.map(|(payment_method, _)| payment_method)),
        companies::card_read_at.eq(read_at),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// The card on file as last read from Stripe.
pub fn find_card(conn: &mut DbConn, company: &CompanyId) -> QueryResult<Option<CardOnFile>> {
    let (brand, last4, exp_month, exp_year): (Option<String>, Option<String>, Option<i32>, Option<i32>) =
        companies::table
            .find(company.as_str())
            .select((companies::card_brand, companies::card_last4, companies::card_exp_month, companies::card_exp_year))
            .first(conn)?;
    Ok(match (brand, last4, exp_month, exp_year) {
        (Some(brand), Some(last4), Some(exp_month), Some(exp_year)) => {
            Some(CardOnFile { brand, last4, exp_month, exp_year })
        }
        _ => None,
    })
}
