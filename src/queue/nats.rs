//! The shared store: NATS JetStream key-value buckets (`[ingress] store =
//! "nats://host:port"`), for replicas of one realm's ingress that share
//! the queue and the idempotency records. Each write is acknowledged by
//! the server once JetStream has stored it (its own `sync_interval`
//! decides when that is flushed to disk).
//!
//! Buckets: `realm_deliveries` (id → delivery), `realm_pending_v2`
//! (`<hex target>.<seq>` → id, pending deliveries only), `realm_order`
//! (seq → id), `realm_meta` (`seq`, the last given, by compare-and-set)
//! `realm_idempotency` (hex key → remembered reply) and `realm_running`
//! (hex key → until when a replica runs its call). A delivery is
//! written before its pending entry: one stored but not yet pending when
//! the process stops is kept, not sent. Listing scans keys: meant for a
//! queue of thousands, not millions.
//!
//! The client runs on a runtime of its own: the store is called from
//! blocking threads and from the delivery worker's runtime alike.

use std::future::Future;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use tokio_stream::StreamExt;

use super::{Delivery, Depth, Enqueued, Nonces, Remembered, Status, Store, StoreError};

/// The buckets of one realm, `realm_<realm>_<kind>` (realms may share a
/// NATS server): deliveries, pending, order, meta, idempotency records and
/// `running`, the idempotency keys whose call runs now on any replica (hex
/// key → the millisecond until which it is held).
const BUCKETS: [&str; 6] = [
    "deliveries",
    "pending",
    "order",
    "meta",
    "idempotency",
    "running",
];

/// The bucket `kind` of `realm`.
fn bucket_name(realm: &str, kind: &str) -> String {
    format!("realm_{realm}_{kind}")
}

#[derive(Clone)]
struct Buckets {
    deliveries: kv::Store,
    pending: kv::Store,
    order: kv::Store,
    meta: kv::Store,
    keys: kv::Store,
    running: kv::Store,
}

pub struct Nats {
    url: String,
    buckets: Buckets,
    js: jetstream::Context,
    runtime: tokio::runtime::Runtime,
    /// Held while a call is counted against the cap and stored, so that
    /// calls this process accepts at once cannot pass the cap together.
    enqueueing: std::sync::Mutex<()>,
    /// The realm whose buckets these are.
    realm: String,
}

/// The bucket kind of the nonces of signed calls the replicas took: nonce
/// → the second until which it is taken. Its entries expire with the
/// bucket's `max_age` (at least two replay windows).
const NONCES: &str = "nonces";

/// How long a nonce's take waits for NATS (a signed call is refused
/// after it).
pub const NONCE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The replay cache shared by the replicas ([`Nats::nonces`]).
pub struct NatsNonces {
    bucket: kv::Store,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for NatsNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NATS JetStream bucket {}", self.bucket.name)
    }
}

impl Nonces for NatsNonces {
    fn take(&self, nonce: &str, until: u64, now: u64) -> Result<bool, StoreError> {
        let (bucket, key) = (self.bucket.clone(), nonce.to_string());
        let value = Bytes::from(until.to_string());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let name = bucket.name.clone();
            let _ = tx.send(
                take(&bucket, &name, &key, value, now)
                    .await
                    .map(|r| r.is_some()),
            );
        });
        // Not the JetStream request's 5 s: the caller (`Ingress::settle`)
        // gives up after 2 s, and a thread of tokio's blocking pool waits
        // here meanwhile.
        rx.recv_timeout(NONCE_WAIT).map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => StoreError(format!(
                "NATS: no answer within {}",
                crate::duration::format(NONCE_WAIT)
            )),
            std::sync::mpsc::RecvTimeoutError::Disconnected => {
                StoreError("the NATS client stopped".into())
            }
        })?
    }
}

