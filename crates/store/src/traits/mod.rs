//! The store's contract, one sub-trait per domain in a file of its own. [`Store`] is all of them and
//! is implemented for every type that implements each, so callers hold `Arc<dyn Store>` and a backend
//! implements the sub-traits. A new domain (keys, certificates) adds its own sub-trait here and to
//! [`Store`]'s bounds; nothing else changes for callers.

mod certificates;
mod identity;
mod jobs;
mod keys;
mod management;
mod meta;
mod secrets;
mod signin;
mod users;

pub use certificates::CertificateStore;
pub use identity::IdentityStore;
pub use jobs::JobStore;
pub use keys::KeyStore;
pub use management::ManagementStore;
pub use meta::MetaStore;
pub use secrets::SecretStore;
pub use signin::SignInStore;
pub use users::UserStore;

/// Everything a backend stores.
pub trait Store:
    MetaStore
    + IdentityStore
    + UserStore
    + SignInStore
    + ManagementStore
    + SecretStore
    + KeyStore
    + CertificateStore
    + JobStore
{
}

impl<
    T: MetaStore
        + IdentityStore
        + UserStore
        + SignInStore
        + ManagementStore
        + SecretStore
        + KeyStore
        + CertificateStore
        + JobStore
        + ?Sized,
> Store for T
{
}
