//! The pending-event set: a monotone radix heap with 64-way digits and FIFO
//! buckets, a slab of payloads, generation-checked keys, lazy cancellation
//! and movable deadlines.
//!
//! # Order
//! Events pop in the total order `(time, seq)`, where `seq` is the moment the
//! event was last scheduled or rescheduled: equal times pop first-in,
//! first-out. No `seq` is stored: the heap is keyed on the time alone and
//! keeps the insertion order of equal times, because equal times always sit
//! in the same bucket, pushes append at its end, a split walks a bucket
//! front to back, and a bucket taken as the front run is sorted so that
//! equal times pop in bucket order. A push that falls inside the front run
//! is placed to pop after the times equal to it.
//!
//! # Layout
//! Times are integer nanoseconds, read as 11 digits of 6 bits. The *radix
//! base* is a time at or before every entry in the buckets (the minimum of
//! the last split bucket, or the largest time of the last front run). An
//! entry later than the base sits at level `l`, bucket `d`: `l` is the
//! highest digit where its time differs from the base, `d` its time's value
//! in that digit. Every entry of level `l` is earlier than every entry of
//! level `l + 1`, and within a level the buckets are in digit order, so the
//! lowest non-empty bucket (one `u64` occupancy word per level) holds the
//! minimum. Entries at or before the base form the *front run*, a vector
//! sorted in *descending* `(time, seq)` order and popped from its end.
//!
//! When the front run is empty, the lowest bucket is taken: if it holds at
//! most 32 entries (or is at level 0, where all entries share one time) it
//! is sorted and becomes the front run, and the base moves to its largest
//! time; otherwise it is split: the base moves to its minimum and its
//! entries go to lower levels relative to it. Moving the base this way never
//! changes the bucket of an untouched entry (they agree with the old and the
//! new base on every digit above their level). Pushes must not precede the
//! last popped time (asserted: a past push is a model bug and panics with
//! both times); a push between that time and the base goes into the front
//! run.
//!
//! # Why this structure
//! A discrete-event simulation is *monotone*, which a radix heap exploits:
//! push is O(1), an entry moves only when its bucket is split, and moves and
//! scans walk memory in order, where a binary heap pays `log2(n)` dependent,
//! cache-missing and mispredicted steps per pop. The one random access per
//! event, the popped event's slot, is read ahead: when a bucket of at most
//! 2,048 entries is split (its entries pop within the next few thousand
//! events, and the loads overlap), and again when a bucket becomes the front
//! run. Wide digits make splits rare: on PHOLD an event moves 1.7 times on
//! average at 10k pending and 2.0 times at 1M, where the previous radix heap
//! (one bucket per bit, 65 in all) moved it 5.1 and 7.7 times.
//!
//! Measured on the 2-core development machine, shared with other builds (so
//! figures move by 10 % or more between runs): the engine's speed over the
//! bare `BinaryHeap<Reverse<(t, seq, lp)>>` loop on the same PHOLD draws, in
//! one criterion run of `benches/engine.rs` (`phold_engine_vs_bare`):
//!
//! | pending events | 10k | 100k | 1M |
//! |---|---|---|---|
//! | this queue | 1.63x | 2.95x | 6.59x |
//! | the previous radix heap (one bucket per bit) | 1.11x | 1.67x | 4.10x |
//!
//! (Paired CPU times of whole runs, median of 9: 1.73x / 2.48x / 9.1x
//! against 1.09x / 1.71x / 4.8x.) The candidates, each behind the same slab
//! and keys in a stripped-down copy of the engine loop (CPU time, mean of 7
//! interleaved runs, same ratio, 1k / 10k / 100k / 1M pending):
//!
//! | candidate | 1k | 10k | 100k | 1M |
//! |---|---|---|---|---|
//! | radix heap, 64-way digits (chosen) | 1.50x | 1.67x | 2.72x | 6.85x |
//! | radix heap, 16-way digits | 1.73x | 1.72x | 2.85x | 7.29x |
//! | radix heap, 32-way digits | 1.47x | 1.78x | 2.98x | 7.27x |
//! | radix heap, 128-way digits | 1.38x | 1.82x | 2.85x | 8.51x |
//! | radix heap, 256-way digits | 1.42x | 1.52x | 3.24x | 4.51x |
//! | radix heap, a bucket per bit (previous) | 1.18x | 1.09x | 1.93x | 5.38x |
//! | calendar queue, vector buckets (1) | 1.02x | 0.99x | 0.82x | 1.16x |
//! | calendar queue, lists in the slab (1) | 1.64x | 1.50x | 2.08x | 1.67x |
//!
//! (1) Brown's calendar queue: buckets sorted by time (FIFO ties), resized
//! when the population halves or doubles, width from the spacing of the
//! earliest events.
//!
//! The calendar queues lose at every size past 1k: a push lands in a random
//! bucket (a cache miss per push at 1M, where the bucket array alone is
//! megabytes) and bucket widths from a sample of the front fit PHOLD's
//! spread poorly. Digit widths from 16 to 128 are within the noise of each
//! other; 256-way digits are slow at 1M, where their buckets hold either
//! about 60 events (too many to sort) or a fraction of one. 64-way digits
//! were kept because one `u64` per level tracks occupancy, narrower digits
//! mean more levels and so more moves (16-way: 2.1 and 3.6 moves per event
//! at 10k and 1M, against 1.7 and 2.0), and wider ones step levels by a
//! larger factor, so how well they do depends more on where the density
//! falls: 128-way digits happen to suit PHOLD at 10k (cachegrind: 2 % fewer
//! instructions and 17 % fewer mispredicted branches in the engine) but lose
//! about as much at 100k.
//!
//! The front run is kept in descending order and popped from its end: a
//! model's pushes into it are mostly near-future (a message delivered a
//! few microseconds on, a zero-delay follow-up) and so land near the end
//! that pops next, where an insertion moves only the entries after it; in
//! ascending order from a head index the same push shifted almost the
//! whole run (a `memmove` of about 3 % of a profile of `chaosim year`).
//! Measured on 60 days of the year, one thread, paired whole runs: 0.94 of
//! the CPU time of the ascending run (median of 5); PHOLD, whose pushes
//! fall into the buckets, is unchanged within the noise.
//!
//! (The candidates ran without the read-ahead at splits.) What bounds 10k
//! pending is work, not memory: per event, one push, 1.7 moves, a refill
//! every 2.6 events and the slab's bookkeeping (about 220 instructions in
//! all; the slab and keys alone cost about 8 ns), against a bare heap that
//! stays in the L2 cache.
//!
//! # Cancellation and rescheduling
//! Payloads live in a slab; queue entries are 16 bytes `(time, slot, version)`.
//! Cancelling frees the slot; rescheduling bumps the slot's version and pushes
//! a new entry. Entries whose version no longer matches are *stale* and are
//! dropped when met (while no entry is stale, pops skip the check). Stale
//! entries are bounded: when they outnumber the live ones (and pass a small
//! floor), the buckets are compacted.
//!
//! # Memory
//! Memory stays proportional to the pending events, never to the events
//! handled: the slab holds one slot per pending event (slots are reused), and
//! a drained bucket keeps its allocation only if it is small (room for at
//! most 256 entries, 4 KiB), so the 704 buckets hold at most twice their
//! entries plus that spare room.

