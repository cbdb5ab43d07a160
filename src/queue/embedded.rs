//! The embedded store: one redb file in the project's state directory
//! (`.realm/ingress.redb` by default). Each write is one transaction,
//! committed with redb's default durability (fsync'd before it returns):
//! a call is on disk before its `202`. redb rather than SQLite: pure Rust
//! (no C to build), and on the machine it was measured on it committed
//! more durable single-row transactions a second (ARCHITECTURE.md's row
//! and the commit that added it have the numbers).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{Delivery, Depth, Enqueued, Remembered, Store, StoreError};

/// id → delivery (JSON).
const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
/// (target, seq) → id, for pending deliveries only.
const PENDING: TableDefinition<(&str, u64), &str> = TableDefinition::new("pending");
/// seq → id, every delivery, for listing.
const ORDER: TableDefinition<u64, &str> = TableDefinition::new("order");
/// "seq" → the last seq given.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// idempotency key → remembered reply (JSON).
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency");

pub struct Embedded {
    db: Database,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embedded({})", self.path.display())
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError(format!("a damaged record: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(err)
}

impl Embedded {
    /// Opens the store at `path`, making it (and its directory) if absent.
    pub fn open(path: &Path) -> Result<Embedded, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("cannot make {}: {e}", dir.display())))?;
        }
        // The queue is read a delivery at a time: a small page cache
        // (redb's default may grow to 1 GiB).
        let db = Database::builder()
            .set_cache_size(16 << 20)
            .create(path)
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        // Every table exists from the start, so reads need not ask.
        let tx = db.begin_write().map_err(err)?;
        {
            tx.open_table(DELIVERIES).map_err(err)?;
            tx.open_table(PENDING).map_err(err)?;
            tx.open_table(ORDER).map_err(err)?;
            tx.open_table(META).map_err(err)?;
            tx.open_table(KEYS).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(Embedded {
            db,
            path: path.to_path_buf(),
        })
    }

    fn write(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write_with(redb::Durability::Immediate, f)
    }

    fn write_with(
        &self,
        durability: redb::Durability,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().map_err(err)?;
        tx.set_durability(durability).map_err(err)?;
        f(&tx)?;
        tx.commit().map_err(err)
    }

    /// Stores `batch` in one transaction, each delivery given its seq,
    /// but those that find their cap of pending deliveries reached: what
    /// became of each, in order.
    fn commit_batch(&self, batch: &mut [(Delivery, u64)]) -> Result<Vec<Enqueued>, StoreError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        self.write(|tx| {
            let mut meta = tx.open_table(META).map_err(err)?;
            let mut deliveries = tx.open_table(DELIVERIES).map_err(err)?;
            let mut order = tx.open_table(ORDER).map_err(err)?;
            let mut pending = tx.open_table(PENDING).map_err(err)?;
            let mut seq = meta.get("seq").map_err(err)?.map_or(0, |v| v.value());
            // redb keeps a table's length: no scan.
            let mut count = pending.len().map_err(err)?;
            for (delivery, max_pending) in batch.iter_mut() {
                if count >= *max_pending {
                    outcomes.push(Enqueued::Full { pending: count });
                    continue;
                }
                count += 1;
                outcomes.push(Enqueued::Stored);
                seq += 1;
                delivery.seq = seq;
                let bytes = encode(delivery)?;
                deliveries
                    .insert(delivery.id.as_str(), bytes.as_slice())
                    .map_err(err)?;
                order.insert(seq, delivery.id.as_str()).map_err(err)?;
                pending
                    .insert((delivery.target().as_str(), seq), delivery.id.as_str())
                    .map_err(err)?;
            }
            meta.insert("seq", seq).map_err(err)?;
            Ok(())
        })?;
        Ok(outcomes)
    }
}

impl Store for Embedded {
    fn enqueue_within(
        &self,
        delivery: &mut Delivery,
        max_pending: u64,
    ) -> Result<Enqueued, StoreError> {
        let mut one = [(delivery.clone(), max_pending)];
        let enqueued = self.commit_batch(&mut one)?;
        let [(stored, _)] = one;
        delivery.seq = stored.seq;
        Ok(enqueued.first().copied().unwrap_or(Enqueued::Stored))
    }

