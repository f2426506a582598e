//! Query parameters, decoded the way the SDKs send them: JS percent-encodes the *name*
//! (`api%2Dversion`), Rust sends `%24skiptoken`, Python leaves values unencoded.

use axum::{extract::FromRequestParts, http::request::Parts};
use keyhold_core::secrets::Cursor;

use crate::{
    AppState,
    error::{ApiError, bad_parameter},
};

fn params(parts: &Parts) -> Vec<(String, String)> {
    form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param(all: &[(String, String)], name: &str) -> Option<String> {
    all.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// The api-version of a vault request: the versions the SDKs and tutorials send, and any dated
/// version from 2025 on (newer SDKs send newer dates; refusing them would break upgrades).
#[derive(Debug, Clone)]
pub struct ApiVersion(pub String);

const KNOWN: &[&str] = &["2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6"];

/// A known version, or its preview (`7.6-preview.2`, which az sends for keys), or a date.
fn accepted(v: &str) -> bool {
    let (base, preview) = match v.split_once("-preview") {
        Some((base, rest)) => (base, Some(rest)),
        None => (v, None),
    };
    let preview_ok = preview.is_none_or(|rest| {
        rest.is_empty()
            || rest
                .strip_prefix('.')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    if !preview_ok {
        return false;
    }
    if KNOWN.contains(&base) {
        return true;
    }
    let date = base;
    let parts: Vec<&str> = date.split('-').collect();
    matches!(parts.as_slice(), [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2
        && [y, m, d].iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && *y >= "2025" && (*m >= "01" && *m <= "12") && (*d >= "01" && *d <= "31"))
}

impl FromRequestParts<AppState> for ApiVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match param(&params(parts), "api-version") {
            None => Err(bad_parameter("The 'api-version' query parameter is missing.")),
            Some(v) if accepted(&v) => Ok(Self(v)),
            Some(v) => Err(bad_parameter(format!(
                "The specified version ({v}) is not recognized. Consider using the latest supported version (2025-07-01)."
            ))),
        }
    }
}

/// `outContentType` of a secret read (api-version 7.6 and the dated versions): the certificate
/// format to convert a certificate's secret to. Older api-versions do not have it, so it is ignored.
#[derive(Debug, Clone)]
pub struct OutContentType(pub Option<String>);

impl FromRequestParts<AppState> for OutContentType {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let all = params(parts);
        let api = param(&all, "api-version").unwrap_or_default();
        let has_it = api == "7.6" || (api.len() >= 4 && api[..4] >= *"2025" && api.contains('-'));
        Ok(Self(param(&all, "outContentType").filter(|_| has_it)))
    }
}

/// `maxresults` and `$skiptoken` of list operations.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub max: Option<u32>,
    pub cursor: Option<Cursor>,
}

impl FromRequestParts<AppState> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let all = params(parts);
        let max = match param(&all, "maxresults") {
            Some(m) => Some(
                m.parse::<u32>()
                    .map_err(|_| bad_parameter("Invalid maxresults: it must be between 1 and 25."))?,
            ),
            None => None,
        };
        let cursor = param(&all, "$skiptoken").map(|t| Cursor::decode(&t)).transpose()?;
        Ok(Self { max, cursor })
    }
}

/// A Graph listing's `$filter`, `$top` and `$skiptoken` (an offset keyhold wrote in `nextLink`).
/// `$select`, `$count` and the rest are accepted and ignored: the answer carries every field.
#[derive(Debug, Clone)]
pub struct GraphQuery {
    pub filter: keyhold_core::directory::Filter,
    pub top: Option<usize>,
    pub skip: usize,
}

impl FromRequestParts<AppState> for GraphQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        use keyhold_core::directory::{DirectoryError, Filter};
        let all = params(parts);
        let bad = |name: &str, value: &str| {
            ApiError::Graph(DirectoryError::BadRequest {
                code: "Request_BadRequest",
                message: format!("Invalid value '{value}' for query parameter '{name}'."),
            })
        };
        let filter = Filter::parse(param(&all, "$filter").as_deref())?;
        let top = param(&all, "$top")
            .map(|t| t.parse::<usize>().map_err(|_| bad("$top", &t)))
            .transpose()?;
        let skip = param(&all, "$skiptoken")
            .map(|t| t.parse::<usize>().map_err(|_| bad("$skiptoken", &t)))
            .transpose()?
            .unwrap_or(0);
        Ok(Self { filter, top, skip })
    }
}

#[cfg(test)]
mod tests {
    use super::accepted;

    #[test]
    fn api_versions() {
        for ok in [
            "2016-10-01",
            "7.4",
            "7.6",
            "2025-07-01",
            "2026-04-01",
            "2026-03-01-preview",
            "7.6-preview.2",
            "7.5-preview",
        ] {
            assert!(accepted(ok), "{ok}");
        }
        for bad in [
            "1999-01-01",
            "7.9",
            "",
            "2024-01-01",
            "latest",
            "2026-13-01",
            "7.9-preview.1",
            "7.6-preview.x",
            "7.6-previewer",
        ] {
            assert!(!accepted(bad), "{bad}");
        }
    }
}
