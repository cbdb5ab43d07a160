//! The embedded store's journal of accepted calls: two files beside the
//! redb file (`<store>.accepted.0` and `.1`) that accepted calls are only
//! appended to, a batch at a time, each batch fsync'd before its calls
//! are answered. The store then moves them into its tables (`absorb` in
//! `embedded.rs`, when one of them must be there: see its module's doc),
//! and empties a file once every call in it is durably there.
//!
//! Why not straight into redb: a redb commit of a few calls wrote about 19
//! pages scattered over the file (four tables, their tree and the
//! allocator's records) and cost the committing thread 200–300 µs of CPU
//! in this VM, most of it in the kernel submitting those pages; an append
//! and an fdatasync of the same calls cost 40–55 µs (the commit that added
//! this has the numbers).
//!
//! A record is `length (u32 LE) | CRC-32 of the payload (u32 LE) | payload`
//! (the delivery as the store keeps it: `Delivery::encode`'s binary
//! encoding, or JSON when written by an older realm). Reading stops at the first
//! record that is short or fails its check: the tail of a batch whose
//! write a crash cut short, never answered. A record whose `seq` the store
//! has already taken in is skipped (a file emptied after its calls were
//! moved, the emptying lost in a crash).
//!
//! The files are written ahead of their records, with zeros, a few MiB at
//! a time, and are reused from their start once emptied rather than cut
//! short: an append then writes inside the file's length, over blocks
//! already there, and its fdatasync writes the data alone (ext4 also wrote
//! the file's inode, synchronously, when an append grew the file: a third
//! of the fdatasync's CPU in a profile of `cargo bench --bench queue`).
//! What a reused file holds past its new records is zeros (read as the
//! end), or records of before, every one taken in durably already, so
//! skipped by its `seq` (and a torn record ends the reading before them).
//! Within a run only: at open both files are cut (`clear`), since what a
//! power loss left past the records read (a later page of a batch never
//! answered, after a hole of zeros) could be read as live once new
//! records came to end where it starts.
//!
//! Records are written with direct writes (`O_DIRECT`, where the file
//! system takes it: through the page cache otherwise), whole 4 KiB
//! blocks at a time: a batch's write starts at the block of the last
//! record's end, with the bytes of that block before it written again
//! (the same bytes: a write torn by a crash leaves them as they were), and
//! ends with zeros to its last block's end (read as the end). The
//! fdatasync then writes nothing back from the page cache, only flushes
//! the disk's cache: a batch's write and fdatasync cost the committing
//! thread a third less CPU than through the page cache (27 against 40 µs
//! for 4.4 KB in this VM, alone).
//!
//! Never answers a call before its record is fsync'd; never reuses a file
//! before each of its calls is committed, durably, in the redb file.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Delivery, StoreError};

/// A call on the journal, not yet in the store's tables.
#[derive(Clone, Debug)]
pub(super) struct Unmoved {
    pub seq: u64,
    pub id: String,
    /// Its target, as [`Delivery::target`] writes it.
    pub target: String,
    /// The delivery as the store keeps it ([`Delivery::encode`]).
    pub bytes: Vec<u8>,
}

impl Unmoved {
    pub(super) fn of(delivery: &Delivery, bytes: Vec<u8>) -> Arc<Unmoved> {
        Arc::new(Unmoved {
            seq: delivery.seq,
            id: delivery.id.clone(),
            target: delivery.target(),
            bytes,
        })
    }
}

/// The two files, which one calls are appended to, and the calls on them
/// not yet moved into the store's tables, in `seq` order.
pub(super) struct Journal {
    files: [File; 2],
    /// The same files opened for direct writes (`O_DIRECT`), where the
    /// file system takes them: records are appended through these.
    direct: Option<[File; 2]>,
    /// The bytes of each file's last block before its end of records,
    /// written again, with the next records, by a direct write (which
    /// writes whole blocks).
    tails: [Vec<u8>; 2],
    /// Where a batch is put together for a direct write: a block-aligned
    /// part of it (see [`aligned`]).
    scratch: Vec<u8>,
    paths: [PathBuf; 2],
    /// How many bytes of each file hold records.
    lens: [u64; 2],
    /// How long each file is (zeros, or records taken in, past `lens`).
    sizes: [u64; 2],
    current: usize,
    /// Kept by [`Journal::took`] and [`Journal::moved`].
    unmoved: Vec<Arc<Unmoved>>,
    /// The bytes of the records of [`Journal::unmoved`].
    pub unmoved_bytes: usize,
    /// How many of [`Journal::unmoved`] go to each target.
    unmoved_targets: std::collections::BTreeMap<String, usize>,
    /// The next `seq` to give.
    pub next_seq: u64,
    /// Why appending stopped: a write or fsync failed and the file could
    /// not be cut back to its last good record. Calls are refused until
    /// the store is opened again (which reads what the file holds).
    broken: Option<String>,
}

