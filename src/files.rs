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
/// file does not; a file of another length is not read.
pub fn has_contents(path: &Path, contents: &[u8]) -> Result<bool> {
    has_pieces(path, &[contents])
}

/// [`has_contents`] of contents in pieces, one after the other.
pub fn has_pieces(path: &Path, pieces: &[&[u8]]) -> Result<bool> {
    let context = || format!("cannot read {}", path.display());
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(context),
    };
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    if file.metadata().with_context(context)?.len() != len as u64 {
        return Ok(false);
    }
    let mut read = vec![0; 64 * 1024];
    let mut pieces = pieces.iter().copied();
    let mut rest: &[u8] = &[];
    loop {
        let n = match file.read(&mut read) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(context),
        };
        if n == 0 {
            return Ok(rest.is_empty() && pieces.all(<[u8]>::is_empty));
        }
        let mut got = &read[..n];
        while !got.is_empty() {
            if rest.is_empty() {
                match pieces.next() {
                    Some(piece) => rest = piece,
                    None => return Ok(false),
                }
                continue;
            }
            let k = rest.len().min(got.len());
            if rest[..k] != got[..k] {
                return Ok(false);
            }
            (rest, got) = (&rest[k..], &got[k..]);
        }
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. The file keeps the
/// permissions of the file it replaces. Temporary files of earlier writes
/// of `path` that were interrupted are removed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    write_atomic_pieces(path, &[contents])
}

/// [`write_atomic`] of contents in pieces, written one after the other.
pub fn write_atomic_pieces(path: &Path, pieces: &[&[u8]]) -> Result<()> {
    let tmp = stage(path, pieces)?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// `path`'s contents written to a temporary file beside it, ready to be
/// moved in place (with the mode of the file it replaces).
fn stage(path: &Path, pieces: &[&[u8]]) -> Result<tempfile::NamedTempFile> {
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
    let mut tmp = builder.tempfile_in(dir).with_context(|| {
        format!(
            "cannot create a temporary file in {} for {name}",
            dir.display()
        )
    })?;
    pieces
        .iter()
        .try_for_each(|piece| tmp.write_all(piece))
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    if let Ok(meta) = fs::metadata(path) {
        // Best effort: keep the mode of the file being replaced.
        let _ = fs::set_permissions(tmp.path(), meta.permissions());
    }
    Ok(tmp)
}

/// Writes several files, all or none: each is first written to a
/// temporary file beside it (its directory made when missing), and only
/// when every one is written are they moved in place. When one cannot be
/// written, the temporary files and the directories made for them are
/// removed and nothing has changed. (A move that fails after others were
/// made, which takes a failing disk, leaves those.)
pub fn write_all_atomic(files: &[(PathBuf, &[u8])]) -> Result<()> {
    let files: Vec<(PathBuf, Vec<&[u8]>)> = files
        .iter()
        .map(|(path, contents)| (path.clone(), vec![*contents]))
        .collect();
    write_all_atomic_pieces(&files)
}

/// [`write_all_atomic`] of files whose contents are in pieces, each written
/// one after the other.
pub fn write_all_atomic_pieces(files: &[(PathBuf, Vec<&[u8]>)]) -> Result<()> {
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

    #[test]
    fn contents_in_pieces_are_compared_and_written_as_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        // Pieces that end inside and across the 64 KiB reads, empty ones too.
        let whole: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let cuts = [0, 0, 1, 65_535, 65_536, 65_537, 70_000, 199_999, 300_000];
        let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &whole[w[0]..w[1]]).collect();
        write_atomic_pieces(&path, &pieces).expect("write");
        assert_eq!(fs::read(&path).expect("read"), whole);
        assert!(has_pieces(&path, &pieces).expect("same"));
        assert!(has_pieces(&path, &[&whole]).expect("same, one piece"));
        let mut other = whole.clone();
        other[65_536] ^= 1;
        assert!(!has_pieces(&path, &[&other[..100], &other[100..]]).expect("a byte differs"));
        assert!(!has_pieces(&path, &pieces[..pieces.len() - 1]).expect("shorter"));
        let files = [(path.clone(), vec![&whole[..10], &whole[10..20]])];
        write_all_atomic_pieces(&files).expect("write");
        assert_eq!(fs::read(&path).expect("read"), &whole[..20]);
        assert!(has_pieces(&path, &[&whole[..20], &[]]).expect("an empty last piece"));
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
