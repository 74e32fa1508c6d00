//! The session slot on a virtual clock: roll-ups, ends, collisions and races.

use super::*;
use std::collections::HashMap;

/// Envoy's shared data, as the host sees it: a token per key, bumped on every write.
#[derive(Default)]
struct FakeShared {
    map: HashMap<String, (Vec<u8>, u32)>,
    /// Writes to fail with a CAS mismatch before succeeding (simulated rivals).
    rival_writes: usize,
}

impl SharedData for FakeShared {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        match self.map.get(key) {
            Some((v, cas)) => (Some(v.clone()), Some(*cas)),
            None => (None, None),
        }
    }
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError> {
        if self.rival_writes > 0 {
            self.rival_writes -= 1;
            // a rival bumps the token between our read and our write
            if let Some(e) = self.map.get_mut(key) {
                e.1 += 1;
            }
            return Err(SetError::CasMismatch);
        }
        let current = self.map.get(key).map(|e| e.1);
        if let (Some(want), Some(have)) = (cas, current) {
            if want != have {
                return Err(SetError::CasMismatch);
            }
        }
        let next = current.unwrap_or(0) + 1;
        self.map.insert(key.to_owned(), (value.to_vec(), next));
        Ok(())
    }
}

fn cfg() -> Limits {
    Limits {
        enabled: true,
        idle_ttl_ms: 30 * 60_000,
        max_sessions: 10_000,
        max_tasks: 10_000,
        max_tasks_per_session: 4,
        task_records: true,
        session_records: true,
        task_idle_timeout_ms: 60_000,
    }
}

fn call(input: u64, output: u64, cost: Option<u64>, task: Option<&str>) -> CallDelta<'_> {
    CallDelta {
        input_tokens: input,
        output_tokens: output,
        cost_micro_usd: cost,
        task_id: task,
        ..Default::default()
    }
}

const T0: u64 = 1_764_000_000_000;

#[test]
fn a_session_rolls_up_on_a_virtual_clock() {
    let cfg = cfg();
    let mut store = FakeShared::default();
    let mut now = T0;
    // (input, output, cost, task, totals after: calls, tasks, in, out, cost, unpriced, replaced)
    type Totals = (u64, u64, u64, u64, u64, u64);
    type Step = (u64, u64, Option<u64>, Option<&'static str>, Totals, Replaced);
    let steps: [Step; 5] = [
        (
            1167,
            202,
            Some(3391),
            Some("t1"),
            (1, 1, 1167, 202, 3391, 0),
            Replaced::Nothing,
        ),
        (
            1149,
            353,
            Some(307),
            Some("t1"),
            (2, 1, 2316, 555, 3698, 0),
            Replaced::Continued,
        ),
        (
            11,
            703,
            None,
            Some("t2"),
            (3, 2, 2327, 1258, 3698, 1),
            Replaced::Continued,
        ),
        (
            5,
            5,
            Some(1),
            None,
            (4, 2, 2332, 1263, 3699, 1),
            Replaced::Continued,
        ),
        (
            1,
            1,
            Some(1),
            Some("t1"),
            (5, 2, 2333, 1264, 3700, 1),
            Replaced::Continued,
        ),
    ];
    for (input, output, cost, task, want, replaced) in steps {
        now += 60_000;
        let u = record_call(
            &mut store,
            &cfg,
            "sess-a",
            &call(input, output, cost, task),
            now,
        )
        .unwrap();
        let t = u.totals;
        assert_eq!(
            (
                t.calls,
                t.tasks,
                t.input_tokens,
                t.output_tokens,
                t.cost_micro_usd,
                t.unpriced_calls
            ),
            want
        );
        assert_eq!(u.replaced, replaced);
        assert_eq!(t.first_seen_ms, T0 + 60_000);
        assert_eq!(t.last_seen_ms, now);
    }
    assert_eq!(store.map.len(), 1);
    let key = SlotKey::session(&cfg, "sess-a");
    let stored = store.map[key.shared_data_key()].0.clone();
    let totals = read_session(&cfg, &key, Some(&stored), now).unwrap();
    assert_eq!(totals.calls, 5);
    assert!((totals.cost_usd() - 0.0037).abs() < 1e-12);
    // another session is not this one
    assert_eq!(
        read_session(&cfg, &SlotKey::session(&cfg, "sess-b"), Some(&stored), now),
        None
    );
}

#[test]
fn an_idle_session_is_over() {
    let cfg = cfg();
    let mut store = FakeShared::default();
    record_call(&mut store, &cfg, "s", &call(10, 10, Some(5), None), T0).unwrap();
    let just_before = T0 + cfg.idle_ttl_ms - 1;
    let u = record_call(
        &mut store,
        &cfg,
        "s",
        &call(10, 10, Some(5), None),
        just_before,
    )
    .unwrap();
    assert_eq!((u.totals.calls, u.replaced), (2, Replaced::Continued));
    // idle_ttl after the *last* call, not the first
    let later = just_before + cfg.idle_ttl_ms;
    let u = record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), later).unwrap();
    assert_eq!(
        (u.totals.calls, u.totals.cost_micro_usd, u.replaced),
        (1, 1, Replaced::Expired)
    );
    assert_eq!(u.totals.first_seen_ms, later);
    let key = SlotKey::session(&cfg, "s");
    let bytes = store.map[key.shared_data_key()].0.clone();
    assert!(read_session(&cfg, &key, Some(&bytes), later + cfg.idle_ttl_ms).is_none());
}

