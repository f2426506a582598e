//! keyhold's Microsoft Graph subset at `/graph/v1.0` (the Graph resource keyhold advertises in its
//! cloud metadata is `<origin>/graph/`, and az sends Graph requests to `<resource>v1.0/...`): what
//! `az` calls to resolve principals, create service principals and manage their secrets. Thin
//! handlers over `core::directory`, which decides who may.

mod view;

use axum::{
    Json,
    extract::{FromRequestParts, Path, State},
    http::{StatusCode, request::Parts},
};
use keyhold_core::{
    directory::DirectoryObject,
    identity::{NewUser, UserPatch},
};
use keyhold_proto::graph::{
    AddPassword, Application, ApplicationCreate, ApplicationUpdate, Collection, GetByIds, Organization,
    PasswordCredential, RemovePassword, ServicePrincipal, ServicePrincipalCreate, User, UserCreate, UserUpdate,
};
use secrecy::SecretString;

use crate::{
    AppState,
    audit::Routes,
    error::ApiError,
    extract::{GraphCaller, GraphJson, GraphQuery, own_origin},
};

const V1: &str = "/graph/v1.0";

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/graph/v1.0/me", "GraphMeGet", me)
        .get("/graph/v1.0/organization", "GraphOrganizationList", organization)
        .get("/graph/v1.0/users", "GraphUserList", users)
        .post("/graph/v1.0/users", "GraphUserCreate", create_user)
        .get("/graph/v1.0/users/{id}", "GraphUserGet", user)
        .patch("/graph/v1.0/users/{id}", "GraphUserUpdate", update_user)
        .delete("/graph/v1.0/users/{id}", "GraphUserDelete", delete_user)
        .get("/graph/v1.0/servicePrincipals", "GraphServicePrincipalList", list_sps)
        .post(
            "/graph/v1.0/servicePrincipals",
            "GraphServicePrincipalCreate",
            create_sp,
        )
        .get(
            "/graph/v1.0/servicePrincipals/{id}",
            "GraphServicePrincipalGet",
            show_sp,
        )
        .delete(
            "/graph/v1.0/servicePrincipals/{id}",
            "GraphServicePrincipalDelete",
            delete_sp,
        )
        .get("/graph/v1.0/applications", "GraphApplicationList", list_apps)
        .post("/graph/v1.0/applications", "GraphApplicationCreate", create_app)
        .get("/graph/v1.0/applications/{id}", "GraphApplicationGet", show_app)
        .patch("/graph/v1.0/applications/{id}", "GraphApplicationUpdate", update_app)
        .delete("/graph/v1.0/applications/{id}", "GraphApplicationDelete", delete_app)
        .post(
            "/graph/v1.0/applications/{id}/addPassword",
            "GraphApplicationAddPassword",
            add_password,
        )
        .post(
            "/graph/v1.0/applications/{id}/removePassword",
            "GraphApplicationRemovePassword",
            remove_password,
        )
        .post(
            "/graph/v1.0/directoryObjects/getByIds",
            "GraphDirectoryObjectsGetByIds",
            by_ids,
        )
}

type Result<T> = std::result::Result<T, ApiError>;

/// `https://<origin>/graph/v1.0` as the client addressed us (for `@odata.context` and `nextLink`).
struct GraphBase(String);

impl FromRequestParts<AppState> for GraphBase {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        Ok(Self(format!("{}{V1}", own_origin(parts, &state.core.config))))
    }
}

fn collection<T>(base: &str, set: &str, value: Vec<T>, next_link: Option<String>) -> Json<Collection<T>> {
    Json(Collection {
        context: format!("{base}/$metadata#{set}"),
        value,
        next_link,
    })
}

/// The next page's link: the same query with the offset keyhold answers from.
fn next_link(base: &str, set: &str, raw_query: Option<&str>, next: Option<usize>) -> Option<String> {
    let next = next?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
        if !k.eq_ignore_ascii_case("$skiptoken") {
            query.append_pair(&k, &v);
        }
    }
    query.append_pair("$skiptoken", &next.to_string());
    Some(format!("{base}/{set}?{}", query.finish()))
}

async fn me(caller: GraphCaller, State(s): State<AppState>) -> Result<Json<User>> {
    let u = s.core.directory.me(&caller.caller()).await?;
    Ok(Json(view::user(&u)))
}

async fn organization(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphBase(base): GraphBase,
) -> Result<Json<Collection<Organization>>> {
    s.core.directory.organization(&caller.caller()).await?;
    Ok(collection(&base, "organization", vec![view::organization(&s)], None))
}

async fn users(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphBase(base): GraphBase,
    q: GraphQuery,
    uri: axum::http::Uri,
) -> Result<Json<Collection<User>>> {
    let page = s
        .core
        .directory
        .users(&caller.caller(), &q.filter, q.top, q.skip)
        .await?;
    let value = page.items.iter().map(view::user).collect();
    let next = next_link(&base, "users", uri.query(), page.next);
    Ok(collection(&base, "users", value, next))
}

