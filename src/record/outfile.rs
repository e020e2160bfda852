//! Output files that never touch what is not theirs.
//!
//! Every file a command writes goes through this module, which holds the
//! rules of the project for outputs:
//!
//! - **Temporary file, then rename.** A file is written under a temporary
//!   name beside its final one (`.NAME.PID.tmp`, created exclusively: an
//!   existing path of that name, a symbolic link included, is never opened)
//!   and renamed over the final name only when it is complete and synced
//!   ([`OutFile`], [`write_atomic`], [`OutDir`]). A failure removes only the
//!   temporary files this process created; the final names keep what they
//!   held before.
//! - **Only regular files are replaced.** A final name that exists as
//!   anything but a regular file (a symbolic link, a device, a FIFO, a
//!   folder) is refused with exit code 2 and never removed, truncated or
//!   written through ([`check_output_path`]).
//! - **Nothing is clobbered without `--force`.** A folder command names
//!   every file it would write ([`OutDir::prepare`]); if any exists the
//!   command stops before writing anything, unless `--force`, which replaces
//!   exactly those files. A folder the command created is removed again if it
//!   fails.
//! - **Errors name the file.** Writers here tag their I/O errors with their
//!   path ([`PathTagged`]), and [`Error::io`] prefers that path, so a full
//!   disk reads `reports/year-42/audit.jsonl: No space left on device`.
//!
//! The year folder is the exception to the first rule: its CSV files and
//! audit log are streamed in place, so `--resume` can continue them; the
//! checkpoint guards them instead (see `program::year`), and they are opened
//! with [`open_regular`] / [`create_new`], which refuse links and devices.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::record::csv::{CsvSink, Fnv64};

/// An I/O error together with the file it happened on (carried inside an
/// `std::io::Error`; see [`tag`] and [`untag`]).
#[derive(Debug)]
pub struct PathTagged {
    /// The file.
    pub path: PathBuf,
    /// The error.
    pub source: std::io::Error,
}

impl std::fmt::Display for PathTagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for PathTagged {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Wrap `e` so that it names `path` (an error already tagged keeps its tag).
pub fn tag(path: &Path, e: std::io::Error) -> std::io::Error {
    if e.get_ref().is_some_and(|r| r.is::<PathTagged>()) {
        return e;
    }
    std::io::Error::new(
        e.kind(),
        PathTagged {
            path: path.to_path_buf(),
            source: e,
        },
    )
}

/// The path and the original error of a [`tag`]ged error, or the error
/// back if it carries no tag.
pub fn untag(e: std::io::Error) -> std::result::Result<(PathBuf, std::io::Error), std::io::Error> {
    if !e.get_ref().is_some_and(|r| r.is::<PathTagged>()) {
        return Err(e);
    }
    let inner = e.into_inner().expect("checked: has an inner error");
    let t = inner.downcast::<PathTagged>().expect("checked: is tagged");
    Ok((t.path, t.source))
}

/// A writer whose errors name its file.
pub struct Tagged<W> {
    inner: W,
    path: PathBuf,
}

impl<W: Write> Tagged<W> {
    /// Wrap `inner`, the writer of `path`.
    pub fn new(inner: W, path: &Path) -> Self {
        Tagged {
            inner,
            path: path.to_path_buf(),
        }
    }
}

impl<W: Write> Write for Tagged<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| tag(&self.path, e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| tag(&self.path, e))
    }
}

/// What is at an output path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Nothing.
    Absent,
    /// A regular file (replaceable with `--force`).
    File,
}

/// Check an output path without following a symbolic link: absent or a
/// regular file is fine; a link, a device, a FIFO, a socket or a folder is
/// an error (exit code 2) that names it, and is never touched.
pub fn check_output_path(path: &Path) -> Result<Existing> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Existing::Absent),
        Err(e) => Err(crate::input::not_found_is_input(path, e)),
        Ok(m) if m.file_type().is_file() => Ok(Existing::File),
        Ok(m) => {
            let what = if m.file_type().is_symlink() {
                "a symbolic link"
            } else if m.is_dir() {
                "a folder"
            } else {
                "not a regular file (a device, FIFO or socket)"
            };
            Err(Error::folder(
                path,
                format!(
                    "is {what}; chaosim writes only regular files and never replaces or writes through anything else"
                ),
            ))
        }
    }
}

