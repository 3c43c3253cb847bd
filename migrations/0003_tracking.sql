-- Links in sent emails, stored server side: a click token names a row here, never a URL, so
-- tracking links cannot be turned into an open redirect.
create table tracked_links (
  id bigserial primary key,
  send_id text not null,
  lead_id uuid not null references leads (id) on delete cascade,
  url text not null,
  -- When the email was prepared for sending: clicks within seconds of it are scanners.
  created_at timestamptz(3) not null default now()
);

create index tracked_links_send on tracked_links (send_id);
create index tracked_links_lead on tracked_links (lead_id);
