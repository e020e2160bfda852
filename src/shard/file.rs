//! `shard.ron`, the completion marker and metadata of a batch directory,
//! and the one merge of shard directories every kind uses.
//!
//! A batch directory is **complete** when it holds `shard.ron`, written last
//! (temporary file, then rename). `shard.ron` records the command's
//! parameters, the shard `K/N`, its global range, the size and FNV-1a
//! checksum of its rows file and the aggregates of the cells it touched,
//! itself covered by a checksum.
//!
//! # Format 1
//! The file is one RON record: `format`, `digest_format`, `params` (the
//! kind's [`ShardKind::Params`]), `shard`, `shards`, `range_start`,
//! `range_end`, `experiments_bytes`, `experiments_fnv`, the records in the
//! kind's [`Slot`], and `meta_fnv`. Format 1 grew one slot per kind
//! (`cells`, always written; `scenario_cells`, `swarm_cells`,
//! `whatif_cells`, or `ensemble` or `whatif_programme` holding one record); [`ShardFile`] reads and writes exactly that layout,
//! so files written before this module existed read, check and merge as
//! before, and new files are byte-identical.

use std::fs;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Aggregate, Shard};
use crate::error::{Error, Result};
use crate::record::csv::Fnv64;
use crate::record::outfile::OutDir;

/// Version of the `shard.ron` format.
pub const SHARD_FORMAT: u32 = 1;
/// The completion marker and metadata.
pub const SHARD_FILE: &str = "shard.ron";
/// The per-cell summary every kind writes.
pub const SUMMARY_FILE: &str = "summary.csv";

/// Limits of `shard.ron` when it is read back (its cell aggregates can be
/// long: one line per array).
pub const SHARD_LIMITS: crate::input::Limits = crate::input::Limits {
    bytes_max: 256 * 1024 * 1024,
    line_max: 256 * 1024 * 1024,
};

/// Where a kind's records sit in a format-1 `shard.ron`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `cells: [...]`.
    Cells,
    /// `scenario_cells: [...]` (left out when empty).
    ScenarioCells,
    /// `swarm_cells: [...]` (left out when empty).
    SwarmCells,
    /// `ensemble: Some(...)`: at most one record (left out when none).
    Ensemble,
    /// `whatif_cells: [...]` (left out when empty).
    WhatifCells,
    /// `whatif_programme: Some(...)`: at most one record (left out when
    /// none).
    WhatifProgramme,
}

impl Slot {
    /// The field name in `shard.ron`.
    pub fn field(self) -> &'static str {
        match self {
            Slot::Cells => "cells",
            Slot::ScenarioCells => "scenario_cells",
            Slot::SwarmCells => "swarm_cells",
            Slot::Ensemble => "ensemble",
            Slot::WhatifCells => "whatif_cells",
            Slot::WhatifProgramme => "whatif_programme",
        }
    }
}

/// No value: the element type of the `variants` list that format 1 keeps in
/// the parameters of every kind, always empty but for API sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Never {}

/// The head every kind's format-1 parameters start with (`seed`, `n`,
/// `rates_ppm`, `variants`, `model_fingerprint`), compared first when two
/// shards are merged, whatever their kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Root (or first) seed.
    pub seed: u64,
    /// Work items per cell.
    pub n: u64,
    /// Failure rates (API sweeps only).
    pub rates_ppm: Vec<u32>,
    /// Variants by name (API sweeps only).
    pub variants: Vec<String>,
    /// Fingerprint of the model or inputs.
    pub model_fingerprint: String,
}

impl Head {
    /// The first common parameter in which `later` (the later shard's head)
    /// differs from `self`, as a merge refusal names it.
    pub fn difference(&self, later: &Head) -> Option<String> {
        let (a, b) = (self, later);
        if a.seed != b.seed {
            return Some(format!("seed ({} vs {})", b.seed, a.seed));
        }
        if a.n != b.n {
            return Some(format!("n ({} vs {})", b.n, a.n));
        }
        if a.rates_ppm != b.rates_ppm {
            return Some("rates".into());
        }
        if a.variants != b.variants {
            return Some("variants".into());
        }
        if a.model_fingerprint != b.model_fingerprint {
            return Some("model or playbook (fingerprint)".into());
        }
        None
    }
}