/// Takes `key` when no replica holds it (revision 0: only when the key
/// has no entry), or when the one that did has let it go (its `until` is
/// past; by compare-and-set on that entry's revision).
async fn take(
    bucket: &kv::Store,
    name: &str,
    key: &str,
    value: Bytes,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    if let Ok(revision) = bucket.update(key, value.clone(), 0).await {
        return Ok(Some(revision));
    }
    let Some(entry) = bucket.entry(key).await.map_err(err)? else {
        // Not taken, yet not created: the server did not answer.
        return Err(StoreError(format!("NATS: cannot write to {name}")));
    };
    let until: Option<u64> = std::str::from_utf8(&entry.value)
        .ok()
        .and_then(|v| v.parse().ok());
    let held = entry.operation == kv::Operation::Put && until.is_none_or(|until| until >= now);
    if held {
        return Ok(None);
    }
    Ok(bucket.update(key, value, entry.revision).await.ok())
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NATS JetStream at {}", self.url)
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("NATS: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError(format!("a damaged record: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Bytes, StoreError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(err)
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn pending_key(d: &Delivery) -> String {
    format!("{}.{:020}", hex(&d.target()), d.seq)
}

/// Every key of a bucket.
async fn keys(bucket: &kv::Store) -> Result<Vec<String>, StoreError> {
    let stream = bucket.keys().await.map_err(err)?;
    let mut stream = std::pin::pin!(stream);
    let mut all = Vec::new();
    while let Some(key) = stream.next().await {
        all.push(key.map_err(err)?);
    }
    Ok(all)
}

impl Nats {
    /// Connects to the server at `url` and opens (or makes) the buckets of
    /// `realm`.
    pub fn open(url: &str, realm: &str) -> Result<Nats, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("realm-nats")
            .enable_all()
            .build()
            .map_err(err)?;
        let address = url.to_string();
        let owner = realm.to_string();
        // Not `block_on`: `realm serve` opens the store on a runtime.
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let opening = async move {
            let client = async_nats::connect(&address)
                .await
                .map_err(|e| StoreError(format!("cannot connect to NATS at {address}: {e}")))?;
            let js = jetstream::new(client);
            let mut opened = Vec::new();
            for kind in BUCKETS {
                let name = bucket_name(&owner, kind);
                let bucket = match js.get_key_value(&name).await {
                    Ok(bucket) => bucket,
                    Err(_) => js
                        .create_key_value(kv::Config {
                            bucket: name.clone(),
                            history: 1,
                            storage: jetstream::stream::StorageType::File,
                            ..Default::default()
                        })
                        .await
                        .map_err(|e| {
                            StoreError(format!("cannot make the JetStream bucket {name}: {e}"))
                        })?,
                };
                opened.push(bucket);
            }
            warn_of_earlier_buckets(&js).await;
            let mut opened = opened.into_iter();
            let mut next = || opened.next().ok_or_else(|| StoreError("a bucket".into()));
            let buckets = Buckets {
                deliveries: next()?,
                pending: next()?,
                order: next()?,
                meta: next()?,
                keys: next()?,
                running: next()?,
            };
            Ok::<_, StoreError>((buckets, js))
        };
        runtime.spawn(async move {
            let _ = tx.send(opening.await);
        });
        let (buckets, js) = rx
            .recv()
            .map_err(|_| StoreError("the NATS client stopped".into()))??;
        Ok(Nats {
            url: url.to_string(),
            buckets,
            js,
            runtime,
            enqueueing: std::sync::Mutex::new(()),
            realm: realm.to_string(),
        })
    }

    /// The replay cache shared by the replicas: the bucket `realm_<realm>_nonces`,
    /// made with entries kept `ttl`, or its `max_age` raised to `ttl` when
    /// a replica made it with less.
    pub fn nonces(&self, ttl: std::time::Duration) -> Result<NatsNonces, StoreError> {
        let js = self.js.clone();
        let name = bucket_name(&self.realm, NONCES);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let opened = async {
                let bucket = match js.get_key_value(&name).await {
                    Ok(bucket) => bucket,
                    Err(_) => js
                        .create_key_value(kv::Config {
                            bucket: name.clone(),
                            history: 1,
                            max_age: ttl,
                            storage: jetstream::stream::StorageType::File,
                            ..Default::default()
                        })
                        .await
                        .map_err(|e| {
                            StoreError(format!("cannot make the JetStream bucket {name}: {e}"))
                        })?,
                };
                let config = &bucket.stream.cached_info().config;
                if !config.max_age.is_zero() && config.max_age < ttl {
                    let mut longer = config.clone();
                    longer.max_age = ttl;
                    js.update_stream(&longer).await.map_err(err)?;
                }
                Ok::<_, StoreError>(bucket)
            };
            let _ = tx.send(opened.await);
        });
        let bucket = rx
            .recv()
            .map_err(|_| StoreError("the NATS client stopped".into()))??;
        Ok(NatsNonces {
            bucket,
            runtime: self.runtime.handle().clone(),
        })
    }

    /// Runs `f` on the client's runtime and waits for it (from any
    /// thread, inside a runtime or not).
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(Buckets) -> std::pin::Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let work = f(self.buckets.clone());
        self.runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| StoreError("the NATS client stopped".into()))?
    }
}

