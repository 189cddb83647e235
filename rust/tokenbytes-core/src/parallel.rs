//! The thread pool owned by tokenbytes for batch calls.
//!
//! Pools are built lazily, one per thread count, and remembered together with
//! the id of the process that built them. After `fork()` the child has none of
//! the parent's worker threads, so a pool inherited that way would wait
//! forever; a child therefore builds fresh pools (the inherited ones are
//! leaked on purpose: dropping them would signal threads that do not exist).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::ThreadPool;

use crate::error::{Error, Result};

struct Pools {
    pid: u32,
    by_threads: HashMap<usize, Arc<ThreadPool>>,
}

static POOLS: Mutex<Option<Pools>> = Mutex::new(None);

/// Number of threads used when the caller does not say: the machine's
/// available parallelism (at least 1).
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A pool with `threads` workers (clamped to 1..=256), built on first use in
/// this process.
///
/// # Errors
/// [`Error::InvalidArgument`] if the operating system refuses the threads.
pub fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    let threads = threads.clamp(1, 256);
    let pid = std::process::id();
    let mut guard = POOLS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if guard.as_ref().is_some_and(|p| p.pid != pid) {
        if let Some(old) = guard.take() {
            std::mem::forget(old.by_threads);
        }
    }
    let pools = guard.get_or_insert_with(|| Pools {
        pid,
        by_threads: HashMap::new(),
    });
    if let Some(p) = pools.by_threads.get(&threads) {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("tokenbytes-{i}"))
            .build()
            .map_err(|e| Error::InvalidArgument(format!("cannot start {threads} threads: {e}")))?,
    );
    pools.by_threads.insert(threads, Arc::clone(&p));
    Ok(p)
}

/// Map `f` over `items` on `threads` workers, preserving order. With one
/// thread or one item, runs on the calling thread.
///
/// # Errors
/// The first error `f` returns, or a pool start failure.
pub fn map<T: Sync, U: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<U> + Sync + Send,
) -> Result<Vec<U>> {
    use rayon::prelude::*;
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(f).collect();
    }
    let p = pool(threads)?;
    p.install(|| items.par_iter().map(f).collect())
}
