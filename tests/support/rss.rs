//! The peak memory of a snatch process a test ran: its own and that of the
//! children it waited for (ffmpeg, ffprobe), from Linux's `wait4`. A
//! spawned child's peak starts from its parent's: tests that read it run
//! alone in `tests/timing/`.

/// The peak resident memory (KiB) of `child` and its reaped children, and
/// its exit status, once it ended (Linux's `wait4`).
#[cfg(target_os = "linux")]
pub fn peak_rss_kib(mut child: std::process::Child) -> (i32, u64, String) {
    let mut stderr = child.stderr.take().unwrap();
    let reading = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; both pointers are
    // to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    (status, usage.ru_maxrss as u64, reading.join().unwrap())
}
