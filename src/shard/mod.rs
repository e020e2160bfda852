//! The batch layer every kind of batch shares: which slice of the work a
//! process runs ([`Shard`], [`resolve_shard`]: flags, Slurm job arrays,
//! Kubernetes Indexed Jobs), the ordered parallel runner
//! ([`run_ordered`]), exactly mergeable aggregates ([`Aggregate`]), the
//! `shard.ron` file ([`ShardFile`]), a shard's output folder as it is
//! written ([`ShardOut`]) and one generic [`merge`].
//!
//! A batch kind (the API sweep, the scenario sweep, the swarm, the seed
//! ensemble, the what-if over scenarios and over programmes) implements
//! [`ShardKind`] in its own module: its parameters (declared with the
//! format-1 [`Head`]), its per-cell record, its aggregate and its tables.
//! This module knows none of them.
//!
//! # Shards
//! Shard `K/N` runs the global range `[⌊(K−1)·T/N⌋, ⌊K·T/N⌋)` of the `T`
//! work items. See [`resolve_shard`] for the environment variables of Slurm
//! job arrays and Kubernetes Indexed Jobs.
//!
//! **Invariant:** the bytes a batch writes depend only on its parameters,
//! never on the thread count or the sharding; merging the shards of a batch
//! gives the files of the unsharded run.

pub mod file;
pub mod runner;

pub(crate) use file::format1_params;
pub use file::{
    Head, HeadParams, MergeReport, Never, SHARD_FILE, SHARD_FORMAT, SHARD_LIMITS, SUMMARY_FILE,
    ShardFile, ShardKind, ShardOut, Slot, Tagged, merge, meta_error, prepare_out_dir,
    read_shard_text,
};
pub use runner::{Aggregate, ChunkFn, run_ordered, run_ordered_chunked};

use crate::error::{Error, Result};

/// Work items per chunk of work.
pub const CHUNK_EXPERIMENTS: u64 = 1024;
/// Work items per chunk when each is a whole scenario execution (swarms,
/// scenario sweeps): a Jepsen execution takes tens of milliseconds, so 1,024
/// of them in one chunk kept a 500-seed swarm on one worker.
pub const SCENARIO_CHUNK: u64 = 32;
/// Largest `n` (work items per cell).
pub const N_MAX: u64 = 1_000_000_000_000;
/// Largest thread count.
pub const THREADS_MAX: usize = 1024;

/// Where a batch reports the work items it has finished, for a progress
/// bar: a callback called from the workers with the items of each chunk
/// as the chunk is done (in any order). It is not a parameter of the batch
/// (two `Progress` values compare equal) and changes no byte written.
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<dyn Fn(u64) + Send + Sync>>);

impl Progress {
    /// No progress reporting.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// Report to `f` (items done since the last call).
    pub fn new(f: impl Fn(u64) + Send + Sync + 'static) -> Progress {
        Progress(Some(std::sync::Arc::new(f)))
    }

    /// `items` more work items are done.
    pub fn add(&self, items: u64) {
        if let Some(f) = &self.0 {
            f(items);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}

impl PartialEq for Progress {
    fn eq(&self, _: &Progress) -> bool {
        true
    }
}

impl Eq for Progress {}

/// One shard of a sweep: `index` of `count`, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `1..=count`.
    pub index: u32,
    /// The number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole sweep as one shard.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// A checked shard.
    pub fn new(index: u32, count: u32, flag: &str) -> Result<Shard> {
        if count == 0 || index == 0 || index > count {
            return Err(Error::usage(
                flag,
                format!("shard {index}/{count}: need 1 <= K <= N"),
            ));
        }
        Ok(Shard { index, count })
    }

    /// Parse `K/N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| Error::usage("--shard", format!("'{text}' is not K/N (e.g. 2/8)")))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| Error::usage("--shard", format!("'{text}': K is not a number")))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| Error::usage("--shard", format!("'{text}': N is not a number")))?;
        Shard::new(k, n, "--shard")
    }

    /// The global experiment range `[start, end)` of this shard among `total`.
    pub fn range(self, total: u64) -> (u64, u64) {
        let at = |k: u64| ((k as u128 * total as u128) / self.count as u128) as u64;
        (at(self.index as u64 - 1), at(self.index as u64))
    }
}

fn env_u64(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<u64>> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::usage(name, format!("'{v}' is not a non-negative integer"))),
    }
}

