//! A replaced source (see `stream::identity`): the daemon applies nothing more from the
//! checkpoint's position, says why once (an error log, `cdc_source_changes_total{reason}`,
//! `cdc_source_replaced`), records it in `cdc_offset` (so a restarted daemon, `status` and `verify`
//! know), and by default (`CDC_ON_SOURCE_CHANGE=resync`) re-bases: a snapshot job of every table
//! from one snapshot of the new source that, unlike a resync, does not first stream up to its
//! snapshot (the old position means nothing there). Rows are rewritten in place, rows the new
//! source does not have are retired, readers never see a half table, and streaming goes on from
//! that snapshot. With `stop`, the daemon waits until an operator runs `brewlytics resync`, which
//! then runs as that rebase.

use super::{
    error::CdcError,
    snapshot_job,
    stream::{checkpoint, identity::Replaced, Stream},
};
use crate::{
    config::{Config, OnSourceChange},
    telemetry,
};

/// React to the source found replaced for `why`.
pub(super) async fn replaced(config: &Config, stream: &mut Stream<'_>, why: &Replaced) -> Result<(), CdcError> {
    let message = why.to_string();
    metrics::counter!(telemetry::CDC_SOURCE_CHANGES, "reason" => why.label()).increment(1);
    metrics::gauge!(telemetry::CDC_SOURCE_REPLACED).set(1.0);
    match config.cdc_on_source_change {
        OnSourceChange::Resync => {
            tracing::error!(
                reason = why.label(),
                "{message}: re-basing on the new source (a resync of every table from one snapshot of it)"
            );
            let job = snapshot_job::queue_rebase(stream.olap()).await?;
            tracing::info!(job = job.id, "rebase queued");
        }
        OnSourceChange::Stop => tracing::error!(
            reason = why.label(),
            "{message}: applying nothing until an operator runs `brewlytics resync` (CDC_ON_SOURCE_CHANGE=stop)"
        ),
    }
    checkpoint::mark_replaced(stream.olap(), &message).await?;
    stream.set_replaced(message);
    stream.publish();
    Ok(())
}
