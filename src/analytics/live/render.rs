//! The live page as HTML (maud templates), its charts as inline SVG drawn on the server, and a
//! few lines of hand-written JavaScript that swap in each server-sent update. No framework and
//! no external asset: the page works offline.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use rust_decimal::Decimal;

use super::snapshot::Live;
use crate::analytics::funnel::Stages;

/// The stylesheet of the live page and the docs page.
pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f4f1;color:#222}\
header{background:#3b2a20;color:#fff;padding:.6em 1.2em;display:flex;justify-content:space-between;align-items:baseline}\
header h1{font-size:1.3em;margin:0}main{padding:1em 1.2em}\
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(11em,1fr));gap:.8em}\
.tile,.card{background:#fff;border-radius:.5em;padding:.7em 1em;box-shadow:0 1px 3px #0002}\
.tile b{display:block;font-size:1.7em;margin-top:.15em}.tile>span{color:#666;font-size:.85em}\
.row{display:grid;grid-template-columns:repeat(auto-fit,minmax(26em,1fr));gap:.8em;margin-top:.8em}\
h2{font-size:1em;margin:.2em 0 .5em}table{border-collapse:collapse;width:100%;font-size:.9em}\
td,th{padding:.2em .4em;border-bottom:1px solid #eee;text-align:left}td.num,th.num{text-align:right}\
svg text{font-size:11px;fill:#444}.bar{fill:#b0703c}.note{color:#777;font-size:.8em}";

/// The whole page, with the current snapshot already in it.
pub(crate) fn page(live: &Live) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Brewlytics live" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "Brewlytics live" }
                    span { span #status { "connecting…" } " · " a style="color:#fff" href="/docs" { "API docs" } }
                }
                main #live { (content(live)) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// Subscribe to the event stream and swap in each update (the only script of the page).
const SCRIPT: &str = "const s=document.getElementById('status');const es=new EventSource('/live/events');\
es.addEventListener('update',e=>{document.getElementById('live').innerHTML=e.data;s.textContent='live';});\
es.onerror=()=>{s.textContent='reconnecting…';};";

/// The part of the page each update replaces.
pub(crate) fn content(live: &Live) -> Markup {
    html! {
        div.tiles {
            div.tile { span { "orders in the last minute" } b #orders-last-minute { (live.orders_last_minute) } }
            div.tile { span { "revenue today (served, UTC)" } b #revenue-today { (live.revenue_today) } }
            div.tile { span { "served orders today" } b #served-today { (live.served_orders_today) } }
            div.tile { span { "freshness p50 / p99 (last minute)" }
                b { span #freshness-p50 { (ms(live.freshness_p50_ms)) } " / " span #freshness-p99 { (ms(live.freshness_p99_ms)) } } }
            div.tile { span { "backlog (changes)" } b #backlog { (backlog(live.backlog)) } }
            div.tile { span { "ratings today · average 30 days" }
                b { span #ratings-today { (live.ratings_today) } " · " span #rating-30d { (rating(live.average_rating_30d)) } } }
        }
        div.row {
            div.card { h2 { "Orders by hour today (served, UTC)" } (hours_chart(&live.orders_by_hour)) }
            div.card { h2 { "Top products today (units)" } (top_chart(live)) }
        }
        div.row {
            div.card { h2 { "App funnel today (sessions, UTC)" } (funnel_chart(&live.funnel_today)) }
            div.card {
                h2 { "Last orders" }
                table #last-orders {
                    tr { th { "order" } th { "time (UTC)" } th { "store" } th { "status" } th.num { "total" } th.num { "landed after" } }
                    @for o in &live.last_orders {
                        tr data-order-id=(o.order_id) {
                            td { "#" (o.order_id) }
                            td { (o.order_time.map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default()) }
                            td { (o.store) } td { (o.status) } td.num { (o.total) }
                            td.num { (o.freshness_ms.map_or_else(|| "snapshot".to_string(), |ms| format!("{ms:.0} ms"))) }
                        }
                    }
                }
            }
        }
        p.note {
            "Updated " span #generated-at { (live.generated_at.format("%H:%M:%S%.3f UTC")) }
            " after change " span #applied-changes { (live.applied_changes) } ". Revenue: " (live.revenue_rule) "."
        }
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.0} ms"))
}

fn backlog(v: Option<f64>) -> String {
    v.map_or_else(|| "unavailable".into(), |v| format!("{v:.0}"))
}

fn rating(v: Option<Decimal>) -> String {
    v.map_or_else(|| "–".into(), |v| v.to_string())
}

/// 24 vertical bars, labelled every 3 hours.
fn hours_chart(orders: &[i64]) -> Markup {
    let (w, h, top, bottom) = (480.0, 170.0, 14.0, 18.0);
    let max = orders.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = w / orders.len().max(1) as f64;
    html! {
        svg #chart-hours viewBox=(format!("0 0 {w} {h}")) width="100%" role="img" aria-label="served orders per hour" {
            @for (hour, &n) in orders.iter().enumerate() {
                @let bar = (h - top - bottom) * n as f64 / max;
                @let x = hour as f64 * step;
                rect.bar data-hour=(hour) data-orders=(n) x=(x + 2.0) y=(h - bottom - bar) width=(step - 4.0) height=(bar) {}
                @if n > 0 { text x=(x + step / 2.0) y=(h - bottom - bar - 3.0) text-anchor="middle" { (n) } }
                @if hour % 3 == 0 { text x=(x + step / 2.0) y=(h - 4.0) text-anchor="middle" { (format!("{hour:02}")) } }
            }
        }
    }
}

/// The funnel's stages as horizontal bars, each with its share of the sessions.
fn funnel_chart(f: &Stages) -> Markup {
    if f.sessions == 0 {
        return html! { p.note #funnel { "No app sessions today yet." } };
    }
    let stages = [
        ("sessions", "sessions", f.sessions),
        ("viewed_product", "viewed a product", f.viewed_product),
        ("added_to_cart", "added to cart", f.added_to_cart),
        ("started_checkout", "started checkout", f.started_checkout),
        ("purchased", "ordered", f.purchased),
    ];
    let (w, row, label) = (480.0, 26.0, 130.0);
    let max = f.sessions as f64;
    html! {
        svg #funnel viewBox=(format!("0 0 {w} {}", row * stages.len() as f64)) width="100%" role="img" aria-label="app funnel today" {
            @for (i, (key, name, n)) in stages.iter().enumerate() {
                @let y = i as f64 * row;
                @let bar = (w - label - 90.0) * *n as f64 / max;
                text x="0" y=(y + 17.0) { (name) }
                rect.bar data-stage=(key) data-sessions=(n) x=(label) y=(y + 4.0) width=(bar) height=(row - 8.0) {}
                text x=(label + bar + 4.0) y=(y + 17.0) { (n) " (" (format!("{:.0}", 100.0 * *n as f64 / max)) " %)" }
            }
        }
        p.note { (f.bounced) " bounced (one event only)" }
    }
}

/// Horizontal bars of the top products.
fn top_chart(live: &Live) -> Markup {
    let items = &live.top_products;
    if items.is_empty() {
        return html! { p.note { "No served orders today yet." } };
    }
    let (w, row, label) = (480.0, 26.0, 170.0);
    let max = items.iter().map(|i| i.quantity).max().unwrap_or(1).max(1) as f64;
    html! {
        svg #chart-top viewBox=(format!("0 0 {w} {}", row * items.len() as f64)) width="100%" role="img" aria-label="top products" {
            @for (i, item) in items.iter().enumerate() {
                @let y = i as f64 * row;
                @let bar = (w - label - 50.0) * item.quantity as f64 / max;
                text x="0" y=(y + 17.0) { (item.name) }
                rect.bar data-product-id=(item.product_id) data-quantity=(item.quantity) x=(label) y=(y + 4.0) width=(bar) height=(row - 8.0) {}
                text x=(label + bar + 4.0) y=(y + 17.0) { (item.quantity) }
            }
        }
    }
}
