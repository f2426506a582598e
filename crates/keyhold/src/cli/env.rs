//! `keyhold env`: the variables that make the unmodified Azure SDKs talk to this server.

use std::{fs, path::Path};

use anyhow::Context;
use clap::Args;
use keyhold_server::{AdminFile, MiFile, StateFile};

use super::DataDir;

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    data_dir: DataDir,
    /// Also export AZURE_CLIENT_ID/AZURE_CLIENT_SECRET: the admin's, or those of the named principal
    /// saved under `<data-dir>/principals/<NAME>.json`.
    #[arg(long, num_args = 0..=1, default_missing_value = "admin", value_name = "NAME")]
    service_principal: Option<String>,
}

pub fn run(args: EnvArgs) -> anyhow::Result<()> {
    let dir = fs::canonicalize(&args.data_dir.path).with_context(|| {
        format!(
            "data dir {} not found: is `keyhold serve` running there?",
            args.data_dir.path.display()
        )
    })?;
    let state: StateFile =
        read_json(&dir.join("state.json")).context("the server has not started in this data dir yet")?;
    let bundle = dir.join("ca-bundle.pem").display().to_string();
    let mut vars: Vec<(&str, String)> = vec![
        ("REQUESTS_CA_BUNDLE", bundle.clone()),
        ("CURL_CA_BUNDLE", bundle.clone()),
        ("SSL_CERT_FILE", bundle.clone()),
        ("NODE_EXTRA_CA_CERTS", bundle),
        ("AZURE_AUTHORITY_HOST", state.url.clone()),
        // `adfs` makes MSAL (Python and JS) skip instance discovery against login.microsoftonline.com
        // with no code change; keyhold treats it as an alias of its tenant.
        ("AZURE_TENANT_ID", "adfs".into()),
        ("KEYHOLD_TENANT_ID", state.tenant_id.clone()),
        ("KEYHOLD_URL", state.url.clone()),
        ("KEYHOLD_VAULT_RESOURCE", state.vault_resource.clone()),
    ];
    if let Ok(mi) = read_json::<MiFile>(&dir.join("mi.json")) {
        vars.push(("IDENTITY_ENDPOINT", mi.identity_endpoint.clone()));
        vars.push(("IDENTITY_HEADER", mi.identity_header.clone()));
        vars.push(("MSI_ENDPOINT", mi.identity_endpoint));
        vars.push(("MSI_SECRET", mi.identity_header));
        vars.push(("AZURE_POD_IDENTITY_AUTHORITY_HOST", mi.imds_authority));
    }
    if let Some(name) = &args.service_principal {
        let file = if name == "admin" {
            dir.join("admin.json")
        } else {
            dir.join("principals").join(format!("{name}.json"))
        };
        let sp: AdminFile =
            read_json(&file).with_context(|| format!("no saved credentials for service principal '{name}'"))?;
        vars.push(("AZURE_CLIENT_ID", sp.app_id));
        vars.push(("AZURE_CLIENT_SECRET", sp.password));
    }
    use std::io::Write;
    let mut text = String::new();
    for (k, v) in vars {
        text.push_str(&format!("export {k}={}\n", shell_quote(&v)));
    }
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that stopped early (`| grep -q`) is not a failure of the command.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("cannot parse {}", path.display()))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
