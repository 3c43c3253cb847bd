import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PGliteMultiplexer } from '../../src/platform/db/pglite-multiplexer.js';

/*
 * The embedded database's socket server, under the traffic that broke PGLiteSocketServer's own
 * multiplexer: concurrent parameterised queries, failing statements and transactions.
 */

let pglite: PGlite;
let server: PGliteMultiplexer;
let pool: pg.Pool;
let connection: { host: string; port: number; user: string; database: string };

beforeAll(async () => {
  pglite = await PGlite.create();
  server = new PGliteMultiplexer(pglite);
  const address = await server.listen();
  connection = { ...address, user: 'postgres', database: 'postgres' };
  pool = new pg.Pool({ ...connection, max: 10 });
  await pool.query('create table counter (id int primary key, n int not null)');
  await pool.query('insert into counter values (1, 0)');
});

afterAll(async () => {
  await pool.end();
  await server.close();
  await pglite.close();
});

describe('PGliteMultiplexer', () => {
  it('keeps concurrent parameterised queries, errors and transactions apart', async () => {
    let wrongAnswers = 0;
    let unexpectedErrors = 0;
    let expectedErrors = 0;
    await Promise.all(Array.from({ length: 1500 }, async (_, i) => {
      try {
        if (i % 5 === 0) {
          await pool.query('select 1 / $1::int', [0]);
        } else if (i % 5 === 1) {
          const client = await pool.connect();
          try {
            await client.query('begin');
            const { rows } = await client.query<{ n: number }>('select n from counter where id = $1 for update', [1]);
            await new Promise((resolve) => setTimeout(resolve, 1));
            await client.query('update counter set n = $1 where id = 1', [(rows[0]?.n ?? 0) + 1]);
            await client.query(i % 10 === 1 ? 'rollback' : 'commit');
          } finally {
            client.release();
          }
        } else {
          const { rows } = await pool.query<{ v: number; s: string }>('select $1::int as v, $2::text as s', [i, `s${i}`]);
          if (rows[0]?.v !== i || rows[0]?.s !== `s${i}`) wrongAnswers++;
        }
      } catch (error) {
        if (String(error).includes('division by zero')) expectedErrors++;
        else unexpectedErrors++;
      }
    }));
    expect({ wrongAnswers, unexpectedErrors, expectedErrors }).toEqual({ wrongAnswers: 0, unexpectedErrors: 0, expectedErrors: 300 });
    // 300 transactions, half rolled back: 150 increments, none lost to interleaving.
    expect((await pool.query('select n from counter')).rows[0].n).toBe(150);
  });

  it('rolls back the transaction of a client that disconnects inside it', async () => {
    const client = new pg.Client(connection);
    client.on('error', () => undefined);
    await client.connect();
    await client.query('begin');
    await client.query('update counter set n = -1');
    client.connection.stream.destroy();
    const { rows } = await pool.query('select n from counter');
    expect(rows[0].n).toBe(150);
  });

  it('delivers NOTIFY to a client that LISTENs on another connection', async () => {
    const listener = new pg.Client(connection);
    await listener.connect();
    const received: string[] = [];
    listener.on('notification', (message) => received.push(`${message.channel}:${message.payload}`));
    await listener.query('listen jobs');
    await pool.query(`select pg_notify('jobs', 'hello')`);
    await pool.query(`select pg_notify('other', 'ignored')`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual(['jobs:hello']);
    await listener.end();
  });
});
