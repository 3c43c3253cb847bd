-- Lifecycle webhooks (issue 10 §5): lead, handoff and enrollment changes announced to the
-- endpoints in webhooks.yaml.
--
-- Events are written by triggers, in the transaction of the change they describe: a change that
-- rolls back announces nothing, and one that commits cannot lose its event, whichever code path
-- (API, import, scoring, handoff, sequence engine) made it. Each process writes the endpoints it
-- loaded, with the event types each one wants, to settings.webhook_endpoints at start (the last
-- one started wins, and says so in its log when it replaced a different list); without that row
-- (no webhooks.yaml, or no endpoints) the triggers do nothing. A worker only sends deliveries for
-- endpoints in its own webhooks.yaml, so during a rolling deploy old and new workers each keep
-- to the endpoints they know.

-- One row per event. `lead` is the lead row as it was when the event happened; `subject` the
-- changed row (lead score, handoff or enrollment) after the change and `previous` before it.
-- Erasing a lead erases its events and their pending deliveries with it.
create table webhook_events (
  id uuid primary key default gen_random_uuid(),
  type text not null,
  lead_id uuid references leads (id) on delete cascade,
  lead jsonb,
  subject jsonb,
  previous jsonb,
  occurred_at timestamptz(3) not null default clock_timestamp()
);

create index webhook_events_lead on webhook_events (lead_id);
-- Pruning finds events past the log's age by time.
create index webhook_events_occurred on webhook_events (occurred_at);

-- One row per event and endpoint: the outbox the worker sends from, and the delivery log the API
-- lists. A redelivery is a new row (`redelivery_of`), so the first one's record stays as it was.
create table webhook_deliveries (
  id bigserial primary key,
  event_id uuid not null references webhook_events (id) on delete cascade,
  event_type text not null,
  endpoint text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz(3) not null default now(),
  taken_at timestamptz(3),
  last_attempt_at timestamptz(3),
  last_status integer,
  last_response text,
  last_error text,
  redelivery_of bigint references webhook_deliveries (id) on delete set null,
  created_at timestamptz(3) not null default now(),
  delivered_at timestamptz(3)
);

-- Workers take one endpoint's due deliveries at a time, and check that no other worker holds some.
create index webhook_deliveries_due on webhook_deliveries (endpoint, next_attempt_at, id) where status = 'pending';
create index webhook_deliveries_status on webhook_deliveries (status, id desc);
create index webhook_deliveries_type on webhook_deliveries (event_type, id desc);
create index webhook_deliveries_event on webhook_deliveries (event_id);

-- The endpoints that want `kind`, from the list the running processes wrote.
create function webhook_endpoints_for(kind text) returns text[] language sql stable as $$
  select coalesce(array_agg(endpoint ->> 'id' order by endpoint ->> 'id'), '{}')
  from settings s, jsonb_array_elements(s.value::jsonb) as endpoint
  where s.key = 'webhook_endpoints' and endpoint -> 'events' ? kind
$$;

create function queue_webhook_event(kind text, about uuid, subject jsonb, previous jsonb) returns void language plpgsql as $$
declare
  endpoints text[] := webhook_endpoints_for(kind);
  event uuid;
begin
  if cardinality(endpoints) = 0 then
    return;
  end if;
  insert into webhook_events (type, lead_id, lead, subject, previous)
    values (kind, about, (select to_jsonb(l) from leads l where l.id = about), subject, previous)
    returning id into event;
  insert into webhook_deliveries (event_id, event_type, endpoint) select event, kind, unnest(endpoints);
end $$;

-- lead.created: per statement, because imports insert leads by the thousand. A lead created
-- already unsubscribed (API, CSV import) also announces lead.unsubscribed, after its lead.created.
create function queue_webhook_leads_created() returns trigger language plpgsql as $$
declare
  endpoints text[] := webhook_endpoints_for('lead.created');
  unsubscribed_endpoints text[] := webhook_endpoints_for('lead.unsubscribed');