#[test]
fn slots_bound_the_count_and_collisions_evict_the_older() {
    let mut cfg = cfg();
    cfg.max_sessions = 16;
    let mut store = FakeShared::default();
    let mut evicted = 0;
    for i in 0..500 {
        let u = record_call(
            &mut store,
            &cfg,
            &format!("session-{i}"),
            &call(1, 1, Some(1), None),
            T0 + i,
        )
        .unwrap();
        if u.replaced == Replaced::Evicted {
            evicted += 1;
            assert_eq!(u.totals.calls, 1);
        }
    }
    assert!(store.map.len() <= 16, "{}", store.map.len());
    assert_eq!(evicted, 500 - store.map.len());
    // with one slot, two live sessions evict each other
    cfg.max_sessions = 1;
    let mut store = FakeShared::default();
    record_call(&mut store, &cfg, "a", &call(1, 1, Some(1), None), T0).unwrap();
    record_call(&mut store, &cfg, "a", &call(1, 1, Some(1), None), T0 + 1).unwrap();
    let b = record_call(&mut store, &cfg, "b", &call(1, 1, Some(1), None), T0 + 2).unwrap();
    assert_eq!((b.replaced, b.totals.calls), (Replaced::Evicted, 1));
    let a = record_call(&mut store, &cfg, "a", &call(1, 1, Some(1), None), T0 + 3).unwrap();
    assert_eq!((a.replaced, a.totals.calls), (Replaced::Evicted, 1));
}

#[test]
fn tasks_per_session_are_bounded() {
    let cfg = cfg(); // 4 task ids remembered
    let mut store = FakeShared::default();
    let mut last = None;
    for task in ["a", "b", "c", "d", "e", "e", "b", "a"] {
        last = Some(
            record_call(&mut store, &cfg, "s", &call(1, 1, Some(0), Some(task)), T0).unwrap(),
        );
    }
    let u = last.unwrap();
    // a..e are five, e again is not new, b is still remembered, a was forgotten
    assert_eq!(u.totals.tasks, 6);
    assert_eq!(u.bytes.len(), SESSION_FIXED_LEN + 8 * 4);
}

#[test]
fn racing_workers_lose_nothing() {
    let cfg = cfg();
    let mut store = FakeShared::default();
    record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), T0).unwrap();
    let key = SlotKey::session(&cfg, "s");
    let k = key.shared_data_key();
    // Workers A and B both read, B writes first, A's write is refused and retried.
    let (a_prev, a_cas) = store.get(k);
    let (b_prev, b_cas) = store.get(k);
    let b = apply_call(
        &cfg,
        &key,
        b_prev.as_deref(),
        &call(10, 0, Some(10), None),
        T0 + 1,
    );
    store.set(k, &b.bytes, b_cas).unwrap();
    let a = apply_call(
        &cfg,
        &key,
        a_prev.as_deref(),
        &call(100, 0, Some(100), None),
        T0 + 2,
    );
    assert_eq!(store.set(k, &a.bytes, a_cas), Err(SetError::CasMismatch));
    let a = record_call(
        &mut store,
        &cfg,
        "s",
        &call(100, 0, Some(100), None),
        T0 + 2,
    )
    .unwrap();
    assert_eq!(
        (
            a.totals.calls,
            a.totals.input_tokens,
            a.totals.cost_micro_usd
        ),
        (3, 111, 111)
    );
    // rivals win a few times: still one update, counted once
    store.rival_writes = MAX_CAS_ATTEMPTS - 1;
    let u = record_call(&mut store, &cfg, "s", &call(1, 0, Some(1), None), T0 + 3).unwrap();
    assert_eq!(u.totals.calls, 4);
    // rivals always win: give up, store unchanged
    store.rival_writes = MAX_CAS_ATTEMPTS;
    let before = store.map[k].0.clone();
    assert_eq!(
        record_call(&mut store, &cfg, "s", &call(1, 0, Some(1), None), T0 + 4),
        Err(UpdateError::Contended)
    );
    assert_eq!(store.map[k].0, before);
}

