-- Closed-loop reporting (issue 17): lifecycle history as data, attribution per handoff, and the
-- per-lead and per-handoff rollups the funnel report reads.
--
-- Everything here is written by triggers, in the transaction of the change (like the lifecycle
-- webhooks of 0011): no code path has to remember to record a stage change, and a change that
-- rolls back records nothing. `lifecycle_changes` is the history; `funnel_leads` and
-- `funnel_handoffs` are rollups of it (and of handoffs) so that the report is one scan.
--
-- Erasure (GDPR): the rows are not deleted with the lead. A trigger before the lead's delete
-- gives them a new random `subject` and clears `lead_id`, `handoff_id` and the free-text reason
-- (a rep may have written a name there),
-- so counts, durations and values stay while nothing links them back to the person.

-- A convert may carry the deal's value (in the currency's units) and its ISO 4217 currency.
alter table handoffs
  add column deal_value numeric(20, 4),
  add column deal_currency char(3),
  add constraint handoffs_deal_both check ((deal_value is null) = (deal_currency is null));

-- One row per stage change. `subject` is the lead's reporting key: its id until it is erased.
create table lifecycle_changes (
  id bigserial primary key,
  subject uuid not null,
  lead_id uuid,
  from_stage text,
  to_stage text not null,
  at timestamptz(3) not null,
  -- created | score | handoff | intent | accepted | rejected | disqualified | converted | backfill: …
  cause text not null,
  handoff_id uuid,
  rep_id text
);

create index lifecycle_changes_subject on lifecycle_changes (subject, at, id);
create index lifecycle_changes_lead on lifecycle_changes (lead_id) where lead_id is not null;

-- One row per lead: when it first reached and first left each stage, its source, the sequences it
-- entered, the rep of its first handoff, the value of its conversion and its attribution.
create table funnel_leads (
  subject uuid primary key,
  lead_id uuid unique,
  created_at timestamptz(3) not null,
  source text,
  sequences text[] not null default '{}',
  rep_id text,
  lead_at timestamptz(3),
  mql_at timestamptz(3),
  sql_at timestamptz(3),
  customer_at timestamptz(3),
  recycled_at timestamptz(3),
  disqualified_at timestamptz(3),
  subscriber_left_at timestamptz(3),
  lead_left_at timestamptz(3),
  mql_left_at timestamptz(3),
  sql_left_at timestamptz(3),
  deal_value numeric(20, 4),
  deal_currency char(3),
  first_touch jsonb,
  last_touch jsonb,
  -- The sequences it had entered at its first handoff: what attribution shares credit among.
  touched_sequences text[] not null default '{}'
);

-- The funnel reads a cohort by creation time, grouped by source (the benchmark's query): an
-- index-only scan over this covering index reads no heap page.
create index funnel_leads_created on funnel_leads (created_at) include (source, lead_at, mql_at, sql_at, customer_at, subscriber_left_at, lead_left_at, mql_left_at, sql_left_at);

-- One row per handoff, kept after erasure: what the per-rep table and the rejection reasons read.
create table funnel_handoffs (
  key uuid primary key default gen_random_uuid(),
  handoff_id uuid unique,
  subject uuid not null,
  rep_id text not null,
  created_at timestamptz(3) not null,
  accepted_at timestamptz(3),
  rejected_at timestamptz(3),
  converted_at timestamptz(3),
  disqualified boolean not null default false,
  reject_reason text,
  -- Reps who let it wait past the SLA (reminded, or reassigned away from them).
  breached_by text[] not null default '{}',
  deal_value numeric(20, 4),
  deal_currency char(3),
  first_touch jsonb,
  last_touch jsonb,
  sequences text[] not null default '{}'
);

create index funnel_handoffs_created on funnel_handoffs (created_at);
create index funnel_handoffs_subject on funnel_handoffs (subject, created_at);

-- The UTM fields of an event: flat `utm_*` properties, a `utm` object, or the query of its URL.
create function utm_of(properties jsonb) returns jsonb language sql immutable as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'source', coalesce(properties ->> 'utm_source', properties -> 'utm' ->> 'source', substring(properties ->> 'url' from '[?&]utm_source=([^&#]*)')),
    'medium', coalesce(properties ->> 'utm_medium', properties -> 'utm' ->> 'medium', substring(properties ->> 'url' from '[?&]utm_medium=([^&#]*)')),
    'campaign', coalesce(properties ->> 'utm_campaign', properties -> 'utm' ->> 'campaign', substring(properties ->> 'url' from '[?&]utm_campaign=([^&#]*)'))))
