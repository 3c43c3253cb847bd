import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { answerClientFinal, answerClientFirst, SCRAM_MECHANISM, scramVerifier, type ScramState, type ScramVerifier } from './scram.js';

/*
 * Serves one embedded PGlite database to many `pg` connections (the app's pool and Agenda's).
 *
 * Why not PGLiteSocketServer's own multiplexer: it interleaves connections message by message,
 * so one client's Parse can land between another's Parse and Bind. PGlite has one backend, whose
 * unnamed statement and portal are shared, and concurrent parameterised queries then fail with
 * "portal does not exist" or, worse, run with another client's parameters (seen in testing).
 *
 * Here a connection's messages are grouped into units that end at Sync or a simple Query, and a
 * unit runs whole. A connection whose unit leaves the backend inside a transaction (or without a
 * ReadyForQuery) keeps the backend until it is idle again, so transactions never mix. Async
 * notifications (LISTEN/NOTIFY) come out in the output of whoever ran NOTIFY; they are copied to
 * every other connection, and clients that do not listen ignore them.
 *
 * Any local user can reach a loopback port, so a client must first prove it knows the password
 * (SCRAM-SHA-256, as PostgreSQL does) before its startup message reaches PGlite, which has no
 * authentication of its own (issue 16: `psql -U postgres` read every lead).
 */

const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
const UNIT_ENDING_MESSAGES = new Set(['S', 'Q']);
const ROLLBACK_QUERY = simpleQueryMessage('ROLLBACK');
// Before authentication a client may send only small messages, for a limited time: PostgreSQL's
// authentication_timeout, generous because PGlite's long statements block this event loop.
const MAX_UNAUTHENTICATED_MESSAGE = 10_000;
const AUTHENTICATION_TIMEOUT_MS = 60_000;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

/** Where a connection is in the handshake; only `ready` connections reach PGlite. */
type AuthState =
  | { step: 'startup' }
  | { step: 'sasl-first'; startup: Buffer }
  | { step: 'sasl-final'; startup: Buffer; scram: ScramState }
  | { step: 'ready' }
  | { step: 'refused' };

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  buffer: Buffer;
  started: boolean;
  pending: Buffer[];
  closed: boolean;
  auth: AuthState;
}

interface Unit {
  readonly connection: Connection;
  readonly bytes: Uint8Array;
}

export interface MultiplexerAddress {
  host: string;
  port: number;
}

export interface MultiplexerOptions {
  /** The password clients must prove they know (SCRAM-SHA-256); any user name is accepted. */
  password: string;
}

