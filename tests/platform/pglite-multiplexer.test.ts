import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { openDatabase } from '../../src/platform/db/database.js';
import { PGliteMultiplexer } from '../../src/platform/db/pglite-multiplexer.js';

/*
 * The embedded database's socket server, under the traffic that broke PGLiteSocketServer's own
 * multiplexer: concurrent parameterised queries, failing statements and transactions.
 */

let pglite: PGlite;
let server: PGliteMultiplexer;
let pool: pg.Pool;
let connection: { host: string; port: number; user: string; database: string; password: string };
const PASSWORD = 'test-password-0123456789';

beforeAll(async () => {
  pglite = await PGlite.create();
  server = new PGliteMultiplexer(pglite, { password: PASSWORD });
  const address = await server.listen();
  connection = { ...address, user: 'postgres', database: 'postgres', password: PASSWORD };
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
    await Promise.all(
      Array.from({ length: 1500 }, async (_, i) => {
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
      }),
    );
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

/** Connects and runs one query; the error message when the server refuses. */
async function tryConnect(options: pg.ClientConfig): Promise<string> {
  const client = new pg.Client(options);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String((await client.query<{ n: number }>('select 41 + 1 as n')).rows[0]?.n);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('PGliteMultiplexer authentication (issue 16: psql -U postgres read every lead)', () => {
  it('refuses a client without the password or with a wrong one, and accepts the right one over SCRAM-SHA-256', async () => {
    const { password: _password, ...withoutPassword } = connection;
    expect(await tryConnect(withoutPassword)).toMatch(/SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string/);
    expect(await tryConnect({ ...connection, password: 'wrong-password' })).toBe('password authentication failed');
    expect(await tryConnect({ ...connection, password: `${PASSWORD}x` })).toBe('password authentication failed');
    expect(await tryConnect({ ...connection, user: 'anyone' })).toBe('42');
    expect(await tryConnect(connection)).toBe('42');
  });

  it('refuses psql without the password and serves it with the password', async () => {
    const run = promisify(execFile);
    const args = ['-h', connection.host, '-p', String(connection.port), '-U', 'postgres', '-w', '-At', '-c', 'select n from counter', 'postgres'];
    const env = { PATH: process.env.PATH ?? '' };
    const refused = await run('psql', args, { env }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/no password supplied|password authentication failed/);
    expect((await run('psql', args, { env: { ...env, PGPASSWORD: 'wrong' } }).catch((error: { stderr: string }) => error)).stderr).toContain(
      'password authentication failed',
    );
    const served = await run('psql', args, { env: { ...env, PGPASSWORD: PASSWORD } });
    expect(served.stdout.trim()).toBe('150');
  });

  it('answers a client that skips authentication with an error and never runs its query', async () => {
    // A hand-written startup message followed at once by a query, as if auth were not asked for.
    const socket = net.connect(connection.port, connection.host);
    const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    params.copy(startup, 8);
    const sql = Buffer.from('update counter set n = -7\0');
    const query = Buffer.alloc(5 + sql.length);
    query.write('Q', 0);
    query.writeInt32BE(4 + sql.length, 1);
    sql.copy(query, 5);
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    socket.write(Buffer.concat([startup, query]));
    // Today's answer: the server closes the connection. Were it to wait instead, fail after 10 s.
    await Promise.race([new Promise((resolve) => socket.on('close', resolve)), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    socket.destroy();
    const answer = Buffer.concat(received).toString('latin1');
    expect(answer.startsWith('R')).toBe(true); // AuthenticationSASL
    expect(answer).toContain('SCRAM-SHA-256');
    expect(answer).toContain('C28000');
    expect((await pool.query('select n from counter')).rows[0].n).toBe(150);
  });
  it('refuses messages whose length is shorter than their header, before and after sign-in, and keeps serving', async () => {
    const answerTo = async (bytes: Buffer) => {
      const socket = net.connect(connection.port, connection.host);
      const received: Buffer[] = [];
      socket.on('data', (chunk) => received.push(chunk));
      socket.on('error', () => undefined);
      socket.write(bytes);
      await Promise.race([new Promise((resolve) => socket.on('close', resolve)), new Promise((resolve) => setTimeout(resolve, 5000))]);
      socket.destroy();
      return Buffer.concat(received).toString('latin1');
    };
    // A startup message claiming 0 bytes used to throw inside the socket listener and end the process.
    expect(await answerTo(Buffer.alloc(8))).toContain('C08P01');
    const tiny = Buffer.alloc(8);
    tiny.writeInt32BE(5, 0);
    expect(await answerTo(tiny)).toContain('C08P01');
    // After sign-in too: a typed message whose length is under 4.
    const client = new pg.Client(connection);
    await client.connect();
    const closed = new Promise((resolve) => client.on('error', () => resolve(null)).on('end', () => resolve(null)));
    (client as unknown as { connection: { stream: net.Socket } }).connection.stream.write(Buffer.from([0x51, 0, 0, 0, 1]));
    await closed;
    expect((await pool.query('select 1 as one')).rows[0].one).toBe(1);
  });

  it('sends NOTIFY only to signed-in clients, never to one still in the handshake', async () => {
    const waiting = net.connect(connection.port, connection.host);
    const received: Buffer[] = [];
    waiting.on('data', (chunk) => received.push(chunk));
    const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    params.copy(startup, 8);
    waiting.write(startup);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await pool.query(`select pg_notify('baton_lead_erased', 'secret-lead-id')`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    waiting.destroy();
    expect(Buffer.concat(received).toString('latin1')).not.toContain('secret-lead-id');
  });
});

describe('the embedded database of a data directory', () => {
  it("keeps a generated password in secrets.json, which Baton's own pool uses, across restarts", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'baton-pgpass-'));
    try {
      const first = await openDatabase({ url: null, embeddedDir: dir, poolSize: 2 });
      const { port } = first.pool.options;
      expect(await first.ping()).toBe(true);
      const stored = JSON.parse(await readFile(path.join(dir, 'secrets.json'), 'utf8'));
      expect(stored.databasePassword).toMatch(/^[\w-]{32}$/);
      expect(await tryConnect({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' })).toMatch(/client password must be a string/);
      expect(await tryConnect({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', password: stored.databasePassword })).toBe('42');
      await first.close();

      const second = await openDatabase({ url: null, embeddedDir: dir, poolSize: 2 });
      expect(await second.ping()).toBe(true);
      expect(JSON.parse(await readFile(path.join(dir, 'secrets.json'), 'utf8')).databasePassword).toBe(stored.databasePassword);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
