-- Automatic enrollment. Which lead changes start a sequence is known from the loaded sequence
-- files; workers write it here at start, so the database only queues the changes some sequence
-- listens to (an import of 100,000 leads queues nothing when no sequence has a lead_created
-- trigger).
create table trigger_interests (
  kind text not null check (kind in ('lead_created', 'tag_added', 'event')),
  key text not null default '',
  primary key (kind, key)
);

-- The queue of lead changes waiting to be matched against sequence triggers. Rows are written by
-- the database triggers below, in the same transaction as the change itself, so a crash can
-- neither lose a trigger nor fire one for a change that rolled back.
create table trigger_queue (
  id bigserial primary key,
  lead_id uuid not null references leads (id) on delete cascade,
  kind text not null,
  key text not null default '',
  properties jsonb not null default '{}'::jsonb,
  queued_at timestamptz(3) not null default now(),
  -- Set while a worker handles the row; a row taken long ago belongs to a worker that died.
  taken_at timestamptz(3)
);

create function queue_lead_triggers() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' and exists (select 1 from trigger_interests where kind = 'lead_created') then
    insert into trigger_queue (lead_id, kind) values (new.id, 'lead_created');
  end if;
  insert into trigger_queue (lead_id, kind, key)
    select new.id, 'tag_added', added.tag
    from (
      select unnest(new.tags) as tag
      except
      select unnest(case when tg_op = 'UPDATE' then old.tags else '{}'::text[] end)
    ) as added
    where exists (select 1 from trigger_interests i where i.kind = 'tag_added' and i.key = added.tag);
  return null;
end $$;

create trigger leads_queue_triggers after insert or update of tags on leads
  for each row execute function queue_lead_triggers();

create function queue_event_triggers() returns trigger language plpgsql as $$
begin
  if exists (select 1 from trigger_interests where kind = 'event' and key = new.type) then
    insert into trigger_queue (lead_id, kind, key, properties) values (new.lead_id, 'event', new.type, new.properties);
  end if;
  return null;
end $$;

create trigger events_queue_triggers after insert on events
  for each row execute function queue_event_triggers();

-- Every step an enrollment entered, for per-step analytics. Kept by a trigger so that no code
-- path that moves an enrollment can forget it.
create table enrollment_steps (
  enrollment_id uuid not null references enrollments (id) on delete cascade,
  sequence_id text not null,
  step_id text not null,
  entered_at timestamptz(3) not null default now()
);

create index enrollment_steps_sequence on enrollment_steps (sequence_id, step_id);

create function log_enrollment_step() returns trigger language plpgsql as $$
begin
  if new.current_step is not null and (tg_op = 'INSERT' or new.current_step is distinct from old.current_step) then
    insert into enrollment_steps (enrollment_id, sequence_id, step_id) values (new.id, new.sequence_id, new.current_step);
  end if;
  return null;
end $$;

create trigger enrollments_log_step after insert or update of current_step on enrollments
  for each row execute function log_enrollment_step();

-- The content hash of the sequence file an enrollment entered with (its version pin), and the
-- one it now follows after an edit was picked up.
alter table enrollments add column sequence_hash text;

-- Sends by lead and time, for the per-lead frequency cap (it also serves what sends_lead did).
create index sends_lead_claimed on sends (lead_id, claimed_at desc);
drop index sends_lead;

-- Transactional email (a receipt, a handoff notice) never counts against the frequency cap.
alter table sends add column marketing boolean not null default true;

-- Opens, clicks and unsubscribes name the send they came from: branches and per-step
-- statistics look them up by it.
create index events_send on events ((properties->>'sendId'));
