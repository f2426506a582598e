//! `keyhold ad user ...`: people in the tenant, through keyhold's Microsoft Graph (`/users`), with
//! az's flags. The password is sent once and never printed.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{principal::user_path, session::Session};

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create a user.
    #[command(after_help = "Example:
  keyhold ad user create --display-name \"Alice Smith\" --user-principal-name alice@contoso.example --password 'Str0ng-Passw0rd!'")]
    Create {
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        user_principal_name: String,
        #[arg(long)]
        password: String,
        /// Accepted for az compatibility (keyhold does not force a change).
        #[arg(long)]
        force_change_password_next_sign_in: Option<bool>,
        /// Accepted for az compatibility.
        #[arg(long)]
        mail_nickname: Option<String>,
    },
    /// List users.
    #[command(after_help = "Example:\n  keyhold ad user list --query [].userPrincipalName -o tsv")]
    List {
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        upn: Option<String>,
    },
    /// Show a user.
    #[command(after_help = "Example:\n  keyhold ad user show --id alice@contoso.example")]
    Show(UserId),
    /// Update a user: display name, password, or enable/disable sign-in.
    #[command(after_help = "Example:\n  keyhold ad user update --id alice@contoso.example --account-enabled false")]
    Update {
        #[command(flatten)]
        id: UserId,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        account_enabled: Option<bool>,
        /// Accepted for az compatibility.
        #[arg(long)]
        force_change_password_next_sign_in: Option<bool>,
    },
    /// Delete a user.
    #[command(after_help = "Example:\n  keyhold ad user delete --id alice@contoso.example")]
    Delete(UserId),
}

#[derive(Debug, Args)]
pub(super) struct UserId {
    /// Object id or user principal name.
    #[arg(long)]
    id: String,
}

fn quoted(s: &str) -> String {
    s.replace('\'', "''")
}

pub(super) async fn run(s: &Session, command: UserCommand) -> anyhow::Result<Value> {
    match command {
        UserCommand::Create {
            display_name,
            user_principal_name,
            password,
            ..
        } => {
            let body = json!({
                "accountEnabled": true,
                "displayName": display_name,
                "userPrincipalName": user_principal_name,
                "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": false},
            });
            s.graph(Method::POST, "/users", Some(&body)).await
        }
        UserCommand::List { display_name, upn } => {
            let mut filters = Vec::new();
            if let Some(d) = display_name {
                filters.push(format!("startswith(displayName,'{}')", quoted(&d)));
            }
            if let Some(u) = upn {
                filters.push(format!("userPrincipalName eq '{}'", quoted(&u)));
            }
            let path = if filters.is_empty() {
                "/users".to_owned()
            } else {
                let f: String = url::form_urlencoded::byte_serialize(filters.join(" and ").as_bytes()).collect();
                format!("/users?$filter={f}")
            };
            let page = s.graph(Method::GET, &path, None).await?;
            Ok(page["value"].clone())
        }
        UserCommand::Show(u) => s.graph(Method::GET, &user_path(&u.id), None).await,
        UserCommand::Update {
            id,
            display_name,
            password,
            account_enabled,
            ..
        } => {
            let mut body = serde_json::Map::new();
            if let Some(d) = display_name {
                body.insert("displayName".into(), d.into());
            }
            if let Some(p) = password {
                body.insert("passwordProfile".into(), json!({"password": p}));
            }
            if let Some(e) = account_enabled {
                body.insert("accountEnabled".into(), e.into());
            }
            s.graph(Method::PATCH, &user_path(&id.id), Some(&Value::Object(body)))
                .await
        }
        UserCommand::Delete(u) => s.graph(Method::DELETE, &user_path(&u.id), None).await,
    }
}
