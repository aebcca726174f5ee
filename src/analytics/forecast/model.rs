//! The forecast model, pure: **same-slot mean of the last 4 seasons plus a linear trend**.
//!
//! The history is exactly [`WEEKS`] whole seasons, oldest first (a season is a week: 7 days for the
//! daily forecast, 168 hours for the hourly one). For a future position `p` (the history is
//! positions `0 .. 4·s`, `p ≥ 4·s`) in slot `k = p mod s`:
//!
//! ```text
//! level(k) = mean of the 4 history values in slot k          (same weekday / same hour of week)
//! b        = least-squares slope of the 4 season totals       (change per season)
//! forecast = max(0, level(k) + (p − k − s·(4−1)/2) · b / s²)
//! ```
//!
//! `level(k)` estimates slot k at the middle of the history; `b / s²` is the trend per position,
//! carried from there to `p`. A series that is a weekly pattern plus a straight line is forecast
//! exactly; a flat pattern is repeated. Missing periods count as 0 (a young store is
//! under-forecast); there are no holidays or intervals: a documented baseline, not a promise.

use rust_decimal::Decimal;

/// Seasons of history the model reads.
pub(crate) const WEEKS: usize = 4;

/// The model's name, as responses state it.
pub(crate) const METHOD: &str = "seasonal_mean_with_linear_trend";

/// Forecast positions `from .. from + horizon` after a history of `WEEKS` seasons of `season`
/// values. `None` when the history does not have exactly `WEEKS · season` values or `from` is
/// inside it.
pub(crate) fn forecast(history: &[Decimal], season: usize, from: usize, horizon: usize) -> Option<Vec<Decimal>> {
    if season == 0 || history.len() != WEEKS * season || from < history.len() {
        return None;
    }
    let s = Decimal::from(season as u64);
    let weeks = Decimal::from(WEEKS as u64);
    let totals: Vec<Decimal> = history.chunks(season).map(|c| c.iter().sum()).collect();
    let slope = slope(&totals);
    let middle = s * Decimal::from(WEEKS as u64 - 1) / Decimal::TWO;
    let out = (from..from + horizon)
        .map(|p| {
            let k = p % season;
            let level: Decimal = (0..WEEKS).map(|j| history[j * season + k]).sum::<Decimal>() / weeks;
            let offset = Decimal::from((p - k) as u64) - middle;
            (level + offset * slope / (s * s)).max(Decimal::ZERO)
        })
        .collect();
    Some(out)
}

/// Least-squares slope of `y` over x = 0, 1, 2, …
fn slope(y: &[Decimal]) -> Decimal {
    let n = Decimal::from(y.len() as u64);
    let mean_x = (n - Decimal::ONE) / Decimal::TWO;
    let mean_y = y.iter().sum::<Decimal>() / n;
    let (mut num, mut den) = (Decimal::ZERO, Decimal::ZERO);
    for (i, v) in y.iter().enumerate() {
        let dx = Decimal::from(i as u64) - mean_x;
        num += dx * (*v - mean_y);
        den += dx * dx;
    }
    if den.is_zero() {
        Decimal::ZERO
    } else {
        num / den
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }

    /// A weekly pattern plus a straight line: the model continues it exactly.
    #[test]
    fn a_weekly_pattern_with_a_linear_trend_is_continued_exactly() {
        let pattern = [100, 120, 90, 95, 130, 210, 180];
        let value = |t: usize| d(pattern[t % 7]) + d(3 * t as i64);
        let history: Vec<Decimal> = (0..28).map(value).collect();
        let got = forecast(&history, 7, 29, 7).unwrap();
        let want: Vec<Decimal> = (29..36).map(value).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_flat_week_is_repeated_and_noise_is_averaged() {
        let history: Vec<Decimal> = (0..28).map(|t| d([10, 20, 30, 40, 50, 60, 70][t % 7])).collect();
        assert_eq!(forecast(&history, 7, 28, 7).unwrap(), history[..7].to_vec());
        // The same weekday at 8, 12, 12, 8 (no trend in the week totals) forecasts 10.
        let mut noisy = vec![d(0); 28];
        for (j, v) in [8, 12, 12, 8].into_iter().enumerate() {
            noisy[j * 7] = d(v);
        }
        assert_eq!(forecast(&noisy, 7, 28, 1).unwrap(), vec![d(10)]);
    }

    #[test]
    fn a_falling_series_is_floored_at_zero() {
        let history: Vec<Decimal> = (0..28).map(|t| d(280 - 10 * t as i64)).collect();
        let got = forecast(&history, 7, 28, 7).unwrap();
        assert!(got.iter().all(|v| *v >= Decimal::ZERO));
        assert_eq!(got[0], d(0), "280 - 10*28 = 0");
    }

    #[test]
    fn hourly_seasons_work_the_same_and_bad_shapes_are_refused() {
        let value = |t: usize| d((t % 168 % 24) as i64) + Decimal::new(t as i64, 1);
        let history: Vec<Decimal> = (0..672).map(value).collect();
        let got = forecast(&history, 168, 673, 24).unwrap();
        assert_eq!(got, (673..697).map(value).collect::<Vec<_>>());
        assert!(forecast(&history[1..], 168, 673, 24).is_none());
        assert!(forecast(&history, 168, 600, 24).is_none());
    }
}
