-- Messages caught by the embedded SMTP sink (development and tests), raw source included.
create table dev_mail (
  id bigserial primary key,
  envelope_from text,
  envelope_to text[] not null,
  raw text not null,
  received_at timestamptz(3) not null default now()
);

create index dev_mail_received on dev_mail (received_at desc, id desc);
