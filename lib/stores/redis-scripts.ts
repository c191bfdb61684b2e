/**
 * Lua scripts of the Redis token store. Each runs atomically on the server; `RedisTokenStore`
 * registers them with ioredis `defineCommand`, which sends EVALSHA and falls back to EVAL after a
 * `SCRIPT FLUSH` or a restart.
 *
 * Conventions: every script is called with the number of keys first (no fixed `numberOfKeys`).
 * A corrupt value is answered with an `ETK_CORRUPT` error reply, never with "not revoked".
 *
 * Cluster: every key a script declares or builds shares one hash tag (`{<familyId>}` for a family,
 * `{<kind>}` for credentials), so no script touches two slots. Two scripts may read keys of other
 * slots, and only on a single Redis (standalone or Sentinel): LOOKUP_ACCESS_TOKEN and
 * CHECK_REVOCATION (one round trip for requireToken), and the cut-off reads of ROTATE/INSPECT when
 * they are given a key prefix. On a Cluster the store reads those keys itself and passes the
 * cut-offs to the family script as ARGV (see `RedisTokenStore`).
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

-- True when a subject or client cut-off (ms) covers a family created at 'createdAt' (ms). With a
-- key prefix (single Redis) the cut-off keys are read here; with '' the cut-offs come as strings
-- from the caller in ms ('' = none), read just before the script ran (Cluster).
local function cutoffCovers(prefix, sub, cid, createdAt, givenCs, givenCc)
  local cs, cc
  if prefix ~= '' then
    cs = cutoff(prefix .. 'cs:' .. sub)
    cc = cutoff(prefix .. 'cc:' .. cid)
  else
    cs = tonumber(givenCs)
    cc = tonumber(givenCc)
  end
  if cs and cs >= createdAt then return true end
  if cc and cc >= createdAt then return true end
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
 * Single Redis only (reads keys of other slots). KEYS: at:<hash>. ARGV: full key prefix.
 * Returns nil, or { recordJson, jtiRevoked (0/1), familyRevoked (0/1), subjectCutoff (ms; seconds when old)|nil, clientCutoff|nil }.
 */
export const LOOKUP_ACCESS_TOKEN = script(
  'LookupAccessToken',
  `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' or type(rec.jti) ~= 'string' or type(rec.sub) ~= 'string'
  or type(rec.clientId) ~= 'string' then
  corrupt('access token record')
end
local prefix = ARGV[1]
local fam = 0
if type(rec.familyId) == 'string' then
  fam = marker(prefix .. 'rf:{' .. rec.familyId .. '}')
elseif rec.familyId ~= nil and rec.familyId ~= cjson.null then
  corrupt('access token record')
end
local jti = marker(prefix .. 'rj:' .. rec.jti)
local cs = redis.call('GET', prefix .. 'cs:' .. rec.sub)
local cc = redis.call('GET', prefix .. 'cc:' .. rec.clientId)
return { raw, jti, fam, cs, cc }
`,
);

/**
 * Single Redis only (keys of several slots). KEYS: rj:<jti>, cs:<sub>, cc:<clientId>[, rf:{<familyId>}].
 * Returns { jtiRevoked (0/1), subjectCutoff (ms; seconds when old)|nil, clientCutoff|nil, familyRevoked (0/1) }.
 * A script rather than MGET: MGET answers nil for a key of another type, which would read as "not
 * revoked"; GET fails with WRONGTYPE instead.
 */
export const CHECK_REVOCATION = script(
  'CheckRevocation',
  `
local fam = 0
if KEYS[4] then fam = marker(KEYS[4]) end
return { marker(KEYS[1]), redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]), fam }
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
 * KEYS: fam:{<familyId>}, rf:{<familyId>}.
 * ARGV: presentedHash, nextHash, now, idleSeconds, expectedClientId, hasExpectedClientId ('1'/'0'),
 * expectedSubject, hasExpectedSubject ('1'/'0'), full key prefix or '' (Cluster), subject cut-off
 * and client cut-off in ms when the prefix is '' ('' = none), grace seconds ('0' = off), most grace retries,
 * proof hash of the presented token ('' = none), its generation.
 * Returns { status[, familyJson, lastUsedAt[, 'retried']] }.
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
if cutoffCovers(ARGV[9], fam.sub, fam.cid, fam.cam, ARGV[10], ARGV[11]) then return { 'revoked' } end
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
 * KEYS: fam:{<familyId>}, rf:{<familyId>}. ARGV: hash, now, full key prefix or '' (Cluster), proof
 * hash ('' = none), generation.
 * Returns nil when the hash is not of the family, else { familyJson, lastUsedAt, active (0/1) }.
 * With '' as prefix, `active` ignores cut-offs; the caller checks them.
 */
export const INSPECT_REFRESH_TOKEN = script(
  'InspectRefreshToken',
  `
local fam = readFamily(KEYS[1])
if not fam then return false end
local isCurrent = fam.cur == ARGV[1]
if not isCurrent and not rotatedOut(KEYS[1], fam, ARGV[1], ARGV[4], ARGV[5]) then return false end
local active = 0
if isCurrent and not fam.revoked and redis.call('EXISTS', KEYS[2]) == 0
  and not cutoffCovers(ARGV[3], fam.sub, fam.cid, fam.cam, '', '') and tonumber(ARGV[2]) < fam.ea then
  active = 1
end
return { fam.d, fam.luRaw, active }
`,
);

/**
 * KEYS: cred:{<kind>}:<id>, cset:{<kind>}, cidx:{<kind>}:<indexKey>...
 * ARGV: id, dataJson, prefix of credential keys of the kind (`<prefix>cred:{<kind>}:`).
 * Returns 1 when created, 0 when the id or an index key (of a live credential) is taken.
 */
export const CREATE_CREDENTIAL = script(
  'CreateCredential',
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 3, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if owner and redis.call('EXISTS', ARGV[3] .. owner) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[2])
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[1]) end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`,
);

/**
 * KEYS: cidx:{<kind>}:<indexKey>. ARGV: prefix of credential keys of the kind.
 * Returns nil or { id, version, dataJson }.
 */
export const FIND_CREDENTIAL = script(
  'FindCredential',
  `
local id = redis.call('GET', KEYS[1])
if not id then return false end
local r = redis.call('HMGET', ARGV[1] .. id, 'v', 'd')
if not r[1] and not r[2] then return false end
return { id, r[1], r[2] }
`,
);

/**
 * KEYS: cset:{<kind>}. ARGV: prefix of credential keys of the kind.
 * Returns a flat list of { id, version, dataJson } triples.
 */
export const LIST_CREDENTIALS = script(
  'ListCredentials',
  `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local r = redis.call('HMGET', ARGV[1] .. id, 'v', 'd')
  if r[1] or r[2] then
    out[#out + 1] = id
    out[#out + 1] = r[1]
    out[#out + 1] = r[2]
  end
end
return out
`,
);

/**
 * KEYS: cred:{<kind>}:<id>, then the index keys to remove, then the index keys to add.
 * ARGV: id, expectedVersion, dataJson, number of keys to remove, prefix of credential keys of the kind.
 * Returns the new version, or nil when the version moved on, the record is gone or an added key is taken.
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
for i = firstAdd, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[5] .. owner) == 1 then return false end
end
for i = 2, firstAdd - 1 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
for i = firstAdd, #KEYS do redis.call('SET', KEYS[i], ARGV[1]) end
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
  LOOKUP_ACCESS_TOKEN,
  CHECK_REVOCATION,
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
