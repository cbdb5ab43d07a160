//! The binary's allocator: mimalloc, told to give freed memory back to the
//! system soon after a burst.
//!
//! mimalloc is the allocator because the schema core allocates many small
//! values: `cargo bench --bench schema` (export_binary) drops from 396 ms
//! to 223 ms. Left to itself, mimalloc v3 keeps freed pages for 1 s and
//! purges them only when the thread that freed them allocates again, so
//! ingress workers that go idle after a burst of large bodies kept what the
//! burst took: 636 MiB after 150 calls of 4 MiB (debug build) until the
//! next burst. [`init`] sets a 10 ms delay (mimalloc v2's default) and
//! [`on_idle`] lets a worker that goes idle purge what it freed: the same
//! burst is back to about 100 MiB.

use std::cell::Cell;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e` of
/// mimalloc v3's `mimalloc.h`; the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How often an idle worker asks mimalloc to purge: a purge walks the
/// thread's heap, so not at every park.
const COLLECT_EVERY: Duration = Duration::from_millis(500);

/// No transparent huge pages, from before the first allocation: every
/// command starts so. mimalloc asks for them on its whole arena
/// (`MADV_HUGEPAGE`), so every 2 MiB range it touches is zeroed and
/// resident whole: `realm export` of a one-verb realm took 35 MiB of RSS
/// with them and 20 MiB without, the 10,000-verb benchmark realm 118 and
/// 101 MiB, and zeroing huge pages was a third of its CPU time (`perf`).
/// Rust's runtime allocates before `main`, and the first allocation
/// touches mimalloc's arena, so this runs among the program's ELF
/// initializers, before the runtime starts (turned off when `export`
/// started, the two huge pages the runtime and argument parsing had
/// touched stayed: a one-verb export 21.5 -> 18.1 MiB, the benchmark realm
/// 55.4 -> 51.8 MiB). A long-running command asks for huge pages again
/// ([`huge_pages`]), unless whoever started realm had turned them off.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static SMALL_PAGES_FIRST: extern "C" fn() = {
    extern "C" fn first() {
        let zero: libc::c_ulong = 0;
        // SAFETY: PR_GET_THP_DISABLE takes integers (the kernel reads
        // unsigned longs, which must be zero) and reads a flag.
        let inherited =
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, zero, zero, zero, zero) } == 1;
        SMALL_PAGES_INHERITED.store(inherited, std::sync::atomic::Ordering::Relaxed);
        set_huge_pages(false);
    }
    first
};

/// Whether huge pages were already turned off for realm by what started it
/// (the flag is inherited): then [`huge_pages`] leaves them off.
#[cfg(target_os = "linux")]
static SMALL_PAGES_INHERITED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Called first thing in `main`.
pub fn init() {
    // SAFETY: setting an option is allowed at any time; mimalloc reads it
    // at its next purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) }
}

/// For tokio's `on_thread_park`: a worker about to sleep purges the pages
/// it freed (at most every [`COLLECT_EVERY`]).
pub fn on_idle() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let due = LAST.with(|last| match last.get() {
        Some(at) if now.duration_since(at) < COLLECT_EVERY => false,
        _ => {
            last.set(Some(now));
            true
        }
    });
    if due {
        // SAFETY: collects the calling thread's heap; no pointers involved.
        unsafe { libmimalloc_sys::mi_collect(false) }
    }
}

/// For the long-running servers (`realm serve`, `realm fake`): huge pages
/// again, for what they allocate from here on (see [`SMALL_PAGES_FIRST`]).
pub fn huge_pages() {
    #[cfg(target_os = "linux")]
    if !SMALL_PAGES_INHERITED.load(std::sync::atomic::Ordering::Relaxed) {
        set_huge_pages(true);
    }
}

/// Best effort: a kernel that refuses leaves the pages as they were.
#[cfg(target_os = "linux")]
fn set_huge_pages(allowed: bool) {
    let zero: libc::c_ulong = 0;
    // SAFETY: PR_SET_THP_DISABLE takes integers (unsigned longs, the last
    // three zero) and changes only whether later page faults of this
    // process may map huge pages.
    unsafe {
        libc::prctl(
            libc::PR_SET_THP_DISABLE,
            libc::c_ulong::from(!allowed),
            zero,
            zero,
            zero,
        );
    }
}
