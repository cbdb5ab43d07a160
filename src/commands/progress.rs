//! Fetch progress bars on stderr (indicatif), one per realm, shown only
//! when stderr is a terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use realm::git::Transfer;

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
