//! The demo diary of one eval dialogue: appointments booked before the turns (the caller's
//! own, and other patients' taking a time meanwhile) and the caller's appointments read back
//! after the last turn. Names are the clinic's catalog names; times are clinic-local.

use super::spec::Seed;
use frontdesk_domain::{PatientId, PractitionerId, ServiceId};
use frontdesk_store::{Actor, Appointment, ClinicCatalog, NewAppointment, Store, TenantScope};
use jiff::{Timestamp, civil::DateTime, tz::TimeZone};

pub(super) struct Diary<'a> {
    store: &'a dyn Store,
    scope: TenantScope,
    catalog: ClinicCatalog,
    tz: TimeZone,
}

impl<'a> Diary<'a> {
    pub(super) async fn open(store: &'a dyn Store, scope: TenantScope) -> Result<Self, String> {
        let catalog = store
            .clinic_catalog(scope)
            .await
            .map_err(|e| format!("catalog: {e}"))?;
        let tz = catalog
            .clinic
            .profile
            .time_zone()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            store,
            scope,
            catalog,
            tz,
        })
    }

    fn service(&self, name: &str) -> Result<ServiceId, String> {
        self.catalog
            .services
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.id)
            .ok_or_else(|| format!("no service `{name}` in this clinic"))
    }

    fn practitioner(&self, name: &str) -> Result<PractitionerId, String> {
        self.catalog
            .practitioners
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.id)
            .ok_or_else(|| format!("no practitioner `{name}` in this clinic"))
    }

    /// `2026-11-25 12:00` in the clinic's zone.
    fn at(&self, local: &str) -> Result<Timestamp, String> {
        let bad = || format!("`{local}`: use clinic-local \"YYYY-MM-DD HH:MM\"");
        let civil: DateTime = local.replacen(' ', "T", 1).parse().map_err(|_| bad())?;
        civil
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp())
            .map_err(|_| bad())
    }

    /// Books `seed` for `patient` through the store, with every booking rule.
    pub(super) async fn book(
        &self,
        patient: PatientId,
        seed: &Seed,
        key: &str,
    ) -> Result<(), String> {
        let (Some(service), Some(practitioner)) = (&seed.service, &seed.practitioner) else {
            return Err(format!(
                "appointment at {}: name its service and practitioner",
                seed.at
            ));
        };
        let new = NewAppointment {
            patient,
            practitioner: self.practitioner(practitioner)?,
            service: self.service(service)?,
            starts_at: self.at(&seed.at)?,
            idempotency_key: key.to_owned(),
            actor: Actor::Operator,
        };
        self.store
            .book_appointment(self.scope, &new)
            .await
            .map(|_| ())
            .map_err(|e| format!("appointment at {}: {e}", seed.at))
    }

    fn describe(&self, a: &Appointment) -> String {
        let service = self
            .catalog
            .services
            .iter()
            .find(|s| s.id == a.service_id)
            .map_or("?", |s| s.name.as_str());
        let practitioner = self
            .catalog
            .practitioners
            .iter()
            .find(|p| p.id == a.practitioner_id)
            .map_or("?", |p| p.name.as_str());
        let z = a.starts_at.to_zoned(self.tz.clone());
        format!(
            "{service} with {practitioner} at {}",
            z.strftime("%Y-%m-%d %H:%M")
        )
    }

    fn fits(&self, seed: &Seed, a: &Appointment) -> Result<bool, String> {
        let service_ok = match &seed.service {
            Some(name) => self.service(name)? == a.service_id,
            None => true,
        };
        let practitioner_ok = match &seed.practitioner {
            Some(name) => self.practitioner(name)? == a.practitioner_id,
            None => true,
        };
        Ok(service_ok && practitioner_ok && self.at(&seed.at)? == a.starts_at)
    }

    /// `None` when the patient's live appointments are exactly `want`, else what differs.
    pub(super) async fn differs(
        &self,
        patient: PatientId,
        want: &[Seed],
    ) -> Result<Option<String>, String> {
        let got = self
            .store
            .patient_appointments(self.scope, patient, Timestamp::UNIX_EPOCH)
            .await
            .map_err(|e| e.to_string())?;
        let mut same = got.len() == want.len();
        for (seed, a) in want.iter().zip(&got) {
            same &= self.fits(seed, a)?;
        }
        let got: Vec<String> = got.iter().map(|a| self.describe(a)).collect();
        let want: Vec<String> = want
            .iter()
            .map(|s| {
                format!(
                    "{} with {} at {}",
                    s.service.as_deref().unwrap_or("any service"),
                    s.practitioner.as_deref().unwrap_or("anyone"),
                    s.at
                )
            })
            .collect();
        Ok((!same).then(|| format!("appointments after: {got:?}, expected {want:?}")))
    }
}
