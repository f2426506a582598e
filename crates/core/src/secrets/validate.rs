//! Azure Key Vault's limits for secrets, each refused with `BadParameter` before anything is stored.

use crate::VaultError;

/// Secret values are limited to 25 KiB.
pub const MAX_VALUE_BYTES: usize = 25 * 1024;
pub const MAX_CONTENT_TYPE_CHARS: usize = 255;
pub const MAX_TAGS: usize = 15;
pub const MAX_TAG_NAME_CHARS: usize = 512;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

fn bad(msg: String) -> VaultError {
    VaultError::BadParameter(msg)
}

/// 1–127 characters of `[0-9a-zA-Z-]`.
pub fn validate_secret_name(name: &str) -> Result<(), VaultError> {
    if (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(())
    } else {
        Err(bad(format!(
            "The request URI contains an invalid name: {name}. Secret names must be 1-127 characters of 0-9, a-z, A-Z and -."
        )))
    }
}

pub(super) fn value(v: &str) -> Result<(), VaultError> {
    if v.len() > MAX_VALUE_BYTES {
        return Err(bad(format!(
            "The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes."
        )));
    }
    Ok(())
}

pub(super) fn content_type(ct: Option<&str>) -> Result<(), VaultError> {
    match ct {
        Some(ct) if ct.chars().count() > MAX_CONTENT_TYPE_CHARS => Err(bad(format!(
            "Property contentType exceeds the maximum length of {MAX_CONTENT_TYPE_CHARS} characters."
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn tags(tags: Option<&super::Tags>) -> Result<(), VaultError> {
    let Some(tags) = tags else { return Ok(()) };
    if tags.len() > MAX_TAGS {
        return Err(bad(format!(
            "The number of tags ({}) exceeds the maximum of {MAX_TAGS}.",
            tags.len()
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > MAX_TAG_NAME_CHARS || v.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(bad(format!(
                "Tag names must be 1-{MAX_TAG_NAME_CHARS} characters and tag values at most {MAX_TAG_VALUE_CHARS} characters."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_secret_name("db-Password-1").is_ok());
        assert!(validate_secret_name("").is_err());
        assert!(validate_secret_name("bad_name").is_err());
        assert!(validate_secret_name(&"a".repeat(127)).is_ok());
        assert!(validate_secret_name(&"a".repeat(128)).is_err());
    }

    #[test]
    fn value_limit_is_inclusive() {
        assert!(value(&"x".repeat(MAX_VALUE_BYTES)).is_ok());
        assert!(value(&"x".repeat(MAX_VALUE_BYTES + 1)).is_err());
    }
}
