//! Trace export: one run in the Chrome Trace Event format (the JSON that
//! Perfetto, `chrome://tracing` and speedscope open), written as a stream.
//!
//! - [`TraceWriter`]: the format. `{"traceEvents":[` then one event per line
//!   (`ph` `X` complete slices, `i` instants, `C` counters, `M` metadata
//!   naming processes and threads), then `],"displayTimeUnit":"ms"}`.
//!   `ts`/`dur` are **microseconds of simulated time** (with nanosecond
//!   decimals), `ts` on the scenario clock when the runner sets the origin
//!   ([`TraceWriter::set_origin`]): 0 is the scenario clock's start, the
//!   boot lead-in is negative, as in the timeline CSV and the scenario file. Events are written when they are known, so slices appear
//!   when they end, not in `ts` order (the format allows any order).
//! - [`StackTracer`]: the observer the scenario runner calls after every
//!   handled event ([`observe`](StackTracer::observe)) and at every 100 ms
//!   sample ([`sample`](StackTracer::sample)). It compares what it can see of
//!   the stack with what it saw before and writes a slice when a state ends.
//!   State changes are therefore exact to the event; counters are sampled.
//!
//! # Tracks (`pid` / `tid`)
//! | pid | process | threads |
//! |---|---|---|
//! | 1 | Layer 1 kernels | per kernel: `NAME process` (booting / running / paused / dead / down, as the machine sees it), `NAME control plane` (the control plane's view: running / unresponsive / restarting / failed) and `NAME faults` (each fault aimed at the kernel as a slice over its window) |
//! | 2 | Layer 2 | intake (normal / guarded), scheduler, trigger mesh (normal / backpressure), circuit breaker, one per replica |
//! | 3 | nemesis | `injections` (an instant per injected action, with its arguments) and one thread per fault (its window as a slice) |
//! | 4 | playbooks and governance | one per executor slot: the execution as a slice containing its steps; each step is an `approval` slice (request to approval: a human approval at night is a long slice) then an `action` slice |
//! | 5 | safeguards | every firing as an instant, with its count so far |
//! | 6 | replicated log | leader and partition state (sampled) |
//! | 0 | counters | queue depth, bus backlog and latency, resource use, kernels running, approval backlog (sampled every 100 ms) |
//!
//! # Memory
//! The tracer keeps one state per track (kernels, slots, components), never
//! the events it wrote: memory does not grow with the run.

use std::io::{self, BufWriter, Write};

use crate::engine::SimTime;
use crate::model::layer1::KernelState;
use crate::model::layer2::{BreakerState, ReplicaState};
use crate::model::stack::Stack;
use crate::safeguard::Safeguard;

/// A value of an event argument.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// A string.
    Str(&'a str),
    /// An unsigned integer.
    U64(u64),
    /// A float (written with up to 6 significant decimals).
    F64(f64),
}

/// Process ids of the tracks (see the module docs).
pub mod pid {
    /// Counters.
    pub const COUNTERS: u32 = 0;
    /// Layer-1 kernels.
    pub const KERNELS: u32 = 1;
    /// Layer-2 components.
    pub const LAYER2: u32 = 2;
    /// The nemesis.
    pub const NEMESIS: u32 = 3;
    /// Playbook executions and governance approvals.
    pub const PLAYBOOKS: u32 = 4;
    /// Safeguard firings.
    pub const SAFEGUARDS: u32 = 5;
    /// The replicated log.
    pub const CLUSTER: u32 = 6;
}

/// Streams Chrome trace events to a writer. Write errors are kept (the first
/// one) and reported by [`finish`](Self::finish); later events are dropped.
pub struct TraceWriter {
    out: BufWriter<Box<dyn Write>>,
    first: bool,
    error: Option<io::Error>,
    events: u64,
    line: String,
    /// Timestamps are written relative to this instant.
    origin_ns: u64,
}

fn push_escaped(s: &mut String, text: &str) {
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
}

/// `ns` as microseconds with three decimals (exact).
fn push_us(s: &mut String, ns: u64) {
    use std::fmt::Write as _;
    let _ = write!(s, "{}.{:03}", ns / 1000, ns % 1000);
}

