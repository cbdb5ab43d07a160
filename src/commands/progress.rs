//! Progress on stderr (indicatif), shown only when stderr is a terminal:
//! fetch progress bars, one per realm, and a spinner naming the step of a
//! longer task.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use realm::pins::Transfer;

pub struct Bars {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// Bars on stderr if it is a terminal; otherwise nothing is drawn.
    pub fn for_stderr() -> Bars {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Bars {
            multi,
            bars: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.multi.is_some()
    }

    pub fn update(&self, realm: &str, t: Transfer) {
        let Some(multi) = &self.multi else { return };
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let bar = bars.entry(realm.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(t.total as u64));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} objects, {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(realm.to_string());
            bar
        });
        bar.set_length(t.total as u64);
        bar.set_position(t.received as u64);
        bar.set_message(indicatif::HumanBytes(t.bytes as u64).to_string());
    }

    /// Removes the bars.
    pub fn finish(&self) {
        if let Ok(bars) = self.bars.lock() {
            for bar in bars.values() {
                bar.finish_and_clear();
            }
        }
    }
}

/// A spinner with the current step, on stderr if it is a terminal.
pub struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    /// `what` leads every step's text: `importing http://host:50051: listing services`.
    pub fn for_stderr(what: &str) -> Spinner {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(what.to_string());
            bar.set_message("starting");
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar
        });
        Spinner { bar }
    }

    /// Shows `step`.
    pub fn step(&self, step: impl std::fmt::Display) {
        if let Some(bar) = &self.bar {
            bar.set_message(step.to_string());
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