/// Select the shard: `--shard K/N` wins; else a Slurm job array
/// (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN` (default 0),
/// `SLURM_ARRAY_TASK_STEP` (default 1), `SLURM_ARRAY_TASK_COUNT`:
/// `K = (ID − MIN) / STEP`, `N = COUNT`, refused unless `ID − MIN` is a
/// multiple of STEP and `K < COUNT`); else a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX` = K, 0-based, with `N` from `shard_count`,
/// required); else the whole sweep. `env` reads a variable (pass
/// `|k| std::env::var(k).ok()`). Returned shards are 1-based.
pub fn resolve_shard(
    flag: Option<&str>,
    shard_count: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Shard> {
    if let Some(text) = flag {
        return Shard::parse(text);
    }
    if let Some(id) = env_u64(env, "SLURM_ARRAY_TASK_ID")? {
        let count = env_u64(env, "SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
            Error::usage(
                "SLURM_ARRAY_TASK_COUNT",
                "unset while SLURM_ARRAY_TASK_ID is set; pass --shard K/N",
            )
        })?;
        let min = env_u64(env, "SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = env_u64(env, "SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
        if step == 0 {
            return Err(Error::usage("SLURM_ARRAY_TASK_STEP", "is 0"));
        }
        if id < min || (id - min) % step != 0 {
            return Err(Error::usage(
                "SLURM_ARRAY_TASK_ID",
                format!("{id} is not MIN {min} plus a multiple of STEP {step}"),
            ));
        }
        let k = (id - min) / step;
        if k >= count || count > u32::MAX as u64 {
            return Err(Error::usage(
                "SLURM_ARRAY_TASK_ID",
                format!(
                    "task {id} maps to shard index {k}, not below COUNT {count}: use --array=MIN-MAX[:STEP] without gaps, or pass --shard K/N"
                ),
            ));
        }
        return Shard::new(k as u32 + 1, count as u32, "SLURM_ARRAY_TASK_ID");
    }
    if let Some(index) = env_u64(env, "JOB_COMPLETION_INDEX")? {
        let count = shard_count.ok_or_else(|| {
            Error::usage(
                "--shard-count",
                "JOB_COMPLETION_INDEX is set: pass --shard-count N (the Job's completions)",
            )
        })?;
        if index >= count as u64 {
            return Err(Error::usage(
                "JOB_COMPLETION_INDEX",
                format!("{index} is not below --shard-count {count}"),
            ));
        }
        return Shard::new(index as u32 + 1, count, "JOB_COMPLETION_INDEX");
    }
    if let Some(count) = shard_count {
        return Err(Error::usage(
            "--shard-count",
            format!("{count} given but no JOB_COMPLETION_INDEX is set; pass --shard K/N"),
        ));
    }
    Ok(Shard::WHOLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ranges_tile_the_sweep() {
        for total in [0u64, 1, 7, 22_000, 1_000_003] {
            for count in 1..=7 {
                let mut end = 0;
                for k in 1..=count {
                    let (a, b) = Shard { index: k, count }.range(total);
                    assert_eq!(a, end);
                    end = b;
                }
                assert_eq!(end, total);
            }
        }
        assert!(Shard::parse("0/4").is_err());
        assert!(Shard::parse("5/4").is_err());
        assert!(Shard::parse("2of4").is_err());
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn slurm_array_maps_to_shards() {
        // --array=0-6:2 gives IDs 0,2,4,6 with COUNT 4, STEP 2.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            resolve_shard(None, None, &e).unwrap(),
            Shard { index: 3, count: 4 }
        );
        // --array=1-4: IDs 1..4.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            resolve_shard(None, None, &e).unwrap(),
            Shard { index: 1, count: 4 }
        );
        // --array=1,5,7 (COUNT 3): task 5 maps to index 4, refused.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert!(resolve_shard(None, None, &e).is_err());
        // ID off the step grid.
        let e = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(resolve_shard(None, None, &e).is_err());
        // --shard wins over the environment.
        assert_eq!(
            resolve_shard(Some("2/3"), None, &e).unwrap(),
            Shard { index: 2, count: 3 }
        );
    }

    #[test]
    fn kubernetes_index_needs_a_count() {
        let e = env_of(&[("JOB_COMPLETION_INDEX", "0")]);
        assert_eq!(
            resolve_shard(None, Some(4), &e).unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert!(resolve_shard(None, None, &e).is_err());
        let e = env_of(&[("JOB_COMPLETION_INDEX", "4")]);
        assert!(resolve_shard(None, Some(4), &e).is_err());
        let none = env_of(&[]);
        assert_eq!(resolve_shard(None, None, &none).unwrap(), Shard::WHOLE);
        assert!(resolve_shard(None, Some(4), &none).is_err());
    }
}
