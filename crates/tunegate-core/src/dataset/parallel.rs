//! Ordered parallel processing of batches with bounded memory, on std scoped threads.
//!
//! The calling thread produces batches (reading input), worker threads process them, and the
//! calling thread consumes the results strictly in production order (writing output), so output
//! order never depends on the thread count. Memory is bounded by what is in flight: at most
//! `max_batches` batches, and no new batch while the batches in flight weigh `max_weight` or more
//! (one batch is always allowed, however heavy, so a single long line still goes through).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// How many workers and how much may be in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Worker threads; 1 runs everything on the calling thread.
    pub threads: usize,
    /// Most batches produced and not yet consumed.
    pub max_batches: usize,
    /// Most weight (bytes) produced and not yet consumed, checked before producing the next batch.
    pub max_weight: usize,
}

impl Bounds {
    /// `threads` workers, two batches in flight per worker, `max_weight` bytes in flight.
    pub fn new(threads: usize, max_weight: usize) -> Self {
        let threads = threads.max(1);
        Self {
            threads,
            max_batches: threads.saturating_mul(2),
            max_weight,
        }
    }
}

/// Runs `produce` until it returns `Ok(None)`, `work` on each batch (on a worker, with that
/// worker's state from `init`), and `consume` on each result in production order. `weight` is a
/// batch's size for the in-flight bound. The first error of `produce` or `consume` stops the run
/// and is returned (batches still in flight are discarded). A panic in `work` is re-raised here.
pub fn ordered<B, R, S, E>(
    bounds: Bounds,
    mut produce: impl FnMut() -> Result<Option<B>, E>,
    weight: impl Fn(&B) -> usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, B) -> R + Sync,
    mut consume: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    B: Send,
    R: Send,
{
    if bounds.threads <= 1 {
        let mut state = init();
        while let Some(batch) = produce()? {
            consume(work(&mut state, batch))?;
        }
        return Ok(());
    }
    let max_batches = bounds.max_batches.max(1);
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = mpsc::channel::<(u64, B)>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        type Done<R> = (u64, std::thread::Result<R>);
        let (done_tx, done_rx) = mpsc::channel::<Done<R>>();
        for _ in 0..bounds.threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let (init, work) = (&init, &work);
            scope.spawn(move || {
                let mut state = init();
                loop {
                    // The lock is held only while taking a job, never while working on one.
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, batch)) = job else {
                        return;
                    };
                    let r = catch_unwind(AssertUnwindSafe(|| work(&mut state, batch)));
                    let failed = r.is_err();
                    if done_tx.send((seq, r)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut weights: BTreeMap<u64, usize> = BTreeMap::new();
        let mut waiting: BTreeMap<u64, R> = BTreeMap::new();
        let (mut produced, mut consumed, mut in_weight) = (0u64, 0u64, 0usize);
        let mut exhausted = false;
        let result = loop {
            // Fill the pipeline up to the bounds.
            let mut failed = None;
            while !exhausted
                && produced - consumed < max_batches as u64
                && (produced == consumed || in_weight < bounds.max_weight)
            {
                match produce() {
                    Ok(Some(batch)) => {
                        let w = weight(&batch);
                        in_weight = in_weight.saturating_add(w);
                        weights.insert(produced, w);
                        if job_tx.send((produced, batch)).is_err() {
                            exhausted = true;
                        }
                        produced += 1;
                    }
                    Ok(None) => exhausted = true,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                break Err(e);
            }
            if produced == consumed {
                break Ok(());
            }
            let Ok((seq, r)) = done_rx.recv() else {
                // Every worker is gone with work outstanding: only a panic does that, and it
                // was sent first; nothing else can be done.
                break Ok(());
            };
            match r {
                Ok(r) => {
                    waiting.insert(seq, r);
                }
                Err(panic) => {
                    drop(job_tx);
                    resume_unwind(panic);
                }
            }
            while let Some(r) = waiting.remove(&consumed) {
                in_weight = in_weight.saturating_sub(weights.remove(&consumed).unwrap_or(0));
                consumed += 1;
                if let Err(e) = consume(r) {
                    failed = Some(e);
                    break;
                }
            }
            if let Some(e) = failed {
                break Err(e);
            }
        };
        // Closing the job queue lets the workers finish; the scope joins them.
        drop(job_tx);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Batches of numbers; workers square them after a pseudo-random delay.
    fn run(threads: usize, n: u64) -> (Vec<u64>, usize) {
        let alive = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let mut next = 0u64;
        let mut out = Vec::new();
        let bounds = Bounds {
            threads,
            max_batches: 3,
            max_weight: usize::MAX,
        };
        ordered::<_, _, _, ()>(
            bounds,
            || {
                if next == n {
                    return Ok(None);
                }
                let now = alive.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                next += 1;
                Ok(Some(next - 1))
            },
            |_| 1,
            || 0u64,
            |calls, x| {
                *calls += 1;
                std::thread::sleep(std::time::Duration::from_micros((x * 7919) % 500));
                x * x
            },
            |r| {
                alive.fetch_sub(1, Ordering::SeqCst);
                out.push(r);
                Ok(())
            },
        )
        .unwrap();
        (out, peak.load(Ordering::SeqCst))
    }

    #[test]
    fn order_is_kept_and_in_flight_is_bounded() {
        let want: Vec<u64> = (0..200).map(|x| x * x).collect();
        for threads in [1, 2, 4] {
            let (got, peak) = run(threads, 200);
            assert_eq!(got, want, "threads {threads}");
            assert!(peak <= 3, "threads {threads}: {peak} batches in flight");
            if threads > 1 {
                assert!(peak >= 2, "threads {threads}: never ran in parallel");
            }
        }
    }

    #[test]
    fn weight_bound_holds_but_one_heavy_batch_passes() {
        let alive = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let mut next = 0usize;
        let mut out = Vec::new();
        let weights = [1usize, 1, 100, 1, 1, 1, 100, 100, 1];
        ordered::<_, _, _, ()>(
            Bounds {
                threads: 2,
                max_batches: 8,
                max_weight: 3,
            },
            || {
                let Some(&w) = weights.get(next) else {
                    return Ok(None);
                };
                next += 1;
                let now = alive.fetch_add(w, Ordering::SeqCst) + w;
                peak.fetch_max(now, Ordering::SeqCst);
                Ok(Some(w))
            },
            |w| *w,
            || (),
            |(), w| w,
            |w| {
                alive.fetch_sub(w, Ordering::SeqCst);
                out.push(w);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out, weights);
        // Below the bound a batch may be added; a heavy one only when nothing else is in flight.
        assert!(peak.load(Ordering::SeqCst) <= 3 + 100, "{peak:?}");
    }

    #[test]
    fn first_error_stops_the_run() {
        for threads in [1, 3] {
            let mut next = 0u64;
            let mut seen = Vec::new();
            let r = ordered(
                Bounds::new(threads, usize::MAX),
                || {
                    next += 1;
                    if next > 50 {
                        return Err("read failed at 51");
                    }
                    Ok(Some(next))
                },
                |_| 1,
                || (),
                |(), x| x,
                |x| {
                    if x == 20 {
                        return Err("bad batch 20");
                    }
                    seen.push(x);
                    Ok(())
                },
            );
            assert_eq!(r, Err("bad batch 20"));
            assert_eq!(seen, (1..20).collect::<Vec<_>>());
            let mut next = 0u64;
            let r = ordered(
                Bounds::new(threads, usize::MAX),
                || {
                    next += 1;
                    if next > 5 {
                        return Err("read failed");
                    }
                    Ok(Some(next))
                },
                |_| 1,
                || (),
                |(), x| x,
                |_| Ok(()),
            );
            assert_eq!(r, Err("read failed"));
        }
    }

    #[test]
    fn a_worker_panic_reaches_the_caller() {
        let mut next = 0u64;
        let r = catch_unwind(AssertUnwindSafe(|| {
            ordered::<_, _, _, ()>(
                Bounds::new(2, usize::MAX),
                || {
                    next += 1;
                    Ok((next <= 10).then_some(next))
                },
                |_| 1,
                || (),
                |(), x| {
                    assert!(x != 4, "boom");
                    x
                },
                |_| Ok(()),
            )
        }));
        assert!(r.is_err());
    }
}
