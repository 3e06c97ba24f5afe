//! A TCP proxy between the clients and `wrangler dev` that injects network faults: it resets
//! connections (both ends see the connection die without a WebSocket close), stalls every
//! connection at once (bytes are held, then delivered in order: a client's heartbeat may
//! give up first), and refuses new connections while the worker is down. The worker behind it
//! may move to another port (a restarted `wrangler dev` binds a fresh one): clients keep the
//! proxy's address.
//!
//! Threads, not an event loop: the proxy is a fault injector, not the thing measured, and
//! two blocked threads per connection cost nothing on loopback.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant};

/// How long a pump waits for bytes before it looks at the proxy's state again.
const POLL: Duration = Duration::from_millis(50);

/// What the proxy did, for the run's report.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProxyStats {
    pub connections: u64,
    /// Connections refused because the worker was down (or did not answer).
    pub refused: u64,
    /// Connections reset by [`FaultProxy::reset_all`] or [`FaultProxy::reset_some`].
    pub reset: u64,
    pub stalls: u64,
}

/// One proxied connection: the two ends, kept to reset them.
struct Link {
    id: u64,
    client: TcpStream,
    upstream: TcpStream,
}

#[derive(Default)]
struct Shared {
    /// The worker's port; 0 while it is down (new connections are refused).
    upstream: AtomicU16,
    /// Forwarding is held until then.
    stalled_until: Mutex<Option<Instant>>,
    links: Mutex<Vec<Link>>,
    next_id: AtomicU64,
    stop: AtomicBool,
    connections: AtomicU64,
    refused: AtomicU64,
    reset: AtomicU64,
    stalls: AtomicU64,
}

impl Shared {
    fn stalled(&self) -> bool {
        let until = *self.stalled_until.lock().unwrap_or_else(PoisonError::into_inner);
        until.is_some_and(|t| Instant::now() < t)
    }

    fn forget(&self, id: u64) {
        self.links.lock().unwrap_or_else(PoisonError::into_inner).retain(|l| l.id != id);
    }
}

/// The proxy; stops its threads when dropped.
pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (0: refuse until
    /// [`FaultProxy::set_upstream`]).
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy's port");
        let port = listener.local_addr().expect("the proxy's address").port();
        let shared = Arc::new(Shared::default());
        shared.upstream.store(upstream, Ordering::SeqCst);
        let state = shared.clone();
        let acceptor = std::thread::spawn(move || accept(listener, state));
        Self { port, shared, acceptor: Some(acceptor) }
    }

    /// Forwards new connections to `port` (0: refuses them, as while the worker is down).
    pub fn set_upstream(&self, port: u16) {
        self.shared.upstream.store(port, Ordering::SeqCst);
    }

    /// Holds every byte in both directions for `duration` (then delivers them in order).
    pub fn stall(&self, duration: Duration) {
        *self.shared.stalled_until.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + duration);
        self.shared.stalls.fetch_add(1, Ordering::Relaxed);
    }

    /// Resets every live connection: bytes in flight are lost, both ends see it die.
    pub fn reset_all(&self) -> usize {
        self.reset_where(|_| true)
    }

    /// Resets the connections `pick` chooses (by their running number).
    pub fn reset_some(&self, pick: impl Fn(u64) -> bool) -> usize {
        self.reset_where(pick)
    }

    fn reset_where(&self, pick: impl Fn(u64) -> bool) -> usize {
        let mut links = self.shared.links.lock().unwrap_or_else(PoisonError::into_inner);
        let (gone, kept): (Vec<Link>, Vec<Link>) = links.drain(..).partition(|l| pick(l.id));
        *links = kept;
        for link in &gone {
            abort(&link.client);
            abort(&link.upstream);
        }
        self.shared.reset.fetch_add(gone.len() as u64, Ordering::Relaxed);
        gone.len()
    }

    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            connections: s.connections.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            reset: s.reset.load(Ordering::Relaxed),
            stalls: s.stalls.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.reset_all();
        // Wake the acceptor out of `accept`.
        let _ = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, self.port).into(), Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Ends a connection at once with a TCP reset (SO_LINGER 0): unsent bytes are discarded.
fn abort(stream: &TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: the descriptor is open (we hold the stream) and `linger` outlives the call.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let port = shared.upstream.load(Ordering::SeqCst);
        let upstream = (port != 0)
            .then(|| TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1)).ok())
            .flatten();
        let Some(upstream) = upstream else {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            abort(&client);
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (Ok(c2), Ok(u2), Ok(c3), Ok(u3)) =
            (client.try_clone(), upstream.try_clone(), client.try_clone(), upstream.try_clone())
        else {
            abort(&client);
            continue;
        };
        shared.links.lock().unwrap_or_else(PoisonError::into_inner).push(Link { id, client: c3, upstream: u3 });
        let (s1, s2) = (shared.clone(), shared.clone());
        std::thread::spawn(move || pump(id, client, u2, s1));
        std::thread::spawn(move || pump(id, upstream, c2, s2));
    }
}

/// Copies `from` into `to` until either ends, holding bytes while the proxy is stalled.
fn pump(id: u64, mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let _ = from.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                continue
            }
            Err(_) => break,
        };
        while shared.stalled() && !shared.stop.load(Ordering::SeqCst) {
            sleep(Duration::from_millis(10));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    // One direction ended: end the other too, as a dead connection does.
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    shared.forget(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(4).flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    fn round_trip(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(text)?;
        let mut got = vec![0u8; text.len()];
        stream.read_exact(&mut got)?;
        Ok(got)
    }

    #[test]
    fn forwards_stalls_resets_and_refuses() {
        let proxy = FaultProxy::start(echo_server());
        let mut a = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port)).expect("connect");
        a.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        assert_eq!(round_trip(&mut a, b"hello").expect("echo"), b"hello");

        // A stall delays, and loses nothing.
        proxy.stall(Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(round_trip(&mut a, b"later").expect("echo after the stall"), b"later");
        assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());

        // A reset ends the connection.
        assert_eq!(proxy.reset_all(), 1);
        assert!(round_trip(&mut a, b"gone").is_err(), "a reset connection carries nothing");

        // While the upstream is down, connections are refused.
        proxy.set_upstream(0);
        let mut b = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port)).expect("accepted, then reset");
        b.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        assert!(round_trip(&mut b, b"x").is_err());
        let stats = proxy.stats();
        assert_eq!((stats.connections, stats.refused, stats.reset, stats.stalls), (2, 1, 1, 1));
    }
}
