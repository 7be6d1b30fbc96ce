/** The process environment as the commands read it: a snapshot, never written. */
export type Env = Readonly<Record<string, string | undefined>>;
