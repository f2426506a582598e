//! Audited routes are declared with their operation name beside them
//! (`.get("/secrets/{name}", "SecretGet", get_latest)`), and an audited router can only be built from
//! such declarations: a route cannot be served without saying what the audit record calls it, and
//! there is no second table to keep in step with the first.

use std::sync::Arc;

use axum::{
    Router,
    handler::Handler,
    middleware::from_fn_with_state,
    routing::{MethodFilter, MethodRouter, on},
};
use keyhold_core::audit::AuditLog;

use super::operation::Op;

const ANY: &str = "*";

/// What the audit middleware of one route knows before the request runs.
#[derive(Clone)]
pub struct Audited {
    pub(super) log: Arc<AuditLog>,
    pub(super) op: Op,
}

impl Audited {
    pub fn new(log: Arc<AuditLog>, op: Op) -> Self {
        Self { log, op }
    }
}

/// A set of audited route declarations, turned into a router once the audit log exists.
pub struct Routes<S> {
    entries: Vec<Entry<S>>,
}

struct Entry<S> {
    path: &'static str,
    method: &'static str,
    op: Op,
    handler: MethodRouter<S>,
}

impl<S> Default for Routes<S> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

macro_rules! methods {
    ($($fn:ident => $filter:ident),*) => {$(
        pub fn $fn<H, T>(self, path: &'static str, op: impl Into<Op>, handler: H) -> Self
        where
            H: Handler<T, S>,
            T: 'static,
        {
            self.on(MethodFilter::$filter, stringify!($filter), path, op.into(), handler)
        }
    )*};
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    methods!(get => GET, put => PUT, post => POST, patch => PATCH, delete => DELETE);

    /// Every method on `path` (the ARM dispatcher, whose operation is derived per request).
    pub fn any<H, T>(mut self, path: &'static str, op: impl Into<Op>, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.entries.push(Entry {
            path,
            method: ANY,
            op: op.into(),
            handler: axum::routing::any(handler),
        });
        self
    }

    fn on<H, T>(mut self, filter: MethodFilter, method: &'static str, path: &'static str, op: Op, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.entries.push(Entry {
            path,
            method,
            op,
            handler: on(filter, handler),
        });
        self
    }

    pub fn merge(mut self, other: Self) -> Self {
        self.entries.extend(other.entries);
        self
    }

    /// (method, path, operation) of every declaration.
    #[cfg(test)]
    pub fn declared(&self) -> impl Iterator<Item = (&'static str, &'static str, Op)> + '_ {
        self.entries.iter().map(|e| (e.method, e.path, e.op))
    }

    /// Each declaration's own audit middleware wraps its handler only (`route_layer`), so the 405 a
    /// path answers for a method it does not serve is not recorded under another method's name. An
    /// `any` route has no per-method handler (axum keeps it as the route's fallback), so its layer
    /// wraps that.
    pub fn into_router(self, log: &Arc<AuditLog>) -> Router<S> {
        self.entries.into_iter().fold(Router::new(), |router, e| {
            let layer = from_fn_with_state(Audited::new(log.clone(), e.op), super::record);
            let handler = match e.method {
                ANY => e.handler.layer(layer),
                _ => e.handler.route_layer(layer),
            };
            router.route(e.path, handler)
        })
    }
}
