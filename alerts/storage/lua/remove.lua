-- Remove an alert everywhere, checking its owner (delete) or its expiry time (expire).
-- KEYS: 1 record bucket, 2 chat set, 3 index up, 4 index down, 5 rearm up, 6 rearm down,
--       7 move-group set, 8 expiry zset, 9 outbox stream
-- ARGV: 1 id, 2 owner chat ('' = any), 3 reason ('delete' | 'expire'), 4 now
-- Returns 1 when removed, 0 when it was not there (or not the caller's, or not expired).
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return 0 end
local owner = string.match(rec, '^([^|]*)')
if ARGV[2] ~= '' and owner ~= ARGV[2] then return 0 end
if ARGV[3] == 'expire' then
  local expires = tonumber(redis.call('ZSCORE', KEYS[8], ARGV[1]))
  if not expires or expires > tonumber(ARGV[4]) then return 0 end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
for i = 3, 6 do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('SREM', KEYS[7], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
if ARGV[3] == 'expire' then
  redis.call('XADD', KEYS[9], '*', 't', 'expired', 'id', ARGV[1], 'rec', rec, 'v', '',
             'at', ARGV[4], 'tick', ARGV[4])
end
return 1
