-- Website visitors seen by the tracking snippet (/js/baton.js, docs/capture.md). A visitor is a
-- random id kept first-party on the marketer's site. Until it is joined to a lead (identify, a
-- form, a signed email-click token) its events wait in visitor_events; joining moves them into
-- events under the lead, with their original times, and from then on its events go straight to
-- events. Anonymous visitors unseen for BATON_VISITOR_RETENTION are deleted by a worker loop.
create table visitors (
  id text primary key,
  -- The lead this visitor's events go to now. A shared computer that identifies as another lead
  -- switches it; the events already recorded stay with the lead they were recorded for.
  lead_id uuid references leads (id) on delete cascade,
  first_seen_at timestamptz(3) not null default now(),
  last_seen_at timestamptz(3) not null default now(),
  identified_at timestamptz(3)
);
create index visitors_by_lead on visitors (lead_id) where lead_id is not null;
create index visitors_anonymous_by_last_seen on visitors (last_seen_at) where lead_id is null;

create table visitor_events (
  id uuid primary key,
  visitor_id text not null references visitors (id) on delete cascade,
  type text not null,
  properties jsonb not null,
  occurred_at timestamptz(3) not null
);
create index visitor_events_by_visitor on visitor_events (visitor_id, occurred_at);