use super::time::SimTime;

/// A handle on a scheduled event, for [`cancel`](EventQueue::cancel) and
/// [`reschedule`](EventQueue::reschedule). It stays valid across reschedules
/// and becomes invalid once the event fires or is cancelled (a stale key is
/// harmless: operations on it do nothing and say so).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventKey {
    slot: u32,
    generation: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    time_ns: u64,
    slot: u32,
    version: u32,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 16);

struct Slot<E> {
    event: Option<E>,
    /// Bumped each time the slot is freed, so old keys cannot touch a reused slot.
    generation: u32,
    /// Bumped on every push of this slot, so only the newest entry is live.
    version: u32,
}

/// Bits of the time per digit: each level has `1 << DIGIT_BITS` buckets.
const DIGIT_BITS: u32 = 6;
/// Buckets per level; one `u64` occupancy word per level.
const LEVEL_BUCKETS: usize = 1 << DIGIT_BITS;
/// Levels: digit `d` holds bits `6d .. 6d + 5` of the time, so 11 digits
/// cover 64 bits (the last digit has 4).
const LEVELS: usize = 64usize.div_ceil(DIGIT_BITS as usize);
const _: () = assert!(LEVEL_BUCKETS == 64, "one occupancy word per level");
const _: () = assert!(LEVELS * DIGIT_BITS as usize >= 64);
const _: () = assert!((LEVELS - 1) * (DIGIT_BITS as usize) < 64);

/// A refill takes a bucket of at most this many entries as the front run
/// (sorted) instead of splitting it again.
const SORTED_REFILL_MAX: usize = 32;
/// Up to this many entries the front run is insertion-sorted; beyond, the
/// standard library's stable sort takes over.
const INSERTION_SORT_MAX: usize = 16;
/// A drained bucket keeps its allocation if it is at most this many entries
/// (so small buckets never reallocate); a larger one is freed, so memory
/// follows the pending events, not the largest bucket ever seen.
const BUCKET_KEEP_MAX: usize = 256;
/// A split of a bucket of at most this many entries reads their slots
/// ahead of their pops (they fit in the L2 cache until then).
const WARM_SPLIT_MAX: usize = 2048;
/// Below this many stale entries the queue never bothers to compact.
const COMPACT_FLOOR: usize = 256;

/// The level and bucket of `time_ns` relative to the radix base `base_ns`:
/// the digit where they first differ, and the time's value in that digit.
#[inline]
fn bucket_of(time_ns: u64, base_ns: u64) -> (usize, usize) {
    debug_assert!(time_ns > base_ns);
    let level = ((63 - (time_ns ^ base_ns).leading_zeros()) / DIGIT_BITS) as usize;
    let digit = ((time_ns >> (level as u32 * DIGIT_BITS)) as usize) & (LEVEL_BUCKETS - 1);
    (level, digit)
}