/// Parameters that start with the format-1 [`Head`].
pub trait HeadParams {
    /// The common head.
    fn head(&self) -> Head;
}

/// Declare a kind's format-1 parameters: the [`Head`] fields with an empty
/// `variants` list, then the kind's own parameters in one field written
/// `Some(...)` ([`Tagged`]), serialized as `SweepParams(...)` as format 1
/// has always named them, with [`HeadParams`] implemented.
macro_rules! format1_params {
    ($(#[$doc:meta])* pub struct $name:ident { $(#[$fdoc:meta])* pub $field:ident: $ty:ty $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(rename = "SweepParams", deny_unknown_fields)]
        pub struct $name {
            /// Root (or first) seed.
            pub seed: u64,
            /// Work items per cell.
            pub n: u64,
            /// Empty (failure rates belong to API sweeps).
            pub rates_ppm: Vec<u32>,
            /// Empty (variants belong to API sweeps).
            pub variants: Vec<$crate::shard::Never>,
            /// Fingerprint of the inputs.
            pub model_fingerprint: String,
            $(#[$fdoc])*
            pub $field: $crate::shard::Tagged<$ty>,
        }

        impl $crate::shard::HeadParams for $name {
            fn head(&self) -> $crate::shard::Head {
                $crate::shard::Head {
                    seed: self.seed,
                    n: self.n,
                    rates_ppm: self.rates_ppm.clone(),
                    variants: Vec::new(),
                    model_fingerprint: self.model_fingerprint.clone(),
                }
            }
        }
    };
}
pub(crate) use format1_params;

/// A kind's own parameters inside `params`, written `Some(...)` as format 1
/// has them (an option that is always set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged<T>(pub T);

impl<T: Serialize> Serialize for Tagged<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_some(&self.0)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tagged<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Option::<T>::deserialize(d)?
            .map(Tagged)
            .ok_or_else(|| serde::de::Error::custom("is None: not a shard of this kind"))
    }
}

/// A kind of batch (API sweep, scenario sweep, swarm, seed ensemble): what
/// its `shard.ron` holds and how its shards merge. Implemented by each kind
/// in its own module; [`ShardFile`] and [`merge`] are generic over it.
pub trait ShardKind: Sized + Clone + std::fmt::Debug + PartialEq {
    /// The kind's name, as the merge dispatch and messages know it.
    const TAG: &'static str;
    /// Where the records sit in `shard.ron`.
    const SLOT: Slot;
    /// The command parameters every shard of one batch shares (`params`).
    type Params: Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned + HeadParams;
    /// One cell's aggregate as stored in `shard.ron`.
    type Record: Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned;
    /// One cell's aggregate in memory; merges exactly.
    type Aggregate: Aggregate;

    /// Number of cells.
    fn cells(params: &Self::Params) -> u64;
    /// Work items per cell (default: the head's `n`).
    fn n(params: &Self::Params) -> u64 {
        params.head().n
    }
    /// The file of one row per work item.
    fn rows_file(params: &Self::Params) -> &'static str;
    /// The header line of the rows file (with its newline).
    fn rows_header(params: &Self::Params) -> String;
    /// Every file a batch of these parameters writes, `shard.ron` last.
    fn files(params: &Self::Params) -> Vec<&'static str>;
    /// Why two shards' parameters do not belong to one batch, if they do
    /// not (`None`: they do).
    fn difference(a: &Self::Params, b: &Self::Params) -> Option<String>;
    /// The record of a cell's aggregate.
    fn to_record(cell: u32, aggregate: &Self::Aggregate) -> Self::Record;
    /// A record read back as `(cell, aggregate)`, checked against the
    /// parameters and its shard; `path` is the shard's `shard.ron`.
    fn from_record(
        params: &Self::Params,
        shard: &ShardFile<Self>,
        record: &Self::Record,
        path: &Path,
    ) -> Result<(u32, Self::Aggregate)>;
    /// A check of a shard's records as a whole before they are read
    /// (default: none).
    fn check_records(_shard: &ShardFile<Self>, _path: &Path) -> Result<()> {
        Ok(())
    }
    /// Stage the tables computed from the aggregates (`summary.csv`, ...),
    /// `cells` in cell order.
    fn write_tables(
        tx: &mut OutDir,
        params: &Self::Params,
        cells: &[(u32, Self::Aggregate)],
    ) -> Result<()>;
    /// Work items folded into an aggregate.
    fn items(aggregate: &Self::Aggregate) -> u64;