    fn enqueue_batch(&self, batch: &mut [(Delivery, u64)]) -> Vec<Result<Enqueued, StoreError>> {
        match self.commit_batch(batch) {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn get(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(DELIVERIES).map_err(err)?;
        let found = table.get(id).map_err(err)?;
        found.map(|v| decode(v.value())).transpose()
    }

    fn update(&self, delivery: &Delivery) -> Result<(), StoreError> {
        // A `sending` mark need not survive a crash: a delivery found
        // `queued` at start is sent again just as one found `sending`.
        // (A later durable commit writes it too.)
        let durability = if delivery.status == super::Status::Sending {
            redb::Durability::None
        } else {
            redb::Durability::Immediate
        };
        self.write_with(durability, |tx| {
            let bytes = encode(delivery)?;
            let mut deliveries = tx.open_table(DELIVERIES).map_err(err)?;
            if deliveries.get(delivery.id.as_str()).map_err(err)?.is_none() {
                // Dropped during its attempt: it stays dropped.
                return Ok(());
            }
            deliveries
                .insert(delivery.id.as_str(), bytes.as_slice())
                .map_err(err)?;
            if delivery.status.is_final() {
                tx.open_table(PENDING)
                    .map_err(err)?
                    .remove((delivery.target().as_str(), delivery.seq))
                    .map_err(err)?;
            } else {
                tx.open_table(PENDING)
                    .map_err(err)?
                    .insert(
                        (delivery.target().as_str(), delivery.seq),
                        delivery.id.as_str(),
                    )
                    .map_err(err)?;
            }
            Ok(())
        })
    }

    fn claim(&self, before: &Delivery, after: &Delivery) -> Result<bool, StoreError> {
        let mut claimed = false;
        // Not fsync'd, like every `sending` mark (see `update`).
        self.write_with(redb::Durability::None, |tx| {
            let mut deliveries = tx.open_table(DELIVERIES).map_err(err)?;
            let current: Option<Delivery> = match deliveries.get(after.id.as_str()).map_err(err)? {
                Some(v) => Some(decode(v.value())?),
                None => None,
            };
            let same = current.is_some_and(|c| {
                !c.status.is_final() && c.status == before.status && c.attempts == before.attempts
            });
            if same {
                let bytes = encode(after)?;
                deliveries
                    .insert(after.id.as_str(), bytes.as_slice())
                    .map_err(err)?;
                claimed = true;
            }
            Ok(())
        })?;
        Ok(claimed)
    }

    fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let mut found = false;
        self.write(|tx| {
            let d: Delivery = {
                let mut deliveries = tx.open_table(DELIVERIES).map_err(err)?;
                let Some(removed) = deliveries.remove(id).map_err(err)? else {
                    return Ok(());
                };
                decode(removed.value())?
            };
            found = true;
            tx.open_table(PENDING)
                .map_err(err)?
                .remove((d.target().as_str(), d.seq))
                .map_err(err)?;
            tx.open_table(ORDER)
                .map_err(err)?
                .remove(d.seq)
                .map_err(err)?;
            Ok(())
        })?;
        Ok(found)
    }

    fn pending_targets(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(PENDING).map_err(err)?;
        let mut targets: Vec<String> = Vec::new();
        for entry in table.iter().map_err(err)? {
            let (key, _) = entry.map_err(err)?;
            let (target, _) = key.value();
            if targets.last().map(String::as_str) != Some(target) {
                targets.push(target.to_string());
            }
        }
        Ok(targets)
    }

    fn depths(&self) -> Result<Vec<Depth>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let pending = tx.open_table(PENDING).map_err(err)?;
        let deliveries = tx.open_table(DELIVERIES).map_err(err)?;
        let mut depths: Vec<Depth> = Vec::new();
        for entry in pending.iter().map_err(err)? {
            let (key, id) = entry.map_err(err)?;
            let (target, _) = key.value();
            match depths.last_mut() {
                Some(last) if last.target == target => last.pending += 1,
                _ => {
                    // The first of a target (in seq order): the oldest.
                    let oldest_ms = match deliveries.get(id.value()).map_err(err)? {
                        Some(v) => decode::<Delivery>(v.value())?.created_ms,
                        None => super::now_ms(),
                    };
                    depths.push(Depth {
                        target: target.to_string(),
                        pending: 1,
                        oldest_ms,
                    });
                }
            }
        }
        Ok(depths)
    }

