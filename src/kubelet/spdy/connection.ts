import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import {
  decodeHeaderBlock,
  encodeData,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  FrameReader,
  RstStatus,
  SpdyProtocolError,
  type Frame,
} from './frames.ts';
import { HeaderCompressor, HeaderDecompressor } from './header-codec.ts';

/** Data frames we send are cut to this size, so one large write does not delay a small one behind it. */
const DATA_CHUNK = 32 * 1024;

/**
 * One SPDY/3.1 stream: a Duplex whose readable side is the peer's data and whose writable side goes
 * out as data frames; `end()` sends FIN. Never emits 'error' (a reset stream just closes), so a peer
 * cannot crash us by resetting a stream nobody listens to.
 */
export class SpdyStream extends Duplex {
  readonly id: number;
  /** The headers of the SYN_STREAM that opened it (lower-case names). */
  readonly headers: Map<string, string[]>;
  /** Set when either side reset the stream. */
  resetStatus: number | undefined;
  readonly #conn: SpdyConnection;

  constructor(conn: SpdyConnection, id: number, headers: Map<string, string[]>) {
    super({ allowHalfOpen: true, highWaterMark: 256 * 1024 });
    this.#conn = conn;
    this.id = id;
    this.headers = headers;
  }

  /** The first value of a header, by lower-case name. */
  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** Aborts the stream (RST_STREAM) in both directions. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.resetStatus !== undefined) return;
    this.resetStatus = status;
    this.#conn.sendReset(this.id, status);
    this.destroy();
  }

  override _read(): void {
    this.#conn.resumeFor(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.resetStatus !== undefined) return cb();
    this.#conn.sendData(this.id, chunk, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.resetStatus !== undefined) return cb();
    this.#conn.sendData(this.id, Buffer.alloc(0), true, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#conn.forget(this);
    // Swallowed on purpose (see the class comment); the owner learns of it through 'close'.
    void err;
    cb(null);
  }

  /** Data from the peer. */
  deliver(data: Buffer, fin: boolean): void {
    if (this.destroyed) return;
    if (data.length > 0 && !this.push(data)) this.#conn.pauseFor(this);
    if (fin) this.push(null);
  }
}

export interface SpdyConnectionOptions {
  /** `server`: we accepted the upgrade and the peer opens streams (odd IDs). `client`: we open them. */
  role: 'server' | 'client';
  /**
   * A stream the peer opened. Return a reason to refuse it (it is reset), or nothing to accept it:
   * the SYN_REPLY is sent after this returns, as Kubernetes' own server does.
   */
  onStream?: (stream: SpdyStream) => string | undefined;
  /** Closes the connection after this long without a frame either way (kubelet: 4 h). */
  idleTimeoutMs?: number;
  /** Protocol errors and refused streams, for the log. */
  onProblem?: (message: string) => void;
}

/**
 * A SPDY/3.1 connection on an upgraded socket, speaking the subset Kubernetes uses: streams opened by
 * SYN_STREAM and answered by SYN_REPLY, data with FIN, RST_STREAM, PING (echoed), GOAWAY. Flow control
 * is not enforced in either direction (Go's spdystream never sends WINDOW_UPDATE); backpressure is
 * TCP's: the socket stops being read while any stream's reader is full.
 *
 * Frames are handled strictly in order, and frames we send leave in the order they were asked for,
 * because header blocks share one zlib stream per direction.
 */
export class SpdyConnection extends EventEmitter<{ close: []; goaway: [] }> {
  readonly #socket: Duplex;
  readonly #o: SpdyConnectionOptions;
  readonly #reader = new FrameReader();
  readonly #inflate = new HeaderDecompressor();
  readonly #deflate = new HeaderCompressor();
  readonly #streams = new Map<number, SpdyStream>();
  readonly #pendingReplies = new Map<number, (headers: Map<string, string[]>) => void>();
  readonly #pausedBy = new Set<SpdyStream>();
  #inbox: Frame[] = [];
  #handling = false;
  /** Outgoing frames that wait for a header block to be compressed ahead of them. */
  #outChain: Promise<void> = Promise.resolve();
  #outPending = 0;
  #nextId: number;
  #lastPeerId = 0;
  #closed = false;
  #goingAway = false;
  #peerEnded = false;

