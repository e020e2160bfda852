//! Client processes: closed-loop, one operation at a time, recorded in the
//! history as invoke then ok / fail / info.

use super::*;
use crate::engine::{EventKey, SimRng};

/// The operation a client has in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// Append (`Some(value)`) or read (`None`).
    pub append_value: Option<u32>,
    /// Compare-and-set expectation carried by every attempt of this append.
    pub expected_len: Option<u32>,
    /// The smallest expectation used by any attempt of this append.
    pub since_len: u32,
    /// An attempt may have taken effect (it timed out): a final failure is
    /// then `info`, never `fail`.
    pub maybe_applied: bool,
    /// Retries used (timeouts and redirects).
    pub retries: u8,
    /// CAS mismatches seen (bounded separately).
    pub cas_retries: u8,
}

/// One client process.
#[derive(Debug)]
pub struct Client {
    /// Id (history process number).
    pub id: u16,
    /// An extra writer of a `ConcurrentWriters` fault (appends only,
    /// aggressive timeout).
    pub writer: bool,
    /// Issues operations (extra writers are inactive outside their fault).
    pub active: bool,
    /// Node it talks to for appends (the leader it believes in).
    pub node_hint: u16,
    /// Node its reads go to first (Jepsen clients are bound to a node);
    /// a node that does not lead redirects them.
    pub home: u16,
    /// Log length last reported by a node (the CAS expectation).
    pub known_len: u32,
    /// Current attempt number (replies to older attempts are ignored).
    pub attempt: u32,
    /// The operation in flight.
    pub op: Option<InFlight>,
    /// The pending timeout.
    pub timeout_key: Option<EventKey>,
    /// Whether a "start next op" event is pending.
    pub start_pending: bool,
    /// The client's random stream.
    pub rng: SimRng,
    /// The fault that started this client (extra writers): the cause of
    /// the conflicts its appends meet.
    pub cause: Option<crate::safeguard::Cause>,
}

impl Cluster {
    // ----- clients ------------------------------------------------------

    pub(super) fn schedule_start<E: From<ClusterEvent>>(&mut self, c: usize, ctx: &mut Ctx<'_, E>) {
        let cl = &mut self.clients[c];
        if cl.start_pending || !cl.active {
            return;
        }
        let rate = if cl.writer {
            self.spec.writer_op_rate_per_s as f64
        } else {
            self.spec.client_op_rate_per_s as f64 * (1000 + self.load_permille as u32) as f64
                / 1000.0
        };
        let think = cl.rng.exp_ns(1e9 / rate);
        cl.start_pending = true;
        ctx.schedule_in(
            SimDuration::from_nanos(think),
            ClusterEvent::ClientStart { client: c as u16 }.into(),
        );
    }

    pub(super) fn client_start<E: From<ClusterEvent>>(&mut self, c: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let cl = &mut self.clients[c];
        cl.start_pending = false;
        if !cl.active || cl.op.is_some() {
            return;
        }
        let append = cl.writer || cl.rng.below(1000) < self.spec.append_per_mille as u64;
        let (f, value) = if append {
            let v = self.next_value;
            self.next_value += 1;
            (OpFn::Append, v)
        } else {
            (OpFn::Read, 0)
        };
        cl.op = Some(InFlight {
            append_value: append.then_some(value),
            // Always carried (compare_and_set's shadow detector reads it);
            // only a deployed compare_and_set acts on it.
            expected_len: append.then_some(cl.known_len),
            since_len: cl.known_len,
            maybe_applied: false,
            retries: 0,
            cas_retries: 0,
        });
        self.history.record(Op {
            process: c as u32,
            f,
            ty: OpType::Invoke,
            time: now,
            value,
            index: 0,
            term: 0,
        });
        self.send_attempt(c, ctx);
    }

    pub(super) fn send_attempt<E: From<ClusterEvent>>(&mut self, c: usize, ctx: &mut Ctx<'_, E>) {
        let cl = &mut self.clients[c];
        let Some(op) = cl.op else { return };
        cl.attempt += 1;
        let attempt = cl.attempt;
        let timeout = if cl.writer {
            self.spec.writer_timeout_ns
        } else {
            self.spec.client_timeout_ns
        };
        if let Some(k) = cl.timeout_key.take() {
            ctx.cancel(k);
        }
        cl.timeout_key = Some(
            ctx.schedule_in(
                SimDuration::from_nanos(timeout),
                ClusterEvent::ClientTimeout {
                    client: c as u16,
                    attempt,
                }
                .into(),
            ),
        );
        let to = if op.append_value.is_none() && op.retries == 0 {
            cl.home
        } else {
            cl.node_hint
        };
        let body_op = match op.append_value {
            Some(value) => ClientOp::Append {
                value,
                expected_len: op.expected_len,
                since_len: op.since_len,
            },
            None => ClientOp::Read,
        };
        let from = self.n as u16 + c as u16;
        self.send(
            from,
            to,
            Body::Request {
                client: c as u16,
                attempt,
                op: body_op,
            },
            ctx,
        );
    }

