//! Checks of the operator assets against the filter and the stats contract.
//!
//! The stats table in `docs/operators.md` is the contract here: the dashboard and the alert
//! rules may use only its metric and label names, every alert must link a runbook section
//! that exists, every Istio manifest must parse and carry a configuration that
//! `Config::from_json` accepts, and the stats tag extractors must turn the filter's stat names
//! into the Prometheus names the contract lists.

use crate::plugin::Config;
use regex_lite::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The label keys, in the order they appear in stat names.
const LABEL_KEYS: [&str; 18] = [
    "provider",
    "model",
    "operation",
    "route",
    "outcome",
    "type",
    "step",
    "tool",
    "kind",
    "authz",
    "rule",
    "reason",
    "result",
    "api",
    "spec_version",
    "agent_version",
    "tier",
    "agent",
];

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

#[derive(Debug)]
struct Metric {
    kind: String,
    labels: Vec<String>,
}

/// The stats table of `docs/operators.md`.
fn contract() -> BTreeMap<String, Metric> {
    let doc = read("docs/operators.md");
    let section = doc
        .split("\n## Stats\n")
        .nth(1)
        .expect("a ## Stats section");
    let section = section.split("\n## ").next().unwrap();
    let mut out = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let labels = cells[3]
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        out.insert(
            name,
            Metric {
                kind: cells[2].to_owned(),
                labels,
            },
        );
    }
    out
}

