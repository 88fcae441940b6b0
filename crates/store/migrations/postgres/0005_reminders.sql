-- Appointment reminders (#5). Kept in step with sqlite/0005_reminders.sql.

ALTER TABLE appointments ADD COLUMN reminder_at bigint;
ALTER TABLE appointments ADD COLUMN reminder_outcome text;
ALTER TABLE conversations ADD COLUMN reminded_appointment_id uuid;
CREATE INDEX appointments_reminder_due ON appointments (tenant_id, starts_at) WHERE reminder_at IS NULL;