    /// Total work items of the whole batch.
    fn total(params: &Self::Params) -> u64 {
        Self::cells(params) * Self::n(params)
    }
}

/// The content of `shard.ron` for a batch of kind `K`.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardFile<K: ShardKind> {
    /// [`SHARD_FORMAT`].
    pub format: u32,
    /// The digest algorithm of the rows' digests
    /// ([`DIGEST_FORMAT`](crate::engine::DIGEST_FORMAT); absent: 1).
    pub digest_format: u32,
    /// The command parameters.
    pub params: K::Params,
    /// This shard's number, 1-based.
    pub shard: u32,
    /// The number of shards.
    pub shards: u32,
    /// First global index of this shard.
    pub range_start: u64,
    /// One past the last global index.
    pub range_end: u64,
    /// Size of the rows file in bytes.
    pub experiments_bytes: u64,
    /// FNV-1a of the rows file, 16 hex digits.
    pub experiments_fnv: String,
    /// Aggregates of the cells this shard touched, by cell number.
    pub cells: Vec<K::Record>,
    /// FNV-1a (16 hex digits) of this record with this field empty, as
    /// compact RON: the aggregates are covered by a checksum like the rows,
    /// so an edited `shard.ron` is refused by `merge` instead of merged
    /// (set by [`ShardFile::write`], checked by [`ShardFile::read`]).
    pub meta_fnv: String,
}

/// The format-1 layout, field for field (see the module docs).
#[derive(Serialize, Deserialize)]
#[serde(
    rename = "ShardMeta",
    deny_unknown_fields,
    bound(deserialize = "P: Deserialize<'de>, R: Deserialize<'de>")
)]
struct Wire<P, R> {
    format: u32,
    #[serde(default = "digest_format_1")]
    digest_format: u32,
    params: P,
    shard: u32,
    shards: u32,
    range_start: u64,
    range_end: u64,
    experiments_bytes: u64,
    experiments_fnv: String,
    cells: Vec<R>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scenario_cells: Vec<R>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ensemble: Option<R>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    swarm_cells: Vec<R>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    whatif_cells: Vec<R>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    whatif_programme: Option<R>,
    #[serde(default)]
    meta_fnv: String,
}

fn digest_format_1() -> u32 {
    1
}

impl<K: ShardKind> Serialize for ShardFile<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut wire = Wire {
            format: self.format,
            digest_format: self.digest_format,
            params: &self.params,
            shard: self.shard,
            shards: self.shards,
            range_start: self.range_start,
            range_end: self.range_end,
            experiments_bytes: self.experiments_bytes,
            experiments_fnv: self.experiments_fnv.clone(),
            cells: Vec::new(),
            scenario_cells: Vec::new(),
            ensemble: None,
            swarm_cells: Vec::new(),
            whatif_cells: Vec::new(),
            whatif_programme: None,
            meta_fnv: self.meta_fnv.clone(),
        };
        let records = self.cells.iter().collect();
        match K::SLOT {
            Slot::Cells => wire.cells = records,
            Slot::ScenarioCells => wire.scenario_cells = records,
            Slot::SwarmCells => wire.swarm_cells = records,
            Slot::Ensemble => wire.ensemble = self.cells.first(),
            Slot::WhatifCells => wire.whatif_cells = records,
            Slot::WhatifProgramme => wire.whatif_programme = self.cells.first(),
        }
        wire.serialize(s)
    }
}

