import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { sequenceFileSchema, STEP_ACTIONS, LEAD_FIELDS } from '../../src/sequences/sequence.schemas.js';

/*
 * docs/sequence.schema.json is published for editors. These checks keep it in step with the Joi
 * schema Baton validates with: same verdict on a corpus of valid and broken files, same names.
 */

const read = (file: string) => readFile(new URL(`../../${file}`, import.meta.url), 'utf8');

const HEAD = { id: 'test', name: 'Test', version: 1, entry: { trigger: { type: 'manual' } } };
const step = (extra: Record<string, unknown>) => ({ ...HEAD, steps: [{ id: 'a', ...extra }] });

const corpus: Array<[string, unknown]> = [
  ['minimal', step({ end: true })],
  ['email by name', step({ email: 'welcome' })],
  ['email with overrides', step({ email: { template: 'welcome', subject: 'Hi' } })],
  ['wait duration', step({ wait: '2d' })],
  ['wait until', step({ wait: { until: { days: ['mon'], time: '09:30' } } })],
  ['branch', step({ branch: [{ if: { clicked: 'a', within: '2d' }, then: 'a' }], else: 'a' })],
  ['goal', step({ goal: { event: 'form_submit', where: { form: 'demo' }, within: '5d' } })],
  ['update lead', step({ update_lead: { set: { title: 'CTO' }, add_tags: ['x'] } })],
  ['webhook', step({ webhook: { url: 'https://hooks.example.com/x', secret: 'crm' } })],
  ['conditions', { ...HEAD, entry: { trigger: { type: 'event', event: 'signup', where: { plan: 'pro' } }, conditions: [{ all: [{ field: 'country', in: ['US'] }, { not: { tag: 'customer' } }, { trait: 'size', gte: 10 }, { score: { gte: 5 } }] }] }, steps: [{ id: 'a', end: true }] }],
  ['window and goals', { ...HEAD, send_window: { days: ['mon', 'tue'], hours: '09:00-17:00', timezone: 'UTC' }, goals: [{ event: 'x' }], steps: [{ id: 'a', end: true }] }],
  ['reentry after', { ...HEAD, entry: { trigger: { type: 'tag_added', tag: 'vip' }, reentry: { after: '90d' } }, steps: [{ id: 'a', end: true }] }],
  ['topic', { ...step({ end: true }), topic: 'product-news' }],
  ['bad topic', { ...step({ end: true }), topic: 'Product News' }],
  ['split', step({ split: { arms: [{ id: 'short', weight: 50, next: 'a' }, { id: 'long', weight: 50, next: 'a' }], winner: { metric: 'click', after: 500, min_probability: 0.95 } } })],
  ['handoff', step({ handoff: true })],
  ['handoff with reason', step({ handoff: { reason: 'Read the pricing page three times' } })],
  ['holdout', { ...step({ end: true }), holdout: '10%' }],
  ['holdout over half', { ...step({ end: true }), holdout: '60%' }],
  ['holdout not a percentage', { ...step({ end: true }), holdout: 0.1 }],
  ['split with one arm', step({ split: { arms: [{ id: 'only', weight: 1, next: 'a' }] } })],
  ['split with a zero weight', step({ split: { arms: [{ id: 'x', weight: 0, next: 'a' }, { id: 'y', weight: 1, next: 'a' }] } })],
  ['split winner metric unknown', step({ split: { arms: [{ id: 'x', weight: 1, next: 'a' }, { id: 'y', weight: 1, next: 'a' }], winner: { metric: 'revenue', after: 10 } } })],
  ['handoff false', step({ handoff: false })],
  ['bad id', { ...step({ end: true }), id: 'Bad Id' }],
  ['no steps', { ...HEAD, steps: [] }],
  ['two actions', step({ wait: '1d', email: 'welcome' })],
  ['no action', step({})],
  ['bad duration', step({ wait: '2 days' })],
  ['bad trigger', { ...HEAD, entry: { trigger: { type: 'webinar' } }, steps: [{ id: 'a', end: true }] }],
  ['tag trigger without tag', { ...HEAD, entry: { trigger: { type: 'tag_added' } }, steps: [{ id: 'a', end: true }] }],
  ['else without branch', step({ wait: '1d', else: 'a' })],
  ['two condition kinds', { ...HEAD, entry: { trigger: { type: 'manual' }, conditions: [{ tag: 'x', clicked: 'a' }] }, steps: [{ id: 'a', end: true }] }],
  ['field without comparison', { ...HEAD, entry: { trigger: { type: 'manual' }, conditions: [{ field: 'country' }] }, steps: [{ id: 'a', end: true }] }],
  ['unknown field', { ...HEAD, entry: { trigger: { type: 'manual' }, conditions: [{ field: 'planet', equals: 'x' }] }, steps: [{ id: 'a', end: true }] }],
  ['unknown key', { ...step({ end: true }), colour: 'blue' }],
  ['bad hours', { ...HEAD, send_window: { days: ['mon'], hours: '9-5' }, steps: [{ id: 'a', end: true }] }],
  ['end false', step({ end: false })],
  ['goal without within', step({ goal: { event: 'x' } })],
  ['empty update', step({ update_lead: {} })],
  ['set email', step({ update_lead: { set: { email: 'x@y.z' } } })],
];

describe('docs/sequence.schema.json', () => {
  let validate: (data: unknown) => boolean;
  beforeAll(async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    validate = ajv.compile(JSON.parse(await read('docs/sequence.schema.json')));
  });

  it.each(corpus)('agrees with Baton on: %s', (_name, document) => {
    const joiAccepts = sequenceFileSchema.validate(document).error === undefined;
    expect(validate(document)).toBe(joiAccepts);
  });

  it('accepts the example sequences', async () => {
    for (const file of ['tests/fixtures/content/sequences/b2b-nurture.yaml', 'tests/fixtures/content/sequences/re-engagement.yaml']) {
      expect(validate(parse(await read(file)))).toBe(true);
    }
  });

  it('names the same step actions and lead fields', async () => {
    const schema = JSON.parse(await read('docs/sequence.schema.json'));
    const actions = schema.$defs.step.oneOf.map((option: { required: string[] }) => option.required[0]);
    expect(actions).toEqual([...STEP_ACTIONS]);
    const fieldCondition = schema.$defs.condition.oneOf.find((option: { required: string[] }) => option.required[0] === 'field');
    expect(fieldCondition.properties.field.enum).toEqual([...LEAD_FIELDS]);
  });
});
