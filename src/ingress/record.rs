//! Recording the calls that cross to other realms (`realm serve
//! --record`): each call forwarded to another realm and answered is
//! handed, as bodies only (no headers, no signatures), to a
//! [`CallRecorder`] the command sets, which keeps them as examples for
//! `realm fake` (`crate::fake::record`).
//!
//! Never writes: the recorder does, off the call's path.

use std::sync::Arc;

use super::{Ingress, Reply};
use crate::schema::Verb;

/// A call that crossed to another realm, and its answer.
#[derive(Debug)]
pub struct Crossed<'a> {
    /// The realm as this project pins it.
    pub realm: &'a str,
    pub module: &'a str,
    pub verb: &'a Verb,
    /// The body as JSON; `None` when it was empty.
    pub request: Option<&'a serde_json::Value>,
    pub reply: &'a Reply,
}

/// Keeps the calls that crossed to other realms.
pub trait CallRecorder: Send + Sync + std::fmt::Debug {
    /// Must not block: the call waits for it.
    fn record(&self, crossed: Crossed<'_>);
}

impl Ingress {
    /// Records every call this ingress forwards to another realm with
    /// `recorder` from now on; `false` when a recorder is set already.
    pub fn record_to(&self, recorder: Arc<dyn CallRecorder>) -> bool {
        self.recorder.set(recorder).is_ok()
    }

    /// The recorder, with the request to record, when calls are recorded.
    pub(super) fn recording(
        &self,
        request: &Option<serde_json::Value>,
    ) -> Option<(&dyn CallRecorder, Option<serde_json::Value>)> {
        self.recorder.get().map(|r| (r.as_ref(), request.clone()))
    }
}
