-- Lead scoring and the sales handoff (issue 4).

-- The current score and lifecycle stage of each scored lead. The score is recomputed from the
-- stored events with the scoring file's rules (a pure function), so this row is a cache of that
-- result as of `scored_at`, never the source of truth. `engagement_since` is set when sales
-- rejects a lead: events before it no longer count, which is how "reset the engagement score"
-- stays reproducible.
create table lead_scores (
  lead_id uuid primary key references leads (id) on delete cascade,
  stage text not null default 'subscriber'
    check (stage in ('subscriber', 'lead', 'mql', 'sql', 'customer', 'recycled', 'disqualified')),
  total double precision not null default 0,
  engagement double precision not null default 0,
  fit double precision not null default 0,
  grade text not null default 'D' check (grade in ('A', 'B', 'C', 'D')),
  breakdown jsonb not null default '[]'::jsonb,
  engagement_since timestamptz(3),
  scored_at timestamptz(3) not null default now(),
  stage_changed_at timestamptz(3) not null default now()
);

create index lead_scores_engaged on lead_scores (scored_at) where engagement <> 0;

-- How a lead's score moved: one row per change worth showing (an event, decay, a reset).
create table score_history (
  id bigserial primary key,
  lead_id uuid not null references leads (id) on delete cascade,
  at timestamptz(3) not null default now(),
  total double precision not null,
  engagement double precision not null,
  fit double precision not null,
  grade text not null,
  stage text not null,
  cause text not null
);

create index score_history_lead on score_history (lead_id, at desc, id desc);

-- Leads whose score must be recomputed, one row per lead however many events arrived. Written by
-- triggers in the transaction of the change itself (no write path can forget it), only while a
-- worker with a scoring file has said so in settings: after events other than machine (bot) ones,
-- and after changes to the lead fields fit rules read.
create table score_queue (
  lead_id uuid primary key references leads (id) on delete cascade,
  queued_at timestamptz(3) not null default clock_timestamp(),
  taken_at timestamptz(3)
);

create index score_queue_queued on score_queue (queued_at);

-- Statement-level, over the inserted rows in lead id order: two transactions inserting events for
-- the same leads upsert their queue rows in the same order, so they cannot deadlock.
create function queue_scoring_for_events() returns trigger language plpgsql as $$
begin
  if exists (select 1 from settings where key = 'scoring_active') then
    insert into score_queue (lead_id)
      select distinct lead_id from inserted
      where (properties -> 'machine') is distinct from 'true'::jsonb
      order by lead_id
      on conflict (lead_id) do update set queued_at = clock_timestamp(), taken_at = null;
  end if;
  return null;
end $$;

create trigger events_queue_scoring after insert on events
  referencing new table as inserted
  for each statement execute function queue_scoring_for_events();

create function queue_scoring_for_lead() returns trigger language plpgsql as $$
begin
  if exists (select 1 from settings where key = 'scoring_active') then
    insert into score_queue (lead_id) values (new.id)
      on conflict (lead_id) do update set queued_at = clock_timestamp(), taken_at = null;
  end if;
  return null;
end $$;

create trigger leads_queue_scoring after update of email, title, country, company, traits on leads
  for each row when (old.email is distinct from new.email or old.title is distinct from new.title
    or old.country is distinct from new.country or old.company is distinct from new.company
    or old.traits is distinct from new.traits)
  execute function queue_scoring_for_lead();

-- The briefing's sequence history, and handoffs, look up a lead's enrollments.
create index enrollments_lead on enrollments (lead_id, entered_at);

-- One row per handoff to sales. At most one open (pending or accepted) handoff per lead: the
-- unique index is what makes "exactly once per MQL" hold under concurrent events and workers.
create table handoffs (
  id uuid primary key default gen_random_uuid(),
  lead_id uuid not null references leads (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'accepted', 'rejected', 'converted')),
  rep_id text not null,
  assignment jsonb not null,
  score jsonb not null,
  briefing jsonb not null,
  reject_reason text,
  -- Who decided: 'api', or 'rep:<id>' for a signed link in that rep's email.
  decided_by text,
  created_at timestamptz(3) not null default now(),
  -- When the current rep got it: the SLA clock.
  assigned_at timestamptz(3) not null default now(),
  reminded_at timestamptz(3),
  reassignments integer not null default 0,
  -- No other rep could take it at the last SLA check: look again after this.
  sla_deferred_until timestamptz(3),
  decided_at timestamptz(3)
);

create unique index handoffs_one_open_per_lead on handoffs (lead_id) where status in ('pending', 'accepted');
create index handoffs_created on handoffs (created_at desc, id desc);
create index handoffs_pending on handoffs (assigned_at) where status = 'pending';

-- Round robin: the rep last given a lead from each pool of matching reps.
create table assignment_cursors (
  pool_key text primary key,
  last_rep_id text not null
);

-- Notifications to send (the outbox): written in the handoff's transaction, sent after it
-- commits and retried with backoff, so a crash between the two loses nothing.
create table handoff_notifications (
  id bigserial primary key,
  handoff_id uuid not null references handoffs (id) on delete cascade,
  kind text not null check (kind in ('assigned', 'reminder')),
  channel text not null check (channel in ('email', 'webhook', 'slack')),
  target text not null,
  rep_id text not null,
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz(3) not null default now(),
  taken_at timestamptz(3),
  last_error text,
  created_at timestamptz(3) not null default now(),
  sent_at timestamptz(3)
);

create index handoff_notifications_due on handoff_notifications (next_attempt_at) where status = 'pending';
create index handoff_notifications_handoff on handoff_notifications (handoff_id);