/// GitHub's anchors for the headings of `docs/operators.md`.
fn anchors() -> BTreeSet<String> {
    read("docs/operators.md")
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// Checks one PromQL expression against the contract; returns the metrics it uses.
fn check_expr(
    expr: &str,
    contract: &BTreeMap<String, Metric>,
    recorded: &BTreeSet<String>,
) -> Vec<String> {
    let metric_re = Regex::new(r"(^|[^a-zA-Z0-9_:])genai_tap_([a-z0-9_]+)(\{[^}]*\})?").unwrap();
    let matcher_re = Regex::new(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)").unwrap();
    let by_re = Regex::new(r"\b(?:by|without)\s*\(([^)]*)\)").unwrap();
    let recorded_re = Regex::new(r"genai_tap:[a-z0-9_:]+").unwrap();
    let mut used = Vec::new();
    let mut label_pool: BTreeSet<String> = ["le".to_owned()].into();
    for c in metric_re.captures_iter(expr) {
        let name = &c[2];
        let (base, metric) = match contract.get(name) {
            Some(m) if m.kind != "histogram" => (name.to_owned(), m),
            _ => {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or_else(|| {
                        panic!("{expr}: genai_tap_{name} is not in the stats contract")
                    });
                let m = contract.get(base).unwrap_or_else(|| {
                    panic!("{expr}: genai_tap_{name} is not in the stats contract")
                });
                assert_eq!(
                    m.kind, "histogram",
                    "{expr}: genai_tap_{name}: {base} is not a histogram"
                );
                (base.to_owned(), m)
            }
        };
        if let Some(sel) = c.get(3) {
            for mc in matcher_re.captures_iter(sel.as_str()) {
                let key = &mc[1];
                assert!(
                    metric.labels.iter().any(|l| l == key)
                        || (key == "le" && metric.kind == "histogram"),
                    "{expr}: genai_tap_{name} has no label {key}"
                );
            }
        }
        label_pool.extend(metric.labels.iter().cloned());
        used.push(base);
    }
    for r in recorded_re.find_iter(expr) {
        assert!(
            recorded.contains(r.as_str()),
            "{expr}: {} is not recorded",
            r.as_str()
        );
    }
    for c in by_re.captures_iter(expr) {
        for key in c[1].split(',').map(str::trim).filter(|k| !k.is_empty()) {
            assert!(
                LABEL_KEYS.contains(&key) || key == "le",
                "{expr}: unknown label {key}"
            );
            assert!(
                label_pool.contains(key) || !recorded.is_empty() && used.is_empty(),
                "{expr}: no metric here has label {key}"
            );
        }
    }
    used
}

#[test]
fn stats_table_is_the_contract() {
    let c = contract();
    assert_eq!(c.len(), 33, "{:?}", c.keys());
    assert_eq!(c["stream_state_bytes"].kind, "histogram");
    assert_eq!(c["stream_state_bytes"].labels, ["provider"]);
    assert_eq!(
        c["llm_calls"].labels,
        ["provider", "model", "operation", "route", "outcome", "agent"]
    );
    assert_eq!(c["active_spec_version"].kind, "gauge");
    assert_eq!(c["active_spec_version"].labels, ["spec_version"]);
    assert_eq!(c["sessions"].labels, ["reason", "agent"]);
    assert_eq!(c["tool_duration_ms"].kind, "histogram");
    assert_eq!(c["export_queue_depth"].kind, "gauge");
    assert!(c["tasks_over_budget"].labels.is_empty());
    for m in c.values() {
        assert!(
            ["counter", "histogram", "gauge"].contains(&m.kind.as_str()),
            "{m:?}"
        );
        for l in &m.labels {
            assert!(LABEL_KEYS.contains(&l.as_str()), "{m:?}");
        }
    }
}

#[test]
fn check_expr_catches_mistakes() {
    let c = contract();
    let none = BTreeSet::new();
    let bad = [
        "rate(genai_tap_llm_call[5m])",
        "rate(genai_tap_llm_calls_bucket[5m])",
        "rate(genai_tap_tool_duration_ms[5m])",
        r#"rate(genai_tap_tool_calls{model="x"}[5m])"#,
        "sum by (model) (rate(genai_tap_tool_calls[5m]))",
        "genai_tap:not_recorded",
    ];
    for expr in bad {
        let r = std::panic::catch_unwind(|| check_expr(expr, &c, &none));
        assert!(r.is_err(), "{expr} was accepted");
    }
    let good = r#"histogram_quantile(0.95, sum by (tool, le) (rate(genai_tap_tool_duration_ms_bucket{tool=~"a|b"}[5m])))"#;
    assert_eq!(check_expr(good, &c, &none), ["tool_duration_ms"]);
}

#[test]
fn dashboard_uses_only_contract_names() {
    let c = contract();
    let d: Value = serde_json::from_str(&read("envoy/grafana/genai-tap.json")).unwrap();
    assert_eq!(d["schemaVersion"], 39);
    let vars = d["templating"]["list"].as_array().unwrap();
    assert!(vars
        .iter()
        .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"));
    let mut panels: Vec<&Value> = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        panels.push(p);
        panels.extend(p["panels"].as_array().into_iter().flatten());
    }
    let mut ids = BTreeSet::new();
    let mut exprs = Vec::new();
    for p in &panels {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate panel id {}",
            p["id"]
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            exprs.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for v in vars.iter().filter(|v| v["type"] == "query") {
        exprs.push(v["definition"].as_str().unwrap().to_owned());
    }
    let mut used = BTreeSet::new();
    for e in &exprs {
        let metrics = check_expr(e, &c, &BTreeSet::new());
        assert!(!metrics.is_empty(), "{e}: uses no genai-tap metric");
        used.extend(metrics);
    }
    // The seed's monitors are all there.
    let has = |needle: &str| exprs.iter().any(|e| e.contains(needle));
    for q in ["0.5", "0.95", "0.99"] {
        assert!(
            has(&format!(
                "histogram_quantile({q}, sum by (tool, le) (rate(genai_tap_tool_duration_ms_bucket"
            )),
            "tool p{q}"
        );
    }
    for q in ["0.5", "0.95"] {
        assert!(
            has(&format!(
                "histogram_quantile({q}, sum by (le) (rate(genai_tap_llm_ttfc_ms_bucket"
            )),
            "ttfc p{q}"
        );
    }
    assert!(has(
        r#"type=~"cached_input|uncached_input|cache_write|output""#
    ));
    for m in [
        "llm_cost_micro_usd",
        "llm_tokens",
        "calls_in_flight",
        "guard_redactions",
        "guard_blocks",
        "export_spans_dropped",
        "export_queue_depth",
        "llm_unpriced_calls",
    ] {
        assert!(used.contains(m), "dashboard lacks {m}");
    }
}

#[test]
fn alerts_use_contract_names_and_link_runbooks() {
    let c = contract();
    let anchors = anchors();
    let doc = &yaml_docs(&read("envoy/prometheus/alerts.yaml"))[0];
    let rules: Vec<&Value> = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let recorded: BTreeSet<String> = rules
        .iter()
        .filter_map(|r| r["record"].as_str())
        .map(str::to_owned)
        .collect();
    let mut alerts = BTreeSet::new();
    for r in &rules {
        let expr = r["expr"].as_str().unwrap();
        check_expr(expr, &c, &recorded);
        if let Some(record) = r["record"].as_str() {
            assert!(record.starts_with("genai_tap:"), "{record}");
            continue;
        }
        let name = r["alert"].as_str().unwrap();
        alerts.insert(name.to_owned());
        let labels = &r["labels"];
        assert!(
            ["critical", "warning"].contains(&labels["severity"].as_str().unwrap()),
            "{name}"
        );
        let ann = &r["annotations"];
        for key in ["summary", "description"] {
            assert!(
                ann[key].as_str().is_some_and(|s| s.len() > 10),
                "{name}: {key}"
            );
        }
        let runbook = ann["runbook_url"].as_str().unwrap();
        let anchor = runbook
            .strip_prefix("docs/operators.md#")
            .unwrap_or_else(|| panic!("{name}: {runbook}"));
        assert_eq!(anchor, name.to_lowercase(), "{name}: runbook anchor");
        assert!(
            anchors.contains(anchor),
            "{name}: docs/operators.md has no #{anchor}"
        );
    }
    let want: BTreeSet<String> = [
        "GenaiTapCostSpike",
        "GenaiTapErrorRateSpike",
        "GenaiTapSurfaceRateOverBound",
        "GenaiTapToolRefusalSpike",
        "GenaiTapSecretPatternHit",
        "GenaiTapTaskOverBudget",
        "GenaiTapVmMemoryGrowing",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(alerts, want);
    // every alert is exercised by the promtool tests
    let tests = read("envoy/prometheus/alerts_test.yaml");
    for a in &want {
        assert!(
            tests.contains(&format!("alertname: {a}")),
            "{a} has no promtool test"
        );
    }
}

/// `outbound|<port>||<host>`: the host part, if the name has Istio's shape.
fn istio_cluster_host(cluster: &str) -> Option<&str> {
    let mut parts = cluster.split('|');
    let (dir, port, subset, host) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (dir == "outbound"
        && port.parse::<u16>().is_ok()
        && subset.is_empty()
        && parts.next().is_none())
    .then_some(host)
}

#[test]
fn istio_manifests_parse_and_their_configs_load() {
    let dir = format!("{}/envoy/istio", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for f in &files {
        assert_eq!(
            f.extension().and_then(|e| e.to_str()),
            Some("yaml"),
            "{f:?}"
        );
        for d in yaml_docs(&std::fs::read_to_string(f).unwrap()) {
            assert!(
                d["apiVersion"].is_string() && d["kind"].is_string(),
                "{f:?}"
            );
            assert!(d["metadata"]["name"].is_string(), "{f:?}");
            docs.push(d);
        }
    }
    // The hosts the manifests declare, which a collector cluster may name.
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    for d in &docs {
        match d["kind"].as_str().unwrap() {
            "DestinationRule" => {
                hosts.insert(d["spec"]["host"].as_str().unwrap().to_owned());
            }
            "ServiceEntry" => hosts.extend(
                d["spec"]["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap().to_owned()),
            ),
            _ => {}
        }
    }
    let check_config = |what: &str, json: &[u8]| {
        let config = Config::from_json(json).unwrap_or_else(|e| panic!("{what}: {e}"));
        let host = istio_cluster_host(&config.collector.cluster)
            .unwrap_or_else(|| panic!("{what}: collector.cluster is not outbound|port||host"));
        assert!(
            hosts.contains(host),
            "{what}: no DestinationRule or ServiceEntry for {host}"
        );
        assert!(
            config.collector.authority.starts_with(host),
            "{what}: authority"
        );
    };
    let (mut plugins, mut filters) = (0, 0);
    for d in &docs {
        let name = d["metadata"]["name"].as_str().unwrap();
        match d["kind"].as_str().unwrap() {
            "WasmPlugin" => {
                plugins += 1;
                let s = &d["spec"];
                assert!(s["url"].as_str().unwrap().starts_with("oci://"), "{name}");
                assert_eq!(s["phase"], "STATS", "{name}");
                assert!(["FAIL_OPEN", "FAIL_CLOSE", "FAIL_RELOAD"]
                    .contains(&s["failStrategy"].as_str().unwrap()));
                assert!(
                    ["IfNotPresent", "Always"].contains(&s["imagePullPolicy"].as_str().unwrap())
                );
                assert!(s["selector"]["matchLabels"].is_object(), "{name}");
                check_config(name, &serde_json::to_vec(&s["pluginConfig"]).unwrap());
            }
            "EnvoyFilter" => {
                for patch in d["spec"]["configPatches"].as_array().unwrap() {
                    let cfg = &patch["patch"]["value"]["typed_config"]["config"];
                    assert_eq!(
                        cfg["vm_config"]["runtime"], "envoy.wasm.runtime.v8",
                        "{name}"
                    );
                    let value = cfg["configuration"]["value"].as_str().unwrap();
                    check_config(name, value.as_bytes());
                    filters += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!((plugins, filters), (2, 1));
    // a broken pluginConfig is caught, so the checks above mean something
    assert!(Config::from_json(br#"{"collector":{"clustr":"x"}}"#).is_err());
    assert_eq!(istio_cluster_host("otel_collector"), None);
}

/// Envoy's regex tag extraction: every extractor runs on the original name; the first group
/// is cut from the name and the second is the tag's value.
fn extract(name: &str, tags: &[(String, Regex)]) -> (String, BTreeMap<String, String>) {
    let mut cut: Vec<(usize, usize)> = Vec::new();
    let mut out = BTreeMap::new();
    for (tag, re) in tags {
        if let Some(c) = re.captures(name) {
            let whole = c.get(1).unwrap();
            cut.push((whole.start(), whole.end()));
            out.insert(tag.clone(), c[2].to_owned());
        }
    }
    let kept: String = name
        .char_indices()
        .filter(|(i, _)| !cut.iter().any(|(s, e)| (*s..*e).contains(i)))
        .map(|(_, ch)| ch)
        .collect();
    let prom = kept
        .strip_prefix("wasmcustom.")
        .unwrap_or(&kept)
        .replace('.', "_");
    (prom, out)
}

#[test]
fn istio_stats_bootstrap_yields_the_contract_names() {
    let c = contract();
    let docs = yaml_docs(&read("envoy/istio/stats-bootstrap.yaml"));
    let boot: Value =
        serde_json::from_str(docs[0]["data"]["custom_bootstrap.json"].as_str().unwrap()).unwrap();
    let tags: Vec<(String, Regex)> = boot["stats_config"]["stats_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tag_name"].as_str().unwrap().to_owned(),
                Regex::new(t["regex"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tags.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        LABEL_KEYS
    );
    let buckets = &boot["stats_config"]["histogram_bucket_settings"][0]["buckets"];
    assert_eq!(buckets.as_array().unwrap().len(), 16);
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let cases: [Case; 5] = [
        (
            "wasmcustom.genai_tap.provider.openai.model.gpt-4o.operation.chat.route.llm.outcome.completed.llm_calls",
            "genai_tap_llm_calls",
            &[("provider", "openai"), ("model", "gpt-4o"), ("operation", "chat"), ("route", "llm"), ("outcome", "completed")],
        ),
        // a value that is also a key name stays a value
        (
            "wasmcustom.genai_tap.tool.model.kind.mcp.authz.refused.tool_calls",
            "genai_tap_tool_calls",
            &[("tool", "model"), ("kind", "mcp"), ("authz", "refused")],
        ),
        ("wasmcustom.genai_tap.provider.anthropic.model.claude-3-5-haiku.type.cached_input.llm_tokens", "genai_tap_llm_tokens",
            &[("provider", "anthropic"), ("model", "claude-3-5-haiku"), ("type", "cached_input")]),
        ("wasmcustom.genai_tap.tasks_over_budget", "genai_tap_tasks_over_budget", &[]),
        ("wasmcustom.genai_tap.reason.queue_full.export_spans_dropped", "genai_tap_export_spans_dropped", &[("reason", "queue_full")]),
    ];
    for (name, want_prom, want_tags) in cases {
        let (prom, got) = extract(name, &tags);
        assert_eq!(prom, want_prom, "{name}");
        let want: BTreeMap<String, String> = want_tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{name}");
        assert!(
            c.contains_key(prom.strip_prefix("genai_tap_").unwrap()),
            "{prom}"
        );
    }
}
