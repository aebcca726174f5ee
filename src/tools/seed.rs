//! Reference data of the coffee chain: stores, staff, menu, customers and opening stock.
//!
//! [`seed`] is idempotent and never deletes: every row has a natural key (store name, employee
//! name + store, product name + category, customer email, product × store for stock) and is
//! inserted only when absent, so a second run adds nothing and a run against a live database
//! only fills gaps. Opening stock goes in as `restock` movements plus the on-hand rows, for
//! product × store pairs that have no stock row yet. The whole seed is one transaction under an
//! advisory lock, so two concurrent seeds cannot both insert.

use std::fmt;

use rust_decimal::Decimal;
use tokio_postgres::Client;

/// Why seeding failed (nothing was written).
#[derive(Debug, thiserror::Error)]
#[error("seeding {step} failed: {source}")]
pub struct SeedError {
    step: &'static str,
    #[source]
    source: tokio_postgres::Error,
}

/// Rows added by one run, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub stores: u64,
    pub employees: u64,
    pub products: u64,
    pub customers: u64,
    /// Product × store stock rows opened (each with one `restock` movement).
    pub stock: u64,
}

impl SeedReport {
    /// Rows added in all.
    pub fn total(&self) -> u64 {
        self.stores + self.employees + self.products + self.customers + self.stock
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded {} stores, {} employees, {} products, {} customers, {} stock rows",
            self.stores, self.employees, self.products, self.customers, self.stock
        )
    }
}

/// `(name, city)`.
const STORES: [(&str, &str); 4] =
    [("Harbour", "Leith"), ("Old Town", "Edinburgh"), ("Merchant City", "Glasgow"), ("Riverside", "Perth")];

/// `(store, name, role, active)`: 3 to 5 per store, one inactive.
const EMPLOYEES: [(&str, &str, &str, bool); 16] = [
    ("Harbour", "Alice Moreau", "manager", true),
    ("Harbour", "Bob Okafor", "barista", true),
    ("Harbour", "Chloe Nguyen", "barista", true),
    ("Harbour", "Dan Price", "barista", false),
    ("Old Town", "Esme Walker", "manager", true),
    ("Old Town", "Farid Haddad", "barista", true),
    ("Old Town", "Grace Lin", "barista", true),
    ("Old Town", "Hamish Reid", "shift lead", true),
    ("Old Town", "Ines Duarte", "barista", true),
    ("Merchant City", "Jonas Berg", "manager", true),
    ("Merchant City", "Kiran Shah", "barista", true),
    ("Merchant City", "Lena Fischer", "barista", true),
    ("Riverside", "Mateo Rossi", "manager", true),
    ("Riverside", "Nora Kelly", "barista", true),
    ("Riverside", "Omar Aziz", "barista", true),
    ("Riverside", "Priya Patel", "shift lead", true),
];

/// `(name, category, price in pence)`.
const PRODUCTS: [(&str, &str, i64); 20] = [
    ("Espresso", "coffee", 250),
    ("Americano", "coffee", 350),
    ("Flat White", "coffee", 375),
    ("Cappuccino", "coffee", 400),
    ("Latte", "coffee", 400),
    ("Mocha", "coffee", 425),
    ("Cortado", "coffee", 325),
    ("Cold Brew", "cold drinks", 400),
    ("Iced Latte", "cold drinks", 425),
    ("Orange Juice", "cold drinks", 300),
    ("English Breakfast Tea", "tea", 275),
    ("Chai Latte", "tea", 375),
    ("Matcha Latte", "tea", 425),
    ("Croissant", "bakery", 275),
    ("Pain au Chocolat", "bakery", 300),
    ("Blueberry Muffin", "bakery", 275),
    ("Cinnamon Bun", "bakery", 325),
    ("Ham & Cheese Toastie", "food", 650),
    ("Avocado Sourdough", "food", 750),
    ("Soup of the Day", "food", 550),
];

/// The domain of the seeded customers' e-mails. Never `example.com`: the original's clients create
/// `first.last@example.com` (k6) and `first.last_<ms>@example.com` (pytest) customers, and their
/// setup must not collide with the seed (e-mails are unique).
pub const SEED_EMAIL_DOMAIN: &str = "seed.brewlytics.test";

const FIRST_NAMES: [&str; 20] = [
    "Alice", "Bob", "Priya", "John", "Maria", "Wei", "Ahmed", "Olivia", "Carlos", "Nina", "Aisha", "Ben", "Chen",
    "Daria", "Elif", "Finn", "Gita", "Hugo", "Isla", "Jamal",
];
const LAST_NAMES: [&str; 10] = ["Smith", "Patel", "Garcia", "Jones", "Khan", "Kim", "Chen", "Brown", "Singh", "Davis"];

/// Load the reference data; see the module docs.
pub async fn seed(client: &mut Client) -> Result<SeedReport, SeedError> {
    let step = |step| move |source| SeedError { step, source };
    let tx = client.transaction().await.map_err(step("begin"))?;
    tx.execute("select pg_advisory_xact_lock(hashtext('brewlytics seed'))", &[]).await.map_err(step("lock"))?;
    let (names, cities): (Vec<&str>, Vec<&str>) = STORES.iter().copied().unzip();
    let stores = tx
        .execute(
            "insert into stores (name, city) select * from unnest($1::text[], $2::text[])
             order by 1 on conflict (name) do nothing",
            &[&names, &cities],
        )
        .await
        .map_err(step("stores"))?;
    let employees = insert_employees(&tx).await.map_err(step("employees"))?;
    let products = insert_products(&tx).await.map_err(step("products"))?;
    let customers = insert_customers(&tx).await.map_err(step("customers"))?;
    let stock = open_stock(&tx).await.map_err(step("stock"))?;
    tx.commit().await.map_err(step("commit"))?;
    Ok(SeedReport { stores, employees, products, customers, stock })
}

