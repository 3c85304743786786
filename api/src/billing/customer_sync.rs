//! Stripe's customer holds what Vigil stores: the billing email and the tax id printed on invoices.
//!
//! A change is written here first (the wanted state, with a new `customer_version`), and then Stripe is
//! brought to it by [`converge`]: set the email, keep the one tax id that matches the wanted one (creating it
//! when missing), delete every other, and read the list back. Only when the list read back is exactly the
//! wanted one, and no later change was recorded meanwhile, is the version marked synced. Every step is safe
//! to repeat and to run twice at once (two requests, two instances): both converge on what is stored *now*,
//! and where two raced to create the same tax id, both keep the same one (the smallest id) and delete the
//! other. What a failed or cut-short change leaves behind is repaired by the next convergence: the sweep
//! retries every company whose synced version lags ([`converge_pending`]), and resync converges every
//! company.

use super::store::{self, WantedCustomer};
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::stripe::StripeFailure;
use crate::stripe::gateway::{CustomerTaxId, StripeGateway};

/// Rounds of set, delete and read back before giving up for now (the sweep tries again).
const PASSES: usize = 3;
/// Companies the sweep converges per run.
const SWEEP_BATCH: i64 = 50;

/// What a convergence did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Converged {
    /// Whether Stripe was seen to hold the stored state (false: later changes kept moving it; the sweep
    /// finishes).
    pub synced: bool,
    /// Whether it changed anything at Stripe (set the email, created or deleted a tax id).
    pub wrote: bool,
    /// Tax ids removed at Stripe other than copies of the wanted one: after a change, the one it replaced;
    /// in a resync, what Vigil never held (a change whose local save failed, an edit in the Dashboard).
    pub repairs: Vec<String>,
}

fn key(operation: &str, company: &CompanyId) -> String {
    format!("vigil-{operation}-{company}-{}", uuid::Uuid::new_v4().simple())
}

/// Brings the company's Stripe customer to what is stored. A company with no Stripe customer has nothing at
/// Stripe to bring. Fails with Stripe's failure (a tax id Stripe refuses is `Rejected` with status 400).
pub async fn converge(
    pool: &DbPool,
    gateway: &StripeGateway,
    company: &CompanyId,
) -> Result<Converged, ConvergeFailure> {
    let mut converged = Converged::default();
    let outcome = converge_passes(pool, gateway, company, &mut converged).await;
    if !matches!(outcome, Ok(true)) && converged.wrote {
        // This convergence changed Stripe but did not see it hold: it may have worked from a version that a
        // later change (marked synced meanwhile by another convergence) superseded. Stripe is then in doubt,
        // so the company is converged again by the sweep rather than trusted.
        let scoped = company.clone();
        if let Err(error) = db::run(pool, move |conn| Ok(store::mark_customer_in_doubt(conn, &scoped)?)).await {
            log::warn!("could not mark company {company}'s Stripe customer for another convergence: {error}");
        }
    }
    converged.synced = outcome?;
    Ok(converged)
}

