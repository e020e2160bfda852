//! A real Slurm run: `scripts/slurm-cluster.sh` brings up a one-node cluster
//! on 127.0.0.1, and each sharded command runs as a 4-task job array plus a
//! dependent (`afterok`) merge job; every merged result must be
//! byte-identical to the same command run unsharded. A task made to fail
//! must stop the `afterok` merge (cancelled by `kill_invalid_depend`) and
//! make an `afterany` merge refuse, naming the failed shard's directory.
//!
//! Skipped, with a message on stderr, when the packages are absent or Slurm
//! cannot be started (not root). The test suite never installs anything:
//! `scripts/slurm-cluster.sh up` exits 3 when the packages are missing
//! (tested below with a recording `apt-get` first on PATH); only
//! `scripts/slurm-cluster.sh install` installs them, and `.ci/run` calls it
//! before `cargo test`, so CI runs the cluster test. The cluster is torn
//! down by PID when the test ends, even when it fails (a `Drop` guard).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_chaosim");

/// The running cluster; `down` (by recorded PID) on drop.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let t = Instant::now();
        let st = Command::new("bash")
            .arg(script())
            .arg("down")
            .arg(&self.dir)
            .status();
        eprintln!(
            "slurm: cluster down ({:?}) in {:.1} s",
            st.map(|s| s.code()),
            t.elapsed().as_secs_f64()
        );
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-cluster.sh")
}

/// Bring the cluster up, or say why not and return `None`.
fn up(dir: &Path) -> Option<Cluster> {
    if !cfg!(target_os = "linux") {
        eprintln!("SKIPPED slurm test: not Linux");
        return None;
    }
    let _ = std::fs::remove_dir_all(dir);
    // A port pair of its own, so that two test runs on one machine (two
    // worktrees) do not collide.
    let port = 16817 + 2 * (std::process::id() % 2000);
    let out = match Command::new("bash")
        .arg(script())
        .arg("up")
        .arg(dir)
        .env("SLURM_CLUSTER_PORT", port.to_string())
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIPPED slurm test: cannot run bash: {e}");
            return None;
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Some(Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("etc/slurm.conf"),
        }),
        Some(3) => {
            eprintln!(
                "SKIPPED slurm test: Slurm is not installed or cannot be started here \
                 (`scripts/slurm-cluster.sh install` installs it as root): {}",
                err.trim()
            );
            None
        }
        _ => {
            // Started something, maybe: tear it down, then fail loudly.
            let _ = Command::new("bash")
                .arg(script())
                .arg("down")
                .arg(dir)
                .status();
            panic!("slurm-cluster.sh up failed ({:?}): {err}", out.status);
        }
    }
}

