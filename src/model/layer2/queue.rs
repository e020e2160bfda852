//! A small, reusable queueing-station API: arrival processes, service-time
//! distributions, `c` servers, FIFO or priority order, an optional capacity
//! with rejection. The Layer-2 model uses the same [`ArrivalProcess`] and
//! [`ServiceDist`] types for its background load and its workers, and
//! [`Station`] is a [`Component`] so a user can build and validate a queue
//! model in a few lines.
//!
//! ```
//! use chaosim::model::layer2::queue::{ArrivalProcess, Discipline, ServiceDist, StationSpec, simulate};
//!
//! // M/M/1 at utilisation 0.5: lambda = 0.5/s, mu = 1/s.
//! let spec = StationSpec {
//!     arrivals: ArrivalProcess::Poisson { rate_per_s: 0.5 },
//!     service: ServiceDist::Exponential { mean_ns: 1e9 },
//!     servers: 1,
//!     discipline: Discipline::Fifo,
//!     capacity: None,
//!     priority_levels: 1,
//! };
//! let stats = simulate(&spec, 7, 200_000, 1_000).unwrap();
//! // Queueing theory: Wq = rho / (mu - lambda) = 0.5 / 0.5 = 1 s.
//! assert!((stats.mean_wait_s() - 1.0).abs() < 0.05, "{}", stats.mean_wait_s());
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

use crate::engine::{Ctx, EventInfo, RngDraws, SeedPath, SimDuration, SimRng, SimTime, Simulation};
use crate::model::{Component, Solo};

/// How jobs arrive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ArrivalProcess {
    /// Poisson arrivals (exponential gaps) at `rate_per_s`.
    Poisson {
        /// Mean arrivals per second (> 0).
        rate_per_s: f64,
    },
    /// Evenly spaced arrivals at `rate_per_s`.
    Fixed {
        /// Arrivals per second (> 0).
        rate_per_s: f64,
    },
    /// Poisson bursts: bursts arrive at `bursts_per_s`, each carrying `size` jobs.
    Bursts {
        /// Mean bursts per second (> 0).
        bursts_per_s: f64,
        /// Jobs per burst (>= 1).
        size: u32,
    },
}

impl ArrivalProcess {
    /// Check the parameters; `field` names the field in errors.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        let (rate, size) = match *self {
            ArrivalProcess::Poisson { rate_per_s } | ArrivalProcess::Fixed { rate_per_s } => {
                (rate_per_s, 1)
            }
            ArrivalProcess::Bursts { bursts_per_s, size } => (bursts_per_s, size),
        };
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e9) {
            return Err(FieldError::new(
                field,
                format!("rate {rate} out of range (allowed (0, 1e9] per s)"),
            ));
        }
        if size == 0 {
            return Err(FieldError::new(field, "burst size 0 (allowed >= 1)"));
        }
        Ok(())
    }

    /// The gap to the next arrival (or burst), in nanoseconds.
    pub fn next_gap_ns(&self, rng: &mut SimRng) -> u64 {
        match *self {
            ArrivalProcess::Poisson { rate_per_s } => rng.exp_ns(1e9 / rate_per_s),
            ArrivalProcess::Fixed { rate_per_s } => ((1e9 / rate_per_s) as u64).max(1),
            ArrivalProcess::Bursts { bursts_per_s, .. } => rng.exp_ns(1e9 / bursts_per_s),
        }
    }

    /// Jobs per arrival instant (1 except for bursts).
    pub fn batch(&self) -> u32 {
        match *self {
            ArrivalProcess::Bursts { size, .. } => size,
            _ => 1,
        }
    }

    /// Mean jobs per second.
    pub fn mean_rate_per_s(&self) -> f64 {
        match *self {
            ArrivalProcess::Poisson { rate_per_s } | ArrivalProcess::Fixed { rate_per_s } => {
                rate_per_s
            }
            ArrivalProcess::Bursts { bursts_per_s, size } => bursts_per_s * size as f64,
        }
    }
}

/// How long a job takes to serve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ServiceDist {
    /// Exponential with mean `mean_ns`.
    Exponential {
        /// Mean service time, ns (> 0).
        mean_ns: f64,
    },
    /// Always `ns`.
    Deterministic {
        /// Service time, ns (> 0).
        ns: u64,
    },
    /// Log-normal with the given mean and shape `sigma` (standard deviation
    /// of the underlying normal); sampled by Box-Muller from the stream.
    LogNormal {
        /// Mean service time, ns (> 0).
        mean_ns: f64,
        /// Shape, in [0, 4].
        sigma: f64,
    },
}

