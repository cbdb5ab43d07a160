//! The one way commands write to stdout and stderr.
//!
//! `println!` and `eprintln!` panic when a write fails, so a reader that
//! goes away (`realm list | head -0`) or a closed stderr turned a finished
//! command into a panic (exit 101), or into "error: Broken pipe". Here:
//!
//! - stdout ([`out!`], [`outln!`], [`write_stdout`]): a reader that went
//!   away (a broken pipe) is no error: nothing more is written and the
//!   command ends as it would have (its exit code is its verdict, as with
//!   cargo and ripgrep, quietly); any other failure (a full disk) is an
//!   error the command returns;
//! - stderr ([`err!`], [`errln!`]): messages for a person; when they
//!   cannot be written there is nowhere to say so, and the command goes
//!   on;
//! - text another program sent (`realm call`'s reply, `realm status`):
//!   [`remote_for_stdout`] and [`remote_for_stderr`] write its control
//!   characters out as escapes when the stream is a terminal, where an ESC
//!   or OSC sequence would act on the terminal (move the cursor, set the
//!   title, write to the clipboard) instead of being shown.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader is gone: later writes are skipped.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes to stdout; a broken pipe is `Ok` (see the module).
pub fn stdout(args: fmt::Arguments) -> io::Result<()> {
    write_with(|out| out.write_fmt(args))
}

/// Writes bytes to stdout, as [`stdout`].
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    write_with(|out| out.write_all(bytes))
}

fn write_with(write: impl FnOnce(&mut io::StdoutLock) -> io::Result<()>) -> io::Result<()> {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot write to stdout: {e}"),
        )),
        Ok(()) => Ok(()),
    }
}

/// Writes to stderr; failures are ignored (see the module).
pub fn stderr(args: fmt::Arguments) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Text from elsewhere, as it may be written to stdout: escaped on a
/// terminal ([`printable`]), as it is otherwise (a pipe gets the bytes).
pub fn remote_for_stdout(text: &str) -> Cow<'_, str> {
    printable(text, io::stdout().is_terminal())
}

/// As [`remote_for_stdout`], for stderr.
pub fn remote_for_stderr(text: &str) -> Cow<'_, str> {
    printable(text, io::stderr().is_terminal())
}

/// `text` with every control character but line breaks and tabs (C0,
/// DEL, C1 such as CSI and OSC) and every bidirectional control written as
/// an escape (`\u{1b}`), when `terminal`.
pub fn printable(text: &str, terminal: bool) -> Cow<'_, str> {
    let refused = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !terminal || !text.chars().any(refused) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if refused(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `print!` to stdout: `io::Result<()>`, `Ok` when the reader is gone.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::output::stdout(format_args!($($arg)*))
    };
}

/// `println!` to stdout: `io::Result<()>`, `Ok` when the reader is gone.
macro_rules! outln {
    () => {
        $crate::commands::output::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::commands::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics.
#[allow(unused_macros)]
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::commands::output::stderr(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    () => {
        $crate::commands::output::stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::commands::output::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_for_a_terminal_only() {
        let hostile = "ok\u{1b}]52;c;cHduZWQ=\u{7}\u{9b}2J\u{202e}x\n\tend";
        assert_eq!(
            printable(hostile, true),
            "ok\\u{1b}]52;c;cHduZWQ=\\u{7}\\u{9b}2J\\u{202e}x\n\tend"
        );
        assert_eq!(printable(hostile, false), hostile);
        assert!(matches!(printable("plain\n", true), Cow::Borrowed(_)));
    }
}
