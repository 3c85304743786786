//! Quotes of plan changes: a preview's `proration_date`, signed by the server for the company, the
//! subscription, the price it is on and the tier, so that a change is prorated only as of a moment the
//! server quoted. Without the signature a client could pick any `proration_date` in the hour a quote holds
//! and be prorated as of then (with immediate downgrades, more credit for the higher plan).

use chrono::{DateTime, Duration, Utc};

use super::model::{PlanChangeRequest, SubscriptionRow, TierCode};
use crate::config::Secret;
use crate::crypto::Signer;
use crate::error::ApiError;
use crate::ids::CompanyId;

/// How old a preview's `proration_date` may be when the change is made: a quote holds for an hour. (A date
/// further back would prorate over time already used, a larger credit on a downgrade.)
const QUOTE_SECS: i64 = 3600;

/// Clock skew allowed for a `proration_date` that lies slightly ahead of this server's clock.
const SKEW_SECS: i64 = 300;

/// Signs and checks quotes, with a key derived from the server's secret (every instance accepts the quotes
/// of the others).
#[derive(Clone)]
pub struct Quotes {
    signer: Signer,
}

impl Quotes {
    pub fn new(server_secret: &Secret) -> Self {
        Self { signer: Signer::new(server_secret.expose(), "vigil plan change quotes v1") }
    }

    /// Over the company, the subscription and the price it is on (a quote made before another change of
    /// plan does not hold after it), the tier and the date.
    fn fields(company: &CompanyId, subscription: &SubscriptionRow, tier: TierCode, at: i64) -> [String; 5] {
        [
            company.to_string(),
            subscription.stripe_subscription_id.clone().unwrap_or_default(),
            subscription.stripe_price_id.clone().unwrap_or_default(),
            tier.as_str().to_owned(),
            at.to_string(),
        ]
    }

    pub fn sign(&self, company: &CompanyId, subscription: &SubscriptionRow, tier: TierCode, at: i64) -> String {
        let fields = Self::fields(company, subscription, tier, at);
        self.signer.sign(&fields.each_ref().map(String::as_str))
    }

    /// The `proration_date` of a change, checked: recent enough (see [`checked_proration_date`]) and quoted
    /// by this server for this company, subscription and tier.
    pub fn proration_date(
        &self,
        company: &CompanyId,
        row: &SubscriptionRow,
        tier: TierCode,
        request: &PlanChangeRequest,
    ) -> Result<Option<i64>, ApiError> {
        let Some(date) = request.proration_date else { return Ok(None) };
        let at = checked_proration_date(date, row, Utc::now())?;
        let fields = Self::fields(company, row, tier, at);
        let genuine = request
            .quote
            .as_deref()
            .is_some_and(|quote| self.signer.verify(&fields.each_ref().map(String::as_str), quote));
        if !genuine {
            return Err(ApiError::invalid_field(
                "quote",
                "send the quote that came with this proration_date from GET /api/v1/billing/subscription/preview",
            ));
        }
        Ok(Some(at))
    }
}

/// A preview's `proration_date` the change may be prorated as of: within the last hour (not before the
/// period began), or a few minutes ahead for clock skew.
fn checked_proration_date(date: DateTime<Utc>, row: &SubscriptionRow, now: DateTime<Utc>) -> Result<i64, ApiError> {
    let period_start = row.current_period_start.map(|t| t.and_utc());
    let too_old = date < now - Duration::seconds(QUOTE_SECS) || period_start.is_some_and(|start| date < start);
    if too_old || date > now + Duration::seconds(SKEW_SECS) {
        return Err(ApiError::invalid_field(
            "proration_date",
            "use the proration_date of a preview made in the last hour, in the current period",
        ));
    }
    Ok(date.timestamp())
}
