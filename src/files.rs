//! The filesystem boundary: reading text files with a size limit, writing
//! files atomically, finding schema files.
//!
//! Every write in `realm` goes through [`write_atomic`]: the new contents go
//! to a temporary file in the same directory, which is then renamed over the
//! target, so a reader sees the old file or the new one and never half of
//! either, and a failed command leaves the old file as it was. New files
//! that must not replace anything ([`write_new`], `realm init`) are moved
//! into place only if nothing is there.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The largest schema or project file `realm` reads (64 MiB). A generated
/// realm of 10,000 verbs and 20,000 data types is about 3 MiB of text.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Reads a UTF-8 text file of at most [`MAX_FILE_SIZE`] bytes.
pub fn read_text(path: &Path) -> Result<String> {
    text_from_bytes(path, read_bytes(path)?)
}

/// Reads a UTF-8 text file of the project at `root`, refusing one that is
/// (or is reached through) a symbolic link leading out of the project: a
/// link in a module directory to `/proc/self/environ` would otherwise put
/// the environment into an error message.
pub fn read_project_text(root: &Path, path: &Path) -> Result<String> {
    let real = path
        .canonicalize()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if !real.starts_with(&root) {
        bail!(
            "{} leads out of the project (to {}); realm reads only files inside the project, and follows no link out of it",
            path.display(),
            real.display()
        );
    }
    read_text(&real)
}

/// Reads a binary file of at most [`MAX_FILE_SIZE`] bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    read_with_metadata(path).map(|(bytes, _)| bytes)
}

/// Reads a UTF-8 text file of at most [`MAX_FILE_SIZE`] bytes with its
/// metadata, from one open: for secrets, whose permissions are checked.
pub fn read_text_with_metadata(path: &Path) -> Result<(String, fs::Metadata)> {
    let (bytes, metadata) = read_with_metadata(path)?;
    Ok((text_from_bytes(path, bytes)?, metadata))
}

fn read_with_metadata(path: &Path) -> Result<(Vec<u8>, fs::Metadata)> {
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let len = metadata.len();
    if len > MAX_FILE_SIZE {
        bail!(
            "{} is {len} bytes, larger than the limit of {MAX_FILE_SIZE} bytes",
            path.display()
        );
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok((bytes, metadata))
}

/// Decodes file contents as UTF-8, naming the line and column of the first
/// invalid byte.
pub fn text_from_bytes(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..valid];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        anyhow::anyhow!(
            "{}:{line}:{column}: the file is not valid UTF-8; save it as UTF-8",
            path.display()
        )
    })
}

/// A temporary file of [`write_atomic`] older than this was left by a
/// writer that died (`kill -9`, a crash, power loss): a write takes
/// milliseconds.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether the file at `path` holds exactly `contents`, read in pieces and
/// compared as they come: never held whole (an up-to-date export of 13 MiB
/// was read into memory beside the 13 MiB it was compared with). A missing
/// file does not.
pub fn has_contents(path: &Path, contents: &[u8]) -> Result<bool> {
    let mut same = Same::new(path)?;
    same.compare(contents)?;
    same.finish()
}

/// Compares contents given a piece at a time with the file on disk, as
/// they come (see [`has_contents`]).
pub struct Same {
    old: Option<Matching>,
    differs: bool,
}

impl Same {
    /// Starts comparing with `path` (a missing file matches nothing).
    pub fn new(path: &Path) -> Result<Same> {
        let old = Matching::open(path)?;
        Ok(Same {
            differs: old.is_none(),
            old,
        })
    }

    /// The next bytes of the contents. Errors name the file.
    pub fn compare(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if let (false, Some(old)) = (self.differs, self.old.as_mut()) {
            self.differs = old.compare(bytes)? < bytes.len();
        }
        Ok(())
    }

    /// Whether a difference was found already (nothing given after it
    /// can undo it).
    pub fn differs(&self) -> bool {
        self.differs
    }

    /// Whether the file holds exactly the contents given.
    pub fn finish(self) -> Result<bool> {
        Ok(!self.differs && self.old.is_some_and(|old| old.whole()))
    }
}

