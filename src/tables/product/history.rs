//! Type 2 history of `dim_product`: the pure decision of what one product change does to the
//! current version, and the statements that carry it out.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::types::ToSql;

use super::{ProductChange, RowVersion};
use crate::{change::Version, tables::Writer};

/// The current version of a product in the warehouse.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CurrentProduct {
    pub product_key: i32,
    pub name: Option<String>,
    pub category: Option<String>,
    pub price: Option<Decimal>,
    /// `None` is -infinity: the first version.
    pub valid_from: Option<DateTime<Utc>>,
    pub is_inferred: bool,
    /// `None` when no change has been applied yet (an inferred member).
    pub version: Option<Version>,
}

/// What a product change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProductAction {
    /// No version exists: insert the first one (valid from -infinity).
    Insert,
    /// The current version is an inferred placeholder (or carries no history yet): overwrite it in place.
    Fill,
    /// A type 2 attribute changed: close the current version and open a new one at the change time.
    NewVersion,
    /// Only type 1 attributes changed (active, deletion): update the current version in place.
    Update,
    /// The change is not newer than what the warehouse holds (a replay): ignore it.
    Skip,
}

/// Decide what a captured change (of version `version`) does given the current version.
pub(super) fn product_action(
    current: Option<&CurrentProduct>,
    change: &ProductChange,
    version: Version,
) -> ProductAction {
    let Some(cur) = current else { return ProductAction::Insert };
    if cur.version.is_some_and(|v| v >= version) {
        return ProductAction::Skip;
    }
    if cur.is_inferred {
        return ProductAction::Fill;
    }
    let p = &change.image;
    let type2_changed = cur.name.as_deref() != Some(p.name.as_str())
        || cur.category.as_deref() != Some(p.category.as_str())
        || cur.price != Some(p.price);
    let starts_after_current = cur.valid_from.is_none_or(|from| version.changed_at > from);
    if type2_changed && starts_after_current {
        ProductAction::NewVersion
    } else {
        ProductAction::Update
    }
}

/// Rows loaded by a snapshot carry no history: each becomes the current version of its product,
/// inserted (valid from -infinity) or written over the current version in place (the partial
/// unique index on current versions is the conflict target).
const SNAPSHOT: &str = "
    insert into dim_product as t (product_id, name, category, price, active, changed_at, src_id)
    select s.id, s.name, s.category, s.price, s.active, '-infinity', s.src
    from unnest($1::int4[], $2::text[], $3::text[], $4::numeric[], $5::bool[], $6::int8[])
         as s(id, name, category, price, active, src)
    on conflict (product_id) where is_current do update set name = excluded.name,
      category = excluded.category, price = excluded.price, active = excluded.active,
      is_deleted = false, is_inferred = false, changed_at = excluded.changed_at, src_id = excluded.src_id";

const CURRENT: &str = "
    select product_key, name, category, price, nullif(valid_from, '-infinity'), is_inferred,
           nullif(changed_at, '-infinity'), src_id
    from dim_product where product_id = $1 and is_current for update";

const INSERT: &str = "
    insert into dim_product (product_id, name, category, price, active, is_deleted, changed_at, src_id)
    values ($1, $2, $3, $4, $5, $6, $7, $8)";

const UPDATE: &str = "
    update dim_product set name = $2, category = $3, price = $4, active = $5, is_deleted = $6,
           changed_at = $7, src_id = $8, is_inferred = false
    where product_id = $1 and is_current";

const CLOSE: &str = "update dim_product set valid_to = $2, is_current = false where product_id = $1 and is_current";

const OPEN: &str = "
    insert into dim_product (product_id, name, category, price, active, is_deleted, changed_at, src_id, valid_from)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $7)";

/// Every statement of the history.
pub(super) const STATEMENTS: [&str; 6] = [SNAPSHOT, CURRENT, INSERT, UPDATE, CLOSE, OPEN];

