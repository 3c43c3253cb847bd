-- Issue 10: goals are reached when their event arrives, and leads are grouped into accounts.

-- The goals of the loaded sequence files, written by each worker at start (like
-- trigger_interests): the event a goal waits for and the properties it must contain. step_id is
-- null for a sequence goal (counts from the enrollment's entry), or names a goal step (counts
-- while the enrollment is at that step, from when it got there).
create table sequence_goals (
  sequence_id text not null,
  step_id text,
  event text not null,
  filter jsonb not null default '{}'::jsonb
);

create index sequence_goals_event on sequence_goals (event);

-- Once per statement, over the inserted events: the active enrollments of their leads whose goal
-- one of them is end `converted`, in the transaction that records the event. A handoff the same
-- event causes comes after this commits, so it finds the enrollment already converted, not
-- something to exit. Machine events (properties.machine true: a mail scanner's click or open)
-- reach no goal. Rows are locked in id order, as a batch of events for many leads may meet
-- a batch of emails moving the same enrollments.
create function reach_goals_for_events() returns trigger language plpgsql as $$
begin
  if exists (select 1 from inserted i join sequence_goals g on g.event = i.type where (i.properties ->> 'machine') is distinct from 'true') then
    with reached as (
      select distinct on (e.id) e.id, g.event
      from inserted i
      join sequence_goals g on g.event = i.type and i.properties @> g.filter
      join enrollments e on e.lead_id = i.lead_id and e.sequence_id = g.sequence_id and e.status = 'active'
      where (i.properties ->> 'machine') is distinct from 'true'
        and case when g.step_id is null then i.occurred_at >= e.entered_at
                 else e.current_step = g.step_id and i.occurred_at >= e.step_entered_at end
      order by e.id, g.step_id nulls first
    ), locked as (
      select e.id from enrollments e where e.id in (select id from reached) order by e.id for update
    )
    update enrollments e set status = 'converted', exit_reason = 'goal ' || r.event, ended_at = now()
    from reached r
    where e.id = r.id and e.id in (select id from locked) and e.status = 'active';
  end if;
  return null;
end $$;

create trigger events_reach_goals after insert on events
  referencing new table as inserted
  for each statement execute function reach_goals_for_events();

-- Accounts: leads whose addresses share a company domain (webmail never groups, see
-- src/accounts/account.ts). The briefing's buying group and assignment by account look leads up
-- by this expression; it must stay the same as accountDomainSql there.
create index leads_email_domain on leads (lower(substring(email from '@([^@]*)$')));