async fn insert_employees(tx: &tokio_postgres::Transaction<'_>) -> Result<u64, tokio_postgres::Error> {
    let store: Vec<&str> = EMPLOYEES.iter().map(|e| e.0).collect();
    let name: Vec<&str> = EMPLOYEES.iter().map(|e| e.1).collect();
    let role: Vec<&str> = EMPLOYEES.iter().map(|e| e.2).collect();
    let active: Vec<bool> = EMPLOYEES.iter().map(|e| e.3).collect();
    let sql = "insert into employees (store_id, name, role, active)
               select s.id, t.name, t.role, t.active
               from unnest($1::text[], $2::text[], $3::text[], $4::bool[]) with ordinality as t (store, name, role, active, n)
               join stores s on s.name = t.store
               where not exists (select from employees e where e.store_id = s.id and e.name = t.name)
               order by t.n";
    tx.execute(sql, &[&store, &name, &role, &active]).await
}

async fn insert_products(tx: &tokio_postgres::Transaction<'_>) -> Result<u64, tokio_postgres::Error> {
    let name: Vec<&str> = PRODUCTS.iter().map(|p| p.0).collect();
    let category: Vec<&str> = PRODUCTS.iter().map(|p| p.1).collect();
    let price: Vec<Decimal> = PRODUCTS.iter().map(|p| Decimal::new(p.2, 2)).collect();
    let sql = "insert into products (name, category, price)
               select t.name, t.category, t.price
               from unnest($1::text[], $2::text[], $3::numeric[]) with ordinality as t (name, category, price, n)
               where not exists (select from products p where p.name = t.name and p.category = t.category)
               order by t.n";
    tx.execute(sql, &[&name, &category, &price]).await
}

/// `(name, email)` of every seeded customer.
fn customers() -> Vec<(String, String)> {
    LAST_NAMES
        .iter()
        .flat_map(|last| FIRST_NAMES.iter().map(move |first| (*first, *last)))
        .map(|(first, last)| (format!("{first} {last}"), format!("{first}.{last}@{SEED_EMAIL_DOMAIN}").to_lowercase()))
        .collect()
}

async fn insert_customers(tx: &tokio_postgres::Transaction<'_>) -> Result<u64, tokio_postgres::Error> {
    let (name, email): (Vec<String>, Vec<String>) = customers().into_iter().unzip();
    let sql = "insert into customers (name, email)
               select t.name, t.email from unnest($1::text[], $2::text[]) with ordinality as t (name, email, n)
               order by t.n on conflict (email) do nothing";
    tx.execute(sql, &[&name, &email]).await
}

/// Opening stock of every active product in every store that has no stock row for it yet.
async fn open_stock(tx: &tokio_postgres::Transaction<'_>) -> Result<u64, tokio_postgres::Error> {
    let sql = "with missing as (
                   select p.id as product_id, s.id as store_id,
                          case p.category when 'coffee' then 400 when 'tea' then 400
                                          when 'cold drinks' then 150 when 'bakery' then 80 else 60 end as quantity
                   from products p cross join stores s
                   where p.active
                     and not exists (select from inventory i where i.product_id = p.id and i.store_id = s.id)
               ), moves as (
                   insert into inventory_movements (product_id, store_id, quantity, reason)
                   select product_id, store_id, quantity, 'restock' from missing order by store_id, product_id
               )
               insert into inventory (product_id, store_id, on_hand)
               select product_id, store_id, quantity from missing order by product_id, store_id
               on conflict (product_id, store_id)
               do update set on_hand = inventory.on_hand + excluded.on_hand, updated_at = now()";
    tx.execute(sql, &[]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_emails_never_collide_with_the_original_clients() {
        let emails: Vec<String> = customers().into_iter().map(|c| c.1).collect();
        assert_eq!(emails.len(), 200);
        assert!(emails.iter().all(|e| !e.ends_with("@example.com")), "k6 and pytest of the original use example.com");
        assert!(emails.contains(&"alice.smith@seed.brewlytics.test".to_string()));
    }

    #[test]
    fn natural_keys_are_unique() {
        let mut stores: Vec<_> = STORES.iter().map(|s| s.0).collect();
        stores.sort();
        stores.dedup();
        assert_eq!(stores.len(), STORES.len());
        let mut staff: Vec<_> = EMPLOYEES.iter().map(|e| (e.0, e.1)).collect();
        staff.sort();
        staff.dedup();
        assert_eq!(staff.len(), EMPLOYEES.len());
        assert!(EMPLOYEES.iter().all(|e| stores.contains(&e.0)));
        let mut menu: Vec<_> = PRODUCTS.iter().map(|p| (p.0, p.1)).collect();
        menu.sort();
        menu.dedup();
        assert_eq!(menu.len(), PRODUCTS.len());
        for store in stores {
            let n = EMPLOYEES.iter().filter(|e| e.0 == store).count();
            assert!((3..=5).contains(&n), "{store} has {n} employees");
        }
    }
}
