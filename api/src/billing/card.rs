//! The card on file: the one Stripe charges the company's invoices with, shown on the billing pages so an
//! admin sees an expiring or wrong card before a payment fails. Stripe charges a subscription's invoice with
//! the subscription's default payment method, else the customer's invoice default, else the customer's
//! default source (a card saved the older way); Vigil reads it in that order.
//!
//! Events name the change but not always the card (`customer.updated` carries only the ids), so every change
//! is answered by reading the card from Stripe ([`refresh`]): stamped with the time before the reads and
//! written under the company's lock only when no newer read was written meanwhile, like every other read.

use chrono::Utc;
use serde_json::Value;

use super::model::CardOnFile;
use super::store;
use crate::db::{self, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::stripe::{StripeFailure, StripeGateway};

/// Reads the company's card on file from Stripe and records it (or that there is none). A company with no
/// Stripe customer has none. Returns what was read.
pub async fn refresh(
    pool: &DbPool,
    gateway: &StripeGateway,
    company: &CompanyId,
) -> Result<Option<CardOnFile>, ApiError> {
    let scoped = company.clone();
    let (customer, subscription) = db::run(pool, move |conn| {
        let customer = crate::companies::find_company(conn, &scoped)?.stripe_customer_id;
        let row = store::find_subscription(conn, &scoped)?;
        let live = row.has_live_stripe_subscription();
        Ok((customer, row.stripe_subscription_id.filter(|_| live)))
    })
    .await?;
    let Some(customer) = customer else { return Ok(None) };
    let read_at = Utc::now().timestamp();
    // Stripe's word on the subscription's default, not the mirror's: the mirror keeps an old default when an
    // event names none.
    let subscription_default = match subscription {
        Some(subscription) => gateway.retrieve_subscription(&subscription).await?.default_payment_method,
        None => None,
    };
    let found = read_card(gateway, &customer, subscription_default.as_deref()).await?;
    let (scoped, recorded) = (company.clone(), found.clone());
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            crate::db::lock_company(conn, &scoped)?;
            let card = recorded.as_ref().map(|(payment_method, card)| (payment_method.as_str(), card));
            Ok::<_, ApiError>(store::save_card(conn, &scoped, card, read_at)?)
        })
    })
    .await?;
    Ok(found.map(|(_, card)| card))
}

/// The card Stripe would charge, and the id of the payment method or source it is.
async fn read_card(
    gateway: &StripeGateway,
    customer: &str,
    subscription_default: Option<&str>,
) -> Result<Option<(String, CardOnFile)>, StripeFailure> {
    let customer_object = gateway.retrieve_customer(customer).await?;
    let invoice_default = id_of(&customer_object["invoice_settings"]["default_payment_method"]);
    let default_source = id_of(&customer_object["default_source"]);
    for payment_method in [subscription_default.map(str::to_owned), invoice_default].into_iter().flatten() {
        match gateway.retrieve_payment_method(&payment_method).await {
            // A detached payment method can still be read, naming no customer: it is charged no more. One of
            // the customer's that is no card (a bank debit, Link) is what Stripe charges: no card is on file.
            Ok(object) if object["customer"].as_str() == Some(customer) => {
                return Ok(card_of(&object["card"]).map(|card| (payment_method, card)));
            }
            Ok(_) => {}
            // Detached or deleted meanwhile: Stripe falls back to the next one, and so do we.
            Err(StripeFailure::Rejected { status: 404, .. }) => {}
            Err(other) => return Err(other),
        }
    }
    if let Some(source) = default_source {
        match gateway.retrieve_source(customer, &source).await {
            Ok(object) => return Ok(card_of(&object).map(|card| (source, card))),
            Err(StripeFailure::Rejected { status: 404, .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(None)
}

/// An id that Stripe sends either as a string or, when expanded, as the object.
fn id_of(value: &Value) -> Option<String> {
    value.as_str().or_else(|| value["id"].as_str()).filter(|id| !id.is_empty()).map(str::to_owned)
}

/// A card's shown details, from a payment method's `card` or a card source.
fn card_of(card: &Value) -> Option<CardOnFile> {
    Some(CardOnFile {
        brand: card["brand"].as_str()?.to_ascii_lowercase(),
        last4: card["last4"].as_str()?.to_owned(),
        exp_month: i32::try_from(card["exp_month"].as_i64()?).ok()?,
        exp_year: i32::try_from(card["exp_year"].as_i64()?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_methods_card_and_a_card_source_read_alike() {
        let card = CardOnFile { brand: "visa".to_owned(), last4: "4242".to_owned(), exp_month: 12, exp_year: 2030 };
        let payment_method = serde_json::json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030});
        let source = serde_json::json!({"object": "card", "brand": "Visa", "last4": "4242", "exp_month": 12,
            "exp_year": 2030});
        assert_eq!(card_of(&payment_method), Some(card.clone()));
        assert_eq!(card_of(&source), Some(card));
        assert_eq!(card_of(&serde_json::json!({"brand": "visa"})), None, "an incomplete card is no card");
        assert_eq!(id_of(&serde_json::json!({"id": "pm_1", "object": "payment_method"})).as_deref(), Some("pm_1"));
        assert_eq!(id_of(&serde_json::json!("")), None);
    }
}