$$;

-- First touch: the lead's source, with the UTM of its first visit or form (human events only).
create function first_touch_of(lead uuid) returns jsonb language sql stable as $$
  select jsonb_build_object('source', l.source, 'at', l.created_at) || coalesce((
    select jsonb_build_object('type', e.type, 'eventAt', e.occurred_at, 'utm', utm_of(e.properties))
    from events e
    where e.lead_id = lead and e.type not like 'email\_%' and e.type not like 'handoff\_%' and e.type not like 'baton\_%'
      and (e.properties -> 'machine') is distinct from 'true'::jsonb
    order by (utm_of(e.properties) = '{}'::jsonb), e.occurred_at, e.id limit 1), '{}'::jsonb)
  from leads l where l.id = lead
$$;

-- Last touch before `until`: the latest human open or click (its sequence and email step) or form.
create function last_touch_of(lead uuid, until timestamptz) returns jsonb language sql stable as $$
  select jsonb_strip_nulls(jsonb_build_object('type', e.type, 'at', e.occurred_at, 'sequence', n.sequence_id, 'step', s.step_id,
    'form', case when e.type like 'form%' then coalesce(e.properties ->> 'form', e.properties ->> 'formId') end))
  from events e
  left join sends s on e.type like 'email\_%' and s.id::text = e.properties ->> 'sendId'
  left join enrollments n on n.id = s.enrollment_id
  where e.lead_id = lead and e.occurred_at <= until
    and (e.type in ('email_clicked', 'email_opened') or e.type like 'form%')
    and (e.properties -> 'machine') is distinct from 'true'::jsonb
  order by e.occurred_at desc, (e.type = 'email_clicked') desc, e.id desc limit 1
$$;

create function sequences_of(lead uuid, until timestamptz) returns text[] language sql stable as $$
  select coalesce(array_agg(sequence_id order by first_at, sequence_id), '{}') from (
    select sequence_id, min(entered_at) as first_at from enrollments where lead_id = lead and entered_at <= until group by sequence_id) s
$$;

-- A new lead enters the funnel as a subscriber.
create function funnel_leads_created() returns trigger language plpgsql as $$
begin
  insert into funnel_leads (subject, lead_id, created_at, source)
    select i.id, i.id, i.created_at, nullif(i.source, '') from inserted i order by i.id;
  insert into lifecycle_changes (subject, lead_id, from_stage, to_stage, at, cause)
    select i.id, i.id, null, 'subscriber', i.created_at, 'created' from inserted i order by i.id;
  return null;
end $$;

create trigger leads_funnel_created after insert on leads
  referencing new table as inserted
  for each statement execute function funnel_leads_created();

create function funnel_lead_source() returns trigger language plpgsql as $$
begin
  update funnel_leads set source = nullif(new.source, '') where lead_id = new.id;
  return null;
end $$;

create trigger leads_funnel_source after update of source on leads
  for each row when (old.source is distinct from new.source)
  execute function funnel_lead_source();

-- Every sequence a lead entered.
create function funnel_sequences_entered() returns trigger language plpgsql as $$
begin
  update funnel_leads f set sequences = f.sequences || i.sequence_id
    from (select distinct on (lead_id) lead_id, sequence_id from inserted order by lead_id, entered_at) i
    where f.lead_id = i.lead_id and not (i.sequence_id = any (f.sequences));
  -- A statement enrolling one lead in two sequences at once (rare): the others, one by one.
  update funnel_leads f set sequences = f.sequences || i.sequence_id
    from inserted i where f.lead_id = i.lead_id and not (i.sequence_id = any (f.sequences));
  return null;
end $$;

