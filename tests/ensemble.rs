//! Seed ensembles (`chaosim ensemble`): a seed's row expands into the same
//! year (same digest), the files do not depend on the thread count or on
//! sharding + merge, merge refuses shards that do not form one ensemble, and
//! the shard comes from the scheduler's environment for every array form.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use chaosim::sweep::runner::{Shard, resolve_shard};

fn tmp(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("ensemble")
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

fn chaosim() -> Command {
    let mut c = Command::cargo_bin("chaosim").unwrap();
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
    ] {
        c.env_remove(k);
    }
    c
}

/// `chaosim ensemble --seeds SEEDS --days 1 --quiet --no-report --out OUT EXTRA...`
fn ensemble(out: &Path, seeds: &str, extra: &[&str]) -> std::process::Output {
    chaosim()
        .args([
            "ensemble",
            "--seeds",
            seeds,
            "--days",
            "1",
            "--quiet",
            "--no-report",
        ])
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) {
    assert!(
        o.status.success(),
        "status {:?}\nstdout {}\nstderr {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

const FILES: [&str; 4] = ["seeds.csv", "summary.csv", "weeks.csv", "shard.ron"];

fn same_files(a: &Path, b: &Path) {
    for f in FILES {
        let x = std::fs::read(a.join(f)).unwrap();
        let y = std::fs::read(b.join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn a_seed_row_has_the_digest_chaosim_year_prints() {
    let out = tmp("digest");
    ok(&ensemble(&out, "5:6", &["--threads", "2"]));
    let seeds = std::fs::read_to_string(out.join("seeds.csv")).unwrap();
    let mut lines = seeds.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "seed");
    assert_eq!(*header.last().unwrap(), "digest");
    assert!(header.iter().any(|h| h.starts_with("deployed_run:")));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "5");
    assert_eq!(rows[1][0], "6");
    for row in &rows {
        assert_eq!(row.len(), header.len());
        let year_out = tmp(&format!("year-{}", row[0]));
        let o = chaosim()
            .args([
                "year",
                "--seed",
                row[0],
                "--days",
                "1",
                "--quiet",
                "--no-report",
            ])
            .arg("--out")
            .arg(&year_out)
            .output()
            .unwrap();
        ok(&o);
        let text = String::from_utf8_lossy(&o.stdout);
        let digest = text
            .lines()
            .find_map(|l| l.strip_prefix("digest of the run"))
            .unwrap()
            .trim();
        assert_eq!(digest, *row.last().unwrap(), "seed {}", row[0]);
        let mastered = text
            .lines()
            .find_map(|l| l.strip_prefix("mastered"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap();
        assert_eq!(mastered, row[1]);
        // The first deployment run of each safeguard is the year's
        // safeguards.csv `deployed` event.
        let sg = std::fs::read_to_string(year_out.join("safeguards.csv")).unwrap();
        for (i, h) in header.iter().enumerate() {
            let Some(name) = h.strip_prefix("deployed_run:") else {
                continue;
            };
            let first = sg
                .lines()
                .skip(1)
                .map(|l| l.split(',').collect::<Vec<_>>())
                .find(|f| f[2] == name && f[3] == "deployed")
                .map(|f| f[0].to_string())
                .unwrap_or_default();
            assert_eq!(row[i], first, "seed {} safeguard {name}", row[0]);
        }
    }
}

#[test]
fn threads_and_shards_give_the_same_bytes() {
    let one = tmp("t1");
    let two = tmp("t2");
    ok(&ensemble(&one, "0:5", &["--threads", "1"]));
    ok(&ensemble(&two, "0:5", &["--threads", "2"]));
    same_files(&one, &two);
    let summary = std::fs::read_to_string(one.join("summary.csv")).unwrap();
    assert!(summary.starts_with("quantity,n,mean,ci_low,ci_high,min,p10,"));
    assert!(summary.contains("\nmastered,6,"));
    assert!(summary.contains("\ndeployed_day:"));
    // Every interval lies where its quantity can: no negative count or day.
    for line in summary.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if let (Ok(low), Ok(high)) = (f[3].parse::<f64>(), f[4].parse::<f64>()) {
            assert!(0.0 <= low && low <= high, "{line}");
            if f[0].starts_with("deployed_share:") {
                assert!(high <= 1.0, "{line}");
            }
        }
    }
    // `chaosim report DIR` recognises an ensemble folder.
    let o = chaosim().arg("report").arg(&one).output().unwrap();
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ensemble report: wrote 3 plots"));
    for f in [
        "mastered.svg",
        "deployment_day.png",
        "pass_rate_weekly.svg",
        "index.html",
    ] {
        assert!(one.join("report").join(f).is_file(), "{f}");
    }

    let shards: Vec<PathBuf> = (1..=3).map(|k| tmp(&format!("s{k}"))).collect();
    // Shard 2 from a Slurm array (--array=1-3 gives IDs 1..3), others by flag.
    ok(&ensemble(
        &shards[0],
        "0:5",
        &["--shard", "1/3", "--threads", "1"],
    ));
    let o = chaosim()
        .args([
            "ensemble",
            "--seeds",
            "0:5",
            "--days",
            "1",
            "--quiet",
            "--no-report",
        ])
        .arg("--out")
        .arg(&shards[1])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_STEP", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    ok(&o);
    let o = chaosim()
        .args([
            "ensemble",
            "--seeds",
            "0:5",
            "--days",
            "1",
            "--quiet",
            "--no-report",
        ])
        .arg("--out")
        .arg(&shards[2])
        .args(["--shard-count", "3"])
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    ok(&o);
    let merged = tmp("merged");
    // Any order of inputs.
    ok(&chaosim()
        .arg("merge")
        .args([&shards[2], &shards[0], &shards[1]])
        .arg("--out")
        .arg(&merged)
        .arg("--quiet")
        .output()
        .unwrap());
    same_files(&one, &merged);
}

fn refused(o: &std::process::Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

#[test]
fn merge_refuses_missing_duplicate_and_foreign_shards() {
    let a = tmp("r1");
    let b = tmp("r2");
    let b_again = tmp("r2-again");
    ok(&ensemble(&a, "0:3", &["--shard", "1/2", "--threads", "1"]));
    ok(&ensemble(&b, "0:3", &["--shard", "2/2", "--threads", "1"]));
    ok(&ensemble(
        &b_again,
        "0:3",
        &["--shard", "2/2", "--threads", "1"],
    ));
    let merge = |dirs: &[&PathBuf]| {
        chaosim()
            .arg("merge")
            .args(dirs)
            .arg("--out")
            .arg(tmp("r-out"))
            .output()
            .unwrap()
    };
    refused(&merge(&[&a]), "missing shard(s) 2/2");
    refused(&merge(&[&a, &b, &b_again]), "duplicate shard: 2/2");
    // A shard of a 2-day programme (other --days) is foreign.
    let short = tmp("r-long");
    let o = chaosim()
        .args([
            "ensemble",
            "--seeds",
            "0:3",
            "--days",
            "2",
            "--quiet",
            "--no-report",
        ])
        .args(["--shard", "2/2", "--threads", "1", "--out"])
        .arg(&short)
        .output()
        .unwrap();
    ok(&o);
    let o = merge(&[&a, &short]);
    refused(&o, "foreign shard");
    refused(&o, "programme length");
    refused(&o, &short.display().to_string());
    // Other seeds.
    let seeds = tmp("r-seeds");
    ok(&ensemble(
        &seeds,
        "1:4",
        &["--shard", "2/2", "--threads", "1"],
    ));
    refused(&merge(&[&a, &seeds]), "seeds (1:4 vs 0:3)");
    // An API sweep shard is foreign too.
    let sweep = tmp("r-sweep");
    ok(&chaosim()
        .args([
            "sweep", "--n", "3", "--rates", "0.1", "--quiet", "--shard", "2/2",
        ])
        .arg("--out")
        .arg(&sweep)
        .output()
        .unwrap());
    refused(&merge(&[&a, &sweep]), "the other an ensemble");
    // A shard still running (no shard.ron) is named.
    std::fs::remove_file(b.join("shard.ron")).unwrap();
    refused(&merge(&[&a, &b]), "not a complete sweep output");
}

#[test]
fn bad_ensemble_flags_exit_2_with_one_clear_line() {
    let out = tmp("bad");
    for (args, needle) in [
        (&["--seeds", "5:4"][..], "--seeds"),
        (&["--seeds", "0:3", "--shard", "3/2"][..], "--shard"),
        (&["--seeds", "0:3", "--threads", "0"][..], "--threads"),
    ] {
        let o = chaosim()
            .arg("ensemble")
            .args(args)
            .args(["--days", "1", "--quiet", "--no-report"])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        refused(&o, needle);
    }
    let o = chaosim()
        .args([
            "ensemble",
            "--seeds",
            "0:3",
            "--days",
            "1",
            "--quiet",
            "--no-report",
        ])
        .arg("--out")
        .arg(&out)
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_MAX", "7")
        .env("SLURM_ARRAY_TASK_STEP", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    refused(&o, "SLURM_ARRAY_TASK_ID");
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    assert!(
        !out.join("seeds.csv").exists(),
        "nothing written on refusal"
    );
}

fn env_of(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
}

fn slurm(id: u64, min: u64, step: u64, count: u64) -> impl Fn(&str) -> Option<String> {
    env_of(vec![
        ("SLURM_ARRAY_TASK_ID", id.to_string()),
        ("SLURM_ARRAY_TASK_MIN", min.to_string()),
        ("SLURM_ARRAY_TASK_STEP", step.to_string()),
        ("SLURM_ARRAY_TASK_COUNT", count.to_string()),
    ])
}

#[test]
fn every_slurm_array_form_maps_to_shards_or_is_refused() {
    // --array=1-4: IDs 1..4, MIN 1, STEP 1, COUNT 4.
    for id in 1..=4u64 {
        let s = resolve_shard(None, None, &slurm(id, 1, 1, 4)).unwrap();
        assert_eq!(
            s,
            Shard {
                index: id as u32,
                count: 4
            }
        );
    }
    // --array=0-6:2: IDs 0,2,4,6, STEP 2, COUNT 4.
    for (k, id) in [0u64, 2, 4, 6].into_iter().enumerate() {
        let s = resolve_shard(None, None, &slurm(id, 0, 2, 4)).unwrap();
        assert_eq!(
            s,
            Shard {
                index: k as u32 + 1,
                count: 4
            }
        );
    }
    assert!(resolve_shard(None, None, &slurm(3, 0, 2, 4)).is_err());
    // --array=1,5,7: COUNT 3, MIN 1, STEP 1; IDs 5 and 7 map to K 4 and 6,
    // not below COUNT: refused, naming the variable.
    assert_eq!(
        resolve_shard(None, None, &slurm(1, 1, 1, 3)).unwrap(),
        Shard { index: 1, count: 3 }
    );
    for id in [5u64, 7] {
        let e = resolve_shard(None, None, &slurm(id, 1, 1, 3)).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_ID"), "{e}");
    }
    // --shard wins over the environment, even a refused one.
    assert_eq!(
        resolve_shard(Some("3/5"), None, &slurm(7, 1, 1, 3)).unwrap(),
        Shard { index: 3, count: 5 }
    );
    // Kubernetes Indexed Job.
    let k8s = env_of(vec![("JOB_COMPLETION_INDEX", "3".into())]);
    assert_eq!(
        resolve_shard(None, Some(4), &k8s).unwrap(),
        Shard { index: 4, count: 4 }
    );
    assert!(resolve_shard(None, None, &k8s).is_err());
    assert_eq!(
        resolve_shard(Some("1/2"), Some(4), &k8s).unwrap(),
        Shard { index: 1, count: 2 }
    );
}

/// A `chaosim` wrapper for the deploy files: the same commands, with the
/// workload shrunk (`--n 2`, `--seeds 0:3`, `--days 1`) so they run in a
/// second; every other argument reaches the real binary unchanged.
fn shrinking_wrapper(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("chaosim");
    std::fs::write(
        &wrapper,
        format!(
            r#"#!/bin/bash
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --n) args+=(--n 2); shift 2 ;;
    --seeds) args+=(--seeds 0:3); shift 2 ;;
    --years|--days) args+=(--days 1); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
exec {} "${{args[@]}}"
"#,
            env!("CARGO_BIN_EXE_chaosim")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn run_shell(program: &str, script: &str, envs: &[(&str, String)], path: &str) {
    let mut c = std::process::Command::new(program);
    c.arg("-c").arg(script).env("PATH", path);
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
    ] {
        c.env_remove(k);
    }
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

#[test]
fn deploy_slurm_scripts_run_as_arrays_and_merge() {
    let work = tmp("deploy-slurm");
    let bin = shrinking_wrapper(&work);
    let path = path_with(&bin);
    for kind in ["sweep", "ensemble"] {
        let array_script =
            std::fs::read_to_string(deploy(&format!("slurm/{kind}.sbatch"))).unwrap();
        let array = array_script
            .lines()
            .find_map(|l| l.strip_prefix("#SBATCH --array="))
            .unwrap_or_else(|| panic!("{kind}.sbatch has no #SBATCH --array"));
        let (a, b) = array.split_once('-').unwrap();
        let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
        let out = work.join(kind);
        for id in a..=b {
            let envs = [
                ("OUT", out.display().to_string()),
                ("SLURM_ARRAY_TASK_ID", id.to_string()),
                ("SLURM_ARRAY_TASK_MIN", a.to_string()),
                ("SLURM_ARRAY_TASK_MAX", b.to_string()),
                ("SLURM_ARRAY_TASK_STEP", "1".into()),
                ("SLURM_ARRAY_TASK_COUNT", (b - a + 1).to_string()),
            ];
            run_shell("bash", &array_script, &envs, &path);
        }
        let merge = std::fs::read_to_string(deploy(&format!("slurm/{kind}-merge.sbatch"))).unwrap();
        run_shell("bash", &merge, &[("OUT", out.display().to_string())], &path);
        assert!(out.join("merged/shard.ron").is_file(), "{kind}");
        assert!(out.join("merged/report/index.html").is_file(), "{kind}");
    }
}

#[test]
fn deploy_kubernetes_manifests_are_valid_yaml_and_their_commands_run() {
    use yaml_rust2::{Yaml, YamlLoader};
    let work = tmp("deploy-k8s");
    let bin = shrinking_wrapper(&work);
    let path = path_with(&bin);
    let results = work.join("results");
    let load = |name: &str| -> Vec<Yaml> {
        let text = std::fs::read_to_string(deploy(&format!("k8s/{name}"))).unwrap();
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let pvc = load("results-pvc.yaml");
    assert_eq!(pvc[0]["kind"].as_str(), Some("PersistentVolumeClaim"));
    let claim = pvc[0]["metadata"]["name"].as_str().unwrap().to_string();
    for kind in ["sweep", "ensemble"] {
        for (file, indexed) in [
            (format!("{kind}.yaml"), true),
            (format!("{kind}-merge.yaml"), false),
        ] {
            let docs = load(&file);
            assert_eq!(docs.len(), 1, "{file}");
            let job = &docs[0];
            assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"), "{file}");
            assert_eq!(job["kind"].as_str(), Some("Job"), "{file}");
            let spec = &job["spec"];
            let pod = &spec["template"]["spec"];
            assert_eq!(pod["restartPolicy"].as_str(), Some("Never"), "{file}");
            assert_eq!(
                pod["volumes"][0]["persistentVolumeClaim"]["claimName"].as_str(),
                Some(claim.as_str()),
                "{file}"
            );
            let container = &pod["containers"][0];
            assert_eq!(
                container["volumeMounts"][0]["mountPath"].as_str(),
                Some("/results")
            );
            let command: Vec<&str> = container["command"]
                .as_vec()
                .unwrap_or_else(|| panic!("{file}: no command"))
                .iter()
                .map(|y| y.as_str().unwrap())
                .collect();
            assert_eq!(&command[..2], ["sh", "-c"], "{file}");
            let script = command[2].replace("/results", &results.display().to_string());
            if indexed {
                assert_eq!(spec["completionMode"].as_str(), Some("Indexed"), "{file}");
                let n = spec["completions"].as_i64().unwrap();
                assert!(
                    script.contains(&format!("--shard-count {n}")),
                    "{file}: --shard-count must equal completions ({n})"
                );
                for i in 0..n {
                    run_shell(
                        "sh",
                        &script,
                        &[("JOB_COMPLETION_INDEX", i.to_string())],
                        &path,
                    );
                }
            } else {
                run_shell("sh", &script, &[], &path);
                assert!(
                    results.join(kind).join("merged/shard.ron").is_file(),
                    "{file}"
                );
            }
        }
    }
}
