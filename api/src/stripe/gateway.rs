//! Talking to Stripe: typed request builders from async-stripe for the form encoding, answers read as raw
//! JSON (the typed response structs reject fields that fakes and other API versions omit), an
//! Idempotency-Key on every change, timeouts, and retries with backoff on network errors and 5xx.

use std::collections::HashMap;
use std::time::Duration;

use ::stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use serde_json::Value;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::{
    CreatePreviewInvoice, CreatePreviewInvoiceSubscriptionDetails, CreatePreviewInvoiceSubscriptionDetailsItems,
    CreatePreviewInvoiceSubscriptionDetailsProrationBehavior, ListInvoice,
};
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription, UpdateSubscription,
    UpdateSubscriptionItems, UpdateSubscriptionPaymentBehavior, UpdateSubscriptionProrationBehavior,
};
use stripe_billing::tax_id::{CreateCustomerTaxId, CreateCustomerTaxIdType, DeleteCustomerTaxId, ListCustomerTaxId};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    ExpireCheckoutSession, RetrieveCheckoutSession,
};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::customer::{CreateCustomer, ListCustomer, UpdateCustomer};
use stripe_core::event::ListEvent;

use super::objects::{InvoicePreview, StripeInvoice, StripeSubscription};
use super::schedule_phases::{current_phase, phase_fields};

/// A tax id on a Stripe customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTaxId {
    pub id: String,
    /// Stripe's type, such as `eu_vat`.
    pub kind: String,
    pub value: String,
}

/// Time allowed for one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call, and the wait before the second one (doubling after).
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Why a Stripe call failed, in the terms the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// A card was declined or a payment failed; `message` is Stripe's text for the customer.
    #[error("payment failed: {message}")]
    Payment { message: String },
    /// Stripe could not be reached or kept failing (network, timeout, 5xx, 429).
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
    /// Stripe refused the request (4xx other than card errors): our configuration or a bug.
    #[error("Stripe refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// Stripe answered something that is not the object we asked for.
    #[error("unexpected answer from Stripe: {0}")]
    Unexpected(String),
}

impl StripeFailure {
    fn from_error(error: StripeError) -> Self {
        match error {
            StripeError::Stripe(error, status) => {
                let message = error.message.clone().unwrap_or_else(|| "no message".to_owned());
                match status {
                    402 => Self::Payment { message },
                    409 | 429 | 500..=599 => Self::Unavailable(format!("{status}: {message}")),
                    _ => Self::Rejected { status, message },
                }
            }
            StripeError::ClientError(message) => Self::Unavailable(message),
            StripeError::Timeout => Self::Unavailable("timed out".to_owned()),
            // A non-JSON error body (a proxy's HTML 502) arrives as this, without its status.
            StripeError::JSONDeserialize(message) => Self::Unavailable(format!("unreadable answer: {message}")),
            StripeError::ConfigError(message) => Self::Rejected { status: 0, message },
        }
    }

    fn retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A configured Stripe account.
#[derive(Clone)]
pub struct StripeGateway {
    client: Client,
}

impl StripeGateway {
    /// A client for `secret_key`, talking to `api_base` (Stripe itself when `None`).
    pub fn new(secret_key: &str, api_base: Option<&str>) -> anyhow::Result<Self> {
        let mut builder = ClientBuilder::new(secret_key).timeout(ATTEMPT_TIMEOUT);
        if let Some(base) = api_base {
            // async-stripe joins `{base}v1{path}`: the base must end with a slash.
            let base = if base.ends_with('/') { base.to_owned() } else { format!("{base}/") };
            builder = builder.url(base);
        }
        Ok(Self { client: builder.build().map_err(|e| anyhow::anyhow!("Stripe client: {e}"))? })
    }