export class PGliteMultiplexer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly queue: Unit[] = [];
  private owner: Connection | null = null;
  private pumping = false;
  private nextId = 1;
  private readonly verifier: ScramVerifier;

  constructor(
    private readonly db: PGlite,
    options: MultiplexerOptions,
  ) {
    if (options.password === '') throw new Error('the embedded database needs a password');
    this.verifier = scramVerifier(options.password);
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(host = '127.0.0.1', port = 0): Promise<MultiplexerAddress> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('embedded database server has no TCP address');
    return { host, port: address.port };
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const connection: Connection = {
      id: this.nextId++,
      socket,
      buffer: Buffer.alloc(0),
      started: false,
      pending: [],
      closed: false,
      auth: { step: 'startup' },
    };
    this.connections.add(connection);
    const timer = setTimeout(() => {
      if (connection.auth.step !== 'ready') socket.destroy();
    }, AUTHENTICATION_TIMEOUT_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.on('data', (chunk) => this.receive(connection, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => void this.disconnect(connection));
  }

  private receive(connection: Connection, chunk: Buffer): void {
    connection.buffer = connection.buffer.length === 0 ? chunk : Buffer.concat([connection.buffer, chunk]);
    while (!connection.closed && connection.auth.step !== 'refused') {
      if (connection.auth.step !== 'ready' && declaredLength(connection) > MAX_UNAUTHENTICATED_MESSAGE) {
        this.refuse(connection, '08P01', 'message too long before authentication');
        return;
      }
      // A length shorter than the message's own header is no message: parsing it would read past
      // its end (and throw in a socket listener, taking the process down) or never advance.
      if (hasImpossibleLength(connection)) {
        this.refuse(connection, '08P01', 'invalid message length');
        return;
      }
      const message = connection.started ? takeTypedMessage(connection) : takeStartupMessage(connection);
      if (message === null) return;
      if (connection.auth.step === 'ready') this.handle(connection, message);
      else this.authenticate(connection, message);
    }
  }

  /** The handshake: startup message, then SCRAM; the startup message goes to PGlite once it passes. */
  private authenticate(connection: Connection, message: Buffer): void {
    const { auth } = connection;
    if (auth.step === 'startup') {
      const code = message.readInt32BE(4);
      if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
        connection.socket.write('N');
        return;
      }
      if (code === CANCEL_REQUEST_CODE) {
        connection.socket.end();
        return;
      }
      connection.started = true;
      connection.auth = { step: 'sasl-first', startup: message };
      connection.socket.write(authenticationMessage(AUTH_SASL, Buffer.from(`${SCRAM_MECHANISM}\0\0`)));
      return;
    }
    if (auth.step === 'ready' || auth.step === 'refused') return;
    const data = saslData(message, auth.step === 'sasl-first');
    if (data === null) {
      this.refuse(connection, '28000', 'SCRAM-SHA-256 authentication expected');
      return;
    }
    if (auth.step === 'sasl-first') {
      const first = answerClientFirst(data, this.verifier);
      if (!first.ok) return this.refuse(connection, '28000', first.reason);
      connection.auth = { step: 'sasl-final', startup: auth.startup, scram: first.state };
      connection.socket.write(authenticationMessage(AUTH_SASL_CONTINUE, Buffer.from(first.serverFirst)));
      return;
    }
    const final = answerClientFinal(data, auth.scram, this.verifier);
    // PostgreSQL's wording, so clients and people recognise it; the reason stays on this side.
    if (!final.ok) return this.refuse(connection, '28P01', 'password authentication failed');
    connection.auth = { step: 'ready' };
    connection.socket.write(authenticationMessage(AUTH_SASL_FINAL, Buffer.from(final.serverFinal)));
    // PGlite answers the startup message with AuthenticationOk, parameters and ReadyForQuery.
    this.enqueue(connection, auth.startup);
  }

  private refuse(connection: Connection, code: string, message: string): void {
    connection.auth = { step: 'refused' };
    connection.socket.end(errorResponse(code, message));
  }

  private handle(connection: Connection, message: Buffer): void {
    const type = String.fromCharCode(message[0] ?? 0);
    if (type === 'X') {
      connection.socket.end();
      return;
    }
    connection.pending.push(message);
    if (UNIT_ENDING_MESSAGES.has(type)) {
      const unit = Buffer.concat(connection.pending);
      connection.pending = [];
      this.enqueue(connection, unit);
    }
  }

  private enqueue(connection: Connection, bytes: Uint8Array): void {
    this.queue.push({ connection, bytes });
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const index = this.owner === null ? 0 : this.queue.findIndex((unit) => unit.connection === this.owner);
        if (index < 0 || index >= this.queue.length) return;
        const [unit] = this.queue.splice(index, 1);
        if (unit) await this.run(unit);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async run(unit: Unit): Promise<void> {
    const { connection } = unit;
    if (connection.closed) return;
    let output: Buffer;
    try {
      output = await this.execute(unit.bytes);
    } catch {
      connection.socket.destroy();
      return;
    }
    const scan = scanBackendMessages(output);
    this.owner = scan.lastReadyStatus === 'I' ? null : connection;
    if (connection.closed) {
      if (this.owner === connection) await this.releaseAbandonedTransaction();
      return;
    }
    connection.socket.write(output);
    if (scan.notifications.length > 0) {
      const copies = Buffer.concat(scan.notifications);
      // Only to signed-in clients: a client still in the handshake must learn nothing.
      for (const other of this.connections) if (other !== connection && !other.closed && other.auth.step === 'ready') other.socket.write(copies);
    }
  }

  private async execute(bytes: Uint8Array): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    await this.db.runExclusive(() => this.db.execProtocolRawStream(bytes, { onRawData: (data: Uint8Array) => void chunks.push(Buffer.from(data)) }));
    return Buffer.concat(chunks);
  }

  private async disconnect(connection: Connection): Promise<void> {
    if (connection.closed) return;
    connection.closed = true;
    this.connections.delete(connection);
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]?.connection === connection) this.queue.splice(i, 1);
    if (this.owner === connection && !this.pumping) await this.releaseAbandonedTransaction();
    void this.pump();
  }

  /** A client went away inside a transaction: end it, or every other client waits forever. */
  private async releaseAbandonedTransaction(): Promise<void> {
    try {
      await this.execute(ROLLBACK_QUERY);
    } finally {
      this.owner = null;
    }
  }
}

