//! Planning ahead: a pool of workers that runs the scenario executions of
//! the current run and, on otherwise idle workers, those the programme will
//! most likely execute next.
//!
//! A year is a chain: run `r + 1`'s selection depends on run `r`'s outcomes,
//! so the runs cannot simply be spread over cores. But an execution is a
//! pure function of its [`Execution`] (and of the stack and catalogue): the
//! driver guesses run `r + 1`'s execution by replaying its own logic on a
//! copy of the state with *predicted* outcomes (see
//! [`run_programme`](super::run_programme)), and hands the guess to
//! [`Executor::speculate`]. When run `r + 1` comes, every unit of work whose
//! inputs equal the guess's is taken from the pool; the others are dropped
//! and run afresh. A wrong guess costs only time; the outputs are those of a
//! plain sequential run, byte for byte, whatever the thread count.
//!
//! **Units.** A sequential execution's items are independent (item `i` runs
//! on its own stack under `seed/run/r/item/i`, see
//! [`Runner::execute_item`]): each is one unit, keyed by the execution's
//! seed, run, start, deployed set, the item and its index, so a guess that
//! got one item wrong still saves the others. A concurrent execution (Mixed
//! slots) is one unit keyed by the whole execution.
//!
//! **Priority.** Work the driver is waiting for always goes first; guesses
//! run only on workers that would otherwise idle, oldest guess first.
//!
//! **Memory.** At most the units of the current run and of the guesses the
//! driver made since (a few runs' worth): guesses older than the run being
//! executed are discarded.

use std::sync::{Condvar, Mutex};

use crate::engine::SimTime;
use crate::error::{Error, Result};
use crate::safeguard::SafeguardSet;
use crate::scenario::run::Runner;
use crate::scenario::{Execution, Executor, Item, Outcome};

/// What one unit of work depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UnitKey {
    seed: u64,
    run: u64,
    start: SimTime,
    deployed: SafeguardSet,
    concurrent: bool,
    /// The item's index (0 for a concurrent unit).
    index: usize,
    /// The item (sequential) or all items (concurrent).
    items: Vec<Item>,
}

impl UnitKey {
    fn units(exec: &Execution) -> Vec<UnitKey> {
        let key = |index: usize, items: Vec<Item>| UnitKey {
            seed: exec.seed,
            run: exec.run,
            start: exec.start,
            deployed: exec.deployed,
            concurrent: exec.concurrent,
            index,
            items,
        };
        if exec.concurrent {
            vec![key(0, exec.items.clone())]
        } else {
            (0..exec.items.len())
                .map(|i| key(i, vec![exec.items[i].clone()]))
                .collect()
        }
    }

    /// The execution this unit runs (for a sequential unit: the original
    /// execution's seed, run, start and deployed set, with the item at its
    /// index; the other items are never looked at).
    fn execution(&self) -> Execution {
        Execution {
            seed: self.seed,
            run: self.run,
            start: self.start,
            concurrent: self.concurrent,
            items: self.items.clone(),
            deployed: self.deployed,
        }
    }
}

enum Status {
    Queued,
    Running,
    Done(Result<Vec<Outcome>>),
}

struct Job {
    key: UnitKey,
    /// The driver waits for it (else: a guess).
    wanted: bool,
    /// Submission order, for the order of guesses.
    seq: u64,
    status: Status,
}

#[derive(Default)]
struct Pool {
    jobs: Vec<Job>,
    seq: u64,
    shutdown: bool,
    stats: SpeculationStats,
}

/// How well the guesses did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpeculationStats {
    /// Units the driver waited for.
    pub wanted: u64,
    /// Of those, units a guess had already started or finished.
    pub guessed_right: u64,
    /// Guesses dropped (never wanted), started or not.
    pub dropped: u64,
    /// Of those, guesses that had started (wasted work).
    pub dropped_started: u64,
}

/// An [`Executor`] with a pool of workers that also runs guesses (see the
/// module docs). Build it with [`with_speculation`].
pub struct Speculator<'r> {
    runner: &'r Runner<'r>,
    pool: Mutex<Pool>,
    /// Signalled when a job is queued, finishes or the pool shuts down.
    changed: Condvar,
}

/// Run `f` with a [`Speculator`] of `workers` threads over `runner` (which
/// should itself be single-threaded: the pool is the parallelism). The
/// workers stop when `f` returns.
pub fn with_speculation<T>(
    runner: &Runner<'_>,
    workers: usize,
    f: impl FnOnce(&Speculator<'_>) -> T,
) -> T {
    let spec = Speculator {
        runner,
        pool: Mutex::new(Pool::default()),
        changed: Condvar::new(),
    };
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| spec.work());
        }
        let out = f(&spec);
        spec.pool.lock().expect("pool").shutdown = true;
        spec.changed.notify_all();
        out
    })
}

