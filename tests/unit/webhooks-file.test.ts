import { parseWebhooksFile } from '../../src/webhooks/webhooks-file.js';

const SECRET = `whsec_${Buffer.from('a-webhook-secret-of-32-bytes!!!!').toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.from('the-previous-secret-of-32-bytes!').toString('base64')}`;
const options = { secrets: { crm: SECRET, '': OLD_SECRET }, allowInsecure: false };

describe('webhooks.yaml', () => {
  it('reads endpoints, expands event filters and resolves secrets from the configuration', () => {
    const result = parseWebhooksFile(
      `endpoints:
  - id: crm
    url: https://crm.example.com/hooks
    events: [lead.*, handoff.converted, lead.created]
    secret: \${BATON_WEBHOOK_SECRET_CRM}
  - id: all
    url: https://all.example.com/
    events: ["*"]
    secret:
      - \${BATON_WEBHOOK_SECRET_CRM}
      - \${BATON_WEBHOOK_SECRET}
    description: everything, during a rotation
`,
      options,
    );
    expect(result).toEqual({
      ok: true,
      endpoints: [
        {
          id: 'crm',
          url: 'https://crm.example.com/hooks',
          events: ['lead.created', 'lead.stage_changed', 'lead.unsubscribed', 'handoff.converted'],
          secrets: [SECRET],
        },
        {
          id: 'all',
          url: 'https://all.example.com/',
          events: expect.arrayContaining(['enrollment.converted', 'handoff.reassigned']),
          secrets: [SECRET, OLD_SECRET],
        },
      ],
    });
    if (result.ok) expect(result.endpoints[1]?.events).toHaveLength(11);
  });

  it('means no endpoints when empty', () => {
    expect(parseWebhooksFile('endpoints: []\n', options)).toEqual({ ok: true, endpoints: [] });
    expect(parseWebhooksFile('# nothing yet\n', options)).toEqual({ ok: true, endpoints: [] });
  });

  it('lists every problem with its line, and never repeats a secret', () => {
    const result = parseWebhooksFile(
      `endpoints:
  - id: crm
    url: http://crm.example.com/hooks
    events: [lead.deleted]
    secret: \${HOME}
  - id: crm
    url: https://user:pw@crm.example.com/
    events: []
    secret: whsec_c2hvcnQ=
    colour: blue
  - id: Bad Id
    url: not a url
    events: [handoff.*]
    secret: \${BATON_WEBHOOK_SECRET_MISSING}
`,
      options,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((problem) => `${problem.line} ${problem.path}: ${problem.message}`)).toMatchInlineSnapshot(`
[
  "3 endpoints[0].url: a webhook URL must use https, not http",
  "4 endpoints[0].events[0]: "lead.deleted" is not an event; expected one of: *, lead.*, handoff.*, enrollment.*, lead.created, lead.stage_changed, lead.unsubscribed, handoff.assigned, handoff.accepted, handoff.rejected, handoff.converted, handoff.reassigned, enrollment.entered, enrollment.exited, enrollment.converted",
  "5 endpoints[0].secret: HOME cannot be used; a secret may name BATON_WEBHOOK_SECRET or BATON_WEBHOOK_SECRET_<NAME>, which are checked at start",
  "7 endpoints[1].url: a webhook URL must not contain a user name or password",
  "8 endpoints[1].events: must list at least one event, or "*" for all",
  "9 endpoints[1].secret: a webhook secret needs a key of at least 24 bytes; this one has 5",
  "10 endpoints[1].colour: is not a known key; expected one of: id, url, events, secret, description",
  "11 endpoints[2].id: "Bad Id" must be lower-case letters, digits, - and _",
  "12 endpoints[2].url: the webhook URL is not a valid absolute URL",
  "14 endpoints[2].secret: BATON_WEBHOOK_SECRET_MISSING is not set (whsec_ + base64)",
  "6 endpoints[1]: repeats the id of another endpoint",
]
`);
    expect(JSON.stringify(result.problems)).not.toContain('c2hvcnQ');
  });

  it('allows plain http outside production', () => {
    expect(
      parseWebhooksFile('endpoints: [{ id: dev, url: "http://localhost:4000/hooks", events: ["*"], secret: "${BATON_WEBHOOK_SECRET}" }]\n', {
        ...options,
        allowInsecure: true,
      }).ok,
    ).toBe(true);
  });
});
