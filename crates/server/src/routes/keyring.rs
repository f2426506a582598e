//! Data-key rotation, for the admin principal: `POST /keyhold/v1/sys/rotate` adds a data key and
//! answers at once (re-sealing runs in the background); `GET /keyhold/v1/sys/rotation-status` says how
//! many records are still under older keys. Reached only while unsealed (the sys router falls through
//! to here).

use axum::{Json, extract::State};
use keyhold_proto::admin::{KeyringStatus, RotatedDataKey};

use crate::{AppState, audit::Routes, error::ApiError, extract::AdminCaller};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .post("/keyhold/v1/sys/rotate", "DataKeyRotate", rotate)
        .get("/keyhold/v1/sys/rotation-status", "DataKeyRotationStatus", status)
}

async fn rotate(_: AdminCaller, State(s): State<AppState>) -> Result<Json<RotatedDataKey>, ApiError> {
    let key_id = s.core.rotation.rotate().await?;
    Ok(Json(RotatedDataKey { key_id }))
}

async fn status(_: AdminCaller, State(s): State<AppState>) -> Result<Json<KeyringStatus>, ApiError> {
    let st = s.core.rotation.status().await?;
    Ok(Json(KeyringStatus {
        key_id: st.current_key_id,
        remaining: st.remaining(),
        secret_versions: st.secret_versions,
        signing_keys: st.signing_keys,
        identity_header: st.identity_header,
        resources: st.resources,
    }))
}
