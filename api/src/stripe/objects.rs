//! The few fields Vigil reads from Stripe's objects, parsed tolerantly from raw JSON: unknown fields are
//! ignored and missing ones take defaults, so that any API version (and Stripe fakes) parse.

use serde::Deserialize;
use serde_json::Value;

/// A reference that Stripe sends either as an id string or as the expanded object.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn deserialize_ref<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(id_of(&Value::deserialize(deserializer)?))
}

/// One item of a subscription.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubscriptionItem {
    pub id: String,
    pub price: Option<PriceRef>,
    /// Older API versions (and localstripe) name the price a plan.
    pub plan: Option<PriceRef>,
    /// Since API version 2025-03-31 the period is on the items.
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PriceRef {
    pub id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ItemList {
    pub data: Vec<SubscriptionItem>,
}

/// A Stripe subscription.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StripeSubscription {
    pub id: String,
    #[serde(deserialize_with = "deserialize_ref")]
    pub customer: Option<String>,
    pub status: String,
    pub items: ItemList,
    /// Before API version 2025-03-31 the period is on the subscription.
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// A date the subscription ends on, set in the Dashboard or the portal.
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    #[serde(deserialize_with = "deserialize_ref")]
    pub default_payment_method: Option<String>,
    pub metadata: std::collections::HashMap<String, String>,
    pub created: i64,
    /// A change made with `payment_behavior=pending_if_incomplete` whose invoice is not paid yet: Stripe
    /// applies it when `latest_invoice` is paid, and until then the subscription is as it was.
    pub pending_update: Option<Value>,
    /// The newest invoice, as an id or (when expanded) the invoice.
    pub latest_invoice: Option<Value>,
    /// The subscription schedule that manages it, if any (a downgrade at the end of the period).
    #[serde(deserialize_with = "deserialize_ref")]
    pub schedule: Option<String>,
}

impl StripeSubscription {
    pub fn from_json(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok().filter(|s: &Self| !s.id.is_empty())
    }

    /// The first item (Vigil's subscriptions have one).
    pub fn item(&self) -> Option<&SubscriptionItem> {
        self.items.data.first()
    }

    /// The price of the first item, under either name.
    pub fn price_id(&self) -> Option<&str> {
        let item = self.item()?;
        item.price.as_ref().or(item.plan.as_ref()).map(|price| price.id.as_str()).filter(|id| !id.is_empty())
    }

    /// The price a pending update waits to move the subscription to, when there is one.
    pub fn pending_price_id(&self) -> Option<&str> {
        let item = &self.pending_update.as_ref()?["subscription_items"][0];
        item["price"]["id"].as_str().or_else(|| item["price"].as_str()).or_else(|| item["plan"]["id"].as_str())
    }

    /// The invoice that must be paid before Stripe applies the pending update, when there is one and Stripe
    /// sent it expanded.
    pub fn pending_invoice(&self) -> Option<StripeInvoice> {
        self.pending_update.as_ref().filter(|update| update.is_object())?;
        self.latest_invoice.as_ref().and_then(StripeInvoice::from_json)
    }

    /// The current period, from the subscription or (newer API versions) its item.
    pub fn period(&self) -> (Option<i64>, Option<i64>) {
        let item = self.item();
        (
            self.current_period_start.or_else(|| item.and_then(|i| i.current_period_start)),
            self.current_period_end.or_else(|| item.and_then(|i| i.current_period_end)),
        )
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StatusTransitions {
    pub paid_at: Option<i64>,
}

/// A Stripe invoice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StripeInvoice {
    pub id: String,
    #[serde(deserialize_with = "deserialize_ref")]
    pub customer: Option<String>,
    #[serde(deserialize_with = "deserialize_ref")]
    pub subscription: Option<String>,
    pub number: Option<String>,
    pub status: Option<String>,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub currency: String,
    pub created: i64,
    /// Older API versions (and localstripe) call the issue date `date`.
    pub date: Option<i64>,
    pub due_date: Option<i64>,
    pub status_transitions: StatusTransitions,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
    /// Whether Stripe collects the invoice by itself (its payment retries included).
    pub auto_advance: Option<bool>,
    /// Why Stripe made it: `subscription_cycle` (a renewal), `subscription_update` (a change invoiced at
    /// once), `subscription_create`, `manual`, …
    pub billing_reason: Option<String>,
    /// Since API version 2025-03-31 the subscription is under `parent.subscription_details`.
    pub parent: Option<Value>,
}

impl StripeInvoice {
    pub fn from_json(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok().filter(|i: &Self| !i.id.is_empty())
    }

    /// The subscription the invoice bills, wherever this API version puts it.
    pub fn subscription_id(&self) -> Option<String> {
        self.subscription
            .clone()
            .or_else(|| self.parent.as_ref().and_then(|parent| id_of(&parent["subscription_details"]["subscription"])))
    }

    pub fn issued_at(&self) -> i64 {
        if self.created > 0 { self.created } else { self.date.unwrap_or_default() }
    }
}

/// A line of an invoice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceLine {
    pub amount: i64,
    pub description: Option<String>,
    pub period: LinePeriod,
    /// Older API versions flag a proration on the line itself.
    pub proration: bool,
    /// Since API version 2025-03-31 the flag is under `parent.subscription_item_details`.
    pub parent: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LinePeriod {
    pub start: i64,
    pub end: i64,
}

impl InvoiceLine {
    /// Whether the line prorates a change (rather than bill a whole period), in either API generation.
    pub fn is_proration(&self) -> bool {
        self.proration
            || self.parent.as_ref().is_some_and(|parent| parent["subscription_item_details"]["proration"] == true)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LineList {
    pub data: Vec<InvoiceLine>,
}

/// An invoice that Stripe computed without making it (`POST /v1/invoices/create_preview`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoicePreview {
    pub amount_due: i64,
    pub currency: String,
    pub lines: LineList,
}

impl InvoicePreview {
    pub fn from_json(value: &Value) -> Option<Self> {
        (value["object"] == "invoice").then(|| serde_json::from_value(value.clone()).ok()).flatten()
    }
}

/// Converts Stripe's epoch seconds to our timestamps.
pub fn timestamp(seconds: i64) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subscription_of_either_api_generation_parses() {
        let old = json!({"id": "sub_1", "customer": "cus_1", "status": "active", "current_period_end": 200,
            "items": {"data": [{"id": "si_1", "plan": {"id": "price_pro"}}]}, "unknown": {"x": 1}});
        let basil = json!({"id": "sub_1", "customer": {"id": "cus_1"}, "status": "past_due",
            "items": {"data": [{"id": "si_1", "price": {"id": "price_pro"}, "current_period_start": 100, "current_period_end": 200}]}});
        for value in [old, basil] {
            let sub = StripeSubscription::from_json(&value).expect("parses");
            assert_eq!(sub.customer.as_deref(), Some("cus_1"));
            assert_eq!(sub.price_id(), Some("price_pro"));
            assert_eq!(sub.period().1, Some(200));
        }
    }

    #[test]
    fn an_invoice_finds_its_subscription_in_the_newest_api_version() {
        let value = json!({"id": "in_1", "customer": "cus_1", "status": "paid", "amount_due": 2900, "amount_paid": 2900,
            "currency": "usd", "created": 100, "parent": {"subscription_details": {"subscription": "sub_9"}}});
        assert_eq!(StripeInvoice::from_json(&value).and_then(|i| i.subscription_id()).as_deref(), Some("sub_9"));
    }
}
