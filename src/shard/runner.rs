//! The ordered parallel runner every batch kind shares.
//!
//! The work items of a batch are numbered globally:
//! `global = cell · n + item`. Workers take **chunks** (at most
//! [`CHUNK_EXPERIMENTS`] items of one cell, unless a kind asks for fewer) in
//! increasing order, format their rows and fold a chunk aggregate; the
//! calling thread writes chunks strictly in order. A worker may run ahead of
//! the writer by at most a **window** of `4 · threads` chunks, so memory is
//! bounded by the window whatever `n`, and the bytes do not depend on the
//! thread count.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

use super::CHUNK_EXPERIMENTS;
use crate::error::Result;
use crate::record::csv::CsvSink;

#[derive(Clone, Copy)]
struct Chunk {
    idx: u64,
    cell: u64,
    lo: u64,
    hi: u64,
}

struct Cursor {
    next_global: u64,
    end: u64,
    n: u64,
    idx: u64,
    chunk: u64,
}

impl Cursor {
    fn next(&mut self) -> Option<Chunk> {
        if self.next_global >= self.end {
            return None;
        }
        let g = self.next_global;
        let cell = g / self.n;
        let lo = g % self.n;
        let aligned = (lo / self.chunk + 1) * self.chunk;
        let hi = aligned.min(self.n).min(lo + (self.end - g));
        self.next_global = g + (hi - lo);
        let c = Chunk {
            idx: self.idx,
            cell,
            lo,
            hi,
        };
        self.idx += 1;
        Some(c)
    }
}

struct ChunkOut<A> {
    idx: u64,
    cell: u64,
    rows: String,
    result: Result<(A, u64)>,
}

struct Gate {
    written: Mutex<(u64, bool)>,
    cv: Condvar,
}

/// An aggregate of experiments that merges exactly (integer counts and
/// sketches), so chunk aggregates fold into the cell's aggregate.
pub trait Aggregate: Default + Send {
    /// Fold in another aggregate of the same cell.
    fn merge_from(&mut self, other: &Self);
}

/// Runs experiments `lo..hi` of a cell: `(cell, lo, hi, rows)` gives the
/// chunk's aggregate and event count.
pub type ChunkFn<'a, A> = dyn Fn(u64, u64, u64, &mut String) -> Result<(A, u64)> + Sync + 'a;

/// The parallel ordered engine shared by every kind of sweep: runs the
/// global experiment `range` (experiments numbered `cell · n + experiment`)
/// in chunks of at most [`CHUNK_EXPERIMENTS`] on `threads` workers,
/// `run(cell, lo, hi, rows)` runs experiments `lo..hi` of `cell`, appends
/// their rows and returns their aggregate and event count. Rows are written
/// to `sink` strictly in order; `on_cell(cell, aggregate)` is called in cell
/// order when a cell's last chunk is written. Workers run at most `4 ·
/// threads` chunks ahead of the writer. Returns the events summed.
pub fn run_ordered<A: Aggregate>(
    threads: usize,
    n: u64,
    range: (u64, u64),
    sink: &mut CsvSink,
    run: &ChunkFn<'_, A>,
    on_cell: &mut dyn FnMut(u64, A),
) -> Result<u64> {
    run_ordered_chunked(threads, n, range, CHUNK_EXPERIMENTS, sink, run, on_cell)
}

/// [`run_ordered`] with chunks of at most `chunk` experiments (at least 1),
/// for experiments that take seconds each (seed ensembles use 1). The bytes
/// written do not depend on `chunk` or on `threads`.
pub fn run_ordered_chunked<A: Aggregate>(
    threads: usize,
    n: u64,
    range: (u64, u64),
    chunk: u64,
    sink: &mut CsvSink,
    run: &ChunkFn<'_, A>,
    on_cell: &mut dyn FnMut(u64, A),
) -> Result<u64> {
    let window = 4 * threads as u64;
    let cursor = Mutex::new(Cursor {
        next_global: range.0,
        end: range.1,
        n,
        idx: 0,
        chunk: chunk.max(1),
    });
    let gate = Gate {
        written: Mutex::new((0, false)),
        cv: Condvar::new(),
    };
    let mut events_total = 0u64;

    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<ChunkOut<A>>();
        for _ in 0..threads {
            let tx = tx.clone();
            let (cursor, gate) = (&cursor, &gate);
            scope.spawn(move || {
                loop {
                    let Some(chunk) = cursor.lock().expect("cursor").next() else {
                        break;
                    };
                    {
                        let mut w = gate.written.lock().expect("gate");
                        while chunk.idx >= w.0 + window && !w.1 {
                            w = gate.cv.wait(w).expect("gate");
                        }
                        if w.1 {
                            break;
                        }
                    }
                    let mut rows = String::with_capacity(((chunk.hi - chunk.lo) * 96) as usize);
                    let result = run(chunk.cell, chunk.lo, chunk.hi, &mut rows);
                    let out = ChunkOut {
                        idx: chunk.idx,
                        cell: chunk.cell,
                        rows,
                        result,
                    };
                    if tx.send(out).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let abort = |gate: &Gate| {
            let mut w = gate.written.lock().expect("gate");
            w.1 = true;
            gate.cv.notify_all();
        };
        let mut pending: BTreeMap<u64, ChunkOut<A>> = BTreeMap::new();
        let mut next = 0u64;
        let mut current: Option<(u64, A)> = None;
        for out in rx {
            pending.insert(out.idx, out);
            while let Some(out) = pending.remove(&next) {
                let step = (|| -> Result<()> {
                    let (agg, events) = out.result?;
                    sink.write_raw(out.rows.as_bytes())?;
                    events_total += events;
                    match current.as_mut() {
                        Some((c, a)) if *c == out.cell => a.merge_from(&agg),
                        _ => {
                            if let Some((c, a)) = current.take() {
                                on_cell(c, a);
                            }
                            current = Some((out.cell, agg));
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = step {
                    abort(&gate);
                    return Err(e);
                }
                next += 1;
                let mut w = gate.written.lock().expect("gate");
                w.0 = next;
                gate.cv.notify_all();
            }
        }
        if let Some((c, a)) = current.take() {
            on_cell(c, a);
        }
        Ok(())
    })?;
    Ok(events_total)
}
