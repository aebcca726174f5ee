//! `GET /docs`: the OpenAPI document ([`super::openapi::spec`]) as a server-rendered HTML page,
//! with no script and no external asset.

use axum::response::Html;
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

/// `GET /docs`.
pub(super) async fn page() -> Html<String> {
    Html(render(&super::openapi::spec()).into_string())
}

fn render(spec: &Value) -> Markup {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let empty = serde_json::Map::new();
    let paths = spec["paths"].as_object().unwrap_or(&empty);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (text(&spec["info"]["title"])) }
                style { (maud::PreEscaped(super::live::STYLE)) " table{border-collapse:collapse;margin:.4em 0 1em} td,th{border:1px solid #ccd;padding:.25em .5em;text-align:left;vertical-align:top} code{background:#eef;padding:0 .2em}" }
            }
            body {
                header { h1 { (text(&spec["info"]["title"])) " " small { (text(&spec["info"]["version"])) } } }
                main {
                    p { (text(&spec["info"]["description"])) }
                    p { "Machine-readable: " a href="/openapi.json" { "/openapi.json" } ". Live page: " a href="/" { "/" } "." }
                    @for (path, item) in paths {
                        @if let Some(ops) = item.as_object() {
                            @for (method, op) in ops {
                                section.card {
                                    h2 { code { (method.to_uppercase()) " " (path) } }
                                    p { (text(&op["summary"])) }
                                    (parameters(op))
                                    p { "Responses: "
                                        @if let Some(r) = op["responses"].as_object() {
                                            @for (status, resp) in r { code { (status) } " " (text(&resp["description"])) "; " }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn parameters(op: &Value) -> Markup {
    let Some(list) = op["parameters"].as_array().filter(|l| !l.is_empty()) else { return html! {} };
    html! {
        table {
            tr { th { "parameter" } th { "schema" } th { "meaning" } }
            @for p in list {
                tr {
                    td { code { (p["name"].as_str().unwrap_or_default()) } }
                    td { code { (p["schema"].to_string()) } }
                    td { (p["description"].as_str().unwrap_or_default()) }
                }
            }
        }
    }
}
