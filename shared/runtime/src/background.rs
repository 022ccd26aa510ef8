//! Work that can wait, on threads that run only when the CPU would otherwise idle.
//!
//! `aetherveil serve` answers webhook deliveries and API calls on its main runtime. The work they
//! cause (applying the ingest log, the functions reacting to events) runs on a [`Background`]
//! runtime whose threads have Linux's `SCHED_IDLE` policy: the scheduler gives them a CPU only
//! when no ordinary thread wants it. A burst is acknowledged at full speed and worked off after;
//! with spare CPU, background work runs at full speed, so nothing is throttled that need not be.

use std::sync::Once;
use std::time::Duration;
use tokio::runtime::{Builder, Handle, Runtime};

/// Blocking threads (store reads, the applier's log reads) of the background runtime.
const BLOCKING_THREADS: usize = 2;

/// A runtime for background work; dropping it stops its threads (without waiting for the tasks,
/// so it may be dropped anywhere, an async context included).
pub struct Background {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Background {
    /// Starts the runtime with `workers` threads (its blocking threads also run at idle priority).
    pub fn start(workers: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            // Background reads are few at a time; each thread kept costs resident memory.
            .max_blocking_threads(BLOCKING_THREADS)
            .thread_keep_alive(Duration::from_millis(500))
            .thread_name("background")
            .on_thread_start(idle_priority)
            .enable_all()
            .build()?;
        Ok(Self { handle: runtime.handle().clone(), runtime: Some(runtime) })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Puts the calling thread under `SCHED_IDLE`. Where that is refused (or not Linux), the thread
/// keeps its priority and a warning says so once.
pub fn idle_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    static WARNED: Once = Once::new();
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, policy) {
        WARNED.call_once(|| {
            tracing::warn!(error = ?e, "cannot lower the priority of background threads; they compete with requests");
        });
    }
}