/// The bytes before a record's payload: its length and its CRC-32.
const HEAD: usize = 8;

/// How much a file is written ahead of its records (see the module's doc).
const GROW: u64 = 4 << 20;

/// The block direct writes are aligned to (their offset, length and
/// memory): the largest logical block size of common disks.
const BLOCK: usize = 4096;

/// The part of `buf` that starts at a multiple of [`BLOCK`] in memory,
/// `len` bytes long (`buf` grown as needed).
fn aligned(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len + BLOCK {
        buf.resize(len + BLOCK, 0);
    }
    let skip = buf.as_ptr().align_offset(BLOCK).min(BLOCK);
    &mut buf[skip..skip + len]
}

/// `path` opened for direct writes, or `None` where the file system does
/// not take `O_DIRECT` (the journal then writes through the page cache).
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError(format!("cannot {what} {}: {e}", path.display()))
}

impl Journal {
    /// Opens (makes) the journal beside the store at `store`: the files,
    /// and the records they hold, in `seq` order (without those at or
    /// before `taken`, the last `seq` the store holds already).
    pub(super) fn open(store: &Path, taken: u64) -> Result<(Journal, Vec<Delivery>), StoreError> {
        let paths = [0, 1].map(|i| {
            let mut name = store.as_os_str().to_owned();
            name.push(format!(".accepted.{i}"));
            PathBuf::from(name)
        });
        let mut found = Vec::new();
        let mut files = Vec::with_capacity(2);
        for path in &paths {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| io(path, "open", e))?;
            found.extend(read_records(&file, path, taken)?);
            files.push(file);
        }
        // The files' names must outlive a crash as their records do (a
        // bare file name's directory is the current one).
        let dir = match store.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(dir, "sync", e))?;
        found.sort_by_key(|d| d.seq);
        found.dedup_by_key(|d| d.seq);
        let last = found.last().map_or(taken, |d| d.seq);
        let next_seq = last.checked_add(1).ok_or_else(|| {
            StoreError(format!(
                "a record of seq {last} on the journal beside {}: no seq follows it",
                store.display()
            ))
        })?;
        let [a, b] = <[File; 2]>::try_from(files)
            .map_err(|_| StoreError("the journal has two files".into()))?;
        let size = |file: &File, path: &Path| {
            file.metadata()
                .map(|m| m.len())
                .map_err(|e| io(path, "read the length of", e))
        };
        let sizes = [size(&a, &paths[0])?, size(&b, &paths[1])?];
        let direct = match (open_direct(&paths[0]), open_direct(&paths[1])) {
            (Some(a), Some(b)) => Some([a, b]),
            _ => None,
        };
        let journal = Journal {
            files: [a, b],
            direct,
            tails: [Vec::new(), Vec::new()],
            scratch: Vec::new(),
            paths,
            lens: [0, 0],
            sizes,
            current: 0,
            unmoved: Vec::new(),
            unmoved_bytes: 0,
            unmoved_targets: std::collections::BTreeMap::new(),
            next_seq,
            broken: None,
        };
        Ok((journal, found))
    }

    /// The calls on the journal not yet in the store's tables, in `seq`
    /// order.
    pub(super) fn unmoved(&self) -> &[Arc<Unmoved>] {
        &self.unmoved
    }

    /// The targets of [`Journal::unmoved`], in order.
    pub(super) fn unmoved_targets(&self) -> impl Iterator<Item = &str> {
        self.unmoved_targets.keys().map(String::as_str)
    }

    /// Whether a call to `target` is on the journal, not in the tables.
    pub(super) fn holds_target(&self, target: &str) -> bool {
        self.unmoved_targets.contains_key(target)
    }

    /// Whether the call of `seq` (given already) is on the journal still,
    /// not in the store's tables.
    pub(super) fn holds(&self, seq: u64) -> bool {
        self.unmoved.first().is_some_and(|u| u.seq <= seq)
    }

    /// Calls just appended (see [`Journal::append`]), now unmoved.
    pub(super) fn took(&mut self, calls: impl IntoIterator<Item = Arc<Unmoved>>) {
        for call in calls {
            self.unmoved_bytes += call.bytes.len();
            // A target's name is copied once, while it has calls here.
            match self.unmoved_targets.get_mut(&call.target) {
                Some(count) => *count += 1,
                None => {
                    self.unmoved_targets.insert(call.target.clone(), 1);
                }
            }
            self.unmoved.push(call);
        }
    }

    /// The first `n` calls of [`Journal::unmoved`] are in the store's
    /// tables.
    pub(super) fn moved(&mut self, n: usize) {
        for call in self.unmoved.drain(..n.min(self.unmoved.len())) {
            self.unmoved_bytes = self.unmoved_bytes.saturating_sub(call.bytes.len());
            if let Some(count) = self.unmoved_targets.get_mut(&call.target) {
                *count -= 1;
                if *count == 0 {
                    self.unmoved_targets.remove(&call.target);
                }
            }
        }
    }

    /// Empties both files (their records are in the store's tables, or
    /// were never answered), durably: a clean stop leaves them empty.
    pub(super) fn clear(&mut self) -> Result<(), StoreError> {
        for i in 0..2 {
            self.files[i]
                .set_len(0)
                .and_then(|()| self.files[i].sync_all())
                .map_err(|e| io(&self.paths[i], "empty", e))?;
            self.lens[i] = 0;
            self.sizes[i] = 0;
            self.tails[i].clear();
        }
        Ok(())
    }

    /// Appends `records` (each a delivery's payload) to the current file
    /// and fsyncs it: on return they survive a crash. On failure the file
    /// is cut back to what it held, and when that fails too, nothing more
    /// is appended until the store is opened again.
    pub(super) fn append(&mut self, records: &[&[u8]]) -> Result<(), StoreError> {
        if let Some(why) = &self.broken {
            return Err(StoreError(why.clone()));
        }
        let i = self.current;
        let at = self.lens[i];
        let length: usize = records.iter().map(|r| r.len() + HEAD).sum();
        // A direct write starts at the block of `at` and writes whole
        // blocks: the records before `at` in that block again (the same
        // bytes: a write torn by a crash leaves them as they were), then
        // the new ones, then zeros to the block's end.
        let start = at - at % BLOCK as u64;
        let head = (at - start) as usize;
        let padded = (head + length).div_ceil(BLOCK) * BLOCK;
        let direct = self.direct.is_some();
        let buf = if direct {
            aligned(&mut self.scratch, padded)
        } else {
            if self.scratch.len() < length {
                self.scratch.resize(length, 0);
            }
            &mut self.scratch[..length]
        };
        let mut put = 0;
        if direct {
            buf[..head].copy_from_slice(&self.tails[i]);
            put = head;
        }
        for record in records {
            let len = u32::try_from(record.len())
                .map_err(|_| StoreError("a call too large for the journal".into()))?;
            buf[put..put + 4].copy_from_slice(&len.to_le_bytes());
            buf[put + 4..put + 8].copy_from_slice(&crc32fast::hash(record).to_le_bytes());
            buf[put + 8..put + 8 + record.len()].copy_from_slice(record);
            put += HEAD + record.len();
        }
        buf[put..].fill(0);
        let end = at + length as u64;
        let reach = if direct { start + padded as u64 } else { end };
        let (file, path) = (&self.files[i], &self.paths[i]);
        // Written ahead: zeros up to a few MiB past the records, their
        // length synced with the batch (as an append past the end would).
        let grown = (reach > self.sizes[i]).then(|| reach.div_ceil(GROW) * GROW);
        let grow = || match grown {
            Some(size) => {
                let zeros = vec![0u8; (size - self.sizes[i]) as usize];
                file.write_all_at(&zeros, self.sizes[i])
            }
            None => Ok(()),
        };
        let sync = |f: &File| match grown {
            Some(_) => f.sync_all(),
            None => f.sync_data(),
        };
        let written = match &self.direct {
            // The zeros through the page cache (rare); the kernel writes
            // back what the direct write covers before it.
            Some(direct) => grow()
                .and_then(|()| direct[i].write_all_at(buf, start))
                .and_then(|()| sync(&direct[i])),
            None => grow()
                .and_then(|()| file.write_all_at(buf, at))
                .and_then(|()| sync(file)),
        };
        if let Err(e) = written {
            if direct && e.raw_os_error() == Some(libc::EINVAL) {
                // The file system took `O_DIRECT` at open but not these
                // writes (nothing was written): through the page cache
                // from now on.
                self.direct = None;
                return self.append(records);
            }
            // What was written may be read at the next start: cut it off,
            // as the calls are refused.
            self.sizes[i] = at;
            if let Err(cut) = file.set_len(at).and_then(|()| file.sync_data()) {
                self.broken = Some(format!(
                    "the journal {} could not be written ({e}) nor cut back ({cut}): no calls are queued until the ingress starts again",
                    path.display()
                ));
            }
            return Err(io(path, "write", e));
        }
        if direct {
            // The new last block's bytes before the end of records.
            let last = (end - end % BLOCK as u64 - start) as usize;
            let tail = &buf[last..last + (end % BLOCK as u64) as usize];
            self.tails[i].clear();
            self.tails[i].extend_from_slice(tail);
        }
        self.lens[i] = end;
        if let Some(size) = grown {
            self.sizes[i] = size;
        }
        Ok(())
    }

    /// Appends from now on to the other file, which is empty: the current
    /// one is emptied with [`Journal::emptied`] once the calls taken with
    /// it are in the store's tables. Which file that is.
    pub(super) fn switch(&mut self) -> usize {
        let drained = self.current;
        self.current = 1 - drained;
        drained
    }

    /// File `i`'s every record is committed, durably, in the store's
    /// tables: the next appends to it write from its start, over them (no
    /// write now; what is left of them is skipped by `seq` when read).
    pub(super) fn emptied(&mut self, i: usize) {
        if i != self.current {
            self.lens[i] = 0;
            self.tails[i].clear();
        }
    }
}

