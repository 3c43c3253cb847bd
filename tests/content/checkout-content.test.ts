import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentProblems, contentReport } from '../helpers/content-check.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

/*
 * The one test that reads the checkout's own content (templates/, sequences/, scoring.yaml,
 * sales-team.yaml): whatever a marketer keeps there, so their CI fails exactly when it is wrong,
 * and says where. Every other test uses tests/fixtures/content.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the content in this checkout', () => {
  it('loads as Baton loads it at start: templates, sequences, forms, scoring and sales team', async () => {
    const problems = await contentProblems(ROOT);
    if (problems.length > 0) throw new Error(contentReport(problems));
    expect(problems).toEqual([]);
  });
});

describe('the content check itself (on a copy of the fixture content)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'baton-content-check-'));
    for (const entry of ['templates', 'sequences', 'forms', 'scoring.yaml', 'sales-team.yaml'])
      await cp(path.join(FIXTURE_CONTENT.dir, entry), path.join(dir, entry), { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("passes content with a valid sequence and template of the marketer's own added", async () => {
    await writeFile(
      path.join(dir, 'templates', 'spring-offer.mjml'),
      '---\nsubject: "Spring offer for {{lead.company}}"\nlayout: base\n---\n<mj-section><mj-column><mj-text>Hello {{lead.firstName}}</mj-text></mj-column></mj-section>\n',
    );
    await writeFile(
      path.join(dir, 'sequences', 'spring.yaml'),
      'id: spring\nname: Spring offer\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: offer\n    email: spring-offer\n',
    );
    expect(await contentProblems(dir)).toEqual([]);
  });

  it.each([
    {
      what: 'a sequence whose wait is not a duration',
      file: 'sequences/broken.yaml',
      text: 'id: broken\nname: Broken\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: a\n    wait: soon\n',
      expected: /sequences\/broken\.yaml:8 steps\[0\]\.wait: "soon" is not a duration/,
    },
    {
      what: 'a sequence that sends a template there is not',
      file: 'sequences/typo.yaml',
      text: 'id: typo\nname: Typo\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: a\n    email: welcom\n',
      expected: /sequences\/typo\.yaml:8 steps\[0\]\.email: .*welcom/,
    },
    {
      what: 'a form that enrolls in a sequence there is not',
      file: 'forms/webinar.yaml',
      text: 'id: webinar\ntitle: Webinar\nfields:\n  - { name: email, label: Email, type: email, required: true }\nsequence: webinar-follow-up\nthank_you: { message: Thanks }\n',
      expected: /forms\/webinar\.yaml:5 sequence: "webinar-follow-up" is not a loaded sequence; expected one of: b2b-nurture, re-engagement/,
    },
    {
      what: 'a form field of a type there is not',
      file: 'forms/contact.yaml',
      text: 'id: contact\ntitle: Contact\nfields:\n  - { name: email, label: Email, type: email, required: true }\n  - { name: when, label: When, type: date }\nthank_you: { message: Thanks }\n',
      expected: /forms\/contact\.yaml:5 fields\[1\]\.type: "date" is not a field type; expected one of: email, text, textarea, tel, select, checkbox/,
    },
    {
      what: 'a double opt-in form without consent wording',
      file: 'forms/news.yaml',
      text: 'id: news\ntitle: News\nfields:\n  - { name: email, label: Email, type: email, required: true }\ndouble_opt_in: true\nthank_you: { message: Thanks }\n',
      expected: /forms\/news\.yaml:1 double_opt_in needs a consent section/,
    },
    {
      what: 'a template whose MJML attribute is invalid',
      file: 'templates/broken.mjml',
      text: '---\nsubject: Hi\nlayout: base\n---\n<mj-section><mj-column><mj-text padding="lots">Hi</mj-text></mj-column></mj-section>\n',
      expected: /templates\/broken\.mjml:5 MJML: Attribute padding has invalid value: lots/,
    },
  ])('fails on $what, naming the file and line', async ({ file, text, expected }) => {
    await writeFile(path.join(dir, file), text);
    const problems = await contentProblems(dir);
    expect(problems).toEqual([expect.stringMatching(expected)]);
    expect(contentReport(problems)).toMatch(/has 1 problem \(npx baton validate lists the same\):\n {2}- /);
  });
});
