-- Appointment reminders (#5). Kept in step with postgres/0005_reminders.sql.

-- When the appointment's reminder was decided (sent, or skipped: no channel / opted out),
-- and how: set once, by whichever instance claims it first.
ALTER TABLE appointments ADD COLUMN reminder_at INTEGER;
ALTER TABLE appointments ADD COLUMN reminder_outcome TEXT;
-- The appointment this conversation last sent a reminder for (so "yes" confirms it).
ALTER TABLE conversations ADD COLUMN reminded_appointment_id BLOB;
CREATE INDEX appointments_reminder_due ON appointments (tenant_id, starts_at) WHERE reminder_at IS NULL;
