//! `--live-web [ADDR]`: the live page, served while `top` samples.
//!
//! A small HTTP server (tiny_http) on its own thread, on 127.0.0.1 and a
//! random port unless the user names an address, answering only requests
//! that carry the random token printed in the URL (403 otherwise):
//!
//! - `/?token=T`: the page, which shows the HTML report (the same writer as
//!   `--format html`) of the last N seconds or of everything since the
//!   start, loaded again every second into a hidden frame and swapped in;
//! - `/report?token=T&span=window|start`: that report;
//! - `/data.json?token=T&span=window|start`: the capture itself (JSON);
//! - `/objects.json?token=T`: the live object counts by type (the agent's
//!   censuses; `{"available": false, "why": …}` without the agent);
//! - `POST /census?token=T`: asks the agent for a census now (202; 409 and
//!   why when there is no agent to ask).
//!
//! The last N seconds are the capture now minus the capture as it was N
//! seconds ago (a copy is kept every second): stack records are only ever
//! added and counted up, so the difference is per record.

use super::live::CaptureSource;
use crate::UserError;
use snakescope_formats::Format;
use snakescope_model::Capture;
use std::collections::VecDeque;
use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PAGE: &str = include_str!("live.html");
/// How often a copy of the capture is kept, and the page refreshes.
const STEP: Duration = Duration::from_secs(1);

/// The server and the thread keeping the capture's history; stopped when dropped.
pub struct LiveWeb {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub url: String,
}

/// Copies of the capture, oldest first, one a second over the window.
type History = Arc<Mutex<VecDeque<(Instant, Capture)>>>;

impl LiveWeb {
    /// Serves the live page of `source` on `addr` (`127.0.0.1:0` when `None`).
    pub fn start(
        addr: Option<&str>,
        source: CaptureSource,
        window: Duration,
    ) -> anyhow::Result<LiveWeb> {
        let addr = parse_addr(addr.unwrap_or("127.0.0.1:0"))?;
        let server = tiny_http::Server::http(addr).map_err(|e| {
            UserError::new(format!("cannot serve the live page on {addr}: {e}")).with_hint(
                "give another address, e.g. `--live-web 127.0.0.1:8123`, or none for a free port",
            )
        })?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| UserError::new("the live page's server has no IP address"))?;
        let token = token()?;
        let host = if bound.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            bound.ip().to_string()
        };
        let url = format!("http://{host}:{}/?token={token}", bound.port());
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let history: History = Arc::default();
        let keeper = {
            let (history, source, stop) = (Arc::clone(&history), source.clone(), Arc::clone(&stop));
            std::thread::spawn(move || keep_history(&history, &source, window, &stop))
        };
        let serve = {
            let server = Arc::clone(&server);
            let page = Page {
                token,
                source,
                history,
                window,
            };
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    page.answer(request);
                }
            })
        };
        Ok(LiveWeb {
            server,
            stop,
            threads: vec![keeper, serve],
            url,
        })
    }
}

impl Drop for LiveWeb {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// `HOST:PORT`, or a port alone (on 127.0.0.1).
fn parse_addr(text: &str) -> Result<SocketAddr, UserError> {
    let with_host = if text.parse::<u16>().is_ok() {
        format!("127.0.0.1:{text}")
    } else {
        text.to_owned()
    };
    with_host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            UserError::new(format!("`{text}` is not an address to serve on")).with_hint(
                "give HOST:PORT or a port, e.g. `--live-web 127.0.0.1:8123` or `--live-web 8123`",
            )
        })
}

/// 128 random bits, as hex.
fn token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn keep_history(history: &History, source: &CaptureSource, window: Duration, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let capture = source.now();
        {
            let mut h = history.lock().unwrap_or_else(|e| e.into_inner());
            h.push_back((now, capture));
            // Keep the newest copy at least `window` old, and those after it.
            while h.len() > 1 && now.duration_since(h[1].0) >= window {
                h.pop_front();
            }
        }
        let mut slept = Duration::ZERO;
        while slept < STEP && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            slept += Duration::from_millis(50);
        }
    }
}

/// `now` less what `before` (an earlier copy of the same capture) held.
///
/// A CPU-time sample is counted when its thread's clock shows it was on a
/// CPU, a tick or two after it was taken, so a sample taken before the
/// copy can be counted after it: the window's ticks are then at least as
/// many as any thread's samples in it (a thread is sampled at most once a
/// tick), its edges being that fuzzy.
pub fn minus(mut now: Capture, before: &Capture) -> Capture {
    for (stack, old) in now.stacks.iter_mut().zip(&before.stacks) {
        stack.count = stack.count.saturating_sub(old.count);
    }
    now.stacks.retain(|s| s.count > 0);
    for (thread, old) in now.threads.iter_mut().zip(&before.threads) {
        thread.samples = thread.samples.saturating_sub(old.samples);
        thread.idle_samples = thread.idle_samples.saturating_sub(old.idle_samples);
        thread.gil_samples = thread.gil_samples.saturating_sub(old.gil_samples);
    }
    let meta = &mut now.meta;
    meta.duration_s = (meta.duration_s - before.meta.duration_s).max(0.0);
    meta.ticks = meta.ticks.saturating_sub(before.meta.ticks);
    meta.lost_ticks = meta.lost_ticks.saturating_sub(before.meta.lost_ticks);
    let most = now.threads.iter().map(|t| t.samples).max().unwrap_or(0);
    meta.ticks = meta.ticks.max(most);
    meta.started_unix_s += before.meta.duration_s;
    now
}