#[test]
fn host_failure_is_not_retried() {
    struct Broken(usize);
    impl SharedData for Broken {
        fn get(&self, _: &str) -> (Option<Vec<u8>>, Option<u32>) {
            (None, None)
        }
        fn set(&mut self, _: &str, _: &[u8], _: Option<u32>) -> Result<(), SetError> {
            self.0 += 1;
            Err(SetError::Host)
        }
    }
    let mut s = Broken(0);
    assert_eq!(
        record_call(&mut s, &cfg(), "s", &call(1, 1, Some(1), None), T0),
        Err(UpdateError::Host)
    );
    assert_eq!(s.0, 1);
}

#[test]
fn a_clock_that_steps_back_does_not_underflow() {
    let cfg = cfg();
    let mut store = FakeShared::default();
    let s = record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), T0).unwrap();
    let s2 = record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), T0 - 5).unwrap();
    assert_eq!(s2.totals.last_seen_ms, s.totals.last_seen_ms);
}

#[test]
fn unreadable_bytes_start_afresh() {
    let cfg = cfg();
    let key = SlotKey::session(&cfg, "s");
    let good = apply_call(&cfg, &key, None, &call(1, 2, Some(3), Some("t")), T0).bytes;
    // every truncation, a bad magic, and a task record in a session slot
    let mut bad: Vec<Vec<u8>> = (1..good.len()).map(|n| good[..n].to_vec()).collect();
    let mut wrong_magic = good.clone();
    wrong_magic[0] = b'X';
    bad.push(wrong_magic);
    let task = crate::task::CallDelta { task_id: "t", ..Default::default() };
    bad.push(crate::task::apply_call(&cfg, &SlotKey::task(&cfg, "t"), None, &task, T0).record.encode());
    let mut longer = good.clone();
    longer.push(0);
    bad.push(longer);
    for b in bad {
        let u = apply_call(&cfg, &key, Some(&b), &call(1, 1, Some(1), None), T0);
        assert_eq!(
            (u.replaced, u.totals.calls),
            (Replaced::Unreadable, 1),
            "{} bytes",
            b.len()
        );
    }
    let u = apply_call(&cfg, &key, Some(&good), &call(1, 1, Some(1), None), T0);
    assert_eq!(
        (u.replaced, u.totals.calls, u.totals.tasks),
        (Replaced::Continued, 2, 1)
    );
    let empty = apply_call(&cfg, &key, Some(&[]), &call(1, 1, Some(1), None), T0);
    assert_eq!(empty.replaced, Replaced::Nothing);
}

#[test]
fn memory_bound() {
    let c = Limits::compile(RawSessions::default()).unwrap();
    // 10000 × (112 + 3 × 64 + 8 × 32) + 10000 × 887 (each record at its largest)
    assert_eq!(max_session_record_len(&c), 560);
    assert_eq!(crate::task::MAX_RECORD_LEN, 887);
    assert_eq!(max_shared_bytes(&c), 10_000 * 560 + 10_000 * 887);
    assert_eq!(c.max_shared_bytes(), 14_470_000);
}

#[test]
fn keys_are_stable_and_spread() {
    let cfg = cfg();
    let a = SlotKey::session(&cfg, "abc");
    assert_eq!(a, SlotKey::session(&cfg, "abc"));
    assert!(a.shared_data_key().starts_with("genai_tap.session."));
    assert!(SlotKey::task(&cfg, "abc")
        .shared_data_key()
        .starts_with("genai_tap.task."));
    assert_ne!(a.tag, SlotKey::task(&cfg, "abc").tag);
    let slots: std::collections::HashSet<String> = (0..1000)
        .map(|i| SlotKey::session(&cfg, &i.to_string()).key)
        .collect();
    assert!(slots.len() > 940, "{}", slots.len()); // ~951 expected for 1000 in 10000
}