  constructor(socket: Duplex, o: SpdyConnectionOptions) {
    super();
    this.#socket = socket;
    this.#o = o;
    this.#nextId = o.role === 'client' ? 1 : 2;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    // The peer's last frames may still wait in the inbox (header blocks inflate asynchronously).
    const gone = () => {
      this.#peerEnded = true;
      if (!this.#handling) this.destroy();
    };
    socket.on('end', gone);
    socket.on('close', gone);
    socket.on('error', () => this.destroy());
    if (o.idleTimeoutMs && 'setTimeout' in socket) {
      (socket as unknown as { setTimeout(ms: number, cb: () => void): void }).setTimeout(
        o.idleTimeoutMs,
        () => this.destroy(),
      );
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Opens a stream (client role) and resolves once the peer replied. */
  async openStream(headers: Record<string, string>, fin = false): Promise<SpdyStream> {
    if (this.#closed) throw new Error('SPDY connection is closed');
    const id = this.#nextId;
    this.#nextId += 2;
    const stream = new SpdyStream(
      this,
      id,
      new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]])),
    );
    this.#streams.set(id, stream);
    const replied = new Promise<Map<string, string[]>>((resolve, reject) => {
      this.#pendingReplies.set(id, resolve);
      stream.once('close', () => reject(new Error(`stream ${id} was reset before the reply`)));
    });
    const block = encodeHeaderBlock(headers);
    this.#sendCompressed(block, (compressed) => encodeSynStream(id, compressed, { fin }));
    await replied;
    return stream;
  }

