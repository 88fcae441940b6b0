//! Pure types and rules of frontdesk: typed ids, validated newtypes (phones, slugs, emails),
//! the clinic profile with its opening hours, and the staff roles.
//!
//! This crate has no IO: no database, no HTTP, no async runtime. The compiler keeps business
//! rules free of side effects, and everything here is unit-tested beside the code.

pub mod api_scope;
pub mod clinic;
pub mod clock;
pub mod error;
pub mod ids;
pub mod roles;
pub mod schedule;
pub mod text;

pub use api_scope::{ApiScope, ApiScopes};
pub use clinic::{ClinicProfile, DayHours, RetentionPolicy, WeeklyHours};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::DomainError;
pub use ids::*;
pub use roles::{Access, Permission, Role};
pub use text::{E164Phone, Email, TenantSlug};
