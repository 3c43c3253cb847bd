import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

/*
 * A small authoritative DNS server on loopback (UDP, RFC 1035), so that DNS checks run offline
 * against real DNS packets: node:dns's Resolver (c-ares) queries it like any name server. It
 * answers TXT and MX from a fixed zone; a name absent from the zone is NXDOMAIN, a name without
 * the asked type is an empty NOERROR answer.
 */

export interface Zone {
  [name: string]: { TXT?: Array<string | string[]>; MX?: Array<{ priority: number; exchange: string }> };
}

export interface DnsServer {
  /** "127.0.0.1:PORT", for Resolver.setServers or `baton doctor --dns-server`. */
  address: string;
  /** Questions received, "name TYPE", in order. */
  questions: string[];
  close(): Promise<void>;
}

const TYPE = { TXT: 16, MX: 15 } as const;
const TYPE_NAMES: Record<number, string> = { 16: 'TXT', 15: 'MX', 1: 'A', 28: 'AAAA' };

export async function startDnsServer(zone: Zone): Promise<DnsServer> {
  const records = new Map(Object.entries(zone).map(([name, value]) => [name.toLowerCase().replace(/\.$/, ''), value]));
  const socket = dgram.createSocket('udp4');
  const questions: string[] = [];
  socket.on('message', (query, peer) => {
    const answer = respond(query, records, questions);
    if (answer) socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address() as AddressInfo;
  return { address: `127.0.0.1:${port}`, questions, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

function respond(query: Buffer, records: Map<string, Zone[string]>, questions: string[]): Buffer | null {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at] !== 0) {
    const length = query[at] ?? 0;
    labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  const questionEnd = at + 5;
  if (questionEnd > query.length) return null;
  const type = query.readUInt16BE(at + 1);
  const name = labels.join('.').toLowerCase();
  questions.push(`${name} ${TYPE_NAMES[type] ?? type}`);
  const entry = records.get(name);
  const answers: Buffer[] = [];
  if (entry && type === TYPE.TXT) for (const text of entry.TXT ?? []) answers.push(resourceRecord(type, txtData(Array.isArray(text) ? text : [text])));
  if (entry && type === TYPE.MX)
    for (const mx of entry.MX ?? []) answers.push(resourceRecord(type, Buffer.concat([uint16(mx.priority), encodeName(mx.exchange)])));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, AA, RD copied; RA; rcode 3 (NXDOMAIN) for a name outside the zone.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (entry ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

function resourceRecord(type: number, data: Buffer): Buffer {
  // Name: a pointer to the question's name at offset 12; class IN; TTL 60.
  return Buffer.concat([uint16(0xc00c), uint16(type), uint16(1), Buffer.from([0, 0, 0, 60]), uint16(data.length), data]);
}

function txtData(strings: string[]): Buffer {
  return Buffer.concat(
    strings.flatMap((text) => {
      const bytes = Buffer.from(text, 'utf8');
      const parts: Buffer[] = [];
      for (let start = 0; start < bytes.length || start === 0; start += 255)
        parts.push(Buffer.concat([Buffer.from([Math.min(255, bytes.length - start)]), bytes.subarray(start, start + 255)]));
      return parts;
    }),
  );
}

function encodeName(name: string): Buffer {
  return Buffer.concat([
    ...name
      .replace(/\.$/, '')
      .split('.')
      .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')])),
    Buffer.from([0]),
  ]);
}

function uint16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value, 0);
  return buffer;
}
