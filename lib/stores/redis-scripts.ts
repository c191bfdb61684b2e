/**
 * Lua scripts of the Redis stores. Each runs atomically on the server; `RedisTokenStore` and
 * `RedisCredentialStore` (the `*_CREDENTIAL` scripts) register them with ioredis `defineCommand`,
 * which sends EVALSHA and falls back to EVAL after a `SCRIPT FLUSH` or a restart.
 *
 * Conventions: every script is called with the number of keys first (no fixed `numberOfKeys`).
 * A corrupt value is answered with an `ETK_CORRUPT` error reply, never with "not revoked".
 *
 * Keys: every key a script touches is declared in KEYS; no script builds a key name (from ARGV, a
 * prefix or a stored value), as Redis Cluster requires (spec/stores/redis-scripts.spec.ts checks
 * the sources). Where a key depends on stored data (the owner of an index key, the ids of a set),
 * the store reads that data first and passes the keys in; the script checks that the data did not
 * change in between and answers "stale" (-1, or `{ 'stale' }`) when it did, and the store retries.
 * On a Cluster the store only passes keys of one hash slot to a script (see `RedisTopology` in
 * redis-token-store.ts); on a single Redis (standalone or Sentinel) any keys.
 *
 * | script                  | KEYS                                                                 | ARGV                                                        |
 * | ----------------------- | -------------------------------------------------------------------- | ----------------------------------------------------------- |
 * | READ_VALUES             | any string keys (single Redis only when they span slots)             | —                                                           |
 * | REVOKE_JTI              | `rj:<jti>`                                                           | ttl ms                                                      |
 * | REVOKE_FAMILY           | `rf:{<familyId>}`, `fam:{<familyId>}`                                | ttl ms                                                      |
 * | SET_CUTOFF              | `cs:<sub>` or `cc:<clientId>`                                        | at ms, ttl ms                                               |
 * | ROTATE_REFRESH_TOKEN    | `fam:{<f>}`, `rf:{<f>}`[, `cs:<sub>`, `cc:<clientId>`]                 | see the script (17 values)                                  |
 * | INSPECT_REFRESH_TOKEN   | `fam:{<f>}`, `rf:{<f>}`                                              | hash, now, proof hash, generation                           |
 * | CREATE_CREDENTIAL       | `cred:{<k>}:<id>`, `cset:{<k>}`, n × `cidx:{<k>}:…`, owners' `cred:` | id, dataJson, n, n × owner id read before ('' = none)       |
 * | FIND_CREDENTIAL         | `cidx:{<k>}:<indexKey>`, `cred:{<k>}:<id>`                           | id read before from the index key                           |
 * | LIST_CREDENTIALS        | `cset:{<k>}`, `cred:{<k>}:<id>` per id                               | the ids read before from the set                            |
 * | REPLACE_CREDENTIAL      | `cred:{<k>}:<id>`, r removed + a added `cidx:`, owners' `cred:`      | id, version, dataJson, r, a × owner id read before          |
 * | DELETE_CREDENTIAL       | `cred:{<k>}:<id>`, `cset:{<k>}`, `cidx:{<k>}:…`                      | id                                                          |
 */

