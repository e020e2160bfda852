//! Client processes: closed-loop, one operation at a time, recorded in the
//! history as invoke then ok / fail / info.

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
