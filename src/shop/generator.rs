//! The order generator, shared by `POST /orders/random` (in the API) and `brewlytics load`
//! (the HTTP driver in `tools::load`).
//!
//! Orders look like a coffee shop's: 1 to 4 different products, quantities mostly 1, products
//! weighted by day part (the morning rush buys coffee and pastries, lunch buys food), paid mostly
//! by card. After placing, the driver serves most orders, cancels ~3% and refunds ~1%, and now
//! and then changes a price or restocks a product.
//!
//! Everything here but [`Catalog::load`] is pure: the functions take the catalogue, the hour and
//! a random number generator, so they are easy to test.

use chrono::Timelike;
use rand::{seq::IndexedRandom, Rng, RngExt};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{NewLine, NewOrder, PaymentMethod};

/// Most customer ids a catalogue carries (a random sample).
pub(crate) const CATALOG_CUSTOMERS: i64 = 1000;

/// What orders are drawn from: active products, customers, and stores with active staff.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Catalog {
    pub products: Vec<CatalogProduct>,
    pub customer_ids: Vec<i32>,
    pub stores: Vec<CatalogStore>,
}

/// An active product.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CatalogProduct {
    pub id: i32,
    pub name: String,
    pub category: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub price: Decimal,
}

/// A store that has at least one active employee.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CatalogStore {
    pub id: i32,
    pub name: String,
    pub employee_ids: Vec<i32>,
}

impl Catalog {
    /// Read the catalogue from the OLTP database.
    pub(crate) async fn load(client: &tokio_postgres::Client) -> Result<Self, tokio_postgres::Error> {
        let products = "select id, name, category, price from products where active order by id";
        let customers = "select id from customers order by random() limit $1";
        let stores = "select s.id, s.name, array_agg(e.id order by e.id)
                      from stores s join employees e on e.store_id = s.id and e.active
                      group by s.id order by s.id";
        let (products, customers, stores) = tokio::try_join!(
            client.query(products, &[]),
            client.query(customers, &[&CATALOG_CUSTOMERS]),
            client.query(stores, &[]),
        )?;
        Ok(Catalog {
            products: products
                .iter()
                .map(|r| CatalogProduct { id: r.get(0), name: r.get(1), category: r.get(2), price: r.get(3) })
                .collect(),
            customer_ids: customers.iter().map(|r| r.get(0)).collect(),
            stores: stores
                .iter()
                .map(|r| CatalogStore { id: r.get(0), name: r.get(1), employee_ids: r.get(2) })
                .collect(),
        })
    }

    /// Whether an order can be drawn at all.
    pub(crate) fn is_usable(&self) -> bool {
        !self.products.is_empty() && !self.customer_ids.is_empty() && !self.stores.is_empty()
    }
}

/// The part of the day, which shifts what people buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DayPart {
    /// 06:00–10:59, the morning rush.
    Morning,
    /// 11:00–13:59.
    Lunch,
    /// 14:00–17:59.
    Afternoon,
    /// Any other time.
    Evening,
}

impl DayPart {
    /// The day part of an hour (0–23).
    pub(crate) fn of_hour(hour: u32) -> Self {
        match hour {
            6..=10 => DayPart::Morning,
            11..=13 => DayPart::Lunch,
            14..=17 => DayPart::Afternoon,
            _ => DayPart::Evening,
        }
    }

    /// Relative popularity of a product category at this time of day.
    pub(crate) fn weight(self, category: &str) -> u32 {
        let (coffee, tea, bakery, food, cold) = match self {
            DayPart::Morning => (10, 3, 6, 1, 1),
            DayPart::Lunch => (3, 1, 2, 8, 3),
            DayPart::Afternoon => (5, 3, 3, 1, 3),
            DayPart::Evening => (3, 3, 1, 2, 2),
        };
        match category {
            "coffee" => coffee,
            "tea" => tea,
            "bakery" => bakery,
            "food" => food,
            "cold drinks" => cold,
            _ => 1,
        }
    }
}

/// The local hour now (the chain's shops run on local time).
pub(crate) fn local_hour() -> u32 {
    chrono::Local::now().hour()
}

