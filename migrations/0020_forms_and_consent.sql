-- Double opt-in (issue 13): one row per confirmation asked for by a form with double_opt_in.
-- It is the proof kept for the person's consent: when, from where (IP, user agent), which form
-- and which wording they agreed to, and when and from where they confirmed. Erased with the lead.
create table opt_in_requests (
  id uuid primary key default gen_random_uuid(),
  lead_id uuid not null references leads (id) on delete cascade,
  form_id text not null,
  wording_version text not null,
  wording text not null,
  requested_at timestamptz not null default now(),
  requested_ip text,
  requested_user_agent text,
  confirmed_at timestamptz,
  confirmed_ip text,
  confirmed_user_agent text,
  -- Whether the request holds back marketing email until it is confirmed: only for a lead the
  -- form created. A lead that already existed keeps receiving what it received before; anyone
  -- could type its address into the form.
  holds_back_email boolean not null default true
);
create index opt_in_requests_lead on opt_in_requests (lead_id);

-- The preference centre (the signed unsubscribe page): topics the person left and a pause of
-- all marketing email. Read at send time with the lead's consent (src/consent).
create table lead_preferences (
  lead_id uuid primary key references leads (id) on delete cascade,
  paused_until timestamptz,
  left_topics text[] not null default '{}',
  updated_at timestamptz not null default now()
);
