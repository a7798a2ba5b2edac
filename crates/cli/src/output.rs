//! Printing and logging. A closed stdout (e.g. `waihu calls | head`) ends
//! the program quietly instead of panicking.

use std::io::Write;

pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let r = out.write_all(text.as_bytes()).and_then(|_| if text.ends_with('\n') { Ok(()) } else { out.write_all(b"\n") }).and_then(|_| out.flush());
    if let Err(e) = r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Prints without adding a newline (streamed output).
pub(crate) fn print_raw(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Logs go to stderr. `WAIHU_LOG` takes an env-filter (`debug`,
/// `waihu_server=debug`); client commands default to warnings only.
pub(crate) fn init_logging(quiet: bool) {
    // rsipstack logs every SIP message at INFO: too much for a call server's log.
    let default = if quiet { "warn" } else { "info,sqlx=warn,rsipstack=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WAIHU_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
