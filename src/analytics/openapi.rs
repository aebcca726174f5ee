//! `GET /openapi.json`: the OpenAPI 3.0 document of every route of [`super::endpoints`] (a test
//! checks they agree). The docs page ([`super::docs`]) is rendered from this same document.

use axum::Json;
use serde_json::{json, Map, Value};

use super::{customers::SEGMENTS, params::MAX_RANGE_DAYS, sales::REVENUE_RULE};

/// `GET /openapi.json`.
pub(super) async fn document() -> Json<Value> {
    Json(spec())
}

/// The document.
pub(super) fn spec() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Brewlytics analytics API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Read-only analytics over the coffee_olap star schema, as the analytics_reader role. \
                Days and hours are UTC. Revenue: {REVENUE_RULE}. Money is an exact JSON number. Errors are JSON \
                {{error, field}}: 400 malformed query string, 422 unknown, repeated or invalid parameter (named in \
                `field`), 401 without the API key when ANALYTICS_API_KEY is set (send `Authorization: Bearer <key>` or \
                `X-API-Key: <key>`), 503 warehouse unavailable."),
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" },
            },
            "schemas": { "Error": { "type": "object", "required": ["error"],
                "properties": { "error": { "type": "string" }, "field": { "type": "string" } } } },
        },
        "paths": paths(),
    })
}

fn paths() -> Value {
    let range = || vec![date(), from(), to()];
    json!({
        "/api/v1/sales/summary": { "get": op("Sales summary of a day or range (default today): served revenue, served \
            orders, average order value, items per order, orders by status, and the same days one week earlier with \
            the week-over-week change in percent.", range()) },
        "/api/v1/sales/top-items": { "get": op("Top products of served orders by quantity or revenue (default: the last \
            30 days, by quantity, 10 items).", {
                let mut p = range();
                p.push(param("by", json!({ "type": "string", "enum": ["quantity", "revenue"], "default": "quantity" }), "sort order"));
                p.push(limit(10, 1, 100));
                p
            }) },
        "/api/v1/sales/hourly": { "get": op("The 24 UTC hours of a day (default today): served orders, their revenue, \
            and orders of any status.", vec![date()]) },
        "/api/v1/stores/monthly": { "get": op("Served revenue, orders and average order value per store and month \
            (default: the last 12 months; at most 36).", vec![
                month("from", "first month, YYYY-MM"),
                month("to", "last month, YYYY-MM (default this month)"),
            ]) },
        "/api/v1/stores/peak-hours": { "get": op("Each store's UTC hour of the day with the most served orders (ties: \
            the earlier hour) over a range (default: the last 28 days).", range()) },
        "/api/v1/forecast/daily": { "get": op("Served revenue forecast for each of the next days, from tomorrow (UTC). \
            Method seasonal_mean_with_linear_trend: same-weekday mean of the last 4 complete weeks plus the \
            least-squares trend of the weekly totals; the response states it and carries its history.",
            vec![param("days", json!({ "type": "integer", "minimum": 1, "maximum": 14, "default": 7 }), "days to forecast")]) },
        "/api/v1/forecast/hourly": { "get": op("Served orders forecast for each of the next hours, from the next full \
            hour (UTC), with the same method over hours of the week.",
            vec![param("hours", json!({ "type": "integer", "minimum": 1, "maximum": 48, "default": 24 }), "hours to forecast")]) },
        "/api/v1/customers/segments": { "get": op("RFM segments of every known customer with a served order (scores \
            1-5 by ntile; rules in the response), and the top customers by monetary value of one segment or all.", vec![
                param("segment", json!({ "type": "string", "enum": SEGMENTS }), "list the customers of this segment"),
                limit(20, 0, 1000),
            ]) },
        "/api/v1/satisfaction": { "get": op("Customer ratings given in a range (default: the last 30 days), from \
            fact_feedback: count, average, share of 4-5, distribution, ratings with a comment, per store.", range()) },
        "/api/v1/funnel": { "get": op("The app's conversion funnel over the sessions started in a range (default: the \
            last 7 days; days by the session's first event, UTC), at one store or all: sessions, and how many viewed a \
            product, added to their cart, started checking out and placed an order (at least once, in any order), \
            bounced (one event only); each step's and the overall conversion, the bounce rate, the median seconds \
            from a session's start to its order (from a latency histogram: within ~9 %), and the placed orders' revenue.", {
                let mut p = range();
                p.push(store_param());
                p
            }) },
        "/api/v1/products/interest": { "get": op("Per product, over the app sessions of a range (default: the last 7 \
            days; a session and product count on the day of its first event of the product): sessions that viewed it, added it to their cart, and placed an order with it, units added, and \
            the sessions that looked at it and did not buy it (most first).", {
                let mut p = range();
                p.push(store_param());
                p.push(limit(20, 1, 100));
                p
            }) },
        "/api/v1/health/pipeline": { "get": op("Pipeline health: freshness p50/p99 of the order lines streamed in the last \
            5 minutes (to the minute, from a latency histogram: within ~9 %), the last applied change (cdc_offset), pending dead letters, and from the daemon's metrics the \
            backlog, lag and reconciliation state (\"unavailable\" when the daemon does not answer).", vec![]) },
        "/api/v1/live": { "get": op("What the live page shows, as JSON: orders in the last minute, served orders and \
            revenue today, freshness, backlog, top products and orders by hour today, the last orders, ratings.", vec![]) },
        "/live/events": { "get": {
            "summary": "Server-sent events: an `update` event with the live page's content (HTML) whenever a change has \
                been applied, and at least every 5 s.",
            "security": security(),
            "responses": { "200": { "description": "event stream", "content": { "text/event-stream": { "schema": {
                               "description": "one server-sent event",
                               "type": "object", "required": ["event", "data"],
                               "properties": {
                                   "event": { "type": "string", "enum": ["update", "unavailable"] },
                                   "data": { "type": "string", "description": "update: the page's content (HTML)" },
                               },
                           } } } },
                           "401": error_response() },
        } },
        "/": { "get": {
            "summary": "The live page (HTML, no external assets). With an API key set, open it once as /?key=<key>.",
            "security": security(),
            "parameters": [param("key", json!({ "type": "string" }), "the API key, kept in a cookie for the event stream")],
            "responses": { "200": { "description": "HTML page", "content": { "text/html": { "schema": { "type": "string" } } } },
                           "401": error_response(), "422": error_response() },
        } },
        "/health": { "get": {
            "summary": "200 {\"status\":\"ok\"} when the warehouse answers, else 503 (no API key needed).",
            "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } },
                           "503": error_response() },
        } },
        "/openapi.json": { "get": {
            "summary": "This document (no API key needed).",
            "responses": { "200": { "description": "OpenAPI 3 document", "content": { "application/json": { "schema": { "type": "object" } } } } },
        } },
        "/docs": { "get": {
            "summary": "This document as an HTML page (no API key needed).",
            "responses": { "200": { "description": "HTML page", "content": { "text/html": { "schema": { "type": "string" } } } } },
        } },
    })
}

