//! A WebSocket upgrade and a `CONNECT` tunnel through a host-wide `kind: llm` route, in the
//! real Envoy 1.40 with the guard on (PII redacted, secrets blocked): what follows the headers
//! is frames or raw TCP, not a call's body, so every byte goes both ways unchanged, nothing
//! waits on the guard, no span is made, and the call is counted in `unobserved_calls{api}`.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{loopback_cluster, Envoy, EnvoyConfig};
use genai_tap_testkit::sink::OtlpSink;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A frame-like payload a guard would judge if it read it: a secret and an address.
const PAYLOAD: &[u8] = b"\x81\x3eAKIAZ7QW4XJ2LBNM5K3P mail jane@example.org card 4111-1111-1111-1111";

/// Echoes every byte back; with `upgrade`, first reads an HTTP head and answers
/// `101 Switching Protocols`, as a WebSocket server does.
fn echo_server(upgrade: bool) -> u16 {
    let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = vec![0u8; 64 * 1024];
                if upgrade {
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
                    let at = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
                    let _ = s.write_all(&head[at..]);
                }
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

/// Sends `head`, reads the answer's head, then writes `PAYLOAD` in two pieces and reads the
/// same number of bytes back: the echo, and how long the round trip took.
fn exchange(port: u16, head: &str) -> (String, Vec<u8>, Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let at = got.windows(4).position(|w| w == b"\r\n\r\n").map_or(got.len(), |i| i + 4);
    let answer = String::from_utf8_lossy(&got[..at]).into_owned();
    let mut echo = got[at..].to_vec();
    let started = Instant::now();
    let (a, b) = PAYLOAD.split_at(21);
    s.write_all(a).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    s.write_all(b).unwrap();
    while echo.len() < PAYLOAD.len() {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => echo.extend_from_slice(&buf[..n]),
        }
    }
    (answer, echo, started.elapsed())
}

#[test]
fn e2e_websocket_and_connect_on_an_llm_route_pass_untouched_and_are_counted() {
    let ws_port = echo_server(true);
    let tcp_port = echo_server(false);
    let sink = OtlpSink::start(0).unwrap();
    let plugin = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}},"routes":[{{"host":"api.openai.com","kind":"llm"}}],"pii":{{"mode":"redact","response":"redact"}},"secrets":{{"mode":"block"}}}}"#,
        sink.port
    );
    let mut cfg = EnvoyConfig::new(ws_port, sink.port, &plugin);
    cfg.fail_open = true;
    cfg.route_options = "upgrade_configs: [{upgrade_type: websocket}]".to_owned();
    // CONNECT terminated by Envoy: the payload goes to the echo cluster as raw TCP
    cfg.extra_routes = "              - match: {connect_matcher: {}}\n                route: {cluster: tcp_echo, upgrade_configs: [{upgrade_type: CONNECT, connect_config: {}}]}\n".to_owned();
    cfg.extra_clusters = loopback_cluster("tcp_echo", tcp_port);
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));

    // the OpenAI Realtime WebSocket
    let (answer, echo, ws_rtt) = exchange(
        envoy.listener_port,
        "GET /v1/realtime?model=gpt-4o-realtime-preview HTTP/1.1\r\nhost: api.openai.com\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert_eq!(echo, PAYLOAD, "every byte both ways, unchanged");
    // any other WebSocket on the same host-wide route
    let (answer, echo, _) = exchange(envoy.listener_port, "GET /agents/stream HTTP/1.1\r\nhost: api.openai.com\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert_eq!(echo, PAYLOAD);
    // a CONNECT tunnel to the provider
    let (answer, echo, tcp_rtt) = exchange(envoy.listener_port, "CONNECT api.openai.com:443 HTTP/1.1\r\nhost: api.openai.com:443\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(echo, PAYLOAD);
    // nothing waited on the guard: a held tail would never come back without more bytes
    assert!(ws_rtt < Duration::from_secs(2) && tcp_rtt < Duration::from_secs(2), "{ws_rtt:?} {tcp_rtt:?}");

    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_unobserved_calls", &[("api", "openai_realtime")]) == 1.0), "{}", envoy.admin("/stats/prometheus").lines().filter(|l| l.contains("unobserved")).collect::<Vec<_>>().join("\n"));
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_unobserved_calls", &[("api", "websocket")]) == 1.0));
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_unobserved_calls", &[("api", "connect")]) == 1.0));
    // the guard saw none of it, and no LLM span was made
    assert_eq!(envoy.prom("genai_tap_guard_blocks", &[]), 0.0);
    assert_eq!(envoy.prom("genai_tap_guard_redactions", &[]), 0.0);
    assert_eq!(envoy.prom("genai_tap_llm_calls", &[]), 0.0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.spans().is_empty(), "{:?}", sink.spans().iter().map(|s| s.name.clone()).collect::<Vec<_>>());
}