/// The file on disk, compared with new contents from its start.
struct Matching {
    path: PathBuf,
    file: fs::File,
    len: u64,
    /// How many bytes matched so far.
    same: u64,
    /// Bytes read from the file, and how many of them are compared.
    read: Vec<u8>,
    at: usize,
    /// CRC-32 of the bytes that matched: the part copied from the file at
    /// a difference is checked against it (the file may have been changed
    /// in place since it was compared).
    crc: crc32fast::Hasher,
}

impl Matching {
    /// `None` when there is no file at `path`.
    fn open(path: &Path) -> Result<Option<Matching>> {
        let context = || format!("cannot read {}", path.display());
        let file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(context),
        };
        let len = file.metadata().with_context(context)?.len();
        Ok(Some(Matching {
            path: path.to_path_buf(),
            file,
            len,
            same: 0,
            read: Vec::new(),
            at: 0,
            crc: crc32fast::Hasher::new(),
        }))
    }

    /// How many of `bytes` match the file from where the comparison is;
    /// the comparison goes on after them.
    fn compare(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut matched = 0;
        while matched < bytes.len() {
            if self.at == self.read.len() {
                if self.same >= self.len {
                    break;
                }
                self.read.resize(64 * 1024, 0);
                let n = loop {
                    match self.file.read(&mut self.read) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            return Err(std::io::Error::new(
                                e.kind(),
                                format!("cannot read {}: {e}", self.path.display()),
                            ));
                        }
                        Ok(n) => break n,
                    }
                };
                self.read.truncate(n);
                self.at = 0;
                if n == 0 {
                    break;
                }
            }
            let k = (self.read.len() - self.at).min(bytes.len() - matched);
            let same = self.read[self.at..self.at + k]
                .iter()
                .zip(&bytes[matched..matched + k])
                .take_while(|(a, b)| a == b)
                .count();
            self.crc.update(&self.read[self.at..self.at + same]);
            matched += same;
            self.at += same;
            self.same += same as u64;
            if same < k {
                break;
            }
        }
        Ok(matched)
    }

    /// Whether everything compared matched the whole file.
    fn whole(&self) -> bool {
        self.same == self.len
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. The file keeps the
/// permissions of the file it replaces. Temporary files of earlier writes
/// of `path` that were interrupted are removed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = stage(path, contents)?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// `path`'s contents written to a temporary file beside it, ready to be
/// moved in place (with the mode of the file it replaces).
fn stage(path: &Path, contents: &[u8]) -> Result<tempfile::NamedTempFile> {
    let mut tmp = temporary_beside(path)?;
    tmp.write_all(contents)
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    finish_staging(path, tmp)
}

/// A new temporary file beside `path`, to be renamed over it (temporary
/// files of earlier writes that were interrupted are removed first).
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale_temporaries(dir, &name);
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A new file gets the mode any new file gets (0666 less the umask), as
    // `File::create` would give it; tempfile's own default is 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir).with_context(|| {
        format!(
            "cannot create a temporary file in {} for {name}",
            dir.display()
        )
    })
}

/// A written temporary file flushed to disk and given the mode of the file
/// at `path` it replaces.
fn finish_staging(path: &Path, tmp: tempfile::NamedTempFile) -> Result<tempfile::NamedTempFile> {
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    if let Ok(meta) = fs::metadata(path) {
        // Best effort: keep the mode of the file being replaced.
        let _ = fs::set_permissions(tmp.path(), meta.permissions());
    }
    Ok(tmp)
}

/// New contents of a file, given as they are made, compared with the file
/// on disk as they come: nothing is written while they match it, and at
/// the first difference a temporary file beside it gets the matching part
/// (copied from the file itself) and everything after. [`Rewrite::finish`]
/// says whether anything differs; a [`Staged`] file is then moved in place
/// with [`Staged::persist`]. Neither the old nor the new contents are ever
/// held whole.
pub struct Rewrite {
    path: PathBuf,
    /// The file on disk while the new contents match it.
    old: Option<Matching>,
    tmp: Option<tempfile::NamedTempFile>,
    /// Bytes written to `tmp`, and up to where its writeback was started.
    written: u64,
    flushing: u64,
}

/// A file written in full beside the one it replaces (see [`Rewrite`]).
pub struct Staged {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
}

/// How far a [`Rewrite`] writes before it asks the kernel to start writing
/// that part to disk: the final fsync then waits for the tail only.
const WRITEBACK_EVERY: u64 = 1 << 20;

