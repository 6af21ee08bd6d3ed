//! Small pieces shared by the table-printing benches: quick mode, timing, medians,
//! memory.

use std::time::{Duration, Instant};

use resile_policy::{Clock, SystemClock};

/// Whether the bench was started in quick mode: run every case once, tiny, to
/// prove it works; numbers mean nothing. As with criterion, that is `--test`
/// (`cargo bench -- --test`, as CI does) or a run without `--bench` (`cargo test
/// --benches`); `cargo bench` passes `--bench`.
pub fn quick_mode() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench")
}

/// Whether the bench was asked to only list its cases (`--list`): prints nothing
/// and runs nothing, as criterion does for a harness without named cases.
pub fn list_mode() -> bool {
    std::env::args().skip(1).any(|a| a == "--list")
}

/// Now, from the real clock (benches measure real time).
pub fn now() -> Instant {
    SystemClock.now()
}

/// How long `f` took.
pub fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = now();
    let out = f();
    (out, start.elapsed())
}

/// The median of `xs` (the upper one of an even count); zero when empty.
pub fn median(xs: &mut [Duration]) -> Duration {
    if xs.is_empty() {
        return Duration::ZERO;
    }
    xs.sort_unstable();
    xs[xs.len() / 2]
}

/// The median of `xs` (the upper one of an even count); `NaN` when empty.
pub fn median_f64(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_unstable_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Nanoseconds per item, `total / count`.
pub fn per_item_ns(total: Duration, count: u64) -> f64 {
    total.as_nanos() as f64 / count.max(1) as f64
}

/// Runs `op` `iters` times on each of `threads` threads started together, and
/// returns the slowest thread's time: with criterion's `iter_custom`, the time per
/// operation as each contending thread sees it.
pub fn contended(threads: usize, iters: u64, op: impl Fn() + Sync) -> Duration {
    let start = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let t = now();
                    for _ in 0..iters {
                        op();
                    }
                    t.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Duration::MAX))
            .max()
            .unwrap_or(Duration::ZERO)
    })
}

/// The resident set size of this process in bytes, from `/proc/self/statm`
/// (`None` where there is no procfs). Assumes 4 KiB pages.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU time this thread has run so far, in nanoseconds, from
/// `/proc/thread-self/schedstat` (`None` where there is no procfs).
pub fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// `bytes` in MiB, for tables.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(&mut [ms(4), ms(1), ms(3), ms(2)]), ms(3));
        assert_eq!(median(&mut []), Duration::ZERO);
        assert!((median_f64(&mut [1.5, 0.5, 1.0]) - 1.0).abs() < f64::EPSILON);
        assert!(median_f64(&mut []).is_nan());
        assert!((per_item_ns(Duration::from_micros(3), 3) - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn contended_runs_every_operation_on_every_thread() {
        let count = std::sync::atomic::AtomicU64::new(0);
        let _ = contended(2, 1000, || {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(count.into_inner(), 2000);
    }

    #[test]
    fn rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes().is_some_and(|b| b > 0));
            assert!(thread_cpu_ns().is_some());
        }
    }
}