async fn get_delivery(b: &Buckets, id: &str) -> Result<Option<Delivery>, StoreError> {
    match b.deliveries.get(hex(id)).await.map_err(err)? {
        Some(bytes) => decode(&bytes).map(Some),
        None => Ok(None),
    }
}

async fn put_delivery(b: &Buckets, d: &Delivery) -> Result<(), StoreError> {
    b.deliveries
        .put(hex(&d.id), encode(d)?)
        .await
        .map(|_| ())
        .map_err(err)
}

/// The next seq: the meta bucket's `seq`, by compare-and-set.
async fn next_seq(b: &Buckets) -> Result<u64, StoreError> {
    loop {
        let entry = b.meta.entry("seq").await.map_err(err)?;
        let taken = match entry.filter(|e| e.operation == kv::Operation::Put) {
            Some(e) => {
                let last: u64 = std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| StoreError("a damaged seq".into()))?;
                let next = last + 1;
                b.meta
                    .update("seq", Bytes::from(next.to_string()), e.revision)
                    .await
                    .ok()
                    .map(|_| next)
            }
            // Revision 0: only when there is no `seq` yet.
            None => b
                .meta
                .update("seq", Bytes::from_static(b"1"), 0)
                .await
                .ok()
                .map(|_| 1),
        };
        if let Some(seq) = taken {
            return Ok(seq);
        }
    }
}

/// An earlier version kept one realm's queue in buckets without the
/// realm in their names (`realm_<kind>`). They are not read, moved or
/// removed here: replicas of that version may still write to them, and a
/// copy taken while they do would lose what they write after it. Their
/// calls are delivered (or dropped) by that version; then an operator
/// removes them (`nats kv del realm_<kind>`). Said once, at open.
async fn warn_of_earlier_buckets(js: &jetstream::Context) {
    let mut earlier = Vec::new();
    for kind in BUCKETS {
        let name = format!("realm_{kind}");
        if js.get_key_value(&name).await.is_ok() {
            earlier.push(name);
        }
    }
    if !earlier.is_empty() {
        tracing::warn!(
            "NATS holds buckets of an earlier realm version ({}), which this version does not read: let that version deliver or drop their calls, then remove them (nats kv del <bucket>)",
            earlier.join(", ")
        );
    }
}

/// How many deliveries are pending: the messages of the pending bucket's
/// stream (a pending entry is purged, not deleted, when its delivery ends,
/// so no delete marker is left to count).
async fn pending_count(b: &Buckets) -> Result<u64, StoreError> {
    let mut stream = b.pending.stream.clone();
    let info = stream.info().await.map_err(err)?;
    Ok(info.state.messages)
}

/// Takes a delivery's pending entry away, leaving nothing behind.
async fn unpend(b: &Buckets, d: &Delivery) -> Result<(), StoreError> {
    let subject = format!("{}{}", b.pending.prefix, pending_key(d));
    b.pending
        .stream
        .purge()
        .filter(subject)
        .await
        .map(|_| ())
        .map_err(err)
}

impl Store for Nats {
    fn enqueue_within(
        &self,
        delivery: &mut Delivery,
        max_pending: u64,
    ) -> Result<Enqueued, StoreError> {
        let mut d = delivery.clone();
        // Replicas may still pass the cap together (the trait says so);
        // the calls of this process are counted one at a time.
        let _counting = self
            .enqueueing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stored = self.run(move |b| {
            Box::pin(async move {
                if max_pending < u64::MAX {
                    let pending = pending_count(&b).await?;
                    if pending >= max_pending {
                        return Ok(Err(pending));
                    }
                }
                d.seq = next_seq(&b).await?;
                put_delivery(&b, &d).await?;
                b.order
                    .put(format!("{:020}", d.seq), Bytes::from(d.id.clone()))
                    .await
                    .map_err(err)?;
                b.pending
                    .put(pending_key(&d), Bytes::from(d.id.clone()))
                    .await
                    .map_err(err)?;
                Ok(Ok(d.seq))
            })
        })?;
        match stored {
            Ok(seq) => {
                delivery.seq = seq;
                Ok(Enqueued::Stored)
            }
            Err(pending) => Ok(Enqueued::Full { pending }),
        }
    }

