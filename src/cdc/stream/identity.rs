//! Knowing the source: the checkpoint says which OLTP database it describes (its system
//! identifier and timeline, the highest `cdc_orders` id applied), and what the daemon sees of the
//! source now is compared with it. A source that changed identity or went back — a promoted
//! standby (new timeline, transaction ids and ids reused), a point-in-time restore (new timeline),
//! a new cluster loaded from a dump (new identifier, transaction ids behind), or a warehouse
//! restored to a checkpoint older than what retention pruned — is not the source of the
//! checkpoint any more: nothing more is applied from the old position.
//!
//! One new timeline is not a new source, though: a standby promoted after it replayed every
//! change the warehouse applied (the WAL position recorded with them is at or before the point
//! where the new timeline forked, read from its history file) holds all of them, and streaming
//! goes on there (the standby gate, `super::gate`, makes this always so). Pure: the reads are the
//! caller's.

use std::fmt;

use super::{gate::Lsn, window::PgSnapshot};

/// The source's identity as the checkpoint recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SourceMark {
    /// `pg_control_system().system_identifier` (none where the source does not tell).
    pub system: Option<String>,
    pub timeline: Option<i32>,
    /// The highest `cdc_orders` id applied.
    pub max_id: i64,
    /// The WAL insert position read with the newest snapshot applied: every change applied
    /// committed before it.
    pub lsn: Option<Lsn>,
}

/// What the daemon sees of the source now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    pub system: Option<String>,
    pub timeline: Option<i32>,
    /// The sequence of `cdc_orders` ids: no id above it has been handed out.
    pub last_id: Option<i64>,
    /// What retention deleted.
    pub pruned: Option<Pruned>,
    /// A current snapshot.
    pub snapshot: Option<PgSnapshot>,
    /// The current timeline's history: (parent timeline, the position where it was left).
    pub history: Option<Vec<(i32, Lsn)>>,
}

/// The verdict on the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The checkpoint's source, as far as can be told.
    Same,
    /// A new timeline that forked at or after everything applied: the same data, streaming goes on.
    Promoted { from: i32, to: i32, forked_at: Lsn, applied: Lsn },
    /// Not the checkpoint's source.
    Replaced(Replaced),
}

/// What retention deleted from `cdc_orders` (its durable mark): changes of transactions visible
/// in `horizon` (the latest checkpoint it pruned behind) up to `max_txid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pruned {
    pub max_txid: u64,
    pub horizon: PgSnapshot,
}

/// Why the checkpoint no longer describes the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Replaced {
    System {
        from: String,
        to: String,
    },
    /// A new timeline that forked before what was applied (`applied`), or whose fork point is
    /// not known (`forked_at` none: its history is not readable, or nothing recorded what was
    /// applied).
    Timeline {
        from: i32,
        to: i32,
        forked_at: Option<Lsn>,
        applied: Option<Lsn>,
    },
    TxidsBehind {
        checkpoint: u64,
        source: u64,
    },
    IdsBehind {
        applied: i64,
        sequence: i64,
    },
    Pruned {
        needs: u64,
        pruned: u64,
    },
}

impl Replaced {
    /// The `reason` label of `cdc_source_changes_total`.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Replaced::System { .. } => "system",
            Replaced::Timeline { .. } => "timeline",
            Replaced::TxidsBehind { .. } => "txids",
            Replaced::IdsBehind { .. } => "ids",
            Replaced::Pruned { .. } => "pruned",
        }
    }
}

impl fmt::Display for Replaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replaced::System { from, to } => {
                write!(f, "OLTP system identifier {from} → {to} (another cluster, e.g. loaded from a dump)")
            }
            Replaced::Timeline { from, to, forked_at, applied } => {
                write!(f, "OLTP timeline {from} → {to} (promoted standby or point-in-time recovery)")?;
                match (forked_at, applied) {
                    (Some(fork), Some(applied)) => write!(
                        f,
                        ": it forked at {fork}, before changes the warehouse applied (up to {applied}), which it lacks"
                    ),
                    _ => f.write_str(": what it lacks cannot be told (its history or the applied position is unknown)"),
                }
            }
            Replaced::TxidsBehind { checkpoint, source } => write!(
                f,
                "OLTP transaction ids went back: the checkpoint has seen up to {checkpoint}, the source is at {source} \
                 (a restore or another cluster)"
            ),
            Replaced::IdsBehind { applied, sequence } => write!(
                f,
                "cdc_orders ids went back: id {applied} was applied, the source's sequence is at {sequence} \
                 (a standby that missed changes, or a restore)"
            ),
            Replaced::Pruned { needs, pruned } => write!(
                f,
                "the checkpoint needs changes from txid {needs}; cdc_orders was pruned up to {pruned} \
                 (the warehouse was restored from an older backup)"
            ),
        }
    }
}