impl Cluster {
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c.env(
            "PATH",
            format!(
                "{}:/usr/sbin:/sbin",
                std::env::var("PATH").unwrap_or_default()
            ),
        );
        for k in [
            "SLURM_ARRAY_TASK_ID",
            "JOB_COMPLETION_INDEX",
            "SLURM_JOB_ID",
        ] {
            c.env_remove(k);
        }
        c
    }

    /// Submit `body` (bash) as a job; returns the job id.
    fn sbatch(&self, name: &str, args: &[&str], body: &str) -> String {
        let jobs = self.dir.join("jobs");
        let file = jobs.join(format!("{name}.sh"));
        std::fs::write(&file, format!("#!/bin/bash\nset -eu\n{body}\n")).unwrap();
        let log = jobs.join(format!("{name}-%A_%a.log"));
        let out = self
            .cmd("sbatch")
            .arg("--parsable")
            .arg(format!("--job-name={name}"))
            .arg(format!("--output={}", log.display()))
            .arg(format!("--chdir={}", jobs.display()))
            .args(args)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sbatch {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        id.split(';').next().unwrap().to_string()
    }

    /// Wait until none of `ids` is queued or running.
    fn wait(&self, ids: &[&str], limit: Duration) {
        let t = Instant::now();
        loop {
            let out = self
                .cmd("squeue")
                .args(["-h", "-o", "%i %T %r", "-j", &ids.join(",")])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && text.trim().is_empty() {
                return;
            }
            if t.elapsed() > limit {
                panic!("jobs still queued after {limit:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// `(JobState, ExitCode)` of every record of job `id` (one per array task).
    fn states(&self, id: &str) -> Vec<(String, String)> {
        let out = self
            .cmd("scontrol")
            .args(["show", "job", "-o", id])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let field = |k: &str| {
                    l.split_whitespace()
                        .find_map(|f| f.strip_prefix(k))
                        .unwrap_or("")
                        .to_string()
                };
                (field("JobState="), field("ExitCode="))
            })
            .collect()
    }

    fn log(&self, name: &str) -> String {
        let mut all = String::new();
        let mut entries: Vec<_> = std::fs::read_dir(self.dir.join("jobs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let f = p.file_name().unwrap().to_string_lossy().to_string();
                f.starts_with(&format!("{name}-")) && f.ends_with(".log")
            })
            .collect();
        entries.sort();
        for p in entries {
            all.push_str(&std::fs::read_to_string(p).unwrap_or_default());
        }
        all
    }
}

#[test]
fn up_never_installs_packages_it_exits_3_and_names_the_install_command() {
    if !cfg!(target_os = "linux") {
        eprintln!("SKIPPED: not Linux");
        return;
    }
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("slurm-no-install");
    let _ = std::fs::remove_dir_all(&work);
    let fake = work.join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    // A fake package manager, first on PATH, that records every call.
    let calls = work.join("calls.log");
    for tool in ["apt-get", "apt", "dpkg"] {
        let p = fake.join(tool);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{tool} $*\" >> '{}'\nexit 0\n",
                calls.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The daemons are hidden: PATH is the fake folder and the base system
    // without its sbin folders, and the script searches no sbin folder.
    let path = format!("{}:/usr/bin:/bin", fake.display());
    let env = |c: &mut Command| {
        c.env("PATH", &path)
            .env("SLURM_CLUSTER_SBIN", "")
            .env("SLURM_CLUSTER_PORT", "16815");
    };
    let mut probe = Command::new("bash");
    probe.args(["-c", "command -v slurmctld slurmd munged"]);
    env(&mut probe);
    let found = probe.output().unwrap();
    if !String::from_utf8_lossy(&found.stdout).trim().is_empty() {
        eprintln!(
            "SKIPPED: the Slurm daemons are on /usr/bin here: {}",
            String::from_utf8_lossy(&found.stdout).trim()
        );
        return;
    }
    // The control: the fake is what this environment's `apt-get` runs.
    let mut control = Command::new("bash");
    control.args(["-c", "apt-get --version"]);
    env(&mut control);
    assert!(control.status().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap().trim(),
        "apt-get --version"
    );
    std::fs::remove_file(&calls).unwrap();

    let dir = work.join("cluster");
    let mut up = Command::new("bash");
    up.arg(script()).arg("up").arg(&dir);
    env(&mut up);
    let out = up.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("missing slurmctld") && err.contains("install' as root first"),
        "{err}"
    );
    assert!(
        !calls.exists(),
        "`up` called the package manager: {}",
        std::fs::read_to_string(&calls).unwrap_or_default()
    );
    assert!(
        !dir.exists(),
        "`up` wrote {} before refusing",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// Run chaosim directly (the unsharded reference); `verdict`: the command
/// judges a verdict, so exit 1 (a failed row) is a result too.
fn chaosim(args: &[&str], verdict: bool) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert!(
        out.status.success() || (verdict && out.status.code() == Some(1)),
        "chaosim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file of `reference` (top level) is byte-identical in `merged`.
fn same_files(reference: &Path, merged: &Path) {
    let mut n = 0;
    for e in std::fs::read_dir(reference).unwrap().flatten() {
        if !e.file_type().unwrap().is_file() {
            continue;
        }
        let name = e.file_name();
        let a = std::fs::read(e.path()).unwrap();
        let b = std::fs::read(merged.join(&name))
            .unwrap_or_else(|err| panic!("{}: {err}", merged.join(&name).display()));
        assert!(
            a == b,
            "{} differs between the unsharded run and the merged shards",
            name.to_string_lossy()
        );
        n += 1;
    }
    assert!(n >= 3, "{}: only {n} files", reference.display());
}

fn has_swarm() -> bool {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim_start().starts_with("swarm "))
}

/// One sharded command: its unsharded arguments, the array form and the
/// shard directories' names (the array's task ids).
struct Case {
    name: &'static str,
    args: Vec<&'static str>,
    array: &'static str,
    ids: Vec<u32>,
    /// Exits 1 when a verdict fails (swarm): not a failed task.
    verdict: bool,
}

#[test]
fn sharded_commands_on_a_real_slurm_array_merge_to_the_unsharded_bytes() {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("slurm");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let t0 = Instant::now();
    let Some(cluster) = up(&work.join("cluster")) else {
        return;
    };
    eprintln!("slurm: cluster up in {:.1} s", t0.elapsed().as_secs_f64());

    let mut cases = vec![
        Case {
            name: "sweep",
            args: vec![
                "sweep",
                "--n",
                "40",
                "--rates",
                "0:0.2:0.1",
                "--seed",
                "3",
                "--quiet",
            ],
            array: "1-4",
            ids: vec![1, 2, 3, 4],
            verdict: false,
        },
        Case {
            name: "ensemble",
            args: vec![
                "ensemble",
                "--seeds",
                "0:7",
                "--days",
                "3",
                "--quiet",
                "--no-report",
            ],
            // A stepped array: IDs 0, 2, 4, 6 map to shards 1..4.
            array: "0-6:2",
            ids: vec![0, 2, 4, 6],
            verdict: false,
        },
    ];
    if has_swarm() {
        cases.push(Case {
            name: "swarm",
            args: vec!["swarm", "--ids", "S02_acl_spam", "--seeds", "8", "--quiet"],
            array: "1-4",
            ids: vec![1, 2, 3, 4],
            // S02 fails on the default stack: its rows exit 1.
            verdict: true,
        });
    } else {
        eprintln!("SKIPPED swarm case: `chaosim swarm` does not exist in this build");
    }

    // Submit every array and its afterok merge, then the failing case.
    let mut submitted = Vec::new();
    for c in &cases {
        let dir = work.join(c.name);
        std::fs::create_dir_all(&dir).unwrap();
        let cmd = c.args.join(" ");
        let array = cluster.sbatch(
            &format!("{}-array", c.name),
            &[&format!("--array={}", c.array)],
            &if c.verdict {
                // Exit 1 is a failed verdict (the shard is complete).
                format!(
                    "{BIN} {cmd} --threads 1 --out {}/shard-$SLURM_ARRAY_TASK_ID || [ $? -eq 1 ]",
                    dir.display()
                )
            } else {
                format!(
                    "exec {BIN} {cmd} --threads 1 --out {}/shard-$SLURM_ARRAY_TASK_ID",
                    dir.display()
                )
            },
        );
        let shards: Vec<String> = c
            .ids
            .iter()
            .map(|i| format!("{}/shard-{i}", dir.display()))
            .collect();
        let merge = cluster.sbatch(
            &format!("{}-merge", c.name),
            &[&format!("--dependency=afterok:{array}")],
            &format!(
                "exec {BIN} merge {} --out {}/merged --quiet",
                shards.join(" "),
                dir.display()
            ),
        );
        submitted.push((array, merge));
    }
    let fail_dir = work.join("failing");
    std::fs::create_dir_all(&fail_dir).unwrap();
    let fail_array = cluster.sbatch(
        "failing-array",
        &["--array=1-4"],
        &format!(
            "threads=1\n\
             # Task 3 is made to fail: chaosim refuses --threads 0 (exit 2).\n\
             if [ \"$SLURM_ARRAY_TASK_ID\" = 3 ]; then threads=0; fi\n\
             exec {BIN} ensemble --seeds 0:7 --days 1 --quiet --no-report --threads $threads --out {}/shard-$SLURM_ARRAY_TASK_ID",
            fail_dir.display()
        ),
    );
    let shards: Vec<String> = (1..=4)
        .map(|i| format!("{}/shard-{i}", fail_dir.display()))
        .collect();
    let fail_afterok = cluster.sbatch(
        "failing-merge-afterok",
        &[&format!("--dependency=afterok:{fail_array}")],
        &format!(
            "exec {BIN} merge {} --out {}/merged-afterok --quiet",
            shards.join(" "),
            fail_dir.display()
        ),
    );
    let fail_afterany = cluster.sbatch(
        "failing-merge-afterany",
        &[&format!("--dependency=afterany:{fail_array}")],
        &format!(
            "exec {BIN} merge {} --out {}/merged-afterany --quiet",
            shards.join(" "),
            fail_dir.display()
        ),
    );

    // The unsharded references, while Slurm works.
    for c in &cases {
        let reference = work.join(c.name).join("reference");
        let mut args = c.args.clone();
        let r = reference.to_string_lossy().to_string();
        args.extend(["--threads", "2", "--out", &r]);
        chaosim(&args, c.verdict);
    }

    let mut ids: Vec<&str> = submitted
        .iter()
        .flat_map(|(a, m)| [a.as_str(), m.as_str()])
        .collect();
    ids.extend([
        fail_array.as_str(),
        fail_afterok.as_str(),
        fail_afterany.as_str(),
    ]);
    cluster.wait(&ids, Duration::from_secs(150));

    for (c, (array, merge)) in cases.iter().zip(&submitted) {
        let tasks = cluster.states(array);
        assert_eq!(tasks.len(), 4, "{}: {tasks:?}", c.name);
        for (state, code) in &tasks {
            assert_eq!(
                (state.as_str(), code.as_str()),
                ("COMPLETED", "0:0"),
                "{} task:\n{}",
                c.name,
                cluster.log(&format!("{}-array", c.name))
            );
        }
        let m = cluster.states(merge);
        assert_eq!(
            m,
            vec![("COMPLETED".to_string(), "0:0".to_string())],
            "{} merge:\n{}",
            c.name,
            cluster.log(&format!("{}-merge", c.name))
        );
        let dir = work.join(c.name);
        same_files(&dir.join("reference"), &dir.join("merged"));
        eprintln!(
            "slurm: {} merged byte-identical to the unsharded run",
            c.name
        );
    }

    // The failed task: exit 2, the afterok merge cancelled, the afterany
    // merge refusing with the failed shard's directory.
    let tasks = cluster.states(&fail_array);
    let failed: Vec<_> = tasks.iter().filter(|(s, _)| s == "FAILED").collect();
    assert_eq!(failed.len(), 1, "{tasks:?}");
    assert_eq!(failed[0].1, "2:0", "{tasks:?}");
    assert!(
        cluster.log("failing-array").contains("--threads"),
        "the failed task says why: {}",
        cluster.log("failing-array")
    );
    let (state, _) = &cluster.states(&fail_afterok)[0];
    assert_eq!(state, "CANCELLED", "afterok merge behind a failed task");
    assert!(!fail_dir.join("merged-afterok").exists());
    let (state, code) = &cluster.states(&fail_afterany)[0];
    assert_eq!((state.as_str(), code.as_str()), ("FAILED", "2:0"));
    let log = cluster.log("failing-merge-afterany");
    // The failed task wrote no shard.ron: merge names its directory.
    assert!(
        log.contains("shard-3") && log.contains("no shard.ron"),
        "merge log: {log}"
    );
    assert!(!fail_dir.join("merged-afterany").join("shard.ron").exists());

    eprintln!(
        "slurm: whole Slurm test (cluster up, {} arrays + merges, references, teardown excluded) in {:.1} s",
        cases.len() + 1,
        t0.elapsed().as_secs_f64()
    );
}