/** Helpers shared by the scripts; prepended to each one. */
const COMMON = `
local function corrupt(what)
  error({ err = 'ETK_CORRUPT ' .. what })
end

local function int(x)
  return string.format('%d', math.floor(x))
end

-- Value of a cut-off key in milliseconds, or nil when absent. A value below 1e11 was written by an
-- older version in whole seconds and covers its whole second (see MIN_CUTOFF_MS).
local function cutoff(key)
  local v = redis.call('GET', key)
  if not v then return nil end
  local n = tonumber(v)
  if not n then corrupt('cut-off') end
  if n < 100000000000 then n = n * 1000 + 999 end
  return n
end

-- True when a subject or client cut-off (ms) covers the family 'fam', nil (stale) when the caller
-- named another owner ('sub', 'cid') than the family's or none. source 'keys': KEYS[3] and KEYS[4]
-- are the cut-off keys of that subject and client (single Redis); 'values': the caller read them
-- just before the script ran, in ms ('' = none; Cluster: they live in other slots); 'none': the
-- caller does not know the owner yet.
local function cutoffCovers(fam, source, sub, cid, givenCs, givenCc)
  if source == 'none' or fam.sub ~= sub or fam.cid ~= cid then return nil end
  local cs, cc
  if source == 'keys' then
    cs = cutoff(KEYS[3])
    cc = cutoff(KEYS[4])
  elseif source == 'values' then
    cs = tonumber(givenCs)
    cc = tonumber(givenCc)
  else
    corrupt('cut-off source')
  end
  if cs and cs >= fam.cam then return true end
  if cc and cc >= fam.cam then return true end
  return false
end

-- 1 when a marker key is set, 0 otherwise. GET (unlike EXISTS or MGET) fails with WRONGTYPE on a
-- clobbered key, so a key of another type fails closed.
local function marker(key)
  if redis.call('GET', key) then return 1 end
  return 0
end

-- Sets a marker key for at least ttlMs; never shortens an existing one.
local function setMarker(key, ttlMs)
  if redis.call('PTTL', key) < ttlMs then redis.call('SET', key, '1', 'PX', int(ttlMs)) end
end

-- Sets the family-revoked marker and marks the family itself.
local function revokeFamily(markerKey, familyKey, ttlMs)
  setMarker(markerKey, ttlMs)
  if redis.call('EXISTS', familyKey) == 1 then redis.call('HSET', familyKey, 'rv', '1') end
end

-- Fields of a family hash: sub, cid, ca (created, s), cam (created, ms; absent on families of older
-- versions: ca * 1000), ea, lu, cur, rv, d, ph (hash of the family proof) and g (generation of
-- 'cur'), and for the grace window pv (the token 'cur' replaced), pa (when it did) and gr (grace
-- retries since). A constant number of fields. Families of older versions may also hold
-- 'u:<hash>' fields (rotated-out hashes), still read, never written. Nil when there is no family.
local function readFamily(familyKey)
  if redis.call('EXISTS', familyKey) == 0 then return nil end
  local f = redis.call('HMGET', familyKey, 'sub', 'cid', 'ca', 'ea', 'lu', 'cur', 'rv', 'd', 'pv', 'pa', 'gr',
    'cam', 'ph', 'g')
  local fam = {
    sub = f[1], cid = f[2], ca = tonumber(f[3]), ea = tonumber(f[4]), lu = tonumber(f[5]),
    luRaw = f[5], cur = f[6], revoked = f[7] == '1', d = f[8],
    pv = f[9], pa = tonumber(f[10]), gr = tonumber(f[11]) or 0,
  }
  if not fam.sub or not fam.cid or not fam.ca or not fam.ea or not fam.lu or not fam.cur or not fam.d then
    corrupt('refresh family')
  end
  fam.cam = tonumber(f[12]) or fam.ca * 1000
  fam.ph = f[13]
  fam.g = tonumber(f[14]) or 0
  return fam
end

-- True when a presented hash that is not current is an authentic earlier token of the family: the
-- previous token, a token carrying the family's proof ('proof', '' = none) with a generation at or
-- below the family's, or (families of older versions) a recorded rotated-out hash.
local function rotatedOut(familyKey, fam, hash, proof, generation)
  if fam.pv == hash then return true end
  if proof ~= '' and fam.ph and fam.ph == proof and tonumber(generation) <= fam.g then return true end
  return redis.call('HEXISTS', familyKey, 'u:' .. hash) == 1
end
`;

/** A script and the ioredis command name it is registered under. */
export interface StoreScript {
  readonly name: string;
  readonly lua: string;
}

function script(name: string, body: string): StoreScript {
  return { name: `etkV1${name}`, lua: COMMON + body };
}

/**
 * KEYS: string keys (on a Cluster, of one slot). Returns the value of each (nil when absent).
 * A script rather than MGET: MGET answers nil for a key of another type, which would read as "not
 * revoked"; GET fails with WRONGTYPE instead.
 */
export const READ_VALUES = script(
  'ReadValues',
  `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
return out
`,
);

/** KEYS: rj:<jti>. ARGV: ttl in ms. */
export const REVOKE_JTI = script(
  'RevokeJti',
  `
setMarker(KEYS[1], tonumber(ARGV[1]))
return 1
`,
);

/** KEYS: rf:{<familyId>}, fam:{<familyId>}. ARGV: ttl in ms. */
export const REVOKE_FAMILY = script(
  'RevokeFamily',
  `
revokeFamily(KEYS[1], KEYS[2], tonumber(ARGV[1]))
return 1
`,
);

/**
 * KEYS: the cut-off key. ARGV: at (ms since the epoch), ttl in ms.
 * Keeps the later cut-off (a stored value in seconds is compared as its last millisecond, and
 * rewritten in ms) and the longer TTL.
 */
export const SET_CUTOFF = script(
  'SetCutoff',
  `
local at = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local current = cutoff(KEYS[1])
if current then
  if current > at then at = current end
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > ttl then ttl = pttl end
end
redis.call('SET', KEYS[1], int(at), 'PX', int(ttl))
return 1
`,
);

