//! The stack under test, as components on the engine.
//!
//! Each layer of the stack is a [`Component`]: it owns its state and its own
//! small event `enum`, and handles its events inside a [`Ctx`] whose event
//! type is the *enclosing* model's, converting with `From`. That lets one
//! stack instance compose several layers (and several concurrent scenarios)
//! into one [`Simulation`](crate::engine::Simulation), while each layer is
//! still tested alone through [`Solo`].
//!
//! **Invariant:** model code never reads files, prints, or decides pass/fail;
//! it exposes probes (what an observer can measure) and a
//! [`SafeguardLog`](crate::safeguard::SafeguardLog) of what fired.
//!
//! **Invariant:** each component draws only from its own random streams,
//! derived from the [`SeedPath`](crate::engine::SeedPath) it was built with.
//!
//! # Event kind codes
//! Kind codes ([`EventInfo::kind`]) are folded into digests, so they must be
//! unique across the components of one model and stable. Ranges:
//!
//! | range | component |
//! |---|---|
//! | 100..=199 | `layer1` (kernels, control plane, bus, resources, API, playbooks) |
//! | 200..=299 | `layer2` (HTM queue, workers, scheduler, trigger mesh, policies) |
//! | 300..=399 | `cluster` (replicated log, clocks, network, clients) |
//! | 400..=499 | scenario driver (faults, probes) |
//! | 500..=599 | `sweep` (chaos proxy, agent) |

pub mod cluster;
pub mod governance;
pub mod layer1;
pub mod layer2;
pub mod stack;

use crate::engine::{Ctx, EventInfo, Model};

/// A part of the stack with its own event type, composable into a larger model.
pub trait Component {
    /// The component's events.
    type Event: EventInfo;
    /// Handle one of this component's events; schedule follow-ups with
    /// `ctx.schedule_in(d, MyEvent::X.into())`.
    fn handle<E: From<Self::Event>>(&mut self, event: Self::Event, ctx: &mut Ctx<'_, E>);
}

/// Run one component alone as a [`Model`] (for tests and standalone use).
pub struct Solo<C>(pub C);

impl<C: Component> Model for Solo<C> {
    type Event = C::Event;
    fn handle(&mut self, event: C::Event, ctx: &mut Ctx<'_, C::Event>) {
        self.0.handle(event, ctx);
    }
}
