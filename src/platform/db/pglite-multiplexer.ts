import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

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
 */

const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
const UNIT_ENDING_MESSAGES = new Set(['S', 'Q']);
const ROLLBACK_QUERY = simpleQueryMessage('ROLLBACK');

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  buffer: Buffer;
  started: boolean;
  pending: Buffer[];
  closed: boolean;
}

interface Unit {
  readonly connection: Connection;
  readonly bytes: Uint8Array;
}

export interface MultiplexerAddress {
  host: string;
  port: number;
}

export class PGliteMultiplexer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly queue: Unit[] = [];
  private owner: Connection | null = null;
  private pumping = false;
  private nextId = 1;

  constructor(private readonly db: PGlite) {
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
    const connection: Connection = { id: this.nextId++, socket, buffer: Buffer.alloc(0), started: false, pending: [], closed: false };
    this.connections.add(connection);
    socket.on('data', (chunk) => this.receive(connection, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => void this.disconnect(connection));
  }

  private receive(connection: Connection, chunk: Buffer): void {
    connection.buffer = connection.buffer.length === 0 ? chunk : Buffer.concat([connection.buffer, chunk]);
    while (!connection.closed) {
      const message = connection.started ? takeTypedMessage(connection) : takeStartupMessage(connection);
      if (message === null) return;
      this.handle(connection, message);
    }
  }

  private handle(connection: Connection, message: Buffer): void {
    if (!connection.started) {
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
      this.enqueue(connection, message);
      return;
    }
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
      for (const other of this.connections) if (other !== connection && !other.closed) other.socket.write(copies);
    }
  }

  private async execute(bytes: Uint8Array): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(bytes, { onRawData: (data: Uint8Array) => void chunks.push(Buffer.from(data)) }),
    );
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
