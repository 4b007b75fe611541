//! The supervisor a `cmd` stage's command runs under, so that the command
//! never outlives its `pipe` and its work directory is never written by two
//! live runs.
//!
//! `pipe` starts it with `posix_spawn` (through [`command`]): the `pipe`
//! binary itself, re-executed with the hidden first argument [`ARG`],
//! leading a new process group. [`main_if_asked`], called first thing in
//! `main`, turns that process into the supervisor before anything else runs
//! (no threads, no allocations beyond the arguments). Forking the large,
//! multi-threaded `pipe` for every command instead (as this did before)
//! cost about 2 ms of CPU per command in page-table copies and
//! copy-on-write faults on both sides: 2.5x the first run of 2,013 short
//! commands.
//!
//! The supervisor holds a shared `flock` on the command's `work/<key>/`
//! (a later `pipe` waits until it is free) and nothing else of `pipe`'s,
//! forks the command, and exits with its status. When the `pipe` thread
//! that started it dies (kill -9, the OOM killer, a second Ctrl-C) the
//! kernel signals it (`PR_SET_PDEATHSIG`) and it stops the group: SIGTERM,
//! then SIGKILL after [`GRACE`].

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The hidden first argument that makes `pipe` a supervisor:
/// `pipe __supervise <work dir> <pipe's pid> <program> <args>...`.
pub const ARG: &str = "__supervise";

/// How long a command may take to end after SIGTERM before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// The pid of the supervised command, in the supervisor process.
static SUPERVISED: AtomicI32 = AtomicI32::new(0);

/// A command that runs `program args` under a supervisor holding `work`,
/// as the leader of a new process group. The caller adds the directory,
/// environment and stdio, which the command inherits. Nothing is run in a
/// forked copy of `pipe`, so `std` starts it with `posix_spawn`.
pub fn command(work: &Path, program: &str, args: &[&str]) -> Command {
    // The running executable, even if its file was replaced since.
    let mut command = Command::new("/proc/self/exe");
    command
        .arg(ARG)
        .arg(work)
        .arg(std::process::id().to_string())
        .arg(program)
        .args(args)
        .process_group(0);
    command
}

/// If this process was started as a supervisor ([`ARG`]), supervises and
/// exits with the command's status; otherwise returns at once.
pub fn main_if_asked() {
    let mut args = std::env::args_os();
    if args.nth(1).is_none_or(|a| a != ARG) {
        return;
    }
    let args: Vec<OsString> = args.collect();
    let parent = args
        .get(1)
        .and_then(|p| p.to_str())
        .and_then(|p| p.parse::<libc::pid_t>().ok());
    let (Some(parent), true) = (parent, args.len() >= 3) else {
        eprintln!("pipe: `{ARG}` is internal: {ARG} WORK_DIR PID PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    let cstrings: Option<Vec<CString>> = args
        .into_iter()
        .map(|a| CString::new(a.into_vec()).ok())
        .collect();
    let Some(cstrings) = cstrings else {
        eprintln!("pipe: `{ARG}`: an argument holds a NUL byte");
        std::process::exit(2);
    };
    let work = &cstrings[0];
    let argv: Vec<*const libc::c_char> = cstrings[2..]
        .iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: the strings outlive the call, which never returns.
    unsafe { supervise(work, parent, &argv) }
}

/// The supervisor: holds `work`, runs `argv` in a child, mirrors its end.
/// This process is single-threaded (it is `main`, before anything else).
unsafe fn supervise(work: &CString, parent: libc::pid_t, argv: &[*const libc::c_char]) -> ! {
    // SAFETY (whole body): plain syscalls on this process's own state.
    unsafe {
        let held = libc::open(
            work.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if held >= 0 {
            libc::flock(held, libc::LOCK_SH | libc::LOCK_NB);
        }
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        // The group's SIGTERM is for the command; this one ends with it.
        libc::sigaction(libc::SIGTERM, &ignore, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &ignore, std::ptr::null_mut());
        // Blocked until the command's pid is known to the handler.
        let mut usr1: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut usr1);
        libc::sigaddset(&mut usr1, libc::SIGUSR1);
        libc::sigprocmask(libc::SIG_BLOCK, &usr1, std::ptr::null_mut());
        let mut on_death: libc::sigaction = std::mem::zeroed();
        on_death.sa_sigaction = parent_died as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigaction(libc::SIGUSR1, &on_death, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGUSR1);
        if libc::getppid() != parent {
            // pipe died before the command started: nothing to stop.
            libc::_exit(137);
        }
        let child = libc::fork();
        if child < 0 {
            libc::_exit(127);
        }
        if child == 0 {
            // The command: signals as pipe would have left them.
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGTERM, &default, std::ptr::null_mut());
            libc::sigaction(libc::SIGINT, &default, std::ptr::null_mut());
            // Rust's runtime ignores SIGPIPE; `yes | head` needs it back.
            libc::sigaction(libc::SIGPIPE, &default, std::ptr::null_mut());
            libc::sigprocmask(libc::SIG_UNBLOCK, &usr1, std::ptr::null_mut());
            if held >= 0 {
                libc::close(held);
            }
            libc::execvp(argv[0], argv.as_ptr());
            libc::_exit(127);
        }
        SUPERVISED.store(child, Ordering::SeqCst);
        // Nothing of pipe's: the command's output must reach EOF when the
        // command ends. Only the work dir.
        close_all_but(held);
        libc::sigprocmask(libc::SIG_UNBLOCK, &usr1, std::ptr::null_mut());
        let mut status = 0;
        while libc::waitpid(child, &mut status, 0) < 0 {
            if *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &default, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// Closes every descriptor except `keep` (-1: none).
unsafe fn close_all_but(keep: libc::c_int) {
    let close_range = |from: libc::c_uint, to: libc::c_uint| {
        // SAFETY: closes descriptors of this process only.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                libc::c_long::from(from),
                libc::c_long::from(to),
                libc::c_long::from(0u8),
            )
        };
        if rc != 0 {
            // Kernels before 5.9: one by one, up to a generous bound.
            for fd in from..to.min(65_536) {
                // SAFETY: as above.
                unsafe { libc::close(fd as libc::c_int) };
            }
        }
    };
    if keep > 0 {
        close_range(0, keep as libc::c_uint - 1);
    }
    close_range((keep + 1) as libc::c_uint, libc::c_uint::MAX);
}

/// The supervisor's PDEATHSIG handler: stop the command's group.
extern "C" fn parent_died(_: libc::c_int) {
    let child = SUPERVISED.load(Ordering::SeqCst);
    // SAFETY: async-signal-safe syscalls on this process's own group.
    unsafe {
        libc::kill(0, libc::SIGTERM);
        let step = libc::timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        let steps = GRACE.as_millis() / 20;
        for _ in 0..steps {
            let mut status = 0;
            if libc::waitpid(child, &mut status, libc::WNOHANG) != 0 {
                break;
            }
            libc::nanosleep(&step, std::ptr::null_mut());
        }
        // The whole group, this process included.
        libc::kill(0, libc::SIGKILL);
        libc::_exit(137);
    }
}