    pub(super) fn complete<E: From<ClusterEvent>>(
        &mut self,
        c: usize,
        ty: OpType,
        index: u32,
        term: u32,
        value: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let cl = &mut self.clients[c];
        let Some(op) = cl.op.take() else { return };
        if let Some(k) = cl.timeout_key.take() {
            ctx.cancel(k);
        }
        let (f, value) = match op.append_value {
            Some(v) => (OpFn::Append, v),
            None => (OpFn::Read, value),
        };
        self.history.record(Op {
            process: c as u32,
            f,
            ty,
            time: now,
            value,
            index,
            term,
        });
        let sec = now.as_nanos() / 1_000_000_000;
        let nb = self.buckets.len() as u64;
        let b = &mut self.buckets[(sec % nb) as usize];
        if b.second != sec || b.completed == 0 {
            *b = Bucket {
                second: sec,
                ok: 0,
                completed: 0,
            };
        }
        b.completed += 1;
        if ty == OpType::Ok {
            b.ok += 1;
        }
        self.schedule_start(c, ctx);
    }

    /// Retry the in-flight op (after a timeout or redirect) or give up.
    pub(super) fn retry_or_give_up<E: From<ClusterEvent>>(
        &mut self,
        c: usize,
        ctx: &mut Ctx<'_, E>,
    ) {
        let cl = &mut self.clients[c];
        let Some(op) = cl.op.as_mut() else { return };
        if op.retries < self.spec.client_retries_max {
            op.retries += 1;
            self.send_attempt(c, ctx);
        } else {
            let ty = if op.maybe_applied {
                OpType::Info
            } else {
                OpType::Fail
            };
            self.complete(c, ty, 0, 0, 0, ctx);
        }
    }

    pub(super) fn on_client_msg<E: From<ClusterEvent>>(
        &mut self,
        c: usize,
        msg: Msg,
        ctx: &mut Ctx<'_, E>,
    ) {
        let Body::Response {
            attempt,
            len,
            result,
        } = msg.body
        else {
            return;
        };
        let n = self.n as u16;
        let cl = &mut self.clients[c];
        if attempt != cl.attempt || cl.op.is_none() {
            return;
        }
        cl.known_len = len;
        match result {
            ClientResult::Ok { index, term, value } => {
                cl.node_hint = msg.from;
                if let Some(v) = cl.op.and_then(|op| op.append_value) {
                    self.note_ack(index, v, ctx.now());
                }
                self.complete(c, OpType::Ok, index, term, value, ctx);
            }
            ClientResult::NotLeader { hint } => {
                cl.node_hint = hint.unwrap_or((msg.from + 1) % n);
                self.retry_or_give_up(c, ctx);
            }
            ClientResult::CasMismatch { len } => {
                let op = cl.op.as_mut().expect("checked");
                if op.cas_retries < 8 {
                    op.cas_retries += 1;
                    op.expected_len = Some(len);
                    op.since_len = op.since_len.min(len);
                    self.send_attempt(c, ctx);
                } else {
                    let ty = if op.maybe_applied {
                        OpType::Info
                    } else {
                        OpType::Fail
                    };
                    self.complete(c, ty, 0, 0, 0, ctx);
                }
            }
            ClientResult::Unavailable => {
                self.complete(c, OpType::Fail, 0, 0, 0, ctx);
            }
        }
    }

    pub(super) fn client_timeout<E: From<ClusterEvent>>(
        &mut self,
        c: usize,
        attempt: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let n = self.n as u16;
        let cl = &mut self.clients[c];
        if attempt != cl.attempt {
            return;
        }
        cl.timeout_key = None;
        let Some(op) = cl.op.as_mut() else { return };
        if op.append_value.is_some() {
            op.maybe_applied = true;
        }
        cl.node_hint = (cl.node_hint + 1) % n;
        self.retry_or_give_up(c, ctx);
    }

    // ----- faults -------------------------------------------------------

    pub(super) fn current_leader(&self) -> Option<u16> {
        self.nodes
            .iter()
            .filter(|n| n.alive() && n.role == Role::Leader)
            .max_by(|a, b| a.epoch.cmp(&b.epoch).then(b.id.cmp(&a.id)))
            .map(|n| n.id)
    }

    pub(super) fn pick(&mut self, node: Option<u16>) -> Option<usize> {
        match node {
            Some(nemesis::PRIMARY) => match self.current_leader() {
                Some(l) => Some(l as usize),
                None => Some(self.nemesis_rng.below(self.n as u64) as usize),
            },
            Some(x) if (x as usize) < self.n => Some(x as usize),
            Some(_) => None,
            None => Some(self.nemesis_rng.below(self.n as u64) as usize),
        }
    }
}