impl Speculator<'_> {
    /// How the guesses did so far.
    pub fn stats(&self) -> SpeculationStats {
        self.pool.lock().expect("pool").stats
    }

    fn run_unit(&self, key: &UnitKey) -> Result<Vec<Outcome>> {
        let exec = key.execution();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if key.concurrent {
                self.runner.execute_together(&exec)
            } else {
                // The unit's execution holds only its item, at index 0;
                // restore the index the item had in the real execution.
                let mut padded = exec.clone();
                padded.items = vec![key.items[0].clone(); key.index + 1];
                self.runner
                    .execute_item(&padded, key.index)
                    .map(|o| vec![o])
            }
        }));
        result.unwrap_or_else(|_| {
            Err(Error::Check(format!(
                "a scenario panicked in run {} ({})",
                key.run,
                key.items
                    .iter()
                    .map(|i| i.scenario.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        })
    }

    /// A worker: take the most urgent queued job, run it, store the result.
    fn work(&self) {
        let mut pool = self.pool.lock().expect("pool");
        loop {
            if pool.shutdown {
                return;
            }
            let next = pool
                .jobs
                .iter()
                .enumerate()
                .filter(|(_, j)| matches!(j.status, Status::Queued))
                .min_by_key(|(_, j)| (!j.wanted, j.seq))
                .map(|(i, _)| i);
            let Some(i) = next else {
                pool = self.changed.wait(pool).expect("pool");
                continue;
            };
            pool.jobs[i].status = Status::Running;
            let key = pool.jobs[i].key.clone();
            let seq = pool.jobs[i].seq;
            drop(pool);
            let result = self.run_unit(&key);
            pool = self.pool.lock().expect("pool");
            // The job may have been dropped (a wrong guess) meanwhile.
            if let Some(j) = pool.jobs.iter_mut().find(|j| j.seq == seq) {
                j.status = Status::Done(result);
            }
            self.changed.notify_all();
        }
    }

    fn submit(pool: &mut Pool, key: UnitKey, wanted: bool) {
        if let Some(j) = pool.jobs.iter_mut().find(|j| j.key == key) {
            j.wanted |= wanted;
            return;
        }
        pool.seq += 1;
        let seq = pool.seq;
        pool.jobs.push(Job {
            key,
            wanted,
            seq,
            status: Status::Queued,
        });
    }
}

impl Executor for Speculator<'_> {
    fn execute(&self, exec: &Execution) -> Result<Vec<Outcome>> {
        let units = UnitKey::units(exec);
        let mut pool = self.pool.lock().expect("pool");
        // Guesses for this run or earlier that are not among its units were
        // wrong: drop them (a running one finishes and is thrown away).
        let before = pool.stats;
        let mut stats = before;
        pool.jobs.retain(|j| {
            let keep = j.key.run > exec.run || units.contains(&j.key);
            if !keep {
                stats.dropped += 1;
                stats.dropped_started += u64::from(!matches!(j.status, Status::Queued));
            }
            keep
        });
        for u in &units {
            stats.wanted += 1;
            if let Some(j) = pool.jobs.iter().find(|j| &j.key == u)
                && !matches!(j.status, Status::Queued)
            {
                stats.guessed_right += 1;
            }
            Self::submit(&mut pool, u.clone(), true);
        }
        pool.stats = stats;
        self.changed.notify_all();
        let mut outcomes = Vec::with_capacity(exec.items.len());
        for u in &units {
            let result = loop {
                let i = pool
                    .jobs
                    .iter()
                    .position(|j| &j.key == u)
                    .expect("a wanted job is never dropped");
                if matches!(pool.jobs[i].status, Status::Done(_)) {
                    match pool.jobs.swap_remove(i).status {
                        Status::Done(r) => break r,
                        _ => unreachable!("checked"),
                    }
                }
                pool = self.changed.wait(pool).expect("pool");
            };
            outcomes.extend(result?);
        }
        Ok(outcomes)
    }

    fn speculate(&self, exec: &Execution) {
        let units = UnitKey::units(exec);
        let mut pool = self.pool.lock().expect("pool");
        // A newer guess for the same run supersedes the queued older ones.
        let mut dropped = 0;
        pool.jobs.retain(|j| {
            let keep = j.wanted
                || j.key.run != exec.run
                || !matches!(j.status, Status::Queued)
                || units.contains(&j.key);
            dropped += u64::from(!keep);
            keep
        });
        pool.stats.dropped += dropped;
        for u in units {
            Self::submit(&mut pool, u, false);
        }
        self.changed.notify_all();
    }

    fn speculates(&self) -> bool {
        true
    }
}