struct Page {
    token: String,
    source: CaptureSource,
    history: History,
    window: Duration,
}

impl Page {
    fn answer(&self, request: tiny_http::Request) {
        let url = request.url().to_owned();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        };
        if param("token").as_deref() != Some(self.token.as_str()) {
            let _ = request.respond(respond(
                403,
                "text/plain",
                b"403: the URL's token is missing or wrong\n".to_vec(),
            ));
            return;
        }
        let window = param("span").as_deref() != Some("start");
        let response = match path {
            "/" => respond(200, "text/html; charset=utf-8", self.page().into_bytes()),
            "/report" => self.render(window, Format::Html, "text/html; charset=utf-8"),
            "/data.json" => self.render(window, Format::Json, "application/json"),
            "/objects.json" => self.objects(),
            "/census" if *request.method() == tiny_http::Method::Post => {
                match self.source.ask_census() {
                    Ok(()) => respond(202, "text/plain", b"202: census asked for\n".to_vec()),
                    Err(why) => respond(409, "text/plain", format!("409: {why}\n").into_bytes()),
                }
            }
            _ => respond(404, "text/plain", b"404: no such page\n".to_vec()),
        };
        let _ = request.respond(response);
    }

    fn page(&self) -> String {
        PAGE.replace("{{TOKEN}}", &self.token)
            .replace("{{WINDOW}}", &format!("{}", self.window.as_secs_f64()))
    }

    /// The capture of the window or since the start.
    fn capture(&self, window: bool) -> Capture {
        let now = self.source.now();
        if !window {
            return now;
        }
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        match h.front() {
            Some((at, old)) if at.elapsed() >= self.window => minus(now, old),
            _ => now,
        }
    }

    /// The live object counts by type, or why there are none.
    fn objects(&self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let body = match self.source.objects() {
            Ok(objects) => {
                let mut v = serde_json::to_value(objects).unwrap_or_default();
                v["available"] = true.into();
                v
            }
            Err(why) => serde_json::json!({ "available": false, "why": why }),
        };
        respond(200, "application/json", body.to_string().into_bytes())
    }

    fn render(
        &self,
        window: bool,
        format: Format,
        mime: &str,
    ) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let capture = self.capture(window);
        let mut body = Vec::new();
        match snakescope_formats::write(&capture, format, &mut body) {
            Ok(()) => respond(200, mime, body),
            Err(e) => respond(500, "text/plain", format!("500: {e}\n").into_bytes()),
        }
    }
}

fn respond(code: u16, mime: &str, body: Vec<u8>) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_data(body).with_status_code(code);
    for (name, value) in [("Content-Type", mime), ("Cache-Control", "no-store")] {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::minus;
    use snakescope_model::{CaptureBuilder, Frame, Meta, SampleSink, ThreadSample};

    fn add(b: &mut CaptureBuilder, tid: u64, name: &str, n: u64) {
        let f = b.intern_frame(Frame {
            function: name.into(),
            qualname: None,
            file: "w.py".into(),
            line: 1,
        });
        let sample = ThreadSample {
            tid,
            idle: false,
            gil: true,
            frames: &[f],
        };
        b.add_sample(sample, n, 0);
    }

    #[test]
    fn the_window_is_what_was_added_since_the_copy() {
        let mut b = CaptureBuilder::new();
        add(&mut b, 1, "old", 5);
        add(&mut b, 1, "both", 2);
        let before = b.clone().finish(Meta {
            duration_s: 1.0,
            ticks: 10,
            ..Meta::default()
        });
        add(&mut b, 1, "both", 3);
        add(&mut b, 2, "new", 4);
        let now = b.finish(Meta {
            duration_s: 3.0,
            ticks: 30,
            ..Meta::default()
        });
        let w = minus(now, &before);
        let counts: Vec<(&str, u64)> = w
            .stacks
            .iter()
            .map(|s| (w.frames[s.frames[0]].function.as_str(), s.count))
            .collect();
        assert_eq!(counts, [("both", 3), ("new", 4)]);
        let threads: Vec<(u64, u64, u64)> = w
            .threads
            .iter()
            .map(|t| (t.tid, t.samples, t.gil_samples))
            .collect();
        assert_eq!(threads, [(1, 3, 3), (2, 4, 4)]);
        assert_eq!((w.meta.duration_s, w.meta.ticks), (2.0, 20));
    }

    #[test]
    fn a_sample_counted_after_the_copy_widens_the_window() {
        let mut b = CaptureBuilder::new();
        add(&mut b, 1, "busy", 8); // ticks 1-10, two samples still pending
        let before = b.clone().finish(Meta {
            ticks: 10,
            ..Meta::default()
        });
        add(&mut b, 1, "busy", 12); // those two, and ticks 11-20
        let now = b.finish(Meta {
            ticks: 20,
            ..Meta::default()
        });
        let w = minus(now, &before);
        assert_eq!((w.threads[0].samples, w.meta.ticks), (12, 12));
    }
}
