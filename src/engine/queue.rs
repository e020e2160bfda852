//! The pending-event set: a monotone radix heap with FIFO buckets, a slab of
//! payloads, generation-checked keys, lazy cancellation and movable deadlines.
//!
//! # Order
//! Events pop in the total order `(time, seq)`, where `seq` is the moment the
//! event was last scheduled or rescheduled: equal times pop first-in,
//! first-out. No `seq` is stored: a radix heap keyed on the time alone keeps
//! the insertion order of equal keys, because equal keys always land in the
//! same bucket, are appended at its end, and redistribution walks a bucket
//! front to back (see `pop`). A small bucket is not split further: it is
//! insertion-sorted (stable) into a sorted front run, and a push that falls
//! inside that run is inserted after the keys equal to it.
//!
//! # Why a radix heap
//! A discrete-event simulation is *monotone*: nothing is scheduled before the
//! last popped time. A radix heap exploits that: bucket `i` holds the keys
//! whose highest bit differing from the last popped key is bit `i - 1`, so
//! push is O(1) and each entry moves at most 64 times over its life
//! (amortised O(log T) per event, with sequential memory access instead of a
//! binary heap's dependent loads). On PHOLD at 10k pending events it beats
//! `BinaryHeap<Reverse<(t, seq, lp)>>` (see `benches/engine.rs`).
//!
//! # Cancellation and rescheduling
//! Payloads live in a slab; queue entries are 16 bytes `(time, slot, version)`.
//! Cancelling frees the slot; rescheduling bumps the slot's version and pushes
//! a new entry. Entries whose version no longer matches are *stale* and are
//! dropped when met. Stale entries are bounded: when they outnumber the live
//! ones (and pass a small floor), the buckets are compacted, so memory stays
//! proportional to the pending events, never to the events handled.

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

/// A refill sorts a bucket of at most this many entries into the front run
/// instead of redistributing it.
const SORTED_REFILL_MAX: usize = 16;

/// Below this many stale entries the queue never bothers to compact.
const COMPACT_FLOOR: usize = 256;
/// Number of radix buckets: bucket 0 holds keys equal to `last`, buckets
/// 1..=64 hold keys whose highest differing bit is 0..=63.
const BUCKETS: usize = 65;

