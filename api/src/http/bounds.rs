//! Bounds on the times clients name. chrono parses years up to ±262,143, and arithmetic near those ends
//! panics; no day in this product lies outside 1970–9999, so anything outside is refused with a 422 before
//! any arithmetic happens.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::ApiError;

/// The first day a client may name.
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(day) => day,
    None => unreachable!(),
};
/// The last day a client may name.
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => unreachable!(),
};

/// A calendar day from a query string: `YYYY-MM-DD` (10 characters, as the OpenAPI document says), between
/// [`FIRST_DAY`] and [`LAST_DAY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(NaiveDate);

impl Day {
    /// The message of every refused day.
    pub const RULE: &str = "must be a day from 1970-01-01 to 9999-12-31, written YYYY-MM-DD";

    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text.len() != 10 {
            return Err(Self::RULE);
        }
        let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| Self::RULE)?;
        if !(FIRST_DAY..=LAST_DAY).contains(&day) {
            return Err(Self::RULE);
        }
        Ok(Self(day))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An instant a client sent, refused (as a 422 on `field`) unless it falls within [`FIRST_DAY`] and
/// [`LAST_DAY`].
pub fn instant(field: &str, time: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if (FIRST_DAY..=LAST_DAY).contains(&time.date_naive()) {
        Ok(time)
    } else {
        Err(ApiError::invalid_field(field, "must be a time from 1970-01-01 to 9999-12-31"))
    }
}

#[cfg(test)]
mod tests {
    use super::Day;

    #[test]
    fn only_ten_character_days_of_the_sane_range_parse() {
        assert_eq!(Day::parse("2026-11-25").map(|d| d.date().to_string()), Ok("2026-11-25".to_owned()));
        assert!(Day::parse("1970-01-01").is_ok() && Day::parse("9999-12-31").is_ok());
        for refused in ["+262142-12-31", "-262143-01-01", "1969-12-31", "+02026-11-25", "2026-1-5", "2026-02-30", ""] {
            assert!(Day::parse(refused).is_err(), "{refused}");
        }
    }
}
