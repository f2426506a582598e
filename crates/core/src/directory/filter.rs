//! The OData `$filter` clauses az and the SDKs send to Graph for principals, joined by `and`:
//! `appId eq '…'`, `displayName eq '…'`, `id eq '…'`, `userPrincipalName eq '…'`,
//! `startswith(displayName,'…')` and `servicePrincipalNames/any(c:c eq '…')`. Anything else is
//! refused with Graph's error rather than ignored: a filter silently dropped would list everything.

use super::DirectoryError;

/// One comparison of a `$filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Eq {
        property: Property,
        value: String,
    },
    StartsWith {
        property: Property,
        prefix: String,
    },
    /// `servicePrincipalNames/any(c:c eq '…')`.
    AnyName(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    Id,
    AppId,
    DisplayName,
    UserPrincipalName,
}

/// What a filter is matched against.
pub struct Fields<'a> {
    pub id: &'a str,
    pub app_id: Option<&'a str>,
    pub display_name: &'a str,
    pub user_principal_name: Option<&'a str>,
    pub names: &'a [String],
}

/// A parsed `$filter`: every clause must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(Vec<Clause>);

impl Filter {
    pub fn parse(text: Option<&str>) -> Result<Self, DirectoryError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Self::default());
        };
        let mut clauses = Vec::new();
        let mut rest = text;
        loop {
            let (clause, after) = clause(rest).ok_or_else(|| invalid(text))?;
            clauses.push(clause);
            let after = after.trim_start();
            if after.is_empty() {
                break;
            }
            rest = strip_keyword(after, "and").ok_or_else(|| invalid(text))?;
        }
        Ok(Self(clauses))
    }

    /// Graph compares strings case-insensitively in `eq` and `startswith` on these properties.
    pub fn matches(&self, f: &Fields<'_>) -> bool {
        self.0.iter().all(|c| match c {
            Clause::Eq { property, value } => value_of(f, *property).is_some_and(|v| v.eq_ignore_ascii_case(value)),
            Clause::StartsWith { property, prefix } => value_of(f, *property).is_some_and(|v| {
                v.get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            }),
            Clause::AnyName(name) => f.names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        })
    }
}

fn value_of<'a>(f: &Fields<'a>, property: Property) -> Option<&'a str> {
    match property {
        Property::Id => Some(f.id),
        Property::AppId => f.app_id,
        Property::DisplayName => Some(f.display_name),
        Property::UserPrincipalName => f.user_principal_name,
    }
}

fn invalid(text: &str) -> DirectoryError {
    DirectoryError::BadRequest {
        code: "Request_UnsupportedQuery",
        message: format!("Unsupported or invalid query filter clause specified: '{text}'."),
    }
}

fn property(name: &str) -> Option<Property> {
    match name {
        n if n.eq_ignore_ascii_case("id") => Some(Property::Id),
        n if n.eq_ignore_ascii_case("appId") => Some(Property::AppId),
        n if n.eq_ignore_ascii_case("displayName") => Some(Property::DisplayName),
        n if n.eq_ignore_ascii_case("userPrincipalName") => Some(Property::UserPrincipalName),
        _ => None,
    }
}

/// `keyword` followed by white space, case-insensitively.
fn strip_keyword<'a>(s: &'a str, keyword: &str) -> Option<&'a str> {
    let head = s.get(..keyword.len())?;
    let rest = &s[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace)).then(|| rest.trim_start())
}

/// A single-quoted OData string (`''` is a quote); returns it and what follows.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('\'')?.char_indices().peekable();
    let body = &s[1..];
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            return Some((out, &body[i + 1..]));
        }
        out.push(c);
    }
    None
}

fn identifier(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn clause(s: &str) -> Option<(Clause, &str)> {
    let s = s.trim_start();
    let (word, rest) = identifier(s);
    if word.eq_ignore_ascii_case("startswith") {
        let rest = rest.trim_start().strip_prefix('(')?.trim_start();
        let (name, rest) = identifier(rest);
        let property = property(name)?;
        let rest = rest.trim_start().strip_prefix(',')?.trim_start();
        let (prefix, rest) = quoted(rest)?;
        let rest = rest.trim_start().strip_prefix(')')?;
        return Some((Clause::StartsWith { property, prefix }, rest));
    }
    if word.eq_ignore_ascii_case("servicePrincipalNames") {
        // `/any(c:c eq '…')`, with any lambda variable name.
        let rest = rest.strip_prefix('/')?;
        let (any, rest) = identifier(rest);
        if !any.eq_ignore_ascii_case("any") {
            return None;
        }
        let rest = rest.trim_start().strip_prefix('(')?.trim_start();
        let (var, rest) = identifier(rest);
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        let (again, rest) = identifier(rest);
        if var.is_empty() || var != again {
            return None;
        }
        let rest = strip_keyword(rest.trim_start(), "eq")?;
        let (name, rest) = quoted(rest)?;
        let rest = rest.trim_start().strip_prefix(')')?;
        return Some((Clause::AnyName(name), rest));
    }
    let property = property(word)?;
    let rest = strip_keyword(rest.trim_start(), "eq")?;
    let (value, rest) = quoted(rest)?;
    Some((Clause::Eq { property, value }, rest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields<'a>(names: &'a [String]) -> Fields<'a> {
        Fields {
            id: "oid-1",
            app_id: Some("app-1"),
            display_name: "Build Agent",
            user_principal_name: None,
            names,
        }
    }

    #[test]
    fn the_clauses_az_sends_match_as_graph_matches_them() {
        let names = vec!["app-1".to_owned()];
        let f = fields(&names);
        for (text, expected) in [
            ("servicePrincipalNames/any(c:c eq 'app-1')", true),
            ("servicePrincipalNames/any(x: x eq 'APP-1')", true),
            ("servicePrincipalNames/any(c:c eq 'app-2')", false),
            ("appId eq 'app-1'", true),
            ("displayName eq 'build agent'", true),
            ("startswith(displayName,'Build')", true),
            ("startswith(displayName, 'Agent')", false),
            ("startswith(displayName,'Build') and appId eq 'app-1'", true),
            ("startswith(displayName,'Build') and appId eq 'app-2'", false),
            ("userPrincipalName eq 'a@b'", false),
            ("", true),
        ] {
            assert_eq!(Filter::parse(Some(text)).unwrap().matches(&f), expected, "{text}");
        }
    }

    #[test]
    fn quotes_are_unescaped_and_unknown_clauses_refused() {
        assert_eq!(
            Filter::parse(Some("displayName eq 'O''Brien'")).unwrap(),
            Filter(vec![Clause::Eq {
                property: Property::DisplayName,
                value: "O'Brien".into()
            }])
        );
        for bad in [
            "displayName ne 'x'",
            "tags/any(c:c eq 'x')",
            "appId eq 'x' or appId eq 'y'",
            "appId eq 'x",
            "appId eq 'x' and",
            "servicePrincipalNames/any(c:d eq 'x')",
        ] {
            assert!(
                matches!(Filter::parse(Some(bad)), Err(DirectoryError::BadRequest { .. })),
                "{bad}"
            );
        }
    }
}