/// Compare what the source shows with the checkpoint (`start`: its window start, `end`: its open
/// window's end, `mark`: its recorded identity). A checkpoint that recorded no identity (never
/// set, or older than the mark) is only checked on what it has.
pub(crate) fn check(start: &PgSnapshot, end: Option<&PgSnapshot>, mark: &SourceMark, seen: &Observed) -> Verdict {
    match replaced(start, end, mark, seen) {
        Some(why) => Verdict::Replaced(why),
        None => match (mark.timeline, seen.timeline, mark.lsn) {
            (Some(from), Some(to), Some(applied)) if from != to => {
                let forked_at = fork_point(seen, from).expect("a new timeline passes only with its fork point");
                Verdict::Promoted { from, to, forked_at, applied }
            }
            _ => Verdict::Same,
        },
    }
}

/// Where the current timeline left timeline `from` (its history lists every ancestor).
fn fork_point(seen: &Observed, from: i32) -> Option<Lsn> {
    seen.history.as_ref()?.iter().find(|(parent, _)| *parent == from).map(|(_, at)| *at)
}

fn replaced(start: &PgSnapshot, end: Option<&PgSnapshot>, mark: &SourceMark, seen: &Observed) -> Option<Replaced> {
    if let (Some(from), Some(to)) = (&mark.system, &seen.system) {
        if from != to {
            return Some(Replaced::System { from: from.clone(), to: to.clone() });
        }
    }
    if let (Some(from), Some(to)) = (mark.timeline, seen.timeline) {
        let forked_at = fork_point(seen, from);
        let holds_all = matches!((forked_at, mark.lsn), (Some(fork), Some(applied)) if applied <= fork);
        if from != to && !holds_all {
            return Some(Replaced::Timeline { from, to, forked_at, applied: mark.lsn });
        }
    }
    if let Some(now) = &seen.snapshot {
        let seen_xmax = end.map_or(start.xmax, |e| e.xmax.max(start.xmax));
        if now.xmax < seen_xmax {
            return Some(Replaced::TxidsBehind { checkpoint: seen_xmax, source: now.xmax });
        }
    }
    if let Some(sequence) = seen.last_id {
        if sequence < mark.max_id {
            return Some(Replaced::IdsBehind { applied: mark.max_id, sequence });
        }
    }
    let pruned = seen.pruned.as_ref()?;
    // Gone: changes of transactions the horizon sees, up to the max. The checkpoint needs those it
    // does not see: any in its in-progress list, and any from its xmax on (the max is one, if the
    // xmax is not beyond it).
    let gone = |x: u64| x <= pruned.max_txid && pruned.horizon.sees(x);
    let needs = start.xip.iter().copied().filter(|&x| gone(x)).min();
    let needs = needs.or((start.xmax <= pruned.max_txid).then_some(start.xmax));
    needs.map(|needs| Replaced::Pruned { needs, pruned: pruned.max_txid })
}

