//! Kernels and the control plane: boot, heartbeats on the bus, the
//! heartbeat deadline, kills, restarts with backoff and budget, CPU slowdown.
use super::*;

impl Layer1 {
    pub(super) fn scaled(&self, ns: u64) -> SimDuration {
        SimDuration::from_nanos(ns).mul_ratio(self.slowdown_permille, 1000)
    }

    pub(super) fn schedule_boot<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        let mut base = self.spec.kernels[k].boot_ns;
        if self.kernels[k].restore == Restore::Cold {
            base += self.spec.safeguards.cold_boot_extra_ns;
        }
        let jitter = 900 + self.boot_rng.below(201);
        let d = self.scaled(base).mul_ratio(jitter, 1000);
        let inc = self.kernels[k].inc;
        let key = ctx.schedule_in(
            d,
            Layer1Event::BootDone {
                kernel: k as u16,
                inc,
            }
            .into(),
        );
        self.kernels[k].boot_key = Some(key);
        self.kernels[k].boot_due = ctx.now() + d;
    }

    pub(super) fn schedule_heartbeat<E: From<Layer1Event>>(
        &mut self,
        k: usize,
        ctx: &mut Ctx<'_, E>,
    ) {
        let d = self.scaled(self.spec.kernels[k].heartbeat_interval_ns);
        let inc = self.kernels[k].inc;
        let key = ctx.schedule_in(
            d,
            Layer1Event::HeartbeatEmit {
                kernel: k as u16,
                inc,
            }
            .into(),
        );
        self.kernels[k].hb_key = Some(key);
        self.kernels[k].hb_due = ctx.now() + d;
    }

    /// Send one heartbeat on the bus now and schedule the next.
    pub(super) fn emit_heartbeat<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let blocked = self.spec.kernels[k].disk_writer && self.disk_full();
        if !blocked {
            self.stats.heartbeats_sent += 1;
            match self.bus.send(now) {
                Some(d) => {
                    let inc = self.kernels[k].inc;
                    ctx.schedule_in(
                        d,
                        Layer1Event::HeartbeatArrive {
                            kernel: k as u16,
                            inc,
                        }
                        .into(),
                    );
                }
                None => self.stats.heartbeats_dropped += 1,
            }
        }
        self.schedule_heartbeat(k, ctx);
    }

    /// Arm (or move) kernel `k`'s heartbeat deadline. Armed whether or not
    /// heartbeat_watchdog is deployed: not deployed, the deadline is its
    /// shadow detector and only records the need.
    pub(super) fn arm_deadline<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        let at = self.kernels[k].last_hb + self.fresh_window(k);
        let at = at.max(ctx.now());
        match self.kernels[k].deadline_key {
            Some(key) if ctx.reschedule_at(key, at) => {}
            _ => {
                let inc = self.kernels[k].inc;
                let key = ctx.schedule_at(
                    at,
                    Layer1Event::WatchdogDeadline {
                        kernel: k as u16,
                        inc,
                    }
                    .into(),
                );
                self.kernels[k].deadline_key = Some(key);
            }
        }
    }

    pub(super) fn cancel_timers<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        let kern = &mut self.kernels[k];
        for key in [
            kern.hb_key.take(),
            kern.boot_key.take(),
            kern.deadline_key.take(),
        ]
        .into_iter()
        .flatten()
        {
            ctx.cancel(key);
        }
    }

    pub(super) fn kill<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        if !matches!(
            self.kernels[k].process,
            Process::Running | Process::Paused | Process::Booting
        ) {
            return;
        }
        self.kernels[k].process = Process::Dead;
        self.kernels[k].exited_at = ctx.now();
        let kern = &mut self.kernels[k];
        for key in [kern.hb_key.take(), kern.boot_key.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel(key);
        }
        // Exit detection runs deployed or not (not deployed: a shadow
        // detector; see `ExitDetected`).
        let inc = self.kernels[k].inc;
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.control_plane.exit_detect_ns),
            Layer1Event::ExitDetected {
                kernel: k as u16,
                inc,
            }
            .into(),
        );
        self.recompute_cpu(ctx);
    }

    pub(super) fn fail<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        self.cancel_timers(k, ctx);
        let kern = &mut self.kernels[k];
        kern.status = Status::Failed;
        kern.process = Process::Down;
        kern.recovery_pending = false;
        kern.emergency = false;
        kern.inc += 1;
        self.stats.kernels_failed += 1;
        self.recompute_cpu(ctx);
    }

    /// The control plane restarts kernel `k` (kernel_watchdog: backoff and
    /// restart budget when deployed).
    pub(super) fn request_restart<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        if matches!(self.kernels[k].status, Status::Failed | Status::Restarting) {
            return;
        }
        let cp = &self.spec.control_plane;
        let window = SimDuration::from_nanos(cp.restart_window_ns);
        if self.kernels[k]
            .last_restart
            .is_some_and(|t| now.saturating_duration_since(t) > window)
        {
            self.kernels[k].restarts_in_window = 0;
        }
        let n = self.kernels[k].restarts_in_window;
        let supervised = self.on(Safeguard::KernelWatchdog);
        if n >= cp.restarts_max {
            let ev = Evidence::of(
                now,
                Signal::RestartsInWindow,
                u64::from(n) + 1,
                u64::from(cp.restarts_max),
                self.kernels[k].harm.or(self.silence_cause(k)),
            );
            if self.log.detect(Safeguard::KernelWatchdog, supervised, ev) {
                self.fail(k, ctx);
                return;
            }
        }
        let cp = &self.spec.control_plane;
        let delay = if supervised {
            if n == 0 {
                SimDuration::ZERO
            } else {
                let shift = (n - 1).min(40);
                SimDuration::from_nanos(
                    cp.restart_backoff_initial_ns
                        .saturating_mul(1u64 << shift)
                        .min(cp.restart_backoff_max_ns),
                )
            }
        } else {
            SimDuration::ZERO
        };
        if self.kernels[k].process == Process::Running {
            self.stats.false_restarts += 1;
        }
        self.stats.restarts += 1;
        self.cancel_timers(k, ctx);
        let kern = &mut self.kernels[k];
        kern.restarts_in_window = n + 1;
        kern.restarts_total += 1;
        kern.last_restart = Some(now);
        kern.process = Process::Down;
        kern.status = Status::Restarting;
        kern.inc += 1;
        let inc = kern.inc;
        ctx.schedule_in(
            delay,
            Layer1Event::RestartBegin {
                kernel: k as u16,
                inc,
            }
            .into(),
        );
        self.recompute_cpu(ctx);
    }

    pub(super) fn recompute_cpu<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let cap = u64::from(self.spec.resources.cpu_millicores).max(1);
        let demand = self.cpu_demand_mc();
        let new = match self.spec.resources.cpu_contention {
            CpuContention::Proportional => demand * 1000 / cap,
            CpuContention::HogFirst => {
                let hog = self.cpu_hog_demand_mc();
                let left = cap.saturating_sub(hog).max(cap / 100).max(1);
                (demand - hog) * 1000 / left
            }
        }
        .max(1000);
        let old = self.slowdown_permille;
        if new == old {
            return;
        }
        self.slowdown_permille = new;
        let now = ctx.now();
        for k in &mut self.kernels {
            if let Some(key) = k.hb_key {
                let rem = k.hb_due.saturating_duration_since(now).mul_ratio(new, old);
                k.hb_due = now + rem;
                ctx.reschedule_at(key, k.hb_due);
            }
            if let Some(key) = k.boot_key {
                let rem = k
                    .boot_due
                    .saturating_duration_since(now)
                    .mul_ratio(new, old);
                k.boot_due = now + rem;
                ctx.reschedule_at(key, k.boot_due);
            }
        }
    }

    pub(super) fn recompute_network(&mut self, now: SimTime) {
        let cap = self.spec.resources.network_mbps;
        let d = self.network_demand_mbps();
        let scale = if d > cap { cap * 1000 / d } else { 1000 };
        self.bus.set_capacity_scale(now, scale);
    }

    /// The control plane decided `k` needs recovery (missed heartbeats or
    /// exit): the generic path by criticality.
    pub(super) fn start_recovery<E: From<Layer1Event>>(&mut self, k: usize, ctx: &mut Ctx<'_, E>) {
        if self.kernels[k].recovery_pending || self.kernels[k].status == Status::Failed {
            return;
        }
        self.kernels[k].recovery_pending = true;
        let pb = if self.spec.kernels[k].critical {
            PB_CRIT_ESCALATE
        } else {
            PB_KERNEL
        };
        self.start_playbook(pb, k as u16, 0, ctx);
    }
}
