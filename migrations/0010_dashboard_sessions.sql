-- Dashboard sign-in: sessions kept server side so they can be revoked (issue 16 item 2), and
-- reps signing in as themselves with a single-use emailed link (issue 10 §3).

-- One row per signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so
-- a copy of this table signs nobody in. `rep_id` null is the admin (the API key holder); an admin
-- session also stores a fingerprint of the key it was made with, so rotating BATON_API_KEY ends it.
create table dashboard_sessions (
  token_hash text primary key,
  rep_id text,
  key_fingerprint text,
  created_at timestamptz(3) not null default now(),
  expires_at timestamptz(3) not null,
  revoked_at timestamptz(3),
  check ((rep_id is null) <> (key_fingerprint is null))
);

create index dashboard_sessions_expires on dashboard_sessions (expires_at);

-- Sign-in links already used: a link's nonce is inserted when it signs someone in, and the
-- primary key refuses it the second time. Rows can go once the link has expired anyway.
create table dashboard_used_links (
  nonce text primary key,
  rep_id text not null,
  used_at timestamptz(3) not null default now(),
  expires_at timestamptz(3) not null
);

create index dashboard_used_links_expires on dashboard_used_links (expires_at);