impl<'de, K: ShardKind> Deserialize<'de> for ShardFile<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let w = Wire::<K::Params, K::Record>::deserialize(d)?;
        let cells = match K::SLOT {
            Slot::Cells => w.cells,
            Slot::ScenarioCells => w.scenario_cells,
            Slot::SwarmCells => w.swarm_cells,
            Slot::Ensemble => w.ensemble.into_iter().collect(),
            Slot::WhatifCells => w.whatif_cells,
            Slot::WhatifProgramme => w.whatif_programme.into_iter().collect(),
        };
        Ok(ShardFile {
            format: w.format,
            digest_format: w.digest_format,
            params: w.params,
            shard: w.shard,
            shards: w.shards,
            range_start: w.range_start,
            range_end: w.range_end,
            experiments_bytes: w.experiments_bytes,
            experiments_fnv: w.experiments_fnv,
            cells,
            meta_fnv: w.meta_fnv,
        })
    }
}

/// Read the text of `dir/shard.ron`, bounded; a directory without one is
/// refused as incomplete (missing, still running or interrupted).
pub fn read_shard_text(dir: &Path) -> Result<(PathBuf, String)> {
    let path = dir.join(SHARD_FILE);
    if fs::symlink_metadata(&path).is_err() {
        return Err(Error::folder(
            dir,
            format!(
                "not a complete sweep output (no {SHARD_FILE}): missing, still running or interrupted"
            ),
        ));
    }
    let text = crate::input::read_text_limited(&path, SHARD_LIMITS)?;
    Ok((path, text))
}

impl<K: ShardKind> ShardFile<K> {
    /// The metadata of a directory from its parts: `rows` is the rows
    /// file's size and checksum, `cells` the aggregates in cell order.
    pub fn new(
        params: &K::Params,
        shard: Shard,
        range: (u64, u64),
        rows: (u64, u64),
        cells: &[(u32, K::Aggregate)],
    ) -> ShardFile<K> {
        ShardFile {
            format: SHARD_FORMAT,
            digest_format: crate::engine::DIGEST_FORMAT,
            params: params.clone(),
            shard: shard.index,
            shards: shard.count,
            range_start: range.0,
            range_end: range.1,
            experiments_bytes: rows.0,
            experiments_fnv: format!("{:016x}", rows.1),
            cells: cells.iter().map(|(c, a)| K::to_record(*c, a)).collect(),
            meta_fnv: String::new(),
        }
    }

    /// The checksum of this record without its `meta_fnv` (see the field).
    pub fn checksum(&self) -> String {
        let mut bare = self.clone();
        bare.meta_fnv.clear();
        let text = ron::to_string(&bare).expect("shard metadata serializes");
        let mut fnv = Fnv64::new();
        fnv.update(text.as_bytes());
        format!("{:016x}", fnv.value())
    }

    /// Read and parse `dir/shard.ron`, refusing one whose checksum does not
    /// match (edited aggregates) or that has none (written before it).
    pub fn read(dir: &Path) -> Result<ShardFile<K>> {
        let (path, text) = read_shard_text(dir)?;
        let meta: ShardFile<K> = crate::input::parse_ron(&text, &path)?;
        let invalid = |field: &str, message: String| {
            crate::input::locate_error(
                Error::Invalid {
                    path: path.clone(),
                    field: field.into(),
                    message,
                },
                &text,
            )
        };
        if meta.format != SHARD_FORMAT {
            return Err(invalid(
                "format",
                format!("{} is not the supported format {SHARD_FORMAT}", meta.format),
            ));
        }
        if meta.digest_format != crate::engine::DIGEST_FORMAT {
            return Err(invalid(
                "digest_format",
                format!(
                    "{} (its digests were computed by another chaosim; this one computes format {}): run the shard again",
                    meta.digest_format,
                    crate::engine::DIGEST_FORMAT
                ),
            ));
        }
        if meta.meta_fnv.is_empty() {
            return Err(invalid(
                "meta_fnv",
                "missing: the aggregates carry no checksum (written by an older chaosim); run the shard again".into(),
            ));
        }
        if meta.checksum() != meta.meta_fnv {
            return Err(invalid(
                "meta_fnv",
                "the parameters or aggregates do not match this checksum: the file was edited or corrupted".into(),
            ));
        }
        // A resealed file can pass the checksum: its place must still be
        // one of its batch's shards.
        if meta.shards == 0 {
            return Err(invalid("shards", "0: a batch has at least 1 shard".into()));
        }
        if meta.shard == 0 || meta.shard > meta.shards {
            return Err(invalid(
                "shard",
                format!(
                    "{} is not one of the {} shards (allowed: 1 to {})",
                    meta.shard, meta.shards, meta.shards
                ),
            ));
        }
        Ok(meta)
    }