fn op(summary: &str, parameters: Vec<Value>) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } }),
    );
    for status in ["400", "401", "422", "500", "503"] {
        responses.insert(status.into(), error_response());
    }
    json!({ "summary": summary, "parameters": parameters, "security": security(), "responses": responses })
}

fn security() -> Value {
    json!([{ "bearer": [] }, { "apiKey": [] }, {}])
}

fn error_response() -> Value {
    json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn param(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

/// A day of the calendar, 2015-01-01 to 2045-12-31: every valid date of those years, and nothing
/// else (the pattern knows month lengths and leap years).
const DAY_PATTERN: &str = "^(?:(?:201[5-9]|20[23][0-9]|204[0-5])-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])\
    |(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))|20(?:16|20|24|28|32|36|40|44)-02-29)$";

/// A month of the calendar, 2015-01 to 2045-12.
const MONTH_PATTERN: &str = "^(?:201[5-9]|20[23][0-9]|204[0-5])-(?:0[1-9]|1[0-2])$";

fn day(name: &str, description: &str) -> Value {
    let schema = json!({ "type": "string", "format": "date", "pattern": DAY_PATTERN });
    param(name, schema, &format!("{description} (the calendar: 2015-01-01 to 2045-12-31)"))
}

fn date() -> Value {
    day("date", "one UTC day, YYYY-MM-DD (instead of from/to)")
}

fn from() -> Value {
    day("from", &format!("first day, YYYY-MM-DD (a range covers at most {MAX_RANGE_DAYS} days)"))
}

fn to() -> Value {
    day("to", "last day, YYYY-MM-DD, inclusive (default today)")
}

fn month(name: &str, description: &str) -> Value {
    param(name, json!({ "type": "string", "pattern": MONTH_PATTERN }), description)
}

fn limit(default: i64, min: i64, max: i64) -> Value {
    param(
        "limit",
        json!({ "type": "integer", "minimum": min, "maximum": max, "default": default }),
        "most rows returned",
    )
}

fn store_param() -> Value {
    param(
        "store_id",
        json!({ "type": "integer", "minimum": 1, "maximum": i32::MAX }),
        "one store (its id in OLTP); default every store",
    )
}
