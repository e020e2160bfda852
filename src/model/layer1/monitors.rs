//! Periodic checks: resource accounting and the pressure monitor, the ACL
//! monitor, the critical-kernel trigger, the API tick, the dump.
use super::*;
use crate::engine::mul_div;

/// KiB that `mib_per_s` adds over `dt_ns`, rounded down: `mib × 1024 × dt /
/// 1e9`, exact whatever the operands.
fn kib_over(mib_per_s: u64, dt_ns: u64) -> u64 {
    match mib_per_s.checked_mul(1024) {
        Some(kib_per_s) => mul_div(kib_per_s, dt_ns, 1_000_000_000),
        None => (mib_per_s as u128 * 1024 * dt_ns as u128 / 1_000_000_000) as u64,
    }
}

impl Layer1 {
    pub(super) fn account_resources(&mut self, now: SimTime) {
        let dt = now
            .saturating_duration_since(self.last_resource_tick)
            .as_nanos();
        self.last_resource_tick = now;
        if dt == 0 {
            return;
        }
        let cap_kib = self.spec.resources.disk_mib * KIB_PER_MIB;
        for k in &mut self.kernels {
            if k.leak_mib_per_s > 0 && matches!(k.process, Process::Running | Process::Booting) {
                k.leaked_kib += kib_over(k.leak_mib_per_s, dt);
            }
            if k.fill_mib_per_s > 0 && k.process == Process::Running {
                let add = kib_over(k.fill_mib_per_s, dt);
                self.disk_used_kib = (self.disk_used_kib + add).min(cap_kib);
            }
        }
    }

