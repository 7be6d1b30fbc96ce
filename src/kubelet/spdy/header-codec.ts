import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.ts';

/**
 * One direction of SPDY/3 header compression: a single zlib stream primed with the SPDY dictionary,
 * shared by every header block of the connection in that direction and flushed (Z_SYNC_FLUSH) after
 * each block, so the peer can decode a block as soon as it arrives. Calls are serialised: the zlib
 * state depends on the order of blocks. Async, so a large block never blocks the event loop.
 */
class ZlibDirection {
  readonly #z: zlib.Deflate | zlib.Inflate;
  #out: Buffer[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #failed: Error | undefined;

  constructor(z: zlib.Deflate | zlib.Inflate) {
    this.#z = z;
    z.on('data', (c: Buffer) => this.#out.push(c));
    z.on('error', (err: Error) => (this.#failed = err));
  }

  run(input: Buffer): Promise<Buffer> {
    const next = this.#chain.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          if (this.#failed) return reject(this.#failed);
          this.#out = [];
          this.#z.write(input);
          this.#z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            if (this.#failed) reject(this.#failed);
            else resolve(Buffer.concat(this.#out));
          });
        }),
    );
    this.#chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.#z.close();
  }
}

export class HeaderCompressor {
  readonly #d = new ZlibDirection(zlib.createDeflate({ dictionary: SPDY3_DICTIONARY }));
  compress(block: Buffer): Promise<Buffer> {
    return this.#d.run(block);
  }
  close(): void {
    this.#d.close();
  }
}

export class HeaderDecompressor {
  readonly #d = new ZlibDirection(zlib.createInflate({ dictionary: SPDY3_DICTIONARY }));
  /** Rejects when the bytes are not a valid continuation of the peer's zlib stream. */
  decompress(block: Buffer): Promise<Buffer> {
    return this.#d.run(block);
  }
  close(): void {
    this.#d.close();
  }
}
