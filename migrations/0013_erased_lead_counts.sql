-- Erasing a lead deletes its enrollments, step log, sends and events (GDPR). The sequence
-- statistics it counted in are kept here as numbers only, so erasure does not rewrite the past
-- (a step that 3 leads entered still shows 3). Nothing here identifies the person.
create table erased_step_counts (
  sequence_id text not null,
  step_id text not null,
  entered integer not null default 0,
  sent integer not null default 0,
  bounced integer not null default 0,
  unknown integer not null default 0,
  human_opens integer not null default 0,
  human_clicks integer not null default 0,
  machine_opens integer not null default 0,
  machine_clicks integer not null default 0,
  unsubscribed integer not null default 0,
  exited integer not null default 0,
  converted integer not null default 0,
  completed integer not null default 0,
  parked integer not null default 0,
  primary key (sequence_id, step_id)
);

-- Enrollments of erased leads by final status (an enrollment active at erasure counts as exited).
create table erased_enrollment_totals (
  sequence_id text not null,
  status text not null,
  count integer not null default 0,
  primary key (sequence_id, status)
);