begin
  if cardinality(endpoints) > 0 then
    with created as (
      insert into webhook_events (type, lead_id, lead)
        select 'lead.created', i.id, to_jsonb(i) from inserted i order by i.created_at, i.id
        returning id
    )
    insert into webhook_deliveries (event_id, event_type, endpoint) select c.id, 'lead.created', e from created c, unnest(endpoints) e;
  end if;
  if cardinality(unsubscribed_endpoints) > 0 then
    with unsubscribed as (
      insert into webhook_events (type, lead_id, lead)
        select 'lead.unsubscribed', i.id, to_jsonb(i) from inserted i where i.unsubscribed_at is not null order by i.created_at, i.id
        returning id
    )
    insert into webhook_deliveries (event_id, event_type, endpoint) select u.id, 'lead.unsubscribed', e from unsubscribed u, unnest(unsubscribed_endpoints) e;
  end if;
  return null;
end $$;

create trigger leads_webhook_created after insert on leads
  referencing new table as inserted
  for each statement execute function queue_webhook_leads_created();

-- lead.unsubscribed of an existing lead: opt-outs are only ever set, so this fires once per lead
-- (a lead created unsubscribed announced it at insert, above, and is never set again).
create function queue_webhook_lead_unsubscribed() returns trigger language plpgsql as $$
begin
  perform queue_webhook_event('lead.unsubscribed', new.id, null, null);
  return null;
end $$;

create trigger leads_webhook_unsubscribed after update of unsubscribed_at on leads
  for each row when (old.unsubscribed_at is null and new.unsubscribed_at is not null)
  execute function queue_webhook_lead_unsubscribed();

-- lead.stage_changed. The breakdown is left out: it can be long, and the score API has it.
create function queue_webhook_stage_changed() returns trigger language plpgsql as $$
begin
  perform queue_webhook_event('lead.stage_changed', new.lead_id, to_jsonb(new) - 'breakdown', to_jsonb(old) - 'breakdown');
  return null;
end $$;

create trigger lead_scores_webhook_stage after update of stage on lead_scores
  for each row when (old.stage is distinct from new.stage)
  execute function queue_webhook_stage_changed();

-- handoff.*: the briefing is left out (BATON_HANDOFF_WEBHOOKS carries it to those who want it).
create function queue_webhook_handoff() returns trigger language plpgsql as $$
declare
  row_now jsonb := to_jsonb(new) - 'briefing' - 'score';
begin
  if tg_op = 'INSERT' then
    perform queue_webhook_event('handoff.assigned', new.lead_id, row_now, null);
  elsif new.status is distinct from old.status then
    perform queue_webhook_event('handoff.' || new.status, new.lead_id, row_now, to_jsonb(old) - 'briefing' - 'score');
  elsif new.rep_id is distinct from old.rep_id then
    perform queue_webhook_event('handoff.reassigned', new.lead_id, row_now, to_jsonb(old) - 'briefing' - 'score');
  end if;
  return null;
end $$;

create trigger handoffs_webhook_assigned after insert on handoffs
  for each row execute function queue_webhook_handoff();

create trigger handoffs_webhook_changed after update of status, rep_id on handoffs
  for each row when (old.status is distinct from new.status or old.rep_id is distinct from new.rep_id)
  execute function queue_webhook_handoff();

-- enrollment.entered, per statement (a trigger change can enrol many leads at once).
create function queue_webhook_enrollments_entered() returns trigger language plpgsql as $$
declare
  endpoints text[] := webhook_endpoints_for('enrollment.entered');
begin
  if cardinality(endpoints) = 0 then
    return null;
  end if;
  with entered as (
    insert into webhook_events (type, lead_id, lead, subject)
      select 'enrollment.entered', i.lead_id, to_jsonb(l), to_jsonb(i)
      from inserted i join leads l on l.id = i.lead_id order by i.entered_at, i.id
      returning id
  )
  insert into webhook_deliveries (event_id, event_type, endpoint) select n.id, 'enrollment.entered', e from entered n, unnest(endpoints) e;
  return null;
end $$;

create trigger enrollments_webhook_entered after insert on enrollments
  referencing new table as inserted
  for each statement execute function queue_webhook_enrollments_entered();

-- enrollment.exited and enrollment.converted (completed and parked are not announced).
create function queue_webhook_enrollment_ended() returns trigger language plpgsql as $$
begin
  perform queue_webhook_event('enrollment.' || new.status, new.lead_id, to_jsonb(new), to_jsonb(old));
  return null;
end $$;

create trigger enrollments_webhook_ended after update of status on enrollments
  for each row when (old.status = 'active' and new.status in ('exited', 'converted'))
  execute function queue_webhook_enrollment_ended();