/// A monotone priority queue of events of type `E`, ordered by `(time, seq)`.
///
/// Monotone: every push must be at or after the time of the last popped event
/// (checked; a violation is a model bug and panics with the two times).
pub struct EventQueue<E> {
    /// The front run: every entry whose time is at most `base_ns`, sorted
    /// by `(time, seq)` *descending*; the front is its last entry (popped
    /// from the end, so a push just after the front moves only the few
    /// entries after it). Every bucket entry is later than all of it.
    ready: Vec<Entry>,
    /// `buckets[level][digit]` holds
    /// the entries later than `base_ns` whose highest digit differing from
    /// it is `level`, with value `digit` there. Levels are added when an
    /// entry first needs them (at most [`LEVELS`]): a queue of a short
    /// simulation (an API experiment of a dozen events) pays for the few
    /// levels its times span, not for 704 buckets.
    buckets: Vec<[Vec<Entry>; LEVEL_BUCKETS]>,
    /// Bit `digit` of word `level` is set iff that bucket is non-empty.
    occupied: [u64; LEVELS],
    /// The radix base: the minimum found by the last split, or the largest
    /// key of the last bucket taken as the front run (so it can be ahead of
    /// the last popped time).
    base_ns: u64,
    /// The time of the last popped event: pushes must not precede it.
    popped_ns: u64,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    live: usize,
    stale: usize,
    scheduled_total: u64,
    /// Folds the versions read ahead of time by `warm` (never read): the
    /// loads bring the slots of the next events into cache.
    warmed: u32,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue whose time floor is the epoch.
    pub fn new() -> Self {
        Self::starting_at(SimTime::ZERO)
    }

    /// An empty queue that accepts events at or after `start`.
    pub fn starting_at(start: SimTime) -> Self {
        EventQueue {
            ready: Vec::new(),
            buckets: Vec::new(),
            occupied: [0; LEVELS],
            base_ns: start.as_nanos(),
            popped_ns: start.as_nanos(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            stale: 0,
            scheduled_total: 0,
            warmed: 0,
        }
    }

    /// Empty the queue and set its floor to `start`, keeping its
    /// allocations: afterwards it behaves exactly as
    /// [`starting_at(start)`](Self::starting_at) (every pending event is
    /// dropped, keys given before are stale, `scheduled_total` is 0). A
    /// batch of short simulations reuses one queue this way instead of
    /// building and freeing its buckets for each.
    pub fn reset(&mut self, start: SimTime) {
        self.ready.clear();
        self.clear_buckets();
        debug_assert!(self.occupied.iter().all(|&w| w == 0));
        debug_assert!(self.buckets.iter().flatten().all(Vec::is_empty));
        self.base_ns = start.as_nanos();
        self.popped_ns = start.as_nanos();
        // Slots keep their generations, so a key of before the reset stays
        // stale even once its slot is reused; they are handed out from slot
        // 0 up, as a new queue's are.
        for s in &mut self.slots {
            if s.event.take().is_some() {
                s.generation = s.generation.wrapping_add(1);
            }
        }
        self.free.clear();
        self.free.extend((0..self.slots.len() as u32).rev());
        self.live = 0;
        self.stale = 0;
        self.scheduled_total = 0;
        self.warmed = 0;
    }

    /// Number of pending (scheduled, not cancelled, not yet popped) events.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Total number of schedule and reschedule operations so far (the `seq`
    /// counter of the documented order).
    pub fn scheduled_total(&self) -> u64 {
        self.scheduled_total
    }

    /// Number of queue entries held, live and stale (for memory checks).
    pub fn entries_held(&self) -> usize {
        self.live + self.stale
    }

    /// The earliest time a push may use: the time of the last popped event.
    pub fn floor(&self) -> SimTime {
        SimTime::from_nanos(self.popped_ns)
    }

    /// Schedule `event` at `time`. Panics if `time` precedes [`floor`](Self::floor).
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) -> EventKey {
        let slot = match self.free.pop() {
            Some(slot) => {
                let s = &mut self.slots[slot as usize];
                debug_assert!(s.event.is_none());
                s.event = Some(event);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("more than 2^32 pending events");
                self.slots.push(Slot {
                    event: Some(event),
                    generation: 0,
                    version: 0,
                });
                slot
            }
        };
        self.live += 1;
        let generation = self.slots[slot as usize].generation;
        self.enqueue(time, slot);
        EventKey { slot, generation }
    }

    // Always inlined into its two callers (push, reschedule): left to the
    // heuristics, an unrelated change elsewhere in the queue once turned it
    // into a call and cost the year 1.6 % more instructions.
    #[inline(always)]
    fn enqueue(&mut self, time: SimTime, slot: u32) {
        let time_ns = time.as_nanos();
        assert!(
            time_ns >= self.popped_ns,
            "event scheduled in the past: at {} but the queue is at {}",
            time,
            SimTime::from_nanos(self.popped_ns)
        );
        let s = &mut self.slots[slot as usize];
        s.version = s.version.wrapping_add(1);
        let entry = Entry {
            time_ns,
            slot,
            version: s.version,
        };
        self.scheduled_total += 1;
        if time_ns > self.base_ns {
            let (level, digit) = bucket_of(time_ns, self.base_ns);
            if level >= self.buckets.len() {
                self.add_levels(level);
            }
            self.buckets[level][digit].push(entry);
            self.occupied[level] |= 1 << digit;
        } else {
            self.insert_front(entry);
        }
    }

