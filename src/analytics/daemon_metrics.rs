//! The CDC daemon's Prometheus metrics, read over HTTP (ANALYTICS_METRICS_URL): the backlog and
//! reconciliation state live there, not in the warehouse. A daemon that does not answer within
//! [`TIMEOUT`] is "unavailable", never an error of the request. Samples are cached for [`TTL`], so
//! the live page's clients cost one scrape per second at most.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// Longest wait for the daemon's `/metrics`.
const TIMEOUT: Duration = Duration::from_millis(500);
/// How long a scrape is reused.
const TTL: Duration = Duration::from_secs(1);

/// The gauges the service reports (each `None` when the daemon does not export it).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DaemonGauges {
    pub backlog: Option<f64>,
    pub lag_seconds: Option<f64>,
    pub active: Option<f64>,
    pub dead_letters_pending: Option<f64>,
    /// `cdc_reconcile_differences`, summed over its series.
    pub reconcile_differences: Option<f64>,
}

/// A scraper with a short cache.
pub(crate) struct DaemonMetrics {
    url: String,
    http: reqwest::Client,
    cache: Mutex<Option<(Instant, Option<DaemonGauges>)>>,
}

impl DaemonMetrics {
    pub(crate) fn new(url: String) -> Self {
        let http = reqwest::Client::builder().timeout(TIMEOUT).build().expect("a plain HTTP client");
        DaemonMetrics { url, http, cache: Mutex::new(None) }
    }

    /// Where the metrics are read.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The gauges, or `None` when the daemon's endpoint does not answer.
    pub(crate) async fn gauges(&self) -> Option<DaemonGauges> {
        if let Some((at, cached)) = self.cache.lock().expect("metrics cache lock").as_ref() {
            if at.elapsed() < TTL {
                return cached.clone();
            }
        }
        let scraped = self.scrape().await;
        *self.cache.lock().expect("metrics cache lock") = Some((Instant::now(), scraped.clone()));
        scraped
    }

    async fn scrape(&self) -> Option<DaemonGauges> {
        let response = self.http.get(&self.url).send().await.ok()?.error_for_status().ok()?;
        Some(parse(&response.text().await.ok()?))
    }
}

/// Read the gauges out of Prometheus text.
pub(crate) fn parse(text: &str) -> DaemonGauges {
    let mut g = DaemonGauges::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let name = series.split('{').next().unwrap_or(series).trim();
        let slot = match name {
            "cdc_backlog_rows" => &mut g.backlog,
            "cdc_lag_seconds" => &mut g.lag_seconds,
            "cdc_active" => &mut g.active,
            "cdc_dead_letters_pending" => &mut g.dead_letters_pending,
            "cdc_reconcile_differences" => &mut g.reconcile_differences,
            _ => continue,
        };
        *slot = Some(slot.unwrap_or(0.0) + value);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_are_read_and_series_summed() {
        let text = "# HELP cdc_backlog_rows x\n# TYPE cdc_backlog_rows gauge\ncdc_backlog_rows 12\ncdc_active 1\n\
                    cdc_reconcile_differences{check=\"orders\"} 2\ncdc_reconcile_differences{check=\"payments\"} 1\n\
                    cdc_batches_total 99\n";
        let g = parse(text);
        assert_eq!((g.backlog, g.active, g.reconcile_differences), (Some(12.0), Some(1.0), Some(3.0)));
        assert_eq!((g.lag_seconds, g.dead_letters_pending), (None, None));
    }
}