impl ServiceDist {
    /// Check the parameters; `field` names the field in errors.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        match *self {
            ServiceDist::Exponential { mean_ns } | ServiceDist::LogNormal { mean_ns, .. }
                if !(1.0..=1e15).contains(&mean_ns) =>
            {
                Err(FieldError::new(
                    field,
                    format!("mean_ns {mean_ns} out of range (allowed [1, 1e15])"),
                ))
            }
            ServiceDist::LogNormal { sigma, .. } if !(0.0..=4.0).contains(&sigma) => {
                Err(FieldError::new(
                    field,
                    format!("sigma {sigma} out of range (allowed [0, 4])"),
                ))
            }
            ServiceDist::Deterministic { ns: 0 } => {
                Err(FieldError::new(field, "ns 0 (allowed >= 1)"))
            }
            _ => Ok(()),
        }
    }

    /// Draw one service time, in nanoseconds (at least 1).
    pub fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        match *self {
            ServiceDist::Exponential { mean_ns } => rng.exp_ns(mean_ns).max(1),
            ServiceDist::Deterministic { ns } => ns,
            ServiceDist::LogNormal { mean_ns, sigma } => {
                // Box-Muller: one standard normal from two uniforms.
                let u1 = 1.0 - rng.unit_f64();
                let u2 = rng.unit_f64();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let mu = mean_ns.ln() - sigma * sigma / 2.0;
                let x = (mu + sigma * z).exp();
                if x >= 1e18 {
                    1_000_000_000_000_000_000
                } else {
                    (x as u64).max(1)
                }
            }
        }
    }

    /// The mean service time, ns.
    pub fn mean_ns(&self) -> f64 {
        match *self {
            ServiceDist::Exponential { mean_ns } | ServiceDist::LogNormal { mean_ns, .. } => {
                mean_ns
            }
            ServiceDist::Deterministic { ns } => ns as f64,
        }
    }
}

/// Queue order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Discipline {
    /// First come, first served.
    Fifo,
    /// Highest priority level first, FIFO within a level.
    Priority,
}

/// A queueing station: arrivals, `servers` servers, order, capacity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationSpec {
    /// Arrival process.
    pub arrivals: ArrivalProcess,
    /// Service-time distribution.
    pub service: ServiceDist,
    /// Number of servers, in [1, 100000].
    pub servers: u32,
    /// Queue order.
    pub discipline: Discipline,
    /// Maximum number of *waiting* jobs; arrivals beyond it are rejected.
    /// `None` = unbounded.
    pub capacity: Option<u32>,
    /// Priority levels, in [1, 64]; each job draws a level uniformly
    /// (level `priority_levels - 1` is served first under [`Discipline::Priority`]).
    pub priority_levels: u8,
}

impl StationSpec {
    /// Check the parameters.
    pub fn validate(&self) -> Result<(), FieldError> {
        self.arrivals.validate("arrivals")?;
        self.service.validate("service")?;
        if !(1..=100_000).contains(&self.servers) {
            return Err(FieldError::new(
                "servers",
                format!("{} (allowed 1..=100000)", self.servers),
            ));
        }
        if !(1..=64).contains(&self.priority_levels) {
            return Err(FieldError::new(
                "priority_levels",
                format!("{} (allowed 1..=64)", self.priority_levels),
            ));
        }
        Ok(())
    }
}

/// Events of a [`Station`] (kind codes 290..=292, inside the Layer-2 range).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StationEvent {
    /// The next arrival (or burst).
    Arrive,
    /// Server `server` finishes its job.
    Depart {
        /// Server index.
        server: u32,
    },
}

const _: () = assert!(std::mem::size_of::<StationEvent>() <= 32);

impl EventInfo for StationEvent {
    fn kind(&self) -> u16 {
        match self {
            StationEvent::Arrive => 290,
            StationEvent::Depart { .. } => 291,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            StationEvent::Arrive => "station_arrive",
            StationEvent::Depart { .. } => "station_depart",
        }
    }
    fn target(&self) -> u32 {
        match self {
            StationEvent::Arrive => 0,
            StationEvent::Depart { server } => *server,
        }
    }
}

/// What a station measured (fixed size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StationStats {
    /// Jobs that arrived.
    pub arrivals: u64,
    /// Jobs that started service after the warm-up (counted in the wait sum).
    pub measured: u64,
    /// Jobs that finished service.
    pub served: u64,
    /// Jobs rejected because the queue was full.
    pub rejected: u64,
    /// Sum of the queue waits of the measured jobs, ns.
    pub wait_ns_sum: u128,
    /// Largest number of waiting jobs seen.
    pub max_waiting: u64,
}

impl StationStats {
    /// Mean wait in queue of the measured jobs, seconds (0 if none).
    pub fn mean_wait_s(&self) -> f64 {
        if self.measured == 0 {
            0.0
        } else {
            self.wait_ns_sum as f64 / self.measured as f64 / 1e9
        }
    }
}

/// A queueing station as a [`Component`]. Owns two random streams
/// (`arrivals`, `service`) derived from its [`SeedPath`].
pub struct Station {
    spec: StationSpec,
    arrivals_rng: SimRng,
    service_rng: SimRng,
    waiting: Vec<VecDeque<SimTime>>,
    waiting_len: u64,
    busy: Vec<bool>,
    free: Vec<u32>,
    warmup: u64,
    stop_after_measured: Option<u64>,
    stats: StationStats,
}

