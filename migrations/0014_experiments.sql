-- A/B splits and holdouts (docs/experiments.md). Which arm of a split a lead takes, and whether a
-- lead is held out of a sequence, is a hash of lead, sequence and step
-- (src/experiments/assignment.ts). The row written at the first decision keeps that answer for
-- good: editing the weights later moves new entrants only, never a lead already counted.
create table experiment_assignments (
  lead_id uuid not null references leads (id) on delete cascade,
  sequence_id text not null,
  -- The split step's id, or '$holdout' for the sequence's holdout group.
  step_id text not null,
  -- The arm's id; for '$holdout': 'holdout' or 'treatment'.
  arm_id text not null,
  enrollment_id uuid references enrollments (id) on delete set null,
  assigned_at timestamptz(3) not null default now(),
  primary key (lead_id, sequence_id, step_id)
);
create index experiment_assignments_by_arm on experiment_assignments (sequence_id, step_id, arm_id);

-- A split's winner once its `winner:` rule was met: new entrants take this arm from then on.
create table experiment_winners (
  sequence_id text not null,
  step_id text not null,
  arm_id text not null,
  metric text not null,
  probability double precision not null,
  -- The figures the decision was taken on (per arm: entered, successes, rate, interval).
  figures jsonb not null,
  decided_at timestamptz(3) not null default now(),
  primary key (sequence_id, step_id)
);
