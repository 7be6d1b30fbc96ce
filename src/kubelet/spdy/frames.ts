/**
 * SPDY/3 frames (draft 3, section 2.2): the byte layout only, no state. A control frame is
 * `1 | version(15) | type(16) | flags(8) | length(24) | body`; a data frame is
 * `0 | stream id(31) | flags(8) | length(24) | data`. Header blocks travel compressed; this file
 * carries them as opaque bytes (see header-codec.ts), and encodes/decodes the uncompressed block
 * (`count(32)` then `len(32) name len(32) value` pairs, names lower case, values NUL-separated).
 *
 * Why our own: the npm `spdy`/`spdy-transport` packages are unmaintained, insist on HTTP-style
 * `:method`/`:path` headers that Kubernetes' streams do not carry, and stall after 64 KiB because they
 * enforce a flow-control window that Go's spdystream never opens. The protocol subset Kubernetes uses
 * is small enough to own.
 */

export const SPDY_VERSION = 3;

export const FrameTypes = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
} as const;

/** Largest data frame payload (24-bit length). */
export const MAX_DATA_LENGTH = 0xffffff;

export type Frame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | {
      type: 'syn_stream';
      streamId: number;
      associatedId: number;
      priority: number;
      fin: boolean;
      unidirectional: boolean;
      headerBlock: Buffer;
    }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'headers'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  | { type: 'unknown'; frameType: number };

export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

const HEADER = 8;
const STREAM_ID_MASK = 0x7fffffff;

/**
 * Splits a byte stream into frames. Feed it socket chunks; it returns the frames completed so far
 * and keeps the rest. Rejects frames larger than `maxFrameBytes` (a peer's garbage must not make us
 * buffer 16 MiB per frame forever).
 */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);
  readonly #max: number;

  constructor(maxFrameBytes = MAX_DATA_LENGTH + HEADER) {
    this.#max = maxFrameBytes;
  }

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const frames: Frame[] = [];
    while (this.#buf.length >= HEADER) {
      const length = this.#buf.readUInt32BE(4) & 0xffffff;
      if (length + HEADER > this.#max) throw new SpdyProtocolError(`frame of ${length} bytes is too large`);
      if (this.#buf.length < HEADER + length) break;
      const frame = this.#buf.subarray(0, HEADER + length);
      this.#buf = this.#buf.subarray(HEADER + length);
      frames.push(decodeFrame(frame));
    }
    return frames;
  }
}

/** Decodes one complete frame (header included). */
export function decodeFrame(b: Buffer): Frame {
  const first = b.readUInt32BE(0);
  const flags = b[4]!;
  const body = b.subarray(HEADER);
  if ((first & 0x80000000) === 0) {
    return { type: 'data', streamId: first & STREAM_ID_MASK, fin: (flags & FLAG_FIN) !== 0, data: body };
  }
  const version = (first >>> 16) & 0x7fff;
  if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
  const type = first & 0xffff;
  const need = (n: number) => {
    if (body.length < n) throw new SpdyProtocolError(`control frame type ${type} shorter than ${n} bytes`);
  };
  const fin = (flags & FLAG_FIN) !== 0;
  switch (type) {
    case FrameTypes.SYN_STREAM:
      need(10);
      return {
        type: 'syn_stream',
        streamId: body.readUInt32BE(0) & STREAM_ID_MASK,
        associatedId: body.readUInt32BE(4) & STREAM_ID_MASK,
        priority: body[8]! >> 5,
        fin,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        headerBlock: body.subarray(10),
      };
    case FrameTypes.SYN_REPLY:
      need(4);
      return {
        type: 'syn_reply',
        streamId: body.readUInt32BE(0) & STREAM_ID_MASK,
        fin,
        headerBlock: body.subarray(4),
      };
    case FrameTypes.HEADERS:
      need(4);
      return {
        type: 'headers',
        streamId: body.readUInt32BE(0) & STREAM_ID_MASK,
        fin,
        headerBlock: body.subarray(4),
      };
    case FrameTypes.RST_STREAM:
      need(8);
      return {
        type: 'rst_stream',
        streamId: body.readUInt32BE(0) & STREAM_ID_MASK,
        status: body.readUInt32BE(4),
      };
    case FrameTypes.SETTINGS: {
      need(4);
      const n = body.readUInt32BE(0);
      need(4 + n * 8);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const flagsAndId = body.readUInt32BE(4 + i * 8);
        entries.push({
          flags: flagsAndId >>> 24,
          id: flagsAndId & 0xffffff,
          value: body.readUInt32BE(8 + i * 8),
        });
      }
      return { type: 'settings', entries };
    }
    case FrameTypes.PING:
      need(4);
      return { type: 'ping', id: body.readUInt32BE(0) };
    case FrameTypes.GOAWAY:
      need(4);
      return {
        type: 'goaway',
        lastGoodStreamId: body.readUInt32BE(0) & STREAM_ID_MASK,
        status: body.length >= 8 ? body.readUInt32BE(4) : 0,
      };
    case FrameTypes.WINDOW_UPDATE:
      need(8);
      return {
        type: 'window_update',
        streamId: body.readUInt32BE(0) & STREAM_ID_MASK,
        delta: body.readUInt32BE(4) & STREAM_ID_MASK,
      };
    default:
      return { type: 'unknown', frameType: type };
  }
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32BE((0x80000000 | (SPDY_VERSION << 16) | type) >>> 0, 0);
  h.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return h;
}