    /// Sends a request, retrying network failures and 5xx with backoff. A change carries `idempotency_key`
    /// on every attempt, so a retry of a request that did reach Stripe is not applied twice.
    async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> Result<Value, StripeFailure> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let mut request = build().customize::<miniserde::json::Value>();
            if let Some(key) = idempotency_key {
                let key = IdempotencyKey::new(key).map_err(|e| StripeFailure::Unexpected(e.to_string()))?;
                request = request.request_strategy(RequestStrategy::Idempotent(key));
            }
            match request.send(&self.client).await {
                Ok(value) => {
                    return serde_json::from_str(&miniserde::json::to_string(&value))
                        .map_err(|e| StripeFailure::Unexpected(e.to_string()));
                }
                Err(error) => {
                    let failure = StripeFailure::from_error(error);
                    if !failure.retryable() || attempt >= ATTEMPTS {
                        return Err(failure);
                    }
                    log::warn!("Stripe call failed (attempt {attempt} of {ATTEMPTS}), retrying: {failure}");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    fn string_field(value: &Value, field: &str) -> Result<String, StripeFailure> {
        value[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| StripeFailure::Unexpected(format!("no `{field}` in Stripe's answer")))
    }

    fn subscription(value: &Value) -> Result<StripeSubscription, StripeFailure> {
        StripeSubscription::from_json(value).ok_or_else(|| StripeFailure::Unexpected("not a subscription".to_owned()))
    }

    /// Creates a customer for a company; returns its id.
    pub async fn create_customer(
        &self,
        company_id: &str,
        email: &str,
        name: &str,
        key: &str,
    ) -> Result<String, StripeFailure> {
        let metadata = HashMap::from([("company_id".to_owned(), company_id.to_owned())]);
        let build = || CreateCustomer::new().email(email).name(name).metadata(metadata.clone()).build();
        Self::string_field(&self.send(build, Some(key)).await?, "id")
    }

    pub async fn update_customer_email(&self, customer: &str, email: &str, key: &str) -> Result<(), StripeFailure> {
        self.send(|| UpdateCustomer::new(customer).email(email).build(), Some(key)).await.map(drop)
    }

    /// A Checkout Session in subscription mode for one price.
    pub async fn create_checkout_session(
        &self,
        checkout: &CheckoutRequest<'_>,
        key: &str,
    ) -> Result<CheckoutSession, StripeFailure> {
        let metadata = HashMap::from([("company_id".to_owned(), checkout.company_id.to_owned())]);
        let build = || {
            let mut line = CreateCheckoutSessionLineItems::new();
            line.price = Some(checkout.price.to_owned());
            line.quantity = Some(1);
            let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
            subscription_data.metadata = Some(metadata.clone());
            CreateCheckoutSession::new()
                .mode(CheckoutSessionMode::Subscription)
                .customer(checkout.customer)
                .line_items(vec![line])
                .client_reference_id(checkout.company_id)
                .success_url(checkout.success_url)
                .cancel_url(checkout.cancel_url)
                .metadata(metadata.clone())
                .subscription_data(subscription_data)
                .build()
        };
        Self::checkout_session(&self.send(build, Some(key)).await?)
    }

    fn checkout_session(value: &Value) -> Result<CheckoutSession, StripeFailure> {
        Ok(CheckoutSession {
            id: Self::string_field(value, "id")?,
            url: value["url"].as_str().unwrap_or_default().to_owned(),
            status: value["status"].as_str().unwrap_or("open").to_owned(),
            expires_at: value["expires_at"].as_i64(),
        })
    }

    /// Expires an open Checkout Session, so that it can no longer be paid.
    pub async fn expire_checkout_session(&self, session: &str, key: &str) -> Result<CheckoutSession, StripeFailure> {
        Self::checkout_session(&self.send(|| ExpireCheckoutSession::new(session).build(), Some(key)).await?)
    }

    pub async fn retrieve_checkout_session(&self, session: &str) -> Result<CheckoutSession, StripeFailure> {
        Self::checkout_session(&self.send(|| RetrieveCheckoutSession::new(session).build(), None).await?)
    }

    /// Cancels a subscription now. With `credit`, the unused time is credited: `prorate` adds the credit for
    /// the rest of the period and `invoice_now` puts it on a final invoice at once, so it reaches the
    /// customer's balance. Without, nothing is credited (a period that was never paid). (DELETE is idempotent
    /// at Stripe; it takes no Idempotency-Key.)
    pub async fn cancel_subscription_now(
        &self,
        subscription: &str,
        credit: bool,
    ) -> Result<StripeSubscription, StripeFailure> {
        let build = || CancelSubscription::new(subscription).prorate(credit).invoice_now(credit).build();
        Self::subscription(&self.send(build, None).await?)
    }

    /// A Billing Portal session; returns the page URL.
    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
        key: &str,
    ) -> Result<String, StripeFailure> {
        let build = || CreateBillingPortalSession::new().customer(customer).return_url(return_url).build();
        Self::string_field(&self.send(build, Some(key)).await?, "url")
    }

    pub async fn retrieve_subscription(&self, subscription: &str) -> Result<StripeSubscription, StripeFailure> {
        Self::subscription(&self.send(|| RetrieveSubscription::new(subscription).build(), None).await?)
    }

    /// A subscription with its latest invoice expanded: the one a pending update waits for.
    pub async fn retrieve_subscription_and_invoice(
        &self,
        subscription: &str,
    ) -> Result<StripeSubscription, StripeFailure> {
        let build = || RetrieveSubscription::new(subscription).expand(vec!["latest_invoice".to_owned()]).build();
        Self::subscription(&self.send(build, None).await?)
    }

    /// Moves the subscription's item to another price, paid before it is granted: the prorations for the
    /// rest of the period are invoiced and charged at once (`always_invoice`), and when that payment fails
    /// Stripe keeps the subscription as it was and holds the change as its `pending_update` until the
    /// invoice is paid (`pending_if_incomplete`). The answer carries that invoice (`latest_invoice`,
    /// expanded) for its payment page. `proration_date` (epoch seconds) prorates as of then, as a preview
    /// of the change did.
    pub async fn change_price(
        &self,
        change: &PriceChange<'_>,
        proration_date: Option<i64>,
        key: &str,
    ) -> Result<StripeSubscription, StripeFailure> {
        let build = || {
            let mut item = UpdateSubscriptionItems::new();
            item.id = Some(change.item.to_owned());
            item.price = Some(change.price.to_owned());
            let mut request = UpdateSubscription::new(change.subscription)
                .items(vec![item])
                .proration_behavior(UpdateSubscriptionProrationBehavior::AlwaysInvoice)
                .payment_behavior(UpdateSubscriptionPaymentBehavior::PendingIfIncomplete)
                .expand(vec!["latest_invoice".to_owned()]);
            if let Some(date) = proration_date {
                request = request.proration_date(date);
            }
            request.build()
        };
        Self::subscription(&self.send(build, Some(key)).await?)
    }

    /// What [`Self::change_price`] would invoice now (`POST /v1/invoices/create_preview` with the same
    /// item, price and `always_invoice`), prorated as of `proration_date`. A preview changes nothing, so it
    /// needs no Idempotency-Key.
    pub async fn preview_price_change(
        &self,
        change: &PriceChange<'_>,
        proration_date: i64,
    ) -> Result<InvoicePreview, StripeFailure> {
        let build = || {
            let mut item = CreatePreviewInvoiceSubscriptionDetailsItems::new();
            item.id = Some(change.item.to_owned());
            item.price = Some(change.price.to_owned());
            let mut details = CreatePreviewInvoiceSubscriptionDetails::new();
            details.items = Some(vec![item]);
            details.proration_behavior = Some(CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::AlwaysInvoice);
            details.proration_date = Some(proration_date);
            CreatePreviewInvoice::new().subscription(change.subscription).subscription_details(details).build()
        };
        InvoicePreview::from_json(&self.send(build, None).await?)
            .ok_or_else(|| StripeFailure::Unexpected("not an invoice preview".to_owned()))
    }

    /// Schedules the change of the subscription's item to `change.price` for the end of the current period,
    /// with a subscription schedule: made from the subscription (its one phase: the subscription as it is,
    /// until the period's end), then given a second phase on the new price, without prorations, released
    /// after it (the subscription then renews on the new price as before). Both phases are copies of the
    /// phase Stripe made, quantity, tax rates and discounts included: a phase is what it is sent, so one sent
    /// with only its price would drop them. Should the second step fail, the half-made schedule is released,
    /// leaving the subscription as it was. Stripe makes the change atomically with the renewal invoice.
    /// (async-stripe's schedule builders are behind a feature this build does not compile; these are plain
    /// form posts.)
    pub async fn schedule_price_change(
        &self,
        change: &PriceChange<'_>,
        current_price: &str,
        key: &str,
    ) -> Result<Scheduled, StripeFailure> {
        let create = || raw_post("/subscription_schedules".to_owned(), &[("from_subscription", change.subscription)]);
        let schedule = self.send(create, Some(&format!("{key}-create"))).await?;
        let id = Self::string_field(&schedule, "id")?;
        let current = current_phase(&schedule).ok_or_else(no_phases)?;
        let at = current["end_date"]
            .as_i64()
            .ok_or_else(|| StripeFailure::Unexpected("a schedule phase without its end".to_owned()))?;
        let mut fields = phase_fields(current, 0, None);
        fields.extend(phase_fields(current, 1, Some((current_price, change.price))));
        if !fields.iter().any(|(name, value)| name.starts_with("phases[1][items]") && value == change.price) {
            self.release_schedule(&id, false, &format!("vigil-schedule-release-{id}")).await.ok();
            return Err(StripeFailure::Unexpected(format!("no item of schedule {id} is on the price {current_price}")));
        }
        fields.extend([
            // One period long (Vigil's prices are monthly); `iterations` is gone from the API version this
            // client speaks.
            ("phases[1][duration][interval]".to_owned(), "month".to_owned()),
            ("phases[1][duration][interval_count]".to_owned(), "1".to_owned()),
            ("proration_behavior".to_owned(), "none".to_owned()),
            ("end_behavior".to_owned(), "release".to_owned()),
        ]);
        let update = || raw_post_owned(format!("/subscription_schedules/{id}"), &fields);
        if let Err(failure) = self.send(update, Some(&format!("{key}-phases"))).await {
            if let Err(release) = self.release_schedule(&id, false, &format!("vigil-schedule-release-{id}")).await {
                log::warn!("half-made subscription schedule {id} not released: {release}");
            }
            return Err(failure);
        }
        Ok(Scheduled { schedule: id, at })
    }

    /// Ends a subscription that a schedule manages at the end of the current phase, in one call to the
    /// schedule (Stripe refuses `cancel_at_period_end` on such a subscription): the current phase is kept as
    /// it is, the later ones (a scheduled downgrade) are dropped, and the schedule cancels when it ends.
    /// A current phase that runs past `period_end` (a contract made in the Dashboard) is cut to it: the
    /// subscription ends with the period, as a cancellation does everywhere else.
    pub async fn cancel_through_schedule(
        &self,
        schedule: &str,
        period_end: Option<i64>,
        key: &str,
    ) -> Result<(), StripeFailure> {
        let read = || RequestBuilder::new(StripeMethod::Get, format!("/subscription_schedules/{schedule}"));
        let found = self.send(read, None).await?;
        let mut fields = phase_fields(current_phase(&found).ok_or_else(no_phases)?, 0, None);
        // Only to a period end still ahead and after the phase began: a stale one would be refused.
        let began = current_phase(&found).and_then(|phase| phase["start_date"].as_i64()).unwrap_or(i64::MAX);
        let now = chrono::Utc::now().timestamp();
        if let Some(end) = period_end.filter(|end| *end > began && *end > now) {
            for (name, value) in &mut fields {
                if name == "phases[0][end_date]" && value.parse::<i64>().is_ok_and(|phase_end| phase_end > end) {
                    *value = end.to_string();
                }
            }
        }
        fields.push(("end_behavior".to_owned(), "cancel".to_owned()));
        let update = || raw_post_owned(format!("/subscription_schedules/{schedule}"), &fields);
        self.send(update, Some(key)).await.map(drop)
    }

    /// Detaches a subscription schedule, leaving the subscription as it is now (a scheduled change is
    /// dropped). Releasing twice is refused by Stripe; the caller treats that as done.
    /// `preserve_cancel_date` keeps a cancellation the schedule set on the subscription (`cancel_at`);
    /// without it Stripe removes it.
    pub async fn release_schedule(
        &self,
        schedule: &str,
        preserve_cancel_date: bool,
        key: &str,
    ) -> Result<(), StripeFailure> {
        let preserve = if preserve_cancel_date { "true" } else { "false" };
        let build =
            || raw_post(format!("/subscription_schedules/{schedule}/release"), &[("preserve_cancel_date", preserve)]);
        self.send(build, Some(key)).await.map(drop)
    }

    /// Ends the subscription at the end of the period (`true`) or keeps it renewing (`false`). Keeping it
    /// renewing also clears a cancellation date set in the Dashboard or portal (`cancel_at`) when
    /// `clear_cancel_at`: Stripe unsets a field sent empty, which the typed builder cannot express.
    pub async fn set_cancel_at_period_end(
        &self,
        subscription: &str,
        cancel: bool,
        clear_cancel_at: bool,
        key: &str,
    ) -> Result<StripeSubscription, StripeFailure> {
        let build = || match cancel || !clear_cancel_at {
            true => UpdateSubscription::new(subscription).cancel_at_period_end(cancel).build(),
            false => raw_post(
                format!("/subscriptions/{subscription}"),
                &[("cancel_at_period_end", "false"), ("cancel_at", "")],
            ),
        };
        Self::subscription(&self.send(build, Some(key)).await?)
    }

    /// Adds a tax id to the customer; returns its id.
    pub async fn create_tax_id(
        &self,
        customer: &str,
        kind: &str,
        value: &str,
        key: &str,
    ) -> Result<String, StripeFailure> {
        let build = || {
            // Parsing cannot fail: types this crate does not know become `Unknown` and are sent as given.
            let kind: CreateCustomerTaxIdType =
                kind.parse().unwrap_or_else(|never: std::convert::Infallible| match never {});
            CreateCustomerTaxId::new(customer, kind, value).build()
        };
        Self::string_field(&self.send(build, Some(key)).await?, "id")
    }

    pub async fn delete_tax_id(&self, customer: &str, tax_id: &str, key: &str) -> Result<(), StripeFailure> {
        self.send(|| DeleteCustomerTaxId::new(customer, tax_id).build(), Some(key)).await.map(drop)
    }

    /// The customer as Stripe has it (raw: only a few fields are read).
    pub async fn retrieve_customer(&self, customer: &str) -> Result<Value, StripeFailure> {
        self.send(|| RequestBuilder::new(StripeMethod::Get, format!("/customers/{customer}")), None).await
    }

    /// A payment method (raw: its `card` is read).
    pub async fn retrieve_payment_method(&self, payment_method: &str) -> Result<Value, StripeFailure> {
        self.send(|| RequestBuilder::new(StripeMethod::Get, format!("/payment_methods/{payment_method}")), None).await
    }

    /// A customer's legacy source, such as a card saved before payment methods (raw).
    pub async fn retrieve_source(&self, customer: &str, source: &str) -> Result<Value, StripeFailure> {
        self.send(|| RequestBuilder::new(StripeMethod::Get, format!("/customers/{customer}/sources/{source}")), None)
            .await
    }

    /// The customer's tax ids at Stripe (a customer has at most 25, so one page of 100 holds them all).
    pub async fn list_tax_ids(&self, customer: &str) -> Result<Vec<CustomerTaxId>, StripeFailure> {
        let list = self.send(|| ListCustomerTaxId::new(customer).limit(100).build(), None).await?;
        Ok(list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tax_id| {
                Some(CustomerTaxId {
                    id: tax_id["id"].as_str()?.to_owned(),
                    kind: tax_id["type"].as_str()?.to_owned(),
                    value: tax_id["value"].as_str()?.to_owned(),
                })
            })
            .collect())
    }

