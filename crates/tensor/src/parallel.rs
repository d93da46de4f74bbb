//! When work is split across rayon's threads, and in what pieces: one policy
//! for the whole engine (and the layers above it, such as Adam's update), so
//! that no result depends on how many threads there are.

use std::sync::atomic::{AtomicBool, Ordering};

/// Below this many elements, work stays on the calling thread: handing it to
/// rayon would cost more than it saves.
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Elements per parallel chunk of elementwise work. Fixed (not derived from
/// the thread count) so that results never depend on how work was split.
pub const CHUNK: usize = 1 << 13;

/// Pauses between two looks for work of an otherwise idle thread in
/// [`with_idle_threads_polling`]: a look steals from the other threads'
/// queues, and looking without a pause would keep their cache lines busy.
const PAUSES_BETWEEN_LOOKS: usize = 16;

/// Runs `f` while the pool's other threads, whenever they run out of work,
/// keep looking for more instead of going to sleep.
///
/// Rayon puts a thread that has found no work for a few dozen rounds (tens
/// of microseconds) to sleep, and wakes it with a system call when new work
/// arrives. A training step hands rayon a hundred or so pieces of work
/// with short serial stretches between them, so the other thread falls
/// asleep between nearly all of them: at 2 threads, W2's step woke it about
/// a hundred times (`perf record -e sched:sched_waking`), and each wake-up
/// cost the waking thread time (`perf`: 2% of its samples inside
/// `futex_wake`, on a virtual machine where a wake-up is an interrupt to
/// another virtual CPU) and the woken one more before it could start.
/// Here each other thread runs one job that looks for work in a loop, with
/// a few `pause` instructions between looks, until `f` returns; that is
/// what OpenMP runtimes do by default (they spin for a while before
/// sleeping). The price: those threads use their cores fully while `f`
/// runs, even in its serial stretches.
///
/// Only a caller that is itself one of the pool's threads gets this (as
/// `gan-mnist` runs its steps); from any other thread, or in a pool of one
/// thread, `f` just runs. Nothing `f` computes changes: which thread runs a
/// piece of work never changes its result (see the constants above).
///
/// ```
/// let sum: f64 = tensor::parallel::with_idle_threads_polling(|| (0..1000).map(f64::from).sum());
/// assert_eq!(sum, 499_500.0);
/// ```
pub fn with_idle_threads_polling<R>(f: impl FnOnce() -> R) -> R {
    let Some(caller) = rayon::current_thread_index() else {
        return f();
    };
    if rayon::current_num_threads() < 2 {
        return f();
    }
    let stop = AtomicBool::new(false);
    rayon::in_place_scope(|scope| {
        scope.spawn_broadcast(|_, thread| {
            if thread.index() == caller {
                return;
            }
            while !stop.load(Ordering::Acquire) {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    (0..PAUSES_BETWEEN_LOOKS).for_each(|_| std::hint::spin_loop());
                }
            }
        });
        // Stops the lookers however `f` ends, a panic included (the scope
        // waits for them before it passes the panic on).
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let _stop = StopOnDrop(&stop);
        f()
    })
}
