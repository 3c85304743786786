//! The Idempotency-Keys of plan changes at Stripe.

use super::model::SubscriptionRow;
use crate::ids::CompanyId;
use crate::stripe::gateway::PriceChange;
use crate::stripe::objects::StripeSubscription;

/// How long the Idempotency-Key of a change stays the same for the same change of the same state.
const KEY_WINDOW_SECS: i64 = 300;

/// The Idempotency-Key of a change at Stripe: the same for the same change asked of the same state of the
/// subscription (a client retrying after a lost answer, a double click), so Stripe makes it once; another
/// as soon as anything it starts from differs (a later change, the invoice of an earlier one paid or voided).
///
/// The key also names the five minutes it is made in. Stripe replays whatever it answered first for a key,
/// a 500 included, for 24 hours: a change that failed so is tried afresh once those minutes have passed.
pub(super) fn change_key(
    operation: &str,
    company: &CompanyId,
    change: &PriceChange<'_>,
    state: &str,
    now: i64,
) -> String {
    let window = now.div_euclid(KEY_WINDOW_SECS);
    let fingerprint =
        crate::crypto::sha256_hex(&format!("{}\n{}\n{state}\n{window}", change.subscription, change.price));
    format!("vigil-{operation}-{company}-{}", &fingerprint[..32])
}

/// What a change starts from, as Stripe said it just now: the price, the newest invoice and where it
/// stands, and the change waiting for payment.
pub(super) fn stripe_state(subscription: &StripeSubscription, proration_date: Option<i64>) -> String {
    let invoice = subscription.latest_invoice.as_ref();
    let invoice_id = invoice.and_then(|i| i.as_str().or_else(|| i["id"].as_str())).unwrap_or_default();
    let invoice_status = invoice.and_then(|i| i["status"].as_str()).unwrap_or_default();
    format!(
        "{}\n{invoice_id}\n{invoice_status}\n{}\n{}",
        subscription.price_id().unwrap_or_default(),
        subscription.pending_price_id().unwrap_or_default(),
        proration_date.map(|at| at.to_string()).unwrap_or_default(),
    )
}

/// What a change starts from, as the mirror holds it, when Stripe could not be read first.
pub(super) fn mirrored_state(row: &SubscriptionRow, proration_date: Option<i64>) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        row.stripe_price_id.as_deref().unwrap_or_default(),
        row.stripe_updated_at.unwrap_or_default(),
        row.stripe_schedule_id.as_deref().unwrap_or_default(),
        proration_date.map(|at| at.to_string()).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(price: &str, invoice: serde_json::Value) -> StripeSubscription {
        StripeSubscription::from_json(&serde_json::json!({
            "id": "sub_1", "status": "active", "latest_invoice": invoice,
            "items": {"data": [{"id": "si_1", "price": {"id": price}}]},
        }))
        .expect("a subscription")
    }

    #[test]
    fn a_change_retried_from_the_same_state_reuses_its_key_and_any_other_state_gets_another() {
        let company = CompanyId::from_db("0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b".to_owned());
        let change = PriceChange { subscription: "sub_1", item: "si_1", price: "price_enterprise" };
        let key = |at_stripe: &StripeSubscription, proration_date| {
            change_key("plan", &company, &change, &stripe_state(at_stripe, proration_date), 1_796_000_100)
        };
        let paid = subscription("price_pro", serde_json::json!({"id": "in_1", "status": "paid"}));

        let first = key(&paid, Some(1_796_000_000));

        assert_eq!(first, key(&paid, Some(1_796_000_000)), "a retry is the same request to Stripe");
        assert!(first.len() <= 255, "Stripe takes keys of up to 255 characters");
        let voided = subscription("price_pro", serde_json::json!({"id": "in_1", "status": "void"}));
        let others = [
            key(&paid, None),
            key(&paid, Some(1_796_000_060)),
            key(&voided, Some(1_796_000_000)),
            key(&subscription("price_pro", serde_json::json!({"id": "in_2", "status": "paid"})), Some(1_796_000_000)),
            key(&subscription("price_other", serde_json::json!({"id": "in_1", "status": "paid"})), Some(1_796_000_000)),
        ];
        for other in &others {
            assert_ne!(&first, other);
        }
        let later = change_key("plan", &company, &change, &stripe_state(&paid, Some(1_796_000_000)), 1_796_000_400);
        assert_ne!(first, later, "a change Stripe failed is tried afresh after the window");
    }
}
