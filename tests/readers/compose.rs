//! docker-compose.yml without a Docker engine: the compose spec (compose_spec crate), then what no
//! validator checks: dependencies exist, mounted paths exist, brewlytics services only pass
//! settings and subcommands the built binary knows, interpolated variables are documented.

use std::{collections::BTreeSet, process::Command};

use compose_spec::Compose;
use serde_yaml::Value;

use super::repo;

fn compose_text() -> String {
    std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap()
}

/// `brewlytics <args> --help` of the built binary: its output, or None when it fails.
fn help(args: &[&str]) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_brewlytics")).args(args).arg("--help").output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The env names in `[env: NAME=…]` (or `[env: NAME]`, a secret's) of a help text.
fn env_names(help: &str) -> BTreeSet<String> {
    help.split("[env: ").skip(1).filter_map(|s| s.split(['=', ']']).next()).map(str::to_string).collect()
}

#[test]
fn compose_file_follows_the_compose_spec() {
    let compose = Compose::options().apply_merge(true).from_yaml_str(&compose_text()).expect("parses as compose");
    compose.validate_all().expect("valid compose file");
    assert!(compose.services.len() >= 8, "{:?}", compose.services.keys().collect::<Vec<_>>());
}

#[test]
fn compose_references_exist_and_brewlytics_services_use_real_settings() {
    let mut doc: Value = serde_yaml::from_str(&compose_text()).unwrap();
    doc.apply_merge().unwrap();
    let services = doc["services"].as_mapping().unwrap();
    let volumes = doc["volumes"].as_mapping().cloned().unwrap_or_default();
    let known = env_names(&help(&[]).unwrap())
        .into_iter()
        .chain(env_names(&help(&["metabase", "setup"]).expect("`brewlytics metabase setup` exists")))
        .collect::<BTreeSet<_>>();
    assert!(known.contains("OLAP_DATABASE_URL") && known.contains("METABASE_HOST"), "{known:?}");
    let mut problems = Vec::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        let deps: Vec<(String, Option<&str>)> = match &svc["depends_on"] {
            Value::Sequence(list) => list.iter().map(|d| (d.as_str().unwrap().to_string(), None)).collect(),
            Value::Mapping(map) => {
                map.iter().map(|(d, spec)| (d.as_str().unwrap().to_string(), spec["condition"].as_str())).collect()
            }
            _ => Vec::new(),
        };
        for (dep, condition) in deps {
            match services.get(dep.as_str()) {
                None => problems.push(format!("{name}: depends_on unknown service {dep}")),
                Some(target) if condition == Some("service_healthy") && target.get("healthcheck").is_none() => {
                    problems.push(format!("{name}: waits for {dep} to be healthy, but {dep} has no healthcheck"))
                }
                Some(_) => {}
            }
        }
        for mount in svc["volumes"].as_sequence().cloned().unwrap_or_default() {
            let source = match &mount {
                Value::String(s) => s.split(':').next().unwrap().to_string(),
                other => other["source"].as_str().unwrap_or_default().to_string(),
            };
            if source.starts_with('.') || source.starts_with('/') {
                if !repo().join(&source).exists() {
                    problems.push(format!("{name}: mounted host path {source} does not exist in the repository"));
                }
            } else if !volumes.contains_key(source.as_str()) {
                problems.push(format!("{name}: named volume {source} is not declared"));
            }
        }
        let image = svc["image"].as_str().unwrap_or_default();
        if !image.starts_with("brewlytics") {
            if image.rsplit_once(':').is_none_or(|(_, tag)| tag == "latest" || tag.contains('/')) {
                problems.push(format!("{name}: image '{image}' is not pinned to a version"));
            }
            continue;
        }
        for var in svc["environment"].as_mapping().map(|m| m.keys().cloned().collect()).unwrap_or(Vec::new()) {
            let var = var.as_str().unwrap();
            if !known.contains(var) {
                problems.push(format!("{name}: environment {var} is not a setting of the brewlytics binary"));
            }
        }
        // The subcommand(s) the service runs exist: `command: [sub, …]`, or `brewlytics sub` in a shell line.
        let words: Vec<&str> =
            svc["command"].as_sequence().map(|c| c.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let subcommands: Vec<Vec<&str>> = if svc.get("entrypoint").is_some() {
            words
                .iter()
                .flat_map(|line| line.split("brewlytics ").skip(1))
                .map(|rest| vec![rest.split_whitespace().next().unwrap()])
                .collect()
        } else {
            vec![words]
        };
        for sub in subcommands.iter().filter(|s| !s.is_empty()) {
            if help(sub).is_none() {
                problems.push(format!("{name}: `brewlytics {}` is not a subcommand", sub.join(" ")));
            }
        }
    }
    // Every ${VAR} interpolated and every setting of the binary is documented in .env.example.
    let example = std::fs::read_to_string(repo().join(".env.example")).unwrap();
    let documented: BTreeSet<&str> = example
        .lines()
        .filter_map(|l| l.trim_start_matches(['#', ' ']).split_once('='))
        .map(|(k, _)| k.trim())
        .collect();
    let code: String =
        compose_text().lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let interpolated = code
        .match_indices("${")
        .filter(|(i, _)| !code[..*i].ends_with('$')) // `$${X}` is an escaped `$`, not interpolation
        .filter_map(|(i, _)| code[i + 2..].split([':', '}', '-']).next());
    for var in interpolated.chain(known.iter().map(String::as_str)) {
        if !documented.contains(var) {
            problems.push(format!("{var} is not listed in .env.example"));
        }
    }
    assert!(problems.is_empty(), "docker-compose.yml:\n{}", problems.join("\n"));
}

