//! `wrangler dev` as a test fixture.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long wrangler may take to answer `/health` after starting (4–9 s is usual).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long it may take to exit after SIGINT before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a start is tried with fresh ports when a port picked by [`free_port`] was
/// taken by someone else between its release and wrangler's bind (workerd and parallel tests
/// bind ephemeral ports too, so the race is real on a busy machine).
const START_ATTEMPTS: usize = 4;

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local addr").port()
}

/// A running `wrangler dev` in its own process group.
pub struct WranglerDev {
    child: Option<Child>,
    pub port: u16,
    pub persist_dir: PathBuf,
    pub log_path: PathBuf,
}

impl WranglerDev {
    /// Starts the already-built worker (see `scripts/build-worker.sh`) with its state under
    /// `persist_dir`, and waits until it answers. Panics with the log if it does not.
    pub fn start(persist_dir: &Path) -> Self {
        Self::start_with(persist_dir, &[])
    }

    /// Like [`WranglerDev::start`], with extra worker variables (`("NAME", "value")`).
    pub fn start_with(persist_dir: &Path, vars: &[(&str, &str)]) -> Self {
        Self::start_config(persist_dir, None, vars)
    }

    /// Starts the worker described by another wrangler configuration (`config`, relative to
    /// the repository root; `None` is the repository's `wrangler.toml`), already built.
    pub fn start_config(persist_dir: &Path, config: Option<&str>, vars: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(persist_dir).expect("create persist dir");
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let mut dev = Self::spawn(persist_dir, config, vars);
            match dev.wait_ready() {
                Ok(()) => return dev,
                Err(Startup::PortTaken) => last_log = dev.log(),
                Err(Startup::Failed(message)) => panic!("{message}"),
            }
        }
        panic!("wrangler dev found its ports taken {START_ATTEMPTS} times:\n{last_log}");
    }

    fn spawn(persist_dir: &Path, config: Option<&str>, vars: &[(&str, &str)]) -> Self {
        let root = crate::repo_root();
        let port = free_port();
        let inspector_port = free_port();
        let log_path = persist_dir.join(format!("wrangler-{port}.log"));
        let log = File::create(&log_path).expect("create wrangler log");
        let child = Command::new(root.join("node_modules/.bin/wrangler"))
            .current_dir(&root)
            .args([
                "dev",
                "--local",
                "--ip",
                "127.0.0.1",
                "--show-interactive-dev-session=false",
                "--log-level",
                "warn",
            ])
            .arg("--port")
            .arg(port.to_string())
            .arg("--inspector-port")
            .arg(inspector_port.to_string())
            .arg("--persist-to")
            .arg(persist_dir)
            .args(config.map(|c| ["--config".to_string(), c.to_string()]).into_iter().flatten())
            // Test configuration (the repository's `.dev.vars`, if any, is overridden).
            .args(["--var", &format!("ROOMSYNC_JWT_SECRET:{}", crate::TEST_SECRET)])
            .args(["--var", "ROOMSYNC_DEV_TOKENS:1", "--var", "ROOMSYNC_TEST_HOOKS:1"])
            // The panel under test calls the HTTP routes from another origin (local only:
            // the deployed configuration allows none).
            .args(["--var", "ROOMSYNC_ALLOWED_ORIGINS:*"])
            .args(vars.iter().flat_map(|(name, value)| ["--var".to_string(), format!("{name}:{value}")]))
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("ROOMSYNC_SKIP_WORKER_BUILD", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn wrangler dev (run `bash scripts/install.sh` first)");
        Self { child: Some(child), port, persist_dir: persist_dir.to_path_buf(), log_path }
    }

    /// The process group of wrangler and its children (workerd), for measurements.
    pub fn process_group(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self, room: &str) -> String {
        format!("ws://127.0.0.1:{}/rooms/{room}/sync", self.port)
    }

    /// The wrangler log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn wait_ready(&mut self) -> Result<(), Startup> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = self.log();
                    self.stop();
                    if log.contains("Address already in use") {
                        return Err(Startup::PortTaken);
                    }
                    return Err(Startup::Failed(format!("wrangler dev exited early ({status}):\n{log}")));
                }
            }
            if http_get(self.port, "/health").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                return Ok(());
            }
            sleep(Duration::from_millis(200));
        }
        let log = self.log();
        self.stop();
        Err(Startup::Failed(format!("wrangler dev did not answer /health within {READY_TIMEOUT:?}:\n{log}")))
    }

    /// Kills the whole process group at once (SIGKILL: no graceful shutdown), as a crash or
    /// an evicted machine would.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
        let _ = child.wait();
    }

    /// Stops the whole process group (node, esbuild, workerd): SIGINT, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-INT", "--", &group]).status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                // The leader is gone; make sure nothing of its group lingers.
                let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
                return;
            }
            sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = child.wait();
    }
}

/// Why a start did not come up.
enum Startup {
    /// A port was bound by someone else first: worth another try with fresh ports.
    PortTaken,
    /// Anything else, with the log.
    Failed(String),
}

impl Drop for WranglerDev {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bare HTTP/1.1 GET on loopback; returns the raw response, or `None` if nothing answered.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http_request(port, "GET", path, &[], "")
}

/// A bare HTTP/1.1 request on loopback with extra headers and a body; returns the raw
/// response (status line, headers, body), or `None` if nothing answered.
///
/// The response ends where its `Content-Length` or last chunk says, not when the server
/// closes the connection: workerd keeps it open for seconds despite `Connection: close`.
pub fn http_request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(_) if !response.is_empty() => break,
            Err(_) => return None,
        }
        if is_complete(&response) {
            break;
        }
    }
    (!response.is_empty()).then(|| String::from_utf8_lossy(&response).into_owned())
}

/// Whether `response` holds a whole HTTP/1.1 response (headers and the body they announce).
fn is_complete(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let body = &response[end + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
    match length {
        Some(length) => body.len() >= length,
        // No length: the body ends with the connection (a 101 or 204 has none).
        None => head.starts_with("http/1.1 1") || head.starts_with("http/1.1 204"),
    }
}

/// The JSON body of a raw HTTP response (chunked bodies are de-chunked).
pub fn json_body(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let text = if response.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n.min(tail.len())]);
            rest = tail.get(n + 2..).unwrap_or("");
        }
        out
    } else {
        body.to_string()
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {response}"))
}
