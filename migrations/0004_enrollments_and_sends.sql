-- A lead's way through one sequence, pinned to the version it entered with.
create table enrollments (
  id uuid primary key default gen_random_uuid(),
  lead_id uuid not null references leads (id) on delete cascade,
  sequence_id text not null,
  sequence_version integer not null,
  status text not null default 'active'
    check (status in ('active', 'completed', 'converted', 'exited', 'parked')),
  current_step text,
  entered_at timestamptz(3) not null default now(),
  ended_at timestamptz(3),
  exit_reason text
);

-- One active enrollment per lead and sequence.
create unique index enrollments_active on enrollments (lead_id, sequence_id) where status = 'active';
create index enrollments_sequence on enrollments (sequence_id, status);

-- The send ledger decides whether an email went out. Agenda may run a step twice (a job whose
-- lock expired is taken over); the unique (enrollment, step) row makes the second run find the
-- first one's claim instead of sending again.
create table sends (
  id uuid primary key default gen_random_uuid(),
  enrollment_id uuid not null references enrollments (id) on delete cascade,
  step_id text not null,
  lead_id uuid not null references leads (id) on delete cascade,
  template text not null,
  message_id text not null,
  status text not null default 'claimed'
    check (status in ('claimed', 'sent', 'skipped', 'failed', 'unknown')),
  outcome text,
  smtp_response text,
  claimed_at timestamptz(3) not null default now(),
  finished_at timestamptz(3),
  unique (enrollment_id, step_id)
);

create index sends_lead on sends (lead_id);

-- When the enrollment reached its current step: waits and goal windows count from here.
alter table enrollments add column step_entered_at timestamptz(3) not null default now();