    /// Put `entry` into the descending front run, below the keys later
    /// than it and above (so popped after) the keys equal to it (FIFO). (A
    /// key below the base: a refill moved the base past it.) Found from the
    /// front end: such a push is most often near the front. Out of line, so
    /// that the common push into a bucket stays a small function.
    #[inline(never)]
    fn insert_front(&mut self, entry: Entry) {
        let mut at = self.ready.len();
        while at > 0 && self.ready[at - 1].time_ns <= entry.time_ns {
            at -= 1;
        }
        self.ready.insert(at, entry);
    }

    /// Add the levels up to and including `level` (a bucket of level `l`
    /// exists iff `l < buckets.len()`; every occupied bit names one).
    #[cold]
    #[inline(never)]
    fn add_levels(&mut self, level: usize) {
        assert!(level < LEVELS, "level {level} of a 64-bit time");
        self.buckets
            .resize_with(level + 1, || std::array::from_fn(|_| Vec::new()));
    }

    #[inline]
    fn is_live(&self, e: &Entry) -> bool {
        let s = &self.slots[e.slot as usize];
        s.version == e.version && s.event.is_some()
    }

    /// Whether `key` still names a pending event.
    pub fn contains(&self, key: EventKey) -> bool {
        self.slots
            .get(key.slot as usize)
            .is_some_and(|s| s.generation == key.generation && s.event.is_some())
    }

    /// Cancel the event named by `key`, returning its payload, or `None` if it
    /// already fired or was cancelled.
    pub fn cancel(&mut self, key: EventKey) -> Option<E> {
        if !self.contains(key) {
            return None;
        }
        let event = self.release(key.slot);
        self.stale += 1;
        self.maybe_compact();
        event
    }

    /// Move the event named by `key` to `time`; it then orders as if scheduled
    /// now (a new `seq`). Returns `false` if the key is stale.
    pub fn reschedule(&mut self, key: EventKey, time: SimTime) -> bool {
        if !self.contains(key) {
            return false;
        }
        self.stale += 1;
        self.enqueue(time, key.slot);
        self.maybe_compact();
        true
    }

    #[inline]
    fn release(&mut self, slot: u32) -> Option<E> {
        let s = &mut self.slots[slot as usize];
        let event = s.event.take();
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot);
        self.live -= 1;
        event
    }

    fn maybe_compact(&mut self) {
        if self.stale < COMPACT_FLOOR || self.stale <= self.live {
            return;
        }
        let slots = &self.slots;
        let live = |e: &Entry| {
            let s = &slots[e.slot as usize];
            s.version == e.version && s.event.is_some()
        };
        self.ready.retain(live);
        for (level, word) in self.occupied.iter_mut().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let digit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let bucket = &mut self.buckets[level][digit];
                bucket.retain(live);
                if bucket.is_empty() {
                    *word &= !(1 << digit);
                }
            }
        }
        self.stale = 0;
    }

    /// Read the slot of an entry that pops soon, so that its cache line is
    /// on the way when the pop needs it (safe code's prefetch: a plain load
    /// whose value is folded into a field nobody reads).
    #[inline]
    fn warm(&mut self, slot: u32) {
        self.warmed ^= self.slots[slot as usize].version;
    }

    /// The front entry, live, or `None` if no event is pending.
    #[inline]
    fn front(&mut self) -> Option<Entry> {
        loop {
            match self.ready.last() {
                Some(&e) => {
                    // With no stale entry anywhere, every entry is live.
                    if self.stale == 0 || self.is_live(&e) {
                        return Some(e);
                    }
                    self.ready.pop();
                    self.stale -= 1;
                }
                None => {
                    if !self.refill() {
                        return None;
                    }
                }
            }
        }
    }

    /// Refill the empty front run from the lowest non-empty bucket. Returns
    /// `false` if no event is pending.
    ///
    /// A bucket of at most [`SORTED_REFILL_MAX`] entries (or any bucket of
    /// level 0, whose entries all have one time) becomes the front run,
    /// sorted by time (a stable sort, so equal times keep their order); the
    /// base moves to its largest time: every other bucket's
    /// entries are later and keep their buckets relative to it, since it
    /// shares the old base's digits above the bucket's level. A larger
    /// bucket is split: the base moves to its minimum and its entries are
    /// placed again relative to it, front to back, into lower levels (or the
    /// front run, for those equal to the minimum), dropping stale ones.
    #[inline(never)]
    fn refill(&mut self) -> bool {
        debug_assert!(self.ready.is_empty());
        if self.live == 0 {
            // Only stale entries can remain; drop them all.
            self.clear_buckets();
            return false;
        }
        let Some(level) = self.occupied.iter().position(|&w| w != 0) else {
            debug_assert!(false, "live events but no entries");
            return false;
        };
        let digit = self.occupied[level].trailing_zeros() as usize;
        self.occupied[level] &= !(1 << digit);
        let mut bucket = std::mem::take(&mut self.buckets[level][digit]);
        debug_assert!(!bucket.is_empty());
        if level == 0 || bucket.len() <= SORTED_REFILL_MAX {
            // The bucket becomes the front run (the old, empty front run's
            // allocation goes back to the bucket).
            std::mem::swap(&mut self.ready, &mut bucket);
            if level == 0 {
                // One time: the reverse of the insertion order.
                self.ready.reverse();
            } else {
                sort_by_time_descending(&mut self.ready);
            }
            for i in 0..self.ready.len() {
                let slot = self.ready[i].slot;
                self.warm(slot);
            }
            let last_ns = self.ready.first().map_or(self.base_ns, |e| e.time_ns);
            debug_assert!(last_ns >= self.base_ns);
            self.base_ns = last_ns;
        } else {
            if self.stale != 0 {
                let slots = &self.slots;
                let before = bucket.len();
                bucket.retain(|e| {
                    let s = &slots[e.slot as usize];
                    s.version == e.version && s.event.is_some()
                });
                self.stale -= before - bucket.len();
            }
            if let Some(min_ns) = bucket.iter().map(|e| e.time_ns).min() {
                debug_assert!(min_ns >= self.base_ns);
                self.base_ns = min_ns;
                // The entries of a bucket this small all pop within the next
                // few thousand events: read their slots now, many at once,
                // rather than one cache miss per pop.
                let warm = bucket.len() <= WARM_SPLIT_MAX;
                // Every entry goes below `level`: those buckets, and their
                // occupancy in a local copy, are all the loop touches.
                let lower = &mut self.buckets[..level];
                let mut occupied = self.occupied;
                // Front to back: equal times keep their order.
                for &e in &bucket {
                    if warm {
                        self.warmed ^= self.slots[e.slot as usize].version;
                    }
                    if e.time_ns == min_ns {
                        self.ready.push(e);
                    } else {
                        let (l, d) = bucket_of(e.time_ns, min_ns);
                        debug_assert!(l < level);
                        lower[l][d].push(e);
                        occupied[l] |= 1 << d;
                    }
                }
                self.occupied = occupied;
                bucket.clear();
                // The minimum's entries, all of one time, pop in the
                // reverse order of the descending front run.
                self.ready.reverse();
            }
        }
        if bucket.capacity() <= BUCKET_KEEP_MAX {
            bucket.clear();
            self.buckets[level][digit] = bucket;
        }
        true
    }

    fn clear_buckets(&mut self) {
        for (level, word) in self.occupied.iter_mut().enumerate() {
            while *word != 0 {
                let digit = word.trailing_zeros() as usize;
                *word &= *word - 1;
                let bucket = &mut self.buckets[level][digit];
                if bucket.capacity() > BUCKET_KEEP_MAX {
                    *bucket = Vec::new();
                } else {
                    bucket.clear();
                }
            }
        }
        self.stale = 0;
    }

    /// The time of the next event, without removing it.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.front().map(|e| SimTime::from_nanos(e.time_ns))
    }

    /// Remove and return the next event in `(time, seq)` order.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_at_or_before(SimTime::MAX)
    }

    /// Remove and return the next event if it is at or before `until`
    /// (a [`peek_time`](Self::peek_time) and a [`pop`](Self::pop) in one).
    #[inline]
    pub fn pop_at_or_before(&mut self, until: SimTime) -> Option<(SimTime, E)> {
        let e = self.front()?;
        if e.time_ns > until.as_nanos() {
            return None;
        }
        self.ready.pop();
        self.popped_ns = e.time_ns;
        let event = self.release(e.slot).expect("live entry has a payload");
        Some((SimTime::from_nanos(e.time_ns), event))
    }
}

