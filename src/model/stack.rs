//! The whole stack: Layer 1 (+ governance), Layer 2 and the replicated log,
//! composed into one model with one event enum, plus the stack description
//! (`stack.ron`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::{Ctx, EventInfo, SeedPath, SimTime};
use crate::error::{Error, FieldError, Result};
use crate::safeguard::{SafeguardLog, SafeguardSet};

use super::Component;
use super::cluster::{Cluster, ClusterEvent, ClusterSpec};
use super::layer1::{Layer1, Layer1Event, Layer1Spec};
use super::layer2::{Layer2, Layer2Event, Layer2Spec};

/// The stack description: one section per layer. Sections left out of a
/// user's file take their defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StackSpec {
    /// Kernels, control plane, bus, resources, API, governance, Layer-1 safeguards.
    pub layer1: Layer1Spec,
    /// HTM queue, workers, scheduler, trigger mesh, policies, Layer-2 safeguards.
    pub layer2: Layer2Spec,
    /// The replicated immutable log.
    pub cluster: ClusterSpec,
    /// The natural magnitude of each fault kind at intensity 1.
    pub faults: crate::fault::FaultParams,
    /// The difficulty levels 1..=10.
    pub difficulty: crate::fault::DifficultyTable,
    /// Recovery playbooks loaded from a `--playbooks DIR` (validated against
    /// Layer 1 when loaded); `None` = the embedded `playbooks/*.ron`.
    #[serde(skip)]
    pub playbooks: Option<crate::playbook::PlaybookSet>,
}

impl StackSpec {
    /// Parse and validate a stack description.
    pub fn parse(text: &str, path: &Path) -> Result<StackSpec> {
        let spec: StackSpec = crate::input::parse_ron(text, path)?;
        spec.validate().map_err(|e| e.in_file(path))?;
        Ok(spec)
    }

    /// The embedded default stack: each layer's embedded defaults
    /// (`src/defaults/layer1.ron`, `layer2.ron`, `cluster.ron`).
    pub fn embedded() -> StackSpec {
        StackSpec {
            layer1: Layer1Spec::embedded(),
            layer2: Layer2Spec::embedded_default()
                .expect("the embedded Layer-2 spec is valid (tested)"),
            cluster: ClusterSpec::embedded_default()
                .expect("the embedded cluster spec is valid (tested)"),
            faults: crate::fault::FaultParams::embedded(),
            difficulty: crate::fault::DifficultyTable::embedded().clone(),
            playbooks: None,
        }
    }

    /// The embedded default stack as one RON text (what `--stack FILE`
    /// accepts), for users to copy and edit.
    pub fn embedded_text() -> String {
        format!(
            "// The default chaosim stack. Any section or field left out takes its default.\n(\n    layer1: {},\n    layer2: {},\n    cluster: {},\n    faults: {},\n    difficulty: {},\n)\n",
            strip(crate::model::layer1::spec::DEFAULT_RON),
            strip(crate::model::layer2::spec::DEFAULT_LAYER2_RON),
            strip(crate::model::cluster::spec::DEFAULT_RON),
            strip(crate::fault::params::DEFAULT_RON),
            strip(crate::fault::difficulty::DEFAULT_RON),
        )
    }

    /// A content hash of the embedded stack (for checkpoints and handles).
    pub fn embedded_fingerprint() -> u64 {
        crate::engine::rng::fnv1a64(0x05, StackSpec::embedded_text().as_bytes())
    }

    /// A stack file from disk.
    pub fn load(path: &Path) -> Result<StackSpec> {
        let text = crate::input::read_text(path)?;
        StackSpec::parse(&text, path)
    }

    /// Check every section; errors name the section and field
    /// (`layer2.htm.queue_critical`).
    pub fn validate(&self) -> Result<(), FieldError> {
        let in_section = |section: &'static str| move |e: FieldError| e.within(section);
        self.layer1.validate().map_err(in_section("layer1"))?;
        self.layer2.validate().map_err(in_section("layer2"))?;
        self.cluster.validate().map_err(in_section("cluster"))?;
        self.faults.validate().map_err(in_section("faults"))?;
        self.difficulty
            .validate()
            .map_err(in_section("difficulty"))?;
        Ok(())
    }

    /// Use the playbooks of `dir` instead of the embedded ones, checking that
    /// they provide every playbook Layer 1 needs.
    pub fn load_playbooks(&mut self, dir: &Path) -> Result<()> {
        let set = crate::playbook::PlaybookSet::load_dir(dir)?;
        Layer1::with_playbooks(
            &self.layer1,
            SafeguardSet::EMPTY,
            SeedPath::root(0),
            SimTime::ZERO,
            &set,
        )
        .map_err(|e| playbook_error(dir, &self.layer1, &set, e))?;
        self.playbooks = Some(set);
        Ok(())
    }

    /// The safeguards the stack deploys by default (the layers' default
    /// sets; the replicated log deploys none of the consistency safeguards
    /// by default, so the programme has them to discover).
    pub fn default_safeguards(&self) -> SafeguardSet {
        self.layer1
            .default_safeguards
            .union(self.layer2.default_safeguards)
    }
}

