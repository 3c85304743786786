//! Stripe: the gateway Vigil calls, the tolerant shapes of Stripe's objects, and the check of a webhook's
//! signature. What Vigil does with the events Stripe sends is `stripe_webhooks`, above billing, which it
//! mirrors into; billing calls down here.

pub mod gateway;
pub mod objects;
mod schedule_phases;
pub mod signature;

use crate::config::Config;
use crate::error::ApiError;
use crate::plans::TierCode;
pub use gateway::{StripeFailure, StripeGateway};

/// Stripe as this server is set up for it: the gateway when keys are configured, the price of each paid
/// tier, the grace period of a PAST_DUE subscription, and the hold on data after retention shortens.
#[derive(Clone)]
pub struct StripeSetup {
    gateway: Option<StripeGateway>,
    price_pro: Option<String>,
    price_enterprise: Option<String>,
    pub grace_days: i64,
    /// Days data beyond a shortened retention is kept (see `billing::retention`).
    pub retention_hold_days: i64,
    /// Endpoint secrets accepted on webhooks (several while one is rolled).
    pub webhook_secrets: Vec<crate::config::Secret>,
    /// How old a webhook signature's timestamp may be.
    pub webhook_tolerance_secs: i64,
    /// Whether a downgrade through the API waits for the end of the period (a subscription schedule).
    pub downgrade_at_period_end: bool,
}

impl StripeSetup {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let gateway = match &config.stripe.secret_key {
            Some(key) => Some(StripeGateway::new(key.expose(), config.stripe.api_base.as_deref())?),
            None => None,
        };
        Ok(Self {
            gateway,
            price_pro: config.stripe.price_pro.clone(),
            price_enterprise: config.stripe.price_enterprise.clone(),
            grace_days: config.billing_grace_days,
            retention_hold_days: config.retention_hold_days,
            webhook_secrets: config.stripe.webhook_secrets.clone(),
            webhook_tolerance_secs: config.stripe.webhook_tolerance_secs,
            downgrade_at_period_end: config.stripe.downgrade_at_period_end,
        })
    }

    /// Whether plan changes can go through Stripe.
    pub fn is_configured(&self) -> bool {
        self.gateway.is_some() && self.price_pro.is_some() && self.price_enterprise.is_some()
    }

    /// The gateway, or the 503 that tells the operator what to set.
    pub fn gateway(&self) -> Result<&StripeGateway, ApiError> {
        match &self.gateway {
            Some(gateway) if self.is_configured() => Ok(gateway),
            _ => Err(ApiError::BillingNotConfigured),
        }
    }

    /// The Stripe price of a paid tier.
    pub fn price_of(&self, tier: TierCode) -> Option<&str> {
        match tier {
            TierCode::Free => None,
            TierCode::Pro => self.price_pro.as_deref(),
            TierCode::Enterprise => self.price_enterprise.as_deref(),
        }
    }

    /// Whether a subscription is one of Vigil's plans: Vigil's Checkout made it (its metadata names the
    /// company, which also covers a plan on a price since retired), or its price is a configured tier's.
    /// Anything else on the customer (an add-on sold in the Dashboard, say) is neither mirrored nor counted
    /// as a duplicate, and so never cancelled.
    pub fn is_plan(&self, subscription: &objects::StripeSubscription) -> bool {
        subscription.metadata.contains_key("company_id")
            || subscription.price_id().and_then(|price| self.tier_of_price(price)).is_some()
    }

    /// The tier a Stripe price stands for.
    pub fn tier_of_price(&self, price: &str) -> Option<TierCode> {
        [TierCode::Pro, TierCode::Enterprise].into_iter().find(|tier| self.price_of(*tier) == Some(price))
    }
}

impl From<StripeFailure> for ApiError {
    fn from(failure: StripeFailure) -> Self {
        match failure {
            StripeFailure::Payment { message } => ApiError::PaymentFailed(message),
            StripeFailure::Unavailable(cause) => ApiError::StripeUnavailable(anyhow::anyhow!(cause)),
            rejected => ApiError::StripeRejected(anyhow::anyhow!(rejected.to_string())),
        }
    }
}
