-- Leads, their append-only events, and the suppression list that outlives erasure.
-- Timestamps keep millisecond precision so that values round-trip through JavaScript Dates
-- exactly; keyset pagination compares them.

create table settings (
  key text primary key,
  value text not null
);

-- Salt for suppression hashes: random per installation, never rotated (rotating would forget
-- every erased address).
insert into settings (key, value)
values ('suppression_salt', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

create table leads (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  first_name text,
  last_name text,
  company text,
  title text,
  phone text,
  timezone text,
  country text,
  source text,
  traits jsonb not null default '{}'::jsonb,
  tags text[] not null default '{}',
  consent jsonb,
  unsubscribed_at timestamptz(3),
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now(),
  constraint leads_traits_is_object check (jsonb_typeof(traits) = 'object')
);

create unique index leads_email_unique on leads (lower(email));
create index leads_created_id on leads (created_at desc, id desc);
create index leads_tags on leads using gin (tags);

-- Erased and permanently unreachable addresses, as salted SHA-256 of the lower-cased address.
create table suppressions (
  email_hash text primary key,
  reason text not null,
  created_at timestamptz(3) not null default now()
);

create table events (
  id uuid primary key default gen_random_uuid(),
  lead_id uuid not null references leads (id) on delete cascade,
  type text not null,
  properties jsonb not null default '{}'::jsonb,
  occurred_at timestamptz(3) not null,
  received_at timestamptz(3) not null default now()
);

create index events_lead_timeline on events (lead_id, occurred_at desc, id desc);
create index events_type_occurred on events (type, occurred_at);

-- Events are a log: they can be erased with their lead, never rewritten.
create function events_are_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'events are append-only';
end
$$;

create trigger events_no_update before update on events
  for each row execute function events_are_append_only();
