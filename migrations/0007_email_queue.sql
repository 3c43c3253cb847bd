-- Email steps are due here rather than as one Agenda job each: workers lease due rows in batches
-- (src/sends/email-dispatcher.ts). Agenda still times every other step (waits, goals, branches,
-- webhooks). An enrollment is at one step at a time, so it has at most one row.
create table email_queue (
  enrollment_id uuid primary key references enrollments (id) on delete cascade,
  step_id text not null,
  due_at timestamptz not null default now(),
  -- A worker's lease: the row is its own until leased_until; a dead worker's lease simply runs out.
  leased_by text,
  leased_until timestamptz
);

create index email_queue_due on email_queue (due_at);

-- The orphan sweep looks for active enrollments with no pending step job; the email queue counts.
create index agenda_jobs_enrollment on agenda_jobs ((data ->> 'enrollmentId')) where name = 'sequence-step';

-- Which worker claimed a send: where to look when one ends `unknown`.
alter table sends add column claimed_by text;

-- When a claimed send was handed to SMTP. A claim its worker never handed over (it died first)
-- did not go out, and is sent after all; one handed over may have, and is never resent.
alter table sends add column handed_at timestamptz(3);
