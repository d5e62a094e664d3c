-- Shared helpers, prepended (after the generated record layout `F`, `REQUIRED`, `KINDS`)
-- to every script by alerts/storage/scripts.py load_lua.
-- Rule of every script: read and check every key type and record first, write after.
-- A wrong key type stops the script before its first write (error reply `BADKEY ...`);
-- a bad record is skipped, left where it is, and its id returned to Python.
local function split(s)
  local t, i = {}, 1
  for part in (s .. '|'):gmatch('(.-)|') do t[i] = part; i = i + 1 end
  return t
end

local function type_ok(key, want)
  local t = redis.call('TYPE', key)
  if type(t) == 'table' then t = t['ok'] end  -- a status reply (fakeredis: a plain string)
  return t == 'none' or t == want
end

-- Stop before any write when a key has the wrong type: nothing is changed.
local function assert_types(pairs)
  local bad = {}
  for _, p in ipairs(pairs) do
    if not type_ok(p[1], p[2]) then bad[#bad + 1] = p[1] end
  end
  if #bad > 0 then error({err = 'BADKEY ' .. table.concat(bad, ' ') .. ' ;'}) end
end

-- A counter (string or hash field) INCR/HINCRBY can change: absent, or an integer.
local function int_ok(v)
  local n = tonumber(v or '0')
  return n ~= nil and n == math.floor(n)
end

local function assert_counter(key, field)
  local v
  if field then v = redis.call('HGET', key, field) else v = redis.call('GET', key) end
  if not int_ok(v) then error({err = 'BADKEY ' .. key .. ' ;'}) end
end

-- The context of the claim scripts: ARGV[1..7] (see alerts/engine.py `context_argv`).
local function context(outbox, expiry, active)
  if active ~= '' then assert_counter(active) end
  return {bucket = ARGV[1], per_bucket = tonumber(ARGV[2]), chat = ARGV[3], history = ARGV[4],
          paused = ARGV[5], history_ttl = ARGV[6], csym = ARGV[7],
          outbox = outbox, expiry = expiry, active = active,
          seen = {}, removed = 0, dropped = {}}  -- per-run caches and pending counts
end

-- Many alerts share a bucket or a chat: each key is checked once per run (C.seen).
local function type_ok_once(C, key, want)
  local known = C.seen[key]
  if known == nil then known = type_ok(key, want); C.seen[key] = known end
  return known
end

local function bucket_of(C, id)
  return C.bucket .. math.floor(tonumber(id) / C.per_bucket)
end

local NUMERIC = {}  -- positions of the fields that must be numbers
for _, name in ipairs({'level', 'ref', 'created', 'expires', 'cooldown', 'last_fired', 'fires',
                       'window'}) do
  NUMERIC[#NUMERIC + 1] = F[name]
end

local function record_ok(f)
  if #f < REQUIRED or #f > REQUIRED + 2 or not KINDS[f[F.kind]] or f[F.chat] == '' then
    return false
  end
  for i = 1, #NUMERIC do
    if not tonumber(f[NUMERIC[i]]) then return false end
  end
  local snoozed = f[F.snoozed_until]
  return snoozed == nil or snoozed == '' or tonumber(snoozed) ~= nil
end

-- Read and check one alert and every key firing it would touch. Returns the entry, or
-- nil and 'gone' (no record: a stale index member) or 'bad' (skip and report).
local function load(id, C)
  local bkey = bucket_of(C, id)
  if not type_ok_once(C, bkey, 'hash') then return nil, 'bad' end
  local rec = redis.call('HGET', bkey, id)
  if not rec then return nil, 'gone' end
  local f = split(rec)
  if not record_ok(f) then return nil, 'bad' end
  local chatkey, csymkey = C.chat .. f[F.chat], C.csym .. f[F.chat]
  local count = csymkey .. '|' .. f[F.symbol]
  if C.seen[count] == nil then  -- one read checks the key's type and the counter at once
    local n = redis.pcall('HGET', csymkey, f[F.symbol])
    C.seen[count] = not (type(n) == 'table' and n.err) and int_ok(n)
  end
  if not (type_ok_once(C, chatkey, 'set') and C.seen[count]) then return nil, 'bad' end
  return {id = id, bkey = bkey, rec = rec, f = f, chatkey = chatkey, csymkey = csymkey}
end

-- What firing `e` now means: 'expired', 'paused', 'suppressed' (cooldown or snooze) or 'fire'.
local function decide(e, now, C)
  local f = e.f
  local expires = tonumber(f[F.expires])
  if expires > 0 and expires <= now then return 'expired' end
  local pkey = C.paused .. f[F.chat]
  if C.seen[pkey] == nil then C.seen[pkey] = redis.call('EXISTS', pkey) == 1 end
  if C.seen[pkey] then return 'paused' end
  local last = tonumber(f[F.last_fired])
  if tonumber(f[F.cooldown]) > 0 and ((last > 0 and now - last < tonumber(f[F.cooldown]))
      or (tonumber(f[F.snoozed_until] or '') or 0) > now) then
    return 'suppressed'
  end
  return 'fire'
end

-- One job in the outbox, in the codec of alerts/domain/jobs.py (`J`, `JOB` in the header).
local function emit(C, kind, e, value, now, tick)
  redis.call('XADD', C.outbox, '*', J.kind, kind, J.alert_id, e.id, J.record, e.rec,
             J.value, value, J.at, tostring(now), J.tick_ts, tostring(tick))
end

-- Drop a stored alert everywhere but its indexes (the caller owns those); the counters
-- are updated once per run by `settle`.
local function forget(e, C)
  redis.call('HDEL', e.bkey, e.id); redis.call('SREM', e.chatkey, e.id)
  -- only alerts with an expiry are in the expiry index (create.lua adds them, no one else)
  if tonumber(e.f[F.expires]) > 0 then redis.call('ZREM', C.expiry, e.id) end
  local slot = e.csymkey .. '|' .. e.f[F.symbol]
  local d = C.dropped[slot] or {key = e.csymkey, symbol = e.f[F.symbol], n = 0}
  d.n = d.n + 1
  C.dropped[slot] = d
  C.removed = C.removed + 1
end

-- Apply the counts `forget` collected; every claim script calls it after its writes.
local function settle(C)
  for _, d in pairs(C.dropped) do
    if redis.call('HINCRBY', d.key, d.symbol, -d.n) <= 0 then redis.call('HDEL', d.key, d.symbol) end
  end
  if C.removed > 0 then redis.call('DECRBY', C.active, C.removed) end
end

-- Apply a decision (writes only). Returns true when the alert stays stored and must wait
-- to re-arm (repeat alerts after firing or suppression).
local function apply(e, decision, value, now, tick, C)
  local f = e.f
  if decision == 'expired' then
    forget(e, C); emit(C, JOB.expired, e, value, now, tick)
    return false
  end
  if decision == 'paused' then return false end
  if tonumber(f[F.cooldown]) > 0 then
    f[F.state] = 'R'
    if decision == 'fire' then
      f[F.last_fired] = tostring(now); f[F.fires] = tostring(tonumber(f[F.fires]) + 1)
    end
    redis.call('HSET', e.bkey, e.id, table.concat(f, '|'))
    if decision == 'fire' then emit(C, JOB.fire, e, value, now, tick) end
    return true
  end
  forget(e, C)
  redis.call('SET', C.history .. e.id, e.rec .. '|' .. value .. '|' .. tostring(now),
             'EX', C.history_ttl)
  emit(C, JOB.fire, e, value, now, tick)
  return false
end

-- A waiting repeat alert becomes armed again (state 'A') in `idxkey` at its level.
local function rearm_entry(e, idxkey)
  if e.f[F.state] == 'R' then
    e.f[F.state] = 'A'
    redis.call('HSET', e.bkey, e.id, table.concat(e.f, '|'))
  end
  redis.call('ZADD', idxkey, e.f[F.level], e.id)
end

-- Load every id of a list; sorts them into valid entries, gone ids and bad ids.
local function load_all(ids, C, bad)
  local entries, gone = {}, {}
  for _, id in ipairs(ids) do
    local e, why = load(id, C)
    if e then entries[#entries + 1] = e
    elseif why == 'gone' then gone[#gone + 1] = id
    else bad[#bad + 1] = id end
  end
  return entries, gone
end

-- Would `symbol` be one symbol too many for a chat? Its watchlist and the symbols of its
-- alerts count together; `free` symbols (the defaults, ARGV from `first` on) never count.
local function over_symbol_cap(watchkey, csymkey, symbol, cap, first)
  local free = {}
  for i = first, #ARGV do free[ARGV[i]] = true end
  if free[symbol] or redis.call('SISMEMBER', watchkey, symbol) == 1
     or redis.call('HEXISTS', csymkey, symbol) == 1 then
    return false
  end
  local used = {}
  for _, s in ipairs(redis.call('SMEMBERS', watchkey)) do used[s] = true end
  for _, s in ipairs(redis.call('HKEYS', csymkey)) do used[s] = true end
  local n = 0
  for s in pairs(used) do if not free[s] then n = n + 1 end end
  return n >= cap
end

-- Does a leg (way 'u': at or above its level, 'd': at or below) hold at `value`?
-- An unknown value (nil: the series has no value yet) holds nothing.
local function leg_holds(way, value, level)
  if value == nil then return false end
  if way == 'u' then return value >= level end
  return value <= level
end

-- Drop every leg of a multi-condition alert (its zset members and its state hash).
local function drop_legs(hkey)
  local state = redis.call('HGETALL', hkey)
  local t = {}
  for i = 1, #state, 2 do t[state[i]] = state[i + 1] end
  for i = 1, tonumber(t.n or '0') or 0 do
    if t['z' .. i] and t['m' .. i] then redis.call('ZREM', t['z' .. i], t['m' .. i]) end
  end
  redis.call('DEL', hkey)
end
