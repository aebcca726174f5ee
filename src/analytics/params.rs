//! Query parameters: parsed once, every error a 422 naming the parameter (400 when the query
//! string itself is malformed). Unknown and repeated parameters are refused, not ignored.

use std::collections::BTreeMap;

use axum::{
    extract::{FromRequestParts, Query},
    http::request::Parts,
};
use chrono::{Datelike, Duration, NaiveDate};

use super::error::{AnalyticsError, AnalyticsResult};

/// First and last day of the calendar (`dim_date`); dates outside it are refused.
const FIRST_YEAR: i32 = 2015;
const LAST_YEAR: i32 = 2045;
/// Longest date range one request may cover, in days.
pub(crate) const MAX_RANGE_DAYS: i64 = 366;

/// The query parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = AnalyticsError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AnalyticsError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| AnalyticsError::Malformed(format!("malformed query string: {}", e.body_text())))?;
        Params::from_pairs(pairs)
    }
}

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// The `dim_date` keys of both ends.
    pub(crate) fn keys(self) -> (i32, i32) {
        (date_key(self.from), date_key(self.to))
    }

    /// The same days `days` earlier.
    pub(crate) fn shifted(self, days: i64) -> Self {
        DateRange { from: self.from - Duration::days(days), to: self.to - Duration::days(days) }
    }

    /// Number of days in the range.
    pub(crate) fn days(self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

/// `yyyymmdd`, the key of `dim_date`.
pub(crate) fn date_key(d: NaiveDate) -> i32 {
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

impl Params {
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> AnalyticsResult<Self> {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if map.insert(k.clone(), v).is_some() {
                return Err(AnalyticsError::invalid(&k, format!("parameter {k} is given more than once")));
            }
        }
        Ok(Params(map))
    }

    /// Refuse parameters other than `allowed`.
    pub(crate) fn only(&self, allowed: &[&str]) -> AnalyticsResult<()> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) if allowed.is_empty() => {
                Err(AnalyticsError::invalid(k, format!("unknown parameter {k}: none is accepted")))
            }
            Some(k) => {
                Err(AnalyticsError::invalid(k, format!("unknown parameter {k} (accepted: {})", allowed.join(", "))))
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A `YYYY-MM-DD` day of the calendar.
    pub(crate) fn date(&self, name: &str) -> AnalyticsResult<Option<NaiveDate>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let bad = || AnalyticsError::invalid(name, format!("{name} must be a date like 2026-01-31, got {v:?}"));
        if v.len() != 10 {
            return Err(bad());
        }
        let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| bad())?;
        in_calendar(name, d).map(Some)
    }

    /// A `YYYY-MM` month (its first day).
    pub(crate) fn month(&self, name: &str) -> AnalyticsResult<Option<NaiveDate>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let bad = || AnalyticsError::invalid(name, format!("{name} must be a month like 2026-01, got {v:?}"));
        if v.len() != 7 {
            return Err(bad());
        }
        let d = NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        in_calendar(name, d).map(Some)
    }

    /// `date` (one day) or `from`/`to` (inclusive); without them the `default_days` days up to `today`.
    pub(crate) fn range(&self, today: NaiveDate, default_days: i64) -> AnalyticsResult<DateRange> {
        let (date, from, to) = (self.date("date")?, self.date("from")?, self.date("to")?);
        let range = match (date, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(AnalyticsError::invalid("date", "give either date or from/to, not both"))
            }
            (Some(d), None, None) => DateRange { from: d, to: d },
            (None, from, to) => {
                let to = to.unwrap_or_else(|| today.max(from.unwrap_or(today)));
                DateRange { from: from.unwrap_or(to - Duration::days(default_days - 1)), to }
            }
        };
        if range.from > range.to {
            return Err(AnalyticsError::invalid("from", format!("from {} is after to {}", range.from, range.to)));
        }
        if range.days() > MAX_RANGE_DAYS {
            return Err(AnalyticsError::invalid("to", format!("a range covers at most {MAX_RANGE_DAYS} days")));
        }
        Ok(range)
    }

    /// An integer in `min..=max`, `default` when absent.
    pub(crate) fn int(&self, name: &str, default: i64, min: i64, max: i64) -> AnalyticsResult<i64> {
        let Some(v) = self.get(name) else { return Ok(default) };
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => {
                Err(AnalyticsError::invalid(name, format!("{name} must be an integer from {min} to {max}, got {v:?}")))
            }
        }
    }

    /// An integer in `min..=max`, when given.
    pub(crate) fn optional_int(&self, name: &str, min: i64, max: i64) -> AnalyticsResult<Option<i64>> {
        self.get(name).map(|_| self.int(name, 0, min, max)).transpose()
    }

    /// One of `options`, the first when absent.
    pub(crate) fn choice(&self, name: &str, options: &[&'static str]) -> AnalyticsResult<&'static str> {
        let Some(v) = self.get(name) else { return Ok(options[0]) };
        options.iter().copied().find(|o| *o == v).ok_or_else(|| {
            AnalyticsError::invalid(name, format!("{name} must be one of {}, got {v:?}", options.join(", ")))
        })
    }

    /// An optional value among `options`.
    pub(crate) fn optional_choice(
        &self,
        name: &str,
        options: &[&'static str],
    ) -> AnalyticsResult<Option<&'static str>> {
        self.get(name).map(|_| self.choice(name, options)).transpose()
    }
}

fn in_calendar(name: &str, d: NaiveDate) -> AnalyticsResult<NaiveDate> {
    if (FIRST_YEAR..=LAST_YEAR).contains(&d.year()) {
        Ok(d)
    } else {
        Err(AnalyticsError::invalid(name, format!("{name} must be between {FIRST_YEAR} and {LAST_YEAR}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> Params {
        Params::from_pairs(q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    fn field(r: AnalyticsResult<DateRange>) -> String {
        match r {
            Err(AnalyticsError::Invalid { field, .. }) => field,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn ranges_default_and_validate_by_parameter() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(params(&[]).range(today, 1).unwrap(), DateRange { from: today, to: today });
        assert_eq!(params(&[]).range(today, 30).unwrap(), DateRange { from: d("2026-02-09"), to: today });
        assert_eq!(
            params(&[("date", "2026-01-05")]).range(today, 30).unwrap(),
            DateRange { from: d("2026-01-05"), to: d("2026-01-05") }
        );
        assert_eq!(
            params(&[("from", "2026-03-01")]).range(today, 30).unwrap(),
            DateRange { from: d("2026-03-01"), to: today }
        );
        assert_eq!(field(params(&[("date", "2026-1-5x")]).range(today, 1)), "date");
        assert_eq!(field(params(&[("from", "2026-03-05"), ("to", "2026-03-01")]).range(today, 1)), "from");
        assert_eq!(field(params(&[("from", "2024-01-01"), ("to", "2026-01-01")]).range(today, 1)), "to");
        assert_eq!(field(params(&[("date", "2026-01-01"), ("to", "2026-01-02")]).range(today, 1)), "date");
        assert_eq!(field(params(&[("to", "1999-01-01")]).range(today, 1)), "to");
    }

    #[test]
    fn unknown_repeated_and_out_of_range_parameters_are_named() {
        assert!(
            matches!(params(&[("limit", "5")]).only(&["from"]), Err(AnalyticsError::Invalid { field, .. }) if field == "limit")
        );
        let repeated = Params::from_pairs(vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert!(matches!(repeated, Err(AnalyticsError::Invalid { field, .. }) if field == "a"));
        assert_eq!(params(&[("limit", "7")]).int("limit", 10, 1, 100).unwrap(), 7);
        assert!(params(&[("limit", "0")]).int("limit", 10, 1, 100).is_err());
        assert!(params(&[("limit", "x")]).int("limit", 10, 1, 100).is_err());
        assert_eq!(params(&[]).choice("by", &["quantity", "revenue"]).unwrap(), "quantity");
        assert!(params(&[("by", "price")]).choice("by", &["quantity", "revenue"]).is_err());
        assert_eq!(params(&[("month", "2026-02")]).month("month").unwrap(), NaiveDate::from_ymd_opt(2026, 2, 1));
        assert_eq!(date_key(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()), 20260203);
    }
}