impl Rewrite {
    /// Starts comparing with `path` (missing: everything will be written).
    pub fn new(path: &Path) -> Result<Rewrite> {
        let mut rewrite = Rewrite {
            path: path.to_path_buf(),
            old: Matching::open(path)?,
            tmp: None,
            written: 0,
            flushing: 0,
        };
        if rewrite.old.is_none() {
            rewrite.diverge()?;
        }
        Ok(rewrite)
    }

    /// The next bytes of the new contents. Errors name the file.
    pub fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        if self.tmp.is_none() {
            if let Some(old) = self.old.as_mut() {
                let matched = old.compare(bytes)?;
                bytes = &bytes[matched..];
            }
            if bytes.is_empty() {
                return Ok(());
            }
            self.diverge()
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        }
        let Some(tmp) = self.tmp.as_mut() else {
            unreachable!("diverged")
        };
        if let Err(e) = tmp.write_all(bytes) {
            let message = format!("cannot write {}: {e}", tmp.path().display());
            return Err(std::io::Error::new(e.kind(), message));
        }
        self.written += bytes.len() as u64;
        self.start_writeback();
        Ok(())
    }

    /// Whether the new contents differ from the file on disk: `None` when
    /// they are exactly its contents, else the new file, written in full
    /// and flushed to disk.
    pub fn finish(mut self) -> Result<Option<Staged>> {
        if self.tmp.is_none() {
            if self.old.as_ref().is_some_and(Matching::whole) {
                return Ok(None);
            }
            // The old file is longer: the new contents are its beginning.
            self.diverge()?;
        }
        let Some(tmp) = self.tmp.take() else {
            unreachable!("diverged")
        };
        let tmp = finish_staging(&self.path, tmp)?;
        Ok(Some(Staged {
            path: self.path,
            tmp,
        }))
    }

    /// From here on the contents differ: a temporary file beside the file
    /// gets the part that matched, copied from the file.
    fn diverge(&mut self) -> Result<()> {
        let mut tmp = temporary_beside(&self.path)?;
        if let Some(Matching {
            mut file,
            crc,
            same,
            ..
        }) = self.old.take()
            && same > 0
        {
            use std::io::Seek;
            // Copied through a CRC: the part must be what was compared.
            struct Crc<W>(W, crc32fast::Hasher);
            impl<W: Write> Write for Crc<W> {
                fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                    let n = self.0.write(buf)?;
                    self.1.update(&buf[..n]);
                    Ok(n)
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    self.0.flush()
                }
            }
            let tmp_path = tmp.path().to_path_buf();
            let mut out = Crc(tmp.as_file_mut(), crc32fast::Hasher::new());
            let copied = file
                .seek(std::io::SeekFrom::Start(0))
                .and_then(|_| std::io::copy(&mut (&mut file).take(same), &mut out))
                .with_context(|| format!("cannot write {}", tmp_path.display()))?;
            if copied != same || out.1.finalize() != crc.finalize() {
                bail!(
                    "{} changed while realm was comparing it with what it writes; run the command again",
                    self.path.display()
                );
            }
            self.written = same;
        }
        self.tmp = Some(tmp);
        Ok(())
    }

    /// Asks the kernel to start writing what was written since the last
    /// time, every [`WRITEBACK_EVERY`] bytes (Linux; elsewhere the final
    /// fsync does it all).
    fn start_writeback(&mut self) {
        if self.written - self.flushing < WRITEBACK_EVERY {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(tmp) = &self.tmp {
            use std::os::fd::AsRawFd;
            let (from, len) = (self.flushing, self.written - self.flushing);
            // SAFETY: the descriptor is the open temporary file's; the call
            // only starts writeback of a range of it. A failure is harmless
            // (the fsync in `finish` writes everything).
            unsafe {
                libc::sync_file_range(
                    tmp.as_file().as_raw_fd(),
                    from as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.flushing = self.written;
    }
}

impl Staged {
    /// Moves the new file in place.
    pub fn persist(self) -> Result<()> {
        self.tmp
            .persist(&self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))?;
        Ok(())
    }
}

/// Writes several files, all or none: each is first written to a
/// temporary file beside it (its directory made when missing), and only
/// when every one is written are they moved in place. When one cannot be
/// written, the temporary files and the directories made for them are
/// removed and nothing has changed. (A move that fails after others were
/// made, which takes a failing disk, leaves those.)
pub fn write_all_atomic(files: &[(PathBuf, &[u8])]) -> Result<()> {
    let mut made: Vec<PathBuf> = Vec::new();
    let mut staged = Vec::with_capacity(files.len());
    let mut stage_all = || -> Result<()> {
        for (path, contents) in files {
            // A bare file name's parent is "": the current directory.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let missing: Vec<&Path> = dir
                    .ancestors()
                    .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
                    .collect();
                for d in missing.into_iter().rev() {
                    fs::create_dir(d)
                        .with_context(|| format!("cannot create directory {}", d.display()))?;
                    made.push(d.to_path_buf());
                }
            }
            staged.push(stage(path, contents)?);
        }
        Ok(())
    };
    if let Err(e) = stage_all() {
        drop(staged);
        for dir in made.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
        return Err(e);
    }
    for (tmp, (path, _)) in staged.into_iter().zip(files) {
        tmp.persist(path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
    }
    Ok(())
}

/// Writes a new file atomically, like [`write_atomic`], but never replaces
/// one: fails when `path` exists, even when it appeared during the write.
pub fn write_new(path: &Path, contents: &[u8]) -> Result<()> {
    write_new_with_mode(path, contents, 0o666)
}

/// Writes a new secret file (a private key) like [`write_new`], readable
/// and writable by its owner only (mode 0600) from the moment it exists.
pub fn write_new_private(path: &Path, contents: &[u8]) -> Result<()> {
    write_new_with_mode(path, contents, 0o600)
}

fn write_new_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".realm-new.").suffix(".tmp");
    // 0666 (or 0600) less the umask, as `File::create` gives (tempfile's
    // default is 0600 whatever the umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("{} already exists", path.display())
        } else {
            anyhow::anyhow!("cannot create {}: {}", path.display(), e.error)
        }
    })?;
    Ok(())
}