    /// Customers with this email that Vigil created for `company_id` (their metadata says so).
    pub async fn find_customers(&self, email: &str, company_id: &str) -> Result<Vec<String>, StripeFailure> {
        let list = self.send(|| ListCustomer::new().email(email).limit(100).build(), None).await?;
        Ok(list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|customer| customer["metadata"]["company_id"].as_str() == Some(company_id))
            .filter_map(|customer| customer["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// Every subscription of a customer, whatever its status.
    pub async fn list_subscriptions(&self, customer: &str) -> Result<Vec<StripeSubscription>, StripeFailure> {
        let build =
            || ListSubscription::new().customer(customer).status(ListSubscriptionStatus::All).limit(100).build();
        let list = self.send(build, None).await?;
        Ok(list["data"].as_array().into_iter().flatten().filter_map(StripeSubscription::from_json).collect())
    }

    /// The customer's most recent invoices (up to 100).
    pub async fn list_invoices(&self, customer: &str) -> Result<Vec<StripeInvoice>, StripeFailure> {
        let list = self.send(|| ListInvoice::new().customer(customer).limit(100).build(), None).await?;
        Ok(list["data"].as_array().into_iter().flatten().filter_map(StripeInvoice::from_json).collect())
    }

    /// Voids an open invoice: it is owed no more, and Stripe stops collecting it.
    pub async fn void_invoice(&self, invoice: &str, key: &str) -> Result<(), StripeFailure> {
        self.send(|| RequestBuilder::new(StripeMethod::Post, format!("/invoices/{invoice}/void")), Some(key))
            .await
            .map(drop)
    }

    /// Turns Stripe's automatic collection of an open invoice back on (cancelling any subscription of the
    /// customer turns it off for all of them).
    pub async fn resume_collection(&self, invoice: &str, key: &str) -> Result<(), StripeFailure> {
        self.send(|| raw_post(format!("/invoices/{invoice}"), &[("auto_advance", "true")]), Some(key)).await.map(drop)
    }

    /// One page of events, newest first, optionally created at or after `since` (epoch seconds).
    pub async fn list_events(&self, starting_after: Option<&str>, since: Option<i64>) -> Result<Value, StripeFailure> {
        let build = || {
            let mut request = ListEvent::new().limit(100);
            if let Some(after) = starting_after {
                request = request.starting_after(after);
            }
            if let Some(since) = since {
                request = request.created(stripe_types::RangeQueryTs::Bounds(stripe_types::RangeBoundsTs {
                    gte: Some(since),
                    ..Default::default()
                }));
            }
            request.build()
        };
        self.send(build, None).await
    }
}

fn no_phases() -> StripeFailure {
    StripeFailure::Unexpected("a schedule without phases".to_owned())
}

fn raw_post_owned(path: String, fields: &[(String, String)]) -> RequestBuilder {
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    raw_post(path, &borrowed)
}

/// A form post for what the typed builders cannot express (an endpoint this build has no builder for, a
/// field sent empty to unset it). `fields` carry Stripe's bracketed names (`phases[0][end_date]`); they go
/// through a map, since serde_qs encodes a slice of pairs as a list (`0[0]=name&0[1]=value`).
fn raw_post(path: String, fields: &[(&str, &str)]) -> RequestBuilder {
    let form: std::collections::BTreeMap<&str, &str> = fields.iter().copied().collect();
    RequestBuilder::new(StripeMethod::Post, path).form(&form)
}

/// A Checkout Session as Stripe answered it.
#[derive(Debug, Clone)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// Epoch seconds; Stripe expires an unused session after 24 hours by default.
    pub expires_at: Option<i64>,
}

/// A downgrade a subscription schedule makes at the end of the period.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub schedule: String,
    /// When it takes effect (epoch seconds): the end of the current phase.
    pub at: i64,
}

/// A change of a subscription's one item to another price.
pub struct PriceChange<'a> {
    pub subscription: &'a str,
    pub item: &'a str,
    pub price: &'a str,
}

/// What a Checkout Session is made of.
pub struct CheckoutRequest<'a> {
    pub customer: &'a str,
    pub price: &'a str,
    pub company_id: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}