proptest::proptest! {
    #[test]
    fn any_bytes_are_handled(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), now in 0u64..u64::MAX) {
        let cfg = cfg();
        let key = SlotKey::session(&cfg, "s");
        let u = apply_call(&cfg, &key, Some(&bytes), &call(u64::MAX, u64::MAX, Some(u64::MAX), Some("t")), now);
        proptest::prop_assert!(SessionRecord::decode(&u.bytes).is_some());
        let _ = read_session(&cfg, &key, Some(&bytes), now);
    }
}

fn named<'a>(sid: &'a str, task: Option<&'a str>, end: bool) -> CallDelta<'a> {
    CallDelta { input_tokens: 10, output_tokens: 5, cost_micro_usd: Some(7), task_id: task, session_id: sid, agent: Some("bot"), trace_id: [1; 16], span_id: [2; 8], end, ..Default::default() }
}

#[test]
fn a_session_ends_by_its_header_once_and_the_same_id_starts_afresh() {
    let cfg = cfg();
    let mut store = FakeShared::default();
    let u = record_call(&mut store, &cfg, "s", &CallDelta { start_ms: T0 - 40, ..named("s", Some("t1"), false) }, T0).unwrap();
    assert!(u.ended.is_empty());
    record_call(&mut store, &cfg, "s", &named("s", Some("t2"), false), T0 + 10).unwrap();
    let u = record_call(&mut store, &cfg, "s", &named("s", Some("t2"), true), T0 + 20).unwrap();
    assert_eq!(u.ended.len(), 1);
    let r = &u.ended[0];
    assert_eq!((r.state, r.state.end_reason()), (State::EndedByHeader, "header"));
    assert_eq!((r.totals.calls, r.totals.tasks, r.totals.input_tokens, r.totals.cost_micro_usd), (3, 2, 30, 21));
    assert_eq!((r.totals.first_seen_ms, r.end_ms), (T0 - 40, T0 + 20), "from the first request's arrival to the last call's end");
    assert_eq!((r.session_id.as_str(), r.agent.as_str(), r.first_span_id), ("s", "bot", [2; 8]));
    // the ended record stays in the slot, and a tick finds nothing to do
    let slot = SlotKey::session(&cfg, "s").slot();
    assert_eq!(check_slot(&mut store, &cfg, slot, T0 + cfg.idle_ttl_ms * 2), Ok(Check::Forget));
    // the same id again: a new session
    let u = record_call(&mut store, &cfg, "s", &named("s", None, false), T0 + 30).unwrap();
    assert_eq!((u.replaced, u.totals.calls, u.ended.len()), (Replaced::Ended, 1, 0));
}

#[test]
fn an_idle_session_is_ended_by_exactly_one_tick() {
    let cfg = cfg();
    let mut store = FakeShared::default();
    record_call(&mut store, &cfg, "s", &named("s", Some("t"), false), T0).unwrap();
    let slot = SlotKey::session(&cfg, "s").slot();
    assert_eq!(check_slot(&mut store, &cfg, slot, T0 + cfg.idle_ttl_ms - 1), Ok(Check::Live));
    // two workers watch the slot: the first to see it idle ends it, the other forgets it
    let Ok(Check::Ended(r)) = check_slot(&mut store, &cfg, slot, T0 + cfg.idle_ttl_ms) else { panic!("not ended") };
    assert_eq!((r.state, r.end_ms, r.totals.calls, r.totals.tasks), (State::EndedIdle, T0, 1, 1));
    assert_eq!(check_slot(&mut store, &cfg, slot, T0 + cfg.idle_ttl_ms + 5), Ok(Check::Forget));
    // a tick that loses the race to a call retries from the new state: the call kept it live
    record_call(&mut store, &cfg, "s2", &named("s2", None, false), T0).unwrap();
    let slot2 = SlotKey::session(&cfg, "s2").slot();
    store.rival_writes = 1;
    assert_eq!(check_slot(&mut store, &cfg, slot2, T0 + 1), Ok(Check::Live));
    assert_eq!(check_slot(&mut store, &cfg, 999_999, T0), Ok(Check::Forget), "an empty slot");
}

