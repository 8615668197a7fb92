//! Files are processed by a few plain threads, each taking the next file from a shared
//! counter. Plain threads, not a rayon pool: polars runs its own rayon pool, and a rayon
//! worker that waits for polars steals more work from its own pool meanwhile, so one thread
//! could end up with many files open at once and memory would grow with the input.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many files are in flight at once.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// `f` applied to every item by at most `workers` threads; results in the items' order.
pub fn map<I: Sync, T: Send>(items: &[I], workers: usize, f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| r.expect("every item was processed"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_visits_each_item_once() {
        let items: Vec<u32> = (0..100).collect();
        assert_eq!(
            super::map(&items, 3, |x| x * 2),
            (0..100).map(|x| x * 2).collect::<Vec<_>>()
        );
        assert!(super::map(&Vec::<u32>::new(), 2, |x| *x).is_empty());
    }
}
