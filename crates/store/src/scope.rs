//! `TenantScope`: the only key to tenant data.
//!
//! A scope can be constructed only inside this crate, and this crate hands one out only from
//! an authenticated source: a verified web chat token, the operator's own CLI access (who
//! holds the master key anyway), a newly created tenant, and in later issues a staff session,
//! an API key or a verified webhook. Every store method on tenant data takes one, and every
//! query filters by it (and on PostgreSQL, row-level security filters again).

use frontdesk_domain::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantScope {
    tenant_id: TenantId,
}

impl TenantScope {
    pub(crate) fn new(tenant_id: TenantId) -> Self {
        Self { tenant_id }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }
}