    pub(super) fn on_resource_tick<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        self.account_resources(now);
        let r = &self.spec.resources;
        let mem_cap = r.memory_mib * KIB_PER_MIB;
        if self.memory_used_kib() > mem_cap {
            // The OOM killer: the largest consumer dies.
            let victim = (0..self.kernels.len())
                .filter(|&i| {
                    matches!(
                        self.kernels[i].process,
                        Process::Running | Process::Paused | Process::Booting
                    )
                })
                .max_by_key(|&i| {
                    (
                        u64::from(self.spec.kernels[i].memory_mib) * KIB_PER_MIB
                            + self.kernels[i].leaked_kib,
                        std::cmp::Reverse(i),
                    )
                });
            if let Some(v) = victim {
                self.stats.oom_kills += 1;
                let leaker = self.top_cause(|k| k.leak_mib_per_s, |k| k.leak_cause);
                self.kernels[v].harm = leaker.or(self.kernels[v].harm);
                self.kill(v, ctx);
                self.kernels[v].leaked_kib = 0;
            }
        }
        // Deployed or not: not deployed, a shadow detector.
        self.pressure_monitor(ctx);
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.resources.tick_ns),
            Layer1Event::ResourceTick.into(),
        );
    }

    pub(super) fn pressure_monitor<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let p = self.probe(now);
        let util = [
            p.cpu_permille,
            p.memory_permille,
            p.disk_permille,
            p.network_permille,
        ];
        let max = self.spec.safeguards.pressure_utilisation_permille_max;
        for res in [RES_CPU, RES_MEM, RES_DISK, RES_NET] {
            let i = usize::from(res);
            if util[i] > max {
                self.pressure_over[i] += 1;
            } else {
                self.pressure_over[i] = 0;
            }
            if self.pressure_over[i] < self.spec.safeguards.pressure_sustained_ticks
                || self.pressure_pending[i]
            {
                continue;
            }
            let hog = (0..self.kernels.len())
                .map(|k| {
                    let kern = &self.kernels[k];
                    let (excess, cause) = match res {
                        RES_CPU if kern.cpu_cap_mc.is_none() => (kern.cpu_hog_mc, kern.cpu_cause),
                        RES_MEM => (kern.leaked_kib, kern.leak_cause),
                        RES_DISK => (kern.fill_mib_per_s, kern.fill_cause),
                        RES_NET if kern.net_cap_mbps.is_none() => {
                            (kern.net_hog_mbps, kern.net_cause)
                        }
                        _ => (0, None),
                    };
                    (excess, std::cmp::Reverse(k), cause)
                })
                .max_by_key(|&(excess, k, _)| (excess, k));
            if let Some((excess, std::cmp::Reverse(k), cause)) = hog
                && excess > 0
            {
                let signal = match res {
                    RES_CPU => Signal::CpuPermille,
                    RES_MEM => Signal::MemoryPermille,
                    RES_DISK => Signal::DiskPermille,
                    _ => Signal::NetworkPermille,
                };
                let ev = Evidence::of(now, signal, util[i].into(), max.into(), cause);
                let sg = Safeguard::ResourcePressureMonitor;
                if self.log.detect(sg, self.on(sg), ev) {
                    self.pressure_pending[i] = true;
                    self.start_playbook(PB_PRESSURE, k as u16, res, ctx);
                }
            }
        }
    }

    pub(super) fn on_acl_check<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        self.bus.update(now);
        let interval = self.spec.safeguards.acl_check_interval_ns;
        let max = self.spec.safeguards.acl_violations_per_s_max;
        for p in 0..self.kernels.len() {
            let v = self.bus.violations(p);
            let delta = v - self.acl_seen[p];
            self.acl_seen[p] = v;
            let rate = mul_div(delta, 1_000_000_000, interval);
            if rate > max && !self.bus.is_quarantined(p) && !self.acl_pending[p] {
                let ev = Evidence::of(
                    now,
                    Signal::AclViolationsPerS,
                    rate,
                    max,
                    self.kernels[p].acl_cause,
                );
                let sg = Safeguard::AclViolationMonitor;
                if self.log.detect(sg, self.on(sg), ev) {
                    self.acl_pending[p] = true;
                    self.start_playbook(PB_ACL, p as u16, 0, ctx);
                }
            }
        }
        ctx.schedule_in(
            SimDuration::from_nanos(interval),
            Layer1Event::AclCheck.into(),
        );
    }

    pub(super) fn on_critical_check<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let silence = SimDuration::from_nanos(self.spec.control_plane.critical_silence_ns);
        for k in 0..self.kernels.len() {
            if !self.spec.kernels[k].critical {
                continue;
            }
            let kern = &self.kernels[k];
            if kern.emergency
                || matches!(
                    kern.status,
                    Status::Failed | Status::Restarting | Status::Booting
                )
                || now.saturating_duration_since(kern.last_hb) < silence
            {
                continue;
            }
            let cause = self.silence_cause(k);
            let ev = Evidence::of(
                now,
                Signal::CriticalSilenceMs,
                now.saturating_duration_since(kern.last_hb).as_millis(),
                silence.as_millis(),
                cause,
            );
            let trigger = Safeguard::CriticalKernelHeartbeatTrigger;
            let emergency = Safeguard::EmergencyProtocol;
            if !self.log.detect(trigger, self.on(trigger), ev) {
                // The trigger's detection is the emergency protocol's
                // signal: without the trigger nothing hands it the kernel,
                // so it is needed too (silent if deployed).
                self.log.need(emergency, ev);
                continue;
            }
            self.stats.critical_detections += 1;
            self.kernels[k].status = Status::Unresponsive;
            self.kernels[k].harm = cause.or(self.kernels[k].harm);
            if let Some(key) = self.kernels[k].deadline_key.take() {
                ctx.cancel(key);
            }
            if self.log.detect(emergency, self.on(emergency), ev) {
                self.stats.emergency_recoveries += 1;
                self.cancel_generic(k as u16, ctx);
                self.kernels[k].emergency = true;
                self.kernels[k].recovery_pending = true;
                self.start_playbook(PB_EMERGENCY, k as u16, 0, ctx);
            } else {
                self.start_recovery(k, ctx);
            }
        }
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.control_plane.critical_check_interval_ns),
            Layer1Event::CriticalCheck.into(),
        );
    }

    pub(super) fn on_api_tick<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let up = self.api_server.is_none_or(|k| {
            let kern = &self.kernels[k as usize];
            kern.process == Process::Running && kern.status != Status::Failed
        });
        let sg = Safeguard::RateLimiter;
        let per_client_rps = self.spec.safeguards.rate_limit_per_client_rps;
        let t = self.api.tick(
            up,
            (per_client_rps, self.spec.safeguards.rate_limit_burst),
            self.on(sg),
        );
        if t.over_limit {
            let ev = Evidence::of(
                ctx.now(),
                Signal::ApiClientRps,
                self.api.flood_rps,
                per_client_rps,
                self.api_cause,
            );
            if self.log.detect(sg, self.on(sg), ev) && !self.limiter_active {
                self.limiter_episodes += 1;
            }
        }
        self.limiter_active = t.limiter_rejected;
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.api.tick_ns),
            Layer1Event::ApiTick.into(),
        );
    }

    pub(super) fn on_dump<E: From<Layer1Event>>(&mut self, ctx: &mut Ctx<'_, E>) {
        use std::fmt::Write as _;
        let now = ctx.now();
        ctx.schedule_in(
            SimDuration::from_nanos(self.spec.dump_interval_ns),
            Layer1Event::Dump.into(),
        );
        if self.dump.is_none() || self.dump_error.is_some() {
            return;
        }
        let p = self.probe(now);
        let t_ns = now.as_nanos() as i128 - self.dump_origin.as_nanos() as i128;
        let mut rows = String::with_capacity(self.kernels.len() * 96);
        for k in 0..self.kernels.len() {
            let kern = &self.kernels[k];
            let state = match self.kernel_state(k as u16) {
                KernelState::Booting => "booting",
                KernelState::Running => "running",
                KernelState::Paused => "paused",
                KernelState::Dead => "dead",
                KernelState::Unresponsive => "unresponsive",
                KernelState::Restarting => "restarting",
                KernelState::Failed => "failed",
            };
            let runs = matches!(kern.process, Process::Running | Process::Booting);
            let cpu = if runs {
                u64::from(self.spec.kernels[k].cpu_millicores)
                    + kern
                        .cpu_cap_mc
                        .map_or(kern.cpu_hog_mc, |c| kern.cpu_hog_mc.min(c))
            } else {
                0
            };
            let mem = if matches!(
                kern.process,
                Process::Running | Process::Booting | Process::Paused
            ) {
                u64::from(self.spec.kernels[k].memory_mib) + kern.leaked_kib / KIB_PER_MIB
            } else {
                0
            };
            let _ = writeln!(
                rows,
                "{}.{:03},{},{state},{},{},{cpu},{mem},{},{},{},{},{},{}",
                t_ns.div_euclid(1_000_000_000),
                t_ns.rem_euclid(1_000_000_000) / 1_000_000,
                self.spec.kernels[k].name,
                kern.restarts_total,
                now.saturating_duration_since(kern.last_hb).as_millis(),
                p.cpu_permille,
                p.memory_permille,
                p.disk_permille,
                p.network_permille,
                p.bus_latency_ms,
                p.api_success_permille,
            );
        }
        if let Some(sink) = self.dump.as_mut()
            && let Err(e) = sink.write_all(rows.as_bytes())
        {
            self.dump_error = Some(e);
        }
    }
}
