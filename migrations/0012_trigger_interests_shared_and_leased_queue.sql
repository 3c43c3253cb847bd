-- Triggers known from the start in every role (issue 16, item 8). Every process, api included,
-- adds its content's interests at start instead of a worker replacing the set: an api started
-- before any worker, or a new version rolled out next to old workers, queues what its content
-- listens to. Workers refresh theirs every 30 seconds; an interest no process has refreshed for a
-- day (its sequence was removed or paused everywhere) is dropped, with the queued changes only
-- it wanted.
alter table trigger_interests add column refreshed_at timestamptz(3) not null default now();

-- A queued change is leased by one worker (taken_by, until taken_at plus a short lease, which
-- the worker renews while it works): a killed worker's rows are taken over within seconds, not
-- after 5 minutes (item 9).
alter table trigger_queue add column taken_by text;