    fn next_for(&self, target: &str) -> Result<Option<Delivery>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let pending = tx.open_table(PENDING).map_err(err)?;
        let first = pending
            .range((target, 0)..=(target, u64::MAX))
            .map_err(err)?
            .next()
            .transpose()
            .map_err(err)?;
        let Some((_, id)) = first else {
            return Ok(None);
        };
        let deliveries = tx.open_table(DELIVERIES).map_err(err)?;
        let found = deliveries.get(id.value()).map_err(err)?;
        found.map(|v| decode(v.value())).transpose()
    }

    fn list(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let order = tx.open_table(ORDER).map_err(err)?;
        let deliveries = tx.open_table(DELIVERIES).map_err(err)?;
        let mut list = Vec::new();
        for entry in order.iter().map_err(err)?.take(limit) {
            let (_, id) = entry.map_err(err)?;
            if let Some(v) = deliveries.get(id.value()).map_err(err)? {
                list.push(decode(v.value())?);
            }
        }
        Ok(list)
    }

    fn recover(&self) -> Result<usize, StoreError> {
        let mut sending = Vec::new();
        {
            let tx = self.db.begin_read().map_err(err)?;
            let pending = tx.open_table(PENDING).map_err(err)?;
            let deliveries = tx.open_table(DELIVERIES).map_err(err)?;
            for entry in pending.iter().map_err(err)? {
                let (_, id) = entry.map_err(err)?;
                if let Some(v) = deliveries.get(id.value()).map_err(err)? {
                    let d: Delivery = decode(v.value())?;
                    if d.status == super::Status::Sending {
                        sending.push(d);
                    }
                }
            }
        }
        for d in &mut sending {
            d.status = super::Status::Queued;
            self.update(d)?;
        }
        Ok(sending.len())
    }

    fn remembered(&self, key: &str) -> Result<Option<Remembered>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(KEYS).map_err(err)?;
        let found = table.get(key).map_err(err)?;
        found.map(|v| decode(v.value())).transpose()
    }

    fn remember(&self, key: &str, remembered: &Remembered) -> Result<(), StoreError> {
        self.write(|tx| {
            let bytes = encode(remembered)?;
            tx.open_table(KEYS)
                .map_err(err)?
                .insert(key, bytes.as_slice())
                .map_err(err)?;
            Ok(())
        })
    }

    fn forget_before(&self, before_ms: u64) -> Result<usize, StoreError> {
        let mut forgotten = 0;
        self.write(|tx| {
            let mut table = tx.open_table(KEYS).map_err(err)?;
            table
                .retain(|_, v| {
                    let keep =
                        serde_json::from_slice::<Remembered>(v).is_ok_and(|r| r.at_ms >= before_ms);
                    forgotten += usize::from(!keep);
                    keep
                })
                .map_err(err)?;
            Ok(())
        })?;
        Ok(forgotten)
    }

    fn forget_ended_before(&self, before_ms: u64) -> Result<usize, StoreError> {
        let ended = self.ended_before(before_ms)?;
        if ended.is_empty() {
            return Ok(0);
        }
        let mut removed = 0;
        self.write(|tx| {
            let mut deliveries = tx.open_table(DELIVERIES).map_err(err)?;
            let mut order = tx.open_table(ORDER).map_err(err)?;
            for (seq, id) in &ended {
                // Still ended: a retry in between queued it again.
                let still = match deliveries.get(id.as_str()).map_err(err)? {
                    Some(v) => decode::<Delivery>(v.value())?.status.is_final(),
                    None => false,
                };
                if still {
                    deliveries.remove(id.as_str()).map_err(err)?;
                    order.remove(*seq).map_err(err)?;
                    removed += 1;
                }
            }
            Ok(())
        })?;
        Ok(removed)
    }
}

impl Embedded {
    /// The ended deliveries last changed before `before_ms`: `(seq, id)`.
    fn ended_before(&self, before_ms: u64) -> Result<Vec<(u64, String)>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let deliveries = tx.open_table(DELIVERIES).map_err(err)?;
        let mut ended = Vec::new();
        for entry in deliveries.iter().map_err(err)? {
            let (_, v) = entry.map_err(err)?;
            let d: Delivery = decode(v.value())?;
            if d.status.is_final() && d.updated_ms < before_ms {
                ended.push((d.seq, d.id));
            }
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Status;

    fn delivery(id: &str, verb: &str) -> Delivery {
        Delivery {
            id: id.into(),
            seq: 0,
            realm: "bank".into(),
            module: "balance".into(),
            verb: verb.into(),
            body: "{}".into(),
            headers: vec![],
            origin: None,
            key: id.into(),
            status: Status::Queued,
            attempts: 0,
            unmade: 0,
            last_error: None,
            reply: None,
            created_ms: 1,
            updated_ms: 1,
            lease_ms: 0,
        }
    }

    #[test]
    fn ended_deliveries_go_after_the_idempotency_window_pending_ones_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = std::sync::Arc::new(Embedded::open(&dir.path().join("q.redb")).expect("open"));
        let queue = std::sync::Arc::new(crate::queue::Queue::with_store(
            store.clone(),
            vec![],
            crate::queue::Policy::default(),
            std::time::Duration::from_secs(60),
        ));
        for id in ["old-delivered", "old-queued", "new-delivered"] {
            store.enqueue(&mut delivery(id, "x")).expect("enqueue");
        }
        for (id, updated_ms) in [
            ("old-delivered", 1),
            ("new-delivered", crate::queue::now_ms()),
        ] {
            let mut d = store.get(id).expect("get").expect("there");
            d.status = Status::Delivered;
            d.updated_ms = updated_ms;
            store.update(&d).expect("update");
        }
        queue.forget_old_keys().expect("forget");
        assert!(store.get("old-delivered").expect("get").is_none());
        assert!(store.get("old-queued").expect("get").is_some());
        assert!(store.get("new-delivered").expect("get").is_some());
        let listed: Vec<String> = store
            .list(10)
            .expect("list")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(listed, ["old-queued", "new-delivered"]);
    }