/// The folder `path` is in (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The folder of an output file must exist and be a folder (exit code 2
/// otherwise: chaosim does not create folders for single-file outputs).
pub fn check_parent(path: &Path) -> Result<()> {
    let parent = parent_of(path);
    match fs::metadata(&parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::folder(
            path,
            format!("{} is not a folder", parent.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::folder(
            path,
            format!("the folder {} does not exist", parent.display()),
        )),
        Err(e) => Err(crate::input::not_found_is_input(&parent, e)),
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary name beside `path`: `.NAME.PID-N.tmp`.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    parent_of(path).join(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Create a new temporary file beside `path`, exclusively (never opening
/// an existing path of that name).
pub fn create_temp(path: &Path) -> Result<(File, PathBuf)> {
    for _ in 0..16 {
        let tmp = temp_name(path);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&tmp, e)),
        }
    }
    Err(Error::io(
        path,
        std::io::Error::other("could not create a temporary file beside it"),
    ))
}

/// Make a rename in `dir` durable (fsync the folder; best effort where the
/// platform cannot open folders).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Rename `tmp` over `path`, refusing (and removing `tmp`) if `path` has
/// become something other than a regular file meanwhile.
fn rename_over(tmp: &Path, path: &Path) -> Result<()> {
    if let Err(e) = check_output_path(path) {
        let _ = fs::remove_file(tmp);
        return Err(e);
    }
    fs::rename(tmp, path).map_err(|e| {
        let _ = fs::remove_file(tmp);
        Error::io(path, e)
    })?;
    sync_dir(&parent_of(path));
    Ok(())
}

/// Write `bytes` to `path` atomically: a temporary file beside it, synced,
/// then renamed over it. `path` must be absent or a regular file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    check_output_path(path)?;
    let (mut f, tmp) = create_temp(path)?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(path, e));
    drop(f);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    rename_over(&tmp, path)
}

/// Create `path`, which must not exist (never opening an existing path,
/// a symbolic link included).
pub fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::folder(path, "appeared while chaosim was starting; not overwritten")
            } else {
                Error::io(path, e)
            }
        })
}

/// Open an existing regular file for reading and writing, refusing a
/// symbolic link or anything that is not a regular file (checked before
/// and, by inode, after opening).
pub fn open_regular(path: &Path) -> Result<File> {
    if check_output_path(path)? == Existing::Absent {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            field: "(path)".into(),
            message: "no such file".into(),
        });
    }
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| crate::input::not_found_is_input(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let opened = f.metadata().map_err(|e| Error::io(path, e))?;
        let named = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
        if !named.file_type().is_file()
            || opened.ino() != named.ino()
            || opened.dev() != named.dev()
        {
            return Err(Error::folder(
                path,
                "was replaced while chaosim opened it; refusing to write",
            ));
        }
    }
    Ok(f)
}

/// A file being appended to that tracks its length and FNV-1a checksum
/// (the year's streamed files: the checkpoint records both), and names
/// itself in its errors.
#[derive(Debug)]
pub struct TrackedFile {
    file: File,
    path: PathBuf,
    len: u64,
    fnv: Fnv64,
}

impl TrackedFile {
    /// Track `file`, positioned at its end, whose first `len` bytes hash
    /// to `fnv`.
    pub fn new(file: File, path: &Path, len: u64, fnv: Fnv64) -> Self {
        TrackedFile {
            file,
            path: path.to_path_buf(),
            len,
            fnv,
        }
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// FNV-1a of the file's bytes.
    pub fn checksum(&self) -> u64 {
        self.fnv.value()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sync the file's data to disk.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    /// Another handle to the file and its path, to sync it from another
    /// thread.
    pub fn sync_handle(&self) -> Result<(File, PathBuf)> {
        let f = self
            .file
            .try_clone()
            .map_err(|e| Error::io(&self.path, e))?;
        Ok((f, self.path.clone()))
    }
}

impl Write for TrackedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf).map_err(|e| tag(&self.path, e))?;
        self.len += n as u64;
        self.fnv.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().map_err(|e| tag(&self.path, e))
    }
}

impl Seek for TrackedFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match pos {
            SeekFrom::Current(0) | SeekFrom::End(0) => Ok(self.len),
            _ => Err(tag(
                &self.path,
                std::io::Error::other("a tracked file is append-only"),
            )),
        }
    }
}

/// The length-checked prefix of a file: its first `len` bytes, hashed.
/// Errors when the file is shorter.
pub fn prefix_checksum(file: &mut File, path: &Path, len: u64) -> Result<Fnv64> {
    use std::io::Read;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let mut fnv = Fnv64::new();
    let mut left = len;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = file
            .read(&mut buf[..want])
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        fnv.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(fnv)
}

