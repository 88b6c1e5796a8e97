//! A one-line spinner on stderr for long log pulls. Shown only when both stdout and stderr
//! are terminals and the output is not JSON, so pipes, files and `--json` never see it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
/// Redraws at most this often: a fast pull must not spend its time painting.
const REDRAW: Duration = Duration::from_millis(100);

pub struct Progress {
    enabled: bool,
    frame: usize,
    drawn: Option<Instant>,
}

impl Progress {
    /// A spinner when an operator is watching a terminal, silence otherwise.
    pub fn for_terminal(json: bool) -> Self {
        Progress::new(!json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal())
    }

    pub fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            frame: 0,
            drawn: None,
        }
    }

    /// Shows `what` with the count of lines read so far.
    pub fn update(&mut self, what: &str, lines: u64) {
        if !self.enabled || self.drawn.is_some_and(|at| at.elapsed() < REDRAW) {
            return;
        }
        self.frame = (self.frame + 1) % FRAMES.len();
        let mut err = std::io::stderr().lock();
        // \r and "erase line": the spinner rewrites its own line and nothing else.
        let _ = write!(
            err,
            "\r\x1b[2K{} reading {what}: {lines} lines",
            FRAMES[self.frame]
        );
        let _ = err.flush();
        self.drawn = Some(Instant::now());
    }

    /// Clears the spinner's line before real output is printed.
    pub fn clear(&mut self) {
        if self.enabled && self.drawn.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