/// Draw a realistic order at `hour`; `None` when the catalogue has no customers, products or stores.
pub(crate) fn draft_order<R: Rng + ?Sized>(catalog: &Catalog, hour: u32, rng: &mut R) -> Option<NewOrder> {
    let customer_id = *catalog.customer_ids.choose(rng)?;
    let store = catalog.stores.choose(rng)?;
    let employee_id = *store.employee_ids.choose(rng)?;
    let part = DayPart::of_hour(hour);
    let wanted = pick_weighted(rng, &[(1, 50), (2, 30), (3, 14), (4, 6)]).min(catalog.products.len());
    let mut items: Vec<NewLine> = Vec::with_capacity(wanted);
    while items.len() < wanted {
        let product = catalog.products.choose_weighted(rng, |p| part.weight(&p.category)).ok()?;
        if items.iter().all(|l| l.product_id != product.id) {
            items.push(NewLine { product_id: product.id, quantity: pick_weighted(rng, &[(1, 85), (2, 12), (3, 3)]) });
        }
    }
    let payment_method =
        pick_weighted(rng, &[(PaymentMethod::Card, 60), (PaymentMethod::Mobile, 25), (PaymentMethod::Cash, 15)]);
    Some(NewOrder {
        customer_id,
        employee_id: Some(employee_id),
        store_id: Some(store.id),
        items,
        payment_method: Some(payment_method),
    })
}

/// What happens to a placed order later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FollowUp {
    /// Served (~96%).
    Serve,
    /// Cancelled before serving (~3%).
    Cancel,
    /// Served, then refunded (~1%).
    ServeThenRefund,
}

/// Draw the fate of a placed order.
pub(crate) fn follow_up<R: Rng + ?Sized>(rng: &mut R) -> FollowUp {
    pick_weighted(rng, &[(FollowUp::Serve, 96), (FollowUp::Cancel, 3), (FollowUp::ServeThenRefund, 1)])
}

/// Share of served orders whose customer leaves a rating.
pub(crate) const FEEDBACK_P: f64 = 0.3;

/// What customers write now and then, by rating 1..5.
const COMMENTS: [&str; 5] =
    ["cold and late", "waited too long", "fine, nothing special", "nice coffee, friendly staff", "perfect flat white!"];

/// A customer's rating of a received order: none for most orders, else 1–5 (mostly 4 and 5),
/// with a comment one time in four.
pub(crate) fn feedback<R: Rng + ?Sized>(rng: &mut R) -> Option<(i32, Option<&'static str>)> {
    if !rng.random_bool(FEEDBACK_P) {
        return None;
    }
    let rating = pick_weighted(rng, &[(5, 45), (4, 30), (3, 12), (2, 8), (1, 5)]);
    let comment = rng.random_bool(0.25).then(|| COMMENTS[rating as usize - 1]);
    Some((rating, comment))
}

/// A new price for a random product: ±5–15%, rounded to 0.05, at least 0.50.
pub(crate) fn price_change<R: Rng + ?Sized>(catalog: &Catalog, rng: &mut R) -> Option<(i32, Decimal)> {
    let product = catalog.products.choose(rng)?;
    let percent = rng.random_range(5..=15) * if rng.random_bool(0.5) { 1 } else { -1 };
    let raw = product.price * (Decimal::ONE_HUNDRED + Decimal::from(percent)) / Decimal::ONE_HUNDRED;
    let twentieths = (raw * Decimal::from(20)).round();
    let price = (twentieths / Decimal::from(20)).round_dp(2).max(Decimal::new(50, 2));
    Some((product.id, price))
}

/// A random restock: a product, a store, 20 to 100 units.
pub(crate) fn restock<R: Rng + ?Sized>(catalog: &Catalog, rng: &mut R) -> Option<(i32, i32, i32)> {
    let product = catalog.products.choose(rng)?;
    let store = catalog.stores.choose(rng)?;
    Some((product.id, store.id, rng.random_range(20..=100)))
}

fn pick_weighted<T: Copy, R: Rng + ?Sized>(rng: &mut R, choices: &[(T, u32)]) -> T {
    choices.choose_weighted(rng, |c| c.1).expect("static weights are positive").0
}

#[cfg(test)]
#[path = "generator_tests.rs"]
mod tests;
