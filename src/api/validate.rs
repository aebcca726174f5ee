//! Checks of request values that serde cannot express; each error names its field.

use rust_decimal::Decimal;

use super::{ApiError, ApiResult};

/// Longest name, category or email accepted.
pub(super) const MAX_TEXT: usize = 200;
/// `products.price` is numeric(10,2).
const MAX_PRICE: Decimal = Decimal::from_parts(99_999_999, 0, 0, false, 0);

/// A non-empty text of at most [`MAX_TEXT`] characters as sent, without NUL, trimmed of ASCII
/// whitespace. (The OpenAPI document states the same rule as a pattern, so both agree exactly.)
pub(super) fn text(field: &str, value: &str) -> ApiResult<String> {
    if value.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(field, format!("{field} is longer than {MAX_TEXT} characters")));
    }
    if value.contains('\0') {
        return Err(ApiError::invalid(field, format!("{field} must not contain NUL characters")));
    }
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if value.is_empty() {
        return Err(ApiError::invalid(field, format!("{field} must not be empty")));
    }
    Ok(value.to_string())
}

/// A category: like [`text`], lower-cased.
pub(super) fn category(value: &str) -> ApiResult<String> {
    text("category", value).map(|c| c.to_lowercase())
}

/// A positive price with at most 2 decimals, below 100,000,000.
pub(super) fn price(value: Decimal) -> ApiResult<Decimal> {
    if value <= Decimal::ZERO {
        return Err(ApiError::invalid("price", format!("price must be positive, got {value}")));
    }
    if value.normalize().scale() > 2 {
        return Err(ApiError::invalid("price", format!("price has more than 2 decimals: {value}")));
    }
    if value >= MAX_PRICE {
        return Err(ApiError::invalid("price", format!("price must be below {MAX_PRICE}")));
    }
    Ok(value)
}

/// A plausible email address: `local@domain.tld` (a [`text`]), no ASCII space or control
/// character anywhere, one `@`, a domain of at least two non-empty dot-separated labels.
pub(super) fn email(value: &str) -> ApiResult<String> {
    let value = text("email", value)?;
    let bad = || ApiError::invalid("email", format!("{value:?} is not an email address"));
    let plain = |c: char| c != '@' && c != ' ' && !c.is_ascii_control();
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty() && l.chars().all(plain));
    if local.is_empty() || !local.chars().all(plain) || !labels_ok {
        return Err(bad());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn emails() {
        assert!(email("ada@example.com").is_ok());
        assert_eq!(email("  a.b+c@x.co.uk ").unwrap(), "a.b+c@x.co.uk");
        for bad in ["", "ada", "@x.io", "ada@", "ada@x", "ada@x..io", "a b@x.io", "a@b@x.io", "ada@.io", "a\u{b}b@x.io"]
        {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts() {
        assert_eq!(text("name", "  Latte\n").unwrap(), "Latte");
        assert!(text("name", " \t\r\n ").is_err());
        assert!(text("name", "a\0b").is_err());
        assert_eq!(text("name", &"x".repeat(MAX_TEXT)).unwrap().len(), MAX_TEXT);
        assert!(text("name", &format!("{} ", "x".repeat(MAX_TEXT))).is_err(), "the length counts as sent");
    }

    #[test]
    fn prices() {
        assert!(price(Decimal::from_str("3.5").unwrap()).is_ok());
        assert!(price(Decimal::from_str("3.500").unwrap()).is_ok());
        assert!(price(Decimal::from_str("3.555").unwrap()).is_err());
        assert!(price(Decimal::ZERO).is_err());
        assert!(price(Decimal::from_str("-1").unwrap()).is_err());
        assert!(price(Decimal::from_str("100000000").unwrap()).is_err());
    }
}
