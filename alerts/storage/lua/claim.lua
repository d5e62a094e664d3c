-- Evaluate one tick of one series (price or volume ratio) of one symbol, atomically.
-- KEYS: 1 last-values hash, 2 index up, 3 index down, 4 wait set of fired down alerts,
--       5 wait set of fired up alerts, 6 outbox stream, 7 expiry zset, 8 active counter,
--       9 legs zset of multi-condition alerts on this series
-- ARGV: 1..7 context (common.lua), 8 series field, 9 value, 10 tick ts, 11 now,
--       12 hysteresis fraction, 13 leg-state hash prefix
-- Legs the move crossed flip their truth; a multi-condition alert fires when one of its
-- legs turns true while all the others hold (never on a series' first value).
-- Returns {status, fired, bad ids}: status -1 = tick already evaluated, 0 = first value,
-- 1 = evaluated.
assert_types({{KEYS[1], 'hash'}, {KEYS[2], 'zset'}, {KEYS[3], 'zset'}, {KEYS[4], 'zset'},
              {KEYS[5], 'zset'}, {KEYS[6], 'stream'}, {KEYS[7], 'zset'}, {KEYS[8], 'string'},
              {KEYS[9], 'zset'}})
local C = context(KEYS[6], KEYS[7], KEYS[8])

-- Legs with a level in the range, with whether each holds at value `v` (reads only).
-- The range includes both ends: a leg at exactly the old value can stop holding.
local function read_legs(key, from, to, v, C, bad)
  local raw, out = redis.call('ZRANGEBYSCORE', key, from, to, 'WITHSCORES'), {}
  for i = 1, #raw, 2 do
    local id, n, way = string.match(raw[i], '^(%d+):(%d+):([ud])$')
    local hkey = id and ARGV[13] .. id
    if id and type_ok_once(C, hkey, 'hash') then
      out[#out + 1] = {id = id, n = n, hkey = hkey, holds = leg_holds(way, v, tonumber(raw[i + 1]))}
    elseif id then bad[#bad + 1] = id end
  end
  return out
end

-- Each alert's stored leg truths (one read per alert) after the legs' new truths, the
-- legs whose truth changes, and the alerts a leg turned true in (reads only).
local function leg_changes(legs)
  local states, changed, turned = {}, {}, {}
  for _, leg in ipairs(legs) do
    local t = states[leg.id]
    if not t then
      local raw = redis.call('HGETALL', leg.hkey)
      t = {}
      for i = 1, #raw, 2 do t[raw[i]] = raw[i + 1] end
      states[leg.id] = t
    end
    if leg.holds ~= (t[leg.n] == '1') then
      changed[#changed + 1] = leg
      if leg.holds then turned[leg.id] = leg.hkey end
    end
    t[leg.n] = leg.holds and '1' or '0'  -- later legs of the same alert see it
  end
  return states, changed, turned
end

-- Of the alerts a leg turned true in, those whose every leg holds now (reads only).
local function completed(states, turned, now, C, bad)
  local out = {}
  for id, hkey in pairs(turned) do
    local t, all = states[id], true
    for i = 1, tonumber(t.n or '0') or 0 do
      if t[tostring(i)] ~= '1' then all = false end
    end
    if all then
      local e, why = load(id, C)
      if e then out[#out + 1] = {e = e, hkey = hkey, decision = decide(e, now, C)}
      elseif why == 'bad' then bad[#bad + 1] = id end
    end
  end
  return out
end
local field, vs = ARGV[8], ARGV[9]
local v, tick, now, h = tonumber(vs), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local prevts = tonumber(redis.call('HGET', KEYS[1], field .. ':ts'))
if prevts and tick <= prevts then return {-1, 0, {}} end
local prevs = redis.call('HGET', KEYS[1], field)
local bad = {}

-- Read phase: repeat alerts coming back (moved back across their level by h), crossed ones.
local back_up, gone_up, back_down, gone_down, crossed, gone, idxkey, waitkey, factor, whole
local lo, hi
if prevs then
  back_up, gone_up = load_all(redis.call('ZRANGEBYSCORE', KEYS[5], vs, '+inf'), C, bad)
  back_down, gone_down = load_all(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', vs), C, bad)
  local prev = tonumber(prevs)
  local ids = {}
  if v > prev then
    lo, hi = '(' .. prevs, vs
    idxkey, waitkey, factor = KEYS[2], KEYS[5], 1 - h
  elseif v < prev then
    lo, hi = vs, '(' .. prevs
    idxkey, waitkey, factor = KEYS[3], KEYS[4], 1 + h
  end
  if idxkey then ids = redis.call('ZRANGEBYSCORE', idxkey, lo, hi) end
  local before = #bad
  crossed, gone = load_all(ids, C, bad)
  whole = #bad == before  -- no bad record in the range (and none paused, below)
  for _, e in ipairs(crossed) do
    e.decision = decide(e, now, C)
    if e.decision == 'paused' then whole = false end
  end
end

-- Legs crossed by the move (every leg on a first value) and the alerts they may complete.
local legs = {}
if not prevs then legs = read_legs(KEYS[9], '-inf', '+inf', v, C, bad)
elseif v > tonumber(prevs) then legs = read_legs(KEYS[9], prevs, vs, v, C, bad)
elseif v < tonumber(prevs) then legs = read_legs(KEYS[9], vs, prevs, v, C, bad) end
local states, changed, turned = leg_changes(legs)
local ready = {}  -- a first value only sets truths: it is no crossing
if prevs then ready = completed(states, turned, now, C, bad) end

-- Write phase.
redis.call('HSET', KEYS[1], field, vs, field .. ':ts', ARGV[10])
for _, leg in ipairs(changed) do redis.call('HSET', leg.hkey, leg.n, leg.holds and 1 or 0) end
local fired = 0
for _, r in ipairs(ready) do
  if r.decision == 'fire' or r.decision == 'expired' then
    local kept = apply(r.e, r.decision, vs, now, ARGV[10], C)
    if not kept then drop_legs(r.hkey) end
    if r.decision == 'fire' then fired = fired + 1 end
  end
end
if not prevs then settle(C); return {0, fired, bad} end
for _, e in ipairs(back_up) do redis.call('ZREM', KEYS[5], e.id); rearm_entry(e, KEYS[2]) end
for _, e in ipairs(back_down) do redis.call('ZREM', KEYS[4], e.id); rearm_entry(e, KEYS[3]) end
for _, id in ipairs(gone_up) do redis.call('ZREM', KEYS[5], id) end
for _, id in ipairs(gone_down) do redis.call('ZREM', KEYS[4], id) end
if not idxkey then settle(C); return {1, fired, bad} end
if whole then  -- every crossed alert leaves the index: one range removal
  if #crossed + #gone > 0 then redis.call('ZREMRANGEBYSCORE', idxkey, lo, hi) end
else
  for _, id in ipairs(gone) do redis.call('ZREM', idxkey, id) end
end
for _, e in ipairs(crossed) do
  if e.decision ~= 'paused' then  -- a paused chat's alert stays armed where it is
    if not whole then redis.call('ZREM', idxkey, e.id) end
    if apply(e, e.decision, vs, now, ARGV[10], C) then
      redis.call('ZADD', waitkey, tonumber(e.f[F.level]) * factor, e.id)
    end
    if e.decision == 'fire' then fired = fired + 1 end
  end
end
settle(C)
return {1, fired, bad}
