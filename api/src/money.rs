//! Money as Vigil stores it, integer minor units plus a currency, written the way people read it.
//!
//! The one formatter of amounts in the server (alert messages); the web app's is `formatMoney` in
//! `web/src/lib/format.ts`.

/// Stripe's zero-decimal currencies: an amount is already in whole units (¥500 is `500`, not `50000`).
/// <https://docs.stripe.com/currencies#zero-decimal>
const ZERO_DECIMAL: [&str; 16] =
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];

/// Stripe's three-decimal currencies: an amount is in thousandths.
/// <https://docs.stripe.com/currencies#three-decimal>
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// How many decimals the minor unit of `currency` (an ISO 4217 code, any case) has, as Stripe counts them.
pub fn decimals(currency: &str) -> u32 {
    let code = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&code.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

/// `minor` units of `currency` as text: 2900 usd → "29.00 USD", 500 jpy → "500 JPY", -150 eur → "-1.50 EUR".
pub fn format_money(minor: i64, currency: &str) -> String {
    let code = currency.to_uppercase();
    let places = decimals(currency);
    let sign = if minor < 0 { "-" } else { "" };
    let amount = minor.unsigned_abs();
    if places == 0 {
        return format!("{sign}{amount} {code}");
    }
    let unit = 10_u64.pow(places);
    let width = places as usize;
    format!("{sign}{}.{:0width$} {code}", amount / unit, amount % unit)
}

#[cfg(test)]
mod tests {
    use super::format_money;

    #[test]
    fn two_decimal_currencies_divide_by_a_hundred() {
        assert_eq!(format_money(2900, "usd"), "29.00 USD");
        assert_eq!(format_money(5, "EUR"), "0.05 EUR");
        assert_eq!(format_money(0, "gbp"), "0.00 GBP");
        assert_eq!(format_money(-150, "eur"), "-1.50 EUR");
    }

    #[test]
    fn zero_decimal_currencies_are_whole_units() {
        assert_eq!(format_money(500, "jpy"), "500 JPY");
        assert_eq!(format_money(12_000, "KRW"), "12000 KRW");
        assert_eq!(format_money(-3, "vnd"), "-3 VND");
    }

    #[test]
    fn three_decimal_currencies_divide_by_a_thousand() {
        assert_eq!(format_money(1_230, "kwd"), "1.230 KWD");
    }
}
