-- The event trigger of 0005 ran a PL/pgSQL function for every inserted event. Click and open
-- tracking writes events 500 at a time: one statement per batch now queues the events some
-- sequence listens to, in the order they happened.
drop trigger events_queue_triggers on events;
drop function queue_event_triggers();

create function queue_event_triggers() returns trigger language plpgsql as $$
begin
  if exists (select 1 from trigger_interests where kind = 'event') then
    insert into trigger_queue (lead_id, kind, key, properties)
      select e.lead_id, 'event', e.type, e.properties
      from inserted e
      where exists (select 1 from trigger_interests i where i.kind = 'event' and i.key = e.type)
      order by e.occurred_at;
  end if;
  return null;
end $$;

create trigger events_queue_triggers after insert on events
  referencing new table as inserted
  for each statement execute function queue_event_triggers();