create trigger enrollments_funnel_sequences after insert on enrollments
  referencing new table as inserted
  for each statement execute function funnel_sequences_entered();

-- A stage change: history row, with its cause read from the transition and the latest handoff.
create function lifecycle_stage_changed() returns trigger language plpgsql as $$
declare
  latest record;
  why text;
begin
  select h.id, h.rep_id into latest from handoffs h where h.lead_id = new.lead_id order by h.created_at desc, h.id desc limit 1;
  why := case new.stage
    when 'lead' then 'score'
    when 'mql' then case when old.stage = 'disqualified' then 'intent' else 'handoff' end
    when 'sql' then 'accepted'
    when 'customer' then 'converted'
    when 'recycled' then 'rejected'
    when 'disqualified' then 'disqualified'
    else 'score' end;
  insert into lifecycle_changes (subject, lead_id, from_stage, to_stage, at, cause, handoff_id, rep_id)
    values (coalesce((select subject from funnel_leads where lead_id = new.lead_id), new.lead_id), new.lead_id, old.stage, new.stage,
      new.stage_changed_at, why,
      case when new.stage <> 'mql' then latest.id end, case when new.stage <> 'mql' then latest.rep_id end);
  if new.stage = 'disqualified' and latest.id is not null then
    update funnel_handoffs set disqualified = true where handoff_id = latest.id;
  end if;
  return null;
end $$;

create trigger lead_scores_lifecycle_history after update of stage on lead_scores
  for each row when (old.stage is distinct from new.stage)
  execute function lifecycle_stage_changed();

-- The per-lead rollup follows the history: first entry into each stage, first exit after it.
create function funnel_follow_history() returns trigger language plpgsql as $$
begin
  update funnel_leads set
    lead_at = case when new.to_stage = 'lead' then coalesce(lead_at, new.at) else lead_at end,
    mql_at = case when new.to_stage = 'mql' then coalesce(mql_at, new.at) else mql_at end,
    sql_at = case when new.to_stage = 'sql' then coalesce(sql_at, new.at) else sql_at end,
    customer_at = case when new.to_stage = 'customer' then coalesce(customer_at, new.at) else customer_at end,
    recycled_at = case when new.to_stage = 'recycled' then coalesce(recycled_at, new.at) else recycled_at end,
    disqualified_at = case when new.to_stage = 'disqualified' then coalesce(disqualified_at, new.at) else disqualified_at end,
    subscriber_left_at = case when new.from_stage = 'subscriber' then coalesce(subscriber_left_at, new.at) else subscriber_left_at end,
    lead_left_at = case when new.from_stage = 'lead' and lead_at is not null then coalesce(lead_left_at, new.at) else lead_left_at end,
    mql_left_at = case when new.from_stage = 'mql' and mql_at is not null then coalesce(mql_left_at, new.at) else mql_left_at end,
    sql_left_at = case when new.from_stage = 'sql' and sql_at is not null then coalesce(sql_left_at, new.at) else sql_left_at end
  where subject = new.subject;
  return null;
end $$;

-- A lead's first row (created, from no stage) changes nothing in its funnel row: skipping it keeps
-- imports of many leads from updating each funnel row once more.
create trigger lifecycle_changes_funnel after insert on lifecycle_changes
  for each row when (new.from_stage is not null)
  execute function funnel_follow_history();

-- A handoff: its reporting row with the attribution as it stood, and the rep on the MQL change.
create function funnel_handoff_created() returns trigger language plpgsql as $$
declare
  who uuid := coalesce((select subject from funnel_leads where lead_id = new.lead_id), new.lead_id);
  first jsonb := first_touch_of(new.lead_id);
  last jsonb := last_touch_of(new.lead_id, new.created_at);
  touched text[] := sequences_of(new.lead_id, new.created_at);
begin
  insert into funnel_handoffs (handoff_id, subject, rep_id, created_at, first_touch, last_touch, sequences)
    values (new.id, who, new.rep_id, new.created_at, first, last, touched);
  update funnel_leads set rep_id = coalesce(rep_id, new.rep_id), first_touch = coalesce(first_touch, first), last_touch = coalesce(last_touch, last),
    touched_sequences = case when rep_id is null then touched else touched_sequences end
    where subject = who;
  update lifecycle_changes set handoff_id = new.id, rep_id = new.rep_id
    where lead_id = new.lead_id and to_stage = 'mql' and handoff_id is null;
  return null;
