/**
 * A MicroTime as the API server parses it (six fractional digits). The library's serialiser writes a
 * Date with toISOString (three digits, refused) but passes a string through unchanged.
 */
export function microTime(d: Date): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}