    /// Stage `shard.ron` (with its checksum): the marker that the directory
    /// is complete, renamed into place last by [`OutDir::commit`].
    pub fn write(&self, tx: &mut OutDir) -> Result<()> {
        let mut meta = self.clone();
        meta.meta_fnv = meta.checksum();
        let text = ron::ser::to_string_pretty(
            &meta,
            ron::ser::PrettyConfig::default().compact_arrays(true),
        )
        .map_err(|e| Error::Check(format!("serializing {SHARD_FILE}: {e}")))?;
        tx.write(SHARD_FILE, (text + "\n").as_bytes())
    }
}

/// An error about `field` of `dir/shard.ron`, with its line:column (the
/// file is read again, bounded, to find it).
pub fn meta_error(dir: &Path, field: &str, message: String) -> Error {
    let path = dir.join(SHARD_FILE);
    let e = Error::Invalid {
        path: path.clone(),
        field: field.into(),
        message,
    };
    match crate::input::read_text_limited(&path, SHARD_LIMITS) {
        Ok(text) => crate::input::locate_error(e, &text),
        Err(_) => e,
    }
}

/// Check and create the output folder of a batch command that writes
/// `names` into it (see [`OutDir::prepare`]): any of them existing is
/// refused unless `force`, which replaces exactly those files when the
/// command commits.
pub fn prepare_out_dir(out: &Path, names: &[&str], force: bool, flag: &str) -> Result<OutDir> {
    OutDir::prepare(out, names, force, flag)
}

/// The output of one shard of a batch of kind `K` being written: the
/// folder's transaction (every file [`ShardKind::files`] names, checked
/// before the run) and the rows file, headed, that the ordered runner
/// streams into. [`finish`](Self::finish) stages the tables, `shard.ron`
/// and commits. Without a folder (a library run that keeps only the
/// report), the rows are counted and dropped.
pub struct ShardOut<'p, K: ShardKind> {
    params: &'p K::Params,
    shard: Shard,
    range: (u64, u64),
    tx: Option<OutDir>,
    sink: crate::record::csv::CsvSink,
}

impl<'p, K: ShardKind> ShardOut<'p, K> {
    /// Open `dir` (if any) for shard `shard` of the batch `params`
    /// (`force`: replace this batch's files in it).
    pub fn open(
        params: &'p K::Params,
        shard: Shard,
        dir: Option<&Path>,
        force: bool,
    ) -> Result<ShardOut<'p, K>> {
        let range = shard.range(K::total(params));
        let rows = K::rows_file(params);
        let mut tx = match dir {
            Some(d) => Some(prepare_out_dir(d, &K::files(params), force, "--out")?),
            None => None,
        };
        let mut sink = match tx.as_mut() {
            Some(tx) => tx.sink(rows)?,
            None => crate::record::csv::CsvSink::discard(PathBuf::from(rows)),
        };
        sink.write_raw(K::rows_header(params).as_bytes())?;
        Ok(ShardOut {
            params,
            shard,
            range,
            tx,
            sink,
        })
    }

    /// The global range of work items this shard runs.
    pub fn range(&self) -> (u64, u64) {
        self.range
    }

    /// The rows file, for the ordered runner.
    pub fn sink(&mut self) -> &mut crate::record::csv::CsvSink {
        &mut self.sink
    }

    /// Close the rows file and, with a folder, stage the tables of `cells`
    /// ([`ShardKind::write_tables`]) and `shard.ron`, then commit.
    pub fn finish(self, cells: &[(u32, K::Aggregate)]) -> Result<()> {
        let rows = (self.sink.bytes_written(), self.sink.checksum());
        self.sink.finish()?;
        if let Some(mut tx) = self.tx {
            K::write_tables(&mut tx, self.params, cells)?;
            ShardFile::<K>::new(self.params, self.shard, self.range, rows, cells).write(&mut tx)?;
            tx.commit()?;
        }
        Ok(())
    }
}

