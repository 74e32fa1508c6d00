//! Two workers, one proxy-wide record, on a virtual clock.

use super::*;
use crate::session::SetError;

#[derive(Default)]
struct Store(HashMap<String, (Vec<u8>, u32)>);

impl SharedData for Store {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        match self.0.get(key) {
            Some((v, c)) => (Some(v.clone()), Some(*c)),
            None => (None, None),
        }
    }
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError> {
        let current = self.0.get(key).map(|e| e.1);
        if let (Some(want), Some(have)) = (cas, current) {
            if want != have {
                return Err(SetError::CasMismatch);
            }
        }
        self.0.insert(key.to_owned(), (value.to_vec(), current.unwrap_or(0) + 1));
        Ok(())
    }
}

/// (metric, label value, value) of each update, sorted.
fn sets(updates: Vec<StatUpdate>) -> Vec<(&'static str, String, i64)> {
    let mut v: Vec<_> = updates.into_iter().map(|u| (u.metric.name, u.labels[0].1.to_string(), u.value)).collect();
    v.sort();
    v
}

const T0: u64 = 1_764_000_000_000;
const WINDOW: u64 = 60_000;

#[test]
fn every_worker_sets_what_the_proxy_saw_and_versions_leave_the_window() {
    let mut store = Store::default();
    let (mut a, mut b) = (Tracker::new(WINDOW, 10), Tracker::new(WINDOW, 10));
    a.note(Kind::Spec, "spec-1", T0);
    a.note(Kind::Model, "gpt-4o-2024-08-06", T0);
    b.note(Kind::Spec, "spec-2", T0 + 100);
    // A ticks first: only what it saw is in the record yet
    assert_eq!(sets(a.tick(&mut store, T0 + 1_000)), vec![("active_model_version", "gpt-4o-2024-08-06".into(), 1), ("active_spec_version", "spec-1".into(), 1)]);
    // B sets both spec versions (it never saw spec-1 itself) and the model
    assert_eq!(
        sets(b.tick(&mut store, T0 + 1_000)),
        vec![("active_model_version", "gpt-4o-2024-08-06".into(), 1), ("active_spec_version", "spec-1".into(), 1), ("active_spec_version", "spec-2".into(), 1)]
    );
    // A learns of spec-2; nothing else changed for it
    assert_eq!(sets(a.tick(&mut store, T0 + 2_000)), vec![("active_spec_version", "spec-2".into(), 1)]);
    assert!(a.tick(&mut store, T0 + 3_000).is_empty(), "unchanged values are not set again");
    // spec-1 seen again by B half a window later keeps it in; the others leave
    b.note(Kind::Spec, "spec-1", T0 + WINDOW / 2);
    assert!(b.tick(&mut store, T0 + WINDOW / 2).is_empty());
    assert_eq!(
        sets(a.tick(&mut store, T0 + WINDOW + 200)),
        vec![("active_model_version", "gpt-4o-2024-08-06".into(), 0), ("active_spec_version", "spec-2".into(), 0)]
    );
    // long after, everything left and was pruned from the record; no series is set twice
    assert_eq!(sets(a.tick(&mut store, T0 + 4 * WINDOW)), vec![("active_spec_version", "spec-1".into(), 0)]);
    assert!(a.tick(&mut store, T0 + 5 * WINDOW).is_empty());
    // the record was pruned on B's next write
    b.note(Kind::Spec, "spec-3", T0 + 5 * WINDOW);
    let got = sets(b.tick(&mut store, T0 + 5 * WINDOW));
    assert!(got.contains(&("active_spec_version", "spec-3".into(), 1)), "{got:?}");
    assert_eq!(decode(&store.0["genai_tap.active.spec_version"].0).unwrap().len(), 1);
}

#[test]
fn the_record_and_the_series_are_bounded_by_the_label_cap() {
    let mut store = Store::default();
    let mut a = Tracker::new(WINDOW, 3);
    for i in 0..10 {
        a.note(Kind::Model, &format!("m-{i}"), T0 + i);
    }
    let got = sets(a.tick(&mut store, T0 + 100));
    assert_eq!(got.len(), 3, "{got:?}");
    let rec = decode(&store.0["genai_tap.active.model"].0).unwrap();
    assert_eq!(rec.len(), 3);
    // a full record keeps the versions seen most recently; the one pushed out reads 0
    let mut b = Tracker::new(WINDOW, 3);
    b.note(Kind::Model, "m-new", T0 + 200);
    let got = sets(b.tick(&mut store, T0 + 300));
    assert!(got.contains(&("active_model_version", "m-new".into(), 1)), "{got:?}");
    let got = sets(a.tick(&mut store, T0 + 400));
    assert_eq!(got.iter().filter(|g| g.2 == 0).count(), 1, "{got:?}");
    assert!(got.contains(&("active_model_version", "m-new".into(), 1)), "{got:?}");
    // a long version is cut, and the record stays within its bound
    a.note(Kind::Spec, &"v".repeat(300), T0 + 500);
    a.tick(&mut store, T0 + 500);
    let total: usize = store.0.values().map(|(v, _)| v.len()).sum();
    assert!(total as u64 <= max_shared_bytes(3), "{total}");
}

#[test]
fn unreadable_records_start_afresh_and_a_lost_race_is_retried_next_tick() {
    let mut store = Store::default();
    store.0.insert("genai_tap.active.spec_version".into(), (vec![9, 0, 1], 1));
    let mut a = Tracker::new(WINDOW, 10);
    a.note(Kind::Spec, "s", T0);
    assert_eq!(sets(a.tick(&mut store, T0)), vec![("active_spec_version", "s".into(), 1)]);
    // a host that refuses writes: what was seen is kept for the next tick
    struct Refuse;
    impl SharedData for Refuse {
        fn get(&self, _: &str) -> (Option<Vec<u8>>, Option<u32>) {
            (None, None)
        }
        fn set(&mut self, _: &str, _: &[u8], _: Option<u32>) -> Result<(), SetError> {
            Err(SetError::Host)
        }
    }
    a.note(Kind::Spec, "t", T0 + 1);
    assert!(a.tick(&mut Refuse, T0 + 2).is_empty());
    assert_eq!(sets(a.tick(&mut store, T0 + 3)), vec![("active_spec_version", "t".into(), 1)]);
}