/// Sort a bucket (in insertion order) into a descending front run: by time
/// descending, equal times in the reverse of their order (their `seq`
/// order), so that popping from the end gives `(time, seq)` order.
#[inline]
fn sort_by_time_descending(v: &mut [Entry]) {
    if v.len() > INSERTION_SORT_MAX {
        // A stable sort of the reversed bucket keeps equal times reversed.
        v.reverse();
        v.sort_by_key(|e| std::cmp::Reverse(e.time_ns));
        return;
    }
    // Insertion sort from the back: each entry goes below every later or
    // equal time already placed (those were scheduled after it).
    for i in (0..v.len().saturating_sub(1)).rev() {
        let e = v[i];
        let mut at = i;
        while at + 1 < v.len() && v[at + 1].time_ns >= e.time_ns {
            v[at] = v[at + 1];
            at += 1;
        }
        v[at] = e;
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use proptest::prelude::*;

    use super::*;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    #[test]
    fn equal_times_pop_in_schedule_order() {
        let mut q = EventQueue::new();
        for i in 0..10u32 {
            q.push(t(5), i);
        }
        q.push(t(1), 100);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![100, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn a_reset_queue_behaves_as_a_new_one() {
        // Leave pending, cancelled and rescheduled entries at many levels,
        // then reset to a later start and replay one script on both.
        let mut used = EventQueue::new();
        let mut keys = Vec::new();
        for i in 0..3_000u64 {
            keys.push(used.push(t(i * 7_919 % 1_000_003 + (i << 33)), i));
        }
        for k in keys.iter().step_by(3) {
            used.cancel(*k);
        }
        for k in keys.iter().skip(1).step_by(5) {
            used.reschedule(*k, t(1 << 40));
        }
        for _ in 0..700 {
            used.pop();
        }
        let start = t(5_000_000);
        used.reset(start);
        assert!(used.is_empty() && used.entries_held() == 0);
        assert_eq!((used.floor(), used.scheduled_total()), (start, 0));
        assert!(
            !keys.iter().any(|k| used.contains(*k)),
            "old keys are stale"
        );
        let mut fresh = EventQueue::starting_at(start);
        let script = |q: &mut EventQueue<u64>| {
            let mut popped = Vec::new();
            let mut ks = Vec::new();
            for i in 0..500u64 {
                ks.push(q.push(t(5_000_000 + i * 1_000_000 + i * 104_729 % 99_991), i));
                if i % 7 == 0 {
                    q.cancel(ks[(i / 2) as usize]);
                }
                if i % 11 == 0 {
                    popped.push(q.pop());
                }
            }
            popped.extend(std::iter::from_fn(|| q.pop().map(Some)));
            (popped, q.scheduled_total())
        };
        assert_eq!(script(&mut used), script(&mut fresh));
        assert!(
            !keys.iter().any(|k| used.contains(*k)),
            "still stale after reuse"
        );
    }

    #[test]
    fn cancelled_event_never_fires_and_key_goes_stale() {
        let mut q = EventQueue::new();
        let a = q.push(t(10), 'a');
        let _b = q.push(t(20), 'b');
        assert_eq!(q.cancel(a), Some('a'));
        assert_eq!(q.cancel(a), None, "second cancel is a no-op");
        assert!(!q.reschedule(a, t(30)));
        assert_eq!(q.pop(), Some((t(20), 'b')));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn rescheduled_timer_fires_once_at_its_new_deadline() {
        let mut q = EventQueue::new();
        let w = q.push(t(100), "watchdog");
        q.push(t(150), "other");
        assert!(q.reschedule(w, t(200)));
        assert!(q.reschedule(w, t(120)));
        assert_eq!(q.pop(), Some((t(120), "watchdog")));
        assert_eq!(q.pop(), Some((t(150), "other")));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn reused_slot_is_not_reachable_through_an_old_key() {
        let mut q = EventQueue::new();
        let old = q.push(t(1), 1);
        assert_eq!(q.pop(), Some((t(1), 1)));
        let new = q.push(t(2), 2); // reuses the slot
        assert_ne!(old, new);
        assert_eq!(q.cancel(old), None);
        assert!(q.contains(new));
    }

    #[test]
    #[should_panic(expected = "scheduled in the past")]
    fn pushing_before_the_floor_is_refused() {
        let mut q = EventQueue::new();
        q.push(t(10), ());
        q.pop();
        q.push(t(9), ());
    }

    #[test]
    fn stale_entries_stay_bounded_under_endless_rearming() {
        let mut q = EventQueue::new();
        let keys: Vec<EventKey> = (0..100).map(|i| q.push(t(1_000_000 + i), i)).collect();
        for round in 0..10_000u64 {
            for &k in &keys {
                assert!(q.reschedule(k, t(2_000_000 + round)));
            }
        }
        assert_eq!(q.len(), 100);
        assert!(
            q.entries_held() <= 2 * 100 + COMPACT_FLOOR + 100,
            "held {}",
            q.entries_held()
        );
    }

    /// The reference: `BinaryHeap<Reverse<(t, seq)>>` (with the event's id
    /// alongside) and lazy deletion: an entry counts only while its `seq` is
    /// the event's current one.
    struct Reference {
        heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
        /// Per event id: the `seq` of its pending schedule, if pending.
        pending: Vec<Option<u64>>,
        seq: u64,
        len: usize,
    }

    impl Reference {
        fn new() -> Self {
            Reference {
                heap: BinaryHeap::new(),
                pending: Vec::new(),
                seq: 0,
                len: 0,
            }
        }

        fn schedule(&mut self, id: usize, time_ns: u64) {
            if self.pending[id].is_none() {
                self.len += 1;
            }
            self.pending[id] = Some(self.seq);
            self.heap.push(Reverse((time_ns, self.seq, id)));
            self.seq += 1;
        }

        fn push(&mut self, time_ns: u64) -> usize {
            self.pending.push(None);
            let id = self.pending.len() - 1;
            self.schedule(id, time_ns);
            id
        }

        fn cancel(&mut self, id: usize) -> bool {
            let was = self.pending[id].take().is_some();
            if was {
                self.len -= 1;
            }
            was
        }

        fn drop_stale(&mut self) {
            while let Some(&Reverse((_, seq, id))) = self.heap.peek() {
                if self.pending[id] == Some(seq) {
                    return;
                }
                self.heap.pop();
            }
        }

        fn peek(&mut self) -> Option<u64> {
            self.drop_stale();
            self.heap.peek().map(|r| r.0.0)
        }

        fn pop_at_or_before(&mut self, until_ns: u64) -> Option<(u64, usize)> {
            self.drop_stale();
            let &Reverse((time_ns, _, id)) = self.heap.peek()?;
            if time_ns > until_ns {
                return None;
            }
            self.heap.pop();
            self.pending[id] = None;
            self.len -= 1;
            Some((time_ns, id))
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Schedule one event at `now + delay`.
        Push(u64),
        /// Schedule `n` events at `now + offset + (draw below spread)`: many
        /// ties when `spread` is small, big buckets that must be split.
        Burst {
            n: usize,
            offset: u64,
            spread: u64,
            seed: u64,
        },
        /// Cancel the n-th event ever scheduled (mod their number).
        Cancel(usize),
        /// Move the n-th event to `now + delay`.
        Reschedule(usize, u64),
        /// Move `n` events from the n-th on to `now + delay`, one by one
        /// (many stale entries, so compaction runs).
        RescheduleMany {
            from: usize,
            n: usize,
            delay: u64,
        },
        Pop,
        /// `pop_at_or_before(now + delay)`.
        PopUntil(u64),
        /// Peek at the next time (may move the radix base ahead of `now`).
        Peek,
    }

    fn splitmix(x: &mut u64) -> u64 {
        *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        crate::engine::rng::mix64(*x)
    }

    /// Apply `ops` to the queue and to the reference, checking every answer,
    /// then drain both. Returns a description of the first disagreement.
    fn check(ops: &[Op]) -> Result<(), String> {
        let mut q: EventQueue<usize> = EventQueue::new();
        let mut r = Reference::new();
        let mut keys: Vec<EventKey> = Vec::new();
        let mut now = 0u64;
        let push =
            |q: &mut EventQueue<usize>, r: &mut Reference, keys: &mut Vec<EventKey>, at: u64| {
                let id = r.push(at);
                keys.push(q.push(t(at), id));
                debug_assert_eq!(keys.len(), id + 1);
            };
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Push(d) => push(&mut q, &mut r, &mut keys, now + d),
                Op::Burst {
                    n,
                    offset,
                    spread,
                    seed,
                } => {
                    let mut x = seed;
                    for _ in 0..n {
                        let d = offset + splitmix(&mut x) % spread.max(1);
                        push(&mut q, &mut r, &mut keys, now + d);
                    }
                }
                Op::Cancel(i) if !keys.is_empty() => {
                    let i = i % keys.len();
                    let got = q.cancel(keys[i]);
                    let want = r.cancel(i).then_some(i);
                    if got != want {
                        return Err(format!(
                            "step {step}: cancel({i}) gave {got:?}, want {want:?}"
                        ));
                    }
                }
                Op::Reschedule(i, d) if !keys.is_empty() => {
                    let i = i % keys.len();
                    let moved = q.reschedule(keys[i], t(now + d));
                    let want = r.pending[i].is_some();
                    if moved != want {
                        return Err(format!("step {step}: reschedule({i}) gave {moved}"));
                    }
                    if want {
                        r.schedule(i, now + d);
                    }
                }
                Op::RescheduleMany { from, n, delay } if !keys.is_empty() => {
                    for k in 0..n {
                        let i = (from + k) % keys.len();
                        let moved = q.reschedule(keys[i], t(now + delay + k as u64 % 7));
                        if moved != r.pending[i].is_some() {
                            return Err(format!("step {step}: reschedule({i}) gave {moved}"));
                        }
                        if moved {
                            r.schedule(i, now + delay + k as u64 % 7);
                        }
                    }
                }
                Op::Pop | Op::PopUntil(_) => {
                    let until = match *op {
                        Op::PopUntil(d) => now.saturating_add(d),
                        _ => u64::MAX,
                    };
                    let got = q
                        .pop_at_or_before(t(until))
                        .map(|(at, id)| (at.as_nanos(), id));
                    let want = r.pop_at_or_before(until);
                    if got != want {
                        return Err(format!("step {step}: pop gave {got:?}, want {want:?}"));
                    }
                    if let Some((at, _)) = want {
                        now = at;
                        if q.floor() != t(at) {
                            return Err(format!(
                                "step {step}: floor {} after a pop at {at}",
                                q.floor()
                            ));
                        }
                    }
                }
                Op::Peek => {
                    let got = q.peek_time().map(SimTime::as_nanos);
                    let want = r.peek();
                    if got != want {
                        return Err(format!("step {step}: peek gave {got:?}, want {want:?}"));
                    }
                }
                Op::Cancel(_) | Op::Reschedule(..) | Op::RescheduleMany { .. } => {}
            }
            if q.len() != r.len {
                return Err(format!("step {step}: len {} want {}", q.len(), r.len));
            }
            if q.scheduled_total() != r.seq {
                return Err(format!(
                    "step {step}: scheduled_total {} want {}",
                    q.scheduled_total(),
                    r.seq
                ));
            }
            if q.entries_held() > 2 * q.len() + COMPACT_FLOOR + 1 {
                return Err(format!(
                    "step {step}: {} entries held for {} pending",
                    q.entries_held(),
                    q.len()
                ));
            }
        }
        loop {
            let got = q.pop().map(|(at, id)| (at.as_nanos(), id));
            let want = r.pop_at_or_before(u64::MAX);
            if got != want {
                return Err(format!("drain: pop gave {got:?}, want {want:?}"));
            }
            if want.is_none() {
                break;
            }
        }
        if !q.is_empty() || q.entries_held() != 0 {
            return Err(format!("drained queue holds {} entries", q.entries_held()));
        }
        Ok(())
    }

    fn delay() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            0u64..4,
            0u64..64,
            0u64..4_096,
            0u64..(1 << 24),
            0u64..(1 << 40),
            Just(1u64 << 50),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => delay().prop_map(Op::Push),
            1 => (1usize..300, delay(), prop_oneof![Just(1u64), 1u64..8, 1u64..1_000, 1u64..(1 << 30)], any::<u64>())
                .prop_map(|(n, offset, spread, seed)| Op::Burst { n, offset, spread, seed }),
            1 => any::<usize>().prop_map(Op::Cancel),
            2 => (any::<usize>(), delay()).prop_map(|(i, d)| Op::Reschedule(i, d)),
            1 => (any::<usize>(), 1usize..600, delay()).prop_map(|(from, n, delay)| Op::RescheduleMany { from, n, delay }),
            6 => Just(Op::Pop),
            2 => delay().prop_map(Op::PopUntil),
            2 => Just(Op::Peek),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Every answer (pop, bounded pop, peek, cancel, reschedule, length)
        /// matches the reference, with ties, zero delays, long jumps, bursts
        /// that fill one bucket, cancellations and mass reschedules.
        #[test]
        fn queue_matches_the_binary_heap_reference(ops in prop::collection::vec(op(), 1..300)) {
            if let Err(e) = check(&ops) {
                prop_assert!(false, "{}", e);
            }
        }
    }

    /// A long deterministic mix: PHOLD-like pushes, timer re-arms and
    /// cancellations, with several hundred thousand pending at the peak.
    #[test]
    fn a_long_mix_matches_the_reference() {
        let mut x = 0x5eed_u64;
        let mut ops = Vec::new();
        for _ in 0..300 {
            ops.push(Op::Burst {
                n: 2_000,
                offset: 0,
                spread: 1 << (splitmix(&mut x) % 40),
                seed: splitmix(&mut x),
            });
        }
        for _ in 0..400_000 {
            let roll = splitmix(&mut x) % 100;
            let d = match splitmix(&mut x) % 4 {
                0 => 0,
                1 => splitmix(&mut x) % 1_000,
                2 => 100_000_000 + splitmix(&mut x) % 2_000_000_000,
                _ => splitmix(&mut x) % (1 << 45),
            };
            ops.push(match roll {
                0..=34 => Op::Push(d),
                35..=74 => Op::Pop,
                75..=84 => Op::Reschedule(splitmix(&mut x) as usize, d),
                85..=89 => Op::Cancel(splitmix(&mut x) as usize),
                90..=94 => Op::PopUntil(d),
                _ => Op::Peek,
            });
        }
        check(&ops).unwrap();
    }

    #[test]
    fn equal_times_keep_schedule_order_through_splits() {
        // 20,000 events over 50 instants, scheduled in interleaved order:
        // the instants' buckets are split several times before they pop.
        let mut q = EventQueue::new();
        for i in 0..20_000u32 {
            let instant = u64::from(i * 7_919 % 50);
            q.push(t(1_000_000 + instant * 1_234_567), (instant, i));
        }
        let mut last: Option<(u64, u32)> = None;
        while let Some((at, (instant, i))) = q.pop() {
            assert_eq!(at, t(1_000_000 + instant * 1_234_567));
            if let Some((li, lj)) = last {
                assert!(
                    li < instant || (li == instant && lj < i),
                    "{li},{lj} then {instant},{i}"
                );
            }
            last = Some((instant, i));
        }
    }

    #[test]
    fn a_push_below_the_base_after_a_peek_keeps_the_order() {
        let mut q = EventQueue::new();
        for i in 0..40u64 {
            q.push(t(1_000 + i), i); // one bucket, sorted as the front run
        }
        q.push(t(5_000), 99);
        assert_eq!(q.peek_time(), Some(t(1_000)));
        assert_eq!(q.pop(), Some((t(1_000), 0)));
        // Below the base (1,039) but not below the floor (1,000).
        q.push(t(1_000), 100);
        q.push(t(1_020), 101);
        let order: Vec<u64> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        let mut want = vec![100];
        want.extend(1..=20);
        want.push(101);
        want.extend(21..40);
        want.push(99);
        assert_eq!(order, want);
    }

    #[test]
    fn pop_at_or_before_leaves_later_events_in_place() {
        let mut q = EventQueue::new();
        q.push(t(10), 'a');
        q.push(t(20), 'b');
        assert_eq!(q.pop_at_or_before(t(9)), None);
        assert_eq!(q.pop_at_or_before(t(10)), Some((t(10), 'a')));
        assert_eq!(q.pop_at_or_before(t(19)), None);
        assert_eq!(q.floor(), t(10), "a refused pop does not move the floor");
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_at_or_before(SimTime::MAX), Some((t(20), 'b')));
    }

    #[test]
    fn ties_in_a_sorted_front_run_keep_schedule_order() {
        // One bucket of n entries (level 1: times 64..128 from base 0) with
        // every time repeated: the refill sorts it as the front run, by
        // insertion sort or by the standard stable sort, for every size up
        // to the largest sorted bucket.
        for n in 2..=SORTED_REFILL_MAX as u64 {
            let mut q = EventQueue::new();
            for i in 0..n {
                q.push(t(64 + (i * 7) % 5), i);
            }
            let got: Vec<(u64, u64)> = std::iter::from_fn(|| q.pop())
                .map(|(at, i)| (at.as_nanos(), i))
                .collect();
            let mut want: Vec<(u64, u64)> = (0..n).map(|i| (64 + (i * 7) % 5, i)).collect();
            want.sort_by_key(|&(at, _)| at); // stable: schedule order within a time
            assert_eq!(got, want, "n = {n}");
        }
    }
}
