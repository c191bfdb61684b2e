/**
 * The revocation log of a deployment on Redis: what a {@link RedisRevocationView} replica is loaded
 * from and kept current with.
 *
 * Four keys in ONE hash slot, tagged with the deployment's revocation channel
 * (`{<keyPrefix>revocations}`):
 * - `…:seq` the sequence number, increased by every revocation write;
 * - `…:log` the most recent entries, newest first, capped at {@link REVOCATION_LOG_LENGTH};
 * - `…:all` every live revocation (`<kind>:<id>` → `<value>|<untilMs>`), the snapshot;
 * - `…:exp` the same fields scored by `untilMs`, so expired ones are pruned as the log is written.
 *
 * One script ({@link RECORD_REVOCATION}) increments the sequence, updates the snapshot, appends to
 * the log and publishes `r|<seq>|<kind>|<untilMs>|<value>|<id>` on the channel, atomically: a
 * subscriber that receives seq n + 2 after n has lost a message, and a heartbeat
 * ({@link REVOCATION_HEARTBEAT}) carries the sequence at the instant it was published, so a lost
 * last message is seen too.
 *
 * The revocation keys the store checks (`rj:`, `rf:{…}`, `cs:`, `cc:`) live in other slots, so the
 * log entry and the store's write cannot be one script on a Cluster. The store writes the log entry
 * FIRST, then its own key (on every topology, one code path): a failure in between leaves the log
 * stricter than the keys — replicas refuse a token the store would still accept, until the entry
 * expires — never the reverse (fail closed).
 */

/** Entries kept in the log; a replica further behind than this loads the snapshot instead. */
export const REVOCATION_LOG_LENGTH = 10_000;

/** The kinds of revocation the log holds. */
export type RevocationLogKind = 'jti' | 'family' | 'subject' | 'client';

/** One revocation, as logged and published. */
export interface RevocationLogEntry {
  readonly seq: number;
  readonly kind: RevocationLogKind;
  readonly id: string;
  /** '1' for a jti or a family; the cut-off instant in ms for a subject or client. */
  readonly value: string;
  /** When the revocation lapses, ms since the epoch (real time, as Redis TTLs). */
  readonly untilMs: number;
}

/** The log's keys for a revocation channel (one hash slot: the channel is the tag). */
export function revocationLogKeys(channel: string): readonly [string, string, string, string] {
  const tag = `{${channel}}`;
  return [`${tag}:seq`, `${tag}:log`, `${tag}:all`, `${tag}:exp`];
}

/** A script of the log, registered with ioredis `defineCommand` under `name`. */
export interface RevocationLogScript {
  readonly name: string;
  readonly lua: string;
}

/**
 * KEYS: seq, log, all, exp. ARGV: channel, kind, id, value, untilMs, nowMs, log length.
 * Keeps the later cut-off and the later `untilMs` of an entry already there; returns the new seq.
 */
export const RECORD_REVOCATION: RevocationLogScript = {
  name: 'etkRecordRevocation',
  lua: `
local kind, id, value, untilMs = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local field = kind .. ':' .. id
local current = redis.call('HGET', KEYS[3], field)
if current then
  local sep = string.find(current, '|', 1, true)
  if sep then
    local oldValue = string.sub(current, 1, sep - 1)
    local oldUntil = tonumber(string.sub(current, sep + 1))
    if (kind == 'subject' or kind == 'client') and tonumber(oldValue) and tonumber(oldValue) > tonumber(value) then
      value = oldValue
    end
    if oldUntil and oldUntil > untilMs then untilMs = oldUntil end
  end
end
local u = string.format('%d', untilMs)
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[3], field, value .. '|' .. u)
redis.call('ZADD', KEYS[4], untilMs, field)
local entry = 'r|' .. seq .. '|' .. kind .. '|' .. u .. '|' .. value .. '|' .. id
redis.call('LPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[7]) - 1)
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[6], 'LIMIT', 0, 100)
for i = 1, #gone do
  redis.call('HDEL', KEYS[3], gone[i])
  redis.call('ZREM', KEYS[4], gone[i])
end
redis.call('PUBLISH', ARGV[1], entry)
return seq
`,
};

