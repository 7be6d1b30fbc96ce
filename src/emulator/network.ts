/** IPv4 CIDR blocks and the per-vSwitch address pools pod IPs are drawn from. */

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
  size: number;
}

export function parseCidr(text: string): Cidr | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (m === null) return null;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return null;
  const addr = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const size = 2 ** (32 - prefix);
  const base = prefix === 0 ? 0 : (addr & ~(size - 1)) >>> 0;
  return { base, prefix, size };
}

export function ipToNumber(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (m === null) return null;
  const o = m.slice(1, 5).map(Number);
  if (o.some((x) => x > 255)) return null;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

export function numberToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
}

/**
 * Addresses of one vSwitch. Like a VPC vSwitch, the first three and the last address of the block are
 * reserved. Allocation walks forward from the last address handed out, so a released address is not
 * reused at once (clients that cache pod IPs notice reuse late, as in the cloud).
 */
export class IpPool {
  readonly cidr: Cidr;
  readonly #used = new Set<number>();
  #cursor: number;
  readonly #first: number;
  readonly #last: number;

  constructor(cidr: Cidr) {
    this.cidr = cidr;
    this.#first = cidr.base + 3;
    this.#last = cidr.base + cidr.size - 2;
    this.#cursor = this.#first;
  }

  get capacity(): number {
    return Math.max(0, this.#last - this.#first + 1);
  }

  get inUse(): number {
    return this.#used.size;
  }

  contains(ip: string): boolean {
    const n = ipToNumber(ip);
    return n !== null && n >= this.#first && n <= this.#last;
  }

  /** Returns a free address, or null when the block is exhausted. */
  allocate(): string | null {
    if (this.#used.size >= this.capacity) return null;
    for (let i = 0; i < this.capacity; i++) {
      const n = this.#cursor;
      this.#cursor = this.#cursor >= this.#last ? this.#first : this.#cursor + 1;
      if (!this.#used.has(n)) {
        this.#used.add(n);
        return numberToIp(n);
      }
    }
    return null;
  }

  /** Claims a specific address (a requested PrivateIpAddress, or one replayed from the journal). */
  claim(ip: string): boolean {
    const n = ipToNumber(ip);
    if (n === null || n < this.#first || n > this.#last || this.#used.has(n)) return false;
    this.#used.add(n);
    return true;
  }

  release(ip: string): void {
    const n = ipToNumber(ip);
    if (n !== null) this.#used.delete(n);
  }

  isUsed(ip: string): boolean {
    const n = ipToNumber(ip);
    return n !== null && this.#used.has(n);
  }
}
