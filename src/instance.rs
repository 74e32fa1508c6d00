//! `service.instance.id`: which proxy wrote a span, so that the parts of a task or session
//! that several proxies saw can be told apart and added up.
//!
//! This module owns the choice and the proxy-wide fallback. In order: the configured
//! `service_instance_id`; Envoy's node id (`node.id`, which Istio always sets, as
//! `sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local`); else an id generated once per proxy and kept
//! in shared data (`genai_tap.instance_id`), so every worker of the proxy uses the same one and
//! it lives as long as the proxy does. It does not read properties (the host does).

use crate::session::SharedData;

/// The shared-data key of the generated id.
pub const KEY: &str = "genai_tap.instance_id";

/// The configured id, else the node id, when either is non-empty.
pub fn chosen(configured: Option<&str>, node_id: Option<&str>) -> Option<String> {
    configured.or(node_id).map(str::trim).filter(|s| !s.is_empty()).map(|s| crate::text::cut(s, 256).to_owned())
}

/// The proxy's generated id: the one already stored, else `fresh` (random hex from the
/// caller), stored for the other workers. Two workers that store at the same instant may
/// each keep their own for a moment; [`stored`] on the tick converges them on the one kept.
pub fn claim<S: SharedData>(store: &mut S, fresh: &str) -> String {
    if let Some(id) = stored(store) {
        return id;
    }
    let _ = store.set(KEY, fresh.as_bytes(), None);
    stored(store).unwrap_or_else(|| fresh.to_owned())
}

/// The generated id in shared data, if any.
pub fn stored<S: SharedData>(store: &S) -> Option<String> {
    store.get(KEY).0.and_then(|b| String::from_utf8(b).ok()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SetError;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Store(HashMap<String, Vec<u8>>, bool);
    impl SharedData for Store {
        fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
            (self.0.get(key).cloned(), None)
        }
        fn set(&mut self, key: &str, value: &[u8], _: Option<u32>) -> Result<(), SetError> {
            if self.1 {
                return Err(SetError::Host);
            }
            self.0.insert(key.to_owned(), value.to_vec());
            Ok(())
        }
    }

    #[test]
    fn configured_beats_the_node_id_and_blank_is_none() {
        assert_eq!(chosen(Some("gw-1"), Some("node")), Some("gw-1".into()));
        assert_eq!(chosen(None, Some(" sidecar~10.0.0.1~p.ns~ns.svc.cluster.local ")), Some("sidecar~10.0.0.1~p.ns~ns.svc.cluster.local".into()));
        assert_eq!(chosen(None, Some("")), None);
        assert_eq!(chosen(Some("  "), None), None);
        assert_eq!(chosen(None, None), None);
    }

    #[test]
    fn every_worker_of_a_proxy_claims_the_same_generated_id() {
        let mut store = Store::default();
        let first = claim(&mut store, "aaaa");
        let second = claim(&mut store, "bbbb");
        assert_eq!((first.as_str(), second.as_str()), ("aaaa", "aaaa"));
        // a host that refuses the write: still an id, this worker's own
        let mut broken = Store(HashMap::new(), true);
        assert_eq!(claim(&mut broken, "cccc"), "cccc");
        assert_eq!(stored(&broken), None);
    }
}