/**
 * KEYS: fam:{<familyId>}, rf:{<familyId>}[, cs:<owner subject>, cc:<owner client>] (the cut-off
 * keys only with source 'keys').
 * ARGV: presentedHash, nextHash, now, idleSeconds, expectedClientId, hasExpectedClientId ('1'/'0'),
 * expectedSubject, hasExpectedSubject ('1'/'0'), cut-off source ('keys' | 'values' | 'none'),
 * subject cut-off and client cut-off in ms with 'values' ('' = none), grace seconds ('0' = off),
 * most grace retries, proof hash of the presented token ('' = none), its generation, owner subject
 * and owner client of the family as the caller knows them ('' with 'none').
 * Returns { status[, familyJson, lastUsedAt[, 'retried']] }; { 'stale' } (nothing written) when
 * the owner is not the family's, so the caller reads it and calls again.
 */
export const ROTATE_REFRESH_TOKEN = script(
  'RotateRefreshToken',
  `
local fam = readFamily(KEYS[1])
if not fam then return { 'not_found' } end
-- Binding first: a thief holding another client's token must not consume it or revoke the family.
if ARGV[6] == '1' and fam.cid ~= ARGV[5] then return { 'mismatch' } end
if ARGV[8] == '1' and fam.sub ~= ARGV[7] then return { 'mismatch' } end
local presented = ARGV[1]
local isCurrent = fam.cur == presented
-- A token not provably of the family (forged: wrong proof) changes nothing.
if not isCurrent and not rotatedOut(KEYS[1], fam, presented, ARGV[14], ARGV[15]) then return { 'not_found' } end
if fam.revoked or redis.call('EXISTS', KEYS[2]) == 1 then return { 'revoked' } end
local covered = cutoffCovers(fam, ARGV[9], ARGV[16], ARGV[17], ARGV[10], ARGV[11])
if covered == nil then return { 'stale' } end
if covered then return { 'revoked' } end
local now = tonumber(ARGV[3])
local idle = tonumber(ARGV[4])
local expiresAtMs = int(math.min(fam.ea, now + idle) * 1000)
local markerTtlMs = math.max((fam.ea - now) * 1000, 1000)
local live = now < fam.ea and now - fam.lu < idle
if not isCurrent then
  -- Grace: only the token 'cur' replaced, only while 'cur' is unused (using it would have moved pv
  -- on), only inside the window counted from that rotation, a bounded number of times. The unused
  -- successor dies; its replacement has the same generation, so the dead one (proof, generation
  -- <= g) is still recognised, and presenting it later is reuse.
  local grace = tonumber(ARGV[12]) or 0
  if grace > 0 and live and fam.pv == presented and fam.pa and now < fam.pa + grace
    and fam.gr < tonumber(ARGV[13]) then
    redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'lu', ARGV[3], 'gr', int(fam.gr + 1))
    redis.call('PEXPIREAT', KEYS[1], expiresAtMs)
    return { 'rotated', fam.d, ARGV[3], 'retried' }
  end
  revokeFamily(KEYS[2], KEYS[1], markerTtlMs)
  return { 'reused', fam.d, fam.luRaw }
end
if not live then
  revokeFamily(KEYS[2], KEYS[1], markerTtlMs)
  return { 'expired' }
end
redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'lu', ARGV[3], 'pv', presented, 'pa', ARGV[3], 'gr', '0',
  'g', int(fam.g + 1))
-- A family of an older version, created without a proof, adopts the presented one.
if not fam.ph and ARGV[14] ~= '' then redis.call('HSET', KEYS[1], 'ph', ARGV[14]) end
redis.call('PEXPIREAT', KEYS[1], expiresAtMs)
return { 'rotated', fam.d, ARGV[3] }
`,
);

/**
 * KEYS: fam:{<familyId>}, rf:{<familyId>}. ARGV: hash, now, proof hash ('' = none), generation.
 * Returns nil when the hash is not of the family, else { familyJson, lastUsedAt, active (0/1) }.
 * `active` ignores cut-offs; the caller checks them.
 */
export const INSPECT_REFRESH_TOKEN = script(
  'InspectRefreshToken',
  `
local fam = readFamily(KEYS[1])
if not fam then return false end
local isCurrent = fam.cur == ARGV[1]
if not isCurrent and not rotatedOut(KEYS[1], fam, ARGV[1], ARGV[3], ARGV[4]) then return false end
local active = 0
if isCurrent and not fam.revoked and redis.call('EXISTS', KEYS[2]) == 0 and tonumber(ARGV[2]) < fam.ea then
  active = 1
end
return { fam.d, fam.luRaw, active }
`,
);