/// A playbook folder (`set`, read from `dir`) that does not fit Layer 1
/// (`spec`), as [`Layer1::with_playbooks`] said (`e`): a playbook with the
/// wrong trigger is named by its file and the line:column of its `trigger`;
/// a missing one is an error about the folder.
fn playbook_error(
    dir: &Path,
    spec: &Layer1Spec,
    set: &crate::playbook::PlaybookSet,
    e: FieldError,
) -> Error {
    let FieldError { field, message } = e;
    // The binding `with_playbooks` stopped at (the first whose playbook is
    // missing or starts on another trigger), if its playbook is there.
    let wrong_trigger = spec
        .playbooks
        .pairs()
        .into_iter()
        .find(|&(trigger, name)| set.get(name).is_none_or(|pb| pb.trigger != trigger))
        .and_then(|(_, name)| set.get(name));
    if let Some(wrong) = wrong_trigger
        && let Ok(files) = crate::input::ron_files(dir)
    {
        for path in files {
            let Ok(text) = crate::input::read_text(&path) else {
                continue;
            };
            if crate::playbook::Playbook::from_ron(&text, &path)
                .is_ok_and(|pb| pb.name == wrong.name)
            {
                let e = Error::Invalid {
                    path,
                    field: "trigger".into(),
                    message,
                };
                return crate::input::locate_error(e, &text);
            }
        }
    }
    Error::Invalid {
        path: dir.to_path_buf(),
        field: if field == "playbooks" {
            "(directory)".into()
        } else {
            field
        },
        message,
    }
}

/// A section's RON without its leading comment lines, indented for nesting.
fn strip(text: &str) -> String {
    let body: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim_start().starts_with("//") || l.trim().is_empty())
        .collect();
    body.join("\n    ").trim_end().to_string()
}

/// Which optional layers a stack instance runs (Layer 1 always runs: its
/// kernels boot at the start of every run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layers {
    /// Run Layer 2.
    pub layer2: bool,
    /// Run the replicated log.
    pub cluster: bool,
}

/// One event of the stack.
#[derive(Clone, Copy, Debug)]
pub enum StackEvent<D> {
    /// A Layer-1 event.
    L1(Layer1Event),
    /// A Layer-2 event.
    L2(Layer2Event),
    /// A replicated-log event.
    Cluster(ClusterEvent),
    /// An event of whatever drives the stack (a scenario runner).
    Driver(D),
}

impl<D> From<Layer1Event> for StackEvent<D> {
    fn from(e: Layer1Event) -> Self {
        StackEvent::L1(e)
    }
}
impl<D> From<Layer2Event> for StackEvent<D> {
    fn from(e: Layer2Event) -> Self {
        StackEvent::L2(e)
    }
}
impl<D> From<ClusterEvent> for StackEvent<D> {
    fn from(e: ClusterEvent) -> Self {
        StackEvent::Cluster(e)
    }
}

impl<D: EventInfo> EventInfo for StackEvent<D> {
    fn kind(&self) -> u16 {
        match self {
            StackEvent::L1(e) => e.kind(),
            StackEvent::L2(e) => e.kind(),
            StackEvent::Cluster(e) => e.kind(),
            StackEvent::Driver(e) => e.kind(),
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            StackEvent::L1(e) => e.kind_name(),
            StackEvent::L2(e) => e.kind_name(),
            StackEvent::Cluster(e) => e.kind_name(),
            StackEvent::Driver(e) => e.kind_name(),
        }
    }
    fn target(&self) -> u32 {
        match self {
            StackEvent::L1(e) => e.target(),
            StackEvent::L2(e) => e.target(),
            StackEvent::Cluster(e) => e.target(),
            StackEvent::Driver(e) => e.target(),
        }
    }
}

/// A running stack instance: the layers, each with its own random streams
/// below the instance's seed path.
pub struct Stack {
    /// Layer 1 (always present).
    pub l1: Layer1,
    /// Layer 2, when this instance runs it.
    pub l2: Option<Layer2>,
    /// The replicated log, when this instance runs it.
    pub cluster: Option<Cluster>,
}

impl Stack {
    /// Build the layers named by `layers` from `spec`.
    pub fn new(
        spec: &StackSpec,
        layers: Layers,
        deployed: SafeguardSet,
        seed: SeedPath,
        start: SimTime,
    ) -> Stack {
        let l1 = match &spec.playbooks {
            None => Layer1::new(&spec.layer1, deployed, seed.child("layer1"), start),
            Some(set) => {
                Layer1::with_playbooks(&spec.layer1, deployed, seed.child("layer1"), start, set)
                    .expect("playbooks are validated against the stack when loaded")
            }
        };
        Stack {
            l1,
            l2: layers.layer2.then(|| {
                let mut l2 = Layer2::new(&spec.layer2, deployed, seed.child("layer2"), start);
                // One governance policy for the stack: Layer 2's recovery
                // actions are routed by Layer 1's rules.
                l2.set_governance(spec.layer1.governance.clone());
                l2
            }),
            cluster: layers
                .cluster
                .then(|| Cluster::new(&spec.cluster, deployed, seed.child("cluster"), start)),
        }
    }

