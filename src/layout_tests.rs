//! The layout the design promises, checked on the source itself: the modules' import map
//! has no circle, `config` imports nothing of ours, and only `host` names proxy-wasm.
//! Test-only code (`#[cfg(test)]` items, `*tests.rs` files) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `src` without test-only code: `*tests*.rs` files are skipped, and each `#[cfg(test)]`
/// item is cut (to its `;` or its matching `}`).
fn production_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.file_name().unwrap().to_string_lossy().contains("tests") {
                let rel = path.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src")).unwrap().to_string_lossy().into_owned();
                out.push((rel, strip_test_items(&std::fs::read_to_string(&path).unwrap())));
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut out);
    out
}

fn strip_test_items(src: &str) -> String {
    let mut s = src.to_owned();
    while let Some(at) = s.find("#[cfg(test)]") {
        let rest = &s[at..];
        let (semi, brace) = (rest.find(';'), rest.find('{'));
        let end = match (semi, brace) {
            (Some(sc), Some(b)) if sc < b => at + sc + 1,
            (_, Some(b)) => {
                let mut depth = 0;
                let mut end = s.len();
                for (i, c) in rest[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = at + b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (Some(sc), None) => at + sc + 1,
            (None, None) => s.len(),
        };
        s.replace_range(at..end, "");
    }
    s
}

/// Top-level module -> the top-level modules its production code names (`crate::x`, `super::`
/// from a top-level file is the crate root and is not counted).
fn import_map() -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, src) in production_sources() {
        let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
        if top == "lib" {
            continue;
        }
        let used = map.entry(top.clone()).or_default();
        for (i, _) in src.match_indices("crate::") {
            let name: String = src[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if name != top && !name.is_empty() {
                used.insert(name);
            }
        }
    }
    map
}

#[test]
fn the_module_import_map_has_no_circle() {
    let map = import_map();
    assert!(map.len() > 15, "found {} modules", map.len());
    // depth-first search for a back edge, naming the circle it closes
    fn visit(m: &str, map: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import circle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m.to_owned());
        for next in map.get(m).into_iter().flatten().filter(|n| map.contains_key(*n)) {
            visit(next, map, path, done);
        }
        path.pop();
        done.insert(m.to_owned());
    }
    let mut done = BTreeSet::new();
    for m in map.keys() {
        visit(m, &map, &mut Vec::new(), &mut done);
    }
}

#[test]
fn config_is_a_leaf_and_only_host_names_proxy_wasm() {
    let map = import_map();
    assert_eq!(map.get("config").map(BTreeSet::len), Some(0), "config imports {:?}", map.get("config"));
    for (rel, src) in production_sources() {
        if !rel.starts_with("host") && rel != "lib.rs" {
            assert!(!src.contains("proxy_wasm"), "{rel} names proxy_wasm");
        }
    }
}

#[test]
fn the_checker_sees_a_circle_and_cuts_test_items() {
    // the checks above would pass on an empty map: make sure they can see what they look for
    let cut = strip_test_items("use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; fn f() { {} } }\n#[cfg(test)]\nuse crate::c;\nfn g() {}");
    assert!(cut.contains("crate::a") && !cut.contains("crate::b") && !cut.contains("crate::c") && cut.contains("fn g"), "{cut}");
    let map = import_map();
    assert!(map["exchange"].contains("providers") && map["host"].contains("exchange"), "{map:?}");
}