end $$;

create trigger handoffs_funnel_created after insert on handoffs
  for each row execute function funnel_handoff_created();

create function funnel_handoff_changed() returns trigger language plpgsql as $$
begin
  update funnel_handoffs set
    rep_id = new.rep_id,
    accepted_at = case when new.status = 'accepted' then coalesce(accepted_at, new.decided_at) else accepted_at end,
    rejected_at = case when new.status = 'rejected' then coalesce(rejected_at, new.decided_at) else rejected_at end,
    converted_at = case when new.status = 'converted' then coalesce(converted_at, new.decided_at) else converted_at end,
    reject_reason = case when new.status = 'rejected' then new.reject_reason else reject_reason end,
    deal_value = new.deal_value,
    deal_currency = new.deal_currency,
    breached_by = case
      when new.rep_id is distinct from old.rep_id and not (old.rep_id = any (breached_by)) then breached_by || old.rep_id
      when new.reminded_at is not null and old.reminded_at is null and not (new.rep_id = any (breached_by)) then breached_by || new.rep_id
      else breached_by end
  where handoff_id = new.id;
  -- The lead's rep (by=rep) is whoever holds its first handoff, after any reassignment.
  if new.rep_id is distinct from old.rep_id then
    update funnel_leads set rep_id = new.rep_id where lead_id = new.lead_id
      and not exists (select 1 from handoffs h where h.lead_id = new.lead_id and (h.created_at, h.id) < (new.created_at, new.id));
  end if;
  -- The lead's value: its first converted deal, given with the convert or later.
  if new.status = 'converted' and new.deal_value is not null then
    update funnel_leads set deal_value = new.deal_value, deal_currency = new.deal_currency
      where lead_id = new.lead_id and deal_value is null;
  end if;
  return null;
end $$;

create trigger handoffs_funnel_changed after update on handoffs
  for each row when (old.status is distinct from new.status or old.rep_id is distinct from new.rep_id
    or old.reminded_at is distinct from new.reminded_at or old.deal_value is distinct from new.deal_value)
  execute function funnel_handoff_changed();

-- Erasure: the rows stay, keyed by a random subject nobody can trace back to the person.
create function funnel_forget_lead() returns trigger language plpgsql as $$
declare
  anonymous uuid := gen_random_uuid();
begin
  update lifecycle_changes set subject = anonymous, lead_id = null, handoff_id = null where lead_id = old.id;
  update funnel_handoffs set subject = anonymous, handoff_id = null,
    reject_reason = case when rejected_at is not null then '(erased lead)' end
    where subject = (select subject from funnel_leads where lead_id = old.id);
  -- Touches keep their channel, campaign, sequence and step, and their time (as stage times do),
  -- which say nothing of who the person was.
  update funnel_leads set subject = anonymous, lead_id = null, first_touch = first_touch - 'eventAt', last_touch = last_touch - 'at' where lead_id = old.id;
  return old;
end $$;

create trigger leads_funnel_forget before delete on leads
  for each row execute function funnel_forget_lead();

