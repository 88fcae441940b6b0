//! The six staff roles and the one permission matrix that every dashboard route enforces
//! (issue #7). The matrix is data: [`Role::access`] answers, for a role and a [`Permission`],
//! whether the role may act on everything in its clinic, only on what is assigned to it, or
//! not at all. Routes ask through extractors in the server; tests walk the whole matrix.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    SeniorDoctor,
    Doctor,
    ReadOnlyDoctor,
    ReceptionHead,
    Reception,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::SeniorDoctor,
        Role::Doctor,
        Role::ReadOnlyDoctor,
        Role::ReceptionHead,
        Role::Reception,
    ];

    /// The stable name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::SeniorDoctor => "senior_doctor",
            Role::Doctor => "doctor",
            Role::ReadOnlyDoctor => "read_only_doctor",
            Role::ReceptionHead => "reception_head",
            Role::Reception => "reception",
        }
    }

    pub fn parse(s: &str) -> Result<Self, crate::DomainError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(crate::DomainError::invalid("role", "unknown role"))
    }
}

/// Everything a staff member can do in the dashboard. Each route names exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See conversations (the inbox) and their messages.
    ViewConversations,
    /// Write a suggested reply that another staff member may send.
    DraftReply,
    /// Take a conversation over from the AI and send replies to the patient.
    ReplyToPatients,
    /// See patients' records (minimal record, history, consent).
    ViewPatients,
    /// See the diary.
    ViewAppointments,
    /// Create, move and cancel appointments (same rules as the agent).
    ManageAppointments,
    /// Opening hours, services, practitioners and their availability.
    ManageSchedule,
    /// Analytics without money: conversations, calls, bookings, red flags, reply times.
    ViewAnalytics,
    /// Revenue figures.
    ViewRevenue,
    /// Listen to call recordings.
    PlayRecordings,
    /// Clinic profile, FAQ, red-flag additions, privacy notice.
    ManageClinicProfile,
    /// Invite users, change roles, disable users.
    ManageUsers,
    /// Connect channels (WhatsApp, SMS, voice, widget) and set their secrets.
    ManageChannels,
    /// Retention policy, exports and erasure (data requests).
    ManageRetention,
    /// Encryption keys (rotation).
    ManageKeys,
    /// Billing.
    ManageBilling,
    /// Read the audit log and its verification status.
    ViewAuditLog,
}

impl Permission {
    /// Working with patients: their conversations, replies, records, the diary, recordings.
    pub const fn is_patient_work(self) -> bool {
        matches!(
            self,
            Permission::ViewConversations
                | Permission::DraftReply
                | Permission::ReplyToPatients
                | Permission::ViewPatients
                | Permission::ViewAppointments
                | Permission::ManageAppointments
                | Permission::PlayRecordings
        )
    }

    /// What the permission lets staff do, for people (the dashboard shows it).
    pub fn label(self) -> &'static str {
        match self {
            Permission::ViewConversations => "See conversations",
            Permission::DraftReply => "Draft a suggested reply",
            Permission::ReplyToPatients => "Take over conversations and reply to patients",
            Permission::ViewPatients => "See patient records",
            Permission::ViewAppointments => "See the diary",
            Permission::ManageAppointments => "Book, move and cancel appointments",
            Permission::ManageSchedule => "Manage opening hours, services and practitioners",
            Permission::ViewAnalytics => "See analytics",
            Permission::ViewRevenue => "See revenue",
            Permission::PlayRecordings => "Listen to call recordings",
            Permission::ManageClinicProfile => "Edit the clinic profile, FAQ and privacy notice",
            Permission::ManageUsers => "Manage users and roles",
            Permission::ManageChannels => "Connect channels",
            Permission::ManageRetention => "Set retention; export and erase data",
            Permission::ManageKeys => "Manage encryption keys, API keys and webhooks",
            Permission::ManageBilling => "Manage billing",
            Permission::ViewAuditLog => "Read the audit log",
        }
    }

    pub const ALL: [Permission; 17] = [
        Permission::ViewConversations,
        Permission::DraftReply,
        Permission::ReplyToPatients,
        Permission::ViewPatients,
        Permission::ViewAppointments,
        Permission::ManageAppointments,
        Permission::ManageSchedule,
        Permission::ViewAnalytics,
        Permission::ViewRevenue,
        Permission::PlayRecordings,
        Permission::ManageClinicProfile,
        Permission::ManageUsers,
        Permission::ManageChannels,
        Permission::ManageRetention,
        Permission::ManageKeys,
        Permission::ManageBilling,
        Permission::ViewAuditLog,
    ];
}

/// How far a role's permission reaches inside its own clinic. Another clinic's data is never
/// reachable, whatever the role (that is the tenant scope's job, not the matrix's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    None,
    /// Only conversations, patients and appointments assigned to this staff member.
    Assigned,
    All,
}

