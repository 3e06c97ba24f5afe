//! `with-wrangler -- CMD ARGS…`: runs CMD while the built worker serves under `wrangler dev`
//! on a free loopback port, with `ROOMSYNC_TEST_URL=ws://127.0.0.1:PORT` and
//! `ROOMSYNC_TEST_HTTP=http://127.0.0.1:PORT` (and the worker's `ROOMSYNC_TEST_SECRET`) in its
//! environment. Stops wrangler afterwards
//! (by process group) and exits with CMD's status. Used by the browser suites.

use roomsync_tests::WranglerDev;
use std::process::{exit, Command};

fn main() {
    let args: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: with-wrangler -- COMMAND [ARGS…]");
        exit(2);
    };
    let state = roomsync_tests::repo_root().join(".test-state").join(format!("with-wrangler-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let mut dev = WranglerDev::start(&state);
    eprintln!("with-wrangler: worker on {}", dev.http_url());
    let status = Command::new(program)
        .args(rest)
        .env("ROOMSYNC_TEST_URL", format!("ws://127.0.0.1:{}", dev.port))
        .env("ROOMSYNC_TEST_HTTP", dev.http_url())
        // The worker's token secret, for suites that mint tokens as an app's server would.
        .env("ROOMSYNC_TEST_SECRET", roomsync_tests::TEST_SECRET)
        .status();
    dev.stop();
    let _ = std::fs::remove_dir_all(&state);
    match status {
        Ok(status) => exit(status.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("with-wrangler: could not run {program}: {e}");
            exit(1);
        }
    }
}
