-- Fire every alert of one move group (same symbol, window and size) whose condition holds.
-- KEYS: 1 group set, 2 outbox stream, 3 expiry zset, 4 last-values hash
-- ARGV: 1 value, 2 tick ts, 3 now, 4 bucket prefix, 5 chat prefix, 6 history prefix,
--       7 paused prefix, 8 history ttl, 9 dedup field
local C = {bucket = ARGV[4], chat = ARGV[5], history = ARGV[6], paused = ARGV[7],
           history_ttl = ARGV[8], outbox = KEYS[2], expiry = KEYS[3]}
local tick, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local prevts = tonumber(redis.call('HGET', KEYS[4], ARGV[9]))
if prevts and tick <= prevts then return {-1, 0} end
redis.call('HSET', KEYS[4], ARGV[9], ARGV[2])
local fired = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local status, f = fire(id, ARGV[1], now, tick, C)
  if status == 'gone' or status == 'expired' or (status == 'fired' and tonumber(f[8]) == 0) then
    redis.call('SREM', KEYS[1], id)
  end
  if status == 'fired' then fired = fired + 1 end
end
return {1, fired}
