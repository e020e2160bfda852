//! 5W1H narratives of Layer-2 decisions (dispatch, shed, reroute), one JSON
//! object per line: `who`, `what`, `when_ns`, `where`, `why` (a list of
//! reasons), `how`, plus the decision's numbers.
//!
//! Off by default: with no writer attached every call returns at once and
//! builds nothing. With one, each line is written as it is produced with
//! `write!` (no `String` per line); all text is static, so no escaping is needed.

use std::io::Write;

use crate::engine::SimTime;

/// One reason in a narrative's `why` list.
#[derive(Clone, Copy, Debug)]
pub enum Why {
    /// A plain reason (`"heartbeat_missing"`).
    Text(&'static str),
    /// A named number (`"queue_depth=1200"`).
    Num(&'static str, u64),
}

/// The narrative sink: optional writer.
#[derive(Default)]
pub struct Narrator {
    out: Option<Box<dyn Write>>,
    failed: bool,
}

impl Narrator {
    /// A narrator writing to `out`.
    pub fn new(out: Box<dyn Write>) -> Narrator {
        Narrator {
            out: Some(out),
            failed: false,
        }
    }

    /// Whether a write failed.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Flush the writer, if any.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }

    fn why(out: &mut dyn Write, why: &[Why]) -> std::io::Result<()> {
        out.write_all(b"[")?;
        for (i, w) in why.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            match *w {
                Why::Text(t) => write!(out, "\"{t}\"")?,
                Why::Num(k, v) => write!(out, "\"{k}={v}\"")?,
            }
        }
        out.write_all(b"]")
    }

    /// The scheduler dispatched `task` to `worker` (least loaded, at `load`).
    #[allow(clippy::too_many_arguments)]
    pub fn dispatch(
        &mut self,
        now: SimTime,
        task: u32,
        worker: u16,
        load: u8,
        priority: u8,
        attempt: u8,
        how: &'static str,
    ) {
        let Some(out) = self.out.as_mut() else { return };
        let r = (|| {
            write!(
                out,
                "{{\"who\":\"scheduler\",\"what\":\"dispatch\",\"when_ns\":{},\"where\":\"worker:{worker}\",\"why\":",
                now.as_nanos()
            )?;
            Self::why(
                out.as_mut(),
                &[
                    Why::Text("least_loaded_alive_worker"),
                    Why::Num("worker_load", load as u64),
                    Why::Num("priority", priority as u64),
                    Why::Num("attempt", attempt as u64),
                ],
            )?;
            writeln!(out, ",\"how\":\"{how}\",\"task\":{task}}}")
        })();
        self.failed |= r.is_err();
    }

    /// `n` tasks of priority `level` were shed.
    pub fn shed(
        &mut self,
        now: SimTime,
        who: &'static str,
        level: u8,
        n: u64,
        priority_below: u8,
        older_than_ns: u64,
    ) {
        let Some(out) = self.out.as_mut() else { return };
        let r = (|| {
            write!(
                out,
                "{{\"who\":\"{who}\",\"what\":\"shed\",\"when_ns\":{},\"where\":\"htm_queue:priority{level}\",\"why\":",
                now.as_nanos()
            )?;
            Self::why(
                out.as_mut(),
                &[
                    Why::Text("queue_above_critical"),
                    Why::Num("priority_below", priority_below as u64),
                    Why::Num("older_than_ns", older_than_ns),
                ],
            )?;
            writeln!(out, ",\"how\":\"drop_oldest_first\",\"count\":{n}}}")
        })();
        self.failed |= r.is_err();
    }

    /// Work of `kind` `from` was moved to `to` (`u16::MAX` = the queue head).
    #[allow(clippy::too_many_arguments)]
    pub fn reroute(
        &mut self,
        now: SimTime,
        who: &'static str,
        how: &'static str,
        kind: &'static str,
        from: u16,
        to: u16,
        amount: u64,
        why: &[Why],
    ) {
        let Some(out) = self.out.as_mut() else { return };
        let r = (|| {
            write!(
                out,
                "{{\"who\":\"{who}\",\"what\":\"reroute\",\"when_ns\":{},\"where\":\"{kind}:{from}->",
                now.as_nanos()
            )?;
            if to == u16::MAX {
                write!(out, "htm_queue_head\",\"why\":")?;
            } else {
                write!(out, "{kind}:{to}\",\"why\":")?;
            }
            Self::why(out.as_mut(), why)?;
            writeln!(out, ",\"how\":\"{how}\",\"amount\":{amount}}}")
        })();
        self.failed |= r.is_err();
    }
}