impl Role {
    /// The permission matrix.
    pub const fn access(self, permission: Permission) -> Access {
        use Access::{All, Assigned, None};
        use Permission as P;
        match (self, permission) {
            // The Owner may do everything.
            (Role::Owner, _) => All,

            // Clinical leads: all patient work, the analytics and revenue; no administration.
            (Role::SeniorDoctor, p) if p.is_patient_work() => All,
            (Role::SeniorDoctor, P::ViewAnalytics | P::ViewRevenue) => All,

            // Doctors: patient work, only on what is assigned to them.
            (Role::Doctor, p) if p.is_patient_work() => Assigned,

            // Read-only doctors read what is assigned to them and may draft a reply that
            // someone else sends; they change nothing.
            (
                Role::ReadOnlyDoctor,
                P::ViewConversations | P::DraftReply | P::ViewPatients | P::ViewAppointments,
            ) => Assigned,

            // Reception: all patient work (the whole inbox and diary), no revenue, no
            // administration. The head of reception also manages the schedule and sees
            // (money-free) analytics.
            (Role::ReceptionHead | Role::Reception, p) if p.is_patient_work() => All,
            (Role::ReceptionHead, P::ManageSchedule | P::ViewAnalytics) => All,

            _ => None,
        }
    }

    /// Whether the role holds `permission` at all (for everything or for what is assigned).
    pub const fn can(self, permission: Permission) -> bool {
        !matches!(self.access(permission), Access::None)
    }

    /// Roles that must sign in with a second factor (TOTP) as well as the emailed link.
    pub const fn requires_mfa(self) -> bool {
        matches!(self, Role::Owner | Role::SeniorDoctor)
    }

    /// A name for people (the dashboard shows it).
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::SeniorDoctor => "Senior Doctor",
            Role::Doctor => "Doctor",
            Role::ReadOnlyDoctor => "Read-Only Doctor",
            Role::ReceptionHead => "Reception Head",
            Role::Reception => "Reception",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Access::{All, Assigned};
    use Permission as P;

    /// The sentences, one assertion each; the full table is checked below.
    #[test]
    fn the_rules_as_written() {
        // Doctors see only conversations and patients assigned to them.
        for r in [Role::Doctor, Role::ReadOnlyDoctor] {
            assert_eq!(r.access(P::ViewConversations), Assigned);
            assert_eq!(r.access(P::ViewPatients), Assigned);
        }
        // Reception sees the whole inbox but no revenue.
        for r in [Role::Reception, Role::ReceptionHead] {
            assert_eq!(r.access(P::ViewConversations), All);
            assert!(!r.can(P::ViewRevenue));
        }
        // A read-only doctor may draft, never send or change anything.
        assert!(Role::ReadOnlyDoctor.can(P::DraftReply));
        assert!(!Role::ReadOnlyDoctor.can(P::ReplyToPatients));
        assert!(!Role::ReadOnlyDoctor.can(P::ManageAppointments));
        // Only the Owner manages users, channels, retention, keys and billing.
        for p in [
            P::ManageUsers,
            P::ManageChannels,
            P::ManageRetention,
            P::ManageKeys,
            P::ManageBilling,
        ] {
            for r in Role::ALL {
                assert_eq!(r.can(p), r == Role::Owner, "{r:?} {p:?}");
            }
        }
        // The Reception Head manages the schedule (and so does the Owner); nobody else.
        for r in Role::ALL {
            assert_eq!(
                r.can(P::ManageSchedule),
                matches!(r, Role::Owner | Role::ReceptionHead),
                "{r:?}"
            );
        }
        // MFA for Owner and Senior Doctor.
        for r in Role::ALL {
            assert_eq!(
                r.requires_mfa(),
                matches!(r, Role::Owner | Role::SeniorDoctor)
            );
        }
    }

    /// The whole matrix, written out as a table so that any change to it is a visible diff
    /// here. Columns follow `Permission::ALL`; A = all, S = assigned only, - = none.
    #[test]
    fn the_whole_matrix() {
        let table: [(Role, &str); 6] = [
            (Role::Owner, /*          */ "AAAAAAAAAAAAAAAAA"),
            (Role::SeniorDoctor, /*   */ "AAAAAA-AAA-------"),
            (Role::Doctor, /*         */ "SSSSSS---S-------"),
            (Role::ReadOnlyDoctor, /* */ "SS-SS------------"),
            (Role::ReceptionHead, /*  */ "AAAAAAAA-A-------"),
            (Role::Reception, /*      */ "AAAAAA---A-------"),
        ];
        for (role, row) in table {
            for (p, c) in Permission::ALL.into_iter().zip(row.chars()) {
                let want = match c {
                    'A' => All,
                    'S' => Assigned,
                    _ => Access::None,
                };
                assert_eq!(role.access(p), want, "{role:?} × {p:?}");
            }
        }
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("admin").is_err());
    }
}
