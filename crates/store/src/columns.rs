//! How records' JSON and sealed fields become column values. Both backends share it, so the two
//! encode a record the same way and a stored value that does not parse is `Corrupt` in both.

use serde::{Serialize, de::DeserializeOwned};

use crate::{ResourceRecord, Result, Sealed, StoreError};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(corrupt)
}

pub(crate) fn opt_to_json<T: Serialize>(value: Option<&T>) -> Result<Option<String>> {
    value.map(to_json).transpose()
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(corrupt)
}

pub(crate) fn opt_from_json<T: DeserializeOwned>(text: Option<String>) -> Result<Option<T>> {
    text.as_deref().map(from_json).transpose()
}

/// The encoded columns of a [`ResourceRecord`] that are not plain values.
pub(crate) struct ResourceColumns {
    pub tags: Option<String>,
    pub properties: String,
    pub identity: Option<String>,
    pub sealed: Option<Vec<u8>>,
}

impl ResourceColumns {
    pub fn encode(r: &ResourceRecord) -> Result<Self> {
        Ok(Self {
            tags: opt_to_json(r.tags.as_ref())?,
            properties: to_json(&r.properties)?,
            identity: opt_to_json(r.identity.as_ref())?,
            sealed: r.sealed.as_ref().map(|s| s.as_bytes().to_vec()),
        })
    }

    /// Fills the decoded fields into a record whose plain columns are already read.
    pub fn decode_into(self, mut rec: ResourceRecord) -> Result<ResourceRecord> {
        rec.tags = opt_from_json(self.tags)?;
        rec.properties = from_json(&self.properties)?;
        rec.identity = opt_from_json(self.identity)?;
        rec.sealed = self.sealed.map(Sealed::from_stored).transpose().map_err(corrupt)?;
        Ok(rec)
    }
}
