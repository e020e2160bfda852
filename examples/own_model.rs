//! Your own model on chaosim's engine: a single-server queue (M/M/1) with
//! seeded exponential arrivals and services, run on the virtual clock.
//!
//! ```sh
//! cargo run --example own_model
//! ```
//!
//! The engine knows nothing of chaos, kernels or files: a model is a struct
//! and an event enum, `handle` is called for each event in (time, schedule
//! order) order, and randomness comes from streams derived from the seed,
//! so the same seed gives the same run (and digest) on every machine.

use chaosim::engine::{
    Ctx, EventInfo, Model, RngDraws, SeedPath, SimDuration, SimRng, SimTime, Simulation,
};

/// The queue's events: small, `Copy`, no strings.
#[derive(Clone, Copy, Debug)]
enum Ev {
    Arrival,
    Departure,
}

impl EventInfo for Ev {
    fn kind(&self) -> u16 {
        match self {
            Ev::Arrival => 0,
            Ev::Departure => 1,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            Ev::Arrival => "arrival",
            Ev::Departure => "departure",
        }
    }
    fn target(&self) -> u32 {
        0
    }
}

/// The state: queue length (waiting + in service) and what we measure.
struct Queue {
    arrival_mean_ns: f64,
    service_mean_ns: f64,
    arrivals: SimRng,
    services: SimRng,
    in_system: u64,
    served: u64,
    /// Integral of the number in the system over time (for its mean).
    area_ns: u128,
    last_ns: u64,
}

impl Queue {
    fn advance(&mut self, now: SimTime) {
        let t = now.as_nanos();
        self.area_ns += u128::from(self.in_system) * u128::from(t - self.last_ns);
        self.last_ns = t;
    }
}

impl Model for Queue {
    type Event = Ev;
    fn handle(&mut self, ev: Ev, ctx: &mut Ctx<'_, Ev>) {
        self.advance(ctx.now());
        match ev {
            Ev::Arrival => {
                self.in_system += 1;
                if self.in_system == 1 {
                    let s = self.services.exp_ns(self.service_mean_ns);
                    ctx.schedule_in(SimDuration::from_nanos(s), Ev::Departure);
                }
                let a = self.arrivals.exp_ns(self.arrival_mean_ns);
                ctx.schedule_in(SimDuration::from_nanos(a), Ev::Arrival);
            }
            Ev::Departure => {
                self.in_system -= 1;
                self.served += 1;
                if self.in_system > 0 {
                    let s = self.services.exp_ns(self.service_mean_ns);
                    ctx.schedule_in(SimDuration::from_nanos(s), Ev::Departure);
                }
            }
        }
    }
}

/// Run the queue at utilisation `rho` for `seconds` simulated seconds:
/// (customers served, mean number in the system, digest).
fn run(seed: u64, rho: f64, seconds: u64) -> (u64, f64, String) {
    let root = SeedPath::root(seed);
    let model = Queue {
        arrival_mean_ns: 1e9 / rho,
        service_mean_ns: 1e9,
        // One stream per component: a new component never shifts these.
        arrivals: root.child("arrivals").rng(),
        services: root.child("services").rng(),
        in_system: 0,
        served: 0,
        area_ns: 0,
        last_ns: 0,
    };
    let mut sim = Simulation::new(model, seed);
    sim.schedule_at(SimTime::ZERO, Ev::Arrival);
    let end = SimTime::ZERO + SimDuration::from_secs(seconds);
    sim.run_until(end).expect("the queue stays bounded");
    let digest = sim.digest().to_string();
    let q = sim.model_mut();
    q.advance(end);
    let mean = q.area_ns as f64 / end.as_nanos() as f64;
    (q.served, mean, digest)
}

fn main() {
    let rho = 0.5;
    let (served, mean, digest) = run(42, rho, 200_000);
    // M/M/1: the mean number in the system is rho / (1 - rho).
    let theory = rho / (1.0 - rho);
    println!(
        "M/M/1 at rho {rho}: {served} served, mean in system {mean:.3} (theory {theory:.3}), digest {digest}"
    );
    assert!((mean - theory).abs() < 0.1 * theory, "{mean} vs {theory}");
    // Same seed, same run: the digest proves it.
    assert_eq!(run(42, rho, 200_000).2, digest);
    assert_ne!(run(43, rho, 200_000).2, digest);
}

#[cfg(test)]
mod tests {
    /// `cargo test` runs the example (see `[[example]]` in Cargo.toml).
    #[test]
    fn the_example_runs() {
        super::main();
    }
}