/** The length the next message announces, so a huge one is refused before it is buffered. */
/** A startup message is at least 8 bytes (length, code); a typed message's length counts at least itself (4). */
function hasImpossibleLength(connection: Connection): boolean {
  if (connection.started) return connection.buffer.length >= 5 && connection.buffer.readInt32BE(1) < 4;
  return connection.buffer.length >= 4 && connection.buffer.readInt32BE(0) < 8;
}

function declaredLength(connection: Connection): number {
  if (connection.started) return connection.buffer.length < 5 ? 0 : 1 + connection.buffer.readInt32BE(1);
  return connection.buffer.length < 4 ? 0 : connection.buffer.readInt32BE(0);
}

/** The SCRAM text of a SASLInitialResponse (`first`, naming the mechanism) or a SASLResponse. */
function saslData(message: Buffer, first: boolean): string | null {
  if (String.fromCharCode(message[0] ?? 0) !== 'p') return null;
  if (!first) return message.subarray(5).toString('utf8');
  const nameEnd = message.indexOf(0, 5);
  if (nameEnd < 0 || message.subarray(5, nameEnd).toString('utf8') !== SCRAM_MECHANISM || nameEnd + 5 > message.length) return null;
  const length = message.readInt32BE(nameEnd + 1);
  return length < 0 ? null : message.subarray(nameEnd + 5, nameEnd + 5 + length).toString('utf8');
}

function authenticationMessage(code: number, data: Buffer): Buffer {
  const message = Buffer.alloc(9 + data.length);
  message.write('R', 0, 'ascii');
  message.writeInt32BE(8 + data.length, 1);
  message.writeInt32BE(code, 5);
  data.copy(message, 9);
  return message;
}

function errorResponse(code: string, text: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${text}\0\0`, 'utf8');
  const message = Buffer.alloc(5 + fields.length);
  message.write('E', 0, 'ascii');
  message.writeInt32BE(4 + fields.length, 1);
  fields.copy(message, 5);
  return message;
}

function takeStartupMessage(connection: Connection): Buffer | null {
  if (connection.buffer.length < 8) return null;
  const length = connection.buffer.readInt32BE(0);
  return takeBytes(connection, length);
}

function takeTypedMessage(connection: Connection): Buffer | null {
  if (connection.buffer.length < 5) return null;
  const length = 1 + connection.buffer.readInt32BE(1);
  return takeBytes(connection, length);
}

function takeBytes(connection: Connection, length: number): Buffer | null {
  if (connection.buffer.length < length) return null;
  const message = connection.buffer.subarray(0, length);
  connection.buffer = connection.buffer.subarray(length);
  return Buffer.from(message);
}

interface BackendScan {
  lastReadyStatus: string | null;
  notifications: Buffer[];
}

/** Walks backend messages: the last ReadyForQuery status and any NotificationResponse messages. */
function scanBackendMessages(output: Buffer): BackendScan {
  const scan: BackendScan = { lastReadyStatus: null, notifications: [] };
  let offset = 0;
  while (offset + 5 <= output.length) {
    const type = String.fromCharCode(output[offset] ?? 0);
    const end = offset + 1 + output.readInt32BE(offset + 1);
    if (end > output.length) break;
    if (type === 'Z') scan.lastReadyStatus = String.fromCharCode(output[offset + 5] ?? 0);
    if (type === 'A') scan.notifications.push(output.subarray(offset, end));
    offset = end;
  }
  return scan;
}

function simpleQueryMessage(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.alloc(5 + text.length);
  message.write('Q', 0, 'ascii');
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}
