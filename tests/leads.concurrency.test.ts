import { createTestApp, type TestApp } from './helpers/test-app.js';

/*
 * Races that only a real server shows (the embedded database runs one transaction at a time):
 * an erasure must win against a create or an event for the same address arriving at once.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('erasure racing other writes', () => {
  it('never lets an erased address come back through a concurrent create', async () => {
    const outcomes: number[] = [];
    for (let round = 0; round < 25; round++) {
      const email = `race${round}@example.com`;
      const created = await t.api.post('/api/leads').set(t.auth).send({ email });
      const [erase, recreate] = await Promise.all([
        t.api.delete(`/api/leads/${created.body.id}`).set(t.auth),
        t.api.post('/api/leads').set(t.auth).send({ email, firstName: 'Again' }),
      ]);
      expect(erase.status).toBe(204);
      outcomes.push(recreate.status);
      // Whichever ran first, once the erasure is done the address is gone and stays gone.
      const after = await t.api.get('/api/leads').query({ email }).set(t.auth);
      expect(after.body.items).toEqual([]);
      expect([200, 409]).toContain(recreate.status);
    }
    expect(outcomes.length).toBe(25);
  });

  it('answers events racing an erasure with 202 or a clear rejection, never a 500', async () => {
    for (let round = 0; round < 25; round++) {
      const email = `event-race${round}@example.com`;
      const created = await t.api.post('/api/leads').set(t.auth).send({ email });
      const [erase, byEmail, byId] = await Promise.all([
        t.api.delete(`/api/leads/${created.body.id}`).set(t.auth),
        t.api.post('/api/events').set(t.auth).send({ email, type: 'page_view' }),
        t.api.post('/api/events').set(t.auth).send({ leadId: created.body.id, type: 'page_view' }),
      ]);
      expect(erase.status).toBe(204);
      expect([202, 409]).toContain(byEmail.status);
      expect([202, 404]).toContain(byId.status);
      const leftovers = await t.database.db.selectFrom('events').select('id').where('lead_id', '=', created.body.id).execute();
      expect(leftovers).toEqual([]);
      expect((await t.api.get('/api/leads').query({ email }).set(t.auth)).body.items).toEqual([]);
    }
  });

  it('keeps one lead per address when the same new address is created many times at once', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.api
          .post('/api/leads')
          .set(t.auth)
          .send({ email: 'Same@Example.com', tags: [`t${i}`] }),
      ),
    );
    expect(responses.filter((res) => res.status === 201)).toHaveLength(1);
    expect(responses.filter((res) => res.status === 200)).toHaveLength(19);
    const lead = (await t.api.get('/api/leads').query({ email: 'same@example.com' }).set(t.auth)).body.items;
    expect(lead).toHaveLength(1);
    expect(lead[0].tags).toHaveLength(20);
  });
});