/// One output file written under a temporary name and renamed over its
/// final name by [`OutFile::commit`]; dropped uncommitted, it removes its
/// temporary file and leaves the final name as it was. Its
/// [`writer`](OutFile::writer) is a shared handle, so the file can be handed
/// to code that takes a `Box<dyn Write>` and still be synced and
/// committed here, with write errors reported.
pub struct OutFile {
    path: PathBuf,
    tmp: Option<PathBuf>,
    out: Arc<Mutex<BufWriter<File>>>,
}

impl OutFile {
    /// Start writing `path`: its folder must exist; the path must be absent
    /// or, if `replace`, a regular file (else exit code 2, naming `flag`
    /// for an existing file).
    pub fn create(path: &Path, replace: bool, flag: &str) -> Result<OutFile> {
        check_parent(path)?;
        if check_output_path(path)? == Existing::File && !replace {
            return Err(Error::Usage {
                flag: flag.into(),
                message: format!("{} exists; pass --force to overwrite it", path.display()),
            });
        }
        let (f, tmp) = create_temp(path)?;
        Ok(OutFile {
            path: path.to_path_buf(),
            tmp: Some(tmp),
            out: Arc::new(Mutex::new(BufWriter::with_capacity(1 << 16, f))),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A writer into the file (any number of handles; their errors name
    /// the final path).
    pub fn writer(&self) -> Box<dyn Write + Send> {
        Box::new(Tagged::new(SharedWriter(Arc::clone(&self.out)), &self.path))
    }

    /// Flush, sync and rename over the final name.
    pub fn commit(mut self) -> Result<()> {
        let tmp = self.tmp.take().expect("not committed yet");
        let synced = {
            let mut w = self.out.lock().unwrap_or_else(|p| p.into_inner());
            w.flush()
                .and_then(|()| w.get_ref().sync_all())
                .map_err(|e| Error::io(&self.path, e))
        };
        if let Err(e) = synced {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        rename_over(&tmp, &self.path)
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

struct SharedWriter(Arc<Mutex<BufWriter<File>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// Commit several [`OutFile`]s, in order; the first error is returned and
/// the files not yet committed are dropped (their temporary files removed).
pub fn commit_all(files: Vec<OutFile>) -> Result<()> {
    for f in files {
        f.commit()?;
    }
    Ok(())
}

/// Refuse two outputs that are the same file.
pub fn check_distinct(paths: &[&Path]) -> Result<()> {
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[..i] {
            if a == b {
                return Err(Error::folder(
                    a,
                    "given for two outputs; each output needs its own file",
                ));
            }
        }
    }
    Ok(())
}

/// The output folder of a command that writes a fixed set of files into a
/// folder (sweeps, merges, ensembles, swarms, reports), as one transaction.
///
/// [`prepare`](OutDir::prepare) checks every file the command will write
/// before anything is written: the folder must be a folder or absent, and
/// each file absent (or, with `force`, a regular file to replace). Files are
/// staged under temporary names ([`sink`](OutDir::sink),
/// [`write`](OutDir::write), [`staging`](OutDir::staging)) and renamed into
/// place, in the order they were staged, by [`commit`](OutDir::commit)
/// (the last one staged, the completion marker, is removed first if it
/// exists, so an interrupted commit never pairs an old marker with new
/// data). Dropped without a commit, it removes its temporary files and the
/// folders it created.
pub struct OutDir {
    dir: PathBuf,
    names: Vec<String>,
    force: bool,
    /// Folders this command created, outermost first.
    created: Vec<PathBuf>,
    /// (temporary, final), in staging order.
    staged: Vec<(PathBuf, PathBuf)>,
    /// A staging folder of this process (for renderers that write files
    /// themselves).
    staging: Option<PathBuf>,
    committed: bool,
}

impl OutDir {
    /// Check and create the folder `dir` for a command that writes the
    /// files `names` (relative to `dir`) into it; `flag` names the folder's
    /// option in errors.
    pub fn prepare<S: AsRef<str>>(
        dir: &Path,
        names: &[S],
        force: bool,
        flag: &str,
    ) -> Result<OutDir> {
        check_folder(dir, flag)?;
        let names: Vec<String> = names.iter().map(|n| n.as_ref().to_string()).collect();
        check_files(dir, &names, force, flag)?;
        let created = create_dirs(dir)?;
        Ok(OutDir {
            dir: dir.to_path_buf(),
            names,
            force,
            created,
            staged: Vec::new(),
            staging: None,
            committed: false,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn final_path(&self, name: &str) -> Result<PathBuf> {
        if !self.names.iter().any(|n| n == name) {
            return Err(Error::Check(format!(
                "internal: {name} is not among the files planned for {}",
                self.dir.display()
            )));
        }
        Ok(self.dir.join(name))
    }

    /// A CSV sink for the file `name` (one of the planned names), written
    /// under a temporary name until [`commit`](OutDir::commit).
    pub fn sink(&mut self, name: &str) -> Result<CsvSink> {
        let path = self.final_path(name)?;
        let (f, tmp) = create_temp(&path)?;
        self.staged.push((tmp, path.clone()));
        Ok(CsvSink::from_file(f, path))
    }

    /// Stage the whole content of the file `name`.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.final_path(name)?;
        let (mut f, tmp) = create_temp(&path)?;
        self.staged.push((tmp, path.clone()));
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(&path, e))
    }

    /// A fresh folder inside this one for a renderer that writes its files
    /// itself; [`adopt_staging`](OutDir::adopt_staging) stages what it wrote.
    pub fn staging(&mut self) -> Result<PathBuf> {
        let s = self.dir.join(format!(
            ".staging.{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&s).map_err(|e| Error::io(&s, e))?;
        self.staging = Some(s.clone());
        Ok(s)
    }

    /// Stage every file the renderer wrote into the staging folder; each
    /// must be one of the planned names.
    pub fn adopt_staging(&mut self) -> Result<()> {
        let Some(s) = self.staging.clone() else {
            return Ok(());
        };
        let mut names: Vec<String> = fs::read_dir(&s)
            .map_err(|e| Error::io(&s, e))?
            .map(|e| {
                e.map(|e| e.file_name().to_string_lossy().into_owned())
                    .map_err(|e| Error::io(&s, e))
            })
            .collect::<Result<_>>()?;
        names.sort();
        // index.html last: the page appears when its plots are in place.
        names.sort_by_key(|n| n == "index.html");
        for name in names {
            let path = self.final_path(&name)?;
            self.staged.push((s.join(&name), path));
        }
        Ok(())
    }

    /// Rename every staged file into place (see the type's docs). With
    /// `force`, planned files this run did not write (the other variant of
    /// a report) are removed too: they belong to the command.
    pub fn commit(mut self) -> Result<()> {
        if let Some((_, marker)) = self.staged.last()
            && check_output_path(marker)? == Existing::File
        {
            fs::remove_file(marker).map_err(|e| Error::io(marker, e))?;
        }
        let staged = std::mem::take(&mut self.staged);
        let finals: Vec<PathBuf> = staged.iter().map(|(_, f)| f.clone()).collect();
        let mut rest = staged.into_iter();
        while let Some((tmp, path)) = rest.next() {
            if let Err(e) = check_output_path(&path)
                .and_then(|_| fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e)))
            {
                let _ = fs::remove_file(&tmp);
                for (t, _) in rest {
                    let _ = fs::remove_file(t);
                }
                return Err(e);
            }
        }
        if self.force {
            for name in &self.names {
                let p = self.dir.join(name);
                let written = finals.contains(&p);
                if !written && check_output_path(&p)? == Existing::File {
                    let _ = fs::remove_file(&p);
                }
            }
        }
        if let Some(s) = self.staging.take() {
            let _ = fs::remove_dir(&s);
        }
        sync_dir(&self.dir);
        self.committed = true;
        Ok(())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (tmp, _) in &self.staged {
            let _ = fs::remove_file(tmp);
        }
        if let Some(s) = &self.staging {
            // Only files the renderer (this process) wrote are in there.
            if let Ok(entries) = fs::read_dir(s) {
                for e in entries.flatten() {
                    let _ = fs::remove_file(e.path());
                }
            }
            let _ = fs::remove_dir(s);
        }
        for d in self.created.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

/// The output folder must be a folder or absent (exit code 2 otherwise),
/// and not a symbolic link: what a command writes would land in the
/// folder the link names, which is not the output the user gave (its
/// ancestors may be links: `reports -> /data/reports` is fine).
pub fn check_folder(dir: &Path, flag: &str) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::Usage {
            flag: flag.into(),
            message: format!(
                "{} is a symbolic link; refusing to write through it (name the folder it points to)",
                dir.display()
            ),
        });
    }
    check_parent_folder(dir, flag)
}

/// The folder a single output file goes into must be a folder (a link to
/// one is followed: it is an ancestor of the output) or absent (exit code
/// 2 otherwise).
pub fn check_parent_folder(dir: &Path, flag: &str) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::Usage {
            flag: flag.into(),
            message: format!("{} is a file, not a folder", dir.display()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling link where the folder should be: not ours to follow.
            if fs::symlink_metadata(dir).is_ok() {
                return Err(Error::Usage {
                    flag: flag.into(),
                    message: format!("{} is a dangling symbolic link", dir.display()),
                });
            }
            Ok(())
        }
        Err(e) => Err(crate::input::not_found_is_input(dir, e)),
    }
}

/// Every one of `names` in `dir` must be absent, or a regular file with
/// `force` (exit code 2 otherwise, naming the first offender). Subfolders
/// on the way (`report/` of `report/index.html`) must be real folders.
pub fn check_files(dir: &Path, names: &[String], force: bool, flag: &str) -> Result<()> {
    for name in names {
        let path = dir.join(name);
        let mut sub = Path::new(name.as_str()).parent();
        while let Some(s) = sub.filter(|s| !s.as_os_str().is_empty()) {
            let d = dir.join(s);
            if let Ok(m) = fs::symlink_metadata(&d)
                && !m.is_dir()
            {
                return Err(Error::Usage {
                    flag: d.display().to_string(),
                    message:
                        "is not a folder (a file or a symbolic link); refusing to write into it"
                            .into(),
                });
            }
            sub = s.parent();
        }
        if check_output_path(&path)? == Existing::File && !force {
            return Err(Error::Usage {
                flag: flag.into(),
                message: format!(
                    "{} already exists; pass --force to overwrite this command's files",
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// Create `dir` and its missing ancestors; the folders created, outermost
/// first.
pub fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d.filter(|p| !p.as_os_str().is_empty()) {
        if fs::symlink_metadata(p).is_ok() {
            break;
        }
        missing.push(p.to_path_buf());
        d = p.parent();
    }
    missing.reverse();
    let mut created = Vec::new();
    for p in missing {
        match fs::create_dir(&p) {
            Ok(()) => created.push(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                for c in created.iter().rev() {
                    let _ = fs::remove_dir(c);
                }
                return Err(Error::io(&p, e));
            }
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("chaosim-outfile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_uncommitted_file_leaves_the_old_content() {
        let d = scratch("uncommitted");
        let p = d.join("x.csv");
        fs::write(&p, "old").unwrap();
        {
            let f = OutFile::create(&p, true, "--x").unwrap();
            f.writer().write_all(b"new").unwrap();
        }
        assert_eq!(fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "temp file removed");
        let f = OutFile::create(&p, true, "--x").unwrap();
        f.writer().write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert!(OutFile::create(&p, false, "--x").is_err());
        let _ = fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_never_written_through() {
        let d = scratch("links");
        let target = d.join("target.txt");
        fs::write(&target, "keep").unwrap();
        let link = d.join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(OutFile::create(&link, true, "--x").is_err());
        assert!(write_atomic(&link, b"x").is_err());
        assert!(open_regular(&link).is_err());
        assert!(create_new(&link).is_err());
        let e = OutDir::prepare(&d, &["link.csv"], true, "--out")
            .err()
            .unwrap();
        assert!(e.is_input(), "{e}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_folder_command_leaves_no_folder() {
        let d = scratch("outdir");
        let out = d.join("a/b");
        {
            let mut tx = OutDir::prepare(&out, &["x.csv", "m.ron"], false, "--out").unwrap();
            let mut s = tx.sink("x.csv").unwrap();
            s.write_raw(b"1\n").unwrap();
            s.finish().unwrap();
        }
        assert!(!d.join("a").exists());
        let mut tx = OutDir::prepare(&out, &["x.csv", "m.ron"], false, "--out").unwrap();
        tx.write("x.csv", b"1\n").unwrap();
        tx.write("m.ron", b"()").unwrap();
        assert!(tx.write("other", b"").is_err());
        tx.commit().unwrap();
        assert_eq!(fs::read_dir(&out).unwrap().count(), 2);
        let e = OutDir::prepare(&out, &["x.csv"], false, "--out")
            .err()
            .unwrap();
        assert!(e.to_string().contains("--force"), "{e}");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn tagged_errors_name_their_file() {
        let e = tag(
            Path::new("/x/audit.jsonl"),
            std::io::Error::other("disk full"),
        );
        let e = Error::io("audit.jsonl", e);
        assert_eq!(e.to_string(), "/x/audit.jsonl: disk full");
    }
}
