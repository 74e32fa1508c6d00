//! A paced load generator for `make bench`: sends `rate` requests per second over keep-alive
//! connections for `seconds`, and prints latency percentiles as JSON. Unlike a closed-loop tool
//! it does not wait for a slow response before sending the next, so queueing shows.
//!
//! usage: genai-tap-load PORT PATH BODY_FILE RATE SECONDS CONNECTIONS [HEADER:VALUE...]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<()> {
    let mut len = None;
    let mut chunked = false;
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::other("closed"));
    }
    // a latency measured on an error reply means nothing, so it counts as an error
    let ok_status = line.split(' ').nth(1).is_some_and(|s| s.starts_with('2'));
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("closed"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse::<usize>().ok();
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
            let mut buf = vec![0; n + 2];
            r.read_exact(&mut buf)?;
            if n == 0 {
                return status_result(ok_status);
            }
        }
    }
    let mut buf = vec![0; len.unwrap_or(0)];
    r.read_exact(&mut buf)?;
    status_result(ok_status)
}

fn status_result(ok_status: bool) -> std::io::Result<()> {
    if ok_status {
        Ok(())
    } else {
        Err(std::io::Error::other("status is not 2xx"))
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 7 {
        eprintln!("usage: genai-tap-load PORT PATH BODY_FILE RATE SECONDS CONNECTIONS [HEADER:VALUE...]");
        std::process::exit(2);
    }
    let port: u16 = a[1].parse().unwrap_or(10000);
    let path = a[2].clone();
    let body = std::fs::read(&a[3]).unwrap_or_default();
    let rate: f64 = a[4].parse().unwrap_or(1000.0);
    let seconds: f64 = a[5].parse().unwrap_or(5.0);
    let conns: usize = a[6].parse().unwrap_or(8);
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: api.openai.com\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    for h in &a[7..] {
        if let Some((k, v)) = h.split_once(':') {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(100);
    let (tx, rx) = mpsc::channel::<(Duration, bool)>();
    let mut handles = Vec::new();
    for c in 0..conns {
        let tx = tx.clone();
        let request = request.clone();
        let per = total / conns;
        handles.push(std::thread::spawn(move || {
            let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else { return };
            let _ = s.set_nodelay(true);
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(mut w) = s.try_clone() else { return };
            let mut r = BufReader::new(s);
            let offset = interval.mul_f64(c as f64 / conns as f64);
            for i in 0..per {
                // the intended send time: latency counts from it, so a late send is not hidden
                let due = start + offset + interval * i as u32;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let ok = w.write_all(&request).is_ok() && read_response(&mut r).is_ok();
                let _ = tx.send((Instant::now().saturating_duration_since(due), ok));
                if !ok {
                    return;
                }
            }
        }));
    }
    drop(tx);
    let mut lat: Vec<Duration> = Vec::with_capacity(total);
    let mut errors = 0;
    for (d, ok) in rx {
        if ok {
            lat.push(d);
        } else {
            errors += 1;
        }
    }
    for h in handles {
        let _ = h.join();
    }
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    println!(
        "{{\"requests\":{},\"errors\":{},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        lat.len(),
        errors,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
}