async fn converge_passes(
    pool: &DbPool,
    gateway: &StripeGateway,
    company: &CompanyId,
    converged: &mut Converged,
) -> Result<bool, ConvergeFailure> {
    for _ in 0..PASSES {
        let scoped = company.clone();
        let wanted = db::run(pool, move |conn| Ok(store::find_wanted_customer(conn, &scoped)?)).await?;
        let Some(customer) = wanted.stripe_customer_id.clone() else { return Ok(true) };
        if let Some(email) = &wanted.billing_email {
            converged.wrote = true;
            gateway.update_customer_email(&customer, email, &key("email", company)).await?;
        }
        let listed = gateway.list_tax_ids(&customer).await?;
        let kept = match wanted_tax_id(&wanted) {
            Some((kind, value)) => match matching(&listed, kind, value) {
                Some(found) => Some(found),
                None => {
                    converged.wrote = true;
                    Some(gateway.create_tax_id(&customer, kind, value, &key("tax-id", company)).await?)
                }
            },
            None => None,
        };
        for other in listed.iter().filter(|tax_id| Some(&tax_id.id) != kept.as_ref()) {
            converged.wrote = true;
            match gateway.delete_tax_id(&customer, &other.id, &key("tax-id-delete", company)).await {
                // Gone already: another convergence deleted it first.
                Ok(()) | Err(StripeFailure::Rejected { status: 404, .. }) => {}
                Err(failure) => return Err(failure.into()),
            }
            if !is_duplicate(&wanted, other) {
                converged.repairs.push(format!(
                    "company {company}: removed tax id {} {} ({}) at Stripe, which Vigil does not hold",
                    other.kind, other.value, other.id
                ));
            }
        }
        let after = gateway.list_tax_ids(&customer).await?;
        let holds = match &kept {
            Some(kept) => after.len() == 1 && after[0].id == *kept,
            None => after.is_empty(),
        };
        if holds {
            let (scoped, version) = (company.clone(), wanted.customer_version);
            let marked =
                db::run(pool, move |conn| Ok(store::mark_customer_synced(conn, &scoped, version, kept.as_deref())?))
                    .await?;
            if marked {
                return Ok(true);
            }
        }
        // A later change was recorded meanwhile, or another convergence was mid-way: look again.
    }
    Ok(false)
}

/// Converges the companies whose Stripe customer lags behind what is stored: a change whose call to Stripe
/// failed, or that was cut short. Returns how many were brought up to date.
pub async fn converge_pending(pool: &DbPool, gateway: &StripeGateway) -> Result<usize, ApiError> {
    let companies = db::run(pool, |conn| Ok(store::companies_with_customer_to_sync(conn, SWEEP_BATCH)?)).await?;
    let mut synced = 0;
    for company in companies.into_iter().map(CompanyId::from_db) {
        match converge(pool, gateway, &company).await {
            Ok(converged) if converged.synced => synced += 1,
            Ok(_) => {}
            Err(failure) => log::warn!("could not bring company {company}'s Stripe customer up to date: {failure}"),
        }
    }
    Ok(synced)
}

/// Runs [`converge_pending`] every `interval`.
pub async fn run_forever(pool: DbPool, gateway: StripeGateway, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        if let Err(error) = converge_pending(&pool, &gateway).await {
            log::warn!("Stripe customer sweep failed: {error}");
        }
    }
}

fn wanted_tax_id(wanted: &WantedCustomer) -> Option<(&str, &str)> {
    wanted.tax_id_type.as_deref().zip(wanted.tax_id_value.as_deref())
}

/// The tax id at Stripe that is the wanted one: when two convergences raced to create it, the smallest id,
/// so that both keep the same.
fn matching(listed: &[CustomerTaxId], kind: &str, value: &str) -> Option<String> {
    listed.iter().filter(|tax_id| tax_id.kind == kind && tax_id.value == value).map(|tax_id| tax_id.id.clone()).min()
}

/// Whether a tax id deleted at Stripe is a second copy of the wanted one (two convergences raced to create
/// it), which is no repair.
fn is_duplicate(wanted: &WantedCustomer, other: &CustomerTaxId) -> bool {
    wanted_tax_id(wanted).is_some_and(|(kind, value)| other.kind == kind && other.value == value)
}

/// Why a convergence stopped: Stripe's failure, or ours.
#[derive(Debug)]
pub enum ConvergeFailure {
    Stripe(StripeFailure),
    Local(ApiError),
}

impl From<StripeFailure> for ConvergeFailure {
    fn from(failure: StripeFailure) -> Self {
        Self::Stripe(failure)
    }
}

impl From<ApiError> for ConvergeFailure {
    fn from(error: ApiError) -> Self {
        Self::Local(error)
    }
}

impl From<ConvergeFailure> for ApiError {
    fn from(failure: ConvergeFailure) -> Self {
        match failure {
            ConvergeFailure::Stripe(failure) => failure.into(),
            ConvergeFailure::Local(error) => error,
        }
    }
}

impl std::fmt::Display for ConvergeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stripe(failure) => write!(f, "{failure}"),
            Self::Local(error) => write!(f, "{error}"),
        }
    }
}
