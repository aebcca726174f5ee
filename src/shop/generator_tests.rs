use rand::{rngs::StdRng, SeedableRng};

use super::*;

fn catalog() -> Catalog {
    let product = |id, category: &str, price| CatalogProduct {
        id,
        name: format!("p{id}"),
        category: category.into(),
        price: Decimal::new(price, 2),
    };
    Catalog {
        products: vec![
            product(1, "coffee", 350),
            product(2, "coffee", 400),
            product(3, "bakery", 275),
            product(4, "food", 650),
            product(5, "food", 700),
            product(6, "tea", 300),
        ],
        customer_ids: (1..=50).collect(),
        stores: vec![CatalogStore { id: 1, name: "a".into(), employee_ids: vec![1, 2] }],
    }
}

fn category_share(hour: u32, category: &str) -> f64 {
    let (catalog, mut rng) = (catalog(), StdRng::seed_from_u64(7));
    let (mut hits, mut all) = (0, 0);
    for _ in 0..2000 {
        for line in draft_order(&catalog, hour, &mut rng).unwrap().items {
            all += 1;
            let p = catalog.products.iter().find(|p| p.id == line.product_id).unwrap();
            hits += usize::from(p.category == category);
        }
    }
    hits as f64 / all as f64
}

#[test]
fn orders_are_small_distinct_and_valid() {
    let (catalog, mut rng) = (catalog(), StdRng::seed_from_u64(1));
    let mut ones = 0;
    let mut lines = 0;
    for _ in 0..1000 {
        let order = draft_order(&catalog, 9, &mut rng).unwrap();
        assert!((1..=4).contains(&order.items.len()));
        let mut ids: Vec<_> = order.items.iter().map(|l| l.product_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), order.items.len(), "no product twice");
        assert!(catalog.customer_ids.contains(&order.customer_id));
        assert_eq!(order.store_id, Some(1));
        assert!([Some(1), Some(2)].contains(&order.employee_id));
        ones += order.items.iter().filter(|l| l.quantity == 1).count();
        lines += order.items.len();
    }
    assert!(ones * 100 / lines > 75, "quantities are mostly 1");
}

#[test]
fn morning_sells_more_coffee_and_lunch_more_food() {
    assert!(category_share(8, "coffee") > category_share(12, "coffee") + 0.15);
    assert!(category_share(12, "food") > category_share(8, "food") + 0.15);
}

#[test]
fn empty_catalogue_draws_nothing() {
    let mut rng = StdRng::seed_from_u64(1);
    assert!(draft_order(&Catalog::default(), 9, &mut rng).is_none());
    let mut c = catalog();
    c.stores[0].employee_ids.clear();
    assert!(draft_order(&c, 9, &mut rng).is_none());
}

#[test]
fn follow_ups_are_mostly_serves() {
    let mut rng = StdRng::seed_from_u64(3);
    let fates: Vec<_> = (0..10_000).map(|_| follow_up(&mut rng)).collect();
    let count = |f| fates.iter().filter(|&&x| x == f).count();
    assert!((9_400..9_800).contains(&count(FollowUp::Serve)));
    assert!((200..400).contains(&count(FollowUp::Cancel)));
    assert!((50..160).contains(&count(FollowUp::ServeThenRefund)));
}

#[test]
fn price_changes_stay_close_and_on_five_cents() {
    let (catalog, mut rng) = (catalog(), StdRng::seed_from_u64(5));
    for _ in 0..500 {
        let (id, price) = price_change(&catalog, &mut rng).unwrap();
        let old = catalog.products.iter().find(|p| p.id == id).unwrap().price;
        assert!(price >= old * Decimal::new(80, 2) && price <= old * Decimal::new(120, 2), "{old} -> {price}");
        assert_eq!((price * Decimal::from(20)).fract(), Decimal::ZERO, "{price}");
        assert!(price.scale() <= 2);
    }
}

#[test]
fn some_orders_get_a_rating_mostly_good_and_always_valid() {
    let mut rng = StdRng::seed_from_u64(11);
    let drawn: Vec<_> = (0..4000).filter_map(|_| feedback(&mut rng)).collect();
    let share = drawn.len() as f64 / 4000.0;
    assert!((0.25..0.35).contains(&share), "{share}");
    assert!(drawn.iter().all(|(r, c)| (1..=5).contains(r) && c.is_none_or(|c| c.len() <= 500)));
    let good = drawn.iter().filter(|(r, _)| *r >= 4).count() as f64 / drawn.len() as f64;
    assert!(good > 0.6, "{good}");
}