    /// Boot every layer.
    pub fn boot<D>(&mut self, ctx: &mut Ctx<'_, StackEvent<D>>) {
        self.l1.boot(ctx);
        if let Some(l2) = &mut self.l2 {
            l2.boot(ctx);
        }
        if let Some(c) = &mut self.cluster {
            c.boot(ctx);
        }
    }

    /// Route a layer event to its layer. Returns the driver event back if it is one.
    pub fn handle<D>(&mut self, ev: StackEvent<D>, ctx: &mut Ctx<'_, StackEvent<D>>) -> Option<D> {
        match ev {
            StackEvent::L1(e) => self.l1.handle(e, ctx),
            StackEvent::L2(e) => {
                if let Some(l2) = &mut self.l2 {
                    l2.handle(e, ctx)
                }
            }
            StackEvent::Cluster(e) => {
                if let Some(c) = &mut self.cluster {
                    c.handle(e, ctx)
                }
            }
            StackEvent::Driver(d) => return Some(d),
        }
        None
    }

    /// Raise the background load of every layer to `permille` more than its
    /// spec's (never lowers it): API requests and bus traffic on Layer 1,
    /// intents, mesh events and policy evaluations on Layer 2, client
    /// operations on the replicated log. The difficulty's load during
    /// recovery.
    pub fn raise_load(&mut self, now: SimTime, permille: u16) {
        self.l1.raise_load(now, permille);
        if let Some(l2) = &mut self.l2 {
            l2.raise_load(permille);
        }
        if let Some(c) = &mut self.cluster {
            c.raise_load(permille);
        }
    }

    /// Fingerprints of every running layer's whole state at `now`, by
    /// component, in a fixed order (self-check; not folded into digests).
    pub fn fingerprints(&self, now: SimTime) -> Vec<(&'static str, u64)> {
        let mut out: Vec<(&'static str, u64)> = self.l1.fingerprints().to_vec();
        if let Some(l2) = &self.l2 {
            out.extend(l2.fingerprints());
        }
        if let Some(c) = &self.cluster {
            out.extend(c.fingerprints(now));
        }
        out
    }

    /// Every layer's safeguard firings, merged.
    pub fn safeguards(&self) -> SafeguardLog {
        let mut log = self.l1.safeguards().clone();
        if let Some(l2) = &self.l2 {
            log.merge(l2.safeguards());
        }
        if let Some(c) = &self.cluster {
            log.merge(c.safeguards());
        }
        log
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A copy of the shipped playbook folder in a scratch folder, with
    /// `edit` applied to each file's (name, text).
    fn playbook_dir(tag: &str, edit: impl Fn(&str, String) -> Option<String>) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
        let dir = std::env::temp_dir().join(format!("chaosim-stack-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            if let Some(text) = edit(&name, text) {
                std::fs::write(dir.join(&name), text).unwrap();
            }
        }
        dir
    }

    #[test]
    fn a_bad_section_is_named_in_the_field_and_the_file() {
        let mut stack = StackSpec::embedded();
        stack.validate().unwrap();
        stack.cluster.nodes = 0;
        let e = stack.validate().unwrap_err();
        assert_eq!(e.field, "cluster.nodes", "{e}");
        let text = "(\n    cluster: (nodes: 0),\n)";
        let e = StackSpec::parse(text, Path::new("s.ron")).unwrap_err();
        let e = crate::input::locate_error(e, text).to_string();
        assert_eq!(
            e,
            "s.ron:2:22: cluster.nodes: 0 out of range (allowed 1..=31)"
        );
    }

    #[test]
    fn a_playbook_folder_that_does_not_fit_layer1_is_located() {
        let mut stack = StackSpec::embedded();
        let same = playbook_dir("same", |_, t| Some(t));
        stack.load_playbooks(&same).unwrap();
        std::fs::remove_dir_all(&same).unwrap();

        // The playbook bound to KernelUnresponsive starts on another trigger:
        // the error is about that file's `trigger`.
        let wrong = playbook_dir("wrong", |name, t| {
            Some(if name == "critical_kernel_restart.ron" {
                t.replace("trigger: KernelUnresponsive", "trigger: AclFlood")
            } else {
                t
            })
        });
        let e = stack.load_playbooks(&wrong).unwrap_err().to_string();
        let file = wrong.join("critical_kernel_restart.ron");
        assert_eq!(
            e,
            format!(
                "{}:6:14: trigger: 'critical_kernel_restart' has trigger AclFlood, expected KernelUnresponsive",
                file.display()
            )
        );
        std::fs::remove_dir_all(&wrong).unwrap();

        // A needed playbook that is not there: an error about the folder.
        let missing = playbook_dir("missing", |name, t| {
            (name != "critical_kernel_restart.ron").then_some(t)
        });
        let e = stack.load_playbooks(&missing).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: (directory): unknown playbook 'critical_kernel_restart'",
                missing.display()
            )
        );
        std::fs::remove_dir_all(&missing).unwrap();
    }
}