impl Station {
    /// A station (spec must be valid) with its streams from `seed`. The first
    /// `warmup` jobs to start service are not counted in the wait statistics.
    pub fn new(spec: &StationSpec, seed: SeedPath, warmup: u64) -> Station {
        let levels = spec.priority_levels.max(1) as usize;
        Station {
            spec: spec.clone(),
            arrivals_rng: seed.child("arrivals").rng(),
            service_rng: seed.child("service").rng(),
            waiting: (0..levels).map(|_| VecDeque::new()).collect(),
            waiting_len: 0,
            busy: vec![false; spec.servers as usize],
            free: (0..spec.servers).rev().collect(),
            warmup,
            stop_after_measured: None,
            stats: StationStats::default(),
        }
    }

    /// Ask the run to stop once `n` measured jobs (after the warm-up) have
    /// started service, i.e. once `n` waits are known.
    pub fn stop_after_measured(mut self, n: u64) -> Station {
        self.stop_after_measured = Some(n);
        self
    }

    /// The statistics so far.
    pub fn stats(&self) -> StationStats {
        self.stats
    }

    /// Jobs waiting now.
    pub fn waiting(&self) -> u64 {
        self.waiting_len
    }

    /// Schedule the first arrival at `ctx.now()`.
    pub fn start<E: From<StationEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        ctx.schedule_in(SimDuration::ZERO, StationEvent::Arrive.into());
    }

    fn begin<E: From<StationEvent>>(
        &mut self,
        server: u32,
        arrived: SimTime,
        ctx: &mut Ctx<'_, E>,
    ) {
        self.busy[server as usize] = true;
        if self.warmup > 0 {
            self.warmup -= 1;
        } else {
            self.stats.measured += 1;
            self.stats.wait_ns_sum += (ctx.now() - arrived).as_nanos() as u128;
            if self
                .stop_after_measured
                .is_some_and(|n| self.stats.measured >= n)
            {
                ctx.stop();
            }
        }
        let d = self.spec.service.sample_ns(&mut self.service_rng);
        ctx.schedule_in(
            SimDuration::from_nanos(d),
            StationEvent::Depart { server }.into(),
        );
    }
}

impl Component for Station {
    type Event = StationEvent;

    fn handle<E: From<StationEvent>>(&mut self, event: StationEvent, ctx: &mut Ctx<'_, E>) {
        match event {
            StationEvent::Arrive => {
                let gap = self.spec.arrivals.next_gap_ns(&mut self.arrivals_rng);
                ctx.schedule_in(SimDuration::from_nanos(gap), StationEvent::Arrive.into());
                for _ in 0..self.spec.arrivals.batch() {
                    self.stats.arrivals += 1;
                    let level = if self.waiting.len() > 1 {
                        self.arrivals_rng.below(self.waiting.len() as u64) as usize
                    } else {
                        0
                    };
                    if let Some(server) = self.free.pop() {
                        self.begin(server, ctx.now(), ctx);
                    } else if self
                        .spec
                        .capacity
                        .is_some_and(|c| self.waiting_len >= c as u64)
                    {
                        self.stats.rejected += 1;
                    } else {
                        self.waiting[level].push_back(ctx.now());
                        self.waiting_len += 1;
                        self.stats.max_waiting = self.stats.max_waiting.max(self.waiting_len);
                    }
                }
            }
            StationEvent::Depart { server } => {
                self.busy[server as usize] = false;
                self.stats.served += 1;
                let next = match self.spec.discipline {
                    Discipline::Priority => {
                        self.waiting.iter_mut().rev().find_map(|q| q.pop_front())
                    }
                    Discipline::Fifo => {
                        // The oldest head across levels (ties: lowest level).
                        let mut best: Option<(SimTime, usize)> = None;
                        for (i, q) in self.waiting.iter().enumerate() {
                            if let Some(&t) = q.front()
                                && best.is_none_or(|(bt, _)| t < bt)
                            {
                                best = Some((t, i));
                            }
                        }
                        best.and_then(|(_, i)| self.waiting[i].pop_front())
                    }
                };
                match next {
                    Some(arrived) => {
                        self.waiting_len -= 1;
                        self.begin(server, arrived, ctx);
                    }
                    None => self.free.push(server),
                }
            }
        }
    }
}

/// Run a station alone until `customers` jobs have started service after
/// `warmup` unmeasured ones, and return its statistics.
pub fn simulate(
    spec: &StationSpec,
    seed: u64,
    customers: u64,
    warmup: u64,
) -> Result<StationStats, String> {
    spec.validate().map_err(|e| e.to_string())?;
    let station = Station::new(spec, SeedPath::root(seed).child("station"), warmup)
        .stop_after_measured(customers);
    let mut sim = Simulation::starting_at(Solo(station), SeedPath::root(seed), SimTime::ZERO);
    sim.with_ctx(|m, ctx| m.0.start(ctx));
    sim.run().map_err(|e| e.to_string())?;
    Ok(sim.model().0.stats())
}