/**
 * KEYS: seq, log, all. ARGV: the caller's seq.
 * Returns `{ seq, 'log', entries… }` (oldest first) when the log reaches back to the caller's seq,
 * else `{ seq, 'snapshot', field, value, … }`; `{ -1 }` when there is no log (no store wrote one).
 */
export const READ_REVOCATIONS_SINCE: RevocationLogScript = {
  name: 'etkReadRevocationsSince',
  lua: `
local seq = redis.call('GET', KEYS[1])
if not seq then return { -1 } end
seq = tonumber(seq)
local since = tonumber(ARGV[1])
local missing = seq - since
if since >= 0 and missing >= 0 and missing <= redis.call('LLEN', KEYS[2]) then
  local out = { seq, 'log' }
  if missing > 0 then
    local entries = redis.call('LRANGE', KEYS[2], 0, missing - 1)
    for i = #entries, 1, -1 do out[#out + 1] = entries[i] end
  end
  return out
end
local out = { seq, 'snapshot' }
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all do out[#out + 1] = all[i] end
return out
`,
};

/** KEYS: seq. ARGV: channel, instance. Publishes `ping:<instance>:<seq>` (`-1` when no log). */
export const REVOCATION_HEARTBEAT: RevocationLogScript = {
  name: 'etkRevocationHeartbeat',
  lua: `
local seq = redis.call('GET', KEYS[1]) or '-1'
redis.call('PUBLISH', ARGV[1], 'ping:' .. ARGV[2] .. ':' .. seq)
return 1
`,
};

/** KEYS: seq. Creates the log's sequence at 0 if absent (a store announcing that it logs). */
export const INIT_REVOCATION_LOG: RevocationLogScript = {
  name: 'etkInitRevocationLog',
  lua: `
redis.call('SET', KEYS[1], '0', 'NX')
return 1
`,
};

/** Every script of the log. */
export const REVOCATION_LOG_SCRIPTS: readonly RevocationLogScript[] = [
  RECORD_REVOCATION,
  READ_REVOCATIONS_SINCE,
  REVOCATION_HEARTBEAT,
  INIT_REVOCATION_LOG,
];

const KINDS: ReadonlySet<string> = new Set(['jti', 'family', 'subject', 'client']);

/** Parses a published or logged entry (`r|seq|kind|until|value|id`); null when malformed. */
export function parseRevocationLogEntry(raw: string): RevocationLogEntry | null {
  if (!raw.startsWith('r|')) return null;
  const parts = raw.split('|');
  if (parts.length < 6) return null;
  const seq = Number(parts[1]);
  const kind = parts[2]!;
  const untilMs = Number(parts[3]);
  const value = parts[4]!;
  const id = parts.slice(5).join('|');
  if (!Number.isSafeInteger(seq) || !KINDS.has(kind) || !Number.isFinite(untilMs)) return null;
  return { seq, kind: kind as RevocationLogKind, id, value, untilMs };
}

/** Parses one snapshot pair (`<kind>:<id>`, `<value>|<untilMs>`) as an entry of sequence `seq`. */
export function parseRevocationSnapshotEntry(
  field: string,
  stored: string,
  seq: number,
): RevocationLogEntry | null {
  const colon = field.indexOf(':');
  const bar = stored.lastIndexOf('|');
  if (colon < 0 || bar < 0) return null;
  const kind = field.slice(0, colon);
  const untilMs = Number(stored.slice(bar + 1));
  if (!KINDS.has(kind) || !Number.isFinite(untilMs)) return null;
  return {
    seq,
    kind: kind as RevocationLogKind,
    id: field.slice(colon + 1),
    value: stored.slice(0, bar),
    untilMs,
  };
}
