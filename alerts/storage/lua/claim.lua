-- Evaluate one tick of one series (price or volume ratio) of one symbol, atomically.
-- KEYS: 1 last-values hash, 2 index up, 3 index down, 4 rearm-up wait, 5 rearm-down wait,
--       6 outbox stream, 7 expiry zset
-- ARGV: 1 series field, 2 value, 3 tick ts, 4 now, 5 bucket prefix, 6 chat prefix,
--       7 history prefix, 8 paused prefix, 9 history ttl, 10 hysteresis fraction
-- Returns {status, fired}: status -1 = tick already evaluated, 0 = first value, 1 = evaluated.
local C = {bucket = ARGV[5], chat = ARGV[6], history = ARGV[7], paused = ARGV[8],
           history_ttl = ARGV[9], outbox = KEYS[6], expiry = KEYS[7]}
local field, vs = ARGV[1], ARGV[2]
local v, tick, now, h = tonumber(vs), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[10])
local prevts = tonumber(redis.call('HGET', KEYS[1], field .. ':ts'))
if prevts and tick <= prevts then return {-1, 0} end
local prevs = redis.call('HGET', KEYS[1], field)
redis.call('HSET', KEYS[1], field, vs, field .. ':ts', ARGV[3])
if not prevs then return {0, 0} end
local prev = tonumber(prevs)

-- Repeat alerts come back once the value has moved back across their level by h.
local function rearm(waitkey, lo, hi, idxkey)
  local ids = redis.call('ZRANGEBYSCORE', waitkey, lo, hi)
  for _, id in ipairs(ids) do
    redis.call('ZREM', waitkey, id)
    local bkey = bucket_of(C.bucket, id)
    local rec = redis.call('HGET', bkey, id)
    if rec then
      local f = split(rec)
      f[12] = 'A'
      redis.call('HSET', bkey, id, table.concat(f, '|'))
      redis.call('ZADD', idxkey, f[4], id)
    end
  end
end
rearm(KEYS[5], vs, '+inf', KEYS[2])
rearm(KEYS[4], '-inf', vs, KEYS[3])

local crossed, idxkey, waitkey, factor
if v > prev then
  crossed = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. prevs, vs)
  if #crossed > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '(' .. prevs, vs) end
  idxkey, waitkey, factor = KEYS[2], KEYS[5], 1 - h
elseif v < prev then
  crossed = redis.call('ZRANGEBYSCORE', KEYS[3], vs, '(' .. prevs)
  if #crossed > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], vs, '(' .. prevs) end
  idxkey, waitkey, factor = KEYS[3], KEYS[4], 1 + h
else
  return {1, 0}
end
local fired = 0
for _, id in ipairs(crossed) do
  local status, f = fire(id, vs, now, tick, C)
  if status == 'fired' or status == 'suppressed' then
    if tonumber(f[8]) > 0 then redis.call('ZADD', waitkey, tonumber(f[4]) * factor, id) end
    if status == 'fired' then fired = fired + 1 end
  elseif status == 'paused' then
    redis.call('ZADD', idxkey, f[4], id)
  end
end
return {1, fired}