/// Removes `.{name}.*.tmp` files in `dir` that no writer has touched for
/// [`STALE_TEMPORARY`]. Best effort: a file that cannot be removed stays.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if !(file_name.starts_with(&prefix) && file_name.ends_with(".tmp")) {
            continue;
        }
        let stale = entry
            .metadata()
            .ok()
            .filter(fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Reads at most the first `limit` bytes of a file.
pub fn read_prefix(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::with_capacity(limit);
    file.take(limit as u64)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes)
}

/// Creates `dir` and its missing parents.
pub fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Removes a file.
pub fn remove_file(path: &Path) -> Result<()> {
    fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))
}

/// Removes `dir` if it is empty; returns whether it did.
pub fn remove_empty_dir(dir: &Path) -> bool {
    fs::remove_dir(dir).is_ok()
}

/// Every file under `dir` whose name ends in `.{extension}`, sorted, skipping
/// hidden directories (`.git`, `.ftl`, ...). Symbolic links are not
/// followed.
pub fn find_files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == extension) {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// The symbolic links under `dir` that [`find_files`] passes over: links
/// named `*.<extension>` and links to directories (not followed, so that
/// nothing outside `dir` is read through them), sorted.
pub fn find_links(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.depth() > 0
            && entry.path_is_symlink()
            && (entry.path().extension().is_some_and(|e| e == extension) || entry.path().is_dir())
        {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// Whether `path` is relative and stays inside the directory it is relative
/// to.
pub fn is_inside(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// `path` relative to `base` with `/` separators when it is under `base`,
/// otherwise `path` as given. Used for positions in diagnostics so they do
/// not depend on where the project is checked out.
pub fn relative(path: &Path, base: &Path) -> String {
    let Ok(rel) = path.strip_prefix(base) else {
        // Joining an absolute path's components with `/` would start it
        // with `//` (its root is a component of its own).
        return path.display().to_string();
    };
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Directories under `dir` (itself included) holding a file named
/// `marker`, sorted. The search does not look inside a directory it found,
/// skips hidden directories and does not follow symbolic links.
pub fn find_dirs_with(dir: &Path, marker: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    while let Some(entry) = walker.next() {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_type().is_dir() && entry.path().join(marker).is_file() {
            out.push(entry.into_path());
            walker.skip_current_dir();
        }
    }
    Ok(out)
}

/// Every file under `dir` that `want` accepts, sorted, not descending
/// into directories that `skip` names (`dir` itself is always searched)
/// nor into hidden ones, and not following symbolic links.
pub fn find_files_where(
    dir: &Path,
    skip: impl Fn(&Path) -> bool,
    want: impl Fn(&Path) -> bool,
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_name().to_string_lossy().starts_with('.')
                    || e.file_type().is_dir() && skip(e.path()))
        });
    for entry in walker {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_type().is_file() && want(entry.path()) {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// The directories directly in `dir`, sorted (none when `dir` does not
/// exist); hidden ones and symbolic links are left out.
pub fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_contents_compares_the_whole_file_piece_by_piece() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        assert!(!has_contents(&path, b"").expect("missing"));
        // Longer than one piece, so that a difference in the last one counts.
        let mut contents = vec![b'x'; 200_000];
        fs::write(&path, &contents).expect("write");
        assert!(has_contents(&path, &contents).expect("same"));
        assert!(!has_contents(&path, &contents[1..]).expect("shorter"));
        contents[199_999] = b'y';
        assert!(!has_contents(&path, &contents).expect("last byte differs"));
        fs::write(&path, b"").expect("write");
        assert!(has_contents(&path, b"").expect("empty"));
    }

    /// Contents in pieces that end inside and across the 64 KiB reads, and
    /// empty ones.
    fn pieces_of(whole: &[u8]) -> Vec<&[u8]> {
        let cuts = [0, 0, 1, 65_535, 65_536, 65_537, 70_000, 199_999, 300_000];
        cuts.windows(2).map(|w| &whole[w[0]..w[1]]).collect()
    }

    fn same(path: &Path, pieces: &[&[u8]]) -> bool {
        let mut same = Same::new(path).expect("open");
        for piece in pieces {
            same.compare(piece).expect("read");
        }
        same.finish().expect("finish")
    }

    /// Rewrites `path` with `pieces`: whether it changed.
    fn rewrite(path: &Path, pieces: &[&[u8]]) -> bool {
        let mut rewrite = Rewrite::new(path).expect("open");
        for piece in pieces {
            rewrite.write(piece).expect("write");
        }
        match rewrite.finish().expect("finish") {
            Some(staged) => {
                staged.persist().expect("persist");
                true
            }
            None => false,
        }
    }

    #[test]
    fn contents_in_pieces_are_compared_as_they_come() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let whole: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let pieces = pieces_of(&whole);
        assert!(!same(&path, &pieces), "missing");
        fs::write(&path, &whole).expect("write");
        assert!(same(&path, &pieces));
        assert!(same(&path, &[&whole]), "one piece");
        let mut other = whole.clone();
        other[65_536] ^= 1;
        assert!(
            !same(&path, &[&other[..100], &other[100..]]),
            "a byte differs"
        );
        assert!(!same(&path, &pieces[..pieces.len() - 1]), "shorter");
        let longer = [&whole[..], b"x"];
        assert!(!same(&path, &longer), "longer");
    }

    #[test]
    fn a_rewrite_writes_only_what_differs_and_keeps_what_matched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let whole: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let pieces = pieces_of(&whole);
        assert!(rewrite(&path, &pieces), "a missing file is written");
        assert_eq!(fs::read(&path).expect("read"), whole);
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert!(
            !rewrite(&path, &pieces),
            "the same contents are not written"
        );
        assert!(!rewrite(&path, &[&whole]), "nor in other pieces");
        assert_eq!(
            fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("mtime"),
            modified
        );
        // A difference past the first read: the matching part is copied
        // from the file, the rest written.
        let mut other = whole.clone();
        other[70_001] ^= 1;
        assert!(rewrite(&path, &pieces_of(&other)));
        assert_eq!(fs::read(&path).expect("read"), other);
        // Shorter: the file's beginning. Longer: all of it and more.
        assert!(rewrite(&path, &[&other[..100_000]]));
        assert_eq!(fs::read(&path).expect("read"), &other[..100_000]);
        assert!(rewrite(&path, &[&other[..100_000], b"", b"tail"]));
        assert_eq!(
            fs::read(&path).expect("read"),
            [&other[..100_000], b"tail"].concat()
        );
        assert!(rewrite(&path, &[]), "empty");
        assert_eq!(fs::read(&path).expect("read"), b"");
        // No temporary file is left beside it.
        let names: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["f"]);
    }

    /// A file changed in place (same inode: an editor saving over it)
    /// while it was compared: the part copied from it is no longer what
    /// was compared, and the rewrite fails rather than write a file of
    /// contents nobody gave.
    #[test]
    fn a_file_changed_in_place_while_compared_is_not_copied_from() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        for changed in [&b"he"[..], b"HELLO WORLD"] {
            fs::write(&path, b"hello world").expect("write");
            let mut rewrite = Rewrite::new(&path).expect("open");
            rewrite.write(b"hello ").expect("matches");
            fs::write(&path, changed).expect("changed in place");
            let e = rewrite.write(b"there").expect_err("the copy is checked");
            assert!(
                e.to_string()
                    .contains("changed while realm was comparing it"),
                "{e}"
            );
            assert_eq!(fs::read(&path).expect("read"), changed);
            assert_eq!(
                fs::read_dir(dir.path()).expect("list").count(),
                1,
                "no temporary file"
            );
        }
    }

    #[test]
    fn relative_paths_are_below_the_base_or_as_given() {
        let base = Path::new("/work/project");
        assert_eq!(
            relative(Path::new("/work/project/a/b.ftl"), base),
            "a/b.ftl"
        );
        assert_eq!(relative(Path::new("/tmp/x"), base), "/tmp/x");
        assert_eq!(relative(Path::new("other/x"), base), "other/x");
    }

    #[test]
    fn a_write_removes_temporaries_that_interrupted_writes_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("ftl-project.toml");
        let stale = dir.path().join(".ftl-project.toml.aBc123.tmp");
        let fresh = dir.path().join(".ftl-project.toml.dEf456.tmp");
        let other = dir.path().join(".other.toml.gHi789.tmp");
        for path in [&stale, &fresh, &other] {
            fs::write(path, "half a file").expect("write");
        }
        let long_ago = std::time::SystemTime::now() - 2 * STALE_TEMPORARY;
        for path in [&stale, &other] {
            fs::File::options()
                .write(true)
                .open(path)
                .and_then(|f| f.set_modified(long_ago))
                .expect("age the file");
        }
        write_atomic(&target, b"name = \"x\"\n").expect("write");
        assert_eq!(fs::read_to_string(&target).expect("read"), "name = \"x\"\n");
        assert!(!stale.exists(), "a stale temporary of the target stays");
        assert!(fresh.exists(), "a temporary that may be in use was removed");
        assert!(other.exists(), "a temporary of another file was removed");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_the_umask_mode_and_replaced_files_keep_theirs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        // What any new file gets under this process's umask.
        let reference = dir.path().join("reference");
        fs::File::create(&reference).expect("create");
        let new = dir.path().join("new.ftl");
        write_atomic(&new, b"x").expect("write");
        assert_eq!(mode(&new), mode(&reference));
        fs::set_permissions(&new, fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomic(&new, b"y").expect("rewrite");
        assert_eq!(mode(&new), 0o640);
        assert_eq!(fs::read(&new).expect("read"), b"y");
        // `realm init`'s files too (they were 0600 whatever the umask).
        let created = dir.path().join("created.toml");
        write_new(&created, b"x").expect("write");
        assert_eq!(mode(&created), mode(&reference));
    }

    #[test]
    fn several_files_are_written_all_or_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("out/a/one.txt");
        let b = dir.path().join("out/b/two.txt");
        write_all_atomic(&[(a.clone(), b"1".as_slice()), (b.clone(), b"2".as_slice())])
            .expect("write");
        assert_eq!(fs::read(&a).expect("read"), b"1");
        assert_eq!(fs::read(&b).expect("read"), b"2");
        // The third cannot be written (a file stands where its directory
        // must go): the first two are not changed, the new directory not
        // made, no temporary file left.
        fs::write(dir.path().join("blocker"), "x").expect("write");
        let c = dir.path().join("out/c/new.txt");
        let d = dir.path().join("blocker/three.txt");
        let err = write_all_atomic(&[
            (a.clone(), b"changed".as_slice()),
            (c.clone(), b"new".as_slice()),
            (d, b"3".as_slice()),
        ])
        .expect_err("blocked");
        assert!(err.to_string().contains("blocker"), "{err:#}");
        assert_eq!(fs::read(&a).expect("read"), b"1");
        assert!(!dir.path().join("out/c").exists());
        let left: Vec<_> = fs::read_dir(dir.path().join("out/a"))
            .expect("read dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["one.txt"]);
    }
}