-- Backfill for installations that already have leads (see docs/reporting.md, "History before
-- 0021"): the creation, the stage changes score_history shows, the handoffs' decisions, and the
-- current stage when none of those explain it. Per-lead rollups are then computed from it.
insert into funnel_leads (subject, lead_id, created_at, source, sequences)
  select l.id, l.id, l.created_at, nullif(l.source, ''), sequences_of(l.id, 'infinity') from leads l;

insert into lifecycle_changes (subject, lead_id, from_stage, to_stage, at, cause)
  select id, id, null, 'subscriber', created_at, 'created' from leads;

insert into lifecycle_changes (subject, lead_id, from_stage, to_stage, at, cause)
  select lead_id, lead_id, previous, stage, at, 'backfill: score history' from (
    select lead_id, stage, at, lag(stage) over (partition by lead_id order by at, id) as previous from score_history) h
  where stage is distinct from coalesce(previous, 'subscriber') and stage in ('lead');

insert into lifecycle_changes (subject, lead_id, from_stage, to_stage, at, cause, handoff_id, rep_id)
  select h.lead_id, h.lead_id, null, 'mql', h.created_at, 'backfill: handoff', h.id, h.rep_id from handoffs h;

insert into lifecycle_changes (subject, lead_id, from_stage, to_stage, at, cause, handoff_id, rep_id)
  select h.lead_id, h.lead_id, 'mql',
    case h.status when 'accepted' then 'sql' when 'converted' then 'customer'
      else case when s.stage = 'disqualified' and h.id = (select id from handoffs x where x.lead_id = h.lead_id order by created_at desc, id desc limit 1) then 'disqualified' else 'recycled' end end,
    h.decided_at, 'backfill: handoff decision', h.id, h.rep_id
  from handoffs h left join lead_scores s on s.lead_id = h.lead_id
  where h.status <> 'pending' and h.decided_at is not null;

insert into lifecycle_changes (subject, lead_id, from_stage, to_stage, at, cause)
  select s.lead_id, s.lead_id, null, s.stage, s.stage_changed_at, 'backfill: current stage' from lead_scores s
  where s.stage <> (select c.to_stage from lifecycle_changes c where c.lead_id = s.lead_id order by c.at desc, c.id desc limit 1);

-- from_stage of backfilled rows: the stage of the row before.
update lifecycle_changes c set from_stage = p.previous from (
  select id, lag(to_stage) over (partition by subject order by at, id) as previous from lifecycle_changes) p
  where p.id = c.id and c.cause like 'backfill%';

update funnel_leads f set
  lead_at = s.lead_at, mql_at = s.mql_at, sql_at = s.sql_at, customer_at = s.customer_at, recycled_at = s.recycled_at, disqualified_at = s.disqualified_at,
  subscriber_left_at = (select min(at) from lifecycle_changes c where c.subject = f.subject and c.from_stage = 'subscriber'),
  lead_left_at = (select min(at) from lifecycle_changes c where c.subject = f.subject and c.from_stage = 'lead' and c.at >= s.lead_at),
  mql_left_at = (select min(at) from lifecycle_changes c where c.subject = f.subject and c.from_stage = 'mql' and c.at >= s.mql_at),
  sql_left_at = (select min(at) from lifecycle_changes c where c.subject = f.subject and c.from_stage = 'sql' and c.at >= s.sql_at)
from (
  select subject,
    min(at) filter (where to_stage = 'lead') as lead_at, min(at) filter (where to_stage = 'mql') as mql_at,
    min(at) filter (where to_stage = 'sql') as sql_at, min(at) filter (where to_stage = 'customer') as customer_at,
    min(at) filter (where to_stage = 'recycled') as recycled_at, min(at) filter (where to_stage = 'disqualified') as disqualified_at
  from lifecycle_changes group by subject) s
where s.subject = f.subject;

insert into funnel_handoffs (handoff_id, subject, rep_id, created_at, accepted_at, rejected_at, converted_at, disqualified, reject_reason, breached_by, first_touch, last_touch, sequences)
  select h.id, h.lead_id, h.rep_id, h.created_at,
    case when h.status = 'accepted' then h.decided_at end, case when h.status = 'rejected' then h.decided_at end,
    case when h.status = 'converted' then h.decided_at end,
    exists (select 1 from lifecycle_changes c where c.handoff_id = h.id and c.to_stage = 'disqualified'),
    h.reject_reason, case when h.reminded_at is not null then array[h.rep_id] else '{}' end,
    first_touch_of(h.lead_id), last_touch_of(h.lead_id, h.created_at), sequences_of(h.lead_id, h.created_at)
  from handoffs h;

update funnel_leads f set rep_id = h.rep_id, first_touch = h.first_touch, last_touch = h.last_touch, touched_sequences = h.sequences
  from (select distinct on (subject) subject, rep_id, first_touch, last_touch, sequences from funnel_handoffs order by subject, created_at) h
  where h.subject = f.subject;