/// What a merge produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeReport {
    /// Shards merged.
    pub shards: u32,
    /// Work items in the merged output.
    pub experiments: u64,
    /// Cells in the merged summary.
    pub cells: u64,
}

/// Merge the shards `metas` (each read from its directory, any order) into
/// `out`, giving the files an unsharded run with the same parameters writes.
///
/// Refuses, with a message naming the directory or shard, before writing
/// anything: shards of different batches ([`ShardKind::difference`], shard
/// count), a shard given twice, a missing shard, ranges that do not match
/// `K/N`, a rows file whose size differs from its metadata, or `out` among
/// the inputs. A checksum mismatch found while copying removes the partial
/// output and is reported.
pub fn merge<K: ShardKind>(
    metas: &[(PathBuf, ShardFile<K>)],
    out: &Path,
    force: bool,
) -> Result<MergeReport> {
    let (first_dir, first) = (&metas[0].0, &metas[0].1);
    let params = first.params.clone();
    let count = first.shards;
    for (dir, m) in &metas[1..] {
        if let Some(diff) = K::difference(&params, &m.params) {
            return Err(Error::folder(
                dir,
                format!(
                    "foreign shard: its {diff} differs from that of {}",
                    first_dir.display()
                ),
            ));
        }
        if m.shards != count {
            return Err(meta_error(
                dir,
                "shards",
                format!(
                    "foreign shard: it is one of {} shards, {} is one of {count}",
                    m.shards,
                    first_dir.display()
                ),
            ));
        }
    }
    let total = K::total(&params);
    let rows_file = K::rows_file(&params);
    let mut by_index: Vec<Option<usize>> = vec![None; count as usize];
    for (i, (dir, m)) in metas.iter().enumerate() {
        let k = m.shard;
        if k == 0 || k > count {
            return Err(meta_error(
                dir,
                "shard",
                format!("shard {k}/{count} is out of range"),
            ));
        }
        if let Some(j) = by_index[k as usize - 1] {
            return Err(Error::folder(
                dir,
                format!(
                    "duplicate shard: {k}/{count} is also given as {}",
                    metas[j].0.display()
                ),
            ));
        }
        by_index[k as usize - 1] = Some(i);
        let shard = Shard { index: k, count };
        let expect = shard.range(total);
        if (m.range_start, m.range_end) != expect {
            return Err(Error::folder(
                dir,
                format!(
                    "shard {k}/{count} covers experiments {}..{}, expected {}..{}",
                    m.range_start, m.range_end, expect.0, expect.1
                ),
            ));
        }
        let csv = dir.join(rows_file);
        let len = crate::input::open_input(&csv)?
            .metadata()
            .map_err(|e| Error::io(&csv, e))?
            .len();
        if len != m.experiments_bytes {
            return Err(meta_error(
                dir,
                "experiments_bytes",
                format!(
                    "{} is {len} bytes, not the {} recorded here: truncated or modified",
                    csv.display(),
                    m.experiments_bytes
                ),
            ));
        }
    }
    let missing: Vec<String> = by_index
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(k, _)| format!("{}/{count}", k + 1))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage {
            flag: "DIR".into(),
            message: format!("missing shard(s) {}", missing.join(", ")),
        });
    }
    let out_canon = out.canonicalize().ok();
    for (dir, _) in metas {
        if out_canon.is_some() && dir.canonicalize().ok() == out_canon {
            return Err(Error::Usage {
                flag: "--out".into(),
                message: format!("{} is also an input", dir.display()),
            });
        }
    }
    let ordered: Vec<&(PathBuf, ShardFile<K>)> = by_index
        .iter()
        .map(|slot| &metas[slot.expect("checked")])
        .collect();
    // Parse all aggregates before writing anything.
    let cells = fold_cells(&params, &ordered)?;
    let mut tx = prepare_out_dir(out, &K::files(&params), force, "--out")?;
    let sums = copy_rows(&ordered, &mut tx, rows_file, &K::rows_header(&params))?;
    K::write_tables(&mut tx, &params, &cells)?;
    ShardFile::<K>::new(&params, Shard::WHOLE, (0, total), sums, &cells).write(&mut tx)?;
    tx.commit()?;
    Ok(MergeReport {
        shards: count,
        experiments: cells.iter().map(|(_, a)| K::items(a)).sum(),
        cells: cells.len() as u64,
    })
}