/// Apply product changes in version order. Returns how many type 2 versions were opened.
pub(super) async fn apply(w: &Writer<'_>, changes: &[ProductChange]) -> Result<u64, tokio_postgres::Error> {
    let (snapshot, captured): (Vec<&ProductChange>, Vec<&ProductChange>) =
        changes.iter().partition(|c| matches!(c.version, RowVersion::Snapshot { .. }));
    if !snapshot.is_empty() {
        write_snapshot(w, &snapshot).await?;
    }
    let mut opened = 0;
    for change in captured {
        let RowVersion::Change(version) = change.version else { continue };
        let current = load_current(w, change.image.id).await?;
        let action = product_action(current.as_ref(), change, version);
        let (p, v) = (&change.image, version);
        let attrs: [&(dyn ToSql + Sync); 8] =
            [&p.id, &p.name, &p.category, &p.price, &p.active, &change.is_deleted, &v.changed_at, &v.src_id];
        match action {
            ProductAction::Skip => {}
            ProductAction::Insert => {
                w.tx.execute(w.statement(INSERT), &attrs).await?;
            }
            ProductAction::Fill | ProductAction::Update => {
                w.tx.execute(w.statement(UPDATE), &attrs).await?;
            }
            ProductAction::NewVersion => {
                w.tx.execute(w.statement(CLOSE), &[&p.id, &v.changed_at]).await?;
                w.tx.execute(w.statement(OPEN), &attrs).await?;
                opened += 1;
            }
        }
    }
    Ok(opened)
}

async fn write_snapshot(w: &Writer<'_>, rows: &[&ProductChange]) -> Result<(), tokio_postgres::Error> {
    let ids: Vec<i32> = rows.iter().map(|r| r.image.id).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.image.name.as_str()).collect();
    let categories: Vec<&str> = rows.iter().map(|r| r.image.category.as_str()).collect();
    let prices: Vec<Decimal> = rows.iter().map(|r| r.image.price).collect();
    let active: Vec<bool> = rows.iter().map(|r| r.image.active).collect();
    let src: Vec<i64> = rows.iter().map(|r| r.version.columns().1).collect();
    w.tx.execute(w.statement(SNAPSHOT), &[&ids, &names, &categories, &prices, &active, &src]).await.map(drop)
}

async fn load_current(w: &Writer<'_>, product_id: i32) -> Result<Option<CurrentProduct>, tokio_postgres::Error> {
    let row = w.tx.query_opt(w.statement(CURRENT), &[&product_id]).await?;
    Ok(row.map(|r| CurrentProduct {
        product_key: r.get(0),
        name: r.get(1),
        category: r.get(2),
        price: r.get(3),
        valid_from: r.get(4),
        is_inferred: r.get(5),
        version: r.get::<_, Option<DateTime<Utc>>>(6).map(|changed_at| Version { changed_at, src_id: r.get(7) }),
    }))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::product::ProductImage;
    use chrono::TimeZone;

    fn change(price: &str, at_secs: i64, active: bool) -> ProductChange {
        ProductChange {
            image: ProductImage {
                id: 7,
                name: "Latte".into(),
                category: "coffee".into(),
                price: price.parse().unwrap(),
                active,
            },
            is_deleted: false,
            version: RowVersion::Change(version(at_secs)),
        }
    }

    fn version(at_secs: i64) -> Version {
        Version { changed_at: Utc.timestamp_opt(at_secs, 0).unwrap(), src_id: at_secs }
    }

    fn action(cur: Option<&CurrentProduct>, change: &ProductChange) -> ProductAction {
        let RowVersion::Change(v) = change.version else { panic!("a captured change") };
        product_action(cur, change, v)
    }

    fn current(price: &str, at_secs: i64, inferred: bool) -> CurrentProduct {
        CurrentProduct {
            product_key: 1,
            name: Some("Latte".into()),
            category: Some("coffee".into()),
            price: Some(price.parse().unwrap()),
            valid_from: None,
            is_inferred: inferred,
            version: (!inferred).then(|| version(at_secs)),
        }
    }

    #[test]
    fn price_change_opens_a_version_active_flag_does_not() {
        let cur = current("3.50", 100, false);
        assert_eq!(action(Some(&cur), &change("3.80", 200, true)), ProductAction::NewVersion);
        assert_eq!(action(Some(&cur), &change("3.50", 200, false)), ProductAction::Update);
        // 3.5 and 3.50 are the same price.
        assert_eq!(action(Some(&cur), &change("3.5", 200, true)), ProductAction::Update);
    }

    #[test]
    fn replays_are_skipped_and_placeholders_filled() {
        let cur = current("3.50", 100, false);
        assert_eq!(action(Some(&cur), &change("9.99", 100, true)), ProductAction::Skip);
        assert_eq!(action(Some(&cur), &change("9.99", 50, true)), ProductAction::Skip);
        assert_eq!(action(Some(&current("0.01", 0, true)), &change("3.80", 200, true)), ProductAction::Fill);
        assert_eq!(action(None, &change("3.80", 200, true)), ProductAction::Insert);
    }
}