/**
 * KEYS: cred:{<kind>}:<id>, cset:{<kind>}, n index keys cidx:{<kind>}:<indexKey>, then
 * cred:{<kind>}:<owner> for each index key that had an owner when the caller read it, in order.
 * ARGV: id, dataJson, n, then per index key the owner id the caller read ('' = none).
 * Returns 1 when created, 0 when the id or an index key (of a live credential) is taken, -1
 * (nothing written) when an index key's owner changed since the caller read it.
 */
export const CREATE_CREDENTIAL = script(
  'CreateCredential',
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(ARGV[3])
local owners = 0
for i = 1, n do
  local owner = redis.call('GET', KEYS[2 + i]) or ''
  if owner ~= ARGV[3 + i] then return -1 end
  if owner ~= '' then
    owners = owners + 1
    if redis.call('EXISTS', KEYS[2 + n + owners]) == 1 then return 0 end
  end
end
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[2])
for i = 3, 2 + n do redis.call('SET', KEYS[i], ARGV[1]) end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`,
);

/**
 * KEYS: cidx:{<kind>}:<indexKey>, cred:{<kind>}:<id>. ARGV: the id the caller read from the index key.
 * Returns nil, { id, version, dataJson }, or -1 when the index key no longer holds that id.
 */
export const FIND_CREDENTIAL = script(
  'FindCredential',
  `
local id = redis.call('GET', KEYS[1])
if not id then return false end
if id ~= ARGV[1] then return -1 end
local r = redis.call('HMGET', KEYS[2], 'v', 'd')
if not r[1] and not r[2] then return false end
return { id, r[1], r[2] }
`,
);

/**
 * KEYS: cset:{<kind>}, then cred:{<kind>}:<id> per id. ARGV: the ids the caller read from the set.
 * Returns a flat list of { id, version, dataJson } triples, or -1 when the set changed since.
 */
export const LIST_CREDENTIALS = script(
  'ListCredentials',
  `
if redis.call('SCARD', KEYS[1]) ~= #ARGV then return -1 end
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then return -1 end
end
local out = {}
for i = 1, #ARGV do
  local r = redis.call('HMGET', KEYS[1 + i], 'v', 'd')
  if r[1] or r[2] then
    out[#out + 1] = ARGV[i]
    out[#out + 1] = r[1]
    out[#out + 1] = r[2]
  end
end
return out
`,
);

/**
 * KEYS: cred:{<kind>}:<id>, r index keys to remove, a index keys to add, then cred:{<kind>}:<owner>
 * for each added key that had an owner other than the id when the caller read it, in order.
 * ARGV: id, expectedVersion, dataJson, r, then per added key the owner id the caller read ('' = none).
 * Returns the new version; nil when the version moved on, the record is gone or an added key is
 * taken; -1 (nothing written) when an added key's owner changed since the caller read it.
 */
export const REPLACE_CREDENTIAL = script(
  'ReplaceCredential',
  `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return false end
local version = tonumber(v)
if not version then corrupt('credential') end
if version ~= tonumber(ARGV[2]) then return false end
local firstAdd = 2 + tonumber(ARGV[4])
local adds = #ARGV - 4
local owners = 0
for i = 1, adds do
  local owner = redis.call('GET', KEYS[firstAdd - 1 + i]) or ''
  if owner ~= ARGV[4 + i] then return -1 end
  if owner ~= '' and owner ~= ARGV[1] then
    owners = owners + 1
    if redis.call('EXISTS', KEYS[firstAdd - 1 + adds + owners]) == 1 then return false end
  end
end
for i = 2, firstAdd - 1 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
for i = firstAdd, firstAdd - 1 + adds do redis.call('SET', KEYS[i], ARGV[1]) end
redis.call('HSET', KEYS[1], 'v', int(version + 1), 'd', ARGV[3])
return version + 1
`,
);

/**
 * KEYS: cred:{<kind>}:<id>, cset:{<kind>}, cidx:{<kind>}:<indexKey>... ARGV: id.
 * Deletes index keys only while they still point at this id. Returns 1 when deleted, 0 when absent.
 */
export const DELETE_CREDENTIAL = script(
  'DeleteCredential',
  `
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
`,
);

/** Every script of the store. */
export const STORE_SCRIPTS: readonly StoreScript[] = [
  READ_VALUES,
  REVOKE_JTI,
  REVOKE_FAMILY,
  SET_CUTOFF,
  ROTATE_REFRESH_TOKEN,
  INSPECT_REFRESH_TOKEN,
  CREATE_CREDENTIAL,
  FIND_CREDENTIAL,
  LIST_CREDENTIALS,
  REPLACE_CREDENTIAL,
  DELETE_CREDENTIAL,
];