  /** GOAWAY, then the socket ends once what was written has left. */
  close(): void {
    if (this.#closed || this.#goingAway) return;
    this.#goingAway = true;
    this.#enqueue(() => encodeGoAway(this.#lastPeerId, 0));
    void this.#outChain.then(() => this.#socket.end());
  }

  /** Drops the connection and every stream at once. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#streams.values()]) s.destroy();
    this.#streams.clear();
    this.#inflate.close();
    this.#deflate.close();
    this.#socket.destroy();
    this.emit('close');
  }

  // --- called by SpdyStream ---

  sendData(id: number, data: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    if (this.#closed) return cb();
    let off = 0;
    do {
      const part = data.subarray(off, off + DATA_CHUNK);
      off += part.length;
      const last = off >= data.length;
      this.#enqueue(() => encodeData(id, part, fin && last), last ? cb : undefined);
    } while (off < data.length);
  }

  sendReset(id: number, status: number): void {
    if (!this.#closed) this.#enqueue(() => encodeRstStream(id, status));
  }

  forget(stream: SpdyStream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
    this.resumeFor(stream);
  }

  pauseFor(stream: SpdyStream): void {
    this.#pausedBy.add(stream);
    this.#socket.pause();
  }

  resumeFor(stream: SpdyStream): void {
    if (this.#pausedBy.delete(stream) && this.#pausedBy.size === 0 && !this.#closed) this.#socket.resume();
  }

  // --- inbound ---

  #receive(chunk: Buffer): void {
    try {
      this.#inbox.push(...this.#reader.push(chunk));
    } catch (err) {
      this.#problem(`protocol error: ${(err as Error).message}`);
      this.destroy();
      return;
    }
    void this.#drainInbox();
  }

  async #drainInbox(): Promise<void> {
    if (this.#handling) return;
    this.#handling = true;
    try {
      while (this.#inbox.length > 0 && !this.#closed) {
        const frame = this.#inbox.shift()!;
        await this.#handle(frame);
      }
    } catch (err) {
      this.#problem(`protocol error: ${(err as Error).message}`);
      this.destroy();
    } finally {
      this.#handling = false;
      if (this.#peerEnded && this.#inbox.length === 0) this.destroy();
    }
  }

  async #handle(f: Frame): Promise<void> {
    switch (f.type) {
      case 'data': {
        const s = this.#streams.get(f.streamId);
        if (s) s.deliver(f.data, f.fin);
        else if (f.streamId > this.#lastPeerId && this.#o.role === 'server') {
          this.sendReset(f.streamId, RstStatus.INVALID_STREAM);
        }
        return;
      }
      case 'syn_stream': {
        // Always inflate, even for a stream we refuse: the zlib stream must see every block.
        const headers = decodeHeaderBlock(await this.#inflate.decompress(f.headerBlock));
        if (f.streamId % 2 === this.#nextId % 2 || f.streamId <= this.#lastPeerId) {
          throw new SpdyProtocolError(`peer opened stream ${f.streamId} out of sequence`);
        }
        this.#lastPeerId = f.streamId;
        if (this.#goingAway) {
          this.sendReset(f.streamId, RstStatus.REFUSED_STREAM);
          return;
        }
        const stream = new SpdyStream(this, f.streamId, headers);
        const refusal = this.#o.onStream?.(stream) ?? (this.#o.onStream ? undefined : 'no streams accepted');
        if (refusal !== undefined) {
          this.#problem(`refused stream ${f.streamId}: ${refusal}`);
          this.sendReset(f.streamId, RstStatus.REFUSED_STREAM);
          stream.resetStatus = RstStatus.REFUSED_STREAM;
          stream.destroy();
          return;
        }
        this.#streams.set(f.streamId, stream);
        this.#sendCompressed(encodeHeaderBlock({}), (compressed) => encodeSynReply(f.streamId, compressed));
        if (f.fin) stream.deliver(Buffer.alloc(0), true);
        return;
      }
      case 'syn_reply': {
        decodeHeaderBlock(await this.#inflate.decompress(f.headerBlock));
        const resolve = this.#pendingReplies.get(f.streamId);
        this.#pendingReplies.delete(f.streamId);
        resolve?.(new Map());
        if (f.fin) this.#streams.get(f.streamId)?.deliver(Buffer.alloc(0), true);
        return;
      }
      case 'headers':
        decodeHeaderBlock(await this.#inflate.decompress(f.headerBlock));
        if (f.fin) this.#streams.get(f.streamId)?.deliver(Buffer.alloc(0), true);
        return;
      case 'rst_stream': {
        const s = this.#streams.get(f.streamId);
        if (s) {
          s.resetStatus = f.status;
          s.destroy();
        }
        return;
      }
      case 'ping':
        // Our own pings carry our parity; the peer's are answered with the same ID.
        if (f.id % 2 !== this.#nextId % 2) this.#enqueue(() => encodePing(f.id));
        return;
      case 'goaway':
        this.#goingAway = true;
        this.emit('goaway');
        return;
      case 'settings':
      case 'window_update':
      case 'unknown':
        // No flow control to honour (see the class comment); unknown control frames are ignored (spec).
        return;
    }
  }

  // --- outbound ---

  /** Writes a frame in order with everything sent before it. */
  #enqueue(build: () => Buffer, cb?: (err?: Error | null) => void): void {
    if (this.#outPending === 0) {
      this.#write(build(), cb);
      return;
    }
    this.#outPending++;
    this.#outChain = this.#outChain.then(() => {
      this.#outPending--;
      this.#write(build(), cb);
    });
  }

  /** A frame with a header block: compressed in order, then written in order. */
  #sendCompressed(block: Buffer, build: (compressed: Buffer) => Buffer): void {
    this.#outPending++;
    const compressed = this.#deflate.compress(block);
    this.#outChain = this.#outChain.then(async () => {
      const c = await compressed.catch(() => undefined);
      this.#outPending--;
      if (c !== undefined) this.#write(build(c));
      else this.destroy();
    });
  }

  #write(frame: Buffer, cb?: (err?: Error | null) => void): void {
    if (this.#closed || this.#socket.destroyed) {
      cb?.();
      return;
    }
    const ok = this.#socket.write(frame);
    if (!cb) return;
    if (ok) cb();
    else {
      const done = () => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        cb();
      };
      this.#socket.once('drain', done);
      this.#socket.once('close', done);
    }
  }

  #problem(message: string): void {
    this.#o.onProblem?.(message);
  }
}