    fn get(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let id = id.to_string();
        self.run(move |b| Box::pin(async move { get_delivery(&b, &id).await }))
    }

    fn update(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let d = delivery.clone();
        self.run(move |b| {
            Box::pin(async move {
                if get_delivery(&b, &d.id).await?.is_none() {
                    // Dropped during its attempt: it stays dropped.
                    return Ok(());
                }
                put_delivery(&b, &d).await?;
                if d.status.is_final() {
                    unpend(&b, &d).await?;
                } else {
                    b.pending
                        .put(pending_key(&d), Bytes::from(d.id.clone()))
                        .await
                        .map_err(err)?;
                }
                Ok(())
            })
        })
    }

    fn claim(&self, before: &Delivery, after: &Delivery) -> Result<bool, StoreError> {
        let (before, after) = (before.clone(), after.clone());
        self.run(move |b| {
            Box::pin(async move {
                let Some(entry) = b.deliveries.entry(hex(&after.id)).await.map_err(err)? else {
                    return Ok(false);
                };
                if entry.operation != kv::Operation::Put {
                    return Ok(false);
                }
                let current: Delivery = decode(&entry.value)?;
                if current.status.is_final()
                    || current.status != before.status
                    || current.attempts != before.attempts
                {
                    return Ok(false);
                }
                // Compare-and-set: another worker's claim in between wins.
                Ok(b.deliveries
                    .update(hex(&after.id), encode(&after)?, entry.revision)
                    .await
                    .is_ok())
            })
        })
    }

    fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.run(move |b| {
            Box::pin(async move {
                let Some(d) = get_delivery(&b, &id).await? else {
                    return Ok(false);
                };
                unpend(&b, &d).await?;
                b.order
                    .delete(format!("{:020}", d.seq))
                    .await
                    .map_err(err)?;
                b.deliveries.delete(hex(&d.id)).await.map_err(err)?;
                Ok(true)
            })
        })
    }

    fn pending_targets(&self) -> Result<Vec<String>, StoreError> {
        self.run(|b| {
            Box::pin(async move {
                let mut targets: Vec<String> = keys(&b.pending)
                    .await?
                    .iter()
                    .filter_map(|k| k.split_once('.').and_then(|(t, _)| unhex(t)))
                    .collect();
                targets.sort();
                targets.dedup();
                Ok(targets)
            })
        })
    }

    fn depths(&self) -> Result<Vec<Depth>, StoreError> {
        self.run(|b| {
            Box::pin(async move {
                let mut pending = keys(&b.pending).await?;
                // `<hex target>.<seq, 20 digits>`: sorted by target, then seq.
                pending.sort();
                let mut depths: Vec<(String, u64, String)> = Vec::new();
                for key in pending {
                    let Some((hex_target, _)) = key.split_once('.') else {
                        continue;
                    };
                    match depths.last_mut() {
                        Some(last) if last.0 == hex_target => last.1 += 1,
                        _ => depths.push((hex_target.to_string(), 1, key.clone())),
                    }
                }
                let mut out = Vec::with_capacity(depths.len());
                for (hex_target, count, first) in depths {
                    let Some(target) = unhex(&hex_target) else {
                        continue;
                    };
                    let oldest_ms = match b.pending.get(first).await.map_err(err)? {
                        Some(id) => get_delivery(&b, &String::from_utf8_lossy(&id))
                            .await?
                            .map_or_else(super::now_ms, |d| d.created_ms),
                        None => super::now_ms(),
                    };
                    out.push(Depth {
                        target,
                        pending: count,
                        oldest_ms,
                    });
                }
                Ok(out)
            })
        })
    }

    fn next_for(&self, target: &str) -> Result<Option<Delivery>, StoreError> {
        let prefix = format!("{}.", hex(target));
        self.run(move |b| {
            Box::pin(async move {
                let first = keys(&b.pending)
                    .await?
                    .into_iter()
                    .filter(|k| k.starts_with(&prefix))
                    .min();
                let Some(key) = first else {
                    return Ok(None);
                };
                let Some(id) = b.pending.get(key).await.map_err(err)? else {
                    return Ok(None);
                };
                get_delivery(&b, &String::from_utf8_lossy(&id)).await
            })
        })
    }

    fn list(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.run(move |b| {
            Box::pin(async move {
                let mut order = keys(&b.order).await?;
                order.sort();
                let mut list = Vec::new();
                for key in order.into_iter().take(limit) {
                    if let Some(id) = b.order.get(key).await.map_err(err)?
                        && let Some(d) = get_delivery(&b, &String::from_utf8_lossy(&id)).await?
                    {
                        list.push(d);
                    }
                }
                Ok(list)
            })
        })
    }

    /// Only deliveries whose lease is over: the others may be another
    /// replica's attempt in flight.
    fn recover(&self) -> Result<usize, StoreError> {
        let now = super::now_ms();
        let sending: Vec<Delivery> = self.run(move |b| {
            Box::pin(async move {
                let mut sending = Vec::new();
                for key in keys(&b.pending).await? {
                    if let Some(id) = b.pending.get(key).await.map_err(err)?
                        && let Some(d) = get_delivery(&b, &String::from_utf8_lossy(&id)).await?
                        && d.status == Status::Sending
                        && d.lease_ms <= now
                    {
                        sending.push(d);
                    }
                }
                Ok(sending)
            })
        })?;
        for mut d in sending.iter().cloned() {
            d.status = Status::Queued;
            self.update(&d)?;
        }
        Ok(sending.len())
    }

    fn remembered(&self, key: &str) -> Result<Option<Remembered>, StoreError> {
        let key = hex(key);
        self.run(move |b| {
            Box::pin(async move {
                match b.keys.get(key).await.map_err(err)? {
                    Some(bytes) => decode(&bytes).map(Some),
                    None => Ok(None),
                }
            })
        })
    }

    fn remember(&self, key: &str, remembered: &Remembered) -> Result<(), StoreError> {
        let (key, value) = (hex(key), encode(remembered)?);
        self.run(move |b| {
            Box::pin(async move { b.keys.put(key, value).await.map(|_| ()).map_err(err) })
        })
    }

    fn take_key(&self, key: &str, until_ms: u64) -> Result<Option<u64>, StoreError> {
        let key = hex(key);
        self.run(move |b| {
            Box::pin(async move {
                let value = Bytes::from(until_ms.to_string());
                let name = b.running.name.clone();
                take(&b.running, &name, &key, value, super::now_ms()).await
            })
        })
    }

    fn free_key(&self, key: &str, revision: u64) -> Result<(), StoreError> {
        let key = hex(key);
        self.run(move |b| {
            Box::pin(async move {
                // Past, by compare-and-set: a key another replica took
                // since (this call outlived its hold) stays its.
                match b
                    .running
                    .update(key, Bytes::from_static(b"0"), revision)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == kv::UpdateErrorKind::TimedOut => Err(err(e)),
                    Err(_) => Ok(()),
                }
            })
        })
    }

    fn forget_before(&self, before_ms: u64) -> Result<usize, StoreError> {
        self.run(move |b| {
            Box::pin(async move {
                let mut forgotten = 0;
                for key in keys(&b.keys).await? {
                    let old = match b.keys.get(key.clone()).await.map_err(err)? {
                        Some(bytes) => serde_json::from_slice::<Remembered>(&bytes)
                            .map_or(true, |r| r.at_ms < before_ms),
                        None => false,
                    };
                    if old {
                        b.keys.delete(key).await.map_err(err)?;
                        forgotten += 1;
                    }
                }
                Ok(forgotten)
            })
        })
    }

    fn nonces(
        &self,
        ttl: std::time::Duration,
    ) -> Result<Option<std::sync::Arc<dyn Nonces>>, StoreError> {
        Ok(Some(std::sync::Arc::new(Nats::nonces(self, ttl)?)))
    }

    fn forget_ended_before(&self, before_ms: u64) -> Result<usize, StoreError> {
        self.run(move |b| {
            Box::pin(async move {
                let mut forgotten = 0;
                for key in keys(&b.order).await? {
                    let Some(id) = b.order.get(key.clone()).await.map_err(err)? else {
                        continue;
                    };
                    let Some(d) = get_delivery(&b, &String::from_utf8_lossy(&id)).await? else {
                        continue;
                    };
                    if d.status.is_final() && d.updated_ms < before_ms {
                        b.order.delete(key).await.map_err(err)?;
                        b.deliveries.delete(hex(&d.id)).await.map_err(err)?;
                        forgotten += 1;
                    }
                }
                Ok(forgotten)
            })
        })
    }
}