export function encodeData(streamId: number, data: Buffer, fin: boolean): Buffer {
  if (data.length > MAX_DATA_LENGTH) throw new RangeError('data frame too large; split it');
  const h = Buffer.alloc(HEADER);
  h.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  h.writeUInt32BE((((fin ? FLAG_FIN : 0) << 24) | data.length) >>> 0, 4);
  return data.length === 0 ? h : Buffer.concat([h, data]);
}

export function encodeSynStream(
  streamId: number,
  compressedHeaders: Buffer,
  o: { fin?: boolean; unidirectional?: boolean; associatedId?: number; priority?: number } = {},
): Buffer {
  const flags = (o.fin ? FLAG_FIN : 0) | (o.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
  const body = Buffer.alloc(10);
  body.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  body.writeUInt32BE((o.associatedId ?? 0) & STREAM_ID_MASK, 4);
  body[8] = ((o.priority ?? 0) & 7) << 5;
  return Buffer.concat([
    controlHeader(FrameTypes.SYN_STREAM, flags, 10 + compressedHeaders.length),
    body,
    compressedHeaders,
  ]);
}

export function encodeSynReply(streamId: number, compressedHeaders: Buffer, fin = false): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(streamId & STREAM_ID_MASK);
  return Buffer.concat([
    controlHeader(FrameTypes.SYN_REPLY, fin ? FLAG_FIN : 0, 4 + compressedHeaders.length),
    id,
    compressedHeaders,
  ]);
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  body.writeUInt32BE(status, 4);
  return Buffer.concat([controlHeader(FrameTypes.RST_STREAM, 0, 8), body]);
}

export function encodePing(id: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(id >>> 0);
  return Buffer.concat([controlHeader(FrameTypes.PING, 0, 4), body]);
}

export function encodeGoAway(lastGoodStreamId: number, status = 0): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(lastGoodStreamId & STREAM_ID_MASK, 0);
  body.writeUInt32BE(status, 4);
  return Buffer.concat([controlHeader(FrameTypes.GOAWAY, 0, 8), body]);
}

/** Headers as SPDY carries them: lower-case names, each with one or more values. */
export type SpdyHeaders = ReadonlyMap<string, readonly string[]>;

/** The uncompressed header block of `headers`. */
export function encodeHeaderBlock(headers: SpdyHeaders | Record<string, string>): Buffer {
  const entries: [string, string][] =
    headers instanceof Map
      ? [...(headers as SpdyHeaders)].map(([k, v]) => [k, v.join('\0')])
      : Object.entries(headers);
  const parts: Buffer[] = [u32(entries.length)];
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/** Parses an uncompressed header block; rejects what Go's spdystream would reject. */
export function decodeHeaderBlock(b: Buffer): Map<string, string[]> {
  let off = 0;
  const take = (n: number): Buffer => {
    if (off + n > b.length) throw new SpdyProtocolError('truncated header block');
    const out = b.subarray(off, off + n);
    off += n;
    return out;
  };
  const count = take(4).readUInt32BE(0);
  const headers = new Map<string, string[]>();
  for (let i = 0; i < count; i++) {
    const name = take(take(4).readUInt32BE(0)).toString('utf8');
    const value = take(take(4).readUInt32BE(0)).toString('utf8');
    if (name !== name.toLowerCase()) throw new SpdyProtocolError(`header ${name} is not lower case`);
    if (headers.has(name)) throw new SpdyProtocolError(`header ${name} appears twice`);
    headers.set(name, value.split('\0'));
  }
  return headers;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
