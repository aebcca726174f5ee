//! The standby gate (`CDC_SYNC_STANDBYS`): a window is applied only once the named physical
//! standbys of OLTP have replayed the WAL up to the position read together with the window's
//! snapshot — as PostgreSQL 17's `synchronized_standby_slots` holds logical decoding back. Every
//! transaction the snapshot sees committed before that position, so after a failover to one of
//! those standbys the warehouse holds nothing the new primary lacks, and no resync is needed.
//!
//! Replayed, not merely flushed: a promoted standby replays everything it flushed, so flushed
//! would do for a failover; replayed also means nothing reaches the warehouse before it can be
//! read on the standby (what a reader comparing the two sees), for the time replay trails the
//! flush (milliseconds). Positions come from `pg_stat_replication` on the primary (the daemon's
//! role is a member of `pg_read_all_stats`, granted by `brewlytics roles`).

use std::{
    fmt,
    str::FromStr,
    time::{Duration, Instant},
};

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::{cdc::error::CdcError, telemetry};

/// A WAL position (`pg_lsn`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Lsn(pub u64);

/// The text was not `X/Y` in hexadecimal.
#[derive(Debug, thiserror::Error)]
#[error("invalid pg_lsn text '{0}'")]
pub(crate) struct LsnParseError(String);

impl FromStr for Lsn {
    type Err = LsnParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || LsnParseError(s.to_string());
        let (hi, lo) = s.split_once('/').ok_or_else(bad)?;
        let (hi, lo) =
            (u64::from_str_radix(hi, 16).map_err(|_| bad())?, u64::from_str_radix(lo, 16).map_err(|_| bad())?);
        Ok(Lsn(hi << 32 | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// How often the gate looks at the standbys while it waits: at first soon (replay usually trails
/// by about a millisecond), then less and less often, up to [`SLOWEST`].
const FIRST: Duration = Duration::from_millis(1);
const SLOWEST: Duration = Duration::from_millis(50);
/// How often a long wait is logged.
const COMPLAIN_EVERY: Duration = Duration::from_secs(10);

/// The standbys a window waits for (none: the gate is open).
#[derive(Debug, Clone, Default)]
pub(crate) struct Gate {
    standbys: Vec<String>,
}

impl Gate {
    pub(crate) fn new(standbys: &[String]) -> Self {
        Gate { standbys: standbys.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect() }
    }

    /// Wait until every standby has replayed `lsn` (at once without standbys), reading
    /// `pg_stat_replication` through `oltp`; `false` when `shutdown` came first.
    pub(crate) async fn wait(&self, oltp: &Client, lsn: Lsn, shutdown: &CancellationToken) -> Result<bool, CdcError> {
        if self.standbys.is_empty() {
            return Ok(true);
        }
        let (started, mut complained, mut pause) = (Instant::now(), Instant::now(), FIRST);
        loop {
            let behind = self.behind(oltp, lsn).await?;
            if behind.is_empty() {
                telemetry::observe_phase("standby_wait", started.elapsed());
                return Ok(true);
            }
            if complained.elapsed() >= COMPLAIN_EVERY {
                tracing::warn!(standbys = %behind.join(", "), lsn = %lsn, waited_s = started.elapsed().as_secs(), "waiting for standbys to replay before applying (CDC_SYNC_STANDBYS)");
                complained = Instant::now();
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(SLOWEST);
        }
    }

    /// The standbys that have not replayed `lsn` yet (or are not connected).
    async fn behind(&self, oltp: &Client, lsn: Lsn) -> Result<Vec<String>, CdcError> {
        let rows = oltp
            .query(
                "select application_name, coalesce(max(replay_lsn)::text, '0/0') from pg_stat_replication
                 where application_name = any($1) group by 1",
                &[&self.standbys],
            )
            .await
            .map_err(|e| CdcError::db("reading the standbys' positions", e))?;
        let replayed = |name: &str| {
            rows.iter()
                .find(|r| r.get::<_, &str>(0) == name)
                .and_then(|r| r.get::<_, &str>(1).parse::<Lsn>().ok())
                .is_some_and(|at| at >= lsn)
        };
        Ok(self.standbys.iter().filter(|s| !replayed(s)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_compare_and_print_as_postgresql_does() {
        let a: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(a.0, 0x16_B374_D848);
        assert_eq!(a.to_string(), "16/B374D848");
        assert!("0/1".parse::<Lsn>().unwrap() < "0/10".parse().unwrap());
        assert!("1/0".parse::<Lsn>().unwrap() > "0/FFFFFFFF".parse().unwrap());
        assert!("16B374D848".parse::<Lsn>().is_err());
        assert!(Gate::new(&[" ".into()]).standbys.is_empty(), "an empty name is no standby");
    }
}
