-- What Baton learns about its email after the SMTP conversation (docs/feedback.md): late bounces
-- (DSNs at the VERP bounce address), complaints (ARF reports, ESP webhooks), unsubscribes by
-- mail. One row per send and kind: a DSN delivered twice, or a webhook retried, records once.
create table delivery_feedback (
  id uuid primary key default gen_random_uuid(),
  send_id uuid not null references sends (id) on delete cascade,
  lead_id uuid not null references leads (id) on delete cascade,
  kind text not null check (kind in ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe')),
  -- RFC 3463 enhanced status (5.1.1) or the provider's code; null for complaints.
  status text,
  diagnostic text,
  source text not null,
  -- Kept apart from the address so rates per recipient domain survive without reading leads.
  recipient_domain text not null,
  received_at timestamptz(3) not null default now(),
  unique (send_id, kind)
);
create index delivery_feedback_lead on delivery_feedback (lead_id, received_at);

-- Per-domain sending limits shared by every worker (BATON_DOMAIN_LIMITS): a one-second window
-- per recipient domain, and how long the domain is slowed after a 421 / 4.7.x reply.
create table domain_send_windows (
  domain text primary key,
  window_start timestamptz(3) not null,
  sent integer not null,
  slowed_until timestamptz(3)
);

-- ESP webhook calls already processed (provider's event, token or message id): the same call
-- again is a replay and is refused (src/feedback/esp).
create table esp_webhook_receipts (
  provider text not null,
  receipt_id text not null,
  received_at timestamptz(3) not null default now(),
  primary key (provider, receipt_id)
);

-- Failed attempts of a send that is retried (4xx, throttling, soft bounces during SMTP): the
-- ledger row is claimed again for each attempt; this counts them, so the backoff grows and ends.
create table send_attempts (
  send_id uuid primary key references sends (id) on delete cascade,
  failed_attempts integer not null
);
