//! List paging: `maxresults` 1–25 (default 25) and an opaque `$skiptoken` naming where the next page
//! starts.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyhold_store::PageRequest;

use super::Listing;
use crate::VaultError;

/// Where the next page starts; travels as `$skiptoken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn decode(token: &str) -> Result<Self, VaultError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| VaultError::BadParameter("Invalid $skiptoken.".into()))?;
        String::from_utf8(bytes)
            .map(Self)
            .map_err(|_| VaultError::BadParameter("Invalid $skiptoken.".into()))
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }
}

pub(crate) fn request(max: Option<u32>, cursor: Option<Cursor>) -> Result<PageRequest, VaultError> {
    let limit = max.unwrap_or(25);
    if !(1..=25).contains(&limit) {
        return Err(VaultError::BadParameter(
            "Invalid maxresults: it must be between 1 and 25.".into(),
        ));
    }
    // One extra row tells whether another page exists.
    Ok(PageRequest {
        after: cursor.map(|c| c.0),
        limit: limit + 1,
    })
}

pub(crate) fn finish<T>(mut rows: Vec<T>, fetched: u32, key: impl Fn(&T) -> String) -> Listing<T> {
    let limit = (fetched - 1) as usize;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| Cursor(key(r)))
    } else {
        None
    };
    Listing { items: rows, next }
}
