//! Subscription schedule phases sent back to Stripe as form fields. A phase is what it is sent: one sent with
//! its price alone would renew on a quantity of 1, without the subscription's tax rates or discounts, so a
//! phase Vigil sends is a copy of the one Stripe made.

use serde_json::Value;

/// The phase of a schedule in force now (`current_phase` names its dates), or the first one.
pub(super) fn current_phase(schedule: &Value) -> Option<&Value> {
    let phases = schedule["phases"].as_array().map(Vec::as_slice).unwrap_or_default();
    let start = &schedule["current_phase"]["start_date"];
    phases.iter().find(|phase| !start.is_null() && phase["start_date"] == *start).or(phases.first())
}

/// The form fields that send `phase` again as phase `n`: its items (price, quantity, tax rates), default
/// tax rates and discounts; for the first phase, also its dates, payment method and metadata (a later phase
/// inherits those, so that a card changed meanwhile is the one charged). `swap` (from, to) replaces the price
/// of the plan item, found by its price; a later phase takes no dates: the caller gives its duration.
pub(super) fn phase_fields(phase: &Value, n: usize, swap: Option<(&str, &str)>) -> Vec<(String, String)> {
    let id = |value: &Value| value.as_str().or_else(|| value["id"].as_str()).map(str::to_owned);
    let mut fields = Vec::new();
    if n == 0 {
        // A trial in the current phase goes on (sent without it, the phase would end it).
        for date in ["start_date", "end_date", "trial_end"] {
            if let Some(at) = phase[date].as_i64() {
                fields.push((format!("phases[0][{date}]"), at.to_string()));
            }
        }
    }
    for (i, item) in phase["items"].as_array().into_iter().flatten().enumerate() {
        let item_price = id(&item["price"]).or_else(|| id(&item["plan"])).map(|price| match swap {
            Some((from, to)) if price == from => to.to_owned(),
            _ => price,
        });
        if let Some(item_price) = item_price {
            fields.push((format!("phases[{n}][items][{i}][price]"), item_price));
        }
        if let Some(quantity) = item["quantity"].as_i64() {
            fields.push((format!("phases[{n}][items][{i}][quantity]"), quantity.to_string()));
        }
        for (j, rate) in item["tax_rates"].as_array().into_iter().flatten().filter_map(id).enumerate() {
            fields.push((format!("phases[{n}][items][{i}][tax_rates][{j}]"), rate));
        }
        fields.extend(discount_fields(&item["discounts"], &format!("phases[{n}][items][{i}][discounts]")));
    }
    for (j, rate) in phase["default_tax_rates"].as_array().into_iter().flatten().filter_map(id).enumerate() {
        fields.push((format!("phases[{n}][default_tax_rates][{j}]"), rate));
    }
    fields.extend(discount_fields(&phase["discounts"], &format!("phases[{n}][discounts]")));
    // How the phase is taxed and collected: left out, Stripe would fall back to the account's defaults.
    if let Some(enabled) = phase["automatic_tax"]["enabled"].as_bool() {
        fields.push((format!("phases[{n}][automatic_tax][enabled]"), enabled.to_string()));
    }
    if let Some(method) = phase["collection_method"].as_str() {
        fields.push((format!("phases[{n}][collection_method]"), method.to_owned()));
    }
    if let Some(days) = phase["invoice_settings"]["days_until_due"].as_i64() {
        fields.push((format!("phases[{n}][invoice_settings][days_until_due]"), days.to_string()));
    }
    if n > 0 {
        return fields;
    }
    if let Some(method) = id(&phase["default_payment_method"]) {
        fields.push((format!("phases[{n}][default_payment_method]"), method));
    }
    for (name, value) in phase["metadata"].as_object().into_iter().flatten() {
        if let Some(value) = value.as_str() {
            fields.push((format!("phases[{n}][metadata][{name}]"), value.to_owned()));
        }
    }
    fields
}

/// Discounts sent again under `name`: an existing discount by its id (its remaining duration goes on), a
/// coupon or promotion code not yet applied by itself.
fn discount_fields(discounts: &Value, name: &str) -> Vec<(String, String)> {
    let id = |value: &Value| value.as_str().or_else(|| value["id"].as_str()).map(str::to_owned);
    discounts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|discount| {
            ["discount", "coupon", "promotion_code"]
                .into_iter()
                .find_map(|field| id(&discount[field]).map(|v| (field, v)))
        })
        .enumerate()
        .map(|(j, (field, value))| (format!("{name}[{j}][{field}]"), value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::phase_fields;

    /// A phase as Stripe answers it for a subscription billed for 3 seats, with VAT, a discount on the
    /// subscription and one on the item, automatic tax and a card of its own.
    fn phase() -> serde_json::Value {
        serde_json::json!({
            "start_date": 1_796_000_000, "end_date": 1_798_600_000,
            "items": [
                {"price": "price_addon", "quantity": 1, "tax_rates": [], "discounts": []},
                {"price": {"id": "price_enterprise"}, "quantity": 3, "tax_rates": [{"id": "txr_vat"}],
                 "discounts": [{"coupon": "SEATS10", "discount": null, "promotion_code": null}]},
            ],
            "default_tax_rates": ["txr_vat"],
            "discounts": [{"coupon": "LAUNCH", "discount": "di_1", "promotion_code": null}],
            "automatic_tax": {"enabled": true, "liability": null},
            "collection_method": "charge_automatically",
            "default_payment_method": "pm_card", "metadata": {"contract": "c-7"},
        })
    }

    fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_copied_phase_keeps_what_the_subscription_is_billed_with() {
        let now = phase_fields(&phase(), 0, None);
        let next = phase_fields(&phase(), 1, Some(("price_enterprise", "price_pro")));

        for (name, value) in [
            ("phases[0][start_date]", "1796000000"),
            ("phases[0][end_date]", "1798600000"),
            ("phases[0][items][1][price]", "price_enterprise"),
            ("phases[0][default_payment_method]", "pm_card"),
            ("phases[0][metadata][contract]", "c-7"),
        ] {
            assert_eq!(field(&now, name), Some(value), "{name}: {now:?}");
        }
        for (name, value) in [
            ("phases[1][items][0][price]", "price_addon"),
            ("phases[1][items][1][price]", "price_pro"),
            ("phases[1][items][1][quantity]", "3"),
            ("phases[1][items][1][tax_rates][0]", "txr_vat"),
            ("phases[1][items][1][discounts][0][coupon]", "SEATS10"),
            ("phases[1][default_tax_rates][0]", "txr_vat"),
            ("phases[1][discounts][0][discount]", "di_1"),
            ("phases[1][automatic_tax][enabled]", "true"),
            ("phases[1][collection_method]", "charge_automatically"),
        ] {
            assert_eq!(field(&next, name), Some(value), "{name}: {next:?}");
        }
        assert!(next.iter().all(|(name, _)| !name.contains("date") && !name.contains("payment_method")), "{next:?}");
        assert_eq!(field(&next, "phases[1][metadata][contract]"), None, "a later phase inherits the metadata");
    }
}
