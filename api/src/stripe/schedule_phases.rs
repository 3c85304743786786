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
        for date in ["start_date", "end_date"] {
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
    }
    for (j, rate) in phase["default_tax_rates"].as_array().into_iter().flatten().filter_map(id).enumerate() {
        fields.push((format!("phases[{n}][default_tax_rates][{j}]"), rate));
    }
    // An existing discount is carried on by its id (its remaining duration goes on); a coupon not yet
    // applied by the coupon.
    for (j, discount) in phase["discounts"].as_array().into_iter().flatten().enumerate() {
        let carried = ["discount", "coupon", "promotion_code"]
            .into_iter()
            .find_map(|field| id(&discount[field]).map(|value| (field, value)));
        if let Some((field, value)) = carried {
            fields.push((format!("phases[{n}][discounts][{j}][{field}]"), value));
        }
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