/// An instant `at_ns` relative to `origin_ns`, microseconds (negative
/// before the origin).
fn push_ts(s: &mut String, at_ns: u64, origin_ns: u64) {
    if at_ns < origin_ns {
        s.push('-');
        push_us(s, origin_ns - at_ns);
    } else {
        push_us(s, at_ns - origin_ns);
    }
}

fn push_f64(s: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_finite() {
        let _ = write!(s, "{}", (v * 1e6).round() / 1e6);
    } else {
        s.push('0');
    }
}

fn push_args(s: &mut String, args: &[(&str, Arg<'_>)]) {
    s.push_str(",\"args\":{");
    for (i, (k, v)) in args.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_escaped(s, k);
        s.push(':');
        match v {
            Arg::Str(t) => push_escaped(s, t),
            Arg::U64(n) => {
                use std::fmt::Write as _;
                let _ = write!(s, "{n}");
            }
            Arg::F64(f) => push_f64(s, *f),
        }
    }
    s.push('}');
}

impl TraceWriter {
    /// Start a trace on `w` (writes the opening of the JSON object).
    pub fn new(w: Box<dyn Write>) -> io::Result<TraceWriter> {
        let mut out = BufWriter::with_capacity(64 * 1024, w);
        out.write_all(b"{\"traceEvents\":[\n")?;
        Ok(TraceWriter {
            out,
            first: true,
            error: None,
            events: 0,
            line: String::with_capacity(256),
            origin_ns: 0,
        })
    }

    /// Write every later timestamp relative to `origin_ns` (the scenario
    /// clock's zero, so a trace and the timeline CSV share one clock;
    /// the boot lead-in is negative).
    pub fn set_origin(&mut self, origin_ns: u64) {
        self.origin_ns = origin_ns;
    }

    fn head(&mut self, ph: char, pid: u32, tid: u32, name: &str) {
        use std::fmt::Write as _;
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"ph\":\"{ph}\",\"pid\":{pid},\"tid\":{tid},\"name\":"
        );
        push_escaped(&mut self.line, name);
    }

    fn emit(&mut self) {
        self.line.push('}');
        if self.error.is_some() {
            return;
        }
        let sep: &[u8] = if self.first { b"" } else { b",\n" };
        self.first = false;
        let r = self
            .out
            .write_all(sep)
            .and_then(|_| self.out.write_all(self.line.as_bytes()));
        match r {
            Ok(()) => self.events += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// Name process `pid` (an `M` `process_name` event) and fix its order.
    pub fn process_name(&mut self, pid: u32, name: &str) {
        self.head('M', pid, 0, "process_name");
        self.line.push_str(",\"ts\":0");
        push_args(&mut self.line, &[("name", Arg::Str(name))]);
        self.emit();
        self.head('M', pid, 0, "process_sort_index");
        self.line.push_str(",\"ts\":0");
        push_args(&mut self.line, &[("sort_index", Arg::U64(pid as u64))]);
        self.emit();
    }

    /// Name thread `tid` of `pid` (an `M` `thread_name` event) and fix its order.
    pub fn thread_name(&mut self, pid: u32, tid: u32, name: &str) {
        self.head('M', pid, tid, "thread_name");
        self.line.push_str(",\"ts\":0");
        push_args(&mut self.line, &[("name", Arg::Str(name))]);
        self.emit();
        self.head('M', pid, tid, "thread_sort_index");
        self.line.push_str(",\"ts\":0");
        push_args(&mut self.line, &[("sort_index", Arg::U64(tid as u64))]);
        self.emit();
    }

    /// A complete slice (`X`) from `start_ns` lasting `dur_ns`.
    #[allow(clippy::too_many_arguments)]
    pub fn slice(
        &mut self,
        pid: u32,
        tid: u32,
        name: &str,
        cat: &str,
        start_ns: u64,
        dur_ns: u64,
        args: &[(&str, Arg<'_>)],
    ) {
        self.head('X', pid, tid, name);
        self.line.push_str(",\"cat\":");
        push_escaped(&mut self.line, cat);
        self.line.push_str(",\"ts\":");
        push_ts(&mut self.line, start_ns, self.origin_ns);
        self.line.push_str(",\"dur\":");
        push_us(&mut self.line, dur_ns);
        if !args.is_empty() {
            push_args(&mut self.line, args);
        }
        self.emit();
    }

    /// A thread-scoped instant (`i`) at `at_ns`.
    pub fn instant(
        &mut self,
        pid: u32,
        tid: u32,
        name: &str,
        cat: &str,
        at_ns: u64,
        args: &[(&str, Arg<'_>)],
    ) {
        self.head('i', pid, tid, name);
        self.line.push_str(",\"cat\":");
        push_escaped(&mut self.line, cat);
        self.line.push_str(",\"s\":\"t\",\"ts\":");
        push_ts(&mut self.line, at_ns, self.origin_ns);
        if !args.is_empty() {
            push_args(&mut self.line, args);
        }
        self.emit();
    }

    /// A counter sample (`C`): one series per `(name, value)`.
    pub fn counter(&mut self, name: &str, at_ns: u64, values: &[(&str, f64)]) {
        self.head('C', pid::COUNTERS, 0, name);
        self.line.push_str(",\"ts\":");
        push_ts(&mut self.line, at_ns, self.origin_ns);
        let args: Vec<(&str, Arg<'_>)> = values.iter().map(|(k, v)| (*k, Arg::F64(*v))).collect();
        push_args(&mut self.line, &args);
        self.emit();
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Close the JSON document and flush; returns the first write error.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.write_all(b"\n],\"displayTimeUnit\":\"ms\"}\n")?;
        self.out.flush()?;
        Ok(self.events)
    }
}

/// An open state on one track: its name and since when.
#[derive(Clone, Copy, Debug)]
struct Open {
    name: &'static str,
    since_ns: u64,
}

/// One track whose state is a `&'static str`: a slice is written when the
/// state changes.
#[derive(Clone, Copy, Debug)]
struct StateTrack {
    pid: u32,
    tid: u32,
    open: Option<Open>,
}

impl StateTrack {
    fn new(pid: u32, tid: u32) -> StateTrack {
        StateTrack {
            pid,
            tid,
            open: None,
        }
    }

    fn set(&mut self, w: &mut TraceWriter, state: &'static str, now_ns: u64) {
        match self.open {
            Some(o) if o.name == state => {}
            _ => {
                self.close(w, now_ns);
                self.open = Some(Open {
                    name: state,
                    since_ns: now_ns,
                });
            }
        }
    }

    fn close(&mut self, w: &mut TraceWriter, now_ns: u64) {
        if let Some(o) = self.open.take() {
            w.slice(
                self.pid,
                self.tid,
                o.name,
                "state",
                o.since_ns,
                now_ns.saturating_sub(o.since_ns),
                &[],
            );
        }
    }
}

/// A playbook execution in progress on one executor slot.
#[derive(Clone, Debug)]
struct SlotExec {
    playbook: String,
    target: u16,
    since_ns: u64,
    step: u8,
    acting: bool,
    phase_since_ns: u64,
    action: String,
    intent: &'static str,
    tier: u8,
}

fn kernel_status_name(s: KernelState) -> &'static str {
    match s {
        KernelState::Booting => "booting",
        KernelState::Running => "running",
        KernelState::Paused => "running (paused, unnoticed)",
        KernelState::Dead => "running (dead, unnoticed)",
        KernelState::Unresponsive => "unresponsive",
        KernelState::Restarting => "restarting",
        KernelState::Failed => "failed",
    }
}

fn breaker_name(b: BreakerState) -> &'static str {
    match b {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half-open",
    }
}

fn replica_name(r: ReplicaState) -> &'static str {
    match r {
        ReplicaState::Serving => "serving",
        ReplicaState::Rebuilding => "rebuilding",
        ReplicaState::Validating => "validating",
        ReplicaState::Canary => "canary",
        ReplicaState::RolledBack => "rolled back",
    }
}

const LEADER_NAMES: [&str; 9] = [
    "leader n0",
    "leader n1",
    "leader n2",
    "leader n3",
    "leader n4",
    "leader n5",
    "leader n6",
    "leader n7",
    "leader n8+",
];

/// Layer-2 thread ids.
const L2_INTAKE: u32 = 1;
const L2_SCHEDULER: u32 = 2;
const L2_MESH: u32 = 3;
const L2_BREAKER: u32 = 4;
const L2_REPLICA0: u32 = 10;

/// The observer that turns a running [`Stack`] into trace events. See the
/// [module docs](self) for the tracks.
pub struct StackTracer {
    w: TraceWriter,
    /// Per kernel: process track, control-plane track.
    kernels: Vec<(StateTrack, StateTrack)>,
    slots: Vec<Option<SlotExec>>,
    sg_counts: [u32; 32],
    l2: Vec<StateTrack>,
    cluster: Vec<StateTrack>,
    last_ns: u64,
}

impl StackTracer {
    /// A tracer over `stack` writing to `w`: names every track.
    pub fn new(mut w: TraceWriter, stack: &Stack) -> StackTracer {
        w.process_name(pid::COUNTERS, "counters (sampled every 100 ms)");
        w.process_name(pid::KERNELS, "Layer 1 kernels");
        w.process_name(pid::NEMESIS, "nemesis");
        w.process_name(pid::PLAYBOOKS, "playbooks and governance approvals");
        w.process_name(pid::SAFEGUARDS, "safeguards");
        let n = stack.l1.kernel_count();
        let mut kernels = Vec::with_capacity(n);
        for k in 0..n {
            let name = stack.l1.kernel_name(k as u16).to_string();
            let (tp, tc) = (3 * k as u32 + 1, 3 * k as u32 + 2);
            w.thread_name(pid::KERNELS, tp, &format!("{name} process"));
            w.thread_name(pid::KERNELS, tc, &format!("{name} control plane"));
            w.thread_name(pid::KERNELS, tc + 1, &format!("{name} faults"));
            kernels.push((
                StateTrack::new(pid::KERNELS, tp),
                StateTrack::new(pid::KERNELS, tc),
            ));
        }
        w.thread_name(pid::NEMESIS, 0, "injections");
        let slots = stack.l1.playbook_slot_count();
        for s in 0..slots {
            w.thread_name(pid::PLAYBOOKS, s as u32, &format!("executor slot {s}"));
        }
        w.thread_name(pid::SAFEGUARDS, 0, "firings");
        let mut l2 = Vec::new();
        if let Some(layer2) = &stack.l2 {
            w.process_name(pid::LAYER2, "Layer 2 components");
            for (tid, name) in [
                (L2_INTAKE, "HTM queue intake"),
                (L2_SCHEDULER, "scheduler"),
                (L2_MESH, "trigger mesh"),
                (L2_BREAKER, "circuit breaker"),
            ] {
                w.thread_name(pid::LAYER2, tid, name);
                l2.push(StateTrack::new(pid::LAYER2, tid));
            }
            let mut i = 0;
            while layer2.replica(i).is_some() {
                w.thread_name(pid::LAYER2, L2_REPLICA0 + i as u32, &format!("replica {i}"));
                l2.push(StateTrack::new(pid::LAYER2, L2_REPLICA0 + i as u32));
                i += 1;
            }
        }
        let mut cluster = Vec::new();
        if stack.cluster.is_some() {
            w.process_name(pid::CLUSTER, "replicated log (sampled)");
            w.thread_name(pid::CLUSTER, 1, "leader");
            w.thread_name(pid::CLUSTER, 2, "network");
            cluster.push(StateTrack::new(pid::CLUSTER, 1));
            cluster.push(StateTrack::new(pid::CLUSTER, 2));
        }
        StackTracer {
            w,
            kernels,
            slots: vec![None; slots],
            sg_counts: [0; 32],
            l2,
            cluster,
            last_ns: 0,
        }
    }

    /// The writer (for events the runner knows about: faults).
    pub fn writer(&mut self) -> &mut TraceWriter {
        &mut self.w
    }

    /// A fault aimed at kernel `kernel`, injected at `at` for `length_ns`:
    /// a slice on the kernel's `faults` track (what the nemesis did to it;
    /// the process and control-plane tracks show what happened).
    pub fn kernel_fault(&mut self, kernel: u16, name: &str, at: SimTime, length_ns: u64) {
        if (kernel as usize) < self.kernels.len() {
            self.w.slice(
                pid::KERNELS,
                3 * kernel as u32 + 3,
                name,
                "fault",
                at.as_nanos(),
                length_ns,
                &[("length_s", Arg::F64(length_ns as f64 / 1e9))],
            );
        }
    }

    /// Look at the stack after an event at `now`: write the slices of the
    /// states that ended and the safeguard firings since the last call.
    pub fn observe(&mut self, stack: &Stack, now: SimTime) {
        let t = now.as_nanos();
        self.last_ns = t;
        for (k, (tp, tc)) in self.kernels.iter_mut().enumerate() {
            let k = k as u16;
            tp.set(&mut self.w, stack.l1.kernel_process_name(k), t);
            tc.set(&mut self.w, kernel_status_name(stack.l1.kernel_state(k)), t);
        }
        for i in 0..self.slots.len() {
            let view = stack.l1.playbook_slot(i);
            let cur = &mut self.slots[i];
            let same_exec = match (&*cur, &view) {
                (Some(c), Some(v)) => {
                    c.playbook == v.playbook && c.target == v.target && v.step >= c.step
                }
                _ => false,
            };
            if !same_exec {
                if let Some(c) = cur.take() {
                    Self::end_phase(&mut self.w, i, &c, t);
                    self.w.slice(
                        pid::PLAYBOOKS,
                        i as u32,
                        &c.playbook,
                        "playbook",
                        c.since_ns,
                        t - c.since_ns,
                        &[("target", Arg::U64(c.target as u64))],
                    );
                }
                if let Some(v) = view {
                    *cur = Some(SlotExec {
                        playbook: v.playbook.to_string(),
                        target: v.target,
                        since_ns: t,
                        step: v.step,
                        acting: v.acting,
                        phase_since_ns: t,
                        action: format!("{:?}", v.action),
                        intent: v.intent.name(),
                        tier: v.intent.tier(),
                    });
                }
            } else if let (Some(c), Some(v)) = (cur.as_mut(), view)
                && (c.step != v.step || c.acting != v.acting)
            {
                Self::end_phase(&mut self.w, i, c, t);
                if c.step != v.step {
                    self.w.instant(
                        pid::PLAYBOOKS,
                        i as u32,
                        "step done",
                        "playbook",
                        t,
                        &[
                            ("playbook", Arg::Str(&c.playbook)),
                            ("step", Arg::U64(c.step as u64)),
                            ("action", Arg::Str(&c.action)),
                            ("target", Arg::U64(c.target as u64)),
                        ],
                    );
                }
                c.step = v.step;
                c.acting = v.acting;
                c.phase_since_ns = t;
                c.action = format!("{:?}", v.action);
                c.intent = v.intent.name();
                c.tier = v.intent.tier();
            }
        }
        for &sg in Safeguard::ALL {
            let mut c = stack.l1.safeguards().count(sg);
            if let Some(l2) = &stack.l2 {
                c = c.saturating_add(l2.safeguards().count(sg));
            }
            if let Some(cl) = &stack.cluster {
                c = c.saturating_add(cl.safeguards().count(sg));
            }
            let i = sg as usize;
            if c > self.sg_counts[i] {
                let name = sg.to_string();
                self.w.instant(
                    pid::SAFEGUARDS,
                    0,
                    &name,
                    "safeguard",
                    t,
                    &[
                        ("safeguard", Arg::Str(&name)),
                        ("count", Arg::U64(c as u64)),
                        ("new_firings", Arg::U64((c - self.sg_counts[i]) as u64)),
                    ],
                );
                self.sg_counts[i] = c;
            }
        }
        if let Some(l2) = &stack.l2
            && self.l2.len() >= 4
        {
            let intake = if l2.intake_guarded() {
                "guarded"
            } else {
                "normal"
            };
            self.l2[0].set(&mut self.w, intake, t);
            let mesh = if l2.mesh_backpressure_engaged() {
                "backpressure"
            } else {
                "normal"
            };
            self.l2[2].set(&mut self.w, mesh, t);
            for i in 4..self.l2.len() {
                if let Some(r) = l2.replica(i - 4) {
                    self.l2[i].set(&mut self.w, replica_name(r.state), t);
                }
            }
        }
    }

    fn end_phase(w: &mut TraceWriter, slot: usize, c: &SlotExec, t: u64) {
        let dur = t - c.phase_since_ns;
        if c.acting {
            w.slice(
                pid::PLAYBOOKS,
                slot as u32,
                &c.action,
                "step",
                c.phase_since_ns,
                dur,
                &[("step", Arg::U64(c.step as u64))],
            );
        } else if dur > 0 {
            let name = format!("approval: {} (tier {})", c.intent, c.tier);
            w.slice(
                pid::PLAYBOOKS,
                slot as u32,
                &name,
                "governance",
                c.phase_since_ns,
                dur,
                &[
                    ("intent", Arg::Str(c.intent)),
                    ("tier", Arg::U64(c.tier as u64)),
                    ("wait_s", Arg::F64(dur as f64 / 1e9)),
                ],
            );
        }
    }

    /// The 100 ms sample: counters and the sampled component states.
    pub fn sample(&mut self, stack: &Stack, now: SimTime) {
        let t = now.as_nanos();
        let p = stack.l1.probe(now);
        self.w.counter(
            "kernels running",
            t,
            &[("running", p.kernels_running as f64)],
        );
        self.w.counter(
            "bus",
            t,
            &[
                ("backlog (msgs)", stack.l1.bus_backlog() as f64),
                ("latency (ms)", p.bus_latency_ms as f64),
            ],
        );
        self.w.counter(
            "resource use (permille)",
            t,
            &[
                ("cpu", p.cpu_permille as f64),
                ("memory", p.memory_permille as f64),
                ("disk", p.disk_permille as f64),
                ("network", p.network_permille as f64),
            ],
        );
        self.w.counter(
            "API success (permille)",
            t,
            &[("success", p.api_success_permille as f64)],
        );
        self.w.counter(
            "approval backlog (s)",
            t,
            &[("backlog", stack.l1.approval_backlog(now).as_secs_f64())],
        );
        if let Some(l2) = &stack.l2 {
            let q = l2.probe(now);
            self.w.counter(
                "HTM queue",
                t,
                &[
                    ("queue depth", q.queue_depth as f64),
                    ("workers alive", q.workers_alive as f64),
                ],
            );
            self.w.counter(
                "trigger mesh backlog",
                t,
                &[("backlog", q.mesh_backlog as f64)],
            );
            if self.l2.len() >= 4 {
                let sched = if q.scheduler_running {
                    "running"
                } else {
                    "paused"
                };
                self.l2[1].set(&mut self.w, sched, t);
                self.l2[3].set(&mut self.w, breaker_name(q.breaker), t);
            }
        }
        if let Some(c) = &stack.cluster
            && self.cluster.len() == 2
        {
            let q = c.probe(now);
            let leader = match q.leader {
                Some(n) => LEADER_NAMES[(n as usize).min(8)],
                None => "no leader",
            };
            self.cluster[0].set(&mut self.w, leader, t);
            let net = if q.partitioned {
                "partitioned"
            } else {
                "connected"
            };
            self.cluster[1].set(&mut self.w, net, t);
            self.w
                .counter("clients", t, &[("success rate", q.success_rate())]);
        }
    }

    /// Close every open slice at `end` and finish the document.
    pub fn finish(mut self, end: SimTime) -> io::Result<u64> {
        let t = end.as_nanos().max(self.last_ns);
        for (tp, tc) in &mut self.kernels {
            tp.close(&mut self.w, t);
            tc.close(&mut self.w, t);
        }
        for i in 0..self.slots.len() {
            if let Some(c) = self.slots[i].take() {
                Self::end_phase(&mut self.w, i, &c, t);
                self.w.slice(
                    pid::PLAYBOOKS,
                    i as u32,
                    &c.playbook,
                    "playbook",
                    c.since_ns,
                    t - c.since_ns,
                    &[
                        ("target", Arg::U64(c.target as u64)),
                        ("unfinished", Arg::U64(1)),
                    ],
                );
            }
        }
        for s in self.l2.iter_mut().chain(self.cluster.iter_mut()) {
            s.close(&mut self.w, t);
        }
        self.w.finish()
    }
}