/// A monotone priority queue of events of type `E`, ordered by `(time, seq)`.
///
/// Monotone: every push must be at or after the time of the last popped event
/// (checked; a violation is a model bug and panics with the two times).
pub struct EventQueue<E> {
    /// The front run ("bucket 0"): every entry whose time is at most
    /// `last_ns`, sorted by `(time, seq)`; the front is `ready[ready_head]`
    /// (a plain vector consumed from a head index, emptied when fully
    /// consumed). Every bucket entry is later than all of it.
    ready: Vec<Entry>,
    /// Index of the front of `ready`.
    ready_head: usize,
    /// Buckets 1..=64 (index 0 unused).
    buckets: Vec<Vec<Entry>>,
    /// Bit `b - 1` is set when bucket `b` may be non-empty (never clear
    /// while it holds entries), so a refill finds the lowest bucket at once.
    nonempty: u64,
    /// The radix base: the minimum found by the last refill, or the largest
    /// key of a small bucket sorted into the front run (so it can be ahead
    /// of the last popped time).
    last_ns: u64,
    /// The time of the last popped event: pushes must not precede it.
    popped_ns: u64,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    live: usize,
    stale: usize,
    scheduled_total: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn bucket_of(time_ns: u64, last_ns: u64) -> usize {
    if time_ns == last_ns {
        0
    } else {
        (64 - (time_ns ^ last_ns).leading_zeros()) as usize
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
            ready_head: 0,
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            nonempty: 0,
            last_ns: start.as_nanos(),
            popped_ns: start.as_nanos(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            stale: 0,
            scheduled_total: 0,
        }
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
        if time_ns <= self.last_ns {
            // Into the sorted front run, after the keys equal to it (FIFO).
            // (A key below the base: a peek moved the base past it.)
            let at = self.ready_head
                + self.ready[self.ready_head..].partition_point(|e| e.time_ns <= time_ns);
            self.ready.insert(at, entry);
        } else {
            self.place(entry, self.last_ns);
        }
    }

    /// Put `e` in its bucket relative to the base `base_ns`.
    #[inline]
    fn place(&mut self, e: Entry, base_ns: u64) {
        match bucket_of(e.time_ns, base_ns) {
            0 => self.ready.push(e),
            b => {
                self.buckets[b].push(e);
                self.nonempty |= 1 << (b - 1);
            }
        }
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
        self.ready.drain(..self.ready_head);
        self.ready_head = 0;
        self.ready.retain(live);
        self.nonempty = 0;
        for (i, b) in self.buckets.iter_mut().enumerate().skip(1) {
            b.retain(live);
            if !b.is_empty() {
                self.nonempty |= 1 << (i - 1);
            }
        }
        self.stale = 0;
    }

    /// Make sure `ready` is non-empty with a live entry at its front, unless
    /// no event is pending. Returns `false` if the queue is empty.
    ///
    /// A refill takes the lowest non-empty bucket, moves the base to the
    /// smallest key in it (live or stale: every key left in the heap is at or
    /// above it, and it never exceeds the smallest live key, so pushes after
    /// the next pop never fall below the base) and redistributes its live
    /// entries front to back, dropping the stale ones.
    fn settle(&mut self) -> bool {
        loop {
            while let Some(front) = self.ready.get(self.ready_head) {
                if self.is_live(front) {
                    return true;
                }
                self.ready_head += 1;
                self.stale -= 1;
            }
            self.ready.clear();
            self.ready_head = 0;
            if self.live == 0 {
                // Only stale entries can remain; drop them all.
                for b in &mut self.buckets {
                    b.clear();
                }
                self.nonempty = 0;
                self.stale = 0;
                return false;
            }
            // Refill: the lowest non-empty bucket holds the minimum.
            debug_assert!(self.nonempty != 0, "live events but no entries");
            let b = self.nonempty.trailing_zeros() as usize + 1;
            self.nonempty &= !(1 << (b - 1));
            let mut bucket = std::mem::take(&mut self.buckets[b]);
            if bucket.len() <= SORTED_REFILL_MAX {
                // A small bucket becomes the front run at once, sorted by
                // time (insertion sort: stable, so equal keys keep their
                // order), instead of being split again and again.
                for e in bucket.drain(..) {
                    if !self.is_live(&e) {
                        self.stale -= 1;
                        continue;
                    }
                    let mut at = self.ready.len();
                    while at > 0 && self.ready[at - 1].time_ns > e.time_ns {
                        at -= 1;
                    }
                    self.ready.insert(at, e);
                }
                self.buckets[b] = bucket; // keep the allocation
                if let Some(last) = self.ready.last() {
                    // Every other bucket's keys exceed this bucket's and keep
                    // their buckets relative to its largest key, which shares
                    // the old base's bits above bit `b - 1`.
                    debug_assert!(last.time_ns >= self.last_ns);
                    self.last_ns = last.time_ns;
                }
                continue;
            }
            let Some(min_ns) = bucket.iter().map(|e| e.time_ns).min() else {
                continue; // the bit was set but the bucket emptied since
            };
            debug_assert!(min_ns >= self.last_ns);
            self.last_ns = min_ns;
            // Front to back: equal keys keep their insertion order.
            for e in bucket.drain(..) {
                if !self.is_live(&e) {
                    self.stale -= 1;
                    continue;
                }
                debug_assert!(bucket_of(e.time_ns, min_ns) < b);
                self.place(e, min_ns);
            }
            self.buckets[b] = bucket; // keep the allocation
        }
    }

    /// The time of the next event, without removing it.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.settle() {
            Some(SimTime::from_nanos(self.ready[self.ready_head].time_ns))
        } else {
            None
        }
    }

    /// Remove and return the next event in `(time, seq)` order.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if !self.settle() {
            return None;
        }
        let e = self.ready[self.ready_head];
        self.ready_head += 1;
        self.popped_ns = e.time_ns;
        let event = self.release(e.slot).expect("live entry has a payload");
        Some((SimTime::from_nanos(e.time_ns), event))
    }
}

#[cfg(test)]
mod tests {
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
}
