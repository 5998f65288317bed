//! A progress bar on standard error for long runs (`mlc reconcile` over a month): items done
//! of the total, the rate and the time left. Drawn only when standard error is a terminal, so
//! a script's or a log's standard error stays as it was; standard output is never touched.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::progress::{Progress, Silent};

/// How often the bar is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);

/// Cells of the bar itself.
const WIDTH: usize = 24;

/// A bar of `what` (`orders`) on standard error when it is a terminal; otherwise nothing.
pub fn on_terminal(what: &'static str) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bar::new(what))
    } else {
        Box::new(Silent)
    }
}

/// The bar: redrawn in place, cleared when dropped.
pub struct Bar {
    what: &'static str,
    started: Instant,
    last: Mutex<Option<Instant>>,
}

impl Bar {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            started: Instant::now(),
            last: Mutex::new(None),
        }
    }
}

impl Progress for Bar {
    fn advanced(&self, done: usize, total: usize) {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if done < total && last.is_some_and(|at| now - at < REDRAW) {
            return;
        }
        *last = Some(now);
        let line = render(self.what, done, total, now - self.started);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        // The report follows on standard output: leave no half line behind on the terminal.
        if self.last.get_mut().map(|l| l.is_some()).unwrap_or(true) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// One line of the bar: `[#########...........] 120/500 orders  12.3/s  about 31 s left`.
pub fn render(what: &str, done: usize, total: usize, elapsed: Duration) -> String {
    let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
    let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let left = if rate > 0.0 && done < total {
        let s = ((total - done) as f64 / rate).ceil() as u64;
        format!("  about {} left", duration_text(s))
    } else {
        String::new()
    };
    format!("[{bar}] {done}/{total} {what}  {rate:.1}/s{left}")
}

/// Seconds for people: `31 s`, `4 min 10 s`, `1 h 5 min`.
fn duration_text(s: u64) -> String {
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_done_of_total_the_rate_and_the_time_left() {
        let line = render("orders", 120, 480, Duration::from_secs(10));
        assert_eq!(
            line,
            "[######..................] 120/480 orders  12.0/s  about 30 s left"
        );
        let done = render("orders", 480, 480, Duration::from_secs(40));
        assert!(done.starts_with("[########################] 480/480 orders  12.0/s"));
        assert!(!done.contains("left"), "{done}");
        assert!(
            render("orders", 0, 0, Duration::ZERO).starts_with("[........................] 0/0")
        );
    }

    #[test]
    fn long_waits_read_in_minutes_and_hours() {
        assert_eq!(duration_text(250), "4 min 10 s");
        assert_eq!(duration_text(3900), "1 h 5 min");
    }
}
