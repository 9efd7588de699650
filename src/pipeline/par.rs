//! Spreading work over the machine's cores: rayon's pool, so worker threads (and the buffers
//! they keep in thread-locals) live across calls instead of being started for each; results
//! come back in input order, so everything built from them is the same whatever the number of
//! threads.

use rayon::prelude::*;

/// Threads to use: the pool's (the cores this process may run on, or `RAYON_NUM_THREADS`).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// `f` over `0..n`, in parallel, results in order. Items are handed out one at a time (they may
/// be very uneven: one weight can be most of an engine).
pub fn map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if threads() <= 1 || n <= 1 {
        return (0..n).map(f).collect();
    }
    (0..n).into_par_iter().with_max_len(1).map(&f).collect()
}

/// `f(i, &mut items[i])` for every item, in parallel, handed out one at a time.
pub fn for_each_mut<T: Send>(items: &mut [T], f: impl Fn(usize, &mut T) + Sync) {
    if threads() <= 1 || items.len() <= 1 {
        items.iter_mut().enumerate().for_each(|(i, x)| f(i, x));
        return;
    }
    items
        .par_iter_mut()
        .enumerate()
        .with_max_len(1)
        .for_each(|(i, x)| f(i, x));
}

/// Runs `f` once on every worker thread of the pool (to release what they keep in
/// thread-locals once a stage is over).
pub fn on_every_thread(f: impl Fn() + Sync) {
    rayon::broadcast(|_| f());
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_back_in_order() {
        let v = super::map(1000, |i| i * 3);
        assert_eq!(v, (0..1000).map(|i| i * 3).collect::<Vec<_>>());
        assert!(super::map(0, |i| i).is_empty());
    }
}