/// Fold the per-cell aggregates every shard recorded into one aggregate per
/// cell, in cell order (cells no shard touched are left out); a cell number
/// out of range is refused, naming the slot and the shard's `shard.ron`.
fn fold_cells<K: ShardKind>(
    params: &K::Params,
    ordered: &[&(PathBuf, ShardFile<K>)],
) -> Result<Vec<(u32, K::Aggregate)>> {
    let mut cells: Vec<Option<K::Aggregate>> = (0..K::cells(params)).map(|_| None).collect();
    for (dir, m) in ordered {
        let path = dir.join(SHARD_FILE);
        K::check_records(m, &path)?;
        for r in &m.cells {
            let (cell, agg) = K::from_record(params, m, r, &path)?;
            match cells.get_mut(cell as usize) {
                Some(Some(a)) => a.merge_from(&agg),
                Some(c @ None) => *c = Some(agg),
                None => {
                    return Err(Error::Invalid {
                        path,
                        field: K::SLOT.field().into(),
                        message: format!("cell {cell} out of range"),
                    });
                }
            }
        }
    }
    Ok(cells
        .into_iter()
        .enumerate()
        .filter_map(|(i, a)| a.map(|a| (i as u32, a)))
        .collect())
}

/// Concatenate the shards' `file` (after `header`) into `out/file`,
/// checking each file's header and checksum. Returns the merged file's size
/// and checksum.
fn copy_rows<K: ShardKind>(
    ordered: &[&(PathBuf, ShardFile<K>)],
    tx: &mut OutDir,
    file: &str,
    expected_header: &str,
) -> Result<(u64, u64)> {
    let mut sink = tx.sink(file)?;
    sink.write_raw(expected_header.as_bytes())?;
    let mut buf = vec![0u8; 1 << 20];
    for (dir, m) in ordered {
        let path = dir.join(file);
        let file = crate::input::open_input(&path)?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        crate::input::read_line_limited(&mut reader, &mut line, expected_header.len(), &path, 1)?;
        let header = String::from_utf8_lossy(&line).into_owned();
        if header != expected_header {
            return Err(Error::InvalidAt {
                path: path.clone(),
                line: 1,
                column: 1,
                field: "(header)".into(),
                message: "unexpected header: not a chaosim sweep file".into(),
            });
        }
        let mut fnv = Fnv64::new();
        fnv.update(header.as_bytes());
        loop {
            let got = reader.read(&mut buf).map_err(|e| Error::io(&path, e))?;
            if got == 0 {
                break;
            }
            fnv.update(&buf[..got]);
            sink.write_raw(&buf[..got])?;
        }
        if format!("{:016x}", fnv.value()) != m.experiments_fnv {
            return Err(meta_error(
                dir,
                "experiments_fnv",
                format!(
                    "{} does not match the checksum recorded here: modified or corrupted",
                    path.display()
                ),
            ));
        }
    }
    let bytes = sink.bytes_written();
    let fnv = sink.checksum();
    sink.finish()?;
    Ok((bytes, fnv))
}