/// The records of one file after `taken` (the last `seq` the store holds
/// already), up to the first that is short or damaged. A record taken in
/// already is not decoded further: one written by another version of
/// realm, long moved, does not stop the store from opening.
fn read_records(file: &File, path: &Path, taken: u64) -> Result<Vec<Delivery>, StoreError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &*file, &mut bytes).map_err(|e| io(path, "read", e))?;
    let mut records = Vec::new();
    let mut rest = bytes.as_slice();
    while rest.len() >= HEAD {
        let (head, tail) = rest.split_at(HEAD);
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(payload) = tail.get(..len) else {
            break;
        };
        if len == 0 || crc32fast::hash(payload) != crc {
            break;
        }
        let decoded = Delivery::seq_of(payload)
            .and_then(|seq| (seq > taken).then(|| Delivery::decode(payload)).transpose());
        match decoded {
            Ok(d) => records.extend(d),
            // Checked, so written whole by this program: a record it
            // cannot read is a bug, not a torn write. Said, not hidden.
            Err(e) => {
                return Err(StoreError(format!("{e} (in {})", path.display())));
            }
        }
        rest = &tail[len..];
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: &str, seq: u64) -> Delivery {
        crate::queue::delivery::fixture(id, "account", seq)
    }

    /// A crash cuts the last batch short, or leaves a file's emptying
    /// unwritten: what was answered is read back, once, in order; the
    /// cut tail and what the store holds already are not.
    #[test]
    fn a_torn_tail_and_records_taken_in_already_are_not_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("q.redb");
        let (mut journal, found) = Journal::open(&store, 0).expect("open");
        assert!(found.is_empty());
        let encode = |d: &Delivery| serde_json::to_vec(d).expect("json");
        let (a, b, c) = (delivery("a", 1), delivery("b", 2), delivery("c", 3));
        journal.append(&[&encode(&a), &encode(&b)]).expect("append");
        let drained = journal.switch();
        journal.append(&[&encode(&c)]).expect("append");
        assert_eq!(drained, 0);
        // A batch cut short by a crash: its length and check, half its
        // payload.
        let torn = encode(&delivery("d", 4));
        let file = &journal.files[1];
        let mut head = (torn.len() as u32).to_le_bytes().to_vec();
        head.extend_from_slice(&crc32fast::hash(&torn).to_le_bytes());
        head.extend_from_slice(&torn[..torn.len() / 2]);
        file.write_all_at(&head, journal.lens[1]).expect("write");
        drop(journal);
        let ids = |found: &[Delivery]| found.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        let (_, found) = Journal::open(&store, 0).expect("reopen");
        assert_eq!(ids(&found), ["a", "b", "c"]);
        // The store took in `a` and `b` before the crash.
        let (journal, found) = Journal::open(&store, 2).expect("reopen");
        assert_eq!(ids(&found), ["c"]);
        assert_eq!(journal.next_seq, 4);
    }

    /// A file is reused from its start once its records are taken in:
    /// what is left of them past the new records is skipped by `seq` (and
    /// is read past only when it starts where a new record ended); after
    /// a crash, the new records are read back, once, in order. The file
    /// is written ahead with zeros, not grown by each append.
    #[test]
    fn a_reused_file_reads_back_its_new_records_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("q.redb");
        let (mut journal, _) = Journal::open(&store, 0).expect("open");
        let encode = |d: &Delivery| serde_json::to_vec(d).expect("json");
        // Records of one length: the old ones left past the new start
        // where a new one ends.
        let old: Vec<Vec<u8>> = (1..=4)
            .map(|seq| encode(&delivery(&format!("o{seq}"), seq)))
            .collect();
        let refs: Vec<&[u8]> = old.iter().map(Vec::as_slice).collect();
        journal.append(&refs).expect("append");
        assert_eq!(journal.files[0].metadata().expect("len").len(), GROW);
        let drained = journal.switch();
        // The store took in 1..=4, durably.
        journal.emptied(drained);
        journal
            .append(&[&encode(&delivery("n5", 5))])
            .expect("append");
        let drained = journal.switch();
        journal.emptied(drained);
        // A batch of two over the old records of file 0, the process
        // killed before they are taken in.
        journal
            .append(&[&encode(&delivery("n6", 6)), &encode(&delivery("n7", 7))])
            .expect("append");
        assert_eq!(journal.lens[0], 2 * (old[0].len() + HEAD) as u64);
        drop(journal);
        let (journal, found) = Journal::open(&store, 5).expect("reopen");
        let ids: Vec<String> = found.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids, ["n6", "n7"]);
        assert_eq!(journal.next_seq, 8);
    }

    /// Batches of records of many lengths, across block boundaries
    /// (a direct write writes whole blocks: the records before it in its
    /// first block again, zeros after it in its last), and across the
    /// 4 MiB written ahead: every record is read back, in order, once;
    /// the same through the page cache (file systems without
    /// `O_DIRECT`).
    #[test]
    fn batches_across_blocks_are_read_back_whole_direct_or_not() {
        for direct in [true, false] {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = dir.path().join("q.redb");
            let (mut journal, _) = Journal::open(&store, 0).expect("open");
            if !direct {
                journal.direct = None;
            } else if journal.direct.is_none() {
                // Said, not passed silently: this pass then tests the page
                // cache's writes twice.
                eprintln!(
                    "note: {} refuses O_DIRECT: direct journal writes are not tested here",
                    dir.path().display()
                );
            }
            let mut seq = 0;
            let mut written = Vec::new();
            for batch in 0..400u64 {
                let records: Vec<Vec<u8>> = (0..1 + batch % 5)
                    .map(|k| {
                        seq += 1;
                        let mut d = delivery(&format!("d{seq}"), seq);
                        // 0 to about 64 KB, most within two blocks.
                        d.body = "x".repeat(
                            ((batch * 7919 + k * 104_729) % 8209) as usize
                                * if batch % 50 == 0 { 8 } else { 1 },
                        );
                        written.push(d.id.clone());
                        d.encode()
                    })
                    .collect();
                let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                journal.append(&refs).expect("append");
            }
            assert!(
                journal.sizes[0] > GROW,
                "past the first 4 MiB written ahead"
            );
            drop(journal);
            let (journal, found) = Journal::open(&store, 0).expect("reopen");
            let ids: Vec<String> = found.iter().map(|d| d.id.clone()).collect();
            assert_eq!(ids, written, "direct: {direct}");
            assert_eq!(journal.next_seq, seq + 1);
        }
    }

    /// A damaged byte inside a record ends what is read of that file.
    #[test]
    fn a_record_that_fails_its_check_ends_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("q.redb");
        let (mut journal, _) = Journal::open(&store, 0).expect("open");
        let encode = |d: &Delivery| serde_json::to_vec(d).expect("json");
        journal
            .append(&[&encode(&delivery("a", 1)), &encode(&delivery("b", 2))])
            .expect("append");
        let first = encode(&delivery("a", 1)).len() as u64 + HEAD as u64;
        journal.files[0]
            .write_all_at(b"X", first + HEAD as u64 + 3)
            .expect("damage");
        drop(journal);
        let (_, found) = Journal::open(&store, 0).expect("reopen");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "a");
    }
}