    #[test]
    fn past_its_cap_a_call_is_not_stored_and_an_ended_one_makes_room() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Embedded::open(&dir.path().join("q.redb")).expect("open");
        for id in ["a", "b"] {
            let stored = store.enqueue_within(&mut delivery(id, "x"), 2);
            assert_eq!(stored.expect("enqueue"), Enqueued::Stored);
        }
        let mut c = delivery("c", "y");
        let full = store.enqueue_within(&mut c, 2).expect("enqueue");
        assert_eq!(full, Enqueued::Full { pending: 2 });
        assert!(store.get("c").expect("get").is_none());
        assert_eq!(store.list(10).expect("list").len(), 2);
        let mut a = store.get("a").expect("get").expect("a");
        a.status = Status::Delivered;
        store.update(&a).expect("update");
        let stored = store.enqueue_within(&mut c, 2).expect("enqueue");
        assert_eq!((stored, c.seq), (Enqueued::Stored, 3));
    }

    #[test]
    fn a_batch_is_committed_together_each_with_its_own_seq_within_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Embedded::open(&dir.path().join("q.redb")).expect("open");
        store.enqueue(&mut delivery("a", "x")).expect("enqueue");
        let mut batch: Vec<(Delivery, u64)> = (0..5)
            .map(|i| (delivery(&format!("b{i}"), "x"), 4))
            .collect();
        let outcomes = store.enqueue_batch(&mut batch);
        let outcomes: Vec<Enqueued> = outcomes.into_iter().map(|o| o.expect("commit")).collect();
        // One was pending before: three more fit under the cap of 4.
        assert_eq!(
            outcomes,
            [
                Enqueued::Stored,
                Enqueued::Stored,
                Enqueued::Stored,
                Enqueued::Full { pending: 4 },
                Enqueued::Full { pending: 4 }
            ]
        );
        let seqs: Vec<u64> = batch.iter().map(|(d, _)| d.seq).collect();
        assert_eq!(seqs[..3], [2, 3, 4]);
        assert_eq!(store.list(100).expect("list").len(), 4);
    }

    #[test]
    fn deliveries_come_back_in_order_per_target_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/q.redb");
        let store = Embedded::open(&path).expect("open");
        for (id, verb) in [("a", "x"), ("b", "y"), ("c", "x")] {
            store.enqueue(&mut delivery(id, verb)).expect("enqueue");
        }
        assert_eq!(
            store.pending_targets().expect("targets"),
            ["bank/balance/x", "bank/balance/y"]
        );
        let mut first = store.next_for("bank/balance/x").expect("next").expect("a");
        assert_eq!((first.id.as_str(), first.seq), ("a", 1));
        first.status = Status::Sending;
        store.update(&first).expect("update");
        drop(store);
        let store = Embedded::open(&path).expect("reopen");
        assert_eq!(store.recover().expect("recover"), 1);
        let mut again = store.next_for("bank/balance/x").expect("next").expect("a");
        assert_eq!(again.status, Status::Queued);
        again.status = Status::Delivered;
        store.update(&again).expect("update");
        let next = store.next_for("bank/balance/x").expect("next").expect("c");
        assert_eq!(next.id, "c");
        assert_eq!(store.list(10).expect("list").len(), 3);
        assert_eq!(
            store.get("a").expect("get").expect("a").status,
            Status::Delivered
        );
        // Dropped: gone from the queue, and an attempt's outcome written
        // after does not bring it back.
        assert!(store.remove("c").expect("remove"));
        assert!(!store.remove("c").expect("remove again"));
        assert!(store.next_for("bank/balance/x").expect("next").is_none());
        store.update(&next).expect("update of a dropped delivery");
        assert!(store.get("c").expect("get").is_none());
        assert_eq!(store.list(10).expect("list").len(), 2);
    }
}