/// Parse a timeline history file: `parent<TAB>X/Y<TAB>reason` per line (comments and blank lines
/// skipped); `None` when a line does not parse.
pub(crate) fn parse_history(text: &str) -> Option<Vec<(i32, Lsn)>> {
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    lines
        .map(|l| {
            let mut fields = l.split_whitespace();
            Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(s: &str) -> PgSnapshot {
        s.parse().unwrap()
    }

    fn lsn(s: &str) -> Lsn {
        s.parse().unwrap()
    }

    fn mark() -> SourceMark {
        SourceMark { system: Some("7001".into()), timeline: Some(1), max_id: 500, lsn: Some(lsn("0/5000")) }
    }

    fn seen() -> Observed {
        Observed {
            system: Some("7001".into()),
            timeline: Some(1),
            last_id: Some(600),
            pruned: Some(Pruned { max_txid: 90, horizon: snap("95:100:") }),
            snapshot: Some(snap("120:125:")),
            history: None,
        }
    }

    /// Why it was replaced, if it was.
    fn why(start: &str, seen: &Observed) -> Option<Replaced> {
        match check(&snap(start), None, &mark(), seen) {
            Verdict::Replaced(why) => Some(why),
            _ => None,
        }
    }

    #[test]
    fn the_same_source_moving_on_is_not_replaced() {
        assert_eq!(check(&snap("100:110:105"), None, &mark(), &seen()), Verdict::Same);
        // Nothing recorded yet (a checkpoint older than the mark, or a source that hides its id).
        let unknown = Observed::default();
        assert_eq!(check(&snap("100:110:"), None, &SourceMark::default(), &unknown), Verdict::Same);
    }

    #[test]
    fn a_promoted_standby_a_new_cluster_and_a_rewind_are_named() {
        let promoted = Observed { timeline: Some(2), ..seen() };
        let expected = Replaced::Timeline { from: 1, to: 2, forked_at: None, applied: Some(lsn("0/5000")) };
        assert_eq!(why("100:110:", &promoted), Some(expected.clone()));
        assert!(expected.to_string().starts_with("OLTP timeline 1 → 2"), "{expected}");
        let other = Observed { system: Some("7999".into()), ..seen() };
        assert_eq!(why("100:110:", &other).unwrap().label(), "system");
        let behind = Observed { snapshot: Some(snap("104:104:")), ..seen() };
        assert_eq!(why("100:110:", &behind), Some(Replaced::TxidsBehind { checkpoint: 110, source: 104 }));
        // An open window's end counts as seen.
        let ahead = Observed { snapshot: Some(snap("115:115:")), ..seen() };
        assert!(matches!(check(&snap("100:110:"), Some(&snap("112:118:")), &mark(), &ahead), Verdict::Replaced(_)));
        let ids = Observed { last_id: Some(450), ..seen() };
        assert_eq!(why("100:110:", &ids), Some(Replaced::IdsBehind { applied: 500, sequence: 450 }));
    }

    #[test]
    fn a_new_timeline_that_holds_everything_applied_is_the_same_data() {
        let history = parse_history("1\t0/6000\tno recovery target specified\n").unwrap();
        let promoted = Observed { timeline: Some(2), history: Some(history), ..seen() };
        assert_eq!(
            check(&snap("100:110:"), None, &mark(), &promoted),
            Verdict::Promoted { from: 1, to: 2, forked_at: lsn("0/6000"), applied: lsn("0/5000") }
        );
        // Forked before what was applied (an asynchronous standby that missed the end, or PITR).
        let early = Observed { history: parse_history("1\t0/4000\tbefore 2026-12-07 06:00:00+00\n"), ..promoted };
        let why = why("100:110:", &early).unwrap();
        assert!(
            why.to_string().contains("forked at 0/4000, before changes the warehouse applied (up to 0/5000)"),
            "{why}"
        );
        // Two failovers: timeline 3's history names where 1 was left.
        let twice = Observed { timeline: Some(3), history: parse_history("1\t0/6000\tx\n2\t0/9000\ty\n"), ..seen() };
        assert!(matches!(check(&snap("100:110:"), None, &mark(), &twice), Verdict::Promoted { to: 3, .. }));
        assert_eq!(parse_history("1\tnot-an-lsn\n"), None);
    }

    #[test]
    fn pruned_changes_the_checkpoint_has_not_seen_are_a_gap() {
        // Pruned up to 90, the checkpoint saw everything below 100: nothing it needs is gone.
        assert_eq!(why("100:110:", &seen()), None);
        // A restored checkpoint older than what was pruned.
        let gap = why("60:70:", &seen());
        assert_eq!(gap, Some(Replaced::Pruned { needs: 70, pruned: 90 }));
        assert!(gap.unwrap().to_string().contains("needs changes from txid 70; cdc_orders was pruned up to 90"));
        // A transaction in progress at the checkpoint whose changes were pruned since.
        assert_eq!(why("80:95:85", &seen()), Some(Replaced::Pruned { needs: 85, pruned: 90 }));
        // A long transaction still open at the horizon (so never pruned) is no gap, whatever the
        // max: the live checkpoint after a restart.
        let open = Observed {
            pruned: Some(Pruned { max_txid: 150, horizon: snap("85:160:85") }),
            snapshot: Some(snap("85:180:85")),
            ..seen()
        };
        assert_eq!(why("85:170:85", &open), None);
        // The same checkpoint restored from before 120 committed: 120 was pruned.
        assert_eq!(why("85:120:85", &open), Some(Replaced::Pruned { needs: 120, pruned: 150 }));
    }
}
