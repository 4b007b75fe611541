//! SIGINT (Ctrl-C), SIGTERM (`timeout`, `docker stop`, SLURM) and SIGHUP
//! take one path: the first asks the run to stop (no new stages; running
//! commands get SIGTERM, then SIGKILL after a grace period; nothing partial
//! is kept), a second one exits at once, and the commands still running
//! are then stopped by their supervisors (see `pipe_engine::cmd`). The exit
//! code is 128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

static CANCEL: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// The first signal received; 0 while none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Installs the handlers; returns the flag they set.
pub fn install() -> Arc<AtomicBool> {
    let flag = Arc::clone(CANCEL.get_or_init(|| Arc::new(AtomicBool::new(false))));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs an async-signal-safe handler (atomics and _exit only).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
    flag
}

extern "C" fn on_signal(sig: libc::c_int) {
    if RECEIVED.swap(sig, Ordering::SeqCst) != 0 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
    if let Some(flag) = CANCEL.get() {
        flag.store(true, Ordering::SeqCst);
    }
}

/// The exit code for a run stopped by a signal: 128 + its number.
pub fn exit_code() -> u8 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => 130,
        sig => u8::try_from(128 + sig).unwrap_or(130),
    }
}
