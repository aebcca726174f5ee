//! Transaction snapshots (`pg_snapshot` text `xmin:xmax:xip,…`) and the batch window between two.
//!
//! A change belongs to the window (prev, cur] when its transaction is visible in `cur` and not in
//! `prev`. Those are exactly the transactions that committed between the two snapshots, so every
//! committed change lands in exactly one window, whatever order transactions commit in, and an
//! old open transaction does not hold back the others: it lands in the window after its commit.

use std::{fmt, str::FromStr};

/// A parsed `pg_snapshot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgSnapshot {
    pub xmin: u64,
    pub xmax: u64,
    /// Transactions in progress when the snapshot was taken, ascending.
    pub xip: Vec<u64>,
}

impl PgSnapshot {
    /// The snapshot before any transaction: everything committed since is new.
    pub(crate) fn origin() -> Self {
        PgSnapshot { xmin: 1, xmax: 1, xip: Vec::new() }
    }

    /// Whether transaction `txid` had committed (or aborted) when this snapshot was taken.
    pub(crate) fn sees(&self, txid: u64) -> bool {
        txid < self.xmin || (txid < self.xmax && self.xip.binary_search(&txid).is_err())
    }
}

impl PgSnapshot {
    /// Whether every transaction `other` sees is seen by this snapshot too.
    pub(crate) fn covers(&self, other: &PgSnapshot) -> bool {
        other.xmax <= self.xmax && self.xip.iter().all(|&x| !other.sees(x))
    }
}

/// The snapshot text was not `xmin:xmax:xip,…`.
#[derive(Debug, thiserror::Error)]
#[error("invalid pg_snapshot text '{0}'")]
pub(crate) struct PgSnapshotParseError(String);

impl FromStr for PgSnapshot {
    type Err = PgSnapshotParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PgSnapshotParseError(s.to_string());
        let mut parts = s.split(':');
        let (Some(xmin), Some(xmax), Some(xip), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let mut xip: Vec<u64> =
            xip.split(',').filter(|x| !x.is_empty()).map(str::parse).collect::<Result<_, _>>().map_err(|_| bad())?;
        xip.sort_unstable();
        let snap = PgSnapshot { xmin: xmin.parse().map_err(|_| bad())?, xmax: xmax.parse().map_err(|_| bad())?, xip };
        if snap.xmin > snap.xmax {
            return Err(bad());
        }
        Ok(snap)
    }
}

impl fmt::Display for PgSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.xmin, self.xmax)?;
        for (i, x) in self.xip.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

/// The changes to read between two snapshots, expressed as what the reader's SQL needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub prev: PgSnapshot,
    pub cur: PgSnapshot,
}

impl Window {
    /// Transactions in progress at `prev` that `cur` sees: they committed in between.
    /// Their txids are below `prev.xmax`, so they sort before the range part.
    pub(crate) fn late_commits(&self) -> Vec<i64> {
        self.prev.xip.iter().filter(|&&x| self.cur.sees(x)).map(|&x| x as i64).collect()
    }

    /// The txid range `[prev.xmax, cur.xmax)` of transactions that started after `prev`.
    pub(crate) fn range(&self) -> (i64, i64) {
        (self.prev.xmax as i64, self.cur.xmax.max(self.prev.xmax) as i64)
    }

    /// Transactions of the range still running at `cur`: excluded, they belong to a later window.
    pub(crate) fn in_flight(&self) -> Vec<i64> {
        self.cur.xip.iter().filter(|&&x| x >= self.prev.xmax).map(|&x| x as i64).collect()
    }

    /// Whether a transaction belongs to this window (the definition the SQL implements).
    #[cfg(test)]
    pub(crate) fn contains(&self, txid: u64) -> bool {
        self.cur.sees(txid) && !self.prev.sees(txid)
    }

    /// Whether nothing can be in the window: no transaction was seen to finish in between.
    pub(crate) fn is_empty(&self) -> bool {
        self.prev == self.cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(s: &str) -> PgSnapshot {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        let s = snap("100:105:103,101");
        assert_eq!(s.xip, vec![101, 103]);
        assert_eq!(s.to_string(), "100:105:101,103");
        assert_eq!(snap("7:7:").to_string(), "7:7:");
        assert!("1:2".parse::<PgSnapshot>().is_err());
        assert!("5:2:".parse::<PgSnapshot>().is_err());
    }

    #[test]
    fn visibility_follows_pg_visible_in_snapshot() {
        let s = snap("100:105:101,103");
        assert!(s.sees(99) && s.sees(100) && s.sees(102) && s.sees(104));
        assert!(!s.sees(101) && !s.sees(103) && !s.sees(105) && !s.sees(200));
    }

    #[test]
    fn a_snapshot_covers_another_when_it_sees_all_it_sees() {
        let s = snap("100:105:101,103");
        assert!(s.covers(&s) && s.covers(&snap("90:95:91")) && s.covers(&snap("100:104:101,102,103")));
        assert!(!s.covers(&snap("100:106:101,103")), "T105 finished after s");
        assert!(!s.covers(&snap("100:105:103")), "T101 committed after s");
        assert!(snap("106:106:").covers(&s) && !s.covers(&snap("106:106:")));
        assert!(s.covers(&PgSnapshot::origin()));
    }

    #[test]
    fn a_late_commit_lands_in_the_window_after_it_commits() {
        // T101 is open at prev and commits before cur; T106 runs at cur.
        let w = Window { prev: snap("101:104:101"), cur: snap("106:108:106") };
        assert_eq!(w.late_commits(), vec![101]);
        assert_eq!(w.range(), (104, 108));
        assert_eq!(w.in_flight(), vec![106]);
        for t in [101, 104, 105, 107] {
            assert!(w.contains(t), "{t}");
        }
        for t in [100, 102, 103, 106, 108] {
            assert!(!w.contains(t), "{t}");
        }
    }

    #[test]
    fn consecutive_windows_partition_transactions() {
        let snaps = ["1:1:", "100:105:101,103", "101:110:101,107", "107:112:107,111", "115:115:"].map(snap);
        for txid in 1..115u64 {
            let owners =
                snaps.windows(2).filter(|p| Window { prev: p[0].clone(), cur: p[1].clone() }.contains(txid)).count();
            assert_eq!(owners, 1, "txid {txid} must be in exactly one window");
        }
    }
}