/// No password, key or DSN is written in the compose file, literally or as a `${VAR:-default}`:
/// services read them from compose secrets (sourced from .env or a file) through `…_FILE`.
#[test]
fn compose_keeps_every_secret_out_of_the_file() {
    let mut doc: Value = serde_yaml::from_str(&compose_text()).unwrap();
    doc.apply_merge().unwrap();
    let declared = doc["secrets"].as_mapping().cloned().unwrap_or_default();
    let example = std::fs::read_to_string(repo().join(".env.example")).unwrap();
    let mut problems = Vec::new();
    for (name, secret) in &declared {
        let name = name.as_str().unwrap();
        match (secret["environment"].as_str(), secret["file"].as_str()) {
            (Some(var), None) if example.contains(&format!("{var}=")) => {}
            (Some(var), None) => problems.push(format!("secret {name}: its variable {var} is not in .env.example")),
            (None, Some(_)) => {}
            _ => problems.push(format!("secret {name} must come from `environment:` or `file:`, not inline")),
        }
    }
    let secret_like = |var: &str| ["PASSWORD", "PASS", "API_KEY", "DATABASE_URL"].iter().any(|w| var.contains(w));
    for (service, svc) in doc["services"].as_mapping().unwrap() {
        let service = service.as_str().unwrap();
        let mounted: Vec<&str> = svc["secrets"].as_sequence().into_iter().flatten().filter_map(Value::as_str).collect();
        for (var, value) in svc["environment"].as_mapping().into_iter().flatten() {
            let (var, value) = (var.as_str().unwrap(), value.as_str().unwrap_or_default());
            if !secret_like(var) {
                continue;
            }
            let Some(base) = var.strip_suffix("_FILE") else {
                problems.push(format!("{service}: {var} is set in the file; use {var}_FILE and a secret"));
                continue;
            };
            match value.strip_prefix("/run/secrets/") {
                Some(secret) if mounted.contains(&secret) && declared.contains_key(secret) => {}
                _ => problems.push(format!("{service}: {var}={value} is not a declared secret it mounts ({base})")),
            }
        }
    }
    for line in compose_text().lines().filter(|l| l.contains("${") && l.contains(":-")) {
        let var = line.split("${").nth(1).and_then(|r| r.split(":-").next()).unwrap_or_default();
        if secret_like(var) {
            problems.push(format!("a secret has a default in the file: {}", line.trim()));
        }
    }
    assert!(problems.is_empty(), "docker-compose.yml:\n{}", problems.join("\n"));
    assert!(declared.len() >= 6, "the passwords are compose secrets: {declared:?}");
}