async fn user(caller: GraphCaller, State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<User>> {
    let u = s.core.directory.user(&caller.caller(), &id).await?;
    Ok(Json(view::user(&u)))
}

async fn create_user(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphJson(body): GraphJson<UserCreate>,
) -> Result<(StatusCode, Json<User>)> {
    let password = SecretString::from(body.password_profile.password);
    let new = NewUser {
        user_principal_name: &body.user_principal_name,
        display_name: &body.display_name,
        password: &password,
        enabled: body.account_enabled,
    };
    let u = s.core.directory.create_user(&caller.caller(), new).await?;
    Ok((StatusCode::CREATED, Json(view::user(&u))))
}

async fn update_user(
    caller: GraphCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<UserUpdate>,
) -> Result<StatusCode> {
    let patch = UserPatch {
        user_principal_name: body.user_principal_name,
        display_name: body.display_name,
        password: body.password_profile.map(|p| SecretString::from(p.password)),
        enabled: body.account_enabled,
    };
    s.core.directory.update_user(&caller.caller(), &id, patch).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_user(caller: GraphCaller, State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    s.core.directory.delete_user(&caller.caller(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_sps(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphBase(base): GraphBase,
    q: GraphQuery,
    parts: axum::http::Uri,
) -> Result<Json<Collection<ServicePrincipal>>> {
    let page = s
        .core
        .directory
        .service_principals(&caller.caller(), &q.filter, q.top, q.skip)
        .await?;
    let value = page.items.iter().map(|p| view::service_principal(&s, p)).collect();
    let next = next_link(&base, "servicePrincipals", parts.query(), page.next);
    Ok(collection(&base, "servicePrincipals", value, next))
}

async fn show_sp(
    caller: GraphCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ServicePrincipal>> {
    let p = s.core.directory.service_principal(&caller.caller(), &id).await?;
    Ok(Json(view::service_principal(&s, &p)))
}

async fn create_sp(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphJson(body): GraphJson<ServicePrincipalCreate>,
) -> Result<(StatusCode, Json<ServicePrincipal>)> {
    let p = s
        .core
        .directory
        .create_service_principal(&caller.caller(), &body.app_id)
        .await?;
    Ok((StatusCode::CREATED, Json(view::service_principal(&s, &p))))
}

async fn delete_sp(caller: GraphCaller, State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    s.core.directory.delete_service_principal(&caller.caller(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_apps(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphBase(base): GraphBase,
    q: GraphQuery,
    uri: axum::http::Uri,
) -> Result<Json<Collection<Application>>> {
    let page = s
        .core
        .directory
        .applications(&caller.caller(), &q.filter, q.top, q.skip)
        .await?;
    let value = page.items.iter().map(|a| view::application(&s, a)).collect();
    let next = next_link(&base, "applications", uri.query(), page.next);
    Ok(collection(&base, "applications", value, next))
}

async fn show_app(caller: GraphCaller, State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Application>> {
    let a = s.core.directory.application(&caller.caller(), &id).await?;
    Ok(Json(view::application(&s, &a)))
}

async fn create_app(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphJson(body): GraphJson<ApplicationCreate>,
) -> Result<(StatusCode, Json<Application>)> {
    let a = s
        .core
        .directory
        .create_application(&caller.caller(), &body.display_name)
        .await?;
    Ok((StatusCode::CREATED, Json(view::application(&s, &a))))
}

async fn update_app(
    caller: GraphCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<ApplicationUpdate>,
) -> Result<StatusCode> {
    s.core
        .directory
        .update_application(&caller.caller(), &id, body.display_name.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_app(caller: GraphCaller, State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    s.core.directory.delete_application(&caller.caller(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_password(
    caller: GraphCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<AddPassword>,
) -> Result<Json<PasswordCredential>> {
    let request = body.password_credential;
    let end = request.end_date_time.as_deref().map(view::parse_time).transpose()?;
    let new = s.core.directory.add_password(&caller.caller(), &id, end).await?;
    Ok(Json(view::new_password(new, request.display_name)))
}

async fn remove_password(
    caller: GraphCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<RemovePassword>,
) -> Result<StatusCode> {
    s.core
        .directory
        .remove_password(&caller.caller(), &id, &body.key_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn by_ids(
    caller: GraphCaller,
    State(s): State<AppState>,
    GraphBase(base): GraphBase,
    GraphJson(body): GraphJson<GetByIds>,
) -> Result<Json<Collection<serde_json::Value>>> {
    let found = s
        .core
        .directory
        .by_ids(&caller.caller(), &body.ids, &body.types)
        .await?;
    // Graph's directory objects are of several types in one list; each is typed, then tagged.
    let value = found
        .iter()
        .map(|o| match o {
            DirectoryObject::ServicePrincipal(p) => serde_json::to_value(ServicePrincipal {
                odata_type: Some("#microsoft.graph.servicePrincipal".into()),
                ..view::service_principal(&s, p)
            }),
            DirectoryObject::User(u) => serde_json::to_value(User {
                odata_type: Some("#microsoft.graph.user".into()),
                ..view::user(u)
            }),
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(collection(&base, "directoryObjects", value, None))
}