#[test]
fn a_call_that_finds_an_idle_or_colliding_session_ends_it_itself() {
    let cfg = cfg();
    let mut store = FakeShared::default();
    record_call(&mut store, &cfg, "s", &named("s", None, false), T0).unwrap();
    // the tick never came (no worker watched it): the next call ends it, once
    let u = record_call(&mut store, &cfg, "s", &named("s", None, false), T0 + cfg.idle_ttl_ms).unwrap();
    assert_eq!(u.replaced, Replaced::Expired);
    assert_eq!(u.ended.iter().map(|r| (r.state, r.totals.calls, r.end_ms)).collect::<Vec<_>>(), vec![(State::EndedIdle, 1, T0)]);
    // one slot, two live sessions: the newer evicts the older, whose record is emitted
    let mut one = cfg.clone();
    one.max_sessions = 1;
    let mut store = FakeShared::default();
    record_call(&mut store, &one, "a", &named("a", None, false), T0).unwrap();
    let u = record_call(&mut store, &one, "b", &named("b", None, true), T0 + 1).unwrap();
    let got: Vec<_> = u.ended.iter().map(|r| (r.session_id.as_str(), r.state.end_reason())).collect();
    assert_eq!(got, vec![("a", "evicted"), ("b", "header")]);
}

#[test]
fn the_record_span_carries_the_totals_and_links_to_the_first_call() {
    let cfg = cfg();
    let key = SlotKey::session(&cfg, "sess-9");
    let d = CallDelta { user_hash: Some("ab12"), start_ms: T0 - 5, ..named("sess-9", Some("t"), true) };
    let u = apply_call(&cfg, &key, None, &d, T0);
    let span = record::span(&u.ended[0], [3; 8], [4; 16]);
    assert_eq!((span.name.as_str(), span.kind, span.trace_id, span.parent_span_id), ("genai_tap.session", crate::span::SpanKind::Internal, [4; 16], None));
    assert_eq!(span.links.iter().map(|l| (l.trace_id, l.span_id)).collect::<Vec<_>>(), vec![([1; 16], [2; 8])]);
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), ((T0 - 5) * 1_000_000, T0 * 1_000_000));
    use crate::span::{attr, AttrValue};
    let get = |k| span.attr(k).cloned();
    assert_eq!(get(attr::SESSION_ID), Some(AttrValue::from("sess-9")));
    assert_eq!(get(attr::USER_ID_HASH), Some(AttrValue::from("ab12")));
    assert_eq!(get(attr::GEN_AI_AGENT_NAME), Some(AttrValue::from("bot")));
    assert_eq!(get(attr::TAP_SESSION_TASKS), Some(AttrValue::from(1u64)));
    assert_eq!(get(attr::TAP_SESSION_DURATION_MS), Some(AttrValue::from(5u64)));
    assert_eq!(get(attr::TAP_SESSION_END_REASON), Some(AttrValue::from("header")));
    assert_eq!(get(attr::TAP_SESSION_PARTIAL), Some(AttrValue::Bool(true)));
    let log = record::log_record(&span);
    assert_eq!((log.event_name, log.body.as_str(), log.span_id), ("genai_tap.session.record", "session sess-9 ended (header)", [3; 8]));
    let mut stats = Vec::new();
    record::stats(&u.ended[0], &mut stats);
    assert_eq!(stats.iter().map(|s| (s.metric.name, s.labels.iter().map(|(k, v)| (*k, v.to_string())).collect::<Vec<_>>(), s.value)).collect::<Vec<_>>(), vec![
        ("sessions", vec![("reason", "header".to_owned()), ("agent", "bot".to_owned())], 1),
        ("session_tasks", vec![("agent", "bot".to_owned())], 1),
    ]);
}

#[test]
fn long_texts_are_cut_and_every_record_decodes_within_its_bound() {
    let mut cfg = cfg();
    cfg.max_tasks_per_session = 32;
    let key = SlotKey::session(&cfg, "s");
    let long = "é".repeat(100);
    let mut prev: Option<Vec<u8>> = None;
    for i in 0..40 {
        let task = format!("t{i}");
        let d = CallDelta { session_id: &long, user_hash: Some(&long), agent: Some(&long), task_id: Some(&task), ..Default::default() };
        let u = apply_call(&cfg, &key, prev.as_deref(), &d, T0 + i);
        assert!(u.bytes.len() <= max_session_record_len(&cfg), "{}", u.bytes.len());
        let r = SessionRecord::decode(&u.bytes).unwrap();
        assert_eq!(r.session_id.len(), 64);
        prev = Some(u.bytes);
    }
    assert_eq!(prev.map(|b| b.len()), Some(max_session_record_len(&cfg)));
}
